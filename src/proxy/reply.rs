//! Stateless replies to requests (RFC 3261 §16.11 for the To-tag, §18.2.2
//! and RFC 3581 §4 for where they go): [`Replier`] carries what every reply
//! to one request shares, [`Status`] what differs. No I/O.

use std::net::SocketAddr;

use super::branch;
use super::received::SenderMark;
use super::response::parse_ip;
use super::{DropReason, Input, Output, Proxy, Transmit};
use crate::sip::via::{Rport, Via};
use crate::sip::{self, build, Error, Header, HeaderName, Headers, Method, Reaction, Request};

/// The status line and extra header lines of one stateless reply.
#[derive(Debug, Clone, Copy)]
pub(super) struct Status<'s> {
    /// The status code.
    pub(super) code: u16,
    /// The reason phrase.
    pub(super) reason: &'s str,
    /// A `Warning`-style detail naming the fault, or empty.
    pub(super) detail: &'s str,
    /// Extra header lines (name, value).
    pub(super) extra: &'s [(&'s [u8], &'s [u8])],
}

impl<'s> Status<'s> {
    /// `code reason`, with no detail and no extra lines.
    pub(super) const fn new(code: u16, reason: &'s str) -> Status<'s> {
        Status {
            code,
            reason,
            detail: "",
            extra: &[],
        }
    }

    /// The same status with `extra` header lines.
    pub(super) const fn with(self, extra: &'s [(&'s [u8], &'s [u8])]) -> Status<'s> {
        Status { extra, ..self }
    }
}

/// A stateless reply to one request under way: the proxy, the request's
/// arrival and the buffer the reply is written into.
pub(super) struct Replier<'r, 'i> {
    p: &'r Proxy,
    input: &'r Input<'i>,
    out: &'r mut Vec<u8>,
}

impl<'r, 'i> Replier<'r, 'i> {
    /// A reply to the request `input` carries, written into `out`.
    pub(super) fn new(p: &'r Proxy, input: &'r Input<'i>, out: &'r mut Vec<u8>) -> Self {
        Replier { p, input, out }
    }

    /// Answers a request that did not parse, from whatever header lines
    /// can be salvaged; without a Via there is nobody to answer, and an
    /// ACK is never answered.
    pub(super) fn unparsed(self, e: Error) -> Output {
        if self.input.data.starts_with(b"ACK ") {
            return Output::Drop(DropReason::Unanswerable(e));
        }
        let headers = sip::scan_headers(self.input.data);
        self.error(&headers, e)
    }

    /// Answers with the reply the error `e` calls for (one function maps
    /// errors to statuses: [`Error::reaction`]).
    pub(super) fn error(self, headers: &Headers<'_>, e: Error) -> Output {
        match e.reaction(true) {
            Reaction::Drop => Output::Drop(DropReason::Unanswerable(e)),
            Reaction::Reply {
                code,
                reason,
                detail,
            } => self.reply(
                headers,
                Status {
                    code,
                    reason,
                    detail,
                    extra: &[],
                },
            ),
        }
    }

    /// Refuses a parsed request for the error `e`; an ACK is dropped
    /// instead (RFC 3261 §17.2.3 has no response to ACK).
    pub(super) fn refuse(self, req: &Request<'_>, e: Error) -> Output {
        if req.method == Method::Ack {
            return Output::Drop(DropReason::Unanswerable(e));
        }
        self.error(&req.headers, e)
    }

    /// Refuses a parsed request with `status`; an ACK is dropped instead.
    pub(super) fn refuse_status(self, req: &Request<'_>, status: Status<'_>) -> Output {
        if req.method == Method::Ack {
            return Output::Drop(DropReason::AckUnroutable);
        }
        self.reply(&req.headers, status)
    }

    /// Writes a stateless reply (with our deterministic To-tag, and the
    /// sender's Via marked as the request's would be) and says where it
    /// goes. No Via → nothing to answer.
    pub(super) fn reply(self, headers: &Headers<'_>, status: Status<'_>) -> Output {
        let Replier { p, input, out } = self;
        let Some(top_raw) = headers.values(HeaderName::Via).next() else {
            return Output::Drop(DropReason::Unanswerable(Error::Missing("Via")));
        };
        let tag = local_tag(p, headers, top_raw);
        let Status {
            code,
            reason,
            detail,
            extra,
        } = status;
        build::response_to_headers(headers, code, reason, detail, Some(&tag), extra, out);
        let top = Via::parse(top_raw).ok();
        if let Some(v) = &top {
            // The copy of the top Via value in the reply: where its marks go.
            let copied = memchr::memmem::find(out, b"\r\nVia: ")
                .map(|i| i + 7)
                .filter(|&at| out.get(at..at + top_raw.len()) == Some(top_raw));
            if let Some(at) = copied {
                SenderMark::of(top_raw, v, top_raw, input.source).write_into(out, at, input.source);
            }
        }
        Output::Reply(reply_transmit(input, top.as_ref()))
    }
}

/// Our To-tag for a stateless reply to the request with these headers:
/// the same for every retransmission, so its ACK can be recognised
/// (`branch::local_tag`).
pub(super) fn local_tag(
    p: &Proxy,
    headers: &Headers<'_>,
    top_raw: &[u8],
) -> [u8; branch::LOCAL_TAG_LEN] {
    let value = |n| headers.first(n).map_or(&b""[..], |h: Header<'_>| h.value);
    branch::local_tag(
        p.key,
        top_raw,
        value(HeaderName::CallId),
        value(HeaderName::From),
        value(HeaderName::CSeq),
    )
}

/// Where a stateless reply goes (RFC 3261 §18.2.2, RFC 3581 §4): always
/// over the transport the request came on, never the one its top Via
/// names, which may differ (a phone that writes `SIP/2.0/TLS` or
/// `SIP/2.0/TCP` and sends over UDP):
///
/// * a stream: back on the connection the request came on;
/// * a datagram whose top Via names UDP: to `maddr` if present, else to
///   the source IP (`received`) at the source port when `rport` is asked
///   for, at the sent-by port (5060 by default) otherwise;
/// * a datagram whose top Via names another transport: its sent-by port
///   and `maddr` say where the sender listens for that transport (5061 by
///   default for TLS), nothing about where it takes UDP; the one address
///   known to reach it over UDP is the one the datagram came from, so the
///   reply goes to the source address and port, `rport` or not. (So does
///   a reply to a request whose top Via does not parse.)
fn reply_transmit(input: &Input<'_>, top: Option<&Via<'_>>) -> Transmit {
    let mut t = Transmit {
        dest: input.source,
        transport: input.transport,
        conn: input.conn,
        from: Some(input.local),
    };
    if input.transport.is_stream() {
        return t;
    }
    if let Some(v) = top.filter(|v| v.transport == input.transport) {
        let default = input.transport.default_port();
        if let Some(ip) = v.maddr.and_then(parse_ip) {
            t.dest = SocketAddr::new(ip, v.port.unwrap_or(default));
        } else if !matches!(v.rport, Rport::Requested | Rport::Value(_)) {
            t.dest = SocketAddr::new(input.source.ip(), v.port.unwrap_or(default));
        }
    }
    t
}
