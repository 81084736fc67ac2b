//! RFC 3261 retransmission schedules for transactions over UDP, and a timer
//! queue cheap enough for many thousands of open transactions. No I/O.
//!
//! [`Retransmit`] is the schedule of one transaction: when to send the
//! message again and when to give up. It knows nothing about messages; the
//! call flow owns one per open transaction and asks it what a timer event
//! means. [`Timers`] is the queue those deadlines live in: one pending
//! deadline per [`TimerId`] (a call's slot), kept in a binary heap with lazy
//! cancellation by generation, compacted when stale entries pile up.

use core::cmp::Reverse;
use core::time::Duration;
use std::collections::BinaryHeap;

use super::Nanos;

/// The RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, the first retransmission interval. RFC 3261 §17.1.1.1:
    /// 500 ms.
    pub t1: Duration,
    /// The longest retransmission interval for non-INVITE requests and
    /// INVITE responses. RFC 3261 §17.1.2.2: 4 s.
    pub t2: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        }
    }
}

impl TimerConfig {
    /// Timer B / F / H: 64·T1, 32 s by default. RFC 3261 §17.1.1.2.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Which retransmission rule a transaction follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnKind {
    /// INVITE client transaction, RFC 3261 §17.1.1.2: Timer A starts at T1
    /// and doubles without a cap; Timer B gives up after 64·T1. A
    /// provisional response stops both (the call's own timeout takes over).
    Invite,
    /// Non-INVITE client transaction, RFC 3261 §17.1.2.2: Timer E starts at
    /// T1 and doubles up to T2 (after a provisional response: T2); Timer F
    /// gives up after 64·T1.
    NonInvite,
    /// A UAS's final response to an INVITE, sent again until the ACK comes:
    /// RFC 3261 §13.3.1.4 (2xx) and §17.2.1 Timers G/H (other codes). T1
    /// doubling up to T2, giving up after 64·T1.
    InviteResponse,
}

/// What a timer event means for a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    /// Send the message again (a retransmission, not a first transmission).
    Retransmit,
    /// Timer B/F/H: the transaction failed; it is now stopped.
    Timeout,
    /// Nothing is due yet (an early or stale wakeup).
    Idle,
}

/// The retransmission schedule of one transaction. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retransmit {
    kind: TxnKind,
    t2: Duration,
    interval: Duration,
    next: Option<Nanos>,
    timeout: Option<Nanos>,
    proceeding: bool,
    retransmits: u32,
}

impl Retransmit {
    /// The schedule of a transaction whose first transmission goes out at
    /// `now`. Over a `reliable` transport (TCP) nothing is retransmitted;
    /// only the 64·T1 timeout applies (RFC 3261 §17.1.1.2, §17.1.2.2).
    pub fn start(kind: TxnKind, now: Nanos, config: &TimerConfig, reliable: bool) -> Retransmit {
        Retransmit {
            kind,
            t2: config.t2,
            interval: config.t1,
            next: if reliable {
                None
            } else {
                Some(now + config.t1)
            },
            timeout: Some(now + config.timeout()),
            proceeding: false,
            retransmits: 0,
        }
    }

    /// The earliest pending deadline (retransmission or timeout); `None`
    /// once stopped.
    pub fn deadline(&self) -> Option<Nanos> {
        match (self.next, self.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due at `now`. A retransmission reschedules the next one
    /// (Timer A doubles; Timers E/G double up to T2); a timeout stops the
    /// schedule. The timeout wins when both are due.
    pub fn on_timer(&mut self, now: Nanos) -> Fire {
        if self.timeout.is_some_and(|t| t <= now) {
            self.stop();
            return Fire::Timeout;
        }
        match self.next {
            Some(t) if t <= now => {
                self.interval = match self.kind {
                    TxnKind::Invite => self.interval * 2,
                    _ if self.proceeding => self.t2,
                    _ => (self.interval * 2).min(self.t2),
                };
                self.next = Some(now + self.interval);
                self.retransmits += 1;
                Fire::Retransmit
            }
            _ => Fire::Idle,
        }
    }

    /// A provisional response arrived. INVITE: the transaction is
    /// Proceeding and neither retransmits nor times out any more (RFC 3261
    /// §17.1.1.2). Non-INVITE: later retransmissions are T2 apart (RFC 3261
    /// §17.1.2.2). No effect on [`TxnKind::InviteResponse`].
    pub fn on_provisional(&mut self) {
        match self.kind {
            TxnKind::Invite => self.stop(),
            TxnKind::NonInvite => self.proceeding = true,
            TxnKind::InviteResponse => {}
        }
    }

    /// Stops the schedule (final response, or ACK, received).
    pub fn stop(&mut self) {
        self.next = None;
        self.timeout = None;
    }

    /// True while a retransmission or the timeout is pending.
    pub fn is_active(&self) -> bool {
        self.deadline().is_some()
    }

    /// Retransmissions so far (the first transmission not included).
    pub fn retransmits(&self) -> u32 {
        self.retransmits
    }

    /// The rule this schedule follows.
    pub fn kind(&self) -> TxnKind {
        self.kind
    }
}

/// The key of a pending deadline in [`Timers`]: normally a call's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u32);

/// A queue of deadlines, at most one pending per [`TimerId`].
///
/// Setting or cancelling is O(log n) / O(1): the old heap entry is left in
/// place and recognised as stale by its generation when it surfaces. When
/// stale entries outnumber live ones the heap is rebuilt, so memory stays
/// proportional to the number of armed timers. Ties fire in id order.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot>,
    armed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: u64,
    id: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    generation: u32,
    at: Option<Nanos>,
}

/// Rebuild the heap when it holds more than this many entries beyond twice
/// the armed count.
const COMPACT_SLACK: usize = 1024;

impl Timers {
    /// An empty queue.
    pub fn new() -> Timers {
        Timers::default()
    }

    /// An empty queue with room for `ids` distinct ids.
    pub fn with_capacity(ids: usize) -> Timers {
        Timers {
            heap: BinaryHeap::with_capacity(ids * 2),
            slots: Vec::with_capacity(ids),
            armed: 0,
        }
    }

    /// Arms `id` to fire at `at`, replacing its pending deadline if any.
    pub fn set(&mut self, id: TimerId, at: Nanos) {
        let index = id.0 as usize;
        if index >= self.slots.len() {
            self.slots.resize(index + 1, Slot::default());
        }
        let slot = &mut self.slots[index];
        if slot.at == Some(at) {
            return;
        }
        if slot.at.is_none() {
            self.armed += 1;
        }
        slot.generation = slot.generation.wrapping_add(1);
        slot.at = Some(at);
        self.heap.push(Reverse(Entry {
            at: at.0,
            id: id.0,
            generation: slot.generation,
        }));
        self.maybe_compact();
    }

    /// Arms `id` at `at`, or disarms it for `None`.
    pub fn set_opt(&mut self, id: TimerId, at: Option<Nanos>) {
        match at {
            Some(at) => self.set(id, at),
            None => self.cancel(id),
        }
    }

    /// Disarms `id`; nothing happens if it is not armed.
    pub fn cancel(&mut self, id: TimerId) {
        if let Some(slot) = self.slots.get_mut(id.0 as usize) {
            if slot.at.take().is_some() {
                slot.generation = slot.generation.wrapping_add(1);
                self.armed -= 1;
            }
        }
    }

    /// The pending deadline of `id`.
    pub fn deadline_of(&self, id: TimerId) -> Option<Nanos> {
        self.slots.get(id.0 as usize).and_then(|s| s.at)
    }

    /// The earliest pending deadline: when the caller should poll next.
    pub fn next_deadline(&mut self) -> Option<Nanos> {
        self.drop_stale();
        self.heap.peek().map(|e| Nanos(e.0.at))
    }

    /// Takes the earliest timer due at or before `now`, disarming it. Call
    /// repeatedly until `None`.
    pub fn poll(&mut self, now: Nanos) -> Option<TimerId> {
        self.drop_stale();
        let top = self.heap.peek()?.0;
        if top.at > now.0 {
            return None;
        }
        self.heap.pop();
        self.slots[top.id as usize].at = None;
        self.armed -= 1;
        Some(TimerId(top.id))
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.armed
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.armed == 0
    }

    fn is_live(slots: &[Slot], e: &Entry) -> bool {
        let slot = &slots[e.id as usize];
        slot.generation == e.generation && slot.at.is_some()
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse(e)) = self.heap.peek() {
            if Timers::is_live(&self.slots, e) {
                break;
            }
            self.heap.pop();
        }
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 2 * self.armed + COMPACT_SLACK {
            let slots = &self.slots;
            self.heap.retain(|Reverse(e)| Timers::is_live(slots, e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    /// Drives a schedule to its end, waking exactly at each deadline;
    /// returns the retransmission times and the timeout time (ms).
    fn run(mut r: Retransmit) -> (Vec<u64>, Option<u64>) {
        let mut sent = Vec::new();
        while let Some(t) = r.deadline() {
            match r.on_timer(t) {
                Fire::Retransmit => sent.push(t.0 / 1_000_000),
                Fire::Timeout => return (sent, Some(t.0 / 1_000_000)),
                Fire::Idle => panic!("idle at its own deadline"),
            }
        }
        (sent, None)
    }

    #[test]
    fn timer_a_doubles_until_timer_b() {
        let r = Retransmit::start(TxnKind::Invite, ms(0), &TimerConfig::default(), false);
        let (sent, timeout) = run(r);
        assert_eq!(sent, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(timeout, Some(32_000));
    }

    #[test]
    fn timer_e_caps_at_t2_until_timer_f() {
        let r = Retransmit::start(TxnKind::NonInvite, ms(1000), &TimerConfig::default(), false);
        let (sent, timeout) = run(r);
        assert_eq!(
            sent,
            vec![1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500]
        );
        assert_eq!(timeout, Some(33_000));
        let r = Retransmit::start(
            TxnKind::InviteResponse,
            ms(0),
            &TimerConfig::default(),
            false,
        );
        assert_eq!(run(r).0.len(), 10);
    }

    #[test]
    fn provisional_responses() {
        let cfg = TimerConfig::default();
        let mut r = Retransmit::start(TxnKind::Invite, ms(0), &cfg, false);
        assert_eq!(r.on_timer(ms(500)), Fire::Retransmit);
        r.on_provisional();
        assert!(!r.is_active());
        assert_eq!(r.on_timer(ms(40_000)), Fire::Idle);
        assert_eq!(r.retransmits(), 1);

        // Non-INVITE: Proceeding retransmits every T2, F still applies.
        let mut r = Retransmit::start(TxnKind::NonInvite, ms(0), &cfg, false);
        r.on_provisional();
        assert_eq!(r.deadline(), Some(ms(500)));
        assert_eq!(r.on_timer(ms(500)), Fire::Retransmit);
        assert_eq!(r.deadline(), Some(ms(4500)));
        let (sent, timeout) = run(r);
        assert_eq!(sent, vec![4500, 8500, 12500, 16500, 20500, 24500, 28500]);
        assert_eq!(timeout, Some(32_000));
    }

    #[test]
    fn early_and_late_wakeups() {
        let cfg = TimerConfig::default();
        let mut r = Retransmit::start(TxnKind::Invite, ms(0), &cfg, false);
        assert_eq!(r.on_timer(ms(499)), Fire::Idle);
        // Late by 100 ms: the next interval counts from the actual firing.
        assert_eq!(r.on_timer(ms(600)), Fire::Retransmit);
        assert_eq!(r.deadline(), Some(ms(1600)));
        // Both due: the timeout wins and stops everything.
        assert_eq!(r.on_timer(ms(50_000)), Fire::Timeout);
        assert_eq!(r.deadline(), None);
        assert_eq!(r.retransmits(), 1);
    }

    #[test]
    fn reliable_transport_only_times_out() {
        let cfg = TimerConfig {
            t1: Duration::from_millis(100),
            t2: Duration::from_secs(4),
        };
        assert_eq!(cfg.timeout(), Duration::from_millis(6400));
        let r = Retransmit::start(TxnKind::NonInvite, ms(0), &cfg, true);
        assert_eq!(run(r), (vec![], Some(6400)));
    }

    #[test]
    fn stop_on_final_response() {
        let mut r = Retransmit::start(TxnKind::NonInvite, ms(0), &TimerConfig::default(), false);
        r.stop();
        assert!(!r.is_active());
        assert_eq!(r.on_timer(ms(100_000)), Fire::Idle);
        assert_eq!(r.kind(), TxnKind::NonInvite);
    }

    #[test]
    fn queue_order_replace_and_cancel() {
        let mut q = Timers::new();
        assert_eq!(q.next_deadline(), None);
        q.set(TimerId(3), ms(30));
        q.set(TimerId(1), ms(10));
        q.set(TimerId(2), ms(10));
        q.set(TimerId(4), ms(5));
        q.set(TimerId(4), ms(40)); // replaces 5
        q.cancel(TimerId(2));
        q.cancel(TimerId(2));
        q.cancel(TimerId(99));
        assert_eq!(q.len(), 3);
        assert_eq!(q.deadline_of(TimerId(4)), Some(ms(40)));
        assert_eq!(q.deadline_of(TimerId(2)), None);
        assert_eq!(q.next_deadline(), Some(ms(10)));
        assert_eq!(q.poll(ms(9)), None);
        assert_eq!(q.poll(ms(35)), Some(TimerId(1)));
        assert_eq!(q.poll(ms(35)), Some(TimerId(3)));
        assert_eq!(q.poll(ms(35)), None);
        assert_eq!(q.next_deadline(), Some(ms(40)));
        q.set_opt(TimerId(4), None);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
        // Re-arming a fired id works; equal deadlines fire in id order.
        q.set(TimerId(1), ms(50));
        q.set_opt(TimerId(0), Some(ms(50)));
        assert_eq!(q.poll(ms(50)), Some(TimerId(0)));
        assert_eq!(q.poll(ms(50)), Some(TimerId(1)));
        assert_eq!(q.poll(ms(50)), None);
    }

    #[test]
    fn stale_entries_are_compacted() {
        let mut q = Timers::with_capacity(10);
        for i in 0..100_000u64 {
            q.set(TimerId((i % 10) as u32), Nanos(1_000_000 - i));
        }
        assert_eq!(q.len(), 10);
        assert!(q.heap.len() <= 2 * 10 + COMPACT_SLACK + 1);
        let mut fired = Vec::new();
        while let Some(id) = q.poll(ms(1)) {
            fired.push(id.0);
        }
        assert_eq!(fired, vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert!(q.is_empty());
    }

    #[test]
    fn many_transactions() {
        // 50_000 INVITE transactions started 20 µs apart, none answered:
        // every one retransmits 6 times and times out once.
        let cfg = TimerConfig::default();
        let mut txns: Vec<Retransmit> = Vec::new();
        let mut q = Timers::with_capacity(50_000);
        for i in 0..50_000u32 {
            let r = Retransmit::start(
                TxnKind::Invite,
                Nanos::from_micros(20 * i as u64),
                &cfg,
                false,
            );
            q.set_opt(TimerId(i), r.deadline());
            txns.push(r);
        }
        let (mut retransmits, mut timeouts) = (0, 0);
        while let Some(now) = q.next_deadline() {
            while let Some(id) = q.poll(now) {
                let r = &mut txns[id.0 as usize];
                match r.on_timer(now) {
                    Fire::Retransmit => retransmits += 1,
                    Fire::Timeout => timeouts += 1,
                    Fire::Idle => panic!("idle"),
                }
                q.set_opt(id, r.deadline());
            }
        }
        assert_eq!((retransmits, timeouts), (300_000, 50_000));
    }
}
