//! The bench harness against other SIP implementations on loopback:
//! `bench uac` → sipp UAS, sipp UAC → `bench uas`, and `bench uac` →
//! Kamailio (stateless forwarding, `tests/fixtures/kamailio-stateless.cfg`)
//! → `bench uas`; 0 failures each. sipp (Debian package sip-tester) and
//! Kamailio are required when `CI` is set, and skipped with a note when
//! they are missing otherwise.

mod bench_support;

use std::process::Command;
use std::time::Duration;

use bench_support::*;

#[test]
fn bench_uac_to_sipp_uas() {
    if !have("sipp", "sip-tester") {
        return;
    }
    let port = free_port();
    let _sipp = Guard::spawn(
        Command::new("sipp")
            .args(["-sn", "uas", "-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["-nostdin", "-timeout", "60s"]),
    );
    std::thread::sleep(Duration::from_millis(700));
    uac_on_both_read_paths(port, "to-sipp", |calls, j| {
        assert_eq!(json_u64(j, "messages/BYE/sent"), calls, "{j}");
    });
}

#[test]
fn sipp_uac_to_bench_uas() {
    if !have("sipp", "sip-tester") {
        return;
    }
    let port = free_port();
    let uas = bench_uas(port, &[]);
    let uac_port = free_port();
    let out = run(
        Command::new("sipp")
            .arg(format!("127.0.0.1:{port}"))
            .args(["-sn", "uac", "-i", "127.0.0.1", "-p"])
            .arg(uac_port.to_string())
            .args(["-r", "100", "-m", "300", "-nostdin", "-timeout", "40s"]),
        Duration::from_secs(60),
    );
    // sipp exits 0 only when every call succeeded.
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_uas_served(uas, 300);
}

#[test]
fn bench_uac_through_kamailio_to_bench_uas() {
    if !have("kamailio", "kamailio") {
        return;
    }
    let uas_port = free_port();
    let kam_port = free_port();
    let uas = bench_uas(uas_port, &[]);
    let cfg = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kamailio-stateless.cfg"
    ))
    .unwrap()
    .replace("KCHILDREN", "1")
    .replace("KPORT", &kam_port.to_string())
    .replace("KUAS", &uas_port.to_string());
    let cfg_path = scratch("kamailio.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let _kam = Guard::spawn(
        Command::new("kamailio")
            .arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-x", "tlsf", "-m", "64", "-M", "16", "-Y"])
            .arg(cfg_path.parent().unwrap()),
    );
    std::thread::sleep(Duration::from_millis(1500));
    uac_on_both_read_paths(kam_port, "via-kamailio", |_, _| {});
    assert_uas_served(uas, 1300);
}

/// Runs `bench uac` against 127.0.0.1:`port` at 200 calls/s, where a
/// response wakes the UAC, then at 1,000 calls/s, where it reads its socket
/// once per pacing tick: every call of each run must succeed; `more` checks
/// each report further (with its number of calls).
fn uac_on_both_read_paths(port: u16, label: &str, more: impl Fn(u64, &str)) {
    for (rate, calls) in [("200", 300), ("1000", 1000)] {
        let json = scratch(&format!("{label}-{rate}.json"));
        let n = calls.to_string();
        let out = bench_uac(port, &json, &["--calls", &n, "--rate", rate]);
        assert!(out.status.success(), "{rate}/s: {}", show(&out));
        let j = std::fs::read_to_string(&json).unwrap();
        assert_eq!(json_u64(&j, "calls/started"), calls, "{j}");
        assert_eq!(json_u64(&j, "calls/succeeded"), calls, "{j}");
        assert_eq!(json_u64(&j, "calls/failed"), 0, "{j}");
        more(calls, &j);
    }
}
