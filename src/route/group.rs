//! Destination groups and their members, and the weighted rendezvous
//! (highest-random-weight) hashing over the available members that the
//! `hash` and `priority` algorithms use ([`super::balance`] has the
//! others). No I/O.
//!
//! For a call with hash `c` and a destination with key `k` and weight `w`,
//! the score is `w / -ln(u)` where `u` in (0, 1) is derived from
//! `mix(c ^ k)` ([`super::hash`]). The highest score wins. This is the
//! logarithmic method for weighted rendezvous hashing: the winner is
//! destination `i` with probability `w_i / Σ w`, and adding or removing a
//! destination only moves the calls that it wins or held. Scores depend on
//! nothing but the call and the destination itself, so:
//!
//! * every message of a call goes to the same destination;
//! * adding one of N destinations moves about 1/N of the calls, all to it;
//! * an unhealthy destination is skipped, so only its calls move, each to
//!   the destination with the next-highest score, and they come back when it
//!   recovers.
//!
//! When all weights in a group are equal the score order equals the order
//! of the raw 64-bit hashes, and `pick` skips the logarithm.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::sip::Transport;

use super::balance::Algorithm;
use super::group_spec::{ProbeSpec, WhenDown};
use super::hash::{destination_key, neg_ln_unit, score_hash, CallHash};

/// The health flags of one upstream, shared by every group (and, through
/// [`TableBuilder::inherit_health`](super::TableBuilder::inherit_health),
/// every table generation) that lists it: down (written by the prober) and
/// drained at run time (by the control endpoint), in one byte so a worker
/// reads both with one relaxed load. A worker may see a change a few
/// messages late, which is harmless.
#[derive(Debug)]
pub struct Health {
    flags: AtomicU8,
}

const DOWN: u8 = 1;
const DRAINED: u8 = 2;

impl Health {
    /// A flag in the given state, not drained.
    pub fn new(up: bool) -> Health {
        Health {
            flags: AtomicU8::new(if up { 0 } else { DOWN }),
        }
    }

    /// True when the upstream is up (drained or not).
    #[inline]
    pub fn is_up(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & DOWN == 0
    }

    /// True when the upstream is up and not drained at run time.
    #[inline]
    pub fn is_usable(&self) -> bool {
        self.flags.load(Ordering::Relaxed) == 0
    }

    /// True when the upstream was drained at run time.
    pub fn is_drained(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & DRAINED != 0
    }

    /// Marks the upstream up or down; returns the previous state.
    pub fn set(&self, up: bool) -> bool {
        let old = if up {
            self.flags.fetch_and(!DOWN, Ordering::Relaxed)
        } else {
            self.flags.fetch_or(DOWN, Ordering::Relaxed)
        };
        old & DOWN == 0
    }

    /// Drains the upstream at run time (no new requests), or ends that;
    /// returns whether it was drained.
    pub fn set_drained(&self, drained: bool) -> bool {
        let old = if drained {
            self.flags.fetch_or(DRAINED, Ordering::Relaxed)
        } else {
            self.flags.fetch_and(!DRAINED, Ordering::Relaxed)
        };
        old & DRAINED != 0
    }
}

/// One member of a [`Group`]: an upstream address and transport, its weight
/// in this group, its hash key and its shared health flag. Built by
/// [`TableBuilder`](super::TableBuilder); fields are private so the key
/// always matches the address.
#[derive(Debug)]
pub struct Destination {
    addr: SocketAddr,
    transport: Transport,
    weight: u32,
    key: u64,
    health: Arc<Health>,
    /// Lower first, for the `priority` algorithm.
    priority: u32,
    /// Drained: never picked.
    drain: bool,
    /// `HOST:PORT` as written.
    name: Box<str>,
}

impl Destination {
    pub(crate) fn new(
        addr: SocketAddr,
        transport: Transport,
        weight: u32,
        health: Arc<Health>,
    ) -> Destination {
        Destination {
            addr,
            transport,
            weight,
            key: destination_key(addr, transport),
            health,
            priority: 1,
            drain: false,
            name: addr.to_string().into_boxed_str(),
        }
    }

    /// This destination with the member settings of the routing file.
    pub(crate) fn with_member(self, priority: u32, drain: bool, name: Box<str>) -> Destination {
        Destination {
            priority,
            drain,
            name,
            ..self
        }
    }

    /// The member's name: `HOST:PORT` as written in the group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The member's priority (lower first, for the `priority` algorithm).
    #[inline]
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// True when the member is drained: it gets no new requests.
    #[inline]
    pub fn is_drained(&self) -> bool {
        self.drain
    }

    /// True when the member may be picked: healthy and not drained (in
    /// the file or at run time).
    #[inline]
    pub fn is_available(&self) -> bool {
        !self.drain && self.health.is_usable()
    }

    /// Where to send.
    #[inline]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How to send.
    #[inline]
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The weight in this group (1 or more).
    #[inline]
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The stable hash key ([`destination_key`](super::destination_key) of
    /// the address and transport).
    #[inline]
    pub fn key(&self) -> u64 {
        self.key
    }

    /// True when the prober last saw this upstream up (or has not run yet).
    #[inline]
    pub fn is_healthy(&self) -> bool {
        self.health.is_up()
    }

    /// Marks this upstream up or down, in every group that lists it;
    /// returns the previous state.
    pub fn set_healthy(&self, up: bool) -> bool {
        self.health.set(up)
    }

    /// The shared health flag, for a prober that keeps it across reloads.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }
}

/// `10.0.0.1:5060;transport=udp;weight=2` (the upstream spec syntax).
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};transport={};weight={}",
            self.addr,
            self.transport.as_param(),
            self.weight
        )
    }
}

/// A named set of destinations that share the calls routed to the group,
/// balanced by its [`Algorithm`] ([`Group::choose`]; see
/// [`balance`](super::balance) for how each keeps a call together). Never
/// empty.
#[derive(Debug)]
pub struct Group {
    pub(super) name: Box<str>,
    pub(super) dests: Box<[Destination]>,
    pub(super) equal_weights: bool,
    pub(super) algorithm: Algorithm,
    /// The smooth weighted cycle of `round-robin` (member indices).
    pub(super) cycle: Box<[u32]>,
    /// The distinct member priorities, lowest first.
    pub(super) levels: Box<[u32]>,
    /// The key of `random` and `round-robin` hashing: from the table's
    /// seed and the group's name.
    pub(super) key: u64,
    /// The fallback group's index in the table.
    pub(super) fallback: Option<usize>,
    pub(super) when_down: Option<WhenDown>,
    pub(super) probe: Option<ProbeSpec>,
}

impl Group {
    /// `dests` is non-empty with non-zero weights (checked by the builder);
    /// balanced by hashing the Call-ID.
    pub(crate) fn new(name: Box<str>, dests: Box<[Destination]>) -> Group {
        let equal_weights = dests.windows(2).all(|w| w[0].weight == w[1].weight);
        Group {
            name,
            dests,
            equal_weights,
            algorithm: Algorithm::default(),
            cycle: Box::default(),
            levels: Box::default(),
            key: 0,
            fallback: None,
            when_down: None,
            probe: None,
        }
    }

    /// How the group shares calls.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The reply when the group and its fallback have no member up.
    pub fn when_down(&self) -> Option<&WhenDown> {
        self.when_down.as_ref()
    }

    /// The probe settings, for the prober.
    pub fn probe(&self) -> Option<&ProbeSpec> {
        self.probe.as_ref()
    }

    /// The group's name, as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members, in configuration order.
    pub fn destinations(&self) -> &[Destination] {
        &self.dests
    }

    /// The destination for a call: the available (healthy, not drained)
    /// member with the highest rendezvous score for `call_id`, or `None`
    /// when every member is down.
    #[inline]
    pub fn pick(&self, call_id: &[u8]) -> Option<&Destination> {
        self.pick_hashed(CallHash::of(call_id))
    }

    /// [`Group::pick`] for a Call-ID hashed already.
    #[inline]
    pub fn pick_hashed(&self, call: CallHash) -> Option<&Destination> {
        self.rendezvous(call, |_| true)
    }

    /// The rendezvous pick among the available members that `keep`.
    #[inline]
    pub(super) fn rendezvous(
        &self,
        call: CallHash,
        keep: impl Fn(&Destination) -> bool,
    ) -> Option<&Destination> {
        if self.equal_weights {
            self.pick_equal(call, keep)
        } else {
            self.pick_weighted(call, keep)
        }
    }

    /// Equal weights: `w / -ln(u)` orders like `u`, which orders like the hash.
    fn pick_equal(
        &self,
        call: CallHash,
        keep: impl Fn(&Destination) -> bool,
    ) -> Option<&Destination> {
        let mut best = usize::MAX;
        let mut best_h = 0u64;
        for (i, d) in self.dests.iter().enumerate() {
            if !d.is_available() || !keep(d) {
                continue;
            }
            let h = score_hash(call, d.key);
            if best == usize::MAX || h > best_h {
                best = i;
                best_h = h;
            }
        }
        self.dests.get(best)
    }

    /// The general case. The score `w / L` (with `L = -ln u > 0`) is
    /// compared as `w_a * L_b > w_b * L_a`, which needs no division. Ties
    /// (all but impossible) go to the larger hash, which makes this agree
    /// with `pick_equal` on equal weights.
    fn pick_weighted(
        &self,
        call: CallHash,
        keep: impl Fn(&Destination) -> bool,
    ) -> Option<&Destination> {
        let mut best = usize::MAX;
        let (mut best_w, mut best_l, mut best_h) = (0.0f64, 1.0f64, 0u64);
        for (i, d) in self.dests.iter().enumerate() {
            if !d.is_available() || !keep(d) {
                continue;
            }
            let h = score_hash(call, d.key);
            let w = f64::from(d.weight);
            let l = neg_ln_unit(h);
            let (lhs, rhs) = (w * best_l, best_w * l);
            if lhs > rhs || (lhs == rhs && h > best_h) {
                best = i;
                (best_w, best_l, best_h) = (w, l, h);
            }
        }
        self.dests.get(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group of `weights.len()` UDP destinations 10.0.0.1.. on port 5060.
    fn group(weights: &[u32]) -> Group {
        let dests = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let addr = SocketAddr::from(([10, 0, 0, i as u8 + 1], 5060));
                Destination::new(addr, Transport::Udp, w, Arc::new(Health::new(true)))
            })
            .collect();
        Group::new("test".into(), dests)
    }

    /// Call-IDs shaped like real ones: a counter in hex at a host.
    fn call_ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:x}-{}@192.0.2.10", i.wrapping_mul(2654435761), i))
            .collect()
    }

    /// The index of the picked destination for each call (`usize::MAX` for none).
    fn assign(g: &Group, calls: &[String]) -> Vec<usize> {
        calls
            .iter()
            .map(|c| match g.pick(c.as_bytes()) {
                // Position of the reference inside the group's slice.
                Some(d) => (0..g.destinations().len())
                    .find(|&i| std::ptr::eq(&g.destinations()[i], d))
                    .unwrap_or(usize::MAX),
                None => usize::MAX,
            })
            .collect()
    }

    fn addr_of(g: &Group, i: usize) -> SocketAddr {
        g.destinations()[i].addr()
    }

    const N: usize = 100_000;

    #[test]
    fn rendezvous_on_100k_calls_is_sticky_weighted_and_minimally_disruptive() {
        let calls = call_ids(N);

        // 1. Sticky: the same Call-ID always gets the same destination, in a
        //    fresh group built from the same configuration too.
        let g = group(&[1, 2, 1]);
        let first = assign(&g, &calls);
        assert_eq!(first, assign(&g, &calls));
        assert_eq!(first, assign(&group(&[1, 2, 1]), &calls));

        // 2. Weights 1:2:1 give shares of 25/50/25 within ±2 points.
        let mut count = [0usize; 3];
        for &i in &first {
            count[i] += 1;
        }
        let shares: Vec<f64> = count.iter().map(|&c| c as f64 / N as f64).collect();
        eprintln!("weights 1:2:1 -> shares {shares:.4?}");
        for (share, want) in shares.iter().zip([0.25, 0.50, 0.25]) {
            assert!((share - want).abs() < 0.02, "shares {shares:?}");
        }

        // 3. Adding a 5th destination to 4 moves about 1/5 of the calls, and
        //    every moved call moves to the new destination.
        let four = group(&[1, 1, 1, 1]);
        let five = group(&[1, 1, 1, 1, 1]);
        let before = assign(&four, &calls);
        let after = assign(&five, &calls);
        let mut moved = 0;
        for (&b, &a) in before.iter().zip(&after) {
            if addr_of(&four, b) != addr_of(&five, a) {
                moved += 1;
                assert_eq!(a, 4, "a moved call went to an old destination");
            }
        }
        let frac = moved as f64 / N as f64;
        eprintln!("4 -> 5 destinations: {frac:.4} of calls moved");
        assert!((0.17..0.23).contains(&frac), "moved {frac}");

        // 4. Removing one of 5 moves exactly the calls that were on it.
        for removed in 0..5 {
            let dests = (0..5)
                .filter(|&i| i != removed)
                .map(|i| {
                    let addr = SocketAddr::from(([10, 0, 0, i as u8 + 1], 5060));
                    Destination::new(addr, Transport::Udp, 1, Arc::new(Health::new(true)))
                })
                .collect();
            let four = Group::new("test".into(), dests);
            let after = assign(&four, &calls);
            let mut moved = 0;
            for (&b, &a) in after.iter().zip(&assign(&five, &calls)) {
                let was = addr_of(&five, a);
                let now = addr_of(&four, b);
                if was != now {
                    moved += 1;
                    assert_eq!(a, removed, "a call moved off a kept destination");
                } else {
                    assert_ne!(a, removed);
                }
            }
            let frac = moved as f64 / N as f64;
            eprintln!("5 -> 4 destinations (removed #{removed}): {frac:.4} moved");
            assert!((0.17..0.23).contains(&frac), "moved {frac}");
        }
    }

    #[test]
    fn shares_follow_uneven_weights() {
        let calls = call_ids(N);
        let weights = [1u32, 3, 6];
        let g = group(&weights);
        let mut count = [0usize; 3];
        for i in assign(&g, &calls) {
            count[i] += 1;
        }
        let shares: Vec<f64> = count.iter().map(|&c| c as f64 / N as f64).collect();
        eprintln!("weights 1:3:6 -> shares {shares:.4?}");
        for (share, w) in shares.iter().zip(weights) {
            assert!(
                (share - f64::from(w) / 10.0).abs() < 0.02,
                "shares {shares:?}"
            );
        }
    }

    #[test]
    fn failover_moves_only_the_calls_of_the_unhealthy_destination() {
        let calls = call_ids(N);
        for weights in [&[1u32, 1, 1, 1][..], &[1, 2, 1, 3][..]] {
            let g = group(weights);
            let before = assign(&g, &calls);
            g.destinations()[1].set_healthy(false);
            let during = assign(&g, &calls);
            let mut moved = 0;
            let mut went = vec![0usize; weights.len()];
            for (&b, &d) in before.iter().zip(&during) {
                assert_ne!(d, 1, "picked an unhealthy destination");
                if b == 1 {
                    moved += 1;
                    went[d] += 1;
                } else {
                    assert_eq!(b, d, "a call on a healthy destination moved");
                }
            }
            assert!(moved > 0);
            // The dead member's calls spread over the others by weight,
            // not onto one neighbour.
            let rest: u32 = weights.iter().sum::<u32>() - weights[1];
            for (i, &w) in weights.iter().enumerate().filter(|&(i, _)| i != 1) {
                let share = went[i] as f64 / moved as f64;
                let want = f64::from(w) / f64::from(rest);
                assert!((share - want).abs() < 0.03, "weights {weights:?}: {went:?}");
            }
            // Recovery brings every call back where it was.
            g.destinations()[1].set_healthy(true);
            assert_eq!(assign(&g, &calls), before);
        }
    }

    #[test]
    fn all_down_gives_none() {
        let g = group(&[1, 2]);
        for d in g.destinations() {
            d.set_healthy(false);
        }
        assert!(g.pick(b"abc@host").is_none());
        g.destinations()[0].set_healthy(true);
        assert_eq!(g.pick(b"abc@host").map(|d| d.addr()), Some(addr_of(&g, 0)));
    }

    #[test]
    fn equal_weight_fast_path_agrees_with_the_general_one() {
        let g = group(&[7, 7, 7, 7, 7]);
        assert!(g.equal_weights);
        for c in call_ids(20_000) {
            let h = CallHash::of(c.as_bytes());
            let a = g.pick_equal(h, |_| true).map(|d| d.addr());
            assert_eq!(a, g.pick_weighted(h, |_| true).map(|d| d.addr()), "{c}");
        }
    }

    #[test]
    fn golden_picks_never_change() {
        // Pins the whole pipeline (Call-ID hash, key, score, logarithm): if
        // this fails, calls move between upstreams on upgrade.
        let g = group(&[1, 2, 1, 3]);
        let got: Vec<usize> = assign(&g, &call_ids(16));
        assert_eq!(got, GOLDEN_PICKS);
    }

    const GOLDEN_PICKS: [usize; 16] = [1, 2, 2, 1, 1, 0, 3, 2, 0, 2, 3, 0, 0, 3, 0, 1];

    #[test]
    fn display_uses_the_spec_syntax() {
        let g = group(&[3]);
        assert_eq!(
            g.destinations()[0].to_string(),
            "10.0.0.1:5060;transport=udp;weight=3"
        );
    }
}
