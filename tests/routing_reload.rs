//! Reloading a routing file of a million prefixes under load: the table is
//! compiled on the control thread, off the workers, so calls placed
//! through the proxy while it rebuilds all complete, with no INVITE sent
//! twice (a pause of the workers longer than the UAC's 500 ms
//! retransmission timer would show as a retransmitted INVITE).

mod bench_support;

use std::fmt::Write as _;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_support::*;

/// Writes `routes.toml` and a CSV of `n` distinct prefixes, all to the
/// group whose member is the UAS, so every call completes whichever prefix
/// its number walks into.
fn write_file(dir: &std::path::Path, uas: u16, n: usize) -> std::path::PathBuf {
    let mut csv = String::with_capacity(n * 16);
    csv.push_str("prefix,group\n");
    for i in 0..n {
        // Distinct 7-digit prefixes; the calls dial 4420#######, which
        // walks into them.
        let _ = writeln!(csv, "{},lcr", 4_420_000_000u64 + i as u64);
    }
    fs::write(dir.join("prefixes.csv"), csv).unwrap();
    let file = dir.join("routes.toml");
    fs::write(
        &file,
        format!(
            "[routing]\ndefault = \"pbx\"\n\n[groups.pbx]\nmembers = [\"127.0.0.1:{uas}\"]\n\n\
             [groups.lcr]\nmembers = [\"127.0.0.1:{uas}\"]\n\n\
             [[rules]]\nname = \"scanners\"\nmatch.user_agent = [\"sipvicious\"]\naction = \"drop\"\n\n\
             [[rules]]\nname = \"lcr\"\nprefix_table = \"prefixes.csv\"\n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn a_million_prefix_reload_does_not_pause_forwarding() {
    let dir = scratch("reload-1m");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let uas_port = free_port();
    let uas = bench_uas(uas_port, &[]);
    let file = write_file(&dir, uas_port, 1_000_000);
    let port = free_port();
    let log = dir.join("proxy.log");
    // Its log in a file (Guard::spawn would pipe it); killed on drop.
    let proxy = Guard(Some(
        Command::new(BIN)
            .args(["proxy", "--workers", "1", "--listen"])
            .arg(format!("udp:127.0.0.1:{port}"))
            .arg("--config")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    ));
    let until = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("worker(s)")
    {
        assert!(
            Instant::now() < until,
            "{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = proxy.0.as_ref().unwrap().id();
    // Three reloads while 1,600 calls run for 8 s.
    let reloads = std::thread::spawn(move || {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(1500));
            let _ = Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status();
        }
    });
    let json = dir.join("uac.json");
    let out = bench_uac(
        port,
        &json,
        &[
            "--calls",
            "1600",
            "--rate",
            "200",
            "--to",
            "4420#######",
            "--seed",
            "7",
        ],
    );
    reloads.join().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let j = fs::read_to_string(&json).unwrap();
    assert_eq!(json_u64(&j, "calls/succeeded"), 1600, "{j}");
    assert_eq!(json_u64(&j, "calls/failed"), 0, "{j}");
    assert_eq!(
        json_u64(&j, "messages/INVITE/sent"),
        1600,
        "an INVITE was retransmitted: forwarding paused\n{j}"
    );
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(text.matches("routing table reloaded").count(), 3, "{text}");
    drop(proxy);
    assert_uas_served(uas, 1600);
}
