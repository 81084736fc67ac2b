//! Lazy typed accessors on [`Headers`] and [`Request`]: each parses only
//! the header it is asked for, on demand. No I/O.
//!
//! Single-valued headers (Call-ID, CSeq, From, To, Max-Forwards,
//! Content-Length, Expires) that appear on more than one line are
//! [`Error::Duplicate`] (RFC 4475 §3.3.8, multi01.dat).

use super::{
    credentials::Credentials,
    name_addr::{Contact, NameAddr},
    uri::Uri,
    values::{self, CSeq, Expires, MaxForwards, OptionTags},
    via::Via,
    Error, HeaderName, Headers, Request,
};

impl<'a> Headers<'a> {
    /// Every Via value in order, across lines and comma-separated values.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, Error>> + '_ {
        self.values(HeaderName::Via).map(Via::parse)
    }

    /// The topmost Via value; `Missing("Via")` when there is none.
    pub fn top_via(&self) -> Result<Via<'a>, Error> {
        let v = self
            .values(HeaderName::Via)
            .next()
            .ok_or(Error::Missing("Via"))?;
        Via::parse(v)
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

    /// Max-Forwards, `None` when absent.
    pub fn max_forwards(&self) -> Result<Option<MaxForwards>, Error> {
        self.single(HeaderName::MaxForwards, "Max-Forwards")?
            .map(MaxForwards::parse)
            .transpose()
    }

    /// Route values in order (name-addr form only).
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, Error>> + '_ {
        self.values(HeaderName::Route)
            .map(|v| NameAddr::parse_name_addr(v, "Route"))
    }

    /// Record-Route values in order (name-addr form only).
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, Error>> + '_ {
        self.values(HeaderName::RecordRoute)
            .map(|v| NameAddr::parse_name_addr(v, "Record-Route"))
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
    fn single(
        &self,
        name: HeaderName<'static>,
        label: &'static str,
    ) -> Result<Option<&'a [u8]>, Error> {
        let mut lines = self.all(name);
        match (lines.next(), lines.next()) {
            (None, _) => Ok(None),
            (Some(h), None) => Ok(Some(h.value)),
            (Some(_), Some(_)) => Err(Error::Duplicate(label)),
        }
    }
}

impl<'a> Request<'a> {
    /// The Request-URI, parsed; any fault is [`Error::RequestUri`].
    pub fn uri(&self) -> Result<Uri<'a>, Error> {
        Uri::parse(self.uri_raw).map_err(|_| Error::RequestUri)
    }
}
