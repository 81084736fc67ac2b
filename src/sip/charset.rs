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

static TOKEN: [bool; 256] = table!(is_token_byte);
static USER: [bool; 256] = table!(is_user_byte);
static PASSWORD: [bool; 256] = table!(is_password_byte);
static PARAM: [bool; 256] = table!(is_param_byte);
static HNV: [bool; 256] = table!(is_hnv_byte);
static HOST: [bool; 256] = table!(is_host_byte);
static WORD: [bool; 256] = table!(is_word_byte);

/// `token` character (methods, header names, parameter names).
#[inline]
pub fn token(b: u8) -> bool {
    TOKEN[b as usize]
}
/// SIP URI `user` character (escapes kept raw).
#[inline]
pub fn user(b: u8) -> bool {
    USER[b as usize]
}
/// SIP URI `password` character.
#[inline]
pub fn password(b: u8) -> bool {
    PASSWORD[b as usize]
}
/// URI parameter name/value character.
#[inline]
pub fn param(b: u8) -> bool {
    PARAM[b as usize]
}
/// URI header name/value character.
#[inline]
pub fn hnv(b: u8) -> bool {
    HNV[b as usize]
}
/// hostname / IPv4address character.
#[inline]
pub fn host(b: u8) -> bool {
    HOST[b as usize]
}
/// `word` character (Call-ID).
#[inline]
pub fn word(b: u8) -> bool {
    WORD[b as usize]
}
/// Linear white space inside a header value: SP, HTAB, and the CR LF of a
/// folded line (folding is resolved by treating CR/LF as white space).
#[inline]
pub fn lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims leading and trailing LWS.
#[inline]
pub fn trim(mut s: &[u8]) -> &[u8] {
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
#[inline]
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
        assert!(user(b'%') && !user(b'@') && !user(b':'));
        assert_eq!(trim(b" \r\n a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"12a"), None);
        assert_eq!(parse_u32(b""), None);
    }
}
