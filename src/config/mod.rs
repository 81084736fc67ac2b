//! The routing file (`branchline proxy --config FILE`, `branchline
//! check-config FILE`): reading the TOML file into a validated, typed
//! [`Config`], with every problem reported as `FILE:LINE:COL: what is wrong;
//! what would be right`, and compiling it into the [`route::Table`] the
//! workers share. The keys are fixed by `CONFIG.md` (the README has the
//! reference).
//!
//! The steps, each reporting all the problems it finds before the next runs:
//!
//! 1. TOML syntax (`toml`'s recovering parser);
//! 2. unknown keys, with the nearest known key (`schema.rs`);
//! 3. value types (serde into the spanned structs of `raw.rs`; the first
//!    mismatch);
//! 4. meaning (`validate.rs`, `matches.rs`, `values.rs`, `prefix.rs`):
//!    ranges, names, group references, CIDRs, regexes, time windows,
//!    durations, member specs, the prefix-table CSV with its own file:line;
//! 5. [`compile`]: DNS for member host names, then the table.
//!
//! [`load`] reads files (the routing file, a `prefix_table` CSV); everything
//! after reading is pure. Paths in the file are relative to its folder.
//!
//! [`route::Table`]: crate::route::Table

mod compile;
mod matches;
mod prefix;
mod raw;
mod schema;
mod source;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An address block of `match.source` and `trusted` (the IP allow-list's).
pub use crate::auth::Cidr;
pub use crate::route::{Algorithm, HashKey};
pub use compile::{compile, digest_settings, engine_warnings, guard_spec};
pub use source::{Diagnostic, Loc};

use crate::log::Level;
use crate::net::ListenAddr;
use crate::route::UpstreamSpec;
use crate::sip::Transport;

/// A routing file, read and validated. Built by [`load`] (or [`parse`]).
#[derive(Debug)]
pub struct Config {
    /// The file, as named by the user.
    pub file: PathBuf,
    /// `[proxy]`: values for the proxy's flags (a flag on the command line
    /// wins).
    pub proxy: ProxySettings,
    /// `routing.default`, or the only group when there is one and no rules.
    pub default_group: String,
    /// `routing.in_dialog`.
    pub in_dialog: InDialogMode,
    /// `[groups.NAME]`, in file order.
    pub groups: Vec<GroupConfig>,
    /// `[[rules]]`, in file order.
    pub rules: Vec<RuleConfig>,
    /// `[auth]`, read and checked (digest authentication is not implemented
    /// yet: see [`Config::warnings`]).
    pub auth: Option<AuthConfig>,
    /// `[guard]`, read and checked (not implemented yet).
    pub guard: Option<GuardConfig>,
    /// `[metrics]`, read and checked (not implemented yet).
    pub metrics: Option<MetricsConfig>,
    /// `[records]`, read and checked (not implemented yet).
    pub records: Option<RecordsConfig>,
    /// `[location]`, read and checked (not implemented yet).
    pub location: Option<LocationConfig>,
    /// What the file asks for that this version does not do, one sentence
    /// each, in file order (printed as `warning: ...`).
    pub warnings: Vec<String>,
}

/// `[proxy]`: each key mirrors the flag of the same name; `None` where the
/// file does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `listen`: `udp:ADDR:PORT` / `tcp:ADDR:PORT`.
    pub listen: Option<Vec<ListenAddr>>,
    /// `advertise`.
    pub advertise: Option<String>,
    /// `record_route`.
    pub record_route: Option<bool>,
    /// `branch_secret_file`, joined to the routing file's folder.
    pub branch_secret_file: Option<PathBuf>,
    /// `workers`, 1..=1024.
    pub workers: Option<u16>,
    /// `pin`: `false` is `--no-pin`.
    pub pin: Option<bool>,
    /// `max_message_size`, 512..=65535.
    pub max_message_size: Option<usize>,
    /// `log_level`.
    pub log_level: Option<Level>,
    /// `tcp_idle_timeout`, whole seconds, 1 or more.
    pub tcp_idle_timeout: Option<u64>,
    /// `tcp_max_connections`.
    pub tcp_max_connections: Option<usize>,
    /// `tcp_max_per_ip`.
    pub tcp_max_per_ip: Option<usize>,
    /// `tcp_message_timeout`, whole seconds, 1 or more.
    pub tcp_message_timeout: Option<u64>,
    /// `sched_batch`.
    pub sched_batch: Option<bool>,
}

/// `routing.in_dialog`: where an in-dialog request with no Route set goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InDialogMode {
    /// `request-uri` (RFC 3261; the default).
    #[default]
    RequestUri,
    /// `rules`: as if out of dialog.
    Rules,
}

impl InDialogMode {
    /// The name written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            InDialogMode::RequestUri => "request-uri",
            InDialogMode::Rules => "rules",
        }
    }
}

/// `[groups.NAME]`.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// The group's name.
    pub name: String,
    /// Where the group's table starts.
    pub loc: Loc,
    /// `algorithm` (and `hash_key`).
    pub algorithm: Algorithm,
    /// `members`, in order.
    pub members: Vec<MemberConfig>,
    /// `fallback`: a defined group other than this one.
    pub fallback: Option<String>,
    /// `when_down`.
    pub when_down: Option<Reply>,
    /// `[groups.NAME.probe]`.
    pub probe: Option<ProbeConfig>,
}

/// One entry of `members`.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `HOST:PORT` as written: the member's name (metrics, `ctl`).
    pub name: String,
    /// Where it is written.
    pub loc: Loc,
    /// Host, port, transport and weight (`route::parse_upstream`).
    pub spec: UpstreamSpec,
    /// `;priority=N` (default 1; lower is preferred).
    pub priority: u32,
    /// `;state=drain`: takes no new calls.
    pub drain: bool,
}

/// A reply the proxy sends: `when_down` or a rule's `reject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 300..=699 for `when_down`, 400..=699 for `reject`.
    pub code: u16,
    /// The reason phrase.
    pub reason: String,
    /// `retry_after` seconds (`when_down` only).
    pub retry_after: Option<u32>,
}

/// `[groups.NAME.probe]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// `interval` (default 2s).
    pub interval: Duration,
    /// `timeout` (default 1s), shorter than the interval.
    pub timeout: Duration,
    /// `fall` (default 2).
    pub fall: u32,
    /// `rise` (default 2).
    pub rise: u32,
    /// `codes` (default `["2xx"]`).
    pub codes: Vec<CodeClass>,
}

/// A reply code or class in `probe.codes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// `"2xx"`: the class digit, 1..=6.
    Class(u8),
    /// `"403"`.
    Code(u16),
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone)]
pub struct RuleConfig {
    /// `name`, unique.
    pub name: String,
    /// Where the rule's table starts.
    pub loc: Loc,
    /// `match.*`, all of which must hold.
    pub matches: Vec<MatchConfig>,
    /// What the rule does.
    pub action: ActionConfig,
    /// `rewrite.*`.
    pub rewrite: Option<RewriteConfig>,
    /// `auth = true|false`.
    pub auth: Option<bool>,
    /// `challenge = "proxy"|"www"` (407 or 401).
    pub challenge: Option<Challenge>,
}

/// A rule's action.
#[derive(Debug, Clone)]
pub enum ActionConfig {
    /// `route = "GROUP"`.
    Route(String),
    /// `prefix_table = "FILE"`: (prefix, index into [`Config::groups`]),
    /// in file order, separators removed.
    PrefixTable {
        /// The CSV, joined to the routing file's folder.
        path: PathBuf,
        /// Its lines.
        entries: Vec<(crate::route::DialKey, usize)>,
    },
    /// `reject = { code, reason }`.
    Reject(Reply),
    /// `action = "drop"`.
    Drop,
}

/// `rewrite.ruri_user` and `rewrite.ruri_host`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RewriteConfig {
    /// Leading characters removed from the Request-URI user.
    pub strip: usize,
    /// Then prepended.
    pub prefix: String,
    /// The new Request-URI host.
    pub host: Option<String>,
}

/// `challenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `proxy`: 407 with Proxy-Authenticate (the default).
    Proxy,
    /// `www`: 401 with WWW-Authenticate.
    Www,
}

/// One `match.*` key; a list inside is ORed.
#[derive(Debug, Clone)]
pub enum MatchConfig {
    /// `method`.
    Method(Vec<String>),
    /// `ruri_user_prefix`, separators removed.
    RuriUserPrefix(Vec<String>),
    /// `ruri_user`.
    RuriUser(Vec<String>),
    /// `ruri_user_regex`, the list joined into one alternation.
    RuriUserRegex(regex::bytes::Regex),
    /// `ruri_domain`, lower case; `*.` prefix for a wildcard.
    RuriDomain(Vec<String>),
    /// `from_user`.
    FromUser(Vec<String>),
    /// `from_domain`.
    FromDomain(Vec<String>),
    /// `to_user`.
    ToUser(Vec<String>),
    /// `to_domain`.
    ToDomain(Vec<String>),
    /// `source`.
    Source(Vec<Cidr>),
    /// `transport`.
    Transport(Vec<Transport>),
    /// `header = { name, value }` or `{ name, present = true }`.
    Header {
        /// The header's name.
        name: String,
        /// The value it must have (exact, case-sensitive); `None`: present.
        value: Option<String>,
    },
    /// `user_agent`: case-insensitive substrings (kept in lower case).
    UserAgent(Vec<String>),
    /// `time`.
    Time(Vec<TimeSpec>),
}

impl MatchConfig {
    /// The key's name in the file.
    pub fn key(&self) -> &'static str {
        match self {
            MatchConfig::Method(_) => "method",
            MatchConfig::RuriUserPrefix(_) => "ruri_user_prefix",
            MatchConfig::RuriUser(_) => "ruri_user",
            MatchConfig::RuriUserRegex(_) => "ruri_user_regex",
            MatchConfig::RuriDomain(_) => "ruri_domain",
            MatchConfig::FromUser(_) => "from_user",
            MatchConfig::FromDomain(_) => "from_domain",
            MatchConfig::ToUser(_) => "to_user",
            MatchConfig::ToDomain(_) => "to_domain",
            MatchConfig::Source(_) => "source",
            MatchConfig::Transport(_) => "transport",
            MatchConfig::Header { .. } => "header",
            MatchConfig::UserAgent(_) => "user_agent",
            MatchConfig::Time(_) => "time",
        }
    }
}

/// One `match.time` window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSpec {
    /// `days` as written (`"mon-fri"`), for the routing engine.
    pub days_text: String,
    /// Bit 0 Monday .. bit 6 Sunday.
    pub days: u8,
    /// `hours` as written (`"08:00-18:00"`).
    pub hours_text: String,
    /// Start, minutes after midnight (inclusive).
    pub start: u16,
    /// End, minutes after midnight (exclusive, 1..=1440); less than or
    /// equal to `start` crosses midnight.
    pub end: u16,
    /// The IANA time zone.
    pub tz: String,
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `realm`.
    pub realm: String,
    /// `users_file`, joined to the routing file's folder.
    pub users_file: PathBuf,
    /// `methods` (default INVITE, REGISTER, MESSAGE, SUBSCRIBE).
    pub methods: Vec<String>,
    /// `algorithms` (default SHA-256, MD5).
    pub algorithms: Vec<String>,
    /// `nonce_lifetime` (default 5m).
    pub nonce_lifetime: Duration,
    /// `trusted`.
    pub trusted: Vec<Cidr>,
    /// `bind_nonce` (added to the specification; default false): a nonce
    /// is accepted only from the address it was sent to.
    pub bind_nonce: bool,
}

/// `[guard]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// `rate`, requests per second per source.
    pub rate: u32,
    /// `burst` (default: `rate`).
    pub burst: u32,
    /// `ban` (default 60s).
    pub ban: Duration,
    /// `response`: `true` for `reject`, `false` for `drop` (the default).
    pub reject: bool,
    /// `trusted`.
    pub trusted: Vec<Cidr>,
    /// `max_sources` (default 100000).
    pub max_sources: u32,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `listen`.
    pub listen: SocketAddr,
    /// `token_file`, joined to the routing file's folder.
    pub token_file: Option<PathBuf>,
}

/// `[records]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsConfig {
    /// `file`; `-` is standard output.
    pub file: PathBuf,
}

/// `[location]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConfig {
    /// `max_bindings` (default 1000000).
    pub max_bindings: u32,
    /// `redis`.
    pub redis: Option<String>,
}

/// Why a routing file was refused: every problem found, in file order
/// within each step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// One line each.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    fn one(d: Diagnostic) -> ConfigError {
        ConfigError {
            diagnostics: vec![d],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and validates the routing file at `path` (and the files it names:
/// `prefix_table` CSVs). **Does I/O** (reads files; no DNS: that is
/// [`compile`]).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(Diagnostic::file(
            &name,
            format!("cannot read the routing file: {e}; give the path of a TOML file"),
        ))
    })?;
    parse(path, &text, &mut SystemFiles)
}

/// Validates `text` as the routing file named `path` (used for messages and
/// as the base of relative paths). Files the text names are read through
/// `files`.
pub(crate) fn parse(path: &Path, text: &str, files: &mut dyn Files) -> Result<Config, ConfigError> {
    validate::run(path, text, files)
}

/// What validation needs from the system, a seam for tests: the files a
/// routing file names, and the time-zone database.
pub(crate) trait Files {
    /// The text of a file the routing file names (a `prefix_table`).
    fn read(&mut self, path: &Path) -> std::io::Result<String>;
    /// Whether `name` is an IANA time zone this host knows.
    fn zone_exists(&mut self, name: &str) -> bool;
}

/// The real file system and the system's zoneinfo.
pub(crate) struct SystemFiles;

impl Files for SystemFiles {
    fn read(&mut self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn zone_exists(&mut self, name: &str) -> bool {
        compile::zone_exists(name)
    }
}

impl Config {
    /// How many prefixes the rules hold (`ruri_user_prefix` lists and
    /// `prefix_table` lines).
    pub fn prefix_count(&self) -> usize {
        self.rules
            .iter()
            .map(|r| {
                let listed: usize = r
                    .matches
                    .iter()
                    .map(|m| match m {
                        MatchConfig::RuriUserPrefix(p) => p.len(),
                        _ => 0,
                    })
                    .sum();
                let table = match &r.action {
                    ActionConfig::PrefixTable { entries, .. } => entries.len(),
                    _ => 0,
                };
                listed + table
            })
            .sum()
    }

    /// What `branchline check-config` prints for a good file: the groups
    /// (members, algorithm), the rules, the prefix count, the default group,
    /// the in-dialog mode and the other tables read, one item a line.
    pub fn summary(&self) -> String {
        use fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{}: OK", self.file.display());
        let _ = writeln!(s, "groups: {}", self.groups.len());
        for g in &self.groups {
            let n = g.members.len();
            let _ = write!(
                s,
                "  {}: {n} member{}, {}",
                g.name,
                if n == 1 { "" } else { "s" },
                g.algorithm
            );
            if let Some(f) = &g.fallback {
                let _ = write!(s, ", fallback {f}");
            }
            if g.probe.is_some() {
                let _ = write!(s, ", probe");
            }
            s.push('\n');
        }
        let names: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
        let _ = writeln!(
            s,
            "rules: {}{}{}",
            self.rules.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        let _ = writeln!(s, "prefixes: {}", self.prefix_count());
        let _ = writeln!(s, "default group: {}", self.default_group);
        let _ = writeln!(s, "in_dialog: {}", self.in_dialog.as_str());
        let mut read = Vec::new();
        for (present, table) in [
            (self.proxy != ProxySettings::default(), "[proxy]"),
            (self.auth.is_some(), "[auth]"),
            (self.guard.is_some(), "[guard]"),
            (self.metrics.is_some(), "[metrics]"),
            (self.records.is_some(), "[records]"),
            (self.location.is_some(), "[location]"),
        ] {
            if present {
                read.push(table);
            }
        }
        if !read.is_empty() {
            let _ = writeln!(s, "also read: {}", read.join(", "));
        }
        s
    }
}
