//! The real binary on loopback between sipp peers: 5,000 calls over UDP,
//! TCP, IPv6 and UDP in / TCP out with 0 failed calls; two upstreams that
//! each see whole calls, split evenly; SIGTERM under load. sipp is required
//! when `CI` is set; otherwise these tests print why they skip.

mod support_net;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use branchline::route::{parse_upstream, Table, DEFAULT_GROUP};

use support_net::*;

const CALLS: u64 = 5_000;
const RATE: u64 = 1_000;
const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn hostport(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// sipp UAC (`uac_t`) → branchline (UDP+TCP listeners) → sipp UAS (`uas_t`).
fn calls_through(
    test: &str,
    sipp: &Path,
    ip: IpAddr,
    uac_t: &str,
    uas_t: &str,
    upstream_suffix: &str,
) {
    let _l = load_lock();
    let dir = Scratch::new(test);
    let (p_port, uas_port, uac_port) = (free_port(ip), free_port(ip), free_port(ip));
    let _uas = start_uas(sipp, &dir, "uas", ip, uas_port, uas_t);
    let mut proxy = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:{}", hostport(ip, p_port)),
            format!("--listen=tcp:{}", hostport(ip, p_port)),
            format!("--upstream={}{upstream_suffix}", hostport(ip, uas_port)),
            "--workers=2".into(),
        ],
    );
    let r = run_uac(
        sipp,
        &dir,
        &hostport(ip, p_port),
        ip,
        uac_port,
        uac_t,
        CALLS,
        RATE,
        &[],
    );
    let status = proxy.stop(Duration::from_secs(3));
    assert_eq!(
        (r.successful, r.failed),
        (CALLS, 0),
        "{test}: sipp says\n{}\nbranchline log:\n{}",
        r.output,
        proxy.log_text()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "{test}: exit {status:?}"
    );
}

#[test]
fn proxy_udp_5000_calls() {
    if let Some(s) = sipp("proxy_udp_5000_calls") {
        calls_through("udp", &s, V4, "u1", "u1", "");
    }
}

#[test]
fn proxy_tcp_5000_calls() {
    if let Some(s) = sipp("proxy_tcp_5000_calls") {
        calls_through("tcp", &s, V4, "t1", "t1", ";transport=tcp");
    }
}

#[test]
fn proxy_ipv6_5000_calls() {
    if let Some(s) = sipp("proxy_ipv6_5000_calls") {
        calls_through("ipv6", &s, V6, "u1", "u1", "");
    }
}

#[test]
fn proxy_udp_in_tcp_out_5000_calls() {
    if let Some(s) = sipp("proxy_udp_in_tcp_out_5000_calls") {
        calls_through("udp-tcp", &s, V4, "u1", "t1", ";transport=tcp");
    }
}

#[test]
fn proxy_tcp_in_udp_out_5000_calls() {
    if let Some(s) = sipp("proxy_tcp_in_udp_out_5000_calls") {
        calls_through("tcp-udp", &s, V4, "t1", "u1", "");
    }
}

/// The sipp `-cid_str` of the two-upstream test: Call-IDs that do not depend
/// on sipp's process id, so the test knows every Call-ID in advance.
const SPLIT_CID: &str = "%u-two-upstreams@branchline.test";

/// How many of the calls `1..=CALLS` of [`SPLIT_CID`] the rendezvous hash
/// sends to `a` out of the upstreams `a` and `b`: the library's own pick,
/// so the test predicts the proxy's choice for each call.
fn predicted_share(a: u16, b: u16) -> u64 {
    let up = |port: u16| {
        parse_upstream(&format!("127.0.0.1:{port}"))
            .ok()
            .and_then(|s| s.to_upstream())
            .expect("a literal upstream")
    };
    let want = SocketAddr::from(([127, 0, 0, 1], a));
    let table = Table::from_upstreams([up(a), up(b)]).expect("two upstreams");
    let group = table.group(DEFAULT_GROUP).expect("the default group");
    (1..=CALLS)
        .filter(|n| {
            let cid = SPLIT_CID.replace("%u", &n.to_string());
            group.pick(cid.as_bytes()).map(|d| d.addr()) == Some(want)
        })
        .count() as u64
}

/// Two UAS upstreams: every INVITE, ACK and BYE of a call reaches the UAS
/// that got its INVITE (a stray ACK or BYE shows up at the other one as an
/// out-of-call message and fails the call at the UAC), each UAS gets exactly
/// the calls the rendezvous hash assigns it, and the calls split within
/// ±5 % of even.
///
/// The split depends on the two UAS ports, which are drawn at random. With
/// 5,000 calls a fair split has a spread of ±35 calls, so about one port
/// pair in 2,000 hashes these Call-IDs outside ±5 %; such a pair is drawn
/// again before anything starts (how even the hash is over many Call-IDs is
/// the unit tests' subject, in `route::group`). What this test checks is
/// that the proxy, on the wire, sends every call where the hash says.
#[test]
fn proxy_two_upstreams_whole_calls_even_split() {
    let Some(sipp) = sipp("proxy_two_upstreams_whole_calls_even_split") else {
        return;
    };
    let _l = load_lock();
    let dir = Scratch::new("two-uas");
    let half = CALLS as f64 / 2.0;
    let even = |n: u64| (n as f64 - half).abs() <= half * 0.05;
    let (a, b, want_a) = (0..10)
        .map(|_| {
            let (a, b) = (free_port(V4), free_port(V4));
            (a, b, predicted_share(a, b))
        })
        .find(|&(_, _, n)| even(n))
        .expect("ten port pairs, none split evenly: the hash is broken");
    let (p, c) = (free_port(V4), free_port(V4));
    let _ua = start_uas(&sipp, &dir, "uas-a", V4, a, "u1");
    let _ub = start_uas(&sipp, &dir, "uas-b", V4, b, "u1");
    let mut proxy = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:127.0.0.1:{p}"),
            format!("--upstream=127.0.0.1:{a}"),
            format!("--upstream=127.0.0.1:{b}"),
            "--workers=2".into(),
        ],
    );
    let r = run_uac(
        &sipp,
        &dir,
        &format!("127.0.0.1:{p}"),
        V4,
        c,
        "u1",
        CALLS,
        RATE,
        &["-cid_str", SPLIT_CID],
    );
    assert_eq!(
        (r.successful, r.failed),
        (CALLS, 0),
        "sipp says\n{}",
        r.output
    );
    // The UAS statistics files are written every second, and the UAS
    // scenario counts a call as successful only after a final pause.
    let (fa, fb) = (dir.file("uas-a.csv"), dir.file("uas-b.csv"));
    let done = |f: &Path| stat(f, "SuccessfulCall(C)");
    let until = Instant::now() + Duration::from_secs(15);
    while done(&fa) + done(&fb) < CALLS && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(250));
    }
    let (na, nb) = (stat(&fa, "IncomingCall(C)"), stat(&fb, "IncomingCall(C)"));
    for f in [&fa, &fb] {
        assert_eq!(
            done(f),
            stat(f, "IncomingCall(C)"),
            "{f:?}: not every call completed"
        );
        assert_eq!(stat(f, "FailedCall(C)"), 0, "{f:?}");
        assert_eq!(
            stat(f, "OutOfCallMsgs(C)"),
            0,
            "{f:?}: a request reached the wrong UAS"
        );
        assert_eq!(stat(f, "DeadCallMsgs(C)"), 0, "{f:?}");
    }
    assert_eq!(
        (na, nb),
        (want_a, CALLS - want_a),
        "the calls per UAS are not what the rendezvous hash assigns"
    );
    assert!(
        even(na) && even(nb),
        "split {na}/{nb} is not within ±5 % of even"
    );
    assert!(proxy
        .stop(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

/// SIGTERM while sipp drives 1,000 calls/s: exit status 0 within 2 s, with
/// the stop summary logged.
#[test]
fn proxy_sigterm_under_load_exits_cleanly() {
    let Some(sipp) = sipp("proxy_sigterm_under_load_exits_cleanly") else {
        return;
    };
    let _l = load_lock();
    let dir = Scratch::new("sigterm");
    let (p, u, c) = (free_port(V4), free_port(V4), free_port(V4));
    let _uas = start_uas(&sipp, &dir, "uas", V4, u, "u1");
    let mut proxy = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:127.0.0.1:{p}"),
            format!("--listen=tcp:127.0.0.1:{p}"),
            format!("--upstream=127.0.0.1:{u}"),
            "--workers=2".into(),
        ],
    );
    let out = std::fs::File::create(dir.file("uac.out")).unwrap();
    let mut uac_cmd = sipp_cmd(&sipp, "uac", V4, c, "u1");
    uac_cmd
        .arg(format!("127.0.0.1:{p}"))
        .args(["-r", "1000", "-m", "20000", "-timeout", "30s"])
        .stdout(out)
        .current_dir(&dir.0);
    let _uac = Guard::spawn("sipp uac", &mut uac_cmd);
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    let status = proxy.stop(Duration::from_secs(5));
    let took = t0.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}\n{}",
        proxy.log_text()
    );
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    let log = proxy.log_text();
    assert!(log.contains("stopped: received="), "{log}");
}
