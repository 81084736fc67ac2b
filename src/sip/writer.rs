//! [`Writer`]: appends bytes, decimal numbers and IP addresses to a
//! `Vec<u8>` without formatting machinery. The splice editor
//! ([`crate::sip::edit`]) writes its new bytes through it, and so do the
//! message builders and the proxy's one-pass writer. No I/O.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Appends bytes and decimal numbers to a `Vec<u8>` without formatting
/// machinery or allocation beyond the vector's own growth. Methods chain:
/// `w.bytes(b"SIP/2.0/UDP ").ipv4(ip).byte(b':').u16(port)`.
///
/// It also implements [`fmt::Write`] for the rare value that needs `{}`.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    /// A writer appending to `buf`.
    #[inline]
    pub fn new(buf: &'b mut Vec<u8>) -> Writer<'b> {
        Writer { buf }
    }

    /// Appends `b`.
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// Appends `s`.
    #[inline]
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    /// Appends `n` in decimal.
    #[inline]
    pub fn u16(&mut self, n: u16) -> &mut Self {
        self.u32(u32::from(n))
    }

    /// Appends `n` in decimal.
    #[inline]
    pub fn u32(&mut self, n: u32) -> &mut Self {
        // One digit (Max-Forwards' last, a small octet) is a single push,
        // two (Max-Forwards) a copy of known length.
        if n < 10 {
            return self.byte(b'0' + n as u8);
        }
        if n < 100 {
            let at = n as usize * 2;
            if let Some(&[a, b]) = PAIRS.get(at..at + 2) {
                self.buf.extend_from_slice(&[a, b]);
            }
            return self;
        }
        let mut tmp = [0u8; 10];
        let at = decimal_into(&mut tmp, u64::from(n));
        self.bytes(tmp.get(at..).unwrap_or_default())
    }

    /// Appends `n` in decimal.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let at = decimal_into(&mut tmp, n);
        self.bytes(tmp.get(at..).unwrap_or_default())
    }

    /// Appends an IPv4 address in dotted decimal, formatted on the stack
    /// from a table of the 256 octets and copied once.
    pub fn ipv4(&mut self, ip: Ipv4Addr) -> &mut Self {
        // Room for "255.255.255.255" plus the table entry's padding.
        let mut tmp = [0u8; 20];
        let n = octets_into(&mut tmp, 0, ip);
        // Without the last dot.
        self.bytes(tmp.get(..n - 1).unwrap_or_default())
    }

    /// Appends `received=IP;rport=PORT` (RFC 3581 §4) for `src`, the
    /// address as [`Writer::received_ip`] writes it; for IPv4 built on the
    /// stack and copied once.
    pub fn received_rport(&mut self, src: SocketAddr) -> &mut Self {
        let IpAddr::V4(ip) = via_received(src.ip()) else {
            return self
                .bytes(b"received=")
                .received_ip(src.ip())
                .bytes(b";rport=")
                .u16(src.port());
        };
        // "received=" 255.255.255.255 (and a table entry's padding)
        // ";rport=" 65535.
        let mut tmp = [0u8; 48];
        tmp[..9].copy_from_slice(b"received=");
        // Over the last octet's dot.
        let mut n = octets_into(&mut tmp, 9, ip) - 1;
        if let Some(slot) = tmp.get_mut(n..n + 7) {
            slot.copy_from_slice(b";rport=");
        }
        n += 7;
        let port = src.port();
        let len = match port {
            0..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            1000..=9999 => 4,
            _ => 5,
        };
        if let Some(slot) = tmp.get_mut(n..n + len) {
            decimal_into(slot, u64::from(port));
        }
        n += len;
        self.bytes(tmp.get(..n).unwrap_or_default())
    }

    /// Appends an address as a Via's `received` parameter holds it (RFC
    /// 3261 §20.42, `via-received = "received" EQUAL (IPv4address /
    /// IPv6address)`): IPv6 without brackets, and an IPv4-mapped IPv6
    /// address (a dual-stack socket's view of an IPv4 sender) as the IPv4
    /// address.
    pub fn received_ip(&mut self, ip: IpAddr) -> &mut Self {
        match via_received(ip) {
            IpAddr::V4(v4) => self.ipv4(v4),
            IpAddr::V6(v6) => {
                // Writing to a Vec cannot fail.
                let _ = fmt::Write::write_fmt(self, format_args!("{v6}"));
                self
            }
        }
    }

    /// Appends an address as a SIP host: dotted decimal, or an IPv6
    /// reference in brackets (`[2001:db8::1]`, RFC 3261 §25.1).
    pub fn ip(&mut self, ip: IpAddr) -> &mut Self {
        match ip {
            IpAddr::V4(v4) => self.ipv4(v4),
            IpAddr::V6(v6) => {
                // Writing to a Vec cannot fail.
                let _ = fmt::Write::write_fmt(self, format_args!("[{v6}]"));
                self
            }
        }
    }

    /// Appends `host:port` (IPv6 in brackets), as in a Via sent-by.
    pub fn socket_addr(&mut self, addr: SocketAddr) -> &mut Self {
        self.ip(addr.ip()).byte(b':').u16(addr.port())
    }

    /// Bytes in the underlying buffer (including those written before this
    /// writer was made).
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when the underlying buffer is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Every octet in decimal followed by a dot, left-aligned in 4 bytes, and
/// the length of that text.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let d = [
            b'0' + (i / 100) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
        ];
        t[i] = if i >= 100 {
            ([d[0], d[1], d[2], b'.'], 4)
        } else if i >= 10 {
            ([d[1], d[2], b'.', 0], 3)
        } else {
            ([d[2], b'.', 0, 0], 2)
        };
        i += 1;
    }
    t
};

/// "00" to "99": two digits per division.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal at the end of `buf` and returns where its first
/// digit is (`buf` must hold the longest value: 10 bytes for a `u32`).
/// Two digits per step, from a table.
#[inline(always)]
pub(crate) fn decimal_into(buf: &mut [u8], mut n: u64) -> usize {
    let mut i = buf.len();
    let mut put = |i: usize, n: u64| {
        let at = n as usize * 2;
        if let (Some(to), Some(from)) = (buf.get_mut(i..i + 2), PAIRS.get(at..at + 2)) {
            to.copy_from_slice(from);
        }
    };
    while n >= 100 && i >= 2 {
        i -= 2;
        put(i, n % 100);
        n /= 100;
    }
    if n >= 10 && i >= 2 {
        i -= 2;
        put(i, n);
    } else if let Some(last) = i.checked_sub(1) {
        i = last;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + n as u8;
        }
    }
    i
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes the four octets of `ip` at `at` in `tmp`, each followed by a dot
/// (from the 256-entry table, four bytes a copy: `tmp` needs three bytes of
/// room past the last dot), and returns where the text ends.
#[inline(always)]
fn octets_into(tmp: &mut [u8], at: usize, ip: Ipv4Addr) -> usize {
    let mut n = at;
    for o in ip.octets() {
        let (text, len) = OCTETS[usize::from(o)];
        if let Some(slot) = tmp.get_mut(n..n + 4) {
            slot.copy_from_slice(&text);
        }
        n += usize::from(len);
    }
    n
}

/// The address a Via's `received` carries for a sender at `ip`: an
/// IPv4-mapped IPv6 address as its IPv4 address.
fn via_received(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_numbers_and_addresses() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.u16(0)
            .byte(b' ')
            .u16(u16::MAX)
            .byte(b' ')
            .u32(u32::MAX)
            .byte(b' ');
        w.u64(u64::MAX).byte(b' ').u64(4_294_967_296).byte(b' ');
        w.ip("10.0.0.255".parse().unwrap()).byte(b' ');
        w.ip("::1".parse().unwrap());
        fmt::Write::write_fmt(&mut w, format_args!(" {}", 7)).unwrap();
        assert!(!w.is_empty());
        for n in [9, 10, 99, 100, 999, 1000, 12345] {
            w.byte(b' ').u32(n);
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "0 65535 4294967295 18446744073709551615 4294967296 10.0.0.255 [::1] 7 9 10 99 100 999 1000 12345"
        );
    }

    #[test]
    fn writer_decimals_match_display() {
        let mut buf = Vec::new();
        let powers = (0..20).map(|k| 10u64.pow(k));
        let edges = powers.flat_map(|p| [p - 1, p, p + 1, p / 10 * 9]);
        for n in (0..2_000).chain(edges).chain([u64::MAX]) {
            buf.clear();
            Writer::new(&mut buf).u64(n);
            assert_eq!(buf, n.to_string().as_bytes());
            if let Ok(n) = u32::try_from(n) {
                buf.clear();
                Writer::new(&mut buf).u32(n);
                assert_eq!(buf, n.to_string().as_bytes());
            }
        }
    }

    #[test]
    fn writer_received_rport_matches_display() {
        let mut buf = Vec::new();
        let ips: [IpAddr; 6] = [
            Ipv4Addr::new(0, 0, 0, 0).into(),
            Ipv4Addr::new(255, 255, 255, 255).into(),
            Ipv4Addr::new(198, 51, 100, 7).into(),
            Ipv4Addr::new(10, 1, 20, 255).into(),
            "2001:db8::7".parse().unwrap(),
            "::ffff:198.51.100.7".parse().unwrap(),
        ];
        let ports = [0, 1, 9, 10, 99, 100, 999, 1000, 5062, 9999, 10000, 65535];
        for ip in ips {
            for port in ports {
                buf.clear();
                Writer::new(&mut buf).received_rport(SocketAddr::new(ip, port));
                // RFC 3261's via-received: no brackets; a mapped address
                // as its IPv4 address.
                let host = match ip {
                    IpAddr::V6(v6) => v6
                        .to_ipv4_mapped()
                        .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
                    IpAddr::V4(v4) => v4.to_string(),
                };
                assert_eq!(buf, format!("received={host};rport={port}").as_bytes());
            }
        }
    }

    #[test]
    fn writer_ipv4_matches_display() {
        let mut buf = Vec::new();
        for a in 0..=255u8 {
            for ip in [
                Ipv4Addr::new(a, a, a, a),
                Ipv4Addr::new(a, 0, 255, a.wrapping_mul(7)),
                Ipv4Addr::new(9, a, 10, 100),
            ] {
                buf.clear();
                Writer::new(&mut buf).ipv4(ip);
                assert_eq!(buf, ip.to_string().as_bytes());
            }
        }
    }
}
