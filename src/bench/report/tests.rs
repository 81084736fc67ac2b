use super::*;
use crate::bench::stats::Stats;

fn run() -> RunInfo {
    RunInfo {
        title: "bench uac call → 127.0.0.1:5060 udp".to_string(),
        params: vec![
            ("rate", "100/s".to_string()),
            ("calls", "1000".to_string()),
            ("hold", "0s".to_string()),
        ],
        elapsed: Duration::from_millis(10_500),
    }
}

/// 1000 calls: INVITE → 200 of 1..=1000 µs, 180 at half that, BYE 250 µs;
/// two failures.
fn stats() -> Stats {
    let mut s = Stats::new();
    for us in 1..=1000u64 {
        s.call_started();
        s.sent(MsgKind::Invite);
        s.record(Latency::InviteFirstResponse, Duration::from_micros(us / 4));
        s.record(Latency::InviteRinging, Duration::from_micros(us / 2));
        s.record(Latency::InviteAnswer, Duration::from_micros(us));
        if us > 2 {
            s.sent(MsgKind::Ack);
            s.sent(MsgKind::Bye);
            s.record(Latency::Bye, Duration::from_micros(250));
            s.call_succeeded();
        }
    }
    s.retransmitted(MsgKind::Invite);
    s.retransmitted(MsgKind::Invite);
    s.retransmitted(MsgKind::Bye);
    s.call_failed(Failure::Timeout);
    s.call_failed(Failure::Status(486));
    s
}

#[test]
fn progress_line() {
    let total = stats();
    let mut interval = Stats::new();
    for _ in 0..199 {
        interval.call_started();
    }
    interval.record(Latency::InviteAnswer, Duration::from_micros(1234));
    interval.record(Latency::InviteAnswer, Duration::from_micros(4567));
    let mut line = String::new();
    write_progress(
        &mut line,
        &Progress {
            elapsed: Duration::from_millis(12_049),
            total: &total,
            interval: &interval,
            interval_len: Duration::from_millis(995),
            headline: Latency::InviteAnswer,
        },
    )
    .unwrap();
    assert_eq!(
        line,
        "[  12.0s] 200.0 calls/s | open 0 | ok 998 | failed 2 (timeout: 1, 486: 1) \
         | retrans 3 | INVITE → 200 p50 1.234 ms p99 4.567 ms"
    );

    let empty = Stats::new();
    let mut line = String::new();
    write_progress(
        &mut line,
        &Progress {
            elapsed: Duration::ZERO,
            total: &empty,
            interval: &empty,
            interval_len: Duration::ZERO,
            headline: Latency::Register,
        },
    )
    .unwrap();
    assert_eq!(
        line,
        "[   0.0s] 0.0 calls/s | open 0 | ok 0 | failed 0 | retrans 0 | REGISTER → 200 p50 - p99 -"
    );
}

#[test]
fn text_report() {
    let mut out = String::new();
    write_text(&mut out, &run(), &stats()).unwrap();
    let expected = "\
bench uac call → 127.0.0.1:5060 udp
  rate 100/s, calls 1000, hold 0s

elapsed 10.500 s, achieved rate 95.2 calls/s
calls: 1000 started, 998 succeeded, 2 failed, 0 open
failures: timeout: 1, 486: 1

messages           sent  retransmitted
  INVITE           1000              2
  ACK               998              0
  BYE               998              1

latency (ms)                  count        p50        p90        p99      p99.9        max
  INVITE → first response      1000      0.125      0.225      0.247      0.249      0.250
  INVITE → 180                 1000      0.250      0.450      0.495      0.499      0.500
  INVITE → 200                 1000      0.500      0.900      0.990      0.999      1.000
  BYE → 200                     998      0.250      0.250      0.250      0.250      0.250
";
    assert_eq!(out, expected);
}

#[test]
fn json_report_exact() {
    let mut s = Stats::new();
    s.call_started();
    s.call_started();
    s.call_succeeded();
    s.call_failed(Failure::Status(503));
    s.sent(MsgKind::Options);
    s.sent(MsgKind::Options);
    s.retransmitted(MsgKind::Options);
    s.record(Latency::Options, Duration::from_micros(300));
    s.stray();
    let run = RunInfo {
        title: "probe \"a\"\\b\n\u{1}".to_string(),
        params: vec![("target", "h:5060".to_string())],
        elapsed: Duration::from_millis(2000),
    };
    let mut out = String::new();
    write_json(&mut out, &run, &s).unwrap();
    let zero = "{\n      \"count\": 0,\n      \"min\": 0,\n      \"p50\": 0,\n      \
                \"p90\": 0,\n      \"p99\": 0,\n      \"p99_9\": 0,\n      \"max\": 0,\n      \
                \"mean\": 0.000\n    }";
    let msg = |name: &str, sent: u64, re: u64| {
        format!(
            "    \"{name}\": {{\n      \"sent\": {sent},\n      \"retransmitted\": {re}\n    }}"
        )
    };
    let expected = format!(
        "{{
  \"title\": \"probe \\\"a\\\"\\\\b\\n\\u0001\",
  \"parameters\": {{
    \"target\": \"h:5060\"
  }},
  \"elapsed_s\": 2.000,
  \"achieved_rate\": 1.000,
  \"calls\": {{
    \"started\": 2,
    \"succeeded\": 1,
    \"failed\": 1,
    \"open\": 0
  }},
  \"failures\": {{
    \"timeout\": 0,
    \"transport\": 0,
    \"protocol\": 0,
    \"aborted\": 0,
    \"status\": {{
      \"503\": 1
    }}
  }},
  \"messages\": {{
{},
{},
{},
{},
{},
{},
{},
{}
  }},
  \"unmatched\": 1,
  \"unparsable\": 0,
  \"auth_challenges\": 0,
  \"auth_rejections\": 0,
  \"latency_us\": {{
    \"invite_first_response\": {zero},
    \"invite_180\": {zero},
    \"invite_200\": {zero},
    \"bye_200\": {zero},
    \"register_200\": {zero},
    \"options_200\": {{
      \"count\": 1,
      \"min\": 300,
      \"p50\": 300,
      \"p90\": 300,
      \"p99\": 300,
      \"p99_9\": 300,
      \"max\": 300,
      \"mean\": 300.000
    }},
    \"message_200\": {zero}
  }}
}}
",
        msg("INVITE", 0, 0),
        msg("ACK", 0, 0),
        msg("BYE", 0, 0),
        msg("CANCEL", 0, 0),
        msg("REGISTER", 0, 0),
        msg("OPTIONS", 2, 1),
        msg("MESSAGE", 0, 0),
        msg("response", 0, 0),
    );
    assert_eq!(out, expected);
}

#[test]
fn json_escapes_and_empty_objects() {
    let mut out = String::new();
    write_json_str(&mut out, "\u{1f}\t\r\u{8}\u{c}é→").unwrap();
    assert_eq!(
        out,
        "\"\\u001f\\t\\r\\b\\f\\u00e9→\"".replace("\\u00e9", "é")
    );
    let mut out = String::new();
    let mut j = Json::new(&mut out);
    j.open(None).unwrap();
    j.open(Some("a")).unwrap();
    j.close().unwrap();
    j.float("nan", f64::NAN).unwrap();
    j.close().unwrap();
    assert_eq!(out, "{\n  \"a\": {},\n  \"nan\": null\n}");
}

#[test]
fn svg_has_one_line_per_measured_latency() {
    let mut out = String::new();
    write_svg(&mut out, &run(), &stats()).unwrap();
    assert!(out.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(out.ends_with("</svg>\n"));
    let kinds: Vec<&str> = out
        .match_indices("data-kind=\"")
        .map(|(i, m)| {
            let rest = &out[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "invite_first_response",
            "invite_180",
            "invite_200",
            "bye_200"
        ]
    );
    // 201 points per line; the last INVITE → 200 point is 1.000 ms, the
    // top of a 0..1.0 ms axis, at the right edge.
    let line = out
        .lines()
        .find(|l| l.contains("data-kind=\"invite_200\""))
        .unwrap();
    assert_eq!(line.matches(',').count(), 201);
    assert!(line.ends_with(" 720.0,75.0\"/>"), "{line}");
    for label in [
        "INVITE → first response",
        "INVITE → 180",
        "INVITE → 200",
        "BYE → 200",
        ">99.99%<",
        ">latency (ms)<",
        ">percentile<",
        "p50 0.500 · p99 0.990 · max 1.000 ms",
        "rate 100/s · calls 1000 · hold 0s · 1000 calls, 2 failed, 95.2 calls/s over 10.5 s",
    ] {
        assert!(out.contains(label), "missing {label}");
    }
    assert!(!out.contains("REGISTER"));
    // The title is escaped.
    let mut r = run();
    r.title = "a<b & \"c\"".to_string();
    let mut out = String::new();
    write_svg(&mut out, &r, &Stats::new()).unwrap();
    assert!(out.contains("Latency percentiles: a&lt;b &amp; &quot;c&quot;</text>"));
    assert!(out.contains(">no latency samples<"));
    assert!(!out.contains("<polyline"));
}

#[test]
fn axis_steps() {
    assert_eq!(nice_axis(1.0), (1.0, 0.2));
    assert_eq!(nice_axis(0.0), (1.0, 0.2));
    assert_eq!(nice_axis(7.3), (8.0, 2.0));
    assert_eq!(nice_axis(32_000.0), (40_000.0, 10_000.0));
    assert_eq!(nice_axis(0.25), (0.25, 0.05));
    assert_eq!(step_decimals(0.05), 2);
    assert_eq!(step_decimals(2.0), 0);
    assert_eq!(step_decimals(0.2), 1);
}

#[test]
fn log_scale_for_long_tails() {
    assert_eq!(
        Scale::choose(0.125, 1.0),
        Scale::Linear {
            max: 1.0,
            step: 0.2
        }
    );
    let log = Scale::choose(0.219, 20.2);
    assert_eq!(log, Scale::Log { lo: -1, hi: 2 });
    let ticks: Vec<String> = log
        .ticks()
        .iter()
        .map(|&(v, d)| format!("{v:.d$}"))
        .collect();
    assert_eq!(
        ticks,
        ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "100"]
    );
    assert_eq!(log.fraction(0.1), 0.0);
    assert_eq!(log.fraction(0.001), 0.0);
    assert_eq!(log.fraction(100.0), 1.0);
    assert!((log.fraction(1.0) - 1.0 / 3.0).abs() < 1e-12);
    // A tail within one decade still spans a whole decade.
    assert_eq!(Scale::choose(0.01, 0.5), Scale::Log { lo: -2, hi: 0 });
}
