//! The balancing algorithms of a [`Group`]: [`Algorithm`] and
//! [`Group::choose`]. No I/O, no per-message state, no shared atomics
//! (only the members' health flags are read).
//!
//! A stateless proxy's choice may "only rely on fields in the message and
//! time-invariant properties of the server" (RFC 3261 §16.11): a
//! retransmitted INVITE, its CANCEL and the ACK of a non-2xx final
//! response carry the INVITE's Call-ID (and From, To, Request-URI) and must
//! reach the same member. So every algorithm here is a function of the
//! message and the member set, never of a counter or a clock:
//!
//! * **`hash`** (the default): weighted rendezvous hashing of a key of the
//!   message ([`HashKey`]: the Call-ID, or the From, To or Request-URI user,
//!   or the source IP). A member that goes down moves only its own calls,
//!   each to the member with the next score, and they come back when it
//!   recovers. A key that is missing from a message (no From user) falls
//!   back to the Call-ID.
//! * **`priority`**: the members with the lowest priority number that has
//!   an available member, and among them the rendezvous hash of the
//!   Call-ID; the next priority takes over only when the whole level is
//!   down or drained.
//! * **`random`**: a keyed 64-bit hash of the Call-ID, mapped onto the
//!   cumulative weights of the available members. The key comes from the
//!   table's seed ([`TableBuilder::seed`](super::TableBuilder::seed)) and
//!   the group's name, so it is the same for every message of a call while
//!   the table stands; it is "random" across calls, not across messages.
//! * **`round-robin`**: a smooth weighted cycle of the members, built once
//!   (weights 2:1 give A, B, A), with the call's place in it given by the
//!   keyed hash of the Call-ID; a member that is down or drained passes its
//!   turn to the next one in the cycle. Calls are interleaved over the
//!   members in proportion to their weights, and every message of a call
//!   lands on the same place.
//!
//! With `random` and `round-robin`, a member going down or coming back (or
//! a reload with another seed) can move calls of other members too; only
//! `hash` (and `priority` within a level) promises that it does not. In
//! every algorithm a drained member is skipped like a down one.

use super::group::{Destination, Group};
use super::hash::{score_hash, CallHash};
use super::input::RouteInput;

/// How a group shares calls among its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Weighted rendezvous hashing of a key of the message.
    Hash(HashKey),
    /// A smooth weighted cycle, entered where the Call-ID's hash says.
    RoundRobin,
    /// A weighted pick by a keyed hash of the Call-ID.
    Random,
    /// The lowest priority number with a member up, then hashing of the
    /// Call-ID.
    Priority,
}

impl Default for Algorithm {
    /// `hash` of the Call-ID.
    fn default() -> Algorithm {
        Algorithm::Hash(HashKey::CallId)
    }
}

/// What `hash` balancing keys on (`hash_key`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashKey {
    /// `call-id`: the Call-ID (the default).
    #[default]
    CallId,
    /// `from-user`: the From URI's user.
    FromUser,
    /// `to-user`: the To URI's user.
    ToUser,
    /// `ruri-user`: the Request-URI's user.
    RuriUser,
    /// `source-ip`: the packet's source address.
    SourceIp,
}

impl HashKey {
    /// Every key, in the order of [`HashKey::NAMES`].
    pub const ALL: [HashKey; 5] = [
        HashKey::CallId,
        HashKey::FromUser,
        HashKey::ToUser,
        HashKey::RuriUser,
        HashKey::SourceIp,
    ];

    /// The `hash_key` names of the routing file, in [`HashKey::ALL`] order.
    pub const NAMES: [&'static str; 5] =
        ["call-id", "from-user", "to-user", "ruri-user", "source-ip"];

    /// Parses the `hash_key` names (`call-id` ... `source-ip`).
    pub fn parse(name: &str) -> Option<HashKey> {
        let at = HashKey::NAMES.iter().position(|&n| n == name)?;
        HashKey::ALL.get(at).copied()
    }

    /// The name written in the file.
    pub fn as_str(self) -> &'static str {
        let at = HashKey::ALL.iter().position(|&k| k == self).unwrap_or(0);
        HashKey::NAMES.get(at).copied().unwrap_or_default()
    }
}

/// How `check-config` names an algorithm: `hash by call-id`,
/// `round-robin`, `random`, `priority`.
impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Algorithm::Hash(k) => write!(f, "hash by {}", k.as_str()),
            Algorithm::RoundRobin => f.write_str("round-robin"),
            Algorithm::Random => f.write_str("random"),
            Algorithm::Priority => f.write_str("priority"),
        }
    }
}

/// The longest round-robin cycle; larger weight sums are scaled down to it.
pub const MAX_CYCLE: u64 = 4096;

impl Group {
    /// The member for a request, by the group's algorithm, among the
    /// available members; `None` when none is available.
    #[inline]
    pub fn choose(&self, input: &RouteInput<'_>) -> Option<&Destination> {
        match self.algorithm {
            Algorithm::Hash(key) => self.pick_hashed(hash_of(key, input)),
            Algorithm::Priority => {
                let call = CallHash::of(input.call_id);
                self.levels
                    .iter()
                    .find_map(|&level| self.rendezvous(call, |d| d.priority() == level))
            }
            Algorithm::Random => self.pick_random(self.keyed(input)),
            Algorithm::RoundRobin => self.pick_cycle(self.keyed(input)),
        }
    }

    /// The keyed hash of the request's Call-ID.
    #[inline]
    fn keyed(&self, input: &RouteInput<'_>) -> u64 {
        score_hash(CallHash::of(input.call_id), self.key)
    }

    /// `h` scaled onto the total weight of the available members.
    fn pick_random(&self, h: u64) -> Option<&Destination> {
        let total: u64 = self
            .dests
            .iter()
            .filter(|d| d.is_available())
            .map(|d| u64::from(d.weight()))
            .sum();
        let mut at = scale(h, total);
        self.dests.iter().filter(|d| d.is_available()).find(|d| {
            let w = u64::from(d.weight());
            if at < w {
                true
            } else {
                at -= w;
                false
            }
        })
    }

    /// The cycle entry `h` points at, or the next available one.
    fn pick_cycle(&self, h: u64) -> Option<&Destination> {
        if !self.dests.iter().any(Destination::is_available) {
            return None;
        }
        let len = self.cycle.len();
        let start = scale(h, len as u64) as usize;
        (0..len)
            .filter_map(|i| self.cycle.get((start + i) % len))
            .filter_map(|&m| self.dests.get(m as usize))
            .find(|d| d.is_available())
    }
}

/// The hash that `hash` balancing keys on.
#[inline]
fn hash_of(key: HashKey, input: &RouteInput<'_>) -> CallHash {
    let user = |parts: Option<super::UriParts<'_>>| {
        parts
            .map(|p| p.user)
            .filter(|u| !u.is_empty())
            .map(CallHash::of)
    };
    let keyed = match key {
        HashKey::CallId => None,
        HashKey::FromUser => user(input.request.from()),
        HashKey::ToUser => user(input.request.to()),
        HashKey::RuriUser => user(input.request.ruri()),
        HashKey::SourceIp => Some(match input.source.ip().to_canonical() {
            std::net::IpAddr::V4(a) => CallHash::of(&a.octets()),
            std::net::IpAddr::V6(a) => CallHash::of(&a.octets()),
        }),
    };
    keyed.unwrap_or_else(|| CallHash::of(input.call_id))
}

/// `h` as a uniform number in `0..n` (the high half of `h * n`).
#[inline]
fn scale(h: u64, n: u64) -> u64 {
    ((u128::from(h) * u128::from(n)) >> 64) as u64
}

/// The smooth weighted round-robin cycle of `weights` (nginx's: each step
/// every member gains its weight, the richest is chosen and pays the
/// total), after dividing by their greatest common divisor and, past
/// [`MAX_CYCLE`], scaling down (each weight stays 1 or more).
pub(super) fn cycle(weights: &[u32]) -> Box<[u32]> {
    let g = weights
        .iter()
        .fold(0u64, |g, &w| gcd(g, u64::from(w)))
        .max(1);
    let mut w: Vec<u64> = weights.iter().map(|&x| u64::from(x) / g).collect();
    let sum: u64 = w.iter().sum();
    if sum > MAX_CYCLE {
        for x in &mut w {
            *x = (*x * MAX_CYCLE / sum).max(1);
        }
    }
    let total: u64 = w.iter().sum();
    let total_i = i64::try_from(total).unwrap_or(i64::MAX);
    let mut current = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, &x) in current.iter_mut().zip(&w) {
            *c += x as i64;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .fold((0, i64::MIN), |b, (i, &c)| if c > b.1 { (i, c) } else { b });
        if let Some(c) = current.get_mut(best) {
            *c -= total_i;
        }
        out.push(u32::try_from(best).unwrap_or(0));
    }
    out.into_boxed_slice()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::GroupSpec;
    use crate::route::{MemberSpec, RequestFields, Table, Upstream, UriParts};
    use crate::sip::Transport;
    use std::net::SocketAddr;

    fn member(i: u8, weight: u32, priority: u32) -> MemberSpec {
        MemberSpec {
            priority,
            ..MemberSpec::new(Upstream {
                addr: SocketAddr::from(([10, 0, 0, i], 5060)),
                transport: Transport::Udp,
                weight,
            })
        }
    }

    fn table(algorithm: Algorithm, members: Vec<MemberSpec>) -> Table {
        Table::builder()
            .group_spec(GroupSpec {
                algorithm,
                members,
                ..GroupSpec::from_upstreams("g", [])
            })
            .seed(42)
            .build()
            .unwrap()
    }

    fn calls(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:x}-{i}@192.0.2.10")).collect()
    }

    /// The member index each call goes to (`usize::MAX`: none).
    fn assign(t: &Table, calls: &[String]) -> Vec<usize> {
        let g = t.default_group();
        calls
            .iter()
            .map(|c| {
                g.choose(&RouteInput::new(c.as_bytes()))
                    .and_then(|d| g.destinations().iter().position(|x| std::ptr::eq(x, d)))
                    .unwrap_or(usize::MAX)
            })
            .collect()
    }

    fn shares(picks: &[usize], n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| picks.iter().filter(|&&p| p == i).count() as f64 / picks.len() as f64)
            .collect()
    }

    #[test]
    fn the_cycle_interleaves_by_weight() {
        assert_eq!(&*cycle(&[2, 1]), &[0, 1, 0]);
        assert_eq!(&*cycle(&[5, 1, 1]), &[0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(&*cycle(&[4, 2]), &[0, 1, 0]);
        assert_eq!(cycle(&[u32::MAX, 1]).len() as u64, MAX_CYCLE);
    }

    #[test]
    fn every_algorithm_is_sticky_weighted_and_skips_down_members() {
        let cs = calls(30_000);
        for alg in [
            Algorithm::RoundRobin,
            Algorithm::Random,
            Algorithm::Hash(HashKey::CallId),
        ] {
            let t = table(alg, vec![member(1, 2, 1), member(2, 1, 1), member(3, 1, 1)]);
            let first = assign(&t, &cs);
            assert_eq!(first, assign(&t, &cs), "{alg:?}: same call, same member");
            let s = shares(&first, 3);
            for (share, want) in s.iter().zip([0.5, 0.25, 0.25]) {
                assert!((share - want).abs() < 0.02, "{alg:?}: {s:?}");
            }
            t.default_group().destinations()[0].set_healthy(false);
            let down = assign(&t, &cs);
            assert!(down.iter().all(|&p| p == 1 || p == 2), "{alg:?}");
            for d in t.default_group().destinations() {
                d.set_healthy(false);
            }
            assert!(
                assign(&t, &cs[..10]).iter().all(|&p| p == usize::MAX),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn hash_moves_only_the_calls_of_a_down_member() {
        let cs = calls(100_000);
        let t = table(
            Algorithm::Hash(HashKey::CallId),
            (1..=4).map(|i| member(i, 1, 1)).collect(),
        );
        let before = assign(&t, &cs);
        t.default_group().destinations()[2].set_healthy(false);
        let after = assign(&t, &cs);
        for (b, a) in before.iter().zip(&after) {
            if *b == 2 {
                assert_ne!(*a, 2);
            } else {
                assert_eq!(a, b, "a call of a healthy member moved");
            }
        }
    }

    #[test]
    fn priority_uses_the_lowest_level_with_a_member_up() {
        let cs = calls(2000);
        let t = table(
            Algorithm::Priority,
            vec![
                member(1, 1, 2),
                member(2, 1, 1),
                member(3, 1, 1),
                member(4, 1, 3),
            ],
        );
        assert!(assign(&t, &cs).iter().all(|&p| p == 1 || p == 2));
        let d = t.default_group().destinations();
        d[1].set_healthy(false);
        assert!(assign(&t, &cs).iter().all(|&p| p == 2));
        d[2].set_healthy(false);
        assert!(assign(&t, &cs).iter().all(|&p| p == 0));
        d[0].set_healthy(false);
        assert!(assign(&t, &cs).iter().all(|&p| p == 3));
    }

    #[test]
    fn drained_members_get_nothing() {
        let cs = calls(2000);
        for alg in [
            Algorithm::RoundRobin,
            Algorithm::Random,
            Algorithm::Priority,
            Algorithm::default(),
        ] {
            let mut drained = member(1, 5, 1);
            drained.drain = true;
            let t = table(alg, vec![drained, member(2, 1, 1), member(3, 1, 2)]);
            assert!(assign(&t, &cs).iter().all(|&p| p == 1 || p == 2), "{alg:?}");
        }
    }

    struct Users(&'static [u8]);
    impl RequestFields for Users {
        fn ruri(&self) -> Option<UriParts<'_>> {
            Some(UriParts {
                user: self.0,
                host: None,
                phone: false,
            })
        }
        fn from(&self) -> Option<UriParts<'_>> {
            self.ruri()
        }
        fn to(&self) -> Option<UriParts<'_>> {
            None
        }
        fn header(&self, _: &[u8]) -> Option<&[u8]> {
            None
        }
    }

    #[test]
    fn hash_keys_read_the_field_they_name() {
        let cs = calls(200);
        let members = || (1..=5).map(|i| member(i, 1, 1)).collect::<Vec<_>>();
        for key in [HashKey::FromUser, HashKey::RuriUser, HashKey::SourceIp] {
            let t = table(Algorithm::Hash(key), members());
            let g = t.default_group();
            let picks: Vec<SocketAddr> = cs
                .iter()
                .map(|c| {
                    let input = RouteInput {
                        request: &Users(b"alice"),
                        source: "192.0.2.9:5060".parse().unwrap(),
                        ..RouteInput::new(c.as_bytes())
                    };
                    g.choose(&input).unwrap().addr()
                })
                .collect();
            assert!(
                picks.windows(2).all(|w| w[0] == w[1]),
                "{key:?}: one key, one member"
            );
        }
        // A missing key falls back to the Call-ID: calls spread.
        let t = table(Algorithm::Hash(HashKey::ToUser), members());
        let picks = assign(&t, &cs);
        assert!(picks.iter().any(|&p| p != picks[0]));
        assert_eq!(HashKey::parse("source-ip"), Some(HashKey::SourceIp));
        assert_eq!(HashKey::parse("callid"), None);
    }
}
