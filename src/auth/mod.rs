//! Authentication of requests, called by the proxy before routing through
//! the [`Authenticator`] trait, and its implementations: [`AllowAll`] (the
//! default) and [`IpAcl`] (source-prefix allow-list). No I/O: the source
//! address and the time come in an [`AuthContext`]; the outcome is a
//! [`Verdict`] the proxy turns into a forward, a stateless reply or a drop.
//!
//! Digest authentication with stateless nonces and a flood guard will be
//! further implementations of the same trait; [`constant_time_eq`] is here
//! for their secrets.

mod acl;
mod digest;
mod verdict;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::route::RuleAuth;
use crate::sip::{Request, Transport};

pub use crate::cidr::{Cidr, CidrProblem};
pub use acl::IpAcl;
pub use digest::{DigestAuth, DigestSettings};
pub use verdict::{Challenge, ChallengeKind, HeaderValueBuf, ValueFull, Verdict};

/// Decides whether a request may be routed. Implementations are shared by
/// all workers (`Arc<dyn Authenticator>`), so they are `Send + Sync`, and
/// are called once per request on the hot path: they must not block, do
/// I/O or allocate per call.
pub trait Authenticator: Send + Sync {
    /// Checks one request. `req` is the parsed request; `ctx` says where it
    /// came from and when.
    fn check(&self, req: &Request<'_>, ctx: &AuthContext) -> Verdict;

    /// The verdict [`Authenticator::check`] gives every request from
    /// `ctx`, when it reads nothing of the request itself; `None` (the
    /// default) when it does. With `Some(Verdict::Allow)` the proxy may
    /// forward a request without building the parsed view that `check`
    /// takes (its one-pass path); it must then agree with `check`.
    fn check_context(&self, _ctx: &AuthContext) -> Option<Verdict> {
        None
    }

    /// True when [`Authenticator::check`] reads [`AuthContext::rules`]: the
    /// routing table then evaluates its rules before the check (false by
    /// default: the check comes first and the rules only for what it
    /// allows).
    fn reads_rules(&self) -> bool {
        false
    }

    /// The realm whose `Proxy-Authorization` this authenticator consumes:
    /// the proxy removes those credentials (and only those) from a request
    /// it forwards. `None` (the default): nothing is removed.
    fn consumed_realm(&self) -> Option<&[u8]> {
        None
    }

    /// A short name for logs and `Debug` (`"allow-all"`, `"ip-acl"`).
    fn name(&self) -> &'static str {
        "custom"
    }
}

impl fmt::Debug for dyn Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Authenticator({})", self.name())
    }
}

/// What an authenticator may know besides the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthContext {
    /// The address the request came from (the packet's source, not the Via).
    pub source: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// Wall-clock seconds since the Unix epoch, passed in by the shell (for
    /// nonce expiry).
    pub now_unix_secs: u64,
    /// What the routing rules that match the request say about
    /// authenticating it (`auth`, `challenge`); filled in only for an
    /// authenticator whose [`Authenticator::reads_rules`] is true, and only
    /// when the routing table routes the request (not for one that follows
    /// a Route set).
    pub rules: RuleAuth,
    /// True when the request is an ACK, a CANCEL or in a dialog (it has a
    /// To tag): nobody can challenge it, so an authenticator that only
    /// challenges may allow it by context alone. Set by the proxy on both
    /// paths.
    pub unchallengeable: bool,
}

/// Allows every request. The default authenticator: the proxy trusts its
/// network position (a carrier core behind SBCs) unless configured with
/// another one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    #[inline]
    fn check(&self, _req: &Request<'_>, _ctx: &AuthContext) -> Verdict {
        Verdict::Allow
    }

    #[inline]
    fn check_context(&self, _ctx: &AuthContext) -> Option<Verdict> {
        Some(Verdict::Allow)
    }

    fn name(&self) -> &'static str {
        "allow-all"
    }
}

/// The authenticator used when none is configured: [`AllowAll`].
pub fn default_authenticator() -> Arc<dyn Authenticator> {
    Arc::new(AllowAll)
}

/// Compares two byte strings in time that depends only on their lengths;
/// it lives in [`crate::digest`], the one place for digest computation.
pub use crate::digest::constant_time_eq;

/// Why an authenticator's configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// An allow-list entry that is not a prefix.
    #[error(
        "allow-list entry '{input}': {problem}; expected ADDRESS/LENGTH such as \
         10.0.0.0/8 or 2001:db8::/32"
    )]
    InvalidPrefix {
        /// The entry as given.
        input: String,
        /// What is wrong with it.
        problem: CidrProblem,
    },
    /// An allow-list without entries.
    #[error(
        "the IP allow-list is empty, which would reject every request; \
         give at least one prefix such as 10.0.0.0/8"
    )]
    EmptyAllowList,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sip::{Headers, Method};

    pub(crate) fn request() -> Request<'static> {
        Request {
            method: Method::Invite,
            uri_raw: b"sip:+15551234567@core.example.net",
            headers: Headers::default(),
            body: b"",
            raw: b"",
        }
    }

    pub(crate) fn ctx(source: &str) -> AuthContext {
        AuthContext {
            source: source.parse().unwrap(),
            transport: Transport::Udp,
            now_unix_secs: 1_700_000_000,
            rules: RuleAuth::default(),
            unchallengeable: false,
        }
    }

    #[test]
    fn allow_all_is_the_default() {
        let auth = default_authenticator();
        assert_eq!(auth.name(), "allow-all");
        assert_eq!(format!("{auth:?}"), "Authenticator(allow-all)");
        for src in ["10.0.0.1:5060", "[2001:db8::1]:5070"] {
            assert_eq!(auth.check(&request(), &ctx(src)), Verdict::Allow);
        }
    }

    #[test]
    fn authenticators_are_interchangeable_trait_objects() {
        let list: Vec<Arc<dyn Authenticator>> = vec![
            default_authenticator(),
            Arc::new(IpAcl::parse(["192.0.2.0/24"]).unwrap()),
        ];
        let verdicts: Vec<Verdict> = list
            .iter()
            .map(|a| a.check(&request(), &ctx("198.51.100.1:5060")))
            .collect();
        assert_eq!(verdicts, vec![Verdict::Allow, Verdict::FORBIDDEN]);
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(
            b"6629fae49393a05397450978507c4ef1",
            b"6629fae49393a05397450978507c4ef1"
        ));
        assert!(!constant_time_eq(
            b"6629fae49393a05397450978507c4ef1",
            b"6629fae49393a05397450978507c4ef2"
        ));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"\x00", b"\x80"));
    }
}
