//! Message framing: the start line, header lines (with LWS folding and
//! compact names) and Content-Length framing of the body, for one whole
//! datagram or one framed stream message. No I/O.
//!
//! [`parse`] indexes the header lines and stops there: typed values (Via,
//! CSeq, URIs, ...) are parsed lazily by the accessors on
//! [`Headers`](super::Headers), so a proxy pays only for what it reads.

use memchr::memchr;
use nom::{
    bytes::complete::{tag, take_while1, take_while_m_n},
    character::complete::char as ch,
    IResult, Parser,
};

use super::{
    charset,
    header_name::HeaderName,
    message::{Headers, Line, Message, Method, Request, Response, MAX_HEAD_LEN},
    values::{first_control, printable, span},
    Error,
};

/// Parses one complete SIP message (a UDP datagram, or a message already
/// framed from a stream).
///
/// Leading CR LF pairs (keep-alives, RFC 5626 §3.5.1) are skipped. The
/// returned view's `raw` ends where the declared body ends: bytes after it
/// are ignored. A Content-Length beyond the input is
/// [`Error::BodyTruncated`]; without a Content-Length the body is the rest
/// of the input.
// Out of line: inlined into the proxy's one large request function, it
// cost that function more instructions than the call saves.
#[inline(never)]
pub fn parse(input: &[u8]) -> Result<Message<'_>, Error> {
    // The header list is large (inline storage): the `Result` is built in
    // this local, by assignments to it only (a write through a reference
    // would build a temporary and copy it), and the header lines are then
    // added where it lies. Returning it still copies it once (912 bytes)
    // into the caller's slot: rustc does not build it there.
    let mut res = start_line(input);
    let filled = match &mut res {
        Ok(Message::Request(r)) => fill(r.headers.src(), &mut r.headers, &mut r.body, &mut r.raw),
        Ok(Message::Response(r)) => fill(r.headers.src(), &mut r.headers, &mut r.body, &mut r.raw),
        Err(_) => Ok(()),
    };
    if let Err(e) = filled {
        res = Err(e);
    }
    res
}

/// The message with its start line read and no header lines yet: its
/// headers' source is the message without leading CR LF pairs, and its
/// `raw` (until [`fill`] sets it) the start line with its terminator.
#[inline(always)]
fn start_line(input: &[u8]) -> Result<Message<'_>, Error> {
    let mut skip = 0;
    while input.get(skip..skip + 2) == Some(b"\r\n") {
        skip += 2;
    }
    let msg = input.get(skip..).unwrap_or_default();
    let (line_len, after_start) = line_end(msg, 0).map_err(|e| match e {
        Error::HeaderLine | Error::ControlByte => Error::StartLine("Start-Line"),
        e => e,
    })?;
    let line = &msg[..line_len];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let (code, reason) = status_line(line)?;
        Ok(Message::Response(Response {
            code,
            reason,
            headers: Headers::new(msg),
            body: &[],
            raw: &msg[..after_start],
        }))
    } else {
        let (method, uri_raw) = request_line(line)?;
        Ok(Message::Request(Request {
            method,
            uri_raw,
            headers: Headers::new(msg),
            body: &[],
            raw: &msg[..after_start],
        }))
    }
}

/// Reads the header lines and frames the body of a message whose start
/// line [`start_line`] read (`msg` is its headers' source).
#[inline(always)]
fn fill<'a>(
    msg: &'a [u8],
    headers: &mut Headers<'a>,
    body: &mut &'a [u8],
    raw: &mut &'a [u8],
) -> Result<(), Error> {
    (*body, *raw) = head_and_body(msg, raw.len(), |line| headers.push_line(line))?;
    Ok(())
}

/// A request read as [`parse`] reads it, for the proxy's one-pass path:
/// each header line goes to `push` (which may refuse it) instead of into a
/// [`Headers`] list. `None` unless [`parse`] would return a request whose
/// start line is canonical (a standard method, `SIP/2.0`, no leading CR LF)
/// and `push` took every line: anything else is for [`parse`].
#[inline(always)]
pub(crate) fn scan_request<'a>(
    data: &'a [u8],
    push: impl FnMut(Line) -> Result<(), Error>,
) -> Option<ScannedRequest<'a>> {
    let (line_len, after_start) = line_end(data, 0).ok()?;
    let (method, uri_raw) = canonical_request_line(data.get(..line_len)?)?;
    let (_, raw) = head_and_body(data, after_start, push).ok()?;
    Some(ScannedRequest {
        method,
        uri_raw,
        raw,
    })
}

/// What [`scan_request`] read besides the header lines.
pub(crate) struct ScannedRequest<'a> {
    /// The method.
    pub(crate) method: Method<'static>,
    /// The Request-URI as received.
    pub(crate) uri_raw: &'a [u8],
    /// The message up to the end of its body, as [`Request::raw`].
    pub(crate) raw: &'a [u8],
}

/// Finds the end of one message at the front of a byte stream (TCP): returns
/// `Ok(Some(len))` when a whole message of `len` bytes is buffered,
/// `Ok(None)` when more bytes are needed, and an error when the head is
/// larger than `max` or the Content-Length is missing, malformed or given
/// twice with different values (RFC 3261 §18.3: mandatory on streams).
/// Leading CR LF keep-alives count towards `len` (the caller consumes them
/// with the message).
pub fn frame_stream(buf: &[u8], max: usize) -> Result<Option<usize>, Error> {
    let mut skip = 0;
    while buf.len() >= skip + 2 && &buf[skip..skip + 2] == b"\r\n" {
        skip += 2;
    }
    let msg = &buf[skip..];
    let Some(head_end) = find_head_end(msg) else {
        if msg.len() > max {
            return Err(Error::TooLarge);
        }
        return Ok(None);
    };
    // Scan header lines only for Content-Length; the full parse comes later.
    let mut cl: Option<usize> = None;
    let mut pos = memchr(b'\n', msg).map_or(head_end, |i| i + 1);
    while pos < head_end {
        let end = memchr(b'\n', &msg[pos..head_end]).map_or(head_end, |i| pos + i + 1);
        let line = &msg[pos..end];
        if let Some(colon) = memchr(b':', line) {
            let name = charset::trim(&line[..colon]);
            if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                let v = charset::trim(&line[colon + 1..]);
                let n = charset::parse_u32(v).ok_or(Error::Invalid("Content-Length"))?;
                // Two different lengths leave the message's end ambiguous:
                // `parse` refuses them too, and the stream cannot go on.
                if cl.is_some_and(|c| c != n as usize) {
                    return Err(Error::Duplicate("Content-Length"));
                }
                cl = Some(n as usize);
            }
        }
        pos = end;
    }
    let body = cl.ok_or(Error::Missing("Content-Length"))?;
    let total = skip + head_end + body;
    if total > max + skip {
        return Err(Error::TooLarge);
    }
    Ok(if buf.len() >= total {
        Some(total)
    } else {
        None
    })
}

/// Best-effort header lines of a message that [`parse`] rejected: every
/// well-formed header line after the first line, up to the first line that
/// is not one (or the end of the header section). A proxy uses it to answer
/// a malformed request with its Via, From, To, Call-ID and CSeq.
pub fn scan_headers(input: &[u8]) -> Headers<'_> {
    let mut headers = Headers::new(input);
    // Stops at the first line that is not a well-formed header line, and at
    // a bare CR, which must never be copied into a reply.
    let Ok((_, mut pos)) = line_end(input, 0) else {
        return headers;
    };
    while let Ok(Some(line)) = next_line(input, pos) {
        pos = usize::from(line.end);
        if headers.push_line(line).is_err() {
            break;
        }
    }
    headers
}

/// Offset just past the empty line that ends the header section.
fn find_head_end(msg: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr(b'\n', &msg[from..]) {
        let nl = from + i;
        let next = nl + 1;
        if msg.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if msg.get(next) == Some(&b'\r') && msg.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        from = next;
    }
    None
}

/// `Request-Line = Method SP Request-URI SP SIP-Version CRLF`.
///
/// Trailing white space after the version is tolerated (RFC 4475 §3.1.2.10
/// allows a liberal accept); several spaces between the elements are not
/// (§3.1.2.9), and white space inside the URI is [`Error::RequestUri`]
/// (§3.1.2.8).
fn request_line(line: &[u8]) -> Result<(Method<'_>, &[u8]), Error> {
    match canonical_request_line(line) {
        Some(known) => Ok(known),
        None => request_line_general(line),
    }
}

/// [`request_line`] for any line.
fn request_line_general(line: &[u8]) -> Result<(Method<'_>, &[u8]), Error> {
    let line = trim_end_ws(line);
    let (rest, method) = method_sp(line).map_err(|_| Error::StartLine("Method"))?;
    // The version is the last space-separated element.
    let last_sp = line
        .iter()
        .rposition(|&b| b == b' ')
        .filter(|&i| i >= line.len() - rest.len())
        .ok_or(Error::StartLine("Request-Line"))?;
    let version = &line[last_sp + 1..];
    let uri = &rest[..rest.len() - (line.len() - last_sp)];
    check_version(version)?;
    if uri.is_empty() || uri[0] == b' ' || uri[uri.len() - 1] == b' ' {
        return Err(Error::StartLine("Request-Line"));
    }
    if uri.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(Error::RequestUri);
    }
    if !has_scheme(uri) {
        return Err(Error::RequestUri);
    }
    Ok((method, uri))
}

/// `METHOD SP Request-URI SP SIP/2.0` with a standard method, nothing
/// after the version and a URI of printable bytes that starts with
/// `sip:`, `sips:` or `tel:`: what [`request_line`] finds for such a line,
/// without its scans. `None` sends the line the general way.
#[inline(always)]
fn canonical_request_line(line: &[u8]) -> Option<(Method<'static>, &[u8])> {
    let (method, after) = canonical_method(line)?;
    let version_at = line.len().checked_sub(8)?;
    if line.get(version_at..)? != b" SIP/2.0" {
        return None;
    }
    let uri = line.get(after..version_at)?;
    let bad = !printable(uri);
    let scheme = match uri {
        [a, b, c, b':', ..] => {
            charset::eq_letters(&[*a, *b, *c], b"sip") || charset::eq_letters(&[*a, *b, *c], b"tel")
        }
        [a, b, c, d, b':', ..] => charset::eq_letters(&[*a, *b, *c, *d], b"sips"),
        _ => false,
    };
    (!bad && scheme && uri.len() > 4).then_some((method, uri))
}

/// The standard method that `line` starts with, followed by a space, and
/// the index after that space.
#[inline(always)]
fn canonical_method(line: &[u8]) -> Option<(Method<'static>, usize)> {
    macro_rules! methods {
        ($($lit:literal => $v:ident),* $(,)?) => {{
            $(if line.starts_with($lit) {
                return Some((Method::$v, $lit.len()));
            })*
            None
        }};
    }
    match line.first()? {
        b'I' => methods!(b"INVITE " => Invite, b"INFO " => Info),
        b'A' => methods!(b"ACK " => Ack),
        b'B' => methods!(b"BYE " => Bye),
        b'C' => methods!(b"CANCEL " => Cancel),
        b'O' => methods!(b"OPTIONS " => Options),
        b'R' => methods!(b"REGISTER " => Register, b"REFER " => Refer),
        b'P' => methods!(b"PRACK " => Prack, b"PUBLISH " => Publish),
        b'S' => methods!(b"SUBSCRIBE " => Subscribe),
        b'N' => methods!(b"NOTIFY " => Notify),
        b'M' => methods!(b"MESSAGE " => Message),
        b'U' => methods!(b"UPDATE " => Update),
        _ => None,
    }
}

fn method_sp(input: &[u8]) -> IResult<&[u8], Method<'_>> {
    let (rest, m) = take_while1(charset::token)(input)?;
    let (rest, _) = ch(' ').parse(rest)?;
    // take_while1 guarantees a token, so from_bytes is Some.
    match Method::from_bytes(m) {
        Some(method) => Ok((rest, method)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// `scheme ":"` with `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn has_scheme(uri: &[u8]) -> bool {
    let Some(colon) = memchr(b':', uri) else {
        return false;
    };
    let scheme = &uri[..colon];
    !scheme.is_empty()
        && scheme[0].is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is accepted.
fn check_version(v: &[u8]) -> Result<(), Error> {
    if v.len() == 7 && v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let looks_like_version = version_syntax(v).is_ok_and(|(rest, _)| rest.is_empty());
    if looks_like_version {
        Err(Error::Version)
    } else {
        Err(Error::StartLine("Request-Line"))
    }
}

fn version_syntax(v: &[u8]) -> IResult<&[u8], ()> {
    let digit = |b: u8| b.is_ascii_digit();
    let (rest, _) = (
        nom::bytes::complete::tag_no_case("SIP/"),
        take_while1(digit),
        ch('.'),
        take_while1(digit),
    )
        .parse(v)?;
    Ok((rest, ()))
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`.
fn status_line(line: &[u8]) -> Result<(u16, &[u8]), Error> {
    let (rest, version) = take_while1::<_, _, nom::error::Error<&[u8]>>(|b| b != b' ')(line)
        .map_err(|_| Error::StartLine("Status-Line"))?;
    if !(version.len() == 7 && version.eq_ignore_ascii_case(b"SIP/2.0")) {
        return Err(
            if version_syntax(version).is_ok_and(|(r, _)| r.is_empty()) {
                Error::Version
            } else {
                Error::StartLine("Status-Line")
            },
        );
    }
    let (rest, code) = status_code(rest).map_err(|_| Error::StatusCode)?;
    // The reason phrase may be empty, and the SP before it is sometimes
    // missing in the wild when it is.
    let reason = match rest {
        [] => rest,
        [b' ', reason @ ..] => reason,
        _ => return Err(Error::StatusCode),
    };
    if reason.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::StartLine("Reason-Phrase"));
    }
    Ok((code, reason))
}

fn status_code(input: &[u8]) -> IResult<&[u8], u16> {
    let (rest, (_, digits)) =
        (tag(" "), take_while_m_n(3, 3, |b: u8| b.is_ascii_digit())).parse(input)?;
    // A fourth digit means an overlarge code (RFC 4475 §3.1.2.19).
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        )));
    }
    let code = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((rest, code))
}

fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Header lines from `pos` to the empty line, then the body.
#[inline(always)]
fn head_and_body(
    msg: &[u8],
    mut pos: usize,
    mut push: impl FnMut(Line) -> Result<(), Error>,
) -> Result<(&[u8], &[u8]), Error> {
    let mut content_length: Option<u32> = None;
    // Lines read the usual way lie inside `fast`, so their offsets fit 16
    // bits; a line past it goes the general way (and is too large).
    let fast = msg.get(..MAX_HEAD_LEN).unwrap_or(msg);
    loop {
        match canonical_line(fast, msg, pos) {
            Canonical::Line(c) => {
                let value_start = pos + c.name_len + 2;
                if c.slot == CONTENT_LENGTH {
                    let value = fast.get(value_start..c.value_end).unwrap_or_default();
                    content_length_line(value, &mut content_length)?;
                }
                // Every offset is at most `c.end`, inside `fast`.
                push(Line {
                    start: pos as u16,
                    end: c.end as u16,
                    name_end: (pos + c.name_len) as u16,
                    value_start: value_start as u16,
                    value_end: c.value_end as u16,
                    slot: c.slot,
                })?;
                pos = c.end;
            }
            Canonical::Empty(next) => {
                pos = next;
                break;
            }
            Canonical::Other => match next_line(msg, pos)? {
                Some(line) => {
                    if line.slot == CONTENT_LENGTH {
                        let value = msg
                            .get(usize::from(line.value_start)..usize::from(line.value_end))
                            .unwrap_or_default();
                        content_length_line(value, &mut content_length)?;
                    }
                    pos = usize::from(line.end);
                    push(line)?;
                }
                None => {
                    // The empty line: the head ends after it.
                    pos = line_end(msg, pos)?.1;
                    break;
                }
            },
        }
    }
    let available = msg.len() - pos;
    let body_len = match content_length {
        Some(n) if n as usize > available => return Err(Error::BodyTruncated),
        Some(n) => n as usize,
        None => available,
    };
    let end = pos + body_len;
    Ok((&msg[pos..end], &msg[..end]))
}

/// A Content-Length line's value: a number, equal to any earlier one.
#[inline(never)]
fn content_length_line(value: &[u8], seen: &mut Option<u32>) -> Result<(), Error> {
    let n = charset::parse_u32(value).ok_or(Error::Invalid("Content-Length"))?;
    match *seen {
        Some(prev) if prev != n => Err(Error::Duplicate("Content-Length")),
        _ => {
            *seen = Some(n);
            Ok(())
        }
    }
}

/// What [`canonical_line`] found at a line start.
enum Canonical {
    /// A header line.
    Line(CanonicalLine),
    /// The empty line; the head ends at this offset.
    Empty(usize),
    /// Something else: [`next_line`] reads it.
    Other,
}

/// A header line written the usual way: `name: value` CR LF (or LF).
struct CanonicalLine {
    /// Length of the name (the colon follows it, then one space).
    name_len: usize,
    /// Offset where the value ends (its line terminator).
    value_end: usize,
    /// Offset just past the line terminator.
    end: usize,
    /// The name's [`Line::slot`].
    slot: u8,
}

/// The header line at `pos` of `fast` (a prefix of `msg`) when it is
/// written the usual way: a known name spelled canonically, `: `, a value
/// with no white space at either end, no control byte inside, CR LF (or
/// LF), and no folding. What [`next_line`] finds for such a line, in one
/// pass without its general steps; the value is scanned sixteen bytes a step.
#[inline(always)]
fn canonical_line(fast: &[u8], msg: &[u8], pos: usize) -> Canonical {
    let Some(line) = fast.get(pos..) else {
        return Canonical::Other;
    };
    let (slot, name_len) = match line {
        [b'\r', b'\n', ..] => return Canonical::Empty(pos + 2),
        _ => match canonical_name(line, true) {
            Some(found) => found,
            None => return Canonical::Other,
        },
    };
    // `name: ` matched; the value's first byte is not white space.
    match line.get(name_len + 2) {
        Some(&first) if first > b' ' => {}
        _ => return Canonical::Other,
    }
    // The first control byte after the value's first byte.
    let from = pos + name_len + 3;
    let ctl = from + first_control(fast.get(from..).unwrap_or_default());
    let end = if fast.get(ctl..ctl + 2) == Some(b"\r\n") {
        ctl + 2
    } else if fast.get(ctl) == Some(&b'\n') {
        ctl + 1
    } else {
        return Canonical::Other;
    };
    // Folded (the next line may lie past `fast`), or a value ending in
    // white space (bytes before `ctl` are not control bytes, so only a
    // space can be).
    if matches!(msg.get(end), Some(b' ' | b'\t')) || fast.get(ctl - 1) == Some(&b' ') {
        return Canonical::Other;
    }
    Canonical::Line(CanonicalLine {
        name_len,
        value_end: ctl,
        end,
        slot,
    })
}

/// The header line starting at `pos` (with its folded continuation lines),
/// or `None` for the empty line that ends the head. The line's bytes are
/// read once: the name, the colon, then the search for the line end from
/// the value on. Errors are those the line-by-line reading finds first: a
/// line without a terminator is [`Error::Incomplete`] even when its name is
/// also malformed.
#[inline(never)]
fn next_line(msg: &[u8], pos: usize) -> Result<Option<Line>, Error> {
    let line = msg.get(pos..).unwrap_or_default();
    let (slot, name_len) = match line {
        [b'\n', ..] | [b'\r', b'\n', ..] => return Ok(None),
        [b' ' | b'\t', ..] | [] | [b'\r', ..] => return Err(bad_line(msg, pos, false)),
        _ => match canonical_name(line, false) {
            // A known name spelled canonically: a token, already classified.
            Some(known) => known,
            None => {
                let n = span(line, 0, charset::token);
                (HeaderName::from_bytes(&line[..n]).slot_u8(), n)
            }
        },
    };
    let mut colon = name_len;
    if line.get(colon) != Some(&b':') {
        colon = span(line, colon, |b| b == b' ' || b == b'\t');
    }
    if name_len == 0 || line.get(colon) != Some(&b':') {
        return Err(bad_line(msg, pos, true));
    }
    let value_from = pos + colon + 1;
    // No CR or LF before the colon (the name is a token, then only SP and
    // HT): the line ends after it.
    let (mut content_end, mut end) = line_end(msg, value_from)?;
    while matches!(msg.get(end), Some(b' ' | b'\t')) {
        (content_end, end) = line_end(msg, end)?;
    }
    if end > MAX_HEAD_LEN {
        return Err(Error::TooLarge);
    }
    let rest = msg.get(value_from..content_end).unwrap_or_default();
    let (from, to) = match rest {
        // The usual `Name: value` with nothing to trim at the end.
        [b' ', first, .., last] if !charset::lws(*first) && !charset::lws(*last) => (1, rest.len()),
        _ => {
            let v = charset::trim(rest);
            let from = super::offset_in(rest, v).unwrap_or(0);
            (from, from + v.len())
        }
    };
    // Every offset is at most `end`, checked above.
    Ok(Some(Line {
        start: pos as u16,
        end: end as u16,
        name_end: (pos + name_len) as u16,
        value_start: (value_from + from) as u16,
        value_end: (value_from + to) as u16,
        slot,
    }))
}

/// The error of a header line at `pos` that is not `name: value`: the
/// framing error of the line (and, with `folded`, of its continuation
/// lines) when it has one, else [`Error::HeaderLine`].
#[cold]
fn bad_line(msg: &[u8], pos: usize, folded: bool) -> Error {
    let mut framed = line_end(msg, pos);
    while let (true, Ok((_, end))) = (folded, framed) {
        if !matches!(msg.get(end), Some(b' ' | b'\t')) {
            break;
        }
        framed = line_end(msg, end);
    }
    match framed {
        Err(e) => e,
        Ok(_) => Error::HeaderLine,
    }
}

/// [`Line::slot`] of Content-Length.
const CONTENT_LENGTH: u8 = HeaderName::ContentLength.slot_u8();

/// The end of the line starting at `from` and the offset just past its
/// terminator (CR LF, or a lone LF, which we accept). A CR that does not
/// begin a CR LF is [`Error::HeaderLine`]: the next hop could read it as a
/// line end and so see a header we did not. Another control byte (NUL and
/// the rest below 0x20 but tab) is [`Error::ControlByte`] unless a
/// backslash escapes it. No terminator is [`Error::Incomplete`].
#[inline(always)]
fn line_end(s: &[u8], from: usize) -> Result<(usize, usize), Error> {
    let mut i = from;
    loop {
        i += first_control(s.get(i..).unwrap_or_default());
        match s.get(i) {
            None => return Err(Error::Incomplete),
            Some(b'\n') => return Ok((i, i + 1)),
            Some(b'\r') => return cr_lf(s, i),
            // A tab or an escaped control byte: part of the line.
            Some(_) => i = other_control(s, i)?,
        }
    }
}

/// A control byte at `i` that is not a line end: a tab, or one escaped by a
/// backslash, as a quoted-pair may hold it (RFC 3261 §25.1; RFC 4475
/// §3.1.1.2 has NUL and BEL so), is part of the line and the scan goes on
/// after it; any other is [`Error::ControlByte`]. Out of line: canonical
/// header lines never get here, and the line loop stays as compact as it
/// was without this check.
#[cold]
#[inline(never)]
fn other_control(s: &[u8], i: usize) -> Result<usize, Error> {
    let escaped = i.checked_sub(1).and_then(|j| s.get(j)) == Some(&b'\\');
    if s.get(i) == Some(&b'\t') || escaped {
        Ok(i + 1)
    } else {
        Err(Error::ControlByte)
    }
}

/// A CR at `i`: the line ends there when LF follows.
#[inline(always)]
fn cr_lf(s: &[u8], i: usize) -> Result<(usize, usize), Error> {
    match s.get(i + 1) {
        Some(b'\n') => Ok((i, i + 2)),
        None => Err(Error::Incomplete),
        Some(_) => Err(Error::HeaderLine),
    }
}

/// The known header name that `line` starts with, spelled exactly as
/// canonical (how most senders write them) and followed by `:` or white
/// space, with its length: what the token scan and
/// [`HeaderName::from_bytes`] would find, without scanning byte by byte.
/// `None` sends the line the general way. The names, their lengths and
/// slots come from the table in `header_name`; the dispatch on their bytes
/// is written out here, and a test checks it against that table.
#[inline(always)]
fn canonical_name(line: &[u8], colon_space: bool) -> Option<(u8, usize)> {
    macro_rules! names {
        ($($v:ident),* $(,)?) => {{
            $(if is_name(line, const { HeaderName::$v.static_bytes() }, colon_space) {
                return Some((
                    const { HeaderName::$v.slot_u8() },
                    const { HeaderName::$v.static_bytes().len() },
                ));
            })*
            None
        }};
    }
    match line.first()? {
        b'V' => names!(Via),
        b'F' => names!(From),
        b'T' => names!(To),
        b'M' => names!(MaxForwards),
        // Six names start with C; the second byte, and for `Content-`
        // the ninth, narrow them to one candidate.
        b'C' => match (line.get(1), line.get(8)) {
            (Some(b'a'), _) => names!(CallId),
            (Some(b'S'), _) => names!(CSeq),
            (Some(b'o'), Some(b'L')) => names!(ContentLength),
            (Some(b'o'), Some(b'T')) => names!(ContentType),
            (Some(b'o'), Some(b'E')) => names!(ContentEncoding),
            (Some(b'o'), _) => names!(Contact),
            _ => None,
        },
        b'R' => names!(
            Route,
            RecordRoute,
            Require,
            ReferTo,
            ReferredBy,
            RejectContact,
            RequestDisposition,
        ),
        b'A' => names!(Allow, Authorization, AllowEvents, AcceptContact,),
        b'S' => names!(Supported, Server, Subject, SessionExpires,),
        b'U' => names!(UserAgent, Unsupported),
        b'P' => names!(ProxyRequire, ProxyAuthorization, ProxyAuthenticate,),
        b'E' => names!(Expires, Event),
        b'I' => names!(Identity),
        b'W' => names!(WwwAuthenticate),
        _ => None,
    }
}

/// `line` starts with `name` and then `:` or white space (so `name` is the
/// whole field name); with `colon_space`, `: ` exactly.
#[inline(always)]
fn is_name(line: &[u8], name: &[u8], colon_space: bool) -> bool {
    line.get(..name.len()) == Some(name)
        && if colon_space {
            line.get(name.len()..name.len() + 2) == Some(b": ")
        } else {
            matches!(line.get(name.len()), Some(b':' | b' ' | b'\t'))
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::header_name::OTHER;

    fn req(input: &[u8]) -> Request<'_> {
        match parse(input) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn canonical_names_agree_with_the_token_scan() {
        let names: &[&[u8]] = &[
            b"Via",
            b"From",
            b"To",
            b"Call-ID",
            b"CSeq",
            b"Max-Forwards",
            b"Route",
            b"Record-Route",
            b"Contact",
            b"Content-Length",
            b"Content-Type",
            b"Content-Encoding",
            b"Require",
            b"Proxy-Require",
            b"Supported",
            b"Unsupported",
            b"Allow",
            b"Authorization",
            b"Proxy-Authorization",
            b"WWW-Authenticate",
            b"Proxy-Authenticate",
            b"Expires",
            b"User-Agent",
            b"Server",
            b"Subject",
            b"Event",
            b"Refer-To",
            b"Referred-By",
            b"Session-Expires",
            b"Accept-Contact",
            b"Reject-Contact",
            b"Request-Disposition",
            b"Identity",
            b"Allow-Events",
            b"Vias",
            b"Allow-Event",
            b"Rout",
            b"To-X",
            b"X",
            b"v",
            b"",
        ];
        let mut line = Vec::new();
        for name in names {
            for tail in [
                &b": x"[..],
                b" : x",
                b"\t:x",
                b":",
                b"-x: y",
                b"x:y",
                b"",
                b"\r",
            ] {
                line.clear();
                line.extend_from_slice(name);
                line.extend_from_slice(tail);
                let mut i = 0;
                while i < line.len() && charset::token(line[i]) {
                    i += 1;
                }
                if let Some((n, len)) = canonical_name(&line, false) {
                    assert_eq!(
                        (n, len),
                        (HeaderName::from_bytes(&line[..i]).slot_u8(), i),
                        "{line:?}"
                    );
                    assert_ne!(n, OTHER);
                }
                // With `: ` required: the same name, only when `: ` follows.
                let strict = canonical_name(&line, true);
                let colon_space = line.get(i..i + 2) == Some(b": ");
                assert_eq!(
                    strict,
                    canonical_name(&line, false).filter(|_| colon_space),
                    "{line:?}"
                );
                let general = (!name.is_empty() && tail.starts_with(b":")).then_some(*name);
                if general.is_some_and(|n| n.len() > 1) {
                    assert!(
                        canonical_name(&line, false).is_some()
                            || matches!(HeaderName::from_bytes(name), HeaderName::Other(_)),
                        "{line:?}"
                    );
                }
            }
        }
    }

    /// The parser's copies of the header-name table: `canonical_name`
    /// takes every name in the table spelled as there, with its slot and
    /// length, and no other spelling (case, compact form) for another name;
    /// the whole parse files every spelling under its name; and
    /// [`CONTENT_LENGTH`] is Content-Length's slot.
    #[test]
    fn canonical_name_and_parse_agree_with_the_table() {
        use crate::sip::header_name::{spellings, COMPACT, KNOWN};
        assert_eq!(CONTENT_LENGTH, HeaderName::ContentLength.slot_u8());
        for (slot, known) in KNOWN.into_iter().enumerate() {
            let name = known.as_static();
            let found = Some((known.slot_u8(), name.len()));
            for tail in [&b": v"[..], b":v", b" : v", b"\t: v"] {
                let line = [name.as_bytes(), tail].concat();
                assert_eq!(canonical_name(&line, false), found, "{line:?}");
                let strict = found.filter(|_| tail.starts_with(b": "));
                assert_eq!(canonical_name(&line, true), strict, "{line:?}");
            }
            let compact = COMPACT[slot].map(|c| [vec![c], vec![c.to_ascii_uppercase()]]);
            for s in spellings(name)
                .into_iter()
                .chain(compact.into_iter().flatten())
            {
                let line = [&s[..], b": 0"].concat();
                let seen = canonical_name(&line, false);
                assert!(seen.is_none() || seen == found, "{line:?}");
                let m = [&b"OPTIONS sip:x SIP/2.0\r\n"[..], &line, b"\r\n\r\n"].concat();
                let r = req(&m);
                let h = r.headers.iter().next().unwrap();
                assert_eq!((h.name, h.value), (known, &b"0"[..]), "{m:?}");
                assert_eq!(r.headers.first(known).map(|h| h.start), Some(h.start));
            }
        }
    }

    macro_rules! rejects {
        ($($name:ident: $input:expr => $err:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(parse($input).map(|_| ()), Err($err));
            }
        )*};
    }

    const MIN: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 4\r\n\r\nbodyJUNK";

    #[test]
    fn request_views_borrow_input() {
        let r = req(MIN);
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.uri_raw, b"sip:a@b");
        assert_eq!(r.headers.len(), 2);
        let via = r.headers.first(HeaderName::Via).unwrap();
        assert_eq!(via.value, b"SIP/2.0/UDP h;branch=z9hG4bK1");
        assert_eq!(
            &MIN[via.start as usize..via.end as usize],
            b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        );
        assert_eq!(r.body, b"body");
        assert_eq!(r.raw, &MIN[..MIN.len() - 4]);
        assert!(offset_ok(MIN, r.body));
    }

    fn offset_ok(base: &[u8], part: &[u8]) -> bool {
        super::super::offset_in(base, part).is_some()
    }

    #[test]
    fn response_and_folding() {
        let m = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKx,\r\n SIP/2.0/UDP b\r\nCall-ID: x\r\n\r\n";
        let Ok(Message::Response(r)) = parse(m) else {
            panic!()
        };
        assert_eq!(r.code, 180);
        assert_eq!(r.reason, b"Ringing");
        let vias: Vec<&[u8]> = r.headers.values(HeaderName::Via).collect();
        assert_eq!(
            vias,
            vec![&b"SIP/2.0/UDP a;branch=z9hG4bKx"[..], b"SIP/2.0/UDP b"]
        );
        assert_eq!(r.body, b"");
    }

    #[test]
    fn empty_reason_and_leading_keepalive() {
        let Ok(Message::Response(r)) = parse(b"\r\n\r\nSIP/2.0 200 \r\n\r\n") else {
            panic!()
        };
        assert_eq!((r.code, r.reason), (200, &b""[..]));
        assert_eq!(r.raw, b"SIP/2.0 200 \r\n\r\n");
    }

    #[test]
    fn extension_method_and_trailing_space() {
        let r = req(b"FOO sip:x SIP/2.0  \r\n\r\n");
        assert_eq!(r.method, Method::Extension(b"FOO"));
        assert_eq!(r.uri_raw, b"sip:x");
    }

    #[test]
    fn too_many_headers() {
        let mut m = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
        for i in 0..=crate::sip::MAX_HEADERS {
            m.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        m.extend_from_slice(b"\r\n");
        assert_eq!(parse(&m).map(|_| ()), Err(Error::TooManyHeaders));
    }

    /// Messages to check the one-pass readers against the general ones:
    /// the RFC 4475 fixtures and the benchmark messages, each as it is and
    /// with every byte replaced, in turn, by a few that matter to them.
    fn corpus() -> Vec<Vec<u8>> {
        let seeds = super::super::test_messages();
        assert!(seeds.len() > 30, "fixtures missing");
        super::super::with_mutations(seeds, 400, 3, b" \t\r\n:;\"X")
    }

    #[test]
    fn canonical_lines_agree_with_the_line_reader() {
        let mut fast = 0;
        for m in corpus() {
            for pos in 0..m.len().min(600) {
                match canonical_line(&m, &m, pos) {
                    Canonical::Line(c) => {
                        fast += 1;
                        let line = Line {
                            start: pos as u16,
                            end: c.end as u16,
                            name_end: (pos + c.name_len) as u16,
                            value_start: (pos + c.name_len + 2) as u16,
                            value_end: c.value_end as u16,
                            slot: c.slot,
                        };
                        assert_eq!(next_line(&m, pos), Ok(Some(line)), "{m:?} at {pos}");
                    }
                    Canonical::Empty(end) => {
                        assert_eq!(next_line(&m, pos), Ok(None));
                        assert_eq!(line_end(&m, pos).map(|(_, e)| e), Ok(end));
                    }
                    Canonical::Other => {}
                }
            }
        }
        assert!(fast > 10_000, "the one-pass reader took {fast} lines");
    }

    #[test]
    fn canonical_request_lines_agree_with_the_general_reader() {
        let mut fast = 0;
        for m in corpus() {
            let Ok((len, _)) = line_end(&m, 0) else {
                continue;
            };
            let line = &m[..len];
            if let Some(found) = canonical_request_line(line) {
                fast += 1;
                assert_eq!(request_line_general(line), Ok(found), "{line:?}");
            }
        }
        assert!(fast > 100, "the one-pass reader took {fast} lines");
    }

    #[test]
    fn header_section_past_16_bit_offsets_is_too_large() {
        let mut m = b"OPTIONS sip:x SIP/2.0\r\nX-Pad: ".to_vec();
        m.resize(MAX_HEAD_LEN - 2, b'a');
        m.extend_from_slice(b"\r\n\r\n");
        assert!(parse(&m).is_ok(), "the largest header section parses");
        let mut m = b"OPTIONS sip:x SIP/2.0\r\nX-Pad: ".to_vec();
        m.resize(MAX_HEAD_LEN - 1, b'a');
        m.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&m).map(|_| ()), Err(Error::TooLarge));
        // A large body is fine.
        let mut m = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 100000\r\n\r\n".to_vec();
        m.resize(m.len() + 100_000, b'b');
        assert_eq!(parse(&m).map(|m| m.body().len()), Ok(100_000));
    }

    rejects! {
        version: b"INVITE sip:x SIP/7.0\r\n\r\n" => Error::Version;
        response_version: b"SIP/3.0 200 OK\r\n\r\n" => Error::Version;
        no_version: b"INVITE sip:x\r\n\r\n" => Error::StartLine("Request-Line");
        lws_in_uri: b"INVITE sip:x; lr SIP/2.0\r\n\r\n" => Error::RequestUri;
        double_sp: b"INVITE  sip:x  SIP/2.0\r\n\r\n" => Error::StartLine("Request-Line");
        no_scheme: b"INVITE x SIP/2.0\r\n\r\n" => Error::RequestUri;
        bad_method: b"INV@TE sip:x SIP/2.0\r\n\r\n" => Error::StartLine("Method");
        big_code: b"SIP/2.0 4294967301 x\r\n\r\n" => Error::StatusCode;
        low_code: b"SIP/2.0 099 x\r\n\r\n" => Error::StatusCode;
        no_blank_line: b"OPTIONS sip:x SIP/2.0\r\nVia: a\r\n" => Error::Incomplete;
        no_colon: b"OPTIONS sip:x SIP/2.0\r\nVia a\r\n\r\n" => Error::HeaderLine;
        bad_name: b"OPTIONS sip:x SIP/2.0\r\nV(a: a\r\n\r\n" => Error::HeaderLine;
        leading_fold: b"OPTIONS sip:x SIP/2.0\r\n a: b\r\n\r\n" => Error::HeaderLine;
        bare_cr: b"OPTIONS sip:x SIP/2.0\r\nA: b\rC: d\r\n\r\n" => Error::HeaderLine;
        body_short: b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 9\r\n\r\nabc" => Error::BodyTruncated;
        bad_cl: b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 9x\r\n\r\n" => Error::Invalid("Content-Length");
        two_cl: b"OPTIONS sip:x SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab" => Error::Duplicate("Content-Length");
        empty: b"" => Error::Incomplete;
    }

    #[test]
    fn scan_headers_salvages_until_first_bad_line() {
        let m = b"INVITE sip:x; lr SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: c\r\n\r\n";
        assert_eq!(parse(m).map(|_| ()), Err(Error::RequestUri));
        let h = scan_headers(m);
        assert_eq!(h.len(), 2);
        assert_eq!(h.first(HeaderName::CallId).unwrap().value, b"c");
        let h = scan_headers(b"X sip:y SIP/2.0\r\nVia: a\r\nbroken\r\nCall-ID: c\r\n\r\n");
        assert_eq!(h.len(), 1);
        let h = scan_headers(b"X sip:y SIP/2.0\r\nVia: a\r\nTo: b\rc\r\nCall-ID: c\r\n\r\n");
        assert_eq!(h.len(), 1, "a bare CR ends the salvage");
        assert_eq!(scan_headers(b"no newline").len(), 0);
    }

    #[test]
    fn stream_framing() {
        let m = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabcNEXT";
        assert_eq!(frame_stream(m, 1000), Ok(Some(m.len() - 4)));
        assert_eq!(frame_stream(&m[..20], 1000), Ok(None));
        assert_eq!(frame_stream(&m[..46], 1000), Ok(None));
        assert_eq!(frame_stream(m, 10), Err(Error::TooLarge));
        assert_eq!(
            frame_stream(b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n", 1000),
            Ok(Some(35))
        );
        assert_eq!(
            frame_stream(b"OPTIONS sip:x SIP/2.0\r\n\r\n", 1000),
            Err(Error::Missing("Content-Length"))
        );
        assert_eq!(frame_stream(&[b'a'; 2000], 1000), Err(Error::TooLarge));
        // The same length twice frames; two lengths do not (parse agrees).
        let twice = b"OPTIONS sip:x SIP/2.0\r\nl: 3\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(frame_stream(twice, 1000), Ok(Some(twice.len())));
        let two = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\nl: 3\r\n\r\nabc";
        assert_eq!(
            frame_stream(two, 1000),
            Err(Error::Duplicate("Content-Length"))
        );
        assert_eq!(
            parse(two).map(|_| ()),
            Err(Error::Duplicate("Content-Length"))
        );
    }
}
