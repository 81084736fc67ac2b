//! An in-memory UAC ↔ proxy ↔ UAS world driven through `Proxy::handle` with
//! a virtual clock: seeded call plans, a lossy network that delays,
//! duplicates and reorders datagrams, sans-IO endpoints that follow the
//! RFC 3261 transaction timers, and a checker around the proxy.

/// `Err(format!(...))` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

pub mod flow;
pub mod msg;
pub mod net;
pub mod rng;
pub mod uac;
pub mod uas;

use std::net::SocketAddr;

use rng::Rng;

/// RFC 3261 §17.1.1.1 T1 (ms).
pub const T1: u64 = 500;
/// RFC 3261 §17.1.2.2 T2 (ms).
pub const T2: u64 = 4000;
/// Timers B, F, H: 64·T1 (ms).
pub const T64: u64 = 64 * T1;

/// The proxy's one UDP listener.
pub fn proxy_addr() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

/// The two upstream UASes of the table.
pub fn uas_addrs() -> [SocketAddr; 2] {
    [
        "192.0.2.50:5060".parse().unwrap(),
        "192.0.2.51:5060".parse().unwrap(),
    ]
}

/// The caller's address when not behind NAT.
pub fn uac_addr() -> SocketAddr {
    "198.51.100.7:5062".parse().unwrap()
}

/// What a call flow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// INVITE/100/180/200/ACK, then BYE/200 (from either side).
    Call,
    /// The UAS answers 486; the UAC ACKs it hop by hop.
    Busy,
    /// The UAC cancels after 180: 200 for the CANCEL, 487 + ACK (or, when
    /// the 200 wins the race, a normal call).
    Cancel,
    /// Max-Forwards: 0 → our own 483, its ACK absorbed.
    TooManyHops,
    /// An `http:` Request-URI → our own 416, its ACK absorbed.
    BadScheme,
    /// The UAS sends the INVITE back through the proxy with a new
    /// Request-URI (a spiral), then answers the spiralled INVITE.
    Spiral,
    /// The UAS sends the INVITE back unchanged: our 482, relayed back to the
    /// UAC, whose ACK comes back to us and is absorbed.
    Bounce,
}

/// A deliberate fault the checker must catch (to prove it can fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The proxy node sends the BYE to the other UAS.
    MisrouteBye,
    /// The proxy node rewrites the branch of the forwarded CANCEL.
    CancelBranch,
    /// The proxy node forwards a response one byte different each time.
    ResponseNoise,
}

/// Everything random about one flow, drawn from its seed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed the plan and the network are drawn from.
    pub seed: u64,
    /// What the call does.
    pub scenario: Scenario,
    /// The callee hangs up (else the caller).
    pub callee_bye: bool,
    /// The caller is behind a NAT (private Via, rport).
    pub nat: bool,
    /// The caller's Via asks for rport.
    pub rport: bool,
    /// Loss per datagram, ‰.
    pub loss: u64,
    /// Duplication per datagram, ‰.
    pub dup: u64,
    /// Largest one-way delay, ms (delays are uniform in 1..=max).
    pub max_delay: u64,
    /// UAS: INVITE → 180.
    pub ring_ms: u64,
    /// UAS: 180 → final.
    pub answer_ms: u64,
    /// UAC: 180 → CANCEL.
    pub cancel_ms: u64,
    /// Either side: ACK → BYE.
    pub hold_ms: u64,
    /// A checker self-test fault.
    pub fault: Option<Fault>,
}

impl Plan {
    /// The plan of `seed`.
    pub fn from_seed(seed: u64) -> Plan {
        let mut r = Rng::new(seed ^ 0x5eed_0f91_a0a0);
        let scenario = match r.range(0, 99) {
            0..=34 => Scenario::Call,
            35..=44 => Scenario::Busy,
            45..=64 => Scenario::Cancel,
            65..=71 => Scenario::TooManyHops,
            72..=78 => Scenario::BadScheme,
            79..=91 => Scenario::Spiral,
            _ => Scenario::Bounce,
        };
        let nat = r.chance(200);
        let loss = if r.chance(500) { 0 } else { r.range(10, 300) };
        let dup = if r.chance(300) { 0 } else { r.range(10, 250) };
        Plan {
            seed,
            scenario,
            callee_bye: !nat && r.chance(300),
            nat,
            rport: nat || r.chance(500),
            loss,
            dup,
            max_delay: r.range(1, 400),
            ring_ms: r.range(0, 1500),
            answer_ms: if scenario == Scenario::Cancel && r.chance(800) {
                r.range(4000, 9000)
            } else {
                r.range(0, 3000)
            },
            cancel_ms: r.range(0, 1500),
            hold_ms: r.range(0, 3000),
            fault: None,
        }
    }

    /// The Call-ID of the flow.
    pub fn call_id(&self) -> String {
        format!("sim-{:x}@pc.example.com", self.seed)
    }
}

/// A non-INVITE client transaction over UDP (RFC 3261 §17.1.2): the request
/// is retransmitted by Timer E until a final response or Timer F.
#[derive(Debug, Clone)]
pub struct NonInviteTx {
    /// The request bytes.
    pub bytes: Vec<u8>,
    /// Where it is sent.
    pub dest: SocketAddr,
    /// Next retransmission, while no final response has arrived.
    pub next: Option<u64>,
    /// Current Timer E interval.
    pub interval: u64,
    /// Timer F.
    pub deadline: u64,
    /// The final status, once received.
    pub final_code: Option<u16>,
}

impl NonInviteTx {
    /// Starts the transaction at `now` (the first send is the caller's).
    pub fn new(bytes: Vec<u8>, dest: SocketAddr, now: u64) -> NonInviteTx {
        NonInviteTx {
            bytes,
            dest,
            next: Some(now + T1),
            interval: T1,
            deadline: now + T64,
            final_code: None,
        }
    }

    /// The next time this transaction wants to run.
    pub fn due(&self) -> Option<u64> {
        self.next
    }

    /// Runs the timers: returns true when the request is to be sent again.
    pub fn on_timer(&mut self, now: u64) -> bool {
        match self.next {
            Some(t) if t <= now => {
                if now >= self.deadline {
                    self.next = None;
                    return false;
                }
                self.interval = (self.interval * 2).min(T2);
                self.next = Some((now + self.interval).min(self.deadline));
                now < self.deadline
            }
            _ => false,
        }
    }

    /// Records a final response; returns false when it is a second,
    /// different one.
    pub fn on_final(&mut self, code: u16) -> bool {
        self.next = None;
        match self.final_code {
            None => {
                self.final_code = Some(code);
                true
            }
            Some(c) => c == code,
        }
    }
}

/// Sends requested by an endpoint: `(destination, bytes)`.
pub type Outbox = Vec<(SocketAddr, Vec<u8>)>;

/// The earlier of two optional times.
pub fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The caller's SDP offer (~300 bytes), which must arrive intact.
pub const SDP_OFFER: &[u8] = b"v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n\
s=-\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// The callee's SDP answer.
pub const SDP_ANSWER: &[u8] = b"v=0\r\n\
o=bob 2808844564 2808844564 IN IP4 192.0.2.50\r\n\
s=-\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
m=audio 3456 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

/// The Request-URI the caller dials.
pub const RURI_BOB: &[u8] = b"sip:bob@example.com";
/// The Request-URI a spiral retargets to.
pub const RURI_CAROL: &[u8] = b"sip:carol@example.com";
/// An unsupported scheme (→ 416).
pub const RURI_HTTP: &[u8] = b"http://example.com/bob";
/// The Record-Route value the proxy adds.
pub const PROXY_RR: &[u8] = b"<sip:192.0.2.10:5060;transport=udp;lr>";
