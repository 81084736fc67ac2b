//! The command line: clap definitions, their validation into typed
//! configuration, and start-up of the proxy (`branchline proxy`). Errors
//! are printed as `branchline: <cause>: <cause>` with a documented exit
//! status: 0 after a stop signal, 1 when the proxy could not run (a socket
//! could not be bound, a worker failed), 2 for wrong usage or
//! configuration. `branchline check-config FILE` checks a routing file
//! (exit 0, or 1 with its problems).
// Flag help shows IPv6 literals in brackets, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::ffi::OsString;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::auth::DigestAuth;
use crate::config::{self, Config, ConfigError as FileError, ProxySettings};
use crate::log::{self, Level};
use crate::net::control::Control;
use crate::net::{
    self, Bound, ListenAddr, NetConfig, NetError, TcpLimits, DEFAULT_UDP_BATCH, MAX_BATCH,
};
use crate::proxy::{self, ConfigError, Key, Listener, Proxy};
use crate::route::{LiveTable, RouteError, Table, UpstreamSpec, DEFAULT_GROUP};

/// `0.1.0 (git 0123456789ab)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("BRANCHLINE_GIT_COMMIT"),
    ")"
);

const AFTER_HELP: &str = "\
Exit status: 0 after SIGINT or SIGTERM, 1 when the proxy could not run \
(e.g. an address already in use), 2 for wrong usage or configuration.";

/// branchline: a stateless, high-throughput SIP forwarding proxy.
#[derive(Debug, Parser)]
#[command(name = "branchline", version = VERSION, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stateless SIP proxy until SIGINT or SIGTERM (SIGHUP reloads
    /// the routing table).
    Proxy(ProxyArgs),
    /// The carrier load generator: `bench uac` places calls, `bench uas`
    /// answers them.
    Bench(crate::bench::cli::BenchArgs),
    /// Start the proxy with two in-process upstreams and drive calls
    /// through it for ten seconds: the whole job on one machine.
    Demo(crate::demo::DemoArgs),
    /// Check a routing file: print its problems as FILE:LINE:COL: ... and
    /// exit 1, or a summary of what it compiles to and exit 0.
    CheckConfig(CheckConfigArgs),
}

/// Arguments of `branchline check-config`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: 0 when the file is good, 1 when it has problems, 2 for wrong usage."
)]
pub struct CheckConfigArgs {
    /// The routing file (TOML; the README's routing-file section and examples/ describe it).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Flags of `branchline proxy`.
#[derive(Debug, Clone, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ProxyArgs {
    /// Where to listen: udp:ADDR:PORT or tcp:ADDR:PORT, IPv6 in brackets
    /// (tcp:[::1]:5060). Repeat for several.
    #[arg(
        long,
        value_name = "TRANSPORT:ADDR:PORT",
        default_values = ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]
    )]
    pub listen: Vec<ListenAddr>,

    /// An upstream of the destination group that out-of-dialog requests are
    /// balanced across (by Call-ID, so every request of a call goes to the
    /// same one). Repeat for several.
    #[arg(long, value_name = "HOST:PORT[;transport=tcp][;weight=N]")]
    pub upstream: Vec<UpstreamSpec>,

    /// Worker threads, each with its own sockets [default: the number of
    /// cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Pin worker i to core i (the default).
    #[arg(long, overrides_with = "no_pin")]
    pub pin: bool,

    /// Let the scheduler move workers between cores.
    #[arg(long, overrides_with = "pin")]
    pub no_pin: bool,

    /// What goes into Via and Record-Route instead of the bound address,
    /// e.g. the public address behind NAT. Without it, a listener bound to
    /// 0.0.0.0 or [::] advertises this host's primary address (the source
    /// address of its default route, else the loopback address).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub advertise: Option<String>,

    /// Add Record-Route to dialog-creating requests (INVITE, SUBSCRIBE,
    /// REFER), so in-dialog requests pass through this proxy.
    #[arg(long, value_name = "on|off", default_value = "on")]
    pub record_route: OnOff,

    /// Secret of the branch and To-tag hashes. Give every node of a cluster
    /// the same one [default: random at each start].
    #[arg(long, value_name = "SECRET", conflicts_with = "branch_secret_file")]
    pub branch_secret: Option<String>,

    /// Read the branch secret from a file (its bytes, surrounding white
    /// space trimmed); keeps the secret out of the process list.
    #[arg(long, value_name = "FILE")]
    pub branch_secret_file: Option<PathBuf>,

    /// The routing file: groups, rules and [proxy] settings (a flag given
    /// on the command line wins over [proxy]). Not with --upstream. SIGHUP
    /// re-reads it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Largest SIP message accepted, in bytes; larger requests are
    /// answered 513, larger TCP frames close the connection. A header
    /// section past 64 KiB is refused whatever this says.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = proxy::DEFAULT_MAX_MESSAGE_SIZE,
        value_parser = parse_size
    )]
    pub max_message_size: usize,

    /// error, warn, info or debug.
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = parse_level)]
    pub log_level: Level,

    /// Close a TCP connection after this many seconds without traffic.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = net::DEFAULT_TCP_IDLE.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub tcp_idle_timeout: u64,

    /// Most accepted TCP connections, all workers together.
    #[arg(long, value_name = "N", default_value_t = net::DEFAULT_TCP_MAX_CONNECTIONS)]
    pub tcp_max_connections: usize,

    /// Most accepted TCP connections from one IP address (while the last
    /// quarter of --tcp-max-connections is in use, an address that already
    /// holds 4 gets no more: the rest is kept for other sources)
    #[arg(long, value_name = "N", default_value_t = net::DEFAULT_TCP_MAX_PER_IP)]
    pub tcp_max_per_ip: usize,

    /// A TCP message must be complete this many seconds after its first
    /// byte (and a new connection's first message after the connect), else
    /// the connection is closed: a client that sends a byte at a time
    /// cannot hold a slot
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = net::DEFAULT_TCP_MESSAGE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub tcp_message_timeout: u64,

    /// Run workers under the SCHED_BATCH policy: a peer woken by a worker's
    /// sends does not preempt it mid-batch, so there are fewer context
    /// switches per message (wakeups may wait up to a scheduler tick when
    /// the core is busy with other work)
    #[arg(long, value_name = "on|off", value_enum, default_value_t = OnOff::On)]
    pub sched_batch: OnOff,

    /// Datagrams per recvmmsg/sendmmsg call (1: plain recvfrom/sendto).
    #[arg(
        long,
        value_name = "N",
        hide = true,
        default_value_t = DEFAULT_UDP_BATCH,
        value_parser = parse_batch
    )]
    pub udp_batch: usize,

    /// The ids of the flags given on the command line (filled from clap's
    /// `value_source`): those win over the routing file's [proxy].
    #[arg(skip)]
    pub given: Vec<String>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (512..=65_535).contains(&n) => Ok(n),
        _ => Err("expected a whole number of bytes from 512 to 65535".into()),
    }
}

fn parse_level(s: &str) -> Result<Level, String> {
    s.parse()
}

fn parse_batch(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 1 to {MAX_BATCH}")),
    }
}

/// Why `branchline` could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag combination that cannot work.
    #[error("{0}")]
    Usage(String),
    /// An upstream that does not resolve, or a table that cannot be built.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A proxy configuration the core refuses.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A routing file with problems, one `FILE:LINE:COL: ...` line each.
    #[error("{0}")]
    ConfigFile(FileError),
    /// The branch secret file could not be read.
    #[error("cannot read --branch-secret-file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The system's answer.
        source: std::io::Error,
    },
    /// The runtime failed.
    #[error(transparent)]
    Net(#[from] NetError),
}

impl CliError {
    /// The exit status documented in `--help`.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Net(_) => 1,
            _ => 2,
        }
    }
}

/// Parses the process arguments, runs, and maps the outcome to an exit
/// status. This is all `main` does.
pub fn main() -> ExitCode {
    run_args(std::env::args_os())
}

/// [`main`] with explicit arguments.
pub fn run_args(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let matches = Cli::command().get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Proxy(mut args) => {
            if let Some(sub) = matches.subcommand_matches("proxy") {
                args.given = given_on_command_line(sub);
            }
            run_proxy(args)
        }
        Command::Bench(args) => return crate::bench::cli::run(args),
        Command::Demo(args) => return crate::demo::run(args),
        Command::CheckConfig(args) => return check_config(&args.file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::ConfigFile(e)) => {
            // The same lines as check-config prints, so an editor can jump
            // to each FILE:LINE:COL.
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("branchline: {}", error_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// The ids of the arguments whose value came from the command line (not a
/// default).
fn given_on_command_line(m: &ArgMatches) -> Vec<String> {
    m.ids()
        .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().to_owned())
        .collect()
}

/// `branchline check-config FILE`: the problems on standard error (exit 1)
/// or the summary and warnings on standard output (exit 0).
pub fn check_config(path: &std::path::Path) -> ExitCode {
    match load_config(path) {
        Ok((config, warnings)) => {
            print!("{}", config.summary());
            for w in warnings {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Reads, validates and compiles the routing file (compiling resolves the
/// member names, so DNS problems show here too): the config, its table and
/// every warning, or every problem.
fn load_config(path: &std::path::Path) -> Result<(Config, Vec<String>), FileError> {
    let c = config::load(path)?;
    let (_, warnings) = compile_config(&c, None, 0)?;
    Ok((c, warnings))
}

fn load_and_compile(
    path: &std::path::Path,
    old: Option<&Table>,
    seed: u64,
) -> Result<(Config, Table, Vec<String>), FileError> {
    let c = config::load(path)?;
    let (table, warnings) = compile_config(&c, old, seed)?;
    Ok((c, table, warnings))
}

/// The table of a loaded file and every warning about it.
fn compile_config(
    c: &Config,
    old: Option<&Table>,
    seed: u64,
) -> Result<(Table, Vec<String>), FileError> {
    let table = config::compile(c, old, seed)?;
    let mut warnings = c.warnings.clone();
    warnings.extend(config::engine_warnings(c));
    Ok((table, warnings))
}

/// The key of the routing table's per-call picks (`random`,
/// `round-robin`), from the branch secret: every node of a cluster that
/// shares the secret picks alike, so a CANCEL or ACK that reaches another
/// node goes where its INVITE went (RFC 3261 §16.11).
fn route_seed(key: Key) -> u64 {
    let mut h = crate::proxy::siphash::Hasher::new(key);
    h.write(b"branchline route seed");
    h.finish()
}

/// Puts the routing file's `[proxy]` values into `args`, except where the
/// flag was given on the command line.
fn apply_proxy_settings(args: &mut ProxyArgs, s: &ProxySettings) {
    let given = args.given.clone();
    let cl = |id: &str| given.iter().any(|g| g == id);
    if let (Some(v), false) = (&s.listen, cl("listen")) {
        args.listen = v.clone();
    }
    if let (Some(v), false) = (&s.advertise, cl("advertise")) {
        args.advertise = Some(v.clone());
    }
    if let (Some(v), false) = (s.record_route, cl("record_route")) {
        args.record_route = if v { OnOff::On } else { OnOff::Off };
    }
    if let (Some(v), false) = (
        &s.branch_secret_file,
        cl("branch_secret_file") || cl("branch_secret"),
    ) {
        args.branch_secret_file = Some(v.clone());
    }
    if let (Some(v), false) = (s.workers, cl("workers")) {
        args.workers = Some(v);
    }
    if let (Some(v), false) = (s.pin, cl("pin") || cl("no_pin")) {
        args.pin = v;
        args.no_pin = !v;
    }
    if let (Some(v), false) = (s.max_message_size, cl("max_message_size")) {
        args.max_message_size = v;
    }
    if let (Some(v), false) = (s.log_level, cl("log_level")) {
        args.log_level = v;
    }
    if let (Some(v), false) = (s.tcp_idle_timeout, cl("tcp_idle_timeout")) {
        args.tcp_idle_timeout = v;
    }
    if let (Some(v), false) = (s.tcp_max_connections, cl("tcp_max_connections")) {
        args.tcp_max_connections = v;
    }
    if let (Some(v), false) = (s.tcp_max_per_ip, cl("tcp_max_per_ip")) {
        args.tcp_max_per_ip = v;
    }
    if let (Some(v), false) = (s.tcp_message_timeout, cl("tcp_message_timeout")) {
        args.tcp_message_timeout = v;
    }
    if let (Some(v), false) = (s.sched_batch, cl("sched_batch")) {
        args.sched_batch = if v { OnOff::On } else { OnOff::Off };
    }
}

/// `cause: cause: ...`, leaving out a cause already quoted by the one above.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// `branchline proxy`: validate, bind, start the workers, serve signals.
pub fn run_proxy(mut args: ProxyArgs) -> Result<(), CliError> {
    log::set_level(args.log_level);
    let routing = match args.config.clone() {
        Some(path) => {
            if !args.upstream.is_empty() {
                return Err(CliError::Usage(format!(
                    "--upstream and --config {} cannot be used together: the routing file defines the groups; \
                     put the upstreams in a [groups.NAME] members list, or leave out --config",
                    path.display()
                )));
            }
            let c = config::load(&path).map_err(CliError::ConfigFile)?;
            apply_proxy_settings(&mut args, &c.proxy);
            log::set_level(args.log_level);
            // The key once: without a secret it is random, and the routing
            // seed must come from the very key the branches use.
            let key = branch_key(&args)?;
            let (table, warnings) =
                compile_config(&c, None, route_seed(key)).map_err(CliError::ConfigFile)?;
            for w in &warnings {
                log::warning!("{w}");
            }
            // Only what the run needs of the file is kept: a large prefix
            // table lives on in the routing table alone.
            let summary = format!(
                "{} group(s), {} rule(s), default group {}",
                c.groups.len(),
                c.rules.len(),
                c.default_group
            );
            Some((path, (summary, c.proxy, c.auth), table, key, c.guard))
        }
        None => None,
    };
    if routing.is_none() && args.upstream.is_empty() {
        return Err(CliError::Usage(
            "no upstream: give at least one --upstream HOST:PORT[;transport=tcp][;weight=N], or a routing file with --config FILE".into(),
        ));
    }
    let (key, table, routing, guard) = match routing {
        Some((path, c, table, key, guard)) => (key, table, Some((path, c)), guard),
        None => (
            branch_key(&args)?,
            build_table(&args.upstream, None)?,
            None,
            None,
        ),
    };
    let workers = args.workers.unwrap_or_else(default_workers);

    let control = Control::install()?;
    let bound = Bound::bind(NetConfig {
        listen: args.listen.clone(),
        workers,
        pin: !args.no_pin,
        udp_batch: args.udp_batch,
        sched_batch: args.sched_batch == OnOff::On,
        max_message_size: args.max_message_size,
        tcp: TcpLimits {
            idle_timeout: std::time::Duration::from_secs(args.tcp_idle_timeout),
            max_connections: args.tcp_max_connections,
            max_per_ip: args.tcp_max_per_ip,
            message_timeout: std::time::Duration::from_secs(args.tcp_message_timeout),
        },
        guard: guard.as_ref().map(config::guard_spec),
    })?;
    let listeners = listeners(bound.addrs(), args.advertise.as_deref());
    let mut config = proxy::Config::new(listeners.clone(), key);
    config.record_route = args.record_route == OnOff::On;
    config.max_message_size = args.max_message_size;
    // Digest authentication: nonces keyed from the branch key, so the
    // nodes of a cluster that share the secret accept each other's.
    let digest = match routing.as_ref().and_then(|(_, (_, _, a))| a.as_ref()) {
        Some(a) => {
            let d = DigestAuth::new(config::digest_settings(a), &key.derive_bytes())
                .map_err(|e| CliError::Usage(format!("[auth] users_file: {e}")))?;
            log::info!(
                "digest authentication: realm {}, users from {}",
                a.realm,
                a.users_file.display()
            );
            let d = Arc::new(d);
            config.auth = Arc::clone(&d) as Arc<dyn crate::auth::Authenticator>;
            Some(d)
        }
        None => None,
    };
    let proxy = Arc::new(Proxy::new(config)?);

    let live = Arc::new(LiveTable::new(table));
    // What reading the routing file held (its text, the parsed file) is
    // free now: give it back before the workers start.
    crate::sys::release_free_memory();
    let runtime = bound.spawn(proxy, Arc::clone(&live))?;
    for l in &listeners {
        let adv = l
            .advertise
            .as_deref()
            .map_or(String::new(), |a| format!(" (advertised as {a})"));
        log::info!("listening on {}:{}{adv}", l.transport.as_param(), l.addr);
    }
    let pinned = if args.no_pin { "" } else { ", pinned" };
    let counters = match routing {
        Some((path, (summary, started, auth))) => {
            log::info!(
                "{workers} worker(s){pinned}, routing file {}: {summary}; version {VERSION}",
                path.display(),
            );
            let seed = route_seed(key);
            control.serve(runtime, move |old| {
                let table = reload_file(&path, &started, &auth, old, seed);
                // The users file is re-read with the routing file.
                if let Some(d) = &digest {
                    match d.reload_users() {
                        Ok(n) => log::info!("SIGHUP: {n} user(s) of realm {} reloaded", d.realm()),
                        Err(e) => {
                            log::error!("SIGHUP: users file not reloaded, the old users stay: {e}")
                        }
                    }
                }
                table
            })?
        }
        None => {
            let ups: Vec<String> = args.upstream.iter().map(|u| u.to_string()).collect();
            log::info!(
                "{workers} worker(s){pinned}, forwarding to {}; version {VERSION}",
                ups.join(", ")
            );
            let specs = args.upstream.clone();
            control.serve(runtime, move |old| {
                build_table(&specs, Some(old)).map_err(|e| e.to_string())
            })?
        }
    };
    log::info!("stopped: {counters}");
    Ok(())
}

/// SIGHUP with `--config`: re-reads and recompiles the file on the control
/// thread, keeping the health flags of `old`. Problems are logged one line
/// each, as check-config prints them, and the old table stays.
fn reload_file(
    path: &std::path::Path,
    started: &ProxySettings,
    started_auth: &Option<config::AuthConfig>,
    old: &Table,
    seed: u64,
) -> Result<Table, String> {
    match load_and_compile(path, Some(old), seed) {
        Ok((c, table, warnings)) => {
            for w in &warnings {
                log::warning!("{w}");
            }
            if c.proxy != *started {
                log::warning!(
                    "SIGHUP: [proxy] in {} changed; it is read at start only, restart to apply it",
                    path.display()
                );
            }
            if c.auth != *started_auth {
                log::warning!(
                    "SIGHUP: [auth] in {} changed; only its users file is re-read, restart to apply the rest",
                    path.display()
                );
            }
            Ok(table)
        }
        Err(e) => {
            for d in &e.diagnostics {
                log::error!("{d}");
            }
            Err(format!(
                "{} problem(s) in {}",
                e.diagnostics.len(),
                path.display()
            ))
        }
    }
}

fn default_workers() -> u16 {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 1024) as u16
}

/// Resolves the upstreams (DNS for names) into a one-group table, keeping
/// the health flags of `old` on reload.
fn build_table(specs: &[UpstreamSpec], old: Option<&Table>) -> Result<Table, RouteError> {
    let ups = specs
        .iter()
        .map(UpstreamSpec::resolve)
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = Table::builder().group(DEFAULT_GROUP, ups);
    if let Some(old) = old {
        b = b.inherit_health(old);
    }
    b.build()
}

/// The proxy's listeners: every bound address, advertised as `--advertise`
/// when given, and as the host's primary address when bound to a wildcard.
fn listeners(addrs: &[ListenAddr], advertise: Option<&str>) -> Vec<Listener> {
    addrs
        .iter()
        .map(|l| Listener {
            transport: l.transport,
            addr: l.addr,
            advertise: advertise
                .map(str::to_string)
                .or_else(|| wildcard_advertise(l.addr)),
        })
        .collect()
}

fn wildcard_advertise(addr: SocketAddr) -> Option<String> {
    if !addr.ip().is_unspecified() {
        return None;
    }
    Some(match net::primary_address(addr.is_ipv6()) {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    })
}

/// The branch key: from `--branch-secret`, `--branch-secret-file`, or 128
/// random bits (fine for one node; a cluster needs a shared secret).
fn branch_key(args: &ProxyArgs) -> Result<Key, CliError> {
    if let Some(s) = &args.branch_secret {
        if s.is_empty() {
            return Err(CliError::Usage(
                "--branch-secret is empty; give a secret of some length".into(),
            ));
        }
        return Ok(Key::from_secret(s.as_bytes()));
    }
    if let Some(path) = &args.branch_secret_file {
        let bytes = std::fs::read(path).map_err(|source| CliError::SecretFile {
            path: path.clone(),
            source,
        })?;
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() {
            return Err(CliError::Usage(format!(
                "--branch-secret-file {}: the file is empty; put a secret in it",
                path.display()
            )));
        }
        return Ok(Key::from_secret(trimmed));
    }
    log::info!(
        "branch secret: random for this run; set --branch-secret-file on every node of a cluster"
    );
    Ok(Key::from_secret(&random_bytes()))
}

fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        // No /dev/urandom: std's randomly keyed hasher over time and pid.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in b.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            h.write_u32(std::process::id());
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<ProxyArgs, clap::Error> {
        let mut v = vec!["branchline", "proxy"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| match c.command {
            Command::Proxy(p) => p,
            other => panic!("`branchline proxy` parsed as {other:?}"),
        })
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let p = parse(&["--upstream", "127.0.0.1:5070"]).unwrap();
        assert_eq!(p.listen.len(), 2);
        assert_eq!(p.listen[0].to_string(), "udp:0.0.0.0:5060");
        assert_eq!(p.listen[1].to_string(), "tcp:0.0.0.0:5060");
        assert!(!p.no_pin);
        assert_eq!(p.record_route, OnOff::On);
        assert_eq!(p.max_message_size, 8192);
        assert_eq!(p.udp_batch, DEFAULT_UDP_BATCH);
    }

    #[test]
    fn flags() {
        let p = parse(&[
            "--listen",
            "udp:[::1]:5070",
            "--upstream",
            "[::1]:5080;transport=tcp;weight=3",
            "--upstream",
            "10.0.0.1:5060",
            "--workers",
            "3",
            "--pin",
            "--no-pin",
            "--record-route",
            "off",
            "--log-level",
            "debug",
            "--advertise",
            "203.0.113.7",
        ])
        .unwrap();
        assert_eq!(p.listen.len(), 1);
        assert_eq!(p.upstream.len(), 2);
        assert_eq!(p.upstream[0].weight, 3);
        assert_eq!(p.workers, Some(3));
        assert!(p.no_pin && !p.pin);
        assert_eq!(p.record_route, OnOff::Off);
        assert_eq!(p.log_level, Level::Debug);
    }

    #[test]
    fn wrong_flags_say_what_is_right() {
        let e = parse(&["--listen", "sctp:1.2.3.4:5060"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("use udp or tcp"), "{e}");
        let e = parse(&["--upstream", "10.0.0.1"]).unwrap_err().to_string();
        assert!(e.contains("missing port") && e.contains("HOST:PORT"), "{e}");
        let e = parse(&["--workers", "0"]).unwrap_err().to_string();
        assert!(e.contains("1..=1024") || e.contains("1024"), "{e}");
        let e = parse(&["--record-route", "maybe"]).unwrap_err().to_string();
        assert!(e.contains("on") && e.contains("off"), "{e}");
        let e = parse(&["--branch-secret", "a", "--branch-secret-file", "f"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = parse(&["--max-message-size", "10"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("512 to 65535"), "{e}");
    }

    #[test]
    fn wildcard_listeners_get_an_advertised_address() {
        let addrs = [
            "udp:0.0.0.0:5060".parse().unwrap(),
            "tcp:127.0.0.1:5060".parse().unwrap(),
        ];
        let l = listeners(&addrs, None);
        assert!(l[0].advertise.is_some());
        assert_eq!(l[1].advertise, None);
        let l = listeners(&addrs, Some("sip.example.com"));
        assert_eq!(l[1].advertise.as_deref(), Some("sip.example.com"));
    }

    #[test]
    fn secrets() {
        let p = parse(&["--branch-secret", "s3cret"]).unwrap();
        let a = branch_key(&p).unwrap();
        assert!(a == Key::from_secret(b"s3cret"));
        let dir = std::env::temp_dir().join(format!("bl-secret-{}", std::process::id()));
        std::fs::write(&dir, b"  s3cret\n").unwrap();
        let p = parse(&["--branch-secret-file", dir.to_str().unwrap()]).unwrap();
        let b = branch_key(&p).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert!(a == b);
        assert_ne!(random_bytes(), random_bytes());
    }
}
