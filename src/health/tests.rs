//! The monitor driven by an injected clock.

use super::*;
use crate::route::{CodeClass, GroupSpec, MemberSpec, Upstream};

const SEC: Duration = Duration::from_secs(1);

fn spec(fall: u32, rise: u32) -> ProbeSpec {
    ProbeSpec {
        interval: SEC,
        timeout: Duration::from_millis(500),
        fall,
        rise,
        codes: vec![CodeClass::Class(2), CodeClass::Code(404)],
    }
}

fn member(port: u16, drain: bool) -> MemberSpec {
    let mut m = MemberSpec::new(Upstream {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        transport: Transport::Udp,
        weight: 1,
    });
    m.drain = drain;
    m
}

fn group(name: &str, members: Vec<MemberSpec>, probe: Option<ProbeSpec>) -> GroupSpec {
    GroupSpec {
        probe,
        members,
        ..GroupSpec::from_upstreams(name, [])
    }
}

fn table(groups: Vec<GroupSpec>) -> Table {
    let mut b = Table::builder();
    for g in groups {
        b = b.group_spec(g);
    }
    b.build().unwrap()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Runs the monitor to `until` in 10 ms steps; the orders sent, with times.
fn run(m: &mut Monitor, from: Instant, until: Instant) -> Vec<(Instant, Order)> {
    let mut sent = Vec::new();
    let mut t = from;
    while t <= until {
        let mut orders = Vec::new();
        m.tick(t, &mut orders);
        sent.extend(orders.into_iter().map(|o| (t, o)));
        t += Duration::from_millis(10);
    }
    sent
}

#[test]
fn probes_go_out_every_interval_with_jitter_and_distinct_tokens() {
    let t0 = Instant::now();
    let tb = table(vec![group(
        "pbx",
        vec![member(5070, false)],
        Some(spec(2, 2)),
    )]);
    let mut m = Monitor::new(1);
    assert!(m.sync(&tb, t0).is_empty());
    let mut last = None;
    let mut gaps = Vec::new();
    let mut tokens = std::collections::HashSet::new();
    let mut t = t0;
    let until = t0 + 100 * SEC;
    while t <= until {
        let mut orders = Vec::new();
        m.tick(t, &mut orders);
        for o in orders {
            assert_eq!((o.addr, o.transport), (addr(5070), Transport::Udp));
            assert!(tokens.insert(o.token), "a token was drawn twice");
            // Answered at once.
            assert_eq!(m.reply(o.token, 200, addr(5070), t), None);
            if let Some(l) = last {
                gaps.push(t - l);
            } else {
                assert!(t - t0 <= SEC, "the first probe within one interval");
            }
            last = Some(t);
        }
        t += Duration::from_millis(10);
    }
    assert!(gaps.len() >= 90, "{} probes", gaps.len());
    let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(
        *lo >= Duration::from_millis(900) && *hi <= Duration::from_millis(1110),
        "{lo:?} {hi:?}"
    );
    assert!(hi > lo, "no jitter");
    assert_eq!(m.state(addr(5070), Transport::Udp), Some(State::Up));
    let s = m.stats(addr(5070), Transport::Udp).unwrap();
    assert_eq!(
        (s.probes, s.failures, s.changes),
        (gaps.len() as u64 + 1, 0, 0)
    );
}

#[test]
fn many_members_do_not_probe_in_one_burst() {
    let t0 = Instant::now();
    let members = (0..50).map(|i| member(6000 + i, false)).collect();
    let tb = table(vec![group("pbx", members, Some(spec(2, 2)))]);
    let mut m = Monitor::new(2);
    m.sync(&tb, t0);
    let sent = run(&mut m, t0, t0 + SEC);
    assert_eq!(sent.len(), 50, "each member once in the first interval");
    // Ten 100 ms slots: none holds more than a third of the probes.
    let mut slots = [0usize; 11];
    for (t, _) in &sent {
        slots[((*t - t0).as_millis() / 100) as usize] += 1;
    }
    assert!(slots.iter().all(|&n| n <= 16), "{slots:?}");
}

#[test]
fn fall_timeouts_mark_down_and_rise_answers_mark_up() {
    let t0 = Instant::now();
    let tb = table(vec![group(
        "pbx",
        vec![member(5070, false), member(5071, false)],
        Some(spec(2, 2)),
    )]);
    let dest = tb.groups()[0].destinations()[1].health().clone();
    let mut m = Monitor::new(3);
    m.sync(&tb, t0);
    // Member 5071 never answers; 5070 always does.
    let mut changes = Vec::new();
    let mut t = t0;
    let mut down_at = None;
    while t <= t0 + 4 * SEC {
        let mut orders = Vec::new();
        changes.extend(m.tick(t, &mut orders));
        for o in orders {
            if o.addr == addr(5070) {
                assert_eq!(m.reply(o.token, 200, o.addr, t), None);
            }
        }
        if down_at.is_none() && !changes.is_empty() {
            down_at = Some(t);
        }
        t += Duration::from_millis(10);
    }
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        changes[0].to_string(),
        "upstream 127.0.0.1:5071 in group pbx: up -> down (2 probes timed out)"
    );
    assert!(!dest.is_up());
    // Two probes and their timeouts: at most 1 s + 1.1 s + 0.5 s.
    assert!(down_at.unwrap() - t0 <= Duration::from_millis(2610));
    // It answers again: one answer is not enough, the second marks it up.
    let mut ups = Vec::new();
    let mut answered = 0;
    while ups.is_empty() && t <= t0 + 10 * SEC {
        let mut orders = Vec::new();
        assert!(m.tick(t, &mut orders).is_empty());
        for o in orders {
            let change = m.reply(o.token, 200, o.addr, t);
            if o.addr == addr(5071) {
                answered += 1;
                ups.extend(change);
                assert_eq!(dest.is_up(), answered >= 2);
            }
        }
        t += Duration::from_millis(10);
    }
    assert_eq!(answered, 2);
    assert_eq!(
        ups[0].to_string(),
        "upstream 127.0.0.1:5071 in group pbx: down -> up (2 probes answered 200)"
    );
    // Probing went on while it was down: every probe until the first
    // answer failed.
    let s = m.stats(addr(5071), Transport::Udp).unwrap();
    assert_eq!(s.changes, 2);
    assert_eq!(s.failures + 2, s.probes, "{s:?}");
}

#[test]
fn codes_decide_what_counts_as_alive() {
    let t0 = Instant::now();
    let tb = table(vec![group(
        "pbx",
        vec![member(5070, false)],
        Some(spec(1, 1)),
    )]);
    let mut m = Monitor::new(4);
    m.sync(&tb, t0);
    let probe = |m: &mut Monitor, t: Instant| {
        let mut o = Vec::new();
        let mut t = t;
        while o.is_empty() {
            m.tick(t, &mut o);
            t += Duration::from_millis(10);
        }
        (o[0], t)
    };
    // 404 is in `codes`; a 100 Trying is not final and not listed: ignored.
    let (o, t) = probe(&mut m, t0);
    assert_eq!(m.reply(o.token, 100, o.addr, t), None);
    assert_eq!(m.reply(o.token, 404, o.addr, t), None);
    assert_eq!(m.state(o.addr, Transport::Udp), Some(State::Up));
    // 503 is not: down at once with fall 1.
    let (o, t) = probe(&mut m, t + SEC);
    let c = m.reply(o.token, 503, o.addr, t).unwrap();
    assert_eq!(c.reason, "probe answered 503");
    assert_eq!(c.to, State::Down);
    // A late or forged reply: wrong token, wrong address. Ignored.
    let (o, t) = probe(&mut m, t + SEC);
    assert_eq!(m.reply(o.token ^ 1, 200, o.addr, t), None);
    assert_eq!(m.reply(o.token, 200, addr(9), t), None);
    assert_eq!(m.state(o.addr, Transport::Udp), Some(State::Down));
    let c = m.reply(o.token, 200, o.addr, t).unwrap();
    assert_eq!((c.from, c.to), (State::Down, State::Up));
    // The same token twice counts once.
    assert_eq!(m.reply(o.token, 200, o.addr, t), None);
}

#[test]
fn an_unreachable_report_fails_at_once_and_brings_the_next_probe_forward() {
    let t0 = Instant::now();
    let tb = table(vec![group(
        "pbx",
        vec![member(5070, false)],
        Some(spec(2, 2)),
    )]);
    let mut m = Monitor::new(5);
    m.sync(&tb, t0);
    // Settle: the first probe answered at once.
    let mut t = t0;
    let mut orders = Vec::new();
    while orders.is_empty() {
        t += Duration::from_millis(10);
        m.tick(t, &mut orders);
    }
    assert_eq!(m.reply(orders[0].token, 200, addr(5070), t), None);
    // A forwarded request hits an ICMP error: one failure, probe now.
    let later = t + Duration::from_millis(200);
    assert_eq!(
        m.unreachable(addr(5070), Transport::Udp, "ICMP port unreachable", later),
        None
    );
    let mut orders = Vec::new();
    m.tick(later, &mut orders);
    assert_eq!(orders.len(), 1, "the next probe goes out at once");
    // Its own ICMP error is the second failure: down, long before a timeout.
    let c = m
        .unreachable(addr(5070), Transport::Udp, "ICMP port unreachable", later)
        .unwrap();
    assert_eq!(
        c.to_string(),
        "upstream 127.0.0.1:5070 in group pbx: up -> down (2 probes failed: ICMP port unreachable)"
    );
    // The probe in flight was the one that failed: a reply to it now is late.
    assert_eq!(m.reply(orders[0].token, 200, addr(5070), later), None);
    assert_eq!(m.state(addr(5070), Transport::Udp), Some(State::Down));
    // Down: more errors (its own probes draw them) do not draw more probes.
    let mut sent = 0;
    let mut t = later;
    while t < later + 3 * SEC {
        let mut orders = Vec::new();
        m.tick(t, &mut orders);
        for o in orders {
            sent += 1;
            m.unreachable(o.addr, Transport::Udp, "ICMP port unreachable", t);
        }
        t += Duration::from_millis(10);
    }
    assert!(
        (2..=4).contains(&sent),
        "{sent} probes in 3 s at a 1 s interval"
    );
    // Mixed failures say so.
    let tb = table(vec![group(
        "pbx",
        vec![member(5071, false)],
        Some(spec(2, 2)),
    )]);
    let mut m = Monitor::new(6);
    m.sync(&tb, t0);
    m.unreachable(addr(5071), Transport::Udp, "connect refused", t0);
    let mut orders = Vec::new();
    m.tick(t0, &mut orders);
    let c = m.reply(orders[0].token, 500, addr(5071), t0).unwrap();
    assert_eq!(c.reason, "2 probes failed, the last answered 500");
}

#[test]
fn members_without_probes_are_never_marked_down() {
    let t0 = Instant::now();
    let tb = table(vec![group("pbx", vec![member(5070, false)], None)]);
    let mut m = Monitor::new(7);
    m.sync(&tb, t0);
    assert!(!m.probes_any());
    assert_eq!(
        m.unreachable(addr(5070), Transport::Udp, "ICMP port unreachable", t0),
        None
    );
    assert_eq!(
        m.unreachable(addr(5070), Transport::Udp, "ICMP port unreachable", t0),
        None
    );
    assert_eq!(m.state(addr(5070), Transport::Udp), Some(State::Up));
    assert!(run(&mut m, t0, t0 + 3 * SEC).is_empty());
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn a_reload_keeps_state_and_counters_and_logs_drain_changes() {
    let t0 = Instant::now();
    let first = table(vec![group(
        "pbx",
        vec![member(5070, false), member(5071, false)],
        Some(spec(1, 1)),
    )]);
    let mut m = Monitor::new(8);
    m.sync(&first, t0);
    m.unreachable(addr(5071), Transport::Udp, "ICMP port unreachable", t0)
        .unwrap();
    let before = m.stats(addr(5071), Transport::Udp).unwrap();
    // The reload: 5071 kept (its health inherited), 5070 drained, 5072 new,
    // and 5071 listed in a second group too.
    let second = Table::builder()
        .group_spec(group(
            "pbx",
            vec![member(5070, true), member(5071, false), member(5072, false)],
            Some(spec(1, 1)),
        ))
        .group_spec(group("backup", vec![member(5071, false)], None))
        .inherit_health(&first)
        .build()
        .unwrap();
    let changes = m.sync(&second, t0 + SEC);
    let lines: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        lines,
        ["upstream 127.0.0.1:5070 in group pbx: up -> drain (drained in the routing file)"]
    );
    assert_eq!(m.state(addr(5071), Transport::Udp), Some(State::Down));
    assert!(!second.groups()[1].destinations()[0].is_healthy());
    assert_eq!(m.stats(addr(5071), Transport::Udp), Some(before));
    assert_eq!(m.state(addr(5072), Transport::Udp), Some(State::Up));
    // Recovery names both groups.
    let mut orders = Vec::new();
    let mut t = t0 + SEC;
    while !orders.iter().any(|o: &Order| o.addr == addr(5071)) {
        m.tick(t, &mut orders);
        t += Duration::from_millis(10);
    }
    let o = orders.iter().find(|o| o.addr == addr(5071)).unwrap();
    let c = m.reply(o.token, 200, o.addr, t).unwrap();
    assert_eq!(
        c.to_string(),
        "upstream 127.0.0.1:5071 in groups pbx, backup: down -> up (probe answered 200)"
    );
    // Undrained, and no longer probed while down: both logged, both up.
    m.unreachable(addr(5072), Transport::Udp, "ICMP port unreachable", t)
        .unwrap();
    let third = Table::builder()
        .group_spec(group(
            "pbx",
            vec![member(5070, false), member(5072, false)],
            None,
        ))
        .inherit_health(&second)
        .build()
        .unwrap();
    let lines: Vec<String> = m.sync(&third, t).iter().map(|c| c.to_string()).collect();
    assert_eq!(
        lines,
        [
            "upstream 127.0.0.1:5070 in group pbx: drain -> up (no longer drained in the routing file)",
            "upstream 127.0.0.1:5072 in group pbx: down -> up (no longer probed)",
        ]
    );
    assert!(third.groups()[0]
        .destinations()
        .iter()
        .all(|d| d.is_available()));
}

#[test]
fn a_run_time_drain_shows_in_the_state() {
    let t0 = Instant::now();
    let tb = table(vec![group(
        "pbx",
        vec![member(5070, false)],
        Some(spec(1, 1)),
    )]);
    let mut m = Monitor::new(9);
    m.sync(&tb, t0);
    let d = &tb.groups()[0].destinations()[0];
    d.health().set_drained(true);
    assert_eq!(m.state(addr(5070), Transport::Udp), Some(State::Drain));
    assert!(!d.is_available() && d.is_healthy());
    d.health().set_drained(false);
    assert!(d.is_available());
}
