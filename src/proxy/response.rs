//! Responses (RFC 3261 §16.7, §16.11, §18.2.2; RFC 3581): check that the
//! top Via is ours, strip it, and send the rest to the next Via. No I/O.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{branch, probe};
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
    let conn = match bl_param(&top) {
        None => None,
        Some(v) => match v.and_then(|v| conn_ref(p, v, tx)) {
            Some(c) => Some(c),
            None => return Output::Drop(DropReason::NotOurVia),
        },
    };
    let next = match vias.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Output::Drop(DropReason::MalformedResponse(e)),
        // Only our Via: a reply to a health probe, or nothing to relay.
        None => {
            return match probe::reply_of(p, &top, resp.code) {
                Some(r) => Output::Probe(r),
                None => Output::Drop(DropReason::NoNextVia),
            }
        }
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

/// `top.params.get(b"bl")`, answered at once for the Via we write over
/// datagrams, whose only parameter is `branch`: when the parameter text is
/// `;branch=` followed by exactly the branch value (which the parse ended at
/// the first `;`, and which is never quoted), there is no other parameter.
fn bl_param<'a>(top: &Via<'a>) -> Option<Option<&'a [u8]>> {
    let raw = top.params.raw();
    let only_branch = raw.starts_with(b";branch=")
        && top.branch.is_some_and(|b| {
            raw.get(8..)
                .is_some_and(|v| v.as_ptr() == b.as_ptr() && v.len() == b.len())
        });
    if only_branch {
        return None;
    }
    top.params.get(b"bl")
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
    if let Some(v4) = parse_ipv4(s) {
        return Some(IpAddr::V4(v4));
    }
    let s = core::str::from_utf8(s).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Dotted-quad IPv4 as `Ipv4Addr::from_str` reads it (four decimal octets
/// up to 255, no leading zeros), without the UTF-8 check and the generic
/// parser; `None` for anything else, which [`parse_ip`] then hands to std.
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut k = 0;
    let mut n = 0u16;
    let mut digits = 0;
    for &b in s {
        match b {
            b'.' if digits > 0 && k < 3 => {
                octets[k] = n as u8;
                k += 1;
                (n, digits) = (0, 0);
            }
            // A second digit after a leading zero is refused, as std does.
            b'0'..=b'9' if digits == 0 || n > 0 => {
                n = n * 10 + u16::from(b - b'0');
                digits += 1;
                if n > 255 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    if k != 3 || digits == 0 {
        return None;
    }
    octets[3] = n as u8;
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ipv4_agrees_with_std() {
        for s in [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            ".1.2.3",
            "1.2.3.4.",
            "1.2.3.a",
            "1.2.3.+4",
            "198.51.100.7",
            "100.200.250.199",
            "999.1.1.1",
            "1.2.3.1000",
            "",
            "1",
            "0.00.0.0",
            "10.0.0.255",
            "1.2.3.-4",
            "١.2.3.4",
        ] {
            let std = s.parse::<Ipv4Addr>().ok();
            assert_eq!(parse_ipv4(s.as_bytes()), std, "{s}");
            if std.is_some() {
                assert_eq!(parse_ip(s.as_bytes()), std.map(IpAddr::V4), "{s}");
            }
        }
        assert_eq!(
            parse_ip(b"[2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn bl_param_agrees_with_params_get() {
        for v in [
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0123456789abcdef.deadbeef",
            "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK0123456789abcdef.deadbeef;bl=3.77.0a0b0c0d",
            "SIP/2.0/TCP 192.0.2.10:5060;bl=3.77.0a0b0c0d;branch=z9hG4bK0123456789abcdef.deadbeef",
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;BL",
            "SIP/2.0/UDP 192.0.2.10:5060 ; branch = z9hG4bK1",
            "SIP/2.0/UDP 192.0.2.10:5060;branch=x",
            "SIP/2.0/UDP 192.0.2.10:5060;received=1.2.3.4",
            "SIP/2.0/UDP 192.0.2.10:5060",
        ] {
            let via = Via::parse(v.as_bytes()).unwrap();
            assert_eq!(bl_param(&via), via.params.get(b"bl"), "{v}");
        }
    }
}
