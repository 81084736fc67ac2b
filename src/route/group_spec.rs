//! What a destination group is made of before it is compiled:
//! [`GroupSpec`], its [`MemberSpec`]s, the reply when it is down
//! ([`WhenDown`]) and its health probe ([`ProbeSpec`], stored for the
//! prober). The routing file's `[groups.NAME]` tables compile to these; the
//! [`TableBuilder`](super::TableBuilder) validates them. No I/O.

use std::time::Duration;

use super::balance::Algorithm;
use super::spec::Upstream;

/// One destination group as configured.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// The group's name (1 to 64 characters from `A-Z a-z 0-9 _ - .`).
    pub name: String,
    /// How calls are shared among the members.
    pub algorithm: Algorithm,
    /// The members, in configuration order; at least one.
    pub members: Vec<MemberSpec>,
    /// The group used while every member of this one is down or drained;
    /// one level is followed (the fallback's own fallback is not).
    pub fallback: Option<String>,
    /// The reply when neither this group nor its fallback has a member
    /// up; `None` is `503 Service Unavailable` with `Retry-After: 5`.
    pub when_down: Option<WhenDown>,
    /// How members are probed; validated and stored for the prober.
    pub probe: Option<ProbeSpec>,
}

impl GroupSpec {
    /// A group balanced by hashing the Call-ID, with default members
    /// (priority 1, not drained) and nothing else set: what `--upstream`
    /// flags make.
    pub fn from_upstreams(
        name: impl Into<String>,
        upstreams: impl IntoIterator<Item = Upstream>,
    ) -> GroupSpec {
        GroupSpec {
            name: name.into(),
            algorithm: Algorithm::default(),
            members: upstreams.into_iter().map(MemberSpec::new).collect(),
            fallback: None,
            when_down: None,
            probe: None,
        }
    }
}

/// One member of a group as configured: `HOST:PORT[;transport=..]
/// [;weight=N][;priority=N][;state=drain]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// Where to send, how, and its weight.
    pub upstream: Upstream,
    /// Lower numbers are used first by the `priority` algorithm; 1 by
    /// default.
    pub priority: u32,
    /// A drained member gets no new requests (it is skipped by every
    /// algorithm, as if it were down).
    pub drain: bool,
    /// `HOST:PORT` as written, for logs, metrics and `ctl`.
    pub name: String,
}

impl MemberSpec {
    /// A member with priority 1, not drained, named by its address.
    pub fn new(upstream: Upstream) -> MemberSpec {
        MemberSpec {
            name: upstream.addr.to_string(),
            upstream,
            priority: 1,
            drain: false,
        }
    }
}

/// The reply for a request routed to a group with no member up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenDown {
    /// A status code from 400 to 699.
    pub code: u16,
    /// The reason phrase.
    pub reason: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
}

/// OPTIONS health probing of a group's members (run by the prober, a later
/// issue; the table only validates and keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Time between probes of one member; more than zero.
    pub interval: Duration,
    /// How long to wait for a reply; more than zero and at most `interval`.
    pub timeout: Duration,
    /// Consecutive failures that mark a member down; 1 or more.
    pub fall: u32,
    /// Consecutive successes that mark it up again; 1 or more.
    pub rise: u32,
    /// Replies that count as alive; at least one.
    pub codes: Vec<CodeClass>,
}

impl ProbeSpec {
    /// What is wrong with the probe settings, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if self.interval.is_zero() {
            Some("interval must be more than zero")
        } else if self.timeout.is_zero() || self.timeout > self.interval {
            Some("timeout must be more than zero and at most the interval")
        } else if self.fall == 0 || self.rise == 0 {
            Some("fall and rise must be 1 or more")
        } else if self.codes.is_empty() {
            Some("codes must list at least one reply (such as \"2xx\")")
        } else {
            None
        }
    }
}

/// A reply code or class of codes: `200`, `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// One code, 100 to 699.
    Code(u16),
    /// A class, 1 to 6: `2xx` is `Class(2)`.
    Class(u8),
}

impl CodeClass {
    /// Parses `NNN` (100 to 699) or `Nxx` (N from 1 to 6; `X` too).
    pub fn parse(s: &str) -> Result<CodeClass, String> {
        let bad = || {
            format!(
                "reply code '{s}' is not valid; write a code such as 200 or a class such as 2xx"
            )
        };
        let t = s.trim().to_ascii_lowercase();
        let b = t.as_bytes();
        match b {
            [d @ b'1'..=b'6', b'x', b'x'] => Ok(CodeClass::Class(d - b'0')),
            [b'1'..=b'6', b'0'..=b'9', b'0'..=b'9'] => {
                t.parse().map(CodeClass::Code).map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    }

    /// True when `code` is this code or in this class.
    pub fn matches(self, code: u16) -> bool {
        match self {
            CodeClass::Code(c) => c == code,
            CodeClass::Class(k) => code / 100 == u16::from(k),
        }
    }
}

/// What an in-dialog request without a Route set is routed by
/// (`routing.in_dialog`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InDialog {
    /// Its Request-URI (RFC 3261; the default).
    #[default]
    RequestUri,
    /// The rules and the group's balancing, as if out of dialog (for UAs
    /// that ignore Record-Route).
    Rules,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_classes() {
        assert_eq!(CodeClass::parse("2xx"), Ok(CodeClass::Class(2)));
        assert_eq!(CodeClass::parse("4XX"), Ok(CodeClass::Class(4)));
        assert_eq!(CodeClass::parse("404"), Ok(CodeClass::Code(404)));
        for bad in ["7xx", "2x", "099", "abc", "2000"] {
            assert!(CodeClass::parse(bad).is_err(), "{bad}");
        }
        assert!(CodeClass::Class(2).matches(204) && !CodeClass::Class(2).matches(300));
        assert!(CodeClass::Code(403).matches(403) && !CodeClass::Code(403).matches(404));
    }

    #[test]
    fn probe_settings_are_checked() {
        let ok = ProbeSpec {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            fall: 2,
            rise: 2,
            codes: vec![CodeClass::Class(2)],
        };
        assert_eq!(ok.problem(), None);
        let slow = ProbeSpec {
            timeout: Duration::from_secs(3),
            ..ok.clone()
        };
        assert!(slow.problem().unwrap().starts_with("timeout"));
        let none = ProbeSpec {
            codes: vec![],
            ..ok
        };
        assert!(none.problem().unwrap().starts_with("codes"));
    }
}
