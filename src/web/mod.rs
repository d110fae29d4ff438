//! `huifang serve`: the web console (pages for supervisors and agents, see [`pages`]), the
//! JSON API they use, and the escalation worker. Thin: every handler parses, calls the domain and maps errors.

mod accounts;
mod agent;
mod agent_inbound;
mod audit;
pub mod auth;
mod campaign_attempts;
mod campaign_form;
mod campaigns;
mod error;
mod live;
mod login_guard;
mod lookup;
mod messages;
pub mod openapi;
pub mod pages;
mod password;
mod reports;
mod security_headers;
mod server;
mod ticket_pages;
mod tickets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::get;
use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::inbound::AnswerTarget;
use crate::store::Store;
use crate::tickets::TicketDesk;

pub use error::ApiError;
pub use live::LiveHub;
pub use login_guard::{ClientAddress, LoginGuard};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default from `[http] listen`, else 127.0.0.1:8080); port 0 picks one.
    #[arg(long)]
    pub listen: Option<String>,
    /// Seconds between passes of the escalation worker (0 turns it off).
    #[arg(long, default_value_t = 30)]
    pub escalate_every: u64,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ticket operations (with the store and the clock).
    pub desk: TicketDesk,
    /// The secret of the SMS reply webhook (`[sms] inbound_token`); none: the webhook is off.
    pub sms_inbound_token: Option<String>,
    /// The page templates.
    pub tera: Arc<tera::Tera>,
    /// Whether the session cookie is marked `Secure` (`[http] secure_cookies`).
    pub secure_cookies: bool,
    /// Where relative paths of definitions made in the console (survey scripts, CSV lists,
    /// message templates) are taken from: `campaigns/` of the directory `serve` started in.
    pub campaigns_dir: PathBuf,
    /// Turns true when the server stops; long-lived responses (the wallboard's event stream)
    /// end then, so they do not hold up the graceful shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// The login throttle (attempt rate and failure back-off per address and account).
    pub login_guard: Arc<login_guard::LoginGuard>,
    /// Days the audit log keeps its rows (`[audit] retention_days`).
    pub audit_retention_days: i64,
    /// The live streams' shared feeds and each session's count of open streams.
    pub live: Arc<live::LiveHub>,
    /// The hotline's service-level threshold, from the `[[inbound]]` menus (20 s without):
    /// what `/reports` and the wallboard judge the service level by.
    pub answer_within: Arc<AnswerTarget>,
}

impl AppState {
    /// The store.
    pub fn store(&self) -> &Store {
        self.desk.store()
    }

    /// Resolves when the server is stopping (never, when nobody can stop it): event streams
    /// end then.
    pub async fn stopping(&self) {
        let mut shutdown = self.shutdown.clone();
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The routes of the API and the pages, every answer with the security headers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(tickets::router())
        .merge(lookup::router())
        .merge(messages::router())
        .merge(auth::router())
        .merge(agent::router())
        .merge(agent_inbound::router())
        .merge(openapi::router())
        .merge(pages::router())
        .merge(ticket_pages::router())
        .merge(reports::router())
        .merge(campaigns::router())
        .merge(campaign_attempts::router())
        .merge(audit::router())
        .merge(accounts::router())
        .merge(password::router())
        .with_state(state);
    security_headers::apply(routes)
}

/// The folder, relative to the working directory, of the campaign definitions and their
/// scripts, lists and templates.
pub const CAMPAIGNS_DIR: &str = "campaigns";

/// A running server: bound first, so its real address is known (tests listen on port 0).
pub struct Application {
    addr: SocketAddr,
    listener: TcpListener,
    state: AppState,
    discipline: server::Discipline,
    request_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store and binds the listener.
    pub async fn build(
        config: &Config,
        listen: &str,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        let tls = match (&config.http.tls_cert, &config.http.tls_key) {
            (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("[http] tls_cert and tls_key go together: set both or neither"),
        };
        let store = Store::open(config.database_url()).await?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let answer_within = AnswerTarget::of_config(&config.inbound).map_err(|e| {
            anyhow::anyhow!("the hotline's service-level target, from the [[inbound]] menus:\n{e}")
        })?;
        let state = AppState {
            desk: TicketDesk::new(store, clock, config.sla.clone()),
            sms_inbound_token: config.sms.inbound_token.clone(),
            tera: pages::templates().context("the console's page templates")?,
            secure_cookies: config.http.secure_cookies,
            campaigns_dir: std::path::absolute(CAMPAIGNS_DIR)
                .context("cannot resolve the campaigns folder")?,
            // Replaced by the real signal in `run`.
            shutdown: watch::channel(false).1,
            login_guard: Arc::default(),
            audit_retention_days: config.audit.retention_days,
            live: Arc::new(live::LiveHub::new(config.http.streams_per_session)),
            answer_within: Arc::new(answer_within),
        };
        Ok(Application {
            addr,
            listener,
            state,
            discipline: server::Discipline::from(&config.http),
            request_timeout: Duration::from_secs(config.http.request_secs.max(1)),
            tls,
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when the console serves TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let state = AppState {
            shutdown: shutdown.clone(),
            ..self.state
        };
        tokio::spawn(audit::pruner(state.clone(), shutdown.clone()));
        let mut app = router(state).layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            self.request_timeout,
        ));
        if self.tls.is_some() {
            // Browsers that once reached the console over HTTPS never try plain HTTP again.
            app = app.layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            ));
        }
        server::serve(self.listener, app, self.discipline, self.tls, shutdown).await;
        Ok(())
    }

    /// The desk the server works on.
    pub fn desk(&self) -> &TicketDesk {
        &self.state.desk
    }
}

/// `huifang serve`: the API and the escalation worker until Ctrl-C.
pub async fn serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let listen = args.listen.unwrap_or_else(|| config.http.listen.clone());
    let app = Application::build(&config, &listen, Arc::new(SystemClock)).await?;
    let (stop, shutdown) = watch::channel(false);
    let worker = (args.escalate_every > 0).then(|| {
        tokio::spawn(escalation_worker(
            app.desk().clone(),
            args.escalate_every,
            shutdown.clone(),
        ))
    });
    eprintln!("huifang serving on {}://{}", app.scheme(), app.addr());
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    app.run(shutdown).await?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    tracing::info!("server stopped");
    Ok(())
}

async fn escalation_worker(desk: TicketDesk, every: u64, mut shutdown: watch::Receiver<bool>) {
    loop {
        match desk.escalate_overdue().await {
            Ok(done) => {
                for e in done {
                    tracing::info!(ticket = e.ticket_id, level = %e.level, reason = %e.reason, "escalated");
                }
            }
            Err(err) => tracing::error!(%err, "escalation pass failed; retrying next round"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tracing::info!("escalation worker stopped");
}

/// How a JSON body of the API fared: the value's type name, and `Ok` or the rejection (status
/// and message) the client would get.
pub(crate) type BodyOutcome = (&'static str, Result<(), (axum::http::StatusCode, String)>);

/// Decodes `bytes` as every JSON body the API's handlers take, with axum's own `Json` decoder
/// as the extractors do, then runs the checks a handler makes before it needs the store. For
/// the fuzz targets (`fuzz/`), through [`crate::fuzzing`]; a new `Json<...>` handler belongs here.
pub(crate) fn decode_api_bodies(bytes: &[u8]) -> Vec<BodyOutcome> {
    use axum::Json;
    use serde::de::DeserializeOwned;

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (axum::http::StatusCode, String)> {
        Json::<T>::from_bytes(bytes)
            .map(|Json(value)| value)
            .map_err(|e| (e.status(), e.body_text()))
    }
    fn done<T>(
        r: Result<T, (axum::http::StatusCode, String)>,
    ) -> Result<(), (axum::http::StatusCode, String)> {
        r.map(|_| ())
    }
    let mut out: Vec<BodyOutcome> = Vec::new();
    out.push(("ApiLogin", done(decode::<auth::ApiLogin>(bytes))));
    out.push((
        "PasswordBody",
        done(decode::<password::PasswordBody>(bytes)),
    ));
    out.push(("StepBody", done(decode::<campaigns::StepBody>(bytes))));
    let definition = decode::<campaigns::DefinitionBody>(bytes).map(|body| {
        let _ = crate::campaigns::Campaign::parse(&body.definition, "the request body");
    });
    out.push(("DefinitionBody", definition));
    out.push(("PresenceBody", done(decode::<agent::PresenceBody>(bytes))));
    let preview = decode::<agent::PreviewBody>(bytes).map(|body| {
        let _ = crate::dialer::preview::Decision::parse(&body.decision);
    });
    out.push(("PreviewBody", preview));
    let wrap_up = decode::<crate::desktop::WrapUp>(bytes).map(|body| {
        let _ = body.callback_at.as_deref().map(crate::desktop::parse_when);
    });
    out.push(("WrapUp", wrap_up));
    out.push(("ActBody", done(decode::<tickets::ActBody>(bytes))));
    // `POST /api/tickets`: any JSON value, an `actor` added to an object, then the ticket.
    let ticket = decode::<serde_json::Value>(bytes).and_then(|mut body| {
        if let Some(fields) = body.as_object_mut() {
            fields
                .entry("actor")
                .or_insert_with(|| serde_json::Value::String("agent".into()));
        }
        let again = serde_json::to_vec(&body).expect("a JSON value serialises");
        done(decode::<crate::tickets::OpenTicket>(&again))
    });
    out.push(("OpenTicket", ticket));
    let reply = decode::<messages::SmsReply>(bytes).map(|reply| {
        let _ = crate::phone::Phone::parse(&reply.from);
        let _ = (reply.to.len(), crate::channels::text::intent(&reply.text));
    });
    out.push(("SmsReply", reply));
    out
}

/// The reply webhook's body (`POST /api/sms/inbound`) as its handler decodes it:
/// `(from, to, text)`. For the fuzz targets, through [`crate::fuzzing`].
pub(crate) fn decode_sms_reply(
    bytes: &[u8],
) -> Result<(String, String, String), (axum::http::StatusCode, String)> {
    axum::Json::<messages::SmsReply>::from_bytes(bytes)
        .map(|axum::Json(reply)| (reply.from, reply.to, reply.text))
        .map_err(|e| (e.status(), e.body_text()))
}
