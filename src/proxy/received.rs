//! The marks the server transport puts on the sender's Via (RFC 3261
//! §18.2.1, RFC 3581 §4): `received` when the sent-by host is not the
//! address the request came from, `received` and `rport` when the sender
//! asked for `rport`. One reading ([`SenderMark::of`]) and one writer
//! ([`SenderMark::write`], through `Writer::received_rport` and
//! `Writer::received_ip`) serve the forwarded request (both paths) and our
//! own stateless replies. No I/O.
//!
//! The address is written as RFC 3261's `via-received` ABNF has it, an
//! `IPv4address` or an `IPv6address`: an IPv6 address without brackets
//! (RFC 5118 §4.5 shows the bracketed form as one that receivers should
//! tolerate, not one to send), and an IPv4-mapped IPv6 source (a request
//! that reached a dual-stack socket over IPv4) as the IPv4 address the
//! sender really has.

use std::net::SocketAddr;

use crate::sip::via::{Rport, Via};
use crate::sip::writer::Writer;
use crate::sip::{self};

/// What the sender's Via gets, by offset in the text it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SenderMark {
    /// `rport` (5 bytes) at this offset becomes `received=IP;rport=PORT`.
    Rport(usize),
    /// `;received=IP` goes at this offset (just after the Via value).
    Received(usize),
    /// Nothing to add.
    None,
}

impl SenderMark {
    /// The mark for the top Via `v`, written as `v_raw` inside `raw`, of a
    /// request from `src`.
    pub(super) fn of(raw: &[u8], v: &Via<'_>, v_raw: &[u8], src: SocketAddr) -> SenderMark {
        let Some(start) = sip::offset_in(raw, v_raw) else {
            return SenderMark::None;
        };
        if matches!(v.rport, Rport::Requested) {
            if let Some(at) = v.rport_name().and_then(|n| sip::offset_in(raw, n)) {
                return SenderMark::Rport(at);
            }
        }
        if !v.host.is_ip(src.ip()) && v.received.is_none() {
            return SenderMark::Received(start + v_raw.len());
        }
        SenderMark::None
    }

    /// The source bytes the mark replaces, as a range of the text it was
    /// read from: `rport`, or nothing (an insertion); `None` for no mark.
    pub(super) fn range(self) -> Option<core::ops::Range<usize>> {
        match self {
            SenderMark::Rport(at) => Some(at..at + 5),
            SenderMark::Received(at) => Some(at..at),
            SenderMark::None => None,
        }
    }

    /// Writes what replaces [`SenderMark::range`] for a request from `src`
    /// (the address in the form [`Writer::received_ip`] gives).
    #[inline]
    pub(super) fn write(self, w: &mut Writer<'_>, src: SocketAddr) {
        match self {
            SenderMark::Rport(_) => {
                w.received_rport(src);
            }
            SenderMark::Received(_) => {
                w.bytes(b";received=").received_ip(src.ip());
            }
            SenderMark::None => {}
        }
    }

    /// Puts the mark into a stateless reply already written in `out`,
    /// whose top Via value is the request's `top_raw` at offset `at` of
    /// `out`. Nothing is allocated: the mark is written at the end and
    /// rotated into place.
    pub(super) fn write_into(self, out: &mut Vec<u8>, at: usize, src: SocketAddr) {
        let Some(range) = self.range() else {
            return;
        };
        let (start, end) = (at + range.start, at + range.end);
        if end > out.len() {
            return;
        }
        let old_len = out.len();
        self.write(&mut Writer::new(out), src);
        let added = out.len() - old_len;
        if let Some(tail) = out.get_mut(start..) {
            tail.rotate_right(added);
        }
        out.drain(start + added..end + added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(via: &str, src: &str) -> String {
        let raw = via.as_bytes();
        let v = Via::parse(raw).unwrap();
        let src: SocketAddr = src.parse().unwrap();
        let mark = SenderMark::of(raw, &v, raw, src);
        let mut out = raw.to_vec();
        mark.write_into(&mut out, 0, src);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn marks_follow_the_via_received_abnf() {
        let cases = [
            // rport asked for: both, IPv6 without brackets, mapped unmapped.
            (
                "SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1",
                "192.0.2.7:5062",
                "SIP/2.0/UDP pc.example.com;received=192.0.2.7;rport=5062;branch=z9hG4bK1",
            ),
            (
                "SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1",
                "[2001:db8::7]:5062",
                "SIP/2.0/UDP pc.example.com;received=2001:db8::7;rport=5062;branch=z9hG4bK1",
            ),
            (
                "SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1",
                "[::ffff:192.0.2.7]:5062",
                "SIP/2.0/UDP pc.example.com;received=192.0.2.7;rport=5062;branch=z9hG4bK1",
            ),
            // Another host than the source: received alone.
            (
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
                "[2001:db8::7]:5060",
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=2001:db8::7",
            ),
            (
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
                "[::ffff:192.0.2.7]:5060",
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=192.0.2.7",
            ),
            // The sent-by is the source (a mapped source matches its IPv4
            // sent-by): nothing.
            (
                "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1",
                "[::ffff:192.0.2.7]:5060",
                "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1",
            ),
            (
                "SIP/2.0/UDP [2001:db8::7];branch=z9hG4bK1",
                "[2001:db8::7]:5060",
                "SIP/2.0/UDP [2001:db8::7];branch=z9hG4bK1",
            ),
        ];
        for (via, src, want) in cases {
            assert_eq!(marked(via, src), want, "{via} from {src}");
        }
    }
}
