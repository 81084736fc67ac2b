//! Sans-IO call-flow state machines: the UAC ([`uac::Uac`]) that places
//! calls, registrations, OPTIONS probes and MESSAGEs, and the UAS
//! ([`uas::Uas`]) that answers them. No I/O.
//!
//! Both take datagrams and a [`Nanos`](super::Nanos) time in and put
//! datagrams out into an [`Outbox`] the caller sends and clears. Call state
//! lives in a `Vec` of slots; the slot index and its generation are written
//! into the Call-ID, branches and tags the harness generates, so a response
//! finds its call by decoding a few hex digits (no map, no allocation).
//! Buffers are reused: once warmed up, handling a message allocates
//! nothing.

use std::net::SocketAddr;

use super::stats::MsgKind;
use crate::sip::Method;

pub mod uac;
pub mod uas;
pub mod uas_auth;

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to: `None` for the UAC's target (the caller's connected peer).
    pub to: Option<SocketAddr>,
    /// The slot of the call it belongs to, so the shell can keep a call on
    /// one local socket (`slot % sockets`).
    pub slot: u32,
    /// The message.
    pub bytes: &'a [u8],
}

/// Datagrams produced by one call into a state machine, in send order.
/// Buffers are kept across [`Outbox::clear`], so a warmed-up outbox does
/// not allocate.
#[derive(Debug, Default)]
pub struct Outbox {
    bufs: Vec<Vec<u8>>,
    meta: Vec<(Option<SocketAddr>, u32)>,
    len: usize,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Forgets the datagrams, keeping their buffers.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of datagrams.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The datagrams in send order.
    pub fn iter(&self) -> impl Iterator<Item = Transmit<'_>> + '_ {
        self.bufs[..self.len]
            .iter()
            .zip(&self.meta)
            .map(|(b, &(to, slot))| Transmit { to, slot, bytes: b })
    }

    /// A cleared buffer for the next datagram.
    pub(crate) fn next(&mut self, to: Option<SocketAddr>, slot: u32) -> &mut Vec<u8> {
        if self.len == self.bufs.len() {
            self.bufs.push(Vec::with_capacity(1024));
            self.meta.push((None, 0));
        }
        self.meta[self.len] = (to, slot);
        self.len += 1;
        let b = &mut self.bufs[self.len - 1];
        b.clear();
        b
    }
}

/// The counter kind of a request method.
pub(crate) fn msg_kind(m: Method<'_>) -> Option<MsgKind> {
    Some(match m {
        Method::Invite => MsgKind::Invite,
        Method::Ack => MsgKind::Ack,
        Method::Bye => MsgKind::Bye,
        Method::Cancel => MsgKind::Cancel,
        Method::Register => MsgKind::Register,
        Method::Options => MsgKind::Options,
        Method::Message => MsgKind::Message,
        _ => return None,
    })
}

/// A short identifier built on the stack: `prefix` then `.`-separated
/// lower-case hex numbers.
#[derive(Clone, Copy)]
pub(crate) struct Id {
    buf: [u8; 96],
    len: usize,
}

impl Id {
    pub(crate) fn new(prefix: &[u8]) -> Id {
        let mut id = Id {
            buf: [0; 96],
            len: 0,
        };
        id.push(prefix);
        id
    }

    pub(crate) fn push(&mut self, b: &[u8]) -> &mut Id {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self
    }

    /// Appends `n` in hex, preceded by a `.` when `dot` is true.
    pub(crate) fn hex(&mut self, n: u64, dot: bool) -> &mut Id {
        if dot {
            self.push(b".");
        }
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b"0123456789abcdef"[(n & 15) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        self.push(&tmp[i..])
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Parses up to `N` `.`-separated hex numbers from `s` (all of it).
pub(crate) fn parse_hex_fields<const N: usize>(s: &[u8]) -> Option<[u64; N]> {
    let mut out = [0u64; N];
    let mut parts = s.split(|&b| b == b'.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 16 {
            return None;
        }
        let mut v = 0u64;
        for &b in p {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            v = v << 4 | u64::from(d);
        }
        *slot = v;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod number_tests;
#[cfg(test)]
mod tests;
