//! The one-pass request path: a request written the usual way is read,
//! checked, routed and written out with its forwarding edits in one pass
//! over its header lines, without the indexed [`Headers`](crate::sip::Headers)
//! view and the recorded edits of the general path.
//!
//! It covers what most traffic is: a standard method, at most 8 Via and 4
//! Route lines (of any number of values each), a Content-Length, no
//! Proxy-Require, loose routing, and an authenticator that decides by the
//! source alone. A Route value written exactly as we write Routes to
//! ourselves is recognised by its bytes (see `Identity::is_our_route`).
//! For anything else, and for every request the proxy would answer or
//! drop instead of forward, [`forward`] returns `None` and the general
//! path (`request::handle`) runs. The decision itself (authentication
//! verdict, routing table) is the one both paths take from
//! `forward::decide*`; this path forwards only a plain forward decision. What it forwards, it forwards byte for
//! byte as the general path would: both read with the same line reader and
//! value parsers, and write with the same writers; a test and a fuzz target
//! compare the two on every input they are given.

use std::cell::OnceCell;

use memchr::memchr;

use super::branch::{self, Invariants};
use super::forward::{self, Decision, Fields, Head, Next, OurVia, Routes};
use super::received::SenderMark;
use super::{Input, Output, Proxy};
use crate::route::Table;
use crate::sip::edit;
use crate::sip::name_addr::NameAddr;
use crate::sip::uri::Uri;
use crate::sip::values::{self, CSeq, MaxForwards};
use crate::sip::via::Via;
use crate::sip::writer::Writer;
use crate::sip::{self, charset, Error, HeaderName, Line, Method};

const VIA: u8 = HeaderName::Via.slot_u8();
const ROUTE: u8 = HeaderName::Route.slot_u8();
const RECORD_ROUTE: u8 = HeaderName::RecordRoute.slot_u8();
const FROM: u8 = HeaderName::From.slot_u8();
const TO: u8 = HeaderName::To.slot_u8();
const CALL_ID: u8 = HeaderName::CallId.slot_u8();
const CSEQ: u8 = HeaderName::CSeq.slot_u8();
const MAX_FORWARDS: u8 = HeaderName::MaxForwards.slot_u8();
const CONTENT_LENGTH: u8 = HeaderName::ContentLength.slot_u8();
const PROXY_REQUIRE: u8 = HeaderName::ProxyRequire.slot_u8();
const PROXY_AUTHORIZATION: u8 = HeaderName::ProxyAuthorization.slot_u8();

/// The most Via lines, and Route lines, a request on this path may have.
const MAX_VIAS: usize = 8;
const MAX_ROUTES: usize = 4;

/// A line that no request has: the filler of the arrays below.
const NO_LINE: Line = Line {
    start: 0,
    end: 0,
    name_end: 0,
    value_start: 0,
    value_end: 0,
    slot: 0,
};

/// The header lines this path reads, gathered as the lines go by.
struct Seen {
    lines: usize,
    vias: [Line; MAX_VIAS],
    via_count: usize,
    routes: [Line; MAX_ROUTES],
    route_count: usize,
    /// Start of the first Record-Route line.
    record_route: Option<u16>,
    /// The lines of the names in [`SINGLE`], by slot.
    single: [Line; SINGLE_SLOTS],
    /// Bit `slot` set: a line of that name in [`SINGLE`] was seen.
    seen: u64,
    /// A Proxy-Authorization line was seen.
    credentials: bool,
}

/// The names this path needs exactly one line of (more goes the general
/// way), and Content-Length (needed, and its repeats are checked by the
/// line reader).
const SINGLE: u64 =
    1 << FROM | 1 << TO | 1 << CALL_ID | 1 << CSEQ | 1 << MAX_FORWARDS | 1 << CONTENT_LENGTH;
/// Room for the slots of the names in [`SINGLE`].
const SINGLE_SLOTS: usize = 10;
const _: () = assert!(
    SINGLE >> SINGLE_SLOTS == 0,
    "a slot of SINGLE past `single`"
);

impl Seen {
    fn new() -> Seen {
        Seen {
            lines: 0,
            vias: [NO_LINE; MAX_VIAS],
            via_count: 0,
            routes: [NO_LINE; MAX_ROUTES],
            route_count: 0,
            record_route: None,
            single: [NO_LINE; SINGLE_SLOTS],
            seen: 0,
            credentials: false,
        }
    }

    /// Takes one header line; an error sends the request the general way
    /// (the error itself is not used).
    #[inline(always)]
    fn push(&mut self, line: Line) -> Result<(), Error> {
        const GENERAL: Error = Error::TooManyHeaders;
        // Counted here, checked once after the last line (`near_limit`).
        self.lines += 1;
        match line.slot {
            slot if SINGLE.checked_shr(u32::from(slot)).unwrap_or(0) & 1 != 0 => {
                let bit = 1u64 << slot;
                // A second Content-Length is checked by the line reader.
                if self.seen & bit & !(1 << CONTENT_LENGTH) != 0 {
                    return Err(GENERAL);
                }
                self.seen |= bit;
                if let Some(single) = self.single.get_mut(usize::from(slot)) {
                    *single = line;
                }
            }
            VIA => {
                *self.vias.get_mut(self.via_count).ok_or(GENERAL)? = line;
                self.via_count += 1;
            }
            ROUTE => {
                *self.routes.get_mut(self.route_count).ok_or(GENERAL)? = line;
                self.route_count += 1;
            }
            RECORD_ROUTE => {
                self.record_route.get_or_insert(line.start);
            }
            PROXY_REQUIRE => return Err(GENERAL),
            PROXY_AUTHORIZATION => self.credentials = true,
            _ => {}
        }
        Ok(())
    }

    /// Near the line limit: the general path checks the forwarded result
    /// against it.
    fn near_limit(&self) -> bool {
        forward::near_line_limit(self.lines)
    }

    /// Just past the last Via line of the first run of them (the place of
    /// our Record-Route when there is none yet): lines follow each other
    /// without gaps, so the run goes on while each Via line starts where
    /// the one before ended.
    fn via_run_end(&self) -> u16 {
        let mut end = 0;
        for (k, via) in self.vias.iter().take(self.via_count).enumerate() {
            if k > 0 && via.start != end {
                break;
            }
            end = via.end;
        }
        end
    }

    /// The one line of `slot` (one of [`SINGLE`]), when there was one.
    #[inline(always)]
    fn single(&self, slot: u8) -> Option<Line> {
        let seen = self.seen & 1u64.checked_shl(u32::from(slot)).unwrap_or(0) != 0;
        self.single.get(usize::from(slot)).copied().filter(|_| seen)
    }
}

/// The value of `line` in `data`.
#[inline(always)]
fn value(data: &[u8], line: Line) -> &[u8] {
    data.get(usize::from(line.value_start)..usize::from(line.value_end))
        .unwrap_or_default()
}

/// Each value of a Via or Route line's value `v`, from offset `from` on,
/// parsed by `parse` and handed to `f` with its text (trimmed), in the
/// walk the general path's list reader makes: white space and commas
/// between values are skipped, each value ends where `parse` says. `None`
/// when a value does not parse (the general path refuses the request).
#[inline(always)]
fn each_value<'a, T>(
    v: &'a [u8],
    from: usize,
    parse: impl Fn(&'a [u8]) -> Result<(T, usize), Error>,
    mut f: impl FnMut(&T, &'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut rest = v.get(from..)?;
    loop {
        rest = rest.get(sip::list_gap(rest)..)?;
        if rest.is_empty() {
            return Some(());
        }
        // Borrowed in place: a parsed address or Via is large, and moving
        // it out of the `Result` would copy it.
        let parsed = parse(rest);
        let Ok((item, end)) = &parsed else {
            return None;
        };
        f(item, charset::trim(rest.get(..*end)?))?;
        rest = rest.get(*end..)?;
    }
}

/// One edit of the forwarded request: source bytes `start..end` become
/// what `what` says.
#[derive(Clone, Copy)]
struct Op {
    start: usize,
    end: usize,
    what: Put,
}

#[derive(Clone, Copy)]
enum Put {
    OurVia,
    SenderMark(SenderMark),
    MaxForwards(u8),
    Nothing,
    RecordRoute,
}

/// Forwards `input` in one pass when it is a request this path covers and
/// the proxy would forward it; `None` (with `out` left empty) otherwise.
#[inline(always)]
pub(super) fn forward(
    p: &Proxy,
    input: &Input<'_>,
    table: &Table,
    out: &mut Vec<u8>,
) -> Option<Output> {
    let data = input.data;
    // Responses go the general way at once.
    if data.starts_with(b"SIP/") {
        return None;
    }
    let mut seen = Seen::new();
    let scanned = sip::scan_request(data, |line| seen.push(line))?;
    let method = scanned.method;
    // Credentials the authenticator consumes are removed by the general
    // path, in one place.
    if scanned.raw.len() > p.max_message_size
        || seen.near_limit()
        || seen.single(CONTENT_LENGTH).is_none()
        || (seen.credentials && p.auth.consumed_realm().is_some())
    {
        return None;
    }

    // What `Essentials::tags_only` reads, by the same parsers: the top Via
    // is the first value of the first Via line, which must not be empty.
    let first_via = *seen.vias.first().filter(|_| seen.via_count > 0)?;
    let top_text = value(data, first_via);
    if sip::list_gap(top_text) != 0 || top_text.is_empty() {
        return None;
    }
    // Parsed values are borrowed in their `Result`s, not moved out.
    let parsed_via = Via::parse_first(top_text);
    let Ok((top_via, top_end)) = &parsed_via else {
        return None;
    };
    let top_end = *top_end;
    let top_via_raw = charset::trim(top_text.get(..top_end)?);
    let from_value = value(data, seen.single(FROM)?);
    let to_value = value(data, seen.single(TO)?);
    let from_tag = NameAddr::parse_tag(from_value, "From").ok()?;
    let to_tag = NameAddr::parse_tag(to_value, "To").ok()?;
    let call_id = values::call_id(value(data, seen.single(CALL_ID)?)).ok()?;
    let cseq = CSeq::parse(value(data, seen.single(CSEQ)?)).ok()?;
    let max_forwards = seen.single(MAX_FORWARDS)?;
    let MaxForwards(mf) = MaxForwards::parse(value(data, max_forwards)).ok()?;
    if cseq.method != method || mf == 0 {
        return None;
    }
    // Perhaps the ACK of one of our own replies.
    if method == Method::Ack && to_tag.is_some_and(branch::local_tag_shaped) {
        return None;
    }
    let parsed_uri = Uri::parse(scanned.uri_raw);
    let uri = match &parsed_uri {
        Ok(Uri::Sip(s)) if s.headers.is_some() => return None,
        Ok(Uri::Absolute { .. }) | Err(_) => return None,
        Ok(u) => u,
    };

    let inv = Invariants {
        method,
        uri_raw: scanned.uri_raw,
        top_via,
        top_via_raw,
        call_id,
        cseq: cseq.seq,
        from_tag: from_tag.unwrap_or_default(),
        to_tag,
    };
    let mut routes = Routes::default();
    let mut loop_hash = inv.loop_hash(p.key);
    for &line in seen.routes.get(..seen.route_count)? {
        let v = value(data, line);
        // A value written as we write Routes to us needs no parse.
        if let (true, [b'<', uri @ .., b'>']) = (p.id.is_our_route(v), v) {
            routes.push_ours(uri);
            loop_hash.route(v);
            continue;
        }
        let parse = |v| NameAddr::parse_first_name_addr(v, "Route");
        each_value(v, 0, parse, |r, raw| {
            routes.push(r, |s| p.uri_is_us(s));
            loop_hash.route(raw);
            Some(())
        })?;
    }
    let loop_part = loop_hash.finish();

    let to_us = matches!(uri, Uri::Sip(s) if s.user.is_none() && p.uri_is_us(s));
    // Our own OPTIONS is answered; a strict router's request is rewritten.
    if (method == Method::Options && to_us && routes.all_ours()) || (to_us && routes.count > 0) {
        return None;
    }
    if forward::is_our_loop(p, top_via, loop_part) {
        return None;
    }
    let not_a_loop = |v: &Via<'_>, _: &[u8]| (!forward::is_our_loop(p, v, loop_part)).then_some(());
    each_value(top_text, top_end, Via::parse_first, not_a_loop)?;
    for &line in seen.vias.get(1..seen.via_count)? {
        each_value(value(data, line), 0, Via::parse_first, not_a_loop)?;
    }

    // The next hop (a loose Route, an in-dialog Request-URI, or the table)
    // and the authenticator's verdict, from the shared decision point; a
    // strict router, a reply, a drop or a rewrite is for the general path.
    let ours = routes.leading_us;
    let next = forward::next_hop(p, table, &routes, ours, routes.count, uri, to_tag);
    if matches!(next, Next::Strict(..)) {
        return None;
    }
    let lines = OnceCell::new();
    let fields = Fields {
        uri,
        head: Head::Raw {
            data: scanned.raw,
            from: from_value,
            to: to_value,
            lines: &lines,
        },
    };
    let rin = forward::route_input(input, method, call_id, &fields);
    let hop = match forward::decide_by_context(p, input, next, to_tag, table, &rin)? {
        Decision::Forward { hop, rewrite: None } => hop,
        _ => return None,
    };

    // The edits, ordered below as the general path orders its own.
    let mut ops = [Op {
        start: 0,
        end: 0,
        what: Put::Nothing,
    }; 4 + MAX_ROUTES];
    let mut n = 0;
    let mut add = |start: usize, end: usize, what: Put| {
        if let Some(slot) = ops.get_mut(n) {
            *slot = Op { start, end, what };
            n += 1;
        }
    };
    let via_at = usize::from(first_via.start);
    add(via_at, via_at, Put::OurVia);
    let mark = SenderMark::of(scanned.raw, top_via, top_via_raw, input.source);
    if let Some(range) = mark.range() {
        add(range.start, range.end, Put::SenderMark(mark));
    }
    // Our Record-Route goes below the Vias, where it usually comes before
    // the edits below: added here, the edits are mostly in order already,
    // which the sort then only checks. (No two edits have the same range,
    // so the order they are added in does not change the sorted order.)
    if forward::records_route(p, method, to_tag) {
        let at = usize::from(seen.record_route.unwrap_or_else(|| seen.via_run_end()));
        add(at, at, Put::RecordRoute);
    }
    let mf_value = usize::from(max_forwards.value_start)..usize::from(max_forwards.value_end);
    add(mf_value.start, mf_value.end, Put::MaxForwards(mf - 1));
    // Our Route values go: whole lines only, as the editor removes a line
    // without a comma; the rest is left to the general path.
    let mut removed = 0;
    for &line in seen.routes.get(..seen.route_count)? {
        if removed == ours {
            break;
        }
        let v = value(data, line);
        if memchr(b',', v).is_some() {
            return None;
        }
        if v.is_empty() {
            continue;
        }
        removed += 1;
        add(usize::from(line.start), usize::from(line.end), Put::Nothing);
    }
    let ops = ops.get_mut(..n)?;
    edit::sort_edits(ops, |op| (op.start, op.end));

    let outgoing = p.id.outgoing(hop.dest, hop.transport);
    let via = OurVia {
        outgoing,
        transport: hop.transport,
        tx: inv.tx_part(p.key),
        loop_part,
    };
    let src = scanned.raw;
    // What the edits add is far below 512 bytes.
    edit::reserve_out(out, src.len() + 512);
    let mut cursor = 0;
    for op in ops.iter() {
        let Some(unchanged) = src.get(cursor..op.start) else {
            out.clear();
            return None;
        };
        out.extend_from_slice(unchanged);
        let w = &mut Writer::new(out);
        match op.what {
            Put::OurVia => via.write_line(w, p, input),
            Put::SenderMark(mark) => mark.write(w, input.source),
            Put::MaxForwards(m) => {
                w.u32(u32::from(m));
            }
            Put::Nothing => {}
            Put::RecordRoute => forward::write_record_route(w, p, input, hop, outgoing, true),
        }
        cursor = op.end;
    }
    out.extend_from_slice(src.get(cursor..).unwrap_or_default());
    // Past the size limit with our edits: the general path refuses it.
    if out.len() > p.max_message_size {
        out.clear();
        return None;
    }
    Some(Output::Forward(forward::forward_transmit(hop, outgoing)))
}
