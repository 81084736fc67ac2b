//! `branchline demo`: the whole main job on one machine with nothing but
//! the binary. It starts the proxy in-process on a loopback port with two
//! in-process UAS upstreams, places calls through it with the UAC while
//! the progress line runs, then prints the report and how the calls split
//! between the two upstreams.
//!
//! Application wiring, like [`crate::cli`]: it puts the proxy
//! ([`crate::proxy`]), its runtime ([`crate::net`]), a routing table
//! ([`crate::route`]) and the load generator ([`crate::bench`]) together,
//! so it lives beside the CLI rather than inside `bench`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::bench::cli::{finish, parse_duration, report, uac_run_info, Fail, OutputArgs};
use crate::bench::flow::uac::Scenario;
use crate::bench::flow::uas::UasConfig;
use crate::bench::io::uac::UacPlan;
use crate::bench::io::uas::{UasPlan, UasServer};
use crate::bench::io::{ProgressOptions, StopFlag};
use crate::bench::pace::Rate;
use crate::bench::timer::TimerConfig;
use crate::net::{self, Bound, ListenAddr, NetConfig, TcpLimits};
use crate::proxy::{self, Key, Listener, Proxy};
use crate::route::{LiveTable, Table, UpstreamSpec, DEFAULT_GROUP};
use crate::sip::Transport;

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

/// Flags of `branchline demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long to place calls.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "D")]
    pub duration: Duration,
    /// New calls per second through the proxy.
    #[arg(long, default_value_t = 200.0, value_name = "CPS")]
    pub rate: f64,
}

/// Runs `branchline demo` (see the module docs) and returns the exit
/// status.
pub fn run(args: DemoArgs) -> ExitCode {
    finish(demo(&args))
}

fn demo(args: &DemoArgs) -> Result<(), Fail> {
    let rate = Rate::per_second(args.rate)
        .ok_or_else(|| Fail::Usage(format!("--rate {}: give a positive number", args.rate)))?;
    let uas_stop = StopFlag::new();
    let upstreams = [start_uas(&uas_stop)?, start_uas(&uas_stop)?];
    let guard = UasGuard(&uas_stop);

    let bound = Bound::bind(NetConfig {
        listen: vec![ListenAddr {
            transport: Transport::Udp,
            addr: (LOOPBACK, 0).into(),
        }],
        workers: 1,
        pin: false,
        udp_batch: net::DEFAULT_UDP_BATCH,
        sched_batch: true,
        max_message_size: 65_535,
        tcp: TcpLimits::default(),
        guard: None,
    })
    .map_err(|e| Fail::Run(format!("demo proxy: {e}")))?;
    let proxy_addr = bound.addrs()[0].addr;
    let listeners: Vec<Listener> = bound
        .addrs()
        .iter()
        .map(|l| Listener {
            transport: l.transport,
            addr: l.addr,
            advertise: None,
        })
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let proxy = Proxy::new(proxy::Config::new(
        listeners,
        Key::new(seed, seed.rotate_left(29)),
    ))
    .map_err(|e| Fail::Run(format!("demo proxy: {e}")))?;
    let mut ups = Vec::new();
    for u in &upstreams {
        let spec: UpstreamSpec = u
            .local_addr()
            .to_string()
            .parse()
            .map_err(|e| Fail::Run(format!("demo upstream: {e}")))?;
        ups.push(
            spec.resolve()
                .map_err(|e| Fail::Run(format!("demo upstream: {e}")))?,
        );
    }
    let table = Table::builder()
        .group(DEFAULT_GROUP, ups)
        .build()
        .map_err(|e| Fail::Run(format!("demo routing table: {e}")))?;
    let runtime = bound
        .spawn(Arc::new(proxy), Arc::new(LiveTable::new(table)))
        .map_err(|e| Fail::Run(format!("demo proxy: {e}")))?;

    eprintln!(
        "branchline demo: proxy on udp:{proxy_addr} forwarding to two UAS upstreams, \
A on udp:{} and B on udp:{};\nplacing {} calls/s for {:?} (INVITE → 180 → 200 → ACK → BYE → 200) through the proxy\n",
        upstreams[0].local_addr(),
        upstreams[1].local_addr(),
        rate.per_second_f64(),
        args.duration,
    );
    let plan = UacPlan {
        target: proxy_addr,
        transport: Transport::Udp,
        locals: vec![(LOOPBACK, 0).into()],
        workers: 1,
        rate,
        calls: None,
        duration: Some(args.duration),
        concurrency: 10_000,
        tick: Duration::from_millis(2),
        scenario: Scenario::Call,
        service: "service".into(),
        numbers: Default::default(),
        number_seed: 0,
        hold: Duration::ZERO,
        timeout: Duration::from_secs(5),
        timers: TimerConfig::default(),
        users: Vec::new(),
        route: Vec::new(),
    };
    let stop = StopFlag::new();
    let _ = stop.on_signals();
    let outcome = crate::bench::io::uac::run(
        &plan,
        &stop,
        ProgressOptions {
            enabled: true,
            headline: Scenario::Call.headline(),
        },
    );
    let counters = runtime.stop(net::control::STOP_DEADLINE);
    drop(guard);
    let mut split = Vec::new();
    for (name, u) in ["A", "B"].into_iter().zip(upstreams) {
        let addr = u.local_addr();
        let (stats, _) = u
            .wait(ProgressOptions {
                enabled: false,
                headline: Scenario::Call.headline(),
            })
            .map_err(|e| Fail::Run(format!("demo upstream: {e}")))?;
        split.push((name, addr, stats.calls().started));
    }
    let outcome = outcome.map_err(|e| Fail::Run(format!("demo uac: {e}")))?;
    println!();
    let run = uac_run_info(&plan, &outcome);
    let result = report(
        &run,
        &outcome.stats,
        &OutputArgs {
            max_failures: 0,
            json: None,
            report: None,
            quiet: false,
        },
    );
    let total: u64 = split.iter().map(|s| s.2).sum::<u64>().max(1);
    println!("\nsplit across upstreams (balanced by Call-ID):");
    for (name, addr, n) in &split {
        println!(
            "  upstream {name} udp:{addr}: {n} INVITEs answered ({:.1} %)",
            *n as f64 * 100.0 / total as f64
        );
    }
    println!("proxy: {counters}");
    result
}

fn start_uas(stop: &StopFlag) -> Result<UasServer, Fail> {
    let plan = UasPlan {
        listen: (LOOPBACK, 0).into(),
        transport: Transport::Udp,
        workers: 1,
        answer: UasConfig {
            ring: Duration::ZERO,
            answer_code: 200,
            fail_ratio: 0.0,
            fail_code: 503,
            contact_uri: String::new(),
            timers: TimerConfig::default(),
            reliable: false,
            seed: 1,
            auth: None,
        },
        duration: None,
    };
    UasServer::start(&plan, stop.clone()).map_err(|e| Fail::Run(format!("demo upstream: {e}")))
}

/// Stops the in-process upstreams on every exit path.
struct UasGuard<'a>(&'a StopFlag);

impl Drop for UasGuard<'_> {
    fn drop(&mut self) {
        self.0.raise();
    }
}
