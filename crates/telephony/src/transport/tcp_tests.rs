//! The framer on synthetic instants, then the limits over real loopback sockets (short
//! configured timeouts; every wait is bounded, nothing asserts a speed).

use super::*;
use crate::transport::{UserAgent, UserAgentConfig};
use tokio::net::{TcpSocket, UdpSocket};

const OPTIONS: &[u8] =
    b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKf1\r\n\
    Call-ID: f1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody";

fn limits() -> TcpLimits {
    TcpLimits {
        idle: Duration::from_secs(60),
        header: Duration::from_secs(10),
        ..TcpLimits::default()
    }
}

#[test]
fn a_message_in_pieces_comes_out_once_complete() {
    let t0 = Instant::now();
    let mut framer = Framer::new(t0);
    let (head, tail) = OPTIONS.split_at(40);
    assert!(framer.push(t0, head).unwrap().is_empty());
    let mut two = tail.to_vec();
    two.extend_from_slice(b"\r\n\r\n");
    two.extend_from_slice(OPTIONS);
    let out = framer.push(t0 + Duration::from_secs(1), &two).unwrap();
    assert_eq!(out, vec![OPTIONS.to_vec(), OPTIONS.to_vec()]);
}

#[test]
fn a_silent_connection_is_due_at_the_idle_time_and_a_message_moves_it() {
    let t0 = Instant::now();
    let mut framer = Framer::new(t0);
    assert_eq!(
        framer.deadline(&limits()),
        (t0 + Duration::from_secs(60), Close::Idle)
    );
    let t1 = t0 + Duration::from_secs(30);
    assert_eq!(framer.push(t1, OPTIONS).unwrap().len(), 1);
    assert_eq!(
        framer.deadline(&limits()),
        (t1 + Duration::from_secs(60), Close::Idle)
    );
    // A message we wrote counts as well.
    let t2 = t1 + Duration::from_secs(30);
    framer.sent(t2);
    assert_eq!(
        framer.deadline(&limits()),
        (t2 + Duration::from_secs(60), Close::Idle)
    );
}

#[test]
fn a_begun_message_is_due_at_the_header_time_from_its_first_byte() {
    let t0 = Instant::now();
    let mut framer = Framer::new(t0);
    let t1 = t0 + Duration::from_secs(5);
    // A byte every half second: the deadline stays at the first byte plus the header time.
    for (i, byte) in OPTIONS[..20].iter().enumerate() {
        let at = t1 + Duration::from_millis(500 * i as u64);
        assert!(framer.push(at, &[*byte]).unwrap().is_empty());
        assert_eq!(
            framer.deadline(&limits()),
            (t1 + Duration::from_secs(10), Close::Header)
        );
    }
    // Completed: back to the idle clock, from the completion.
    let t2 = t1 + Duration::from_secs(9);
    assert_eq!(framer.push(t2, &OPTIONS[20..]).unwrap().len(), 1);
    assert_eq!(
        framer.deadline(&limits()),
        (t2 + Duration::from_secs(60), Close::Idle)
    );
    // The next message's first bytes, read with the end of this one, start its own clock.
    let mut more = OPTIONS.to_vec();
    more.extend_from_slice(&OPTIONS[..10]);
    let t3 = t2 + Duration::from_secs(1);
    assert_eq!(framer.push(t3, &more).unwrap().len(), 1);
    assert_eq!(
        framer.deadline(&limits()),
        (t3 + Duration::from_secs(10), Close::Header)
    );
}

#[test]
fn keep_alive_crlf_begins_no_message_and_is_not_kept() {
    let t0 = Instant::now();
    let mut framer = Framer::new(t0);
    for i in 0..100_000u64 {
        assert!(
            framer
                .push(t0 + Duration::from_millis(i), b"\r\n\r\n")
                .unwrap()
                .is_empty()
        );
    }
    assert!(framer.buf.is_empty());
    assert_eq!(framer.deadline(&limits()).1, Close::Idle);
}

#[test]
fn a_header_time_longer_than_the_idle_time_leaves_the_idle_clock() {
    let t0 = Instant::now();
    let mut framer = Framer::new(t0);
    let slack = TcpLimits {
        idle: Duration::from_secs(5),
        header: Duration::from_secs(50),
        ..TcpLimits::default()
    };
    framer.push(t0, b"OPT").unwrap();
    assert_eq!(
        framer.deadline(&slack),
        (t0 + Duration::from_secs(5), Close::Idle)
    );
}

#[test]
fn a_stream_without_content_length_loses_its_framing() {
    let mut framer = Framer::new(Instant::now());
    let bad = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    assert!(framer.push(Instant::now(), bad).is_err());
}

// ---- over real sockets ----

/// Long enough for anything that is to happen on loopback; never reached when it works.
const BOUND: Duration = Duration::from_secs(10);

async fn agent(limits: TcpLimits) -> UserAgent {
    let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
    config.tcp_limits = limits;
    UserAgent::start(config).await.unwrap()
}

fn options(to: SocketAddr, me: SocketAddr, transport: &str, call: &str) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/{transport} {me};branch=z9hG4bK{call}\r\n\
         Max-Forwards: 70\r\nTo: <sip:{to}>\r\nFrom: <sip:probe@{me}>;tag=p1\r\n\
         Call-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn connect(to: SocketAddr, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Sends an OPTIONS over `stream`; its response's first line, or `None` when the agent closed
/// the connection instead.
async fn ask(stream: &mut TcpStream, call: &str) -> Option<String> {
    let to = stream.peer_addr().unwrap();
    let me = stream.local_addr().unwrap();
    if stream
        .write_all(options(to, me, "TCP", call).as_bytes())
        .await
        .is_err()
    {
        return None;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 2048];
    tokio::time::timeout(BOUND, async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&got).to_string();
        text.lines().next().map(str::to_string)
    })
    .await
    .expect("neither an answer nor a close")
}

/// Waits for the agent to close `stream` (end of stream or a reset); panics after [`BOUND`].
async fn closed_by_agent(stream: &mut TcpStream) {
    let mut chunk = [0u8; 512];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the agent kept the connection open");
}

/// Polls until `check` holds; panics after [`BOUND`].
async fn eventually(ua: &UserAgent, check: impl Fn(&TcpCounters) -> bool) {
    tokio::time::timeout(BOUND, async {
        while !check(&ua.tcp_counters()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("counters stayed at {:?}", ua.tcp_counters()));
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_time_and_forgotten() {
    let ua = agent(TcpLimits {
        idle: Duration::from_millis(300),
        ..TcpLimits::default()
    })
    .await;
    let mut stream = connect(ua.local_addr(), "127.0.0.1").await;
    // One answered message first: the connection is in the task's map, then idle.
    assert_eq!(
        ask(&mut stream, "idle1").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    closed_by_agent(&mut stream).await;
    let counters = ua.tcp_counters();
    assert_eq!((counters.idle_closed, counters.header_closed), (1, 0));
    // Its entry is gone from the task's connections.
    eventually(&ua, |c| c.open == 0).await;
    ua.shutdown();
}

#[tokio::test]
async fn a_request_trickled_a_byte_at_a_time_is_closed_after_the_header_time() {
    let ua = agent(TcpLimits {
        header: Duration::from_millis(500),
        ..TcpLimits::default()
    })
    .await;
    let to = ua.local_addr();
    let stream = connect(to, "127.0.0.1").await;
    let me = stream.local_addr().unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // A byte every 50 ms: the 250-byte OPTIONS would take 12 s to complete.
    let request = options(to, me, "TCP", "slow1").into_bytes();
    let trickle = tokio::spawn(async move {
        for byte in request {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut chunk = [0u8; 512];
    let read = tokio::time::timeout(BOUND, reader.read(&mut chunk))
        .await
        .expect("the trickled request was never cut off");
    assert!(matches!(read, Ok(0) | Err(_)), "answered: {read:?}");
    trickle.abort();
    let counters = ua.tcp_counters();
    assert_eq!((counters.header_closed, counters.idle_closed), (1, 0));
    // The agent still answers, over UDP and over a fresh TCP connection.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let probe = options(to, udp.local_addr().unwrap(), "UDP", "after1");
    udp.send_to(probe.as_bytes(), to).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(BOUND, udp.recv_from(&mut buf))
        .await
        .expect("no answer over UDP")
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"));
    let mut fresh = connect(to, "127.0.0.1").await;
    assert_eq!(
        ask(&mut fresh, "after2").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    ua.shutdown();
}

#[tokio::test]
async fn a_connection_over_the_cap_is_closed_at_once_and_a_freed_place_is_taken() {
    let ua = agent(TcpLimits {
        max_connections: 3,
        ..TcpLimits::default()
    })
    .await;
    let to = ua.local_addr();
    let mut held = Vec::new();
    for i in 0..3 {
        let mut stream = connect(to, "127.0.0.1").await;
        assert_eq!(
            ask(&mut stream, &format!("cap{i}")).await.as_deref(),
            Some("SIP/2.0 200 OK")
        );
        held.push(stream);
    }
    let mut fourth = connect(to, "127.0.0.1").await;
    closed_by_agent(&mut fourth).await;
    assert_eq!(ua.tcp_counters().refused, 1);
    // The three held are still served.
    assert_eq!(
        ask(&mut held[0], "cap0b").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    // One leaves: a new connection takes its place (once the agent saw it leave).
    drop(held.pop());
    eventually(&ua, |c| c.open == 2).await;
    let mut fifth = connect(to, "127.0.0.1").await;
    assert_eq!(
        ask(&mut fifth, "cap5").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    ua.shutdown();
}

#[tokio::test]
async fn one_address_cannot_take_every_place() {
    let ua = agent(TcpLimits {
        max_per_ip: 2,
        ..TcpLimits::default()
    })
    .await;
    let to = ua.local_addr();
    let mut first = connect(to, "127.0.0.1").await;
    let mut second = connect(to, "127.0.0.1").await;
    assert_eq!(
        ask(&mut first, "ip1").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    assert_eq!(
        ask(&mut second, "ip2").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    let mut third = connect(to, "127.0.0.1").await;
    closed_by_agent(&mut third).await;
    assert_eq!(ua.tcp_counters().refused, 1);
    // Another address still gets in.
    let mut other = connect(to, "127.0.0.2").await;
    assert_eq!(
        ask(&mut other, "ip3").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    ua.shutdown();
}

#[tokio::test]
async fn an_agent_without_tcp_refuses_connections() {
    let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
    config.tcp = false;
    let ua = UserAgent::start(config).await.unwrap();
    let err = TcpStream::connect(ua.local_addr()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    ua.shutdown();
}

/// The phone simulator on loopback (TCP on), answering at once.
async fn phones() -> UserAgent {
    let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let config = crate::simulator::PhoneConfig {
        answer_delay: (Duration::from_millis(10), Duration::from_millis(20)),
        ..crate::simulator::PhoneConfig::default()
    };
    tokio::spawn(crate::simulator::serve(ua.clone(), config));
    ua
}

/// Dials `sip:answer@phones` over TCP; waits for the answer.
async fn answered_over_tcp(dialer: &UserAgent, phones: &UserAgent) -> crate::transport::Call {
    let mut request =
        crate::transport::DialRequest::new(format!("sip:answer@{}", phones.local_addr()));
    request.transport = crate::sip::Transport::Tcp;
    let mut call = dialer.dial(request).await.unwrap();
    tokio::time::timeout(BOUND, async {
        loop {
            match call.next_update().await {
                Some(crate::transport::CallUpdate::Answered) => return,
                Some(crate::transport::CallUpdate::Ended { .. }) | None => {
                    panic!("ended unanswered")
                }
                Some(_) => {}
            }
        }
    })
    .await
    .expect("no answer over TCP");
    call
}

fn answered_and_ended(update: Option<&crate::transport::CallUpdate>) -> bool {
    matches!(
        update,
        Some(crate::transport::CallUpdate::Ended {
            disposition: crate::sip::Disposition::Answered,
            ..
        })
    )
}

/// A dialer whose trunks are all UDP has no TCP listener, yet a call it places over TCP
/// (`huifang call --transport tcp` with such a config) goes out and ends cleanly.
#[tokio::test]
async fn a_call_over_tcp_works_without_a_listener() {
    let phones = phones().await;
    let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
    config.tcp = false;
    config.takes_calls = false;
    let dialer = UserAgent::start(config).await.unwrap();
    let mut call = answered_over_tcp(&dialer, &phones).await;
    let ended = call.hangup().await;
    assert!(answered_and_ended(ended.as_ref()), "{ended:?}");
    assert_eq!(dialer.tcp_counters().open, 1);
    dialer.shutdown();
    phones.shutdown();
}

/// Our connection to a TCP trunk closed while the call is up (idle): the BYE opens a new one.
#[tokio::test]
async fn a_bye_after_our_idle_connection_closed_goes_over_a_new_one() {
    let phones = phones().await;
    let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
    config.takes_calls = false;
    config.tcp_limits.idle = Duration::from_millis(300);
    let dialer = UserAgent::start(config).await.unwrap();
    let mut call = answered_over_tcp(&dialer, &phones).await;
    eventually(&dialer, |c| c.idle_closed == 1 && c.open == 0).await;
    let ended = call.hangup().await;
    assert!(answered_and_ended(ended.as_ref()), "{ended:?}");
    // The BYE went out over a fresh connection.
    eventually(&dialer, |c| c.open == 1).await;
    dialer.shutdown();
    phones.shutdown();
}
