//! Batched datagram syscalls (`recvmmsg`, `sendmmsg`), `SCHED_BATCH`,
//! kernel receive timestamps and the socket error queue: the one module of
//! the crate that uses `unsafe`. Its users are the proxy's workers
//! ([`crate::net`]) and the load generator's I/O shell
//! ([`crate::bench::io`]); everything else goes through mio and socket2.
//!
//! The buffers are owned by safe Rust ([`RecvBatch`], [`StampedRecvBatch`],
//! [`SendBatch`]); the kernel's `mmsghdr` arrays pointing into them are
//! built on the stack for the duration of one call, so no raw pointer
//! outlives the borrow it came from and the types stay `Send`. What only
//! the load generator needs (receive timestamps) has its own type, so the
//! proxy's receive path carries none of it.
//!
//! One file per concern: `recv.rs` (`recvmmsg` into reused buffers, and
//! the kernel receive timestamps), `send.rs` (`sendmmsg` from reused
//! buffers), `errqueue.rs` (`IP_RECVERR`/`IPV6_RECVERR` and the socket
//! error queue: the ICMP errors of sent datagrams, for passive health
//! detection), and here the thread's scheduling policy.
#![allow(unsafe_code)]

mod errqueue;
mod recv;
mod send;

use std::io;

pub use errqueue::{enable_recverr, read_errqueue, ErrOrigin, QueuedError};
pub use recv::{enable_rx_timestamps, RecvBatch, StampedRecvBatch};
pub use send::{Connected, ConnectedSendBatch, Destination, SendBatch};

/// Most datagrams one call moves.
pub const MAX_BATCH: usize = 64;

/// Returns the heap memory the allocator holds free to the system
/// (glibc's `malloc_trim`): after a routing table of a million prefixes is
/// rebuilt and the old one dropped, glibc would otherwise keep the freed
/// pages resident. Costs a walk of the heap; call it off the message path.
/// Does nothing on other C libraries.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it
    // takes the allocator's own locks, reads no memory of ours and is safe
    // to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
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

#[cfg(test)]
mod tests;
