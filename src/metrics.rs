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
use std::net::SocketAddr;

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
    /// A datagram sent to an upstream came back as an ICMP error (port or
    /// host unreachable): the kernel sent it, the upstream never got it.
    Unreachable,
    /// A TCP connection closed because a message was not complete within
    /// the message timeout of its first byte (or a new connection sent no
    /// message in that time).
    TcpDeadline,
}

impl NetDrop {
    /// Every variant, in counter order.
    pub const ALL: [NetDrop; 12] = [
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
        NetDrop::Unreachable,
        NetDrop::TcpDeadline,
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
            NetDrop::Unreachable => "unreachable",
            NetDrop::TcpDeadline => "tcp_deadline",
        }
    }
}

const N_PROXY: usize = DropReason::NAMES.len();
/// Most (upstream, reason) pairs a worker names; drops past them are
/// counted, not named.
const MAX_NAMED: usize = 16;
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
    /// The runtime's drops of messages to an upstream, by upstream.
    to_upstreams: Vec<(SocketAddr, NetDrop, u64)>,
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

    /// Counts a drop decided by the runtime for a message to the upstream
    /// `dest`, naming it (for the first few upstreams a worker meets).
    pub fn net_drop_to(&mut self, reason: NetDrop, dest: SocketAddr) {
        self.net_drop(reason);
        self.name_upstream(dest, reason, 1);
    }

    fn name_upstream(&mut self, dest: SocketAddr, reason: NetDrop, n: u64) {
        let named = &mut self.to_upstreams;
        if let Some(e) = named
            .iter_mut()
            .find(|(a, r, _)| *a == dest && *r == reason)
        {
            e.2 += n;
        } else if named.len() < MAX_NAMED {
            named.push((dest, reason, n));
        }
    }

    /// The upstreams named for drops of `reason`, with counts above what
    /// `earlier` had: `127.0.0.1:5071 138, [::1]:5072 2`.
    fn upstreams_for(&self, name: &str, earlier: Option<&Counters>) -> String {
        let mut out = String::new();
        for &(a, r, n) in &self.to_upstreams {
            if r.as_str() != name {
                continue;
            }
            let before = earlier
                .and_then(|e| e.to_upstreams.iter().find(|(b, q, _)| *b == a && *q == r))
                .map_or(0, |e| e.2);
            if n > before {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(&format!("{a} {}", n - before));
            }
        }
        out
    }

    /// `name=n`, with the upstreams involved: `connect_failed=3 (to
    /// 127.0.0.1:5071 3)`, counting from `earlier` when given.
    pub fn drop_entry(&self, name: &str, n: u64, earlier: Option<&Counters>) -> String {
        let to = self.upstreams_for(name, earlier);
        if to.is_empty() {
            format!("{name}={n}")
        } else {
            format!("{name}={n} (to {to})")
        }
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
        for &(dest, reason, n) in &other.to_upstreams {
            self.name_upstream(dest, reason, n);
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
            f.write_str(&self.drop_entry(name, n, None))?;
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

    #[test]
    fn drops_name_the_upstream_involved() {
        let a: SocketAddr = "127.0.0.1:5071".parse().unwrap();
        let b: SocketAddr = "[::1]:5072".parse().unwrap();
        let mut w1 = Counters::default();
        w1.net_drop_to(NetDrop::ConnectFailed, a);
        w1.net_drop_to(NetDrop::ConnectFailed, a);
        let earlier = w1.clone();
        w1.net_drop_to(NetDrop::ConnectFailed, b);
        w1.net_drop_to(NetDrop::Unreachable, a);
        w1.net_drop(NetDrop::SendError);
        let since: Vec<String> = w1
            .drops_since(&earlier)
            .map(|(name, n)| w1.drop_entry(name, n, Some(&earlier)))
            .collect();
        assert_eq!(
            since,
            [
                "send_error=1",
                "connect_failed=1 (to [::1]:5072 1)",
                "unreachable=1 (to 127.0.0.1:5071 1)"
            ]
        );
        let mut total = Counters::default();
        total.merge(&w1);
        total.merge(&w1);
        assert_eq!(
            total.to_string(),
            "received=0 forwarded=0 replied=0 dropped=10 (send_error=2, \
connect_failed=6 (to 127.0.0.1:5071 4, [::1]:5072 2), unreachable=2 (to 127.0.0.1:5071 2))"
        );
        // Bounded: past MAX_NAMED upstreams, drops are counted, not named.
        let mut many = Counters::default();
        for port in 0..100 {
            many.net_drop_to(
                NetDrop::ConnectFailed,
                SocketAddr::from(([10, 0, 0, 1], port)),
            );
        }
        assert_eq!(many.dropped(), 100);
        assert_eq!(many.to_upstreams.len(), MAX_NAMED);
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
