//! The UAS side of `branchline bench`: answers INVITE with 180 and, after
//! the ring time, a final response (200, or an injected error), sends that
//! final response again until the ACK comes, answers BYE, CANCEL (487 to
//! the INVITE), OPTIONS, REGISTER and MESSAGE. With [`UasConfig::auth`],
//! INVITE, REGISTER and MESSAGE must first pass a digest challenge
//! ([`super::uas_auth`]). No I/O.
//!
//! Dialog state lives in slots found by the To tag the UAS hands out
//! (`t<slot>.<generation>`); INVITE retransmissions and CANCEL, which carry
//! no To tag yet, find theirs through a hash of the Call-ID. The INVITE and
//! the last response to it are kept in per-slot buffers reused from call to
//! call.

use core::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddr;

use super::uas_auth::{Check, UasAuth, AUTH_TAG};
use super::{parse_hex_fields, Id, Outbox};
use crate::bench::stats::{Failure, MsgKind, Stats};
use crate::bench::timer::{Fire, Retransmit, TimerConfig, TimerId, Timers, TxnKind};
use crate::bench::Nanos;
use crate::rng::Rng;
use crate::sip::build;
use crate::sip::{self, HeaderName, Message, Method, Request};

/// How the UAS answers.
#[derive(Debug, Clone)]
pub struct UasConfig {
    /// Time between the 180 and the final response (`--ring`).
    pub ring: Duration,
    /// The final response to an INVITE (`--answer-code`, normally 200).
    pub answer_code: u16,
    /// The share of INVITEs answered with `fail_code` instead
    /// (`--fail-ratio`, 0.0 to 1.0).
    pub fail_ratio: f64,
    /// The status of injected failures (e.g. 503).
    pub fail_code: u16,
    /// The Contact URI of 2xx responses.
    pub contact_uri: String,
    /// RFC 3261 timer values.
    pub timers: TimerConfig,
    /// A reliable transport (TCP): final responses are not retransmitted.
    pub reliable: bool,
    /// Seeds the choice of which INVITEs fail.
    pub seed: u64,
    /// Digest authentication of INVITE, REGISTER and MESSAGE
    /// (`--auth-realm`, `--auth-users`); `None`: every request passes.
    pub auth: Option<UasAuth>,
}

/// The UAS state machine of one worker. See the module docs.
#[derive(Debug)]
pub struct Uas {
    cfg: UasConfig,
    slots: Vec<Dialog>,
    free: Vec<u32>,
    by_call_id: HashMap<u64, u32>,
    hasher: ahash::RandomState,
    timers: Timers,
    stats: Stats,
    rng: Rng,
    /// `<contact_uri>`, the Contact value of 2xx responses.
    contact: Vec<u8>,
    /// The WWW-Authenticate values of a challenge (reused).
    challenges: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// 180 sent; the final response goes out at `ring_until`.
    Ringing,
    /// Final response sent, retransmitted until the ACK.
    WaitAck,
    /// 2xx acknowledged; waiting for the BYE.
    Confirmed,
}

#[derive(Debug)]
struct Dialog {
    generation: u32,
    state: State,
    peer: SocketAddr,
    key: u64,
    final_code: u16,
    ring_until: Option<Nanos>,
    retx: Retransmit,
    call_id: Vec<u8>,
    invite: Vec<u8>,
    /// The last response sent to the INVITE (180 or final).
    response: Vec<u8>,
}

const SDP: &[u8] = b"v=0\r\no=bench 2 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\n\
t=0 0\r\nm=audio 4002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

impl Uas {
    /// A UAS with no dialogs.
    pub fn new(cfg: UasConfig) -> Uas {
        let rng = Rng::new(cfg.seed);
        let contact = [b"<", cfg.contact_uri.as_bytes(), b">"].concat();
        Uas {
            contact,
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            by_call_id: HashMap::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
            timers: Timers::new(),
            stats: Stats::new(),
            rng,
            challenges: Vec::new(),
        }
    }

    /// What was counted so far (calls are INVITEs received).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What was counted so far, mutable (see [`super::uac::Uac::stats_mut`]).
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// Dialogs being set up or waiting for their BYE.
    pub fn open(&self) -> usize {
        self.by_call_id.len()
    }

    /// When [`Uas::on_timer`] wants to run next.
    pub fn next_timer(&mut self) -> Option<Nanos> {
        self.timers.next_deadline()
    }

    /// Handles one datagram received from `peer`; answers go to `peer`.
    pub fn handle(&mut self, datagram: &[u8], peer: SocketAddr, now: Nanos, out: &mut Outbox) {
        // Borrowed, not moved out: the parsed message holds its header list
        // inline (some 3 KB).
        let parsed = sip::parse(datagram);
        let req = match &parsed {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return self.stats.stray(),
            Err(_) => return self.stats.malformed(),
        };
        if !self.authenticated(req, peer, now, out) {
            return;
        }
        match req.method {
            Method::Invite => self.on_invite(req, peer, now, out),
            Method::Ack => self.on_ack(req),
            Method::Bye => {
                if let Some(slot) = self.by_to_tag(req) {
                    // In WaitAck the ACK was lost, but the BYE shows it was sent.
                    if matches!(
                        self.slots[slot as usize].state,
                        State::Confirmed | State::WaitAck
                    ) {
                        self.stats.call_succeeded();
                        self.release(slot);
                    }
                }
                // Also for an unknown dialog: a retransmitted BYE whose 200
                // was lost must not fail the caller's call.
                self.reply(req, 200, None, peer, out);
            }
            Method::Cancel => self.on_cancel(req, peer, now, out),
            Method::Options | Method::Message => self.reply(req, 200, None, peer, out),
            Method::Register => {
                let contact = req.headers.first(HeaderName::Contact).map(|h| h.value);
                let extra = contact.map(|c| (&b"Contact"[..], c));
                let extra = extra.as_slice();
                build::response(
                    req,
                    200,
                    "OK",
                    "",
                    Some(b"reg"),
                    extra,
                    out.next(Some(peer), 0),
                );
                self.stats.sent(MsgKind::Response);
            }
            _ => {
                let allow: &[(&[u8], &[u8])] = &[(
                    b"Allow",
                    b"INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE",
                )];
                build::response(
                    req,
                    405,
                    reason(405),
                    "",
                    None,
                    allow,
                    out.next(Some(peer), 0),
                );
                self.stats.sent(MsgKind::Response);
            }
        }
    }

    /// Runs every timer due at `now`: final responses after the ring
    /// time, retransmissions, and giving up on a missing ACK (Timer H).
    pub fn on_timer(&mut self, now: Nanos, out: &mut Outbox) {
        while let Some(TimerId(slot)) = self.timers.poll(now) {
            let d = &mut self.slots[slot as usize];
            match d.state {
                State::Ringing if d.ring_until.is_some_and(|t| t <= now) => {
                    let code = d.final_code;
                    self.answer(slot, code, None, now, out);
                }
                State::WaitAck => match d.retx.on_timer(now) {
                    Fire::Retransmit => {
                        let peer = d.peer;
                        out.next(Some(peer), slot).extend_from_slice(&d.response);
                        self.stats.retransmitted(MsgKind::Response);
                        self.arm(slot);
                    }
                    Fire::Timeout => {
                        self.stats.call_failed(Failure::Timeout);
                        self.release(slot);
                    }
                    Fire::Idle => self.arm(slot),
                },
                _ => {}
            }
        }
    }

    fn on_invite(&mut self, req: &Request<'_>, peer: SocketAddr, now: Nanos, out: &mut Outbox) {
        let Ok(call_id) = req.headers.call_id() else {
            return self.reply(req, 400, None, peer, out);
        };
        if let Some(slot) = self.by_call_id(call_id) {
            // A retransmission: repeat the last response.
            let d = &self.slots[slot as usize];
            if d.state != State::Confirmed {
                out.next(Some(peer), slot).extend_from_slice(&d.response);
                self.stats.retransmitted(MsgKind::Response);
            }
            return;
        }
        self.stats.call_started();
        let final_code = if self.rng.unit() < self.cfg.fail_ratio {
            self.cfg.fail_code
        } else {
            self.cfg.answer_code
        };
        let key = self.hasher.hash_one(call_id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Dialog {
                    generation: 0,
                    state: State::Free,
                    peer,
                    key: 0,
                    final_code: 0,
                    ring_until: None,
                    retx: Retransmit::start(TxnKind::InviteResponse, now, &self.cfg.timers, true),
                    call_id: Vec::new(),
                    invite: Vec::new(),
                    response: Vec::new(),
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.by_call_id.insert(key, slot);
        let d = &mut self.slots[slot as usize];
        d.state = State::Ringing;
        d.peer = peer;
        d.key = key;
        d.final_code = final_code;
        d.call_id.clear();
        d.call_id.extend_from_slice(call_id);
        d.invite.clear();
        d.invite.extend_from_slice(req.raw);
        self.respond(slot, 180, Some(req), out);
        if self.cfg.ring.is_zero() {
            self.answer(slot, final_code, Some(req), now, out);
        } else {
            self.slots[slot as usize].ring_until = Some(now + self.cfg.ring);
            self.arm(slot);
        }
    }

    /// True when `req` may be answered; else it was answered with a
    /// challenge (401) or a refusal (403).
    fn authenticated(
        &mut self,
        req: &Request<'_>,
        peer: SocketAddr,
        now: Nanos,
        out: &mut Outbox,
    ) -> bool {
        let Some(auth) = &self.cfg.auth else {
            return true;
        };
        let now_secs = now.0 / 1_000_000_000;
        match auth.check(req, now_secs) {
            Check::Pass => true,
            Check::Challenge { stale } => {
                auth.challenges(now_secs, stale, &mut self.challenges);
                let mut extra: [(&[u8], &[u8]); 4] = [(b"", b""); 4];
                for (e, v) in extra.iter_mut().zip(&self.challenges) {
                    *e = (b"WWW-Authenticate", v);
                }
                let n = self.challenges.len().min(extra.len());
                build::response(
                    req,
                    401,
                    reason(401),
                    "",
                    Some(AUTH_TAG),
                    &extra[..n],
                    out.next(Some(peer), 0),
                );
                self.stats.sent(MsgKind::Response);
                self.stats.challenged();
                false
            }
            Check::Reject => {
                self.reply(req, 403, Some(AUTH_TAG), peer, out);
                self.stats.rejected();
                false
            }
        }
    }

    fn on_ack(&mut self, req: &Request<'_>) {
        let Some(slot) = self.by_to_tag(req) else {
            let to_tag = req.headers.to().ok().and_then(|to| to.tag);
            if to_tag != Some(AUTH_TAG) {
                // Not the ACK of a challenge or refusal to an INVITE.
                self.stats.stray();
            }
            return;
        };
        let d = &mut self.slots[slot as usize];
        if d.state != State::WaitAck {
            // A retransmitted ACK.
            return;
        }
        d.retx.stop();
        if (200..300).contains(&d.final_code) {
            d.state = State::Confirmed;
            self.timers.cancel(TimerId(slot));
        } else {
            // The ACK ends a rejected call; the UAS side did its job.
            self.stats.call_succeeded();
            self.release(slot);
        }
    }

    fn on_cancel(&mut self, req: &Request<'_>, peer: SocketAddr, now: Nanos, out: &mut Outbox) {
        let slot = req.headers.call_id().ok().and_then(|c| self.by_call_id(c));
        match slot {
            Some(slot) if self.slots[slot as usize].state == State::Ringing => {
                self.reply(req, 200, None, peer, out);
                self.slots[slot as usize].final_code = 487;
                self.answer(slot, 487, None, now, out);
            }
            _ => self.reply(req, 481, None, peer, out),
        }
    }

    /// Sends the final response `code` to the INVITE of `slot` (`invite`
    /// when the caller has it parsed) and waits for the ACK.
    fn answer(
        &mut self,
        slot: u32,
        code: u16,
        invite: Option<&Request<'_>>,
        now: Nanos,
        out: &mut Outbox,
    ) {
        self.respond(slot, code, invite, out);
        let d = &mut self.slots[slot as usize];
        d.state = State::WaitAck;
        d.ring_until = None;
        d.retx = Retransmit::start(
            TxnKind::InviteResponse,
            now,
            &self.cfg.timers,
            self.cfg.reliable,
        );
        self.arm(slot);
    }

    /// Builds a response to the INVITE of `slot`, keeps it for
    /// retransmission and sends it. `invite` is that INVITE when the caller
    /// has it parsed; otherwise the stored copy is parsed again.
    fn respond(&mut self, slot: u32, code: u16, invite: Option<&Request<'_>>, out: &mut Outbox) {
        let d = &mut self.slots[slot as usize];
        let mut tag = Id::new(b"t");
        tag.hex(u64::from(slot), false)
            .hex(u64::from(d.generation), true);
        let tag = tag.as_bytes();
        match invite {
            Some(req) => write_response(req, code, tag, &self.contact, &mut d.response),
            None => {
                let Ok(Message::Request(req)) = &sip::parse(&d.invite) else {
                    return;
                };
                write_response(req, code, tag, &self.contact, &mut d.response);
            }
        }
        out.next(Some(d.peer), slot).extend_from_slice(&d.response);
        self.stats.sent(MsgKind::Response);
    }

    /// A stateless response to `req`.
    fn reply(
        &mut self,
        req: &Request<'_>,
        code: u16,
        to_tag: Option<&[u8]>,
        peer: SocketAddr,
        out: &mut Outbox,
    ) {
        build::response(
            req,
            code,
            reason(code),
            "",
            to_tag,
            &[],
            out.next(Some(peer), 0),
        );
        self.stats.sent(MsgKind::Response);
    }

    fn by_call_id(&self, call_id: &[u8]) -> Option<u32> {
        let slot = *self.by_call_id.get(&self.hasher.hash_one(call_id))?;
        (self.slots[slot as usize].call_id == call_id).then_some(slot)
    }

    /// The live dialog named by the request's To tag.
    fn by_to_tag(&self, req: &Request<'_>) -> Option<u32> {
        let to = req.headers.to().ok()?;
        let [slot, generation] = parse_hex_fields::<2>(to.tag?.strip_prefix(b"t")?)?;
        let d = self.slots.get(usize::try_from(slot).ok()?)?;
        (u64::from(d.generation) == generation && d.state != State::Free).then_some(slot as u32)
    }

    fn arm(&mut self, slot: u32) {
        let d = &self.slots[slot as usize];
        let at = match d.state {
            State::Ringing => d.ring_until,
            State::WaitAck => d.retx.deadline(),
            _ => None,
        };
        self.timers.set_opt(TimerId(slot), at);
    }

    fn release(&mut self, slot: u32) {
        let d = &mut self.slots[slot as usize];
        d.state = State::Free;
        d.generation = d.generation.wrapping_add(1);
        d.retx.stop();
        self.by_call_id.remove(&d.key);
        self.timers.cancel(TimerId(slot));
        self.free.push(slot);
    }
}

/// Writes into `buf` response `code` to `invite` with To tag `tag`: a 2xx
/// carries `contact` and the SDP answer.
fn write_response(invite: &Request<'_>, code: u16, tag: &[u8], contact: &[u8], buf: &mut Vec<u8>) {
    if (200..300).contains(&code) {
        build::response_with_body(
            invite,
            code,
            reason(code),
            Some(tag),
            &[(b"Contact", contact)],
            b"application/sdp",
            SDP,
            buf,
        );
    } else {
        build::response(invite, code, reason(code), "", Some(tag), &[], buf);
    }
}

/// The standard reason phrase of the codes the UAS sends.
fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Status",
    }
}
