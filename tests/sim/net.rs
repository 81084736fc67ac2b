//! The network: a virtual clock and a queue of datagrams, each delivered
//! after a random delay (so they reorder), lost or duplicated by chance.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::rng::Rng;

/// One datagram in flight.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Sender.
    pub from: SocketAddr,
    /// Receiver.
    pub to: SocketAddr,
    /// Payload.
    pub bytes: Vec<u8>,
}

/// The lossy network.
#[derive(Debug)]
pub struct Net {
    rng: Rng,
    loss: u64,
    dup: u64,
    max_delay: u64,
    /// Virtual time, ms.
    pub now: u64,
    queue: BinaryHeap<Reverse<(u64, usize)>>,
    slots: Vec<Option<Datagram>>,
    /// Datagrams handed to the network.
    pub sent: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
}

impl Net {
    /// A network with loss and duplication in ‰ and delays in 1..=max_delay.
    pub fn new(seed: u64, loss: u64, dup: u64, max_delay: u64) -> Net {
        Net {
            rng: super::rng::Rng::new(seed ^ 0x0e70_0e70),
            loss,
            dup,
            max_delay,
            now: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            sent: 0,
            lost: 0,
            duplicated: 0,
        }
    }

    /// Sends a datagram; returns false when the network lost it.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) -> bool {
        self.sent += 1;
        if self.rng.chance(self.loss) {
            self.lost += 1;
            return false;
        }
        if self.rng.chance(self.dup) {
            self.duplicated += 1;
            self.enqueue(Datagram {
                from,
                to,
                bytes: bytes.clone(),
            });
        }
        self.enqueue(Datagram { from, to, bytes });
        true
    }

    fn enqueue(&mut self, d: Datagram) {
        let at = self.now + self.rng.range(1, self.max_delay);
        self.queue.push(Reverse((at, self.slots.len())));
        self.slots.push(Some(d));
    }

    /// When the next datagram arrives.
    pub fn next_arrival(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes the next datagram, advancing the clock to its arrival.
    pub fn pop(&mut self) -> Option<Datagram> {
        let Reverse((t, i)) = self.queue.pop()?;
        self.now = self.now.max(t);
        self.slots[i].take()
    }
}
