//! Users as rules compare them, and dialled numbers packed for prefix
//! lookups ([`DialKey`]). No I/O.
//!
//! A user is compared with its escapes (`%HH`) decoded. When it is a
//! dialled number, the visual separators `-`, `.`, `(`, `)` and space are
//! removed too, so `+44 (20) 7946-0000`, `+44%2020.7946.0000` and
//! `+442079460000` are one number. A user is a dialled number when its URI
//! says so (a `tel:` URI, or `user=phone`; then the number ends at the
//! first `;`, where its own parameters start, RFC 3966), or when it is made
//! only of dial symbols (`0-9 + * #`) and separators with at least one
//! symbol. Any other user (`alice.smith`) is compared as written, decoded.
//!
//! Normalizing needs no heap for users of up to 64 bytes.

use super::input::{DecodedUser, UriParts};

/// The most symbols a [`DialKey`] holds (4 bits each in a `u64`).
pub const MAX_DIAL_SYMBOLS: usize = 16;

/// A user as rules compare it: decoded, and for a dialled number without
/// visual separators, plus its [`DialKey`] when it is made only of dial
/// symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    bytes: DecodedUser,
    key: Option<DialKey>,
}

impl User {
    /// The user of `parts`, normalized (see the module docs).
    pub fn of(parts: &UriParts<'_>) -> User {
        User::normalize(parts.user_decoded(), parts.phone)
    }

    /// A user written in the routing file (`match.ruri_user`, ...),
    /// normalized like a request's user that is not marked as a phone
    /// number.
    pub fn from_config(user: &str) -> User {
        User::normalize(DecodedUser::from_slice(user.as_bytes()), false)
    }

    fn normalize(mut bytes: DecodedUser, phone: bool) -> User {
        if phone {
            if let Some(end) = memchr::memchr(b';', &bytes) {
                bytes.truncate(end);
            }
        }
        let dialled = phone
            || (bytes
                .iter()
                .all(|&b| dial_code(b).is_some() || is_separator(b))
                && bytes.iter().any(|&b| dial_code(b).is_some()));
        if dialled {
            let kept = drop_separators(&mut bytes);
            bytes.truncate(kept);
        }
        let key = DialKey::of_number(&bytes);
        User { bytes, key }
    }

    /// The normalized bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The packed first symbols, when the user is made only of dial
    /// symbols (and is not empty).
    #[inline]
    pub fn dial_key(&self) -> Option<DialKey> {
        self.key
    }
}

/// Up to [`MAX_DIAL_SYMBOLS`] dial symbols, 4 bits each, left-aligned in a
/// `u64`; code 0 marks the end. Keys compare like the symbol strings (a
/// prefix sorts before its extensions), and a key is a prefix of another
/// when the other's leading bits equal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DialKey(pub u64);

impl DialKey {
    /// The key of a prefix written in the routing file: separators are
    /// ignored; anything else that is not a dial symbol, an empty prefix
    /// or one longer than [`MAX_DIAL_SYMBOLS`] symbols is refused.
    pub fn of_prefix(prefix: &str) -> Result<DialKey, PrefixProblem> {
        let mut key = 0u64;
        let mut n = 0usize;
        for c in prefix.chars() {
            let code = u8::try_from(c).ok().and_then(dial_code);
            match code {
                Some(code) => {
                    if n == MAX_DIAL_SYMBOLS {
                        return Err(PrefixProblem::TooLong {
                            symbols: prefix.bytes().filter(|&b| dial_code(b).is_some()).count(),
                        });
                    }
                    key |= u64::from(code) << (60 - 4 * n);
                    n += 1;
                }
                None if u8::try_from(c).is_ok_and(is_separator) => {}
                None => return Err(PrefixProblem::NotDialled(c)),
            }
        }
        if n == 0 {
            return Err(PrefixProblem::Empty);
        }
        Ok(DialKey(key))
    }

    /// The key of a normalized number: its first [`MAX_DIAL_SYMBOLS`]
    /// symbols (enough for any prefix); `None` when it is empty or holds
    /// anything but dial symbols.
    pub fn of_number(number: &[u8]) -> Option<DialKey> {
        if number.is_empty() {
            return None;
        }
        let mut key = 0u64;
        for (i, &b) in number.iter().enumerate() {
            let code = dial_code(b)?;
            if i < MAX_DIAL_SYMBOLS {
                key |= u64::from(code) << (60 - 4 * i);
            }
        }
        Some(DialKey(key))
    }

    /// How many symbols the key holds.
    #[inline]
    pub fn len(self) -> usize {
        (64 - self.0.trailing_zeros() as usize).div_ceil(4)
    }

    /// True for the key of no symbols (never made by the constructors).
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when `self` is a prefix of `number` (or equal to it).
    #[inline]
    pub fn is_prefix_of(self, number: DialKey) -> bool {
        let bits = self.len() * 4;
        let mask = u64::MAX.checked_shl(64 - bits as u32).unwrap_or(0);
        number.0 & mask == self.0
    }
}

/// `+4420`: the symbols of the key.
impl core::fmt::Display for DialKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for i in 0..self.len() {
            let code = (self.0 >> (60 - 4 * i)) & 0xf;
            let c = DIAL_SYMBOLS.get(code as usize).copied().unwrap_or(b'?');
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

/// What is wrong with a dialled-number prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixProblem {
    /// No dial symbol at all.
    #[error("the prefix is empty; give at least one of 0-9 + * #")]
    Empty,
    /// More symbols than a key holds.
    #[error(
        "the prefix has {symbols} dial symbols; at most {max} are supported",
        max = MAX_DIAL_SYMBOLS
    )]
    TooLong {
        /// How many were given.
        symbols: usize,
    },
    /// A character that is neither a dial symbol nor a separator.
    #[error(
        "'{0}' is not a dial symbol; a prefix is made of 0-9 + * # \
         (separators - . ( ) and spaces are ignored)"
    )]
    NotDialled(char),
    /// The same prefix twice in a prefix table.
    #[error("the prefix is listed already (entry {first}); list each prefix once")]
    Duplicate {
        /// The 1-based number of the first entry with the prefix.
        first: usize,
    },
}

/// The symbols in code order: code `i + 1` is `DIAL_SYMBOLS[i + 1]`.
const DIAL_SYMBOLS: &[u8; 14] = b"?0123456789+*#";

/// The 4-bit code of a dial symbol (1 to 13), `None` for anything else.
#[inline]
fn dial_code(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0' + 1),
        b'+' => Some(11),
        b'*' => Some(12),
        b'#' => Some(13),
        _ => None,
    }
}

/// Moves the bytes of `v` that are not separators to its front, in order;
/// returns how many there are. (On the plain slice: through the `SmallVec`,
/// every access would check where the bytes live.)
fn drop_separators(v: &mut [u8]) -> usize {
    let mut kept = 0;
    for read in 0..v.len() {
        let Some(&b) = v.get(read) else { break };
        if !is_separator(b) {
            if let Some(slot) = v.get_mut(kept) {
                *slot = b;
            }
            kept += 1;
        }
    }
    kept
}

/// A visual separator in a dialled number (RFC 3966 visual-separator, plus
/// the space people write).
#[inline]
fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')' | b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(raw: &'static [u8], phone: bool) -> User {
        User::of(&UriParts {
            user: raw,
            host: None,
            phone,
        })
    }

    #[test]
    fn dialled_numbers_lose_separators_and_escapes() {
        let cases: [(&[u8], bool, &[u8], bool); 10] = [
            (b"+44 (20) 7946-0000", false, b"+442079460000", true),
            (b"+44%2020.7946.0000", false, b"+442079460000", true),
            (b"*21#", false, b"*21#", true),
            (b"alice.smith", false, b"alice.smith", false),
            (b"alice%2esmith", false, b"alice.smith", false),
            (b"1-800-FLOWERS", false, b"1-800-FLOWERS", false),
            (b"1-800-FLOWERS", true, b"1800FLOWERS", false),
            (b"+1-212-555-0100;isub=12", true, b"+12125550100", true),
            (b"---", false, b"---", false),
            (b"", false, b"", false),
        ];
        for (raw, phone, want, keyed) in cases {
            let u = user(raw, phone);
            assert_eq!(u.as_bytes(), want, "{raw:?}");
            assert_eq!(u.dial_key().is_some(), keyed, "{raw:?}");
        }
        assert_eq!(
            User::from_config("+44 20 7946 0000").as_bytes(),
            b"+442079460000"
        );
    }

    #[test]
    fn keys_pack_sort_and_test_prefixes() {
        let k = |s: &str| DialKey::of_prefix(s).unwrap();
        assert_eq!(k("+44").to_string(), "+44");
        assert_eq!(k("(0)44-").to_string(), "044");
        assert!(k("4") < k("40") && k("40") < k("41") && k("49") < k("4+"));
        assert_eq!(k("0123456789+*#012").len(), 16);
        let n = DialKey::of_number(b"+442079460000").unwrap();
        assert!(k("+44").is_prefix_of(n) && k("+442079460000").is_prefix_of(n));
        assert!(!k("+45").is_prefix_of(n) && !k("+4420794600001").is_prefix_of(n));
        // Longer numbers keep their first 16 symbols, enough for any prefix.
        let long = DialKey::of_number(b"12345678901234567890").unwrap();
        assert!(k("1234567890123456").is_prefix_of(long));
        assert_eq!(DialKey::of_number(b"12a"), None);
        assert_eq!(DialKey::of_prefix(""), Err(PrefixProblem::Empty));
        assert_eq!(DialKey::of_prefix(" - "), Err(PrefixProblem::Empty));
        assert_eq!(
            DialKey::of_prefix("44x"),
            Err(PrefixProblem::NotDialled('x'))
        );
        assert_eq!(
            DialKey::of_prefix("12345678901234567")
                .unwrap_err()
                .to_string(),
            "the prefix has 17 dial symbols; at most 16 are supported"
        );
    }
}
