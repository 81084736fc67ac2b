//! TCP connections of one worker: a slab whose keys are the connection ids
//! that go into our Via (slot index plus a generation, so a stale id never
//! reaches a reused slot), per-connection read and write buffers, and the
//! non-blocking write path with a cap on unsent bytes.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;

/// Slot bits of a connection id; the rest is the generation.
const SLOT_BITS: u32 = 20;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Most connections of one worker.
pub const MAX_SLOTS: usize = 1 << SLOT_BITS;
/// Most bytes queued for a slow peer before the connection is closed.
pub const MAX_UNSENT: usize = 4 << 20;

/// One TCP connection, accepted or opened by us.
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Bytes read and not yet framed: `rbuf[..rlen]`.
    pub rbuf: Vec<u8>,
    pub rlen: usize,
    /// Bytes to write, from `wpos`.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Outbound connect finished.
    pub connected: bool,
    /// Opened by us (in the per-upstream pool).
    pub outbound: bool,
    /// Accepted: holds a slot of the connection limits for this IP.
    pub limited: Option<IpAddr>,
    /// Coarse time (seconds) of the last whole message read or written
    /// (CR LF keep-alives do not count): the idle timeout runs from here.
    pub last_active: u64,
    /// Since when a message is awaited (the worker's monotonic
    /// milliseconds): the first byte of one not yet complete, or the accept
    /// of a connection that has sent no message yet. The message timeout
    /// runs from here.
    pub pending_since: Option<u64>,
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The connection failed.
    Io,
    /// Too many unsent bytes.
    Backlog,
}

impl Conn {
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
        rbuf_size: usize,
        connected: bool,
        now: u64,
    ) -> Conn {
        Conn {
            stream,
            peer,
            local,
            rbuf: vec![0; rbuf_size],
            rlen: 0,
            wbuf: Vec::new(),
            wpos: 0,
            connected,
            outbound: !connected,
            limited: None,
            last_active: now,
            pending_since: None,
        }
    }

    /// Writes `data` now as far as the socket takes it and queues the rest.
    pub fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        let mut off = 0;
        if self.connected && self.wpos == self.wbuf.len() {
            while off < data.len() {
                match self.stream.write(&data[off..]) {
                    Ok(0) => return Err(WriteError::Io),
                    Ok(n) => off += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(WriteError::Io),
                }
            }
            if off == data.len() {
                return Ok(());
            }
        }
        if self.wbuf.len() - self.wpos + data.len() - off > MAX_UNSENT {
            return Err(WriteError::Backlog);
        }
        self.wbuf.extend_from_slice(&data[off..]);
        Ok(())
    }

    /// Writes queued bytes until done or the socket is full.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        if !self.connected {
            return Ok(());
        }
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(WriteError::Io),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(WriteError::Io),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > 64 * 1024 {
            self.wbuf.shrink_to(64 * 1024);
        }
        Ok(())
    }

    /// Bytes waiting to be written.
    pub fn unsent(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// After a writable event on a connecting socket: `Ok(true)` once the
    /// connection is established, `Ok(false)` while still in progress.
    pub fn check_connected(&mut self) -> io::Result<bool> {
        self.connected = connect_finished(&self.stream)?;
        Ok(self.connected)
    }

    /// Reads what fits into the free part of `rbuf`. `Ok(0)`: the peer
    /// closed; `WouldBlock`: nothing more now.
    pub fn read_some(&mut self) -> io::Result<usize> {
        let n = self.stream.read(&mut self.rbuf[self.rlen..])?;
        self.rlen += n;
        Ok(n)
    }
}

/// The connections of one worker.
#[derive(Default)]
pub struct Conns {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

impl Conns {
    /// Stores `conn`; returns its id, or `None` (dropping it) when full.
    pub fn insert(&mut self, conn: Conn) -> Option<u32> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.slots.len() < MAX_SLOTS => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
            None => return None,
        };
        let s = &mut self.slots[slot as usize];
        s.conn = Some(conn);
        Some((s.generation << SLOT_BITS) | slot)
    }

    /// The slot index of an id (also its poll token offset).
    pub fn slot_of(id: u32) -> usize {
        (id & SLOT_MASK) as usize
    }

    /// The id of the connection in `slot`, if any.
    pub fn id_at(&self, slot: usize) -> Option<u32> {
        let s = self.slots.get(slot)?;
        s.conn.as_ref()?;
        Some((s.generation << SLOT_BITS) | slot as u32)
    }

    /// The connection with this id, if it is still open.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Conn> {
        let s = self.slots.get_mut(Self::slot_of(id))?;
        if s.generation != id >> SLOT_BITS {
            return None;
        }
        s.conn.as_mut()
    }

    /// Removes the connection with this id.
    pub fn remove(&mut self, id: u32) -> Option<Conn> {
        let slot = Self::slot_of(id);
        let s = self.slots.get_mut(slot)?;
        if s.generation != id >> SLOT_BITS {
            return None;
        }
        let c = s.conn.take()?;
        s.generation = (s.generation + 1) & ((1 << (32 - SLOT_BITS)) - 1);
        self.free.push(slot as u32);
        Some(c)
    }

    /// All open connections with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Conn)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.conn
                .as_ref()
                .map(|c| ((s.generation << SLOT_BITS) | i as u32, c))
        })
    }
}

/// Whether a non-blocking connect on `s` has finished: `Ok(false)` while
/// it runs, the connect's error when it failed.
pub(super) fn connect_finished(s: &TcpStream) -> io::Result<bool> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Conn {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let s = TcpStream::connect(a).unwrap();
        Conn::new(s, a, a, 16, false, 0)
    }

    #[test]
    fn stale_ids_do_not_reach_reused_slots() {
        let mut c = Conns::default();
        let a = c.insert(conn()).unwrap();
        assert!(c.get_mut(a).is_some());
        assert!(c.remove(a).is_some());
        let b = c.insert(conn()).unwrap();
        assert_eq!(Conns::slot_of(a), Conns::slot_of(b));
        assert_ne!(a, b);
        assert!(c.get_mut(a).is_none());
        assert!(c.remove(a).is_none());
        assert_eq!(c.iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![b]);
        assert_eq!(c.id_at(Conns::slot_of(b)), Some(b));
    }
}
