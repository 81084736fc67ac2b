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
