//! The socket error queue (`IP_RECVERR`/`IPV6_RECVERR`, `MSG_ERRQUEUE`):
//! the ICMP errors (port or host unreachable, ...) the kernel received for
//! datagrams an unconnected UDP socket sent, read back as [`QueuedError`]s
//! so a worker learns which destination is dead (passive health
//! detection).
//!
//! Without [`enable_recverr`] an unconnected UDP socket drops these errors.
//! With it (Linux, as seen on 6.x):
//! - the kernel queues one entry per error, charged to the socket's
//!   receive buffer: an undrained queue fills it (about 255 entries fill
//!   208 KiB) and the socket then drops incoming datagrams, so
//!   the owner must drain it with [`read_errqueue`] whenever the socket
//!   reports an error (`POLLERR`/`EPOLLERR`, which stays up while the queue
//!   is not empty);
//! - each error also becomes the socket's pending error, which the next
//!   send (see `send.rs`) or receive on it returns once instead of its
//!   result: a `recvmmsg` then fails with, say, `ECONNREFUSED` although
//!   datagrams are waiting, and the next call returns them. Reading the
//!   queue empty clears the pending error; reading part of it sets it
//!   again to the next entry's error.

use std::fmt;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;

use super::recv::sockaddr_to_std;

/// Control-message room for one queued error, in 8-byte words (8-byte
/// words keep it aligned as `cmsghdr` requires): a 16-byte header, the
/// 16-byte `sock_extended_err` and a 28-byte `sockaddr_in6` need 64 bytes;
/// 256 leave room for any other message the kernel adds.
const CMSG_WORDS: usize = 32;

/// Where a queued error came from (`ee_origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrOrigin {
    /// The local stack (`SO_EE_ORIGIN_LOCAL`), e.g. a datagram larger than
    /// the path MTU with `IP_PMTUDISC_DO`.
    Local,
    /// An ICMP message (`SO_EE_ORIGIN_ICMP`).
    Icmp,
    /// An ICMPv6 message (`SO_EE_ORIGIN_ICMP6`).
    Icmp6,
    /// Any other origin (none, transmit timestamps, zero-copy
    /// completions), by its number.
    Other(u8),
}

impl ErrOrigin {
    fn from_raw(origin: u8) -> ErrOrigin {
        match origin {
            libc::SO_EE_ORIGIN_LOCAL => ErrOrigin::Local,
            libc::SO_EE_ORIGIN_ICMP => ErrOrigin::Icmp,
            libc::SO_EE_ORIGIN_ICMP6 => ErrOrigin::Icmp6,
            other => ErrOrigin::Other(other),
        }
    }
}

/// One entry of a socket's error queue: a datagram the socket sent that
/// failed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedError {
    /// Where the failed datagram was going (`msg_name`); `None` if the
    /// kernel gave no IPv4/IPv6 address.
    pub dest: Option<SocketAddr>,
    /// The error (`ee_errno`), e.g. `ECONNREFUSED` for port unreachable,
    /// `EHOSTUNREACH` for host unreachable.
    pub errno: i32,
    /// Who reported it (`ee_origin`).
    pub origin: ErrOrigin,
    /// The ICMP or ICMPv6 type (`ee_type`); 0 for a local error.
    pub icmp_type: u8,
    /// The ICMP or ICMPv6 code (`ee_code`); 0 for a local error.
    pub icmp_code: u8,
    /// The host that sent the ICMP message (`SO_EE_OFFENDER`): the
    /// destination itself or a router on the way; `None` for a local
    /// error.
    pub offender: Option<IpAddr>,
}

impl QueuedError {
    /// A short phrase for logs: "ICMP port unreachable", "ICMPv6 address
    /// unreachable", ..., or the text of [`QueuedError::errno`] when the
    /// error is not an ICMP message this knows.
    pub fn describe(&self) -> String {
        self.to_string()
    }

    /// The ICMP or ICMPv6 message's name, if it is one this knows.
    fn icmp_phrase(&self) -> Option<(&'static str, &'static str)> {
        let (t, c) = (self.icmp_type, self.icmp_code);
        match self.origin {
            ErrOrigin::Icmp => Some((
                "ICMP",
                match (t, c) {
                    (3, 0) => "net unreachable",
                    (3, 1) => "host unreachable",
                    (3, 2) => "protocol unreachable",
                    (3, 3) => "port unreachable",
                    (3, 4) => "fragmentation needed",
                    (3, 5) => "source route failed",
                    (3, 6) => "destination network unknown",
                    (3, 7) => "destination host unknown",
                    (3, 9 | 10 | 13) => "administratively prohibited",
                    (3, _) => "destination unreachable",
                    (11, _) => "time exceeded",
                    (12, _) => "parameter problem",
                    _ => return None,
                },
            )),
            ErrOrigin::Icmp6 => Some((
                "ICMPv6",
                match (t, c) {
                    (1, 0) => "no route to destination",
                    (1, 1) => "administratively prohibited",
                    (1, 3) => "address unreachable",
                    (1, 4) => "port unreachable",
                    (1, 5) => "source address failed policy",
                    (1, 6) => "reject route",
                    (1, _) => "destination unreachable",
                    (2, _) => "packet too big",
                    (3, _) => "time exceeded",
                    (4, _) => "parameter problem",
                    _ => return None,
                },
            )),
            ErrOrigin::Local | ErrOrigin::Other(_) => None,
        }
    }
}

impl fmt::Display for QueuedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.icmp_phrase() {
            Some((proto, what)) => write!(f, "{proto} {what}"),
            None => io::Error::from_raw_os_error(self.errno).fmt(f),
        }
    }
}

/// Asks the kernel to queue the errors of datagrams sent on `fd` (ICMP
/// unreachable and the like) for [`read_errqueue`]: `IP_RECVERR` on an
/// IPv4 socket, `IPV6_RECVERR` on an IPv6 one (`ipv6`; the proxy's are
/// `IPV6_V6ONLY`). Also makes each such error the socket's pending error
/// (see the module docs). Linux only.
pub fn enable_recverr(fd: RawFd, ipv6: bool) -> io::Result<()> {
    let (level, name) = if ipv6 {
        (libc::SOL_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::SOL_IP, libc::IP_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid `c_int` that outlives the call, which only
    // reads `size_of::<c_int>()` bytes of it. `fd` is a socket the caller
    // owns.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
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

/// Reads up to `max` entries of `fd`'s error queue without blocking
/// (`recvmsg` with `MSG_ERRQUEUE | MSG_DONTWAIT`, the failed datagram's
/// payload discarded) and calls `f` for each. Returns how many it passed to
/// `f`: fewer than `max` means the queue was empty (0 on a socket without
/// [`enable_recverr`]).
///
/// Reading the last queued ICMP error also clears the socket's pending
/// error (stopping at `max` with more queued leaves one pending). An entry without an IPv4/IPv6 extended error (none is expected on
/// a UDP socket) is taken off the queue and skipped. On an error other than
/// "queue empty" the entries already passed to `f` stay handled and the
/// error is returned.
pub fn read_errqueue(fd: RawFd, max: usize, mut f: impl FnMut(QueuedError)) -> io::Result<usize> {
    let mut reported = 0;
    let mut reads = 0;
    while reads < max {
        match read_one(fd) {
            Ok(Some(e)) => {
                f(e);
                reported += 1;
            }
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        reads += 1;
    }
    Ok(reported)
}

/// One `recvmsg(MSG_ERRQUEUE)`: `Ok(None)` for an entry with no extended
/// error in it.
fn read_one(fd: RawFd) -> io::Result<Option<QueuedError>> {
    // The payload (the start of the failed datagram) is not needed: the
    // kernel copies what fits and sets MSG_TRUNC.
    let mut payload = [0u8; 8];
    let mut control = [0u64; CMSG_WORDS];
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: all-zero bytes are a valid value of this plain C struct.
    let mut hdr: libc::msghdr = unsafe { zeroed() };
    hdr.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
    // SAFETY: `hdr` points at `name`, `iov` (which points at `payload`) and
    // `control`, all alive and exclusively borrowed for the call, with
    // lengths that match them, so the kernel writes only inside them. `fd`
    // is a socket the caller owns.
    let r = unsafe { libc::recvmsg(fd, &mut hdr, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let Some((ee, offender)) = extended_error(&hdr) else {
        return Ok(None);
    };
    let dest = whole_addr(&name, hdr.msg_namelen as usize);
    Ok(Some(QueuedError {
        dest,
        errno: i32::try_from(ee.ee_errno).unwrap_or(i32::MAX),
        origin: ErrOrigin::from_raw(ee.ee_origin),
        icmp_type: ee.ee_type,
        icmp_code: ee.ee_code,
        offender,
    }))
}

/// The first `IP_RECVERR`/`IPV6_RECVERR` control message of `hdr` (as
/// filled in by `recvmsg`): the extended error and its offender address.
fn extended_error(hdr: &libc::msghdr) -> Option<(libc::sock_extended_err, Option<IpAddr>)> {
    if hdr.msg_control.is_null() {
        return None;
    }
    let base = hdr.msg_control as usize;
    // `msg_controllen` is a `usize` on glibc, a `socklen_t` on musl.
    #[allow(clippy::unnecessary_cast)]
    let end = base.saturating_add(hdr.msg_controllen as usize);
    // SAFETY: `hdr` is a header `recvmsg` just filled in: `msg_control`
    // points at a live, 8-byte aligned buffer of which the kernel wrote
    // `msg_controllen` bytes of control messages. `CMSG_FIRSTHDR` and
    // `CMSG_NXTHDR` return null or a header that lies inside those bytes;
    // `CMSG_LEN(0)` only computes a length. Every read of the data after a
    // header is bounded by both its `cmsg_len` and the end of the written
    // bytes (`end`), and is unaligned (`CMSG_DATA` promises no alignment).
    unsafe {
        let header = libc::CMSG_LEN(0) as usize;
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
            if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
                || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
            {
                let data = libc::CMSG_DATA(c);
                let in_buffer = end.saturating_sub(data as usize);
                let len = ((*c).cmsg_len as usize)
                    .saturating_sub(header)
                    .min(in_buffer);
                let ee_len = size_of::<libc::sock_extended_err>();
                if len < ee_len {
                    return None;
                }
                let ee = std::ptr::read_unaligned(data.cast::<libc::sock_extended_err>());
                // The offender (`SO_EE_OFFENDER`) follows the extended
                // error: copy what the kernel wrote of it into zeroed
                // storage (a family of 0, `AF_UNSPEC`, when there is none).
                let mut st: libc::sockaddr_storage = zeroed();
                let n = (len - ee_len).min(size_of::<libc::sockaddr_storage>());
                std::ptr::copy_nonoverlapping(
                    data.add(ee_len),
                    (&mut st as *mut libc::sockaddr_storage).cast::<u8>(),
                    n,
                );
                return Some((ee, whole_addr(&st, n).map(|a| a.ip())));
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    None
}

/// The IPv4 or IPv6 address in `st` if the kernel wrote all `len` bytes of
/// its family's `sockaddr` there; `None` for another family or a short one.
fn whole_addr(st: &libc::sockaddr_storage, len: usize) -> Option<SocketAddr> {
    let need = match st.ss_family as libc::c_int {
        libc::AF_INET => size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => size_of::<libc::sockaddr_in6>(),
        _ => return None,
    };
    if len < need {
        return None;
    }
    sockaddr_to_std(st)
}
