//! The console's listener: every accepted connection must find room under the caps (in total
//! and per client address, else a 503 and close), gets hyper's header-read timeout, an idle
//! watchdog and, with `[http] tls_cert`/`tls_key`, TLS (rustls with ring); then the router
//! answers it. `axum::serve` has none of these knobs, hence this accept loop.
//!
//! HTTP/1.1 only: hyper's HTTP/1 header timer also runs while a kept-alive connection waits
//! for its next request, so no connection sits idle past `header_read_secs` between requests.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::Service;

use crate::config::HttpConfig;

/// The limits every connection is held to (`[http]`).
#[derive(Debug, Clone)]
pub(super) struct Discipline {
    header_read: Duration,
    idle: Duration,
    max_connections: usize,
    max_per_address: usize,
}

impl From<&HttpConfig> for Discipline {
    fn from(http: &HttpConfig) -> Discipline {
        Discipline {
            header_read: Duration::from_secs(http.header_read_secs.max(1)),
            idle: Duration::from_secs(http.idle_secs.max(1)),
            max_connections: http.max_connections.max(1),
            max_per_address: http.max_connections_per_address.max(1),
        }
    }
}

/// What a connection refused for want of room is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
retry-after: 5\r\ncontent-type: text/plain\r\ncontent-length: 22\r\n\r\ntoo many connections\r\n";

/// Serves `router` on `listener` until `shutdown` turns true, then lets open connections
/// finish (the event streams end on the same signal).
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    discipline: Discipline,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Slots::new(&discipline));
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("console accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        let Some(slot) = Slots::take(&slots, peer.ip()) else {
            refuse(tcp, peer, tls.is_some());
            continue;
        };
        let conn = Conn {
            peer,
            router: router.clone(),
            discipline: discipline.clone(),
            _slot: slot,
        };
        tokio::spawn(conn.run(tcp, tls.clone(), graceful.watcher()));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Resolves when `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Closes a connection there is no room for: a plain one hears 503 first (a TLS one cannot
/// be told before its handshake, so it is just closed).
fn refuse(tcp: TcpStream, peer: SocketAddr, tls: bool) {
    tracing::debug!(%peer, "console connection refused: too many connections");
    if tls {
        return;
    }
    tokio::spawn(async move {
        let mut tcp = tcp;
        let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(REFUSAL)).await;
        let _ = tcp.shutdown().await;
    });
}

/// The open connections, in total and per client address.
#[derive(Debug)]
struct Slots {
    total: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
}

/// One connection's room; given back when it closes.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Slots {
    fn new(d: &Discipline) -> Slots {
        Slots {
            total: Arc::new(Semaphore::new(d.max_connections)),
            per_address: Mutex::new(HashMap::new()),
            max_per_address: d.max_per_address,
        }
    }

    fn take(slots: &Arc<Slots>, ip: IpAddr) -> Option<Slot> {
        let permit = slots.total.clone().try_acquire_owned().ok()?;
        let mut open = slots.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= slots.max_per_address {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: slots.clone(),
            ip,
            _permit: permit,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// One accepted connection.
struct Conn {
    peer: SocketAddr,
    router: Router,
    discipline: Discipline,
    _slot: Slot,
}

impl Conn {
    async fn run(self, tcp: TcpStream, tls: Option<TlsAcceptor>, watcher: Watcher) {
        let _ = tcp.set_nodelay(true);
        let activity = Activity::new();
        let io = Tracked {
            io: tcp,
            activity: activity.clone(),
        };
        let idle = activity.clone();
        let limit = self.discipline.idle;
        let work = async {
            match tls {
                None => self.http(TokioIo::new(io), watcher).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(io);
                    match tokio::time::timeout(self.discipline.header_read, handshake).await {
                        Ok(Ok(stream)) => self.http(TokioIo::new(stream), watcher).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %self.peer, "TLS handshake failed: {e}")
                        }
                        Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
                    }
                }
            }
        };
        tokio::select! {
            () = work => {}
            () = idle.idle_for(limit) => tracing::debug!(peer = %self.peer, "idle connection closed"),
        }
    }

    async fn http<I>(&self, io: I, watcher: Watcher)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let router = self.router.clone();
        let peer = self.peer;
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // Handlers may ask for the client's address as with axum::serve's connect info.
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(req)
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.discipline.header_read)
            .serve_connection(io, service);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(peer = %self.peer, "console connection ended: {e}");
        }
    }
}

/// When a connection last moved a byte either way.
#[derive(Debug, Clone)]
struct Activity {
    epoch: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = self.epoch.elapsed().saturating_sub(last);
            if quiet >= limit {
                return;
            }
            tokio::time::sleep(limit - quiet).await;
        }
    }
}

/// A socket that notes its [`Activity`].
struct Tracked {
    io: TcpStream,
    activity: Activity,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The TLS acceptor of `[http] tls_cert`/`tls_key` (PEM): rustls with ring, HTTP/1.1 by ALPN.
pub(super) fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("rustls protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate does not go with the key")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
