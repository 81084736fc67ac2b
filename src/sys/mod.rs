//! Batched datagram syscalls (`recvmmsg`, `sendmmsg`), `SCHED_BATCH` and
//! kernel receive timestamps: the one module of the crate that uses
//! `unsafe`. Its users are the proxy's workers ([`crate::net`]) and the load
//! generator's I/O shell ([`crate::bench::io`]); everything else goes
//! through mio and socket2.
//!
//! The buffers are owned by safe Rust ([`RecvBatch`], [`SendBatch`]); the
//! kernel's `mmsghdr` arrays pointing into them are built on the stack for
//! the duration of one call, so no raw pointer outlives the borrow it came
//! from and both types stay `Send`.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::Duration;

use socket2::SockAddr;

/// Most datagrams one call moves.
pub const MAX_BATCH: usize = 64;

/// Control-message room per datagram, in 8-byte words: one
/// `SCM_TIMESTAMPNS` (a 16-byte header and a 16-byte `timespec`) with room
/// to spare.
const CMSG_WORDS: usize = 8;

/// Buffers for up to `n` received datagrams of up to `slot` bytes each.
#[derive(Debug)]
pub struct RecvBatch {
    data: Vec<u8>,
    slot: usize,
    n: usize,
    lens: [usize; MAX_BATCH],
    srcs: [Option<SocketAddr>; MAX_BATCH],
    /// Where `recvmmsg` writes the sources: zeroed once here rather than
    /// on every call.
    names: Names,
    /// Kernel receive times, when the batch asks for them.
    stamps: Option<Box<Stamps>>,
}

/// One `sockaddr_storage` per datagram of a [`RecvBatch`].
struct Names(Box<[libc::sockaddr_storage]>);

impl core::fmt::Debug for Names {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Names({})", self.0.len())
    }
}

/// The control buffers `recvmmsg` writes timestamps into, and what was
/// read from them.
#[derive(Debug)]
struct Stamps {
    cmsgs: [[u64; CMSG_WORDS]; MAX_BATCH],
    times: [Option<Duration>; MAX_BATCH],
}

impl RecvBatch {
    /// Room for `n` (1..=[`MAX_BATCH`]) datagrams of `slot` bytes.
    pub fn new(n: usize, slot: usize) -> RecvBatch {
        let n = n.clamp(1, MAX_BATCH);
        RecvBatch {
            data: vec![0; n * slot],
            slot,
            n,
            lens: [0; MAX_BATCH],
            srcs: [None; MAX_BATCH],
            // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
            names: Names((0..n).map(|_| unsafe { zeroed() }).collect()),
            stamps: None,
        }
    }

    /// [`RecvBatch::new`] that also reads each datagram's kernel receive
    /// time ([`RecvBatch::received_at`]), for a socket that has
    /// [`enable_rx_timestamps`].
    pub fn with_timestamps(n: usize, slot: usize) -> RecvBatch {
        let mut b = RecvBatch::new(n, slot);
        b.stamps = Some(Box::new(Stamps {
            cmsgs: [[0; CMSG_WORDS]; MAX_BATCH],
            times: [None; MAX_BATCH],
        }));
        b
    }

    /// How many datagrams one [`RecvBatch::recv`] may return.
    pub fn capacity(&self) -> usize {
        self.n
    }

    /// Receives up to [`RecvBatch::capacity`] datagrams without blocking
    /// (`recvmmsg` with `MSG_DONTWAIT`). Returns how many; `WouldBlock` when
    /// none was queued. Fewer than the capacity means the queue was empty
    /// when the call returned.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // Only the first `n` entries are written (and given to the kernel):
        // zeroing all MAX_BATCH of them cost more than the rest of the call
        // at small batches.
        let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_BATCH];
        let mut msgs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_BATCH];
        let base = self.data.as_mut_ptr();
        for i in 0..self.n {
            // `add` stays inside `data`, whose length is `n * slot`.
            let iov = iovs[i].write(libc::iovec {
                iov_base: base.wrapping_add(i * self.slot).cast(),
                iov_len: self.slot,
            });
            // SAFETY: all-zero bytes are a valid value of this plain C struct.
            let m = msgs[i].write(unsafe { zeroed() });
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (&mut self.names.0[i] as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if let Some(st) = self.stamps.as_mut() {
                m.msg_hdr.msg_control = st.cmsgs[i].as_mut_ptr().cast();
                m.msg_hdr.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
            }
        }
        // SAFETY: `msgs[..n]` are initialised above and point at `iovs`,
        // `self.names`, disjoint `slot`-byte regions of `self.data` and
        // (with timestamps) disjoint control buffers in `self.stamps`, all
        // alive and exclusively borrowed for this call; the lengths given
        // match the buffers, so the kernel writes only inside them. `fd` is
        // a socket the caller owns.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr().cast::<libc::mmsghdr>(),
                self.n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = (got as usize).min(self.n);
        for (i, m) in msgs[..got].iter().enumerate() {
            // SAFETY: entries below `n` were initialised above.
            let m = unsafe { m.assume_init_ref() };
            self.lens[i] = (m.msg_len as usize).min(self.slot);
            self.srcs[i] = sockaddr_to_std(&self.names.0[i]);
            if let Some(st) = self.stamps.as_mut() {
                st.times[i] = timestamp_of(&m.msg_hdr);
            }
        }
        Ok(got)
    }

    /// When the kernel received datagram `i` of the last
    /// [`RecvBatch::recv`], as time since the Unix epoch on the wall clock
    /// (`CLOCK_REALTIME`, `SO_TIMESTAMPNS`). `None` unless the batch was
    /// made [`RecvBatch::with_timestamps`] and the socket has
    /// [`enable_rx_timestamps`].
    pub fn received_at(&self, i: usize) -> Option<Duration> {
        self.stamps.as_ref().and_then(|st| st.times[i])
    }

    /// Receives one datagram into the first slot with `f` (plain
    /// `recvfrom`, for a batch of 1). Returns 1, or `f`'s error.
    pub fn recv_with(
        &mut self,
        f: impl FnOnce(&mut [u8]) -> io::Result<(usize, SocketAddr)>,
    ) -> io::Result<usize> {
        let (n, src) = f(&mut self.data[..self.slot])?;
        self.lens[0] = n.min(self.slot);
        self.srcs[0] = Some(src);
        if let Some(st) = self.stamps.as_mut() {
            st.times[0] = None;
        }
        Ok(1)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`] and its source (`None`
    /// for an address family other than IPv4/IPv6).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        let start = i * self.slot;
        (&self.data[start..start + self.lens[i]], self.srcs[i])
    }
}

/// Outgoing datagrams collected for one `sendmmsg`. Each slot is a reused
/// `Vec<u8>` that the proxy writes into directly.
#[derive(Debug)]
pub struct SendBatch {
    bufs: Vec<Vec<u8>>,
    /// `None`: to the socket's connected peer.
    dests: Vec<Option<SockAddr>>,
    len: usize,
}

impl SendBatch {
    /// Room for `n` (1..=[`MAX_BATCH`]) datagrams.
    pub fn new(n: usize) -> SendBatch {
        let n = n.clamp(1, MAX_BATCH);
        SendBatch {
            bufs: (0..n).map(|_| Vec::with_capacity(2048)).collect(),
            dests: Vec::with_capacity(n),
            len: 0,
        }
    }

    /// No datagram queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// No room left: flush before the next [`SendBatch::next_buf`].
    pub fn is_full(&self) -> bool {
        self.len == self.bufs.len()
    }

    /// The buffer the next datagram is written into (call
    /// [`SendBatch::commit`] to queue it). Panics when full.
    pub fn next_buf(&mut self) -> &mut Vec<u8> {
        &mut self.bufs[self.len]
    }

    /// Queues the datagram written into [`SendBatch::next_buf`] for `dest`.
    pub fn commit(&mut self, dest: SocketAddr) {
        self.dests.push(Some(SockAddr::from(dest)));
        self.len += 1;
    }

    /// Queues the datagram written into [`SendBatch::next_buf`] for the
    /// peer of a connected socket (no address: the kernel uses the socket's
    /// cached route). Only for [`SendBatch::flush`]/[`SendBatch::flush_each`]
    /// on a connected socket; [`SendBatch::flush_with`] counts it as failed.
    pub fn commit_connected(&mut self) {
        self.dests.push(None);
        self.len += 1;
    }

    /// Sends everything queued on `fd` (`sendmmsg`, `MSG_DONTWAIT`) and
    /// empties the batch. Returns (sent, failed): a datagram the kernel
    /// refuses is skipped and counted as failed.
    pub fn flush(&mut self, fd: RawFd) -> (usize, usize) {
        self.flush_each(fd, |_, _| {})
    }

    /// [`SendBatch::flush`], also telling `on_error` the queue index (in
    /// [`SendBatch::commit`] order) and error of each refused datagram.
    pub fn flush_each(
        &mut self,
        fd: RawFd,
        mut on_error: impl FnMut(usize, &io::Error),
    ) -> (usize, usize) {
        let (mut sent, mut failed) = (0, 0);
        while sent + failed < self.len {
            let from = sent + failed;
            match self.send_from(fd, from) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    on_error(from, &e);
                    failed += 1;
                }
            }
        }
        self.len = 0;
        self.dests.clear();
        (sent, failed)
    }

    /// Sends everything queued one datagram at a time with `f` (plain
    /// `sendto`, for a batch of 1) and empties the batch. Returns how many
    /// failed.
    pub fn flush_with(
        &mut self,
        mut f: impl FnMut(&[u8], SocketAddr) -> io::Result<usize>,
    ) -> usize {
        let mut failed = 0;
        for i in 0..self.len {
            match self.dests[i].as_ref().map(SockAddr::as_socket) {
                Some(Some(dest)) => {
                    if f(&self.bufs[i], dest).is_err() {
                        failed += 1;
                    }
                }
                Some(None) => {}
                None => failed += 1,
            }
        }
        self.len = 0;
        self.dests.clear();
        failed
    }

    fn send_from(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let n = self.len - from;
        // Only the first `n` entries are written (see `RecvBatch::recv`).
        let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_BATCH];
        let mut msgs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_BATCH];
        for i in 0..n {
            let buf = &self.bufs[from + i];
            let dest = &self.dests[from + i];
            let iov = iovs[i].write(libc::iovec {
                iov_base: buf.as_ptr() as *mut libc::c_void,
                iov_len: buf.len(),
            });
            // SAFETY: all-zero bytes are a valid value of this plain C struct.
            let m = msgs[i].write(unsafe { zeroed() });
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            if let Some(dest) = dest {
                m.msg_hdr.msg_name = dest.as_ptr() as *mut libc::c_void;
                m.msg_hdr.msg_namelen = dest.len();
            }
        }
        // SAFETY: `msgs[..n]` are initialised above and point at `iovs` and
        // at buffers and addresses in `self` (or have a null `msg_name` of
        // length 0), alive and unchanged for the call; the kernel only reads
        // through `msg_iov` and `msg_name` (lengths match the buffers) and
        // writes `msg_len` in `msgs`. `fd` is a socket the caller owns.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                msgs.as_mut_ptr().cast::<libc::mmsghdr>(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok((r as usize).max(1).min(n))
        }
    }
}

/// Puts the calling thread under `SCHED_BATCH`: still fair-shared like
/// `SCHED_OTHER` (same nice level), but when it wakes it does not preempt
/// the thread running on its CPU. For a thread that talks to a peer over
/// loopback this lets the sender finish a whole `sendmmsg` batch instead of
/// being switched out after its first datagram. Linux only.
pub fn set_batch_scheduling() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that outlives the call, which
    // only reads it; pid 0 names the calling thread.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Asks the kernel to stamp every datagram received on `fd` with the wall
/// clock time it arrived (`SO_TIMESTAMPNS`), which a
/// [`RecvBatch::with_timestamps`] then reads. Linux only.
pub fn enable_rx_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid `c_int` that outlives the call, which only
    // reads `size_of::<c_int>()` bytes of it. `fd` is a socket the caller
    // owns.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The `SCM_TIMESTAMPNS` time in the control messages of `hdr`, as
/// received by `recvmmsg`.
fn timestamp_of(hdr: &libc::msghdr) -> Option<Duration> {
    if hdr.msg_control.is_null() || hdr.msg_flags & libc::MSG_CTRUNC != 0 {
        return None;
    }
    // SAFETY: `hdr` is a header the kernel just filled in: `msg_control`
    // points at a live, 8-byte aligned buffer of which the kernel wrote
    // `msg_controllen` bytes of well-formed control messages.
    // `CMSG_FIRSTHDR`/`CMSG_NXTHDR` return null or a header inside those
    // bytes, and a header of type `SCM_TIMESTAMPNS` is followed by a
    // `timespec` (read unaligned, as `CMSG_DATA` promises no alignment).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                let secs = u64::try_from(ts.tv_sec).ok()?;
                let nanos = u32::try_from(ts.tv_nsec).ok()?;
                return (nanos < 1_000_000_000).then(|| Duration::new(secs, nanos));
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    None
}

fn sockaddr_to_std(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match st.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`,
            // which is smaller than `sockaddr_storage` and no more aligned.
            let a = unsafe { &*(st as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`,
            // which is smaller than `sockaddr_storage` and no more aligned.
            let a = unsafe { &*(st as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                u32::from_be(a.sin6_flowinfo),
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

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
        let mut inb = RecvBatch::with_timestamps(8, 64);
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
        // Without the socket option, or a batch that does not ask: none.
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_nonblocking(true).unwrap();
        a.send_to(b"x", c.local_addr().unwrap()).unwrap();
        a.send_to(b"x", b.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(inb.recv(c.as_raw_fd()).unwrap(), 1);
        assert_eq!(inb.received_at(0), None);
        let mut plain = RecvBatch::new(8, 64);
        assert_eq!(plain.recv(b.as_raw_fd()).unwrap(), 1);
        assert_eq!(plain.received_at(0), None);
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
    fn connected_datagrams_go_to_the_peer() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        let mut out = SendBatch::new(4);
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
        out.next_buf().push(9);
        out.commit_connected();
        assert_eq!(out.flush_with(|_, _| Ok(1)), 1);
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
}
