//! Character classes of RFC 3261 §25.1 as 256-entry byte tables. No I/O.

macro_rules! table {
    ($pred:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $pred(i as u8);
            i += 1;
        }
        t
    }};
}

const fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

const fn is_token_byte(b: u8) -> bool {
    alnum(b)
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

const fn is_unreserved(b: u8) -> bool {
    alnum(b)
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// RFC 3261 `user`: unreserved / escaped / user-unreserved. `%` is allowed
/// here so escapes pass through raw.
const fn is_user_byte(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
}

/// RFC 3261 `password`.
const fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

/// RFC 3261 `paramchar` (param-unreserved / unreserved / escaped).
const fn is_param_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// RFC 3261 `hnv-unreserved` / unreserved / escaped (URI headers).
const fn is_hnv_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// hostname / IPv4 characters (IPv6 references are handled apart).
const fn is_host_byte(b: u8) -> bool {
    alnum(b) || matches!(b, b'-' | b'.')
}

/// RFC 3261 `word` (Call-ID).
const fn is_word_byte(b: u8) -> bool {
    is_token_byte(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// A header parameter value's bytes outside quoted-strings: token, plus
/// `:`, `[` and `]` (IPv6 `received=` values).
const fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b':' | b'[' | b']')
}

const fn no_percent(b: u8, class: bool) -> bool {
    class && b != b'%'
}

const fn is_user_unescaped(b: u8) -> bool {
    no_percent(b, is_user_byte(b))
}
const fn is_password_unescaped(b: u8) -> bool {
    no_percent(b, is_password_byte(b))
}
const fn is_param_unescaped(b: u8) -> bool {
    no_percent(b, is_param_byte(b))
}
const fn is_hnv_unescaped(b: u8) -> bool {
    no_percent(b, is_hnv_byte(b))
}

/// A byte that a quoted-string holds as it is: not `"`, not `\\`, and no
/// control byte but LWS.
const fn is_qdtext_byte(b: u8) -> bool {
    !matches!(b, b'"' | b'\\' | 0x7f) && (b >= 0x20 || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

static TOKEN: [bool; 256] = table!(is_token_byte);
static QDTEXT: [bool; 256] = table!(is_qdtext_byte);
static GEN_VALUE: [bool; 256] = table!(is_gen_value_byte);
static USER_UNESCAPED: [bool; 256] = table!(is_user_unescaped);
static PASSWORD_UNESCAPED: [bool; 256] = table!(is_password_unescaped);
static PARAM_UNESCAPED: [bool; 256] = table!(is_param_unescaped);
static HNV_UNESCAPED: [bool; 256] = table!(is_hnv_unescaped);
static HOST: [bool; 256] = table!(is_host_byte);
static WORD: [bool; 256] = table!(is_word_byte);

/// `token` character (methods, header names, parameter names).
#[inline(always)]
pub fn token(b: u8) -> bool {
    TOKEN[b as usize]
}
/// A quoted-string byte taken as it is (see `values::quoted_len`).
#[inline(always)]
pub fn qdtext(b: u8) -> bool {
    QDTEXT[b as usize]
}
/// Header parameter value character outside quotes (token, `:`, `[`, `]`).
#[inline(always)]
pub fn gen_value(b: u8) -> bool {
    GEN_VALUE[b as usize]
}
/// RFC 3261 `user` bytes but `%` (escapes are checked apart).
#[inline(always)]
pub fn user_unescaped(b: u8) -> bool {
    USER_UNESCAPED[b as usize]
}
/// RFC 3261 `password` bytes but `%`.
#[inline(always)]
pub fn password_unescaped(b: u8) -> bool {
    PASSWORD_UNESCAPED[b as usize]
}
/// RFC 3261 `paramchar` bytes but `%`.
#[inline(always)]
pub fn param_unescaped(b: u8) -> bool {
    PARAM_UNESCAPED[b as usize]
}
/// RFC 3261 `hnv-unreserved` / unreserved bytes but `%`.
#[inline(always)]
pub fn hnv_unescaped(b: u8) -> bool {
    HNV_UNESCAPED[b as usize]
}
/// hostname / IPv4address character.
#[inline(always)]
pub fn host(b: u8) -> bool {
    HOST[b as usize]
}
/// `word` character (Call-ID).
#[inline(always)]
pub fn word(b: u8) -> bool {
    WORD[b as usize]
}
/// Linear white space inside a header value: SP, HTAB, and the CR LF of a
/// folded line (folding is resolved by treating CR/LF as white space).
#[inline(always)]
pub fn lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` equals `lower`, a lower-case word of ASCII letters only, ignoring
/// ASCII case: one OR and one compare per byte, which the compiler merges
/// into word compares (`b | 0x20` is a lower-case letter only for that
/// letter in either case).
#[inline(always)]
pub fn eq_letters<const N: usize>(s: &[u8], lower: &[u8; N]) -> bool {
    match <&[u8; N]>::try_from(s) {
        Ok(a) => {
            let mut diff = 0;
            for i in 0..N {
                diff |= (a[i] | 0x20) ^ lower[i];
            }
            diff == 0
        }
        Err(_) => false,
    }
}

/// Trims leading and trailing LWS.
#[inline(always)]
pub fn trim(s: &[u8]) -> &[u8] {
    match s {
        // Nothing to trim, the usual case: two compares.
        [first, .., last] if !lws(*first) && !lws(*last) => s,
        [only] if !lws(*only) => s,
        _ => trim_slow(s),
    }
}

/// [`trim`] with something to trim.
#[inline(never)]
fn trim_slow(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if lws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// True when every byte of `s` is a token character and `s` is not empty.
#[inline(always)]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| token(b))
}

/// Decimal digits to `u32`, rejecting empty input, non-digits and overflow.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(token(b'a') && token(b'!') && !token(b' ') && !token(b':'));
        assert!(
            user_unescaped(b'a')
                && !user_unescaped(b'%')
                && !user_unescaped(b'@')
                && !user_unescaped(b':')
        );
        assert_eq!(trim(b" \r\n a b \t"), b"a b");
        assert!(eq_letters(b"BrAnCh", b"branch") && eq_letters(b"lr", b"lr"));
        assert!(!eq_letters(b"branc", b"branch") && !eq_letters(b"brancx", b"branch"));
        for b in 0..=255u8 {
            assert_eq!(
                eq_letters(&[b], b"t"),
                b.eq_ignore_ascii_case(&b't'),
                "{b:#x}"
            );
        }
        assert_eq!(trim(b"   "), b"");
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"12a"), None);
        assert_eq!(parse_u32(b""), None);
    }
}
