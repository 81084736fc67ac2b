//! The compiled routing table: destination groups, the default group, and
//! the lookup that maps a request to a destination. No I/O.
//!
//! A [`Table`] is built once (from flags now, from the routing file later),
//! validated as a whole, then shared read-only by every worker through a
//! [`LiveTable`]. A reload builds a new table and swaps it in; nothing is
//! mutated in place except the health flags.
//!
//! Lookup is two steps, kept separate so rules can be added without
//! touching balancing: [`Table::group_for`] chooses a group from a
//! [`RouteInput`] (today always the default group; rules are evaluated
//! there), then [`Group::pick`] chooses a destination by Call-ID.
//! [`Table::select`] returns the whole [`Decision`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::sip::Transport;

use super::decision::Decision;
use super::group::{Destination, Group, Health};
use super::input::RouteInput;
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

    /// The decision for a request: a member of the group chosen by
    /// [`Table::group_for`], balanced by Call-ID;
    /// [`Decision::ALL_DOWN`] when every member of that group is down.
    #[inline]
    pub fn select(&self, input: &RouteInput<'_>) -> Decision<'_> {
        match self.group_for(input).pick(input.call_id) {
            Some(dest) => Decision::Route {
                dest,
                rewrite: None,
            },
            None => Decision::ALL_DOWN,
        }
    }

    /// The group a request is routed to. Rules will be evaluated here; with
    /// none, it is the default group.
    #[inline]
    pub fn group_for(&self, _input: &RouteInput<'_>) -> &Group {
        self.default_group()
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

/// Collects groups, then validates and compiles them into a [`Table`] with
/// [`TableBuilder::build`]. Errors are reported by `build`, naming the group
/// and the field.
#[derive(Debug, Default)]
pub struct TableBuilder {
    groups: Vec<(String, Vec<Upstream>)>,
    default_group: Option<String>,
    inherited: HashMap<(SocketAddr, Transport), Arc<Health>>,
}

impl TableBuilder {
    /// Adds a group. The first group added is the default unless
    /// [`TableBuilder::default_group`] names another.
    pub fn group(
        mut self,
        name: impl Into<String>,
        upstreams: impl IntoIterator<Item = Upstream>,
    ) -> TableBuilder {
        self.groups
            .push((name.into(), upstreams.into_iter().collect()));
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
    /// twice in a group; the default group defined.
    pub fn build(self) -> Result<Table, RouteError> {
        if self.groups.is_empty() {
            return Err(RouteError::NoGroups);
        }
        let mut seen: HashMap<(SocketAddr, Transport), Arc<Health>> = HashMap::new();
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut upstreams = Vec::new();
        for (gi, (name, members)) in self.groups.into_iter().enumerate() {
            if !valid_group_name(&name) {
                return Err(RouteError::InvalidGroupName { group: name });
            }
            if groups.iter().any(|g: &Group| g.name() == name) {
                return Err(RouteError::DuplicateGroup { group: name });
            }
            if members.is_empty() {
                return Err(RouteError::EmptyGroup { group: name });
            }
            let mut dests: Vec<Destination> = Vec::with_capacity(members.len());
            for u in members {
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
                dests.push(Destination::new(u.addr, u.transport, u.weight, flag));
            }
            groups.push(Group::new(name.into_boxed_str(), dests.into_boxed_slice()));
        }
        let default_group = match self.default_group {
            None => 0,
            Some(name) => groups
                .iter()
                .position(|g| g.name() == name)
                .ok_or(RouteError::UnknownDefaultGroup { group: name })?,
        };
        Ok(Table {
            groups: groups.into_boxed_slice(),
            default_group,
            upstreams: upstreams.into_boxed_slice(),
        })
    }
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
