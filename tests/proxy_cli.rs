//! The binary's command line and its behaviour without sipp: flag errors
//! that say what is right, `--version`, a retransmitted INVITE forwarded
//! with the same branch, SIGHUP keeping the proxy serving, and a stateless
//! reply over TCP.

mod support_net;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use support_net::*;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn proxy_cli_version_names_the_commit() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("branchline ") && out.contains("(git "),
        "{out}"
    );
}

#[test]
fn proxy_cli_help_explains_every_flag() {
    let (code, out, _) = run(&["proxy", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--listen",
        "--upstream",
        "--workers",
        "--pin",
        "--no-pin",
        "--advertise",
        "--record-route",
        "--branch-secret",
        "--branch-secret-file",
        "--config",
        "--max-message-size",
        "--log-level",
        "Exit status",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}:\n{out}");
    }
}

#[test]
fn proxy_cli_wrong_flags_say_what_is_right() {
    let (code, _, err) = run(&[
        "proxy",
        "--listen",
        "udp:127.0.0.1",
        "--upstream",
        "127.0.0.1:5070",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("udp:ADDR:PORT"), "{err}");
    let (code, _, err) = run(&["proxy", "--upstream", "sip:10.0.0.1:5060"]);
    assert_eq!(code, 2);
    assert!(err.contains("drop the 'sip:' prefix"), "{err}");
    let (code, _, err) = run(&["proxy", "--listen", "udp:127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("give at least one --upstream"), "{err}");
}

#[test]
fn proxy_cli_address_in_use_exits_1() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listen = format!("tcp:127.0.0.1:{port}");
    let (code, _, err) = run(&["proxy", "--listen", &listen, "--upstream", "127.0.0.1:9"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "branchline: cannot listen on {listen}: already in use by another process"
        )),
        "{err}"
    );
}

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-retrans-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=a1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: retrans-1@example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@127.0.0.1:PORT>\r\n\
Content-Length: 0\r\n\r\n";

fn top_branch(msg: &str) -> String {
    let via = msg
        .lines()
        .find(|l| l.starts_with("Via:") || l.starts_with("v:"))
        .expect("a Via");
    let b = via.split(";branch=").nth(1).expect("a branch");
    b.split([';', ',', ' ']).next().unwrap().to_string()
}

/// A retransmitted INVITE is forwarded with the same branch (RFC 3261
/// §16.11: the stateless branch depends only on the request).
#[test]
fn proxy_retransmitted_invite_keeps_its_branch() {
    let dir = Scratch::new("retrans");
    let uas = UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free_port(V4);
    let _p = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:127.0.0.1:{port}"),
            format!("--upstream={}", uas.local_addr().unwrap()),
            "--workers=2".into(),
        ],
    );
    let msg = INVITE.replace("PORT", &uac.local_addr().unwrap().port().to_string());
    let mut branches = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        uac.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
        let (n, _) = uas.recv_from(&mut buf).expect("the INVITE is forwarded");
        let fwd = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(fwd.contains("Max-Forwards: 69"), "{fwd}");
        branches.push(top_branch(&fwd));
    }
    assert_eq!(branches[0], branches[1]);
    assert_ne!(branches[0], "z9hG4bK-retrans-1");
}

/// SIGHUP rebuilds the table and the proxy keeps forwarding.
#[test]
fn proxy_sighup_reloads_and_keeps_serving() {
    let dir = Scratch::new("sighup");
    let uas = UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free_port(V4);
    let mut p = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:127.0.0.1:{port}"),
            format!("--upstream={}", uas.local_addr().unwrap()),
            "--workers=1".into(),
        ],
    );
    p.guard.signal(1);
    let mut waited = 0;
    while !p.log_text().contains("routing table reloaded") && waited < 100 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert!(
        p.log_text().contains("routing table reloaded"),
        "{}",
        p.log_text()
    );
    let msg = INVITE.replace("PORT", &uac.local_addr().unwrap().port().to_string());
    uac.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    uas.recv_from(&mut buf)
        .expect("still forwarding after SIGHUP");
    assert!(p.stop(Duration::from_secs(3)).is_some_and(|s| s.success()));
}

/// A request over TCP that the proxy answers itself (OPTIONS to the proxy)
/// gets its reply on the same connection; CRLF keep-alives get a pong.
#[test]
fn proxy_tcp_reply_on_the_same_connection() {
    let dir = Scratch::new("tcp-reply");
    let port = free_port(V4);
    let _p = Proxy::start(
        &dir,
        &[
            format!("--listen=tcp:127.0.0.1:{port}"),
            "--upstream=127.0.0.1:9".into(),
            "--workers=2".into(),
        ],
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = s.local_addr().unwrap().port();
    let options = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:{local};branch=z9hG4bK-opt-1\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:127.0.0.1:{port}>\r\n\
Call-ID: opt-1@example.com\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(b"\r\n\r\n").unwrap();
    s.write_all(options.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("Content-Length: 0\r\n\r\n") {
        let n = s.read(&mut buf).expect("a reply");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("\r\nSIP/2.0 200"), "{text:?}");
}

/// Regression: one receive batch whose outputs leave on two different UDP
/// sockets (INVITEs forwarded to an IPv6 upstream, OPTIONS answered on the
/// IPv4 socket). The worker used to flush the batch when the socket changed
/// and then queue a stale slot, so a client could get a forwarded INVITE
/// instead of its 200. Every INVITE must reach the upstream once and every
/// OPTIONS must get its own 200.
#[test]
fn proxy_udp_batch_switching_sockets_keeps_each_datagram() {
    let dir = Scratch::new("batch-switch");
    let upstream = UdpSocket::bind("[::1]:0").unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let cport = client.local_addr().unwrap().port();
    let p4 = free_port(V4);
    let p6 = free_port("::1".parse().unwrap());
    let _p = Proxy::start(
        &dir,
        &[
            format!("--listen=udp:127.0.0.1:{p4}"),
            format!("--listen=udp:[::1]:{p6}"),
            format!("--upstream={}", upstream.local_addr().unwrap()),
            "--workers=1".into(),
        ],
    );
    const N: usize = 24;
    for i in 0..N {
        let invite = INVITE
            .replace("PORT", &cport.to_string())
            .replace("retrans-1@", &format!("switch-{i}@"))
            .replace("z9hG4bK-retrans-1", &format!("z9hG4bK-inv-{i}"));
        let options = format!(
            "OPTIONS sip:127.0.0.1:{p4} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{cport};branch=z9hG4bK-opt-{i}\r\n\
Max-Forwards: 70\r\n\
From: <sip:probe@example.com>;tag=p{i}\r\n\
To: <sip:127.0.0.1:{p4}>\r\n\
Call-ID: probe-{i}@example.com\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
        );
        client
            .send_to(invite.as_bytes(), ("127.0.0.1", p4))
            .unwrap();
        client
            .send_to(options.as_bytes(), ("127.0.0.1", p4))
            .unwrap();
    }
    let mut buf = [0u8; 4096];
    let mut invites = std::collections::BTreeSet::new();
    for _ in 0..N {
        let (n, _) = upstream.recv_from(&mut buf).expect("a forwarded INVITE");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(m.starts_with("INVITE "), "upstream got:\n{m}");
        assert!(invites.insert(call_id(&m)), "INVITE twice:\n{m}");
    }
    let mut replies = std::collections::BTreeSet::new();
    for _ in 0..N {
        let (n, _) = client.recv_from(&mut buf).expect("a 200 to OPTIONS");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(m.starts_with("SIP/2.0 200 "), "client got:\n{m}");
        assert!(replies.insert(call_id(&m)), "reply twice:\n{m}");
    }
    assert_eq!((invites.len(), replies.len()), (N, N));
}

fn call_id(msg: &str) -> String {
    msg.lines()
        .find_map(|l| l.strip_prefix("Call-ID: "))
        .expect("a Call-ID")
        .to_string()
}
