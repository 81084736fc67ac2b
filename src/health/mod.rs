//! Upstream health: the prober's logic as a state machine, fed times and
//! events and answering with probes to send and state changes to log. No
//! I/O: the prober thread (`net::prober`) sends and receives, and calls
//! in here with the time of each event, so tests drive it with an injected
//! clock.
//!
//! One [`Monitor`] watches every distinct upstream (address and transport)
//! of the routing table. A member of a group with a `probe` table gets an
//! OPTIONS every `interval` (the first within one interval of start, then
//! each `interval` ± 10 %, drawn at random so that many members do not line
//! up in bursts); a reply with one of `codes` within `timeout` is a success,
//! anything else (another code, no reply, an ICMP error, a refused connect)
//! a failure. `fall` failures in a row mark the member down, `rise`
//! successes in a row mark it up again; the flag workers read is the
//! member's shared [`Health`].
//!
//! Passive detection: an error the kernel reports for a request forwarded
//! to a probed member ([`Monitor::unreachable`]) counts as a failed probe at
//! once and brings the next probe forward. A member that no group probes is
//! never marked down (nothing would mark it up again); its errors are only
//! counted by the workers.
//!
//! A reload hands the new table to [`Monitor::sync`]: a member that stays
//! keeps its state, streaks and counters (the table builder passes the same
//! [`Health`] on), new members start up, and a change of `state=drain` in
//! the file is logged like any other change.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::route::{Health, ProbeSpec, Table};
use crate::sip::Transport;

#[cfg(test)]
mod tests;

/// What an operator sees of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Gets new requests.
    Up,
    /// Failed its probes: gets no new requests.
    Down,
    /// Drained by the operator: gets no new requests, its dialogs go on.
    Drain,
}

impl State {
    /// `up`, `down`, `drain`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Drain => "drain",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No final reply within the timeout.
    TimedOut,
    /// A final reply outside the probe's `codes`.
    Answered(u16),
    /// The kernel said the member cannot be reached (an ICMP error, a
    /// refused or failed connect), in words: `ICMP port unreachable`.
    Unreachable(String),
}

impl Failure {
    /// How one failure reads after "probe" / "N probes".
    fn phrase(&self) -> String {
        match self {
            Failure::TimedOut => "timed out".to_string(),
            Failure::Answered(code) => format!("answered {code}"),
            Failure::Unreachable(why) => format!("failed: {why}"),
        }
    }
}

/// One state change of one member: what the log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The member as written in the group (`HOST:PORT`).
    pub member: String,
    /// The groups that list it, comma-separated.
    pub groups: String,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why, in words: `2 probes timed out`.
    pub reason: String,
}

/// `upstream 10.0.0.12:5060 in group pbx: up -> down (2 probes timed out)`.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.groups.contains(',') {
            "groups"
        } else {
            "group"
        };
        write!(
            f,
            "upstream {} in {word} {}: {} -> {} ({})",
            self.member, self.groups, self.from, self.to, self.reason
        )
    }
}

/// A probe to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The member's address.
    pub addr: SocketAddr,
    /// Its transport.
    pub transport: Transport,
    /// The probe's token (its reply names it).
    pub token: u64,
    /// Its CSeq.
    pub seq: u32,
}

/// Counters of one member, for summaries and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Probes sent.
    pub probes: u64,
    /// Probes failed (timeouts, unwanted codes, errors; passive ones too).
    pub failures: u64,
    /// State changes.
    pub changes: u64,
    /// Round-trip time of the last answered probe.
    pub last_rtt: Option<Duration>,
}

/// A probe in flight.
#[derive(Debug, Clone, Copy)]
struct Pending {
    token: u64,
    sent: Instant,
    deadline: Instant,
}

#[derive(Debug)]
struct Member {
    addr: SocketAddr,
    transport: Transport,
    name: String,
    groups: String,
    health: Arc<Health>,
    /// `state=drain` in the file.
    drained: bool,
    spec: Option<ProbeSpec>,
    fails: u32,
    oks: u32,
    /// The failure of the current streak, and whether all of it was alike.
    last_failure: Option<Failure>,
    mixed: bool,
    next_at: Instant,
    pending: Option<Pending>,
    seq: u32,
    stats: Stats,
}

impl Member {
    fn state(&self) -> State {
        if self.drained || self.health.is_drained() {
            State::Drain
        } else if self.health.is_up() {
            State::Up
        } else {
            State::Down
        }
    }

    fn change(&mut self, from: State, reason: String) -> Option<Change> {
        let to = self.state();
        if to == from {
            return None;
        }
        self.stats.changes += 1;
        Some(Change {
            member: self.name.clone(),
            groups: self.groups.clone(),
            from,
            to,
            reason,
        })
    }
}

/// The health of every upstream of the routing table (see the module doc).
#[derive(Debug)]
pub struct Monitor {
    members: Vec<Member>,
    by_addr: HashMap<(SocketAddr, Transport), usize>,
    rng: Rng,
}

impl Monitor {
    /// An empty monitor; `seed` seeds the probe tokens and the jitter.
    pub fn new(seed: u64) -> Monitor {
        Monitor {
            members: Vec::new(),
            by_addr: HashMap::new(),
            rng: Rng::new(seed),
        }
    }

    /// Takes the upstreams of `table` (at start and after each reload):
    /// members that stay keep their state and counters; new ones start up,
    /// with their first probe within one interval; gone ones are forgotten.
    /// Returns the changes a reload made (a member drained or undrained in
    /// the file, a member no longer probed that was down).
    pub fn sync(&mut self, table: &Table, now: Instant) -> Vec<Change> {
        let mut next: Vec<Member> = Vec::new();
        let mut by_addr = HashMap::new();
        let mut changes = Vec::new();
        for g in table.groups() {
            for d in g.destinations() {
                let key = (d.addr(), d.transport());
                if let Some(&i) = by_addr.get(&key) {
                    let m: &mut Member = &mut next[i];
                    m.groups.push_str(", ");
                    m.groups.push_str(g.name());
                    m.drained |= d.is_drained();
                    if m.spec.is_none() {
                        m.spec = g.probe().cloned();
                    }
                    continue;
                }
                let old = self
                    .by_addr
                    .get(&key)
                    .and_then(|&i| self.members.get_mut(i))
                    .map(|m| std::mem::replace(m, placeholder(m, now)));
                let spec = g.probe().cloned();
                let m = match old {
                    Some(mut m) => {
                        let before = m.state();
                        m.name = d.name().to_string();
                        m.groups = g.name().to_string();
                        m.health = Arc::clone(d.health());
                        m.drained = d.is_drained();
                        m.spec = spec;
                        // Compared once the groups are all known, below.
                        changes.push((next.len(), before));
                        m
                    }
                    None => {
                        let first = spec
                            .as_ref()
                            .map_or(Duration::ZERO, |s| s.interval.mul_f64(self.rng.unit()));
                        let m = Member {
                            addr: d.addr(),
                            transport: d.transport(),
                            name: d.name().to_string(),
                            groups: g.name().to_string(),
                            health: Arc::clone(d.health()),
                            drained: d.is_drained(),
                            spec,
                            fails: 0,
                            oks: 0,
                            last_failure: None,
                            mixed: false,
                            next_at: now + first,
                            pending: None,
                            seq: 0,
                            stats: Stats::default(),
                        };
                        changes.push((next.len(), State::Up));
                        m
                    }
                };
                by_addr.insert(key, next.len());
                next.push(m);
            }
        }
        self.members = next;
        self.by_addr = by_addr;
        let mut out = Vec::new();
        for (i, before) in changes {
            let Some(m) = self.members.get_mut(i) else {
                continue;
            };
            if m.spec.is_none() {
                // Nothing would mark it up again.
                m.pending = None;
                m.health.set(true);
            }
            let reason = if m.state() == State::Drain {
                "drained in the routing file"
            } else if before == State::Drain {
                "no longer drained in the routing file"
            } else {
                "no longer probed"
            };
            out.extend(m.change(before, reason.to_string()));
        }
        out
    }

    /// Probes that are due at `now` (appended to `orders`), and the changes
    /// made by probes whose time ran out.
    pub fn tick(&mut self, now: Instant, orders: &mut Vec<Order>) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.members.len() {
            let expired = self.members[i].pending.is_some_and(|p| p.deadline <= now);
            if expired {
                self.members[i].pending = None;
                changes.extend(self.failed(i, Failure::TimedOut));
            }
            let m = &self.members[i];
            let Some(spec) = &m.spec else { continue };
            if m.pending.is_some() || m.next_at > now {
                continue;
            }
            let (interval, timeout) = (spec.interval, spec.timeout);
            let jitter = 0.9 + 0.2 * self.rng.unit();
            let token = self.rng.next_u64();
            let m = &mut self.members[i];
            m.seq = m.seq.wrapping_add(1);
            m.stats.probes += 1;
            m.pending = Some(Pending {
                token,
                sent: now,
                deadline: now + timeout,
            });
            m.next_at = now + interval.mul_f64(jitter);
            orders.push(Order {
                addr: m.addr,
                transport: m.transport,
                token,
                seq: m.seq,
            });
        }
        changes
    }

    /// The earliest time [`Monitor::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .iter()
            .filter(|m| m.spec.is_some())
            .map(|m| match m.pending {
                Some(p) => p.deadline,
                None => m.next_at,
            })
            .min()
    }

    /// A reply with `code` to the probe `token`, from `from`. Provisional
    /// replies are ignored unless `codes` names them; a reply that matches
    /// no probe in flight to that address (late, forged) is ignored.
    pub fn reply(
        &mut self,
        token: u64,
        code: u16,
        from: SocketAddr,
        now: Instant,
    ) -> Option<Change> {
        let i = self
            .members
            .iter()
            .position(|m| m.addr == from && m.pending.is_some_and(|p| p.token == token))?;
        let m = &mut self.members[i];
        let spec = m.spec.as_ref()?;
        let wanted = spec.codes.iter().any(|c| c.matches(code));
        if code < 200 && !wanted {
            return None;
        }
        let sent = m.pending.take()?.sent;
        if wanted {
            m.stats.last_rtt = Some(now.saturating_duration_since(sent));
            self.succeeded(i, code)
        } else {
            self.failed(i, Failure::Answered(code))
        }
    }

    /// The kernel reported `addr` over `transport` unreachable (`why`, in
    /// words), for a probe or a forwarded request: a failed probe at once
    /// (the one in flight, if any), and while the member is still up the
    /// next probe is brought forward to now, so it is marked down after
    /// at most `fall` quick probes. A member already down keeps its
    /// schedule: the errors its own probes draw must not draw more probes.
    pub fn unreachable(
        &mut self,
        addr: SocketAddr,
        transport: Transport,
        why: &str,
        now: Instant,
    ) -> Option<Change> {
        let &i = self.by_addr.get(&(addr, transport))?;
        let m = self.members.get_mut(i)?;
        m.spec.as_ref()?;
        m.pending = None;
        if m.health.is_up() {
            m.next_at = m.next_at.min(now);
        }
        self.failed(i, Failure::Unreachable(why.to_string()))
    }

    /// The state of the member at `addr` over `transport`.
    pub fn state(&self, addr: SocketAddr, transport: Transport) -> Option<State> {
        let &i = self.by_addr.get(&(addr, transport))?;
        self.members.get(i).map(Member::state)
    }

    /// The counters of the member at `addr` over `transport`.
    pub fn stats(&self, addr: SocketAddr, transport: Transport) -> Option<Stats> {
        let &i = self.by_addr.get(&(addr, transport))?;
        self.members.get(i).map(|m| m.stats)
    }

    /// True when some member is probed.
    pub fn probes_any(&self) -> bool {
        self.members.iter().any(|m| m.spec.is_some())
    }

    fn failed(&mut self, i: usize, why: Failure) -> Option<Change> {
        let m = self.members.get_mut(i)?;
        let fall = m.spec.as_ref()?.fall;
        let before = m.state();
        m.stats.failures += 1;
        m.oks = 0;
        m.fails = m.fails.saturating_add(1);
        m.mixed = m.fails > 1 && (m.mixed || m.last_failure.as_ref() != Some(&why));
        let n = m.fails;
        let phrase = why.phrase();
        m.last_failure = Some(why);
        if n < fall || !m.health.is_up() {
            return None;
        }
        m.health.set(false);
        let reason = match (n, m.mixed) {
            (1, _) => format!("probe {phrase}"),
            (n, false) => format!("{n} probes {phrase}"),
            (n, true) => format!("{n} probes failed, the last {phrase}"),
        };
        m.change(before, reason)
    }

    fn succeeded(&mut self, i: usize, code: u16) -> Option<Change> {
        let m = self.members.get_mut(i)?;
        let rise = m.spec.as_ref()?.rise;
        let before = m.state();
        m.fails = 0;
        m.mixed = false;
        m.last_failure = None;
        m.oks = m.oks.saturating_add(1);
        if m.oks < rise || m.health.is_up() {
            return None;
        }
        m.health.set(true);
        let n = m.oks;
        let reason = if n == 1 {
            format!("probe answered {code}")
        } else {
            format!("{n} probes answered {code}")
        };
        m.change(before, reason)
    }
}

/// What stands in a member's old slot while it is moved to the new list.
fn placeholder(m: &Member, now: Instant) -> Member {
    Member {
        addr: m.addr,
        transport: m.transport,
        name: String::new(),
        groups: String::new(),
        health: Arc::clone(&m.health),
        drained: false,
        spec: None,
        fails: 0,
        oks: 0,
        last_failure: None,
        mixed: false,
        next_at: now,
        pending: None,
        seq: 0,
        stats: Stats::default(),
    }
}
