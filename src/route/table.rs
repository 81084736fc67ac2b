//! The compiled routing table: destination groups, the default group, and
//! the lookup that maps a request to a destination. No I/O.
//!
//! A [`Table`] is built once (from flags now, from the routing file later),
//! validated as a whole, then shared read-only by every worker through a
//! [`LiveTable`]. A reload builds a new table and swaps it in; nothing is
//! mutated in place except the health flags.
//!
//! Lookup is two steps: the rules, in order, choose a group (or a reply,
//! or a drop; no rule matched: the default group), then the group's
//! algorithm ([`Group::choose`]) chooses a member. A group with no member
//! up hands the request to its fallback group, and failing that answers
//! with its `when_down` reply. [`Table::select`] returns the whole
//! [`Decision`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::sip::Transport;

use super::balance::{cycle, Algorithm};
use super::decision::{Decision, Rewrite};
use super::group::{Destination, Group, Health};
use super::group_spec::{GroupSpec, InDialog};
use super::hash::{score_hash, CallHash};
use super::index::RuleIndex;
use super::input::RouteInput;
use super::matcher::Eval;
use super::rule::{Action, ActionSpec, Outcome, Rule, RuleAuth, RuleSpec, LOCATION};
use super::spec::Upstream;
use super::RouteError;

/// The name of the group made by [`Table::from_upstreams`].
pub const DEFAULT_GROUP: &str = "default";

/// Longest group name accepted.
pub const MAX_GROUP_NAME: usize = 64;

/// An immutable, validated routing table. `Send + Sync`; share it as
/// `Arc<Table>` (see [`LiveTable`]).
#[derive(Debug)]
pub struct Table {
    /// Never empty; names unique.
    groups: Box<[Group]>,
    /// Index into `groups`, valid by construction.
    default_group: usize,
    /// One member per distinct (address, transport), for the prober:
    /// (group index, destination index).
    upstreams: Box<[(usize, usize)]>,
    /// In file order.
    rules: Box<[Rule]>,
    /// The rules indexed by key kind, for [`Table::select`].
    index: RuleIndex,
    in_dialog: InDialog,
}

impl Table {
    /// Starts a table definition.
    pub fn builder() -> TableBuilder {
        TableBuilder::default()
    }

    /// A table with one group, named [`DEFAULT_GROUP`], holding `upstreams`:
    /// what `--upstream` flags compile to.
    pub fn from_upstreams(
        upstreams: impl IntoIterator<Item = Upstream>,
    ) -> Result<Table, RouteError> {
        Table::builder().group(DEFAULT_GROUP, upstreams).build()
    }

    /// The decision for a request: the first rule that matches and has an
    /// action decides (a member of its group, with its rewrite; a reply; a
    /// drop); with none, a member of the default group. A group with no
    /// member available routes to its fallback's member (one level, with
    /// the same rewrite), else answers with its `when_down` reply
    /// ([`Decision::ALL_DOWN`] unless configured).
    #[inline]
    pub fn select(&self, input: &RouteInput<'_>) -> Decision<'_> {
        self.select_with_auth(input).0
    }

    /// [`Table::select`], and what the matching rules say about
    /// authenticating the request ([`RuleAuth`]).
    #[inline]
    pub fn select_with_auth(&self, input: &RouteInput<'_>) -> (Decision<'_>, RuleAuth) {
        if !self.rules.is_empty() {
            let mut ev = Eval::new(input);
            let outcome = self.index.decide(&self.rules, &mut ev);
            let auth = ev.auth;
            if let Some(outcome) = outcome {
                return (self.outcome(outcome, input), auth);
            }
            return (self.route(self.default_group, None, input), auth);
        }
        (
            self.route(self.default_group, None, input),
            RuleAuth::default(),
        )
    }

    /// True when some rule sets `auth`: the authenticator must then hear
    /// the rules before it decides.
    pub fn rules_set_auth(&self) -> bool {
        self.rules.iter().any(|r| r.auth().is_some())
    }

    /// [`Table::select`] testing the rules one by one, without the index:
    /// the tests' oracle.
    #[cfg(test)]
    pub(super) fn select_linear(&self, input: &RouteInput<'_>) -> Decision<'_> {
        let mut ev = Eval::new(input);
        match super::index::linear(&self.rules, &mut ev) {
            Some(outcome) => self.outcome(outcome, input),
            None => self.route(self.default_group, None, input),
        }
    }

    /// The decision a rule's outcome makes.
    #[inline]
    fn outcome<'t>(&'t self, outcome: Outcome<'t>, input: &RouteInput<'_>) -> Decision<'t> {
        match outcome {
            Outcome::Route(g, rewrite) => self.route(g, rewrite, input),
            Outcome::Reject(code, reason) => Decision::Reject {
                code,
                reason,
                retry_after: None,
            },
            Outcome::Drop => Decision::Drop,
        }
    }

    /// A member of group `g`, or of its fallback, or its reply when down.
    #[inline]
    fn route<'t>(
        &'t self,
        g: usize,
        rewrite: Option<&'t Rewrite>,
        input: &RouteInput<'_>,
    ) -> Decision<'t> {
        let Some(group) = self.groups.get(g) else {
            return Decision::ALL_DOWN;
        };
        let dest = group.choose(input).or_else(|| {
            group
                .fallback
                .and_then(|f| self.groups.get(f))
                .and_then(|f| f.choose(input))
        });
        match (dest, group.when_down()) {
            (Some(dest), _) => Decision::Route { dest, rewrite },
            (None, None) => Decision::ALL_DOWN,
            (None, Some(w)) => Decision::Reject {
                code: w.code,
                reason: &w.reason,
                retry_after: w.retry_after,
            },
        }
    }

    /// What an in-dialog request without a Route set is routed by.
    pub fn in_dialog(&self) -> InDialog {
        self.in_dialog
    }

    /// The rules, in evaluation (file) order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How many prefixes the rules hold (`prefix_table` entries and
    /// `ruri_user_prefix` entries), for summaries.
    pub fn prefix_count(&self) -> usize {
        self.rules.iter().map(Rule::prefix_count).sum()
    }

    /// The group used when no rule matches.
    #[inline]
    pub fn default_group(&self) -> &Group {
        &self.groups[self.default_group]
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name() == name)
    }

    /// All groups, in definition order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Each distinct upstream (address and transport) once, in first-use
    /// order: what a health prober walks. Setting the health of one of these
    /// sets it in every group that lists the upstream.
    pub fn upstreams(&self) -> impl Iterator<Item = &Destination> + '_ {
        self.upstreams
            .iter()
            .map(|&(g, d)| &self.groups[g].destinations()[d])
    }

    /// Marks the upstream at `addr` over `transport` up or down. Returns
    /// `false` when the table has no such upstream.
    pub fn set_healthy(&self, addr: SocketAddr, transport: Transport, up: bool) -> bool {
        match self
            .upstreams()
            .find(|d| d.addr() == addr && d.transport() == transport)
        {
            Some(d) => {
                d.set_healthy(up);
                true
            }
            None => false,
        }
    }
}

/// Collects groups and rules, then validates and compiles them into a
/// [`Table`] with [`TableBuilder::build`]. Errors are reported by `build`,
/// naming the group, member or rule and the field.
#[derive(Debug, Default)]
pub struct TableBuilder {
    groups: Vec<GroupSpec>,
    rules: Vec<RuleSpec>,
    default_group: Option<String>,
    in_dialog: InDialog,
    seed: u64,
    inherited: HashMap<(SocketAddr, Transport), Arc<Health>>,
}

impl TableBuilder {
    /// Adds a group of `upstreams` balanced by hashing the Call-ID. The
    /// first group added is the default unless
    /// [`TableBuilder::default_group`] names another.
    pub fn group(
        self,
        name: impl Into<String>,
        upstreams: impl IntoIterator<Item = Upstream>,
    ) -> TableBuilder {
        self.group_spec(GroupSpec::from_upstreams(name, upstreams))
    }

    /// Adds a group as configured in full.
    pub fn group_spec(mut self, spec: GroupSpec) -> TableBuilder {
        self.groups.push(spec);
        self
    }

    /// Adds a rule after the ones added before.
    pub fn rule(mut self, rule: RuleSpec) -> TableBuilder {
        self.rules.push(rule);
        self
    }

    /// Sets what routes in-dialog requests without a Route set.
    pub fn in_dialog(mut self, in_dialog: InDialog) -> TableBuilder {
        self.in_dialog = in_dialog;
        self
    }

    /// The seed of the `random` and `round-robin` hashes (0 by default).
    /// The caller chooses it (route has no randomness); keeping it across
    /// reloads keeps those groups' calls where they are.
    pub fn seed(mut self, seed: u64) -> TableBuilder {
        self.seed = seed;
        self
    }

    /// Names the group used when no rule matches.
    pub fn default_group(mut self, name: impl Into<String>) -> TableBuilder {
        self.default_group = Some(name.into());
        self
    }

    /// Keeps the health state of `old` for upstreams present in both
    /// tables (same address and transport): a reload then neither revives a
    /// down upstream nor forgets what the prober learned. New upstreams start
    /// up.
    pub fn inherit_health(mut self, old: &Table) -> TableBuilder {
        for d in old.upstreams() {
            self.inherited
                .insert((d.addr(), d.transport()), Arc::clone(d.health()));
        }
        self
    }

    /// Validates and compiles: at least one group; group names of 1 to
    /// [`MAX_GROUP_NAME`] characters from `A-Z a-z 0-9 _ - .`, each used
    /// once; every group non-empty, every weight 1 or more, no upstream
    /// twice in a group; replies with codes 400 to 699 and printable
    /// reasons; probes that make sense; fallbacks to defined groups, without
    /// cycles; the default group defined; rules with unique names, routing
    /// to defined groups, with rewrites only on routes.
    pub fn build(self) -> Result<Table, RouteError> {
        if self.groups.is_empty() {
            return Err(RouteError::NoGroups);
        }
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        let defined = names.join(", ");
        let index_of = |name: &str| names.iter().position(|n| n == name);
        let mut seen: HashMap<(SocketAddr, Transport), Arc<Health>> = HashMap::new();
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut upstreams = Vec::new();
        for (gi, spec) in self.groups.into_iter().enumerate() {
            let name = spec.name;
            if !valid_group_name(&name) {
                return Err(RouteError::InvalidGroupName { group: name });
            }
            if names[..gi].contains(&name) {
                return Err(RouteError::DuplicateGroup { group: name });
            }
            if spec.members.is_empty() {
                return Err(RouteError::EmptyGroup { group: name });
            }
            if let Some(w) = &spec.when_down {
                check_reply(w.code, &w.reason).map_err(|problem| RouteError::InvalidReply {
                    place: format!("group '{name}' when_down"),
                    problem,
                })?;
            }
            if let Some(problem) = spec.probe.as_ref().and_then(|p| p.problem()) {
                return Err(RouteError::InvalidProbe {
                    group: name,
                    problem,
                });
            }
            let fallback = match spec.fallback {
                None => None,
                Some(f) => Some(index_of(&f).ok_or_else(|| RouteError::UnknownFallback {
                    group: name.clone(),
                    fallback: f,
                    defined: defined.clone(),
                })?),
            };
            let mut dests: Vec<Destination> = Vec::with_capacity(spec.members.len());
            for m in spec.members {
                let u = m.upstream;
                if u.weight == 0 {
                    return Err(RouteError::ZeroWeight {
                        group: name,
                        addr: u.addr,
                        transport: u.transport.as_param(),
                    });
                }
                if dests
                    .iter()
                    .any(|d| d.addr() == u.addr && d.transport() == u.transport)
                {
                    return Err(RouteError::DuplicateDestination {
                        group: name,
                        addr: u.addr,
                        transport: u.transport.as_param(),
                    });
                }
                let flag = match seen.get(&(u.addr, u.transport)) {
                    Some(flag) => Arc::clone(flag),
                    None => {
                        // First use in this table: the prober's entry.
                        upstreams.push((gi, dests.len()));
                        let flag = self
                            .inherited
                            .get(&(u.addr, u.transport))
                            .map_or_else(|| Arc::new(Health::new(true)), Arc::clone);
                        seen.insert((u.addr, u.transport), Arc::clone(&flag));
                        flag
                    }
                };
                dests.push(
                    Destination::new(u.addr, u.transport, u.weight, flag).with_member(
                        m.priority,
                        m.drain,
                        m.name.into_boxed_str(),
                    ),
                );
            }
            let mut group = Group::new(name.into_boxed_str(), dests.into_boxed_slice());
            compile_balance(&mut group, spec.algorithm, self.seed);
            group.fallback = fallback;
            group.when_down = spec.when_down;
            group.probe = spec.probe;
            groups.push(group);
        }
        check_fallback_cycles(&groups)?;
        let default_group = match self.default_group {
            None => 0,
            Some(name) => index_of(&name).ok_or(RouteError::UnknownDefaultGroup { group: name })?,
        };
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for (i, spec) in self.rules.into_iter().enumerate() {
            rules.push(compile_rule(i, spec, &rules, &index_of, &defined)?);
        }
        Ok(Table {
            groups: groups.into_boxed_slice(),
            default_group,
            upstreams: upstreams.into_boxed_slice(),
            index: RuleIndex::new(&rules),
            rules: rules.into_boxed_slice(),
            in_dialog: self.in_dialog,
        })
    }
}

/// Sets what `algorithm` needs in `group`: the round-robin cycle, the
/// priority levels, the hash key.
fn compile_balance(group: &mut Group, algorithm: Algorithm, seed: u64) {
    group.algorithm = algorithm;
    group.key = score_hash(CallHash::of(group.name.as_bytes()), seed);
    if algorithm == Algorithm::RoundRobin {
        let weights: Vec<u32> = group.dests.iter().map(Destination::weight).collect();
        group.cycle = cycle(&weights);
    }
    let mut levels: Vec<u32> = group.dests.iter().map(Destination::priority).collect();
    levels.sort_unstable();
    levels.dedup();
    group.levels = levels.into_boxed_slice();
}

/// Refuses a group whose fallback chain comes back to it.
fn check_fallback_cycles(groups: &[Group]) -> Result<(), RouteError> {
    for (i, g) in groups.iter().enumerate() {
        let mut path = vec![g.name().to_owned()];
        let mut at = g.fallback;
        while let Some(f) = at {
            let next = &groups[f];
            path.push(next.name().to_owned());
            if f == i {
                return Err(RouteError::FallbackCycle {
                    group: g.name().to_owned(),
                    path: path.join(" -> "),
                });
            }
            if path.len() > groups.len() {
                break;
            }
            at = next.fallback;
        }
    }
    Ok(())
}

/// Compiles rule number `i` (0-based), given the rules before it.
fn compile_rule(
    i: usize,
    spec: RuleSpec,
    before: &[Rule],
    index_of: &dyn Fn(&str) -> Option<usize>,
    defined: &str,
) -> Result<Rule, RouteError> {
    let rule = spec.name;
    if rule.is_empty() {
        return Err(RouteError::UnnamedRule { number: i + 1 });
    }
    if before.iter().any(|r| *r.name == *rule) {
        return Err(RouteError::DuplicateRule { rule });
    }
    let unknown = |group: String| RouteError::UnknownRouteGroup {
        rule: rule.clone(),
        group,
        defined: defined.to_owned(),
    };
    let action = match spec.action {
        ActionSpec::Route(g) if g == LOCATION => {
            return Err(RouteError::LocationNotSupported { rule })
        }
        ActionSpec::Route(g) => Action::Route(index_of(&g).ok_or_else(|| unknown(g))?),
        ActionSpec::PrefixTable(map) => {
            Action::PrefixTable(map.try_map_values(|g| index_of(&g).ok_or_else(|| unknown(g)))?)
        }
        ActionSpec::Reject { code, reason } => {
            check_reply(code, &reason).map_err(|problem| RouteError::InvalidReply {
                place: format!("rule '{rule}' reject"),
                problem,
            })?;
            Action::Reject {
                code,
                reason: reason.into_boxed_str(),
            }
        }
        ActionSpec::Drop => Action::Drop,
        ActionSpec::Next => Action::Next,
    };
    if let Some(rw) = &spec.rewrite {
        if !matches!(action, Action::Route(_) | Action::PrefixTable(_)) {
            return Err(RouteError::RewriteWithoutRoute { rule });
        }
        check_rewrite(rw).map_err(|problem| RouteError::InvalidRewrite {
            rule: rule.clone(),
            problem,
        })?;
    }
    let mut matches = spec.matches;
    matches.sort_by_key(|m| m.cost());
    Ok(Rule {
        name: rule.into_boxed_str(),
        matches: matches.into_boxed_slice(),
        action,
        rewrite: spec.rewrite,
        auth: spec.auth,
        challenge_www: spec.challenge_www,
    })
}

/// A reply we may write: a 4xx-6xx code and a reason phrase of printable
/// characters (it goes into a status line).
fn check_reply(code: u16, reason: &str) -> Result<(), String> {
    if !(400..=699).contains(&code) {
        return Err(format!("code {code} is not valid; use 400 to 699"));
    }
    if reason.trim().is_empty() || reason.chars().any(char::is_control) {
        return Err(format!(
            "reason {reason:?} is not valid; give a phrase without control characters"
        ));
    }
    Ok(())
}

/// A rewrite that writes a valid Request-URI: a prefix of user
/// characters, a host name or IP address.
fn check_rewrite(rw: &Rewrite) -> Result<(), String> {
    let user_char = |b: &u8| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/%".contains(b);
    if !rw.prefix.iter().all(user_char) {
        return Err(format!(
            "ruri_user prefix {:?} has characters a URI user cannot hold unescaped",
            String::from_utf8_lossy(&rw.prefix)
        ));
    }
    if let Some(host) = &rw.host {
        let text = String::from_utf8_lossy(host);
        let ip = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .is_some_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
            || text.parse::<std::net::Ipv4Addr>().is_ok();
        if !ip && !super::domain::valid_name(&text) {
            return Err(format!(
                "ruri_host '{text}' is not a host name or an IP address ([...] for IPv6)"
            ));
        }
    }
    Ok(())
}

fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The table in force, swapped whole on reload. Workers call
/// [`LiveTable::load`] per message (lock-free, wait-free in the common case)
/// and route with the guard; the control thread calls
/// [`LiveTable::store`]. A worker that wants to avoid even the load's
/// reference-count traffic can keep an `arc_swap::Cache` over
/// [`LiveTable::inner`].
#[derive(Debug)]
pub struct LiveTable {
    current: ArcSwap<Table>,
}

impl LiveTable {
    /// Starts with `table`.
    pub fn new(table: Table) -> LiveTable {
        LiveTable {
            current: ArcSwap::from_pointee(table),
        }
    }

    /// The current table, for the duration of one message.
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Table>> {
        self.current.load()
    }

    /// The current table as an owned `Arc`, for holding longer (the prober).
    pub fn load_full(&self) -> Arc<Table> {
        self.current.load_full()
    }

    /// Replaces the table; messages already routing finish with the old one.
    /// Returns the old table. Build the new one with
    /// [`TableBuilder::inherit_health`] to carry health over.
    pub fn store(&self, table: Table) -> Arc<Table> {
        self.current.swap(Arc::new(table))
    }

    /// The underlying `ArcSwap`, e.g. for an `arc_swap::Cache`.
    pub fn inner(&self) -> &ArcSwap<Table> {
        &self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(s: &str, weight: u32) -> Upstream {
        Upstream {
            addr: s.parse().unwrap(),
            transport: Transport::Udp,
            weight,
        }
    }

    #[test]
    fn shared_read_only_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Table>();
        assert_send_sync::<LiveTable>();
    }

    #[test]
    fn select_uses_the_default_group() {
        let table = Table::builder()
            .group("a", [up("10.0.0.1:5060", 1)])
            .group("b", [up("10.0.0.2:5060", 1), up("10.0.0.3:5060", 1)])
            .default_group("b")
            .build()
            .unwrap();
        assert_eq!(table.default_group().name(), "b");
        let input = RouteInput {
            now_unix_secs: 1_700_000_000,
            ..RouteInput::new(b"1@x")
        };
        let d = table.select(&input).dest().unwrap();
        assert_ne!(d.addr(), "10.0.0.1:5060".parse().unwrap());
        assert_eq!(table.group("a").unwrap().destinations().len(), 1);
        assert!(table.group("c").is_none());
        // The first group is the default unless named.
        let t = Table::builder()
            .group("a", [up("10.0.0.1:5060", 1)])
            .group("b", [up("10.0.0.2:5060", 1)])
            .build()
            .unwrap();
        assert_eq!(t.default_group().name(), "a");
    }

    #[test]
    fn health_is_shared_by_groups_and_inherited_on_reload() {
        let t = Table::builder()
            .group("a", [up("10.0.0.1:5060", 1), up("10.0.0.2:5060", 1)])
            .group("b", [up("10.0.0.2:5060", 5)])
            .build()
            .unwrap();
        assert_eq!(t.upstreams().count(), 2);
        let two: SocketAddr = "10.0.0.2:5060".parse().unwrap();
        assert!(t.set_healthy(two, Transport::Udp, false));
        assert!(!t.set_healthy(two, Transport::Tcp, false));
        assert!(!t.group("a").unwrap().destinations()[1].is_healthy());
        assert!(!t.group("b").unwrap().destinations()[0].is_healthy());
        assert!(t.group("b").unwrap().pick(b"x").is_none());

        let live = LiveTable::new(t);
        let old = live.load_full();
        let next = Table::builder()
            .group("a", [up("10.0.0.2:5060", 1), up("10.0.0.9:5060", 1)])
            .inherit_health(&old)
            .build()
            .unwrap();
        let prev = live.store(next);
        assert!(Arc::ptr_eq(&prev, &old));
        let now = live.load();
        let dests = now.default_group().destinations();
        assert!(!dests[0].is_healthy(), "down upstream stayed down");
        assert!(dests[1].is_healthy(), "new upstream starts up");
        // The old generation and the new one share the flag.
        dests[0].set_healthy(true);
        assert!(old.group("b").unwrap().destinations()[0].is_healthy());
    }

    #[test]
    fn invalid_tables_name_the_field() {
        let ok = || vec![up("10.0.0.1:5060", 1)];
        let cases: Vec<(TableBuilder, &str)> = vec![
            (
                Table::builder(),
                "no destination group is defined; give at least one upstream",
            ),
            (
                Table::builder().group("a", []),
                "group 'a' has no destinations; give at least one upstream",
            ),
            (
                Table::builder().group("a", ok()).group("a", ok()),
                "group 'a' is defined twice; group names must be unique",
            ),
            (
                Table::builder().group("a b", ok()),
                "group name 'a b' is not valid; use 1 to 64 characters from A-Z a-z 0-9 _ - .",
            ),
            (
                Table::builder().group("", ok()),
                "group name '' is not valid; use 1 to 64 characters from A-Z a-z 0-9 _ - .",
            ),
            (
                Table::builder().group("a", [up("10.0.0.1:5060", 1), up("[::1]:5070", 0)]),
                "group 'a': upstream [::1]:5070;transport=udp has weight 0; \
                 weights must be 1 or more (remove the upstream to stop using it)",
            ),
            (
                Table::builder().group("a", [up("10.0.0.1:5060", 1), up("10.0.0.1:5060", 2)]),
                "group 'a': upstream 10.0.0.1:5060;transport=udp is listed twice; \
                 list it once and give it a larger weight instead",
            ),
            (
                Table::builder().group("a", ok()).default_group("z"),
                "default group 'z' is not defined",
            ),
        ];
        for (builder, want) in cases {
            assert_eq!(builder.build().unwrap_err().to_string(), want);
        }
        // Same address over another transport is another upstream.
        let tcp = Upstream {
            transport: Transport::Tcp,
            ..up("10.0.0.1:5060", 1)
        };
        assert!(Table::builder()
            .group("a", [up("10.0.0.1:5060", 1), tcp])
            .build()
            .is_ok());
    }

    #[test]
    fn from_upstreams_makes_one_default_group() {
        let t = Table::from_upstreams([up("10.0.0.1:5060", 1)]).unwrap();
        assert_eq!(t.groups().len(), 1);
        assert_eq!(t.default_group().name(), DEFAULT_GROUP);
        assert_eq!(
            t.select(&RouteInput::new(b"abc")).dest().map(|d| d.addr()),
            Some("10.0.0.1:5060".parse().unwrap())
        );
        t.set_healthy("10.0.0.1:5060".parse().unwrap(), Transport::Udp, false);
        assert_eq!(t.select(&RouteInput::new(b"abc")), Decision::ALL_DOWN);
    }
}
