//! The I/O shell around the sans-IO [`crate::proxy`]: per-core worker
//! threads (pinned when asked), each with its own mio `Poll`, its own UDP
//! socket per UDP listen address and its own TCP listener per TCP listen
//! address (all bound with `SO_REUSEPORT`, so the kernel spreads datagrams
//! and connections across workers), TCP framing and connection limits, the
//! hand-off of a message to the worker that owns its TCP connection
//! (crossbeam channel plus `mio::Waker`), and the control thread that
//! handles signals and reloads ([`control`]).
//!
//! Start-up is two steps so that the proxy can be configured with the
//! addresses actually bound (port 0 picks one): [`Bound::bind`] opens every
//! socket, then [`Bound::spawn`] starts the workers.
//!
//! This module makes no protocol decisions: every message goes through
//! [`Proxy::handle`](crate::proxy::Proxy::handle), and the runtime only
//! carries out the [`Output`](crate::proxy::Output). The only `unsafe` of the
//! crate is in [`crate::sys`] (batched `recvmmsg`/`sendmmsg`).

pub mod control;
mod prober;
mod tcp;
mod worker;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use socket2::{Domain, Protocol, Socket, Type};

use crate::guard::GuardSpec;
use crate::log;
use crate::metrics::Counters;
use crate::proxy::{ConnRef, Proxy};
use crate::route::LiveTable;
use crate::sip::Transport;
use crate::sys;

pub use crate::sys::MAX_BATCH;

/// Default datagrams per `recvmmsg`/`sendmmsg` call.
pub const DEFAULT_UDP_BATCH: usize = 32;
/// Default idle time after which a TCP connection is closed.
pub const DEFAULT_TCP_IDLE: Duration = Duration::from_secs(300);
/// Default most TCP connections (accepted ones, all workers together).
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 8192;
/// Default most accepted TCP connections from one source IP address.
pub const DEFAULT_TCP_MAX_PER_IP: usize = 256;
/// Default time a TCP message may take from its first byte to its last.
pub const DEFAULT_TCP_MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// While the last quarter of the connection slots is in use, a source that
/// holds this many connections gets no more.
pub const TCP_RESERVED_PER_IP: usize = 4;
/// Requested socket buffer size (`SO_RCVBUF`/`SO_SNDBUF`) for UDP sockets;
/// the kernel caps it at `net.core.rmem_max`/`wmem_max`.
pub const UDP_BUFFER_BYTES: usize = 8 << 20;
/// Messages that may wait in one worker's hand-off queue.
const HANDOFF_QUEUE: usize = 4096;

/// One address to listen on: `udp:ADDR:PORT` or `tcp:ADDR:PORT` (IPv6 in
/// brackets: `udp:[::1]:5060`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    /// `Udp` or `Tcp`.
    pub transport: Transport,
    /// The address to bind (port 0: the system picks one).
    pub addr: SocketAddr,
}

/// The syntax of a [`ListenAddr`], quoted in its errors.
pub const LISTEN_SYNTAX: &str =
    "udp:ADDR:PORT or tcp:ADDR:PORT (e.g. udp:0.0.0.0:5060, tcp:[::1]:5060)";

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<ListenAddr, String> {
        let (t, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' names no transport; expected {LISTEN_SYNTAX}"))?;
        let transport = match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => {
                return Err(format!(
                    "transport '{t}' in '{s}' is not supported (use udp or tcp); expected {LISTEN_SYNTAX}"
                ))
            }
        };
        let addr = rest.parse::<SocketAddr>().map_err(|_| {
            if rest.matches(':').count() > 1 && !rest.starts_with('[') {
                format!("'{rest}' in '{s}': an IPv6 address needs brackets, as in {t}:[::1]:5060")
            } else {
                format!("'{rest}' in '{s}' is not an IP address and port; expected {LISTEN_SYNTAX}")
            }
        })?;
        Ok(ListenAddr { transport, addr })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_param(), self.addr)
    }
}

/// TCP limits.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Close a connection with no traffic for this long.
    pub idle_timeout: Duration,
    /// Most accepted connections, all workers together.
    pub max_connections: usize,
    /// Most accepted connections from one source IP.
    pub max_per_ip: usize,
    /// A message must be complete this long after its first byte (and a new
    /// connection's first message this long after the accept).
    pub message_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            idle_timeout: DEFAULT_TCP_IDLE,
            max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            max_per_ip: DEFAULT_TCP_MAX_PER_IP,
            message_timeout: DEFAULT_TCP_MESSAGE_TIMEOUT,
        }
    }
}

/// What the runtime needs (the proxy's own settings are in
/// [`crate::proxy::Config`]).
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on.
    pub listen: Vec<ListenAddr>,
    /// Worker threads (1 or more).
    pub workers: u16,
    /// Pin worker `i` to core `i` (modulo the cores available).
    pub pin: bool,
    /// Datagrams per batched syscall; 1 uses plain `recvfrom`/`sendto`.
    pub udp_batch: usize,
    /// Run workers under `SCHED_BATCH`, so a peer woken by a worker's sends
    /// does not preempt it mid-batch (over loopback the wakeup lands on the
    /// sender's CPU); fewer context switches per message.
    pub sched_batch: bool,
    /// Largest message accepted (TCP frames above it close the connection).
    pub max_message_size: usize,
    /// TCP limits.
    pub tcp: TcpLimits,
    /// The flood guard (`[guard]`), if any: each worker gets its own table
    /// of `max_sources / workers` sources.
    pub guard: Option<GuardSpec>,
}

/// Why the runtime could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Another process already has a socket on a listen address: with
    /// `SO_REUSEPORT` (another branchline) it would take part of the
    /// traffic, so the proxy refuses to start.
    #[error(
        "cannot listen on {listen}: already in use by another process (another branchline?); \
stop it or choose another --listen address"
    )]
    InUse {
        /// The address.
        listen: ListenAddr,
    },
    /// A socket could not be opened or bound.
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        /// The address.
        listen: ListenAddr,
        /// The system's answer.
        source: io::Error,
    },
    /// Poll, waker or thread creation failed.
    #[error("cannot start worker {worker}: {source}")]
    Worker {
        /// The worker index.
        worker: u16,
        /// The system's answer.
        source: io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
    /// A worker thread ended on its own (a bug: it panicked).
    #[error("worker {0} stopped unexpectedly")]
    WorkerDied(u16),
}

/// Sockets of one worker, bound but not yet polled.
struct WorkerSockets {
    udp: Vec<(mio::net::UdpSocket, SocketAddr)>,
    tcp: Vec<(mio::net::TcpListener, SocketAddr)>,
}

/// Every socket bound, workers not yet started.
pub struct Bound {
    config: NetConfig,
    addrs: Vec<ListenAddr>,
    sockets: Vec<WorkerSockets>,
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Bound {
    /// Binds one socket per listen address per worker (`SO_REUSEPORT`).
    /// A port 0 is resolved by the first bind and reused for the others.
    /// First, every address with a port is checked to be free
    /// ([`NetError::InUse`] if not, [`ensure_free`]): `SO_REUSEPORT` would
    /// otherwise let us share it with another process.
    pub fn bind(config: NetConfig) -> Result<Bound, NetError> {
        // All checked before any is bound, so that our own sockets on one
        // address (a wildcard) do not count against another of ours.
        for l in &config.listen {
            ensure_free(l)?;
        }
        let workers = config.workers.max(1) as usize;
        let mut sockets: Vec<WorkerSockets> = (0..workers)
            .map(|_| WorkerSockets {
                udp: Vec::new(),
                tcp: Vec::new(),
            })
            .collect();
        let mut addrs = Vec::with_capacity(config.listen.len());
        for l in &config.listen {
            let mut addr = l.addr;
            for ws in sockets.iter_mut() {
                let err = |source| NetError::Bind { listen: *l, source };
                let sock = bind_socket(l.transport, addr).map_err(err)?;
                addr = sock.local_addr().and_then(sockaddr_std).map_err(err)?;
                match l.transport {
                    Transport::Tcp => {
                        let lis = mio::net::TcpListener::from_std(sock.into());
                        ws.tcp.push((lis, addr));
                    }
                    _ => {
                        let udp = mio::net::UdpSocket::from_std(sock.into());
                        ws.udp.push((udp, addr));
                    }
                }
            }
            addrs.push(ListenAddr {
                transport: l.transport,
                addr,
            });
        }
        Ok(Bound {
            config,
            addrs,
            sockets,
        })
    }

    /// The addresses actually bound, in `--listen` order.
    pub fn addrs(&self) -> &[ListenAddr] {
        &self.addrs
    }

    /// Starts the workers. The proxy must have been configured with
    /// [`Bound::addrs`].
    pub fn spawn(self, proxy: Arc<Proxy>, live: Arc<LiveTable>) -> Result<Runtime, NetError> {
        let n = self.sockets.len();
        let mut polls = Vec::with_capacity(n);
        let mut wakers = Vec::with_capacity(n);
        let mut senders = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        for i in 0..n {
            let err = |source| NetError::Worker {
                worker: i as u16,
                source,
            };
            let poll = mio::Poll::new().map_err(err)?;
            let waker = mio::Waker::new(poll.registry(), worker::WAKER).map_err(err)?;
            let (tx, rx) = crossbeam_channel::bounded(HANDOFF_QUEUE);
            polls.push(poll);
            wakers.push(waker);
            senders.push(tx);
            receivers.push(rx);
        }
        // The prober sends UDP probes from clones of the first worker's
        // sockets: the proxy's own addresses and ports.
        let probe_socks = self
            .sockets
            .first()
            .map(|ws| {
                ws.udp
                    .iter()
                    .filter_map(|(u, local)| {
                        let clone = socket2::SockRef::from(u).try_clone().ok()?;
                        Some((std::net::UdpSocket::from(clone), *local))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let seed = seed_from_clock();
        let (prober, health) =
            prober::link(probe_socks, Arc::clone(&proxy), Arc::clone(&live), seed)
                .map_err(|source| NetError::Worker { worker: 0, source })?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            wakers,
            handoff: senders,
            limits: ConnLimits::new(self.config.tcp),
            health,
        });
        let prober_thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("branchline-probe".into())
                .spawn(move || prober.run(&shared.stop))
                .map_err(|source| NetError::Worker { worker: 0, source })?
        };
        let cores = if self.config.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut threads = Vec::with_capacity(n);
        let exited: ExitHook = Arc::new(Mutex::new(None));
        for (i, ((poll, rx), socks)) in polls
            .into_iter()
            .zip(receivers)
            .zip(self.sockets)
            .enumerate()
        {
            let id = i as u16;
            let ctx = worker::Ctx {
                id,
                proxy: Arc::clone(&proxy),
                live: Arc::clone(&live),
                shared: Arc::clone(&shared),
                batch: self.config.udp_batch.clamp(1, MAX_BATCH),
                max_message_size: self.config.max_message_size,
                idle_secs: self.config.tcp.idle_timeout.as_secs().max(1),
                message_ms: (self.config.tcp.message_timeout.as_millis() as u64).max(1),
                guard: self.config.guard.clone().map(|spec| {
                    let share = spec.max_sources.div_ceil(n).max(crate::guard::WAYS);
                    (
                        spec.response,
                        crate::guard::Guard::new(&spec, share, seed ^ i as u64),
                    )
                }),
            };
            let core = cores.get(i % cores.len().max(1)).copied();
            let sched_batch = self.config.sched_batch;
            let exited = Arc::clone(&exited);
            let w = worker::Worker::new(ctx, poll, rx, socks.udp, socks.tcp)
                .map_err(|source| NetError::Worker { worker: id, source })?;
            let t = std::thread::Builder::new()
                .name(format!("branchline-w{i}"))
                .spawn(move || {
                    let _notify = ExitNotice(exited);
                    // A peer woken by our sends must not preempt us in the
                    // middle of a batch (over loopback the wakeup lands on
                    // this CPU): that would turn every message into a
                    // context switch.
                    if sched_batch {
                        if let Err(e) = sys::set_batch_scheduling() {
                            log::warning!("worker {id}: SCHED_BATCH not set: {e}");
                        }
                    }
                    if let Some(c) = core {
                        if !core_affinity::set_for_current(c) {
                            log::warning!("worker {id}: could not pin to core {}", c.id);
                        }
                    }
                    w.run()
                })
                .map_err(|source| NetError::Worker { worker: id, source })?;
            threads.push(t);
        }
        Ok(Runtime {
            shared,
            threads,
            prober: Some(prober_thread),
            live,
            exited,
        })
    }
}

/// Where the callback run when a worker thread ends is registered.
type ExitHook = Arc<Mutex<Option<Box<dyn Fn() + Send>>>>;

/// Calls the registered exit callback when a worker thread ends, normally
/// or by panic, so the control thread stops waiting for signals.
struct ExitNotice(ExitHook);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        if let Ok(g) = self.0.lock() {
            if let Some(f) = g.as_ref() {
                f();
            }
        }
    }
}

/// Running workers.
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Counters>>,
    prober: Option<JoinHandle<()>>,
    live: Arc<LiveTable>,
    exited: ExitHook,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The live routing table the workers read.
    pub fn live_table(&self) -> &Arc<LiveTable> {
        &self.live
    }

    /// Registers `f` to be called when any worker thread ends.
    pub fn on_worker_exit(&self, f: Box<dyn Fn() + Send>) {
        if let Ok(mut g) = self.exited.lock() {
            *g = Some(f);
        }
    }

    /// The index of a worker that has ended, if any.
    pub fn finished_worker(&self) -> Option<u16> {
        self.threads
            .iter()
            .position(|t| t.is_finished())
            .map(|i| i as u16)
    }

    /// Asks every worker to stop reading, flush what it has queued and
    /// exit; waits up to `deadline` and returns the merged counters of the
    /// workers that finished in time.
    pub fn stop(self, deadline: Duration) -> Counters {
        self.shared.stop.store(true, Ordering::Release);
        for w in &self.shared.wakers {
            let _ = w.wake();
        }
        self.shared.health.wake();
        let until = Instant::now() + deadline;
        let mut total = Counters::default();
        for (i, t) in self.threads.into_iter().enumerate() {
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if !t.is_finished() {
                log::warning!("worker {i} did not stop in time");
                continue;
            }
            match t.join() {
                Ok(c) => total.merge(&c),
                Err(_) => log::error!("worker {i} panicked"),
            }
        }
        if let Some(p) = self.prober {
            while !p.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if p.is_finished() && p.join().is_err() {
                log::error!("the prober panicked");
            }
        }
        total
    }
}

/// State shared by all workers; touched only off the per-message path
/// (hand-offs, accepts, stop).
pub(crate) struct Shared {
    pub stop: AtomicBool,
    pub wakers: Vec<mio::Waker>,
    pub handoff: Vec<Sender<Handoff>>,
    pub limits: ConnLimits,
    /// Where workers report probe replies and unreachable upstreams.
    pub health: prober::HealthLink,
}

/// A message for a TCP connection owned by another worker.
pub(crate) struct Handoff {
    pub conn: ConnRef,
    /// Where to connect if the connection is gone.
    pub dest: SocketAddr,
    pub data: Vec<u8>,
}

/// Limits on accepted TCP connections, shared by all workers (checked on
/// accept and close only).
pub(crate) struct ConnLimits {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    limits: TcpLimits,
}

impl ConnLimits {
    fn new(limits: TcpLimits) -> ConnLimits {
        ConnLimits {
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// Takes a slot for a connection from `ip`; false when a limit is hit:
    /// the total, the per-IP limit, or — while the last quarter of the
    /// slots is in use — [`TCP_RESERVED_PER_IP`] connections held by `ip`
    /// already. That quarter is kept for sources with few connections, so
    /// a few addresses holding their full share each cannot lock every
    /// other client out.
    pub fn acquire(&self, ip: IpAddr) -> bool {
        let max = self.limits.max_connections;
        let before = self.total.fetch_add(1, Ordering::AcqRel);
        if before >= max {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let crowded = before >= max - max / 4;
        let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.limits.max_per_ip || (crowded && *n >= TCP_RESERVED_PER_IP) {
            drop(map);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        *n += 1;
        true
    }

    /// Gives back the slot of a closed connection from `ip`.
    pub fn release(&self, ip: IpAddr) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// A seed for the prober's tokens and jitter: the clock and the process.
fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Checks that no socket, of any process, holds the listen address `l`
/// (none needed for port 0): binds a probe socket there without
/// `SO_REUSEPORT`, which fails with `EADDRINUSE` when any socket, with
/// `SO_REUSEPORT` or not, holds it, and closes it. A UDP probe goes without
/// `SO_REUSEADDR` too (on UDP it would share the address like
/// `SO_REUSEPORT`); a TCP probe goes with it, so that the `TIME_WAIT`
/// connections of an earlier run do not count (a listening socket still
/// does).
fn ensure_free(l: &ListenAddr) -> Result<(), NetError> {
    if l.addr.port() == 0 {
        return Ok(());
    }
    let err = |source| NetError::Bind { listen: *l, source };
    let domain = Domain::for_address(l.addr);
    let probe = match l.transport {
        Transport::Tcp => Socket::new(domain, Type::STREAM, Some(Protocol::TCP)),
        _ => Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)),
    }
    .map_err(err)?;
    if l.addr.is_ipv6() {
        // As the real sockets: `[::]` does not cover IPv4.
        probe.set_only_v6(true).map_err(err)?;
    }
    if l.transport == Transport::Tcp {
        probe.set_reuse_address(true).map_err(err)?;
    }
    match probe.bind(&l.addr.into()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(NetError::InUse { listen: *l }),
        Err(source) => Err(NetError::Bind { listen: *l, source }),
    }
}

fn bind_socket(transport: Transport, addr: SocketAddr) -> io::Result<Socket> {
    let domain = Domain::for_address(addr);
    let sock = match transport {
        Transport::Tcp => Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?,
        _ => Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?,
    };
    if addr.is_ipv6() {
        // `[::]` means IPv6 only; listen on 0.0.0.0 as well for IPv4.
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    if transport != Transport::Tcp {
        // Best effort: the kernel caps these at its configured maximum.
        let _ = sock.set_recv_buffer_size(UDP_BUFFER_BYTES);
        let _ = sock.set_send_buffer_size(UDP_BUFFER_BYTES);
        // ICMP errors for what we send (an upstream's port or host
        // unreachable) are queued on the socket for the worker to read:
        // the prober's passive detection.
        use std::os::fd::AsRawFd;
        sys::enable_recverr(sock.as_raw_fd(), addr.is_ipv6())?;
    }
    sock.bind(&addr.into())?;
    if transport == Transport::Tcp {
        sock.listen(1024)?;
    }
    Ok(sock)
}

fn sockaddr_std(a: socket2::SockAddr) -> io::Result<SocketAddr> {
    a.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

/// The address this host would use to reach the outside, for a listener
/// bound to a wildcard: found by `connect()`ing an unbound UDP socket to a
/// documentation address (TEST-NET-1 / 2001:db8::) and reading its local
/// address; connecting a UDP socket sends no packet. Falls back to the
/// loopback address when there is no route.
pub fn primary_address(ipv6: bool) -> IpAddr {
    use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
    let (bind, probe, fallback): (SocketAddr, SocketAddr, IpAddr) = if ipv6 {
        (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
            Ipv6Addr::LOCALHOST.into(),
        )
    } else {
        (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
            Ipv4Addr::LOCALHOST.into(),
        )
    };
    UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect(probe)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addr_syntax() {
        let l: ListenAddr = "udp:127.0.0.1:5060".parse().unwrap();
        assert_eq!(l.transport, Transport::Udp);
        assert_eq!(l.to_string(), "udp:127.0.0.1:5060");
        let l: ListenAddr = "TCP:[::1]:5070".parse().unwrap();
        assert_eq!(l.addr, "[::1]:5070".parse().unwrap());
        assert!("127.0.0.1:5060"
            .parse::<ListenAddr>()
            .unwrap_err()
            .contains("transport"));
        assert!("tls:1.2.3.4:5061"
            .parse::<ListenAddr>()
            .unwrap_err()
            .contains("use udp or tcp"));
        assert!("udp:::1:5060"
            .parse::<ListenAddr>()
            .unwrap_err()
            .contains("brackets"));
        assert!("udp:1.2.3.4"
            .parse::<ListenAddr>()
            .unwrap_err()
            .contains("udp:ADDR:PORT"));
    }

    #[test]
    fn the_last_quarter_of_the_slots_is_kept_for_other_sources() {
        let l = ConnLimits::new(TcpLimits {
            max_connections: 64,
            max_per_ip: 16,
            ..TcpLimits::default()
        });
        // Four addresses take their full 16 each... no: the last 16 slots
        // are kept, so the fourth gets only 4 once 48 are held.
        let attackers: Vec<IpAddr> = (1..=4).map(|i| IpAddr::from([127, 0, 0, i])).collect();
        let mut held = 0;
        for &a in &attackers {
            while l.acquire(a) {
                held += 1;
            }
        }
        assert_eq!(held, 48 + 4);
        // A new source still gets in, up to 4 connections, as do others.
        for i in 10..13 {
            let ip = IpAddr::from([127, 0, 0, i]);
            assert!((0..4).all(|_| l.acquire(ip)), "source {i}");
            assert!(!l.acquire(ip));
        }
        assert_eq!(held + 12, 64);
        assert!(
            !l.acquire(IpAddr::from([127, 0, 0, 20])),
            "the total still holds"
        );
    }

    #[test]
    fn limits_total_and_per_ip() {
        let l = ConnLimits::new(TcpLimits {
            max_connections: 3,
            max_per_ip: 2,
            ..TcpLimits::default()
        });
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.acquire(a) && l.acquire(a));
        assert!(!l.acquire(a));
        assert!(l.acquire(b));
        assert!(!l.acquire(b), "total limit");
        l.release(a);
        assert!(l.acquire(b));
    }

    /// Binds `listen` for `workers` unpinned workers with small batches.
    fn bind_loopback(listen: &[&str], workers: u16) -> Bound {
        try_bind(listen, workers).unwrap()
    }

    fn try_bind(listen: &[&str], workers: u16) -> Result<Bound, NetError> {
        Bound::bind(NetConfig {
            listen: listen.iter().map(|l| l.parse().unwrap()).collect(),
            workers,
            pin: false,
            udp_batch: 8,
            sched_batch: false,
            max_message_size: 8192,
            tcp: TcpLimits::default(),
            guard: None,
        })
    }

    /// A socket on a free loopback port with `SO_REUSEPORT` (and
    /// `SO_REUSEADDR` when `reuse_addr`), listening for TCP: what another
    /// process, another branchline among them, may hold.
    fn reuseport_socket(transport: Transport, reuse_addr: bool) -> (Socket, SocketAddr) {
        let sock = match transport {
            Transport::Tcp => Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)),
            _ => Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)),
        }
        .unwrap();
        sock.set_reuse_port(true).unwrap();
        sock.set_reuse_address(reuse_addr).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        sock.bind(&any.into()).unwrap();
        if transport == Transport::Tcp {
            sock.listen(16).unwrap();
        }
        let at = sockaddr_std(sock.local_addr().unwrap()).unwrap();
        (sock, at)
    }

    /// Regression: every socket is bound with `SO_REUSEPORT`, so a second
    /// branchline (or anything else with `SO_REUSEPORT`) on the same
    /// address bound it too and silently took part of its traffic. Now
    /// the bind is refused, naming the address; a free one still binds.
    #[test]
    fn an_address_another_process_serves_is_refused() {
        for transport in [Transport::Udp, Transport::Tcp] {
            for reuse_addr in [false, true] {
                let (other, at) = reuseport_socket(transport, reuse_addr);
                let listen = format!("{}:{at}", transport.as_param());
                let e = try_bind(&[&listen], 2).unwrap_err();
                assert_eq!(
                    e.to_string(),
                    format!(
                        "cannot listen on {listen}: already in use by another process \
(another branchline?); stop it or choose another --listen address"
                    ),
                );
                drop(other);
                let b = bind_loopback(&[&listen], 2);
                assert_eq!(b.addrs()[0].addr, at);
            }
        }
    }

    #[test]
    fn port_zero_is_shared_by_all_workers() {
        let b = bind_loopback(&["udp:127.0.0.1:0", "tcp:127.0.0.1:0"], 2);
        assert_ne!(b.addrs()[0].addr.port(), 0);
        for ws in &b.sockets {
            assert_eq!(ws.udp[0].1, b.addrs()[0].addr);
            assert_eq!(ws.tcp[0].1, b.addrs()[1].addr);
        }
    }

    /// A check that panics on one Call-ID stands in for a bug in the core.
    struct PanicsOnBoom;

    impl crate::auth::Authenticator for PanicsOnBoom {
        fn check(
            &self,
            req: &crate::sip::Request<'_>,
            _: &crate::auth::AuthContext,
        ) -> crate::auth::Verdict {
            let call_id = req.headers.call_id().unwrap_or_default();
            assert!(call_id != b"boom", "a bug in the core, simulated");
            crate::auth::Verdict::Allow
        }
    }

    /// A panic inside `Proxy::handle` drops that message, is counted as
    /// `core_panic`, and the same worker goes on forwarding.
    #[test]
    fn a_panic_in_the_core_drops_one_message_and_the_worker_goes_on() {
        use crate::proxy::{Config, Key, Listener};
        use crate::route::{Table, Upstream};
        use std::net::UdpSocket;

        let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
        upstream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let b = bind_loopback(&["udp:127.0.0.1:0"], 1);
        let at = b.addrs()[0].addr;
        let listener = Listener {
            transport: Transport::Udp,
            addr: at,
            advertise: None,
        };
        let mut config = Config::new(vec![listener], Key::new(1, 2));
        config.auth = Arc::new(PanicsOnBoom);
        let table = Table::from_upstreams([Upstream {
            addr: upstream.local_addr().unwrap(),
            transport: Transport::Udp,
            weight: 1,
        }])
        .unwrap();
        let runtime = b
            .spawn(
                Arc::new(Proxy::new(config).unwrap()),
                Arc::new(LiveTable::new(table)),
            )
            .unwrap();
        let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
        let options = |call_id: &str| {
            format!(
                "OPTIONS sip:pbx@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP {};branch=z9hG4bK{call_id}\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@example.com>;tag=1\r\n\
To: <sip:pbx@example.com>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n",
                phone.local_addr().unwrap()
            )
        };
        phone.send_to(options("boom").as_bytes(), at).unwrap();
        phone.send_to(options("fine").as_bytes(), at).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = upstream.recv_from(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]);
        assert!(got.contains("\r\nCall-ID: fine\r\n"), "{got}");
        assert_eq!(runtime.finished_worker(), None, "the worker still runs");
        let c = runtime.stop(Duration::from_secs(5));
        assert_eq!((c.received, c.forwarded), (2, 1));
        let drops: Vec<_> = c.drops().collect();
        assert_eq!(drops, [("core_panic", 1)]);
    }

    #[test]
    fn primary_address_is_concrete() {
        assert!(!primary_address(false).is_unspecified());
    }
}
