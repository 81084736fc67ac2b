//! How a bench run is shown: the live progress line (once a second on
//! stderr), the final text report, the same data as JSON for CI
//! (`--json FILE`), and an SVG picture of the latency percentile
//! distributions (`--report FILE`). No I/O: everything is written to a
//! [`fmt::Write`] the caller owns.
//!
//! Latencies are kept in microseconds and shown in milliseconds with three
//! decimals, formatted from integers so the output is exact.

use core::fmt::{self, Write};
use core::time::Duration;

use super::stats::{Failure, Latency, MsgKind, Stats, Summary};

/// A date-free description of a run, for report headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunInfo {
    /// What ran, e.g. `bench uac call → 127.0.0.1:5060 udp`.
    pub title: String,
    /// The run's parameters in display order, e.g. `("rate", "2000/s")`.
    pub params: Vec<(&'static str, String)>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// What the progress line shows.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Everything recorded since the start (counts, failures).
    pub total: &'a Stats,
    /// What was recorded during the last interval (rate, percentiles).
    pub interval: &'a Stats,
    /// How long the last interval was.
    pub interval_len: Duration,
    /// The latency whose p50/p99 the line shows (INVITE → 200 for calls).
    pub headline: Latency,
}

/// Writes the one-line progress summary (no trailing newline), e.g.
/// `[  12.0s] 2000.0 calls/s | open 12 | ok 23980 | failed 3 (timeout: 1, 486: 2) | retrans 5 | INVITE → 200 p50 1.234 ms p99 4.567 ms`.
/// The rate and percentiles cover the last interval; the rest is cumulative.
pub fn write_progress(w: &mut impl Write, p: &Progress<'_>) -> fmt::Result {
    let calls = p.total.calls();
    write!(
        w,
        "[{:>6.1}s] {:.1} calls/s | open {} | ok {} | failed {}",
        p.elapsed.as_secs_f64(),
        per_second(p.interval.calls().started, p.interval_len),
        calls.open(),
        calls.succeeded,
        calls.failed,
    )?;
    if calls.failed > 0 {
        w.write_str(" (")?;
        write_failures(w, p.total)?;
        w.write_char(')')?;
    }
    write!(
        w,
        " | retrans {} | {}",
        p.total.retransmits(),
        p.headline.label()
    )?;
    let s = p.interval.summary(p.headline);
    if s.count == 0 {
        w.write_str(" p50 - p99 -")
    } else {
        write!(w, " p50 {} ms p99 {} ms", Ms(s.p50), Ms(s.p99))
    }
}

/// Writes the final human-readable report: parameters, counts, achieved
/// rate, failures, transmissions, and p50/p90/p99/p99.9/max per latency
/// (only the latencies and messages that occurred).
pub fn write_text(w: &mut impl Write, run: &RunInfo, stats: &Stats) -> fmt::Result {
    writeln!(w, "{}", run.title)?;
    if !run.params.is_empty() {
        w.write_str("  ")?;
        write_params(w, run, ", ")?;
        w.write_char('\n')?;
    }
    let calls = stats.calls();
    writeln!(
        w,
        "\nelapsed {:.3} s, achieved rate {:.1} calls/s",
        run.elapsed.as_secs_f64(),
        per_second(calls.started, run.elapsed)
    )?;
    writeln!(
        w,
        "calls: {} started, {} succeeded, {} failed, {} open",
        calls.started,
        calls.succeeded,
        calls.failed,
        calls.open()
    )?;
    if calls.failed > 0 {
        w.write_str("failures: ")?;
        write_failures(w, stats)?;
        w.write_char('\n')?;
    }
    if stats.stray_count() > 0 || stats.malformed_count() > 0 {
        writeln!(
            w,
            "unmatched messages: {}, unparsable datagrams: {}",
            stats.stray_count(),
            stats.malformed_count()
        )?;
    }
    if stats.challenge_count() > 0 || stats.rejection_count() > 0 {
        writeln!(
            w,
            "digest authentication: {} challenge(s), {} rejection(s)",
            stats.challenge_count(),
            stats.rejection_count()
        )?;
    }
    let kinds = MsgKind::ALL
        .iter()
        .filter(|&&k| stats.sent_count(k) + stats.retransmit_count(k) > 0);
    let mut header = false;
    for &k in kinds {
        if !header {
            writeln!(
                w,
                "\n{:<10} {:>12} {:>14}",
                "messages", "sent", "retransmitted"
            )?;
            header = true;
        }
        writeln!(
            w,
            "  {:<8} {:>12} {:>14}",
            k.name(),
            stats.sent_count(k),
            stats.retransmit_count(k)
        )?;
    }
    let mut header = false;
    for &k in &Latency::ALL {
        let s = stats.summary(k);
        if s.count == 0 {
            continue;
        }
        if !header {
            writeln!(
                w,
                "\n{:<25} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
                "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
            )?;
            header = true;
        }
        writeln!(
            w,
            "  {:<23} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            k.label(),
            s.count,
            Ms(s.p50),
            Ms(s.p90),
            Ms(s.p99),
            Ms(s.p999),
            Ms(s.max)
        )?;
    }
    Ok(())
}

/// Writes the report as a JSON object (pretty-printed, keys in a fixed
/// order; every latency and message kind is present, zeros included).
/// Latencies are in microseconds.
pub fn write_json(w: &mut impl Write, run: &RunInfo, stats: &Stats) -> fmt::Result {
    let calls = stats.calls();
    let mut j = Json::new(w);
    j.open(None)?;
    j.str("title", &run.title)?;
    j.open(Some("parameters"))?;
    for (k, v) in &run.params {
        j.str(k, v)?;
    }
    j.close()?;
    j.float("elapsed_s", run.elapsed.as_secs_f64())?;
    j.float("achieved_rate", per_second(calls.started, run.elapsed))?;
    j.open(Some("calls"))?;
    j.uint("started", calls.started)?;
    j.uint("succeeded", calls.succeeded)?;
    j.uint("failed", calls.failed)?;
    j.uint("open", calls.open())?;
    j.close()?;
    j.open(Some("failures"))?;
    for why in [
        Failure::Timeout,
        Failure::Transport,
        Failure::Protocol,
        Failure::Aborted,
    ] {
        j.uint(why.key(), stats.failures_of(why))?;
    }
    j.open(Some("status"))?;
    for (why, n) in stats.failures() {
        if let Failure::Status(code) = why {
            let mut key = String::new();
            write!(key, "{code}")?;
            j.uint(&key, n)?;
        }
    }
    j.close()?;
    j.close()?;
    j.open(Some("messages"))?;
    for k in MsgKind::ALL {
        j.open(Some(k.name()))?;
        j.uint("sent", stats.sent_count(k))?;
        j.uint("retransmitted", stats.retransmit_count(k))?;
        j.close()?;
    }
    j.close()?;
    j.uint("unmatched", stats.stray_count())?;
    j.uint("unparsable", stats.malformed_count())?;
    j.uint("auth_challenges", stats.challenge_count())?;
    j.uint("auth_rejections", stats.rejection_count())?;
    j.open(Some("latency_us"))?;
    for k in Latency::ALL {
        let s: Summary = stats.summary(k);
        j.open(Some(k.key()))?;
        j.uint("count", s.count)?;
        j.uint("min", s.min)?;
        j.uint("p50", s.p50)?;
        j.uint("p90", s.p90)?;
        j.uint("p99", s.p99)?;
        j.uint("p99_9", s.p999)?;
        j.uint("max", s.max)?;
        j.float("mean", s.mean)?;
        j.close()?;
    }
    j.close()?;
    j.close()?;
    j.w.write_char('\n')
}

/// Writes a self-contained SVG picture of the latency percentile
/// distributions: x is the percentile on a "nines" scale (0, 90, 99, 99.9,
/// 99.99 %), y the latency in ms, one line per latency that has samples.
pub fn write_svg(w: &mut impl Write, run: &RunInfo, stats: &Stats) -> fmt::Result {
    let series: Vec<Latency> = Latency::ALL
        .into_iter()
        .filter(|&k| !stats.histogram(k).is_empty())
        .collect();
    let top_us = series
        .iter()
        .map(|&k| value_at_nines(stats, k, SVG_NINES))
        .max()
        .unwrap_or(0);
    let low_p50_us = series
        .iter()
        .map(|&k| stats.histogram(k).value_at_quantile(0.5))
        .filter(|&v| v > 0)
        .min()
        .unwrap_or(1);
    let scale = Scale::choose(low_p50_us as f64 / 1000.0, top_us as f64 / 1000.0);
    let px = |nines: f64| PLOT_X + nines / SVG_NINES * PLOT_W;
    let py = |ms: f64| PLOT_Y + PLOT_H - scale.fraction(ms) * PLOT_H;
    let ticks = scale.ticks();

    writeln!(
        w,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_W}\" height=\"{SVG_H}\" \
         viewBox=\"0 0 {SVG_W} {SVG_H}\" font-family=\"Helvetica, Arial, sans-serif\" \
         font-size=\"13\">"
    )?;
    writeln!(w, "<title>Latency percentiles: {}</title>", Xml(&run.title))?;
    writeln!(w, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")?;
    writeln!(
        w,
        "<text x=\"{PLOT_X}\" y=\"30\" font-size=\"18\" font-weight=\"bold\">Latency percentiles: {}</text>",
        Xml(&run.title)
    )?;
    let mut sub = String::new();
    write_params(&mut sub, run, " · ")?;
    if !sub.is_empty() {
        sub.push_str(" · ");
    }
    let calls = stats.calls();
    write!(
        sub,
        "{} calls, {} failed, {:.1} calls/s over {:.1} s",
        calls.started,
        calls.failed,
        per_second(calls.started, run.elapsed),
        run.elapsed.as_secs_f64()
    )?;
    writeln!(
        w,
        "<text x=\"{PLOT_X}\" y=\"52\" fill=\"#555555\">{}</text>",
        Xml(&sub)
    )?;

    // Grid and axes.
    writeln!(
        w,
        "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">"
    )?;
    for &(y, _) in &ticks {
        writeln!(
            w,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            PLOT_X,
            py(y),
            PLOT_X + PLOT_W,
            py(y)
        )?;
    }
    for n in 0..=SVG_NINES as u32 {
        let x = px(f64::from(n));
        writeln!(
            w,
            "<line x1=\"{x:.1}\" y1=\"{PLOT_Y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
            PLOT_Y + PLOT_H
        )?;
    }
    writeln!(w, "</g>")?;
    writeln!(
        w,
        "<rect x=\"{PLOT_X}\" y=\"{PLOT_Y}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" fill=\"none\" stroke=\"#333333\"/>"
    )?;
    writeln!(w, "<g class=\"y-ticks\" text-anchor=\"end\">")?;
    for &(y, decimals) in &ticks {
        writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{:.1}\">{:.*}</text>",
            PLOT_X - 8.0,
            py(y) + 4.0,
            decimals,
            y
        )?;
    }
    writeln!(w, "</g>")?;
    writeln!(w, "<g class=\"x-ticks\" text-anchor=\"middle\">")?;
    for (n, label) in ["0%", "90%", "99%", "99.9%", "99.99%"].iter().enumerate() {
        writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
            px(n as f64),
            PLOT_Y + PLOT_H + 20.0
        )?;
    }
    writeln!(w, "</g>")?;
    writeln!(
        w,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile</text>",
        PLOT_X + PLOT_W / 2.0,
        PLOT_Y + PLOT_H + 44.0
    )?;
    writeln!(
        w,
        "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        PLOT_X - 58.0,
        PLOT_Y + PLOT_H / 2.0,
        match scale {
            Scale::Linear { .. } => "latency (ms)",
            Scale::Log { .. } => "latency (ms, log scale)",
        }
    )?;

    if series.is_empty() {
        writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555555\">no latency samples</text>",
            PLOT_X + PLOT_W / 2.0,
            PLOT_Y + PLOT_H / 2.0
        )?;
    }

    // One line per latency kind.
    for (i, &k) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        write!(
            w,
            "<polyline class=\"series\" data-kind=\"{}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"2\" stroke-linejoin=\"round\" points=\"",
            k.key()
        )?;
        for step in 0..=SVG_STEPS {
            let nines = f64::from(step) * SVG_NINES / f64::from(SVG_STEPS);
            let ms = value_at_nines(stats, k, nines) as f64 / 1000.0;
            if step > 0 {
                w.write_char(' ')?;
            }
            write!(w, "{:.1},{:.1}", px(nines), py(ms))?;
        }
        writeln!(w, "\"/>")?;
    }

    // Legend, right of the plot.
    let lx = PLOT_X + PLOT_W + 20.0;
    writeln!(w, "<g class=\"legend\">")?;
    for (i, &k) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let s = stats.summary(k);
        let ly = PLOT_Y + 10.0 + i as f64 * 46.0;
        writeln!(
            w,
            "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/>",
            lx + 22.0
        )?;
        writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
            lx + 30.0,
            ly + 4.0,
            Xml(k.label())
        )?;
        writeln!(
            w,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555555\" font-size=\"11\">p50 {} · p99 {} · max {} ms</text>",
            lx + 30.0,
            ly + 21.0,
            Ms(s.p50),
            Ms(s.p99),
            Ms(s.max)
        )?;
    }
    writeln!(w, "</g>")?;
    writeln!(w, "</svg>")
}

const SVG_W: u32 = 1060;
const SVG_H: u32 = 560;
const PLOT_X: f64 = 80.0;
const PLOT_Y: f64 = 75.0;
const PLOT_W: f64 = 640.0;
const PLOT_H: f64 = 400.0;
/// The x axis ends at 99.99 %: four nines.
const SVG_NINES: f64 = 4.0;
/// Points per line.
const SVG_STEPS: u32 = 200;
/// Line colours, distinguishable and print-safe.
const PALETTE: [&str; 7] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf",
];

/// The latency (µs) at `nines` on the nines scale: percentile
/// `1 - 10^-nines`.
fn value_at_nines(stats: &Stats, kind: Latency, nines: f64) -> u64 {
    let q = 1.0 - 10f64.powf(-nines);
    stats.histogram(kind).value_at_quantile(q)
}

/// The y axis: linear from 0, or logarithmic when the tail is more than
/// [`LOG_RATIO`] times the smallest median (so the body stays visible).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// 0..=max in ms, ticks every `step`.
    Linear { max: f64, step: f64 },
    /// Whole decades `10^lo..=10^hi` ms.
    Log { lo: i32, hi: i32 },
}

const LOG_RATIO: f64 = 20.0;

impl Scale {
    fn choose(low_ms: f64, top_ms: f64) -> Scale {
        if low_ms > 0.0 && top_ms / low_ms > LOG_RATIO {
            let lo = low_ms.log10().floor() as i32;
            let hi = (top_ms.log10().ceil() as i32).max(lo + 1);
            Scale::Log { lo, hi }
        } else {
            let (max, step) = nice_axis(top_ms);
            Scale::Linear { max, step }
        }
    }

    /// Where `ms` lies on the axis, 0 at the bottom and 1 at the top.
    fn fraction(&self, ms: f64) -> f64 {
        match *self {
            Scale::Linear { max, .. } => ms / max,
            Scale::Log { lo, hi } => {
                let (lo, hi) = (f64::from(lo), f64::from(hi));
                (ms.log10().max(lo) - lo) / (hi - lo)
            }
        }
    }

    /// Tick values and the decimals to print them with: multiples of the
    /// step, or 1, 2 and 5 times each decade.
    fn ticks(&self) -> Vec<(f64, usize)> {
        let mut out = Vec::new();
        match *self {
            Scale::Linear { max, step } => {
                let decimals = step_decimals(step);
                let mut i = 0.0;
                while i * step <= max + step / 1e6 {
                    out.push((i * step, decimals));
                    i += 1.0;
                }
            }
            Scale::Log { lo, hi } => {
                for e in lo..=hi {
                    let decimals = usize::try_from(-e).unwrap_or(0);
                    let multiples: &[f64] = if e == hi { &[1.0] } else { &[1.0, 2.0, 5.0] };
                    for m in multiples {
                        out.push((m * 10f64.powi(e), decimals));
                    }
                }
            }
        }
        out
    }
}

/// A round axis maximum at or above `max` and a 1-2-5 tick step giving
/// 4 to 10 ticks.
fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// Decimals needed to print multiples of `step` exactly.
fn step_decimals(step: f64) -> usize {
    let mut d = 0;
    while d < 6
        && ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs() > 1e-9
    {
        d += 1;
    }
    d
}

fn per_second(n: u64, span: Duration) -> f64 {
    let s = span.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

fn write_params(w: &mut impl Write, run: &RunInfo, sep: &str) -> fmt::Result {
    for (i, (k, v)) in run.params.iter().enumerate() {
        if i > 0 {
            w.write_str(sep)?;
        }
        write!(w, "{k} {v}")?;
    }
    Ok(())
}

fn write_failures(w: &mut impl Write, stats: &Stats) -> fmt::Result {
    for (i, (why, n)) in stats.failures().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        match why {
            Failure::Status(code) => write!(w, "{code}: {n}")?,
            _ => write!(w, "{}: {n}", why.key())?,
        }
    }
    Ok(())
}

/// Microseconds shown as milliseconds with three decimals, exactly.
struct Ms(u64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{}.{:03}", self.0 / 1000, self.0 % 1000);
        f.pad(&s)
    }
}

/// Text escaped for XML character data and attribute values.
struct Xml<'a>(&'a str);

impl fmt::Display for Xml<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                // Not allowed in XML 1.0 at all.
                c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A minimal pretty-printing JSON object writer: two-space indentation,
/// keys in call order.
struct Json<'w, W: Write> {
    w: &'w mut W,
    depth: usize,
    first: bool,
}

impl<'w, W: Write> Json<'w, W> {
    fn new(w: &'w mut W) -> Self {
        Json {
            w,
            depth: 0,
            first: true,
        }
    }

    /// Starts a member: separator, newline, indentation, key.
    fn member(&mut self, key: Option<&str>) -> fmt::Result {
        if self.depth > 0 {
            if !self.first {
                self.w.write_char(',')?;
            }
            self.w.write_char('\n')?;
            for _ in 0..self.depth {
                self.w.write_str("  ")?;
            }
        }
        self.first = false;
        if let Some(k) = key {
            write_json_str(self.w, k)?;
            self.w.write_str(": ")?;
        }
        Ok(())
    }

    fn open(&mut self, key: Option<&str>) -> fmt::Result {
        self.member(key)?;
        self.w.write_char('{')?;
        self.depth += 1;
        self.first = true;
        Ok(())
    }

    fn close(&mut self) -> fmt::Result {
        self.depth -= 1;
        if !self.first {
            self.w.write_char('\n')?;
            for _ in 0..self.depth {
                self.w.write_str("  ")?;
            }
        }
        self.first = false;
        self.w.write_char('}')
    }

    fn str(&mut self, key: &str, v: &str) -> fmt::Result {
        self.member(Some(key))?;
        write_json_str(self.w, v)
    }

    fn uint(&mut self, key: &str, v: u64) -> fmt::Result {
        self.member(Some(key))?;
        write!(self.w, "{v}")
    }

    /// Three decimals; `null` for NaN and infinities, which JSON lacks.
    fn float(&mut self, key: &str, v: f64) -> fmt::Result {
        self.member(Some(key))?;
        if v.is_finite() {
            write!(self.w, "{v:.3}")
        } else {
            self.w.write_str("null")
        }
    }
}

/// A JSON string literal: quotes, backslashes and control characters
/// escaped (RFC 8259 §7); everything else as UTF-8.
fn write_json_str(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            '\u{8}' => w.write_str("\\b")?,
            '\u{c}' => w.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

#[cfg(test)]
mod tests;
