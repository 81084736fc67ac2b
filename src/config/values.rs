//! The small value syntaxes of the routing file, each a function from the
//! text to a typed value or a message saying what is wrong and what would
//! be right: durations, reply codes and code classes, member specs, CIDRs,
//! SIP tokens, domains. No I/O.

use std::time::Duration;

use super::{Cidr, CodeClass, Loc, MemberConfig};
use crate::route::parse_upstream;
use crate::route::MAX_DIAL_SYMBOLS;

/// `"500ms"`, `"2s"`, `"1m"`, `"1h"`: a whole number of one unit, more than
/// zero.
pub(crate) fn duration(key: &str, s: &str) -> Result<Duration, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = s.split_at(digits);
    let bad = || {
        format!(
            "{key} \"{s}\" is not a duration; write a whole number and a unit (ms, s, m or h), \
             e.g. \"500ms\", \"2s\" or \"1m\""
        )
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(format!(
            "{key} \"{s}\" is zero; give a duration of more than 0, e.g. \"2s\""
        ));
    }
    Ok(d)
}

/// An integer key in `lo..=hi`.
pub(crate) fn int_in(key: &str, v: i64, lo: i64, hi: i64) -> Result<i64, String> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{key} = {v} is out of range; give a whole number from {lo} to {hi}"
        ))
    }
}

/// The reason phrase of the common codes, so `when_down`/`reject` may
/// leave `reason` out.
pub(crate) fn standard_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        500 => "Server Internal Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        603 => "Decline",
        _ => return None,
    })
}

/// A reason phrase: printable text on one line (RFC 3261 §25.1
/// Reason-Phrase, without control characters).
pub(crate) fn reason(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(format!(
            "reason \"{}\" is not a reason phrase; give one line of text, e.g. \"Service Unavailable\"",
            s.escape_debug()
        ));
    }
    Ok(s.to_owned())
}

/// `"2xx"` or `"403"` in `probe.codes`.
pub(crate) fn code_class(s: &str) -> Result<CodeClass, String> {
    let b = s.as_bytes();
    let bad = || {
        format!("code \"{s}\" is not a reply code or class; write a code from 100 to 699 (\"404\") or a class (\"2xx\")")
    };
    if b.len() != 3 || !(b'1'..=b'6').contains(&b[0]) {
        return Err(bad());
    }
    if b[1..].eq_ignore_ascii_case(b"xx") {
        return Ok(CodeClass::Class(b[0] - b'0'));
    }
    s.parse::<u16>().map(CodeClass::Code).map_err(|_| bad())
}

/// A member: `HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]`.
/// `priority` and `state` are read here; the rest goes to
/// [`parse_upstream`].
pub(crate) fn member(s: &str, loc: Loc) -> Result<MemberConfig, String> {
    const SYNTAX: &str = "HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]";
    let mut parts = s.split(';');
    let hostport = parts.next().unwrap_or("").trim();
    let mut rest = vec![hostport];
    let (mut priority, mut drain) = (None, None);
    for p in parts {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("priority") {
            if priority.is_some() {
                return Err(format!(
                    "member \"{s}\": parameter 'priority' is given twice; expected {SYNTAX}"
                ));
            }
            priority = Some(match value.parse::<u32>() {
                Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(format!(
                        "member \"{s}\": priority '{value}' is not a whole number from 0 to 4294967295; expected {SYNTAX}"
                    ))
                }
            });
        } else if name.eq_ignore_ascii_case("state") {
            if drain.is_some() {
                return Err(format!(
                    "member \"{s}\": parameter 'state' is given twice; expected {SYNTAX}"
                ));
            }
            drain = Some(match value.to_ascii_lowercase().as_str() {
                "drain" => true,
                "active" => false,
                _ => {
                    return Err(format!(
                        "member \"{s}\": state '{value}' is not known; use state=drain (or state=active); expected {SYNTAX}"
                    ))
                }
            });
        } else {
            rest.push(p);
        }
    }
    let spec = parse_upstream(&rest.join(";")).map_err(|e| {
        let e = e.to_string();
        // `upstream 'X': problem; expected SYNTAX` → the member's words.
        let problem = e
            .split_once("': ")
            .map_or(e.as_str(), |(_, p)| p)
            .split("; expected")
            .next()
            .unwrap_or("");
        format!("member \"{s}\": {problem}; expected {SYNTAX}")
    })?;
    Ok(MemberConfig {
        name: hostport.to_owned(),
        loc,
        spec,
        priority: priority.unwrap_or(1),
        drain: drain.unwrap_or(false),
    })
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128): the
/// same syntax as the IP allow-list's (`auth::Cidr`).
pub(crate) fn cidr(s: &str) -> Result<Cidr, String> {
    s.parse::<Cidr>().map_err(|why| {
        format!("\"{s}\" is not an address block: {why}; write ADDRESS/LENGTH, e.g. \"198.51.100.0/24\" or \"2001:db8::/32\"")
    })
}

/// A SIP token (RFC 3261 §25.1): a method or a header name.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// A domain (`example.com`) or a wildcard (`*.example.net`), lower-cased.
pub(crate) fn domain(s: &str) -> Result<String, String> {
    let host = s.strip_prefix("*.").unwrap_or(s);
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "\"{s}\" is not a domain; write a host name (\"example.com\") or a wildcard for its subdomains (\"*.example.net\")"
        ))
    }
}

/// Dialled digits with the visual separators (`-`, `.`, `(`, `)`, spaces)
/// removed; what is left must be digits, `+`, `*` or `#`.
pub(crate) fn prefix(s: &str) -> Result<String, String> {
    let p: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    if p.is_empty() {
        return Err(format!(
            "prefix \"{s}\" is empty; give dialled digits, e.g. \"+44\" or \"0044\""
        ));
    }
    if let Some(c) = p
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | '*' | '#')))
    {
        return Err(format!(
            "prefix \"{s}\" has '{c}'; a prefix is dialled digits (0-9, +, *, #; separators - . ( ) and spaces are ignored)"
        ));
    }
    let symbols = p.chars().count();
    if symbols > MAX_DIAL_SYMBOLS {
        return Err(format!(
            "prefix \"{s}\" has {symbols} digits; a prefix has at most {MAX_DIAL_SYMBOLS} (numbers are compared on their first {MAX_DIAL_SYMBOLS})"
        ));
    }
    Ok(p)
}

/// `nearest` spelled for values: `; did you mean "x"?` or nothing.
pub(crate) fn did_you_mean(word: &str, options: &[&str]) -> String {
    match super::schema::nearest(word, options.iter().copied()) {
        Some(best) => format!(" (did you mean \"{best}\"?)"),
        None => String::new(),
    }
}
