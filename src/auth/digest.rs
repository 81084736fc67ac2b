//! Digest authentication of requests at the proxy (RFC 3261 §22.3, RFC
//! 7616, RFC 8760) as an [`Authenticator`]: stateless nonces, MD5 and
//! SHA-256, `qop=auth` and the RFC 2069 form without qop (MD5 only). No I/O
//! on the message path; the users file is read at start and on reload
//! ([`DigestAuth::reload_users`]) and swapped in whole. The computations
//! are [`crate::digest`]'s.
//!
//! What is challenged: an out-of-dialog request whose method is in
//! `methods`, unless its source is `trusted` or the matching rule says
//! `auth = false` (a rule with `auth = true` requires it for any method).
//! ACK, CANCEL and in-dialog requests (with a To tag) never are: there is
//! no way to answer a challenge to them. A challenge carries one header
//! per configured algorithm, in order; a nonce that is well-made but older
//! than `nonce_lifetime`, with a correct response, gets a new challenge with
//! `stale=true`. Wrong credentials (an unknown user, a wrong response) get
//! `403 Forbidden`; malformed ones `400` naming the fault.
//!
//! Nonces are not remembered, so a captured response can be replayed for
//! the rest of its nonce's lifetime, to the same Request-URI (the digest
//! `uri` must be the Request-URI): keep `nonce_lifetime` short, and bind
//! nonces to the client's address where clients do not move
//! ([`DigestSettings::bind_nonce`]).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{AuthContext, Authenticator, Challenge, ChallengeKind, HeaderValueBuf, Verdict};
use crate::cidr::CidrSet;
use crate::digest::{self, Algorithm, NonceCheck, NonceKey, Qop, Users};
use crate::sip::credentials::Credentials;
use crate::sip::{HeaderName, Request};

/// How digest authentication is set up (`[auth]`).
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// The realm of our challenges.
    pub realm: String,
    /// The users file, re-read on reload.
    pub users_file: PathBuf,
    /// Out-of-dialog methods that must authenticate (upper case).
    pub methods: Vec<String>,
    /// Offered in this order, one challenge header each.
    pub algorithms: Vec<Algorithm>,
    /// Older nonces get a new challenge with `stale=true`.
    pub nonce_lifetime_secs: u64,
    /// Sources that never authenticate.
    pub trusted: CidrSet,
    /// Bind each nonce to the address it was sent to.
    pub bind_nonce: bool,
}

/// The digest authenticator (see the module doc).
pub struct DigestAuth {
    settings: DigestSettings,
    key: NonceKey,
    users: ArcSwap<Users>,
}

impl std::fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.settings.realm)
            .field("users", &self.users.load().len())
            .finish_non_exhaustive()
    }
}

/// Why credentials are malformed: the 400's reason phrase.
const BAD_CREDENTIALS: &str = "Bad Request (malformed Proxy-Authorization)";
const BAD_WWW_CREDENTIALS: &str = "Bad Request (malformed Authorization)";
const WRONG_URI: &str = "Bad Request (digest uri is not the Request-URI)";

impl DigestAuth {
    /// Reads the users file and builds the authenticator; `secret` keys
    /// the nonces (share it across a cluster so that every node accepts
    /// the others' nonces).
    pub fn new(settings: DigestSettings, secret: &[u8]) -> Result<DigestAuth, String> {
        let users = Users::load(&settings.users_file, &settings.realm)?;
        Ok(DigestAuth::with_users(settings, secret, users))
    }

    /// [`DigestAuth::new`] with the users given.
    pub fn with_users(settings: DigestSettings, secret: &[u8], users: Users) -> DigestAuth {
        DigestAuth {
            key: NonceKey::derive(secret),
            users: ArcSwap::from_pointee(users),
            settings,
        }
    }

    /// Re-reads the users file and swaps it in; on an error the users in
    /// force stay. Returns how many users the file holds.
    pub fn reload_users(&self) -> Result<usize, String> {
        let users = Users::load(&self.settings.users_file, &self.settings.realm)?;
        let n = users.len();
        self.users.store(Arc::new(users));
        Ok(n)
    }

    /// The realm of our challenges.
    pub fn realm(&self) -> &str {
        &self.settings.realm
    }

    fn must_authenticate(&self, req: &Request<'_>, ctx: &AuthContext) -> bool {
        // ACK, CANCEL, in a dialog (or a To the proxy refuses anyway):
        // nothing to challenge.
        if ctx.unchallengeable || self.settings.trusted.contains(ctx.source.ip()) {
            return false;
        }
        match ctx.rules.require {
            Some(required) => required,
            None => {
                let m = req.method.as_bytes();
                self.settings
                    .methods
                    .iter()
                    .any(|x| x.as_bytes().eq_ignore_ascii_case(m))
            }
        }
    }

    fn bound(&self, ctx: &AuthContext) -> Option<IpAddr> {
        self.settings.bind_nonce.then(|| ctx.source.ip())
    }

    /// A challenge with a fresh nonce, one header value per algorithm.
    fn challenge(&self, kind: ChallengeKind, ctx: &AuthContext, stale: bool) -> Verdict {
        let realm = self.settings.realm.as_bytes();
        let nonce = self.key.mint(ctx.now_unix_secs, realm, self.bound(ctx));
        let mut value = HeaderValueBuf::new();
        for (i, alg) in self.settings.algorithms.iter().enumerate() {
            let mut one = HeaderValueBuf::new();
            let written = std::fmt::Write::write_fmt(
                &mut one,
                format_args!(
                    "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"{}",
                    self.settings.realm,
                    nonce.as_str(),
                    alg.as_str(),
                    if stale { ", stale=true" } else { "" }
                ),
            );
            let next = if i == 0 { Ok(()) } else { value.next_value() };
            if written.is_err() || next.is_err() || value.push(one.as_bytes()).is_err() {
                break;
            }
        }
        Verdict::Challenge(Challenge { kind, value })
    }
}

impl Authenticator for DigestAuth {
    fn check(&self, req: &Request<'_>, ctx: &AuthContext) -> Verdict {
        if !self.must_authenticate(req, ctx) {
            return Verdict::Allow;
        }
        let kind = if ctx.rules.www {
            ChallengeKind::Www
        } else {
            ChallengeKind::Proxy
        };
        let (header, bad) = match kind {
            ChallengeKind::Www => (HeaderName::Authorization, BAD_WWW_CREDENTIALS),
            ChallengeKind::Proxy => (HeaderName::ProxyAuthorization, BAD_CREDENTIALS),
        };
        let realm = self.settings.realm.as_bytes();
        // Our realm's credentials; others are for someone else.
        let mut ours = None;
        for value in req.headers.values(header) {
            let Ok(c) = Credentials::parse(value) else {
                return Verdict::Reject {
                    code: 400,
                    reason: bad,
                };
            };
            if c.is_digest() && c.realm() == Some(realm) {
                ours = Some(c);
                break;
            }
        }
        let Some(c) = ours else {
            return self.challenge(kind, ctx, false);
        };
        let fields = (c.username(), c.nonce(), c.uri(), c.response());
        let (Some(user), Some(nonce), Some(uri), Some(got)) = fields else {
            return Verdict::Reject {
                code: 400,
                reason: bad,
            };
        };
        let Some(alg) = Algorithm::from_param(c.algorithm()) else {
            return self.challenge(kind, ctx, false);
        };
        if !self.settings.algorithms.contains(&alg.base()) {
            return self.challenge(kind, ctx, false);
        }
        let qop = match c.qop() {
            None if alg == Algorithm::Md5 => None,
            None => return self.challenge(kind, ctx, false),
            Some(q) if q.eq_ignore_ascii_case(b"auth") => match (c.nc(), c.cnonce()) {
                (Some(nc), Some(cnonce)) => Some(Qop { nc, cnonce }),
                _ => {
                    return Verdict::Reject {
                        code: 400,
                        reason: bad,
                    }
                }
            },
            Some(_) => return self.challenge(kind, ctx, false),
        };
        if uri != req.uri_raw {
            return Verdict::Reject {
                code: 400,
                reason: WRONG_URI,
            };
        }
        let lifetime = self.settings.nonce_lifetime_secs;
        let fresh = match self
            .key
            .check(nonce, ctx.now_unix_secs, lifetime, realm, self.bound(ctx))
        {
            NonceCheck::Fresh => true,
            NonceCheck::Stale => false,
            NonceCheck::Invalid => return self.challenge(kind, ctx, false),
        };
        let users = self.users.load();
        let Some(ha1) = users.ha1(user, alg.base()) else {
            return Verdict::FORBIDDEN;
        };
        let want = digest::response(alg, &ha1, nonce, qop, req.method.as_bytes(), uri);
        match (digest::verify(&want, got), fresh) {
            (true, true) => Verdict::Allow,
            (true, false) => self.challenge(kind, ctx, true),
            (false, _) => Verdict::FORBIDDEN,
        }
    }

    fn check_context(&self, ctx: &AuthContext) -> Option<Verdict> {
        // A trusted source is never challenged, whatever it sends; nor is
        // an ACK, a CANCEL or an in-dialog request: these need no parsed
        // view (the one pass forwards them).
        (ctx.unchallengeable || self.settings.trusted.contains(ctx.source.ip()))
            .then_some(Verdict::Allow)
    }

    fn reads_rules(&self) -> bool {
        true
    }

    fn consumed_realm(&self) -> Option<&[u8]> {
        Some(self.settings.realm.as_bytes())
    }

    fn name(&self) -> &'static str {
        "digest"
    }
}

#[cfg(test)]
mod tests;
