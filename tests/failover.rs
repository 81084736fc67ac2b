//! Health probing and failover through the real binary, on loopback:
//! `proxy --config FILE` in front of `bench uas` members (or plain sockets,
//! or ports nobody listens on) with a `[groups.NAME.probe]` table.
//!
//! - A member killed under `bench uac` load (UDP, then TCP) is marked down
//!   by the proxy (one `up -> down` line on its stderr, within a bound of
//!   the kill), its calls move to the other member with at most a handful
//!   failed, and once restarted on the same port it is marked up again
//!   (one `down -> up` line within rise × interval + 1.5 s) and answers
//!   calls again.
//! - Every member down: the caller gets the group's `when_down` reply
//!   (exact status line and `Retry-After`), or the default
//!   `503 Service Unavailable` with `Retry-After: 5`; with a `fallback`
//!   group up, the fallback takes every call.
//! - A drained member (`;state=drain`) gets no new call, while an in-dialog
//!   request addressed to it still reaches it (exact Request-URI).
//!
//! Every test takes the load lock; every child is killed on every exit path
//! (the Guard types of `support_net` and `bench_support`); every load is
//! bounded in calls and time. The timing bounds asserted are the ones the
//! feature promises, not measurements of speed.

mod bench_support;
mod support_net;

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bench_support::json_u64;
use support_net::{load_lock, Proxy, Scratch};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn free_port() -> u16 {
    support_net::free_port(V4)
}

/// Starts `bench uas` on 127.0.0.1:`port` over `transport`, writing its
/// JSON report to `json` when stopped gracefully; bounded to 120 s.
fn uas(port: u16, transport: &str, json: &Path) -> bench_support::Guard {
    bench_support::Guard::spawn(
        Command::new(bench_support::BIN)
            .args(["bench", "uas", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--transport", transport, "--duration", "120s", "--quiet"])
            .arg("--json")
            .arg(json),
    )
}

/// Lets freshly spawned members bind their sockets.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

/// Stops a `bench uas` with SIGTERM: the JSON report it wrote, or what it
/// printed when it wrote none (it could not bind its port, or died).
fn stop_uas(g: bench_support::Guard, json: &Path) -> Result<String, String> {
    let out = g.terminate(Duration::from_secs(5));
    fs::read_to_string(json).map_err(|e| {
        format!(
            "no report {} ({e}):\n{}",
            json.display(),
            bench_support::show(&out)
        )
    })
}

/// Stops a `bench uas` with SIGTERM and returns the JSON report it wrote.
fn uas_report(g: bench_support::Guard, json: &Path) -> String {
    stop_uas(g, json).unwrap_or_else(|e| panic!("{e}"))
}

/// SIGKILL, no report: the member dies as a crashed PBX would.
fn kill(mut g: bench_support::Guard) {
    if let Some(mut c) = g.0.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Writes the routing file `body` and starts a one-worker proxy with it,
/// listening on `listen` (`udp:…`/`tcp:…`).
fn start_proxy(dir: &Scratch, listen: &[String], body: &str) -> Proxy {
    let file = dir.file("routes.toml");
    fs::write(&file, body).unwrap();
    let mut args: Vec<String> = listen.iter().map(|l| format!("--listen={l}")).collect();
    args.push(format!("--config={}", file.display()));
    args.push("--workers=1".into());
    Proxy::start(dir, &args)
}

/// The state-change line of member 127.0.0.1:`port` of `group`, up to the
/// part in parentheses (which varies with the cause).
fn change(port: u16, group: &str, what: &str) -> String {
    format!("upstream 127.0.0.1:{port} in group {group}: {what}")
}

/// Waits up to `limit` until the proxy's log has every one of `lines`.
fn wait_lines(p: &Proxy, lines: &[String], limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        let text = p.log_text();
        if lines.iter().all(|l| text.contains(l.as_str())) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// The `--json` report of a finished `bench uac`.
fn uac_report(out: &std::process::Output, json: &Path) -> String {
    fs::read_to_string(json)
        .unwrap_or_else(|e| panic!("no uac report ({e}):\n{}", bench_support::show(out)))
}

/// `bench uac` against the proxy on 127.0.0.1:`port`, not yet waited for.
fn uac(port: u16, json: &Path, args: &[&str]) -> bench_support::Guard {
    bench_support::Guard::spawn(
        Command::new(bench_support::BIN)
            .args(["bench", "uac", "--target"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--quiet", "--json"])
            .arg(json)
            .args(args),
    )
}

/// Calls at 300/s for 30 s through a proxy balancing over members A and B
/// (probed every 1 s, timeout 500 ms, fall 2, rise 2); B is SIGKILLed at
/// 10 s and restarted on its port at 20 s. Asserts the down line for B
/// within `down_limit` of the kill, the up line after the restart within
/// rise × interval + 1.5 s, at most 5 failed calls, and calls answered by
/// A and by the restarted B.
fn kill_and_restart(name: &str, transport: &str, down_limit: Duration) {
    let dir = Scratch::new(name);
    let (a, b, port) = (free_port(), free_port(), free_port());
    let (a_json, b_json, b2_json, uac_json) = (
        dir.file("a.json"),
        dir.file("b.json"),
        dir.file("b-restarted.json"),
        dir.file("uac.json"),
    );
    let member_suffix = if transport == "tcp" {
        ";transport=tcp"
    } else {
        ""
    };
    let ua = uas(a, transport, &a_json);
    let ub = uas(b, transport, &b_json);
    settle();
    let mut p = start_proxy(
        &dir,
        &[format!("{transport}:127.0.0.1:{port}")],
        &format!(
            "[routing]\ndefault = \"pbx\"\n\n\
             [groups.pbx]\nmembers = [\"127.0.0.1:{a}{member_suffix}\", \"127.0.0.1:{b}{member_suffix}\"]\n\n\
             [groups.pbx.probe]\ninterval = \"1s\"\ntimeout = \"500ms\"\nfall = 2\nrise = 2\ncodes = [\"2xx\"]\n"
        ),
    );
    // Let the first probes settle (rise × interval and a little), whatever
    // state the members start in.
    std::thread::sleep(Duration::from_millis(2500));

    let (a_down, b_down, b_up) = (
        change(a, "pbx", "up -> down"),
        change(b, "pbx", "up -> down"),
        change(b, "pbx", "down -> up"),
    );
    let t0 = Instant::now();
    let load = uac(
        port,
        &uac_json,
        &[
            "--transport",
            transport,
            "--rate",
            "300",
            "--duration",
            "30s",
            "--timeout",
            "8s",
            "--max-failures",
            "5",
        ],
    );

    // At 10 s: B dies. Watch the log from here on.
    sleep_until(t0 + Duration::from_secs(10));
    kill(ub);
    let killed = Instant::now();
    let mark = p.log_text().len();
    let after_mark = |p: &Proxy| p.log_text().get(mark..).unwrap_or_default().to_string();
    let mut down_seen = None;
    let mut up_before_restart = false;
    while Instant::now() < t0 + Duration::from_secs(20) {
        let text = after_mark(&p);
        if down_seen.is_none() && text.contains(&b_down) {
            down_seen = Some(Instant::now());
        }
        up_before_restart |= text.contains(&b_up);
        std::thread::sleep(Duration::from_millis(20));
    }

    // At 20 s: B comes back on the same port.
    let ub2 = uas(b, transport, &b2_json);
    let restarted = Instant::now();
    let mut up_seen = None;
    while up_seen.is_none() && Instant::now() < restarted + Duration::from_secs(8) {
        if after_mark(&p).contains(&b_up) {
            up_seen = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // The load ends at 30 s plus a drain bounded by its 8 s timeout.
    let out = load.wait(Duration::from_secs(30));
    let j = uac_report(&out, &uac_json);
    // The proxy first, so that stopping the members is not in its log.
    let stopped = p.stop(Duration::from_secs(5));
    let log = p.log_text();
    let tail = log.get(mark..).unwrap_or_default();
    let a_report = uas_report(ua, &a_json);
    let b2_report = stop_uas(ub2, &b2_json);

    let failed = json_u64(&j, "calls/failed");
    let succeeded = json_u64(&j, "calls/succeeded");
    let a_answered = json_u64(&a_report, "calls/succeeded");
    let b_restarted_answered = b2_report
        .as_ref()
        .map(|r| json_u64(r, "calls/succeeded"))
        .ok();
    let down_after = down_seen.map(|t| t - killed);
    let up_after = up_seen.map(|t| t - restarted);
    // The figures first, so that a failing run shows them too.
    eprintln!(
        "{name}: uac {succeeded} succeeded, {failed} failed (started {}, INVITE retransmitted {}); \
         B's down line {down_after:?} after the kill, its up line {up_after:?} after the restart; \
         A answered {a_answered}, the restarted B answered {b_restarted_answered:?} \
         (B before the kill: SIGKILLed, no report)",
        json_u64(&j, "calls/started"),
        json_u64(&j, "messages/INVITE/retransmitted"),
    );

    // State changes, and the drops of the seconds around them.
    for line in log
        .lines()
        .filter(|l| l.contains(" in group pbx: ") || l.contains("dropped in the last second"))
    {
        eprintln!("{name}: proxy: {line}");
    }

    // The restarted B ran: a socket left on its port (a connection of the
    // proxy's to itself, say) would keep it from binding.
    let b2_report = b2_report.unwrap_or_else(|e| {
        panic!("{name}: the restarted B on 127.0.0.1:{b} did not run to the end: {e}\nproxy log:\n{log}")
    });
    let b_restarted_answered = json_u64(&b2_report, "calls/succeeded");

    let down_after = down_after.unwrap_or_else(|| {
        panic!("{name}: no '{b_down}' line after B was killed; proxy log:\n{log}")
    });
    assert!(
        down_after <= down_limit,
        "{name}: B marked down {down_after:?} after the kill (limit {down_limit:?}); proxy log:\n{log}"
    );
    assert!(
        !up_before_restart,
        "{name}: B marked up before it was restarted; proxy log:\n{log}"
    );
    let up_after = up_after.unwrap_or_else(|| {
        panic!("{name}: no '{b_up}' line within 8 s of B's restart; proxy log:\n{log}")
    });
    // rise × interval + 1.5 s
    let up_limit = 2 * Duration::from_secs(1) + Duration::from_millis(1500);
    assert!(
        up_after <= up_limit,
        "{name}: B marked up {up_after:?} after the restart (limit {up_limit:?}); proxy log:\n{log}"
    );
    // One line per state change: B went down once and came up once; A
    // never went down.
    assert_eq!(tail.matches(&b_down).count(), 1, "{name}:\n{log}");
    assert_eq!(tail.matches(&b_up).count(), 1, "{name}:\n{log}");
    assert!(!log.contains(&a_down), "{name}: A went down:\n{log}");
    assert!(
        failed <= 5,
        "{name}: {failed} calls failed (at most 5):\n{j}\nproxy log:\n{log}"
    );
    assert!(a_answered > 0, "{name}: A answered no call:\n{a_report}");
    assert!(
        b_restarted_answered > 0,
        "{name}: the restarted B answered no call:\n{b2_report}\nproxy log:\n{log}"
    );
    assert!(
        stopped.is_some_and(|s| s.success()),
        "{name}: the proxy did not stop cleanly: {stopped:?}\n{log}"
    );
}

/// UDP: B's death shows as ICMP port unreachable (passive) and unanswered
/// OPTIONS; its calls' retransmitted INVITEs go to A.
#[test]
fn udp_member_killed_and_restarted() {
    let _l = load_lock();
    kill_and_restart("failover-udp-kill", "udp", Duration::from_millis(3000));
}

/// TCP: refused connects mark B down without waiting for a probe timeout.
#[test]
fn tcp_member_killed_and_restarted() {
    let _l = load_lock();
    kill_and_restart("failover-tcp-kill", "tcp", Duration::from_millis(1500));
}

/// A well-formed out-of-dialog request from `me`, Call-ID unique per `n`.
fn request(
    method: &str,
    ruri: &str,
    to_tag: Option<&str>,
    n: u32,
    me: &str,
    extra: &str,
) -> String {
    let mut m = String::new();
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let cseq = if method == "INVITE" { 1 } else { 2 };
    write!(
        m,
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-fo-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=f{n}\r\n\
         To: <sip:bob@example.com>{to_tag}\r\n\
         Call-ID: failover-{n}@test\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@{me}>\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
    .unwrap();
    m
}

/// A caller socket on 127.0.0.1 with a read timeout.
fn caller() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    s
}

/// The next datagram `s` receives within its read timeout.
fn recv(s: &UdpSocket) -> Option<String> {
    let mut buf = [0u8; 8192];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The reply to a raw INVITE for `ruri` sent to the proxy on `port`.
fn invite_reply(port: u16, ruri: &str, n: u32) -> String {
    let c = caller();
    let me = c.local_addr().unwrap().to_string();
    c.send_to(
        request("INVITE", ruri, None, n, &me, "").as_bytes(),
        ("127.0.0.1", port),
    )
    .unwrap();
    recv(&c).unwrap_or_else(|| panic!("no reply to the INVITE for {ruri}"))
}

/// The header lines of `msg` named `name` (case-insensitive), values only.
fn header_values<'m>(msg: &'m str, name: &str) -> Vec<&'m str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// Probed members on ports nobody listens on go down; then an INVITE to a
/// group with `when_down` gets that reply, and one to a group without it
/// gets the default 503 with `Retry-After: 5`.
#[test]
fn every_member_down_gets_the_when_down_reply() {
    let _l = load_lock();
    let dir = Scratch::new("failover-when-down");
    // Closed ports: free now, never bound.
    let (c1, c2, c3, c4, port) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let probe = "interval = \"200ms\"\ntimeout = \"100ms\"\nfall = 1\nrise = 1\n";
    let mut p = start_proxy(
        &dir,
        &[format!("udp:127.0.0.1:{port}")],
        &format!(
            "[routing]\ndefault = \"pbx\"\n\n\
             [groups.pbx]\nmembers = [\"127.0.0.1:{c1}\", \"127.0.0.1:{c2}\"]\n\n\
             [groups.pbx.probe]\n{probe}\n\
             [groups.soft]\nmembers = [\"127.0.0.1:{c3}\", \"127.0.0.1:{c4}\"]\n\
             when_down = {{ code = 480, reason = \"Temporarily Unavailable\", retry_after = 7 }}\n\n\
             [groups.soft.probe]\n{probe}\n\
             [[rules]]\nname = \"soft\"\nmatch.ruri_user = [\"480\"]\nroute = \"soft\"\n"
        ),
    );
    let downs = [
        change(c1, "pbx", "up -> down"),
        change(c2, "pbx", "up -> down"),
        change(c3, "soft", "up -> down"),
        change(c4, "soft", "up -> down"),
    ];
    let started = Instant::now();
    assert!(
        wait_lines(&p, &downs, Duration::from_secs(5)),
        "not every member marked down within 5 s:\n{}",
        p.log_text()
    );
    eprintln!(
        "when_down: all four members down within {:?} of the proxy's start",
        started.elapsed()
    );

    let soft = invite_reply(port, "sip:480@example.com", 1);
    assert_eq!(
        soft.lines().next(),
        Some("SIP/2.0 480 Temporarily Unavailable"),
        "{soft}"
    );
    assert_eq!(header_values(&soft, "Retry-After"), ["7"], "{soft}");

    let default = invite_reply(port, "sip:bob@example.com", 2);
    assert_eq!(
        default.lines().next(),
        Some("SIP/2.0 503 Service Unavailable"),
        "{default}"
    );
    assert_eq!(header_values(&default, "Retry-After"), ["5"], "{default}");
    let log = p.log_text();
    assert!(
        p.stop(Duration::from_secs(5)).is_some_and(|s| s.success()),
        "{log}"
    );
}

/// Every member of `pbx` down: its `fallback` group takes every call.
#[test]
fn fallback_group_takes_calls_when_all_members_are_down() {
    let _l = load_lock();
    let dir = Scratch::new("failover-fallback");
    let (c1, c2, backup, port) = (free_port(), free_port(), free_port(), free_port());
    let backup_json = dir.file("backup.json");
    let ub = uas(backup, "udp", &backup_json);
    settle();
    let mut p = start_proxy(
        &dir,
        &[format!("udp:127.0.0.1:{port}")],
        &format!(
            "[routing]\ndefault = \"pbx\"\n\n\
             [groups.pbx]\nmembers = [\"127.0.0.1:{c1}\", \"127.0.0.1:{c2}\"]\nfallback = \"backup\"\n\n\
             [groups.pbx.probe]\ninterval = \"200ms\"\ntimeout = \"100ms\"\nfall = 1\nrise = 1\n\n\
             [groups.backup]\nmembers = [\"127.0.0.1:{backup}\"]\n"
        ),
    );
    let downs = [
        change(c1, "pbx", "up -> down"),
        change(c2, "pbx", "up -> down"),
    ];
    assert!(
        wait_lines(&p, &downs, Duration::from_secs(5)),
        "pbx's members not marked down within 5 s:\n{}",
        p.log_text()
    );
    let uac_json = dir.file("uac.json");
    let out = uac(
        port,
        &uac_json,
        &["--calls", "200", "--rate", "100", "--timeout", "5s"],
    )
    .wait(Duration::from_secs(20));
    let j = uac_report(&out, &uac_json);
    let b = uas_report(ub, &backup_json);
    let log = p.log_text();
    eprintln!(
        "fallback: uac {} succeeded, {} failed; backup answered {}",
        json_u64(&j, "calls/succeeded"),
        json_u64(&j, "calls/failed"),
        json_u64(&b, "calls/succeeded"),
    );
    assert_eq!(json_u64(&j, "calls/failed"), 0, "{j}\nproxy log:\n{log}");
    assert_eq!(json_u64(&j, "calls/succeeded"), 200, "{j}");
    assert_eq!(json_u64(&b, "calls/started"), 200, "{b}");
    assert_eq!(json_u64(&b, "calls/succeeded"), 200, "{b}");
    assert!(
        p.stop(Duration::from_secs(5)).is_some_and(|s| s.success()),
        "{log}"
    );
}

/// A drained member gets no new call; an in-dialog BYE addressed to it
/// (by Request-URI, with and without the proxy's own Route in front) still
/// reaches it, Request-URI unchanged.
#[test]
fn drained_member_gets_no_new_calls_but_its_dialogs_continue() {
    let _l = load_lock();
    let dir = Scratch::new("failover-drain");
    let (a, b, port) = (free_port(), free_port(), free_port());
    let (a_json, b_json, uac_json) = (dir.file("a.json"), dir.file("b.json"), dir.file("uac.json"));
    let ua = uas(a, "udp", &a_json);
    let ub = uas(b, "udp", &b_json);
    settle();
    let mut p = start_proxy(
        &dir,
        &[format!("udp:127.0.0.1:{port}")],
        &format!(
            "[routing]\ndefault = \"pbx\"\n\n\
             [groups.pbx]\nmembers = [\"127.0.0.1:{a}\", \"127.0.0.1:{b};state=drain\"]\n"
        ),
    );
    let out = uac(
        port,
        &uac_json,
        &["--calls", "300", "--rate", "150", "--timeout", "5s"],
    )
    .wait(Duration::from_secs(20));
    let j = uac_report(&out, &uac_json);
    let a_report = uas_report(ua, &a_json);
    let b_report = uas_report(ub, &b_json);
    eprintln!(
        "drain: uac {} succeeded, {} failed; A answered {}, drained B {}",
        json_u64(&j, "calls/succeeded"),
        json_u64(&j, "calls/failed"),
        json_u64(&a_report, "calls/succeeded"),
        json_u64(&b_report, "calls/started"),
    );
    assert_eq!(json_u64(&j, "calls/failed"), 0, "{j}");
    assert_eq!(json_u64(&b_report, "calls/started"), 0, "{b_report}");
    assert_eq!(json_u64(&a_report, "calls/succeeded"), 300, "{a_report}");

    // B's dialogs continue: B is now a plain socket on its port.
    let bs = UdpSocket::bind(("127.0.0.1", b)).unwrap();
    bs.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let c = caller();
    let me = c.local_addr().unwrap().to_string();
    let ruri = format!("sip:bob@127.0.0.1:{b}");
    let own_route = format!("Route: <sip:127.0.0.1:{port};lr>\r\n");
    for (n, extra) in [(10, ""), (11, own_route.as_str())] {
        c.send_to(
            request("BYE", &ruri, Some("t-b"), n, &me, extra).as_bytes(),
            ("127.0.0.1", port),
        )
        .unwrap();
        let got = recv(&bs).unwrap_or_else(|| {
            panic!(
                "the in-dialog BYE ({extra:?}) did not reach drained B:\n{}",
                p.log_text()
            )
        });
        let first = got.lines().next().unwrap_or_default();
        assert_eq!(first, format!("BYE {ruri} SIP/2.0"), "{got}");
        assert!(
            got.contains(&format!("Call-ID: failover-{n}@test\r\n")),
            "{got}"
        );
    }
    let log = p.log_text();
    assert!(
        p.stop(Duration::from_secs(5)).is_some_and(|s| s.success()),
        "{log}"
    );
}
