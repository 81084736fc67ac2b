//! Reading and lightly rewriting SIP messages in the simulation: an owned
//! summary of what the endpoints check (read through `sip::parse` and its
//! accessors), and the byte edits of the test's tiny forwarder.

use branchline::sip::{self, name_addr::NameAddr, uri::Uri, via::Via, HeaderName, Message};
use std::net::SocketAddr;

/// What the endpoints look at in a message, owned.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// True for a request.
    pub is_request: bool,
    /// Request method (requests).
    pub method: Vec<u8>,
    /// Request-URI (requests).
    pub uri: Vec<u8>,
    /// Status code (responses).
    pub code: u16,
    /// CSeq number.
    pub cseq: u32,
    /// CSeq method.
    pub cseq_method: Vec<u8>,
    /// Call-ID.
    pub call_id: Vec<u8>,
    /// Every Via value, top first.
    pub vias: Vec<Vec<u8>>,
    /// The top Via's branch.
    pub branch: Vec<u8>,
    /// The From tag.
    pub from_tag: Option<Vec<u8>>,
    /// The To tag.
    pub to_tag: Option<Vec<u8>>,
    /// Every Route value, in order.
    pub routes: Vec<Vec<u8>>,
    /// Every Record-Route header line's value, in order (lines, not values).
    pub rr_lines: Vec<Vec<u8>>,
    /// Every Record-Route value, in order.
    pub rr_values: Vec<Vec<u8>>,
    /// The first Contact's URI.
    pub contact: Option<Vec<u8>>,
    /// Max-Forwards.
    pub max_forwards: Option<u8>,
    /// The body.
    pub body: Vec<u8>,
}

/// Parses `bytes` and keeps what the simulation checks.
pub fn summarize(bytes: &[u8]) -> Result<Summary, String> {
    let m = sip::parse(bytes).map_err(|e| format!("does not parse ({e}): {}", show(bytes)))?;
    let h = m.headers();
    let mut s = Summary::default();
    match &m {
        Message::Request(r) => {
            s.is_request = true;
            s.method = r.method.as_bytes().to_vec();
            s.uri = r.uri_raw.to_vec();
        }
        Message::Response(r) => s.code = r.code,
    }
    let bad = |what: &str| format!("{what} in {}", show(bytes));
    let cseq = h.cseq().map_err(|_| bad("bad CSeq"))?;
    s.cseq = cseq.seq;
    s.cseq_method = cseq.method.as_bytes().to_vec();
    s.call_id = h.call_id().map_err(|_| bad("bad Call-ID"))?.to_vec();
    s.vias = h.values(HeaderName::Via).map(<[u8]>::to_vec).collect();
    let top = h.top_via().map_err(|_| bad("bad top Via"))?;
    s.branch = top.branch.unwrap_or_default().to_vec();
    s.from_tag = h
        .from()
        .map_err(|_| bad("bad From"))?
        .tag
        .map(<[u8]>::to_vec);
    s.to_tag = h.to().map_err(|_| bad("bad To"))?.tag.map(<[u8]>::to_vec);
    s.routes = h.values(HeaderName::Route).map(<[u8]>::to_vec).collect();
    s.rr_lines = h
        .all(HeaderName::RecordRoute)
        .map(|l| l.value.to_vec())
        .collect();
    s.rr_values = h
        .values(HeaderName::RecordRoute)
        .map(<[u8]>::to_vec)
        .collect();
    s.contact = match h.contacts().next() {
        Some(Ok(sip::name_addr::Contact::Addr(a))) => Some(a.uri_raw.to_vec()),
        Some(_) => return Err(bad("bad Contact")),
        None => None,
    };
    s.max_forwards = h
        .max_forwards()
        .map_err(|_| bad("bad Max-Forwards"))?
        .map(|m| m.0);
    s.body = m.body().to_vec();
    Ok(s)
}

impl Summary {
    /// The top Via, parsed.
    pub fn top_via(&self) -> Via<'_> {
        Via::parse(&self.vias[0]).expect("top Via parsed once already")
    }

    /// `INVITE`, `200 INVITE`, ... for traces and messages.
    pub fn label(&self) -> String {
        if self.is_request {
            String::from_utf8_lossy(&self.method).into_owned()
        } else {
            format!(
                "{} {}",
                self.code,
                String::from_utf8_lossy(&self.cseq_method)
            )
        }
    }
}

/// Where a Via's sent-by points (IP host only), with the port defaulted.
pub fn via_addr(v: &Via<'_>) -> Option<SocketAddr> {
    Some(SocketAddr::new(v.host.ip()?, v.sent_by_port()))
}

/// The address of a `<sip:ip[:port];...>` name-addr or a bare SIP URI.
pub fn uri_addr(value: &[u8]) -> Option<SocketAddr> {
    let uri = match NameAddr::parse(value, "Route") {
        Ok(na) => na.uri,
        Err(_) => Uri::parse(value).ok()?,
    };
    let s = uri.as_sip()?;
    Some(SocketAddr::new(s.host.ip()?, s.port.unwrap_or(5060)))
}

/// True for a branch the proxy makes: `z9hG4bK` + 16 hex + `.` + 8 hex.
pub fn is_proxy_branch(b: &[u8]) -> bool {
    b.len() == 32
        && b.starts_with(b"z9hG4bK")
        && b[23] == b'.'
        && b[7..23]
            .iter()
            .chain(&b[24..])
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Inserts a `Via:` line right after the start line.
pub fn insert_via_line(msg: &[u8], via: &[u8]) -> Vec<u8> {
    let eol = line_end(msg);
    let mut out = Vec::with_capacity(msg.len() + via.len() + 8);
    out.extend_from_slice(&msg[..eol]);
    out.extend_from_slice(b"Via: ");
    out.extend_from_slice(via);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&msg[eol..]);
    out
}

/// Replaces the Request-URI of a request.
pub fn replace_request_uri(msg: &[u8], uri: &[u8]) -> Vec<u8> {
    let sp1 = msg.iter().position(|&b| b == b' ').expect("request line");
    let sp2 = sp1
        + 1
        + msg[sp1 + 1..]
            .iter()
            .position(|&b| b == b' ')
            .expect("SIP/2.0");
    [&msg[..=sp1], uri, &msg[sp2..]].concat()
}

/// Removes the first Via header line, which must hold exactly `via`.
pub fn remove_first_via_line(msg: &[u8], via: &[u8]) -> Result<Vec<u8>, String> {
    let m = sip::parse(msg).map_err(|e| format!("{e}"))?;
    let line = m
        .headers()
        .first(HeaderName::Via)
        .ok_or("no Via to remove")?;
    if line.value != via {
        return Err(format!(
            "first Via line is {:?}, expected {:?}",
            show(line.value),
            show(via)
        ));
    }
    Ok([&msg[..line.start as usize], &msg[line.end as usize..]].concat())
}

/// Replaces `Content-Length: 0` CR LF CR LF at the end of a built response
/// with a body.
pub fn with_body(mut msg: Vec<u8>, content_type: &[u8], body: &[u8]) -> Vec<u8> {
    let tail = b"Content-Length: 0\r\n\r\n";
    assert!(msg.ends_with(tail), "built message ends with its length");
    msg.truncate(msg.len() - tail.len());
    msg.extend_from_slice(b"Content-Type: ");
    msg.extend_from_slice(content_type);
    msg.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    msg.extend_from_slice(body);
    msg
}

fn line_end(msg: &[u8]) -> usize {
    msg.windows(2)
        .position(|w| w == b"\r\n")
        .map_or(msg.len(), |i| i + 2)
}

/// Bytes as text for messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The first line of a message, for traces.
pub fn first_line(b: &[u8]) -> String {
    let end = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
    show(&b[..end.min(100)])
}
