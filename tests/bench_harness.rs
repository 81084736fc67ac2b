//! `branchline bench uac` against `branchline bench uas` on loopback (UDP
//! and TCP, every scenario, error injection) and `branchline demo`, through
//! the real binary.

mod bench_support;

use std::process::Command;
use std::time::Duration;

use bench_support::*;

fn assert_all_ok(json: &str, calls: u64) {
    assert_eq!(json_u64(json, "calls/started"), calls, "{json}");
    assert_eq!(json_u64(json, "calls/succeeded"), calls, "{json}");
    assert_eq!(json_u64(json, "calls/failed"), 0, "{json}");
    assert_eq!(json_u64(json, "calls/open"), 0, "{json}");
}

fn call_flow(transport: &str, locals: &[&str]) {
    let port = free_port();
    let uas = bench_uas(port, &["--transport", transport]);
    let json = scratch(&format!("call-{transport}.json"));
    let mut extra = vec!["--calls", "400", "--rate", "400", "--transport", transport];
    for l in locals {
        extra.extend(["--local", l]);
    }
    let out = bench_uac(port, &json, &extra);
    assert!(out.status.success(), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_all_ok(&j, 400);
    for m in ["INVITE", "ACK", "BYE"] {
        assert_eq!(json_u64(&j, &format!("messages/{m}/sent")), 400, "{m}: {j}");
    }
    assert_eq!(json_u64(&j, "latency_us/invite_200/count"), 400, "{j}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("400 started, 400 succeeded, 0 failed"),
        "{text}"
    );
    // The UAS saw and completed every call.
    assert_uas_served(uas, 400);
}

#[test]
fn uac_to_uas_udp_exact_counts() {
    call_flow("udp", &[]);
}

#[test]
fn uac_to_uas_udp_several_local_addresses() {
    call_flow("udp", &["127.0.0.1:0", "127.0.0.2:0", "127.0.0.3:0"]);
}

#[test]
fn uac_reading_once_per_tick_measures_from_kernel_receive_times() {
    // At 2,000 calls/s (4 per 2 ms tick) the UAC reads its sockets once per
    // tick, up to a tick after a response arrived. Its latencies end at the
    // kernel's receive time: ending at the read, they would be about a tick
    // (2 ms) long for every call but the last tick's few.
    let port = free_port();
    let uas = bench_uas(port, &[]);
    let json = scratch("per-tick.json");
    let out = bench_uac(
        port,
        &json,
        &[
            "--calls",
            "2000",
            "--rate",
            "2000",
            "--local",
            "127.0.0.1:0",
            "--local",
            "127.0.0.2:0",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_all_ok(&j, 2000);
    for m in ["INVITE", "ACK", "BYE"] {
        assert_eq!(
            json_u64(&j, &format!("messages/{m}/sent")),
            2000,
            "{m}: {j}"
        );
    }
    for l in ["invite_first_response", "invite_200", "bye_200"] {
        assert_eq!(json_u64(&j, &format!("latency_us/{l}/count")), 2000, "{j}");
        assert!(
            json_u64(&j, &format!("latency_us/{l}/p50")) < 1500,
            "{l}: {j}"
        );
    }
    assert_uas_served(uas, 2000);
}

#[test]
fn uac_to_uas_tcp_exact_counts() {
    call_flow("tcp", &["127.0.0.1:0", "127.0.0.2:0"]);
}

#[test]
fn register_options_message_scenarios() {
    let port = free_port();
    let _uas = bench_uas(port, &[]);
    for (scenario, key, msg) in [
        ("register", "register", "REGISTER"),
        ("options", "options", "OPTIONS"),
        ("message", "message", "MESSAGE"),
    ] {
        let json = scratch(&format!("{scenario}.json"));
        let out = bench_uac(
            port,
            &json,
            &[
                "--scenario",
                scenario,
                "--calls",
                "100",
                "--rate",
                "500",
                "--user",
                "alice",
                "--password",
                "secret",
            ],
        );
        assert!(out.status.success(), "{scenario}: {}", show(&out));
        let j = std::fs::read_to_string(&json).unwrap();
        assert_all_ok(&j, 100);
        assert_eq!(json_u64(&j, &format!("messages/{msg}/sent")), 100, "{j}");
        assert_eq!(
            json_u64(&j, &format!("latency_us/{key}_200/count")),
            100,
            "{j}"
        );
    }
}

#[test]
fn injected_failures_fail_the_run() {
    let port = free_port();
    let _uas = bench_uas(port, &["--fail-ratio", "1", "--fail-code", "486"]);
    let json = scratch("fail.json");
    let out = bench_uac(port, &json, &["--calls", "50", "--rate", "500"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_eq!(json_u64(&j, "calls/failed"), 50, "{j}");
    assert_eq!(json_u64(&j, "failures/status/486"), 50, "{j}");
    // The ACK for each error response was sent.
    assert_eq!(json_u64(&j, "messages/ACK/sent"), 50, "{j}");
    // Allowed failures make it a success.
    let out = bench_uac(
        port,
        &json,
        &["--calls", "20", "--rate", "500", "--max-failures", "20"],
    );
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn nothing_listening_fails_every_call() {
    let port = free_port();
    let json = scratch("timeout.json");
    let out = bench_uac(
        port,
        &json,
        &[
            "--calls",
            "3",
            "--rate",
            "100",
            "--t1",
            "50ms",
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_eq!(json_u64(&j, "calls/failed"), 3, "{j}");
    assert_eq!(json_u64(&j, "messages/INVITE/sent"), 3, "{j}");
}

#[test]
fn html_and_svg_reports_are_written() {
    let port = free_port();
    let _uas = bench_uas(port, &[]);
    let json = scratch("pic.json");
    let html = scratch("pic.html");
    let svg = scratch("pic.svg");
    for pic in [&html, &svg] {
        let out = bench_uac(
            port,
            &json,
            &[
                "--calls",
                "20",
                "--rate",
                "200",
                "--report",
                pic.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", show(&out));
    }
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(
        h.starts_with("<!DOCTYPE html>") && h.contains("<svg"),
        "{h}"
    );
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("<svg"), "{s}");
}

#[test]
fn wrong_usage_exits_2() {
    let out = run(
        Command::new(BIN).args(["bench", "uac", "--target", "127.0.0.1:5060", "--rate", "0"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = run(
        Command::new(BIN).args([
            "bench",
            "uac",
            "--target",
            "127.0.0.1:5060",
            "--hold",
            "3 parsecs",
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn demo_runs_calls_through_the_proxy_and_shows_the_split() {
    let out = run(
        Command::new(BIN).args(["demo", "--duration", "3s"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0 failed"), "{text}");
    assert!(text.contains("split across upstreams"), "{text}");
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("upstream "))
        .map(|l| {
            let after = l.split(": ").nth(1).unwrap();
            after.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(counts.len(), 2, "{text}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "both upstreams answer: {text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("calls/s | open"), "progress line: {stderr}");
}

/// `--route`: calls through the proxy with a preloaded route set that names
/// the proxy, then the UAS. The proxy's only upstream is a port where
/// nothing listens, so every call completes only if the proxy removes its
/// own Route and follows the next one (RFC 3261 §16.4), and the ACK and BYE
/// follow the Record-Route of the 200.
#[test]
fn uac_with_a_preloaded_route_through_the_proxy() {
    let (uas_port, proxy_port, dead_port) = (free_port(), free_port(), free_port());
    let uas = bench_uas(uas_port, &[]);
    let _proxy = Guard::spawn(Command::new(BIN).args([
        "proxy",
        "--listen",
        &format!("udp:127.0.0.1:{proxy_port}"),
        "--upstream",
        &format!("127.0.0.1:{dead_port}"),
    ]));
    std::thread::sleep(Duration::from_millis(500));
    let json = scratch("call-route.json");
    let to_proxy = format!("sip:127.0.0.1:{proxy_port};lr");
    let to_uas = format!("sip:127.0.0.1:{uas_port};lr");
    let out = bench_uac(
        proxy_port,
        &json,
        &[
            "--calls", "200", "--rate", "200", "--route", &to_proxy, "--route", &to_uas,
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_all_ok(&j, 200);
    assert_uas_served(uas, 200);
}

/// One request as the test's UAS saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    request_uri: String,
    /// The To value without its tag.
    to: String,
    call_id: String,
    cseq: String,
}

/// A header's value in `msg` (full names only: the harness writes them).
fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

/// Plays a minimal UAS on `sock` until `done` says the UAC has ended: every
/// request gets a 200 (with a To tag and no Contact, so the ACK and BYE are
/// sent to the call's Request-URI again); returns every request seen, in
/// arrival order.
fn answer_all(sock: &std::net::UdpSocket, done: impl Fn() -> bool) -> Vec<Seen> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65_536];
    while !done() {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        let line = msg.split("\r\n").next().unwrap();
        let mut parts = line.split(' ');
        let (method, request_uri) = (parts.next().unwrap(), parts.next().unwrap());
        let to = header(&msg, "To");
        seen.push(Seen {
            method: method.into(),
            request_uri: request_uri.into(),
            to: to.split(";tag=").next().unwrap().into(),
            call_id: header(&msg, "Call-ID").into(),
            cseq: header(&msg, "CSeq").into(),
        });
        if method == "ACK" {
            continue;
        }
        let tag = if to.contains(";tag=") { "" } else { ";tag=uas" };
        let reply = format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {to}{tag}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            header(&msg, "Via"),
            header(&msg, "From"),
            header(&msg, "Call-ID"),
            header(&msg, "CSeq"),
        );
        sock.send_to(reply.as_bytes(), from).unwrap();
    }
    seen
}

/// `bench uac --to` against a UDP socket of the test: every call dials one
/// number of one of the patterns (each `#` a digit, the rest as written),
/// in the Request-URI and To of its INVITE, ACK and BYE; both patterns are
/// dialled; and the same `--seed` dials the same numbers again.
#[test]
fn uac_dials_the_numbers_of_its_to_patterns() {
    let dial = |seed: &str| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let json = scratch(&format!("to-{seed}.json"));
        let args = [
            "--calls",
            "40",
            "--rate",
            "200",
            "--to",
            "+4420#######",
            "--to",
            "0800*###",
            "--seed",
            seed,
        ];
        let uac = std::thread::scope(|s| {
            let uac = s.spawn(|| bench_uac(port, &json, &args));
            let seen = answer_all(&sock, || uac.is_finished());
            (uac.join().unwrap(), seen)
        });
        let (out, seen) = uac;
        assert!(out.status.success(), "{}", show(&out));
        let j = std::fs::read_to_string(&json).unwrap();
        assert_all_ok(&j, 40);
        assert!(j.contains("\"to\": \"'+4420#######' '0800*###'\""), "{j}");
        assert!(j.contains(&format!("\"seed\": \"{seed}\"")), "{j}");
        (port, seen)
    };
    let (port, seen) = dial("18");
    let mut calls: Vec<String> = seen.iter().map(|s| s.call_id.clone()).collect();
    calls.sort();
    calls.dedup();
    assert_eq!(calls.len(), 40, "{seen:#?}");
    let mut numbers = Vec::new();
    for call in &calls {
        // The call's requests, once each (a retransmission repeats its
        // CSeq and method).
        let mut reqs: Vec<&Seen> = seen.iter().filter(|s| &s.call_id == call).collect();
        reqs.dedup_by(|a, b| (&a.method, &a.cseq) == (&b.method, &b.cseq));
        let methods: Vec<&str> = reqs.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["INVITE", "ACK", "BYE"], "{reqs:#?}");
        let n = reqs[0]
            .request_uri
            .strip_prefix("sip:")
            .and_then(|u| u.split_once('@'))
            .unwrap()
            .0
            .to_owned();
        let shape_ok = match n.strip_prefix("+4420") {
            Some(rest) => rest.len() == 7 && rest.bytes().all(|b| b.is_ascii_digit()),
            None => n
                .strip_prefix("0800*")
                .is_some_and(|rest| rest.len() == 3 && rest.bytes().all(|b| b.is_ascii_digit())),
        };
        assert!(shape_ok, "{n}");
        for r in &reqs {
            assert_eq!(r.request_uri, format!("sip:{n}@127.0.0.1:{port}"), "{r:?}");
            assert_eq!(r.to, format!("<sip:{n}@127.0.0.1:{port}>"), "{r:?}");
        }
        numbers.push(n);
    }
    assert!(
        numbers.iter().any(|n| n.starts_with("+4420")),
        "{numbers:?}"
    );
    assert!(numbers.iter().any(|n| n.starts_with("0800")), "{numbers:?}");
    // Not one number over and over.
    let mut distinct = numbers.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 30, "{numbers:?}");
    // The same seed: the same numbers (one worker, one local address).
    let (_, again) = dial("18");
    let invites = |seen: &[Seen]| {
        let mut v: Vec<String> = seen
            .iter()
            .filter(|s| s.method == "INVITE")
            .map(|s| s.request_uri.split_once('@').unwrap().0.to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(invites(&again), invites(&seen));
}

/// `bench uac --user/--password` against `bench uas --auth-realm
/// --auth-users`: every INVITE is challenged once (401, SHA-256 first) and
/// then answered; with a wrong password every call ends with a 403.
#[test]
fn digest_authentication_with_the_right_and_a_wrong_password() {
    let users = scratch("auth-users.csv");
    std::fs::write(&users, "# realm example.net\nalice,secret\nbob,pw\n").unwrap();
    let port = free_port();
    let users_arg = users.to_str().unwrap();
    let uas = bench_uas(
        port,
        &[
            "--auth-realm",
            "example.net",
            "--auth-users",
            users_arg,
            "--auth-algorithms",
            "SHA-256,MD5",
        ],
    );
    let json = scratch("auth.json");
    let calls = ["--calls", "50", "--rate", "500"];
    let out = bench_uac(
        port,
        &json,
        &[&calls[..], &["--user", "alice", "--password", "secret"]].concat(),
    );
    assert!(out.status.success(), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_all_ok(&j, 50);
    // The challenged INVITE and the authenticated one; the ACK of each
    // 401 and of each 200.
    assert_eq!(json_u64(&j, "messages/INVITE/sent"), 100, "{j}");
    assert_eq!(json_u64(&j, "messages/ACK/sent"), 100, "{j}");
    assert_eq!(json_u64(&j, "messages/BYE/sent"), 50, "{j}");

    let out = bench_uac(
        port,
        &json,
        &[&calls[..], &["--user", "alice", "--password", "wrong"]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let j = std::fs::read_to_string(&json).unwrap();
    assert_eq!(json_u64(&j, "calls/failed"), 50, "{j}");
    assert_eq!(json_u64(&j, "failures/status/403"), 50, "{j}");

    // Several users in turn (--users): all pass.
    let uac_users = scratch("auth-uac-users.csv");
    std::fs::write(&uac_users, "alice,secret\nbob,pw\n").unwrap();
    let out = bench_uac(
        port,
        &json,
        &[&calls[..], &["--users", uac_users.to_str().unwrap()]].concat(),
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_all_ok(&std::fs::read_to_string(&json).unwrap(), 50);

    let out = uas.terminate(Duration::from_secs(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("digest authentication: 150 challenge(s), 50 rejection(s)"),
        "{text}"
    );
    assert!(
        text.contains("100 started, 100 succeeded, 0 failed"),
        "{text}"
    );
    assert!(!text.contains("unmatched"), "{text}");
}

#[test]
fn auth_flags_are_checked_at_start() {
    let port = free_port();
    let bad_users = scratch("auth-bad-users.csv");
    std::fs::write(&bad_users, "alice,md5:abc\n").unwrap();
    let out = run(
        Command::new(BIN)
            .args(["bench", "uas", "--auth-realm", "r", "--auth-users"])
            .arg(&bad_users)
            .args(["--listen", &format!("127.0.0.1:{port}")]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "branchline: {}:1: md5: HA1 has 3 characters; it has 32 hex digits, H(user:realm:password)",
        bad_users.display()
    );
    assert!(err.contains(&want), "{err}");
    let out = run(
        Command::new(BIN).args(["bench", "uas", "--auth-realm", "r"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let hashed = scratch("auth-hashed-users.csv");
    std::fs::write(&hashed, "alice,md5:e0957e77e26b856e2ba625792a2b87e0\n").unwrap();
    let out = run(
        Command::new(BIN)
            .args(["bench", "uac", "--target", "127.0.0.1:9", "--users"])
            .arg(&hashed),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":1: user 'alice' has hashes; the UAC needs each user's password"),
        "{err}"
    );
}
