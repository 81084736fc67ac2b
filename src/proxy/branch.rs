//! Via branch parameters (RFC 3261 §16.11, §16.6 item 8) and the To-tags of
//! local replies, as keyed hashes of what a request keeps across
//! retransmissions. No I/O.
//!
//! Our branch is `z9hG4bK` + 16 hex digits (the transaction part) + `.` +
//! 8 hex digits (the loop part):
//! - the transaction part hashes the incoming top Via's branch and sent-by
//!   (RFC 3261 requests), or — for RFC 2543 requests without the magic
//!   cookie — the Request-URI, From-tag, Call-ID, CSeq number and top Via,
//!   plus the To-tag except for INVITE, ACK and CANCEL. A retransmission,
//!   the CANCEL of an INVITE and the ACK of a non-2xx reply therefore get
//!   the same branch as their INVITE, on every worker and every node that
//!   shares the key;
//! - the loop part hashes what decides routing (Request-URI as received,
//!   Route values, From-tag, Call-ID, CSeq number, To-tag with the same
//!   exception), so a request that comes back unchanged is a loop (§16.3
//!   item 4) and one that comes back changed is a spiral.

use super::fold::Fold;
use super::siphash::{Hasher, Key};
use crate::sip::{via::Via, Method};

/// Length of our branch values.
pub(crate) const BRANCH_LEN: usize = 7 + 16 + 1 + 8;
const COOKIE: &[u8] = b"z9hG4bK";
/// Domains of the branch hashes under the one key.
const TX_DOMAIN: u64 = 1;
const LOOP_DOMAIN: u64 = 2;

/// What the branch hashes read from a request.
pub(crate) struct Invariants<'r, 'a> {
    pub method: Method<'a>,
    pub uri_raw: &'a [u8],
    pub top_via: &'r Via<'a>,
    pub top_via_raw: &'a [u8],
    pub call_id: &'a [u8],
    pub cseq: u32,
    pub from_tag: &'a [u8],
    pub to_tag: Option<&'a [u8]>,
}

impl Invariants<'_, '_> {
    /// The To-tag, unless the method shares its transaction with an INVITE
    /// (INVITE, ACK, CANCEL), whose To-tag differs between them.
    fn tx_to_tag(&self) -> &[u8] {
        match self.method {
            Method::Invite | Method::Ack | Method::Cancel => b"",
            _ => self.to_tag.unwrap_or_default(),
        }
    }

    /// The transaction part.
    pub fn tx_part(&self, key: Key) -> u64 {
        let mut h = Fold::new(key, TX_DOMAIN);
        if self.top_via.has_magic_cookie() {
            h.field(b"3261");
            h.field(self.top_via.branch.unwrap_or_default());
            h.field(self.top_via.host_raw);
            h.u32(u32::from(self.top_via.sent_by_port()));
        } else {
            h.field(b"2543");
            h.field(self.uri_raw);
            h.field(self.from_tag);
            h.field(self.call_id);
            h.u32(self.cseq);
            h.field(self.top_via_raw);
            h.field(self.tx_to_tag());
        }
        h.finish()
    }

    /// The loop part's hash, fed everything but the Route values; the
    /// caller adds those, as received, in order ([`LoopHash::route`]).
    pub fn loop_hash(&self, key: Key) -> LoopHash {
        let mut h = Fold::new(key, LOOP_DOMAIN);
        h.field(self.uri_raw);
        h.field(self.from_tag);
        h.field(self.call_id);
        h.u32(self.cseq);
        h.field(self.tx_to_tag());
        LoopHash(h)
    }
}

/// The loop part being computed (see [`Invariants::loop_hash`]).
pub(crate) struct LoopHash(Fold);

impl LoopHash {
    /// Adds the next Route value, as received.
    pub fn route(&mut self, raw: &[u8]) {
        self.0.field(raw);
    }

    /// The loop part.
    pub fn finish(self) -> u32 {
        (self.0.finish() >> 32) as u32
    }
}

/// Our branch value.
pub(crate) fn branch_bytes(tx: u64, lp: u32) -> [u8; BRANCH_LEN] {
    let mut b = [0u8; BRANCH_LEN];
    b[..7].copy_from_slice(COOKIE);
    b[7..15].copy_from_slice(&hex8((tx >> 32) as u32));
    b[15..23].copy_from_slice(&hex8(tx as u32));
    b[23] = b'.';
    b[24..].copy_from_slice(&hex8(lp));
    b
}

/// The loop part of a health probe's branch: a keyed check value of its
/// token (the transaction part), so the runtime can tell a reply to a probe
/// from a forged one without keeping state.
pub(crate) fn probe_check(key: Key, token: u64) -> u32 {
    let mut h = Hasher::new(key);
    h.field(b"probe");
    h.write(&token.to_le_bytes());
    (h.finish() >> 32) as u32
}

/// The check value in our Via's `bl` parameter (the stream connection a
/// request came on), so a forged response cannot pick a connection.
pub(crate) fn conn_mac(key: Key, worker: u16, id: u32, tx: u64) -> u32 {
    let mut h = Hasher::new(key);
    h.field(b"conn");
    h.write(&worker.to_le_bytes());
    h.write(&id.to_le_bytes());
    h.write(&tx.to_le_bytes());
    (h.finish() >> 32) as u32
}

/// The transaction part of one of our branches.
pub(crate) fn tx_part_of(b: &[u8]) -> Option<u64> {
    our_parts(b).map(|(tx, _)| tx)
}

/// The loop part of one of our branches.
pub(crate) fn loop_part_of(b: &[u8]) -> Option<u32> {
    our_parts(b).map(|(_, lp)| lp)
}

/// The transaction and loop parts of a branch of our shape (the cookie, 16
/// lower-case hex digits, `.`, 8 more).
fn our_parts(b: &[u8]) -> Option<(u64, u32)> {
    let b: &[u8; BRANCH_LEN] = b.try_into().ok()?;
    if !b.starts_with(COOKIE) || b[23] != b'.' {
        return None;
    }
    let word = |at: usize| {
        b.get(at..at + 8)
            .and_then(|w| w.first_chunk::<8>())
            .and_then(|w| unhex8(*w))
    };
    let (hi, lo, lp) = (word(7)?, word(15)?, word(24)?);
    Some(((u64::from(hi) << 32) | u64::from(lo), lp))
}

/// The value of 8 lower-case hex digits (most significant first), all
/// checked and converted at once; `None` when one is anything else.
fn unhex8(digits: [u8; 8]) -> Option<u32> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_be_bytes(digits);
    if x & HIGH != 0 {
        return None;
    }
    // With every byte below 0x80, adding at most 0x80 carries into no
    // neighbour: the high bit of each byte says whether it is in a range.
    let at_least = |lo: u8| x + (0x80 - u64::from(lo)) * LOW;
    let above = |hi: u8| x + (0x7f - u64::from(hi)) * LOW;
    let digit = at_least(b'0') & !above(b'9') & HIGH;
    let letter = at_least(b'a') & !above(b'f') & HIGH;
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' have their value in the low nibble, 'a'..'f' 1..6 (+9).
    let mut n = (x & (0x0f * LOW)) + (letter >> 7) * 9;
    n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    n = (n | (n >> 16)) & 0xffff_ffff;
    Some(n as u32)
}

/// What every [`local_tag`] starts with.
const LOCAL_TAG_PREFIX: &[u8; 2] = b"bl";

/// The length of a [`local_tag`]: the prefix and sixteen hex digits.
pub(crate) const LOCAL_TAG_LEN: usize = LOCAL_TAG_PREFIX.len() + 16;

/// The To-tag of a local reply to a request, from raw values that a
/// retransmission and the ACK for a non-2xx reply repeat byte for byte:
/// the top Via value, Call-ID, the From value and the CSeq number
/// (RFC 3261 §17.1.1.3, §9.1).
pub(crate) fn local_tag(
    key: Key,
    top_via: &[u8],
    call_id: &[u8],
    from: &[u8],
    cseq: &[u8],
) -> [u8; LOCAL_TAG_LEN] {
    let mut h = Hasher::new(key);
    h.field(b"tag");
    h.field(top_via);
    h.field(call_id);
    h.field(from);
    // Only the sequence number: the method differs in the ACK.
    let num_end = cseq
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(cseq.len());
    h.field(&cseq[..num_end]);
    let mut tag = [0u8; LOCAL_TAG_LEN];
    let (prefix, digits) = tag.split_at_mut(LOCAL_TAG_PREFIX.len());
    prefix.copy_from_slice(LOCAL_TAG_PREFIX);
    let v = h.finish();
    digits[..8].copy_from_slice(&hex8((v >> 32) as u32));
    digits[8..].copy_from_slice(&hex8(v as u32));
    tag
}

/// True when `tag` has the length and prefix of a [`local_tag`]: a To-tag
/// without them cannot be ours, which is known without hashing (the ACK of
/// every answered call carries the callee's To-tag).
#[inline]
pub(crate) fn local_tag_shaped(tag: &[u8]) -> bool {
    tag.len() == LOCAL_TAG_LEN && tag.starts_with(LOCAL_TAG_PREFIX)
}

/// The 8 lower-case hex digits of `v`, most significant first: the nibbles
/// are spread one per byte and turned into digits all at once.
pub(crate) fn hex8(v: u32) -> [u8; 8] {
    const LOW: u64 = 0x0101_0101_0101_0101;
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // Byte k holds nibble k (least significant first); 1 where it is > 9.
    let letters = ((x + 6 * LOW) >> 4) & LOW;
    (x + u64::from(b'0') * LOW + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_round_trip() {
        let b = branch_bytes(0x0123_4567_89ab_cdef, 0xdead_beef);
        assert_eq!(&b, b"z9hG4bK0123456789abcdef.deadbeef");
        assert!(our_parts(&b).is_some());
        assert_eq!(loop_part_of(&b), Some(0xdead_beef));
        assert_eq!(tx_part_of(&b), Some(0x0123_4567_89ab_cdef));
        assert!(our_parts(b"z9hG4bK0123456789abcdef.deadbeeX").is_none());
        assert!(our_parts(b"z9hG4bKxyz").is_none());
        assert_eq!(loop_part_of(b"z9hG4bK1"), None);
    }

    #[test]
    fn our_parts_match_a_plain_reading() {
        let plain = |b: &[u8]| -> Option<(u64, u32)> {
            let text = core::str::from_utf8(b).ok()?;
            let rest = text.strip_prefix("z9hG4bK")?;
            let (tx, lp) = rest.split_once('.')?;
            let lower_hex = |s: &str, n| {
                s.len() == n && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            };
            if !lower_hex(tx, 16) || !lower_hex(lp, 8) {
                return None;
            }
            Some((
                u64::from_str_radix(tx, 16).ok()?,
                u32::from_str_radix(lp, 16).ok()?,
            ))
        };
        let good = branch_bytes(0x0123_4567_89ab_cdef, 0xdead_beef);
        assert_eq!(our_parts(&good), plain(&good));
        assert!(our_parts(&good).is_some());
        for i in 0..good.len() {
            for c in [
                b'0', b'9', b'a', b'f', b'g', b'A', b'F', b'.', b'/', b':', b'`', 0xff,
            ] {
                let mut b = good;
                b[i] = c;
                assert_eq!(
                    our_parts(&b),
                    plain(&b),
                    "{:?}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
        assert_eq!(our_parts(&good[..31]), None);
        assert_eq!(our_parts(b"z9hG4bK776asdhds.1"), None);
    }

    #[test]
    fn unhex8_inverts_hex8_and_refuses_the_rest() {
        for v in [0, 9, 10, 0xdead_beef, 0x0123_4567, u32::MAX] {
            assert_eq!(unhex8(hex8(v)), Some(v));
        }
        for b in 0..=255u8 {
            let mut d = *b"0123abcd";
            d[3] = b;
            let want = core::str::from_utf8(&d)
                .ok()
                .filter(|s| s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
                .and_then(|s| u32::from_str_radix(s, 16).ok());
            assert_eq!(unhex8(d), want, "{b:#x}");
        }
    }

    #[test]
    fn hex8_matches_format() {
        for v in [
            0,
            1,
            9,
            10,
            15,
            16,
            0xdead_beef,
            0x0123_4567,
            0x89ab_cdef,
            u32::MAX,
        ] {
            assert_eq!(hex8(v), format!("{v:08x}").as_bytes(), "{v:x}");
        }
        let mut v = 0x9e37_79b9u32;
        for _ in 0..1000 {
            v = v
                .wrapping_mul(0x0101_0101)
                .wrapping_add(0x1234_5679)
                .rotate_left(7);
            assert_eq!(hex8(v), format!("{v:08x}").as_bytes());
        }
    }

    #[test]
    fn local_tag_ignores_cseq_method() {
        let k = Key::new(1, 2);
        let a = local_tag(
            k,
            b"SIP/2.0/UDP h;branch=z9hG4bK1",
            b"c@h",
            b"<sip:a@b>;tag=1",
            b"1 INVITE",
        );
        let b = local_tag(
            k,
            b"SIP/2.0/UDP h;branch=z9hG4bK1",
            b"c@h",
            b"<sip:a@b>;tag=1",
            b"1 ACK",
        );
        let c = local_tag(
            k,
            b"SIP/2.0/UDP h;branch=z9hG4bK1",
            b"c@h",
            b"<sip:a@b>;tag=1",
            b"2 INVITE",
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with(b"bl"));
        for t in [a, c] {
            assert!(local_tag_shaped(&t), "{t:?}");
        }
        assert!(!local_tag_shaped(&a[..17]));
        assert!(!local_tag_shaped(b"1928301774"));
        assert!(!local_tag_shaped(b"xl0123456789abcdef"));
    }
}
