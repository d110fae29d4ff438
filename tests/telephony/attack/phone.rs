//! A hand-written owner phone on raw UDP sockets, and the SIP and RTP packets the attackers
//! forge from what it knows: it answers our INVITE with 200 OK (PCMU and telephone-event/101),
//! sees our ACK, streams PCMU silence, presses keys by RFC 4733 and writes requests in the
//! dialog with any tag from any socket.
//!
//! Nothing here comes from our stack: the packets are written out by hand, so the test does
//! not share a bug with the code it checks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any one packet is waited for.
pub(crate) const WAIT: Duration = Duration::from_secs(3);

/// The payload type the phone offers for telephone-event.
pub(crate) const EVENT_PT: u8 = 101;

/// The phone's own RTP stream's SSRC.
pub(crate) const PHONE_SSRC: u32 = 0x0c0f_fee0;

/// The phone's tag (To of our INVITE's 200 OK).
pub(crate) const PHONE_TAG: &str = "owner-phone-1";

/// A socket bound on `ip` (any port).
pub(crate) async fn socket(ip: [u8; 4]) -> UdpSocket {
    UdpSocket::bind(SocketAddr::from((ip, 0)))
        .await
        .expect("bind a loopback socket")
}

/// The owner's phone: its SIP socket and its RTP stream.
pub(crate) struct Phone {
    /// Where the phone's SIP lives (the target we dial).
    pub(crate) sip: UdpSocket,
    /// The phone's RTP socket, shared with its audio task.
    pub(crate) rtp: Arc<UdpSocket>,
    /// The phone's own stream's numbering, shared with its audio task.
    stream: Arc<Mutex<RtpStream>>,
    audio: Option<JoinHandle<()>>,
}

/// What the phone learnt from our INVITE: enough to write requests in the dialog.
pub(crate) struct Dialog {
    /// The call's Call-ID.
    pub(crate) call_id: String,
    /// Our user agent's From header (with its tag): the To of the phone's requests.
    ua_party: String,
    /// The phone's To header with its tag: the From of its requests (tag replaced to forge).
    phone_uri: String,
    /// Our Contact URI: the Request-URI of the phone's requests.
    ua_target: String,
    /// Where our SIP listens.
    pub(crate) ua_sip: SocketAddr,
    /// Where our RTP listens (from our SDP offer).
    pub(crate) ua_rtp: SocketAddr,
    /// The next CSeq of a request toward us: every one is higher than the last.
    cseq: AtomicU32,
    branch: AtomicU32,
}

impl Phone {
    /// Binds the phone's SIP and RTP sockets on 127.0.0.1.
    pub(crate) async fn bind() -> Phone {
        Phone {
            sip: socket([127, 0, 0, 1]).await,
            rtp: Arc::new(socket([127, 0, 0, 1]).await),
            stream: Arc::new(Mutex::new(RtpStream::new(PHONE_SSRC))),
            audio: None,
        }
    }

    /// The URI to dial.
    pub(crate) fn uri(&self) -> String {
        format!("sip:owner@{}", self.sip.local_addr().unwrap())
    }

    /// Answers the INVITE with 200 OK and waits for our ACK.
    pub(crate) async fn answer(&self) -> Dialog {
        let (invite, ua_sip) = self.receive_request("INVITE").await;
        let sdp = body(&invite);
        let rtp_ip = sdp_line(sdp, "c=IN IP4 ").expect("our offer has c=");
        let rtp_port = sdp_line(sdp, "m=audio ")
            .and_then(|m| m.split(' ').next())
            .expect("our offer has m=audio");
        let ua_rtp = format!("{rtp_ip}:{rtp_port}").parse().unwrap();
        let me = self.sip.local_addr().unwrap();
        let to = format!("{};tag={PHONE_TAG}", header(&invite, "To").unwrap());
        let rtp = self.rtp.local_addr().unwrap();
        let answer = format!(
            "v=0\r\no=owner 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\n\
             a=ptime:20\r\na=sendrecv\r\n",
            rtp.port()
        );
        let extra = format!("Contact: <sip:owner@{me}>\r\nContent-Type: application/sdp\r\n");
        let ok = response(&invite, 200, "OK", Some(&to), &extra, &answer);
        self.sip.send_to(ok.as_bytes(), ua_sip).await.unwrap();
        self.receive_request("ACK").await;
        Dialog {
            call_id: header(&invite, "Call-ID").unwrap().to_string(),
            ua_party: header(&invite, "From").unwrap().to_string(),
            phone_uri: uri_of(header(&invite, "To").unwrap()).to_string(),
            ua_target: uri_of(header(&invite, "Contact").unwrap()).to_string(),
            ua_sip,
            ua_rtp,
            cseq: AtomicU32::new(1),
            branch: AtomicU32::new(1),
        }
    }

    /// The next request of `method` on the phone's SIP socket (others are skipped), and
    /// where it came from.
    pub(crate) async fn receive_request(&self, method: &str) -> (String, SocketAddr) {
        let start = format!("{method} ");
        let wait = async {
            let mut buf = vec![0u8; 65_536];
            loop {
                let (n, from) = self.sip.recv_from(&mut buf).await.unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if text.starts_with(&start) {
                    return (text, from);
                }
            }
        };
        timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("the phone got no {method} within {WAIT:?}"))
    }

    /// Streams PCMU silence every 20 ms to `to` until dropped.
    pub(crate) fn start_audio(&mut self, to: SocketAddr) {
        let (socket, stream) = (self.rtp.clone(), self.stream.clone());
        self.audio = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tick.tick().await;
                let packet = stream.lock().await.audio();
                let _ = socket.send_to(&packet, to).await;
            }
        }));
    }

    /// Presses `event` in the phone's own stream (its port, its SSRC) on payload type `pt`.
    pub(crate) async fn press(&self, to: SocketAddr, pt: u8, event: u8) {
        let mut stream = self.stream.lock().await;
        press(&self.rtp, to, &mut stream, pt, event).await;
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if let Some(audio) = self.audio.take() {
            audio.abort();
        }
    }
}

impl Dialog {
    /// A request in the dialog as the phone would send it, from `via` and with `from_tag`
    /// (the phone's own, [`PHONE_TAG`], or a forged one), with the next CSeq.
    pub(crate) fn request(
        &self,
        method: &str,
        via: SocketAddr,
        from_tag: &str,
        extra: &str,
        body: &str,
    ) -> String {
        let cseq = self.cseq.fetch_add(1, Ordering::Relaxed) + 1;
        let branch = self.branch.fetch_add(1, Ordering::Relaxed);
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bKattack{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <{phone}>;tag={from_tag}\r\nTo: {ua}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {len}\r\n\r\n\
             {body}",
            target = self.ua_target,
            phone = self.phone_uri,
            ua = self.ua_party,
            call_id = self.call_id,
            len = body.len(),
        )
    }

    /// An INFO pressing `digit` by `application/dtmf-relay`.
    pub(crate) fn info(&self, via: SocketAddr, from_tag: &str, digit: char) -> String {
        let extra = "Content-Type: application/dtmf-relay\r\n";
        let body = format!("Signal={digit}\r\nDuration=160\r\n");
        self.request("INFO", via, from_tag, extra, &body)
    }

    /// A re-INVITE moving the media to `rtp` (and the remote target to `via`).
    pub(crate) fn reinvite(&self, via: SocketAddr, from_tag: &str, rtp: SocketAddr) -> String {
        let extra = format!("Contact: <sip:owner@{via}>\r\nContent-Type: application/sdp\r\n");
        let sdp = format!(
            "v=0\r\no=owner 7 2 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=sendrecv\r\n",
            ip = rtp.ip(),
            port = rtp.port()
        );
        self.request("INVITE", via, from_tag, &extra, &sdp)
    }
}

/// Sends `request` from `socket` to our user agent and returns the status of its final
/// response (provisional ones skipped), or `None` when none came within `within`.
pub(crate) async fn send_request(
    socket: &UdpSocket,
    dialog: &Dialog,
    request: &str,
    within: Duration,
) -> Option<u16> {
    socket
        .send_to(request.as_bytes(), dialog.ua_sip)
        .await
        .unwrap();
    let cseq = header(request, "CSeq").unwrap().to_string();
    let wait = async {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, _) = socket.recv_from(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status = status_of(&text);
            if header(&text, "CSeq") == Some(&cseq) && status.is_some_and(|s| s >= 200) {
                return status;
            }
        }
    };
    timeout(within, wait).await.ok().flatten()
}

/// Answers `request` (received on `socket` from `to`) with `status`.
pub(crate) async fn reply(socket: &UdpSocket, to: SocketAddr, request: &str, status: u16) {
    let text = response(request, status, "OK", None, "", "");
    socket.send_to(text.as_bytes(), to).await.unwrap();
}

/// The SIP datagrams waiting on `socket` now, without waiting.
pub(crate) fn pending(socket: &UdpSocket) -> Vec<String> {
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

/// One RTP stream's numbering: SSRC, sequence number and timestamp.
pub(crate) struct RtpStream {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl RtpStream {
    /// A stream with `ssrc`, numbered from an arbitrary start.
    pub(crate) fn new(ssrc: u32) -> RtpStream {
        RtpStream {
            ssrc,
            seq: (ssrc & 0x7fff) as u16,
            ts: ssrc.rotate_left(7),
        }
    }

    /// One packet of this stream (RFC 3550 §5.1 header, no CSRC or extension).
    fn packet(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) -> Vec<u8> {
        self.seq = self.seq.wrapping_add(1);
        let mut packet = vec![0x80, (u8::from(marker) << 7) | (pt & 0x7f)];
        packet.extend(self.seq.to_be_bytes());
        packet.extend(ts.to_be_bytes());
        packet.extend(self.ssrc.to_be_bytes());
        packet.extend(payload);
        packet
    }

    /// 20 ms of PCMU silence.
    fn audio(&mut self) -> Vec<u8> {
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(160);
        self.packet(0, false, ts, &[0xff; 160])
    }
}

/// One key press as a phone sends it (RFC 4733 §2.5): three packets of growing duration on one
/// timestamp, the first with the marker bit, then the end packet three times.
pub(crate) async fn press(
    socket: &UdpSocket,
    to: SocketAddr,
    stream: &mut RtpStream,
    pt: u8,
    event: u8,
) {
    let ts = stream.ts;
    for (i, duration) in [160u16, 320, 480, 640, 640, 640].into_iter().enumerate() {
        let end = if i >= 3 { 0x80 } else { 0 };
        let d = duration.to_be_bytes();
        let payload = [event, end | 10, d[0], d[1]];
        let packet = stream.packet(pt, i == 0, ts, &payload);
        socket.send_to(&packet, to).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.ts = ts.wrapping_add(640 + 160);
}

/// A response to `request`: its Via, From, To (or `to`), Call-ID and CSeq.
fn response(
    request: &str,
    status: u16,
    reason: &str,
    to: Option<&str>,
    extra: &str,
    body: &str,
) -> String {
    let mut text = format!("SIP/2.0 {status} {reason}\r\n");
    for via in headers(request, "Via") {
        text.push_str(&format!("Via: {via}\r\n"));
    }
    let to = to.or_else(|| header(request, "To")).unwrap();
    for (name, value) in [
        ("From", header(request, "From").unwrap()),
        ("To", to),
        ("Call-ID", header(request, "Call-ID").unwrap()),
        ("CSeq", header(request, "CSeq").unwrap()),
    ] {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(extra);
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text
}

/// Every value of header `name` (full names only: our stack writes no compact forms).
fn headers<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
        .collect()
}

/// The first value of header `name`.
pub(crate) fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    headers(message, name).into_iter().next()
}

/// A response's status code; `None` for a request.
pub(crate) fn status_of(message: &str) -> Option<u16> {
    message
        .strip_prefix("SIP/2.0 ")?
        .get(..3)
        .and_then(|s| s.parse().ok())
}

fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn sdp_line<'a>(sdp: &'a str, prefix: &str) -> Option<&'a str> {
    sdp.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

/// The URI inside `<...>` of a name-addr (or the whole value).
pub(crate) fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    }
}
