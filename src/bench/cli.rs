//! The command line of `branchline bench uac` and `branchline bench uas`:
//! clap derive structs, their validation into the I/O shell's plans, and
//! the reports at the end of a run (which `branchline demo`,
//! [`crate::demo`], prints too).
//!
//! Exit status: 0 when the run's failures are within `--max-failures`, 1
//! when they are not or the run could not start (e.g. an address in use),
//! 2 for wrong usage.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::flow::uac::Scenario;
use super::flow::uas::UasConfig;
use super::flow::uas_auth::UasAuth;
use super::io::uac::{UacOutcome, UacPlan};
use super::io::uas::{UasPlan, UasServer};
use super::io::{ProgressOptions, StopFlag};
use super::number::{NumberPattern, Numbers};
use super::pace::Rate;
use super::report::{write_json, write_svg, write_text, RunInfo};
use super::stats::{Latency, Stats};
use super::timer::TimerConfig;
use crate::digest::{Algorithm, NonceKey, Users};
use crate::sip::uri::Uri;
use crate::sip::Transport;

/// `branchline bench`: the carrier load generator.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which side to run.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The sides of a benchmark.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Place calls (or registrations, OPTIONS, MESSAGEs) at an even rate
    /// and measure them.
    Uac(UacArgs),
    /// Answer calls: 180 then 200 (or injected errors), BYE, CANCEL,
    /// OPTIONS, REGISTER, MESSAGE; optionally challenge them with digest
    /// authentication first.
    Uas(UasArgs),
}

/// `udp` or `tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// UDP with RFC 3261 retransmissions.
    Udp,
    /// TCP, one connection per local address; no retransmissions.
    Tcp,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
        }
    }
}

/// What one UAC "call" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    /// INVITE → 180 → 200 → ACK → hold → BYE → 200.
    Call,
    /// REGISTER (answering a 401/407 digest challenge with --user/--password).
    Register,
    /// OPTIONS → 200.
    Options,
    /// MESSAGE → 200.
    Message,
}

impl From<ScenarioArg> for Scenario {
    fn from(s: ScenarioArg) -> Scenario {
        match s {
            ScenarioArg::Call => Scenario::Call,
            ScenarioArg::Register => Scenario::Register,
            ScenarioArg::Options => Scenario::Options,
            ScenarioArg::Message => Scenario::Message,
        }
    }
}

/// Where the report goes and when the run counts as failed.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Exit with status 1 when more calls than this failed.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_failures: u64,
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a latency picture to FILE: SVG, or HTML when FILE ends in .html.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Flags of `branchline bench uac`.
#[derive(Debug, Clone, Args)]
pub struct UacArgs {
    /// Where to send: HOST:PORT (a proxy or a UAS).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,
    /// New calls per second, evenly paced (bursts of at most one 2 ms tick;
    /// from 500/s per worker, responses are read once per tick).
    #[arg(long, default_value_t = 100.0, value_name = "CPS")]
    pub rate: f64,
    /// Place this many calls, then drain.
    #[arg(long, value_name = "N")]
    pub calls: Option<u64>,
    /// Place calls for this long, then drain [default: 10s unless --calls].
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub duration: Option<Duration>,
    /// At most this many calls open at once.
    #[arg(long, default_value_t = 10_000, value_name = "MAX")]
    pub concurrency: u32,
    /// Time between the ACK and the BYE.
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "D")]
    pub hold: Duration,
    /// Transport to the target.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    /// A local address to send from (repeat for several flows; port 0: any)
    /// [default: 127.0.0.1:0 for a loopback target, else the wildcard].
    #[arg(long, value_name = "ADDR:PORT")]
    pub local: Vec<SocketAddr>,
    /// Worker threads (each paces its share of --rate on its own sockets).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub workers: u16,
    /// What a call is.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Call)]
    pub scenario: ScenarioArg,
    /// Digest username: the From user of every call (and the To user of a
    /// REGISTER); a 401/407 to an INVITE, REGISTER, OPTIONS or MESSAGE is
    /// answered once with --password (empty when not given), with SHA-256,
    /// SHA-256-sess, MD5 or MD5-sess (the first challenge offering one).
    #[arg(long, value_name = "USER", conflicts_with = "users")]
    pub user: Option<String>,
    /// Password of --user for answering digest challenges.
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// Many users: a file of lines `user,password` (blank lines and #
    /// comments allowed); each call takes the next user in turn, as its
    /// From user and digest username.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// User part of the Request-URI of calls, OPTIONS and MESSAGEs.
    #[arg(long, default_value = "service")]
    pub service: String,
    /// Dial numbers instead of --service: each # in PATTERN is a random
    /// digit, 0-9 (e.g. '+4420#######'); a pattern holds digits, #, * and a
    /// leading +, at most 32. Repeat for several patterns: each call picks
    /// one evenly at random. The call's number is the user part of the To of
    /// all its requests and of the Request-URI of those outside the dialog
    /// (the INVITE and its retransmissions, the ACK of a refused call, an
    /// OPTIONS or MESSAGE); the ACK and BYE of an answered call go to the
    /// answer's Contact. Not with --scenario register.
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern, conflicts_with = "service")]
    pub to: Vec<NumberPattern>,
    /// Seeds the numbers --to dials: the same seed with the same --workers
    /// and --local dials the same numbers, in the same order on each local
    /// address [default: from the clock; the report shows it].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// A preloaded Route for requests outside a dialog, as a phone with an
    /// outbound proxy sends (e.g. sip:10.0.0.1:5060;lr); repeat for a route
    /// set, in order. Requests in a dialog follow its Record-Route instead.
    #[arg(long, value_name = "SIP-URI")]
    pub route: Vec<String>,
    /// A transaction with no final response after this long fails; also
    /// bounds the drain phase after the last call is placed.
    #[arg(long, default_value = "32s", value_parser = parse_duration, value_name = "D")]
    pub timeout: Duration,
    /// RFC 3261 T1, the first retransmission interval over UDP.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "D")]
    pub t1: Duration,
    /// Report and exit status.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `branchline bench uas`.
#[derive(Debug, Clone, Args)]
pub struct UasArgs {
    /// Address to listen on (port 0: any, printed at start).
    #[arg(long, default_value = "127.0.0.1:5070", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Transport to listen on.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    /// Time between the 180 and the final response.
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "D")]
    pub ring: Duration,
    /// Final response to INVITE.
    #[arg(long, default_value_t = 200, value_name = "CODE")]
    pub answer_code: u16,
    /// Share of INVITEs answered with --fail-code instead (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    pub fail_ratio: f64,
    /// Status of injected failures.
    #[arg(long, default_value_t = 503, value_name = "CODE")]
    pub fail_code: u16,
    /// Worker threads, sharing the address with SO_REUSEPORT.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub workers: u16,
    /// Stop after this long [default: until SIGINT or SIGTERM].
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub duration: Option<Duration>,
    /// RFC 3261 T1, the first retransmission interval of final responses.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "D")]
    pub t1: Duration,
    /// Challenge every INVITE, REGISTER and MESSAGE without valid
    /// credentials with a 401 in this digest realm (stateless nonces, fresh
    /// for 5 minutes; qop=auth); wrong credentials get a 403. Needs
    /// --auth-users.
    #[arg(long, value_name = "REALM", requires = "auth_users")]
    pub auth_realm: Option<String>,
    /// The users of --auth-realm: a file of lines `user,password` or
    /// `user,md5:HA1_HEX[,sha256:HA1_HEX]` (blank lines and # comments
    /// allowed).
    #[arg(long, value_name = "FILE", requires = "auth_realm")]
    pub auth_users: Option<PathBuf>,
    /// The digest algorithms offered, in this order, one WWW-Authenticate
    /// header each: SHA-256, SHA-256-sess, MD5, MD5-sess [default:
    /// SHA-256,MD5].
    #[arg(
        long,
        value_name = "ALG,..",
        value_delimiter = ',',
        value_parser = parse_algorithm,
        requires = "auth_realm"
    )]
    pub auth_algorithms: Vec<Algorithm>,
    /// Report and exit status.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Parses `500ms`, `10s`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; write e.g. 500ms, 10s, 2m"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => {
            return Err(format!(
                "'{s}': unknown unit '{u}'; use ms, s, m or h (e.g. 500ms, 10s, 2m)"
            ))
        }
    };
    let secs = n * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Reads a digest algorithm name of `--auth-algorithms`.
fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    Algorithm::parse(s.trim().as_bytes()).ok_or_else(|| {
        format!("'{s}' is not a digest algorithm; use SHA-256, SHA-256-sess, MD5 or MD5-sess")
    })
}

/// Checks a `--to` pattern (see [`NumberPattern`]).
fn parse_pattern(s: &str) -> Result<NumberPattern, String> {
    NumberPattern::parse(s).map_err(|e| e.to_string())
}

/// Runs `branchline bench ...` and returns the exit status.
pub fn run(args: BenchArgs) -> ExitCode {
    let r = match args.command {
        BenchCommand::Uac(a) => run_uac(&a),
        BenchCommand::Uas(a) => run_uas(&a),
    };
    finish(r)
}

/// An error that ends a bench command, with its exit status.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Wrong usage (status 2).
    Usage(String),
    /// The run could not start or broke (status 1).
    Run(String),
    /// The run completed with too many failures (status 1; already reported).
    Failures,
}

/// The exit status of a run's result, after printing its error.
pub(crate) fn finish(r: Result<(), Fail>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) => {
            eprintln!("branchline: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Run(m)) => {
            eprintln!("branchline: {m}");
            ExitCode::from(1)
        }
        Err(Fail::Failures) => ExitCode::from(1),
    }
}

impl UacArgs {
    /// The validated plan.
    pub(crate) fn plan(&self) -> Result<UacPlan, Fail> {
        let target = resolve(&self.target)?;
        let rate = Rate::per_second(self.rate)
            .ok_or_else(|| Fail::Usage(format!("--rate {}: give a positive number", self.rate)))?;
        if self.concurrency == 0 || self.workers == 0 {
            return Err(Fail::Usage(
                "--concurrency and --workers must be at least 1".into(),
            ));
        }
        let scenario = Scenario::from(self.scenario);
        let users = match (&self.user, &self.password, &self.users) {
            (_, _, Some(path)) => read_users(path)?,
            (Some(u), Some(p), None) => vec![(u.clone(), p.clone())],
            (Some(u), None, None) => vec![(u.clone(), String::new())],
            (None, Some(_), None) => return Err(Fail::Usage("--password needs --user".into())),
            (None, None, None) => Vec::new(),
        };
        let locals = if self.local.is_empty() {
            vec![default_local(target)]
        } else {
            self.local.clone()
        };
        if let Some(l) = locals.iter().find(|l| l.is_ipv4() != target.is_ipv4()) {
            return Err(Fail::Usage(format!(
                "--local {l} and --target {target} are of different IP families"
            )));
        }
        for r in &self.route {
            match Uri::parse(r.as_bytes()) {
                Ok(Uri::Sip(u)) if u.headers.is_none() => {}
                _ => {
                    return Err(Fail::Usage(format!(
                        "--route {r}: give a SIP URI such as sip:10.0.0.1:5060;lr"
                    )))
                }
            }
        }
        if !self.to.is_empty() && scenario == Scenario::Register {
            return Err(Fail::Usage(
                "--to dials calls, OPTIONS and MESSAGEs; a REGISTER's user is --user".into(),
            ));
        }
        let number_seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let duration = match (self.calls, self.duration) {
            (None, None) => Some(Duration::from_secs(10)),
            (_, d) => d,
        };
        Ok(UacPlan {
            target,
            transport: self.transport.into(),
            locals,
            workers: self.workers,
            rate,
            calls: self.calls,
            duration,
            concurrency: self.concurrency,
            tick: Duration::from_millis(2),
            scenario,
            service: self.service.clone(),
            numbers: Numbers::new(self.to.clone()),
            number_seed,
            hold: self.hold,
            timeout: self.timeout,
            timers: TimerConfig {
                t1: self.t1,
                ..TimerConfig::default()
            },
            users,
            route: self.route.clone(),
        })
    }
}

/// The users of `--users FILE`: lines `user,password`.
fn read_users(path: &Path) -> Result<Vec<(String, String)>, Fail> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Fail::Usage(format!("--users {name}: {e}; give a readable file")))?;
    let lines = crate::digest::user_lines(&text, &name).map_err(Fail::Usage)?;
    let mut users = Vec::with_capacity(lines.len());
    for l in lines {
        match l.secret {
            crate::digest::Secret::Password(p) => users.push((l.user.to_string(), p.to_string())),
            crate::digest::Secret::Hashes { .. } => {
                return Err(Fail::Usage(format!(
                    "{name}:{}: user '{}' has hashes; the UAC needs each user's \
                     password: write {},PASSWORD",
                    l.line, l.user, l.user
                )))
            }
        }
    }
    if users.is_empty() {
        return Err(Fail::Usage(format!(
            "--users {name}: no user in the file; write one user,password a line"
        )));
    }
    Ok(users)
}

fn resolve(target: &str) -> Result<SocketAddr, Fail> {
    target
        .to_socket_addrs()
        .map_err(|e| Fail::Usage(format!("--target {target}: {e} (write HOST:PORT)")))?
        .next()
        .ok_or_else(|| Fail::Usage(format!("--target {target}: no address")))
}

fn default_local(target: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = match (target.ip().is_loopback(), target.is_ipv4()) {
        (true, true) => [127, 0, 0, 1].into(),
        (true, false) => std::net::Ipv6Addr::LOCALHOST.into(),
        (false, true) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        (false, false) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(ip, 0)
}

fn run_uac(a: &UacArgs) -> Result<(), Fail> {
    let plan = a.plan()?;
    let stop = StopFlag::new();
    stop.on_signals()
        .map_err(|e| Fail::Run(format!("signal handlers: {e}")))?;
    let outcome = super::io::uac::run(
        &plan,
        &stop,
        ProgressOptions {
            enabled: !a.output.quiet,
            headline: plan.scenario.headline(),
        },
    )
    .map_err(|e| Fail::Run(format!("bench uac: {e}")))?;
    let run = uac_run_info(&plan, &outcome);
    report(&run, &outcome.stats, &a.output)
}

/// The report header of a UAC run.
pub(crate) fn uac_run_info(plan: &UacPlan, outcome: &UacOutcome) -> RunInfo {
    let scenario = match plan.scenario {
        Scenario::Call => "call",
        Scenario::Register => "register",
        Scenario::Options => "options",
        Scenario::Message => "message",
    };
    let mut params = vec![
        ("rate", format!("{}/s", plan.rate.per_second_f64())),
        ("transport", plan.transport.as_param().to_string()),
        ("workers", plan.workers.to_string()),
        ("local", locals_text(&plan.locals)),
        ("concurrency", plan.concurrency.to_string()),
        ("hold", format!("{:?}", plan.hold)),
        ("timeout", format!("{:?}", plan.timeout)),
    ];
    if let Some(c) = plan.calls {
        params.push(("calls", c.to_string()));
    }
    if let Some(d) = plan.duration {
        params.push(("duration", format!("{d:?}")));
    }
    if !plan.numbers.is_empty() {
        let to: Vec<String> = plan
            .numbers
            .patterns()
            .iter()
            .map(|p| format!("'{}'", p.as_str()))
            .collect();
        params.push(("to", to.join(" ")));
        params.push(("seed", plan.number_seed.to_string()));
    }
    params.push(("pacing_missed", outcome.missed.to_string()));
    RunInfo {
        title: format!(
            "branchline bench uac {scenario} → {} {}",
            plan.target,
            plan.transport.as_param()
        ),
        params,
        elapsed: outcome.elapsed,
    }
}

fn locals_text(locals: &[SocketAddr]) -> String {
    locals
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_uas(a: &UasArgs) -> Result<(), Fail> {
    if !(0.0..=1.0).contains(&a.fail_ratio) {
        return Err(Fail::Usage(format!(
            "--fail-ratio {}: give a share from 0.0 to 1.0",
            a.fail_ratio
        )));
    }
    if !(200..700).contains(&a.answer_code) || !(300..700).contains(&a.fail_code) {
        return Err(Fail::Usage(
            "--answer-code must be 200..699 and --fail-code 300..699".into(),
        ));
    }
    let plan = uas_plan(a)?;
    let stop = StopFlag::new();
    stop.on_signals()
        .map_err(|e| Fail::Run(format!("signal handlers: {e}")))?;
    let server = UasServer::start(&plan, stop).map_err(|e| Fail::Run(format!("bench uas: {e}")))?;
    eprintln!(
        "branchline bench uas: listening on {}:{} ({} worker(s))",
        plan.transport.as_param(),
        server.local_addr(),
        plan.workers
    );
    let addr = server.local_addr();
    let (stats, elapsed) = server
        .wait(ProgressOptions {
            enabled: !a.output.quiet,
            headline: Latency::InviteAnswer,
        })
        .map_err(|e| Fail::Run(format!("bench uas: {e}")))?;
    let mut params = vec![
        ("ring", format!("{:?}", a.ring)),
        ("answer_code", a.answer_code.to_string()),
        ("fail_ratio", a.fail_ratio.to_string()),
        ("fail_code", a.fail_code.to_string()),
        ("workers", plan.workers.to_string()),
    ];
    if let Some(realm) = &a.auth_realm {
        params.push(("auth_realm", realm.clone()));
    }
    let run = RunInfo {
        title: format!(
            "branchline bench uas on {addr} {}",
            plan.transport.as_param()
        ),
        params,
        elapsed,
    };
    report(&run, &stats, &a.output)
}

pub(crate) fn uas_plan(a: &UasArgs) -> Result<UasPlan, Fail> {
    let auth = match (&a.auth_realm, &a.auth_users) {
        (Some(realm), Some(path)) => {
            let users = Users::load(path, realm).map_err(Fail::Usage)?;
            if users.is_empty() {
                return Err(Fail::Usage(format!(
                    "--auth-users {}: no user in the file; write one user,password a line",
                    path.display()
                )));
            }
            Some(UasAuth::new(
                realm.clone(),
                Arc::new(users),
                a.auth_algorithms.clone(),
                NonceKey::from_bytes(random_key()),
            ))
        }
        _ => None,
    };
    Ok(UasPlan {
        listen: a.listen,
        transport: a.transport.into(),
        workers: a.workers.max(1),
        answer: UasConfig {
            ring: a.ring,
            answer_code: a.answer_code,
            fail_ratio: a.fail_ratio,
            fail_code: a.fail_code,
            contact_uri: String::new(),
            timers: TimerConfig {
                t1: a.t1,
                ..TimerConfig::default()
            },
            reliable: false,
            seed: std::process::id().into(),
            auth,
        },
        duration: a.duration,
    })
}

/// 32 bytes from the kernel's random source for the nonce key; the time
/// and process id when it cannot be read (the key then only has to differ
/// from run to run: a load generator's nonces guard nothing).
fn random_key() -> [u8; 32] {
    use std::io::Read as _;
    let mut key = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key));
    if read.is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        key[..16].copy_from_slice(&now.to_le_bytes());
        key[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    key
}

/// Prints the text report, writes the JSON and picture files asked for,
/// and fails when more calls failed than allowed.
pub(crate) fn report(run: &RunInfo, stats: &Stats, out: &OutputArgs) -> Result<(), Fail> {
    let mut text = String::new();
    let _ = write_text(&mut text, run, stats);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    print!("{text}");
    if let Some(path) = &out.json {
        let mut j = String::new();
        let _ = write_json(&mut j, run, stats);
        write_file(path, &j)?;
    }
    if let Some(path) = &out.report {
        let mut svg = String::new();
        let _ = write_svg(&mut svg, run, stats);
        let is_html = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let body = if is_html {
            let mut h = String::from(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>branchline bench</title></head>\n<body>\n<pre>",
            );
            for c in text.chars() {
                match c {
                    '<' => h.push_str("&lt;"),
                    '>' => h.push_str("&gt;"),
                    '&' => h.push_str("&amp;"),
                    c => h.push(c),
                }
            }
            let _ = write!(h, "</pre>\n{svg}\n</body></html>\n");
            h
        } else {
            svg
        };
        write_file(path, &body)?;
    }
    let failed = stats.calls().failed;
    if failed > out.max_failures {
        eprintln!(
            "branchline: {failed} call(s) failed, more than --max-failures {}",
            out.max_failures
        );
        return Err(Fail::Failures);
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), Fail> {
    std::fs::write(path, text).map_err(|e| Fail::Run(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        cmd: BenchCommand,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn uac_defaults_and_plan() {
        T::command_for_test();
        let t = T::try_parse_from(["t", "uac", "--target", "127.0.0.1:5060"]).unwrap();
        let BenchCommand::Uac(a) = t.cmd else {
            panic!()
        };
        let plan = a.plan().unwrap();
        assert_eq!(plan.rate, Rate::per_second(100.0).unwrap());
        assert_eq!(plan.duration, Some(Duration::from_secs(10)));
        assert_eq!(plan.calls, None);
        assert_eq!(plan.locals, vec!["127.0.0.1:0".parse().unwrap()]);
        assert_eq!(plan.transport, Transport::Udp);
        assert_eq!(plan.timers.t1, Duration::from_millis(500));
        assert_eq!(plan.timeout, Duration::from_secs(32));

        let t = T::try_parse_from([
            "t",
            "uac",
            "--target",
            "127.0.0.1:5060",
            "--calls",
            "5",
            "--local",
            "127.0.0.2:0",
            "--local",
            "127.0.0.3:7000",
            "--transport",
            "tcp",
            "--scenario",
            "register",
            "--user",
            "u",
            "--password",
            "p",
            "--hold",
            "2s",
        ])
        .unwrap();
        let BenchCommand::Uac(a) = t.cmd else {
            panic!()
        };
        let plan = a.plan().unwrap();
        assert_eq!(plan.duration, None);
        assert_eq!(plan.calls, Some(5));
        assert_eq!(plan.locals.len(), 2);
        assert_eq!(plan.users, [("u".to_string(), "p".to_string())]);
        assert_eq!(plan.hold, Duration::from_secs(2));
        assert!(T::try_parse_from(["t", "uac"]).is_err());
        let t = T::try_parse_from(["t", "uac", "--target", "127.0.0.1:1", "--rate", "0"]).unwrap();
        let BenchCommand::Uac(a) = t.cmd else {
            panic!()
        };
        assert!(matches!(a.plan(), Err(Fail::Usage(_))));
    }

    #[test]
    fn to_patterns_and_seed() {
        let uac = |args: &[&str]| {
            let mut argv = vec!["t", "uac", "--target", "127.0.0.1:5060"];
            argv.extend(args);
            T::try_parse_from(argv).map(|t| match t.cmd {
                BenchCommand::Uac(a) => a,
                BenchCommand::Uas(_) => panic!(),
            })
        };
        let a = uac(&["--to", "+4420#######", "--to", "0800####", "--seed", "7"]).unwrap();
        let plan = a.plan().unwrap();
        let patterns: Vec<&str> = plan.numbers.patterns().iter().map(|p| p.as_str()).collect();
        assert_eq!(patterns, ["+4420#######", "0800####"]);
        assert_eq!(plan.number_seed, 7);
        let plan = uac(&[]).unwrap().plan().unwrap();
        assert!(plan.numbers.is_empty());
        assert_eq!(plan.service, "service");
        // Refused at start: an empty or foreign pattern (clap's usage error),
        // --to with --service, --to with REGISTER.
        for bad in [
            &["--to", ""][..],
            &["--to", "44a#"],
            &["--to", "1#", "--service", "x"],
        ] {
            let e = uac(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        let e = uac(&["--to", ""]).unwrap_err().to_string();
        assert!(
            e.contains("invalid value '' for '--to <PATTERN>': empty pattern;"),
            "{e}"
        );
        let a = uac(&["--to", "1#", "--scenario", "register"]).unwrap();
        assert!(matches!(a.plan(), Err(Fail::Usage(m)) if m.starts_with("--to dials calls")));
    }

    #[test]
    fn uas_defaults() {
        let t = T::try_parse_from(["t", "uas"]).unwrap();
        let BenchCommand::Uas(a) = t.cmd else {
            panic!()
        };
        assert_eq!(a.listen, "127.0.0.1:5070".parse().unwrap());
        assert_eq!(a.answer_code, 200);
        assert_eq!(a.output.max_failures, 0);
        assert_eq!(a.duration, None);
    }

    impl T {
        fn command_for_test() {
            <T as clap::CommandFactory>::command().debug_assert();
        }
    }
}
