//! From a validated [`Config`] to the routing [`Table`]: the one place that
//! knows the routing engine's builder API. **Does I/O**: member host names
//! are resolved (DNS), and [`zone_exists`] looks at the system's zoneinfo;
//! call at start-up and reload (the control thread), never on a worker.
//!
//! This build's table has groups balanced by Call-ID and a default group;
//! rules, the other algorithms, priorities, drain, fallback and in-dialog
//! modes are read and validated by this module but not yet compiled:
//! [`engine_warnings`] says so, one line each, so nothing is ignored
//! silently. When the rule engine (`route::GroupSpec`, `RuleSpec`, ...)
//! is merged, [`compile`] maps every part of the [`Config`] onto it and
//! `engine_warnings` shrinks to what the engine still lacks.

use std::path::Path;

use super::source::Diagnostic;
use super::{Algorithm, Config, ConfigError, HashKey, InDialogMode};
use crate::route::{Table, Upstream};

/// Compiles `config` into a table, keeping the health flags of `old` (a
/// reload) for members present in both.
pub fn compile(config: &Config, old: Option<&Table>) -> Result<Table, ConfigError> {
    let file = config.file.display().to_string();
    let mut problems = Vec::new();
    let mut b = Table::builder();
    for g in &config.groups {
        let mut ups: Vec<Upstream> = Vec::with_capacity(g.members.len());
        for m in &g.members {
            match m.spec.resolve() {
                Ok(u) => ups.push(u),
                Err(e) => problems.push(Diagnostic::at(
                    &file,
                    m.loc,
                    format!(
                        "member \"{}\": {}; check the name or write an IP address",
                        m.name,
                        e.to_string()
                            .split_once(": ")
                            .map_or(e.to_string(), |(_, r)| r.to_owned())
                    ),
                )),
            }
        }
        b = b.group(g.name.clone(), ups);
    }
    if !problems.is_empty() {
        return Err(ConfigError {
            diagnostics: problems,
        });
    }
    b = b.default_group(config.default_group.clone());
    if let Some(old) = old {
        b = b.inherit_health(old);
    }
    b.build().map_err(|e| ConfigError {
        diagnostics: vec![Diagnostic::file(&file, e.to_string())],
    })
}

/// What the file asks for that this build's routing table does not do yet,
/// one sentence each (printed as `warning: ...` by `check-config` and
/// logged by `proxy --config`).
pub fn engine_warnings(config: &Config) -> Vec<String> {
    let mut w = Vec::new();
    if !config.rules.is_empty() {
        w.push(format!(
            "rules are read and checked but this build does not apply them yet: every request goes to the default group \"{}\"",
            config.default_group
        ));
    }
    for g in &config.groups {
        if g.algorithm != Algorithm::Hash(HashKey::CallId) {
            w.push(format!(
                "group \"{}\": algorithm {} is read but this build balances every group by a hash of the Call-ID",
                g.name, g.algorithm
            ));
        }
        let drained: Vec<&str> = g
            .members
            .iter()
            .filter(|m| m.drain)
            .map(|m| m.name.as_str())
            .collect();
        if !drained.is_empty() {
            w.push(format!(
                "group \"{}\": state=drain ({}) is read but this build does not drain members; they get their share of new calls",
                g.name,
                drained.join(", ")
            ));
        }
    }
    if config.in_dialog == InDialogMode::Rules {
        w.push("in_dialog = \"rules\" is read but this build routes in-dialog requests without a Route set by their Request-URI".into());
    }
    w
}

/// Whether `name` is an IANA time zone in the system's zoneinfo
/// (`$TZDIR`, else `/usr/share/zoneinfo`), or `UTC`. **Does I/O** (one
/// `stat`).
pub(crate) fn zone_exists(name: &str) -> bool {
    let well_formed = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
    if !well_formed {
        return false;
    }
    if name == "UTC" {
        return true;
    }
    let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
    Path::new(&dir).join(name).is_file()
}
