//! The UAC side of `branchline bench`: places calls (INVITE → 1xx → 200 →
//! ACK → hold → BYE → 200), registrations, OPTIONS probes and MESSAGEs, and
//! measures them into [`Stats`]. No I/O.
//!
//! With a [`DigestSigner`], each call takes the signer's next user in turn
//! (the From user, and for a REGISTER the To user too) and answers one
//! 401/407 digest challenge to its first request: the request is sent
//! again with CSeq + 1 and the Authorization (401) or Proxy-Authorization
//! (407) header; an INVITE's challenge is acknowledged first, like any
//! error response. Of several challenges in a response (one header per
//! algorithm), the first the signer can answer is answered.
//!
//! Per call the UAC keeps one slot: its state, the running transaction's
//! [`Retransmit`] schedule and the dialog's To tag, remote target and route
//! set in buffers reused from call to call. Requests are rebuilt from that
//! state when retransmitted, so no copy of them is kept.
//!
//! With [`UacConfig::numbers`] (`--to`), a call draws its number when it
//! starts, from the UAC's own [`Rng`] seeded by [`UacConfig::number_seed`],
//! and keeps its Request-URI and To URI with that number in its slot: every
//! request of the call (the INVITE and its retransmissions, the ACK, the
//! BYE) carries the one number.

use core::time::Duration;

use super::{msg_kind, parse_hex_fields, Id, Outbox};
use crate::bench::number::Numbers;
use crate::bench::stats::{Failure, Latency, MsgKind, Stats};
use crate::bench::timer::{Fire, Retransmit, TimerConfig, TimerId, Timers, TxnKind};
use crate::bench::Nanos;
use crate::rng::Rng;
use crate::sip::build::{Party, RequestSpec, ViaSpec};
use crate::sip::credentials::Challenge;
use crate::sip::name_addr::Contact;
use crate::sip::{self, HeaderName, Message, Method, Response, Transport};

/// What one UAC "call" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// INVITE → 1xx → 200 → ACK → hold → BYE → 200.
    Call,
    /// REGISTER → (401/407 → REGISTER with credentials) → 200.
    Register,
    /// OPTIONS → 200.
    Options,
    /// MESSAGE → 200.
    Message,
}

impl Scenario {
    /// The latency shown on the progress line for this scenario.
    pub fn headline(self) -> Latency {
        match self {
            Scenario::Call => Latency::InviteAnswer,
            Scenario::Register => Latency::Register,
            Scenario::Options => Latency::Options,
            Scenario::Message => Latency::Message,
        }
    }

    fn method(self) -> Method<'static> {
        match self {
            Scenario::Call => Method::Invite,
            Scenario::Register => Method::Register,
            Scenario::Options => Method::Options,
            Scenario::Message => Method::Message,
        }
    }
}

/// Answers digest challenges (RFC 3261 §22.4, RFC 7616) for a list of
/// users. The digest computation lives outside the harness
/// ([`crate::bench::digest::Signer`]); the UAC only asks for the header
/// value.
pub trait DigestSigner: Send {
    /// How many users it signs for; calls take them in turn.
    fn users(&self) -> usize;

    /// The username of user `i` (the From user of the calls that take it).
    fn user(&self, i: usize) -> &str;

    /// Writes into `out` (cleared first) the value of the Authorization
    /// or Proxy-Authorization header with which user `user` answers
    /// `challenge` for a request `method` to `uri`. False when it cannot
    /// (an algorithm or qop it does not know, no realm or nonce): the UAC
    /// then tries the response's next challenge, and the call fails with
    /// the challenge's status when none is left.
    fn sign(
        &self,
        user: usize,
        challenge: &Challenge<'_>,
        method: &[u8],
        uri: &[u8],
        out: &mut Vec<u8>,
    ) -> bool;
}

/// How the UAC builds its requests.
#[derive(Debug, Clone)]
pub struct UacConfig {
    /// What a call is.
    pub scenario: Scenario,
    /// The Request-URI of out-of-dialog requests, e.g. `sip:bench@10.0.0.1:5060`.
    pub request_uri: String,
    /// The From URI (REGISTER: the address of record).
    pub from_uri: String,
    /// The To URI (REGISTER: the same address of record).
    pub to_uri: String,
    /// The Contact URI, e.g. `sip:bench@10.0.0.2:5070`.
    pub contact_uri: String,
    /// The preloaded route set of out-of-dialog requests (`--route`), as
    /// one Route value list (`<sip:10.0.0.1;lr>, <sip:10.0.0.2;lr>`), or
    /// empty: what a phone with an outbound proxy sends. The ACK for an
    /// error repeats it (RFC 3261 §17.1.1.3); requests in a dialog follow
    /// the dialog's route set instead.
    pub route: String,
    /// Via sent-by host.
    pub via_host: String,
    /// Via sent-by port.
    pub via_port: Option<u16>,
    /// The transport named in the Via; TCP turns retransmissions off.
    pub transport: Transport,
    /// Time between the ACK and the BYE (`--hold`).
    pub hold: Duration,
    /// A transaction fails when its final response has not come this long
    /// after its first transmission (`--timeout`).
    pub timeout: Duration,
    /// RFC 3261 timer values.
    pub timers: TimerConfig,
    /// Expires of REGISTER requests, in seconds.
    pub register_expires: u32,
    /// Distinguishes this run and worker in Call-IDs and branches (the shell
    /// derives it from the time and the worker number).
    pub seed: u64,
    /// Numbers to dial (`--to`). When there is one pattern or more, each
    /// call (not a REGISTER, whose user is the address of record) draws a
    /// number as it starts, and the number replaces the user part of
    /// `request_uri` and `to_uri` in every request of the call. None: the
    /// URIs as they are.
    pub numbers: Numbers,
    /// Seeds the draws of `numbers`, so the same seed dials the same
    /// numbers in the same order (`--seed`; the shell gives each leg its
    /// own).
    pub number_seed: u64,
}

/// The UAC state machine of one worker. See the module docs.
pub struct Uac {
    cfg: UacConfig,
    signer: Option<Box<dyn DigestSigner>>,
    calls: Vec<Call>,
    free: Vec<u32>,
    open: u32,
    timers: Timers,
    stats: Stats,
    /// Draws the calls' numbers.
    rng: Rng,
    /// The number being drawn (reused).
    number: Vec<u8>,
    /// The signer's user the next call takes.
    next_user: usize,
}

impl core::fmt::Debug for Uac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Uac")
            .field("cfg", &self.cfg)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// INVITE sent, no final response yet.
    Inviting,
    /// ACK sent; BYE at `hold_until`.
    Holding,
    /// BYE sent.
    Byeing,
    /// REGISTER, OPTIONS or MESSAGE sent.
    Single,
}

#[derive(Debug)]
struct Call {
    generation: u32,
    state: State,
    /// CSeq number of the running transaction.
    cseq: u32,
    /// CSeq number of the last INVITE (for its ACK).
    invite_cseq: u32,
    /// The signer's user this call signs as.
    user: usize,
    /// First transmission of the running transaction.
    sent_at: Nanos,
    retx: Retransmit,
    /// `--timeout` of the running transaction.
    deadline: Option<Nanos>,
    hold_until: Option<Nanos>,
    got_response: bool,
    got_ringing: bool,
    /// The dialog: To tag, remote target (Contact) and route set.
    to_tag: Vec<u8>,
    target: Vec<u8>,
    route: Vec<u8>,
    auth: Vec<u8>,
    auth_header: &'static [u8],
    /// The call's Request-URI and To URI with its number (`--to`), and
    /// its From URI with its user (a signer's), or empty for the
    /// configured ones.
    request_uri: Vec<u8>,
    to_uri: Vec<u8>,
    from_uri: Vec<u8>,
}

/// Which request of a call to (re)build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    /// The scenario's initial request.
    Initial,
    /// ACK for a 2xx (its own transaction).
    Ack2xx,
    /// ACK for a non-2xx final response (part of the INVITE transaction).
    AckError,
    /// BYE.
    Bye,
}

const SDP: &[u8] = b"v=0\r\no=bench 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n";
const MESSAGE_BODY: &[u8] = b"branchline bench";

impl Uac {
    /// A UAC with no open calls. `signer` answers digest challenges (see
    /// the module docs); without one a 401/407 fails the call.
    pub fn new(cfg: UacConfig, signer: Option<Box<dyn DigestSigner>>) -> Uac {
        Uac {
            rng: Rng::new(cfg.number_seed),
            cfg,
            signer,
            calls: Vec::new(),
            free: Vec::new(),
            open: 0,
            timers: Timers::new(),
            stats: Stats::new(),
            number: Vec::new(),
            next_user: 0,
        }
    }

    /// Calls in progress.
    pub fn open(&self) -> u32 {
        self.open
    }

    /// What was measured so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What was measured so far, for the shell to add transport errors or
    /// to swap out once a second.
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// When [`Uac::on_timer`] wants to run next.
    pub fn next_timer(&mut self) -> Option<Nanos> {
        self.timers.next_deadline()
    }

    /// Starts one call at `now`: its first request goes into `out`.
    /// Returns the call's slot.
    pub fn start(&mut self, now: Nanos, out: &mut Outbox) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.calls.push(Call {
                    generation: 0,
                    state: State::Free,
                    cseq: 0,
                    invite_cseq: 0,
                    user: 0,
                    sent_at: now,
                    retx: Retransmit::start(TxnKind::NonInvite, now, &self.cfg.timers, true),
                    deadline: None,
                    hold_until: None,
                    got_response: false,
                    got_ringing: false,
                    to_tag: Vec::new(),
                    target: Vec::new(),
                    route: Vec::new(),
                    auth: Vec::new(),
                    auth_header: b"Authorization",
                    request_uri: Vec::new(),
                    to_uri: Vec::new(),
                    from_uri: Vec::new(),
                });
                (self.calls.len() - 1) as u32
            }
        };
        let call = &mut self.calls[slot as usize];
        call.state = match self.cfg.scenario {
            Scenario::Call => State::Inviting,
            _ => State::Single,
        };
        call.cseq = 1;
        call.hold_until = None;
        call.got_response = false;
        call.got_ringing = false;
        call.to_tag.clear();
        call.target.clear();
        call.route.clear();
        call.auth.clear();
        call.request_uri.clear();
        call.to_uri.clear();
        call.from_uri.clear();
        if let Some(signer) = self.signer.as_deref().filter(|s| s.users() > 0) {
            call.user = self.next_user % signer.users();
            self.next_user = call.user + 1;
            let user = signer.user(call.user).as_bytes();
            with_user(self.cfg.from_uri.as_bytes(), user, &mut call.from_uri);
            if self.cfg.scenario == Scenario::Register {
                with_user(self.cfg.to_uri.as_bytes(), user, &mut call.to_uri);
            }
        }
        if !self.cfg.numbers.is_empty() && self.cfg.scenario != Scenario::Register {
            self.number.clear();
            self.cfg.numbers.draw(&mut self.rng, &mut self.number);
            with_user(
                self.cfg.request_uri.as_bytes(),
                &self.number,
                &mut call.request_uri,
            );
            with_user(self.cfg.to_uri.as_bytes(), &self.number, &mut call.to_uri);
        }
        self.open += 1;
        self.stats.call_started();
        self.begin(slot, Req::Initial, now, out);
        slot
    }

    /// Handles one datagram received at `now`.
    pub fn handle(&mut self, datagram: &[u8], now: Nanos, out: &mut Outbox) {
        self.handle_at(datagram, now, now, out);
    }

    /// Handles at `now` one datagram that arrived earlier, at `received`
    /// (the kernel's receive timestamp, for a shell that reads its sockets
    /// once per pacing tick): latencies end at `received`, while the
    /// requests it causes (ACK, BYE, a signed REGISTER) are sent, and
    /// their timers start, at `now`.
    pub fn handle_at(&mut self, datagram: &[u8], received: Nanos, now: Nanos, out: &mut Outbox) {
        let received = received.min(now);
        // Matched by reference: moving the parsed message out would copy
        // its inline header list (some 3 KB).
        match &sip::parse(datagram) {
            Ok(Message::Response(resp)) => self.on_response(resp, received, now, out),
            // The UAC answers no requests.
            Ok(Message::Request(_)) => self.stats.stray(),
            Err(_) => self.stats.malformed(),
        }
    }

    /// Runs every timer due at `now`: retransmissions, timeouts, BYEs
    /// after the hold time.
    pub fn on_timer(&mut self, now: Nanos, out: &mut Outbox) {
        while let Some(TimerId(slot)) = self.timers.poll(now) {
            let call = &mut self.calls[slot as usize];
            if call.deadline.is_some_and(|d| d <= now) {
                self.fail(slot, Failure::Timeout);
                continue;
            }
            if call.state == State::Holding && call.hold_until.is_some_and(|t| t <= now) {
                call.cseq += 1;
                call.state = State::Byeing;
                call.hold_until = None;
                self.begin(slot, Req::Bye, now, out);
                continue;
            }
            match call.retx.on_timer(now) {
                Fire::Retransmit => {
                    let req = if call.state == State::Byeing {
                        Req::Bye
                    } else {
                        Req::Initial
                    };
                    self.write(slot, req, out);
                    self.stats.retransmitted(self.kind_of(req));
                }
                Fire::Timeout => {
                    self.fail(slot, Failure::Timeout);
                    continue;
                }
                Fire::Idle => {}
            }
            self.arm(slot);
        }
    }

    /// The shell could not send a datagram of call `slot` (or its TCP
    /// connection failed): the call fails with [`Failure::Transport`].
    pub fn transport_error(&mut self, slot: u32) {
        if self
            .calls
            .get(slot as usize)
            .is_some_and(|c| c.state != State::Free)
        {
            self.fail(slot, Failure::Transport);
        }
    }

    /// Ends every open call as [`Failure::Aborted`] (the run is over).
    pub fn abort_all(&mut self) {
        for slot in 0..self.calls.len() as u32 {
            if self.calls[slot as usize].state != State::Free {
                self.fail(slot, Failure::Aborted);
            }
        }
    }

    fn on_response(&mut self, resp: &Response<'_>, received: Nanos, now: Nanos, out: &mut Outbox) {
        let (Some(slot), Ok(cseq)) = (self.find(resp), resp.headers.cseq()) else {
            self.stats.stray();
            return;
        };
        let call = &mut self.calls[slot as usize];
        let code = resp.code;
        match (call.state, cseq.method) {
            (State::Inviting, Method::Invite) if cseq.seq == call.cseq => {
                if !call.got_response {
                    call.got_response = true;
                    self.stats
                        .record_span(Latency::InviteFirstResponse, call.sent_at, received);
                }
                if code == 180 && !call.got_ringing {
                    call.got_ringing = true;
                    self.stats
                        .record_span(Latency::InviteRinging, call.sent_at, received);
                }
                if code < 200 {
                    call.retx.on_provisional();
                    self.arm(slot);
                    return;
                }
                call.retx.stop();
                set_to_tag(call, resp);
                if code >= 300 {
                    self.write(slot, Req::AckError, out);
                    self.stats.sent(MsgKind::Ack);
                    self.retry_or_fail(slot, resp, now, out);
                    return;
                }
                self.stats
                    .record_span(Latency::InviteAnswer, call.sent_at, received);
                if call.to_tag.is_empty() {
                    self.fail(slot, Failure::Protocol);
                    return;
                }
                set_dialog(call, resp);
                self.write(slot, Req::Ack2xx, out);
                self.stats.sent(MsgKind::Ack);
                let call = &mut self.calls[slot as usize];
                call.deadline = None;
                if self.cfg.hold.is_zero() {
                    call.cseq += 1;
                    call.state = State::Byeing;
                    self.begin(slot, Req::Bye, now, out);
                } else {
                    call.state = State::Holding;
                    call.hold_until = Some(now + self.cfg.hold);
                    self.arm(slot);
                }
            }
            // A retransmitted 2xx: our ACK was lost; send it again.
            (State::Holding | State::Byeing, Method::Invite)
                if (200..300).contains(&code) && cseq.seq == call.invite_cseq =>
            {
                self.write(slot, Req::Ack2xx, out);
                self.stats.retransmitted(MsgKind::Ack);
            }
            (State::Byeing, Method::Bye) if cseq.seq == call.cseq => {
                if code < 200 {
                    call.retx.on_provisional();
                    self.arm(slot);
                } else if code < 300 {
                    self.stats.record_span(Latency::Bye, call.sent_at, received);
                    self.succeed(slot);
                } else {
                    self.fail(slot, Failure::Status(code));
                }
            }
            (State::Single, m) if m == self.cfg.scenario.method() && cseq.seq == call.cseq => {
                if code < 200 {
                    call.retx.on_provisional();
                    self.arm(slot);
                } else if code < 300 {
                    let kind = self.cfg.scenario.headline();
                    self.stats.record_span(kind, call.sent_at, received);
                    self.succeed(slot);
                } else {
                    self.retry_or_fail(slot, resp, now, out);
                }
            }
            _ => self.stats.stray(),
        }
    }

    /// The open call a response belongs to, from its Call-ID.
    fn find(&self, resp: &Response<'_>) -> Option<u32> {
        let call_id = resp.headers.call_id().ok()?;
        let local = call_id.strip_suffix(b"@bl")?;
        let [seed, slot, generation] = parse_hex_fields::<3>(local)?;
        let call = self.calls.get(usize::try_from(slot).ok()?)?;
        (seed == self.cfg.seed
            && u64::from(call.generation) == generation
            && call.state != State::Free)
            .then_some(slot as u32)
    }

    /// After the final error response `resp` to the call's first request
    /// (and, for an INVITE, its ACK): sends the request again with
    /// credentials when `resp` is the first challenge and the signer can
    /// answer it, else fails the call with its status.
    fn retry_or_fail(&mut self, slot: u32, resp: &Response<'_>, now: Nanos, out: &mut Outbox) {
        let first = self.calls[slot as usize].auth.is_empty();
        if (resp.code == 401 || resp.code == 407) && first && self.sign(slot, resp) {
            self.calls[slot as usize].cseq += 1;
            self.begin(slot, Req::Initial, now, out);
        } else {
            self.fail(slot, Failure::Status(resp.code));
        }
    }

    /// Answers the first challenge of `resp` the signer can answer, into
    /// the call's auth buffer.
    fn sign(&mut self, slot: u32, resp: &Response<'_>) -> bool {
        let Some(signer) = &self.signer else {
            return false;
        };
        let (challenge_name, auth_header): (_, &'static [u8]) = if resp.code == 407 {
            (HeaderName::ProxyAuthenticate, b"Proxy-Authorization")
        } else {
            (HeaderName::WwwAuthenticate, b"Authorization")
        };
        let call = &mut self.calls[slot as usize];
        let method = self.cfg.scenario.method().as_bytes();
        let uri = or_configured(&call.request_uri, &self.cfg.request_uri);
        let signed = resp
            .headers
            .all(challenge_name)
            .filter_map(|h| Challenge::parse(h.value).ok())
            .filter(|c| c.is_digest())
            .any(|c| signer.sign(call.user, &c, method, uri, &mut call.auth));
        if !signed {
            call.auth.clear();
        }
        call.auth_header = auth_header;
        signed && !call.auth.is_empty()
    }

    /// Sends the first transmission of a new transaction and arms its
    /// timers.
    fn begin(&mut self, slot: u32, req: Req, now: Nanos, out: &mut Outbox) {
        let kind = if req == Req::Initial && self.cfg.scenario == Scenario::Call {
            TxnKind::Invite
        } else {
            TxnKind::NonInvite
        };
        let reliable = self.cfg.transport.is_stream();
        let call = &mut self.calls[slot as usize];
        if kind == TxnKind::Invite {
            call.invite_cseq = call.cseq;
        }
        call.sent_at = now;
        call.retx = Retransmit::start(kind, now, &self.cfg.timers, reliable);
        call.deadline = Some(now + self.cfg.timeout);
        self.write(slot, req, out);
        self.stats.sent(self.kind_of(req));
        self.arm(slot);
    }

    fn kind_of(&self, req: Req) -> MsgKind {
        match req {
            Req::Initial => msg_kind(self.cfg.scenario.method()).unwrap_or(MsgKind::Invite),
            Req::Ack2xx | Req::AckError => MsgKind::Ack,
            Req::Bye => MsgKind::Bye,
        }
    }

    fn arm(&mut self, slot: u32) {
        let call = &self.calls[slot as usize];
        let at = [call.retx.deadline(), call.deadline, call.hold_until]
            .into_iter()
            .flatten()
            .min();
        self.timers.set_opt(TimerId(slot), at);
    }

    fn succeed(&mut self, slot: u32) {
        self.stats.call_succeeded();
        self.release(slot);
    }

    fn fail(&mut self, slot: u32, why: Failure) {
        self.stats.call_failed(why);
        self.release(slot);
    }

    fn release(&mut self, slot: u32) {
        let call = &mut self.calls[slot as usize];
        call.state = State::Free;
        call.generation = call.generation.wrapping_add(1);
        call.retx.stop();
        call.deadline = None;
        self.timers.cancel(TimerId(slot));
        self.free.push(slot);
        self.open -= 1;
    }

    /// Builds request `req` of call `slot` into a new datagram of `out`.
    fn write(&self, slot: u32, req: Req, out: &mut Outbox) {
        let cfg = &self.cfg;
        let call = &self.calls[slot as usize];
        let generation = u64::from(call.generation);
        let mut call_id = Id::new(b"");
        call_id
            .hex(cfg.seed, false)
            .hex(u64::from(slot), true)
            .hex(generation, true)
            .push(b"@bl");
        let mut from_tag = Id::new(b"f");
        from_tag.hex(u64::from(slot), false).hex(generation, true);
        // ACK for a 2xx is a transaction of its own; ACK for an error
        // reuses the INVITE's branch.
        let mut branch = Id::new(b"z9hG4bK");
        branch
            .hex(cfg.seed, false)
            .hex(u64::from(slot), true)
            .hex(generation, true)
            .hex(u64::from(call.cseq), true);
        if req == Req::Ack2xx {
            branch.push(b".a");
        }
        let (method, cseq) = match req {
            Req::Initial => (cfg.scenario.method(), call.cseq),
            Req::Ack2xx | Req::AckError => (Method::Ack, call.invite_cseq),
            Req::Bye => (Method::Bye, call.cseq),
        };
        let in_dialog = matches!(req, Req::Ack2xx | Req::Bye);
        let request_uri = or_configured(&call.request_uri, &cfg.request_uri);
        let uri = if in_dialog && !call.target.is_empty() {
            &call.target[..]
        } else {
            request_uri
        };
        let to_tag = (!call.to_tag.is_empty() && req != Req::Initial).then_some(&call.to_tag[..]);
        let mut spec = RequestSpec::new(
            method,
            uri,
            ViaSpec {
                transport: cfg.transport,
                host: cfg.via_host.as_bytes(),
                port: cfg.via_port,
                branch: branch.as_bytes(),
                rport: true,
            },
            Party {
                display: None,
                uri: or_configured(&call.from_uri, &cfg.from_uri),
                tag: Some(from_tag.as_bytes()),
            },
            Party {
                display: None,
                uri: or_configured(&call.to_uri, &cfg.to_uri),
                tag: to_tag,
            },
            call_id.as_bytes(),
            cseq,
        );
        let mut expires = Id::new(b"");
        let mut extra: [(&[u8], &[u8]); 3] = [(b"", b""); 3];
        let mut n = 0;
        let route = if in_dialog {
            &call.route[..]
        } else {
            cfg.route.as_bytes()
        };
        if !route.is_empty() {
            extra[n] = (b"Route", route);
            n += 1;
        }
        if req == Req::Initial && !call.auth.is_empty() {
            extra[n] = (call.auth_header, &call.auth);
            n += 1;
        }
        match (req, cfg.scenario) {
            (Req::Initial, Scenario::Call) => {
                spec.contact = Some(cfg.contact_uri.as_bytes());
                spec.content_type = Some(b"application/sdp");
                spec.body = SDP;
            }
            (Req::Initial, Scenario::Register) => {
                spec.contact = Some(cfg.contact_uri.as_bytes());
                expires.push(u64_dec(u64::from(cfg.register_expires)).as_bytes());
                extra[n] = (b"Expires", expires.as_bytes());
                n += 1;
            }
            (Req::Initial, Scenario::Message) => {
                spec.content_type = Some(b"text/plain");
                spec.body = MESSAGE_BODY;
            }
            _ => {}
        }
        spec.extra = &extra[..n];
        spec.write(out.next(None, slot));
    }
}

/// A call's own URI, or the configured one when it has none.
fn or_configured<'a>(own: &'a [u8], configured: &'a str) -> &'a [u8] {
    if own.is_empty() {
        configured.as_bytes()
    } else {
        own
    }
}

/// Writes into `out` the SIP URI `uri` with its user part set to `user`:
/// what comes between the scheme's `:` and the `@` is replaced, or `user@`
/// is put after the scheme when `uri` has no user part.
pub(super) fn with_user(uri: &[u8], user: &[u8], out: &mut Vec<u8>) {
    let scheme = uri.iter().position(|&b| b == b':').map_or(0, |i| i + 1);
    let rest = &uri[scheme..];
    // The user part ends at the first `@` before the parameters or headers.
    let host_end = rest
        .iter()
        .position(|&b| matches!(b, b';' | b'?'))
        .unwrap_or(rest.len());
    let host = match rest[..host_end].iter().position(|&b| b == b'@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    out.clear();
    out.extend_from_slice(&uri[..scheme]);
    out.extend_from_slice(user);
    out.push(b'@');
    out.extend_from_slice(host);
}

/// Stores the To tag of a final response.
fn set_to_tag(call: &mut Call, resp: &Response<'_>) {
    call.to_tag.clear();
    if let Some(tag) = resp.headers.to().ok().and_then(|to| to.tag) {
        call.to_tag.extend_from_slice(tag);
    }
}

/// Stores the remote target (Contact) and route set (Record-Route,
/// reversed, RFC 3261 §12.1.2) of a 2xx.
fn set_dialog(call: &mut Call, resp: &Response<'_>) {
    call.target.clear();
    if let Some(Ok(Contact::Addr(a))) = resp.headers.contacts().next() {
        call.target.extend_from_slice(a.uri_raw);
    }
    call.route.clear();
    let n = resp.headers.values(HeaderName::RecordRoute).count();
    for i in (0..n).rev() {
        if let Some(v) = resp.headers.values(HeaderName::RecordRoute).nth(i) {
            if !call.route.is_empty() {
                call.route.extend_from_slice(b", ");
            }
            call.route.extend_from_slice(v);
        }
    }
}

/// `n` in decimal, on the stack.
fn u64_dec(n: u64) -> Id {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut n = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut id = Id::new(b"");
    id.push(&tmp[i..]);
    id
}
