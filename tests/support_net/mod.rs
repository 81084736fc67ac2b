//! Helpers for the tests that run the real `branchline` binary on loopback:
//! free ports, child processes that are killed on every exit path, the
//! proxy with its log, and sipp peers (required when `CI` is set, skipped
//! with a printed reason otherwise).
#![allow(dead_code)]

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_branchline");

/// Load tests run one at a time (two cores are shared with everything else).
static LOAD: Mutex<()> = Mutex::new(());

/// Takes the load-test lock (survives a panicked holder).
pub fn load_lock() -> MutexGuard<'static, ()> {
    LOAD.lock().unwrap_or_else(|e| e.into_inner())
}

/// sipp, or `None` with the reason printed. Panics when `CI` is set and
/// sipp is missing: CI must run these tests.
pub fn sipp(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("sipp"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: sipp is required when CI is set (apt-get install sip-tester)");
        }
        eprintln!("{test}: skipped: sipp not found in PATH (apt-get install sip-tester)");
    }
    found
}

/// A port free for both UDP and TCP on `ip`.
pub fn free_port(ip: IpAddr) -> u16 {
    for _ in 0..100 {
        let u = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind udp");
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

/// A scratch directory for logs, removed on drop unless the test failed.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("branchline-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process killed (and reaped) when dropped.
pub struct Guard {
    pub child: Option<Child>,
    pub name: String,
}

impl Guard {
    pub fn spawn(name: &str, cmd: &mut Command) -> Guard {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Guard {
            child: Some(child),
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Waits up to `limit` for the process to exit; kills it after that.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (by number) to the process.
    pub fn signal(&self, sig: i32) {
        let pid = self.pid();
        if pid != 0 {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// branchline with its standard error in a file.
pub struct Proxy {
    pub guard: Guard,
    pub log: PathBuf,
}

impl Proxy {
    /// Starts `branchline proxy ARGS` and waits until it has logged that
    /// it runs (its workers are started after the last "listening" line).
    pub fn start(dir: &Scratch, args: &[String]) -> Proxy {
        let log = dir.file("branchline.log");
        let err = fs::File::create(&log).unwrap();
        let guard = Guard::spawn(
            "branchline",
            Command::new(BIN)
                .arg("proxy")
                .args(args)
                .stdout(Stdio::null())
                .stderr(err),
        );
        let p = Proxy { guard, log };
        let until = Instant::now() + Duration::from_secs(10);
        while !p.log_text().contains("worker(s)") {
            assert!(
                Instant::now() < until,
                "branchline did not start:\n{}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status within `limit`.
    pub fn stop(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.guard.signal(15);
        self.guard.wait_for(limit)
    }
}

/// What a finished sipp UAC reported.
#[derive(Debug)]
pub struct UacResult {
    pub status: Option<ExitStatus>,
    pub successful: u64,
    pub failed: u64,
    pub output: String,
}

/// A sipp built-in scenario (`uac`/`uas`) with common flags.
pub fn sipp_cmd(
    sipp: &Path,
    scenario: &str,
    local_ip: IpAddr,
    port: u16,
    transport: &str,
) -> Command {
    let mut c = Command::new(sipp);
    c.args([
        "-sn",
        scenario,
        "-i",
        &local_ip.to_string(),
        "-p",
        &port.to_string(),
    ])
    .args(["-t", transport, "-nostdin"]);
    c
}

/// Starts a sipp UAS that writes its statistics to `stats` every second.
pub fn start_uas(
    sipp: &Path,
    dir: &Scratch,
    name: &str,
    ip: IpAddr,
    port: u16,
    transport: &str,
) -> Guard {
    let log = fs::File::create(dir.file(&format!("{name}.log"))).unwrap();
    let stats = dir.file(&format!("{name}.csv"));
    let mut cmd = sipp_cmd(sipp, "uas", ip, port, transport);
    cmd.arg("-trace_stat")
        .arg("-stf")
        .arg(&stats)
        .args(["-fd", "1"])
        .stdout(log)
        .stderr(Stdio::null())
        .current_dir(&dir.0);
    let g = Guard::spawn(name, &mut cmd);
    std::thread::sleep(Duration::from_millis(300));
    g
}

/// Runs a sipp UAC to `target` (`ip:port` or `[ip]:port`) for `calls`
/// calls at `rate` per second, with `extra` sipp arguments (e.g.
/// `-cid_str`), and waits for it (bounded).
#[allow(clippy::too_many_arguments)]
pub fn run_uac(
    sipp: &Path,
    dir: &Scratch,
    target: &str,
    ip: IpAddr,
    port: u16,
    transport: &str,
    calls: u64,
    rate: u64,
    extra: &[&str],
) -> UacResult {
    let out = dir.file("uac.out");
    let mut cmd = sipp_cmd(sipp, "uac", ip, port, transport);
    cmd.arg(target)
        .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
        .args(["-l", &(rate * 4).to_string()])
        .args(["-timeout", &format!("{}s", calls / rate + 60)])
        .args(extra);
    wait_uac(cmd, dir, &out, Duration::from_secs(calls / rate + 90))
}

/// [`run_uac`] with a scenario file (`-sf scenario`) instead of the
/// built-in `uac`; its output goes to `NAME.out` in `dir`, NAME being the
/// scenario's file stem.
#[allow(clippy::too_many_arguments)]
pub fn run_uac_scenario(
    sipp: &Path,
    dir: &Scratch,
    scenario: &Path,
    target: &str,
    ip: IpAddr,
    port: u16,
    calls: u64,
    rate: u64,
    extra: &[&str],
) -> UacResult {
    let stem = scenario
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("uac");
    let out = dir.file(&format!("{stem}.out"));
    let mut cmd = Command::new(sipp);
    cmd.arg("-sf")
        .arg(scenario)
        .args(["-i", &ip.to_string(), "-p", &port.to_string()])
        .args(["-nostdin", target])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
        .args(["-l", &(rate * 4).to_string()])
        .args(["-timeout", &format!("{}s", calls / rate + 30)])
        .args(extra);
    wait_uac(cmd, dir, &out, Duration::from_secs(calls / rate + 45))
}

/// Runs a sipp UAC command with its screen in `out`, waits up to `limit`
/// and reads its counts.
fn wait_uac(mut cmd: Command, dir: &Scratch, out: &Path, limit: Duration) -> UacResult {
    let f = fs::File::create(out).unwrap();
    cmd.stdout(f).stderr(Stdio::null()).current_dir(&dir.0);
    let mut g = Guard::spawn("sipp uac", &mut cmd);
    let status = g.wait_for(limit);
    let output = fs::read_to_string(out).unwrap_or_default();
    UacResult {
        status,
        successful: screen_count(&output, "Successful call"),
        failed: screen_count(&output, "Failed call"),
        output,
    }
}

/// The cumulative column of a line of sipp's final screen.
fn screen_count(screen: &str, label: &str) -> u64 {
    screen
        .lines()
        .rfind(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A column of the last line of a sipp statistics file.
pub fn stat(file: &Path, column: &str) -> u64 {
    let text = fs::read_to_string(file).unwrap_or_default();
    let mut lines = text.lines();
    let Some(head) = lines.next() else { return 0 };
    let Some(i) = head.split(';').position(|c| c == column) else {
        return 0;
    };
    lines
        .rfind(|l| !l.trim().is_empty())
        .and_then(|l| l.split(';').nth(i))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A count in the totals line the proxy logs when it stops (`stopped:
/// received=N forwarded=N replied=N dropped=N (reason=n, ...)`): `name` is
/// `received`, `forwarded`, ... or a drop reason. `None` when there is no
/// such line; `Some(0)` when the line does not name it (a reason with no
/// drops is left out).
pub fn stopped_count(log: &str, name: &str) -> Option<u64> {
    let line = log.lines().rfind(|l| l.contains("stopped: "))?;
    let pat = format!("{name}=");
    let mut from = 0;
    while let Some(at) = line[from..].find(&pat).map(|i| from + i) {
        from = at + pat.len();
        let before = line[..at].chars().next_back();
        if matches!(before, Some(' ' | '(')) {
            let digits: String = line[from..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Some(digits.parse().unwrap_or(0));
        }
    }
    Some(0)
}
