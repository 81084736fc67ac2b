//! The UAS's digest authentication (`bench uas --auth-realm --auth-users`):
//! INVITE, REGISTER and MESSAGE without valid credentials get a 401 with
//! one WWW-Authenticate challenge per algorithm (in the configured order,
//! `qop="auth"`, a stateless nonce of [`crate::digest::NonceKey`]), wrong
//! credentials a 403. The computation is [`crate::digest`]'s. No I/O.

use std::sync::Arc;

use crate::digest::{self, Algorithm, NonceCheck, NonceKey, Qop, Users};
use crate::sip::credentials::Credentials;
use crate::sip::{HeaderName, Method, Request};

/// How long a nonce the UAS hands out stays fresh, in seconds. A UAC
/// answers at once, so only a stalled run sees `stale=true`.
const NONCE_LIFETIME_SECS: u64 = 300;

/// The To tag of the UAS's 401 and 403 responses: their ACKs (for an
/// INVITE) carry it and are absorbed without being counted as unmatched.
pub(super) const AUTH_TAG: &[u8] = b"auth";

/// What the UAS checks digest credentials against.
#[derive(Debug, Clone)]
pub struct UasAuth {
    realm: String,
    users: Arc<Users>,
    algorithms: Vec<Algorithm>,
    key: NonceKey,
}

/// What [`UasAuth::check`] decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Valid credentials, or a method that is not challenged.
    Pass,
    /// No usable credentials (none for our realm, an unknown or forged
    /// nonce, an algorithm not offered): 401; `stale` for an expired
    /// nonce of ours.
    Challenge {
        /// Send `stale=true`.
        stale: bool,
    },
    /// Credentials for our realm that are wrong: an unknown user, a wrong
    /// response, missing fields. 403.
    Reject,
}

impl UasAuth {
    /// Challenges in `realm` with `algorithms` (in that order, one header
    /// each; none means `SHA-256, MD5`) and checks answers against
    /// `users`; `key` mints and checks the nonces (the same for every
    /// worker of a run).
    pub fn new(
        realm: String,
        users: Arc<Users>,
        algorithms: Vec<Algorithm>,
        key: NonceKey,
    ) -> UasAuth {
        let algorithms = if algorithms.is_empty() {
            vec![Algorithm::Sha256, Algorithm::Md5]
        } else {
            algorithms
        };
        UasAuth {
            realm,
            users,
            algorithms,
            key,
        }
    }

    /// Whether `req`, received `now_secs` into the run, may pass.
    pub(super) fn check(&self, req: &Request<'_>, now_secs: u64) -> Check {
        if !matches!(
            req.method,
            Method::Invite | Method::Register | Method::Message
        ) {
            return Check::Pass;
        }
        let ours = req
            .headers
            .all(HeaderName::Authorization)
            .filter_map(|h| Credentials::parse(h.value).ok())
            .find(|c| c.is_digest() && c.realm() == Some(self.realm.as_bytes()));
        match ours {
            Some(c) => self.verify(&c, req.method.as_bytes(), now_secs),
            None => Check::Challenge { stale: false },
        }
    }

    /// Writes into `values` (one reused buffer per algorithm) the
    /// WWW-Authenticate values of a challenge at `now_secs`.
    pub(super) fn challenges(&self, now_secs: u64, stale: bool, values: &mut Vec<Vec<u8>>) {
        let nonce = self.key.mint(now_secs, self.realm.as_bytes(), None);
        values.resize_with(self.algorithms.len(), Vec::new);
        for (v, alg) in values.iter_mut().zip(&self.algorithms) {
            v.clear();
            v.extend_from_slice(b"Digest realm=\"");
            v.extend_from_slice(self.realm.as_bytes());
            v.extend_from_slice(b"\", nonce=\"");
            v.extend_from_slice(nonce.as_bytes());
            v.extend_from_slice(b"\", algorithm=");
            v.extend_from_slice(alg.as_str().as_bytes());
            v.extend_from_slice(b", qop=\"auth\"");
            if stale {
                v.extend_from_slice(b", stale=true");
            }
        }
    }

    fn verify(&self, c: &Credentials<'_>, method: &[u8], now_secs: u64) -> Check {
        let Some(alg) =
            Algorithm::from_param(c.algorithm()).filter(|a| self.algorithms.contains(a))
        else {
            return Check::Challenge { stale: false };
        };
        let Some(nonce) = c.nonce() else {
            return Check::Challenge { stale: false };
        };
        let realm = self.realm.as_bytes();
        match self
            .key
            .check(nonce, now_secs, NONCE_LIFETIME_SECS, realm, None)
        {
            NonceCheck::Fresh => {}
            NonceCheck::Stale => return Check::Challenge { stale: true },
            NonceCheck::Invalid => return Check::Challenge { stale: false },
        }
        let (Some(user), Some(uri), Some(got)) = (c.username(), c.uri(), c.response()) else {
            return Check::Reject;
        };
        let qop = match c.qop() {
            None if !alg.is_sess() => None,
            Some(q) if q.eq_ignore_ascii_case(b"auth") => match (c.nc(), c.cnonce()) {
                (Some(nc), Some(cnonce)) => Some(Qop { nc, cnonce }),
                _ => return Check::Reject,
            },
            _ => return Check::Reject,
        };
        let Some(ha1) = self.users.ha1(user, alg) else {
            return Check::Reject;
        };
        let want = digest::response(alg, &ha1, nonce, qop, method, uri);
        if digest::verify(&want, got) {
            Check::Pass
        } else {
            Check::Reject
        }
    }
}
