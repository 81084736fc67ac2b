//! Per-worker counters: plain integers owned by one worker thread (no shared
//! atomics on the message path). No other thread sees them while the
//! workers run: at most once a second a worker logs the drops (other than
//! keep-alives and absorbed ACKs) counted since its last such report,
//! against its own earlier copy ([`Counters::drops_since`]); and when the
//! runtime stops each worker returns its counters and they are merged into
//! one total ([`Counters::merge`]) of the workers that stopped in time, which
//! `branchline proxy` logs on exit and `branchline demo` prints.
//!
//! Drops are counted per reason: the proxy's own [`DropReason`]s (by their
//! stable names) and the runtime's [`NetDrop`]s.

use std::fmt;

use crate::proxy::DropReason;

/// Why the runtime (not the proxy core) dropped a message or connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetDrop {
    /// The transmit named a transport we do not send on (TLS, SCTP, WS).
    UnsupportedTransport,
    /// No UDP socket of the destination's address family to send from.
    NoUdpSocket,
    /// A send or write failed (other than "try again").
    SendError,
    /// A TCP byte stream that does not frame (no or bad Content-Length,
    /// over the size cap); the connection is closed.
    TcpFraming,
    /// A TCP connection refused by the total or per-IP limit.
    TcpLimit,
    /// A TCP connection whose unsent bytes grew past the cap; closed.
    TcpBacklog,
    /// A hand-off to another worker found its queue full.
    HandoffFull,
    /// A hand-off named a worker that does not exist.
    NoSuchWorker,
    /// An outbound TCP connection could not be opened.
    ConnectFailed,
    /// The proxy core panicked on the message (a bug); the message was
    /// dropped and the worker went on.
    CorePanic,
}

impl NetDrop {
    /// Every variant, in counter order.
    pub const ALL: [NetDrop; 10] = [
        NetDrop::UnsupportedTransport,
        NetDrop::NoUdpSocket,
        NetDrop::SendError,
        NetDrop::TcpFraming,
        NetDrop::TcpLimit,
        NetDrop::TcpBacklog,
        NetDrop::HandoffFull,
        NetDrop::NoSuchWorker,
        NetDrop::ConnectFailed,
        NetDrop::CorePanic,
    ];

    /// A short stable name for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            NetDrop::UnsupportedTransport => "unsupported_transport",
            NetDrop::NoUdpSocket => "no_udp_socket",
            NetDrop::SendError => "send_error",
            NetDrop::TcpFraming => "tcp_framing",
            NetDrop::TcpLimit => "tcp_limit",
            NetDrop::TcpBacklog => "tcp_backlog",
            NetDrop::HandoffFull => "handoff_full",
            NetDrop::NoSuchWorker => "no_such_worker",
            NetDrop::ConnectFailed => "connect_failed",
            NetDrop::CorePanic => "core_panic",
        }
    }
}

const N_PROXY: usize = DropReason::NAMES.len();
const N_NET: usize = NetDrop::ALL.len();

/// One worker's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages received (datagrams and framed stream messages).
    pub received: u64,
    /// Messages forwarded.
    pub forwarded: u64,
    /// Stateless replies sent.
    pub replied: u64,
    /// Messages handed to another worker (TCP connection owned there).
    pub handed_off: u64,
    /// TCP connections accepted.
    pub tcp_accepted: u64,
    /// Outbound TCP connections opened.
    pub tcp_connected: u64,
    /// TCP connections closed (either side, idle, error).
    pub tcp_closed: u64,
    proxy_drops: [u64; N_PROXY],
    net_drops: [u64; N_NET],
}

impl Counters {
    /// Counts a drop decided by the proxy core.
    #[inline]
    pub fn proxy_drop(&mut self, reason: &DropReason) {
        if let Some(n) = self.proxy_drops.get_mut(reason.index()) {
            *n += 1;
        }
    }

    /// Counts a drop decided by the runtime.
    #[inline]
    pub fn net_drop(&mut self, reason: NetDrop) {
        self.net_drops[reason as usize] += 1;
    }

    /// All drops.
    pub fn dropped(&self) -> u64 {
        self.proxy_drops.iter().sum::<u64>() + self.net_drops.iter().sum::<u64>()
    }

    /// Drops that signal a problem (all but keep-alives and absorbed ACKs).
    pub fn notable_drops(&self) -> u64 {
        let normal = [DropReason::KeepAlive, DropReason::AckAbsorbed];
        let count = |r: DropReason| self.proxy_drops.get(r.index()).copied().unwrap_or(0);
        self.dropped() - normal.into_iter().map(count).sum::<u64>()
    }

    /// Every drop reason with a non-zero count, as (name, count).
    pub fn drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let proxy = DropReason::NAMES
            .iter()
            .copied()
            .zip(self.proxy_drops.iter().copied());
        let net = NetDrop::ALL
            .iter()
            .map(|d| d.as_str())
            .zip(self.net_drops.iter().copied());
        proxy.chain(net).filter(|(_, n)| *n > 0)
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Counters) {
        self.received += other.received;
        self.forwarded += other.forwarded;
        self.replied += other.replied;
        self.handed_off += other.handed_off;
        self.tcp_accepted += other.tcp_accepted;
        self.tcp_connected += other.tcp_connected;
        self.tcp_closed += other.tcp_closed;
        for (a, b) in self.proxy_drops.iter_mut().zip(other.proxy_drops) {
            *a += b;
        }
        for (a, b) in self.net_drops.iter_mut().zip(other.net_drops) {
            *a += b;
        }
    }

    /// The drops counted since `earlier` (a copy taken before), per reason.
    pub fn drops_since<'a>(
        &'a self,
        earlier: &'a Counters,
    ) -> impl Iterator<Item = (&'static str, u64)> + 'a {
        let e: Vec<(&'static str, u64)> = earlier.drops().collect();
        self.drops().filter_map(move |(name, n)| {
            let before = e.iter().find(|(m, _)| *m == name).map_or(0, |x| x.1);
            (n > before).then_some((name, n - before))
        })
    }
}

/// `received=.. forwarded=.. replied=.. dropped=.. (reason=n, ..)`.
impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} forwarded={} replied={} dropped={}",
            self.received,
            self.forwarded,
            self.replied,
            self.dropped()
        )?;
        let mut first = true;
        for (name, n) in self.drops() {
            f.write_str(if first { " (" } else { ", " })?;
            write!(f, "{name}={n}")?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        if self.tcp_accepted + self.tcp_connected + self.handed_off > 0 {
            write!(
                f,
                " tcp_accepted={} tcp_connected={} tcp_closed={} handed_off={}",
                self.tcp_accepted, self.tcp_connected, self.tcp_closed, self.handed_off
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_print() {
        let mut a = Counters {
            received: 3,
            forwarded: 2,
            ..Counters::default()
        };
        a.proxy_drop(&DropReason::NotOurVia);
        let before = a.clone();
        a.net_drop(NetDrop::TcpLimit);
        a.proxy_drop(&DropReason::KeepAlive);
        let mut b = Counters::default();
        b.merge(&a);
        b.merge(&a);
        assert_eq!(b.received, 6);
        assert_eq!(b.dropped(), 6);
        assert_eq!(b.notable_drops(), 4);
        let s = b.to_string();
        assert!(
            s.contains("not_our_via=2") && s.contains("tcp_limit=2"),
            "{s}"
        );
        let delta: Vec<_> = a.drops_since(&before).collect();
        assert_eq!(delta, vec![("keepalive", 1), ("tcp_limit", 1)]);
    }

    /// The README names every drop counter an operator can see.
    #[test]
    fn the_readme_names_every_drop_reason() {
        let readme = include_str!("../README.md");
        let names = DropReason::NAMES.iter().copied();
        for name in names.chain(NetDrop::ALL.iter().map(|d| d.as_str())) {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README lacks `{name}`"
            );
        }
    }

    /// Every reason the proxy core gives has its own counter, under its own
    /// name (`DropReason::index` is an exhaustive match, so a new reason
    /// cannot compile without a place).
    #[test]
    fn every_proxy_drop_reason_has_its_counter() {
        let e = crate::sip::Error::Incomplete;
        let all = [
            DropReason::KeepAlive,
            DropReason::Unanswerable(e),
            DropReason::MalformedResponse(e),
            DropReason::NotOurVia,
            DropReason::NoNextVia,
            DropReason::UnresolvableVia,
            DropReason::AckAbsorbed,
            DropReason::AckUnroutable,
            DropReason::AuthDropped,
        ];
        for r in all {
            let mut c = Counters::default();
            c.proxy_drop(&r);
            let drops: Vec<_> = c.drops().collect();
            assert_eq!(drops, [(r.as_str(), 1)]);
        }
    }
}
