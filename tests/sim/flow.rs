//! One call flow: the world (network, proxy, caller, two callees), the
//! checker around `Proxy::handle`, and the completion rules.

use std::collections::HashMap;
use std::net::SocketAddr;

use branchline::proxy::{Config, DropReason, Input, Key, Listener, Output, Proxy, Scratch};
use branchline::route::{RouteInput, Table, Upstream};
use branchline::sip::Transport;

use super::msg::{self, Summary};
use super::net::{Datagram, Net};
use super::rng::Rng;
use super::uac::Uac;
use super::uas::Uas;
use super::{proxy_addr, uas_addrs, Fault, Outbox, Plan, Scenario};

/// Virtual time after which a flow that is still busy is a failure (ms).
const TIME_LIMIT: u64 = 300_000;
/// Events after which a flow that is still busy is a failure.
const STEP_LIMIT: u64 = 100_000;

/// What a flow did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The call reached its planned end.
    pub completed: bool,
    /// Which UAS the table picked.
    pub uas: usize,
    /// Datagrams sent, lost, duplicated.
    pub sent: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Datagrams duplicated.
    pub duplicated: u64,
    /// Messages `handle` saw.
    pub handled: u64,
    /// ACKs absorbed.
    pub absorbed: u64,
    /// Every event, in order.
    pub trace: Vec<String>,
}

/// A failed flow: what went wrong and the trace up to it.
#[derive(Debug)]
pub struct Failure {
    /// What was wrong.
    pub message: String,
    /// Every event, in order.
    pub trace: Vec<String>,
}

/// The proxy and its checker.
struct ProxyNode {
    proxy: Proxy,
    table: Table,
    scratch: Scratch,
    buf: Vec<u8>,
    call_uas: SocketAddr,
    uac: SocketAddr,
    plan: Plan,
    /// Each request's reply, to check that a retransmission gets the same.
    replies: HashMap<Vec<u8>, Vec<u8>>,
    handled: u64,
    absorbed: u64,
    replies_sent: u64,
    noise: u8,
    /// `SIM_DUMP`: a folder to write every datagram the proxy handles into
    /// (e.g. to seed the fuzzer).
    dump: Option<std::path::PathBuf>,
}

/// Builds the proxy and table every flow uses: one UDP listener, two
/// upstreams, a key drawn from the seed.
pub fn proxy_and_table(seed: u64) -> (Proxy, Table) {
    let mut r = Rng::new(seed ^ 0x006b_6579);
    let config = Config::new(
        vec![Listener {
            transport: Transport::Udp,
            addr: proxy_addr(),
            advertise: None,
        }],
        Key::new(r.next_u64(), r.next_u64()),
    );
    let table = Table::from_upstreams(uas_addrs().map(|addr| Upstream {
        addr,
        transport: Transport::Udp,
        weight: 1,
    }))
    .expect("two upstreams make a table");
    (Proxy::new(config).expect("valid config"), table)
}

impl ProxyNode {
    fn handle(
        &mut self,
        now: u64,
        d: &Datagram,
        net: &mut Net,
        trace: &mut Vec<String>,
    ) -> Result<(), String> {
        self.handled += 1;
        if let Some(dir) = &self.dump {
            let name = format!("seed-{}-{:03}", self.plan.seed, self.handled);
            std::fs::write(dir.join(name), &d.bytes).expect("SIM_DUMP folder is writable");
        }
        let input = Input {
            data: &d.bytes,
            source: d.from,
            local: proxy_addr(),
            transport: Transport::Udp,
            conn: None,
            now: 1_700_000_000 + now / 1000,
        };
        let mut output = self
            .proxy
            .handle(&input, &self.table, &mut self.scratch, &mut self.buf);
        self.inject_fault(&mut output);
        trace.push(format!("{now:>7}   proxy: {output:?}"));
        let inc = msg::summarize(&d.bytes)?;
        let from_forwarder = inc.branch.starts_with(b"z9hG4bKsp");
        match output {
            Output::Forward(t) => {
                ensure!(
                    t.transport == Transport::Udp
                        && t.conn.is_none()
                        && t.from == Some(proxy_addr()),
                    "forwarded with {t:?}"
                );
                let s =
                    msg::summarize(&self.buf).map_err(|e| format!("the forwarded message {e}"))?;
                let want = if s.is_request {
                    self.check_request(d, &inc, &s)?
                } else {
                    self.check_response(&inc, &s)?
                };
                ensure!(
                    t.dest == want,
                    "{} from {} forwarded to {}, RFC 3261 says {want}:\n{}",
                    s.label(),
                    d.from,
                    t.dest,
                    msg::show(&self.buf)
                );
                net.send(proxy_addr(), t.dest, self.buf.clone());
            }
            Output::Reply(t) => {
                let s = msg::summarize(&self.buf)?;
                let (code, dest) = match self.plan.scenario {
                    Scenario::TooManyHops if d.from == self.uac => (483, self.uac),
                    Scenario::BadScheme if d.from == self.uac => (416, self.uac),
                    Scenario::Bounce if d.from == self.call_uas && from_forwarder => {
                        (482, self.call_uas)
                    }
                    _ => (0, d.from),
                };
                ensure!(
                    !s.is_request && s.code == code && inc.method == b"INVITE",
                    "unexpected reply {} to {} from {}",
                    s.label(),
                    inc.label(),
                    d.from
                );
                ensure!(
                    t.dest == dest && t.from == Some(proxy_addr()),
                    "{} sent to {}, expected {dest}",
                    s.label(),
                    t.dest
                );
                match self.replies.get(&d.bytes) {
                    Some(r) => ensure!(
                        *r == self.buf,
                        "a retransmission got another reply:\n{}\n---\n{}",
                        msg::show(r),
                        msg::show(&self.buf)
                    ),
                    None => {
                        self.replies.insert(d.bytes.clone(), self.buf.clone());
                    }
                }
                self.replies_sent += 1;
                net.send(proxy_addr(), t.dest, self.buf.clone());
            }
            Output::Drop(reason) => {
                let ours = match self.plan.scenario {
                    Scenario::TooManyHops | Scenario::BadScheme => d.from == self.uac,
                    Scenario::Bounce => d.from == self.call_uas && from_forwarder,
                    _ => false,
                };
                ensure!(
                    reason == DropReason::AckAbsorbed && inc.method == b"ACK" && ours,
                    "dropped {} from {} ({reason:?}):\n{}",
                    inc.label(),
                    d.from,
                    msg::show(&d.bytes)
                );
                self.absorbed += 1;
            }
            // The simulation sends no probes, so nothing can answer one.
            Output::Probe(r) => {
                return Err(format!(
                    "{} from {} taken for a probe reply ({r:?})",
                    inc.label(),
                    d.from
                ))
            }
        }
        Ok(())
    }

    /// Where a forwarded request must go; checks the edits.
    fn check_request(
        &self,
        d: &Datagram,
        inc: &Summary,
        s: &Summary,
    ) -> Result<SocketAddr, String> {
        ensure!(
            s.vias.len() == inc.vias.len() + 1
                && msg::via_addr(&s.top_via()) == Some(proxy_addr())
                && msg::is_proxy_branch(&s.branch),
            "forwarded {} without our Via on top",
            s.label()
        );
        ensure!(
            s.max_forwards == Some(inc.max_forwards.unwrap_or(70) - 1),
            "forwarded {} with Max-Forwards {:?} (received {:?})",
            s.label(),
            s.max_forwards,
            inc.max_forwards
        );
        let absorbable = matches!(
            self.plan.scenario,
            Scenario::TooManyHops | Scenario::BadScheme
        ) || (self.plan.scenario == Scenario::Bounce
            && inc.branch.starts_with(b"z9hG4bKsp"));
        ensure!(
            !absorbable,
            "forwarded {} that we must answer or absorb",
            s.label()
        );
        if d.from == self.uac || inc.branch.starts_with(b"z9hG4bKsp") {
            // Every request of the call goes to the UAS the table picked
            // for it (in-dialog ones to its Contact, the same host).
            Ok(self.call_uas)
        } else if d.from == self.call_uas && inc.method == b"BYE" {
            Ok(self.uac)
        } else {
            Err(format!(
                "forwarded an unexpected {} from {}",
                s.label(),
                d.from
            ))
        }
    }

    /// Where a relayed response must go: the next Via's address.
    fn check_response(&self, inc: &Summary, s: &Summary) -> Result<SocketAddr, String> {
        ensure!(
            s.vias.len() + 1 == inc.vias.len() && s.vias[..] == inc.vias[1..],
            "relayed {} with Vias {:?}",
            s.label(),
            s.vias.iter().map(|v| msg::show(v)).collect::<Vec<_>>()
        );
        if s.branch.starts_with(b"z9hG4bKuac") {
            Ok(self.uac)
        } else if s.branch.starts_with(b"z9hG4bKsp") || s.branch.starts_with(b"z9hG4bKuasbye") {
            Ok(self.call_uas)
        } else {
            Err(format!("relayed {} for a stranger", s.label()))
        }
    }

    fn inject_fault(&mut self, output: &mut Output) {
        let Output::Forward(t) = output else {
            return;
        };
        match self.plan.fault {
            Some(Fault::MisrouteBye) if self.buf.starts_with(b"BYE ") => {
                let other = uas_addrs().into_iter().find(|a| *a != self.call_uas);
                t.dest = other.unwrap();
            }
            Some(Fault::CancelBranch) if self.buf.starts_with(b"CANCEL ") => {
                let i = self.buf.windows(7).position(|w| w == b"z9hG4bK").unwrap();
                self.buf[i + 8] = if self.buf[i + 8] == b'0' { b'1' } else { b'0' };
            }
            Some(Fault::ResponseNoise) if self.buf.starts_with(b"SIP/2.0 ") => {
                self.noise = self.noise.wrapping_add(1);
                let at = self.buf.windows(2).position(|w| w == b"\r\n").unwrap();
                self.buf.splice(at..at, [b' ', b'a' + self.noise % 26]);
            }
            _ => {}
        }
    }
}

/// Runs one flow to quiescence and checks it.
pub fn run(plan: &Plan) -> Result<Outcome, Failure> {
    let mut trace = Vec::new();
    match run_inner(plan, &mut trace) {
        Ok(o) => Ok(Outcome { trace, ..o }),
        Err(message) => Err(Failure { message, trace }),
    }
}

fn run_inner(plan: &Plan, trace: &mut Vec<String>) -> Result<Outcome, String> {
    let (proxy, table) = proxy_and_table(plan.seed);
    let call_id = plan.call_id();
    let call_uas = table
        .select(&RouteInput::new(call_id.as_bytes()))
        .dest()
        .expect("healthy upstreams")
        .addr();
    let uas_index = uas_addrs().iter().position(|a| *a == call_uas).unwrap();
    let mut net = Net::new(plan.seed, plan.loss, plan.dup, plan.max_delay);
    let mut uac = Uac::new(plan);
    let mut uas = uas_addrs().map(|a| Uas::new(plan, a));
    let mut node = ProxyNode {
        proxy,
        table,
        scratch: Scratch::new(),
        buf: Vec::new(),
        call_uas,
        uac: uac.public,
        plan: plan.clone(),
        replies: HashMap::new(),
        handled: 0,
        absorbed: 0,
        replies_sent: 0,
        noise: 0,
        dump: std::env::var_os("SIM_DUMP").map(Into::into),
    };
    trace.push(format!("plan {plan:?}; table picks {call_uas}"));
    let mut out: Outbox = Vec::new();
    uac.start(0, &mut out);
    flush(&mut net, uac.public, &mut out, trace);
    let mut steps = 0u64;
    loop {
        steps += 1;
        let timer = [uac.next_timer(), uas[0].next_timer(), uas[1].next_timer()]
            .into_iter()
            .fold(None, super::earliest);
        let arrival = net.next_arrival();
        let now = match (timer, arrival) {
            (None, None) => break,
            (Some(t), Some(a)) => t.min(a),
            (Some(t), None) => t,
            (None, Some(a)) => a,
        };
        ensure!(
            now <= TIME_LIMIT && steps <= STEP_LIMIT,
            "still busy after {now} ms and {steps} events"
        );
        if timer == Some(now) {
            net.now = now;
            uac.on_timer(now, &mut out);
            flush(&mut net, uac.public, &mut out, trace);
            for u in &mut uas {
                u.on_timer(now, &mut out);
                flush(&mut net, u.addr, &mut out, trace);
            }
            continue;
        }
        let d = net.pop().expect("an arrival is due");
        trace.push(format!(
            "{now:>7} {} -> {}: {}",
            d.from,
            d.to,
            msg::first_line(&d.bytes)
        ));
        if d.to == proxy_addr() {
            node.handle(now, &d, &mut net, trace)?;
        } else if d.to == uac.public {
            uac.on_datagram(now, d.from, &d.bytes, &mut out)?;
            flush(&mut net, uac.public, &mut out, trace);
        } else if let Some(i) = uas_addrs().iter().position(|a| *a == d.to) {
            ensure!(
                i == uas_index,
                "a message of the call reached the other UAS {}:\n{}",
                d.to,
                msg::show(&d.bytes)
            );
            uas[i].on_datagram(now, d.from, &d.bytes, &mut out)?;
            flush(&mut net, uas[i].addr, &mut out, trace);
        } else {
            return Err(format!("a datagram for {}, where nobody listens", d.to));
        }
    }
    let callee = &uas[uas_index];
    let completed = completed(plan, &uac, callee, &node);
    if plan.loss == 0 {
        ensure!(
            completed.is_ok(),
            "without loss the call must complete: {}",
            completed.unwrap_err()
        );
        if plan.dup == 0 {
            // Every response sent towards the caller arrives exactly once.
            ensure!(
                uac.responses == callee.responses_sent + node.replies_sent,
                "the UAC got {} responses, the UAS sent {} and the proxy {}",
                uac.responses,
                callee.responses_sent,
                node.replies_sent
            );
        }
    }
    Ok(Outcome {
        completed: completed.is_ok(),
        uas: uas_index,
        sent: net.sent,
        lost: net.lost,
        duplicated: net.duplicated,
        handled: node.handled,
        absorbed: node.absorbed,
        trace: Vec::new(),
    })
}

fn flush(net: &mut Net, from: SocketAddr, out: &mut Outbox, trace: &mut Vec<String>) {
    for (to, bytes) in out.drain(..) {
        let line = msg::first_line(&bytes);
        let kept = net.send(from, to, bytes);
        trace.push(format!(
            "{:>7}   send {from} -> {to}: {line}{}",
            net.now,
            if kept { "" } else { "  [LOST]" }
        ));
    }
}

/// The end each scenario must reach: `Ok` when it did.
fn completed(plan: &Plan, uac: &Uac, uas: &Uas, node: &ProxyNode) -> Result<(), String> {
    let bye_done = || -> Result<(), String> {
        if plan.callee_bye {
            ensure!(
                uac.callee_bye_ok.is_some()
                    && uas.bye.as_ref().and_then(|t| t.final_code) == Some(200),
                "callee's BYE not completed"
            );
        } else {
            ensure!(
                uas.got_bye && uac.bye.as_ref().and_then(|t| t.final_code) == Some(200),
                "caller's BYE not completed (UAS got it: {})",
                uas.got_bye
            );
        }
        Ok(())
    };
    let answered = || -> Result<(), String> {
        ensure!(
            uac.final_code == Some(200) && uas.final_code() == Some(200) && uas.got_ack,
            "call not answered and ACKed: UAC final {:?}, UAS final {:?}, ACK {}",
            uac.final_code,
            uas.final_code(),
            uas.got_ack
        );
        bye_done()
    };
    match plan.scenario {
        Scenario::Call | Scenario::Spiral => answered(),
        Scenario::Busy => {
            ensure!(
                uac.final_code == Some(486) && uas.got_ack,
                "486 not delivered and ACKed"
            );
            Ok(())
        }
        Scenario::Cancel => {
            if uac.final_code == Some(200) {
                return answered();
            }
            ensure!(
                uac.final_code == Some(487)
                    && uac.cancel.as_ref().and_then(|t| t.final_code) == Some(200)
                    && uas.got_cancel
                    && uas.got_ack,
                "CANCEL not completed: INVITE final {:?}, CANCEL {:?}, UAS ACK {}",
                uac.final_code,
                uac.cancel.as_ref().and_then(|t| t.final_code),
                uas.got_ack
            );
            Ok(())
        }
        Scenario::TooManyHops | Scenario::BadScheme | Scenario::Bounce => {
            let code = match plan.scenario {
                Scenario::TooManyHops => 483,
                Scenario::BadScheme => 416,
                _ => 482,
            };
            ensure!(
                uac.final_code == Some(code) && node.absorbed >= 1 && uac.acks_sent >= 1,
                "our {code} not delivered or its ACK not absorbed (final {:?}, absorbed {})",
                uac.final_code,
                node.absorbed
            );
            Ok(())
        }
    }
}
