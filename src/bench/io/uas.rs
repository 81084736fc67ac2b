//! The UAS workers: each owns a [`Uas`] and either a UDP socket or a TCP
//! listener bound to the listen address with `SO_REUSEPORT` (the kernel
//! keeps each flow on one worker, so a dialog's INVITE, ACK and BYE meet
//! the same state), and answers until stopped or `--duration` is over.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::stream::Conn;
use super::{is_transient, publish, sleep_until, udp_socket, Clock, Mailbox, StopFlag, Workers};
use super::{Grid, ProgressOptions, MAX_MESSAGE, PUBLISH_EVERY, RECV_BATCH, TIMER_GRAIN};
use crate::bench::flow::uas::{Uas, UasConfig};
use crate::bench::flow::Outbox;
use crate::bench::stats::Stats;
use crate::bench::Nanos;
use crate::sip::Transport;
use crate::sys::{set_batch_scheduling, RecvBatch, SendBatch, MAX_BATCH};

/// Everything a UAS needs (the parsed `bench uas` flags).
#[derive(Debug, Clone)]
pub struct UasPlan {
    /// The address to listen on (port 0: any).
    pub listen: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Worker threads, all on the same address.
    pub workers: u16,
    /// How to answer (`contact_uri`, `reliable` and `seed` are filled in
    /// per worker).
    pub answer: UasConfig,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// A running UAS.
pub struct UasServer {
    addr: SocketAddr,
    stop: StopFlag,
    clock: Clock,
    workers: Workers<()>,
}

impl core::fmt::Debug for UasServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UasServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl UasServer {
    /// Binds the listen address for every worker and starts them; they run
    /// until `stop` is raised or the plan's duration is over.
    pub fn start(plan: &UasPlan, stop: StopFlag) -> io::Result<UasServer> {
        let workers = plan.workers.max(1);
        let clock = Clock::start();
        let mut addr = plan.listen;
        let mut sockets = Vec::new();
        for _ in 0..workers {
            let s = match plan.transport {
                Transport::Tcp => {
                    let s =
                        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                    s.set_reuse_address(true)?;
                    s.set_reuse_port(true)?;
                    s.set_nonblocking(true)?;
                    s.bind(&addr.into())
                        .map_err(|e| io::Error::new(e.kind(), format!("bind tcp {addr}: {e}")))?;
                    s.listen(1024)?;
                    let l: std::net::TcpListener = s.into();
                    addr = l.local_addr()?;
                    Sock::Tcp(TcpListener::from_std(l))
                }
                _ => {
                    let s = udp_socket(addr, true)
                        .map_err(|e| io::Error::new(e.kind(), format!("bind udp {addr}: {e}")))?;
                    addr = s.local_addr()?;
                    Sock::Udp(UdpSocket::from_std(s))
                }
            };
            sockets.push(s);
        }
        let mut workers = Workers::new();
        for (w, sock) in sockets.into_iter().enumerate() {
            let mut cfg = plan.answer.clone();
            let tparam = if plan.transport == Transport::Tcp {
                ";transport=tcp"
            } else {
                ""
            };
            cfg.contact_uri = format!("sip:uas@{addr}{tparam}");
            cfg.reliable = plan.transport == Transport::Tcp;
            cfg.seed = plan.answer.seed.wrapping_add(w as u64 * 0x9e37_79b9);
            let stop = stop.clone();
            let end = plan.duration.map(|d| Nanos::ZERO + d);
            workers.spawn(format!("bench-uas-{w}"), move |mailbox| {
                worker(Uas::new(cfg), sock, clock, end, &stop, mailbox)
            })?;
        }
        Ok(UasServer {
            addr,
            stop,
            clock,
            workers,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asks the workers to stop.
    pub fn stop(&self) {
        self.stop.raise();
    }

    /// Waits until the workers end (see [`UasServer::start`]), printing
    /// progress as asked; returns what they counted and how long they ran.
    pub fn wait(self, progress: ProgressOptions) -> io::Result<(Stats, Duration)> {
        let (stats, results) = self.workers.supervise(self.clock, progress);
        for r in results {
            r?;
        }
        Ok((stats, self.clock.now().since(Nanos::ZERO)))
    }
}

enum Sock {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

const SOCKET: Token = Token(usize::MAX);

/// One UAS worker. Each iteration reads the clock once (after `poll`),
/// handles what arrived (`recvmmsg` batches over UDP), runs the timers due,
/// then sends every queued datagram in one `sendmmsg`. Timer wakeups are
/// rounded up to a [`TIMER_GRAIN`] grid.
fn worker(
    mut uas: Uas,
    mut sock: Sock,
    clock: Clock,
    end: Option<Nanos>,
    stop: &StopFlag,
    mailbox: &Mailbox,
) -> io::Result<()> {
    // Best effort: without it the run is correct, only costlier.
    let _ = set_batch_scheduling();
    let mut poll = Poll::new()?;
    match &mut sock {
        Sock::Udp(s) => poll.registry().register(s, SOCKET, Interest::READABLE)?,
        Sock::Tcp(l) => poll.registry().register(l, SOCKET, Interest::READABLE)?,
    }
    let mut events = Events::with_capacity(256);
    let mut out = Outbox::new();
    let mut tx = Tx {
        queue: SendBatch::new(MAX_BATCH),
        conns: Vec::new(),
        by_peer: HashMap::new(),
    };
    let mut batch = match sock {
        Sock::Udp(_) => Some(RecvBatch::new(RECV_BATCH, MAX_MESSAGE)),
        Sock::Tcp(_) => None,
    };
    let grid = Grid::new(Nanos::ZERO, TIMER_GRAIN);
    let mut now = clock.now();
    let mut next_publish = grid.ceil(now + PUBLISH_EVERY);
    loop {
        if uas.next_timer().is_some_and(|t| t <= now) {
            uas.on_timer(now, &mut out);
            tx.queue(&sock, &mut out);
        }
        tx.send_queued(&sock);
        if now >= next_publish {
            publish(mailbox, uas.stats_mut());
            next_publish = grid.ceil(now + PUBLISH_EVERY);
        }
        if stop.is_raised() || end.is_some_and(|e| now >= e) {
            break;
        }
        let timer = uas.next_timer().map(|t| grid.ceil(t));
        let wait = sleep_until(now, [timer, end, Some(next_publish)]);
        poll.poll(&mut events, Some(wait))?;
        now = clock.now();
        for ev in events.iter() {
            match (ev.token(), &sock) {
                (SOCKET, Sock::Udp(s)) => {
                    let Some(batch) = batch.as_mut() else {
                        continue;
                    };
                    loop {
                        match batch.recv(s.as_raw_fd()) {
                            Ok(n) => {
                                for i in 0..n {
                                    if let (msg, Some(peer)) = batch.get(i) {
                                        uas.handle(msg, peer, now, &mut out);
                                    }
                                }
                                tx.queue(&sock, &mut out);
                                // A short batch emptied the queue; a
                                // datagram arriving later raises a new edge.
                                if n < batch.capacity() {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                }
                (SOCKET, Sock::Tcp(l)) => loop {
                    match l.accept() {
                        Ok((mut stream, peer)) => {
                            let _ = stream.set_nodelay(true);
                            let i = tx
                                .conns
                                .iter()
                                .position(Option::is_none)
                                .unwrap_or(tx.conns.len());
                            poll.registry().register(
                                &mut stream,
                                Token(i),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            if i == tx.conns.len() {
                                tx.conns.push(None);
                            }
                            tx.conns[i] = Some(Conn::new(stream, peer));
                            tx.by_peer.insert(peer, i);
                        }
                        Err(e) if is_transient(&e) => break,
                        Err(_) => break,
                    }
                },
                (Token(i), _) => {
                    let Some(Some(c)) = tx.conns.get_mut(i) else {
                        continue;
                    };
                    let peer = c.peer;
                    let mut broken = false;
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        broken |= c
                            .receive(|msg| uas.handle(msg, peer, now, &mut out))
                            .is_err();
                    }
                    if ev.is_writable() && !broken {
                        broken |= c.flush().is_err();
                    }
                    if broken {
                        if let Some(mut c) = tx.conns[i].take() {
                            let _ = poll.registry().deregister(&mut c.stream);
                        }
                        tx.by_peer.remove(&peer);
                    }
                    tx.queue(&sock, &mut out);
                }
            }
        }
    }
    publish(mailbox, uas.stats_mut());
    Ok(())
}

/// Where the UAS's answers go: the `sendmmsg` queue of the UDP socket, or
/// the TCP connections by peer.
struct Tx {
    queue: SendBatch,
    conns: Vec<Option<Conn>>,
    by_peer: HashMap<SocketAddr, usize>,
}

impl Tx {
    /// Takes what the UAS put into `out` (to each message's peer) and
    /// clears it. Over UDP the datagrams wait for [`Tx::send_queued`]; over
    /// TCP a message goes on the connection from its peer now, and with
    /// none left it is dropped.
    fn queue(&mut self, sock: &Sock, out: &mut Outbox) {
        for t in out.iter() {
            let Some(to) = t.to else { continue };
            match sock {
                Sock::Udp(_) => {
                    if self.queue.is_full() {
                        self.send_queued(sock);
                    }
                    let buf = self.queue.next_buf();
                    buf.clear();
                    buf.extend_from_slice(t.bytes);
                    self.queue.commit(to);
                }
                Sock::Tcp(_) => {
                    if let Some(Some(c)) =
                        self.by_peer.get(&to).and_then(|&i| self.conns.get_mut(i))
                    {
                        let _ = c.send(t.bytes);
                    }
                }
            }
        }
        out.clear();
    }

    /// Sends the queued datagrams. A full socket buffer or an unreachable
    /// peer loses a datagram; the peer's retransmission covers it.
    fn send_queued(&mut self, sock: &Sock) {
        if let Sock::Udp(s) = sock {
            if !self.queue.is_empty() {
                self.queue.flush(s.as_raw_fd());
            }
        }
    }
}
