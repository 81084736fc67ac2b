//! Digest authentication at the proxy (`[auth]`) through the real binary
//! on loopback: a sipp UAC that answers the 407 with MD5
//! (`tests/fixtures/uac_digest.xml`) places every call; with a wrong
//! password it places none and the upstream never sees an INVITE; the load
//! generator answers SHA-256; an expired nonce gets `stale=true` and the
//! new nonce is then accepted; a trusted source is not challenged, and our
//! realm's Proxy-Authorization is removed while another realm's is
//! forwarded byte for byte. Raw UDP sockets play the caller and the
//! upstream where the exact messages matter; credentials for them are
//! computed with the library's own `branchline::digest`.
//!
//! sipp 3.6 answers MD5 only, and of several challenge headers it reads
//! the first `algorithm=` (an SHA-256 one first stops it with "authentication
//! must use MD5 or AKAv1-MD5"); it always puts `sip:REMOTE_IP:PORT` in the
//! digest `uri`, so the scenario's Request-URI is that, as the proxy
//! requires the digest `uri` to be the Request-URI.

mod bench_support;
mod support_net;

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use branchline::digest::{self, Algorithm, Ha1, Qop};

use support_net::*;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const REALM: &str = "example.net";
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/uac_digest.xml");

/// Writes the users file and a routing file whose one group is
/// `upstream`, with `[auth]` for [`REALM`] plus `auth_extra` lines.
fn config(dir: &Scratch, users: &str, upstream: SocketAddr, auth_extra: &str) -> PathBuf {
    fs::write(dir.file("users.csv"), users).unwrap();
    let file = dir.file("branchline.toml");
    let text = format!(
        "[routing]\ndefault = \"pbx\"\n\n[groups.pbx]\nmembers = [\"{upstream}\"]\n\n\
         [auth]\nrealm = \"{REALM}\"\nusers_file = \"users.csv\"\n{auth_extra}\n"
    );
    fs::write(&file, text).unwrap();
    file
}

/// The proxy on a free UDP port of 127.0.0.1 with `file`.
fn start_proxy(dir: &Scratch, file: &Path) -> (Proxy, u16) {
    let port = free_port(V4);
    let p = Proxy::start(
        dir,
        &[
            format!("--listen=udp:127.0.0.1:{port}"),
            format!("--config={}", file.display()),
            "--workers=2".into(),
        ],
    );
    (p, port)
}

/// Hex of an HA1, as a users file holds it.
fn ha1_hex(alg: Algorithm, user: &str, password: &str) -> String {
    let h = Ha1::from_password(alg, user.as_bytes(), REALM.as_bytes(), password.as_bytes());
    h.as_bytes().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Waits until the sipp statistics column `column` of `file` reaches
/// `want` (bounded), then once more for the next write (sipp writes the
/// file every second), and returns the last value.
fn settled_stat(file: &Path, column: &str, want: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(8);
    while stat(file, column) < want && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1100));
    stat(file, column)
}

// ---------------------------------------------------------------------
// Raw UDP peers

/// A UDP socket on `ip` (any 127.0.0.0/8 address) with a short read
/// timeout: a caller, or an upstream that never answers.
struct Peer(UdpSocket);

impl Peer {
    fn on(ip: &str) -> Peer {
        let s = UdpSocket::bind((ip, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Peer(s)
    }

    fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }

    /// The next datagram within `limit`.
    fn recv(&self, limit: Duration) -> Option<String> {
        let until = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while Instant::now() < until {
            if let Ok((n, _)) = self.0.recv_from(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    }

    /// Every datagram that arrives within `limit`.
    fn drain(&self, limit: Duration) -> Vec<String> {
        let until = Instant::now() + limit;
        let mut got = Vec::new();
        while Instant::now() < until {
            got.extend(self.recv(until.saturating_duration_since(Instant::now())));
        }
        got
    }
}

/// The Request-URI of the raw INVITEs, and so the digest `uri`.
const RURI: &str = "sip:bob@example.com";

/// Sends an out-of-dialog INVITE from `c` to the proxy at `port`: one
/// Call-ID per `call`, CSeq `cseq`, `extra` header lines (each ending in
/// CRLF).
fn invite(c: &Peer, port: u16, call: &str, cseq: u32, extra: &str) {
    let me = c.addr();
    let m = format!(
        "INVITE {RURI} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-{call}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.net>;tag=f-{call}\r\n\
         To: <{RURI}>\r\n\
         Call-ID: {call}@digest-test\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:alice@{me}>\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    c.0.send_to(m.as_bytes(), ("127.0.0.1", port)).unwrap();
}

fn status_line(msg: &str) -> &str {
    msg.split("\r\n").next().unwrap_or_default()
}

/// The values of every header line named `name` (case-insensitively).
fn header_values<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    let head = msg.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

/// The quoted parameter `name` of a challenge.
fn quoted<'a>(challenge: &'a str, name: &str) -> &'a str {
    let pat = format!("{name}=\"");
    let i = challenge
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in {challenge}"))
        + pat.len();
    let rest = &challenge[i..];
    &rest[..rest.find('"').unwrap()]
}

/// A Proxy-Authorization line (with CRLF) answering `nonce` for
/// `user`/`password` with `alg` and qop=auth, for an INVITE to [`RURI`].
fn credentials(user: &str, password: &str, nonce: &str, alg: Algorithm) -> String {
    let ha1 = Ha1::from_password(alg, user.as_bytes(), REALM.as_bytes(), password.as_bytes());
    let (nc, cnonce) = ("00000001", "7c4a8d09");
    let qop = Qop {
        nc: nc.as_bytes(),
        cnonce: cnonce.as_bytes(),
    };
    let r = digest::response(
        alg,
        &ha1,
        nonce.as_bytes(),
        Some(qop),
        b"INVITE",
        RURI.as_bytes(),
    );
    format!(
        "Proxy-Authorization: Digest username=\"{user}\", realm=\"{REALM}\", \
         nonce=\"{nonce}\", uri=\"{RURI}\", response=\"{r}\", algorithm={}, \
         qop=auth, nc={nc}, cnonce=\"{cnonce}\"\r\n",
        alg.as_str()
    )
}

/// Sends an INVITE without credentials from `c` and returns the 407's
/// challenges.
fn challenge(c: &Peer, port: u16, call: &str) -> Vec<String> {
    invite(c, port, call, 1, "");
    let reply = c
        .recv(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{call}: no reply to an INVITE without credentials"));
    assert_eq!(
        status_line(&reply),
        "SIP/2.0 407 Proxy Authentication Required",
        "{reply}"
    );
    header_values(&reply, "Proxy-Authenticate")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------
// sipp

/// sipp UAC (the scenario answers the 407 with MD5) → branchline with
/// `algorithms = ["MD5"]` → sipp UAS: 200 calls at 50/s, all successful.
/// The UAS counts 200 incoming calls and none failed: the challenged
/// INVITE stops at the proxy, and so does the ACK of each 407 (the UAS
/// makes a call of any message with a new Call-ID, so a forwarded ACK
/// would count as a call that fails). Then a proxy offering `["MD5",
/// "SHA-256"]` (two Proxy-Authenticate headers): sipp answers the first,
/// MD5.
#[test]
fn sipp_answers_407_and_every_call_succeeds() {
    let Some(sipp) = sipp("sipp_answers_407_and_every_call_succeeds") else {
        return;
    };
    let _l = load_lock();
    let dir = Scratch::new("digest-sipp");
    let (uas_port, uac_port) = (free_port(V4), free_port(V4));
    let _uas = start_uas(&sipp, &dir, "uas", V4, uas_port, "u1");
    let upstream = SocketAddr::new(V4, uas_port);
    let file = config(&dir, "alice,secret\n", upstream, "algorithms = [\"MD5\"]");
    let (mut proxy, port) = start_proxy(&dir, &file);
    let calls = 200;
    let r = run_uac_scenario(
        &sipp,
        &dir,
        Path::new(SCENARIO),
        &format!("127.0.0.1:{port}"),
        V4,
        uac_port,
        calls,
        50,
        &["-au", "alice", "-ap", "secret"],
    );
    assert_eq!(
        (r.successful, r.failed),
        (calls, 0),
        "sipp says\n{}\nbranchline log:\n{}",
        r.output,
        proxy.log_text()
    );
    assert!(
        r.status.is_some_and(|s| s.success()),
        "sipp exit {:?}",
        r.status
    );
    let stats = dir.file("uas.csv");
    assert_eq!(
        settled_stat(&stats, "IncomingCall(C)", calls),
        calls,
        "INVITEs that reached the UAS"
    );
    for column in ["FailedCall(C)", "OutOfCallMsgs(C)", "DeadCallMsgs(C)"] {
        assert_eq!(stat(&stats, column), 0, "UAS {column}");
    }
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));

    // Two challenges, MD5 first: sipp answers the MD5 one.
    let dir2 = Scratch::new("digest-sipp-two");
    let file = config(
        &dir2,
        "alice,secret\n",
        upstream,
        "algorithms = [\"MD5\", \"SHA-256\"]",
    );
    let (mut proxy, port) = start_proxy(&dir2, &file);
    let calls = 20;
    let trace = dir2.file("messages.log");
    let r = run_uac_scenario(
        &sipp,
        &dir2,
        Path::new(SCENARIO),
        &format!("127.0.0.1:{port}"),
        V4,
        free_port(V4),
        calls,
        50,
        &[
            "-au",
            "alice",
            "-ap",
            "secret",
            "-trace_msg",
            "-message_file",
            trace.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (r.successful, r.failed),
        (calls, 0),
        "sipp says\n{}",
        r.output
    );
    let msgs = fs::read_to_string(&trace).unwrap();
    let lines = |prefix: &str, alg: &str| {
        msgs.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(&format!("algorithm={alg}")))
            .count() as u64
    };
    assert_eq!(lines("Proxy-Authenticate: ", "MD5"), calls);
    assert_eq!(lines("Proxy-Authenticate: ", "SHA-256"), calls);
    // In each 407, the MD5 challenge comes first.
    let md5_then_sha: Vec<&str> = msgs.lines().collect();
    let in_order = md5_then_sha
        .windows(2)
        .filter(|w| {
            w[0].starts_with("Proxy-Authenticate: ")
                && w[0].contains("algorithm=MD5")
                && w[1].starts_with("Proxy-Authenticate: ")
                && w[1].contains("algorithm=SHA-256")
        })
        .count() as u64;
    assert_eq!(in_order, calls);
    assert_eq!(lines("Proxy-Authorization: ", "MD5"), calls);
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

/// The same scenario with a wrong password: every answered INVITE gets
/// 403, no call succeeds, and the upstream (a raw UDP socket) never
/// receives an INVITE.
#[test]
fn a_wrong_password_places_no_call() {
    let Some(sipp) = sipp("a_wrong_password_places_no_call") else {
        return;
    };
    let _l = load_lock();
    let dir = Scratch::new("digest-wrong");
    let upstream = Peer::on("127.0.0.1");
    let file = config(
        &dir,
        "alice,secret\n",
        upstream.addr(),
        "algorithms = [\"MD5\"]",
    );
    let (mut proxy, port) = start_proxy(&dir, &file);
    let calls = 50;
    let errors = dir.file("errors.log");
    let r = run_uac_scenario(
        &sipp,
        &dir,
        Path::new(SCENARIO),
        &format!("127.0.0.1:{port}"),
        V4,
        free_port(V4),
        calls,
        50,
        &[
            "-au",
            "alice",
            "-ap",
            "wrong",
            "-trace_err",
            "-error_file",
            errors.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (r.successful, r.failed),
        (0, calls),
        "sipp says\n{}",
        r.output
    );
    assert_eq!(r.status.and_then(|s| s.code()), Some(1), "sipp exit");
    let errs = fs::read_to_string(&errors).unwrap_or_default();
    assert_eq!(
        errs.matches("received 'SIP/2.0 403 Forbidden").count() as u64,
        calls,
        "each call's answered INVITE gets 403:\n{errs}"
    );
    let seen = upstream.drain(Duration::from_millis(300));
    let invites: Vec<&String> = seen.iter().filter(|m| m.starts_with("INVITE ")).collect();
    assert!(
        invites.is_empty(),
        "{} INVITE(s) reached the upstream, first:\n{}",
        invites.len(),
        invites[0]
    );
    // What does reach it: sipp ends each aborted call with a BYE in the
    // dialog the 403's To-tag made, and in-dialog requests are never
    // challenged.
    assert!(
        seen.iter().all(|m| m.starts_with("BYE ")),
        "{:?}",
        seen.iter().map(|m| status_line(m)).collect::<Vec<_>>()
    );
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

// ---------------------------------------------------------------------
// The load generator

/// `bench uac --user alice --password secret` through the proxy (SHA-256
/// offered first, then MD5) to `bench uas`: 200 calls, all succeed, each
/// with two INVITEs. alice's MD5 HA1 in the users file is for another
/// password, so only an SHA-256 answer can pass.
#[test]
fn sha256_through_the_harness() {
    let _l = load_lock();
    let dir = Scratch::new("digest-harness");
    let uas_port = free_port(V4);
    let uas_out = fs::File::create(dir.file("uas.out")).unwrap();
    let uas_err = fs::File::create(dir.file("uas.err")).unwrap();
    let mut uas = Guard::spawn(
        "bench uas",
        Command::new(BIN)
            .args(["bench", "uas", "--listen", &format!("127.0.0.1:{uas_port}")])
            .args(["--duration", "60s", "--quiet"])
            .stdout(uas_out)
            .stderr(uas_err),
    );
    let until = Instant::now() + Duration::from_secs(5);
    while !fs::read_to_string(dir.file("uas.err"))
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(Instant::now() < until, "bench uas did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let users = format!(
        "alice,md5:{},sha256:{}\n",
        ha1_hex(Algorithm::Md5, "alice", "not-the-password"),
        ha1_hex(Algorithm::Sha256, "alice", "secret"),
    );
    let file = config(
        &dir,
        &users,
        SocketAddr::new(V4, uas_port),
        "algorithms = [\"SHA-256\", \"MD5\"]",
    );
    let (mut proxy, port) = start_proxy(&dir, &file);
    let json = dir.file("uac.json");
    let uac_out = fs::File::create(dir.file("uac.out")).unwrap();
    let mut uac = Guard::spawn(
        "bench uac",
        Command::new(BIN)
            .args(["bench", "uac", "--target", &format!("127.0.0.1:{port}")])
            .args(["--user", "alice", "--password", "secret"])
            .args(["--calls", "200", "--rate", "100", "--timeout", "5s"])
            .args(["--quiet", "--json"])
            .arg(&json)
            .stdout(uac_out)
            .stderr(Stdio::null()),
    );
    let status = uac.wait_for(Duration::from_secs(20));
    let report = fs::read_to_string(&json).unwrap_or_default();
    let text = fs::read_to_string(dir.file("uac.out")).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "bench uac exit {status:?}\n{text}\nbranchline log:\n{}",
        proxy.log_text()
    );
    let n = |path: &str| bench_support::json_u64(&report, path);
    assert_eq!(
        (n("calls/started"), n("calls/succeeded"), n("calls/failed")),
        (200, 200, 0),
        "{report}"
    );
    // One challenged INVITE and one with credentials per call; the ACK of
    // each 407 and of each 200.
    assert_eq!(n("messages/INVITE/sent"), 400, "{report}");
    assert_eq!(n("messages/ACK/sent"), 400, "{report}");
    assert_eq!(n("messages/BYE/sent"), 200, "{report}");
    uas.signal(15);
    assert!(
        uas.wait_for(Duration::from_secs(5)).is_some(),
        "bench uas did not stop"
    );
    let served = fs::read_to_string(dir.file("uas.out")).unwrap_or_default();
    assert!(
        served.contains("200 started, 200 succeeded, 0 failed"),
        "the UAS saw only authenticated INVITEs, one per call:\n{served}"
    );
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

// ---------------------------------------------------------------------
// Raw UDP: stale nonces, trusted sources, the credentials forwarded

/// `nonce_lifetime = "1s"`: credentials right for a nonce 2.2 s old get a
/// new 407 whose every challenge ends `stale=true`; the answer to the new
/// nonce is forwarded, without our Proxy-Authorization.
#[test]
fn an_expired_nonce_is_stale_and_then_succeeds() {
    let _l = load_lock();
    let dir = Scratch::new("digest-stale");
    let upstream = Peer::on("127.0.0.1");
    let file = config(
        &dir,
        "alice,secret\n",
        upstream.addr(),
        "algorithms = [\"SHA-256\", \"MD5\"]\nnonce_lifetime = \"1s\"",
    );
    let (mut proxy, port) = start_proxy(&dir, &file);
    let caller = Peer::on("127.0.0.1");

    let first = challenge(&caller, port, "stale");
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first[0].contains("algorithm=SHA-256"), "{first:?}");
    assert!(first.iter().all(|c| !c.contains("stale")), "{first:?}");
    let old = quoted(&first[0], "nonce").to_owned();

    std::thread::sleep(Duration::from_millis(2200));
    let creds = credentials("alice", "secret", &old, Algorithm::Sha256);
    invite(&caller, port, "stale", 2, &creds);
    let reply = caller
        .recv(Duration::from_secs(2))
        .expect("no reply to the credentials with an expired nonce");
    assert_eq!(
        status_line(&reply),
        "SIP/2.0 407 Proxy Authentication Required",
        "{reply}"
    );
    let again = header_values(&reply, "Proxy-Authenticate");
    assert_eq!(again.len(), 2, "{reply}");
    assert!(
        again.iter().all(|c| c.ends_with("stale=true")),
        "every challenge ends stale=true: {again:?}"
    );
    let new = quoted(again[0], "nonce").to_owned();
    assert_ne!(new, old);
    assert!(
        upstream.drain(Duration::from_millis(200)).is_empty(),
        "a challenged INVITE reached the upstream"
    );

    invite(
        &caller,
        port,
        "stale",
        3,
        &credentials("alice", "secret", &new, Algorithm::Sha256),
    );
    let fwd = upstream.recv(Duration::from_secs(2)).unwrap_or_else(|| {
        panic!(
            "the INVITE with the new nonce was not forwarded; caller got {:?}",
            caller.recv(Duration::from_millis(300))
        )
    });
    assert!(
        fwd.starts_with(&format!("INVITE {RURI} SIP/2.0\r\n")),
        "{fwd}"
    );
    assert_eq!(header_values(&fwd, "CSeq"), ["3 INVITE"]);
    assert!(
        header_values(&fwd, "Proxy-Authorization").is_empty(),
        "{fwd}"
    );
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

/// `trusted = ["127.0.0.5/32"]`: an INVITE from 127.0.0.5 without
/// credentials reaches the upstream unchallenged. From 127.0.0.6, valid
/// credentials for our realm next to a Proxy-Authorization for
/// "pbx.example" (in either order): the upstream receives exactly one
/// Proxy-Authorization line, the pbx.example one, byte for byte.
#[test]
fn trusted_sources_are_not_challenged_and_our_credentials_are_not_forwarded() {
    let _l = load_lock();
    let dir = Scratch::new("digest-trusted");
    let upstream = Peer::on("127.0.0.1");
    let file = config(
        &dir,
        "alice,secret\n",
        upstream.addr(),
        "algorithms = [\"SHA-256\", \"MD5\"]\ntrusted = [\"127.0.0.5/32\"]",
    );
    let (mut proxy, port) = start_proxy(&dir, &file);

    let trunk = Peer::on("127.0.0.5");
    invite(&trunk, port, "trusted", 1, "");
    let fwd = upstream
        .recv(Duration::from_secs(2))
        .expect("the trusted source's INVITE did not reach the upstream");
    assert!(
        fwd.starts_with(&format!("INVITE {RURI} SIP/2.0\r\n")),
        "{fwd}"
    );
    assert_eq!(header_values(&fwd, "Call-ID"), ["trusted@digest-test"]);
    assert_eq!(
        trunk.recv(Duration::from_millis(300)),
        None,
        "the trusted source got a reply"
    );

    let phone = Peer::on("127.0.0.6");
    let theirs = "Proxy-Authorization: Digest username=\"pbx-user\", realm=\"pbx.example\", \
                  nonce=\"3bf1a2c4\", uri=\"sip:bob@example.com\", response=\"6629fae49393a05397450978507c4ef1\", \
                  algorithm=MD5";
    for (call, alg, theirs_first) in [
        ("untrusted-a", Algorithm::Sha256, false),
        ("untrusted-b", Algorithm::Md5, true),
    ] {
        let ch = challenge(&phone, port, call);
        let nonce = quoted(&ch[0], "nonce").to_owned();
        let ours = credentials("alice", "secret", &nonce, alg);
        let extra = if theirs_first {
            format!("{theirs}\r\n{ours}")
        } else {
            format!("{ours}{theirs}\r\n")
        };
        invite(&phone, port, call, 2, &extra);
        let fwd = upstream.recv(Duration::from_secs(2)).unwrap_or_else(|| {
            panic!(
                "{call}: not forwarded; the caller got {:?}",
                phone.recv(Duration::from_millis(300))
            )
        });
        assert_eq!(
            header_values(&fwd, "Call-ID"),
            [format!("{call}@digest-test")]
        );
        assert_eq!(header_values(&fwd, "CSeq"), ["2 INVITE"]);
        let lines: Vec<&str> = fwd
            .split("\r\n")
            .filter(|l| {
                l.get(..20)
                    .is_some_and(|n| n.eq_ignore_ascii_case("Proxy-Authorization:"))
            })
            .collect();
        assert_eq!(lines, [theirs], "{call}: forwarded\n{fwd}");
    }
    assert!(
        upstream.drain(Duration::from_millis(200)).is_empty(),
        "a challenged INVITE reached the upstream"
    );
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}
