//! Health probes: the OPTIONS request the prober sends to an upstream, and
//! the test that tells a reply to it from a response to relay. No I/O.
//!
//! A probe leaves from the proxy's own listener and names it in its Via,
//! exactly as a forwarded request would (so a PBX that admits the proxy
//! admits its probes), with one difference in the branch: the loop part
//! is a keyed check value of the transaction part, which here is the
//! probe's token ([`branch::probe_check`]). A reply therefore comes back to
//! the listening port like any response; its top Via is ours, and since a
//! probe has no other Via, the relay would find no next hop. That is where
//! [`super::response`] asks [`reply_of`] whether the branch is a probe's,
//! and hands the token and status to the runtime ([`super::Output::Probe`])
//! instead of counting a drop. Nothing of this runs for a response with a
//! Via to relay to.

use std::net::SocketAddr;

use super::branch;
use super::{Proxy, Transmit};
use crate::sip::via::Via;
use crate::sip::writer::Writer;
use crate::sip::{self, Message, Transport};

/// A reply to one of our probes: its token and status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReply {
    /// The token the probe was sent with ([`Proxy::write_probe`]).
    pub token: u64,
    /// The status code, 100 to 699.
    pub code: u16,
}

impl Proxy {
    /// Writes into `out` (cleared first) an OPTIONS probe of the upstream
    /// `dest` over `transport`, carrying `token` (which its reply gives
    /// back, see [`Proxy::probe_reply`]) and CSeq `seq`. The returned
    /// [`Transmit`] says which listener's address to send from: the one
    /// named in the Via.
    pub fn write_probe(
        &self,
        dest: SocketAddr,
        transport: Transport,
        token: u64,
        seq: u32,
        out: &mut Vec<u8>,
    ) -> Transmit {
        out.clear();
        let local = self.id.outgoing(dest, transport);
        let check = branch::probe_check(self.key, token);
        let mut w = Writer::new(out);
        w.bytes(b"OPTIONS sip:").socket_addr(dest);
        if transport != Transport::Udp {
            w.bytes(b";transport=").str(transport.as_param());
        }
        w.bytes(b" SIP/2.0\r\nVia: ");
        local.via_start(transport, &mut w);
        w.bytes(&branch::branch_bytes(token, check))
            .bytes(b";rport\r\nMax-Forwards: 70\r\nFrom: <sip:branchline@")
            .bytes(&local.hostport)
            .bytes(b">;tag=")
            .u64(token)
            .bytes(b"\r\nTo: <sip:")
            .socket_addr(dest)
            .bytes(b">\r\nCall-ID: probe-")
            .u64(token)
            .byte(b'@')
            .bytes(&local.host)
            .bytes(b"\r\nCSeq: ")
            .u32(seq)
            .bytes(b" OPTIONS\r\nUser-Agent: branchline/")
            .str(env!("CARGO_PKG_VERSION"))
            .bytes(b" health probe\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n");
        Transmit {
            dest,
            transport,
            conn: None,
            from: Some(local.addr),
        }
    }

    /// The token and status of `data` when it is a reply to one of our
    /// probes (a response whose only Via is ours, with a probe's branch);
    /// `None` for anything else. For the prober's own stream connections;
    /// replies over UDP arrive at the workers, whose [`Proxy::handle`] gives
    /// them as [`super::Output::Probe`].
    pub fn probe_reply(&self, data: &[u8]) -> Option<ProbeReply> {
        match sip::parse(data).ok()? {
            Message::Response(resp) => {
                let mut vias = resp.headers.vias();
                let top = vias.next()?.ok()?;
                if vias.next().is_some() || !self.id_is_us(&top) {
                    return None;
                }
                reply_of(self, &top, resp.code)
            }
            Message::Request(_) => None,
        }
    }

    fn id_is_us(&self, via: &Via<'_>) -> bool {
        self.id
            .is_us(&via.host, via.port, via.transport.default_port())
    }
}

/// The probe reply a response is, given its top Via (ours, checked by the
/// caller) and that it has no other Via.
pub(super) fn reply_of(p: &Proxy, top: &Via<'_>, code: u16) -> Option<ProbeReply> {
    let b = top.branch?;
    let token = branch::tx_part_of(b)?;
    let check = branch::loop_part_of(b)?;
    (check == branch::probe_check(p.key, token)).then_some(ProbeReply { token, code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{Config, Input, Key, Listener, Output, Scratch};
    use crate::route::{Table, Upstream};

    fn proxy() -> Proxy {
        let l = Listener {
            transport: Transport::Udp,
            addr: "127.0.0.1:5060".parse().unwrap(),
            advertise: None,
        };
        let t = Listener {
            transport: Transport::Tcp,
            addr: "127.0.0.1:5060".parse().unwrap(),
            advertise: None,
        };
        Proxy::new(Config::new(vec![l, t], Key::new(7, 9))).unwrap()
    }

    fn table() -> Table {
        Table::from_upstreams([Upstream {
            addr: "127.0.0.1:5070".parse().unwrap(),
            transport: Transport::Udp,
            weight: 1,
        }])
        .unwrap()
    }

    /// The reply a UAS writes: the request's Via, From, To (with a tag),
    /// Call-ID and CSeq copied.
    fn reply_to(probe: &str, status: &str) -> String {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for line in probe.split("\r\n").skip(1) {
            let copied = ["Via:", "From:", "Call-ID:", "CSeq:"];
            if copied.iter().any(|h| line.starts_with(h)) {
                out.push_str(line);
                out.push_str("\r\n");
            } else if line.starts_with("To:") {
                out.push_str(line);
                out.push_str(";tag=uas\r\n");
            }
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out
    }

    #[test]
    fn the_probe_is_an_options_from_our_listener() {
        let p = proxy();
        let mut out = Vec::new();
        let dest: SocketAddr = "10.0.0.12:5060".parse().unwrap();
        let tx = p.write_probe(dest, Transport::Udp, 0x1234, 7, &mut out);
        assert_eq!(tx.from, Some("127.0.0.1:5060".parse().unwrap()));
        assert_eq!(
            (tx.dest, tx.transport, tx.conn),
            (dest, Transport::Udp, None)
        );
        let text = String::from_utf8(out.clone()).unwrap();
        let check = branch::probe_check(Key::new(7, 9), 0x1234);
        let want = format!(
            "OPTIONS sip:10.0.0.12:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0000000000001234.{check:08x};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:branchline@127.0.0.1:5060>;tag=4660\r\n\
To: <sip:10.0.0.12:5060>\r\n\
Call-ID: probe-4660@127.0.0.1\r\n\
CSeq: 7 OPTIONS\r\n\
User-Agent: branchline/{} health probe\r\n\
Accept: application/sdp\r\n\
Content-Length: 0\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text, want);
        // It parses as a request of ours.
        assert!(matches!(sip::parse(&out), Ok(Message::Request(_))));
        let tcp = p.write_probe(dest, Transport::Tcp, 1, 1, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("OPTIONS sip:10.0.0.12:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch="), "{text}");
        assert_eq!(tcp.transport, Transport::Tcp);
    }

    #[test]
    fn replies_to_probes_are_recognised_on_both_paths() {
        let p = proxy();
        let mut out = Vec::new();
        let dest: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        p.write_probe(dest, Transport::Udp, 0xfeed_0000_0000_beef, 3, &mut out);
        let probe = String::from_utf8(out.clone()).unwrap();
        let ok = reply_to(&probe, "200 OK");
        let want = ProbeReply {
            token: 0xfeed_0000_0000_beef,
            code: 200,
        };
        assert_eq!(p.probe_reply(ok.as_bytes()), Some(want));
        // Through the worker's path: `handle` gives it to the runtime.
        let input = Input {
            data: ok.as_bytes(),
            source: dest,
            local: "127.0.0.1:5060".parse().unwrap(),
            transport: Transport::Udp,
            conn: None,
            now: 0,
        };
        let mut s = Scratch::new();
        let o = p.handle(&input, &table(), &mut s, &mut out);
        assert_eq!(o, Output::Probe(want));
        let busy = reply_to(&probe, "503 Service Unavailable");
        assert_eq!(p.probe_reply(busy.as_bytes()).map(|r| r.code), Some(503));
    }

    #[test]
    fn forged_or_relayable_replies_are_not_probe_replies() {
        let p = proxy();
        let mut out = Vec::new();
        let dest: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        p.write_probe(dest, Transport::Udp, 42, 1, &mut out);
        let probe = String::from_utf8(out.clone()).unwrap();
        let ok = reply_to(&probe, "200 OK");
        // Another key: the check value does not match.
        let other = Proxy::new(Config::new(
            vec![Listener {
                transport: Transport::Udp,
                addr: "127.0.0.1:5060".parse().unwrap(),
                advertise: None,
            }],
            Key::new(1, 1),
        ))
        .unwrap();
        assert_eq!(other.probe_reply(ok.as_bytes()), None);
        // A changed token.
        let forged = ok.replacen("z9hG4bK00000000000000", "z9hG4bK00000000000001", 1);
        assert_eq!(p.probe_reply(forged.as_bytes()), None);
        // A second Via: a response to relay, not a probe reply.
        let two = ok.replacen(
            ";rport\r\n",
            ";rport\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\n",
            1,
        );
        assert_eq!(p.probe_reply(two.as_bytes()), None);
        // A request.
        assert_eq!(p.probe_reply(probe.as_bytes()), None);
        assert_eq!(p.probe_reply(b"garbage"), None);
    }
}
