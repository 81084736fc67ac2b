//! Digest authentication in the call flows: the UAC answering 401/407 to
//! INVITE, REGISTER and MESSAGE with [`Signer`], users in turn, and the
//! UAS challenging with [`UasAuth`]. In memory, on the virtual clock.

use std::sync::Arc;

use super::tests::{first_line, secs, take, uac_config, uas_config, Net};
use super::uac::{Scenario, Uac};
use super::uas_auth::UasAuth;
use super::Outbox;
use crate::bench::digest::Signer;
use crate::bench::stats::{Failure, MsgKind};
use crate::bench::Nanos;
use crate::digest::{self, Algorithm, Ha1, NonceKey, Qop, Users};
use crate::sip::credentials::Credentials;
use crate::sip::{self, build, Message};

fn alice(password: &str) -> Option<Box<dyn super::uac::DigestSigner>> {
    Some(Box::new(Signer::new(
        vec![("alice".into(), password.into())],
        9,
    )))
}

fn header(msg: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg).into_owned();
    let prefix = format!("{name}: ");
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

/// A response to `request` with `code`, To tag `x` and `extra` headers.
fn reply(request: &[u8], code: u16, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let Ok(Message::Request(req)) = sip::parse(request) else {
        panic!("not a request")
    };
    let mut out = Vec::new();
    build::response(&req, code, "Reason", "", Some(b"x"), extra, &mut out);
    out
}

#[test]
fn an_invite_answered_with_407_sha256_then_200() {
    let mut uac = Uac::new(uac_config(Scenario::Call), alice("secret"));
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let invite = take(&mut out).remove(0);
    assert_eq!(
        header(&invite, "From").unwrap().split(';').next(),
        Some("<sip:alice@192.0.2.1>")
    );
    // Two challenges, one per algorithm: the first is one the signer
    // does not know, so it answers the second.
    let challenges: &[(&[u8], &[u8])] = &[
        (b"Proxy-Authenticate", b"Digest realm=\"example.net\", nonce=\"n1\", algorithm=SHA-512-256, qop=\"auth\""),
        (b"Proxy-Authenticate", b"Digest realm=\"example.net\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\", opaque=\"o\""),
        (b"Proxy-Authenticate", b"Digest realm=\"example.net\", nonce=\"n3\", algorithm=MD5, qop=\"auth\""),
    ];
    uac.handle(
        &reply(&invite, 407, challenges),
        Nanos::from_millis(1),
        &mut out,
    );
    let sent = take(&mut out);
    assert_eq!(sent.len(), 2, "the ACK for the 407, then the new INVITE");
    assert_eq!(
        first_line(&sent[0]),
        "ACK sip:service@192.0.2.2:5060 SIP/2.0"
    );
    assert_eq!(header(&sent[0], "CSeq").as_deref(), Some("1 ACK"));
    assert_eq!(header(&sent[0], "Proxy-Authorization"), None);
    let second = &sent[1];
    assert_eq!(
        first_line(second),
        "INVITE sip:service@192.0.2.2:5060 SIP/2.0"
    );
    assert_eq!(header(second, "CSeq").as_deref(), Some("2 INVITE"));
    assert_eq!(header(second, "Authorization"), None);
    assert!(!header(second, "To").unwrap().contains("tag="));
    let value = header(second, "Proxy-Authorization").unwrap();
    let cred = Credentials::parse(value.as_bytes()).unwrap();
    assert_eq!(cred.username(), Some(&b"alice"[..]));
    assert_eq!(cred.nonce(), Some(&b"n2"[..]));
    assert_eq!(cred.algorithm(), Some(&b"SHA-256"[..]));
    assert_eq!(cred.opaque(), Some(&b"o"[..]));
    assert_eq!(cred.uri(), Some(&b"sip:service@192.0.2.2:5060"[..]));
    let ha1 = Ha1::from_password(Algorithm::Sha256, b"alice", b"example.net", b"secret");
    let qop = Qop {
        nc: cred.nc().unwrap(),
        cnonce: cred.cnonce().unwrap(),
    };
    let want = digest::response(
        Algorithm::Sha256,
        &ha1,
        b"n2",
        Some(qop),
        b"INVITE",
        b"sip:service@192.0.2.2:5060",
    );
    assert_eq!(cred.response(), Some(want.as_bytes()));
    assert_eq!(want.as_bytes().len(), 64);

    // The authenticated INVITE is answered: ACK (CSeq 2) and BYE (CSeq 3).
    let ok = reply(
        second,
        200,
        &[(b"Contact", b"<sip:service@192.0.2.2:5060>")],
    );
    uac.handle(&ok, Nanos::from_millis(3), &mut out);
    let sent = take(&mut out);
    assert_eq!(sent.len(), 2);
    assert_eq!(header(&sent[0], "CSeq").as_deref(), Some("2 ACK"));
    assert_eq!(header(&sent[1], "CSeq").as_deref(), Some("3 BYE"));
    // A retransmitted 200 to the second INVITE is acknowledged again.
    uac.handle(&ok, Nanos::from_millis(4), &mut out);
    assert_eq!(header(&take(&mut out)[0], "CSeq").as_deref(), Some("2 ACK"));
    uac.handle(&reply(&sent[1], 200, &[]), Nanos::from_millis(5), &mut out);
    let s = uac.stats();
    assert_eq!(s.calls().succeeded, 1);
    assert_eq!(s.sent_count(MsgKind::Invite), 2);
    assert_eq!(s.sent_count(MsgKind::Ack), 2);
    assert_eq!(s.retransmit_count(MsgKind::Ack), 1);
    assert_eq!(s.stray_count(), 0);
}

#[test]
fn a_second_challenge_or_an_unknown_algorithm_fails_the_call() {
    let only_unknown: &[(&[u8], &[u8])] = &[(
        b"WWW-Authenticate",
        b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
    )];
    let mut uac = Uac::new(uac_config(Scenario::Message), alice("secret"));
    let mut out = Outbox::new();
    uac.start(Nanos::ZERO, &mut out);
    let first = take(&mut out).remove(0);
    uac.handle(
        &reply(&first, 401, only_unknown),
        Nanos::from_millis(1),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(uac.stats().failures_of(Failure::Status(401)), 1);

    let md5: &[(&[u8], &[u8])] = &[(b"WWW-Authenticate", b"Digest realm=\"r\", nonce=\"n\"")];
    uac.start(Nanos::ZERO, &mut out);
    let first = take(&mut out).remove(0);
    uac.handle(&reply(&first, 401, md5), Nanos::from_millis(1), &mut out);
    let second = take(&mut out).remove(0);
    assert_eq!(header(&second, "CSeq").as_deref(), Some("2 MESSAGE"));
    let cred = header(&second, "Authorization").unwrap();
    assert!(
        cred.contains("algorithm=MD5") && !cred.contains("qop"),
        "{cred}"
    );
    uac.handle(&reply(&second, 401, md5), Nanos::from_millis(2), &mut out);
    assert!(out.is_empty());
    assert_eq!(uac.stats().failures_of(Failure::Status(401)), 2);
}

#[test]
fn calls_take_the_users_in_turn() {
    let signer = Signer::new(
        vec![("alice".into(), "a".into()), ("bob".into(), "b".into())],
        1,
    );
    let mut uac = Uac::new(uac_config(Scenario::Register), Some(Box::new(signer)));
    let mut out = Outbox::new();
    for user in ["alice", "bob", "alice"] {
        uac.start(Nanos::ZERO, &mut out);
        let reg = take(&mut out).remove(0);
        // A REGISTER's From and To are the user's address of record.
        let want = format!("<sip:{user}@");
        assert!(header(&reg, "From").unwrap().starts_with(&want), "{user}");
        assert!(header(&reg, "To").unwrap().starts_with(&want), "{user}");
    }
}

fn uas_auth(algorithms: &[Algorithm]) -> UasAuth {
    let users = Users::parse("alice,secret\n", "users", "example.net").unwrap();
    UasAuth::new(
        "example.net".into(),
        Arc::new(users),
        algorithms.to_vec(),
        NonceKey::from_bytes([1; 32]),
    )
}

/// UAC ↔ UAS with authentication, for each challenged scenario: one 401,
/// then success with the right password, a 403 with a wrong one.
#[test]
fn the_uas_challenges_and_checks() {
    for scenario in [Scenario::Call, Scenario::Register, Scenario::Message] {
        for (password, ok) in [("secret", true), ("wrong", false)] {
            let mut uas = uas_config();
            uas.auth = Some(uas_auth(&[]));
            let mut net = Net::new(uac_config(scenario), uas);
            net.uac = Uac::new(uac_config(scenario), alice(password));
            net.start();
            net.run(secs(100));
            let log: Vec<&str> = net.log.iter().map(|l| l.as_str()).collect();
            let what = format!("{scenario:?} {password}: {log:#?}");
            assert_eq!(log[1], "1 < SIP/2.0 401 Unauthorized", "{what}");
            let (uac, uas) = (net.uac.stats(), net.uas.stats());
            assert_eq!(uas.challenge_count(), 1, "{what}");
            assert_eq!(uas.stray_count(), 0, "{what}");
            if ok {
                assert_eq!(uac.calls().succeeded, 1, "{what}");
                assert_eq!(uas.rejection_count(), 0, "{what}");
            } else {
                assert_eq!(uac.failures_of(Failure::Status(403)), 1, "{what}");
                assert_eq!(uas.rejection_count(), 1, "{what}");
                assert!(log.contains(&"3 < SIP/2.0 403 Forbidden"), "{what}");
            }
        }
    }
}

#[test]
fn the_uas_offers_its_algorithms_in_order() {
    let mut uas = uas_config();
    uas.auth = Some(uas_auth(&[Algorithm::Md5Sess, Algorithm::Sha256]));
    let mut net = Net::new(uac_config(Scenario::Call), uas);
    net.uac = Uac::new(uac_config(Scenario::Call), None);
    net.start();
    net.run(secs(100));
    // Without a signer the UAC acknowledges the 401 and fails.
    assert_eq!(net.uac.stats().failures_of(Failure::Status(401)), 1);
    assert_eq!(net.uas.stats().stray_count(), 0);
    assert_eq!(
        net.log,
        [
            "0 > INVITE sip:service@192.0.2.2:5060 SIP/2.0",
            "1 < SIP/2.0 401 Unauthorized",
            "2 > ACK sip:service@192.0.2.2:5060 SIP/2.0",
        ]
    );
}
