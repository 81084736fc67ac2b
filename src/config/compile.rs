//! From a validated [`Config`] to the routing [`Table`]: the one place that
//! knows the routing engine's builder API. **Does I/O**: member host names
//! are resolved (DNS); call it at start-up and on reload (the control
//! thread), never on a worker.
//!
//! Every part of the file that the routing table acts on is compiled here:
//! groups with their algorithm, members (priority, drain), fallback,
//! `when_down` and probe settings; rules with every `match` key, action and
//! rewrite; the default group and the in-dialog mode. A problem the engine
//! finds is reported at the rule's or group's place in the file.

use super::source::{Diagnostic, Loc};
use super::{ActionConfig, CodeClass, Config, ConfigError, InDialogMode, MatchConfig, RuleConfig};
use crate::cidr::CidrSet;
use crate::route::{
    self, ActionSpec, DomainSet, GroupSpec, InDialog, Match, MemberSpec, MethodSet, PrefixMap,
    PrefixSet, ProbeSpec, Rewrite, RuleSpec, Substrings, Table, TimeWindow, TransportSet, UserSet,
    WhenDown,
};

/// Compiles `config` into a table, keeping the health flags of `old` (a
/// reload) for members present in both. `seed` keys the `random` and
/// `round-robin` picks (any value; a new one per start spreads calls
/// differently, the same one repeats a run).
pub fn compile(config: &Config, old: Option<&Table>, seed: u64) -> Result<Table, ConfigError> {
    let file = config.file.display().to_string();
    let mut problems = Vec::new();
    let mut b = Table::builder().seed(seed);
    for g in &config.groups {
        let mut members = Vec::with_capacity(g.members.len());
        for m in &g.members {
            match m.spec.resolve() {
                Ok(upstream) => members.push(MemberSpec {
                    upstream,
                    priority: m.priority,
                    drain: m.drain,
                    name: m.name.clone(),
                }),
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
        b = b.group_spec(GroupSpec {
            name: g.name.clone(),
            algorithm: g.algorithm,
            members,
            fallback: g.fallback.clone(),
            when_down: g.when_down.as_ref().map(|r| WhenDown {
                code: r.code,
                reason: r.reason.clone(),
                retry_after: r.retry_after,
            }),
            probe: g.probe.as_ref().map(|p| ProbeSpec {
                interval: p.interval,
                timeout: p.timeout,
                fall: p.fall,
                rise: p.rise,
                codes: p
                    .codes
                    .iter()
                    .map(|c| match *c {
                        CodeClass::Class(k) => route::CodeClass::Class(k),
                        CodeClass::Code(n) => route::CodeClass::Code(n),
                    })
                    .collect(),
            }),
        });
    }
    let group_names: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
    for r in &config.rules {
        match rule(r, &group_names) {
            Ok(spec) => b = b.rule(spec),
            Err(why) => problems.push(Diagnostic::at(&file, r.loc, why)),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError {
            diagnostics: problems,
        });
    }
    b = b
        .default_group(config.default_group.clone())
        .in_dialog(match config.in_dialog {
            InDialogMode::RequestUri => InDialog::RequestUri,
            InDialogMode::Rules => InDialog::Rules,
        });
    if let Some(old) = old {
        b = b.inherit_health(old);
    }
    b.build().map_err(|e| ConfigError {
        diagnostics: vec![diagnostic_for(config, &file, e)],
    })
}

/// The engine's refusal, at the place in the file of the rule or group it
/// names when it names one.
fn diagnostic_for(config: &Config, file: &str, e: route::RouteError) -> Diagnostic {
    let text = e.to_string();
    let named = |name: &str| {
        text.contains(&format!("rule \"{name}\"")) || text.contains(&format!("'{name}'"))
    };
    let loc: Option<Loc> = config
        .rules
        .iter()
        .find(|r| named(&r.name))
        .map(|r| r.loc)
        .or_else(|| {
            config
                .groups
                .iter()
                .find(|g| named(&g.name) || text.contains(&format!("group \"{}\"", g.name)))
                .map(|g| g.loc)
        });
    match loc {
        Some(loc) => Diagnostic::at(file, loc, text),
        None => Diagnostic::file(file, text),
    }
}

/// One rule for the engine; the error says what is wrong with it (the
/// caller puts it at the rule's place).
fn rule(r: &RuleConfig, groups: &[&str]) -> Result<RuleSpec, String> {
    let name = &r.name;
    let bad = |key: &str, entry: &str, why: String| {
        format!("rule \"{name}\": match.{key} entry \"{entry}\": {why}")
    };
    let mut matches = Vec::with_capacity(r.matches.len());
    for m in &r.matches {
        let key = m.key();
        let compiled = match m {
            MatchConfig::Method(v) => {
                Match::Method(MethodSet::new(v).map_err(|(i, p)| bad(key, &v[i], p.to_string()))?)
            }
            MatchConfig::RuriUserPrefix(v) => Match::RuriUserPrefix(
                PrefixSet::new(v.iter().map(String::as_str))
                    .map_err(|(i, p)| bad(key, &v[i], p.to_string()))?,
            ),
            MatchConfig::RuriUser(v) | MatchConfig::FromUser(v) | MatchConfig::ToUser(v) => {
                let set = UserSet::new(v).map_err(|(i, p)| bad(key, &v[i], p.to_string()))?;
                match m {
                    MatchConfig::RuriUser(_) => Match::RuriUser(set),
                    MatchConfig::FromUser(_) => Match::FromUser(set),
                    _ => Match::ToUser(set),
                }
            }
            MatchConfig::RuriUserRegex(re) => Match::RuriUserRegex(re.clone()),
            MatchConfig::RuriDomain(v) | MatchConfig::FromDomain(v) | MatchConfig::ToDomain(v) => {
                let set = DomainSet::new(v).map_err(|(i, p)| bad(key, &v[i], p.to_string()))?;
                match m {
                    MatchConfig::RuriDomain(_) => Match::RuriDomain(set),
                    MatchConfig::FromDomain(_) => Match::FromDomain(set),
                    _ => Match::ToDomain(set),
                }
            }
            MatchConfig::Source(v) => Match::Source(CidrSet::new(v.iter().copied())),
            MatchConfig::Transport(v) => Match::Transport(TransportSet::new(v.iter().copied())),
            MatchConfig::Header { name, value } => Match::Header {
                name: name.clone(),
                value: value.clone(),
            },
            MatchConfig::UserAgent(v) => Match::UserAgent(
                Substrings::new(v).map_err(|i| bad(key, &v[i], "an empty text".into()))?,
            ),
            MatchConfig::Time(v) => Match::Time(
                v.iter()
                    .map(|t| {
                        TimeWindow::new(&t.days_text, &t.hours_text, &t.tz)
                            .map_err(|p| format!("rule \"{name}\": match.time: {p}"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        matches.push(compiled);
    }
    let action = match &r.action {
        ActionConfig::Route(g) => ActionSpec::Route(g.clone()),
        ActionConfig::PrefixTable { path, entries } => {
            // Read and checked line by line already (`prefix.rs`, which
            // refuses repeated prefixes), and packed: compiled by group
            // index, the names put in once per group, not per prefix.
            let map = PrefixMap::from_keys(entries.iter().copied())
                .and_then(|m| {
                    m.try_map_values(|g| {
                        groups
                            .get(g)
                            .map(|n| (*n).to_owned())
                            .ok_or((g, route::PrefixProblem::Empty))
                    })
                })
                .map_err(|(i, p)| {
                    let prefix = entries.get(i).map(|e| e.0.to_string()).unwrap_or_default();
                    format!("{}: prefix \"{prefix}\": {p}", path.display())
                })?;
            ActionSpec::PrefixTable(map)
        }
        ActionConfig::Reject(reply) => ActionSpec::Reject {
            code: reply.code,
            reason: reply.reason.clone(),
        },
        ActionConfig::Drop => ActionSpec::Drop,
    };
    Ok(RuleSpec {
        name: name.clone(),
        matches,
        action,
        rewrite: r.rewrite.as_ref().map(|rw| Rewrite {
            strip: rw.strip,
            prefix: rw.prefix.as_bytes().into(),
            host: rw.host.as_ref().map(|h| h.as_bytes().into()),
        }),
        auth: r.auth,
        challenge_www: r.challenge == Some(super::Challenge::Www),
    })
}

/// The digest authenticator's settings from `[auth]` (its algorithms were
/// checked when the file was read).
pub fn digest_settings(a: &super::AuthConfig) -> crate::auth::DigestSettings {
    crate::auth::DigestSettings {
        realm: a.realm.clone(),
        users_file: a.users_file.clone(),
        methods: a.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
        algorithms: a
            .algorithms
            .iter()
            .filter_map(|n| crate::digest::Algorithm::parse(n.as_bytes()))
            .collect(),
        nonce_lifetime_secs: a.nonce_lifetime.as_secs().max(1),
        trusted: CidrSet::new(a.trusted.iter().copied()),
        bind_nonce: a.bind_nonce,
    }
}

/// The flood guard's settings from `[guard]`.
pub fn guard_spec(g: &super::GuardConfig) -> crate::guard::GuardSpec {
    crate::guard::GuardSpec {
        rate: g.rate,
        burst: g.burst,
        ban: g.ban,
        response: if g.reject {
            crate::guard::Response::Reject
        } else {
            crate::guard::Response::Drop
        },
        trusted: CidrSet::new(g.trusted.iter().copied()),
        max_sources: g.max_sources as usize,
    }
}

/// What the file asks for that this build does not do yet, one sentence
/// each (printed as `warning: ...` by `check-config` and logged by `proxy
/// --config`). The routing table applies everything it reads; nothing of
/// it is listed here.
pub fn engine_warnings(_config: &Config) -> Vec<String> {
    Vec::new()
}

/// Whether `name` is an IANA time zone this build knows (its bundled time
/// zone database, the one `match.time` windows are evaluated in), or
/// `UTC`. No I/O.
pub(crate) fn zone_exists(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}
