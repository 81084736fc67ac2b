//! The numbers `--to` dials (`UacConfig::numbers`), through the UAC
//! state machine: one number per call, on every request of the call.

use super::tests::{first_line, respond, secs, take, uac_config, uas_config, Net};
use super::uac::{with_user, Scenario, Uac};
use super::Outbox;
use crate::bench::number::{NumberPattern, Numbers};
use crate::bench::Nanos;
use crate::rng::Rng;

fn pattern(s: &str) -> NumberPattern {
    NumberPattern::parse(s).unwrap()
}

/// A request's method, the user part of its Request-URI and its To line
/// (without the tag).
fn dialled(d: &[u8]) -> (String, String, String) {
    let text = String::from_utf8_lossy(d).into_owned();
    let line = first_line(d);
    let (method, rest) = line.split_once(" sip:").unwrap();
    let user = rest.split_once('@').unwrap().0.to_owned();
    let to = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap();
    let to = to.split(";tag=").next().unwrap().to_owned();
    (method.to_owned(), user, to)
}

#[test]
fn every_request_of_a_call_carries_the_calls_number() {
    let mut cfg = uac_config(Scenario::Call);
    cfg.numbers = Numbers::new(vec![pattern("+4420###"), pattern("0800##")]);
    cfg.number_seed = 18;
    let mut uac = Uac::new(cfg.clone(), None);
    let mut out = Outbox::new();
    // Two calls open at once; both INVITEs are retransmitted at T1.
    uac.start(Nanos::ZERO, &mut out);
    uac.start(Nanos::ZERO, &mut out);
    let invites = take(&mut out);
    uac.on_timer(Nanos::from_millis(500), &mut out);
    let again = take(&mut out);
    assert_eq!(again.len(), 2);
    // The first is answered (a 200 with no Contact: the ACK and BYE go to
    // the call's Request-URI), the second refused (its ACK is part of the
    // INVITE transaction).
    uac.handle(
        &respond(&invites[0], 200),
        Nanos::from_millis(501),
        &mut out,
    );
    let answered = take(&mut out);
    uac.handle(
        &respond(&invites[1], 486),
        Nanos::from_millis(502),
        &mut out,
    );
    let refused = take(&mut out);
    let calls = [
        [&invites[0], &again[0], &answered[0], &answered[1]],
        [&invites[1], &again[1], &refused[0], &refused[0]],
    ];
    let mut numbers = Vec::new();
    for call in calls {
        let (_, number, _) = dialled(call[0]);
        let methods: Vec<String> = call
            .iter()
            .map(|d| {
                let (method, user, to) = dialled(d);
                assert_eq!(user, number, "{method}");
                assert_eq!(to, format!("<sip:{number}@192.0.2.2>"), "{method}");
                assert_eq!(
                    first_line(d),
                    format!("{method} sip:{number}@192.0.2.2:5060 SIP/2.0")
                );
                method
            })
            .collect();
        assert_eq!(methods[..2], ["INVITE", "INVITE"]);
        numbers.push(number);
    }
    assert_eq!(dialled(&answered[0]).0, "ACK");
    assert_eq!(dialled(&answered[1]).0, "BYE");
    assert_eq!(dialled(&refused[0]).0, "ACK");
    // The k-th call dials the k-th number the seed draws.
    let mut rng = Rng::new(18);
    for n in &numbers {
        let mut want = Vec::new();
        cfg.numbers.draw(&mut rng, &mut want);
        assert_eq!(n.as_bytes(), want);
    }
    assert_eq!(numbers, ["080030", "+4420274"]);
    assert_eq!(uac.stats().calls().succeeded, 0);
    assert_eq!(uac.open(), 1);
}

#[test]
fn a_dialog_target_keeps_the_number_in_to() {
    let mut cfg = uac_config(Scenario::Call);
    cfg.numbers = Numbers::new(vec![pattern("1###")]);
    let mut net = Net::new(cfg, uas_config());
    net.start();
    net.run(secs(100));
    assert_eq!(net.uac.stats().calls().succeeded, 1);
    // The ACK and BYE go to the UAS's Contact (RFC 3261 §12.2.1.1); the
    // To header still names the number dialled.
    let user = net.log[0]
        .strip_prefix("0 > INVITE sip:")
        .and_then(|l| l.split_once('@'))
        .unwrap()
        .0;
    assert!(
        user.len() == 4 && user.starts_with('1') && user.bytes().all(|b| b.is_ascii_digit()),
        "{user}"
    );
    assert_eq!(net.log[3], "2 > ACK sip:service@192.0.2.2:5060 SIP/2.0");
    assert_eq!(net.log[4], "2 > BYE sip:service@192.0.2.2:5060 SIP/2.0");
}

#[test]
fn numbers_leave_registrations_alone() {
    let mut cfg = uac_config(Scenario::Register);
    cfg.numbers = Numbers::new(vec![pattern("#")]);
    let mut uac = Uac::new(cfg, None);
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let reg = take(&mut out).remove(0);
    let (method, user, to) = dialled(&reg);
    assert_eq!((method.as_str(), user.as_str()), ("REGISTER", "service"));
    assert_eq!(to, "<sip:service@192.0.2.2>");
}

#[test]
fn the_user_part_of_a_uri_is_replaced() {
    let cases: [(&[u8], &[u8]); 5] = [
        (b"sip:service@10.0.0.1:5060", b"sip:+4420@10.0.0.1:5060"),
        (b"sip:10.0.0.1:5060", b"sip:+4420@10.0.0.1:5060"),
        (
            b"sip:a@10.0.0.1;transport=tcp",
            b"sip:+4420@10.0.0.1;transport=tcp",
        ),
        (b"sips:a:pw@[::1]:5061", b"sips:+4420@[::1]:5061"),
        (b"sip:h;x=a@b", b"sip:+4420@h;x=a@b"),
    ];
    let mut out = b"stale".to_vec();
    for (uri, want) in cases {
        with_user(uri, b"+4420", &mut out);
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
    }
}
