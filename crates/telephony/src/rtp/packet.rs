//! RTP fixed header (RFC 3550 §5.1): zero-copy parse of whatever arrives on a media socket, and
//! build of the plain packets we send (no CSRC, no extension, no padding).
//!
//! Parsing checks every length before slicing, so a hostile or truncated datagram yields an
//! [`RtpError`] and never a panic (see `fuzz/fuzz_targets/rtp_packet.rs`).

/// The only RTP version in use (RFC 3550).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header without CSRCs.
pub const HEADER_LEN: usize = 12;

/// Why a datagram is not an RTP packet we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the 12-byte fixed header.
    #[error("RTP packet of {0} bytes is shorter than the 12-byte header")]
    TooShort(usize),
    /// The two version bits are not 2 (STUN, RTCP-mux garbage, old RTP).
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC count asks for more bytes than the packet holds.
    #[error("{count} CSRCs need {needed} bytes, packet has {len}")]
    CsrcOverrun {
        /// The CC field.
        count: u8,
        /// Bytes the header would need.
        needed: usize,
        /// Bytes received.
        len: usize,
    },
    /// The X bit is set but the extension header or its words run past the end.
    #[error("header extension needs {needed} bytes, packet has {len}")]
    ExtensionOverrun {
        /// Bytes the header would need.
        needed: usize,
        /// Bytes received.
        len: usize,
    },
    /// The P bit is set but the last byte is zero or longer than the payload.
    #[error("padding of {padding} bytes does not fit a {available}-byte payload")]
    BadPadding {
        /// The padding count (last byte of the packet).
        padding: u8,
        /// Bytes between the header and the end of the packet.
        available: usize,
    },
}

/// The header fields we act on, and what we write when sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit: first packet of a talk-spurt, or first packet of a telephone-event.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number, +1 per packet, wraps.
    pub sequence: u16,
    /// Media timestamp in 8 kHz samples.
    pub timestamp: u32,
    /// Synchronisation source: which stream this is.
    pub ssrc: u32,
}

/// A parsed packet borrowing the datagram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header.
    pub header: RtpHeader,
    /// The raw CSRC list (4 bytes each); see [`RtpPacket::csrcs`].
    csrc: &'a [u8],
    /// The header extension, when the X bit is set.
    pub extension: Option<Extension<'a>>,
    /// The payload, padding removed.
    pub payload: &'a [u8],
    /// Padding bytes removed from the end (0 when P is clear).
    pub padding: u8,
}

/// An RFC 3550 §5.3.1 header extension: profile-defined id and its 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The "defined by profile" 16 bits (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension words, `4 * length` bytes.
    pub data: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses one datagram. Never panics.
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtpError::TooShort(buf.len()));
        }
        let b0 = buf[0];
        let version = b0 >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let count = b0 & 0x0f;
        let header = RtpHeader {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        };
        let mut pos = HEADER_LEN + 4 * usize::from(count);
        let csrc = buf.get(HEADER_LEN..pos).ok_or(RtpError::CsrcOverrun {
            count,
            needed: pos,
            len: buf.len(),
        })?;
        let extension = if has_extension {
            let (ext, end) = parse_extension(buf, pos)?;
            pos = end;
            Some(ext)
        } else {
            None
        };
        let rest = &buf[pos..];
        let padding = if has_padding {
            rest.last().copied().unwrap_or(0)
        } else {
            0
        };
        if has_padding && (padding == 0 || usize::from(padding) > rest.len()) {
            return Err(RtpError::BadPadding {
                padding,
                available: rest.len(),
            });
        }
        let payload = &rest[..rest.len() - usize::from(padding)];
        Ok(RtpPacket {
            header,
            csrc,
            extension,
            payload,
            padding,
        })
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.csrc
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// Reads the extension header at `pos`; returns it and the offset just past it.
fn parse_extension(buf: &[u8], pos: usize) -> Result<(Extension<'_>, usize), RtpError> {
    let head = buf.get(pos..pos + 4).ok_or(RtpError::ExtensionOverrun {
        needed: pos + 4,
        len: buf.len(),
    })?;
    let profile = u16::from_be_bytes([head[0], head[1]]);
    let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let end = pos + 4 + 4 * words;
    let data = buf.get(pos + 4..end).ok_or(RtpError::ExtensionOverrun {
        needed: end,
        len: buf.len(),
    })?;
    Ok((Extension { profile, data }, end))
}

impl RtpHeader {
    /// Writes a plain packet (no CSRC, extension or padding) into `out`, replacing its
    /// contents; reusing one `Vec` keeps the send loop allocation-free.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(HEADER_LEN + payload.len());
        out.push(RTP_VERSION << 6);
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
    }

    /// The packet as a new `Vec` (tests and one-off sends).
    pub fn to_bytes(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(payload, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First packet of sipp's `dtmf_2833_1.pcap`: marker, PT 101, seq 0x1f30.
    const SIPP_DTMF_START: [u8; 16] = [
        0x80, 0xe5, 0x1f, 0x30, 0x00, 0x00, 0x33, 0xe0, 0x0e, 0x05, 0x38, 0x4e, 0x01, 0x0a, 0x00,
        0x00,
    ];

    #[test]
    fn parses_a_sipp_telephone_event_packet() {
        let p = RtpPacket::parse(&SIPP_DTMF_START).unwrap();
        assert_eq!(
            p.header,
            RtpHeader {
                marker: true,
                payload_type: 101,
                sequence: 0x1f30,
                timestamp: 0x33e0,
                ssrc: 0x0e05_384e
            }
        );
        assert_eq!(p.payload, &[0x01, 0x0a, 0x00, 0x00]);
        assert_eq!(p.csrcs().count(), 0);
        assert_eq!(p.extension, None);
    }

    #[test]
    fn build_then_parse_round_trips() {
        let h = RtpHeader {
            marker: false,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xdead_beef,
            ssrc: 7,
        };
        let bytes = h.to_bytes(&[0xd5; 160]);
        assert_eq!(&bytes[..4], &[0x80, 0x08, 0xff, 0xff]);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload.len(), 160);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        let bytes = [
            0xb2, 0x00, 0x00, 0x01, 0, 0, 0, 2, 0, 0, 0, 3, // V=2 P X CC=2, PT 0
            0, 0, 0, 10, 0, 0, 0, 11, // two CSRCs
            0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00, // extension, one word
            0xff, // payload
            0xfe, 0x00, 0x03, // padding: 3 bytes including the count byte
        ];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![10, 11]);
        let ext = p.extension.unwrap();
        assert_eq!(ext.profile, 0xbede);
        assert_eq!(ext.data, &[0x10, 0xaa, 0, 0]);
        assert_eq!(p.padding, 3);
        assert_eq!(p.payload, &[0xff]);
    }

    #[test]
    fn malformed_packets_are_typed_errors() {
        assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort(0)));
        assert_eq!(
            RtpPacket::parse(&SIPP_DTMF_START[..11]),
            Err(RtpError::TooShort(11))
        );
        let mut v1 = SIPP_DTMF_START;
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut csrc = SIPP_DTMF_START;
        csrc[0] = 0x82; // CC=2 needs 20 bytes, packet has 16
        assert_eq!(
            RtpPacket::parse(&csrc),
            Err(RtpError::CsrcOverrun {
                count: 2,
                needed: 20,
                len: 16
            })
        );
        let mut ext = SIPP_DTMF_START;
        ext[0] = 0x90; // X set: the payload bytes become the extension header
        ext[14] = 0x00;
        ext[15] = 0x05; // 5 words: needs 12 + 4 + 20
        assert_eq!(
            RtpPacket::parse(&ext),
            Err(RtpError::ExtensionOverrun {
                needed: 36,
                len: 16
            })
        );
        assert_eq!(
            RtpPacket::parse(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe]),
            Err(RtpError::ExtensionOverrun {
                needed: 16,
                len: 13
            })
        );
        let mut pad = SIPP_DTMF_START;
        pad[0] = 0xa0;
        pad[15] = 9; // 9 bytes of padding in a 4-byte payload
        assert_eq!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding {
                padding: 9,
                available: 4
            })
        );
        pad[15] = 0;
        assert_eq!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding {
                padding: 0,
                available: 4
            })
        );
        let mut empty_pad = [0u8; 12];
        empty_pad[0] = 0xa0;
        assert_eq!(
            RtpPacket::parse(&empty_pad),
            Err(RtpError::BadPadding {
                padding: 0,
                available: 0
            })
        );
    }

    /// A poor man's fuzzer (the real one is `fuzz/`): random and mutated datagrams never
    /// panic, and whatever parses re-builds to the same header and payload.
    #[test]
    fn random_datagrams_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let len = (next() % 48) as usize;
            let mut buf: Vec<u8> = if i % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut b = SIPP_DTMF_START.to_vec();
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
                b
            };
            if let Some(b) = buf.first_mut().filter(|_| i % 3 != 0) {
                *b = (*b & 0x3f) | 0x80; // mostly version 2, to reach the deeper checks
            }
            if let Ok(p) = RtpPacket::parse(&buf) {
                let _ = p.csrcs().count();
                let again = p.header.to_bytes(p.payload);
                let q = RtpPacket::parse(&again).unwrap();
                assert_eq!((q.header, q.payload), (p.header, p.payload));
            }
        }
    }
}
