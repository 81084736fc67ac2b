//! The UAC workers: each paces its share of the calls, owns one [`Uac`] per
//! local address (a "leg": a UDP socket connected to the target, or one
//! TCP connection to it), and runs until its calls are placed and ended or
//! the drain deadline passes.
//!
//! One `Uac` per leg means every request carries the Via and Contact of
//! the socket it leaves from, so a proxy with `SO_REUSEPORT` sees one flow
//! per leg and its responses come back to the same socket.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::stream::Conn;
use super::Workers;
use super::{is_transient, publish, sleep_until, udp_socket, Arrivals, Clock, Mailbox, StopFlag};
use super::{Grid, MAX_MESSAGE, PUBLISH_EVERY, RECV_BATCH};
use crate::bench::flow::uac::{DigestSigner, Scenario, Uac, UacConfig};
use crate::bench::flow::Outbox;
use crate::bench::number::Numbers;
use crate::bench::pace::{Next, PaceConfig, Pacer, Rate};
use crate::bench::stats::Stats;
use crate::bench::timer::TimerConfig;
use crate::bench::Nanos;
use crate::rng::Rng;
use crate::sip::Transport;
use crate::sys::{
    enable_rx_timestamps, set_batch_scheduling, ConnectedSendBatch, StampedRecvBatch, MAX_BATCH,
};

/// Everything a UAC run needs (the parsed `bench uac` flags).
#[derive(Debug, Clone)]
pub struct UacPlan {
    /// Where requests go.
    pub target: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Local addresses, one leg each per worker (port 0: any; a fixed
    /// port `P` becomes `P + worker` in worker `worker`).
    pub locals: Vec<SocketAddr>,
    /// Worker threads.
    pub workers: u16,
    /// Total call rate (split evenly across workers).
    pub rate: Rate,
    /// Total calls, if bounded by count.
    pub calls: Option<u64>,
    /// Schedule no call after this long.
    pub duration: Option<Duration>,
    /// Most open calls, all workers together.
    pub concurrency: u32,
    /// The pacing tick: the largest burst is one tick's worth of calls.
    pub tick: Duration,
    /// What a call is.
    pub scenario: Scenario,
    /// User part of the Request-URI and To of calls.
    pub service: String,
    /// Numbers to dial instead of `service` (`--to`); none: `service`.
    pub numbers: Numbers,
    /// Seeds the numbers' draws (`--seed`): leg by leg, worker by worker,
    /// each leg's generator is seeded with the next draw of a generator
    /// seeded with this, so the same seed, workers and locals repeat a run.
    pub number_seed: u64,
    /// Time between ACK and BYE.
    pub hold: Duration,
    /// Per-transaction timeout, and the length of the drain phase.
    pub timeout: Duration,
    /// RFC 3261 timers.
    pub timers: TimerConfig,
    /// Digest users and passwords (`--user`/`--password` or `--users`):
    /// calls take them in turn, as their From user and digest username.
    /// Empty: the From user is `bench` and challenges fail the call.
    pub users: Vec<(String, String)>,
    /// Preloaded Route URIs of out-of-dialog requests, in order (`--route`).
    pub route: Vec<String>,
}

/// What a UAC run ended with.
#[derive(Debug)]
pub struct UacOutcome {
    /// Everything measured, all workers merged.
    pub stats: Stats,
    /// From the first call to the end of the drain.
    pub elapsed: Duration,
    /// Pacing slots given up (the loop was late or `--concurrency` held
    /// calls back).
    pub missed: u64,
}

/// Runs the plan, printing progress as `progress` says; `stop` ends it
/// early (open calls count as aborted).
pub fn run(
    plan: &UacPlan,
    stop: &StopFlag,
    progress: super::ProgressOptions,
) -> io::Result<UacOutcome> {
    let workers = plan.workers.max(1);
    let clock = Clock::start();
    let seed_base = (clock.epoch().elapsed().as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    // Bind every socket before starting anything, so a bad address fails
    // the run up front.
    let mut number_seeds = Rng::new(plan.number_seed);
    let mut legs_per_worker = Vec::new();
    for w in 0..workers {
        let mut legs = Vec::new();
        for (i, local) in plan.locals.iter().enumerate() {
            let mut local = *local;
            if local.port() != 0 {
                local.set_port(local.port().checked_add(w).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "--local port + worker > 65535")
                })?);
            }
            let seed = seed_base
                .wrapping_add(u64::from(w) << 48)
                .wrapping_add((i as u64) << 40)
                & 0x00ff_ffff_ffff_ffff;
            legs.push(Leg::open(plan, local, seed, number_seeds.next_u64())?);
        }
        legs_per_worker.push(legs);
    }
    let mut threads = Workers::new();
    for (w, legs) in legs_per_worker.into_iter().enumerate() {
        let w = w as u16;
        let pace = share(plan, w, workers);
        let plan = plan.clone();
        let stop = stop.clone();
        threads.spawn(format!("bench-uac-{w}"), move |mailbox| {
            worker(&plan, pace, legs, clock, &stop, mailbox)
        })?;
    }
    let (stats, results) = threads.supervise(clock, progress);
    let mut missed = 0;
    for r in results {
        missed += r?;
    }
    Ok(UacOutcome {
        stats,
        elapsed: clock.now().since(Nanos::ZERO),
        missed,
    })
}

/// Worker `w`'s part of the rate, calls and concurrency.
fn share(plan: &UacPlan, w: u16, workers: u16) -> Option<PaceConfig> {
    let n = u64::from(workers);
    let w64 = u64::from(w);
    let mcps = plan.rate.millicalls();
    let rate = Rate::from_millicalls(mcps / n + u64::from(w64 < mcps % n))?;
    let calls = plan.calls.map(|c| c / n + u64::from(w64 < c % n));
    if calls == Some(0) {
        return None;
    }
    let c = u64::from(plan.concurrency);
    let concurrency = (c / n + u64::from(w64 < c % n)).max(1) as u32;
    Some(PaceConfig {
        rate,
        tick: plan.tick,
        calls,
        duration: plan.duration,
        concurrency,
    })
}

/// One local address of a worker: its socket or connection and its UAC.
struct Leg {
    uac: Uac,
    io: LegIo,
    /// The highest call slot seen, to fail open calls when TCP breaks.
    max_slot: u32,
}

enum LegIo {
    Udp(UdpLeg),
    Tcp(Option<Conn>),
}

/// A UDP leg: its connected socket and the datagrams queued for the next
/// `sendmmsg`, with the call slot of each.
struct UdpLeg {
    socket: UdpSocket,
    queue: ConnectedSendBatch,
    slots: Vec<u32>,
}

impl Leg {
    fn open(plan: &UacPlan, local: SocketAddr, seed: u64, number_seed: u64) -> io::Result<Leg> {
        let (io, bound) = match plan.transport {
            Transport::Tcp => {
                let s = Socket::new(
                    Domain::for_address(local),
                    Type::STREAM,
                    Some(Protocol::TCP),
                )?;
                s.set_reuse_address(true)?;
                s.bind(&local.into())?;
                s.connect_timeout(&plan.target.into(), Duration::from_secs(3))
                    .map_err(|e| with_context(e, "connect", plan.target))?;
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                let std: std::net::TcpStream = s.into();
                let bound = std.local_addr()?;
                let stream = TcpStream::from_std(std);
                (LegIo::Tcp(Some(Conn::new(stream, plan.target))), bound)
            }
            _ => {
                let s = udp_socket(local, false).map_err(|e| with_context(e, "bind", local))?;
                enable_rx_timestamps(s.as_raw_fd())?;
                s.connect(plan.target)?;
                let bound = s.local_addr()?;
                let udp = UdpLeg {
                    socket: UdpSocket::from_std(s),
                    queue: ConnectedSendBatch::new(MAX_BATCH),
                    slots: Vec::with_capacity(MAX_BATCH),
                };
                (LegIo::Udp(udp), bound)
            }
        };
        let cfg = uac_config(plan, bound, seed, number_seed);
        let signer: Option<Box<dyn DigestSigner>> = (!plan.users.is_empty()).then(|| {
            Box::new(crate::bench::digest::Signer::new(plan.users.clone(), seed))
                as Box<dyn DigestSigner>
        });
        Ok(Leg {
            uac: Uac::new(cfg, signer),
            io,
            max_slot: 0,
        })
    }

    /// Takes what the UAC put into `out` and clears it: over UDP the
    /// datagrams wait for [`Leg::send_queued`], over TCP they are written
    /// to the connection now.
    fn queue(&mut self, out: &mut Outbox) {
        for t in out.iter() {
            self.max_slot = self.max_slot.max(t.slot);
            let failed = match &mut self.io {
                LegIo::Udp(u) => {
                    if u.queue.is_full() {
                        u.send(&mut self.uac);
                    }
                    let buf = u.queue.next_buf();
                    buf.clear();
                    buf.extend_from_slice(t.bytes);
                    u.queue.commit_connected();
                    u.slots.push(t.slot);
                    false
                }
                LegIo::Tcp(Some(c)) => c.send(t.bytes).is_err(),
                LegIo::Tcp(None) => true,
            };
            if failed {
                self.uac.transport_error(t.slot);
                if let LegIo::Tcp(conn) = &mut self.io {
                    *conn = None;
                }
            }
        }
        out.clear();
        if matches!(self.io, LegIo::Tcp(None)) {
            self.fail_all();
        }
    }

    /// Sends the datagrams queued on a UDP leg.
    fn send_queued(&mut self) {
        if let LegIo::Udp(u) = &mut self.io {
            u.send(&mut self.uac);
        }
    }

    /// Fails every open call of a leg whose connection broke.
    fn fail_all(&mut self) {
        if self.uac.open() > 0 {
            for slot in 0..=self.max_slot {
                self.uac.transport_error(slot);
            }
        }
    }

    /// Handles everything readable on the leg; what the UAC answers is
    /// queued (see [`Leg::queue`]). Over UDP each datagram's latency ends
    /// at its kernel receive time, placed on the run's clock by `at`.
    fn receive(&mut self, batch: &mut StampedRecvBatch, at: &Arrivals, out: &mut Outbox) {
        let now = at.now();
        match &mut self.io {
            LegIo::Udp(u) => {
                let fd = u.socket.as_raw_fd();
                let mut errors = 0;
                loop {
                    match batch.recv(fd) {
                        Ok(n) => {
                            for i in 0..n {
                                let received = at.at(batch.received_at(i));
                                self.uac.handle_at(batch.get(i).0, received, now, out);
                            }
                            self.queue(out);
                            // A short batch emptied the queue; a datagram
                            // arriving later raises a new edge.
                            if n < batch.capacity() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // ICMP port unreachable and the like (reported
                        // once): the calls concerned time out; read on.
                        Err(_) if errors < 8 => errors += 1,
                        Err(_) => break,
                    }
                }
            }
            LegIo::Tcp(Some(c)) => {
                let uac = &mut self.uac;
                let r = c.receive(|msg| uac.handle(msg, now, out));
                if r.is_err() {
                    self.io = LegIo::Tcp(None);
                }
                self.queue(out);
            }
            LegIo::Tcp(None) => {}
        }
    }

    fn writable(&mut self) {
        if let LegIo::Tcp(Some(c)) = &mut self.io {
            if c.flush().is_err() {
                self.io = LegIo::Tcp(None);
                self.fail_all();
            }
        }
    }
}

impl UdpLeg {
    /// One `sendmmsg` (more if the kernel takes part of the queue).
    fn send(&mut self, uac: &mut Uac) {
        if self.queue.is_empty() {
            return;
        }
        let slots = &self.slots;
        self.queue.flush_each(self.socket.as_raw_fd(), |i, e| {
            // A full socket buffer loses the datagram, as the network
            // would; the retransmission timer covers it.
            if !is_transient(e) {
                uac.transport_error(slots[i]);
            }
        });
        self.slots.clear();
    }
}

fn with_context(e: io::Error, what: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {addr}: {e}"))
}

/// The UAC configuration of a leg bound to `local`.
fn uac_config(plan: &UacPlan, local: SocketAddr, seed: u64, number_seed: u64) -> UacConfig {
    let tparam = if plan.transport == Transport::Tcp {
        ";transport=tcp"
    } else {
        ""
    };
    let target = plan.target;
    let (request_uri, from_uri, to_uri) = match plan.scenario {
        Scenario::Register => {
            let user = plan.users.first().map_or("bench", |(u, _)| u.as_str());
            let aor = format!("sip:{user}@{}", host_of(target));
            (format!("sip:{target}{tparam}"), aor.clone(), aor)
        }
        _ => {
            let uri = format!("sip:{}@{target}{tparam}", plan.service);
            (uri.clone(), format!("sip:bench@{local}"), uri)
        }
    };
    UacConfig {
        scenario: plan.scenario,
        request_uri,
        from_uri,
        to_uri,
        contact_uri: format!("sip:bench@{local}{tparam}"),
        route: plan
            .route
            .iter()
            .map(|u| format!("<{u}>"))
            .collect::<Vec<_>>()
            .join(", "),
        via_host: host_of(local),
        via_port: Some(local.port()),
        transport: plan.transport,
        hold: plan.hold,
        timeout: plan.timeout,
        timers: plan.timers,
        register_expires: 3600,
        seed,
        numbers: plan.numbers.clone(),
        number_seed,
    }
}

/// An address's host as written in a URI (IPv6 in brackets).
fn host_of(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    }
}

/// Whether a UDP worker pacing at `rate` with pacing tick `tick` reads
/// its sockets once per tick instead of waking for each datagram: when at
/// least one call is due per tick, the worker wakes at every tick anyway.
fn reads_per_tick(rate: Rate, tick: Duration) -> bool {
    u128::from(rate.millicalls()) * tick.as_nanos() >= 1_000 * 1_000_000_000
}

/// One UAC worker; returns the pacing slots it missed.
///
/// Each iteration reads the clock once (after the wait), starts the calls
/// due, handles what arrived, runs the timers due, then sends all queued
/// datagrams, one `sendmmsg` per UDP leg. The pacer is polled at the
/// last point of the tick grid, and the wakeups for the next call and the
/// next timer are rounded up to the grid, so one wakeup starts a whole
/// tick's calls (a burst the pacer allows anyway) and serves every timer
/// due within the tick.
///
/// While a UDP worker paces at least one call per tick
/// ([`reads_per_tick`]), its sockets are out of the epoll set: it sleeps
/// until the next tick and reads every socket once then, so a tick costs
/// one wakeup, one `recvmmsg` and one `sendmmsg` per leg however many
/// responses came in. Latencies stay exact: they end at each datagram's
/// kernel receive timestamp ([`Arrivals`]), not at the read. What a
/// response causes (ACK, BYE) leaves at the next tick, at most one tick
/// later. Otherwise (lower rates, TCP, and the drain after the last call)
/// a datagram wakes the worker, as a foreign peer's retransmission of a 2xx
/// during a long hold must.
fn worker(
    plan: &UacPlan,
    pace: Option<PaceConfig>,
    mut legs: Vec<Leg>,
    clock: Clock,
    stop: &StopFlag,
    mailbox: &Mailbox,
) -> io::Result<u64> {
    // Best effort: without it the run is correct, only costlier.
    let _ = set_batch_scheduling();
    let mut poll = Poll::new()?;
    for (i, leg) in legs.iter_mut().enumerate() {
        if let LegIo::Tcp(Some(c)) = &mut leg.io {
            poll.registry().register(
                &mut c.stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
    }
    let udp = plan.transport != Transport::Tcp;
    let per_tick = udp && pace.is_some_and(|p| reads_per_tick(p.rate, p.tick));
    // Whether the UDP sockets are in the epoll set.
    let mut watched = false;
    let mut events = Events::with_capacity(256);
    let mut batch = StampedRecvBatch::new(RECV_BATCH, MAX_MESSAGE);
    let mut out = Outbox::new();
    let (mut now, wall) = clock.read();
    let mut arrivals = Arrivals::new(now, wall);
    let grid = Grid::new(now, plan.tick);
    let mut pacer = pace.map(|p| Pacer::new(&p, now));
    let mut next_call = Some(now);
    let mut drain_until: Option<Nanos> = None;
    let mut next_publish = grid.ceil(now + PUBLISH_EVERY);
    let mut rr = 0usize;
    let drain = plan.hold + plan.timeout + Duration::from_millis(200);
    // Whether this iteration reads every UDP leg (it slept) or only those
    // `events` name (it polled).
    let mut read_all = false;
    loop {
        // Calls due by the last tick.
        if drain_until.is_none() {
            if stop.is_raised() {
                drain_until = Some(now);
            } else if let Some(p) = pacer.as_mut() {
                let open: u32 = legs.iter().map(|l| l.uac.open()).sum();
                let due = p.poll(grid.floor(now), open);
                for _ in 0..due.start {
                    let n = legs.len();
                    let leg = &mut legs[rr % n];
                    rr = rr.wrapping_add(1);
                    leg.uac.start(now, &mut out);
                    leg.queue(&mut out);
                }
                next_call = match due.next {
                    Next::At(t) => Some(t),
                    Next::WhenCallEnds => None,
                    Next::Done => {
                        drain_until = Some(now + drain);
                        None
                    }
                };
            } else {
                drain_until = Some(now);
            }
        }
        // What arrived: with the sockets out of the epoll set, everything
        // on every leg, else what the events name. After the tick's new
        // calls, so their INVITEs lead the tick's datagrams.
        if read_all {
            for leg in legs.iter_mut() {
                leg.receive(&mut batch, &arrivals, &mut out);
            }
        } else {
            for ev in events.iter() {
                let Some(leg) = legs.get_mut(ev.token().0) else {
                    continue;
                };
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    leg.receive(&mut batch, &arrivals, &mut out);
                }
                if ev.is_writable() {
                    leg.writable();
                }
            }
            events.clear();
        }
        // Timers due now, then everything queued goes out.
        let mut next_timer: Option<Nanos> = None;
        for leg in legs.iter_mut() {
            if leg.uac.next_timer().is_some_and(|t| t <= now) {
                leg.uac.on_timer(now, &mut out);
                leg.queue(&mut out);
            }
            leg.send_queued();
            next_timer = [next_timer, leg.uac.next_timer()]
                .into_iter()
                .flatten()
                .min();
        }
        if now >= next_publish {
            for leg in legs.iter_mut() {
                publish(mailbox, leg.uac.stats_mut());
            }
            next_publish = grid.ceil(now + PUBLISH_EVERY);
        }
        if let Some(until) = drain_until {
            let open: u32 = legs.iter().map(|l| l.uac.open()).sum();
            if open == 0 || now >= until {
                break;
            }
        }
        let every_tick = per_tick && drain_until.is_none();
        if udp && watched == every_tick {
            for (i, leg) in legs.iter_mut().enumerate() {
                if let LegIo::Udp(u) = &mut leg.io {
                    if every_tick {
                        poll.registry().deregister(&mut u.socket)?;
                    } else {
                        poll.registry()
                            .register(&mut u.socket, Token(i), Interest::READABLE)?;
                    }
                }
            }
            watched = !every_tick;
        }
        let wait = sleep_until(
            now,
            [
                next_call
                    .filter(|_| drain_until.is_none())
                    .map(|t| grid.ceil(t)),
                next_timer.map(|t| grid.ceil(t)),
                every_tick.then(|| grid.after(now)),
                drain_until,
                Some(next_publish),
            ],
        );
        if every_tick {
            // Nothing is registered: a plain sleep, to the nanosecond
            // (epoll_wait rounds up to a millisecond).
            std::thread::sleep(wait);
        } else {
            poll.poll(&mut events, Some(wait))?;
        }
        read_all = every_tick;
        let (t, wall) = clock.read();
        now = t;
        arrivals.update(now, wall);
    }
    for leg in legs.iter_mut() {
        leg.uac.abort_all();
        publish(mailbox, leg.uac.stats_mut());
    }
    Ok(pacer.map_or(0, |p| p.missed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_read_once_per_tick_from_one_call_per_tick() {
        let tick = Duration::from_millis(2);
        let rate = |mcps| Rate::from_millicalls(mcps).unwrap();
        assert!(!reads_per_tick(rate(499_999), tick));
        assert!(reads_per_tick(rate(500_000), tick));
        assert!(reads_per_tick(rate(2_000_000), tick));
        assert!(!reads_per_tick(rate(999_999), Duration::from_millis(1)));
        assert!(reads_per_tick(rate(1_000_000), Duration::from_millis(1)));
    }
}
