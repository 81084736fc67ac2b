//! The `match.*` keys of a rule: each list checked item by item (with the
//! item's span) and turned into a [`MatchConfig`]; the time windows
//! (`days`, `hours`, `tz`). No I/O (time zones are looked up through the
//! caller's [`Files`](super::Files)).

use regex::bytes::Regex;

use super::raw::{List, MatchRaw, TimeRaw};
use super::validate::Check;
use super::values::{cidr, did_you_mean, domain, is_token, prefix};
use super::{MatchConfig, TimeSpec};
use crate::route::time::{parse_days, parse_hours, DAYS};
use crate::sip::Transport;

impl Check<'_> {
    /// The rule's matches, in the order of `CONFIG.md`'s key list.
    pub(crate) fn matches(&mut self, m: MatchRaw) -> Vec<MatchConfig> {
        let mut out = Vec::new();
        if let Some(l) = m.method {
            let v = self.each(l, |s| {
                if is_token(s) {
                    Ok(s.to_owned())
                } else {
                    Err(format!("method \"{s}\" is not a SIP method; write a method name such as \"INVITE\""))
                }
            });
            out.push(MatchConfig::Method(v));
        }
        if let Some(l) = m.ruri_user_prefix {
            out.push(MatchConfig::RuriUserPrefix(self.each(l, prefix)));
        }
        if let Some(l) = m.ruri_user {
            out.push(MatchConfig::RuriUser(
                self.each(l, |s| user("ruri_user", s)),
            ));
        }
        if let Some(l) = m.ruri_user_regex {
            let sources = self.each(l, |s| {
                Regex::new(s)
                    .map(|_| s.to_owned())
                    .map_err(|e| regex_problem(s, &e))
            });
            let joined = sources
                .iter()
                .map(|s| format!("(?:{s})"))
                .collect::<Vec<_>>()
                .join("|");
            if let Ok(re) = Regex::new(&joined) {
                out.push(MatchConfig::RuriUserRegex(re));
            }
        }
        if let Some(l) = m.ruri_domain {
            out.push(MatchConfig::RuriDomain(self.each(l, domain)));
        }
        if let Some(l) = m.from_user {
            out.push(MatchConfig::FromUser(
                self.each(l, |s| user("from_user", s)),
            ));
        }
        if let Some(l) = m.from_domain {
            out.push(MatchConfig::FromDomain(self.each(l, domain)));
        }
        if let Some(l) = m.to_user {
            out.push(MatchConfig::ToUser(self.each(l, |s| user("to_user", s))));
        }
        if let Some(l) = m.to_domain {
            out.push(MatchConfig::ToDomain(self.each(l, domain)));
        }
        if let Some(l) = m.source {
            out.push(MatchConfig::Source(self.each(l, cidr)));
        }
        if let Some(l) = m.transport {
            let v = self.each(l, |s| match s.to_ascii_lowercase().as_str() {
                "udp" => Ok(Transport::Udp),
                "tcp" => Ok(Transport::Tcp),
                _ => Err(format!(
                    "transport \"{s}\" is not supported; use \"udp\" or \"tcp\""
                )),
            });
            out.push(MatchConfig::Transport(v));
        }
        if let Some(h) = m.header {
            let span = h.span();
            let h = h.into_inner();
            let name = match h.name {
                Some(n) if is_token(n.get_ref()) => Some(n.into_inner()),
                Some(n) => {
                    self.err(
                        &n.span(),
                        format!(
                            "header name \"{}\" is not a SIP header name; write e.g. \"X-Tenant\"",
                            n.get_ref()
                        ),
                    );
                    None
                }
                None => {
                    self.err(&span, "match.header has no name; write header = { name = \"X-Tenant\", value = \"acme\" } or { name = \"X-Tenant\", present = true }");
                    None
                }
            };
            let value = match (h.value, h.present) {
                (Some(v), None) => Some(Some(v.into_inner())),
                (None, Some(p)) if *p.get_ref() => Some(None),
                (None, Some(p)) => {
                    self.err(&p.span(), "present = false is not supported; a header match needs the header (present = true) or a value");
                    None
                }
                (Some(_), Some(p)) => {
                    self.err(
                        &p.span(),
                        "match.header has both value and present; give one of them",
                    );
                    None
                }
                (None, None) => {
                    self.err(&span, "match.header has neither value nor present; add value = \"...\" or present = true");
                    None
                }
            };
            if let (Some(name), Some(value)) = (name, value) {
                out.push(MatchConfig::Header { name, value });
            }
        }
        if let Some(l) = m.user_agent {
            let v = self.each(l, |s| {
                if s.is_empty() {
                    Err("user_agent \"\" matches every request; give a part of the User-Agent, e.g. \"friendly-scanner\"".into())
                } else {
                    Ok(s.to_ascii_lowercase())
                }
            });
            out.push(MatchConfig::UserAgent(v));
        }
        if let Some(l) = m.time {
            let mut windows = Vec::new();
            for t in l.items {
                let span = t.span();
                if let Some(w) = self.time(&span, t.into_inner()) {
                    windows.push(w);
                }
            }
            out.push(MatchConfig::Time(windows));
        }
        out
    }

    /// Checks every item of a list, reporting each bad one at its span.
    pub(crate) fn each<T>(
        &mut self,
        list: List<String>,
        mut f: impl FnMut(&str) -> Result<T, String>,
    ) -> Vec<T> {
        if list.items.is_empty() {
            self.err(
                &list.span,
                "the list is empty; give at least one value or leave the key out",
            );
        }
        let mut out = Vec::with_capacity(list.items.len());
        for item in list.items {
            match f(item.get_ref()) {
                Ok(v) => out.push(v),
                Err(e) => self.err(&item.span(), e),
            }
        }
        out
    }

    fn time(&mut self, span: &std::ops::Range<usize>, t: TimeRaw) -> Option<TimeSpec> {
        if t.days.is_none() && t.hours.is_none() {
            self.err(span, "match.time has neither days nor hours; write e.g. { days = \"mon-fri\", hours = \"08:00-18:00\", tz = \"Europe/London\" }");
        }
        let days = match &t.days {
            Some(d) => match days(d.get_ref()) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.err(&d.span(), e);
                    None
                }
            },
            None => Some(0x7f),
        };
        let hours = match &t.hours {
            Some(h) => match hours(h.get_ref()) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.err(&h.span(), e);
                    None
                }
            },
            None => Some((0, 1440)),
        };
        let tz = match t.tz {
            Some(z) if self.files.zone_exists(z.get_ref()) => Some(z.into_inner()),
            Some(z) => {
                self.err(&z.span(), format!("time zone \"{}\" is not known; give an IANA zone name such as \"Europe/London\", \"America/New_York\" or \"UTC\"", z.get_ref()));
                None
            }
            None => {
                self.err(
                    span,
                    "match.time has no tz; add the IANA time zone, e.g. tz = \"Europe/London\"",
                );
                None
            }
        };
        let (days, (start, end), tz) = (days?, hours?, tz?);
        Some(TimeSpec {
            days_text: t.days.map_or_else(|| "mon-sun".into(), |d| d.into_inner()),
            days,
            hours_text: t
                .hours
                .map_or_else(|| "00:00-24:00".into(), |h| h.into_inner()),
            start,
            end,
            tz,
        })
    }
}

fn user(key: &str, s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err(format!(
            "{key} \"\" is empty; give the user part, e.g. \"alice\" or \"+442071234567\""
        ))
    } else {
        Ok(s.to_owned())
    }
}

/// The regex crate's message is several lines with a caret; keep its last
/// line (`error: ...`).
fn regex_problem(s: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .trim_start_matches("error: ");
    format!("ruri_user_regex \"{s}\" is not a valid regular expression: {last}; write one in the regex crate's syntax, e.g. \"^\\\\+44[0-9]+$\"")
}

/// `"mon-fri"`, `"sat"`, `"mon,wed,fri"`, `"fri-mon"` (wraps): a bit set,
/// bit 0 Monday, read by the routing table's own parser; the message names
/// the first word that is not a day.
pub(crate) fn days(s: &str) -> Result<u8, String> {
    parse_days(s).ok_or_else(|| {
        let d = s
            .split([',', '-'])
            .map(|d| d.trim().to_ascii_lowercase())
            .find(|d| !DAYS.contains(&d.as_str()))
            .unwrap_or_default();
        format!(
            "days \"{s}\": '{d}' is not a day{}; use mon tue wed thu fri sat sun, a range \"mon-fri\" or a list \"mon,wed,fri\"",
            did_you_mean(&d, &DAYS)
        )
    })
}

/// `"08:00-18:00"` → (480, 1080) minutes; the end is exclusive, `24:00`
/// only as an end; an end before the start crosses midnight.
pub(crate) fn hours(s: &str) -> Result<(u16, u16), String> {
    match parse_hours(s) {
        Some((start, end)) if start == end => Err(format!("hours \"{s}\" is empty (start and end are equal); for the whole day write \"00:00-24:00\"")),
        Some(window) => Ok(window),
        None if s.split_once('-').is_some_and(|(a, _)| a.trim() == "24:00") => Err(format!(
            "hours \"{s}\" starts at 24:00; a window starts from 00:00 to 23:59"
        )),
        None => Err(format!("hours \"{s}\" is not a time range; write \"HH:MM-HH:MM\", e.g. \"08:00-18:00\", \"22:00-06:00\" (crosses midnight) or \"00:00-24:00\" (the whole day)")),
    }
}
