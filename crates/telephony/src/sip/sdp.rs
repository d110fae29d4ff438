//! SDP offer/answer (RFC 3264, RFC 4566) for the one audio stream a call carries.
//!
//! We offer PCMU, PCMA and telephone-event/8000; we answer with the first of the offerer's
//! formats that we support, in the offerer's order. Parsing is a small line parser rather than a
//! crate: we read only `v=`, `c=`, `m=` and a few `a=` lines, must stay lenient about everything
//! else real trunks send, and want errors that name the offending line.
//!
//! Hold is reported by [`direction`]: a peer that sends `a=sendonly`/`a=inactive`, or the
//! RFC 2543 `c=0.0.0.0`, is holding the call (its [`MediaParams::remote`] is then unspecified:
//! do not send to it).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Codec, MediaParams};

/// The payload type we offer for telephone-event/8000 (RFC 4733).
pub const DTMF_PAYLOAD_TYPE: u8 = 101;

/// Packet time we offer and default to when the peer names none.
const DEFAULT_PTIME_MS: u32 = 20;

/// Why a session description cannot be used. Line numbers start at 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is empty or does not start with `v=0`.
    #[error("SDP does not start with `v=0`")]
    Version,
    /// A line is not of the form `x=value`.
    #[error("SDP line {line} is not `<type>=<value>`: `{text}`")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line as received.
        text: String,
    },
    /// A `c=` line we cannot read (only `IN IP4`/`IN IP6` with a literal address are usable).
    #[error("SDP line {line}: bad connection `c={value}`")]
    Connection {
        /// 1-based line number.
        line: usize,
        /// The value after `c=`.
        value: String,
    },
    /// An `m=` line without a media type, a numeric port, a protocol or formats.
    #[error("SDP line {line}: bad media `m={value}`")]
    Media {
        /// 1-based line number.
        line: usize,
        /// The value after `m=`.
        value: String,
    },
    /// An `a=rtpmap` or `a=ptime` attribute we cannot read.
    #[error("SDP line {line}: bad attribute `a={value}`")]
    Attribute {
        /// 1-based line number.
        line: usize,
        /// The value after `a=`.
        value: String,
    },
    /// No `m=audio` stream over RTP/AVP.
    #[error("SDP has no RTP/AVP audio stream")]
    NoAudio,
    /// The audio stream has port 0: the peer rejected (or disabled) it.
    #[error("the peer rejected the audio stream (port 0)")]
    Rejected,
    /// Neither the media section nor the session has a `c=` line.
    #[error("the audio stream has no connection address (`c=`)")]
    NoConnection,
    /// None of the offered formats is PCMU or PCMA.
    #[error(
        "no common codec: the peer offered payload types {offered}, we accept PCMU (0) and PCMA (8)"
    )]
    NoCommonCodec {
        /// The peer's formats, space-separated as on its `m=` line.
        offered: String,
    },
}

/// Which way media flows, as the peer declared it (RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Both ways; the normal state.
    SendRecv,
    /// The peer sends and will not receive: it put us on hold.
    SendOnly,
    /// The peer receives and will not send.
    RecvOnly,
    /// Neither way: on hold both ways.
    Inactive,
}

impl Direction {
    /// Whether the peer is holding the call (it will not receive our media).
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }

    /// The direction an answerer takes in reply to this offered one.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// The SDP attribute name (`sendrecv`, ...).
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(attr: &str) -> Option<Direction> {
        match attr {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Folds the RFC 2543 hold (`c=0.0.0.0`: "do not send to me") into the direction.
    fn without_receiving(self) -> Direction {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        }
    }
}

/// Our offer for one audio stream on `local` (the RTP socket): PCMU, PCMA and
/// telephone-event/8000 (payload type 101, events 0-15), ptime 20, sendrecv.
///
/// `session_id` stays fixed for the call; `version` grows by one with each new offer or answer
/// we send in it (RFC 3264 §8).
pub fn offer(local: SocketAddr, session_id: u64, version: u64) -> String {
    let mut sdp = header(local.ip(), session_id, version);
    let (pcmu, pcma) = (Codec::Pcmu, Codec::Pcma);
    let _ = write!(
        sdp,
        "m=audio {port} RTP/AVP {} {} {DTMF_PAYLOAD_TYPE}\r\n\
         a=rtpmap:{} {}/8000\r\n\
         a=rtpmap:{} {}/8000\r\n",
        pcmu.payload_type(),
        pcma.payload_type(),
        pcmu.payload_type(),
        pcmu.name(),
        pcma.payload_type(),
        pcma.name(),
        port = local.port(),
    );
    push_audio_tail(&mut sdp, Some(DTMF_PAYLOAD_TYPE), Direction::SendRecv);
    sdp
}

/// Answers `offer` for our RTP socket `local`: the first offered format that is PCMU or PCMA
/// (the offerer's order wins), telephone-event with the offerer's payload type when offered,
/// the reverse of the offerer's direction, and every other stream rejected with port 0.
///
/// Returns our answer and what the two sides agreed. When the offer puts us on hold
/// (see [`direction`]) the returned `remote` may be `0.0.0.0`: do not send there.
pub fn answer(
    offer: &str,
    local: SocketAddr,
    session_id: u64,
    version: u64,
) -> Result<(String, MediaParams), SdpError> {
    let parsed = Description::parse(offer)?;
    let audio_index = parsed.audio_index()?;
    let audio = &parsed.media[audio_index];
    let codec = audio.first_codec()?;
    let params = audio.params(codec)?;
    let direction = audio.direction().reversed();

    let mut sdp = header(local.ip(), session_id, version);
    for (i, media) in parsed.media.iter().enumerate() {
        if i != audio_index {
            // RFC 3264 §6: same number of m= lines, in order; unwanted ones get port 0.
            let first = media.formats.first().map_or("0", String::as_str);
            let _ = write!(sdp, "m={} 0 {} {first}\r\n", media.kind, media.proto);
            continue;
        }
        let pt = codec.payload_type();
        let _ = write!(sdp, "m=audio {} RTP/AVP {pt}", local.port());
        if let Some(dtmf) = params.dtmf_pt {
            let _ = write!(sdp, " {dtmf}");
        }
        let _ = write!(sdp, "\r\na=rtpmap:{pt} {}/8000\r\n", codec.name());
        push_audio_tail(&mut sdp, params.dtmf_pt, direction);
    }
    Ok((sdp, params))
}

/// Reads the peer's answer to our [`offer`]: the first format of its audio stream that we
/// support, its telephone-event payload type and packet time.
pub fn parse_answer(answer: &str) -> Result<MediaParams, SdpError> {
    let parsed = Description::parse(answer)?;
    let audio = &parsed.media[parsed.audio_index()?];
    let codec = audio.first_codec()?;
    audio.params(codec)
}

/// The peer's media direction in an offer or answer, with the RFC 2543 hold (`c=0.0.0.0`)
/// folded in: [`Direction::is_hold`] tells whether the peer put the call on hold.
pub fn direction(sdp: &str) -> Result<Direction, SdpError> {
    let parsed = Description::parse(sdp)?;
    Ok(parsed.media[parsed.audio_index()?].direction())
}

/// `v=`, `o=`, `s=`, `c=` and `t=` for our side.
fn header(ip: IpAddr, session_id: u64, version: u64) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=huifang {session_id} {version} IN {family} {ip}\r\ns=huifang\r\n\
         c=IN {family} {ip}\r\nt=0 0\r\n"
    )
}

/// The telephone-event, ptime and direction lines that end our audio section.
fn push_audio_tail(sdp: &mut String, dtmf_pt: Option<u8>, direction: Direction) {
    if let Some(pt) = dtmf_pt {
        let _ = write!(
            sdp,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-15\r\n"
        );
    }
    let _ = write!(
        sdp,
        "a=ptime:{DEFAULT_PTIME_MS}\r\na={}\r\n",
        direction.attribute()
    );
}

/// The parts of a session description we use.
#[derive(Debug, Default)]
struct Description {
    session_connection: Option<IpAddr>,
    session_direction: Option<Direction>,
    session_ptime: Option<u32>,
    media: Vec<Media>,
}

/// One `m=` section.
#[derive(Debug)]
struct Media {
    kind: String,
    port: u16,
    proto: String,
    formats: Vec<String>,
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    ptime: Option<u32>,
    /// `a=rtpmap` entries: payload type, lower-cased encoding name, clock rate.
    rtpmaps: Vec<(u8, String, u32)>,
}

impl Description {
    fn parse(text: &str) -> Result<Description, SdpError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        match lines.next() {
            Some((_, first)) if first.trim() == "v=0" => {}
            _ => return Err(SdpError::Version),
        }
        let mut desc = Description::default();
        for (line, text) in lines {
            // Trim as the fields are split, ASCII whitespace only: a Unicode `trim` drops a
            // last field (a vertical tab, U+0085) that `split_ascii_whitespace` keeps.
            let (kind, value) = match text.split_once('=') {
                Some((k, v)) if k.len() == 1 => (k, v.trim_ascii()),
                _ => {
                    return Err(SdpError::Syntax {
                        line,
                        text: text.into(),
                    });
                }
            };
            match kind {
                "m" => desc.media.push(Media::parse(line, value)?),
                "c" => {
                    let ip = parse_connection(line, value)?;
                    match desc.media.last_mut() {
                        Some(m) => m.connection = Some(ip),
                        None => desc.session_connection = Some(ip),
                    }
                }
                "a" => desc.attribute(line, value)?,
                _ => {} // o=, s=, t=, b=, i=, ...: nothing we need.
            }
        }
        // Session-level c=, ptime and direction apply to media sections without their own.
        for m in &mut desc.media {
            m.connection = m.connection.or(desc.session_connection);
            m.ptime = m.ptime.or(desc.session_ptime);
            m.direction = m.direction.or(desc.session_direction);
        }
        Ok(desc)
    }

    fn attribute(&mut self, line: usize, value: &str) -> Result<(), SdpError> {
        let bad = || SdpError::Attribute {
            line,
            value: value.into(),
        };
        let (name, arg) = value.split_once(':').unwrap_or((value, ""));
        let media = self.media.last_mut();
        if let Some(d) = Direction::parse(name) {
            match media {
                Some(m) => m.direction = Some(d),
                None => self.session_direction = Some(d),
            }
        } else if name == "ptime" {
            let ms = arg
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|ms| (1.0..=1000.0).contains(ms))
                .ok_or_else(bad)?;
            match media {
                Some(m) => m.ptime = Some(ms.round() as u32),
                None => self.session_ptime = Some(ms.round() as u32),
            }
        } else if name == "rtpmap"
            && let Some(m) = media
        {
            m.rtpmaps.push(parse_rtpmap(arg).ok_or_else(bad)?);
        }
        Ok(())
    }

    /// The first usable audio stream: RTP/AVP with a non-zero port.
    fn audio_index(&self) -> Result<usize, SdpError> {
        let mut audio = self
            .media
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == "audio" && m.proto.eq_ignore_ascii_case("RTP/AVP"))
            .peekable();
        if audio.peek().is_none() {
            return Err(SdpError::NoAudio);
        }
        audio
            .find(|(_, m)| m.port != 0)
            .map(|(i, _)| i)
            .ok_or(SdpError::Rejected)
    }
}

impl Media {
    fn parse(line: usize, value: &str) -> Result<Media, SdpError> {
        let bad = || SdpError::Media {
            line,
            value: value.into(),
        };
        let mut fields = value.split_ascii_whitespace();
        let kind = fields.next().ok_or_else(bad)?;
        // `port/count` (RFC 4566 §5.14): the count is irrelevant to a unicast audio call.
        let port = fields.next().ok_or_else(bad)?;
        let port = port.split('/').next().unwrap_or(port);
        let port = port.parse::<u16>().map_err(|_| bad())?;
        let proto = fields.next().ok_or_else(bad)?;
        let formats: Vec<String> = fields.map(String::from).collect();
        if formats.is_empty() {
            return Err(bad());
        }
        Ok(Media {
            kind: kind.to_ascii_lowercase(),
            port,
            proto: proto.into(),
            formats,
            connection: None,
            direction: None,
            ptime: None,
            rtpmaps: Vec::new(),
        })
    }

    fn rtpmap(&self, pt: u8) -> Option<(&str, u32)> {
        self.rtpmaps
            .iter()
            .find(|(p, _, _)| *p == pt)
            .map(|(_, name, rate)| (name.as_str(), *rate))
    }

    /// The first format, in the peer's order, that is PCMU or PCMA.
    fn first_codec(&self) -> Result<Codec, SdpError> {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .find_map(|pt| {
                let codec = Codec::from_payload_type(pt)?;
                match self.rtpmap(pt) {
                    // Static types need no rtpmap; one that names another codec is not ours.
                    None => Some(codec),
                    Some((name, 8000)) if name.eq_ignore_ascii_case(codec.name()) => Some(codec),
                    Some(_) => None,
                }
            })
            .ok_or_else(|| SdpError::NoCommonCodec {
                offered: self.formats.join(" "),
            })
    }

    /// The telephone-event/8000 payload type, when listed on the `m=` line.
    fn dtmf_pt(&self) -> Option<u8> {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .find(|pt| matches!(self.rtpmap(*pt), Some((name, 8000)) if name == "telephone-event"))
    }

    fn params(&self, codec: Codec) -> Result<MediaParams, SdpError> {
        let ip = self.connection.ok_or(SdpError::NoConnection)?;
        Ok(MediaParams {
            remote: SocketAddr::new(ip, self.port),
            codec,
            dtmf_pt: self.dtmf_pt(),
            ptime_ms: self.ptime.unwrap_or(DEFAULT_PTIME_MS),
        })
    }

    /// The declared direction, with `c=0.0.0.0` ("do not send to me") folded in.
    fn direction(&self) -> Direction {
        let declared = self.direction.unwrap_or(Direction::SendRecv);
        match self.connection {
            Some(ip) if ip.is_unspecified() => declared.without_receiving(),
            _ => declared,
        }
    }
}

/// `IN IP4 192.0.2.1`, `IN IP4 224.2.1.1/127` (TTL dropped) or `IN IP6 ::1`.
fn parse_connection(line: usize, value: &str) -> Result<IpAddr, SdpError> {
    let bad = || SdpError::Connection {
        line,
        value: value.into(),
    };
    let mut fields = value.split_ascii_whitespace();
    let (net, family, addr) = (fields.next(), fields.next(), fields.next());
    if net != Some("IN") || fields.next().is_some() {
        return Err(bad());
    }
    let addr = addr.ok_or_else(bad)?;
    let addr = addr.split('/').next().unwrap_or(addr);
    match family {
        Some("IP4") => addr.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad()),
        Some("IP6") => addr.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `101 telephone-event/8000` or `0 PCMU/8000/1` → (101, "telephone-event", 8000).
fn parse_rtpmap(arg: &str) -> Option<(u8, String, u32)> {
    let (pt, encoding) = arg.trim().split_once(char::is_whitespace)?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next().filter(|n| !n.is_empty())?;
    let rate = parts.next()?.parse().ok()?;
    Some((pt.parse().ok()?, name.to_ascii_lowercase(), rate))
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
