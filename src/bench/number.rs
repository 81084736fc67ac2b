//! The numbers `bench uac --to PATTERN` dials, so a run can load a routing
//! table by dialled number: a [`NumberPattern`] is a number in which each
//! `#` stands for a random digit (`+4420#######`), and [`Numbers`] picks
//! one of several patterns evenly at random for each call. The randomness
//! is the caller's seeded [`Rng`], so the same seed dials the same
//! numbers. No I/O.
//!
//! A pattern is what a phone dials: digits, `*`, a leading `+`, and `#`
//! for a random digit (so a pattern cannot dial a literal `#`). Letters are
//! refused: a name as the user part is what `--service` is for. Every
//! character a pattern may hold is allowed unescaped in the user part of a
//! SIP URI (RFC 3261 §25.1), so a drawn number is written as it is.

use crate::rng::Rng;

/// The longest pattern, in characters: room for an E.164 number (15
/// digits) behind a carrier prefix.
pub const MAX_LEN: usize = 32;

/// A validated pattern. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPattern(String);

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing at all.
    #[error("empty pattern; give a number with # for each random digit, e.g. '+4420#######'")]
    Empty,
    /// A character other than a digit, `#`, `*` or a leading `+`.
    #[error(
        "'{ch}' at position {at}: a pattern holds digits, # (a random digit), * and a leading +"
    )]
    Character {
        /// The character.
        ch: char,
        /// Its position, from 1.
        at: usize,
    },
    /// A `+` after the first character.
    #[error("'+' at position {at}: only the first character may be +")]
    Plus {
        /// Its position, from 1.
        at: usize,
    },
    /// No digit and no `#`.
    #[error("no digit and no #: a pattern dials at least one digit")]
    NoDigits,
    /// Longer than [`MAX_LEN`].
    #[error("{len} characters; a pattern has at most {MAX_LEN}")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
}

impl NumberPattern {
    /// Checks `s` (see the module docs for what a pattern may hold).
    pub fn parse(s: &str) -> Result<NumberPattern, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_LEN {
            return Err(PatternError::TooLong { len });
        }
        for (i, ch) in s.chars().enumerate() {
            match ch {
                '0'..='9' | '#' | '*' => {}
                '+' if i == 0 => {}
                '+' => return Err(PatternError::Plus { at: i + 1 }),
                ch => return Err(PatternError::Character { ch, at: i + 1 }),
            }
        }
        if !s.bytes().any(|b| b == b'#' || b.is_ascii_digit()) {
            return Err(PatternError::NoDigits);
        }
        Ok(NumberPattern(s.to_owned()))
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends to `out` the pattern with each `#` replaced by a digit
    /// drawn from `rng` (each of 0–9 equally likely), every other
    /// character kept.
    pub fn expand(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        for &b in self.0.as_bytes() {
            out.push(if b == b'#' {
                b'0' + rng.below(10) as u8
            } else {
                b
            });
        }
    }
}

/// The patterns of a run (`--to`, repeated), chosen evenly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numbers(Vec<NumberPattern>);

impl Numbers {
    /// Dials `patterns`; none means no number is drawn (the caller keeps
    /// its fixed user part).
    pub fn new(patterns: Vec<NumberPattern>) -> Numbers {
        Numbers(patterns)
    }

    /// True when there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[NumberPattern] {
        &self.0
    }

    /// Appends one number to `out`: a pattern picked evenly at random,
    /// then expanded, both with `rng`. Appends nothing when there is no
    /// pattern (and draws nothing).
    pub fn draw(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        let pick = match self.0.len() {
            0 => return,
            1 => 0,
            n => rng.below(u32::try_from(n).unwrap_or(u32::MAX)) as usize,
        };
        if let Some(p) = self.0.get(pick) {
            p.expand(rng, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> NumberPattern {
        NumberPattern::parse(s).unwrap()
    }

    /// Pearson's chi-square statistic of `counts` against an even split.
    fn chi_square(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    #[test]
    fn patterns_are_checked() {
        for ok in ["+4420#######", "0800123456", "#", "*21#", "+1", "**##"] {
            assert_eq!(pattern(ok).as_str(), ok);
        }
        let long = "#".repeat(MAX_LEN);
        assert!(NumberPattern::parse(&long).is_ok());
        let cases = [
            ("", PatternError::Empty),
            ("44 20", PatternError::Character { ch: ' ', at: 3 }),
            ("sales", PatternError::Character { ch: 's', at: 1 }),
            ("44-20", PatternError::Character { ch: '-', at: 3 }),
            ("+44é", PatternError::Character { ch: 'é', at: 4 }),
            ("44+20", PatternError::Plus { at: 3 }),
            ("++44", PatternError::Plus { at: 2 }),
            ("+", PatternError::NoDigits),
            ("**", PatternError::NoDigits),
            (
                &"#".repeat(MAX_LEN + 1),
                PatternError::TooLong { len: MAX_LEN + 1 },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(NumberPattern::parse(s), Err(want), "{s:?}");
        }
        assert_eq!(
            PatternError::Empty.to_string(),
            "empty pattern; give a number with # for each random digit, e.g. '+4420#######'"
        );
        assert_eq!(
            PatternError::Character { ch: 'x', at: 2 }.to_string(),
            "'x' at position 2: a pattern holds digits, # (a random digit), * and a leading +"
        );
    }

    #[test]
    fn only_hashes_are_replaced_and_by_digits() {
        let p = pattern("+4420#*##9");
        let mut rng = Rng::new(1);
        let mut out = Vec::new();
        for _ in 0..1000 {
            out.clear();
            p.expand(&mut rng, &mut out);
            assert_eq!(out.len(), 10);
            for (i, (&got, want)) in out.iter().zip(p.as_str().bytes()).enumerate() {
                if want == b'#' {
                    assert!(got.is_ascii_digit(), "{i}: {out:?}");
                } else {
                    assert_eq!(got, want, "{i}");
                }
            }
        }
        // No `#`: the number is the pattern, and nothing is drawn.
        let mut before = Rng::new(5);
        let after = before.clone();
        out.clear();
        pattern("0800").expand(&mut before, &mut out);
        assert_eq!(out, b"0800");
        assert_eq!(before.next_u64(), after.clone().next_u64());
        // `expand` appends.
        pattern("12").expand(&mut before, &mut out);
        assert_eq!(out, b"080012");
    }

    #[test]
    fn each_hash_is_an_even_digit() {
        // 100,000 draws of each of three positions: every digit about
        // 10,000 times, within the chi-square bound for 9 degrees of
        // freedom at p = 0.001 (27.88); the seed is fixed, so this cannot
        // flake.
        let p = pattern("###");
        let mut rng = Rng::new(18);
        let mut counts = [[0u64; 10]; 3];
        let mut out = Vec::new();
        for _ in 0..100_000 {
            out.clear();
            p.expand(&mut rng, &mut out);
            for (pos, &d) in out.iter().enumerate() {
                counts[pos][usize::from(d - b'0')] += 1;
            }
        }
        for c in &counts {
            assert!(chi_square(c) < 27.88, "{c:?}");
            assert!(c.iter().all(|&n| (9_500..10_500).contains(&n)), "{c:?}");
        }
    }

    #[test]
    fn several_patterns_are_chosen_evenly() {
        let numbers = Numbers::new(vec![pattern("1#"), pattern("2#"), pattern("3#")]);
        let mut rng = Rng::new(10);
        let mut counts = [0u64; 3];
        let mut out = Vec::new();
        for _ in 0..30_000 {
            out.clear();
            numbers.draw(&mut rng, &mut out);
            assert_eq!(out.len(), 2);
            counts[usize::from(out[0] - b'1')] += 1;
        }
        // Chi-square bound for 2 degrees of freedom at p = 0.001.
        assert!(chi_square(&counts) < 13.82, "{counts:?}");
        assert!(
            counts.iter().all(|&n| (9_500..10_500).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_same_seed_dials_the_same_numbers() {
        let numbers = Numbers::new(vec![pattern("+4420#######"), pattern("0800######")]);
        let dial = |seed| {
            let mut rng = Rng::new(seed);
            (0..20)
                .map(|_| {
                    let mut out = Vec::new();
                    numbers.draw(&mut rng, &mut out);
                    String::from_utf8(out).unwrap()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(dial(7), dial(7));
        assert_ne!(dial(7), dial(8));
        let mut out = Vec::new();
        Numbers::default().draw(&mut Rng::new(1), &mut out);
        assert!(out.is_empty());
    }
}
