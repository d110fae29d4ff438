//! SIP messages: parsed and built with `rsip`, plus the few fields every layer needs.
//!
//! `rsip` tokenizes a message but leaves compact header names (`v:`, `i:`, ...) as unknown
//! headers and checks nothing about mandatory ones. [`parse`] fixes both, so the layers above
//! can rely on a message having Via, From, To, Call-ID and CSeq.

use rsip::headers::UntypedHeader;
use rsip::headers::{CSeq, CallId, ContentLength, ContentType, From, To, Via};
use rsip::message::HasHeaders;
use rsip::{Header, Method, SipMessage};

/// Why bytes off the wire are not a SIP message we can handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The start line or headers do not parse.
    #[error("not a SIP message: {0}")]
    Syntax(String),
    /// A header every request and response must carry is missing.
    #[error("SIP message without a {0} header")]
    Missing(&'static str),
    /// A header is present but its value is malformed.
    #[error("malformed {header} header `{value}`")]
    Malformed {
        /// The header's name.
        header: &'static str,
        /// Its raw value.
        value: String,
    },
}

/// A message off the wire with the fields transactions and dialogs match on.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The message itself.
    pub msg: SipMessage,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// CSeq method (for responses, the method of the request answered).
    pub cseq_method: Method,
    /// The `branch` of the top Via.
    pub branch: String,
    /// The tag of From.
    pub from_tag: Option<String>,
    /// The tag of To (absent on an initial request).
    pub to_tag: Option<String>,
}

impl Parsed {
    /// The status code, for a response.
    pub fn status(&self) -> Option<u16> {
        match &self.msg {
            SipMessage::Response(r) => Some(r.status_code.code()),
            SipMessage::Request(_) => None,
        }
    }

    /// The request method, for a request.
    pub fn method(&self) -> Option<Method> {
        match &self.msg {
            SipMessage::Request(r) => Some(r.method),
            SipMessage::Response(_) => None,
        }
    }

    /// The message body.
    pub fn body(&self) -> &[u8] {
        self.msg.body()
    }

    /// The body as text, when there is one.
    pub fn body_text(&self) -> Option<String> {
        let body = self.body();
        (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned())
    }

    /// The first value of a header by name (case-insensitive, compact forms normalised).
    pub fn header(&self, name: &str) -> Option<String> {
        first_named(self.msg.headers(), name).map(str::to_string)
    }

    /// Every value of a header by name, in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        headers_named(self.msg.headers(), name)
    }

    /// The URI inside the first Contact header (without the angle brackets).
    pub fn contact_uri(&self) -> Option<String> {
        self.header("Contact").map(|v| uri_of(&v).to_string())
    }

    /// The Content-Type's media type, lower-cased without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// Parses a datagram (or one framed TCP message) into a [`Parsed`] message.
pub fn parse(bytes: &[u8]) -> Result<Parsed, MessageError> {
    if bytes.len() > 65_535 {
        return Err(MessageError::Syntax(
            "message longer than 65535 bytes".into(),
        ));
    }
    // Keep-alive CRLFs may precede a message on a stream (RFC 5626 §3.5.1).
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let mut msg = SipMessage::try_from(bytes)
        .map_err(|e| MessageError::Syntax(first_line(&e.to_string())))?;
    normalise_compact(msg.headers_mut());
    // rsip reads any number as a status (`+80` too); SIP's are 1xx to 6xx (RFC 3261 §7.2).
    if let SipMessage::Response(r) = &msg
        && !(100..=699).contains(&r.status_code.code())
    {
        return Err(MessageError::Syntax(format!(
            "status {} is not 100 to 699",
            r.status_code.code()
        )));
    }
    // The fields every layer matches on, read straight from rsip's header values (formatting
    // each header back to text to find them was a fifth of call set-up).
    let headers = msg.headers();
    let call_id = first_named(headers, "Call-ID").ok_or(MessageError::Missing("Call-ID"))?;
    let cseq_raw = first_named(headers, "CSeq").ok_or(MessageError::Missing("CSeq"))?;
    let (cseq, cseq_method) = parse_cseq(cseq_raw).ok_or_else(|| MessageError::Malformed {
        header: "CSeq",
        value: cseq_raw.to_string(),
    })?;
    let via = first_named(headers, "Via").ok_or(MessageError::Missing("Via"))?;
    let branch = param(via, "branch").unwrap_or_default();
    let from = first_named(headers, "From").ok_or(MessageError::Missing("From"))?;
    let to = first_named(headers, "To").ok_or(MessageError::Missing("To"))?;
    if let SipMessage::Request(r) = &msg
        && r.method != cseq_method
        && r.method != Method::Ack
        && r.method != Method::Cancel
    {
        return Err(MessageError::Malformed {
            header: "CSeq",
            value: cseq_raw.to_string(),
        });
    }
    let (call_id, from_tag, to_tag) = (call_id.to_string(), tag_of(from), tag_of(to));
    Ok(Parsed {
        call_id,
        cseq,
        cseq_method,
        branch,
        from_tag,
        to_tag,
        msg,
    })
}

/// The `branch` of the first Via of a message we built ourselves, found without a full parse:
/// starting a client transaction needs only that, and parsing our own requests again was a
/// tenth of the call set-up profile.
pub fn top_branch(bytes: &[u8]) -> Result<String, MessageError> {
    // Line by line from the top, stopping at the first Via (ours is the first header), rather
    // than looking for the end of the headers first.
    let via = bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = line[..colon].trim_ascii();
            (name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v"))
                .then(|| &line[colon + 1..])
        })
        .ok_or(MessageError::Missing("Via"))?;
    let via = std::str::from_utf8(via)
        .map_err(|_| MessageError::Syntax("headers are not UTF-8".into()))?;
    let first = first_item(via).unwrap_or_default().to_string();
    param(&first, "branch")
        .filter(|b| !b.is_empty())
        .ok_or(MessageError::Malformed {
            header: "Via",
            value: first,
        })
}

/// Splits a stream (TCP) buffer into one message: returns its length when a whole message
/// (headers and `Content-Length` bytes of body) is in `buf`, `Ok(None)` when more is needed.
pub fn frame(buf: &[u8]) -> Result<Option<usize>, MessageError> {
    let start = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    let Some(end) = find(&buf[start..], b"\r\n\r\n") else {
        if buf.len() > 65_535 {
            return Err(MessageError::Syntax(
                "headers longer than 65535 bytes".into(),
            ));
        }
        return Ok(None);
    };
    let head = &buf[start..start + end];
    let text = String::from_utf8_lossy(head);
    let mut length = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| MessageError::Malformed {
                        header: "Content-Length",
                        value: value.trim().to_string(),
                    })?,
            );
        }
    }
    // RFC 3261 §18.3: over a stream, Content-Length is mandatory.
    let length = length.ok_or(MessageError::Missing("Content-Length"))?;
    if length > 65_535 {
        return Err(MessageError::Syntax("body longer than 65535 bytes".into()));
    }
    let total = start + end + 4 + length;
    Ok((buf.len() >= total).then_some(total))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// Maps compact header names (RFC 3261 §7.3.3) to their typed `rsip` headers.
fn normalise_compact(headers: &mut rsip::Headers) {
    for header in headers.iter_mut() {
        if let Header::Other(name, value) = header {
            let value = value.clone();
            let typed = match name.as_str() {
                "v" | "V" => Header::Via(Via::new(value)),
                "i" | "I" => Header::CallId(CallId::new(value)),
                "f" | "F" => Header::From(From::new(value)),
                "t" | "T" => Header::To(To::new(value)),
                "m" | "M" => Header::Contact(rsip::headers::Contact::new(value)),
                "l" | "L" => Header::ContentLength(ContentLength::new(value)),
                "c" | "C" => Header::ContentType(ContentType::new(value)),
                _ => continue,
            };
            *header = typed;
        }
    }
}

/// The canonical (lower-case) name of a header, for look-ups by name; `None` for `Other`
/// headers (compared by their own name) and for the typed ones never looked up.
fn header_name(header: &Header) -> Option<&'static str> {
    Some(match header {
        Header::Via(_) => "via",
        Header::From(_) => "from",
        Header::To(_) => "to",
        Header::CallId(_) => "call-id",
        Header::CSeq(_) => "cseq",
        Header::Contact(_) => "contact",
        Header::ContentLength(_) => "content-length",
        Header::ContentType(_) => "content-type",
        Header::Route(_) => "route",
        Header::RecordRoute(_) => "record-route",
        Header::WwwAuthenticate(_) => "www-authenticate",
        Header::ProxyAuthenticate(_) => "proxy-authenticate",
        Header::Authorization(_) => "authorization",
        Header::ProxyAuthorization(_) => "proxy-authorization",
        Header::Expires(_) => "expires",
        Header::MaxForwards(_) => "max-forwards",
        Header::MinExpires(_) => "min-expires",
        Header::Require(_) => "require",
        Header::Supported(_) => "supported",
        Header::RetryAfter(_) => "retry-after",
        Header::UserAgent(_) => "user-agent",
        Header::Allow(_) => "allow",
        _ => return None,
    })
}

/// Whether `header` is called `name` (case-insensitive).
fn is_named(header: &Header, name: &str) -> bool {
    match header {
        Header::Other(other, _) => other.eq_ignore_ascii_case(name),
        typed => header_name(typed).is_some_and(|n| n.eq_ignore_ascii_case(name)),
    }
}

/// The value of a header (what follows `Name: `), as rsip holds it: every variant wraps its
/// raw text, so nothing is formatted.
fn header_value(header: &Header) -> &str {
    macro_rules! raw_value {
        ($($variant:ident),* $(,)?) => {
            match header {
                $(Header::$variant(h) => h.value(),)*
                Header::Other(_, value) => value.as_str(),
            }
        };
    }
    raw_value!(
        Accept,
        AcceptEncoding,
        AcceptLanguage,
        AlertInfo,
        Allow,
        AuthenticationInfo,
        Authorization,
        CSeq,
        CallId,
        CallInfo,
        Contact,
        ContentDisposition,
        ContentEncoding,
        ContentLanguage,
        ContentLength,
        ContentType,
        Date,
        ErrorInfo,
        Event,
        Expires,
        From,
        InReplyTo,
        MaxForwards,
        MimeVersion,
        MinExpires,
        Organization,
        Priority,
        ProxyAuthenticate,
        ProxyAuthorization,
        ProxyRequire,
        RecordRoute,
        ReplyTo,
        Require,
        RetryAfter,
        Route,
        Server,
        Subject,
        SubscriptionState,
        Supported,
        Timestamp,
        To,
        Unsupported,
        UserAgent,
        Via,
        Warning,
        WwwAuthenticate,
    )
    .trim()
}

/// Via, Route and Record-Route may carry several comma-separated values.
fn is_list(name: &str) -> bool {
    ["via", "route", "record-route"]
        .iter()
        .any(|list| list.eq_ignore_ascii_case(name))
}

/// The first value of a header by name (the first element, for the list headers).
fn first_named<'a>(headers: &'a rsip::Headers, name: &str) -> Option<&'a str> {
    let mut values = headers
        .iter()
        .filter(|h| is_named(h, name))
        .map(header_value);
    if is_list(name) {
        values.find_map(first_item)
    } else {
        values.next()
    }
}

fn headers_named(headers: &rsip::Headers, name: &str) -> Vec<String> {
    let list = is_list(name);
    headers
        .iter()
        .filter(|h| is_named(h, name))
        .flat_map(|h| {
            let value = header_value(h);
            if list {
                split_list(value)
            } else {
                vec![value.to_string()]
            }
        })
        .collect()
}

/// The first element of a comma-separated header list, as [`split_list`] would give it.
fn first_item(value: &str) -> Option<&str> {
    let (mut depth, mut quoted) = (0i32, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => return Some(value[..i].trim()),
            _ => {}
        }
    }
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// Splits a comma-separated header list, respecting `<...>` and quotes.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(value[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = value[start..].trim();
    if !last.is_empty() {
        out.push(last.to_string());
    }
    out
}

fn parse_cseq(raw: &str) -> Option<(u32, Method)> {
    let mut parts = raw.split_whitespace();
    let number = parts.next()?.parse().ok()?;
    let method = parse_method(parts.next()?)?;
    Some((number, method))
}

/// Every method with its name on the wire (as rsip writes it, without formatting: rsip's
/// `Display` upper-cases a fresh string every time).
const METHODS: [(&str, Method); 14] = [
    ("INVITE", Method::Invite),
    ("ACK", Method::Ack),
    ("BYE", Method::Bye),
    ("CANCEL", Method::Cancel),
    ("OPTIONS", Method::Options),
    ("INFO", Method::Info),
    ("UPDATE", Method::Update),
    ("REGISTER", Method::Register),
    ("PRACK", Method::PRack),
    ("MESSAGE", Method::Message),
    ("NOTIFY", Method::Notify),
    ("PUBLISH", Method::Publish),
    ("REFER", Method::Refer),
    ("SUBSCRIBE", Method::Subscribe),
];

/// Parses a method name.
pub fn parse_method(name: &str) -> Option<Method> {
    METHODS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, m)| m)
}

/// A method's name on the wire.
pub fn method_name(method: Method) -> &'static str {
    METHODS
        .iter()
        .find(|&&(_, m)| m == method)
        .map_or("", |&(n, _)| n)
}

/// The value of `;name=value` in a header (outside the angle brackets of a name-addr).
pub fn param(header: &str, name: &str) -> Option<String> {
    let params = match header.rfind('>') {
        Some(i) => &header[i + 1..],
        None => header,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The `tag` parameter of a From or To header.
pub fn tag_of(header: &str) -> Option<String> {
    param(header, "tag").filter(|t| !t.is_empty())
}

/// The URI of a name-addr (`"Bob" <sip:bob@host>;tag=1` → `sip:bob@host`) or addr-spec.
pub fn uri_of(header: &str) -> &str {
    match (header.find('<'), header.find('>')) {
        (Some(a), Some(b)) if a < b => &header[a + 1..b],
        _ => header.split(';').next().unwrap_or(header).trim(),
    }
}

/// The host and port of a SIP URI (`sip:user@127.0.0.1:5080;transport=tcp` → `127.0.0.1`, 5080).
pub fn host_port(uri: &str) -> Option<(String, Option<u16>)> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))?;
    let rest = rest.split(['?']).next()?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split(';').next()?;
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), Some(p.parse().ok()?))),
        None => Some((hostport.to_string(), None)),
    }
}

/// The user part of a SIP URI.
pub fn user_of(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))?;
    rest.rsplit_once('@')
        .map(|(u, _)| u.split(':').next().unwrap_or(u))
}

/// Builds a request with `rsip`: start line, the given headers in order, Content-Length and body.
pub fn build_request(method: Method, uri: &str, headers: Vec<Header>, body: &[u8]) -> Vec<u8> {
    // The start line is written as rsip's `Request` writes it, but from the URI text we
    // already hold: parsing it into an `rsip::Uri` only to print it again cost a few per cent
    // of call set-up. Our URIs come from our configuration or from single header lines, so
    // they hold no line breaks.
    // Each header is written by rsip's `Display` straight into one buffer (rsip's `Headers`
    // makes a string of each and joins them): the same bytes, fewer allocations.
    use std::fmt::Write as _;
    let length = Header::ContentLength(ContentLength::from(body.len() as u32));
    let mut out = String::with_capacity(64 * (headers.len() + 2) + uri.len() + body.len());
    let _ = write!(
        out,
        "{} {uri} {}\r\n",
        method_name(method),
        rsip::Version::V2
    );
    for header in headers.iter().chain([&length]) {
        let _ = write!(out, "{header}\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The standard reason phrase of a status (RFC 3261 §21), for responses we send and for people.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => return None,
    })
}

/// Builds a response with `rsip` (with the RFC's reason phrase: rsip's own names run the
/// words together, `486 BusyHere`).
pub fn build_response(status: u16, headers: Vec<Header>, body: &[u8]) -> Vec<u8> {
    let mut headers: rsip::Headers = headers.into();
    headers.push(Header::ContentLength(
        ContentLength::from(body.len() as u32),
    ));
    let phrase = reason_phrase(status).unwrap_or("Unknown");
    rsip::Response {
        status_code: rsip::StatusCode::Other(status, phrase.to_string()),
        version: rsip::Version::V2,
        headers,
        body: body.to_vec(),
    }
    .to_string()
    .into_bytes()
}

/// Copies the headers a response must echo from its request (Via list, From, To, Call-ID,
/// CSeq), adding `to_tag` to To when the request's To has none.
pub fn response_headers(request: &Parsed, to_tag: Option<&str>) -> Vec<Header> {
    let mut out = Vec::new();
    for via in request.headers("Via") {
        out.push(Header::Via(Via::new(via)));
    }
    if let Some(from) = request.header("From") {
        out.push(Header::From(From::new(from)));
    }
    if let Some(to) = request.header("To") {
        let to = match (tag_of(&to), to_tag) {
            (None, Some(tag)) => format!("{to};tag={tag}"),
            _ => to,
        };
        out.push(Header::To(To::new(to)));
    }
    out.push(Header::CallId(CallId::new(request.call_id.clone())));
    out.push(Header::CSeq(CSeq::new(format!(
        "{} {}",
        request.cseq, request.cseq_method
    ))));
    out
}

/// A named header that `rsip` has no variant for, or whose variant we do not need typed.
pub fn other(name: &str, value: impl Into<String>) -> Header {
    Header::Other(name.to_string(), value.into())
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
