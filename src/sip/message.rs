//! Zero-copy views of SIP messages: [`Message`], [`Request`], [`Response`],
//! [`Header`] and the bounded, inline [`Headers`] list. No I/O.
//!
//! Every slice borrows the datagram the message was parsed from. Header
//! lines also carry their byte offsets in that datagram, which is what the
//! splice editor ([`crate::sip::edit`]) works with.

use smallvec::SmallVec;

use super::charset;
use super::header_name::{HeaderName, KNOWN, KNOWN_NAMES, OTHER};

/// The most header lines a message may have; one more is
/// [`Error::TooManyHeaders`](super::Error::TooManyHeaders). Storage for this
/// many is inline, so parsing never allocates.
pub const MAX_HEADERS: usize = 64;

/// A parsed SIP message: a request or a response.
#[derive(Debug, Clone)]
pub enum Message<'a> {
    /// A request (Request-Line first).
    Request(Request<'a>),
    /// A response (Status-Line first).
    Response(Response<'a>),
}

/// A SIP request. All fields borrow the input.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The method of the Request-Line.
    pub method: Method<'a>,
    /// The Request-URI as received (typed view: `Request::uri`).
    pub uri_raw: &'a [u8],
    /// Header lines in order.
    pub headers: Headers<'a>,
    /// The body: exactly Content-Length bytes (or the rest of the datagram
    /// when Content-Length is absent).
    pub body: &'a [u8],
    /// The whole message, start line to the end of the body. Bytes after the
    /// declared body are not part of it.
    pub raw: &'a [u8],
}

/// A SIP response. All fields borrow the input.
#[derive(Debug, Clone)]
pub struct Response<'a> {
    /// The Status-Code, 100..=699.
    pub code: u16,
    /// The Reason-Phrase (may be empty, may hold UTF-8).
    pub reason: &'a [u8],
    /// Header lines in order.
    pub headers: Headers<'a>,
    /// The body (see [`Request::body`]).
    pub body: &'a [u8],
    /// The whole message (see [`Request::raw`]).
    pub raw: &'a [u8],
}

impl<'a> Message<'a> {
    /// The header lines.
    #[inline]
    pub fn headers(&self) -> &Headers<'a> {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The body.
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        match self {
            Message::Request(r) => r.body,
            Message::Response(r) => r.body,
        }
    }

    /// The whole message, start line to the end of the declared body.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        match self {
            Message::Request(r) => r.raw,
            Message::Response(r) => r.raw,
        }
    }

    /// True for a request.
    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }
}

/// A request method. Unknown methods are kept as [`Method::Extension`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// PRACK (RFC 3262)
    Prack,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO (RFC 6086)
    Info,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// UPDATE (RFC 3311)
    Update,
    /// Any other token.
    Extension(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Interprets a method token (case-sensitive, RFC 3261 §7.1). Returns
    /// `None` when `s` is not a token.
    pub fn from_bytes(s: &'a [u8]) -> Option<Method<'a>> {
        Some(match s {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"UPDATE" => Method::Update,
            _ if charset::is_token(s) => Method::Extension(s),
            _ => return None,
        })
    }

    /// The method as it appears on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Options => b"OPTIONS",
            Method::Register => b"REGISTER",
            Method::Prack => b"PRACK",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Notify => b"NOTIFY",
            Method::Publish => b"PUBLISH",
            Method::Info => b"INFO",
            Method::Refer => b"REFER",
            Method::Message => b"MESSAGE",
            Method::Update => b"UPDATE",
            Method::Extension(s) => s,
        }
    }
}

/// The protocol version of a message; only SIP/2.0 is parsed successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SIP/2.0
    Sip2,
}

/// A transport protocol, as named in a Via or a `transport=` URI parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP (default port 5060)
    Udp,
    /// TCP (default port 5060)
    Tcp,
    /// TLS over TCP (default port 5061)
    Tls,
    /// SCTP (default port 5060)
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Any other transport token.
    Other,
}

impl Transport {
    /// Case-insensitive interpretation of a transport token.
    pub fn from_bytes(s: &[u8]) -> Transport {
        if s.eq_ignore_ascii_case(b"UDP") {
            Transport::Udp
        } else if s.eq_ignore_ascii_case(b"TCP") {
            Transport::Tcp
        } else if s.eq_ignore_ascii_case(b"TLS") {
            Transport::Tls
        } else if s.eq_ignore_ascii_case(b"SCTP") {
            Transport::Sctp
        } else if s.eq_ignore_ascii_case(b"WS") {
            Transport::Ws
        } else if s.eq_ignore_ascii_case(b"WSS") {
            Transport::Wss
        } else {
            Transport::Other
        }
    }

    /// The upper-case token used in a Via header (`UDP`, `TCP`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other => "UDP",
        }
    }

    /// The lower-case token used in a `transport=` URI parameter.
    pub fn as_param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Sctp => "sctp",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
            Transport::Other => "udp",
        }
    }

    /// The default port of the transport (RFC 3261 §19.1.2, RFC 7118).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            Transport::Ws => 80,
            Transport::Wss => 443,
            _ => 5060,
        }
    }

    /// True for transports that need Content-Length framing over a stream.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss
        )
    }
}

/// One header line, as the accessors hand it out: a view built from the
/// compact entry [`Headers`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name, compact forms resolved.
    pub name: HeaderName<'a>,
    /// The value with surrounding LWS trimmed. A folded value keeps its
    /// CR LF and leading white space inside; typed parsers treat them as LWS.
    pub value: &'a [u8],
    /// Offset of the first byte of the line in [`Message::raw`].
    pub start: u32,
    /// Offset just past the line's terminating CR LF (or LF).
    pub end: u32,
}

impl<'a> Header<'a> {
    /// The values on this line: split on commas outside quotes and `<>` for
    /// list headers ([`HeaderName::is_list`]), the whole value otherwise.
    pub fn values(&self) -> SplitValues<'a> {
        if self.name.is_list() {
            split_values(self.value)
        } else {
            SplitValues::single(self.value)
        }
    }
}

/// The largest header section (the start line and the header lines)
/// that [`Headers`] can index: its offsets are 16-bit. A longer one is
/// [`Error::TooLarge`](super::Error::TooLarge) (the body may be longer).
pub const MAX_HEAD_LEN: usize = u16::MAX as usize;

/// One stored header line: offsets into the message and the name's slot
/// (12 bytes, so the whole inline list is 768 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// Offset of the line's first byte.
    pub(crate) start: u16,
    /// Offset just past the line's terminator.
    pub(crate) end: u16,
    /// Offset just past the name (what `Other` names need).
    pub(crate) name_end: u16,
    /// The trimmed value's range.
    pub(crate) value_start: u16,
    pub(crate) value_end: u16,
    /// [`HeaderName::slot`], or [`OTHER`] for unknown names.
    pub(crate) slot: u8,
}

/// Header lines in message order, stored inline up to [`MAX_HEADERS`] as
/// compact offsets into the message they were parsed from; the accessors
/// hand out [`Header`] views.
///
/// Alongside the lines, an index of the known names (where each first
/// appears, and whether it appears again) makes [`Headers::first`] and the
/// single-valued accessors O(1), and duplicate detection free.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    /// The message the offsets point into.
    src: &'a [u8],
    list: SmallVec<[Line; MAX_HEADERS]>,
    /// Per known name: 1 + the position of its first line, 0 when absent.
    first_at: [u8; KNOWN_NAMES],
    /// Bit `slot` set: the known name is on more than one line.
    repeated: u64,
}

const _: () = assert!(MAX_HEADERS < 255, "first_at holds 1 + a position in a u8");
const _: () = assert!(KNOWN_NAMES <= 64, "repeated is a u64 bit set");

impl Default for Headers<'_> {
    fn default() -> Self {
        Headers::new(&[])
    }
}

impl<'a> Headers<'a> {
    /// An empty list over the message `src`: the lines pushed later must
    /// lie inside it.
    #[inline(always)]
    pub fn new(src: &'a [u8]) -> Self {
        Headers {
            src,
            list: SmallVec::new(),
            first_at: [0; KNOWN_NAMES],
            repeated: 0,
        }
    }

    /// The message the lines lie in.
    #[inline(always)]
    pub(crate) fn src(&self) -> &'a [u8] {
        self.src
    }

    /// Appends a header whose name (for unknown names) and value lie inside
    /// the message given to [`Headers::new`], with `start`/`end` offsets in
    /// it. `Err(TooManyHeaders)` past [`MAX_HEADERS`]; a header outside the
    /// message, or past [`MAX_HEAD_LEN`], is `Err(TooLarge)`.
    pub fn push(&mut self, h: Header<'a>) -> Result<(), super::Error> {
        let at = |part: &[u8]| {
            offset_in(self.src, part)
                .and_then(|o| u16::try_from(o + part.len()).ok().map(|e| (o, e)))
        };
        let too_large = super::Error::TooLarge;
        let (value_start, value_end) = at(h.value).ok_or(too_large)?;
        let name_end = match h.name {
            HeaderName::Other(n) => at(n).ok_or(too_large)?.1,
            _ => u16::try_from(h.start).map_err(|_| too_large)?,
        };
        self.push_line(Line {
            start: u16::try_from(h.start).map_err(|_| too_large)?,
            end: u16::try_from(h.end).map_err(|_| too_large)?,
            name_end,
            value_start: value_start as u16,
            value_end,
            slot: h.name.slot_u8(),
        })
    }

    /// Appends a line the parser measured.
    #[inline(always)]
    pub(crate) fn push_line(&mut self, line: Line) -> Result<(), super::Error> {
        let n = self.list.len();
        if n == MAX_HEADERS {
            return Err(super::Error::TooManyHeaders);
        }
        if let Some(first) = self.first_at.get_mut(usize::from(line.slot)) {
            match *first {
                // MAX_HEADERS < 255, so 1 + position fits.
                0 => *first = n as u8 + 1,
                _ => self.repeated |= 1 << line.slot,
            }
        }
        self.list.push(line);
        Ok(())
    }

    /// The view of a stored line.
    #[inline(always)]
    fn view(&self, l: &Line) -> Header<'a> {
        let src: &'a [u8] = self.src;
        let name = match KNOWN.get(usize::from(l.slot)) {
            Some(&known) => known,
            None => HeaderName::Other(
                src.get(usize::from(l.start)..usize::from(l.name_end))
                    .unwrap_or_default(),
            ),
        };
        Header {
            name,
            value: self.value_of(l),
            start: u32::from(l.start),
            end: u32::from(l.end),
        }
    }

    /// The value of a stored line.
    #[inline(always)]
    fn value_of(&self, l: &Line) -> &'a [u8] {
        let src: &'a [u8] = self.src;
        src.get(usize::from(l.value_start)..usize::from(l.value_end))
            .unwrap_or_default()
    }

    /// All header lines in order.
    #[inline]
    pub fn iter(&self) -> HeaderIter<'_, 'a> {
        HeaderIter {
            headers: self,
            lines: self.list.iter(),
        }
    }

    /// Number of header lines.
    #[inline]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are no header lines.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The stored first line of a known name's slot.
    #[inline(always)]
    fn first_line(&self, slot: usize) -> Option<&Line> {
        let at = self.first_at.get(slot)?.checked_sub(1)?;
        self.list.get(usize::from(at))
    }

    /// The first line with this name.
    #[inline]
    pub fn first(&self, name: HeaderName<'_>) -> Option<Header<'a>> {
        match name.slot() {
            Some(slot) => self.first_line(slot).map(|l| self.view(l)),
            None => self.iter().find(|h| name_eq(h.name, name)),
        }
    }

    /// Every line with this name, in order.
    #[inline]
    pub fn all<'s>(&'s self, name: HeaderName<'s>) -> impl Iterator<Item = Header<'a>> + 's {
        // For a known name, only the lines from its first one on can match,
        // and only that one when it is not repeated.
        let (slot, lines) = match name.slot() {
            Some(slot) => {
                let from = usize::from(self.first_at[slot]).saturating_sub(1);
                let to = match self.first_at[slot] {
                    0 => from,
                    _ if self.repeated & (1 << slot) == 0 => from + 1,
                    _ => self.list.len(),
                };
                (slot as u8, self.list.get(from..to).unwrap_or_default())
            }
            None => (OTHER, &self.list[..]),
        };
        lines
            .iter()
            .filter(move |l| l.slot == slot && (slot != OTHER || name_eq(self.view(l).name, name)))
            .map(move |l| self.view(l))
    }

    /// The only line with this (known) name: `Ok(None)` when absent,
    /// `Err(())` when it is on more than one line. O(1) for known names.
    #[inline]
    pub(crate) fn only(&self, name: HeaderName<'_>) -> Result<Option<Header<'a>>, ()> {
        match name.slot() {
            Some(slot) if self.repeated & (1 << slot) != 0 => Err(()),
            Some(slot) => Ok(self.first_line(slot).map(|l| self.view(l))),
            None => {
                let mut lines = self.iter().filter(|h| name_eq(h.name, name));
                match (lines.next(), lines.next()) {
                    (first, None) => Ok(first),
                    _ => Err(()),
                }
            }
        }
    }

    /// The value of the only line of a known name: `Ok(None)` when
    /// absent, `Err(())` when on more than one line.
    #[inline(always)]
    pub(crate) fn only_value(&self, name: HeaderName<'_>) -> Result<Option<&'a [u8]>, ()> {
        match name.slot() {
            Some(slot) if self.repeated & (1 << slot) != 0 => Err(()),
            Some(slot) => Ok(self.first_line(slot).map(|l| self.value_of(l))),
            None => self.only(name).map(|h| h.map(|h| h.value)),
        }
    }

    /// Every value of this header across all its lines, in order (list
    /// headers split on commas).
    pub fn values<'s>(&'s self, name: HeaderName<'s>) -> impl Iterator<Item = &'a [u8]> + 's {
        self.all(name).flat_map(|h| h.values())
    }
}

/// Iterator over [`Header`] views, from [`Headers::iter`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'h, 'a> {
    headers: &'h Headers<'a>,
    lines: core::slice::Iter<'h, Line>,
}

impl<'a> Iterator for HeaderIter<'_, 'a> {
    type Item = Header<'a>;

    #[inline]
    fn next(&mut self) -> Option<Header<'a>> {
        self.lines.next().map(|l| self.headers.view(l))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lines.size_hint()
    }
}

impl DoubleEndedIterator for HeaderIter<'_, '_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.lines.next_back().map(|l| self.headers.view(l))
    }
}

impl ExactSizeIterator for HeaderIter<'_, '_> {}

fn name_eq(a: HeaderName<'_>, b: HeaderName<'_>) -> bool {
    match (a, b) {
        (HeaderName::Other(x), HeaderName::Other(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => core::mem::discriminant(&x) == core::mem::discriminant(&y),
    }
}

/// Splits a header value on commas that are outside quoted strings and
/// `<...>`, trimming LWS around each value and skipping empty ones.
pub fn split_values(value: &[u8]) -> SplitValues<'_> {
    SplitValues {
        rest: value,
        split: true,
    }
}

/// Iterator returned by [`split_values`] and [`Header::values`].
#[derive(Debug, Clone)]
pub struct SplitValues<'a> {
    rest: &'a [u8],
    split: bool,
}

impl<'a> SplitValues<'a> {
    fn single(value: &'a [u8]) -> Self {
        SplitValues {
            rest: value,
            split: false,
        }
    }
}

impl<'a> Iterator for SplitValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let s = self.rest;
            let end = if self.split { value_end(s) } else { s.len() };
            let v = charset::trim(&s[..end]);
            self.rest = if end < s.len() { &s[end + 1..] } else { &[] };
            if !v.is_empty() {
                return Some(v);
            }
        }
    }
}

/// Index of the first comma outside quotes and angle brackets, or `s.len()`.
/// Inside `<...>` only the `>` matters (quotes there are plain bytes), so
/// it is found with one `memchr`.
pub(crate) fn value_end(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b',' => return i,
            b'<' => match s.get(i + 1..).and_then(|r| super::values::find(r, b'>')) {
                Some(j) => i += j + 1,
                None => return s.len(),
            },
            b'"' => loop {
                i += 1;
                match s.get(i) {
                    None => return s.len(),
                    Some(b'\\') => i += 1,
                    Some(b'"') => break,
                    Some(_) => {}
                }
            },
            _ => {}
        }
        i += 1;
    }
    s.len()
}

#[cfg(test)]
fn value_end_reference(s: &[u8]) -> usize {
    let mut quoted = false;
    let mut angle = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if quoted => i += 1,
            b'"' if !angle => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => return i,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// The offset of `part` inside `base`, when `part` is a sub-slice of it.
/// Views carry no offsets of their own; this recovers them for the editor.
#[inline]
pub fn offset_in(base: &[u8], part: &[u8]) -> Option<usize> {
    let b = base.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    if p >= b && p + part.len() <= b + base.len() {
        Some(p - b)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_agrees_with_a_scan() {
        let src: &[u8] = b"Via: v\r\nX-A: v\r\nFrom: v\r\nVia: v\r\nx-a: v\r\nAllow-Events: v\r\n";
        let mut h = Headers::new(src);
        let mut start = 0;
        for line in src.split_inclusive(|&b| b == b'\n') {
            let colon = line.iter().position(|&b| b == b':').unwrap();
            let name = HeaderName::from_bytes(&src[start..start + colon]);
            let v = start + colon + 2;
            h.push(Header {
                name,
                value: &src[v..v + 1],
                start: start as u32,
                end: (start + line.len()) as u32,
            })
            .unwrap();
            start += line.len();
        }
        assert_eq!(h.len(), 6);
        assert_eq!(h.iter().nth(1).unwrap().name, HeaderName::Other(b"X-A"));
        assert_eq!(h.iter().nth(4).unwrap().value, b"v");
        assert_eq!(
            h.push(Header {
                name: HeaderName::Via,
                value: b"elsewhere",
                start: 0,
                end: 1
            }),
            Err(super::super::Error::TooLarge)
        );
        let probes = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::AllowEvents,
            HeaderName::Other(b"X-a"),
            HeaderName::Other(b"X-B"),
        ];
        for n in probes {
            let scan: Vec<u32> = h
                .iter()
                .filter(|l| name_eq(l.name, n))
                .map(|l| l.start)
                .collect();
            let all: Vec<u32> = h.all(n).map(|l| l.start).collect();
            assert_eq!(all, scan, "{n:?}");
            assert_eq!(h.first(n).map(|l| l.start), scan.first().copied());
            let only = match scan.len() {
                0 => Ok(None),
                1 => Ok(Some(scan[0])),
                _ => Err(()),
            };
            assert_eq!(h.only(n).map(|o| o.map(|l| l.start)), only, "{n:?}");
        }
    }

    #[test]
    fn split_outside_quotes_and_brackets() {
        let v: Vec<&[u8]> =
            split_values(b"<sip:a@b;x=\"1,2\">, \"Doe, J\" <sip:c,d@e> ,, sip:f").collect();
        assert_eq!(
            v,
            vec![
                &b"<sip:a@b;x=\"1,2\">"[..],
                b"\"Doe, J\" <sip:c,d@e>",
                b"sip:f"
            ]
        );
        let v: Vec<&[u8]> = split_values(b"\"a\\\",b\" <sip:x>, <sip:y>").collect();
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn value_end_matches_the_reference() {
        let seeds: &[&[u8]] = &[
            b"<sip:a@b;x=\"1,2\">, \"Doe, J\" <sip:c,d@e> ,, sip:f",
            b"\"a\\\",b\" <sip:x>, <sip:y>",
            b"a<b\"c>,d\",e",
        ];
        let bytes = b",<>\"\\ a";
        let mut buf = Vec::new();
        for seed in seeds {
            for n in 0..=seed.len() {
                for s in [&seed[..n], &seed[n..]] {
                    assert_eq!(value_end(s), value_end_reference(s), "{s:?}");
                }
                for &b in bytes {
                    if n < seed.len() {
                        buf.clear();
                        buf.extend_from_slice(seed);
                        buf[n] = b;
                        assert_eq!(value_end(&buf), value_end_reference(&buf), "{buf:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn offsets() {
        let base = b"hello world";
        assert_eq!(offset_in(base, &base[6..]), Some(6));
        assert_eq!(offset_in(base, b"other"), None);
    }
}
