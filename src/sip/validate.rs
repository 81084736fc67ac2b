//! The syntax check a proxy applies before it forwards a request (RFC 3261
//! §16.3 item 1, §8.1.1): the headers every request needs, parsed once into
//! [`Essentials`]. No I/O.

use super::name_addr::NameAddr;
use super::uri::Uri;
use super::via::Via;
use super::{Error, Request};

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
    let m = mandatory(req, |a| a)?;
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
    /// [`essentials`] keeping only the From and To tags: what the proxy's
    /// forwarding path reads. The same checks, in the same order, with the
    /// same verdicts (From and To are still parsed whole, URIs included);
    /// it only spares the caller two 160-byte addresses.
    #[inline(always)]
    pub(crate) fn tags_only(req: &Request<'a>) -> Result<TagEssentials<'a>, Error> {
        mandatory(req, |a| a.tag)
    }
}

/// [`Essentials`] with the From and To tags in place of the addresses.
pub(crate) type TagEssentials<'a> = Mandatory<'a, Option<&'a [u8]>>;

/// The mandatory headers, with From and To reduced by `keep`.
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
    /// What `keep` took from From.
    pub from: A,
    /// What `keep` took from To.
    pub to: A,
    /// Max-Forwards, when present.
    pub max_forwards: Option<u8>,
}

/// The checks of [`essentials`], in its order.
#[inline(always)]
fn mandatory<'a, A>(
    req: &Request<'a>,
    keep: impl Fn(NameAddr<'a>) -> A,
) -> Result<Mandatory<'a, A>, Error> {
    let h = &req.headers;
    let (top_via, top_via_raw) = h.top_via_with_raw()?;
    let from = keep(h.from()?);
    let to = keep(h.to()?);
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

/// Everything a proxy checks before forwarding: [`essentials`], every Via
/// value, every Route value, and the Request-URI (a `sip`/`sips`/`tel` URI
/// without headers; another scheme is [`Error::UnsupportedScheme`]).
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
