//! Lazy typed accessors on [`Headers`] and [`Request`]: each parses only
//! the header it is asked for, on demand. No I/O.
//!
//! Single-valued headers (Call-ID, CSeq, From, To, Max-Forwards,
//! Content-Length, Expires) that appear on more than one line are
//! [`Error::Duplicate`] (RFC 4475 §3.3.8, multi01.dat).

use super::{
    charset,
    credentials::Credentials,
    message::value_end,
    name_addr::{Contact, NameAddr},
    uri::Uri,
    values::span,
    values::{self, CSeq, Expires, MaxForwards, OptionTags},
    via::Via,
    Error, Header, HeaderName, Headers, Request,
};

impl<'a> Headers<'a> {
    /// Every Via value in order, across lines and comma-separated values.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, Error>> + '_ {
        ListIter::new(self.all(HeaderName::Via), Via::parse_first)
    }

    /// The Via values after the top one, given the top one's text as
    /// [`Headers::top_via_with_raw`] returned it: the same items as
    /// `vias().skip(1)` without parsing the top value again. Falls back to
    /// exactly that when `top_raw` is not inside a Via line.
    pub fn vias_after(
        &self,
        top_raw: &'a [u8],
    ) -> impl Iterator<Item = Result<Via<'a>, Error>> + '_ {
        let mut lines = self.all(HeaderName::Via);
        let mut after_top = None;
        for line in lines.by_ref() {
            if let Some(at) = super::offset_in(line.value, top_raw) {
                after_top = line.value.get(at + top_raw.len()..);
                break;
            }
            if !only_commas(line.value) {
                break;
            }
        }
        match after_top {
            Some(rest) => ListIter {
                lines,
                rest,
                parse: Via::parse_first,
            },
            // Not where `top_raw` says: the slow way.
            None => {
                let mut all = ListIter::new(self.all(HeaderName::Via), Via::parse_first);
                all.next();
                all
            }
        }
    }

    /// The topmost Via value; `Missing("Via")` when there is none.
    pub fn top_via(&self) -> Result<Via<'a>, Error> {
        match self.top_via_text() {
            Some(rest) => Via::parse_first(rest).map(|(via, _)| via),
            None => Err(Error::Missing("Via")),
        }
    }

    /// The text from the topmost Via value on (to the end of its line).
    #[inline(always)]
    fn top_via_text(&self) -> Option<&'a [u8]> {
        for line in self.all(HeaderName::Via) {
            let v = line.value;
            let rest = v.get(list_gap(v)..).unwrap_or_default();
            if !rest.is_empty() {
                return Some(rest);
            }
        }
        None
    }

    /// The topmost Via value, parsed, with its text as received (LWS
    /// trimmed, up to the comma that ends it): one pass over the line, no
    /// split. `Missing("Via")` when there is none.
    pub fn top_via_with_raw(&self) -> Result<(Via<'a>, &'a [u8]), Error> {
        let rest = self.top_via_text().ok_or(Error::Missing("Via"))?;
        let (via, end) = Via::parse_first(rest)?;
        Ok((via, charset::trim(rest.get(..end).unwrap_or_default())))
    }

    /// The Call-ID, validated (`word ["@" word]`).
    pub fn call_id(&self) -> Result<&'a [u8], Error> {
        let v = self.single(HeaderName::CallId, "Call-ID")?;
        values::call_id(v.ok_or(Error::Missing("Call-ID"))?)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq<'a>, Error> {
        let v = self.single(HeaderName::CSeq, "CSeq")?;
        CSeq::parse(v.ok_or(Error::Missing("CSeq"))?)
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr<'a>, Error> {
        let v = self.single(HeaderName::From, "From")?;
        NameAddr::parse(v.ok_or(Error::Missing("From"))?, "From")
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr<'a>, Error> {
        let v = self.single(HeaderName::To, "To")?;
        NameAddr::parse(v.ok_or(Error::Missing("To"))?, "To")
    }

    /// The From tag alone (see [`NameAddr::parse_tag`]): `Ok(None)` when
    /// the From has no tag, `Missing("From")` without a From header.
    pub fn from_tag(&self) -> Result<Option<&'a [u8]>, Error> {
        let v = self.single(HeaderName::From, "From")?;
        NameAddr::parse_tag(v.ok_or(Error::Missing("From"))?, "From")
    }

    /// The To tag alone (see [`NameAddr::parse_tag`]): `Ok(None)` for an
    /// initial request, `Missing("To")` without a To header.
    pub fn to_tag(&self) -> Result<Option<&'a [u8]>, Error> {
        let v = self.single(HeaderName::To, "To")?;
        NameAddr::parse_tag(v.ok_or(Error::Missing("To"))?, "To")
    }

    /// Max-Forwards, `None` when absent.
    #[inline]
    pub fn max_forwards(&self) -> Result<Option<MaxForwards>, Error> {
        self.single(HeaderName::MaxForwards, "Max-Forwards")?
            .map(MaxForwards::parse)
            .transpose()
    }

    /// Route values in order (name-addr form only).
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, Error>> + '_ {
        ListIter::new(self.all(HeaderName::Route), |v| {
            NameAddr::parse_first_name_addr(v, "Route")
        })
    }

    /// The values [`Headers::routes`] gives, by the same walk, each lent
    /// to `f` where it was parsed (an address is large; handing it out of
    /// the iterator moves it several times) with its text as received,
    /// trimmed as [`split_values`](super::split_values) gives it. Stops at
    /// the first value that does not parse and returns its error.
    pub fn each_route(&self, mut f: impl FnMut(&NameAddr<'a>, &'a [u8])) -> Result<(), Error> {
        let lend = |v: &'a [u8]| {
            let parsed = NameAddr::parse_first_name_addr(v, "Route");
            let (addr, end) = parsed.as_ref().map_err(|e| *e)?;
            f(addr, charset::trim(v.get(..*end).unwrap_or_default()));
            Ok(((), *end))
        };
        for lent in ListIter::new(self.all(HeaderName::Route), lend) {
            lent?;
        }
        Ok(())
    }

    /// Record-Route values in order (name-addr form only).
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, Error>> + '_ {
        ListIter::new(self.all(HeaderName::RecordRoute), |v| {
            NameAddr::parse_first_name_addr(v, "Record-Route")
        })
    }

    /// Contact values in order.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, Error>> + '_ {
        self.values(HeaderName::Contact).map(Contact::parse)
    }

    /// Content-Length, `None` when absent.
    pub fn content_length(&self) -> Result<Option<u32>, Error> {
        self.single(HeaderName::ContentLength, "Content-Length")?
            .map(values::parse_content_length)
            .transpose()
    }

    /// The option tags of every Require line.
    pub fn require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.values(HeaderName::Require).flat_map(OptionTags::new)
    }

    /// The option tags of every Proxy-Require line.
    pub fn proxy_require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.values(HeaderName::ProxyRequire)
            .flat_map(OptionTags::new)
    }

    /// The option tags of every Supported line.
    pub fn supported(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.values(HeaderName::Supported).flat_map(OptionTags::new)
    }

    /// The first Authorization header, `None` when absent.
    pub fn authorization(&self) -> Option<Result<Credentials<'a>, Error>> {
        self.first(HeaderName::Authorization)
            .map(|h| Credentials::parse_as(h.value, "Authorization"))
    }

    /// The first Proxy-Authorization header, `None` when absent.
    pub fn proxy_authorization(&self) -> Option<Result<Credentials<'a>, Error>> {
        self.first(HeaderName::ProxyAuthorization)
            .map(|h| Credentials::parse_as(h.value, "Proxy-Authorization"))
    }

    /// Every Proxy-Authorization header in order (one per realm).
    pub fn proxy_authorizations(
        &self,
    ) -> impl Iterator<Item = Result<Credentials<'a>, Error>> + '_ {
        self.all(HeaderName::ProxyAuthorization)
            .map(|h| Credentials::parse_as(h.value, "Proxy-Authorization"))
    }

    /// Expires, `None` when absent (overlarge values clamp, see
    /// [`Expires::parse`]).
    pub fn expires(&self) -> Result<Option<Expires>, Error> {
        self.single(HeaderName::Expires, "Expires")?
            .map(Expires::parse)
            .transpose()
    }

    /// The User-Agent value as written.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.first(HeaderName::UserAgent).map(|h| h.value)
    }

    /// The value of a header that may appear once: `Ok(None)` when absent,
    /// `Duplicate(label)` when on two lines.
    #[inline(always)]
    fn single(
        &self,
        name: HeaderName<'static>,
        label: &'static str,
    ) -> Result<Option<&'a [u8]>, Error> {
        self.only_value(name).map_err(|()| Error::Duplicate(label))
    }
}

/// True when a line holds no value (only commas and LWS).
fn only_commas(v: &[u8]) -> bool {
    list_gap(v) == v.len()
}

/// Where the value at the start of `v` begins, after any commas and LWS
/// (usually none: one compare).
#[inline(always)]
pub(crate) fn list_gap(v: &[u8]) -> usize {
    let gap = |b: u8| b == b',' || charset::lws(b);
    match v.first() {
        Some(&b) if gap(b) => span(v, 1, gap),
        _ => 0,
    }
}

/// Walks the comma-separated values of every line of one header, parsing
/// each value in place with `parse`, which reports where its value ends: a
/// line is scanned once instead of being split first. After a value that
/// fails to parse, the walk resumes at the next comma outside quotes and
/// `<...>`, as [`split_values`](super::split_values) would split.
struct ListIter<'a, I, F> {
    lines: I,
    rest: &'a [u8],
    parse: F,
}

impl<'a, I, F> ListIter<'a, I, F> {
    fn new(lines: I, parse: F) -> Self {
        ListIter {
            lines,
            rest: &[],
            parse,
        }
    }
}

impl<'a, T, I, F> Iterator for ListIter<'a, I, F>
where
    I: Iterator<Item = Header<'a>>,
    F: FnMut(&'a [u8]) -> Result<(T, usize), Error>,
{
    type Item = Result<T, Error>;

    #[inline(always)]
    fn next(&mut self) -> Option<Result<T, Error>> {
        loop {
            let start = list_gap(self.rest);
            let rest = self.rest.get(start..).unwrap_or_default();
            if rest.is_empty() {
                self.rest = self.lines.next()?.value;
                continue;
            }
            return Some(match (self.parse)(rest) {
                Ok((item, end)) => {
                    self.rest = rest.get(end..).unwrap_or_default();
                    Ok(item)
                }
                Err(e) => {
                    self.rest = rest.get(value_end(rest)..).unwrap_or_default();
                    Err(e)
                }
            });
        }
    }
}

impl<'a> Request<'a> {
    /// The Request-URI, parsed; any fault is [`Error::RequestUri`].
    pub fn uri(&self) -> Result<Uri<'a>, Error> {
        Uri::parse(self.uri_raw).map_err(|_| Error::RequestUri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse, uri::Host, via::Rport, Message, Method, Transport};

    fn request(bytes: &[u8]) -> Request<'_> {
        match parse(bytes) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    // RFC 4475 wsinv.dat, header section.
    const WSINV: &[u8] = b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n\
TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n\
MaX-fOrWaRdS: 0068\r\n\
Call-ID: wsinv.ndaksdj@192.0.2.1\r\n\
Content-Length   : 0\r\n\
cseq: 0009\r\n  INVITE\r\n\
Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n\
s :\r\n\
NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\
UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n\
Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n\
v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n\
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n\
\r\n";

    #[test]
    fn wsinv_accessors() {
        let r = request(WSINV);
        let h = &r.headers;
        let uri = r.uri().unwrap();
        let sip = uri.as_sip().unwrap();
        assert_eq!(sip.user, Some(&b"vivekg"[..]));
        assert_eq!(sip.param(b"unknownparam"), Some(None));
        assert_eq!(h.to().unwrap().tag, Some(&b"1918181833n"[..]));
        let from = h.from().unwrap();
        assert_eq!(from.tag, Some(&b"98asjd8"[..]));
        assert_eq!(from.display, Some(&b"J Rosenberg \\\\\\\""[..]));
        assert_eq!(h.max_forwards(), Ok(Some(MaxForwards(68))));
        assert_eq!(h.call_id(), Ok(&b"wsinv.ndaksdj@192.0.2.1"[..]));
        assert_eq!(h.content_length(), Ok(Some(0)));
        assert_eq!(
            h.cseq(),
            Ok(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        let vias: Vec<Via<'_>> = h.vias().collect::<Result<_, _>>().unwrap();
        type SentBy<'a> = (&'a [u8], Transport, Option<&'a [u8]>);
        let sent_by: Vec<SentBy<'_>> = vias
            .iter()
            .map(|v| (v.host_raw, v.transport, v.branch))
            .collect();
        assert_eq!(
            sent_by,
            vec![
                (&b"192.0.2.2"[..], Transport::Udp, Some(&b"390skdjuw"[..])),
                (
                    b"spindle.example.com",
                    Transport::Tcp,
                    Some(b"z9hG4bK9ikj8")
                ),
                (b"192.168.255.111", Transport::Udp, Some(b"z9hG4bK30239")),
            ]
        );
        assert_eq!(h.top_via().unwrap(), vias[0]);
        let routes: Vec<NameAddr<'_>> = h.routes().collect::<Result<_, _>>().unwrap();
        assert_eq!(routes.len(), 1);
        let route = routes[0].sip_uri().unwrap();
        assert!(route.lr());
        assert_eq!(route.host, Host::Name(b"services.example.com"));
        assert_eq!(route.param(b"unknownwith"), Some(Some(&b"value"[..])));
        assert_eq!(h.record_routes().count(), 0);
        let contacts: Vec<Contact<'_>> = h.contacts().collect::<Result<_, _>>().unwrap();
        assert_eq!(contacts.len(), 1);
        assert_eq!(contacts[0].q(), Some(&b"0.33"[..]));
        assert_eq!(h.expires(), Ok(None));
        assert_eq!(h.user_agent(), None);
        assert!(h.authorization().is_none());
        assert_eq!(h.require().count(), 0);
    }

    #[test]
    fn multi01_duplicates() {
        let r = request(
            b"INVITE sip:user@company.com SIP/2.0\r\n\
Contact: <sip:caller@host25.example.net>\r\n\
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\r\n\
Max-Forwards: 70\r\n\
CSeq: 5 INVITE\r\n\
Call-ID: multi01.98asdh@192.0.2.1\r\n\
CSeq: 59 INVITE\r\n\
Call-ID: multi01.98asdh@192.0.2.2\r\n\
From: sip:caller@example.com;tag=3413415\r\n\
To: sip:user@example.com\r\n\
To: sip:other@example.net\r\n\
From: sip:caller@example.net;tag=2923420123\r\n\
Content-Type: application/sdp\r\n\
l: 0\r\n\
Contact: <sip:caller@host36.example.net>\r\n\
Max-Forwards: 5\r\n\
\r\n",
        );
        let h = &r.headers;
        assert_eq!(h.call_id(), Err(Error::Duplicate("Call-ID")));
        assert_eq!(h.cseq(), Err(Error::Duplicate("CSeq")));
        assert_eq!(h.from(), Err(Error::Duplicate("From")));
        assert_eq!(h.to(), Err(Error::Duplicate("To")));
        assert_eq!(h.max_forwards(), Err(Error::Duplicate("Max-Forwards")));
        assert_eq!(h.content_length(), Ok(Some(0)));
        assert_eq!(h.contacts().count(), 2);
        assert!(h.top_via().unwrap().has_magic_cookie());
    }

    #[test]
    fn insuf_missing() {
        let r = request(b"INVITE sip:user@example.com SIP/2.0\r\nl: 0\r\n\r\n");
        let h = &r.headers;
        assert_eq!(h.top_via(), Err(Error::Missing("Via")));
        assert_eq!(h.top_via_with_raw(), Err(Error::Missing("Via")));
        assert_eq!(h.call_id(), Err(Error::Missing("Call-ID")));
        assert_eq!(h.cseq(), Err(Error::Missing("CSeq")));
        assert_eq!(h.from(), Err(Error::Missing("From")));
        assert_eq!(h.to(), Err(Error::Missing("To")));
        assert_eq!(h.max_forwards(), Ok(None));
        assert_eq!(h.expires(), Ok(None));
        assert_eq!(h.vias().count(), 0);
        assert_eq!(h.routes().count(), 0);
    }

    #[test]
    fn scalar02_and_misc() {
        let r = request(
            b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3;rport\r\n\
To: <sip:user@example.com>\r\n\
From: <sip:user@example.com>;tag=239232jh3\r\n\
CSeq: 36893488147419103232 REGISTER\r\n\
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\r\n\
Max-Forwards: 300\r\n\
Expires: 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\r\n\
Contact: <sip:user@host129.example.com>\r\n  ;expires=280297596632815\r\n\
Require: 100rel, timer\r\nRequire: foo\r\nProxy-Require: sec-agree\r\nk: path\r\n\
Authorization: NoOneKnowsThisScheme opaque-data=here\r\n\
Proxy-Authorization: Digest realm=\"a\r\n\
User-Agent: branchline/0.1 (test)\r\n\
Record-Route: <sip:p1.example.com;lr>, sip:p2.example.com;lr\r\n\
Content-Length: 0\r\n\r\n",
        );
        let h = &r.headers;
        assert_eq!(h.cseq(), Err(Error::Invalid("CSeq")));
        assert_eq!(h.max_forwards(), Err(Error::Invalid("Max-Forwards")));
        assert_eq!(h.expires(), Ok(Some(Expires(u32::MAX))));
        let c = h.contacts().next().unwrap().unwrap();
        assert_eq!(c.expires(), Some(u32::MAX));
        assert_eq!(h.top_via().unwrap().rport, Rport::Requested);
        assert_eq!(
            h.require().collect::<Vec<_>>(),
            vec![&b"100rel"[..], b"timer", b"foo"]
        );
        assert_eq!(
            h.proxy_require().collect::<Vec<_>>(),
            vec![&b"sec-agree"[..]]
        );
        assert_eq!(h.supported().collect::<Vec<_>>(), vec![&b"path"[..]]);
        let auth = h.authorization().unwrap().unwrap();
        assert_eq!(auth.scheme, b"NoOneKnowsThisScheme");
        assert_eq!(auth.param(b"opaque-data"), Some(&b"here"[..]));
        assert_eq!(
            h.proxy_authorization(),
            Some(Err(Error::Invalid("Proxy-Authorization")))
        );
        assert_eq!(h.proxy_authorizations().count(), 1);
        assert_eq!(h.user_agent(), Some(&b"branchline/0.1 (test)"[..]));
        let rr: Vec<Result<NameAddr<'_>, Error>> = h.record_routes().collect();
        assert_eq!(rr.len(), 2);
        assert!(rr[0].as_ref().unwrap().sip_uri().unwrap().lr());
        assert_eq!(rr[1], Err(Error::Invalid("Record-Route")));
    }

    #[test]
    fn request_uri_errors() {
        let r =
            request(b"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\nl: 0\r\n\r\n");
        assert_eq!(
            r.uri(),
            Ok(Uri::Absolute {
                scheme: b"nobodyKnowsThisScheme",
                rest: b"totallyopaquecontent"
            })
        );
        let r = request(b"OPTIONS sip:u@h:99999 SIP/2.0\r\nl: 0\r\n\r\n");
        assert_eq!(r.uri(), Err(Error::RequestUri));
    }

    /// Runs every value parser (and walks what it returns) on `v`.
    fn exercise(v: &[u8]) {
        let mut out = Vec::new();
        if let Ok(Uri::Sip(u)) = Uri::parse(v) {
            u.decode_user(&mut out);
            let _ = (u.transport(), u.lr(), u.maddr(), u.params.iter().count());
            let r = u.routing();
            assert_eq!(
                (r.lr, r.transport, r.maddr),
                (u.lr(), u.transport(), u.maddr())
            );
        }
        let _ = Host::parse(v).map(|h| h.ip());
        if let Ok(via) = Via::parse(v) {
            let slow = via
                .params
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(b"rport") && p.value.is_none())
                .filter(|_| via.rport == Rport::Requested)
                .map(|p| p.name.as_ptr());
            assert_eq!(via.rport_name().map(<[u8]>::as_ptr), slow);
            let _ = (
                via.sent_by_port(),
                via.has_magic_cookie(),
                via.params.iter().count(),
            );
        }
        if let Ok(Contact::Addr(a)) = Contact::parse(v) {
            let _ = (a.params.iter().count(), a.uri.scheme());
        }
        let _ = NameAddr::parse_name_addr(v, "Route");
        let _ = (
            NameAddr::parse_tag(v, "To"),
            NameAddr::parse_first_name_addr(v, "Route"),
        );
        if let Ok((_, end)) = Via::parse_first(v) {
            assert!(end <= v.len());
        }
        let _ = (CSeq::parse(v), MaxForwards::parse(v), Expires::parse(v));
        let _ = (values::parse_content_length(v), values::call_id(v));
        let _ = OptionTags::new(v).count();
        if let Ok(c) = Credentials::parse(v) {
            let _ = (c.iter().count(), c.nonce());
        }
        let _ = crate::sip::uri::Params::from_raw(v).iter().count();
        let _ = crate::sip::values::scan_header_params(v, |_, _| true);
    }

    #[test]
    fn no_panic_on_mutations() {
        let seeds: &[&[u8]] = &[
            b"sip:sips%3Auser%40example.com@example.net;transport=tcp?h=v&a=b",
            b"sips:u:p@[2001:db8::10]:5070;lr;maddr=10.0.0.1",
            b"tel:+1-212-555-0101;phone-context=example.com",
            b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2:5060;branch=z9hG4bK9;rport=5061;received=[::1];ttl=9",
            b"SIP/2.0/TLS [2001:db8::10]:5070;rport;maddr=h.example",
            b"\"J Rosenberg \\\"\" <sip:jdrosen@example.com>;tag=98asjd8;q=\"0;5\"",
            b"Bob <sip:bob@h>;expires=60",
            b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            b"0009\r\n  INVITE",
            b"wsinv.ndaksdj@192.0.2.1",
            b"Digest username=\"bob\", realm=\"a\\\"b,c\", nc=00000001, qop=auth",
            b"100rel, timer",
        ];
        let bytes = b"\0\r\n\"<>;:@[]%, \xff\\=/?";
        let mut buf = Vec::new();
        for seed in seeds {
            exercise(seed);
            for n in 0..seed.len() {
                exercise(&seed[..n]);
                exercise(&seed[n..]);
                for &b in bytes {
                    buf.clear();
                    buf.extend_from_slice(seed);
                    buf[n] = b;
                    exercise(&buf);
                }
            }
        }
    }

    #[test]
    fn list_walk_and_recovery() {
        let r = request(
            b"INVITE sip:u@h SIP/2.0\r\n\
Route: <sip:a.example;lr>, <sip:bad example>, \"x,y\" <sip:c.example;lr>\r\n\
Route: ,<sip:d.example>\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa, bogus, SIP/2.0/TCP 10.0.0.2\r\n\
Via: SIP/2.0/UDP [2001:db8::10]:5070;rport=5071\r\n\
From: <sip:a@b>;tag=ft\r\nTo: sip:c@d\r\n\
l: 0\r\n\r\n",
        );
        let h = &r.headers;
        let routes: Vec<Result<&[u8], Error>> = h.routes().map(|r| r.map(|a| a.uri_raw)).collect();
        assert_eq!(
            routes,
            vec![
                Ok(&b"sip:a.example;lr"[..]),
                Err(Error::Invalid("Route")),
                Ok(b"sip:c.example;lr"),
                Ok(b"sip:d.example"),
            ]
        );
        type Row<'a> = Result<(&'a [u8], Option<u16>, Rport), Error>;
        let vias: Vec<Row<'_>> = h
            .vias()
            .map(|v| v.map(|v| (v.host_raw, v.port, v.rport)))
            .collect();
        assert_eq!(
            vias,
            vec![
                Ok((&b"10.0.0.1"[..], None, Rport::Absent)),
                Err(Error::Invalid("Via")),
                Ok((b"10.0.0.2", None, Rport::Absent)),
                Ok((b"[2001:db8::10]", Some(5070), Rport::Value(5071))),
            ]
        );
        assert_eq!(h.top_via().unwrap().branch, Some(&b"z9hG4bKa"[..]));
        let (top, raw) = h.top_via_with_raw().unwrap();
        assert_eq!(raw, b"SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa");
        assert_eq!(top, h.top_via().unwrap());
        assert!(h.vias_after(raw).eq(h.vias().skip(1)));
        assert!(h.vias_after(b"elsewhere").eq(h.vias().skip(1)));
        assert_eq!(h.from_tag(), Ok(Some(&b"ft"[..])));
        assert_eq!(h.to_tag(), Ok(None));
        let r = request(b"OPTIONS sip:u@h SIP/2.0\r\nVia: ,\r\nVia: SIP/2.0/UDP h\r\nl: 0\r\n\r\n");
        let (_, raw) = r.headers.top_via_with_raw().unwrap();
        assert_eq!(r.headers.vias_after(raw).count(), 0);
        assert_eq!(r.headers.top_via().unwrap().host_raw, b"h");
        assert_eq!(r.headers.top_via_with_raw().unwrap().1, b"SIP/2.0/UDP h");
        let r = request(b"OPTIONS sip:u@h SIP/2.0\r\nl: 0\r\n\r\n");
        assert_eq!(r.headers.from_tag(), Err(Error::Missing("From")));
        assert_eq!(r.headers.to_tag(), Err(Error::Missing("To")));
    }
}
