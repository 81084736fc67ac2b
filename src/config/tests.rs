//! Unit tests of the routing file layer: exact messages with line:col for
//! each kind of problem, the good files, and the schema tied to the serde
//! structs. Files named by the text are served from memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::raw;
use super::schema::{self, Shape};
use super::*;

struct MemFiles(HashMap<PathBuf, String>);

impl Files for MemFiles {
    fn read(&mut self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    fn zone_exists(&mut self, name: &str) -> bool {
        ["Europe/London", "America/New_York", "UTC"].contains(&name)
    }
}

fn load_with(text: &str, files: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut mem = MemFiles(
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect(),
    );
    parse(Path::new("etc/b.toml"), text, &mut mem)
}

fn errors(text: &str) -> Vec<String> {
    errors_with(text, &[])
}

fn errors_with(text: &str, files: &[(&str, &str)]) -> Vec<String> {
    match load_with(text, files) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

const GROUP: &str = "[groups.pbx]\nmembers = [\"10.0.0.1:5060\"]\n";

#[test]
fn a_good_file_compiles_to_typed_values() {
    let text = r#"
[proxy]
listen = ["udp:127.0.0.1:5070"]
record_route = false
branch_secret_file = "secret"
workers = 2

[routing]
default = "pbx"
in_dialog = "rules"

[groups.pbx]
algorithm = "priority"
members = ["10.0.0.11:5060;weight=2;priority=1", "10.0.0.12:5060;priority=2;state=drain"]
fallback = "backup"
when_down = { code = 503, retry_after = 30 }

[groups.pbx.probe]
interval = "500ms"
timeout = "200ms"
codes = ["2xx", "404"]

[groups.backup]
algorithm = "hash"
hash_key = "to-user"
members = ["[2001:db8::1]:5060;transport=tcp"]

[[rules]]
name = "uk"
match.method = "INVITE"
match.ruri_user_prefix = ["+44", "00 44"]
match.source = ["198.51.100.0/24", "2001:db8::/32"]
match.ruri_domain = ["Example.com", "*.example.net"]
match.header = { name = "X-Tenant", present = true }
match.time = [{ days = "mon-fri", hours = "22:00-06:00", tz = "Europe/London" }, { days = "sat,sun", tz = "UTC" }]
rewrite.ruri_user = { strip = 1, prefix = "00" }
rewrite.ruri_host = "uk-pbx.example.net"
route = "backup"
auth = true
challenge = "www"

[[rules]]
name = "lcr"
prefix_table = "lcr.csv"

[[rules]]
name = "closed"
match.to_user = ["9999"]
reject = { code = 403 }
"#;
    let c = load_with(
        text,
        &[(
            "etc/lcr.csv",
            "prefix,group\n+44,pbx\n# comment\n\n+1,backup\n",
        )],
    )
    .unwrap();
    assert_eq!(
        c.proxy.listen.as_ref().unwrap()[0].to_string(),
        "udp:127.0.0.1:5070"
    );
    assert_eq!(c.proxy.record_route, Some(false));
    assert_eq!(
        c.proxy.branch_secret_file,
        Some(PathBuf::from("etc/secret"))
    );
    assert_eq!(c.proxy.workers, Some(2));
    assert_eq!(c.default_group, "pbx");
    assert_eq!(c.in_dialog, InDialogMode::Rules);
    let pbx = &c.groups[0];
    assert_eq!(
        (pbx.name.as_str(), pbx.loc),
        ("pbx", Loc { line: 12, col: 9 })
    );
    assert_eq!(pbx.algorithm, Algorithm::Priority);
    assert_eq!(pbx.members[0].name, "10.0.0.11:5060");
    assert_eq!(
        (
            pbx.members[0].spec.weight,
            pbx.members[0].priority,
            pbx.members[0].drain
        ),
        (2, 1, false)
    );
    assert_eq!((pbx.members[1].priority, pbx.members[1].drain), (2, true));
    assert_eq!(
        pbx.when_down,
        Some(Reply {
            code: 503,
            reason: "Service Unavailable".into(),
            retry_after: Some(30)
        })
    );
    let probe = pbx.probe.as_ref().unwrap();
    assert_eq!(probe.interval, std::time::Duration::from_millis(500));
    assert_eq!((probe.fall, probe.rise), (2, 2));
    assert_eq!(probe.codes, [CodeClass::Class(2), CodeClass::Code(404)]);
    assert_eq!(c.groups[1].algorithm, Algorithm::Hash(HashKey::ToUser));
    assert_eq!(c.groups[1].members[0].spec.transport, Transport::Tcp);
    let uk = &c.rules[0];
    assert_eq!(
        uk.matches.iter().map(MatchConfig::key).collect::<Vec<_>>(),
        [
            "method",
            "ruri_user_prefix",
            "ruri_domain",
            "source",
            "header",
            "time"
        ]
    );
    let MatchConfig::RuriUserPrefix(p) = &uk.matches[1] else {
        panic!()
    };
    assert_eq!(p, &["+44", "0044"]);
    let MatchConfig::RuriDomain(d) = &uk.matches[2] else {
        panic!()
    };
    assert_eq!(d, &["example.com", "*.example.net"]);
    let MatchConfig::Time(t) = &uk.matches[5] else {
        panic!()
    };
    assert_eq!(
        (t[0].days, t[0].start, t[0].end),
        (0b0011111, 22 * 60, 6 * 60)
    );
    assert_eq!((t[1].days, t[1].start, t[1].end), (0b1100000, 0, 1440));
    assert_eq!(
        uk.rewrite,
        Some(RewriteConfig {
            strip: 1,
            prefix: "00".into(),
            host: Some("uk-pbx.example.net".into())
        })
    );
    assert_eq!((uk.auth, uk.challenge), (Some(true), Some(Challenge::Www)));
    let ActionConfig::PrefixTable { path, entries } = &c.rules[1].action else {
        panic!()
    };
    assert_eq!(path, Path::new("etc/lcr.csv"));
    let key = |p| crate::route::DialKey::of_prefix(p).unwrap();
    assert_eq!(entries, &[(key("+44"), 0), (key("+1"), 1)]);
    let ActionConfig::Reject(r) = &c.rules[2].action else {
        panic!()
    };
    assert_eq!((r.code, r.reason.as_str()), (403, "Forbidden"));
    assert_eq!(c.prefix_count(), 4);
    assert_eq!(c.warnings, [
        "auth and challenge in rules (uk) have no effect without an [auth] section; nothing is challenged",
    ]);
}

#[test]
fn one_group_and_no_rules_needs_no_default() {
    let c = load_with(GROUP, &[]).unwrap();
    assert_eq!(c.default_group, "pbx");
    assert_eq!(c.groups[0].algorithm, Algorithm::Hash(HashKey::CallId));
    assert!(c.warnings.is_empty());
}

#[test]
fn unknown_keys_suggest_the_nearest_and_list_the_valid_ones() {
    let e = errors("[groups.pbx]\nalgoritm = \"hash\"\nmembers = [\"10.0.0.1:5060\"]\n\n[[rules]]\nname = \"x\"\nmatch.metod = \"INVITE\"\naction = \"drop\"\n\n[guardd]\n");
    assert_eq!(e, [
        "etc/b.toml:2:1: unknown key \"algoritm\" in groups.pbx; did you mean \"algorithm\"? (valid keys: algorithm, hash_key, members, fallback, when_down, probe)",
        "etc/b.toml:7:7: unknown key \"metod\" in rules[1].match; did you mean \"method\"? (valid keys: method, ruri_user_prefix, ruri_user, ruri_user_regex, ruri_domain, from_user, from_domain, to_user, to_domain, source, transport, header, user_agent, time)",
        "etc/b.toml:10:2: unknown key \"guardd\" at the top level; did you mean \"guard\"? (valid keys: proxy, routing, groups, rules, auth, guard, metrics, records, location)",
    ]);
    let e = errors(&format!("{GROUP}[routing]\nzzz = 1\n"));
    assert_eq!(
        e,
        ["etc/b.toml:4:1: unknown key \"zzz\" in routing; valid keys: default, in_dialog"]
    );
}

#[test]
fn undefined_groups_list_the_defined_ones() {
    let text = format!("{GROUP}[groups.uk]\nmembers = [\"10.0.0.2:5060\"]\n[groups.office]\nmembers = [\"10.0.0.3:5060\"]\n\n[routing]\ndefault = \"pbx\"\n\n[[rules]]\nname = \"uk\"\nroute = \"ukk\"\n");
    assert_eq!(errors(&text), ["etc/b.toml:13:9: rule \"uk\" routes to group \"ukk\", which is not defined (groups: pbx, uk, office)"]);
    let e = errors(&format!(
        "{GROUP}fallback = \"nope\"\n[routing]\ndefault = \"pbq\"\n"
    ));
    assert_eq!(e, [
        "etc/b.toml:1:9: group \"pbx\" falls back to group \"nope\", which is not defined (groups: pbx)",
        "etc/b.toml:5:11: routing.default names group \"pbq\", which is not defined (groups: pbx)",
    ]);
}

#[test]
fn values_are_checked_where_they_are_written() {
    let text = r#"[groups.pbx]
algorithm = "round-robn"
members = ["10.0.0.1", "10.0.0.2:5060;state=off", "10.0.0.3:5060;weight=0"]
when_down = { code = 200 }
[groups.pbx.probe]
interval = "2 s"
timeout = "0ms"
codes = ["7xx"]
"#;
    assert_eq!(errors(text), [
        "etc/b.toml:2:13: algorithm \"round-robn\" is not known (did you mean \"round-robin\"?); use one of: hash, round-robin, random, priority",
        "etc/b.toml:3:12: member \"10.0.0.1\": missing port; expected HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]",
        "etc/b.toml:3:24: member \"10.0.0.2:5060;state=off\": state 'off' is not known; use state=drain (or state=active); expected HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]",
        "etc/b.toml:3:51: member \"10.0.0.3:5060;weight=0\": weight '0' is not a whole number from 1 to 4294967295; expected HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]",
        "etc/b.toml:4:22: when_down.code = 200 is out of range; give a whole number from 300 to 699",
        "etc/b.toml:6:12: interval \"2 s\" is not a duration; write a whole number and a unit (ms, s, m or h), e.g. \"500ms\", \"2s\" or \"1m\"",
        "etc/b.toml:7:11: timeout \"0ms\" is zero; give a duration of more than 0, e.g. \"2s\"",
        "etc/b.toml:8:10: code \"7xx\" is not a reply code or class; write a code from 100 to 699 (\"404\") or a class (\"2xx\")",
    ]);
}

#[test]
fn match_values_are_checked_item_by_item() {
    let text = format!(
        r#"{GROUP}[[rules]]
name = "r"
match.source = ["10.0.0.0/8", "10.0.0.1/8", "fe80::/129"]
match.ruri_user_regex = ["^1", "(+"]
match.transport = "sctp"
match.ruri_domain = ["exa mple.com"]
match.ruri_user_prefix = ["+44", "-"]
match.time = {{ days = "mon-fry", hours = "25:00-06:00", tz = "Europe/Lodnon" }}
route = "pbx"
[routing]
default = "pbx"
"#
    );
    assert_eq!(errors(&text), [
        "etc/b.toml:5:31: \"10.0.0.1/8\" is not an address block: bits after the prefix length are set; did you mean 10.0.0.0/8?; write ADDRESS/LENGTH, e.g. \"198.51.100.0/24\" or \"2001:db8::/32\"",
        "etc/b.toml:5:45: \"fe80::/129\" is not an address block: prefix length '129' is not a number from 0 to 128; write ADDRESS/LENGTH, e.g. \"198.51.100.0/24\" or \"2001:db8::/32\"",
        "etc/b.toml:6:32: ruri_user_regex \"(+\" is not a valid regular expression: repetition operator missing expression; write one in the regex crate's syntax, e.g. \"^\\\\+44[0-9]+$\"",
        "etc/b.toml:7:19: transport \"sctp\" is not supported; use \"udp\" or \"tcp\"",
        "etc/b.toml:8:22: \"exa mple.com\" is not a domain; write a host name (\"example.com\") or a wildcard for its subdomains (\"*.example.net\")",
        "etc/b.toml:9:34: prefix \"-\" is empty; give dialled digits, e.g. \"+44\" or \"0044\"",
        "etc/b.toml:10:23: days \"mon-fry\": 'fry' is not a day (did you mean \"fri\"?); use mon tue wed thu fri sat sun, a range \"mon-fri\" or a list \"mon,wed,fri\"",
        "etc/b.toml:10:42: hours \"25:00-06:00\" is not a time range; write \"HH:MM-HH:MM\", e.g. \"08:00-18:00\", \"22:00-06:00\" (crosses midnight) or \"00:00-24:00\" (the whole day)",
        "etc/b.toml:10:62: time zone \"Europe/Lodnon\" is not known; give an IANA zone name such as \"Europe/London\", \"America/New_York\" or \"UTC\"",
    ]);
}

#[test]
fn time_windows() {
    assert_eq!(matches::days("mon-fri"), Ok(0b0011111));
    assert_eq!(matches::days("fri-mon"), Ok(0b1110001));
    assert_eq!(matches::days("Sat"), Ok(0b0100000));
    assert_eq!(matches::days("mon,wed,fri"), Ok(0b0010101));
    assert_eq!(matches::hours("08:00-18:00"), Ok((480, 1080)));
    assert_eq!(matches::hours("00:00-24:00"), Ok((0, 1440)));
    assert_eq!(matches::hours("22:00-06:00"), Ok((1320, 360)));
    assert!(matches::hours("24:00-06:00")
        .unwrap_err()
        .contains("starts at 24:00"));
    assert!(matches::hours("08:00-08:00")
        .unwrap_err()
        .contains("is empty"));
    assert!(matches::hours("8:00-18:00").is_err());
    assert!(matches::hours("08:60-18:00").is_err());
}

#[test]
fn rule_actions_are_one_each() {
    let text = format!(
        r#"{GROUP}[routing]
default = "pbx"
[[rules]]
name = "a"
route = "pbx"
reject = {{ code = 403 }}
[[rules]]
name = "b"
action = "drop"
route = "pbx"
[[rules]]
name = "c"
match.method = "INVITE"
[[rules]]
name = "a"
action = "reject"
[[rules]]
name = "e"
reject = {{ code = 499 }}
rewrite.ruri_host = "x.example"
[[rules]]
name = "f"
route = "location"
"#
    );
    assert_eq!(errors(&text), [
        "etc/b.toml:8:10: rule \"a\" has both route and reject; give a rule one action",
        "etc/b.toml:11:10: rule \"b\" has action = \"drop\" and route; remove one of them",
        "etc/b.toml:13:1: rule \"c\" has no action; add route = \"GROUP\", reject = { code = 403 }, prefix_table = \"FILE.csv\" or action = \"drop\"",
        "etc/b.toml:17:8: rule name \"a\" is used twice (first by rule 1); give each rule its own name",
        "etc/b.toml:18:10: rule \"a\" has action = \"reject\" but no reject; add reject = { code = 403, reason = \"Forbidden\" }",
        "etc/b.toml:21:10: reject has code 499 and no reason; add reason = \"...\"",
        "etc/b.toml:22:1: rule \"e\" rewrites the Request-URI but does not route; rewrite applies with route or prefix_table",
        "etc/b.toml:25:9: rule \"f\" routes to \"location\", but the location service is not implemented in this version; route to a group (pbx)",
    ]);
}

#[test]
fn rules_need_a_default_group() {
    let e = errors(&format!(
        "{GROUP}[[rules]]\nname = \"r\"\naction = \"drop\"\n"
    ));
    assert_eq!(e, ["etc/b.toml:1:1: routing.default is missing; with rules, name the group for requests no rule routes: [routing] default = \"pbx\""]);
}

#[test]
fn prefix_table_problems_name_the_csv_line() {
    let text = format!("{GROUP}[routing]\ndefault = \"pbx\"\n[[rules]]\nname = \"lcr\"\nprefix_table = \"lcr.csv\"\n[[rules]]\nname = \"gone\"\nprefix_table = \"missing.csv\"\n");
    let csv = "prefix,group\n+44,pbx\n+44x,pbx\n+33,uk\n+44,pbx\nbad\n";
    assert_eq!(errors_with(&text, &[("etc/lcr.csv", csv)]), [
        "etc/b.toml:10:16: prefix_table \"missing.csv\": cannot read etc/missing.csv: entity not found; give a CSV path relative to this file's folder",
        "etc/lcr.csv:3: prefix \"+44x\" has 'x'; a prefix is dialled digits (0-9, +, *, #; separators - . ( ) and spaces are ignored)",
        "etc/lcr.csv:4: prefix \"+33\" routes to group \"uk\", which is not defined (groups: pbx)",
        "etc/lcr.csv:5: prefix \"+44\" is listed twice (first on line 2); keep one line per prefix",
        "etc/lcr.csv:6: \"bad\" has 1 field(s); write one `prefix,group` per line, e.g. `+4420,uk`",
    ]);
}

#[test]
fn syntax_and_type_errors_have_a_place() {
    assert_eq!(
        errors("[groups.pbx\n"),
        ["etc/b.toml:1:12: unclosed table, expected `]`"]
    );
    assert_eq!(
        errors("[groups.pbx]\nmembers = 5\n"),
        ["etc/b.toml:2:11: invalid type: integer `5`, expected a string"]
    );
    assert_eq!(errors(""), ["etc/b.toml:1:1: no groups are defined; add a [groups.NAME] table with members = [\"HOST:PORT\"]"]);
}

#[test]
fn the_other_tables_are_read_checked_and_flagged_as_not_implemented() {
    let text = format!(
        r#"{GROUP}[auth]
realm = "example.net"
users_file = "users.csv"
algorithms = ["SHA-256", "MD5"]
nonce_lifetime = "5m"
trusted = ["10.0.0.0/8"]
[guard]
rate = 50
burst = 100
ban = "60s"
response = "reject"
[metrics]
listen = "127.0.0.1:9090"
[records]
file = "-"
[location]
max_bindings = 1000
redis = "redis://127.0.0.1:6379/0"
"#
    );
    let c = load_with(&text, &[]).unwrap();
    assert_eq!(
        c.auth.as_ref().unwrap().users_file,
        Path::new("etc/users.csv")
    );
    assert_eq!(
        c.guard.as_ref().map(|g| (g.rate, g.burst, g.reject)),
        Some((50, 100, true))
    );
    assert_eq!(
        c.metrics.as_ref().unwrap().listen.to_string(),
        "127.0.0.1:9090"
    );
    assert_eq!(
        c.warnings,
        [
            "[metrics] is read but the metrics endpoint is not implemented in this version",
            "[records] is read but call records are not implemented in this version",
            "[location] is read but the location service is not implemented in this version",
        ]
    );
    assert!(c
        .summary()
        .contains("also read: [auth], [guard], [metrics], [records], [location]\n"));
    let e = errors(&format!("{GROUP}[auth]\nrealm = \"r\"\nusers_file = \"u\"\nalgorithms = [\"SHA-1\"]\n[guard]\nrate = 0\n[metrics]\nlisten = \"localhost\"\n"));
    assert_eq!(e, [
        "etc/b.toml:6:15: algorithm \"SHA-1\" is not supported; use \"SHA-256\" or \"MD5\"",
        "etc/b.toml:8:8: rate = 0 is out of range; give a whole number from 1 to 1000000",
        "etc/b.toml:10:10: listen \"localhost\" is not an address; write IP:PORT, e.g. \"127.0.0.1:9090\" or \"[::1]:9090\"",
    ]);
}

#[test]
fn the_summary_names_what_compiled() {
    let text = format!("{GROUP}[groups.b]\nalgorithm = \"random\"\nmembers = [\"10.0.0.2:5060\", \"10.0.0.3:5060\"]\n[routing]\ndefault = \"b\"\n[[rules]]\nname = \"uk\"\nmatch.ruri_user_prefix = [\"+44\", \"+1\"]\nroute = \"pbx\"\n");
    let c = load_with(&text, &[]).unwrap();
    assert_eq!(c.summary(), "etc/b.toml: OK\ngroups: 2\n  pbx: 1 member, hash by call-id\n  b: 2 members, random\nrules: 1: uk\nprefixes: 2\ndefault group: b\nin_dialog: request-uri\n");
}

#[test]
fn edit_distance_and_nearest() {
    let d = |a: &str, b: &str| {
        schema::edit_distance(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    };
    assert_eq!(d("kitten", "sitting"), 3);
    assert_eq!(d("", "abc"), 3);
    assert_eq!(
        schema::nearest("hash-key", ["hash_key", "members"].into_iter()),
        Some("hash_key")
    );
    assert_eq!(
        schema::nearest("zzz", ["default", "in_dialog"].into_iter()),
        None
    );
}

/// The serde structs and the schema list the same keys, in the same order.
#[test]
fn the_schema_matches_the_serde_structs() {
    fn keys(t: &[(&str, Shape)]) -> Vec<&'static str> {
        t.iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .iter()
            .map(|k| -> &'static str { Box::leak(k.to_string().into_boxed_str()) })
            .collect()
    }
    assert_eq!(fields_of::<raw::File>(), keys(schema::FILE));
    assert_eq!(fields_of::<raw::ProxyRaw>(), keys(schema::PROXY));
    assert_eq!(fields_of::<raw::RoutingRaw>(), keys(schema::ROUTING));
    assert_eq!(fields_of::<raw::GroupRaw>(), keys(schema::GROUP));
    assert_eq!(fields_of::<raw::ProbeRaw>(), keys(schema::PROBE));
    assert_eq!(
        fields_of::<raw::ReplyRaw>(),
        ["code", "reason", "retry_after"]
    );
    assert_eq!(fields_of::<raw::RuleRaw>(), keys(schema::RULE));
    assert_eq!(fields_of::<raw::MatchRaw>(), keys(schema::MATCH));
    assert_eq!(fields_of::<raw::HeaderRaw>(), keys(schema::HEADER));
    assert_eq!(fields_of::<raw::TimeRaw>(), keys(schema::TIME));
    assert_eq!(fields_of::<raw::RewriteRaw>(), keys(schema::REWRITE));
    assert_eq!(
        fields_of::<raw::UserRewriteRaw>(),
        keys(schema::USER_REWRITE)
    );
    assert_eq!(fields_of::<raw::AuthRaw>(), keys(schema::AUTH));
    assert_eq!(fields_of::<raw::GuardRaw>(), keys(schema::GUARD));
    assert_eq!(fields_of::<raw::MetricsRaw>(), keys(schema::METRICS));
    assert_eq!(fields_of::<raw::RecordsRaw>(), keys(schema::RECORDS));
    assert_eq!(fields_of::<raw::LocationRaw>(), keys(schema::LOCATION));
}

/// The field names serde's derive gives a struct, read by a deserializer
/// that records them and stops.
fn fields_of<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
    struct Spy<'a>(&'a mut Vec<&'static str>);
    impl<'de> Deserializer<'de> for Spy<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend_from_slice(fields);
            Err(de::Error::custom("recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut out = Vec::new();
    let _ = T::deserialize(Spy(&mut out));
    out
}
