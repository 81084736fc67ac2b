//! The caller: an INVITE client transaction (Timers A and B), ACK for
//! non-2xx (hop by hop, the INVITE's branch) and for 2xx (end to end, along
//! the route set to the callee's Contact), an optional CANCEL, a BYE (Timers
//! E and F), and the answer to the callee's BYE. Sans-IO.

use std::collections::HashMap;
use std::net::SocketAddr;

use branchline::sip::{self, build, via::Rport, Message, Method, Transport};

use super::msg::{self, Summary};
use super::{
    earliest, proxy_addr, uac_addr, NonInviteTx, Outbox, Plan, Scenario, PROXY_RR, RURI_BOB,
    RURI_HTTP, SDP_OFFER, T1, T64,
};

/// The dialog the 2xx created.
#[derive(Debug, Clone)]
struct Dialog {
    remote_tag: Vec<u8>,
    /// Route set: the Record-Route values reversed (RFC 3261 §12.1.2).
    route: Vec<Vec<u8>>,
    /// The remote target: the 2xx's Contact.
    target: Vec<u8>,
    /// Where in-dialog requests go: the first route's address.
    next_hop: SocketAddr,
}

/// The caller.
#[derive(Debug)]
pub struct Uac {
    plan: Plan,
    /// Where the UAC's datagrams come from (behind NAT: the mapping).
    pub public: SocketAddr,
    via_host: &'static str,
    via_port: u16,
    contact: String,
    from_tag: String,
    call_id: String,
    ruri: &'static [u8],
    max_forwards: u8,
    invite_branch: String,
    invite: Vec<u8>,
    timer_a: Option<u64>,
    a_interval: u64,
    timer_b: Option<u64>,
    /// Timer B fired: the INVITE got no response at all.
    pub timed_out: bool,
    /// A provisional response arrived.
    pub got_provisional: bool,
    /// The INVITE's final status.
    pub final_code: Option<u16>,
    /// The ACK (and where it goes), re-sent for each retransmitted final.
    ack: Option<(SocketAddr, Vec<u8>)>,
    /// ACKs sent (first and re-sent).
    pub acks_sent: u64,
    cancel_at: Option<u64>,
    /// The CANCEL transaction.
    pub cancel: Option<NonInviteTx>,
    dialog: Option<Dialog>,
    bye_at: Option<u64>,
    /// The BYE transaction.
    pub bye: Option<NonInviteTx>,
    /// Our 200 to the callee's BYE.
    pub callee_bye_ok: Option<Vec<u8>>,
    /// First copy of each response (CSeq, method, code): later copies must
    /// be byte-identical.
    seen: HashMap<(u32, Vec<u8>, u16), Vec<u8>>,
    /// Responses received (every copy).
    pub responses: u64,
}

impl Uac {
    /// The caller of `plan`.
    pub fn new(plan: &Plan) -> Uac {
        let (public, via_host, via_port) = if plan.nat {
            let port = 40000 + (plan.seed % 20000) as u16;
            (SocketAddr::new(uac_addr().ip(), port), "10.0.0.7", 5062)
        } else {
            (uac_addr(), "198.51.100.7", 5062)
        };
        let (ruri, max_forwards) = match plan.scenario {
            Scenario::TooManyHops => (RURI_BOB, 0),
            Scenario::BadScheme => (RURI_HTTP, 70),
            _ => (RURI_BOB, 70),
        };
        Uac {
            plan: plan.clone(),
            public,
            via_host,
            via_port,
            contact: format!("sip:alice@{via_host}:{via_port}"),
            from_tag: format!("uac-{:x}", plan.seed),
            call_id: plan.call_id(),
            ruri,
            max_forwards,
            invite_branch: format!("z9hG4bKuac{:x}i", plan.seed),
            invite: Vec::new(),
            timer_a: None,
            a_interval: T1,
            timer_b: None,
            timed_out: false,
            got_provisional: false,
            final_code: None,
            ack: None,
            acks_sent: 0,
            cancel_at: None,
            cancel: None,
            dialog: None,
            bye_at: None,
            bye: None,
            callee_bye_ok: None,
            seen: HashMap::new(),
            responses: 0,
        }
    }

    fn bye_branch(&self) -> String {
        format!("z9hG4bKuac{:x}b", self.plan.seed)
    }

    /// Writes a request of this call.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        method: Method<'static>,
        uri: &[u8],
        branch: &str,
        cseq: u32,
        max_forwards: u8,
        to_tag: Option<&[u8]>,
        routes: &[Vec<u8>],
        body: bool,
    ) -> Vec<u8> {
        let mut extra: Vec<(&[u8], &[u8])> =
            routes.iter().map(|r| (&b"Route"[..], &r[..])).collect();
        if method == Method::Invite {
            extra.push((b"Allow", b"INVITE, ACK, CANCEL, BYE, OPTIONS"));
            extra.push((b"User-Agent", b"branchline-sim"));
        }
        let mut spec = build::RequestSpec::new(
            method,
            uri,
            build::ViaSpec {
                transport: Transport::Udp,
                host: self.via_host.as_bytes(),
                port: Some(self.via_port),
                branch: branch.as_bytes(),
                rport: self.plan.rport,
            },
            build::Party {
                display: Some(b"Alice"),
                uri: b"sip:alice@example.com",
                tag: Some(self.from_tag.as_bytes()),
            },
            build::Party {
                display: None,
                uri: RURI_BOB,
                tag: to_tag,
            },
            self.call_id.as_bytes(),
            cseq,
        );
        spec.max_forwards = max_forwards;
        spec.extra = &extra;
        if method == Method::Invite {
            spec.contact = Some(self.contact.as_bytes());
        }
        if body {
            spec.content_type = Some(b"application/sdp");
            spec.body = SDP_OFFER;
        }
        let mut out = Vec::new();
        spec.write(&mut out);
        out
    }

    /// Sends the INVITE at `now`.
    pub fn start(&mut self, now: u64, out: &mut Outbox) {
        self.invite = self.request(
            Method::Invite,
            self.ruri,
            &self.invite_branch,
            1,
            self.max_forwards,
            None,
            &[],
            true,
        );
        out.push((proxy_addr(), self.invite.clone()));
        self.timer_a = Some(now + T1);
        self.timer_b = Some(now + T64);
    }

    /// The next time a timer wants to run.
    pub fn next_timer(&self) -> Option<u64> {
        [
            self.timer_a,
            self.timer_b,
            self.cancel_at,
            self.cancel.as_ref().and_then(NonInviteTx::due),
            self.bye_at,
            self.bye.as_ref().and_then(NonInviteTx::due),
        ]
        .into_iter()
        .fold(None, earliest)
    }

    /// Runs every timer due at `now`.
    pub fn on_timer(&mut self, now: u64, out: &mut Outbox) {
        if self.timer_b.is_some_and(|t| t <= now) {
            // Timer B: no response at all within 64·T1.
            self.timer_a = None;
            self.timer_b = None;
            self.timed_out = true;
        }
        if self.timer_a.is_some_and(|t| t <= now) {
            out.push((proxy_addr(), self.invite.clone()));
            self.a_interval *= 2;
            self.timer_a = Some(now + self.a_interval);
        }
        if self.cancel_at.is_some_and(|t| t <= now) {
            self.cancel_at = None;
            if self.final_code.is_none() {
                let c = self.request(
                    Method::Cancel,
                    self.ruri,
                    &self.invite_branch,
                    1,
                    70,
                    None,
                    &[],
                    false,
                );
                out.push((proxy_addr(), c.clone()));
                self.cancel = Some(NonInviteTx::new(c, proxy_addr(), now));
            }
        }
        if let Some(tx) = &mut self.cancel {
            if tx.on_timer(now) {
                out.push((tx.dest, tx.bytes.clone()));
            }
        }
        if self.bye_at.is_some_and(|t| t <= now) {
            self.bye_at = None;
            let d = self.dialog.clone().expect("BYE is planned after a 2xx");
            let b = self.request(
                Method::Bye,
                &d.target,
                &self.bye_branch(),
                2,
                70,
                Some(&d.remote_tag),
                &d.route,
                false,
            );
            out.push((d.next_hop, b.clone()));
            self.bye = Some(NonInviteTx::new(b, d.next_hop, now));
        }
        if let Some(tx) = &mut self.bye {
            if tx.on_timer(now) {
                out.push((tx.dest, tx.bytes.clone()));
            }
        }
    }

    /// Takes one datagram.
    pub fn on_datagram(
        &mut self,
        now: u64,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut Outbox,
    ) -> Result<(), String> {
        ensure!(
            from == proxy_addr(),
            "UAC got a datagram from {from}, not from the proxy"
        );
        let s = msg::summarize(bytes)?;
        ensure!(
            s.call_id == self.call_id.as_bytes(),
            "UAC got another call's message: {}",
            msg::show(bytes)
        );
        if s.is_request {
            self.on_request(&s, bytes, out)
        } else {
            self.on_response(now, &s, bytes, out)
        }
    }

    fn on_response(
        &mut self,
        now: u64,
        s: &Summary,
        bytes: &[u8],
        out: &mut Outbox,
    ) -> Result<(), String> {
        self.responses += 1;
        ensure!(
            s.vias.len() == 1,
            "{} reached the UAC with {} Vias (only ours must be left): {}",
            s.label(),
            s.vias.len(),
            msg::show(bytes)
        );
        let v = s.top_via();
        ensure!(
            v.host_raw == self.via_host.as_bytes() && v.sent_by_port() == self.via_port,
            "{} reached the UAC with another sent-by: {}",
            s.label(),
            msg::show(&s.vias[0])
        );
        if self.plan.rport {
            // RFC 3581 §4: the proxy filled in where the request came from.
            let rip = self.public.ip().to_string();
            ensure!(
                v.rport == Rport::Value(self.public.port()) && v.received == Some(rip.as_bytes()),
                "{}: Via lacks received={rip};rport={}: {}",
                s.label(),
                self.public.port(),
                msg::show(&s.vias[0])
            );
        }
        let key = (s.cseq, s.cseq_method.clone(), s.code);
        if let Some(first) = self.seen.get(&key) {
            ensure!(
                first.as_slice() == bytes,
                "copies of {} differ:\n{}\n---\n{}",
                s.label(),
                msg::show(first),
                msg::show(bytes)
            );
        } else {
            self.seen.insert(key, bytes.to_vec());
        }
        match &s.cseq_method[..] {
            b"INVITE" => self.on_invite_response(now, s, out),
            b"CANCEL" => {
                ensure!(
                    s.branch == self.invite_branch.as_bytes(),
                    "200 CANCEL with another branch"
                );
                let Some(tx) = &mut self.cancel else {
                    return Err("a response to a CANCEL never sent".into());
                };
                if s.code >= 200 {
                    ensure!(s.code == 200, "CANCEL answered {}", s.code);
                    ensure!(tx.on_final(s.code), "CANCEL got two finals");
                }
                Ok(())
            }
            b"BYE" => {
                ensure!(
                    s.branch == self.bye_branch().as_bytes(),
                    "BYE response with another branch"
                );
                let Some(tx) = &mut self.bye else {
                    return Err("a response to a BYE never sent".into());
                };
                if s.code >= 200 {
                    ensure!(s.code == 200, "BYE answered {}", s.code);
                    ensure!(tx.on_final(s.code), "BYE got two finals");
                }
                Ok(())
            }
            _ => Err(format!("UAC got an unexpected {}", s.label())),
        }
    }

    fn on_invite_response(
        &mut self,
        now: u64,
        s: &Summary,
        out: &mut Outbox,
    ) -> Result<(), String> {
        ensure!(
            s.branch == self.invite_branch.as_bytes(),
            "{} with a branch that is not the INVITE's",
            s.label()
        );
        self.timer_a = None;
        self.timer_b = None;
        if s.code < 200 {
            self.got_provisional = true;
            if s.code == 180
                && self.plan.scenario == Scenario::Cancel
                && self.cancel.is_none()
                && self.cancel_at.is_none()
                && self.final_code.is_none()
            {
                self.cancel_at = Some(now + self.plan.cancel_ms);
            }
            return Ok(());
        }
        let expected: &[u16] = match self.plan.scenario {
            Scenario::Call | Scenario::Spiral => &[200],
            Scenario::Busy => &[486],
            Scenario::Cancel => &[487, 200],
            Scenario::TooManyHops => &[483],
            Scenario::BadScheme => &[416],
            Scenario::Bounce => &[482],
        };
        ensure!(
            expected.contains(&s.code),
            "INVITE got {} in a {:?} flow",
            s.code,
            self.plan.scenario
        );
        if let Some(c) = self.final_code {
            ensure!(c == s.code, "INVITE got {c} and then {}", s.code);
            // A retransmitted final: ACK it again.
            let (dest, ack) = self.ack.clone().expect("ACK sent for the first final");
            out.push((dest, ack));
            self.acks_sent += 1;
            return Ok(());
        }
        self.final_code = Some(s.code);
        let Some(tag) = s.to_tag.clone() else {
            return Err(format!("final {} without a To tag", s.code));
        };
        let ours = tag.starts_with(b"bl");
        ensure!(
            ours == matches!(s.code, 482 | 483 | 416),
            "{} with To tag {}: the proxy's replies and only they carry its tag",
            s.code,
            msg::show(&tag)
        );
        let (dest, ack) = if s.code >= 300 {
            // RFC 3261 §17.1.1.3: same Request-URI, top Via, From, Call-ID
            // and CSeq number as the INVITE; To from the response.
            let a = self.request(
                Method::Ack,
                self.ruri,
                &self.invite_branch,
                1,
                self.max_forwards,
                Some(&tag),
                &[],
                false,
            );
            (proxy_addr(), a)
        } else {
            let Some(target) = s.contact.clone() else {
                return Err("2xx without Contact".into());
            };
            let route: Vec<Vec<u8>> = s.rr_values.iter().rev().cloned().collect();
            let want_rr = if self.plan.scenario == Scenario::Spiral {
                2
            } else {
                1
            };
            ensure!(
                route.len() == want_rr && route.iter().all(|r| r == PROXY_RR),
                "2xx Record-Route is {:?}, expected the proxy {want_rr} time(s)",
                s.rr_values.iter().map(|r| msg::show(r)).collect::<Vec<_>>()
            );
            let next_hop = msg::uri_addr(&route[0]).ok_or("Record-Route without an address")?;
            let d = Dialog {
                remote_tag: tag.clone(),
                route,
                target,
                next_hop,
            };
            let a = self.request(
                Method::Ack,
                &d.target,
                &format!("z9hG4bKuac{:x}a", self.plan.seed),
                1,
                70,
                Some(&tag),
                &d.route,
                false,
            );
            self.dialog = Some(d);
            if !self.plan.callee_bye {
                self.bye_at = Some(now + self.plan.hold_ms);
            }
            (next_hop, a)
        };
        out.push((dest, ack.clone()));
        self.acks_sent += 1;
        self.ack = Some((dest, ack));
        Ok(())
    }

    fn on_request(&mut self, s: &Summary, bytes: &[u8], out: &mut Outbox) -> Result<(), String> {
        ensure!(
            s.method == b"BYE" && self.plan.callee_bye,
            "UAC got an unexpected {}: {}",
            s.label(),
            msg::show(bytes)
        );
        let Some(d) = &self.dialog else {
            return Err("callee's BYE before the dialog exists".into());
        };
        ensure!(
            s.uri == self.contact.as_bytes(),
            "callee's BYE to {}, not to our Contact",
            msg::show(&s.uri)
        );
        ensure!(
            s.from_tag.as_ref() == Some(&d.remote_tag)
                && s.to_tag.as_deref() == Some(self.from_tag.as_bytes()),
            "callee's BYE with other dialog tags"
        );
        ensure!(
            s.routes.is_empty() && s.vias.len() == 2,
            "callee's BYE arrived with Route {:?} and {} Vias",
            s.routes.iter().map(|r| msg::show(r)).collect::<Vec<_>>(),
            s.vias.len()
        );
        let top = s.top_via();
        ensure!(
            msg::via_addr(&top) == Some(proxy_addr()) && msg::is_proxy_branch(&s.branch),
            "callee's BYE with a top Via that is not the proxy's"
        );
        if self.callee_bye_ok.is_none() {
            let Ok(Message::Request(req)) = sip::parse(bytes) else {
                unreachable!("summarized already")
            };
            let mut ok = Vec::new();
            build::response(&req, 200, "OK", "", None, &[], &mut ok);
            self.callee_bye_ok = Some(ok);
        }
        let dest = proxy_addr();
        out.push((dest, self.callee_bye_ok.clone().unwrap()));
        Ok(())
    }
}
