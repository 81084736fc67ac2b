//! Parser and editor benchmarks on realistic messages (`benches/messages/`):
//! an INVITE with SDP (963 bytes), a REGISTER with Digest credentials and the
//! 200 OK to the INVITE.
//!
//! - `parse_only/invite`: `sip::parse` alone (framing and header index).
//! - `parse_typed/*`: parse plus what a proxy reads of every message: the
//!   top Via, CSeq, Call-ID, From tag, To tag, Max-Forwards and every Route.
//! - `edit/forward_invite`: the forwarding edit of an already parsed INVITE
//!   into a reused buffer (new Via with a branch, Max-Forwards, Record-Route,
//!   top Route removed, Content-Length fixed, apply).

use std::hint::black_box;
use std::net::Ipv4Addr;

use branchline::sip::{self, edit::Editor, HeaderName, Message};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const INVITE: &[u8] = include_bytes!("messages/invite.sip");
const REGISTER: &[u8] = include_bytes!("messages/register.sip");
const OK200: &[u8] = include_bytes!("messages/ok200.sip");

/// What the proxy reads of every message; returns something that depends
/// on all of it so nothing is optimised away.
#[inline(never)]
fn parse_typed(bytes: &[u8]) -> usize {
    // Borrowed in place, as the proxy does: moving the message out of the
    // `Result` would copy its inline header list.
    let parsed = sip::parse(bytes);
    let h = parsed.as_ref().expect("benchmark message parses").headers();
    let via = h.top_via().expect("Via");
    let cseq = h.cseq().expect("CSeq");
    let call_id = h.call_id().expect("Call-ID");
    let from_tag = h.from_tag().expect("From");
    let to_tag = h.to_tag().expect("To");
    let mf = h.max_forwards().expect("Max-Forwards");
    let mut routes = 0;
    for r in h.routes() {
        routes += usize::from(r.expect("Route").sip_uri().is_some_and(|u| u.lr()));
    }
    via.branch.map_or(0, <[u8]>::len)
        + cseq.seq as usize
        + call_id.len()
        + from_tag.map_or(0, <[u8]>::len)
        + to_tag.map_or(0, <[u8]>::len)
        + mf.map_or(0, |m| usize::from(m.0))
        + routes
}

/// The proxy's forwarding edit (RFC 3261 §16.6).
#[inline(never)]
fn forward(ed: &mut Editor, msg: &Message<'_>, out: &mut Vec<u8>) {
    ed.insert_via(msg, |w| {
        w.bytes(b"SIP/2.0/UDP ")
            .ipv4(Ipv4Addr::new(198, 51, 100, 1))
            .bytes(b":5060;branch=z9hG4bKbl.0.")
            .u64(0x0123_4567_89ab_cdef);
    });
    ed.set_max_forwards(msg, 69);
    ed.add_record_route(msg, b"sip:198.51.100.1:5060;lr");
    ed.remove_first_value(msg, HeaderName::Route);
    ed.fix_content_length(msg);
    ed.apply(msg.raw(), out).expect("edits apply");
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_only");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function("invite", |b| {
        b.iter(|| sip::parse(black_box(INVITE)).map(|m| m.headers().len()))
    });
    g.finish();

    let mut g = c.benchmark_group("parse_typed");
    for (name, msg) in [("invite", INVITE), ("register", REGISTER), ("ok200", OK200)] {
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse_typed(black_box(msg))));
    }
    g.finish();

    let mut g = c.benchmark_group("edit");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    let msg = sip::parse(INVITE).expect("INVITE parses");
    let mut ed = Editor::new();
    let mut out = Vec::with_capacity(2048);
    // Check once what is being timed.
    forward(&mut ed, &msg, &mut out);
    {
        let edited = sip::parse(&out).expect("edited INVITE parses");
        let h = edited.headers();
        assert_eq!(h.max_forwards(), Ok(Some(sip::values::MaxForwards(69))));
        assert_eq!(h.routes().count(), 1);
    }
    g.bench_function("forward_invite", |b| {
        b.iter(|| {
            forward(&mut ed, black_box(&msg), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(parse, benches);
criterion_main!(parse);
