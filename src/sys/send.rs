//! `sendmmsg` from reused buffers owned by safe Rust.
//!
//! A [`SendBatch`] sends each datagram to its own address (the proxy's
//! workers, the bench UAS); a [`ConnectedSendBatch`] gives the kernel no
//! address, so every datagram goes to the peer of the connected socket it is
//! flushed on (the bench UAC's legs). They are one type, generic over the
//! [`Destination`] kept per datagram, with one `sendmmsg` loop; the proxy's
//! keeps plain addresses. A datagram refused with the pending error an
//! earlier datagram's ICMP message left on the socket is sent once more
//! (see [`SendBatch::flush`]).

use std::io;
use std::mem::{zeroed, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::RawFd;

use socket2::SockAddr;

use super::MAX_BATCH;

/// Outgoing datagrams collected for one `sendmmsg`. Each slot is a reused
/// `Vec<u8>` that the caller writes into directly. `D` says where each
/// datagram goes: its own address (the default) or, for a
/// [`ConnectedSendBatch`], the socket's peer.
#[derive(Debug)]
pub struct SendBatch<D = SockAddr> {
    bufs: Vec<Vec<u8>>,
    dests: Vec<D>,
    len: usize,
}

/// A [`SendBatch`] for a connected socket: no address per datagram (the
/// kernel uses the socket's peer and cached route).
pub type ConnectedSendBatch = SendBatch<Connected>;

/// Where a datagram of a [`SendBatch`] goes.
pub trait Destination {
    /// The address given to `sendmmsg`; `None` for the socket's peer.
    fn addr(&self) -> Option<&SockAddr>;
}

/// The peer of the connected socket a [`ConnectedSendBatch`] is flushed on.
#[derive(Debug, Clone, Copy)]
pub struct Connected;

impl Destination for SockAddr {
    #[inline]
    fn addr(&self) -> Option<&SockAddr> {
        Some(self)
    }
}

impl Destination for Connected {
    #[inline]
    fn addr(&self) -> Option<&SockAddr> {
        None
    }
}

impl<D: Destination> SendBatch<D> {
    /// Room for `n` (1..=[`MAX_BATCH`]) datagrams.
    pub fn new(n: usize) -> SendBatch<D> {
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
    /// [`SendBatch::commit`] or [`SendBatch::commit_connected`] to queue
    /// it). Panics when full.
    pub fn next_buf(&mut self) -> &mut Vec<u8> {
        &mut self.bufs[self.len]
    }

    fn push(&mut self, dest: D) {
        self.dests.push(dest);
        self.len += 1;
    }

    /// Sends everything queued on `fd` (`sendmmsg`, `MSG_DONTWAIT`) and
    /// empties the batch. Returns (sent, failed): a datagram the kernel
    /// refuses is skipped and counted as failed.
    ///
    /// A datagram refused with an error an ICMP message could have left
    /// pending on the socket (`ECONNREFUSED`, `EHOSTUNREACH`, ...: see
    /// `is_async_icmp_error`) is sent once more before it counts as failed:
    /// on a socket with [`super::enable_recverr`] the kernel fails the first
    /// datagram of the next send with the error of an earlier one to
    /// another destination, and drops it.
    pub fn flush(&mut self, fd: RawFd) -> (usize, usize) {
        self.flush_each(fd, |_, _| {})
    }

    /// [`SendBatch::flush`], also telling `on_error` the queue index (in
    /// the order committed) and error of each refused datagram (once, after
    /// the retry that an asynchronous ICMP error gets).
    pub fn flush_each(
        &mut self,
        fd: RawFd,
        mut on_error: impl FnMut(usize, &io::Error),
    ) -> (usize, usize) {
        let (mut sent, mut failed) = (0, 0);
        // The datagram already sent again after an asynchronous error.
        let mut retried = None;
        while sent + failed < self.len {
            let from = sent + failed;
            match self.send_from(fd, from) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_async_icmp_error(&e) && retried != Some(from) => {
                    retried = Some(from);
                }
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

    fn send_from(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let n = self.len - from;
        // Only the first `n` entries are written (see `RecvBatch::recv` in `recv.rs`).
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
            if let Some(dest) = dest.addr() {
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

impl SendBatch {
    /// Queues the datagram written into [`SendBatch::next_buf`] for `dest`.
    pub fn commit(&mut self, dest: SocketAddr) {
        self.push(SockAddr::from(dest));
    }

    /// Sends everything queued one datagram at a time with `f` (plain
    /// `sendto`, for a batch of 1) and empties the batch. Returns how many
    /// failed. As in [`SendBatch::flush`], a datagram refused with an
    /// asynchronous ICMP error is sent once more before it counts.
    pub fn flush_with(
        &mut self,
        mut f: impl FnMut(&[u8], SocketAddr) -> io::Result<usize>,
    ) -> usize {
        let mut failed = 0;
        for i in 0..self.len {
            if let Some(dest) = self.dests[i].as_socket() {
                let mut r = f(&self.bufs[i], dest);
                if matches!(&r, Err(e) if is_async_icmp_error(e)) {
                    r = f(&self.bufs[i], dest);
                }
                if r.is_err() {
                    failed += 1;
                }
            }
        }
        self.len = 0;
        self.dests.clear();
        failed
    }
}

impl ConnectedSendBatch {
    /// Queues the datagram written into [`SendBatch::next_buf`] for the
    /// peer of the connected socket it will be flushed on.
    pub fn commit_connected(&mut self) {
        self.push(Connected);
    }
}

/// Whether a send failed with an error that an ICMP message about an
/// earlier datagram may have left pending on the socket (`sk_err`), rather
/// than one about this datagram. With `IP_RECVERR`/`IPV6_RECVERR` on, Linux
/// makes every queued ICMP error the socket's pending error, and the next
/// send on the socket, to any destination, fails with it and does not go
/// out (the call consumes the error). These are the errors the kernel maps
/// ICMP and ICMPv6 messages to (`icmp_err_convert`,
/// `icmpv6_err_convert`), plus the link-down ones: a datagram refused with
/// one is worth one more try, which fails again only if the error is its
/// own.
fn is_async_icmp_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::ENETDOWN
                | libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::EOPNOTSUPP
                | libc::ENONET
                | libc::EACCES
                | libc::EMSGSIZE
        )
    )
}
