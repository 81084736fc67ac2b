//! Longest-prefix lookup of dialled numbers: [`PrefixMap`] (a
//! `prefix_table`) and [`PrefixSet`] (`match.ruri_user_prefix`). No I/O.
//!
//! Compact for a million entries: each prefix is a [`DialKey`] (8 bytes),
//! kept in one sorted array, with the index of its parent (the longest
//! other entry that is a proper prefix of it, 4 bytes) and of its value
//! (4 bytes, only when there is more than one distinct value; values are
//! stored once each). A million prefixes take 16 MB.
//!
//! The lookup finds the predecessor `P` of the number `N` (the greatest key
//! `<= N`, by binary search in a bucket of a 65,536-entry index of the
//! first four symbols) and walks `P`'s parent chain, at most 16 steps: the
//! first key on it that is a prefix of `N` is the longest one. Why: the
//! longest matching prefix `L` is a prefix of `N`, so `L <= P <= N`, and
//! every key between `L` and `N` starts with `L`; so `L` is a prefix of `P`
//! and therefore on its chain, and any longer key on the chain that matched
//! `N` would contradict `L` being the longest.

use std::collections::HashMap;
use std::hash::Hash;

use super::number::{DialKey, PrefixProblem};

/// No parent.
const NONE: u32 = u32::MAX;

/// Tables this large get the first-symbols index.
const INDEX_FROM: usize = 1024;

/// Bits of a key that select an index bucket (its first four symbols).
const INDEX_SHIFT: u32 = 48;

/// Dialled-number prefixes, each with a value; [`PrefixMap::longest`]
/// finds the value of the longest prefix of a number.
#[derive(Debug, Clone)]
pub struct PrefixMap<V> {
    /// Sorted, distinct.
    keys: Box<[u64]>,
    /// `parents[i]`: the index of the longest proper prefix of `keys[i]`
    /// in `keys`, or [`NONE`].
    parents: Box<[u32]>,
    /// `slots[i]`: the index of `keys[i]`'s value in `values`; empty when
    /// there is only one value.
    slots: Box<[u32]>,
    /// Distinct values.
    values: Box<[V]>,
    /// For large tables, `index[b]..index[b + 1]` holds the keys whose top
    /// 16 bits are `b`.
    index: Box<[u32]>,
}

impl<V: Eq + Hash> PrefixMap<V> {
    /// Compiles `(prefix, value)` entries (prefixes as written: dial symbols
    /// `0-9 + * #`, separators ignored, 1 to 16 symbols). A bad or repeated
    /// prefix is refused with its index in `entries`.
    pub fn new(entries: Vec<(String, V)>) -> Result<PrefixMap<V>, (usize, PrefixProblem)> {
        PrefixMap::from_entries(entries)
    }

    /// [`PrefixMap::new`] over any iterator (prefixes borrowed or owned),
    /// which keeps a large table from being held twice while it compiles.
    pub fn from_entries<P: AsRef<str>>(
        entries: impl IntoIterator<Item = (P, V)>,
    ) -> Result<PrefixMap<V>, (usize, PrefixProblem)> {
        let mut bad = None;
        let keyed = entries
            .into_iter()
            .enumerate()
            .map_while(
                |(i, (prefix, value))| match DialKey::of_prefix(prefix.as_ref()) {
                    Ok(key) => Some((key, value)),
                    Err(p) => {
                        bad = Some((i, p));
                        None
                    }
                },
            );
        let map = PrefixMap::from_keys(keyed);
        match bad {
            Some(b) => Err(b),
            None => map,
        }
    }

    /// [`PrefixMap::from_entries`] for prefixes already packed (a large
    /// table read from a file need not hold its prefixes as text). A
    /// repeated prefix is refused with its index.
    pub fn from_keys(
        entries: impl IntoIterator<Item = (DialKey, V)>,
    ) -> Result<PrefixMap<V>, (usize, PrefixProblem)> {
        let mut interned: HashMap<V, u32> = HashMap::new();
        let entries = entries.into_iter();
        let mut rows: Vec<(u64, u32, u32)> = Vec::with_capacity(entries.size_hint().0);
        for (i, (key, value)) in entries.enumerate() {
            let next = u32::try_from(interned.len()).unwrap_or(NONE);
            let slot = *interned.entry(value).or_insert(next);
            rows.push((key.0, u32::try_from(i).unwrap_or(NONE), slot));
        }
        rows.sort_unstable();
        if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err((
                w[1].1 as usize,
                PrefixProblem::Duplicate {
                    first: w[0].1 as usize + 1,
                },
            ));
        }
        let mut values: Vec<Option<V>> = (0..interned.len()).map(|_| None).collect();
        for (v, slot) in interned {
            if let Some(place) = values.get_mut(slot as usize) {
                *place = Some(v);
            }
        }
        let values: Box<[V]> = values.into_iter().flatten().collect();
        let slots = if values.len() > 1 {
            rows.iter().map(|r| r.2).collect()
        } else {
            Box::default()
        };
        let keys: Box<[u64]> = rows.iter().map(|r| r.0).collect();
        drop(rows);
        Ok(PrefixMap {
            parents: parents(&keys),
            index: index(&keys),
            keys,
            slots,
            values,
        })
    }
}

impl<V> PrefixMap<V> {
    /// How many prefixes the map holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the map holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The distinct values, each once.
    pub fn values(&self) -> &[V] {
        &self.values
    }

    /// The same prefixes with each distinct value mapped by `f` (called
    /// once per distinct value, not per prefix).
    pub fn try_map_values<U, E>(self, f: impl FnMut(V) -> Result<U, E>) -> Result<PrefixMap<U>, E> {
        let values = self
            .values
            .into_vec()
            .into_iter()
            .map(f)
            .collect::<Result<Box<[U]>, E>>()?;
        Ok(PrefixMap {
            keys: self.keys,
            parents: self.parents,
            slots: self.slots,
            values,
            index: self.index,
        })
    }

    /// The value of the longest prefix of `number`, with that prefix.
    #[inline]
    pub fn longest(&self, number: DialKey) -> Option<(DialKey, &V)> {
        let i = self.longest_index(number.0)?;
        let slot = self.slots.get(i).copied().unwrap_or(0);
        let key = self.keys.get(i)?;
        Some((DialKey(*key), self.values.get(slot as usize)?))
    }

    /// [`PrefixMap::longest`] for a number as written (separators and
    /// all); `None` when it is not a dialled number.
    pub fn lookup(&self, number: &str) -> Option<(DialKey, &V)> {
        let user = super::number::User::from_config(number);
        self.longest(user.dial_key()?)
    }

    fn longest_index(&self, n: u64) -> Option<usize> {
        let (lo, hi) = match self.index.get((n >> INDEX_SHIFT) as usize..) {
            Some([lo, hi, ..]) => (*lo as usize, *hi as usize),
            _ => (0, self.keys.len()),
        };
        let p = lo + self.keys.get(lo..hi)?.partition_point(|&k| k <= n);
        let mut i = p.checked_sub(1)?;
        loop {
            let k = DialKey(*self.keys.get(i)?);
            if k.is_prefix_of(DialKey(n)) {
                return Some(i);
            }
            i = match *self.parents.get(i)? {
                NONE => return None,
                parent => parent as usize,
            };
        }
    }
}

/// A set of dialled-number prefixes: does a number start with one?
#[derive(Debug, Clone)]
pub struct PrefixSet(PrefixMap<()>);

impl PrefixSet {
    /// Compiles prefixes as written (see [`PrefixMap::new`]); a prefix
    /// listed twice counts once. A bad one is refused with its index.
    pub fn new<'s>(
        prefixes: impl IntoIterator<Item = &'s str>,
    ) -> Result<PrefixSet, (usize, PrefixProblem)> {
        let mut keys = Vec::new();
        for (i, p) in prefixes.into_iter().enumerate() {
            keys.push(DialKey::of_prefix(p).map_err(|e| (i, e))?);
        }
        keys.sort_unstable();
        keys.dedup();
        let entries = keys.into_iter().map(|k| (k, ()));
        PrefixMap::from_sorted_keys(entries).map(PrefixSet)
    }

    /// How many distinct prefixes the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the set holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The longest prefix in the set that `number` starts with.
    #[inline]
    pub fn longest(&self, number: DialKey) -> Option<DialKey> {
        self.0.longest(number).map(|(k, _)| k)
    }
}

impl PrefixMap<()> {
    /// A map of distinct keys, sorted, all with the unit value.
    fn from_sorted_keys(
        keys: impl Iterator<Item = (DialKey, ())>,
    ) -> Result<PrefixMap<()>, (usize, PrefixProblem)> {
        let keys: Box<[u64]> = keys.map(|(k, ())| k.0).collect();
        Ok(PrefixMap {
            parents: parents(&keys),
            index: index(&keys),
            keys,
            slots: Box::default(),
            values: Box::new([()]),
        })
    }
}

/// Each sorted key's longest proper prefix among the keys: the keys on the
/// stack are the chain of prefixes of the previous key.
fn parents(keys: &[u64]) -> Box<[u32]> {
    let mut chain: Vec<u32> = Vec::with_capacity(17);
    let mut out = Vec::with_capacity(keys.len());
    for (i, &k) in keys.iter().enumerate() {
        while let Some(&top) = chain.last() {
            let top_key = DialKey(keys.get(top as usize).copied().unwrap_or(0));
            if top_key.is_prefix_of(DialKey(k)) {
                break;
            }
            chain.pop();
        }
        out.push(chain.last().copied().unwrap_or(NONE));
        chain.push(u32::try_from(i).unwrap_or(NONE));
    }
    out.into_boxed_slice()
}

/// For tables of [`INDEX_FROM`] keys or more, where each 16-bit bucket of
/// the sorted keys starts; empty for smaller ones.
fn index(keys: &[u64]) -> Box<[u32]> {
    if keys.len() < INDEX_FROM {
        return Box::default();
    }
    let buckets = 1usize << (64 - INDEX_SHIFT);
    let mut out = Vec::with_capacity(buckets + 1);
    let mut at = 0usize;
    for b in 0..=buckets as u64 {
        while keys.get(at).is_some_and(|&k| (k >> INDEX_SHIFT) < b) {
            at += 1;
        }
        out.push(u32::try_from(at).unwrap_or(NONE));
    }
    out.into_boxed_slice()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> PrefixMap<String> {
        PrefixMap::from_entries(entries.iter().map(|(p, v)| (*p, v.to_string()))).unwrap()
    }

    fn key(n: &str) -> DialKey {
        DialKey::of_number(n.as_bytes()).unwrap()
    }

    #[test]
    fn the_longest_prefix_wins() {
        let m = map(&[
            ("+44", "uk"),
            ("+4420", "london"),
            ("+447", "mobile"),
            ("+4479", "mobile2"),
            ("1", "nanp"),
        ]);
        let get = |n: &str| m.longest(key(n)).map(|(k, v)| (k.to_string(), v.clone()));
        let want = |k: &str, v: &str| Some((k.to_string(), v.to_string()));
        assert_eq!(get("+442079460000"), want("+4420", "london"));
        assert_eq!(get("+441619460000"), want("+44", "uk"));
        assert_eq!(get("+447700900000"), want("+447", "mobile"));
        assert_eq!(get("+447900900000"), want("+4479", "mobile2"));
        assert_eq!(get("+44"), want("+44", "uk"));
        assert_eq!(get("+4"), None);
        assert_eq!(get("+45"), None);
        assert_eq!(get("2"), None);
        assert_eq!(get("12125550100"), want("1", "nanp"));
        assert_eq!(m.values().len(), 5);
        assert_eq!(
            m.lookup("+44 (20) 7946-0000").map(|(_, v)| v.as_str()),
            Some("london")
        );
        assert_eq!(m.lookup("alice"), None);
    }

    #[test]
    fn bad_and_repeated_prefixes_name_the_entry() {
        let bad = PrefixMap::from_entries([("+44", 1), ("12x", 2)]).unwrap_err();
        assert_eq!(bad, (1, PrefixProblem::NotDialled('x')));
        let dup = PrefixMap::from_entries([("+44", 1), ("0", 2), ("+4-4", 3)]).unwrap_err();
        assert_eq!(dup, (2, PrefixProblem::Duplicate { first: 1 }));
        assert_eq!(
            dup.1.to_string(),
            "the prefix is listed already (entry 1); list each prefix once"
        );
        let set = PrefixSet::new(["+44", "0044", "+44"]).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.longest(key("00442079")).map(|k| k.to_string()),
            Some("0044".into())
        );
        assert_eq!(
            PrefixSet::new(["1", ""]).unwrap_err(),
            (1, PrefixProblem::Empty)
        );
    }

    #[test]
    fn values_are_stored_once_and_mapped_once() {
        let entries: Vec<(String, String)> = (0..3000)
            .map(|i| (format!("9{i}"), format!("g{}", i % 3)))
            .collect();
        let m = PrefixMap::new(entries).unwrap();
        assert_eq!((m.len(), m.values().len()), (3000, 3));
        let mut calls = 0;
        let m = m
            .try_map_values(|v| {
                calls += 1;
                Ok::<_, ()>(v.len())
            })
            .unwrap();
        assert_eq!(calls, 3);
        assert_eq!(
            m.longest(key("9299")).map(|(k, _)| k.to_string()),
            Some("9299".into())
        );
    }

    /// A small generator, so the tests need no crate (the index's tests
    /// use it too).
    pub(in crate::route) struct Rng(pub(in crate::route) u64);
    impl Rng {
        pub(in crate::route) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn digits(&mut self, alphabet: &[u8], max: u64) -> String {
            let n = 1 + self.next() % max;
            (0..n)
                .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
                .collect()
        }
    }

    #[test]
    fn randomized_tables_agree_with_a_naive_reference() {
        let mut rng = Rng(7);
        // A small alphabet makes prefixes nest deeply; sizes on both sides
        // of the index threshold.
        for (size, alphabet) in [
            (50, &b"012"[..]),
            (5000, &b"0123+"[..]),
            (20_000, &b"01"[..]),
        ] {
            let mut prefixes: Vec<String> = (0..size).map(|_| rng.digits(alphabet, 16)).collect();
            prefixes.sort();
            prefixes.dedup();
            let m =
                PrefixMap::from_entries(prefixes.iter().map(|p| (p.as_str(), p.clone()))).unwrap();
            for _ in 0..20_000 {
                let number = rng.digits(alphabet, 20);
                let want = prefixes
                    .iter()
                    .filter(|p| number.starts_with(p.as_str()))
                    .max_by_key(|p| p.len());
                let got = m.longest(key(&number)).map(|(_, v)| v);
                assert_eq!(got, want, "{number} in a table of {}", prefixes.len());
            }
        }
    }
}
