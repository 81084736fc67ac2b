//! What a bench run measures: latency histograms (hdrhistogram, in
//! microseconds, 3 significant digits) and counters for calls, failures by
//! reason, and first transmissions vs retransmissions per message kind.
//! No I/O.
//!
//! Each worker owns a [`Stats`] and records into it without sharing; the
//! shell merges them ([`Stats::merge`]) once a second for the progress line
//! and at the end for the report. Recording never allocates.

use core::time::Duration;

use hdrhistogram::Histogram;

use super::Nanos;

/// The largest latency tracked exactly, in µs (10 minutes); longer ones
/// are recorded as this value.
pub const MAX_LATENCY_US: u64 = 600_000_000;
/// Significant decimal digits kept by every latency histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A measured latency: from sending a request to receiving a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Latency {
    /// INVITE to its first response of any kind (usually 100 Trying).
    InviteFirstResponse,
    /// INVITE to 180 Ringing.
    InviteRinging,
    /// INVITE to 200 OK.
    InviteAnswer,
    /// BYE to 200 OK.
    Bye,
    /// REGISTER to 200 OK (from the REGISTER carrying credentials when a
    /// digest challenge was answered).
    Register,
    /// OPTIONS to 200 OK.
    Options,
    /// MESSAGE to 200 OK.
    Message,
}

impl Latency {
    /// Every kind, in report order.
    pub const ALL: [Latency; 7] = [
        Latency::InviteFirstResponse,
        Latency::InviteRinging,
        Latency::InviteAnswer,
        Latency::Bye,
        Latency::Register,
        Latency::Options,
        Latency::Message,
    ];

    /// The machine name, used as the JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Latency::InviteFirstResponse => "invite_first_response",
            Latency::InviteRinging => "invite_180",
            Latency::InviteAnswer => "invite_200",
            Latency::Bye => "bye_200",
            Latency::Register => "register_200",
            Latency::Options => "options_200",
            Latency::Message => "message_200",
        }
    }

    /// The human name, used in the text and SVG reports.
    pub fn label(self) -> &'static str {
        match self {
            Latency::InviteFirstResponse => "INVITE → first response",
            Latency::InviteRinging => "INVITE → 180",
            Latency::InviteAnswer => "INVITE → 200",
            Latency::Bye => "BYE → 200",
            Latency::Register => "REGISTER → 200",
            Latency::Options => "OPTIONS → 200",
            Latency::Message => "MESSAGE → 200",
        }
    }
}

/// A kind of message the harness sends, for transmission counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MsgKind {
    /// INVITE request.
    Invite,
    /// ACK request.
    Ack,
    /// BYE request.
    Bye,
    /// CANCEL request.
    Cancel,
    /// REGISTER request.
    Register,
    /// OPTIONS request.
    Options,
    /// MESSAGE request.
    Message,
    /// Any response (sent by the UAS).
    Response,
}

impl MsgKind {
    /// Every kind, in report order.
    pub const ALL: [MsgKind; 8] = [
        MsgKind::Invite,
        MsgKind::Ack,
        MsgKind::Bye,
        MsgKind::Cancel,
        MsgKind::Register,
        MsgKind::Options,
        MsgKind::Message,
        MsgKind::Response,
    ];

    /// The name in reports: the method, or `response`.
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Invite => "INVITE",
            MsgKind::Ack => "ACK",
            MsgKind::Bye => "BYE",
            MsgKind::Cancel => "CANCEL",
            MsgKind::Register => "REGISTER",
            MsgKind::Options => "OPTIONS",
            MsgKind::Message => "MESSAGE",
            MsgKind::Response => "response",
        }
    }
}

/// Why a call (or registration, or probe) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// No final response in time (Timer B/F, or the call's `--timeout`).
    Timeout,
    /// A final response with an unexpected status code.
    Status(u16),
    /// The transport refused: a send error, ICMP unreachable, a closed or
    /// refused TCP connection.
    Transport,
    /// The peer broke the protocol (e.g. a 2xx without a To tag, a second
    /// digest challenge after answering one).
    Protocol,
    /// Still open when the run ended.
    Aborted,
}

impl Failure {
    /// The machine name: `timeout`, `transport`, `protocol`, `aborted`, or
    /// `status` (the code is reported beside it).
    pub fn key(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Status(_) => "status",
            Failure::Transport => "transport",
            Failure::Protocol => "protocol",
            Failure::Aborted => "aborted",
        }
    }
}

/// Call counters. A "call" is one scenario instance: a call, a
/// registration, an OPTIONS probe or a MESSAGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Calls {
    /// Calls started.
    pub started: u64,
    /// Calls that completed their scenario.
    pub succeeded: u64,
    /// Calls that failed (see the failures by reason).
    pub failed: u64,
}

impl Calls {
    /// Calls started and not yet ended.
    pub fn open(&self) -> u64 {
        self.started.saturating_sub(self.succeeded + self.failed)
    }
}

/// Percentiles of one latency, in microseconds (zeros when empty).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Smallest sample.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Everything one worker (or a merge of workers) measured.
#[derive(Debug, Clone)]
pub struct Stats {
    latency: [Histogram<u64>; Latency::ALL.len()],
    calls: Calls,
    timeouts: u64,
    transport: u64,
    protocol: u64,
    aborted: u64,
    /// Failures by status code; index `code - 100` for 100..=699.
    status: Box<[u64]>,
    sent: [u64; MsgKind::ALL.len()],
    retransmitted: [u64; MsgKind::ALL.len()],
    stray: u64,
    malformed: u64,
    /// Digest challenges sent (UAS with `--auth-users`).
    challenged: u64,
    /// Requests refused for wrong credentials (UAS with `--auth-users`).
    rejected: u64,
}

const STATUS_CODES: usize = 600;

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Empty statistics (about 1 MiB of histogram buckets, allocated here
    /// once).
    pub fn new() -> Stats {
        let histogram = || {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid")
        };
        Stats {
            latency: core::array::from_fn(|_| histogram()),
            calls: Calls::default(),
            timeouts: 0,
            transport: 0,
            protocol: 0,
            aborted: 0,
            status: vec![0; STATUS_CODES].into_boxed_slice(),
            sent: [0; MsgKind::ALL.len()],
            retransmitted: [0; MsgKind::ALL.len()],
            stray: 0,
            malformed: 0,
            challenged: 0,
            rejected: 0,
        }
    }

    /// Records one latency, rounded down to whole microseconds; values past
    /// [`MAX_LATENCY_US`] are recorded as that.
    #[inline]
    pub fn record(&mut self, kind: Latency, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency[kind as usize].saturating_record(us.min(MAX_LATENCY_US));
    }

    /// Records the latency from `sent` to `received`.
    #[inline]
    pub fn record_span(&mut self, kind: Latency, sent: Nanos, received: Nanos) {
        self.record(kind, received.since(sent));
    }

    /// A call started.
    #[inline]
    pub fn call_started(&mut self) {
        self.calls.started += 1;
    }

    /// A call completed its scenario.
    #[inline]
    pub fn call_succeeded(&mut self) {
        self.calls.succeeded += 1;
    }

    /// A call failed for `why`.
    #[inline]
    pub fn call_failed(&mut self, why: Failure) {
        self.calls.failed += 1;
        match why {
            Failure::Timeout => self.timeouts += 1,
            Failure::Transport => self.transport += 1,
            Failure::Protocol => self.protocol += 1,
            Failure::Aborted => self.aborted += 1,
            Failure::Status(code) => match self.status.get_mut(usize::from(code).wrapping_sub(100))
            {
                Some(n) => *n += 1,
                // Parsed status codes are 100..=699; anything else is a
                // peer breaking the protocol.
                None => self.protocol += 1,
            },
        }
    }

    /// A message went out for the first time.
    #[inline]
    pub fn sent(&mut self, kind: MsgKind) {
        self.sent[kind as usize] += 1;
    }

    /// A message went out again (a retransmission).
    #[inline]
    pub fn retransmitted(&mut self, kind: MsgKind) {
        self.retransmitted[kind as usize] += 1;
    }

    /// A message arrived that belongs to no open call (a late
    /// retransmission, or someone else's traffic).
    #[inline]
    pub fn stray(&mut self) {
        self.stray += 1;
    }

    /// A datagram arrived that does not parse as SIP.
    #[inline]
    pub fn malformed(&mut self) {
        self.malformed += 1;
    }

    /// A request was answered with a digest challenge (401).
    #[inline]
    pub fn challenged(&mut self) {
        self.challenged += 1;
    }

    /// A request was refused for wrong credentials (403).
    #[inline]
    pub fn rejected(&mut self) {
        self.rejected += 1;
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &Stats) {
        for (h, o) in self.latency.iter_mut().zip(&other.latency) {
            h.add(o).expect("histograms share their bounds");
        }
        self.calls.started += other.calls.started;
        self.calls.succeeded += other.calls.succeeded;
        self.calls.failed += other.calls.failed;
        self.timeouts += other.timeouts;
        self.transport += other.transport;
        self.protocol += other.protocol;
        self.aborted += other.aborted;
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        for (a, b) in self.sent.iter_mut().zip(&other.sent) {
            *a += b;
        }
        for (a, b) in self.retransmitted.iter_mut().zip(&other.retransmitted) {
            *a += b;
        }
        self.stray += other.stray;
        self.malformed += other.malformed;
        self.challenged += other.challenged;
        self.rejected += other.rejected;
    }

    /// Forgets everything, keeping the allocations (for per-interval
    /// statistics that are sent and reused).
    pub fn clear(&mut self) {
        // An empty histogram's buckets are all zero already: skipping it
        // saves zeroing some 170 KiB per latency kind nobody recorded.
        for h in self.latency.iter_mut().filter(|h| !h.is_empty()) {
            h.reset();
        }
        self.calls = Calls::default();
        self.timeouts = 0;
        self.transport = 0;
        self.protocol = 0;
        self.aborted = 0;
        self.status.fill(0);
        self.sent = [0; MsgKind::ALL.len()];
        self.retransmitted = [0; MsgKind::ALL.len()];
        self.stray = 0;
        self.malformed = 0;
        self.challenged = 0;
        self.rejected = 0;
    }

    /// The histogram of one latency, in microseconds.
    pub fn histogram(&self, kind: Latency) -> &Histogram<u64> {
        &self.latency[kind as usize]
    }

    /// Percentiles of one latency.
    pub fn summary(&self, kind: Latency) -> Summary {
        let h = &self.latency[kind as usize];
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    /// The call counters.
    pub fn calls(&self) -> Calls {
        self.calls
    }

    /// How many calls failed for exactly this reason.
    pub fn failures_of(&self, why: Failure) -> u64 {
        match why {
            Failure::Timeout => self.timeouts,
            Failure::Transport => self.transport,
            Failure::Protocol => self.protocol,
            Failure::Aborted => self.aborted,
            Failure::Status(code) => self
                .status
                .get(usize::from(code).wrapping_sub(100))
                .copied()
                .unwrap_or(0),
        }
    }

    /// The failure reasons that occurred, with their counts: timeouts,
    /// transport, protocol, aborted, then status codes in ascending order.
    pub fn failures(&self) -> impl Iterator<Item = (Failure, u64)> + '_ {
        let fixed = [
            (Failure::Timeout, self.timeouts),
            (Failure::Transport, self.transport),
            (Failure::Protocol, self.protocol),
            (Failure::Aborted, self.aborted),
        ];
        let codes = self
            .status
            .iter()
            .enumerate()
            .map(|(i, &n)| (Failure::Status(i as u16 + 100), n));
        fixed.into_iter().chain(codes).filter(|&(_, n)| n > 0)
    }

    /// First transmissions of this kind.
    pub fn sent_count(&self, kind: MsgKind) -> u64 {
        self.sent[kind as usize]
    }

    /// Retransmissions of this kind.
    pub fn retransmit_count(&self, kind: MsgKind) -> u64 {
        self.retransmitted[kind as usize]
    }

    /// Retransmissions of every kind.
    pub fn retransmits(&self) -> u64 {
        self.retransmitted.iter().sum()
    }

    /// Messages that matched no open call.
    pub fn stray_count(&self) -> u64 {
        self.stray
    }

    /// Datagrams that did not parse.
    pub fn malformed_count(&self) -> u64 {
        self.malformed
    }

    /// Digest challenges sent.
    pub fn challenge_count(&self) -> u64 {
        self.challenged
    }

    /// Requests refused for wrong credentials.
    pub fn rejection_count(&self) -> u64 {
        self.rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_microseconds() {
        let mut s = Stats::new();
        assert_eq!(s.summary(Latency::Bye), Summary::default());
        for us in 1..=1000u64 {
            s.record(Latency::InviteAnswer, Duration::from_micros(us));
        }
        // Sub-microsecond parts are dropped.
        s.record_span(Latency::Bye, Nanos(1_000), Nanos(3_999));
        assert_eq!(
            s.summary(Latency::InviteAnswer),
            Summary {
                count: 1000,
                min: 1,
                p50: 500,
                p90: 900,
                p99: 990,
                p999: 999,
                max: 1000,
                mean: 500.5,
            }
        );
        assert_eq!(s.summary(Latency::Bye).max, 2);
        assert_eq!(s.summary(Latency::Register).count, 0);
        assert_eq!(s.histogram(Latency::InviteAnswer).len(), 1000);
    }

    #[test]
    fn three_significant_digits_and_saturation() {
        let mut s = Stats::new();
        s.record(Latency::Options, Duration::from_micros(123_500));
        s.record(Latency::Options, Duration::from_secs(3600));
        let h = s.histogram(Latency::Options);
        assert!(h.equivalent(h.min(), 123_500));
        assert_eq!(h.lowest_equivalent(h.min()), 123_456);
        assert!(h.equivalent(h.max(), MAX_LATENCY_US));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn failures_by_reason() {
        let mut s = Stats::new();
        for _ in 0..5 {
            s.call_started();
        }
        s.call_succeeded();
        s.call_failed(Failure::Status(486));
        s.call_failed(Failure::Status(403));
        s.call_failed(Failure::Status(486));
        s.call_failed(Failure::Timeout);
        s.call_failed(Failure::Status(42));
        assert_eq!(
            s.calls(),
            Calls {
                started: 5,
                succeeded: 1,
                failed: 5
            }
        );
        assert_eq!(s.calls().open(), 0);
        assert_eq!(
            s.failures().collect::<Vec<_>>(),
            vec![
                (Failure::Timeout, 1),
                (Failure::Protocol, 1),
                (Failure::Status(403), 1),
                (Failure::Status(486), 2),
            ]
        );
        assert_eq!(s.failures_of(Failure::Status(486)), 2);
        assert_eq!(s.failures_of(Failure::Status(700)), 0);
        assert_eq!(s.failures_of(Failure::Transport), 0);
        assert_eq!(Failure::Status(486).key(), "status");
    }

    #[test]
    fn transmissions_and_retransmissions() {
        let mut s = Stats::new();
        s.sent(MsgKind::Invite);
        s.sent(MsgKind::Invite);
        s.retransmitted(MsgKind::Invite);
        s.retransmitted(MsgKind::Response);
        s.stray();
        s.malformed();
        assert_eq!(s.sent_count(MsgKind::Invite), 2);
        assert_eq!(s.retransmit_count(MsgKind::Invite), 1);
        assert_eq!(s.retransmit_count(MsgKind::Bye), 0);
        assert_eq!(s.retransmits(), 2);
        assert_eq!((s.stray_count(), s.malformed_count()), (1, 1));
    }

    #[test]
    fn merge_and_clear() {
        let mut a = Stats::new();
        let mut b = Stats::new();
        a.call_started();
        b.call_started();
        b.call_started();
        b.call_failed(Failure::Status(503));
        b.call_failed(Failure::Aborted);
        a.record(Latency::Register, Duration::from_micros(10));
        b.record(Latency::Register, Duration::from_micros(30));
        b.sent(MsgKind::Register);
        b.retransmitted(MsgKind::Register);
        a.merge(&b);
        assert_eq!(a.calls().started, 3);
        assert_eq!(a.calls().open(), 1);
        assert_eq!(a.summary(Latency::Register).count, 2);
        assert_eq!(a.summary(Latency::Register).max, 30);
        assert_eq!(a.failures_of(Failure::Status(503)), 1);
        assert_eq!(a.failures_of(Failure::Aborted), 1);
        assert_eq!(a.retransmit_count(MsgKind::Register), 1);
        a.clear();
        assert_eq!(a.calls(), Calls::default());
        assert_eq!(a.failures().count(), 0);
        assert_eq!(a.summary(Latency::Register), Summary::default());
        assert_eq!(a.retransmits(), 0);
    }

    #[test]
    fn names() {
        let keys: Vec<_> = Latency::ALL.iter().map(|l| l.key()).collect();
        assert_eq!(
            keys,
            [
                "invite_first_response",
                "invite_180",
                "invite_200",
                "bye_200",
                "register_200",
                "options_200",
                "message_200"
            ]
        );
        assert_eq!(Latency::InviteAnswer.label(), "INVITE → 200");
        assert_eq!(MsgKind::Response.name(), "response");
        for (i, l) in Latency::ALL.iter().enumerate() {
            assert_eq!(*l as usize, i);
        }
        for (i, m) in MsgKind::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i);
        }
    }
}
