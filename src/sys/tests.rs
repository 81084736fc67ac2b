//! Tests of the batched syscalls and the socket error queue on loopback
//! sockets.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::*;

#[test]
fn batch_round_trip_on_loopback() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_nonblocking(true).unwrap();
    let mut out = SendBatch::new(4);
    for i in 0..3u8 {
        let buf = out.next_buf();
        buf.clear();
        buf.extend_from_slice(&[i; 10]);
        out.commit(b.local_addr().unwrap());
    }
    assert_eq!(out.flush(a.as_raw_fd()), (3, 0));
    assert!(out.is_empty());
    let mut inb = RecvBatch::new(8, 64);
    let mut seen = 0;
    for _ in 0..100 {
        match inb.recv(b.as_raw_fd()) {
            Ok(n) => {
                for i in 0..n {
                    let (d, src) = inb.get(i);
                    assert_eq!(d, &[seen as u8; 10]);
                    assert_eq!(src, Some(a.local_addr().unwrap()));
                    seen += 1;
                }
            }
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        }
        if seen == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(seen, 3);
    assert_eq!(
        inb.recv(b.as_raw_fd()).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}

#[test]
fn batch_scheduling_applies_to_the_calling_thread_only() {
    std::thread::spawn(|| {
        set_batch_scheduling().unwrap();
        // SAFETY: no arguments; reads the calling thread's policy.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_BATCH);
    })
    .join()
    .unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
}

#[test]
fn timestamped_batch_reads_the_kernel_receive_time() {
    use std::time::SystemTime;
    let wall = || {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
    };
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_nonblocking(true).unwrap();
    enable_rx_timestamps(b.as_raw_fd()).unwrap();
    // The kernel turns receive stamping on lazily (a static key flipped
    // from a work queue): until then it stamps a datagram when it is
    // read. So try a few rounds; a build that stamped on reading never
    // passes one.
    let mut inb = StampedRecvBatch::new(8, 64);
    let mut stamped_on_arrival = false;
    for _ in 0..50 {
        let before = wall();
        a.send_to(b"one", b.local_addr().unwrap()).unwrap();
        a.send_to(b"two", b.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let reading = wall();
        assert_eq!(inb.recv(b.as_raw_fd()).unwrap(), 2);
        let mut early = true;
        for (i, want) in [&b"one"[..], b"two"].into_iter().enumerate() {
            assert_eq!(inb.get(i).0, want);
            let at = inb.received_at(i).expect("a timestamp");
            assert!(before <= at, "{before:?} <= {at:?}");
            early &= at <= reading;
        }
        if early {
            stamped_on_arrival = true;
            break;
        }
    }
    assert!(stamped_on_arrival, "every datagram was stamped when read");
    assert!(inb.received_at(0) <= inb.received_at(1));
    // Without the socket option: none. A plain batch (which has no
    // timestamps to read) still receives from a socket that stamps.
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_nonblocking(true).unwrap();
    a.send_to(b"x", c.local_addr().unwrap()).unwrap();
    a.send_to(b"x", b.local_addr().unwrap()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(inb.recv(c.as_raw_fd()).unwrap(), 1);
    assert_eq!(inb.received_at(0), None);
    let mut plain = RecvBatch::new(8, 64);
    assert_eq!(plain.recv(b.as_raw_fd()).unwrap(), 1);
    assert_eq!(plain.get(0).0, b"x");
}

#[test]
fn connected_datagrams_go_to_the_peer() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    let mut out = ConnectedSendBatch::new(4);
    for i in 0..2u8 {
        let buf = out.next_buf();
        buf.clear();
        buf.push(i);
        out.commit_connected();
    }
    assert_eq!(out.flush(a.as_raw_fd()), (2, 0));
    let mut buf = [0u8; 4];
    for i in 0..2u8 {
        let (n, src) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], src), (&[i][..], a.local_addr().unwrap()));
    }
}

#[test]
fn flush_each_names_the_refused_datagram() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut out = SendBatch::new(4);
    for len in [10, 70_000, 10] {
        let buf = out.next_buf();
        buf.clear();
        buf.resize(len, 7);
        out.commit(b.local_addr().unwrap());
    }
    let mut refused = Vec::new();
    let r = out.flush_each(a.as_raw_fd(), |i, e| refused.push((i, e.kind())));
    assert_eq!(r, (2, 1));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, 1);
    assert!(out.is_empty());
}

/// An address on `ip` where nothing listens: a port that was just bound
/// and released, so sending there draws an ICMP port unreachable.
fn closed_port(ip: &str) -> SocketAddr {
    UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap()
}

/// Waits up to a second for `fd` to report `POLLERR` (a pending error or a
/// non-empty error queue), without reading or clearing either.
fn wait_for_error(fd: RawFd) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let mut p = libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        };
        // SAFETY: `p` is one valid `pollfd` that outlives the call.
        let r = unsafe { libc::poll(&mut p, 1, 10) };
        if r > 0 && p.revents & libc::POLLERR != 0 {
            return true;
        }
    }
    false
}

/// Whether `fd` reports `POLLERR` right now.
fn has_error(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: `p` is one valid `pollfd` that outlives the call.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & libc::POLLERR != 0
}

fn queued(fd: RawFd, max: usize) -> Vec<QueuedError> {
    let mut got = Vec::new();
    let n = read_errqueue(fd, max, |e| got.push(e)).unwrap();
    assert_eq!(n, got.len());
    got
}

#[test]
fn errqueue_reports_icmp_port_unreachable() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_recverr(a.as_raw_fd(), false).unwrap();
    let dead = closed_port("127.0.0.1");
    a.send_to(b"x", dead).unwrap();
    assert!(wait_for_error(a.as_raw_fd()));
    let got = queued(a.as_raw_fd(), 8);
    assert_eq!(
        got,
        [QueuedError {
            dest: Some(dead),
            errno: libc::ECONNREFUSED,
            origin: ErrOrigin::Icmp,
            icmp_type: 3,
            icmp_code: 3,
            offender: Some(IpAddr::from([127, 0, 0, 1])),
        }]
    );
    assert_eq!(got[0].describe(), "ICMP port unreachable");
    assert_eq!(read_errqueue(a.as_raw_fd(), 8, |_| panic!()).unwrap(), 0);
    // Reading the last entry also cleared the pending error.
    assert!(!has_error(a.as_raw_fd()));
}

#[test]
fn errqueue_reports_icmpv6_port_unreachable() {
    let Ok(a) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: cannot bind [::1]");
        return;
    };
    enable_recverr(a.as_raw_fd(), true).unwrap();
    let dead = closed_port("::1");
    a.send_to(b"x", dead).unwrap();
    assert!(wait_for_error(a.as_raw_fd()));
    let got = queued(a.as_raw_fd(), 8);
    assert_eq!(
        got,
        [QueuedError {
            dest: Some(dead),
            errno: libc::ECONNREFUSED,
            origin: ErrOrigin::Icmp6,
            icmp_type: 1,
            icmp_code: 4,
            offender: Some(IpAddr::from(Ipv6Addr::LOCALHOST)),
        }]
    );
    assert_eq!(got[0].describe(), "ICMPv6 port unreachable");
    assert_eq!(read_errqueue(a.as_raw_fd(), 8, |_| panic!()).unwrap(), 0);
}

#[test]
fn errqueue_reads_at_most_max_entries() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_recverr(a.as_raw_fd(), false).unwrap();
    let dead = [closed_port("127.0.0.1"), closed_port("127.0.0.1")];
    let mut out = SendBatch::new(4);
    for d in dead {
        out.next_buf().clear();
        out.commit(d);
    }
    // On loopback the first one's ICMP error is pending by the time the
    // second goes: that one is sent again (see the send tests).
    assert_eq!(out.flush(a.as_raw_fd()), (2, 0));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(1);
    while got.len() < 2 && Instant::now() < deadline {
        let one = queued(a.as_raw_fd(), 1);
        assert!(one.len() <= 1);
        got.extend(one);
    }
    let dests: Vec<_> = got.iter().map(|e| e.dest).collect();
    assert_eq!(dests, [Some(dead[0]), Some(dead[1])]);
    assert_eq!(queued(a.as_raw_fd(), 8), []);
    assert_eq!(read_errqueue(a.as_raw_fd(), 0, |_| panic!()).unwrap(), 0);
}

#[test]
fn errqueue_stays_empty_without_recverr() {
    let dead = closed_port("127.0.0.1");
    let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
    plain.send_to(b"x", dead).unwrap();
    // A witness sent after it: once its error is in, so is the plain
    // socket's, if the kernel queued one.
    let witness = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_recverr(witness.as_raw_fd(), false).unwrap();
    witness.send_to(b"x", dead).unwrap();
    assert!(wait_for_error(witness.as_raw_fd()));
    assert!(!has_error(plain.as_raw_fd()));
    assert_eq!(
        read_errqueue(plain.as_raw_fd(), 8, |_| panic!()).unwrap(),
        0
    );
}

#[test]
fn queued_errors_describe_themselves() {
    let e = |origin, icmp_type, icmp_code, errno| QueuedError {
        dest: None,
        errno,
        origin,
        icmp_type,
        icmp_code,
        offender: None,
    };
    let cases = [
        (
            e(ErrOrigin::Icmp, 3, 1, libc::EHOSTUNREACH),
            "ICMP host unreachable",
        ),
        (
            e(ErrOrigin::Icmp, 3, 0, libc::ENETUNREACH),
            "ICMP net unreachable",
        ),
        (
            e(ErrOrigin::Icmp, 11, 0, libc::EHOSTUNREACH),
            "ICMP time exceeded",
        ),
        (
            e(ErrOrigin::Icmp6, 1, 3, libc::EHOSTUNREACH),
            "ICMPv6 address unreachable",
        ),
        (
            e(ErrOrigin::Icmp6, 1, 4, libc::ECONNREFUSED),
            "ICMPv6 port unreachable",
        ),
        (
            e(ErrOrigin::Icmp6, 2, 0, libc::EMSGSIZE),
            "ICMPv6 packet too big",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.describe(), want);
    }
    // Not an ICMP message it knows: the errno's text.
    for err in [
        e(ErrOrigin::Local, 0, 0, libc::EMSGSIZE),
        e(ErrOrigin::Icmp, 200, 0, libc::EMSGSIZE),
        e(ErrOrigin::Other(9), 3, 3, libc::EMSGSIZE),
    ] {
        let want = io::Error::from_raw_os_error(libc::EMSGSIZE).to_string();
        assert_eq!(err.describe(), want);
    }
}

/// A socket with `IP_RECVERR` whose last datagram drew an ICMP port
/// unreachable that is now its pending error (the queue is left unread),
/// and a live socket to send to.
fn socket_with_pending_error() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_recverr(a.as_raw_fd(), false).unwrap();
    a.send_to(b"x", closed_port("127.0.0.1")).unwrap();
    assert!(wait_for_error(a.as_raw_fd()));
    let live = UdpSocket::bind("127.0.0.1:0").unwrap();
    live.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    (a, live)
}

fn assert_received(live: &UdpSocket, from: &UdpSocket, want: &[u8]) {
    let mut buf = [0u8; 16];
    let (n, src) = live.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], src), (want, from.local_addr().unwrap()));
}

#[test]
fn batch_send_survives_an_earlier_icmp_error() {
    let (a, live) = socket_with_pending_error();
    let mut out = SendBatch::new(4);
    out.next_buf().clear();
    out.next_buf().extend_from_slice(b"live");
    out.commit(live.local_addr().unwrap());
    let mut refused = Vec::new();
    let r = out.flush_each(a.as_raw_fd(), |i, e| refused.push((i, e.kind())));
    assert_eq!((r, refused), ((1, 0), vec![]));
    assert_received(&live, &a, b"live");
    // The error is still queued for the worker to read.
    assert_eq!(queued(a.as_raw_fd(), 8).len(), 1);
}

#[test]
fn single_sends_survive_an_earlier_icmp_error() {
    let (a, live) = socket_with_pending_error();
    let mut out = SendBatch::new(1);
    out.next_buf().clear();
    out.next_buf().extend_from_slice(b"live");
    out.commit(live.local_addr().unwrap());
    assert_eq!(out.flush_with(|b, d| a.send_to(b, d)), 0);
    assert_received(&live, &a, b"live");
}

#[test]
fn single_sends_retry_an_asynchronous_error_once() {
    let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for (errno, want_calls) in [
        (libc::ECONNREFUSED, 2),
        (libc::EHOSTUNREACH, 2),
        (libc::EBADF, 1),
    ] {
        let mut out = SendBatch::new(1);
        out.next_buf().clear();
        out.commit(dest);
        let mut calls = 0;
        let failed = out.flush_with(|_, _| {
            calls += 1;
            Err(io::Error::from_raw_os_error(errno))
        });
        assert_eq!((failed, calls), (1, want_calls), "errno {errno}");
    }
}
