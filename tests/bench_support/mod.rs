//! Helpers for the `bench` integration tests: free loopback ports, child
//! processes killed on every exit path, tools that CI must have, and the
//! few numbers read back from a `--json` report.
#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_branchline");

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let u = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// A child process killed (and reaped) when dropped, together with every
/// process it forked: it runs in a process group of its own, and the whole
/// group is killed (Kamailio forks workers that would outlive their parent).
pub struct Guard(pub Option<Child>);

/// SIGKILL to the process group led by `child`.
fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--"])
        .arg(format!("-{}", child.id()))
        .stderr(Stdio::null())
        .status();
}

impl Guard {
    /// Starts `cmd` with its output captured, in a new process group.
    pub fn spawn(cmd: &mut Command) -> Guard {
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        Guard(Some(child))
    }

    /// Sends SIGTERM and waits up to `limit` for the child to end, then
    /// kills it; returns what it printed.
    pub fn terminate(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().expect("child");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(&child);
        let _ = child.kill();
        child.wait_with_output().expect("wait")
    }

    /// Waits up to `limit` for the child to end by itself (then kills it).
    pub fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().expect("child");
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return child.wait_with_output().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(&child);
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!(
            "child did not end within {limit:?}; stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            kill_group(&c);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` to its end within `limit` (killed after it) and returns
/// its output.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    Guard::spawn(cmd).wait(limit)
}

/// True when `tool` is on PATH. Without it the test is skipped with a note,
/// except under CI (`CI` set), where it fails.
pub fn have(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required under CI: apt-get install -y {package}");
        }
        eprintln!("skipped: {tool} not found (apt-get install -y {package})");
    }
    found
}

/// A scratch file path unique to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("branchline-bench-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

/// The unsigned integer at `path` (keys separated by `/`) in a report
/// written by `--json` (pretty-printed, fixed key order).
pub fn json_u64(json: &str, path: &str) -> u64 {
    let mut rest = json;
    for key in path.split('/') {
        let pat = format!("\"{key}\":");
        let at = rest
            .find(&pat)
            .unwrap_or_else(|| panic!("no {path} in report:\n{json}"));
        rest = &rest[at + pat.len()..];
    }
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{path} is not a number in report:\n{json}"))
}

/// Text of an output, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Starts `branchline bench uas` on 127.0.0.1:`port` with extra flags.
pub fn bench_uas(port: u16, extra: &[&str]) -> Guard {
    let g = Guard::spawn(
        Command::new(BIN)
            .args(["bench", "uas", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--duration", "60s", "--quiet"])
            .args(extra),
    );
    std::thread::sleep(Duration::from_millis(300));
    g
}

/// Runs `branchline bench uac` against 127.0.0.1:`port`, writing JSON to
/// `json`; returns its output (bounded to 60 s).
pub fn bench_uac(port: u16, json: &PathBuf, extra: &[&str]) -> Output {
    run(
        Command::new(BIN)
            .args(["bench", "uac", "--target"])
            .arg(format!("127.0.0.1:{port}"))
            .args(if extra.contains(&"--timeout") {
                &[][..]
            } else {
                &["--timeout", "5s"][..]
            })
            .args(["--quiet", "--json"])
            .arg(json)
            .args(extra),
        Duration::from_secs(60),
    )
}

/// Stops a `bench uas` and asserts its report: `calls` calls started, all of
/// them completed, none failed.
pub fn assert_uas_served(uas: Guard, calls: u64) {
    let out = uas.terminate(Duration::from_secs(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "calls: {calls} started, {calls} succeeded, 0 failed"
        )),
        "{}",
        show(&out)
    );
}
