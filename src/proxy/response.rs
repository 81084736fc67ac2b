//! Responses (RFC 3261 §16.7, §16.11, §18.2.2; RFC 3581): check that the
//! top Via is ours, strip it, and send the rest to the next Via. No I/O.

use std::net::{IpAddr, SocketAddr};

use super::branch;
use super::{ConnRef, DropReason, Input, Output, Proxy, Transmit};
use crate::sip::edit::Editor;
use crate::sip::via::{Rport, Via};
use crate::sip::{HeaderName, Response};

pub(super) fn handle(
    p: &Proxy,
    _input: &Input<'_>,
    resp: &Response<'_>,
    ed: &mut Editor,
    out: &mut Vec<u8>,
) -> Output {
    let mut vias = resp.headers.vias();
    let top = match vias.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Output::Drop(DropReason::MalformedResponse(e)),
        None => return Output::Drop(DropReason::NoNextVia),
    };
    let Some(tx) = top.branch.and_then(branch::tx_part_of) else {
        return Output::Drop(DropReason::NotOurVia);
    };
    if !p
        .id
        .is_us(&top.host, top.port, top.transport.default_port())
    {
        return Output::Drop(DropReason::NotOurVia);
    }
    let conn = match top.params.get(b"bl") {
        None => None,
        Some(v) => match v.and_then(|v| conn_ref(p, v, tx)) {
            Some(c) => Some(c),
            None => return Output::Drop(DropReason::NotOurVia),
        },
    };
    let next = match vias.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Output::Drop(DropReason::MalformedResponse(e)),
        None => return Output::Drop(DropReason::NoNextVia),
    };
    let Some(dest) = next_hop(&next) else {
        return Output::Drop(DropReason::UnresolvableVia);
    };
    ed.remove_first_value(resp, HeaderName::Via);
    if ed.apply(resp.raw, out).is_err() {
        out.clear();
        return Output::Drop(DropReason::NotOurVia);
    }
    let transport = next.transport;
    let conn = conn.filter(|_| transport.is_stream());
    Output::Forward(Transmit {
        dest,
        transport,
        conn,
        from: Some(p.id.outgoing(dest, transport).addr),
    })
}

/// Our `bl=<worker>.<conn>.<mac>` parameter, checked against its MAC.
fn conn_ref(p: &Proxy, v: &[u8], tx: u64) -> Option<ConnRef> {
    let s = core::str::from_utf8(v).ok()?;
    let mut it = s.split('.');
    let worker: u16 = it.next()?.parse().ok()?;
    let id: u32 = it.next()?.parse().ok()?;
    let mac = u32::from_str_radix(it.next()?, 16).ok()?;
    if it.next().is_some() || mac != branch::conn_mac(p.key, worker, id, tx) {
        return None;
    }
    Some(ConnRef { worker, id })
}

/// RFC 3261 §18.2.2 with RFC 3581: `maddr`, else `received` (at the `rport`
/// port when it has a value), else the sent-by, which must be an IP here.
fn next_hop(v: &Via<'_>) -> Option<SocketAddr> {
    let default = v.transport.default_port();
    let sent_by_port = v.port.unwrap_or(default);
    if let Some(m) = v.maddr {
        let ip = parse_ip(m)?;
        return Some(SocketAddr::new(ip, sent_by_port));
    }
    let port = match v.rport {
        Rport::Value(p) => p,
        _ => sent_by_port,
    };
    let ip = match v.received {
        Some(r) => parse_ip(r)?,
        None => v.host.ip()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// An IP address in a Via parameter (`received`, `maddr`), with or without
/// the brackets of an IPv6 reference.
pub(super) fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    let s = core::str::from_utf8(s).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}
