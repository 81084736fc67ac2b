//! From text to [`Config`]: TOML syntax, unknown keys, value types, then the
//! meaning of every value (ranges, names, references between groups and
//! rules, the other tables), each step reporting all it finds. No I/O but
//! through [`Files`].

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;
use toml::Spanned;

use super::prefix::read_table;
use super::raw::{self, GroupRaw, ReplyRaw, RuleRaw};
use super::schema;
use super::source::{Diagnostic, Source};
use super::values::{self, did_you_mean, int_in, standard_reason};
use super::{
    ActionConfig, Algorithm, AuthConfig, Challenge, Config, ConfigError, Files, GroupConfig,
    GuardConfig, HashKey, InDialogMode, LocationConfig, MetricsConfig, ProbeConfig, ProxySettings,
    RecordsConfig, Reply, RewriteConfig, RuleConfig,
};
use crate::route::MAX_GROUP_NAME;

/// The checker: the source for spans, the problems found so far, and the
/// routing file's folder (relative paths start there).
pub(crate) struct Check<'a> {
    pub src: Source<'a>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<String>,
    pub files: &'a mut dyn Files,
    dir: PathBuf,
}

impl Check<'_> {
    pub(crate) fn err(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let d = self.src.diag(span, message);
        self.errors.push(d);
    }

    /// `rel` joined to the routing file's folder (absolute paths stay).
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

pub(crate) fn run(path: &Path, text: &str, files: &mut dyn Files) -> Result<Config, ConfigError> {
    let src = Source::new(path.display().to_string(), text);
    let (table, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let diagnostics = syntax.iter().map(|e| toml_problem(&src, e)).collect();
        return Err(ConfigError { diagnostics });
    }
    let unknown = schema::unknown_keys(&src, table.get_ref());
    if !unknown.is_empty() {
        return Err(ConfigError {
            diagnostics: unknown,
        });
    }
    let file = raw::File::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| ConfigError::one(toml_problem(&src, &e)))?;
    let mut check = Check {
        src,
        errors: Vec::new(),
        warnings: Vec::new(),
        files,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let config = check.file(path, file);
    // The routing file's problems in file order, then those of the files
    // it names (each in its own order).
    let main = check.src.name.clone();
    check.errors.sort_by_key(|d| {
        (
            d.file != main,
            if d.file == main { d.line } else { None },
            if d.file == main { d.col } else { None },
        )
    });
    if check.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            diagnostics: check.errors,
        })
    }
}

/// A TOML syntax or type error, at its span, on one line.
fn toml_problem(src: &Source<'_>, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().replace('\n', "; ");
    let span = e.span().unwrap_or(0..0);
    src.diag(&span, message)
}

impl Check<'_> {
    fn file(&mut self, path: &Path, f: raw::File) -> Config {
        let proxy = f
            .proxy
            .map(|p| self.proxy(p.into_inner()))
            .unwrap_or_default();
        // Every group named in the file, good or not, so that a bad group
        // does not also make each reference to it an error.
        let mut names: Vec<String> = Vec::new();
        let groups = match f.groups {
            Some(g) => {
                let span = g.span();
                let g = g.into_inner();
                if g.0.is_empty() {
                    self.err(&span, "no groups are defined; add a [groups.NAME] table with members = [\"HOST:PORT\"]");
                }
                names = g.0.iter().map(|(n, _)| n.get_ref().clone()).collect();
                g.0.into_iter()
                    .filter_map(|(name, g)| self.group(name, g))
                    .collect()
            }
            None => {
                self.err(&(0..0), "no groups are defined; add a [groups.NAME] table with members = [\"HOST:PORT\"]");
                Vec::new()
            }
        };
        self.fallbacks(&groups, &names);
        let rules = match f.rules {
            Some(r) => self.rules(r.into_inner(), &names),
            None => Vec::new(),
        };
        let (default_group, in_dialog) = self.routing(f.routing, &names, !rules.is_empty());
        let auth = f.auth.map(|a| self.auth(a));
        let guard = f.guard.map(|g| self.guard(g));
        let metrics = f.metrics.map(|m| self.metrics(m));
        let records = f.records.map(|r| self.records(r));
        let location = f.location.map(|l| self.location(l));
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(not_implemented(
            &rules,
            auth.is_some(),
            metrics.is_some(),
            records.is_some(),
            location.is_some(),
        ));
        Config {
            file: path.to_path_buf(),
            proxy,
            default_group,
            in_dialog,
            groups,
            rules,
            auth: auth.flatten(),
            guard: guard.flatten(),
            metrics: metrics.flatten(),
            records: records.flatten(),
            location: location.flatten(),
            warnings,
        }
    }

    fn int(&mut self, v: &Option<Spanned<i64>>, key: &str, lo: i64, hi: i64) -> Option<i64> {
        let v = v.as_ref()?;
        match int_in(key, *v.get_ref(), lo, hi) {
            Ok(n) => Some(n),
            Err(e) => {
                self.err(&v.span(), e);
                None
            }
        }
    }

    fn duration(&mut self, v: &Option<Spanned<String>>, key: &str) -> Option<std::time::Duration> {
        let v = v.as_ref()?;
        match values::duration(key, v.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(&v.span(), e);
                None
            }
        }
    }

    /// One of `options`, or an error naming them (and the nearest).
    fn choice<'o>(
        &mut self,
        v: &Spanned<String>,
        key: &str,
        options: &[&'o str],
    ) -> Option<&'o str> {
        let s = v.get_ref().as_str();
        if let Some(o) = options.iter().find(|o| o.eq_ignore_ascii_case(s)) {
            return Some(o);
        }
        self.err(
            &v.span(),
            format!(
                "{key} \"{s}\" is not known{}; use one of: {}",
                did_you_mean(s, options),
                options.join(", ")
            ),
        );
        None
    }

    fn proxy(&mut self, p: raw::ProxyRaw) -> ProxySettings {
        let mut s = ProxySettings::default();
        if let Some(l) = p.listen {
            s.listen = Some(self.each(l, |a| {
                a.parse::<crate::net::ListenAddr>()
                    .map_err(|e| format!("listen: {e}"))
            }));
        }
        if let Some(a) = p.advertise {
            if a.get_ref().trim().is_empty() {
                self.err(&a.span(), "advertise is empty; give the HOST[:PORT] to put in Via and Record-Route, e.g. \"203.0.113.7\"");
            } else {
                s.advertise = Some(a.into_inner());
            }
        }
        s.record_route = p.record_route.map(Spanned::into_inner);
        if let Some(f) = p.branch_secret_file {
            s.branch_secret_file = Some(self.path(f.get_ref()));
        }
        s.workers = self.int(&p.workers, "workers", 1, 1024).map(|n| n as u16);
        s.pin = p.pin.map(Spanned::into_inner);
        s.max_message_size = self
            .int(&p.max_message_size, "max_message_size", 512, 65535)
            .map(|n| n as usize);
        if let Some(l) = p.log_level {
            if let Some(v) = self.choice(&l, "log_level", &["error", "warn", "info", "debug"]) {
                s.log_level = v.parse().ok();
            }
        }
        s.tcp_idle_timeout = self
            .int(
                &p.tcp_idle_timeout,
                "tcp_idle_timeout",
                1,
                i64::from(u32::MAX),
            )
            .map(|n| n as u64);
        s.tcp_max_connections = self
            .int(
                &p.tcp_max_connections,
                "tcp_max_connections",
                1,
                i64::from(u32::MAX),
            )
            .map(|n| n as usize);
        s.tcp_max_per_ip = self
            .int(&p.tcp_max_per_ip, "tcp_max_per_ip", 1, i64::from(u32::MAX))
            .map(|n| n as usize);
        s.tcp_message_timeout = self
            .int(
                &p.tcp_message_timeout,
                "tcp_message_timeout",
                1,
                i64::from(u32::MAX),
            )
            .map(|n| n as u64);
        s.sched_batch = p.sched_batch.map(Spanned::into_inner);
        s
    }

    fn group(&mut self, name: Spanned<String>, g: Spanned<GroupRaw>) -> Option<GroupConfig> {
        let loc = self.src.loc(&name.span());
        let g = g.into_inner();
        let n = name.get_ref();
        let mut ok = true;
        if n == "location" {
            self.err(&name.span(), "group name \"location\" is reserved (route = \"location\" is the registration lookup); choose another name");
            ok = false;
        } else if n.is_empty()
            || n.len() > MAX_GROUP_NAME
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            self.err(&name.span(), format!("group name \"{n}\" is not valid; use 1 to {MAX_GROUP_NAME} characters from A-Z a-z 0-9 _ - ."));
            ok = false;
        }
        let algorithm = match &g.algorithm {
            None => Some("hash"),
            Some(a) => self.choice(
                a,
                "algorithm",
                &["hash", "round-robin", "random", "priority"],
            ),
        };
        let hash_key = match &g.hash_key {
            None => Some(HashKey::CallId),
            Some(k) if algorithm.is_some() && algorithm != Some("hash") => {
                self.err(&k.span(), format!("hash_key applies only to algorithm = \"hash\", and group \"{n}\" uses \"{}\"; remove hash_key or use algorithm = \"hash\"", algorithm.unwrap_or("")));
                None
            }
            Some(k) => self
                .choice(k, "hash_key", &HashKey::NAMES)
                .and_then(HashKey::parse),
        };
        let algorithm = match (algorithm, hash_key) {
            (Some("hash"), Some(k)) => Some(Algorithm::Hash(k)),
            (Some("round-robin"), _) => Some(Algorithm::RoundRobin),
            (Some("random"), _) => Some(Algorithm::Random),
            (Some("priority"), _) => Some(Algorithm::Priority),
            _ => None,
        };
        let mut members = Vec::new();
        match g.members {
            None => {
                self.err(
                    &name.span(),
                    format!("group \"{n}\" has no members; add members = [\"HOST:PORT\", ...]"),
                );
                ok = false;
            }
            Some(list) => {
                if list.items.is_empty() {
                    self.err(&list.span, format!("group \"{n}\" has an empty members list; give at least one \"HOST:PORT\""));
                    ok = false;
                }
                for item in list.items {
                    let span = item.span();
                    let m = match values::member(item.get_ref(), self.src.loc(&span)) {
                        Ok(m) => m,
                        Err(e) => {
                            self.err(&span, e);
                            ok = false;
                            continue;
                        }
                    };
                    let twice = members.iter().any(|o: &super::MemberConfig| {
                        o.spec.host == m.spec.host
                            && o.spec.port == m.spec.port
                            && o.spec.transport == m.spec.transport
                    });
                    if twice {
                        self.err(&span, format!("member \"{}\" is listed twice in group \"{n}\"; list it once and give it a larger weight instead", m.name));
                        ok = false;
                        continue;
                    }
                    if m.priority != 1 && algorithm.is_some_and(|a| a != Algorithm::Priority) {
                        self.err(&span, format!("member \"{}\" has a priority, which applies only to algorithm = \"priority\"; remove ;priority= or change the group's algorithm", m.name));
                        ok = false;
                    }
                    members.push(m);
                }
            }
        }
        let when_down = g.when_down.and_then(|r| self.reply(r, "when_down", true));
        let probe = g.probe.map(|p| {
            let p = p.into_inner();
            let interval = self.duration(&p.interval, "interval").unwrap_or(std::time::Duration::from_secs(2));
            let timeout = self.duration(&p.timeout, "timeout").unwrap_or(std::time::Duration::from_secs(1));
            if timeout >= interval {
                if let Some(t) = &p.timeout {
                    self.err(&t.span(), format!("timeout {:?} is not shorter than interval {:?}; a probe must end before the next starts", timeout, interval));
                }
            }
            let fall = self.int(&p.fall, "fall", 1, 100).unwrap_or(2) as u32;
            let rise = self.int(&p.rise, "rise", 1, 100).unwrap_or(2) as u32;
            let codes = match p.codes {
                Some(l) => self.each(l, values::code_class),
                None => vec![super::CodeClass::Class(2)],
            };
            ProbeConfig { interval, timeout, fall, rise, codes }
        });
        let algorithm = algorithm.filter(|_| ok)?;
        Some(GroupConfig {
            name: name.into_inner(),
            loc,
            algorithm,
            members,
            fallback: g.fallback.map(|f| f.into_inner()),
            when_down,
            probe,
        })
    }

    /// `when_down` (code 300..=699, retry_after allowed) or `reject`
    /// (400..=699).
    fn reply(&mut self, r: Spanned<ReplyRaw>, key: &str, when_down: bool) -> Option<Reply> {
        let span = r.span();
        let r = r.into_inner();
        let lo = if when_down { 300 } else { 400 };
        let code = match &r.code {
            Some(_) => self.int(&r.code, &format!("{key}.code"), lo, 699)? as u16,
            None if when_down => 503,
            None => {
                self.err(&span, format!("{key} has no code; write e.g. {key} = {{ code = 403, reason = \"Forbidden\" }}"));
                return None;
            }
        };
        let reason = match r.reason {
            Some(s) => match values::reason(s.get_ref()) {
                Ok(v) => v,
                Err(e) => {
                    self.err(&s.span(), e);
                    return None;
                }
            },
            None => match standard_reason(code) {
                Some(s) => s.to_owned(),
                None => {
                    self.err(
                        &span,
                        format!("{key} has code {code} and no reason; add reason = \"...\""),
                    );
                    return None;
                }
            },
        };
        let retry_after = match &r.retry_after {
            Some(v) if !when_down => {
                self.err(
                    &v.span(),
                    "retry_after applies only to when_down; remove it",
                );
                None
            }
            Some(_) => Some(self.int(&r.retry_after, "retry_after", 1, 86_400)? as u32),
            None => None,
        };
        Some(Reply {
            code,
            reason,
            retry_after,
        })
    }

    fn fallbacks(&mut self, groups: &[GroupConfig], names: &[String]) {
        for g in groups {
            let Some(f) = &g.fallback else { continue };
            let loc = g.loc;
            if !names.contains(f) {
                self.errors.push(Diagnostic::at(&self.src.name, loc, format!("group \"{}\" falls back to group \"{f}\", which is not defined (groups: {})", g.name, names.join(", "))));
                continue;
            }
            // Follow the chain: a loop would leave no group to answer.
            let mut chain = vec![g.name.as_str()];
            let mut cur = f.as_str();
            while let Some(next) = groups.iter().find(|x| x.name == cur) {
                if chain.contains(&cur) {
                    chain.push(cur);
                    self.errors.push(Diagnostic::at(&self.src.name, loc, format!("the fallbacks of group \"{}\" loop: {}; end the chain with a group that has no fallback", g.name, chain.join(" -> "))));
                    break;
                }
                chain.push(cur);
                match &next.fallback {
                    Some(n) => cur = n,
                    None => break,
                }
            }
        }
    }

    fn routing(
        &mut self,
        r: Option<Spanned<raw::RoutingRaw>>,
        names: &[String],
        has_rules: bool,
    ) -> (String, InDialogMode) {
        let (default, in_dialog, span) = match r {
            Some(r) => {
                let span = r.span();
                let r = r.into_inner();
                (r.default, r.in_dialog, span)
            }
            None => (None, None, 0..0),
        };
        let in_dialog = match &in_dialog {
            Some(v) => match self.choice(v, "in_dialog", &["request-uri", "rules"]) {
                Some("rules") => InDialogMode::Rules,
                _ => InDialogMode::RequestUri,
            },
            None => InDialogMode::RequestUri,
        };
        let default = match default {
            Some(d) if names.contains(d.get_ref()) || names.is_empty() => d.into_inner(),
            Some(d) => {
                self.err(
                    &d.span(),
                    format!(
                        "routing.default names group \"{}\", which is not defined (groups: {})",
                        d.get_ref(),
                        names.join(", ")
                    ),
                );
                String::new()
            }
            None if has_rules => {
                self.err(&span, format!("routing.default is missing; with rules, name the group for requests no rule routes: [routing] default = \"{}\"", names.first().map_or("GROUP", String::as_str)));
                String::new()
            }
            None if names.len() > 1 => {
                self.err(&span, format!("routing.default is missing and there are {} groups ({}); name the group for every request: [routing] default = \"{}\"", names.len(), names.join(", "), names[0]));
                String::new()
            }
            None => names.first().cloned().unwrap_or_default(),
        };
        (default, in_dialog)
    }

    fn rules(&mut self, rules: Vec<Spanned<RuleRaw>>, groups: &[String]) -> Vec<RuleConfig> {
        let mut out: Vec<RuleConfig> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, r) in rules.into_iter().enumerate() {
            let span = r.span();
            let loc = self.src.loc(&span);
            let r = r.into_inner();
            let name = match &r.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    self.err(
                        &n.span(),
                        "name is empty; give the rule a name, e.g. name = \"uk\"",
                    );
                    format!("#{}", i + 1)
                }
                Some(n) => {
                    if let Some(first) = seen.get(n.get_ref()) {
                        self.err(&n.span(), format!("rule name \"{}\" is used twice (first by rule {first}); give each rule its own name", n.get_ref()));
                    }
                    seen.insert(n.get_ref().clone(), i + 1);
                    n.get_ref().clone()
                }
                None => {
                    self.err(
                        &span,
                        format!("rule {} has no name; add name = \"...\"", i + 1),
                    );
                    format!("#{}", i + 1)
                }
            };
            if let Some(rule) = self.rule(name, loc, &span, r, groups) {
                out.push(rule);
            }
        }
        out
    }

    fn rule(
        &mut self,
        name: String,
        loc: super::Loc,
        span: &Range<usize>,
        r: RuleRaw,
        groups: &[String],
    ) -> Option<RuleConfig> {
        let before = self.errors.len();
        let matches = r
            .matches
            .map(|m| self.matches(m.into_inner()))
            .unwrap_or_default();
        let given: Vec<(&str, Range<usize>)> = [
            r.route.as_ref().map(|v| ("route", v.span())),
            r.reject.as_ref().map(|v| ("reject", v.span())),
            r.prefix_table.as_ref().map(|v| ("prefix_table", v.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() > 1 {
            self.err(
                &given[1].1,
                format!(
                    "rule \"{name}\" has both {} and {}; give a rule one action",
                    given[0].0, given[1].0
                ),
            );
        }
        let action_key = r.action.as_ref().and_then(|a| {
            self.choice(a, "action", &["drop", "reject", "route"])
                .map(|k| (k, a.span()))
        });
        match (action_key.as_ref(), given.first()) {
            (Some(("drop", s)), Some((other, _))) => self.err(s, format!("rule \"{name}\" has action = \"drop\" and {other}; remove one of them")),
            (Some(("route", s)), g) if !matches!(g, Some(("route", _)) | Some(("prefix_table", _))) => self.err(s, format!("rule \"{name}\" has action = \"route\" but no route; add route = \"GROUP\"")),
            (Some(("reject", s)), g) if !matches!(g, Some(("reject", _))) => self.err(s, format!("rule \"{name}\" has action = \"reject\" but no reject; add reject = {{ code = 403, reason = \"Forbidden\" }}")),
            (None, None) if r.action.is_none() => self.err(span, format!("rule \"{name}\" has no action; add route = \"GROUP\", reject = {{ code = 403 }}, prefix_table = \"FILE.csv\" or action = \"drop\"")),
            _ => {}
        }
        let action = if let Some(route) = r.route {
            let g = route.get_ref();
            if g == "location" {
                self.err(&route.span(), format!("rule \"{name}\" routes to \"location\", but the location service is not implemented in this version; route to a group ({})", groups.join(", ")));
            } else if !groups.contains(g) {
                self.err(&route.span(), format!("rule \"{name}\" routes to group \"{g}\", which is not defined (groups: {})", groups.join(", ")));
            }
            Some(ActionConfig::Route(route.into_inner()))
        } else if let Some(rej) = r.reject {
            self.reply(rej, "reject", false).map(ActionConfig::Reject)
        } else if let Some(table) = r.prefix_table {
            let path = self.path(table.get_ref());
            let shown = path.display().to_string();
            match self.files.read(&path) {
                Err(e) => {
                    self.err(&table.span(), format!("prefix_table \"{}\": cannot read {shown}: {e}; give a CSV path relative to this file's folder", table.get_ref()));
                    None
                }
                Ok(text) => {
                    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
                    match read_table(&shown, &text, &names) {
                        Ok(entries) => Some(ActionConfig::PrefixTable { path, entries }),
                        Err(problems) => {
                            self.errors.extend(problems);
                            None
                        }
                    }
                }
            }
        } else if matches!(action_key, Some(("drop", _))) {
            Some(ActionConfig::Drop)
        } else {
            None
        };
        let rewrite = r.rewrite.and_then(|rw| {
            if !matches!(action, Some(ActionConfig::Route(_)) | Some(ActionConfig::PrefixTable { .. })) {
                self.err(&rw.span(), format!("rule \"{name}\" rewrites the Request-URI but does not route; rewrite applies with route or prefix_table"));
                return None;
            }
            let rw = rw.into_inner();
            let mut out = RewriteConfig::default();
            if let Some(u) = rw.ruri_user {
                let u = u.into_inner();
                out.strip = self.int(&u.strip, "strip", 0, 255).unwrap_or(0) as usize;
                if let Some(p) = u.prefix {
                    if p.get_ref().chars().any(|c| c.is_control() || c.is_whitespace() || "@:;<>\"?".contains(c)) {
                        self.err(&p.span(), format!("prefix \"{}\" cannot be put in a Request-URI user; use digits, letters, + * # - . _", p.get_ref()));
                    }
                    out.prefix = p.into_inner();
                }
            }
            if let Some(h) = rw.ruri_host {
                let s = h.get_ref();
                let ok = s.parse::<std::net::Ipv4Addr>().is_ok()
                    || s.strip_prefix('[').and_then(|x| x.strip_suffix(']')).is_some_and(|x| x.parse::<std::net::Ipv6Addr>().is_ok())
                    || (!s.starts_with("*.") && values::domain(s).is_ok());
                if !ok {
                    self.err(&h.span(), format!("ruri_host \"{s}\" is not a host; write a host name (\"uk-pbx.example.net\"), an IPv4 address or an IPv6 address in brackets"));
                }
                out.host = Some(h.into_inner());
            }
            Some(out)
        });
        let challenge = r.challenge.and_then(|c| {
            if r.auth.as_ref().is_some_and(|a| !*a.get_ref()) {
                self.err(&c.span(), format!("rule \"{name}\" has auth = false and a challenge; remove challenge or set auth = true"));
            }
            self.choice(&c, "challenge", &["proxy", "www"]).map(|c| if c == "www" { Challenge::Www } else { Challenge::Proxy })
        });
        if self.errors.len() > before {
            return None;
        }
        Some(RuleConfig {
            name,
            loc,
            matches,
            action: action?,
            rewrite,
            auth: r.auth.map(Spanned::into_inner),
            challenge,
        })
    }

    fn auth(&mut self, a: Spanned<raw::AuthRaw>) -> Option<AuthConfig> {
        let span = a.span();
        let a = a.into_inner();
        let before = self.errors.len();
        let realm = match a.realm {
            Some(r) if !r.get_ref().trim().is_empty() => r.into_inner(),
            Some(r) => {
                self.err(
                    &r.span(),
                    "realm is empty; give the realm, e.g. realm = \"example.net\"",
                );
                String::new()
            }
            None => {
                self.err(&span, "[auth] has no realm; add realm = \"example.net\"");
                String::new()
            }
        };
        let users_file = match a.users_file {
            Some(f) => self.path(f.get_ref()),
            None => {
                self.err(&span, "[auth] has no users_file; add users_file = \"users.csv\" (lines user,password)");
                PathBuf::new()
            }
        };
        let methods = match a.methods {
            Some(l) => self.each(l, |m| {
                if values::is_token(m) {
                    Ok(m.to_owned())
                } else {
                    Err(format!(
                        "method \"{m}\" is not a SIP method; write e.g. \"INVITE\""
                    ))
                }
            }),
            None => ["INVITE", "REGISTER", "MESSAGE", "SUBSCRIBE"]
                .map(String::from)
                .to_vec(),
        };
        let algorithms = match a.algorithms {
            Some(l) => self.each(l, |x| match x.to_ascii_uppercase().as_str() {
                "MD5" => Ok("MD5".to_owned()),
                "SHA-256" => Ok("SHA-256".to_owned()),
                _ => Err(format!(
                    "algorithm \"{x}\" is not supported{}; use \"SHA-256\" or \"MD5\"",
                    did_you_mean(x, &["SHA-256", "MD5"])
                )),
            }),
            None => vec!["SHA-256".into(), "MD5".into()],
        };
        let nonce_lifetime = self
            .duration(&a.nonce_lifetime, "nonce_lifetime")
            .unwrap_or(std::time::Duration::from_secs(300));
        let trusted = a
            .trusted
            .map(|l| self.each(l, values::cidr))
            .unwrap_or_default();
        (self.errors.len() == before).then_some(AuthConfig {
            realm,
            users_file,
            methods,
            algorithms,
            nonce_lifetime,
            trusted,
            bind_nonce: a.bind_nonce.is_some_and(Spanned::into_inner),
        })
    }

    fn guard(&mut self, g: Spanned<raw::GuardRaw>) -> Option<GuardConfig> {
        let span = g.span();
        let g = g.into_inner();
        let before = self.errors.len();
        let rate = match &g.rate {
            Some(_) => self.int(&g.rate, "rate", 1, 1_000_000).unwrap_or(1) as u32,
            None => {
                self.err(
                    &span,
                    "[guard] has no rate; add rate = 50 (requests per second per source)",
                );
                1
            }
        };
        let burst = self
            .int(&g.burst, "burst", 1, 10_000_000)
            .map_or(rate, |n| n as u32);
        // "0s" is allowed here: no ban, only the bucket.
        let no_ban = g.ban.as_ref().is_some_and(|b| {
            let t = b.get_ref().trim();
            t.trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0"
                && ["ms", "s", "m", "h"].contains(&t.trim_start_matches('0'))
        });
        let ban = if no_ban {
            std::time::Duration::ZERO
        } else {
            self.duration(&g.ban, "ban")
                .unwrap_or(std::time::Duration::from_secs(60))
        };
        let reject = match &g.response {
            Some(r) => self.choice(r, "response", &["drop", "reject"]) == Some("reject"),
            None => false,
        };
        let trusted = g
            .trusted
            .map(|l| self.each(l, values::cidr))
            .unwrap_or_default();
        let max_sources = self
            .int(&g.max_sources, "max_sources", 1, 100_000_000)
            .map_or(100_000, |n| n as u32);
        (self.errors.len() == before).then_some(GuardConfig {
            rate,
            burst,
            ban,
            reject,
            trusted,
            max_sources,
        })
    }

    fn metrics(&mut self, m: Spanned<raw::MetricsRaw>) -> Option<MetricsConfig> {
        let span = m.span();
        let m = m.into_inner();
        let listen = match m.listen {
            Some(l) => match l.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    self.err(&l.span(), format!("listen \"{}\" is not an address; write IP:PORT, e.g. \"127.0.0.1:9090\" or \"[::1]:9090\"", l.get_ref()));
                    return None;
                }
            },
            None => {
                self.err(
                    &span,
                    "[metrics] has no listen; add listen = \"127.0.0.1:9090\"",
                );
                return None;
            }
        };
        Some(MetricsConfig {
            listen,
            token_file: m.token_file.map(|f| self.path(f.get_ref())),
        })
    }

    fn records(&mut self, r: Spanned<raw::RecordsRaw>) -> Option<RecordsConfig> {
        let span = r.span();
        match r.into_inner().file {
            Some(f) if f.get_ref() == "-" => Some(RecordsConfig {
                file: PathBuf::from("-"),
            }),
            Some(f) if !f.get_ref().is_empty() => Some(RecordsConfig {
                file: self.path(f.get_ref()),
            }),
            Some(f) => {
                self.err(
                    &f.span(),
                    "file is empty; give a path, or \"-\" for standard output",
                );
                None
            }
            None => {
                self.err(&span, "[records] has no file; add file = \"calls.jsonl\" (or \"-\" for standard output)");
                None
            }
        }
    }

    fn location(&mut self, l: Spanned<raw::LocationRaw>) -> Option<LocationConfig> {
        let l = l.into_inner();
        let before = self.errors.len();
        let max_bindings = self
            .int(&l.max_bindings, "max_bindings", 1, i64::from(u32::MAX))
            .map_or(1_000_000, |n| n as u32);
        let redis = l.redis.map(|r| {
            let s = r.get_ref();
            if !(s.starts_with("redis://") || s.starts_with("rediss://")) {
                self.err(
                    &r.span(),
                    format!(
                        "redis \"{s}\" is not a Redis URL; write e.g. \"redis://127.0.0.1:6379/0\""
                    ),
                );
            }
            r.into_inner()
        });
        (self.errors.len() == before).then_some(LocationConfig {
            max_bindings,
            redis,
        })
    }
}

/// The plain warnings for what a file may say and this version does not do.
#[allow(clippy::too_many_arguments)]
fn not_implemented(
    rules: &[RuleConfig],
    auth: bool,
    metrics: bool,
    records: bool,
    location: bool,
) -> Vec<String> {
    let mut w = Vec::new();
    let with_auth: Vec<&str> = rules
        .iter()
        .filter(|r| r.auth.is_some() || r.challenge.is_some())
        .map(|r| r.name.as_str())
        .collect();
    if !auth && !with_auth.is_empty() {
        w.push(format!("auth and challenge in rules ({}) have no effect without an [auth] section; nothing is challenged", with_auth.join(", ")));
    }
    if metrics {
        w.push(
            "[metrics] is read but the metrics endpoint is not implemented in this version".into(),
        );
    }
    if records {
        w.push("[records] is read but call records are not implemented in this version".into());
    }
    if location {
        w.push(
            "[location] is read but the location service is not implemented in this version".into(),
        );
    }
    w
}
