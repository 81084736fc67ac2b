//! The prober thread: the I/O around [`crate::health::Monitor`]. It never
//! runs on a worker, and workers only hand it what they already have in
//! hand (a probe's reply, an error the kernel reported for a send), with a
//! `try_send` on a bounded channel and a wake-up: probing costs the
//! per-message path nothing.
//!
//! - **UDP probes** leave from a clone of a worker's listening socket, so
//!   their source address and port are the proxy's own. Their replies come
//!   back to that port and reach whichever worker the kernel picks; its
//!   [`Proxy::handle`] recognises them ([`Output::Probe`](crate::proxy::Output::Probe))
//!   and the worker passes them here ([`HealthLink::reply`]). An ICMP error
//!   for a probe (or for a forwarded request) lands on the socket's error
//!   queue, which the worker reads and passes here
//!   ([`HealthLink::unreachable`]).
//! - **TCP probes** go over one connection per TCP member that this thread
//!   opens and keeps; a refused or failed connect fails the probe at once,
//!   and a connection still not open at the probe's timeout is dropped.
//!
//! The thread sleeps until the monitor's next deadline (at most 250 ms, to
//! notice a reloaded table), or until a worker wakes it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use super::tcp::connect_finished;
use crate::health::{Change, Monitor, Order, State};
use crate::log;
use crate::proxy::{ProbeReply, Proxy};
use crate::route::{LiveTable, Table};
use crate::sip::{self, Transport};

/// Token of the prober's waker.
const WAKER: Token = Token(0);
/// Events that may wait for the prober; more are dropped (they repeat).
const QUEUE: usize = 1024;
/// Longest sleep: how late a reloaded table is noticed.
const MAX_SLEEP: Duration = Duration::from_millis(250);
/// Largest probe reply read over TCP.
const MAX_REPLY: usize = 16 * 1024;

/// What a worker tells the prober.
#[derive(Debug)]
pub(crate) enum Event {
    /// A reply to a probe, from `from`.
    Reply(ProbeReply, SocketAddr),
    /// The kernel reported `addr` unreachable over `transport`.
    Unreachable(SocketAddr, Transport, String),
}

/// The workers' end: where to send events, and how to wake the prober.
pub(crate) struct HealthLink {
    tx: Sender<Event>,
    waker: Waker,
}

impl HealthLink {
    /// Hands a probe reply to the prober.
    pub fn reply(&self, r: ProbeReply, from: SocketAddr) {
        self.send(Event::Reply(r, from));
    }

    /// Tells the prober that `addr` could not be reached.
    pub fn unreachable(&self, addr: SocketAddr, transport: Transport, why: String) {
        self.send(Event::Unreachable(addr, transport, why));
    }

    fn send(&self, e: Event) {
        // Full: the prober is behind; the next probe tells it anyway.
        if self.tx.try_send(e).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Wakes the prober (to stop).
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

/// The prober before its thread starts.
pub(crate) struct Prober {
    poll: Poll,
    rx: Receiver<Event>,
    /// Clones of a worker's UDP sockets, with their local addresses.
    udp: Vec<(UdpSocket, SocketAddr)>,
    proxy: Arc<Proxy>,
    live: Arc<LiveTable>,
    seed: u64,
}

/// The prober's end of the link, and the link for the workers.
pub(crate) fn link(
    udp: Vec<(UdpSocket, SocketAddr)>,
    proxy: Arc<Proxy>,
    live: Arc<LiveTable>,
    seed: u64,
) -> io::Result<(Prober, HealthLink)> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (tx, rx) = crossbeam_channel::bounded(QUEUE);
    let prober = Prober {
        poll,
        rx,
        udp,
        proxy,
        live,
        seed,
    };
    Ok((prober, HealthLink { tx, waker }))
}

/// One TCP probe connection.
struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    connected: bool,
    /// Bytes not yet written (the probe, while connecting).
    out: Vec<u8>,
    inb: Vec<u8>,
}

/// The running prober's state.
struct Run {
    proxy: Arc<Proxy>,
    monitor: Monitor,
    udp: Vec<(UdpSocket, SocketAddr)>,
    conns: Vec<Option<Conn>>,
    by_addr: HashMap<SocketAddr, usize>,
    buf: Vec<u8>,
}

impl Prober {
    /// Runs until `stop` is set (and the waker rung).
    pub fn run(self, stop: &AtomicBool) {
        let Prober {
            mut poll,
            rx,
            udp,
            proxy,
            live,
            seed,
        } = self;
        let mut run = Run {
            proxy,
            monitor: Monitor::new(seed),
            udp,
            conns: Vec::new(),
            by_addr: HashMap::new(),
            buf: Vec::with_capacity(1024),
        };
        let mut table = live.load_full();
        log_changes(run.monitor.sync(&table, Instant::now()));
        log_probing(&table);
        let mut events = Events::with_capacity(64);
        let mut orders = Vec::new();
        loop {
            let now = Instant::now();
            let sleep = run
                .monitor
                .next_deadline()
                .map_or(MAX_SLEEP, |d| d.saturating_duration_since(now))
                .min(MAX_SLEEP);
            if let Err(e) = poll.poll(&mut events, Some(sleep)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("prober: poll failed: {e}; upstream health is no longer probed");
                    return;
                }
            }
            if stop.load(Ordering::Acquire) {
                return;
            }
            let now = Instant::now();
            let current = live.load_full();
            if !Arc::ptr_eq(&current, &table) {
                table = current;
                log_changes(run.monitor.sync(&table, now));
                run.forget_gone(&table, poll.registry());
                log_probing(&table);
            }
            for ev in events.iter() {
                if ev.token() != WAKER {
                    run.conn_event(ev.token().0 - 1, now, poll.registry());
                }
            }
            while let Ok(e) = rx.try_recv() {
                let change = match e {
                    Event::Reply(r, from) => run.monitor.reply(r.token, r.code, from, now),
                    Event::Unreachable(addr, t, why) => run.monitor.unreachable(addr, t, &why, now),
                };
                log_changes(change);
            }
            orders.clear();
            log_changes(run.monitor.tick(now, &mut orders));
            for o in &orders {
                run.send(o, now, poll.registry());
            }
        }
    }
}

impl Run {
    fn send(&mut self, o: &Order, now: Instant, registry: &mio::Registry) {
        let mut buf = std::mem::take(&mut self.buf);
        let tx = self
            .proxy
            .write_probe(o.addr, o.transport, o.token, o.seq, &mut buf);
        match o.transport {
            Transport::Udp => self.send_udp(&buf, tx.dest, tx.from, now),
            Transport::Tcp => self.send_tcp(&buf, o.addr, now, registry),
            other => log::warning!(
                "prober: cannot probe {} over {}: not supported",
                o.addr,
                other.as_str()
            ),
        }
        self.buf = buf;
    }

    fn send_udp(&mut self, data: &[u8], dest: SocketAddr, from: Option<SocketAddr>, now: Instant) {
        let sock = from
            .and_then(|f| self.udp.iter().find(|(_, l)| *l == f))
            .or_else(|| self.udp.iter().find(|(_, l)| l.is_ipv4() == dest.is_ipv4()));
        let Some((sock, _)) = sock else {
            log::warning!("prober: no UDP listener of {dest}'s address family to probe it from");
            return;
        };
        // An ICMP error for an earlier datagram on this socket may be
        // pending; the kernel reports it on the next send, which it then
        // does not make. Once more is enough: the error is consumed.
        let mut result = sock.send_to(data, dest);
        if result.as_ref().is_err_and(is_unreachable) {
            result = sock.send_to(data, dest);
        }
        match result {
            Ok(_) => {}
            Err(e) if is_unreachable(&e) => {
                log_changes(
                    self.monitor
                        .unreachable(dest, Transport::Udp, &e.to_string(), now),
                );
            }
            // A full send buffer and the like: the probe times out.
            Err(e) => log::debug!("prober: probe to {dest} not sent: {e}"),
        }
    }

    fn send_tcp(&mut self, data: &[u8], addr: SocketAddr, now: Instant, registry: &mio::Registry) {
        if let Some(&i) = self.by_addr.get(&addr) {
            let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                return;
            };
            if c.connected {
                c.out.extend_from_slice(data);
                if c.flush().is_err() {
                    self.close(i, registry);
                }
                return;
            }
            // Still connecting since the last probe, which timed out: start over.
            self.close(i, registry);
        }
        let stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                let why = connect_error(&e);
                log_changes(self.monitor.unreachable(addr, Transport::Tcp, &why, now));
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let i = self
            .conns
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.conns.len());
        let mut c = Conn {
            addr,
            stream,
            connected: false,
            out: data.to_vec(),
            inb: Vec::new(),
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut c.stream, Token(i + 1), interest) {
            log::warning!("prober: cannot watch the connection to {addr}: {e}");
            return;
        }
        if i == self.conns.len() {
            self.conns.push(Some(c));
        } else {
            self.conns[i] = Some(c);
        }
        self.by_addr.insert(addr, i);
    }

    fn conn_event(&mut self, i: usize, now: Instant, registry: &mio::Registry) {
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let addr = c.addr;
        if !c.connected {
            match connect_finished(&c.stream) {
                Ok(true) => c.connected = true,
                Ok(false) => return,
                Err(e) => {
                    self.close(i, registry);
                    let why = connect_error(&e);
                    log_changes(self.monitor.unreachable(addr, Transport::Tcp, &why, now));
                    return;
                }
            }
        }
        if c.flush().is_err() {
            self.close(i, registry);
            return;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match c.stream.read(&mut chunk) {
                Ok(0) => {
                    self.close(i, registry);
                    return;
                }
                Ok(n) if c.inb.len() + n <= MAX_REPLY => c.inb.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    log::warning!(
                        "prober: {addr} sent more than {MAX_REPLY} bytes unasked; closing"
                    );
                    self.close(i, registry);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(i, registry);
                    return;
                }
            }
        }
        loop {
            let skip = c
                .inb
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            c.inb.drain(..skip);
            match sip::frame_stream(&c.inb, MAX_REPLY) {
                Ok(Some(n)) => {
                    let reply = self.proxy.probe_reply(&c.inb[..n]);
                    c.inb.drain(..n);
                    if let Some(r) = reply {
                        log_changes(self.monitor.reply(r.token, r.code, addr, now));
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.close(i, registry);
                    return;
                }
            }
        }
    }

    fn close(&mut self, i: usize, registry: &mio::Registry) {
        if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
            let _ = registry.deregister(&mut c.stream);
            self.by_addr.remove(&c.addr);
        }
    }

    /// Closes the connections to members a reload removed.
    fn forget_gone(&mut self, table: &Table, registry: &mio::Registry) {
        let gone: Vec<usize> = self
            .by_addr
            .iter()
            .filter(|(a, _)| {
                self.monitor.state(**a, Transport::Tcp).is_none() || !probed(table, **a)
            })
            .map(|(_, &i)| i)
            .collect();
        for i in gone {
            self.close(i, registry);
        }
    }
}

/// True when a group of `table` probes the TCP member at `addr`.
fn probed(table: &Table, addr: SocketAddr) -> bool {
    table.groups().iter().any(|g| {
        g.probe().is_some()
            && g.destinations()
                .iter()
                .any(|d| d.addr() == addr && d.transport() == Transport::Tcp)
    })
}

impl Conn {
    /// Writes what is queued; `Err` when the connection failed.
    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// An error that says the destination cannot be reached.
fn is_unreachable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

/// A failed connect in words: `connect refused`, else the system's text.
pub(crate) fn connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connect refused".to_string(),
        _ => format!("connect failed: {e}"),
    }
}

/// One log line per change: a member going down is a warning.
fn log_changes(changes: impl IntoIterator<Item = Change>) {
    for c in changes {
        if c.to == State::Down {
            log::warning!("{c}");
        } else {
            log::info!("{c}");
        }
    }
}

/// Says, once per table, which groups are probed and how.
fn log_probing(table: &Table) {
    for g in table.groups() {
        if let Some(p) = g.probe() {
            log::info!(
                "probing the {} member(s) of group {} with OPTIONS every {:?} (timeout {:?}, down after {}, up after {})",
                g.destinations().len(),
                g.name(),
                p.interval,
                p.timeout,
                p.fall,
                p.rise
            );
        }
    }
}
