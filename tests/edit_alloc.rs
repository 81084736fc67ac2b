//! Proves the forwarding path allocates nothing per message once warm: a
//! counting global allocator, one editor and one output buffer warmed on one
//! message, then 1,000 different messages edited (and, separately, parsed
//! and edited) with the counter unchanged.
//!
//! Everything runs in one `#[test]` so no other test thread allocates while
//! the counter is being read.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use branchline::sip::build::{Party, RequestSpec, ViaSpec};
use branchline::sip::edit::Editor;
use branchline::sip::{parse, HeaderName, Message, Method, Transport};

/// Counts allocations and reallocations; frees are not counted.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are passed through; the only extra
// work is a relaxed atomic increment, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's: `layout` has non-zero size.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by this allocator (hence by `System`)
        // with `layout`, and `new_size` is valid, as our caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// An INVITE of 800–1000 bytes whose Call-ID, tags, branch, Route line and
/// SDP vary in length with `i`.
fn invite(i: usize, out: &mut Vec<u8>) {
    let n = i.to_string();
    let call_id = format!("{}-{}@192.0.2.10", "c".repeat(8 + i % 23), n);
    let branch = format!("z9hG4bK{}{}", "b".repeat(i % 11), n);
    let tag = format!("{}{}", "t".repeat(1 + i % 7), n);
    let route = format!(
        "<sip:proxy.example.com;lr>, <sip:edge{}.example.net;lr>",
        "e".repeat(i % 17)
    );
    let sdp = format!(
        "v=0\r\no=- {n} {n} IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n{}",
        10_000 + i,
        "a=x-pad\r\n".repeat(i % 13)
    );
    let extra: Vec<(&[u8], &[u8])> = vec![
        (b"Route", route.as_bytes()),
        (
            b"Allow",
            b"INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, PRACK",
        ),
        (b"Supported", b"replaces, timer, 100rel"),
        (b"User-Agent", b"branchline-alloc-test/1.0"),
    ];
    let mut spec = RequestSpec::new(
        Method::Invite,
        b"sip:+15551234567@carrier.example.net;user=phone",
        ViaSpec {
            transport: Transport::Udp,
            host: b"192.0.2.10",
            port: Some(5060),
            branch: branch.as_bytes(),
            rport: true,
        },
        Party {
            display: Some(b"Alice Example"),
            uri: b"sip:alice@atlanta.example.com",
            tag: Some(tag.as_bytes()),
        },
        Party {
            uri: b"sip:+15551234567@carrier.example.net;user=phone",
            ..Party::default()
        },
        call_id.as_bytes(),
        1 + i as u32,
    );
    spec.contact = Some(b"sip:alice@192.0.2.10:5060");
    spec.extra = &extra;
    spec.content_type = Some(b"application/sdp");
    spec.body = sdp.as_bytes();
    spec.write(out);
}

/// The proxy's forwarding edits of one request.
fn forward(ed: &mut Editor, msg: &Message<'_>, seq: u64, out: &mut Vec<u8>) {
    ed.insert_via(msg, |w| {
        w.bytes(b"SIP/2.0/UDP ")
            .ipv4(Ipv4Addr::new(198, 51, 100, 1))
            .bytes(b":5060;branch=z9hG4bKbl.")
            .u64(seq);
    });
    ed.set_max_forwards(msg, 69);
    ed.add_record_route(msg, b"sip:198.51.100.1:5060;lr");
    ed.remove_first_value(msg, HeaderName::Route);
    ed.fix_content_length(msg);
    ed.apply(msg.raw(), out).expect("edits apply");
}

#[test]
fn forwarding_edits_allocate_nothing_once_warm() {
    // Messages are built and parsed before anything is measured.
    let datagrams: Vec<Vec<u8>> = (0..1001)
        .map(|i| {
            let mut d = Vec::new();
            invite(i, &mut d);
            d
        })
        .collect();
    let (min, max) = datagrams.iter().fold((usize::MAX, 0), |(lo, hi), d| {
        (lo.min(d.len()), hi.max(d.len()))
    });
    assert!(min >= 750 && max <= 1100, "sizes {min}..={max}");
    let parsed: Vec<Message<'_>> = datagrams.iter().map(|d| parse(d).unwrap()).collect();

    let mut ed = Editor::new();
    let mut out = Vec::new();

    // Sanity: the counter sees allocations made inside a measured window,
    // including those of the editing path itself when its buffer is cold.
    let before = allocations();
    black_box(Vec::<u8>::with_capacity(black_box(64)));
    assert!(allocations() > before, "counter does not count");
    let before = allocations();
    forward(&mut ed, &parsed[0], 0, &mut out);
    assert!(
        allocations() > before,
        "a cold output buffer must grow: the counter would see it"
    );
    let warm_len = out.len();

    // Warm on one message (done just above), then 1,000 more: 0 allocations.
    let before = allocations();
    let mut total = 0;
    for (seq, msg) in parsed[1..].iter().enumerate() {
        forward(&mut ed, msg, seq as u64, &mut out);
        total += out.len();
    }
    let during = allocations() - before;
    assert_eq!(
        during, 0,
        "editing 1,000 warm messages allocated {during} times"
    );
    assert!(total > 1000 * warm_len / 2);

    // The whole fast path, parse included, allocates nothing either.
    let before = allocations();
    for (seq, d) in datagrams[1..].iter().enumerate() {
        let msg = parse(d).unwrap();
        forward(&mut ed, &msg, seq as u64, &mut out);
        black_box(&out);
    }
    let during = allocations() - before;
    assert_eq!(
        during, 0,
        "parse + edit of 1,000 messages allocated {during} times"
    );

    // And the edits really happened.
    let last = parse(&out).unwrap();
    assert!(last
        .headers()
        .values(HeaderName::Via)
        .next()
        .unwrap()
        .starts_with(b"SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbl."));
}
