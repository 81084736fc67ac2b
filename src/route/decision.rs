//! What the routing table decides for one request: [`Decision`], and the
//! Request-URI [`Rewrite`] a route may carry. No I/O.

use super::group::Destination;

/// The table's answer for one request. Two decisions are equal when they
/// name the same member (by identity), rewrite and reply.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'t> {
    /// Forward to `dest`, with `rewrite` applied to the Request-URI first
    /// when there is one.
    Route {
        /// The member picked.
        dest: &'t Destination,
        /// What to change in the forwarded Request-URI.
        rewrite: Option<&'t Rewrite>,
    },
    /// Answer the request with this status (an ACK is never answered: the
    /// proxy drops it instead).
    Reject {
        /// The status code (4xx to 6xx).
        code: u16,
        /// The reason phrase.
        reason: &'t str,
        /// Seconds for a `Retry-After` header, when the reply has one.
        retry_after: Option<u32>,
    },
    /// Drop the request without an answer.
    Drop,
}

impl PartialEq for Decision<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Decision::Route { dest, rewrite },
                Decision::Route {
                    dest: d2,
                    rewrite: r2,
                },
            ) => std::ptr::eq(*dest, *d2) && rewrite == r2,
            (
                Decision::Reject {
                    code,
                    reason,
                    retry_after,
                },
                Decision::Reject {
                    code: c2,
                    reason: n2,
                    retry_after: a2,
                },
            ) => code == c2 && reason == n2 && retry_after == a2,
            (Decision::Drop, Decision::Drop) => true,
            _ => false,
        }
    }
}

impl Eq for Decision<'_> {}

impl Decision<'static> {
    /// The answer when every member of the chosen group is down: `503
    /// Service Unavailable` with `Retry-After: 5`.
    pub const ALL_DOWN: Decision<'static> = Decision::Reject {
        code: 503,
        reason: "Service Unavailable",
        retry_after: Some(5),
    };
}

impl<'t> Decision<'t> {
    /// The member picked, for a [`Decision::Route`].
    pub fn dest(&self) -> Option<&'t Destination> {
        match *self {
            Decision::Route { dest, .. } => Some(dest),
            _ => None,
        }
    }
}

/// A change to the forwarded Request-URI: strip leading characters of the
/// user, then put a prefix before it; optionally replace the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// How many leading bytes of the user part (as written) to remove.
    pub strip: usize,
    /// What to put before the rest of the user part.
    pub prefix: Box<[u8]>,
    /// The new host (a name or an address as it is written in a URI), when
    /// the host changes.
    pub host: Option<Box<[u8]>>,
}

impl Rewrite {
    /// The user part after the rewrite: `user` without its first `strip`
    /// bytes, after `prefix`. Appended to `out`.
    pub fn user_into(&self, user: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(user.get(self.strip..).unwrap_or_default());
    }

    /// Whether the user part changes.
    pub fn changes_user(&self) -> bool {
        self.strip > 0 || !self.prefix.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rewrite_strips_then_prefixes() {
        let rw = |strip, prefix: &[u8]| Rewrite {
            strip,
            prefix: prefix.into(),
            host: None,
        };
        let cases: [(Rewrite, &[u8], &[u8]); 4] = [
            (rw(0, b""), b"0044207", b"0044207"),
            (rw(2, b"+"), b"0044207", b"+44207"),
            (rw(9, b"x"), b"0044207", b"x"),
            (rw(0, b"9"), b"", b"9"),
        ];
        for (r, user, want) in cases {
            let mut out = Vec::new();
            r.user_into(user, &mut out);
            assert_eq!(out, want);
        }
        assert!(!rw(0, b"").changes_user());
        assert!(rw(1, b"").changes_user() && rw(0, b"1").changes_user());
    }
}
