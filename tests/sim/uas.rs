//! The callee: 100 at once, 180 after the ring time, then 200 (with SDP) or
//! 486, retransmitting the final until ACK (Timer G, H); INVITE
//! retransmissions get the last response again; CANCEL → 200 + 487; BYE →
//! 200; an optional BYE of its own (Timers E, F). In spiral and bounce
//! flows it is also a tiny stateless forwarder that sends the INVITE back
//! through the proxy. Sans-IO.

use std::net::SocketAddr;

use branchline::sip::{self, build, Message, Method, Request, Transport};

use super::msg::{self, Summary};
use super::{
    earliest, proxy_addr, NonInviteTx, Outbox, Plan, Scenario, PROXY_RR, RURI_BOB, RURI_CAROL,
    SDP_ANSWER, SDP_OFFER, T1, T2, T64,
};

/// The INVITE server transaction and the dialog it makes.
#[derive(Debug)]
struct Invite {
    raw: Vec<u8>,
    branch: Vec<u8>,
    uac_contact: Vec<u8>,
    uac_tag: Vec<u8>,
    rr_lines: Vec<Vec<u8>>,
    rr_values: Vec<Vec<u8>>,
    /// The last response sent, re-sent for retransmitted INVITEs.
    last: Vec<u8>,
    ring_at: Option<u64>,
    answer_at: Option<u64>,
    final_code: Option<u16>,
    g_next: Option<u64>,
    g_interval: u64,
    h_deadline: u64,
}

/// The callee (one of the table's upstreams).
#[derive(Debug)]
pub struct Uas {
    plan: Plan,
    /// Its address.
    pub addr: SocketAddr,
    call_id: String,
    to_tag: String,
    contact: String,
    /// The proxy's branch on the INVITE we send back (spiral, bounce).
    outer_branch: Option<Vec<u8>>,
    /// Requests sent back through the proxy by the forwarder.
    pub bounced: u64,
    inv: Option<Invite>,
    cancel_ok: Option<Vec<u8>>,
    bye_ok: Option<Vec<u8>>,
    /// Datagrams received.
    pub received: u64,
    /// Responses sent as the UAS (every copy).
    pub responses_sent: u64,
    /// The ACK for our final arrived.
    pub got_ack: bool,
    /// The caller's BYE arrived.
    pub got_bye: bool,
    /// The CANCEL arrived.
    pub got_cancel: bool,
    bye_at: Option<u64>,
    /// Our own BYE.
    pub bye: Option<NonInviteTx>,
}

impl Uas {
    /// The callee at `addr` for `plan`.
    pub fn new(plan: &Plan, addr: SocketAddr) -> Uas {
        Uas {
            plan: plan.clone(),
            addr,
            call_id: plan.call_id(),
            to_tag: format!("uas-{:x}", plan.seed),
            contact: format!("sip:bob@{addr}"),
            outer_branch: None,
            bounced: 0,
            inv: None,
            cancel_ok: None,
            bye_ok: None,
            received: 0,
            responses_sent: 0,
            got_ack: false,
            got_bye: false,
            got_cancel: false,
            bye_at: None,
            bye: None,
        }
    }

    /// The final status of the INVITE, once sent.
    pub fn final_code(&self) -> Option<u16> {
        self.inv.as_ref().and_then(|i| i.final_code)
    }

    fn bye_branch(&self) -> String {
        format!("z9hG4bKuasbye{:x}", self.plan.seed)
    }

    /// The Via the forwarder puts on what it sends back: its branch is a
    /// function of the proxy's, so retransmissions and the ACK repeat it.
    fn forward_via(&self, proxy_branch: &[u8]) -> Vec<u8> {
        let h = proxy_branch.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("SIP/2.0/UDP {};branch=z9hG4bKsp{h:016x}", self.addr).into_bytes()
    }

    fn is_forwarder_request(&self, s: &Summary) -> bool {
        matches!(self.plan.scenario, Scenario::Spiral | Scenario::Bounce) && s.uri == RURI_BOB
    }

    /// The next time a timer wants to run.
    pub fn next_timer(&self) -> Option<u64> {
        let inv = self.inv.as_ref();
        [
            inv.and_then(|i| i.ring_at),
            inv.and_then(|i| i.answer_at),
            inv.and_then(|i| i.g_next),
            self.bye_at,
            self.bye.as_ref().and_then(NonInviteTx::due),
        ]
        .into_iter()
        .fold(None, earliest)
    }

    /// Runs every timer due at `now`.
    pub fn on_timer(&mut self, now: u64, out: &mut Outbox) {
        let plan = self.plan.clone();
        let tag = self.to_tag.clone();
        let contact = format!("<{}>", self.contact);
        if let Some(inv) = &mut self.inv {
            if inv.ring_at.is_some_and(|t| t <= now) {
                inv.ring_at = None;
                if inv.final_code.is_none() {
                    inv.last = respond_invite(inv, 180, "Ringing", &tag, &contact);
                    out.push((proxy_addr(), inv.last.clone()));
                    self.responses_sent += 1;
                    inv.answer_at = Some(now + plan.answer_ms);
                }
            }
            if inv.answer_at.is_some_and(|t| t <= now) {
                inv.answer_at = None;
                if inv.final_code.is_none() {
                    let (code, reason) = match plan.scenario {
                        Scenario::Busy => (486, "Busy Here"),
                        _ => (200, "OK"),
                    };
                    send_final(inv, code, reason, &tag, &contact, now, out);
                    self.responses_sent += 1;
                }
            }
            if inv.g_next.is_some_and(|t| t <= now) {
                if now >= inv.h_deadline {
                    // Timer H: no ACK; give up.
                    inv.g_next = None;
                } else {
                    out.push((proxy_addr(), inv.last.clone()));
                    self.responses_sent += 1;
                    inv.g_interval = (inv.g_interval * 2).min(T2);
                    inv.g_next = Some(now + inv.g_interval);
                }
            }
        }
        if self.bye_at.is_some_and(|t| t <= now) {
            self.bye_at = None;
            let (bytes, dest) = self.callee_bye();
            out.push((dest, bytes.clone()));
            self.bye = Some(NonInviteTx::new(bytes, dest, now));
        }
        if let Some(tx) = &mut self.bye {
            if tx.on_timer(now) {
                out.push((tx.dest, tx.bytes.clone()));
            }
        }
    }

    /// Our BYE: Request-URI the caller's Contact, Route the Record-Route
    /// values in order (RFC 3261 §12.1.1), to the first route.
    fn callee_bye(&self) -> (Vec<u8>, SocketAddr) {
        let inv = self.inv.as_ref().expect("BYE after the INVITE");
        let routes: Vec<(&[u8], &[u8])> = inv
            .rr_values
            .iter()
            .map(|r| (&b"Route"[..], &r[..]))
            .collect();
        let host = self.addr.ip().to_string();
        let branch = self.bye_branch();
        let mut spec = build::RequestSpec::new(
            Method::Bye,
            &inv.uac_contact,
            build::ViaSpec {
                transport: Transport::Udp,
                host: host.as_bytes(),
                port: Some(self.addr.port()),
                branch: branch.as_bytes(),
                rport: false,
            },
            build::Party {
                display: None,
                uri: RURI_BOB,
                tag: Some(self.to_tag.as_bytes()),
            },
            build::Party {
                display: Some(b"Alice"),
                uri: b"sip:alice@example.com",
                tag: Some(&inv.uac_tag),
            },
            self.call_id.as_bytes(),
            1,
        );
        spec.extra = &routes;
        let mut out = Vec::new();
        spec.write(&mut out);
        let dest = msg::uri_addr(&inv.rr_values[0]).expect("Record-Route has an address");
        (out, dest)
    }

    /// Takes one datagram.
    pub fn on_datagram(
        &mut self,
        now: u64,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut Outbox,
    ) -> Result<(), String> {
        self.received += 1;
        ensure!(
            from == proxy_addr(),
            "UAS got a datagram from {from}, not from the proxy"
        );
        ensure!(
            !matches!(
                self.plan.scenario,
                Scenario::TooManyHops | Scenario::BadScheme
            ),
            "the proxy must answer this flow itself, yet the UAS got: {}",
            msg::show(bytes)
        );
        let s = msg::summarize(bytes)?;
        ensure!(
            s.call_id == self.call_id.as_bytes(),
            "UAS got another call's message"
        );
        if !s.is_request {
            return self.on_response(&s, bytes, out);
        }
        let top = s.top_via();
        ensure!(
            msg::via_addr(&top) == Some(proxy_addr()) && msg::is_proxy_branch(&s.branch),
            "{} reached the UAS with a top Via that is not the proxy's: {}",
            s.label(),
            msg::show(&s.vias[0])
        );
        // The spiralled INVITE: through the proxy twice.
        let inner = self.plan.scenario == Scenario::Spiral
            && s.method == b"INVITE"
            && !self.is_forwarder_request(&s);
        // Every request came from the UAC (70) through the proxy once, or
        // twice after a spiral.
        let want_mf = if inner { 68 } else { 69 };
        ensure!(
            s.max_forwards == Some(want_mf),
            "{} arrived with Max-Forwards {:?}, expected {want_mf}",
            s.label(),
            s.max_forwards
        );
        match &s.method[..] {
            b"INVITE" if self.is_forwarder_request(&s) => self.bounce(&s, bytes, out),
            b"ACK" if self.is_forwarder_request(&s) => {
                ensure!(
                    self.plan.scenario == Scenario::Bounce,
                    "an ACK for the pre-spiral Request-URI"
                );
                self.bounce(&s, bytes, out)
            }
            b"INVITE" => self.on_invite(now, &s, bytes, inner, out),
            b"ACK" => self.on_ack(now, &s),
            b"CANCEL" => self.on_cancel(now, &s, bytes, out),
            b"BYE" => self.on_bye(&s, bytes, out),
            _ => Err(format!("UAS got an unexpected {}", s.label())),
        }
    }

    /// The forwarder: sends the request back through the proxy with its own
    /// Via on top, retargeted (spiral) or unchanged (bounce).
    fn bounce(&mut self, s: &Summary, bytes: &[u8], out: &mut Outbox) -> Result<(), String> {
        match &self.outer_branch {
            None => self.outer_branch = Some(s.branch.clone()),
            Some(b) => ensure!(
                *b == s.branch,
                "{} with branch {} after the INVITE's {}",
                s.label(),
                msg::show(&s.branch),
                msg::show(b)
            ),
        }
        let mut m = msg::insert_via_line(bytes, &self.forward_via(&s.branch));
        if self.plan.scenario == Scenario::Spiral {
            m = msg::replace_request_uri(&m, RURI_CAROL);
        }
        out.push((proxy_addr(), m));
        self.bounced += 1;
        Ok(())
    }

    fn on_invite(
        &mut self,
        now: u64,
        s: &Summary,
        bytes: &[u8],
        inner: bool,
        out: &mut Outbox,
    ) -> Result<(), String> {
        let want_uri = if inner { RURI_CAROL } else { RURI_BOB };
        ensure!(
            s.uri == want_uri,
            "INVITE for {}, expected {}",
            msg::show(&s.uri),
            msg::show(want_uri)
        );
        ensure!(s.body == SDP_OFFER, "the SDP offer did not arrive intact");
        let want_rr = if inner { 2 } else { 1 };
        ensure!(
            s.rr_values.len() == want_rr && s.rr_values.iter().all(|r| r == PROXY_RR),
            "INVITE with Record-Route {:?}",
            s.rr_values.iter().map(|r| msg::show(r)).collect::<Vec<_>>()
        );
        let want_vias = if inner { 4 } else { 2 };
        ensure!(
            s.vias.len() == want_vias,
            "INVITE with {} Vias, expected {want_vias}",
            s.vias.len()
        );
        if let Some(inv) = &self.inv {
            ensure!(
                inv.branch == s.branch,
                "a retransmitted INVITE came with branch {}, the first with {}",
                msg::show(&s.branch),
                msg::show(&inv.branch)
            );
            out.push((proxy_addr(), inv.last.clone()));
            self.responses_sent += 1;
            return Ok(());
        }
        let Ok(Message::Request(req)) = sip::parse(bytes) else {
            unreachable!("summarized already")
        };
        let mut trying = Vec::new();
        build::response(&req, 100, "Trying", "", None, &[], &mut trying);
        out.push((proxy_addr(), trying.clone()));
        self.responses_sent += 1;
        self.inv = Some(Invite {
            raw: bytes.to_vec(),
            branch: s.branch.clone(),
            uac_contact: s.contact.clone().ok_or("INVITE without Contact")?,
            uac_tag: s.from_tag.clone().ok_or("INVITE without From tag")?,
            rr_lines: s.rr_lines.clone(),
            rr_values: s.rr_values.clone(),
            last: trying,
            ring_at: Some(now + self.plan.ring_ms),
            answer_at: None,
            final_code: None,
            g_next: None,
            g_interval: T1,
            h_deadline: 0,
        });
        Ok(())
    }

    fn on_ack(&mut self, now: u64, s: &Summary) -> Result<(), String> {
        let Some(inv) = &mut self.inv else {
            return Err("ACK before any INVITE".into());
        };
        let Some(code) = inv.final_code else {
            return Err("ACK before the final response".into());
        };
        ensure!(
            s.to_tag.as_deref() == Some(self.to_tag.as_bytes()),
            "ACK with another To tag"
        );
        if code < 300 {
            // End to end: a new transaction, to our Contact, route set used up.
            ensure!(s.branch != inv.branch, "2xx ACK with the INVITE's branch");
            ensure!(
                s.uri == self.contact.as_bytes() && s.routes.is_empty(),
                "2xx ACK to {} with Route {:?}",
                msg::show(&s.uri),
                s.routes.iter().map(|r| msg::show(r)).collect::<Vec<_>>()
            );
            if self.plan.callee_bye && !self.got_ack {
                self.bye_at = Some(now + self.plan.hold_ms);
            }
        } else {
            // Hop by hop: the INVITE's transaction.
            ensure!(
                s.branch == inv.branch,
                "ACK for {code} with branch {}, the INVITE had {}",
                msg::show(&s.branch),
                msg::show(&inv.branch)
            );
        }
        inv.g_next = None;
        self.got_ack = true;
        Ok(())
    }

    fn on_cancel(
        &mut self,
        now: u64,
        s: &Summary,
        bytes: &[u8],
        out: &mut Outbox,
    ) -> Result<(), String> {
        ensure!(
            self.plan.scenario == Scenario::Cancel,
            "CANCEL in a {:?} flow",
            self.plan.scenario
        );
        let Some(inv) = &mut self.inv else {
            return Err("CANCEL before its INVITE".into());
        };
        ensure!(
            s.branch == inv.branch,
            "CANCEL with branch {}, the INVITE had {}",
            msg::show(&s.branch),
            msg::show(&inv.branch)
        );
        if self.cancel_ok.is_none() {
            let Ok(Message::Request(req)) = sip::parse(bytes) else {
                unreachable!("summarized already")
            };
            let mut ok = Vec::new();
            build::response(
                &req,
                200,
                "OK",
                "",
                Some(self.to_tag.as_bytes()),
                &[],
                &mut ok,
            );
            self.cancel_ok = Some(ok);
        }
        out.push((proxy_addr(), self.cancel_ok.clone().unwrap()));
        self.responses_sent += 1;
        self.got_cancel = true;
        if inv.final_code.is_none() {
            let contact = format!("<{}>", self.contact);
            send_final(
                inv,
                487,
                "Request Terminated",
                &self.to_tag,
                &contact,
                now,
                out,
            );
            self.responses_sent += 1;
        }
        Ok(())
    }

    fn on_bye(&mut self, s: &Summary, bytes: &[u8], out: &mut Outbox) -> Result<(), String> {
        ensure!(
            !self.plan.callee_bye,
            "a BYE from the caller, but we hang up"
        );
        let Some(inv) = &mut self.inv else {
            return Err("BYE before any INVITE".into());
        };
        ensure!(inv.final_code.is_some_and(|c| c < 300), "BYE without a 2xx");
        ensure!(
            s.branch != inv.branch
                && s.uri == self.contact.as_bytes()
                && s.routes.is_empty()
                && s.to_tag.as_deref() == Some(self.to_tag.as_bytes())
                && s.from_tag.as_ref() == Some(&inv.uac_tag),
            "BYE does not fit the dialog: {}",
            msg::show(bytes)
        );
        if self.bye_ok.is_none() {
            let Ok(Message::Request(req)) = sip::parse(bytes) else {
                unreachable!("summarized already")
            };
            let mut ok = Vec::new();
            build::response(&req, 200, "OK", "", None, &[], &mut ok);
            self.bye_ok = Some(ok);
        }
        out.push((proxy_addr(), self.bye_ok.clone().unwrap()));
        self.responses_sent += 1;
        // A BYE also ends the wait for the 2xx's ACK.
        inv.g_next = None;
        self.got_bye = true;
        Ok(())
    }

    fn on_response(&mut self, s: &Summary, bytes: &[u8], out: &mut Outbox) -> Result<(), String> {
        let top = s.top_via();
        if s.branch.starts_with(b"z9hG4bKsp") {
            // The forwarder's own Via: strip it, send on to the next Via.
            ensure!(
                matches!(self.plan.scenario, Scenario::Spiral | Scenario::Bounce),
                "a forwarder response in a {:?} flow",
                self.plan.scenario
            );
            ensure!(
                msg::via_addr(&top) == Some(self.addr) && s.vias.len() >= 2,
                "{} for the forwarder with Vias {:?}",
                s.label(),
                s.vias.iter().map(|v| msg::show(v)).collect::<Vec<_>>()
            );
            let m = msg::remove_first_via_line(bytes, &s.vias[0])?;
            let next = sip::via::Via::parse(&s.vias[1]).map_err(|e| format!("{e}"))?;
            ensure!(
                msg::via_addr(&next) == Some(proxy_addr()),
                "the forwarder's next Via is not the proxy"
            );
            out.push((proxy_addr(), m));
            return Ok(());
        }
        ensure!(
            s.cseq_method == b"BYE" && s.branch == self.bye_branch().as_bytes(),
            "UAS got an unexpected {}: {}",
            s.label(),
            msg::show(bytes)
        );
        ensure!(
            s.vias.len() == 1 && msg::via_addr(&top) == Some(self.addr),
            "response to our BYE with Vias {:?}",
            s.vias.iter().map(|v| msg::show(v)).collect::<Vec<_>>()
        );
        let Some(tx) = &mut self.bye else {
            return Err("a response to a BYE never sent".into());
        };
        if s.code >= 200 {
            ensure!(s.code == 200, "our BYE got {}", s.code);
            ensure!(tx.on_final(s.code), "our BYE got two finals");
        }
        Ok(())
    }
}

/// A response to the INVITE; 1xx-2xx carry Record-Route and Contact.
fn respond_invite(inv: &Invite, code: u16, reason: &str, tag: &str, contact: &str) -> Vec<u8> {
    let Ok(Message::Request(req)) = sip::parse(&inv.raw) else {
        unreachable!("the INVITE parsed when it arrived")
    };
    respond(&req, inv, code, reason, tag, contact)
}

fn respond(
    req: &Request<'_>,
    inv: &Invite,
    code: u16,
    reason: &str,
    tag: &str,
    contact: &str,
) -> Vec<u8> {
    let mut extra: Vec<(&[u8], &[u8])> = Vec::new();
    if code < 300 {
        for rr in &inv.rr_lines {
            extra.push((b"Record-Route", rr));
        }
        extra.push((b"Contact", contact.as_bytes()));
    }
    let mut out = Vec::new();
    build::response(
        req,
        code,
        reason,
        "",
        Some(tag.as_bytes()),
        &extra,
        &mut out,
    );
    if code == 200 {
        out = msg::with_body(out, b"application/sdp", SDP_ANSWER);
    }
    out
}

/// Sends a final response and starts Timer G (and H).
fn send_final(
    inv: &mut Invite,
    code: u16,
    reason: &str,
    tag: &str,
    contact: &str,
    now: u64,
    out: &mut Outbox,
) {
    inv.final_code = Some(code);
    inv.ring_at = None;
    inv.answer_at = None;
    inv.last = respond_invite(inv, code, reason, tag, contact);
    out.push((proxy_addr(), inv.last.clone()));
    inv.g_interval = T1;
    inv.g_next = Some(now + T1);
    inv.h_deadline = now + T64;
}
