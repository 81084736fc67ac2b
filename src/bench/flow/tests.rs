//! UAC ↔ UAS in memory, on a virtual clock, with a network that can lose
//! datagrams.

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddr;

use super::uac::{DigestSigner, Scenario, Uac, UacConfig};
use super::uas::{Uas, UasConfig};
use super::*;
use crate::bench::number::Numbers;
use crate::bench::stats::{Failure, Latency, MsgKind};
use crate::bench::timer::TimerConfig;
use crate::bench::Nanos;
use crate::sip::credentials::Challenge;
use crate::sip::{self, build, Message, Transport};

const ONE_WAY: Duration = Duration::from_millis(1);

pub(super) fn uac_config(scenario: Scenario) -> UacConfig {
    UacConfig {
        scenario,
        request_uri: "sip:service@192.0.2.2:5060".into(),
        from_uri: "sip:bench@192.0.2.1".into(),
        to_uri: "sip:service@192.0.2.2".into(),
        contact_uri: "sip:bench@192.0.2.1:5070".into(),
        route: String::new(),
        via_host: "192.0.2.1".into(),
        via_port: Some(5070),
        transport: Transport::Udp,
        hold: Duration::ZERO,
        timeout: Duration::from_secs(60),
        timers: TimerConfig::default(),
        register_expires: 3600,
        seed: 0xbe7c,
        numbers: Numbers::default(),
        number_seed: 1,
    }
}

pub(super) fn uas_config() -> UasConfig {
    UasConfig {
        ring: Duration::ZERO,
        answer_code: 200,
        fail_ratio: 0.0,
        fail_code: 503,
        contact_uri: "sip:service@192.0.2.2:5060".into(),
        timers: TimerConfig::default(),
        reliable: false,
        seed: 7,
        auth: None,
    }
}

fn uac_addr() -> SocketAddr {
    "192.0.2.1:5070".parse().unwrap()
}

/// Decides whether the n-th datagram sent is lost.
type DropRule = Box<dyn FnMut(usize, &[u8]) -> bool>;

/// Datagrams in flight: (arrival, to the UAS?, bytes).
pub(super) struct Net {
    pub(super) uac: Uac,
    pub(super) uas: Uas,
    now: Nanos,
    flight: VecDeque<(Nanos, bool, Vec<u8>)>,
    /// Loses the n-th datagram sent (counting from 0) when true.
    drop: DropRule,
    sent: usize,
    pub(super) log: Vec<String>,
}

impl Net {
    pub(super) fn new(uac: UacConfig, uas: UasConfig) -> Net {
        Net {
            uac: Uac::new(uac, None),
            uas: Uas::new(uas),
            now: Nanos::ZERO,
            flight: VecDeque::new(),
            drop: Box::new(|_, _| false),
            sent: 0,
            log: Vec::new(),
        }
    }

    fn ship(&mut self, out: &mut Outbox, to_uas: bool) {
        for t in out.iter() {
            let first = t.bytes.split(|&b| b == b'\r').next().unwrap();
            let line = String::from_utf8_lossy(first).into_owned();
            let dropped = (self.drop)(self.sent, t.bytes);
            self.sent += 1;
            self.log.push(format!(
                "{} {} {}{}",
                self.now.0 / 1_000_000,
                if to_uas { ">" } else { "<" },
                line,
                if dropped { " (lost)" } else { "" }
            ));
            if !dropped {
                self.flight
                    .push_back((self.now + ONE_WAY, to_uas, t.bytes.to_vec()));
            }
        }
        out.clear();
    }

    pub(super) fn start(&mut self) {
        let mut out = Outbox::new();
        self.uac.start(self.now, &mut out);
        self.ship(&mut out, true);
    }

    /// Runs until nothing is in flight and no timer is armed, or `until`.
    pub(super) fn run(&mut self, until: Nanos) {
        let mut out = Outbox::new();
        loop {
            let next_msg = self.flight.iter().map(|f| f.0).min();
            let next = [next_msg, self.uac.next_timer(), self.uas.next_timer()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|&t| t <= until) else {
                self.now = until;
                return;
            };
            self.now = next;
            if let Some(i) = self.flight.iter().position(|f| f.0 == next) {
                let (_, to_uas, bytes) = self.flight.remove(i).unwrap();
                if to_uas {
                    self.uas.handle(&bytes, uac_addr(), next, &mut out);
                    self.ship(&mut out, false);
                } else {
                    self.uac.handle(&bytes, next, &mut out);
                    self.ship(&mut out, true);
                }
            }
            self.uac.on_timer(next, &mut out);
            self.ship(&mut out, true);
            self.uas.on_timer(next, &mut out);
            self.ship(&mut out, false);
        }
    }
}

/// The only sample of `kind` is `us` (to the histogram's precision).
fn assert_latency(s: &crate::bench::stats::Stats, kind: Latency, us: u64) {
    let h = s.histogram(kind);
    assert_eq!(h.len(), 1);
    assert!(h.equivalent(h.max(), us), "{} is not {us}", h.max());
}

pub(super) fn secs(s: u64) -> Nanos {
    Nanos::from_millis(s * 1000)
}

#[test]
fn a_call_end_to_end() {
    let mut net = Net::new(uac_config(Scenario::Call), uas_config());
    net.start();
    assert_eq!(net.uac.open(), 1);
    net.run(secs(100));
    assert_eq!(
        net.log,
        [
            "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0",
            "1 < SIP/2.0 180 Ringing",
            "1 < SIP/2.0 200 OK",
            "2 > ACK sip:service@192.0.2.2:5060 SIP/2.0",
            "2 > BYE sip:service@192.0.2.2:5060 SIP/2.0",
            "3 < SIP/2.0 200 OK",
        ]
    );
    let s = net.uac.stats();
    assert_eq!((s.calls().started, s.calls().succeeded), (1, 1));
    assert_eq!(net.uac.open(), 0);
    for kind in [MsgKind::Invite, MsgKind::Ack, MsgKind::Bye] {
        assert_eq!(s.sent_count(kind), 1);
    }
    assert_eq!(s.retransmits(), 0);
    assert_eq!(s.summary(Latency::InviteFirstResponse).max, 2000);
    assert_eq!(s.summary(Latency::InviteRinging).max, 2000);
    assert_eq!(s.summary(Latency::InviteAnswer).max, 2000);
    assert_eq!(s.summary(Latency::Bye).max, 2000);
    let u = net.uas.stats();
    assert_eq!((u.calls().started, u.calls().succeeded), (1, 1));
    assert_eq!(u.sent_count(MsgKind::Response), 3);
    assert_eq!(net.uas.open(), 0);
    assert_eq!(net.uas.next_timer(), None);
}

/// The datagrams in `out`, cleared.
pub(super) fn take(out: &mut Outbox) -> Vec<Vec<u8>> {
    let v = out.iter().map(|t| t.bytes.to_vec()).collect();
    out.clear();
    v
}

pub(super) fn first_line(d: &[u8]) -> String {
    String::from_utf8_lossy(d.split(|&b| b == b'\r').next().unwrap()).into_owned()
}

#[test]
fn responses_read_late_are_measured_at_their_arrival() {
    // A shell that reads its socket once per pacing tick hands each
    // response over with its kernel receive time.
    let mut uac = Uac::new(uac_config(Scenario::Call), None);
    let mut uas = Uas::new(uas_config());
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    for d in take(&mut out) {
        uas.handle(&d, uac_addr(), Nanos::from_micros(600), &mut out);
    }
    let answers = take(&mut out);
    assert_eq!(
        answers.iter().map(|d| first_line(d)).collect::<Vec<_>>(),
        ["SIP/2.0 180 Ringing", "SIP/2.0 200 OK"]
    );
    // Both arrived at 1.3 ms; read at the 2 ms tick.
    for d in &answers {
        uac.handle_at(d, Nanos::from_micros(1300), Nanos::from_millis(2), &mut out);
    }
    let requests = take(&mut out);
    assert_eq!(
        requests.iter().map(|d| first_line(d)).collect::<Vec<_>>(),
        [
            "ACK sip:service@192.0.2.2:5060 SIP/2.0",
            "BYE sip:service@192.0.2.2:5060 SIP/2.0"
        ]
    );
    // The BYE left at the tick: its Timer E runs from there.
    assert_eq!(uac.next_timer(), Some(Nanos::from_micros(502_000)));
    for d in &requests {
        uas.handle(d, uac_addr(), Nanos::from_micros(2200), &mut out);
    }
    let ok = take(&mut out);
    assert_eq!(ok.len(), 1);
    // Arrived at 2.45 ms, read at the 4 ms tick.
    uac.handle_at(
        &ok[0],
        Nanos::from_micros(2450),
        Nanos::from_millis(4),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(uac.open(), 0);
    assert_eq!(uac.next_timer(), None);
    let s = uac.stats();
    assert_eq!(s.calls().succeeded, 1);
    for kind in [
        Latency::InviteFirstResponse,
        Latency::InviteRinging,
        Latency::InviteAnswer,
    ] {
        assert_eq!(s.summary(kind).max, 1300);
    }
    assert_eq!(s.summary(Latency::Bye).max, 450);
    assert_eq!(s.retransmits(), 0);
}

#[test]
fn a_receive_time_after_the_handling_time_counts_as_the_handling_time() {
    let mut uac = Uac::new(uac_config(Scenario::Options), None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let reply = respond(&take(&mut out)[0], 200);
    uac.handle_at(
        &reply,
        Nanos::from_micros(1900),
        Nanos::from_micros(1500),
        &mut out,
    );
    assert_eq!(uac.stats().summary(Latency::Options).max, 1500);
}

#[test]
fn ring_and_hold_on_the_virtual_clock() {
    let mut uac = uac_config(Scenario::Call);
    uac.hold = Duration::from_secs(1);
    let mut uas = uas_config();
    uas.ring = Duration::from_millis(100);
    let mut net = Net::new(uac, uas);
    net.start();
    net.run(secs(100));
    assert_eq!(
        net.log,
        [
            "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0",
            "1 < SIP/2.0 180 Ringing",
            "101 < SIP/2.0 200 OK",
            "102 > ACK sip:service@192.0.2.2:5060 SIP/2.0",
            "1102 > BYE sip:service@192.0.2.2:5060 SIP/2.0",
            "1103 < SIP/2.0 200 OK",
        ]
    );
    let s = net.uac.stats();
    assert_eq!(s.summary(Latency::InviteRinging).max, 2000);
    assert_latency(s, Latency::InviteAnswer, 102_000);
    assert_eq!(s.summary(Latency::Bye).max, 2000);
    assert_eq!(s.calls().succeeded, 1);
}

#[test]
fn a_lost_invite_is_retransmitted_and_counted_apart() {
    let mut net = Net::new(uac_config(Scenario::Call), uas_config());
    net.drop = Box::new(|n, _| n == 0);
    net.start();
    net.run(secs(100));
    assert_eq!(
        net.log[0],
        "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0 (lost)"
    );
    assert_eq!(
        net.log[1],
        "500 > INVITE sip:service@192.0.2.2:5060 SIP/2.0"
    );
    let s = net.uac.stats();
    assert_eq!(s.sent_count(MsgKind::Invite), 1);
    assert_eq!(s.retransmit_count(MsgKind::Invite), 1);
    assert_eq!(s.calls().succeeded, 1);
    // Measured from the first transmission.
    assert_latency(s, Latency::InviteAnswer, 502_000);
}

#[test]
fn a_lost_ack_makes_the_uas_repeat_its_200() {
    let mut uac = uac_config(Scenario::Call);
    uac.hold = Duration::from_secs(2);
    let mut net = Net::new(uac, uas_config());
    let mut acks = 0;
    net.drop = Box::new(move |_, b| {
        if b.starts_with(b"ACK") {
            acks += 1;
            return acks == 1;
        }
        false
    });
    net.start();
    net.run(secs(100));
    assert_eq!(
        net.log,
        [
            "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0",
            "1 < SIP/2.0 180 Ringing",
            "1 < SIP/2.0 200 OK",
            "2 > ACK sip:service@192.0.2.2:5060 SIP/2.0 (lost)",
            "501 < SIP/2.0 200 OK",
            "502 > ACK sip:service@192.0.2.2:5060 SIP/2.0",
            "2002 > BYE sip:service@192.0.2.2:5060 SIP/2.0",
            "2003 < SIP/2.0 200 OK",
        ]
    );
    assert_eq!(net.uac.stats().retransmit_count(MsgKind::Ack), 1);
    assert_eq!(net.uas.stats().retransmit_count(MsgKind::Response), 1);
    assert_eq!(net.uac.stats().calls().succeeded, 1);
    assert_eq!(net.uas.stats().calls().succeeded, 1);
}

#[test]
fn nobody_answers() {
    let mut net = Net::new(uac_config(Scenario::Call), uas_config());
    net.drop = Box::new(|_, _| true);
    net.start();
    net.run(secs(100));
    let s = net.uac.stats();
    assert_eq!(s.retransmit_count(MsgKind::Invite), 6);
    assert_eq!(s.failures().collect::<Vec<_>>(), [(Failure::Timeout, 1)]);
    assert_eq!(
        net.log.last().unwrap(),
        "31500 > INVITE sip:service@192.0.2.2:5060 SIP/2.0 (lost)"
    );
    assert_eq!(net.uac.open(), 0);
}

#[test]
fn the_call_timeout_covers_a_proceeding_invite() {
    let mut uac = uac_config(Scenario::Call);
    uac.timeout = Duration::from_secs(5);
    let mut uas = uas_config();
    uas.ring = Duration::from_secs(10);
    let mut net = Net::new(uac, uas);
    net.start();
    net.run(Nanos::from_millis(5_001));
    assert_eq!(net.uac.stats().failures_of(Failure::Timeout), 1);
    assert_eq!(net.uac.stats().retransmits(), 0);
}

#[test]
fn injected_failures_are_acknowledged() {
    let mut uas = uas_config();
    uas.fail_ratio = 1.0;
    let mut net = Net::new(uac_config(Scenario::Call), uas);
    net.start();
    net.run(secs(100));
    assert_eq!(
        net.log,
        [
            "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0",
            "1 < SIP/2.0 180 Ringing",
            "1 < SIP/2.0 503 Service Unavailable",
            "2 > ACK sip:service@192.0.2.2:5060 SIP/2.0",
        ]
    );
    assert_eq!(
        net.uac.stats().failures().collect::<Vec<_>>(),
        [(Failure::Status(503), 1)]
    );
    assert_eq!(net.uas.stats().calls().succeeded, 1);
    assert_eq!(net.uas.next_timer(), None);
}

#[test]
fn options_message_register() {
    for (scenario, method, latency) in [
        (Scenario::Options, "OPTIONS", Latency::Options),
        (Scenario::Message, "MESSAGE", Latency::Message),
        (Scenario::Register, "REGISTER", Latency::Register),
    ] {
        let mut net = Net::new(uac_config(scenario), uas_config());
        net.start();
        net.start();
        net.run(secs(100));
        assert_eq!(net.log.len(), 4);
        assert_eq!(
            net.log[0],
            format!("0 > {method} sip:service@192.0.2.2:5060 SIP/2.0")
        );
        assert_eq!(net.log[2], "1 < SIP/2.0 200 OK");
        let s = net.uac.stats();
        assert_eq!(s.calls().succeeded, 2, "{method}");
        assert_eq!(s.summary(latency).count, 2);
        assert_eq!(scenario.headline(), latency);
    }
}

struct FakeSigner;

impl DigestSigner for FakeSigner {
    fn users(&self) -> usize {
        1
    }

    fn user(&self, _: usize) -> &str {
        "u"
    }

    fn sign(
        &self,
        _: usize,
        c: &Challenge<'_>,
        method: &[u8],
        uri: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        out.extend_from_slice(b"Digest username=\"u\", realm=\"");
        out.extend_from_slice(c.realm().unwrap_or_default());
        out.extend_from_slice(b"\", method=");
        out.extend_from_slice(method);
        out.extend_from_slice(b", uri=\"");
        out.extend_from_slice(uri);
        out.push(b'"');
        true
    }
}

/// Starts a REGISTER, answers it with a 401 challenge, and returns the
/// UAC with the second REGISTER it sent.
fn challenged() -> (Uac, String) {
    let mut uac = Uac::new(uac_config(Scenario::Register), Some(Box::new(FakeSigner)));
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let first = out.iter().next().unwrap().bytes.to_vec();
    out.clear();
    let reply = respond(&first, 401);
    uac.handle(&reply, Nanos::from_millis(1), &mut out);
    let second = String::from_utf8(out.iter().next().unwrap().bytes.to_vec()).unwrap();
    (uac, second)
}

/// The Route line of a request, if any.
fn route_line(d: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(d).into_owned();
    text.lines()
        .find(|l| l.starts_with("Route: "))
        .map(str::to_owned)
}

/// `--route`: out-of-dialog requests and the ACK of an error carry the
/// preloaded set; the ACK and BYE of a dialog follow its Record-Route.
#[test]
fn a_preloaded_route_goes_on_requests_outside_a_dialog() {
    let preload = "Route: <sip:192.0.2.9:5060;lr>, <sip:core.example.net;lr>";
    let mut cfg = uac_config(Scenario::Call);
    cfg.route = "<sip:192.0.2.9:5060;lr>, <sip:core.example.net;lr>".into();
    let mut uac = Uac::new(cfg.clone(), None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let invite = take(&mut out).remove(0);
    assert_eq!(route_line(&invite).as_deref(), Some(preload));
    let Ok(Message::Request(req)) = sip::parse(&invite) else {
        panic!("not a request")
    };
    let extra: &[(&[u8], &[u8])] = &[
        (b"Record-Route", b"<sip:192.0.2.9:5060;lr>"),
        (b"Contact", b"<sip:service@192.0.2.2:5060>"),
    ];
    let mut ok = Vec::new();
    build::response(&req, 200, "OK", "", Some(b"x"), extra, &mut ok);
    uac.handle(&ok, Nanos::from_millis(1), &mut out);
    let in_dialog = take(&mut out);
    assert_eq!(in_dialog.len(), 2, "ACK and BYE");
    for d in &in_dialog {
        let want = "Route: <sip:192.0.2.9:5060;lr>";
        assert_eq!(route_line(d).as_deref(), Some(want), "{}", first_line(d));
    }
    // An INVITE refused: its ACK has the INVITE's Route set.
    let mut uac = Uac::new(cfg, None);
    uac.start(Nanos::ZERO, &mut out);
    let invite = take(&mut out).remove(0);
    uac.handle(&respond(&invite, 486), Nanos::from_millis(1), &mut out);
    let ack = take(&mut out).remove(0);
    assert!(ack.starts_with(b"ACK "), "{}", first_line(&ack));
    assert_eq!(route_line(&ack).as_deref(), Some(preload));
}

pub(super) fn respond(request: &[u8], code: u16) -> Vec<u8> {
    let Ok(Message::Request(req)) = sip::parse(request) else {
        panic!("not a request")
    };
    let challenge: &[(&[u8], &[u8])] = &[(
        b"WWW-Authenticate",
        b"Digest realm=\"example.net\", nonce=\"abc\", algorithm=MD5",
    )];
    let extra = if code == 401 { challenge } else { &[] };
    let mut reply = Vec::new();
    build::response(&req, code, "Reason", "", Some(b"x"), extra, &mut reply);
    reply
}

#[test]
fn register_answers_a_challenge() {
    let (mut uac, second) = challenged();
    assert!(second.contains("\r\nCSeq: 2 REGISTER\r\n"), "{second}");
    assert!(second.contains(
        "\r\nAuthorization: Digest username=\"u\", realm=\"example.net\", method=REGISTER, \
         uri=\"sip:service@192.0.2.2:5060\"\r\nExpires: 3600\r\n"
    ));
    let mut out = Outbox::new();
    uac.handle(
        &respond(second.as_bytes(), 200),
        Nanos::from_millis(3),
        &mut out,
    );
    assert!(out.is_empty());
    let s = uac.stats();
    assert_eq!(s.calls().succeeded, 1);
    // Measured from the REGISTER with credentials.
    assert_eq!(s.summary(Latency::Register).max, 2000);
    assert_eq!(s.sent_count(MsgKind::Register), 2);
    assert_eq!(s.retransmits(), 0);
}

#[test]
fn register_answers_only_one_challenge() {
    let (mut uac, second) = challenged();
    let mut out = Outbox::new();
    uac.handle(
        &respond(second.as_bytes(), 401),
        Nanos::from_millis(3),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(
        uac.stats().failures().collect::<Vec<_>>(),
        [(Failure::Status(401), 1)]
    );
    // Without a signer a challenge fails at once.
    let mut uac = Uac::new(uac_config(Scenario::Register), None);
    uac.start(Nanos::ZERO, &mut out);
    let first = out.iter().next().unwrap().bytes.to_vec();
    out.clear();
    uac.handle(&respond(&first, 401), Nanos::from_millis(1), &mut out);
    assert!(out.is_empty());
    assert_eq!(uac.stats().failures_of(Failure::Status(401)), 1);
}

#[test]
fn cancel_while_ringing_gets_487() {
    let mut uas_cfg = uas_config();
    uas_cfg.ring = Duration::from_secs(5);
    let mut uas = Uas::new(uas_cfg);
    let mut uac = Uac::new(uac_config(Scenario::Call), None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let invite = out.iter().next().unwrap().bytes.to_vec();
    out.clear();
    uas.handle(&invite, uac_addr(), Nanos::ZERO, &mut out);
    assert_eq!(out.len(), 1);
    out.clear();
    // The INVITE retransmitted: the 180 again.
    uas.handle(&invite, uac_addr(), Nanos::from_millis(500), &mut out);
    assert!(out
        .iter()
        .next()
        .unwrap()
        .bytes
        .starts_with(b"SIP/2.0 180 Ringing"));
    out.clear();
    let cancel = String::from_utf8(invite.clone())
        .unwrap()
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    uas.handle(
        cancel.as_bytes(),
        uac_addr(),
        Nanos::from_millis(600),
        &mut out,
    );
    let lines: Vec<&[u8]> = out
        .iter()
        .map(|t| t.bytes.split(|&b| b == b'\r').next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [&b"SIP/2.0 200 OK"[..], b"SIP/2.0 487 Request Terminated"]
    );
    let cseqs: Vec<bool> = out
        .iter()
        .map(|t| String::from_utf8_lossy(t.bytes).contains("CSeq: 1 INVITE"))
        .collect();
    assert_eq!(cseqs, [false, true]);
    assert!(out.iter().all(|t| t.to == Some(uac_addr())));
    // The UAC ACKs the 487 and fails the call with it.
    let resp = out.iter().nth(1).unwrap().bytes.to_vec();
    out.clear();
    uac.handle(&resp, Nanos::from_millis(601), &mut out);
    let ack = out.iter().next().unwrap().bytes.to_vec();
    assert!(ack.starts_with(b"ACK sip:service@192.0.2.2:5060 SIP/2.0"));
    assert_eq!(uac.stats().failures_of(Failure::Status(487)), 1);
    out.clear();
    uas.handle(&ack, uac_addr(), Nanos::from_millis(602), &mut out);
    assert!(out.is_empty());
    assert_eq!(uas.open(), 0);
    assert_eq!(uas.next_timer(), None);
    // A CANCEL for nothing: 481.
    uas.handle(
        cancel.as_bytes(),
        uac_addr(),
        Nanos::from_millis(700),
        &mut out,
    );
    assert!(out
        .iter()
        .next()
        .unwrap()
        .bytes
        .starts_with(b"SIP/2.0 481 "));
}

#[test]
fn strays_and_garbage_are_counted() {
    let mut uac = Uac::new(uac_config(Scenario::Options), None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let options = out.iter().next().unwrap().bytes.to_vec();
    out.clear();
    let ok = respond(&options, 200);
    uac.handle(&ok, Nanos::from_millis(1), &mut out);
    // The same response again: the call is over.
    uac.handle(&ok, Nanos::from_millis(2), &mut out);
    uac.handle(b"garbage", Nanos::from_millis(2), &mut out);
    uac.handle(&options, Nanos::from_millis(2), &mut out);
    assert!(out.is_empty());
    assert_eq!(uac.stats().stray_count(), 2);
    assert_eq!(uac.stats().malformed_count(), 1);
    assert_eq!(uac.stats().calls().succeeded, 1);
}

#[test]
fn transport_errors_and_abort_end_open_calls() {
    let mut uac = Uac::new(uac_config(Scenario::Call), None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    uac.start(Nanos::ZERO, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out.iter().map(|t| t.slot).collect::<Vec<_>>(), [0, 1]);
    uac.transport_error(1);
    uac.transport_error(1);
    uac.transport_error(9);
    assert_eq!(uac.open(), 1);
    uac.abort_all();
    assert_eq!(uac.open(), 0);
    assert_eq!(uac.stats().failures_of(Failure::Transport), 1);
    assert_eq!(uac.stats().failures_of(Failure::Aborted), 1);
    assert_eq!(uac.next_timer(), None);
    // Slots are reused with a new generation: old responses are strays.
    let old = respond(out.iter().next().unwrap().bytes, 200);
    out.clear();
    uac.start(Nanos::ZERO, &mut out);
    uac.handle(&old, Nanos::ZERO, &mut out);
    assert_eq!(uac.stats().stray_count(), 1);
}

#[test]
fn ids_round_trip() {
    let mut id = Id::new(b"z9hG4bK");
    id.hex(0xbe7c, false).hex(0, true).hex(u64::MAX, true);
    assert_eq!(id.as_bytes(), b"z9hG4bKbe7c.0.ffffffffffffffff");
    assert_eq!(
        parse_hex_fields::<3>(b"be7c.0.ffffffffffffffff"),
        Some([0xbe7c, 0, u64::MAX])
    );
    assert_eq!(parse_hex_fields::<2>(b"1.2.3"), None);
    assert_eq!(parse_hex_fields::<2>(b"1."), None);
    assert_eq!(parse_hex_fields::<2>(b"1.G"), None);
    assert_eq!(parse_hex_fields::<1>(b"11111111111111111"), None);
}
