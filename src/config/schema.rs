//! The keys the routing file may have, table by table, and the first check
//! on a parsed file: every key is known. An unknown key is reported with the
//! nearest known one (edit distance) and the list of valid keys, all of them
//! in one pass. No I/O.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::source::{Diagnostic, Source};

/// What may be under a key.
#[derive(Debug)]
pub(crate) enum Shape {
    /// A value that is not looked into here (its type is serde's check).
    Leaf,
    /// A table with these keys.
    Table(&'static [(&'static str, Shape)]),
    /// A table whose keys the user names, each holding the shape.
    Named(&'static Shape),
    /// An array whose items hold the shape.
    Array(&'static Shape),
    /// One table or an array of them (`match.time`).
    TableOrArray(&'static [(&'static str, Shape)]),
}

use Shape::{Array, Leaf, Named, Table, TableOrArray};

const REPLY: &[(&str, Shape)] = &[("code", Leaf), ("reason", Leaf), ("retry_after", Leaf)];

pub(crate) const PROXY: &[(&str, Shape)] = &[
    ("listen", Leaf),
    ("advertise", Leaf),
    ("record_route", Leaf),
    ("branch_secret_file", Leaf),
    ("workers", Leaf),
    ("pin", Leaf),
    ("max_message_size", Leaf),
    ("log_level", Leaf),
    ("tcp_idle_timeout", Leaf),
    ("tcp_max_connections", Leaf),
    ("tcp_max_per_ip", Leaf),
    ("tcp_message_timeout", Leaf),
    ("sched_batch", Leaf),
];
pub(crate) const ROUTING: &[(&str, Shape)] = &[("default", Leaf), ("in_dialog", Leaf)];
pub(crate) const PROBE: &[(&str, Shape)] = &[
    ("interval", Leaf),
    ("timeout", Leaf),
    ("fall", Leaf),
    ("rise", Leaf),
    ("codes", Leaf),
];
pub(crate) const GROUP: &[(&str, Shape)] = &[
    ("algorithm", Leaf),
    ("hash_key", Leaf),
    ("members", Leaf),
    ("fallback", Leaf),
    ("when_down", Table(REPLY)),
    ("probe", Table(PROBE)),
];
pub(crate) const HEADER: &[(&str, Shape)] = &[("name", Leaf), ("value", Leaf), ("present", Leaf)];
pub(crate) const TIME: &[(&str, Shape)] = &[("days", Leaf), ("hours", Leaf), ("tz", Leaf)];
pub(crate) const MATCH: &[(&str, Shape)] = &[
    ("method", Leaf),
    ("ruri_user_prefix", Leaf),
    ("ruri_user", Leaf),
    ("ruri_user_regex", Leaf),
    ("ruri_domain", Leaf),
    ("from_user", Leaf),
    ("from_domain", Leaf),
    ("to_user", Leaf),
    ("to_domain", Leaf),
    ("source", Leaf),
    ("transport", Leaf),
    ("header", Table(HEADER)),
    ("user_agent", Leaf),
    ("time", TableOrArray(TIME)),
];
pub(crate) const USER_REWRITE: &[(&str, Shape)] = &[("strip", Leaf), ("prefix", Leaf)];
pub(crate) const REWRITE: &[(&str, Shape)] =
    &[("ruri_user", Table(USER_REWRITE)), ("ruri_host", Leaf)];
pub(crate) const RULE: &[(&str, Shape)] = &[
    ("name", Leaf),
    ("match", Table(MATCH)),
    ("action", Leaf),
    ("route", Leaf),
    ("reject", Table(REPLY)),
    ("prefix_table", Leaf),
    ("rewrite", Table(REWRITE)),
    ("auth", Leaf),
    ("challenge", Leaf),
];
pub(crate) const AUTH: &[(&str, Shape)] = &[
    ("realm", Leaf),
    ("users_file", Leaf),
    ("methods", Leaf),
    ("algorithms", Leaf),
    ("nonce_lifetime", Leaf),
    ("trusted", Leaf),
    ("bind_nonce", Leaf),
];
pub(crate) const GUARD: &[(&str, Shape)] = &[
    ("rate", Leaf),
    ("burst", Leaf),
    ("ban", Leaf),
    ("response", Leaf),
    ("trusted", Leaf),
    ("max_sources", Leaf),
];
pub(crate) const METRICS: &[(&str, Shape)] = &[("listen", Leaf), ("token_file", Leaf)];
pub(crate) const RECORDS: &[(&str, Shape)] = &[("file", Leaf)];
pub(crate) const LOCATION: &[(&str, Shape)] = &[("max_bindings", Leaf), ("redis", Leaf)];

/// The whole file.
pub(crate) const FILE: &[(&str, Shape)] = &[
    ("proxy", Table(PROXY)),
    ("routing", Table(ROUTING)),
    ("groups", Named(&Table(GROUP))),
    ("rules", Array(&Table(RULE))),
    ("auth", Table(AUTH)),
    ("guard", Table(GUARD)),
    ("metrics", Table(METRICS)),
    ("records", Table(RECORDS)),
    ("location", Table(LOCATION)),
];

/// Every unknown key of `table`, in file order.
pub(crate) fn unknown_keys(src: &Source<'_>, table: &DeTable<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk_table(src, table, FILE, "", &mut out);
    out
}

fn walk_table(
    src: &Source<'_>,
    table: &DeTable<'_>,
    keys: &[(&str, Shape)],
    path: &str,
    out: &mut Vec<Diagnostic>,
) {
    for (key, value) in table {
        let name: &str = key.get_ref();
        let here = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        match keys.iter().find(|(k, _)| *k == name) {
            Some((_, shape)) => walk(src, value, shape, &here, out),
            None => out.push(src.diag(&key.span(), unknown_key(name, path, keys))),
        }
    }
}

fn walk(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    shape: &Shape,
    path: &str,
    out: &mut Vec<Diagnostic>,
) {
    match (shape, value.get_ref()) {
        (Table(keys) | TableOrArray(keys), DeValue::Table(t)) => {
            walk_table(src, t, keys, path, out)
        }
        (Named(inner), DeValue::Table(t)) => {
            for (key, v) in t {
                walk(src, v, inner, &format!("{path}.{}", key.get_ref()), out);
            }
        }
        (Array(inner), DeValue::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                walk(src, v, inner, &format!("{path}[{}]", i + 1), out);
            }
        }
        (TableOrArray(keys), DeValue::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                if let DeValue::Table(t) = v.get_ref() {
                    walk_table(src, t, keys, &format!("{path}[{}]", i + 1), out);
                }
            }
        }
        // A leaf, or a value of the wrong type: serde names the type.
        _ => {}
    }
}

/// `unknown key "algoritm" in groups.pbx; did you mean "algorithm"? (valid
/// keys: ...)`.
fn unknown_key(name: &str, path: &str, keys: &[(&str, Shape)]) -> String {
    let place = if path.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {path}")
    };
    let valid: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    let valid = valid.join(", ");
    match nearest(name, keys.iter().map(|(k, _)| *k)) {
        Some(best) => {
            format!(
                "unknown key \"{name}\" {place}; did you mean \"{best}\"? (valid keys: {valid})"
            )
        }
        None => format!("unknown key \"{name}\" {place}; valid keys: {valid}"),
    }
}

/// The candidate closest to `word` by edit distance, when it is close
/// enough to be a likely typo (at most a third of the word's length, at
/// least 1, plus separators and case that differ).
pub(crate) fn nearest<'k>(
    word: &str,
    candidates: impl Iterator<Item = &'k str>,
) -> Option<&'k str> {
    let folded = fold(word);
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(&folded, &fold(c)), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn fold(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Levenshtein distance.
pub(crate) fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
