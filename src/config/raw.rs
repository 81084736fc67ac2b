//! The routing file as TOML gives it: serde structs whose every validated
//! value keeps its span ([`Spanned`]), so later checks can name the line and
//! column. Types are loose here (integers are `i64`, names are strings);
//! `validate` turns them into the typed configuration. No I/O.
//!
//! The key names are the interface fixed by `CONFIG.md`; the schema in
//! `schema.rs` lists the same keys (a test ties the two together).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    pub proxy: Option<S<ProxyRaw>>,
    pub routing: Option<S<RoutingRaw>>,
    pub groups: Option<S<Named<S<GroupRaw>>>>,
    pub rules: Option<S<Vec<S<RuleRaw>>>>,
    pub auth: Option<S<AuthRaw>>,
    pub guard: Option<S<GuardRaw>>,
    pub metrics: Option<S<MetricsRaw>>,
    pub records: Option<S<RecordsRaw>>,
    pub location: Option<S<LocationRaw>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyRaw {
    pub listen: Option<List<String>>,
    pub advertise: Option<S<String>>,
    pub record_route: Option<S<bool>>,
    pub branch_secret_file: Option<S<String>>,
    pub workers: Option<S<i64>>,
    pub pin: Option<S<bool>>,
    pub max_message_size: Option<S<i64>>,
    pub log_level: Option<S<String>>,
    pub tcp_idle_timeout: Option<S<i64>>,
    pub tcp_max_connections: Option<S<i64>>,
    pub tcp_max_per_ip: Option<S<i64>>,
    pub tcp_message_timeout: Option<S<i64>>,
    pub sched_batch: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutingRaw {
    pub default: Option<S<String>>,
    pub in_dialog: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupRaw {
    pub algorithm: Option<S<String>>,
    pub hash_key: Option<S<String>>,
    pub members: Option<List<String>>,
    pub fallback: Option<S<String>>,
    pub when_down: Option<S<ReplyRaw>>,
    pub probe: Option<S<ProbeRaw>>,
}

/// `when_down = { code, reason, retry_after }` and `reject = { code, reason }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplyRaw {
    pub code: Option<S<i64>>,
    pub reason: Option<S<String>>,
    pub retry_after: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbeRaw {
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub fall: Option<S<i64>>,
    pub rise: Option<S<i64>>,
    pub codes: Option<List<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleRaw {
    pub name: Option<S<String>>,
    #[serde(rename = "match")]
    pub matches: Option<S<MatchRaw>>,
    pub action: Option<S<String>>,
    pub route: Option<S<String>>,
    pub reject: Option<S<ReplyRaw>>,
    pub prefix_table: Option<S<String>>,
    pub rewrite: Option<S<RewriteRaw>>,
    pub auth: Option<S<bool>>,
    pub challenge: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchRaw {
    pub method: Option<List<String>>,
    pub ruri_user_prefix: Option<List<String>>,
    pub ruri_user: Option<List<String>>,
    pub ruri_user_regex: Option<List<String>>,
    pub ruri_domain: Option<List<String>>,
    pub from_user: Option<List<String>>,
    pub from_domain: Option<List<String>>,
    pub to_user: Option<List<String>>,
    pub to_domain: Option<List<String>>,
    pub source: Option<List<String>>,
    pub transport: Option<List<String>>,
    pub header: Option<S<HeaderRaw>>,
    pub user_agent: Option<List<String>>,
    pub time: Option<List<TimeRaw>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderRaw {
    pub name: Option<S<String>>,
    pub value: Option<S<String>>,
    pub present: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeRaw {
    pub days: Option<S<String>>,
    pub hours: Option<S<String>>,
    pub tz: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RewriteRaw {
    pub ruri_user: Option<S<UserRewriteRaw>>,
    pub ruri_host: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserRewriteRaw {
    pub strip: Option<S<i64>>,
    pub prefix: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthRaw {
    pub realm: Option<S<String>>,
    pub users_file: Option<S<String>>,
    pub methods: Option<List<String>>,
    pub algorithms: Option<List<String>>,
    pub nonce_lifetime: Option<S<String>>,
    pub trusted: Option<List<String>>,
    pub bind_nonce: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GuardRaw {
    pub rate: Option<S<i64>>,
    pub burst: Option<S<i64>>,
    pub ban: Option<S<String>>,
    pub response: Option<S<String>>,
    pub trusted: Option<List<String>>,
    pub max_sources: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsRaw {
    pub listen: Option<S<String>>,
    pub token_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordsRaw {
    pub file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocationRaw {
    pub max_bindings: Option<S<i64>>,
    pub redis: Option<S<String>>,
}

/// One value or a list of them (`match.method = "INVITE"` or
/// `["INVITE", "MESSAGE"]`), each item with its own span; a single value
/// gets the span of the whole.
#[derive(Debug)]
pub(crate) struct List<T> {
    pub span: Range<usize>,
    pub items: Vec<Spanned<T>>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let whole = Spanned::<OneOrMany<T>>::deserialize(d)?;
        let span = whole.span();
        let items = match whole.into_inner() {
            OneOrMany::One(v) => vec![Spanned::new(span.clone(), v)],
            OneOrMany::Many(v) => v,
        };
        Ok(List { span, items })
    }
}

enum OneOrMany<T> {
    One(T),
    Many(Vec<Spanned<T>>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Spanned<T>>()? {
            items.push(v);
        }
        Ok(OneOrMany::Many(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::deserialize(v.to_owned().into_deserializer()).map(OneOrMany::One)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }
}

/// A table whose keys the user names (`[groups.pbx]`, `[groups.uk]`), in
/// file order, each key with its span.
#[derive(Debug)]
pub(crate) struct Named<T>(pub Vec<(Spanned<String>, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(NamedVisitor(PhantomData))
    }
}

struct NamedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedVisitor<T> {
    type Value = Named<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of named entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<String>>()? {
            out.push((k, map.next_value::<T>()?));
        }
        Ok(Named(out))
    }
}
