//! Scalar header values: CSeq, Max-Forwards, Content-Length, Expires,
//! option tags (Require, Proxy-Require, Supported) and Call-ID
//! (RFC 3261 §20, §25.1), and the lexical helpers the other value parsers
//! share (LWS skipping, quoted-strings, header parameters). No I/O.

use memchr::memchr;
use wide::u8x16;

use super::{charset, Error, Method};

/// The CSeq header: sequence number and method (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number, below 2^31 (RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

/// The Max-Forwards header (RFC 3261 §20.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaxForwards(pub u8);

/// The Expires header in seconds (RFC 3261 §20.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expires(pub u32);

/// The option tags of one Require / Proxy-Require / Supported value,
/// split on commas with LWS trimmed and empty items skipped. Tags are
/// returned as written; a malformed tag is still a tag the proxy does not
/// support, so nothing is rejected here.
#[derive(Debug, Clone)]
pub struct OptionTags<'a> {
    rest: &'a [u8],
}

/// Exclusive upper bound of a CSeq number (RFC 3261 §8.1.1.5).
const CSEQ_LIMIT: u32 = 1 << 31;

impl<'a> CSeq<'a> {
    /// Parses `1*DIGIT LWS Method`; LWS may include a folded line break,
    /// leading zeros are allowed. A number of 2^31 or more, a missing or
    /// non-token method, or trailing bytes are `Error::Invalid("CSeq")`.
    pub fn parse(value: &'a [u8]) -> Result<CSeq<'a>, Error> {
        match CSeq::parse_plain(value) {
            Some(plain) => Ok(plain),
            None => CSeq::parse_general(value),
        }
    }

    /// [`CSeq::parse`] for any value.
    fn parse_general(value: &'a [u8]) -> Result<CSeq<'a>, Error> {
        const BAD: Error = Error::Invalid("CSeq");
        let s = charset::trim(value);
        let d = span(s, 0, |b| b.is_ascii_digit());
        let seq = s
            .get(..d)
            .and_then(parse_decimal)
            .filter(|&n| n < u64::from(CSEQ_LIMIT))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(BAD)?;
        let m = skip_lws(s, d);
        if m == d {
            return Err(BAD);
        }
        let method = s.get(m..).and_then(Method::from_bytes).ok_or(BAD)?;
        Ok(CSeq { seq, method })
    }
}

impl<'a> CSeq<'a> {
    /// `1*9DIGIT SP Method` with nothing around it, as nearly every sender
    /// writes it: what [`CSeq::parse`] finds for it, without its trims and
    /// checked arithmetic (nine digits stay below 2^31). `None` for
    /// anything else.
    #[inline(always)]
    fn parse_plain(s: &'a [u8]) -> Option<CSeq<'a>> {
        let mut seq = 0u32;
        let mut i = 0;
        while let Some(d) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d < 10) {
            if i == 9 {
                return None;
            }
            seq = seq * 10 + u32::from(d);
            i += 1;
        }
        match s.get(i..)? {
            [b' ', method @ ..] if i > 0 && method.first().is_some_and(|&b| !charset::lws(b)) => {
                Some(CSeq {
                    seq,
                    method: Method::from_bytes(method)?,
                })
            }
            _ => None,
        }
    }
}

impl MaxForwards {
    /// Parses `1*DIGIT` (leading zeros allowed); more than 255 is
    /// `Error::Invalid("Max-Forwards")`.
    pub fn parse(value: &[u8]) -> Result<MaxForwards, Error> {
        parse_decimal(charset::trim(value))
            .and_then(|n| u8::try_from(n).ok())
            .map(MaxForwards)
            .ok_or(Error::Invalid("Max-Forwards"))
    }
}

impl Expires {
    /// Parses delta-seconds. A number past 2^32-1 is read as 2^32-1 (the
    /// largest value RFC 3261 §20.19 allows; RFC 4475 §3.1.2.4 lets an
    /// element process such a value instead of rejecting it); non-digits are
    /// `Error::Invalid("Expires")`.
    pub fn parse(value: &[u8]) -> Result<Expires, Error> {
        parse_delta_seconds(charset::trim(value))
            .map(Expires)
            .ok_or(Error::Invalid("Expires"))
    }
}

/// Parses a Content-Length value: `1*DIGIT`, leading zeros allowed; past
/// `u32::MAX` or non-digits is `Error::Invalid("Content-Length")`.
pub fn parse_content_length(value: &[u8]) -> Result<u32, Error> {
    parse_decimal(charset::trim(value))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(Error::Invalid("Content-Length"))
}

/// Validates a Call-ID, `word [ "@" word ]` (RFC 3261 §25.1), and returns it
/// with surrounding LWS trimmed; white space inside is
/// `Error::Invalid("Call-ID")`.
pub fn call_id(value: &[u8]) -> Result<&[u8], Error> {
    let s = charset::trim(value);
    // `@` is not a word byte: the first byte that is not one must be the
    // `@` (or the end), and everything after it words again.
    let left = span(s, 0, charset::word);
    let ok = left > 0
        && match s.get(left) {
            None => true,
            Some(b'@') => left + 1 < s.len() && span(s, left + 1, charset::word) == s.len(),
            Some(_) => false,
        };
    if ok {
        Ok(s)
    } else {
        Err(Error::Invalid("Call-ID"))
    }
}

impl<'a> OptionTags<'a> {
    /// The tags of one header value.
    pub fn new(value: &'a [u8]) -> OptionTags<'a> {
        OptionTags { rest: value }
    }
}

impl<'a> Iterator for OptionTags<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let end = memchr(b',', self.rest).unwrap_or(self.rest.len());
            let (tag, tail) = self.rest.split_at(end);
            self.rest = tail.get(1..).unwrap_or_default();
            let tag = charset::trim(tag);
            if !tag.is_empty() {
                return Some(tag);
            }
        }
        None
    }
}

/// delta-seconds, clamped to `u32::MAX` (see [`Expires::parse`]); `None`
/// for empty input or non-digits.
pub(crate) fn parse_delta_seconds(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(parse_decimal(s).map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// `1*DIGIT` of any length (leading zeros allowed) as `u64`; `None` when
/// empty, on a non-digit, or past `u64::MAX`.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Validates header parameters `*( SWS ";" SWS token [ SWS "=" SWS gen-value ] )`
/// (RFC 3261 §25.1 `generic-param`, LWS allowed around `;` and `=`), calling
/// `each(name, value)` for every parameter in order; `each` returning false
/// stops with `None`. `s` must hold nothing else besides LWS.
pub(crate) fn scan_header_params<'a>(
    s: &'a [u8],
    each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> bool,
) -> Option<()> {
    scan_params(s, false, each).map(|_| ())
}

/// Like [`scan_header_params`], but a `,` where the next `;` could be ends
/// the list value: returns the index of that comma, or `s.len()`.
pub(crate) fn scan_header_params_list<'a>(
    s: &'a [u8],
    each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> bool,
) -> Option<usize> {
    scan_params(s, true, each)
}

#[inline(always)]
fn scan_params<'a>(
    s: &'a [u8],
    list: bool,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> bool,
) -> Option<usize> {
    let mut i = skip_lws(s, 0);
    while let Some(&b) = s.get(i) {
        match b {
            b';' => {}
            b',' if list => return Some(i),
            _ => return None,
        }
        let start = skip_lws(s, i + 1);
        let end = span(s, start, charset::token);
        let name = s.get(start..end)?;
        if name.is_empty() {
            return None;
        }
        let k = skip_lws(s, end);
        let value = if s.get(k) == Some(&b'=') {
            let v = skip_lws(s, k + 1);
            let v_end = if s.get(v) == Some(&b'"') {
                v + quoted_len(s.get(v..)?)?
            } else {
                span(s, v, charset::gen_value)
            };
            if v_end == v {
                return None;
            }
            i = skip_lws(s, v_end);
            Some(s.get(v..v_end)?)
        } else {
            i = k;
            None
        };
        if !each(name, value) {
            return None;
        }
    }
    Some(i)
}

/// Length of the quoted-string at the start of `s` (both quotes included),
/// or `None` when `s` does not start with a complete one. Backslash escapes
/// any byte; other control bytes than LWS are refused.
pub(crate) fn quoted_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    loop {
        i = span(s, i, charset::qdtext);
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                s.get(i + 1)?;
                i += 2;
            }
            // Another control byte.
            _ => return None,
        }
    }
}

/// `s` without its surrounding quotes when it is a quoted-string.
pub(crate) fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

/// Index of the first `sep` outside a quoted-string, or `s.len()`. The
/// reference that [`ParamsIter`](super::uri::ParamsIter) is tested against.
#[cfg(test)]
pub(crate) fn segment_end(s: &[u8], sep: u8) -> usize {
    let mut quoted = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            _ if b == sep && !quoted => return i,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// First index at or after `i` that is not LWS.
#[inline]
pub(crate) fn skip_lws(s: &[u8], i: usize) -> usize {
    span(s, i, charset::lws)
}

/// First index at or after `i` whose byte is not in `class` (`i` itself
/// when `i` is past the end).
///
/// Four bytes a step: the loop overhead is paid once per step, not once per
/// byte.
#[inline(always)]
pub(crate) fn span(s: &[u8], i: usize, class: impl Fn(u8) -> bool) -> usize {
    let Some(rest) = s.get(i..) else {
        return i;
    };
    let mut j = i;
    let mut quads = rest.chunks_exact(4);
    for q in &mut quads {
        if let [a, b, c, d] = *q {
            if !class(a) {
                return j;
            }
            if !class(b) {
                return j + 1;
            }
            if !class(c) {
                return j + 2;
            }
            if !class(d) {
                return j + 3;
            }
        }
        j += 4;
    }
    for &b in quads.remainder() {
        if !class(b) {
            return j;
        }
        j += 1;
    }
    j
}

/// Sixteen bytes of `p` (which holds at least sixteen) as one vector.
#[inline(always)]
fn load16(p: &[u8]) -> u8x16 {
    u8x16::new(
        p.get(..16)
            .and_then(|p| p.try_into().ok())
            .unwrap_or([0; 16]),
    )
}

/// The index of the first byte of `s` flagged in `hit`'s lane mask, sixteen
/// bytes a step; the last partial step rereads the final sixteen bytes and
/// ignores those seen already. `None` when `s` is shorter than sixteen
/// bytes (the caller scans it another way).
#[inline(always)]
fn first_hit16(s: &[u8], hit: impl Fn(u8x16) -> i32) -> Option<Option<usize>> {
    let last = s.len().checked_sub(16)?;
    let mut chunks = s.chunks_exact(16);
    let mut base = 0;
    for c in &mut chunks {
        let m = hit(load16(c)) as u32;
        if m != 0 {
            return Some(Some(base + m.trailing_zeros() as usize));
        }
        base += 16;
    }
    let r = chunks.remainder().len();
    if r == 0 {
        return Some(None);
    }
    let m = (hit(load16(s.get(last..).unwrap_or_default())) as u32) >> (16 - r);
    Some((m != 0).then(|| base + m.trailing_zeros() as usize))
}

/// First index at or after `i` whose byte is not a host byte (letter,
/// digit, `-` or `.`; see [`charset::host`]): sixteen bytes a step where
/// there are that many, else one at a time.
#[inline(always)]
pub(crate) fn host_span(s: &[u8], i: usize) -> usize {
    let rest = s.get(i..).unwrap_or_default();
    let range = |v: u8x16, lo: u8, hi: u8| v.max(u8x16::splat(lo)).min(u8x16::splat(hi)).cmp_eq(v);
    let other = |v: u8x16| {
        let host =
            range(v, b'0', b'9') | range(v | u8x16::splat(0x20), b'a', b'z') | range(v, b'-', b'.');
        host.move_mask() ^ 0xFFFF
    };
    match first_hit16(rest, other) {
        Some(found) => i + found.unwrap_or(rest.len()),
        None => span(s, i, charset::host),
    }
}

/// The first `needle` in `s`: sixteen bytes a step where there are that
/// many, else eight (the bytes equal to it zeroed by an XOR, the lowest
/// zero byte found without a branch per byte). Header values are short: a
/// call into memchr costs more than such a search.
#[inline(always)]
pub(crate) fn find(s: &[u8], needle: u8) -> Option<usize> {
    let n = u8x16::splat(needle);
    if let Some(found) = first_hit16(s, |v| v.cmp_eq(n).move_mask()) {
        return found;
    }
    let pattern = ONES * u64::from(needle);
    let mut words = s.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        let x = word(w) ^ pattern;
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == needle).map(|i| base + i)
}

/// The first `a` or `b` in `s` (see [`find`]).
#[inline(always)]
pub(crate) fn find2(s: &[u8], a: u8, b: u8) -> Option<usize> {
    let (va, vb) = (u8x16::splat(a), u8x16::splat(b));
    if let Some(found) = first_hit16(s, |v| (v.cmp_eq(va) | v.cmp_eq(vb)).move_mask()) {
        return found;
    }
    let (pa, pb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut words = s.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        let (xa, xb) = (word(w) ^ pa, word(w) ^ pb);
        let zero = (xa.wrapping_sub(ONES) & !xa | xb.wrapping_sub(ONES) & !xb) & HIGH;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&c| c == a || c == b)
        .map(|i| base + i)
}

/// The index of the first control byte in `s` (below 0x20: CR, LF, tab,
/// NUL and the rest), or `s.len()`: sixteen bytes a step, then eight (a
/// byte below 0x20 starts a borrow, so the lowest flagged byte of a word is
/// exact), then one at a time. DEL is not looked for: a C string does not
/// end at it, and a check for it cost the header line loop 2 %.
#[inline(always)]
pub(crate) fn first_control(s: &[u8]) -> usize {
    // Sixteen bytes a step (bytes at or below 0x1F equal their minimum
    // with 0x1F), then eight, then one at a time. Not `first_hit16`: `s` is
    // the rest of the message, so a partial last step is rare here, and
    // that helper's up-front length check and reread tail made the header
    // line loop slower when measured.
    let limit = u8x16::splat(0x1F);
    let mut chunks = s.chunks_exact(16);
    let mut base = 0;
    for c in &mut chunks {
        let v = load16(c);
        let m = v.min(limit).cmp_eq(v).move_mask();
        if m != 0 {
            return base + m.trailing_zeros() as usize;
        }
        base += 16;
    }
    let flag = |w: u64| w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let mut rest = chunks.remainder();
    if let (Some(w), Some(after)) = (rest.get(..8), rest.get(8..)) {
        let f = flag(word(w));
        if f != 0 {
            return base + (f.trailing_zeros() / 8) as usize;
        }
        base += 8;
        rest = after;
    }
    base + rest.iter().position(|&b| b < 0x20).unwrap_or(rest.len())
}

/// True when no byte of `s` is a control byte, a space or DEL (bytes of
/// 0x80 and up pass): sixteen bytes a step where there are that many, else
/// eight.
#[inline(always)]
pub(crate) fn printable(s: &[u8]) -> bool {
    let (space, del) = (u8x16::splat(b' '), u8x16::splat(0x7F));
    if let Some(found) = first_hit16(s, |v| (v.min(space).cmp_eq(v) | v.cmp_eq(del)).move_mask()) {
        return found.is_none();
    }
    // A byte below 0x21 starts a borrow; DEL xor 0x7F is a zero byte. Only
    // whether any byte is flagged matters, so borrows do no harm.
    let flag = |w: u64| {
        let del = w ^ (ONES * 0x7F);
        ((w.wrapping_sub(ONES * 0x21) & !w) | (del.wrapping_sub(ONES) & !del)) & HIGH
    };
    let mut words = s.chunks_exact(8);
    let mut any = 0;
    for w in &mut words {
        any |= flag(word(w));
    }
    any == 0 && words.remainder().iter().all(|&b| b > b' ' && b != 0x7F)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as a little-endian word (`w` is eight bytes long).
#[inline(always)]
fn word(w: &[u8]) -> u64 {
    u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
}

/// Decimal port, 0..=65535; leading zeros allowed.
pub(crate) fn parse_port(s: &[u8]) -> Option<u16> {
    if s.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
        if n > u32::from(u16::MAX) {
            return None;
        }
    }
    u16::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_agrees_with_a_byte_check() {
        // Lengths across the 8- and 16-byte steps, every byte value at
        // every position.
        for len in 0..40 {
            for at in 0..=len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    if let Some(x) = s.get_mut(at) {
                        *x = b;
                    }
                    let expected = s.iter().all(|&c| c > b' ' && c != 0x7F);
                    assert_eq!(printable(&s), expected, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn plain_cseqs_agree_with_the_general_parser() {
        let seeds: Vec<Vec<u8>> = [
            &b"314159 INVITE"[..],
            b"1 ACK",
            b"000000001 BYE",
            b"2147483647 X-EXT",
            b"123456789 OPTIONS",
            b"99 INVITE ",
            b"9999999999 INVITE",
            b"99999999999999999999 ACK",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        let mut fast = 0;
        for v in crate::sip::with_mutations(seeds, usize::MAX, 1, b" \t0 9A,") {
            if let Some(found) = CSeq::parse_plain(&v) {
                fast += 1;
                assert_eq!(CSeq::parse_general(&v), Ok(found), "{v:?}");
            }
        }
        assert!(fast > 50, "the one-pass reader took {fast} values");
    }

    #[test]
    fn host_span_agrees_with_the_class() {
        // Every byte value at every position of lengths across the
        // sixteen-byte steps, from three starting points.
        for len in 0usize..40 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    for from in [0, 1, 3] {
                        let want = span(&s, from, charset::host);
                        assert_eq!(host_span(&s, from), want, "{s:?} {from}");
                    }
                }
            }
        }
    }

    /// The word-at-a-time scan finds what a byte-at-a-time one does, at
    /// every length and position, for every byte value that matters.
    #[test]
    fn finds_agree_with_a_byte_scan() {
        // Every length around the 8- and 16-byte steps, one or two needles
        // at every position (the second after the first), so the vector
        // steps, the reread tail and the word steps are all crossed.
        for len in 0usize..50 {
            for at in 0..=len {
                for second in [None, Some(at + 1), Some(len.saturating_sub(1))] {
                    let mut s = vec![b'a'; len];
                    for i in [Some(at), second].into_iter().flatten() {
                        if let Some(x) = s.get_mut(i) {
                            *x = if i == at { b'>' } else { b';' };
                        }
                    }
                    let one = s.iter().position(|&c| c == b'>');
                    let two = s.iter().position(|&c| c == b'>' || c == b';');
                    assert_eq!(find(&s, b'>'), one, "{s:?}");
                    assert_eq!(find2(&s, b'>', b';'), two, "{s:?}");
                    assert_eq!(find2(&s, b';', b'>'), two, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn first_control_agrees_with_a_byte_scan() {
        for len in 0..40 {
            for at in 0..=len {
                for b in [
                    0u8, b'\t', b'\n', 0x0D, 0x0E, 0x1F, b' ', 0x7E, 0x7F, 0x80, 0xFF,
                ] {
                    let mut s = vec![b'a'; len];
                    if let Some(x) = s.get_mut(at) {
                        *x = b;
                    }
                    let control = |c: &u8| *c < 0x20;
                    let expected = s.iter().position(control).unwrap_or(len);
                    assert_eq!(first_control(&s), expected, "{s:?}");
                }
            }
        }
    }

    /// `input => expected` rows for a parser.
    macro_rules! table {
        ($parse:expr; $($input:expr => $expected:expr;)*) => {{
            $(
                let input: &[u8] = $input;
                assert_eq!($parse(input), $expected, "{}", String::from_utf8_lossy(input));
            )*
        }};
    }

    #[test]
    #[rustfmt::skip]
    fn cseq() {
        let ok = |seq, method| Ok(CSeq { seq, method });
        const E: Result<CSeq<'static>, Error> = Err(Error::Invalid("CSeq"));
        table! { CSeq::parse;
            b"4711 INVITE" => ok(4711, Method::Invite);
            b" 1\tACK " => ok(1, Method::Ack);
            // wsinv.dat: leading zeros, folded LWS before the method.
            b"0009\r\n  INVITE" => ok(9, Method::Invite);
            b"2147483647 BYE" => ok(2_147_483_647, Method::Bye);
            b"0 OPTIONS" => ok(0, Method::Options);
            // intmeth.dat
            b"139122385 !interesting-Method0123456789_*+`.%indeed'~" =>
                ok(139_122_385, Method::Extension(b"!interesting-Method0123456789_*+`.%indeed'~"));
            b"1 invite" => ok(1, Method::Extension(b"invite"));
            // scalar02.dat: far past 2^31.
            b"36893488147419103232 REGISTER" => E;
            b"2147483648 INVITE" => E;
            b"4294967296 INVITE" => E;
            b"INVITE" => E;
            b"1INVITE" => E;
            b"1" => E;
            b"1 " => E;
            b"-1 INVITE" => E;
            b"1 INVITE x" => E;
            b"1 IN:VITE" => E;
            b"" => E;
        }
    }

    #[test]
    #[rustfmt::skip]
    fn scalars() {
        const MF: Result<MaxForwards, Error> = Err(Error::Invalid("Max-Forwards"));
        table! { MaxForwards::parse;
            b"70" => Ok(MaxForwards(70));
            b"0068" => Ok(MaxForwards(68)); // wsinv.dat
            b"0" => Ok(MaxForwards(0));
            b"255" => Ok(MaxForwards(255)); // intmeth.dat
            b"256" => MF;
            b"300" => MF; // scalar02.dat
            b"99999999999999999999999" => MF;
            b"" => MF;
            b"7 0" => MF;
            b"+7" => MF;
        }
        const CL: Result<u32, Error> = Err(Error::Invalid("Content-Length"));
        table! { parse_content_length;
            b"150" => Ok(150);
            b" 0 " => Ok(0);
            b"0000000000000000150" => Ok(150);
            b"4294967295" => Ok(u32::MAX);
            b"4294967296" => CL;
            b"" => CL;
            b"12a" => CL;
            b"-1" => CL;
        }
        const EX: Result<Expires, Error> = Err(Error::Invalid("Expires"));
        table! { Expires::parse;
            b"3600" => Ok(Expires(3600));
            b"0" => Ok(Expires(0));
            b"4294967295" => Ok(Expires(u32::MAX));
            b"4294967296" => Ok(Expires(u32::MAX));
            // scalar02.dat: overlarge values read as 2^32-1.
            b"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" => Ok(Expires(u32::MAX));
            b"" => EX;
            b"1 h" => EX;
            b"Thu, 01 Dec 1994 16:00:00 GMT" => EX;
        }
    }

    #[test]
    #[rustfmt::skip]
    fn call_ids() {
        const E: Result<&[u8], Error> = Err(Error::Invalid("Call-ID"));
        table! { call_id;
            b"a84b4c76e66710@pc33.atlanta.com" => Ok(&b"a84b4c76e66710@pc33.atlanta.com"[..]);
            b"  esc01.239409asdfakjkn23onasd0-3234 " => Ok(&b"esc01.239409asdfakjkn23onasd0-3234"[..]);
            // intmeth.dat
            b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{" => Ok(&b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"[..]);
            b"" => E;
            b"a b" => E;
            b"a\r\n b" => E;
            b"a@" => E;
            b"@b" => E;
            b"a@b@c" => E;
            b"a;b" => E;
            b"a,b" => E;
            b"\xc3\xa9" => E;
        }
    }

    #[test]
    fn option_tags() {
        let tags: Vec<&[u8]> = OptionTags::new(b" 100rel ,\r\n timer,,foo ").collect();
        assert_eq!(tags, vec![&b"100rel"[..], b"timer", b"foo"]);
        assert_eq!(OptionTags::new(b" , ").count(), 0);
        assert_eq!(OptionTags::new(b"").count(), 0);
    }

    #[test]
    fn header_param_scanner() {
        type Row<'a> = (&'a [u8], &'a [(&'a [u8], Option<&'a [u8]>)]);
        let ok: &[Row<'_>] = &[
            (b"", &[]),
            (b" ;a", &[(b"a", None)]),
            (
                b";a=b ; c = \"d,;\\\"\" ;e=[::1]",
                &[
                    (b"a", Some(b"b")),
                    (b"c", Some(b"\"d,;\\\"\"")),
                    (b"e", Some(b"[::1]")),
                ],
            ),
            (b";\r\n tag\r\n =\r\n x", &[(b"tag", Some(b"x"))]),
        ];
        for (input, expected) in ok {
            let mut got = Vec::new();
            let r = scan_header_params(input, |n, v| {
                got.push((n, v));
                true
            });
            assert_eq!(r, Some(()), "{input:?}");
            assert_eq!(&got[..], *expected);
        }
        let bad: &[&[u8]] = &[
            b"a",
            b";",
            b";a=",
            b"; =b",
            b";a b",
            b";a=\"x",
            b";a=b c",
            b";a=\"\x01\"",
            b";a,b",
        ];
        for input in bad {
            assert_eq!(scan_header_params(input, |_, _| true), None, "{input:?}");
        }
        assert_eq!(scan_header_params(b";a;b", |n, _| n != b"b"), None);
    }

    #[test]
    fn small_helpers() {
        assert_eq!(quoted_len(b"\"\""), Some(2));
        assert_eq!(quoted_len(b"\"a\\\"b\" rest"), Some(6));
        assert_eq!(quoted_len(b"\"a\\"), None);
        assert_eq!(quoted_len(b"a"), None);
        assert_eq!(quoted_len(b"\"\xc3\xa9\""), Some(4));
        assert_eq!(unquote(b"\"x\""), b"x");
        assert_eq!(unquote(b"\""), b"\"");
        assert_eq!(segment_end(b"a\";\";b", b';'), 4);
        assert_eq!(parse_port(b"0"), Some(0));
        assert_eq!(parse_port(b"000000065535"), Some(65535));
        assert_eq!(parse_port(b"99999999999999999999"), None);
        assert_eq!(parse_port(b""), None);
    }
}
