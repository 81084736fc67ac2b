//! `recvmmsg` into buffers owned by safe Rust, and the kernel receive
//! timestamps (`SO_TIMESTAMPNS`) read from its control messages.
//!
//! The proxy's [`RecvBatch`] asks for no control messages; the load
//! generator's [`StampedRecvBatch`] adds the timestamp buffers. Both go
//! through one `recvmmsg` loop, generic over what a batch attaches to each
//! datagram's header ([`Control`]), so the plain batch compiles to a loop
//! with no timestamp code in it.

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::Duration;

use super::MAX_BATCH;

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
}

/// A [`RecvBatch`] that also reads each datagram's kernel receive time
/// ([`StampedRecvBatch::received_at`]), for a socket that has
/// [`enable_rx_timestamps`]. The load generator's: its latencies end when
/// a response arrived, however late the worker read it.
#[derive(Debug)]
pub struct StampedRecvBatch {
    batch: RecvBatch,
    stamps: Stamps,
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

/// What a batch gives `recvmmsg` for each datagram besides the data and
/// source buffers, and reads back after the call: nothing (`()`, the
/// proxy's [`RecvBatch`]) or the timestamp buffers ([`Stamps`]).
trait Control {
    /// Points the header of datagram `i` at its control buffer, if any.
    fn attach(&mut self, _i: usize, _hdr: &mut libc::msghdr) {}

    /// Reads what the kernel wrote for datagram `i`.
    fn read(&mut self, _i: usize, _hdr: &libc::msghdr) {}
}

/// No control messages.
impl Control for () {}

impl Control for Stamps {
    fn attach(&mut self, i: usize, hdr: &mut libc::msghdr) {
        hdr.msg_control = self.cmsgs[i].as_mut_ptr().cast();
        hdr.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
    }

    fn read(&mut self, i: usize, hdr: &libc::msghdr) {
        self.times[i] = timestamp_of(hdr);
    }
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
        }
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
        self.recv_control(fd, &mut ())
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
        Ok(1)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`] and its source (`None`
    /// for an address family other than IPv4/IPv6).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        let start = i * self.slot;
        (&self.data[start..start + self.lens[i]], self.srcs[i])
    }

    /// [`RecvBatch::recv`] with `control`'s buffers attached to each
    /// datagram's header and read back after the call.
    fn recv_control(&mut self, fd: RawFd, control: &mut impl Control) -> io::Result<usize> {
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
            control.attach(i, &mut m.msg_hdr);
        }
        // SAFETY: `msgs[..n]` are initialised above and point at `iovs`,
        // `self.names`, disjoint `slot`-byte regions of `self.data` and
        // (for `Stamps`) disjoint control buffers in `control`, all alive
        // and exclusively borrowed for this call; the lengths given match
        // the buffers, so the kernel writes only inside them. `fd` is a
        // socket the caller owns.
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
            control.read(i, &m.msg_hdr);
        }
        Ok(got)
    }
}

impl StampedRecvBatch {
    /// Room for `n` (1..=[`MAX_BATCH`]) datagrams of `slot` bytes, and
    /// their receive times.
    pub fn new(n: usize, slot: usize) -> StampedRecvBatch {
        StampedRecvBatch {
            batch: RecvBatch::new(n, slot),
            stamps: Stamps {
                cmsgs: [[0; CMSG_WORDS]; MAX_BATCH],
                times: [None; MAX_BATCH],
            },
        }
    }

    /// How many datagrams one [`StampedRecvBatch::recv`] may return.
    pub fn capacity(&self) -> usize {
        self.batch.capacity()
    }

    /// [`RecvBatch::recv`], also reading each datagram's receive time.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.batch.recv_control(fd, &mut self.stamps)
    }

    /// Datagram `i` of the last [`StampedRecvBatch::recv`] and its source
    /// (see [`RecvBatch::get`]).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        self.batch.get(i)
    }

    /// When the kernel received datagram `i` of the last
    /// [`StampedRecvBatch::recv`], as time since the Unix epoch on the wall
    /// clock (`CLOCK_REALTIME`, `SO_TIMESTAMPNS`). `None` unless the socket
    /// has [`enable_rx_timestamps`].
    pub fn received_at(&self, i: usize) -> Option<Duration> {
        self.stamps.times[i]
    }
}

/// Asks the kernel to stamp every datagram received on `fd` with the wall
/// clock time it arrived (`SO_TIMESTAMPNS`), which a
/// [`StampedRecvBatch`] then reads. Linux only.
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

/// The IPv4 or IPv6 address in `st` (a source from `recvmmsg`, or a
/// destination or offender from the error queue); `None` for any other
/// family.
pub(super) fn sockaddr_to_std(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
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
