//! One worker: a mio event loop over its own UDP sockets, TCP listeners and
//! TCP connections. Per poll iteration it reads the clock once and loads the
//! routing table once (lock-free); per message it calls
//! [`Proxy::handle`] and carries out the [`Output`].
//!
//! UDP: a ready socket is drained with batched receives (`recvmmsg`, or one
//! `recvfrom` at a time when the batch is 1); the proxy writes each answer
//! straight into a slot of the send batch, which goes out with one
//! `sendmmsg` per batch. A socket that still has data after a fair share
//! of batches is revisited before the next blocking poll.
//!
//! TCP: messages are framed by Content-Length (`sip::frame_stream`) under
//! the size cap; a response for a connection owned by another worker is
//! handed to it; requests to an upstream use one connection per (worker,
//! upstream), opened on first use.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, TrySendError};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};

use super::tcp::{Conn, Conns, WriteError};
use super::{Handoff, Shared};
use crate::guard::{self, Admit, Guard};
use crate::log;
use crate::metrics::{Counters, NetDrop};
use crate::proxy::{ConnRef, Input, Output, Proxy, Scratch, Transmit};
use crate::route::{LiveTable, Table};
use crate::sip::{self, Transport};
use crate::sys::{self, RecvBatch, SendBatch};

/// Token of the worker's waker (hand-offs and stop).
pub(crate) const WAKER: Token = Token(0);
const UDP_BASE: usize = 1;
const TCP_BASE: usize = 1 << 16;
const CONN_BASE: usize = 1 << 24;
/// Batches read from one socket per readiness event before others get a turn.
const FAIR_BATCHES: usize = 8;
/// Receive slot size: the largest UDP payload.
const DATAGRAM_MAX: usize = 65_535;
/// How long a stopping worker keeps flushing TCP output.
const STOP_FLUSH: Duration = Duration::from_millis(1200);

/// [`Proxy::handle`] on one message, with a panic caught. A panic there is
/// a bug, but one message must not end the worker, and with it every flow
/// the kernel hashes to the worker's sockets: the message is dropped (the
/// caller counts it as [`NetDrop::CorePanic`]), logged with its source, the
/// scratch state it may have left half-written is rebuilt, and the worker
/// goes on. Returns `None` after a panic. The standard panic hook has
/// already printed the panic's message and location.
fn guarded_handle(
    ctx: &Ctx,
    input: &Input<'_>,
    table: &Table,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<Output> {
    let proxy = &ctx.proxy;
    let run = std::panic::AssertUnwindSafe(|| proxy.handle(input, table, scratch, out));
    match std::panic::catch_unwind(run) {
        Ok(o) => Some(o),
        Err(_) => {
            *scratch = Scratch::new();
            out.clear();
            log::error!(
                "worker {}: the proxy core panicked on a {}-byte {} message from {}; \
dropped it (a bug: please report it with the message)",
                ctx.id,
                input.data.len(),
                input.transport.as_str(),
                input.source
            );
            None
        }
    }
}

/// The flood guard's verdict on one message, before anything parses it:
/// `None` lets it through to [`Proxy::handle`]; `Some` is the refusal (a
/// drop, or the 503 the proxy writes into `out`). Requests only: a response
/// or a CR LF keep-alive is not counted. Both the UDP and the TCP path call
/// this, once per message.
fn admit(
    ctx: &Ctx,
    guard: &mut Option<(guard::Response, Guard)>,
    now_ms: u64,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    bans_unlogged: &mut u64,
) -> Option<Output> {
    let (response, g) = guard.as_mut()?;
    let d = input.data;
    if d.starts_with(b"SIP/") || d.starts_with(b"\r\n") {
        return None;
    }
    match g.admit(input.source.ip(), now_ms) {
        Admit::Pass => None,
        Admit::Refuse {
            retry_after,
            banned_now,
        } => {
            if banned_now {
                *bans_unlogged += 1;
                if *bans_unlogged == 1 {
                    log::warning!(
                        "worker {}: flood guard: {} is over its rate; refused for {retry_after} s",
                        ctx.id,
                        input.source.ip()
                    );
                }
            }
            Some(match response {
                guard::Response::Reject => ctx.proxy.refuse_overload(input, retry_after, out),
                guard::Response::Drop => {
                    out.clear();
                    Output::Drop(crate::proxy::DropReason::FloodGuard)
                }
            })
        }
    }
}

/// What a worker reads but never changes.
pub(crate) struct Ctx {
    pub id: u16,
    /// The flood guard's response and this worker's table; moved into the
    /// worker's state when it starts.
    pub guard: Option<(guard::Response, Guard)>,
    pub proxy: Arc<Proxy>,
    pub live: Arc<LiveTable>,
    pub shared: Arc<Shared>,
    pub batch: usize,
    pub max_message_size: usize,
    pub idle_secs: u64,
    /// `--tcp-message-timeout`, in milliseconds.
    pub message_ms: u64,
}

/// The worker: its context and its mutable state, kept apart so the state
/// can be borrowed mutably while the context and the table are read.
pub(crate) struct Worker {
    ctx: Ctx,
    poll: Poll,
    io: Io,
}

struct UdpSock {
    sock: UdpSocket,
    local: SocketAddr,
}

struct Io {
    rx: Receiver<Handoff>,
    udp: Vec<UdpSock>,
    listeners: Vec<(TcpListener, SocketAddr)>,
    conns: Conns,
    /// Outbound connection per upstream address.
    pool: HashMap<SocketAddr, u32>,
    recv: RecvBatch,
    send: SendBatch,
    /// The UDP socket the queued send batch goes out on.
    send_sock: usize,
    /// Reused output buffer for everything but batched UDP.
    out: Vec<u8>,
    scratch: Scratch,
    counters: Counters,
    /// Wall clock, seconds since the epoch, read once per poll iteration.
    now: u64,
    /// UDP sockets with data left after their fair share.
    again: Vec<usize>,
    /// The flood guard, when configured, and its response.
    guard: Option<(guard::Response, Guard)>,
    /// Bans started since the last once-a-second report.
    bans_unlogged: u64,
    /// Monotonic milliseconds since the worker started, read once per poll
    /// iteration (the flood guard's clock).
    now_ms: u64,
    epoch: Instant,
    registry: mio::Registry,
}

impl Worker {
    pub fn new(
        mut ctx: Ctx,
        poll: Poll,
        rx: Receiver<Handoff>,
        udp: Vec<(UdpSocket, SocketAddr)>,
        tcp: Vec<(TcpListener, SocketAddr)>,
    ) -> io::Result<Worker> {
        let mut udp: Vec<UdpSock> = udp
            .into_iter()
            .map(|(sock, local)| UdpSock { sock, local })
            .collect();
        let mut listeners = tcp;
        for (i, u) in udp.iter_mut().enumerate() {
            poll.registry()
                .register(&mut u.sock, Token(UDP_BASE + i), Interest::READABLE)?;
        }
        for (i, (l, _)) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l, Token(TCP_BASE + i), Interest::READABLE)?;
        }
        let registry = poll.registry().try_clone()?;
        let batch = ctx.batch;
        let guard = ctx.guard.take();
        Ok(Worker {
            ctx,
            poll,
            io: Io {
                rx,
                udp,
                listeners,
                conns: Conns::default(),
                pool: HashMap::new(),
                recv: RecvBatch::new(batch, DATAGRAM_MAX),
                send: SendBatch::new(batch),
                send_sock: 0,
                out: Vec::with_capacity(4096),
                scratch: Scratch::new(),
                counters: Counters::default(),
                now: unix_now(),
                again: Vec::new(),
                guard,
                bans_unlogged: 0,
                now_ms: 0,
                epoch: Instant::now(),
                registry,
            },
        })
    }

    /// Runs until asked to stop; returns the worker's counters.
    pub fn run(self) -> Counters {
        let Worker {
            ctx,
            mut poll,
            mut io,
        } = self;
        let mut events = Events::with_capacity(256);
        let mut last_tick = Instant::now();
        let mut reported = Counters::default();
        loop {
            let timeout = if io.again.is_empty() {
                Some(Duration::from_secs(1))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("worker {}: poll failed: {e}", ctx.id);
                    break;
                }
            }
            if ctx.shared.stop.load(Ordering::Acquire) {
                break;
            }
            io.now = unix_now();
            io.now_ms = io.epoch.elapsed().as_millis() as u64;
            let table = ctx.live.load();
            let again = std::mem::take(&mut io.again);
            for s in again {
                io.udp_ready(&ctx, &table, s);
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => io.handoffs(&ctx),
                    Token(t) if t >= CONN_BASE => io.conn_event(&ctx, &table, t - CONN_BASE, ev),
                    Token(t) if t >= TCP_BASE => io.accept(&ctx, t - TCP_BASE),
                    Token(t) => {
                        if ev.is_error() {
                            io.udp_errors(&ctx, &table, t - UDP_BASE);
                        }
                        io.udp_ready(&ctx, &table, t - UDP_BASE)
                    }
                }
            }
            // Datagrams queued by the TCP paths go out before the next wait.
            io.flush_udp(&ctx);
            drop(table);
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                io.close_idle(&ctx);
                report_drops(&ctx, &io.counters, &mut reported);
                if io.bans_unlogged > 1 {
                    log::warning!(
                        "worker {}: flood guard: {} more source(s) over their rate refused in the last second",
                        ctx.id,
                        io.bans_unlogged - 1
                    );
                }
                io.bans_unlogged = 0;
            }
        }
        io.drain_on_stop(&ctx, &mut poll, &mut events);
        io.counters
    }
}

impl Io {
    /// Reads a ready UDP socket until it is empty or its fair share is used.
    fn udp_ready(&mut self, ctx: &Ctx, table: &Table, s: usize) {
        if s >= self.udp.len() {
            return;
        }
        for _ in 0..FAIR_BATCHES {
            let fd = self.udp[s].sock.as_raw_fd();
            let got = if ctx.batch > 1 {
                self.recv.recv(fd)
            } else {
                let sock = &self.udp[s].sock;
                self.recv.recv_with(|buf| sock.recv_from(buf))
            };
            let got = match got {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An ICMP error queued on the socket is also reported
                    // by the next receive (with datagrams waiting): read the
                    // error queue, then read again.
                    log::debug!("worker {}: udp receive: {e}", ctx.id);
                    self.udp_errors(ctx, table, s);
                    continue;
                }
            };
            let local = self.udp[s].local;
            for i in 0..got {
                let (data, source) = self.recv.get(i);
                let Some(source) = source else { continue };
                self.counters.received += 1;
                let input = Input {
                    data,
                    source,
                    local,
                    transport: Transport::Udp,
                    conn: None,
                    now: self.now,
                };
                // Never full here: each datagram queues at most one, and a
                // full batch is flushed as soon as it fills.
                let buf = self.send.next_buf();
                let admitted = admit(
                    ctx,
                    &mut self.guard,
                    self.now_ms,
                    &input,
                    buf,
                    &mut self.bans_unlogged,
                );
                match admitted
                    .or_else(|| guarded_handle(ctx, &input, table, &mut self.scratch, buf))
                {
                    Some(out) => self.dispatch_batched(ctx, out, source),
                    None => self.counters.net_drop(NetDrop::CorePanic),
                }
            }
            self.flush_udp(ctx);
            if got < self.recv.capacity() {
                // The queue was empty when the call returned; a datagram
                // arriving since then raises a new readiness event.
                return;
            }
        }
        self.again.push(s);
    }

    /// Drains the error queue of UDP socket `s`: each ICMP error for a
    /// datagram we sent is a counted drop; one to an upstream of `table`
    /// names it, and the prober hears of it (a failed probe at once when it
    /// is a probed member). Errors for replies to callers are counted
    /// unnamed: a flood from spoofed addresses must not crowd the names.
    /// Entries left unread would count against the socket's receive
    /// buffer, so the queue is read to the end (in bounded steps).
    fn udp_errors(&mut self, ctx: &Ctx, table: &Table, s: usize) {
        const STEP: usize = 64;
        let Some(u) = self.udp.get(s) else {
            return;
        };
        let fd = u.sock.as_raw_fd();
        for _ in 0..16 {
            let counters = &mut self.counters;
            let read = sys::read_errqueue(fd, STEP, |e| {
                let upstream = e.dest.filter(|&d| {
                    table
                        .upstreams()
                        .any(|u| u.addr() == d && u.transport() == Transport::Udp)
                });
                let Some(dest) = upstream else {
                    counters.net_drop(NetDrop::Unreachable);
                    return;
                };
                counters.net_drop_to(NetDrop::Unreachable, dest);
                log::debug!("worker {}: {dest}: {}", ctx.id, e.describe());
                ctx.shared
                    .health
                    .unreachable(dest, Transport::Udp, e.describe());
            });
            match read {
                Ok(n) if n == STEP => {}
                Ok(_) => return,
                Err(e) => {
                    log::debug!("worker {}: udp error queue: {e}", ctx.id);
                    return;
                }
            }
        }
    }

    /// Counts an output; the transmit to carry out, if any. A reply to a
    /// health probe (from `source`) goes to the prober.
    fn count(&mut self, ctx: &Ctx, out: Output, source: SocketAddr) -> Option<Transmit> {
        match out {
            Output::Probe(r) => {
                ctx.shared.health.reply(r, source);
                None
            }
            Output::Drop(reason) => {
                self.counters.proxy_drop(&reason);
                None
            }
            Output::Forward(tx) => {
                self.counters.forwarded += 1;
                Some(tx)
            }
            Output::Reply(tx) => {
                self.counters.replied += 1;
                Some(tx)
            }
        }
    }

    /// Carries out an output whose bytes are in the send batch's next slot.
    fn dispatch_batched(&mut self, ctx: &Ctx, out: Output, source: SocketAddr) {
        let Some(tx) = self.count(ctx, out, source) else {
            return;
        };
        if tx.transport == Transport::Udp {
            self.queue_udp(ctx, &tx);
            return;
        }
        // Not a datagram: move the bytes out of the batch slot.
        std::mem::swap(self.send.next_buf(), &mut self.out);
        let data = std::mem::take(&mut self.out);
        self.transmit_stream(ctx, &tx, &data);
        self.out = data;
    }

    /// Carries out an output whose bytes are in `data` (TCP paths).
    fn dispatch(&mut self, ctx: &Ctx, out: Output, data: &[u8], source: SocketAddr) {
        let Some(tx) = self.count(ctx, out, source) else {
            return;
        };
        if tx.transport == Transport::Udp {
            let buf = self.send.next_buf();
            buf.clear();
            buf.extend_from_slice(data);
            self.queue_udp(ctx, &tx);
        } else {
            self.transmit_stream(ctx, &tx, data);
        }
    }

    /// Queues the datagram written into the batch's next slot on the UDP
    /// socket `tx` calls for. A batch holds datagrams for one socket: when
    /// this one goes out on another, what is queued is flushed first, and
    /// the datagram is carried across the flush (which starts the batch over
    /// at its first slot) instead of being left in a slot it no longer owns.
    fn queue_udp(&mut self, ctx: &Ctx, tx: &Transmit) {
        let Some(s) = self.udp_socket_for(tx) else {
            self.counters.net_drop(NetDrop::NoUdpSocket);
            return;
        };
        if s != self.send_sock && !self.send.is_empty() {
            std::mem::swap(self.send.next_buf(), &mut self.out);
            self.flush_udp(ctx);
            std::mem::swap(self.send.next_buf(), &mut self.out);
        }
        self.send_sock = s;
        self.send.commit(tx.dest);
        if self.send.is_full() {
            self.flush_udp(ctx);
        }
    }

    /// The UDP socket to send from: the one bound where our Via says we
    /// are, else the first of the destination's address family.
    fn udp_socket_for(&self, tx: &Transmit) -> Option<usize> {
        if let Some(from) = tx.from {
            if let Some(i) = self.udp.iter().position(|u| u.local == from) {
                return Some(i);
            }
        }
        self.udp
            .iter()
            .position(|u| u.local.is_ipv4() == tx.dest.is_ipv4())
    }

    fn flush_udp(&mut self, ctx: &Ctx) {
        if self.send.is_empty() {
            return;
        }
        let Some(u) = self.udp.get(self.send_sock) else {
            return;
        };
        let failed = if ctx.batch > 1 {
            self.send.flush(u.sock.as_raw_fd()).1
        } else {
            let sock = &u.sock;
            self.send.flush_with(|buf, dest| sock.send_to(buf, dest))
        };
        for _ in 0..failed {
            self.counters.net_drop(NetDrop::SendError);
        }
    }

    /// Sends on a TCP connection: the one named in the transmit (ours, or
    /// another worker's through a hand-off), else the pooled connection to
    /// the destination.
    fn transmit_stream(&mut self, ctx: &Ctx, tx: &Transmit, data: &[u8]) {
        if tx.transport != Transport::Tcp {
            self.counters.net_drop(NetDrop::UnsupportedTransport);
            return;
        }
        if let Some(c) = tx.conn {
            if c.worker != ctx.id {
                self.hand_off(ctx, c, tx.dest, data);
                return;
            }
            if self.conns.get_mut(c.id).is_some() {
                self.write_conn(ctx, c.id, data);
                return;
            }
            // The connection is gone: open a new one (RFC 3261 §18.2.2).
        }
        self.send_pooled(ctx, tx.dest, data);
    }

    fn hand_off(&mut self, ctx: &Ctx, c: ConnRef, dest: SocketAddr, data: &[u8]) {
        let shared = &ctx.shared;
        let (Some(q), Some(w)) = (
            shared.handoff.get(c.worker as usize),
            shared.wakers.get(c.worker as usize),
        ) else {
            self.counters.net_drop(NetDrop::NoSuchWorker);
            return;
        };
        let h = Handoff {
            conn: c,
            dest,
            data: data.to_vec(),
        };
        match q.try_send(h) {
            Ok(()) => {
                self.counters.handed_off += 1;
                let _ = w.wake();
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.net_drop(NetDrop::HandoffFull)
            }
        }
    }

    /// Messages other workers handed to us.
    fn handoffs(&mut self, ctx: &Ctx) {
        while let Ok(h) = self.rx.try_recv() {
            if self.conns.get_mut(h.conn.id).is_some() {
                self.write_conn(ctx, h.conn.id, &h.data);
            } else {
                self.send_pooled(ctx, h.dest, &h.data);
            }
        }
    }

    fn send_pooled(&mut self, ctx: &Ctx, dest: SocketAddr, data: &[u8]) {
        let id = match self.pool.get(&dest) {
            Some(&id) => id,
            None => match self.connect(ctx, dest) {
                Some(id) => id,
                None => {
                    self.counters.net_drop_to(NetDrop::ConnectFailed, dest);
                    return;
                }
            },
        };
        self.write_conn(ctx, id, data);
    }

    fn connect(&mut self, ctx: &Ctx, dest: SocketAddr) -> Option<u32> {
        let stream = match TcpStream::connect(dest) {
            Ok(s) => s,
            Err(e) => {
                log::debug!("worker {}: connect to {dest}: {e}", ctx.id);
                let why = super::prober::connect_error(&e);
                ctx.shared.health.unreachable(dest, Transport::Tcp, why);
                return None;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(dest);
        let conn = Conn::new(stream, dest, local, rbuf_size(ctx), false, self.now);
        let id = self.register(conn)?;
        self.pool.insert(dest, id);
        log::debug!("worker {}: connecting to {dest} (conn {id})", ctx.id);
        Some(id)
    }

    fn register(&mut self, conn: Conn) -> Option<u32> {
        let id = self.conns.insert(conn)?;
        let slot = Conns::slot_of(id);
        let c = self.conns.get_mut(id)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .registry
            .register(&mut c.stream, Token(CONN_BASE + slot), interest)
            .is_err()
        {
            self.conns.remove(id);
            return None;
        }
        Some(id)
    }

    fn write_conn(&mut self, ctx: &Ctx, id: u32, data: &[u8]) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(id) else {
            return;
        };
        c.last_active = now;
        let (peer, outbound) = (c.peer, c.outbound);
        let (reason, why) = match c.write(data) {
            Ok(()) => return,
            Err(WriteError::Backlog) => (NetDrop::TcpBacklog, "too many unsent bytes"),
            Err(WriteError::Io) => (NetDrop::SendError, "write failed"),
        };
        // A connection we opened is to an upstream: name it.
        if outbound {
            self.counters.net_drop_to(reason, peer);
        } else {
            self.counters.net_drop(reason);
        }
        self.close(ctx, id, why);
    }

    fn accept(&mut self, ctx: &Ctx, l: usize) {
        loop {
            let Some((lis, local)) = self.listeners.get(l) else {
                return;
            };
            let local = *local;
            let (stream, peer) = match lis.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: try again on the next event.
                    log::warning!("worker {}: accept on {local}: {e}", ctx.id);
                    return;
                }
            };
            if !ctx.shared.limits.acquire(peer.ip()) {
                self.counters.net_drop(NetDrop::TcpLimit);
                log::debug!("worker {}: refused connection from {peer}: limit", ctx.id);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let mut conn = Conn::new(stream, peer, local, rbuf_size(ctx), true, self.now);
            conn.limited = Some(peer.ip());
            // Its first message is due within the message timeout.
            conn.pending_since = Some(self.now_ms);
            match self.register(conn) {
                Some(id) => {
                    self.counters.tcp_accepted += 1;
                    log::debug!("worker {}: accepted {peer} (conn {id})", ctx.id);
                }
                None => {
                    ctx.shared.limits.release(peer.ip());
                    self.counters.net_drop(NetDrop::TcpLimit);
                }
            }
        }
    }

    fn conn_event(&mut self, ctx: &Ctx, table: &Table, slot: usize, ev: &mio::event::Event) {
        let Some(id) = self.conns.id_at(slot) else {
            return;
        };
        if ev.is_writable() {
            let Some(c) = self.conns.get_mut(id) else {
                return;
            };
            if !c.connected {
                match c.check_connected() {
                    Ok(true) => {
                        self.counters.tcp_connected += 1;
                        log::debug!("worker {}: connected to {} (conn {id})", ctx.id, c.peer);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        let peer = c.peer;
                        self.counters.net_drop_to(NetDrop::ConnectFailed, peer);
                        let why = super::prober::connect_error(&e);
                        ctx.shared.health.unreachable(peer, Transport::Tcp, why);
                        let msg = format!("connect failed: {e}");
                        self.close(ctx, id, &msg);
                        return;
                    }
                }
            }
            let Some(c) = self.conns.get_mut(id) else {
                return;
            };
            if c.flush().is_err() {
                self.counters.net_drop(NetDrop::SendError);
                self.close(ctx, id, "write failed");
                return;
            }
        }
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            self.conn_read(ctx, table, id);
        }
    }

    /// Reads a connection dry, handling every whole message.
    fn conn_read(&mut self, ctx: &Ctx, table: &Table, id: u32) {
        loop {
            let Some(c) = self.conns.get_mut(id) else {
                return;
            };
            if !c.connected {
                return;
            }
            if c.rlen == c.rbuf.len() {
                // Full without a whole message (frame_stream caps the head
                // and body, so only keep-alive noise gets here).
                self.counters.net_drop(NetDrop::TcpFraming);
                self.close(ctx, id, "message too large");
                return;
            }
            match c.read_some() {
                Ok(0) => {
                    self.close(ctx, id, "closed by peer");
                    return;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let msg = format!("read failed: {e}");
                    self.close(ctx, id, &msg);
                    return;
                }
            }
            if !self.frame(ctx, table, id) {
                return;
            }
        }
    }

    /// Handles every whole message buffered on a connection; false when
    /// the connection was closed.
    fn frame(&mut self, ctx: &Ctx, table: &Table, id: u32) -> bool {
        let Some(c) = self.conns.get_mut(id) else {
            return false;
        };
        let mut rbuf = std::mem::take(&mut c.rbuf);
        let rlen = c.rlen;
        let (peer, local) = (c.peer, c.local);
        let mut start = 0;
        let mut framed = 0usize;
        let mut ok = true;
        loop {
            // CR LF keep-alives (RFC 5626 §4.4.1): a double CRLF ping gets a
            // single CRLF pong.
            let mut crlf = 0;
            while rlen - start >= 2 && &rbuf[start..start + 2] == b"\r\n" {
                start += 2;
                crlf += 1;
            }
            if crlf >= 2 {
                self.write_conn(ctx, id, b"\r\n");
                if self.conns.get_mut(id).is_none() {
                    return false;
                }
            }
            if start == rlen {
                break;
            }
            match sip::frame_stream(&rbuf[start..rlen], ctx.max_message_size) {
                Ok(Some(n)) => {
                    let data = &rbuf[start..start + n];
                    start += n;
                    framed += 1;
                    self.counters.received += 1;
                    let input = Input {
                        data,
                        source: peer,
                        local,
                        transport: Transport::Tcp,
                        conn: Some(ConnRef { worker: ctx.id, id }),
                        now: self.now,
                    };
                    let mut out = std::mem::take(&mut self.out);
                    let admitted = admit(
                        ctx,
                        &mut self.guard,
                        self.now_ms,
                        &input,
                        &mut out,
                        &mut self.bans_unlogged,
                    );
                    match admitted
                        .or_else(|| guarded_handle(ctx, &input, table, &mut self.scratch, &mut out))
                    {
                        Some(o) => self.dispatch(ctx, o, &out, peer),
                        None => self.counters.net_drop(NetDrop::CorePanic),
                    }
                    self.out = out;
                }
                Ok(None) => break,
                Err(e) => {
                    self.counters.net_drop(NetDrop::TcpFraming);
                    log::debug!("worker {}: conn {id} from {peer}: {e}", ctx.id);
                    ok = false;
                    break;
                }
            }
        }
        rbuf.copy_within(start..rlen, 0);
        let Some(c) = self.conns.get_mut(id) else {
            return false;
        };
        c.rbuf = rbuf;
        c.rlen = rlen - start;
        if framed > 0 {
            c.last_active = self.now;
        }
        // Bytes of a message not yet complete: its deadline runs from the
        // first of them (a message completed meanwhile starts it over).
        let partial = c.rbuf[..c.rlen].iter().any(|&b| b != b'\r' && b != b'\n');
        c.pending_since = match (partial, c.pending_since) {
            (false, p) if framed == 0 => p,
            (false, _) => None,
            (true, Some(t)) if framed == 0 => Some(t),
            (true, _) => Some(self.now_ms),
        };
        if !ok {
            self.close(ctx, id, "unframeable stream");
            return false;
        }
        true
    }

    fn close(&mut self, ctx: &Ctx, id: u32, why: &str) {
        let Some(mut c) = self.conns.remove(id) else {
            return;
        };
        let _ = self.registry.deregister(&mut c.stream);
        if let Some(ip) = c.limited {
            ctx.shared.limits.release(ip);
        }
        if c.outbound && self.pool.get(&c.peer) == Some(&id) {
            self.pool.remove(&c.peer);
        }
        self.counters.tcp_closed += 1;
        log::debug!("worker {}: conn {id} with {}: {why}", ctx.id, c.peer);
    }

    /// Closes the connections idle too long (no whole message either way)
    /// and those whose awaited message is late: a peer that sends a byte at
    /// a time, or connects and says nothing, loses its slot
    /// ([`NetDrop::TcpDeadline`]).
    fn close_idle(&mut self, ctx: &Ctx) {
        let (now, now_ms) = (self.now, self.now_ms);
        let mut late = Vec::new();
        let idle: Vec<u32> = self
            .conns
            .iter()
            .filter_map(|(id, c)| {
                if c.pending_since
                    .is_some_and(|t| now_ms.saturating_sub(t) >= ctx.message_ms)
                {
                    late.push(id);
                    None
                } else {
                    (now.saturating_sub(c.last_active) >= ctx.idle_secs).then_some(id)
                }
            })
            .collect();
        for id in idle {
            self.close(ctx, id, "idle");
        }
        for id in late {
            self.counters.net_drop(NetDrop::TcpDeadline);
            self.close(ctx, id, "message not complete within the message timeout");
        }
    }

    /// Stop: read nothing more, deliver hand-offs already queued and flush
    /// TCP output for a short while.
    fn drain_on_stop(&mut self, ctx: &Ctx, poll: &mut Poll, events: &mut Events) {
        self.flush_udp(ctx);
        self.handoffs(ctx);
        let until = Instant::now() + STOP_FLUSH;
        loop {
            let pending: Vec<u32> = self
                .conns
                .iter()
                .filter(|(_, c)| c.unsent() > 0)
                .map(|(id, _)| id)
                .collect();
            if pending.is_empty() || Instant::now() >= until {
                break;
            }
            for id in pending {
                if let Some(c) = self.conns.get_mut(id) {
                    if c.flush().is_err() {
                        self.close(ctx, id, "write failed");
                    }
                }
            }
            let _ = poll.poll(events, Some(Duration::from_millis(20)));
        }
    }
}

fn rbuf_size(ctx: &Ctx) -> usize {
    ctx.max_message_size + 1024
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Logs the drops since the last report (at most once a second per worker),
/// leaving out keep-alives and absorbed ACKs, which are normal.
fn report_drops(ctx: &Ctx, now: &Counters, reported: &mut Counters) {
    if now.notable_drops() == reported.notable_drops() {
        return;
    }
    if log::enabled(log::Level::Warn) {
        let list: Vec<String> = now
            .drops_since(reported)
            .filter(|(name, _)| *name != "keepalive" && *name != "ack_absorbed")
            .map(|(name, n)| now.drop_entry(name, n, Some(reported)))
            .collect();
        log::warning!(
            "worker {}: dropped in the last second: {}",
            ctx.id,
            list.join(", ")
        );
    }
    *reported = now.clone();
}
