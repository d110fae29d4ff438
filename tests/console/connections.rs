//! Connection discipline (issue 29): a flood of half-sent requests from one address neither
//! starves other clients nor stays open past the header-read timeout, and the per-address cap
//! refuses the connection over it with a 503.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use huifang::clock::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

use crate::support::{Console, console_on};

/// The flood comes from 127.0.0.1; everybody else from here (all of 127/8 is loopback).
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn console(http: &str) -> Console {
    let db = testkit::db::databases().await.remove(0);
    console_on(db, &format!("[http]\n{http}"), Arc::new(SystemClock)).await
}

fn addr_of(console: &Console) -> SocketAddr {
    console.base.trim_start_matches("http://").parse().unwrap()
}

/// A connection that sent half a request line and stopped.
async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HT").await.unwrap();
    tcp
}

/// What the server sent before it closed `tcp`; `None` if it is still open after `bound`.
async fn until_closed(tcp: &mut TcpStream, bound: Duration) -> Option<String> {
    let mut got = Vec::new();
    match timeout(bound, tcp.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

/// `GET /healthz` from [`OTHER`], within a generous bound.
async fn healthz_from_elsewhere(console: &Console) -> u16 {
    let http = reqwest::Client::builder()
        .local_address(OTHER)
        .build()
        .unwrap();
    let res = timeout(
        Duration::from_secs(5),
        http.get(format!("{}/healthz", console.base)).send(),
    )
    .await
    .expect("/healthz served within 5 s during the flood")
    .unwrap();
    res.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_a_fresh_client_is_served() {
    let console = console("header_read_secs = 1\n").await;
    let addr = addr_of(&console);
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(half_sent(addr).await);
    }
    assert_eq!(healthz_from_elsewhere(&console).await, 200);
    // Every half-sent connection is closed: refused at once over the per-address cap, or
    // timed out after the 1 s header timeout. Without the timeout they stay open forever.
    for (i, tcp) in flood.iter_mut().enumerate() {
        let closed = until_closed(tcp, Duration::from_secs(10)).await;
        assert!(
            closed.is_some(),
            "half-sent connection {i} still open after 10 s"
        );
    }
    assert_eq!(healthz_from_elsewhere(&console).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_over_the_per_address_cap_gets_503() {
    let console = console("header_read_secs = 60\nmax_connections_per_address = 8\n").await;
    let addr = addr_of(&console);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(half_sent(addr).await);
    }
    // It sends nothing: unread bytes would make the close a reset that can swallow the 503.
    let mut over = TcpStream::connect(addr).await.unwrap();
    let answer = until_closed(&mut over, Duration::from_secs(5))
        .await
        .expect("the 9th connection from one address is closed at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    // Another address is not held to the first one's count.
    assert_eq!(healthz_from_elsewhere(&console).await, 200);
    // The held ones are still open (the header timeout is a minute away).
    let mut byte = [0u8; 1];
    let still = timeout(Duration::from_millis(200), held[0].read(&mut byte)).await;
    assert!(still.is_err(), "a connection under the cap was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_over_the_total_cap_gets_503() {
    let console = console("header_read_secs = 60\nmax_connections = 4\n").await;
    let addr = addr_of(&console);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_sent(addr).await);
    }
    // From another address: the total counts everyone.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(OTHER, 0)).unwrap();
    let mut over = socket.connect(addr).await.unwrap();
    let answer = until_closed(&mut over, Duration::from_secs(5))
        .await
        .expect("the 5th connection is closed at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    drop(held);
}
