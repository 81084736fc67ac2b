//! `branchline check-config` and `proxy --config` through the real binary:
//! each example checks clean with its summary; broken files give exact
//! `FILE:LINE:COL` lines and exit 1; the proxy refuses the same files with
//! the same lines (exit 2), and refuses `--config` with `--upstream`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn branchline(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_branchline"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run branchline")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder for this test's files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("bl-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, body: &str) {
        std::fs::write(self.0.join(name), body).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_example_checks_clean_with_its_summary() {
    let out = branchline(&["check-config", "examples/edge.toml"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with(
        "examples/edge.toml: OK\ngroups: 2\n  pbx: 2 members, hash by call-id, probe\n  registrar: 2 members, hash by to-user\nrules: 2: scanners, register\nprefixes: 0\ndefault group: pbx\nin_dialog: request-uri\nalso read: [proxy]\n"
    ), "{s}");
    assert!(!s.contains("warning:"), "{s}");

    let out = branchline(&["check-config", "examples/lcr.toml"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with(
        "examples/lcr.toml: OK\ngroups: 3\n  carrier-a: 2 members, round-robin\n  carrier-b: 1 member, hash by call-id\n  wholesale: 2 members, priority\nrules: 2: premium, lcr\nprefixes: 9\ndefault group: wholesale\n"
    ), "{s}");

    let out = branchline(&["check-config", "examples/office-hours.toml"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with(
        "examples/office-hours.toml: OK\ngroups: 2\n  office: 2 members, round-robin\n  night: 1 member, hash by call-id\nrules: 1: office-hours\nprefixes: 0\ndefault group: night\n"
    ), "{s}");
}

const BROKEN: &str = r#"[routing]
default = "pbx"

[groups.pbx]
algoritm = "hash"
members = ["127.0.0.1:5060"]
"#;

const BROKEN_VALUES: &str = r#"[routing]
default = "pbx"

[groups.pbx]
members = ["127.0.0.1:5060", "10.0.0.1"]

[[rules]]
name = "uk"
route = "ukk"

[[rules]]
name = "lcr"
prefix_table = "lcr.csv"
"#;

#[test]
fn broken_files_give_exact_lines_and_exit_1() {
    let dir = TempDir::new("broken");
    dir.write("keys.toml", BROKEN);
    dir.write("values.toml", BROKEN_VALUES);
    dir.write("lcr.csv", "+44,pbx\n+33,france\n");
    let out = branchline(&["check-config", "keys.toml"], &dir.0);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "keys.toml:5:1: unknown key \"algoritm\" in groups.pbx; did you mean \"algorithm\"? (valid keys: algorithm, hash_key, members, fallback, when_down, probe)\n"
    );
    let out = branchline(&["check-config", "values.toml"], &dir.0);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "values.toml:5:30: member \"10.0.0.1\": missing port; expected HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N][;state=drain]\n\
         values.toml:9:9: rule \"uk\" routes to group \"ukk\", which is not defined (groups: pbx)\n\
         lcr.csv:2: prefix \"+33\" routes to group \"france\", which is not defined (groups: pbx)\n"
    );
    let out = branchline(&["check-config", "missing.toml"], &dir.0);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("missing.toml: cannot read the routing file: "));
}

#[test]
fn the_proxy_refuses_a_broken_file_with_the_same_lines() {
    let dir = TempDir::new("proxy");
    dir.write("keys.toml", BROKEN);
    let out = branchline(&["proxy", "--config", "keys.toml"], &dir.0);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "keys.toml:5:1: unknown key \"algoritm\" in groups.pbx; did you mean \"algorithm\"? (valid keys: algorithm, hash_key, members, fallback, when_down, probe)\n"
    );
    let out = branchline(
        &[
            "proxy",
            "--config",
            "keys.toml",
            "--upstream",
            "127.0.0.1:5070",
        ],
        &dir.0,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "branchline: --upstream and --config keys.toml cannot be used together: the routing file defines the groups; put the upstreams in a [groups.NAME] members list, or leave out --config\n"
    );
}
