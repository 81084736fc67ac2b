//! The syntax check a proxy applies before it forwards a request (RFC 3261
//! §16.3 item 1, §8.1.1): the headers every request needs, parsed once into
//! [`Essentials`]. No I/O.

use super::name_addr::NameAddr;
use super::uri::Uri;
use super::via::Via;
use super::{Error, Headers, Request};

/// The parsed headers every request must have.
#[derive(Debug, Clone)]
pub struct Essentials<'a> {
    /// The top Via value, parsed.
    pub top_via: Via<'a>,
    /// The top Via value as received.
    pub top_via_raw: &'a [u8],
    /// Call-ID.
    pub call_id: &'a [u8],
    /// CSeq sequence number (its method equals the request's).
    pub cseq: u32,
    /// From.
    pub from: NameAddr<'a>,
    /// To.
    pub to: NameAddr<'a>,
    /// Max-Forwards, when present.
    pub max_forwards: Option<u8>,
}

/// Checks the request's mandatory headers: Via (the top one; see
/// [`validate_request`] for all), From, To, Call-ID, CSeq (whose method must
/// match the Request-Line's), Max-Forwards when present. Content-Length was
/// already checked by [`parse`](super::parse).
#[inline(always)]
pub fn essentials<'a>(req: &Request<'a>) -> Result<Essentials<'a>, Error> {
    let m = mandatory(req, Headers::from, Headers::to)?;
    Ok(Essentials {
        top_via: m.top_via,
        top_via_raw: m.top_via_raw,
        call_id: m.call_id,
        cseq: m.cseq,
        from: m.from,
        to: m.to,
        max_forwards: m.max_forwards,
    })
}

impl<'a> Essentials<'a> {
    /// What the proxy's forwarding path checks and reads: [`essentials`]
    /// with From and To read only as far as their `tag` parameters (see
    /// [`NameAddr::parse_tag`]). The same checks in the same order, except
    /// that a malformed display name or URI in From or To is not a fault.
    ///
    /// A proxy uses the tags (the To-tag tells an in-dialog request, both
    /// identify an RFC 2543 transaction) but never the addresses, and RFC
    /// 3261 §16.3 item 1 says components it does not use "SHOULD be ignored
    /// and remain unchanged when the message is forwarded". RFC 4475 lets
    /// an element be liberal with exactly these faults (§3.1.2.14 spaces in
    /// an addr-spec, §3.1.2.15 a display name that is not a token).
    #[inline(always)]
    pub(crate) fn tags_only(req: &Request<'a>) -> Result<TagEssentials<'a>, Error> {
        mandatory(req, Headers::from_tag, Headers::to_tag)
    }
}

/// [`Essentials`] with the From and To tags in place of the addresses.
pub(crate) type TagEssentials<'a> = Mandatory<'a, Option<&'a [u8]>>;

/// The mandatory headers, with From and To as `from` and `to` read them.
#[derive(Debug, Clone)]
pub(crate) struct Mandatory<'a, A> {
    /// The top Via value, parsed.
    pub top_via: Via<'a>,
    /// The top Via value as received.
    pub top_via_raw: &'a [u8],
    /// Call-ID.
    pub call_id: &'a [u8],
    /// CSeq sequence number (its method equals the request's).
    pub cseq: u32,
    /// What `from` read of From.
    pub from: A,
    /// What `to` read of To.
    pub to: A,
    /// Max-Forwards, when present.
    pub max_forwards: Option<u8>,
}

/// The checks of [`essentials`], in its order.
#[inline(always)]
fn mandatory<'a, A>(
    req: &Request<'a>,
    from: impl FnOnce(&Headers<'a>) -> Result<A, Error>,
    to: impl FnOnce(&Headers<'a>) -> Result<A, Error>,
) -> Result<Mandatory<'a, A>, Error> {
    let h = &req.headers;
    let (top_via, top_via_raw) = h.top_via_with_raw()?;
    let from = from(h)?;
    let to = to(h)?;
    let call_id = h.call_id()?;
    let cseq = h.cseq()?;
    if cseq.method != req.method {
        return Err(Error::CSeqMismatch);
    }
    let max_forwards = h.max_forwards()?.map(|m| m.0);
    Ok(Mandatory {
        top_via,
        top_via_raw,
        call_id,
        cseq: cseq.seq,
        from,
        to,
        max_forwards,
    })
}

/// The full syntax check of a request: [`essentials`], every Via value,
/// every Route value, and the Request-URI (a `sip`/`sips`/`tel` URI
/// without headers; another scheme is [`Error::UnsupportedScheme`]).
///
/// The proxy checks the same before it forwards, except that it reads From
/// and To only as far as their tags: a malformed address there is forwarded
/// unchanged (RFC 3261 §16.3 item 1).
pub fn validate_request<'a>(req: &Request<'a>) -> Result<Essentials<'a>, Error> {
    let e = essentials(req)?;
    for v in req.headers.vias() {
        v?;
    }
    for r in req.headers.routes() {
        r?;
    }
    check_request_uri(req)?;
    Ok(e)
}

/// The Request-URI check of RFC 3261 §16.3 item 2 and §19.1.5.
pub fn check_request_uri<'a>(req: &Request<'a>) -> Result<Uri<'a>, Error> {
    match req.uri()? {
        Uri::Sip(s) if s.headers.is_some() => Err(Error::RequestUri),
        Uri::Absolute { .. } => Err(Error::UnsupportedScheme),
        u => Ok(u),
    }
}
