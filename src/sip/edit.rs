//! The splice editor: builds an outgoing message from the bytes of a parsed
//! one plus a few recorded edits, copying every unchanged span once. No I/O.
//!
//! An [`Editor`] belongs to a worker and is reused for every message. Edits
//! are recorded against byte offsets of the source ([`Message::raw`]): an
//! insertion at an offset, a replacement of a range, a removal of a range.
//! New bytes go into an arena inside the editor, written through a
//! [`Writer`] (bytes and fast decimal numbers, no formatting machinery).
//! [`Editor::apply`] then sorts the edits by offset and writes the result
//! into a caller-owned `Vec<u8>`. Once the arena and the output buffer have
//! grown to the size of a typical message, editing allocates nothing.
//!
//! The message-level helpers work on anything that implements [`Source`]:
//! [`Message`], [`Request`] and [`Response`]. Header lines they add are
//! written with canonical names and CR LF.
//!
//! ```
//! use branchline::sip::edit::Editor;
//! use branchline::sip::{Header, HeaderName, Headers, Method, Request};
//!
//! let raw: &[u8] = b"OPTIONS sip:b@example.com SIP/2.0\r\nMax-Forwards: 70\r\n\r\n";
//! let mut headers = Headers::new(raw);
//! headers
//!     .push(Header { name: HeaderName::MaxForwards, value: &raw[49..51], start: 35, end: 53 })
//!     .unwrap();
//! let req = Request {
//!     method: Method::Options,
//!     uri_raw: &raw[8..25],
//!     headers,
//!     body: &raw[55..],
//!     raw,
//! };
//! let mut editor = Editor::new();
//! let mut out = Vec::new();
//! editor.set_max_forwards(&req, 69);
//! editor.apply(req.raw, &mut out).unwrap();
//! assert_eq!(out, b"OPTIONS sip:b@example.com SIP/2.0\r\nMax-Forwards: 69\r\n\r\n");
//! ```

use core::ops::Range;

use smallvec::SmallVec;

use super::charset;
use super::header_name::HeaderName;
use super::message::{offset_in, Header, Headers, Message, Request, Response};
use super::writer::Writer;

/// A parsed message the editor can splice: the bytes it borrows, its header
/// lines (whose offsets are relative to those bytes) and its body.
pub trait Source<'a> {
    /// The whole message, start line to the end of the declared body.
    fn raw(&self) -> &'a [u8];
    /// The header lines, in order.
    fn headers(&self) -> &Headers<'a>;
    /// The body (the last `body().len()` bytes of `raw()`).
    fn body(&self) -> &'a [u8];
}

impl<'a> Source<'a> for Message<'a> {
    fn raw(&self) -> &'a [u8] {
        Message::raw(self)
    }
    fn headers(&self) -> &Headers<'a> {
        Message::headers(self)
    }
    fn body(&self) -> &'a [u8] {
        Message::body(self)
    }
}

impl<'a> Source<'a> for Request<'a> {
    fn raw(&self) -> &'a [u8] {
        self.raw
    }
    fn headers(&self) -> &Headers<'a> {
        &self.headers
    }
    fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl<'a> Source<'a> for Response<'a> {
    fn raw(&self) -> &'a [u8] {
        self.raw
    }
    fn headers(&self) -> &Headers<'a> {
        &self.headers
    }
    fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Why recorded edits could not be applied. Every variant means a bug in the
/// caller (or views that do not belong to the bytes), never bad input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// An edit reaches past the end of the source, or its range is reversed.
    #[error("edit {start}..{end} lies outside the {len}-byte source")]
    OutOfRange {
        /// First byte of the edited range.
        start: usize,
        /// Just past the edited range.
        end: usize,
        /// Length of the source given to `apply`.
        len: usize,
    },
    /// Two edits change overlapping bytes.
    #[error("two edits overlap at byte {at}")]
    Overlap {
        /// Where the later edit starts, inside the earlier one.
        at: usize,
    },
    /// A header or value given to a helper does not lie in the message's
    /// bytes, or the helpers saw a different message than `apply` got.
    #[error("a view handed to the editor does not belong to the edited message")]
    Detached,
}

/// The least capacity [`Editor::apply`] gives an output buffer it grows.
const MIN_OUT_CAPACITY: usize = 2048;

/// One recorded edit: `src[start..end]` becomes `arena[data..data_end]`.
/// An insertion has `start == end`, a removal `data == data_end`.
#[derive(Debug, Clone, Copy)]
struct Op {
    start: usize,
    end: usize,
    data: usize,
    data_end: usize,
}

/// Edits recorded against one source message, applied into a reused buffer.
/// Reuse one per worker: [`Editor::apply`] clears the edits but keeps the
/// memory.
#[derive(Debug, Clone)]
pub struct Editor {
    ops: SmallVec<[Op; 16]>,
    arena: Vec<u8>,
    /// Address and length of the message the helpers looked at.
    source: Option<(usize, usize)>,
    fault: Option<EditError>,
}

impl Default for Editor {
    fn default() -> Self {
        Editor::new()
    }
}

impl Editor {
    /// An editor with room for 512 bytes of new content; it grows (once) if
    /// a message needs more.
    pub fn new() -> Editor {
        Editor {
            ops: SmallVec::new(),
            arena: Vec::with_capacity(512),
            source: None,
            fault: None,
        }
    }

    /// Number of recorded edits.
    #[inline]
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when no edit is recorded.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Forgets every recorded edit, keeping the memory.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.arena.clear();
        self.source = None;
        self.fault = None;
    }

    // ---- byte-level edits -------------------------------------------------

    /// Inserts `bytes` before source offset `at`.
    pub fn insert(&mut self, at: usize, bytes: &[u8]) {
        self.insert_with(at, |w| {
            w.bytes(bytes);
        });
    }

    /// Inserts what `write` writes before source offset `at`. Insertions at
    /// one offset come out in the order they were recorded, before any
    /// replacement or removal that starts there.
    pub fn insert_with(&mut self, at: usize, write: impl FnOnce(&mut Writer<'_>)) {
        self.replace_with(at..at, write);
    }

    /// Replaces source bytes `range` with `bytes`.
    pub fn replace(&mut self, range: Range<usize>, bytes: &[u8]) {
        self.replace_with(range, |w| {
            w.bytes(bytes);
        });
    }

    /// Replaces source bytes `range` with what `write` writes.
    pub fn replace_with(&mut self, range: Range<usize>, write: impl FnOnce(&mut Writer<'_>)) {
        let data = self.arena.len();
        write(&mut Writer::new(&mut self.arena));
        self.ops.push(Op {
            start: range.start,
            end: range.end,
            data,
            data_end: self.arena.len(),
        });
    }

    /// Removes source bytes `range`.
    pub fn remove(&mut self, range: Range<usize>) {
        self.replace_with(range, |_| {});
    }

    /// Writes `src` with the recorded edits applied into `out` (cleared
    /// first), copying each unchanged span once, then clears the edits.
    ///
    /// A buffer too small for the result grows to at least 2 KiB, to the
    /// next power of two, so one warm-up message is enough for the ones of
    /// similar size that follow.
    ///
    /// `src` must be the bytes the offsets refer to: [`Message::raw`] of the
    /// message the helpers were given. Bytes after the declared body are not
    /// part of `raw`, so they are never copied. On error `out` is left empty.
    pub fn apply(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(), EditError> {
        let result = self.write_out(src, out);
        if result.is_err() {
            out.clear();
        }
        self.clear();
        result
    }

    fn write_out(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(), EditError> {
        if let Some(e) = self.fault {
            return Err(e);
        }
        if let Some(seen) = self.source {
            if seen != (src.as_ptr() as usize, src.len()) {
                return Err(EditError::Detached);
            }
        }
        let ops = &mut self.ops[..];
        sort_edits(ops, |op| (op.start, op.end));
        out.clear();
        // Removals only shrink: this bound makes one reservation enough.
        reserve_out(out, src.len() + self.arena.len());
        let mut cursor = 0;
        for op in ops.iter() {
            if op.start > op.end || op.end > src.len() {
                return Err(EditError::OutOfRange {
                    start: op.start,
                    end: op.end,
                    len: src.len(),
                });
            }
            if op.start < cursor {
                return Err(EditError::Overlap { at: op.start });
            }
            out.extend_from_slice(src.get(cursor..op.start).unwrap_or_default());
            out.extend_from_slice(self.arena.get(op.data..op.data_end).unwrap_or_default());
            cursor = op.end;
        }
        out.extend_from_slice(src.get(cursor..).unwrap_or_default());
        Ok(())
    }

    // ---- message-level helpers -------------------------------------------

    /// Inserts the line `name: <value>` CR LF above the first header line
    /// (right after the start line when there is none).
    pub fn insert_first_header<'a>(
        &mut self,
        msg: &impl Source<'a>,
        name: &[u8],
        write_value: impl FnOnce(&mut Writer<'_>),
    ) {
        let raw = self.note(msg);
        let at = match msg.headers().iter().next() {
            Some(h) => self.line(raw, h).map(|l| l.start),
            None => self.start_line_end(raw),
        };
        if let Some(at) = at {
            self.insert_line(at, name, write_value);
        }
    }

    /// Inserts a new top Via line, `Via: <value>` CR LF, directly above the
    /// first existing Via line (RFC 3261 §16.6 item 8), or above the first
    /// header when the message has no Via. Keeping the Via lines together
    /// spares downstream parsers that expect them contiguous.
    pub fn insert_via<'a>(
        &mut self,
        msg: &impl Source<'a>,
        write_value: impl FnOnce(&mut Writer<'_>),
    ) {
        let raw = self.note(msg);
        let headers = msg.headers();
        let at = match headers
            .first(HeaderName::Via)
            .or_else(|| headers.iter().next())
        {
            Some(h) => self.line(raw, h).map(|l| l.start),
            None => self.start_line_end(raw),
        };
        if let Some(at) = at {
            self.insert_line(at, b"Via", write_value);
        }
    }

    /// Adds `Record-Route: <uri>` as the topmost Record-Route (RFC 3261
    /// §16.6 item 4). `uri` is written between angle brackets as given.
    pub fn add_record_route<'a>(&mut self, msg: &impl Source<'a>, uri: &[u8]) {
        self.add_record_route_with(msg, |w| {
            w.byte(b'<').bytes(uri).byte(b'>');
        });
    }

    /// Adds a `Record-Route` line whose whole value (`<sip:...;lr>` and any
    /// header parameters) `write_value` writes, as the topmost Record-Route:
    /// above the first Record-Route line; when there is none, below the
    /// first run of Via lines; when there is no Via either, above the first
    /// header.
    pub fn add_record_route_with<'a>(
        &mut self,
        msg: &impl Source<'a>,
        write_value: impl FnOnce(&mut Writer<'_>),
    ) {
        let raw = self.note(msg);
        let headers = msg.headers();
        let at = if let Some(rr) = headers.first(HeaderName::RecordRoute) {
            self.line(raw, rr).map(|l| l.start)
        } else if let Some(first_via) = headers.iter().position(|h| h.name == HeaderName::Via) {
            let last_via = headers
                .iter()
                .skip(first_via)
                .take_while(|h| h.name == HeaderName::Via)
                .last();
            last_via.and_then(|h| self.line(raw, h)).map(|l| l.end)
        } else {
            match headers.iter().next() {
                Some(h) => self.line(raw, h).map(|l| l.start),
                None => self.start_line_end(raw),
            }
        };
        if let Some(at) = at {
            self.insert_line(at, b"Record-Route", write_value);
        }
    }

    /// Replaces the value of `header` (one of `msg`'s lines) with what
    /// `write_value` writes; the name, the white space around the value and
    /// the line ending stay as received.
    pub fn replace_value<'a>(
        &mut self,
        msg: &impl Source<'a>,
        header: &Header<'_>,
        write_value: impl FnOnce(&mut Writer<'_>),
    ) {
        let raw = self.note(msg);
        if let Some(range) = self.value_range(raw, *header) {
            self.replace_with(range, write_value);
        }
    }

    /// Sets Max-Forwards to `n`: replaces the value of the first Max-Forwards
    /// line, or adds `Max-Forwards: n` at the end of the header section.
    pub fn set_max_forwards<'a>(&mut self, msg: &impl Source<'a>, n: u8) {
        match msg.headers().first(HeaderName::MaxForwards) {
            Some(h) => self.replace_value(msg, &h, |w| {
                w.u32(u32::from(n));
            }),
            None => {
                let raw = self.note(msg);
                if let Some(at) = self.headers_end(raw, msg.headers()) {
                    self.insert_line(at, b"Max-Forwards", |w| {
                        w.u32(u32::from(n));
                    });
                }
            }
        }
    }

    /// Replaces the Request-URI with `uri`.
    pub fn replace_request_uri(&mut self, req: &Request<'_>, uri: &[u8]) {
        self.replace_request_uri_with(req, |w| {
            w.bytes(uri);
        });
    }

    /// Replaces the Request-URI with what `write` writes.
    pub fn replace_request_uri_with(
        &mut self,
        req: &Request<'_>,
        write: impl FnOnce(&mut Writer<'_>),
    ) {
        let raw = self.note(req);
        match offset_in(raw, req.uri_raw) {
            Some(at) if !req.uri_raw.is_empty() => {
                self.replace_with(at..at + req.uri_raw.len(), write);
            }
            _ => self.fail(EditError::Detached),
        }
    }

    /// Removes the first value of header `name` (the top Via of a response,
    /// the top Route of a request) and returns it. When the value is alone
    /// on its line the whole line goes; when it shares the line with others
    /// (`Route: <sip:a;lr>, <sip:b;lr>`, a folded Via list), only the value
    /// and the comma and white space after it go. Lines of that name with
    /// no value are skipped. Returns `None` when there is no value.
    pub fn remove_first_value<'a>(
        &mut self,
        msg: &impl Source<'a>,
        name: HeaderName<'_>,
    ) -> Option<&'a [u8]> {
        self.remove_values(msg, name, 1).1
    }

    /// Removes the first `n` values of header `name` across its lines, in
    /// order, as [`Editor::remove_first_value`] does for one. Returns how
    /// many were removed (fewer than `n` when there are fewer).
    pub fn remove_first_values<'a>(
        &mut self,
        msg: &impl Source<'a>,
        name: HeaderName<'_>,
        n: usize,
    ) -> usize {
        self.remove_values(msg, name, n).0
    }

    fn remove_values<'a>(
        &mut self,
        msg: &impl Source<'a>,
        name: HeaderName<'_>,
        n: usize,
    ) -> (usize, Option<&'a [u8]>) {
        let raw = self.note(msg);
        let mut removed = 0;
        let mut first = None;
        for h in msg.headers().all(name) {
            if removed == n {
                break;
            }
            let Some(line) = self.line(raw, h) else {
                break;
            };
            let v = h.value;
            // Without a comma a line holds at most one value, the usual
            // case (`Via: <one>`, `Route: <one>`): the whole line goes, or
            // it is skipped when it holds only LWS; no scan needed.
            if !h.name.is_list() || memchr::memchr(b',', v).is_none() {
                let value = charset::trim(v);
                if value.is_empty() {
                    continue;
                }
                first.get_or_insert(value);
                removed += 1;
                self.remove(line);
                continue;
            }
            // Scan the value as `split_values` splits it (commas outside
            // quotes and `<>`, LWS trimmed, empty elements skipped), but
            // jumping with memchr instead of visiting every byte.
            let Some(first_start) = next_value_start(v, 0) else {
                continue;
            };
            let mut start = first_start;
            let mut cut = None;
            loop {
                let end = list_value_end(v, start);
                if first.is_none() {
                    first = v.get(start..end).map(charset::trim);
                }
                removed += 1;
                match next_value_start(v, end) {
                    None => break,
                    Some(next) if removed == n => {
                        cut = Some(next);
                        break;
                    }
                    Some(next) => start = next,
                }
            }
            match cut {
                None => self.remove(line),
                Some(to) => match offset_in(raw, v) {
                    Some(base) if line.start <= base && base + to <= line.end => {
                        self.remove(base + first_start..base + to);
                    }
                    _ => self.fail(EditError::Detached),
                },
            }
        }
        (removed, first)
    }

    /// Removes the whole line `header` (one of `msg`'s lines).
    pub fn remove_header<'a>(&mut self, msg: &impl Source<'a>, header: &Header<'_>) {
        let raw = self.note(msg);
        if let Some(line) = self.line(raw, *header) {
            self.remove(line);
        }
    }

    /// Makes the output's Content-Length equal the body length: leaves a
    /// correct value alone, replaces a wrong one, and adds
    /// `Content-Length: N` at the end of the header section when there is
    /// none (needed when a UDP message goes out over a stream).
    pub fn fix_content_length<'a>(&mut self, msg: &impl Source<'a>) {
        let len = msg.body().len();
        match msg.headers().first(HeaderName::ContentLength) {
            Some(h) => {
                let declared = charset::parse_u32(charset::trim(h.value));
                if declared.map(|d| d as usize) != Some(len) {
                    self.replace_value(msg, &h, |w| {
                        w.u64(len as u64);
                    });
                }
            }
            None => {
                let raw = self.note(msg);
                if let Some(at) = self.headers_end(raw, msg.headers()) {
                    self.insert_line(at, b"Content-Length", |w| {
                        w.u64(len as u64);
                    });
                }
            }
        }
    }

    // ---- helpers of the helpers ------------------------------------------

    /// Remembers which bytes the helpers edit; a second, different message
    /// before `apply` is a caller bug.
    fn note<'a>(&mut self, msg: &impl Source<'a>) -> &'a [u8] {
        let raw = msg.raw();
        let id = (raw.as_ptr() as usize, raw.len());
        match self.source {
            None => self.source = Some(id),
            Some(seen) if seen != id => self.fail(EditError::Detached),
            Some(_) => {}
        }
        raw
    }

    fn fail(&mut self, e: EditError) {
        self.fault.get_or_insert(e);
    }

    fn insert_line(&mut self, at: usize, name: &[u8], write_value: impl FnOnce(&mut Writer<'_>)) {
        self.insert_with(at, |w| {
            w.bytes(name).bytes(b": ");
            write_value(w);
            w.bytes(b"\r\n");
        });
    }

    /// The byte range of a header line, checked against the source.
    fn line(&mut self, raw: &[u8], h: Header<'_>) -> Option<Range<usize>> {
        let (start, end) = (h.start as usize, h.end as usize);
        if start <= end && end <= raw.len() {
            Some(start..end)
        } else {
            self.fail(EditError::Detached);
            None
        }
    }

    /// The byte range of a header's value. An empty value becomes an empty
    /// range just before the line ending (`Max-Forwards:` + `70`).
    fn value_range(&mut self, raw: &[u8], h: Header<'_>) -> Option<Range<usize>> {
        let line = self.line(raw, h)?;
        if h.value.is_empty() {
            let text = raw.get(line.clone()).unwrap_or_default();
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let at = line.start + text.len();
            return Some(at..at);
        }
        match offset_in(raw, h.value) {
            Some(at) if at >= line.start && at + h.value.len() <= line.end => {
                Some(at..at + h.value.len())
            }
            _ => {
                self.fail(EditError::Detached);
                None
            }
        }
    }

    /// Just past the start line's LF.
    fn start_line_end(&mut self, raw: &[u8]) -> Option<usize> {
        match memchr::memchr(b'\n', raw) {
            Some(i) => Some(i + 1),
            None => {
                self.fail(EditError::Detached);
                None
            }
        }
    }

    /// Where the empty line that ends the header section starts.
    fn headers_end(&mut self, raw: &[u8], headers: &Headers<'_>) -> Option<usize> {
        match headers.iter().next_back() {
            Some(h) => self.line(raw, h).map(|l| l.end),
            None => self.start_line_end(raw),
        }
    }
}

/// Where the next non-empty value of a list starts at or after `i`: the
/// first byte that is neither LWS nor a separating comma.
fn next_value_start(v: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&b) = v.get(i) {
        if b != b',' && !charset::lws(b) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The first comma at or after `i` outside quoted strings and `<...>` (the
/// same rule as [`split_values`](super::split_values)), or `v.len()`.
fn list_value_end(v: &[u8], mut i: usize) -> usize {
    loop {
        let Some(j) = v
            .get(i..)
            .and_then(|rest| memchr::memchr3(b',', b'"', b'<', rest))
        else {
            return v.len();
        };
        i += j;
        match v.get(i) {
            Some(b',') => return i,
            Some(b'"') => {
                // A quoted string: up to the closing quote, escapes skipped.
                i += 1;
                loop {
                    let Some(k) = v
                        .get(i..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        return v.len();
                    };
                    i += k;
                    if v.get(i) == Some(&b'"') {
                        i += 1;
                        break;
                    }
                    i += 2;
                }
            }
            _ => {
                // `<`: up to the closing `>`; quotes and commas inside are data.
                let Some(k) = v.get(i..).and_then(|rest| memchr::memchr(b'>', rest)) else {
                    return v.len();
                };
                i += k + 1;
            }
        }
    }
}

/// Sorts edits by their source range `(start, end)`: an insertion sort,
/// for there are only a few, and stable, which keeps insertions at one
/// offset in the order they were made and puts them before a range that
/// starts at that offset. Shared by [`Editor::apply`] and the proxy's
/// one-pass writer, so that both order edits alike.
pub(crate) fn sort_edits<T>(ops: &mut [T], range: impl Fn(&T) -> (usize, usize)) {
    for i in 1..ops.len() {
        let mut j = i;
        while j > 0 && range(&ops[j - 1]) > range(&ops[j]) {
            ops.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Makes room in `out` (empty) for `bound` bytes in one reservation,
/// growing to a round size (at least 2 KiB) so that a buffer warmed on one
/// message fits the slightly longer ones that follow.
pub(crate) fn reserve_out(out: &mut Vec<u8>, bound: usize) {
    if out.capacity() < bound {
        out.reserve(bound.next_power_of_two().max(MIN_OUT_CAPACITY));
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::sip::Method;

    /// A minimal line splitter standing in for the parser: start line,
    /// header lines (folding and compact names included), body = the rest,
    /// or exactly Content-Length bytes when that header is present.
    fn view(raw: &[u8]) -> Message<'_> {
        let first_lf = raw.iter().position(|&b| b == b'\n').unwrap();
        let mut headers = Headers::new(raw);
        let mut i = first_lf + 1;
        let mut content_length = None;
        loop {
            let rest = &raw[i..];
            if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") || rest.is_empty() {
                let skip = if rest.starts_with(b"\r\n") {
                    2
                } else {
                    rest.len().min(1)
                };
                i += skip;
                break;
            }
            // Find the end of this (possibly folded) header line.
            let mut end = i;
            loop {
                let lf = raw[end..].iter().position(|&b| b == b'\n').unwrap();
                end += lf + 1;
                if !matches!(raw.get(end), Some(b' ' | b'\t')) {
                    break;
                }
            }
            let line = &raw[i..end];
            let colon = line.iter().position(|&b| b == b':').unwrap();
            let name = HeaderName::from_bytes(charset::trim(&line[..colon]));
            let value = charset::trim(&line[colon + 1..]);
            if name == HeaderName::ContentLength {
                content_length = charset::parse_u32(value).map(|n| n as usize);
            }
            headers
                .push(Header {
                    name,
                    value,
                    start: i as u32,
                    end: end as u32,
                })
                .unwrap();
            i = end;
        }
        let body_end = match content_length {
            Some(n) => (i + n).min(raw.len()),
            None => raw.len(),
        };
        let body = &raw[i..body_end];
        let raw = &raw[..body_end];
        let start = &raw[..first_lf];
        if start.starts_with(b"SIP/2.0 ") {
            Message::Response(Response {
                code: 200,
                reason: b"OK",
                headers,
                body,
                raw,
            })
        } else {
            let sp1 = start.iter().position(|&b| b == b' ').unwrap();
            let sp2 = sp1 + 1 + start[sp1 + 1..].iter().position(|&b| b == b' ').unwrap();
            Message::Request(Request {
                method: Method::from_bytes(&start[..sp1]).unwrap(),
                uri_raw: &raw[sp1 + 1..sp2],
                headers,
                body,
                raw,
            })
        }
    }

    fn request(raw: &[u8]) -> Request<'_> {
        match view(raw) {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    fn edit(msg: &Message<'_>, f: impl FnOnce(&mut Editor)) -> String {
        let mut ed = Editor::new();
        f(&mut ed);
        let mut out = Vec::new();
        ed.apply(msg.raw(), &mut out).unwrap();
        assert!(ed.is_empty());
        String::from_utf8(out).unwrap()
    }

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n\
Max-Forwards: 70\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c1@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\r\njunk after the body";

    #[test]
    fn no_edits_copies_message_without_trailing_junk() {
        let msg = view(INVITE);
        let out = edit(&msg, |_| {});
        assert!(out.ends_with("Content-Length: 4\r\n\r\nv=0\r"));
    }

    #[test]
    fn forwarding_edits() {
        let msg = view(INVITE);
        let out = edit(&msg, |ed| {
            ed.insert_via(&msg, |w| {
                w.bytes(b"SIP/2.0/UDP ")
                    .ipv4(Ipv4Addr::new(198, 51, 100, 7))
                    .byte(b':')
                    .u16(5060)
                    .bytes(b";branch=z9hG4bKx1");
            });
            ed.set_max_forwards(&msg, 69);
            ed.add_record_route(&msg, b"sip:198.51.100.7;lr");
            assert_eq!(
                ed.remove_first_value(&msg, HeaderName::Route),
                Some(&b"<sip:p1.example.com;lr>"[..])
            );
            ed.fix_content_length(&msg);
        });
        assert_eq!(
            out,
            "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKx1\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n\
Record-Route: <sip:198.51.100.7;lr>\r\n\
Max-Forwards: 69\r\n\
Route: <sip:p2.example.com;lr>\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c1@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\r"
        );
    }

    #[test]
    fn remove_whole_route_line_and_record_route_above_existing() {
        let raw = b"BYE sip:b@h SIP/2.0\r\nRoute: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n\
Record-Route: <sip:old;lr>\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let msg = view(raw);
        let out = edit(&msg, |ed| {
            ed.remove_first_value(&msg, HeaderName::Route);
            ed.add_record_route(&msg, b"sip:me;lr");
        });
        assert_eq!(
            out,
            "BYE sip:b@h SIP/2.0\r\nRoute: <sip:p2;lr>\r\n\
Record-Route: <sip:me;lr>\r\nRecord-Route: <sip:old;lr>\r\nVia: SIP/2.0/UDP h\r\n\r\n"
        );
    }

    #[test]
    fn remove_values_across_lines() {
        let raw = b"BYE sip:b@h SIP/2.0\r\nRoute:\r\nRoute: <sip:p1;lr>\r\nRoute: <sip:p2;lr>,<sip:p3;lr> , <sip:p4>\r\n\r\n";
        let msg = view(raw);
        let mut n = 0;
        let out = edit(&msg, |ed| {
            n = ed.remove_first_values(&msg, HeaderName::Route, 3)
        });
        assert_eq!(n, 3);
        assert_eq!(
            out,
            "BYE sip:b@h SIP/2.0\r\nRoute:\r\nRoute: <sip:p4>\r\n\r\n"
        );
        let out = edit(&msg, |ed| {
            n = ed.remove_first_values(&msg, HeaderName::Route, 9)
        });
        assert_eq!(n, 4);
        assert_eq!(out, "BYE sip:b@h SIP/2.0\r\nRoute:\r\n\r\n");
        let out = edit(&msg, |ed| {
            n = ed.remove_first_values(&msg, HeaderName::Contact, 1)
        });
        assert_eq!(n, 0);
        assert_eq!(out.as_bytes(), raw);
    }

    #[test]
    fn remove_top_via_of_response_and_folded_list() {
        let raw = b"SIP/2.0 200 OK\r\n\
v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bKc\r\n\
Content-Length: 0\r\n\r\n";
        let msg = view(raw);
        let out = edit(&msg, |ed| {
            ed.remove_first_value(&msg, HeaderName::Via);
        });
        assert_eq!(
            out,
            "SIP/2.0 200 OK\r\n\
v:  SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bKc\r\n\
Content-Length: 0\r\n\r\n"
        );
        let Message::Response(resp) = &msg else {
            panic!()
        };
        let out2 = edit(&msg, |ed| {
            ed.remove_first_values(resp, HeaderName::Via, 2);
        });
        assert_eq!(
            out2,
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP c.example.com;branch=z9hG4bKc\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn content_length_inserted_replaced_or_kept() {
        let raw = b"MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nhello";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.fix_content_length(&msg));
        assert_eq!(
            out,
            "MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 5\r\n\r\nhello"
        );
        // A declared length the (stand-in) parser honoured, with leading zeros: kept.
        let raw = b"MESSAGE sip:b@h SIP/2.0\r\nl: 005\r\n\r\nhello, trailing";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.fix_content_length(&msg));
        assert_eq!(out, "MESSAGE sip:b@h SIP/2.0\r\nl: 005\r\n\r\nhello");
        // A wrong value is replaced (a lenient view of a short body).
        let raw = b"MESSAGE sip:b@h SIP/2.0\r\nContent-Length:  9 \r\n\r\nhello";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.fix_content_length(&msg));
        assert_eq!(
            out,
            "MESSAGE sip:b@h SIP/2.0\r\nContent-Length:  5 \r\n\r\nhello"
        );
        // No headers at all: the line goes after the start line.
        let raw = b"OPTIONS sip:h SIP/2.0\r\n\r\n";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.fix_content_length(&msg));
        assert_eq!(out, "OPTIONS sip:h SIP/2.0\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn max_forwards_inserted_when_absent_or_empty() {
        let raw = b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: x\r\n\r\n";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.set_max_forwards(&msg, 70));
        assert_eq!(
            out,
            "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: x\r\nMax-Forwards: 70\r\n\r\n"
        );
        let raw = b"OPTIONS sip:h SIP/2.0\r\nMax-Forwards:\r\n\r\n";
        let msg = view(raw);
        let out = edit(&msg, |ed| ed.set_max_forwards(&msg, 0));
        assert_eq!(out, "OPTIONS sip:h SIP/2.0\r\nMax-Forwards:0\r\n\r\n");
    }

    #[test]
    fn request_uri_and_first_header() {
        let raw = b"INVITE sip:old@h SIP/2.0\r\nTo: <sip:x@h>\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let req = request(raw);
        let out = edit(&Message::Request(req.clone()), |ed| {
            ed.replace_request_uri(&req, b"sip:new@192.0.2.9:5080;transport=tcp");
            ed.insert_first_header(&req, b"X-First", |w| {
                w.str("1");
            });
            ed.insert_via(&req, |w| {
                w.bytes(b"SIP/2.0/TCP ")
                    .socket_addr("[2001:db8::1]:5061".parse().unwrap());
            });
            ed.add_record_route(&req, b"sip:rr;lr");
        });
        assert_eq!(
            out,
            "INVITE sip:new@192.0.2.9:5080;transport=tcp SIP/2.0\r\nX-First: 1\r\nTo: <sip:x@h>\r\n\
Via: SIP/2.0/TCP [2001:db8::1]:5061\r\nVia: SIP/2.0/UDP h\r\nRecord-Route: <sip:rr;lr>\r\n\r\n"
        );
    }

    #[test]
    fn replace_and_remove_header() {
        let raw =
            b"OPTIONS sip:h SIP/2.0\r\nSubject:  hi  \r\nProxy-Authorization: Digest x\r\n\r\n";
        let msg = view(raw);
        let subject = msg.headers().first(HeaderName::Subject).unwrap();
        let auth = msg.headers().first(HeaderName::ProxyAuthorization).unwrap();
        let out = edit(&msg, |ed| {
            ed.replace_value(&msg, &subject, |w| {
                w.str("bye");
            });
            ed.remove_header(&msg, &auth);
        });
        assert_eq!(out, "OPTIONS sip:h SIP/2.0\r\nSubject:  bye  \r\n\r\n");
    }

    #[test]
    fn byte_level_ops_sort_and_validate() {
        let src = b"0123456789";
        let mut ed = Editor::new();
        let mut out = Vec::new();
        ed.remove(2..4);
        ed.insert(8, b"b");
        ed.insert(2, b"a");
        ed.insert(2, b"A");
        ed.replace(4..5, b"__");
        ed.insert(10, b"!");
        ed.apply(src, &mut out).unwrap();
        assert_eq!(out, b"01aA__567b89!");

        ed.remove(2..5);
        ed.replace(4..6, b"x");
        assert_eq!(ed.apply(src, &mut out), Err(EditError::Overlap { at: 4 }));
        assert!(out.is_empty());

        ed.remove(8..11);
        assert_eq!(
            ed.apply(src, &mut out),
            Err(EditError::OutOfRange {
                start: 8,
                end: 11,
                len: 10
            })
        );
        #[allow(clippy::reversed_empty_ranges)]
        ed.remove(5..4);
        assert!(matches!(
            ed.apply(src, &mut out),
            Err(EditError::OutOfRange { .. })
        ));
        // Cleared after an error: the editor is usable again.
        ed.insert(0, b">");
        ed.apply(src, &mut out).unwrap();
        assert_eq!(out, b">0123456789");
    }

    #[test]
    fn detached_views_are_reported() {
        let msg = view(INVITE);
        let other = view(b"OPTIONS sip:h SIP/2.0\r\nMax-Forwards: 1\r\n\r\n");
        let mut ed = Editor::new();
        let mut out = Vec::new();
        ed.set_max_forwards(&msg, 1);
        ed.set_max_forwards(&other, 1);
        assert_eq!(ed.apply(msg.raw(), &mut out), Err(EditError::Detached));
        // Helpers on one message, apply on another.
        ed.set_max_forwards(&msg, 1);
        assert_eq!(ed.apply(other.raw(), &mut out), Err(EditError::Detached));
        // A header whose offsets lie outside the message.
        let mut bad = msg.headers().first(HeaderName::To).unwrap();
        bad.end = 10_000;
        ed.remove_header(&msg, &bad);
        assert_eq!(ed.apply(msg.raw(), &mut out), Err(EditError::Detached));
        // A header value from another buffer.
        let foreign = other.headers().first(HeaderName::MaxForwards).unwrap();
        let mut h = msg.headers().first(HeaderName::MaxForwards).unwrap();
        h.value = foreign.value;
        ed.replace_value(&msg, &h, |w| {
            w.byte(b'1');
        });
        assert_eq!(ed.apply(msg.raw(), &mut out), Err(EditError::Detached));
    }

    /// The values the editor's scanner finds, as `split_values` reports them.
    fn scanned(v: &[u8]) -> Vec<&[u8]> {
        let mut found = Vec::new();
        let mut at = next_value_start(v, 0);
        while let Some(start) = at {
            let end = list_value_end(v, start);
            found.push(charset::trim(&v[start..end]));
            at = next_value_start(v, end);
        }
        found
    }

    #[test]
    fn scanner_agrees_with_split_values() {
        const ALPHABET: &[u8] = b",\"<>\\ \r\na;";
        let check = |v: &[u8]| {
            let split: Vec<&[u8]> = crate::sip::split_values(v).collect();
            assert_eq!(scanned(v), split, "{:?}", String::from_utf8_lossy(v));
        };
        // Every string of up to 5 bytes over the interesting alphabet...
        let mut buf = Vec::new();
        for len in 0..=5u32 {
            for mut code in 0..ALPHABET.len().pow(len) {
                buf.clear();
                for _ in 0..len {
                    buf.push(ALPHABET[code % ALPHABET.len()]);
                    code /= ALPHABET.len();
                }
                check(&buf);
            }
        }
        // ...and longer pseudo-random ones.
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..20_000 {
            buf.clear();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            for _ in 0..(x % 32) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf.push(ALPHABET[x as usize % ALPHABET.len()]);
            }
            check(&buf);
        }
    }
}
