//! The digest authenticator through the proxy: what a caller gets back and
//! what the upstream receives, byte for byte where it matters.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::proxy::{Config, Input, Key, Listener, Output, Proxy, Scratch};
use crate::route::{ActionSpec, Match, MethodSet, RuleSpec, Table, Upstream};
use crate::sip::Transport;

const NOW: u64 = 1_700_000_000;
const REALM: &str = "example.net";

fn settings() -> DigestSettings {
    DigestSettings {
        realm: REALM.into(),
        users_file: PathBuf::from("unused"),
        methods: vec!["INVITE".into(), "REGISTER".into()],
        algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        nonce_lifetime_secs: 300,
        trusted: CidrSet::parse(["10.0.0.0/8"]).unwrap(),
        bind_nonce: false,
    }
}

fn proxy_with(table_rules: bool) -> (Proxy, Table) {
    let users = Users::parse(
        "alice,secret\nbob,md5:0123456789abcdef0123456789abcdef\n",
        "users.csv",
        REALM,
    )
    .unwrap();
    let auth = DigestAuth::with_users(settings(), b"cluster secret", users);
    let mut c = Config::new(
        vec![Listener {
            transport: Transport::Udp,
            addr: "192.0.2.10:5060".parse().unwrap(),
            advertise: None,
        }],
        Key::new(3, 4),
    );
    c.auth = Arc::new(auth);
    let mut b = Table::builder().group(
        "pbx",
        [Upstream {
            addr: "192.0.2.50:5060".parse().unwrap(),
            transport: Transport::Udp,
            weight: 1,
        }],
    );
    if table_rules {
        let rule = |name: &str, method: &str, auth: bool, www: bool| RuleSpec {
            name: name.into(),
            matches: vec![Match::Method(MethodSet::new([method]).unwrap())],
            action: ActionSpec::Next,
            rewrite: None,
            auth: Some(auth),
            challenge_www: www,
        };
        b = b
            .rule(rule("open-options", "OPTIONS", true, true))
            .rule(rule("free-register", "REGISTER", false, false));
    }
    (Proxy::new(c).unwrap(), b.build().unwrap())
}

const URI: &str = "sip:+442079460000@example.net";

fn invite(extra: &str) -> String {
    format!(
        "INVITE {URI} SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <{URI}>\r\n\
From: <sip:alice@example.net>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.net\r\n\
CSeq: 1 INVITE\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

fn run(p: &Proxy, t: &Table, msg: &str, source: &str, now: u64) -> (Output, String) {
    let input = Input {
        data: msg.as_bytes(),
        source: source.parse::<SocketAddr>().unwrap(),
        local: "192.0.2.10:5060".parse().unwrap(),
        transport: Transport::Udp,
        conn: None,
        now,
    };
    let mut out = Vec::new();
    let o = p.handle(&input, t, &mut Scratch::new(), &mut out);
    (o, String::from_utf8(out).unwrap())
}

fn caller(p: &Proxy, t: &Table, msg: &str) -> (Output, String) {
    run(p, t, msg, "198.51.100.7:5062", NOW)
}

/// The values of header `name` in a message.
fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .filter_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .collect()
}

fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let i = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let rest = &challenge[i..];
    &rest[..rest.find('"').unwrap()]
}

/// Credentials for `user`/`password` answering `nonce` with `alg`.
fn credentials(user: &str, password: &str, nonce: &str, alg: Algorithm, qop: bool) -> String {
    let ha1 = digest::Ha1::from_password(
        alg.base(),
        user.as_bytes(),
        REALM.as_bytes(),
        password.as_bytes(),
    );
    let q = qop.then_some(Qop {
        nc: b"00000001",
        cnonce: b"0a4f113b",
    });
    let r = digest::response(alg, &ha1, nonce.as_bytes(), q, b"INVITE", URI.as_bytes());
    let qop_part = if qop {
        ", qop=auth, nc=00000001, cnonce=\"0a4f113b\""
    } else {
        ""
    };
    format!(
        "Proxy-Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{URI}\", response=\"{}\", algorithm={}{qop_part}\r\n",
        r.as_str(),
        alg.as_str()
    )
}

fn status(out: &str) -> &str {
    out.split("\r\n").next().unwrap()
}

#[test]
fn an_invite_is_challenged_once_per_algorithm_in_order() {
    let (p, t) = proxy_with(false);
    let (o, out) = caller(&p, &t, &invite(""));
    assert!(matches!(o, Output::Reply(_)));
    assert_eq!(status(&out), "SIP/2.0 407 Proxy Authentication Required");
    let ch = headers(&out, "Proxy-Authenticate");
    assert_eq!(ch.len(), 2, "{out}");
    let nonce = param(ch[0], "nonce");
    assert_eq!(nonce.len(), digest::NONCE_LEN);
    assert_eq!(
        ch,
        [
            format!(
                "Digest realm=\"example.net\", nonce=\"{nonce}\", algorithm=SHA-256, qop=\"auth\""
            ),
            format!("Digest realm=\"example.net\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\""),
        ]
    );
}

#[test]
fn right_credentials_are_forwarded_without_ours_and_with_others() {
    let (p, t) = proxy_with(false);
    let (_, out) = caller(&p, &t, &invite(""));
    let nonce = param(headers(&out, "Proxy-Authenticate")[0], "nonce").to_string();
    let theirs = "Proxy-Authorization: Digest username=\"a\", realm=\"pbx.example\", nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n";
    for (alg, qop) in [
        (Algorithm::Sha256, true),
        (Algorithm::Md5, true),
        (Algorithm::Md5, false),
    ] {
        let creds = credentials("alice", "secret", &nonce, alg, qop);
        let (o, fwd) = caller(&p, &t, &invite(&format!("{theirs}{creds}")));
        assert!(matches!(o, Output::Forward(_)), "{alg:?} {qop}: {fwd}");
        assert!(fwd.starts_with(&format!("INVITE {URI} SIP/2.0\r\n")));
        assert_eq!(
            headers(&fwd, "Proxy-Authorization"),
            [&theirs[21..theirs.len() - 2]]
        );
    }
    // SHA-256 without qop is not a form any client uses: a new challenge.
    let creds = credentials("alice", "secret", &nonce, Algorithm::Sha256, false);
    assert_eq!(
        status(&caller(&p, &t, &invite(&creds)).1),
        "SIP/2.0 407 Proxy Authentication Required"
    );
}

#[test]
fn wrong_credentials_get_403_and_malformed_ones_400() {
    let (p, t) = proxy_with(false);
    let (_, out) = caller(&p, &t, &invite(""));
    let nonce = param(headers(&out, "Proxy-Authenticate")[0], "nonce").to_string();
    for creds in [
        credentials("alice", "wrong", &nonce, Algorithm::Sha256, true),
        credentials("mallory", "secret", &nonce, Algorithm::Md5, true),
        // bob has only an MD5 HA1: the SHA-256 answer cannot be checked.
        credentials("bob", "whatever", &nonce, Algorithm::Sha256, true),
    ] {
        let (_, out) = caller(&p, &t, &invite(&creds));
        assert_eq!(status(&out), "SIP/2.0 403 Forbidden", "{creds}");
    }
    let broken = "Proxy-Authorization: Digest username=\"alice\", realm=\"example.net\r\n";
    let (_, out) = caller(&p, &t, &invite(broken));
    assert_eq!(
        status(&out),
        "SIP/2.0 400 Bad Request (malformed Proxy-Authorization)"
    );
    let no_response = format!("Proxy-Authorization: Digest username=\"alice\", realm=\"example.net\", nonce=\"{nonce}\", uri=\"{URI}\"\r\n");
    assert_eq!(
        status(&caller(&p, &t, &invite(&no_response)).1),
        "SIP/2.0 400 Bad Request (malformed Proxy-Authorization)"
    );
    // Credentials made for another Request-URI.
    let other = credentials("alice", "secret", &nonce, Algorithm::Md5, true)
        .replace(&format!("uri=\"{URI}\""), "uri=\"sip:other@example.net\"");
    assert_eq!(
        status(&caller(&p, &t, &invite(&other)).1),
        "SIP/2.0 400 Bad Request (digest uri is not the Request-URI)"
    );
    // A forged nonce: challenged again, not stale.
    let forged = credentials("alice", "secret", &"0".repeat(48), Algorithm::Md5, true);
    let (_, out) = caller(&p, &t, &invite(&forged));
    assert_eq!(status(&out), "SIP/2.0 407 Proxy Authentication Required");
    assert!(!out.contains("stale"));
}

#[test]
fn an_expired_nonce_with_right_credentials_gets_stale_true() {
    let (p, t) = proxy_with(false);
    let (_, out) = caller(&p, &t, &invite(""));
    let nonce = param(headers(&out, "Proxy-Authenticate")[0], "nonce").to_string();
    let creds = credentials("alice", "secret", &nonce, Algorithm::Sha256, true);
    let (o, _) = run(&p, &t, &invite(&creds), "198.51.100.7:5062", NOW + 299);
    assert!(matches!(o, Output::Forward(_)));
    let (_, out) = run(&p, &t, &invite(&creds), "198.51.100.7:5062", NOW + 301);
    assert_eq!(status(&out), "SIP/2.0 407 Proxy Authentication Required");
    let ch = headers(&out, "Proxy-Authenticate");
    assert!(ch.iter().all(|c| c.ends_with(", stale=true")), "{ch:?}");
    assert_ne!(param(ch[0], "nonce"), nonce);
    // A wrong password on an expired nonce is not told it is stale.
    let wrong = credentials("alice", "wrong", &nonce, Algorithm::Sha256, true);
    let (_, out) = run(&p, &t, &invite(&wrong), "198.51.100.7:5062", NOW + 301);
    assert_eq!(status(&out), "SIP/2.0 403 Forbidden");
}

#[test]
fn trusted_sources_acks_cancels_in_dialog_and_other_methods_pass() {
    let (p, t) = proxy_with(false);
    let (o, _) = run(&p, &t, &invite(""), "10.1.2.3:5060", NOW);
    assert!(matches!(o, Output::Forward(_)), "trusted");
    let in_dialog = invite("").replace(&format!("To: <{URI}>"), &format!("To: <{URI}>;tag=abc"));
    assert!(
        matches!(caller(&p, &t, &in_dialog).0, Output::Forward(_)),
        "in dialog"
    );
    let cancel = invite("")
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("1 INVITE", "1 CANCEL");
    assert!(
        matches!(caller(&p, &t, &cancel).0, Output::Forward(_)),
        "CANCEL"
    );
    let ack = invite("")
        .replace("INVITE sip:", "ACK sip:")
        .replace("1 INVITE", "1 ACK");
    assert!(matches!(caller(&p, &t, &ack).0, Output::Forward(_)), "ACK");
    let options = invite("")
        .replace("INVITE sip:", "OPTIONS sip:")
        .replace("1 INVITE", "1 OPTIONS");
    assert!(
        matches!(caller(&p, &t, &options).0, Output::Forward(_)),
        "OPTIONS is not in methods"
    );
}

/// Requests nobody can challenge need no parsed view: the one pass
/// forwards them, as it does without authentication; a request that must
/// authenticate goes the general way.
#[test]
fn the_one_pass_forwards_what_is_never_challenged() {
    let (p, t) = proxy_with(false);
    let one_pass = |msg: &str, source: &str| {
        let input = Input {
            data: msg.as_bytes(),
            source: source.parse::<SocketAddr>().unwrap(),
            local: "192.0.2.10:5060".parse().unwrap(),
            transport: Transport::Udp,
            conn: None,
            now: NOW,
        };
        p.forward_one_pass(&input, &t, &mut Vec::new()).is_some()
    };
    let bye = invite("")
        .replace("INVITE sip:", "BYE sip:")
        .replace("1 INVITE", "2 BYE")
        .replace(&format!("To: <{URI}>"), &format!("To: <{URI}>;tag=abc"));
    let ack = invite("")
        .replace("INVITE sip:", "ACK sip:")
        .replace("1 INVITE", "1 ACK");
    assert!(one_pass(&bye, "198.51.100.7:5062"));
    assert!(one_pass(&ack, "198.51.100.7:5062"));
    assert!(one_pass(&invite(""), "10.0.0.1:5060"), "trusted");
    assert!(!one_pass(&invite(""), "198.51.100.7:5062"));
}

#[test]
fn rules_say_auth_false_true_and_www() {
    let (p, t) = proxy_with(true);
    // REGISTER is in methods, but its rule says auth = false.
    let register = invite("")
        .replace("INVITE sip:", "REGISTER sip:")
        .replace("1 INVITE", "1 REGISTER");
    assert!(matches!(caller(&p, &t, &register).0, Output::Forward(_)));
    // OPTIONS is not in methods, but its rule requires it, with 401.
    let options = invite("")
        .replace("INVITE sip:", "OPTIONS sip:")
        .replace("1 INVITE", "1 OPTIONS");
    let (_, out) = caller(&p, &t, &options);
    assert_eq!(status(&out), "SIP/2.0 401 Unauthorized");
    assert_eq!(headers(&out, "WWW-Authenticate").len(), 2);
    assert!(headers(&out, "Proxy-Authenticate").is_empty());
    // INVITE: no rule says anything; the methods list does.
    assert_eq!(
        status(&caller(&p, &t, &invite("")).1),
        "SIP/2.0 407 Proxy Authentication Required"
    );
}

#[test]
fn the_users_file_is_reloaded_and_a_broken_one_keeps_the_users_in_force() {
    let dir = std::env::temp_dir().join(format!("bl-digest-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.csv");
    std::fs::write(&file, "alice,secret\n").unwrap();
    let s = DigestSettings {
        users_file: file.clone(),
        ..settings()
    };
    let auth = DigestAuth::new(s, b"k").unwrap();
    let ha1 = |a: &DigestAuth| a.users.load().ha1(b"alice", Algorithm::Md5);
    let before = ha1(&auth).unwrap();
    std::fs::write(&file, "alice,changed\ncarol,pw\n").unwrap();
    assert_eq!(auth.reload_users(), Ok(2));
    assert!(
        ha1(&auth).unwrap() != before,
        "the new password is in force"
    );
    std::fs::write(&file, "alice\n").unwrap();
    let e = auth.reload_users().unwrap_err();
    assert!(e.contains("users.csv:1:"), "{e}");
    assert_eq!(auth.users.load().len(), 2, "the old users stay");
    std::fs::remove_dir_all(&dir).unwrap();
}
