//! IP address scanners for hosts in URIs and Via headers: a one-pass
//! dotted-quad IPv4 reader and IPv6 text without allocation. No I/O.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Dotted-quad IPv4 at the start of `s` (1 to 3 digits per part, leading
/// zeros read as decimal): the address and the index after it.
///
/// Reads a copy of the first sixteen bytes (zeros past the end of `s`,
/// which are neither digits nor dots): an address spans at most fifteen, so
/// every read is inside the copy and needs no bounds check.
#[inline]
pub(super) fn scan_ipv4(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut w = [0u8; 16];
    match s.get(..16) {
        Some(head) => w.copy_from_slice(head),
        None => w.iter_mut().zip(s).for_each(|(d, b)| *d = *b),
    }
    // `j` is at most 14 below; the mask only spares the check.
    let digit = |j: usize| w[j & 15].wrapping_sub(b'0');
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if w[i & 15] != b'.' {
                return None;
            }
            i += 1;
        }
        let (d0, d1, d2) = (digit(i), digit(i + 1), digit(i + 2));
        if d0 > 9 {
            return None;
        }
        if d1 > 9 {
            *o = d0;
            i += 1;
        } else if d2 > 9 {
            *o = d0 * 10 + d1;
            i += 2;
        } else {
            *o = u8::try_from(u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2)).ok()?;
            i += 3;
        }
    }
    Some((Ipv4Addr::from(octets), i))
}

/// IPv6 text (no brackets), without allocating.
pub(super) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`scan_ipv4`] finds what a byte-at-a-time reading finds, for every
    /// string of up to seven bytes over digits, dots and two others, and
    /// for addresses near the sixteen-byte edge of its window.
    #[test]
    fn scan_ipv4_agrees_with_a_byte_at_a_time_reading() {
        fn reference(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
            let mut octets = [0u8; 4];
            let mut i = 0;
            for (k, o) in octets.iter_mut().enumerate() {
                if k > 0 {
                    if s.get(i) != Some(&b'.') {
                        return None;
                    }
                    i += 1;
                }
                let start = i;
                let mut n = 0u16;
                while i - start < 3 {
                    match s.get(i) {
                        Some(b) if b.is_ascii_digit() => n = n * 10 + u16::from(b - b'0'),
                        _ => break,
                    }
                    i += 1;
                }
                if i == start {
                    return None;
                }
                *o = u8::try_from(n).ok()?;
            }
            Some((Ipv4Addr::from(octets), i))
        }
        let alphabet = b"019.:5";
        let mut s = Vec::new();
        for len in 0..=7u32 {
            for mut code in 0..alphabet.len().pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                assert_eq!(
                    scan_ipv4(&s),
                    reference(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        for text in [
            "255.255.255.255",
            "255.255.255.2555",
            "255.255.255.256",
            "1.2.3.4",
            "001.002.003.004",
            "192.168.100.200:5060;lr",
            "1.2.3",
            "1.2.3.",
            ".1.2.3.4",
            "1..2.3",
            "300.1.1.1",
            "255.255.255.255.255.255",
        ] {
            for cut in 0..=text.len() {
                let s = &text.as_bytes()[..cut];
                assert_eq!(scan_ipv4(s), reference(s), "{:?}", &text[..cut]);
            }
        }
    }
}
