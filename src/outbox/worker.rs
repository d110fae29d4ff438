//! The outbox worker: sends queued rows through the configured gateways and writes down what
//! becomes of them — for tickets' dispatch notices and campaigns' messages alike.
//!
//! Each pass settles rows other nodes left behind, applies delivery receipts, gives up on
//! receipts that never came, then claims due rows (a lease, so several workers can share one
//! PostgreSQL database) and sends them, at most `sms_window` SMS and `email_concurrency` emails
//! at once, each gateway paced by its own `governor` limiter. Right before a row goes out the
//! do-not-call list and the owner's consent are read again, so an opt-out that arrived a
//! second earlier is honoured. Transient failures are retried with a doubling back-off (the
//! gateway's own "retry after" when it gives one), up to `max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use tokio::sync::{Mutex, Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::delivery::{self, Claimed, Holder};
use super::inbound;
use crate::channels::email::{Email, EmailGateway};
use crate::channels::http_sms::HttpSmsGateway;
use crate::channels::smpp::{InboundEvent, SmppGateway};
use crate::channels::{Accepted, Inbound, SendError};
use crate::clock::Clock;
use crate::config::{Config, OutboxConfig};
use crate::contacts::dnc;
use crate::on_pool;
use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::{Channel, DamagedRow, MessageState};

/// Why the worker cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Both `[sms.smpp]` and `[sms.http]` are configured.
    #[error("configure one SMS gateway: [sms.smpp] or [sms.http], not both")]
    TwoSmsGateways,
    /// A gateway's configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error("outbox database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The SMS gateway in use.
#[derive(Debug, Clone)]
enum SmsGateway {
    Smpp(Arc<SmppGateway>),
    Http(Box<HttpSmsGateway>),
}

impl SmsGateway {
    fn name(&self) -> &'static str {
        match self {
            SmsGateway::Smpp(_) => "smpp",
            SmsGateway::Http(_) => "http",
        }
    }

    /// Segments the gateway will count for `text` (each is paced).
    fn segment_count(&self, text: &str) -> usize {
        match self {
            SmsGateway::Smpp(g) => g.segment_count(text),
            SmsGateway::Http(_) => 1,
        }
    }

    async fn send(&self, to: &str, text: &str) -> Result<Accepted, SendError> {
        match self {
            SmsGateway::Smpp(g) => g.send(to, text).await,
            SmsGateway::Http(g) => g.send(to, text).await,
        }
    }
}

/// One outbox worker (a node may run one beside its dialer).
#[derive(Debug)]
pub struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    node: String,
    config: OutboxConfig,
    sms: Option<(SmsGateway, DefaultDirectRateLimiter)>,
    email: Option<(EmailGateway, DefaultDirectRateLimiter)>,
    inbound: Mutex<Option<mpsc::Receiver<InboundEvent>>>,
    wake: Notify,
}

/// How long a claimed row stays leased to this worker.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Rows claimed per pass.
const BATCH: i64 = 100;
/// Longest back-off between tries.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Rows claimed (each then sent, retried, suppressed or failed).
    pub claimed: usize,
    /// Receipts applied.
    pub receipts: usize,
}

impl Worker {
    /// A worker with the gateways `config` names. Without any, it only applies receipts and
    /// settles leftovers (and says so once).
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        node: impl Into<String>,
        config: &Config,
    ) -> Result<Worker, WorkerError> {
        let (tx, rx) = mpsc::channel(1024);
        let sms_rate = || {
            crate::limits::limiter("[sms] messages_per_second", config.sms.messages_per_second)
                .map_err(|e| WorkerError::Config(e.to_string()))
        };
        let sms = match (&config.sms.smpp, &config.sms.http) {
            (Some(_), Some(_)) => return Err(WorkerError::TwoSmsGateways),
            (Some(smpp), None) => Some((
                SmsGateway::Smpp(SmppGateway::new(smpp.clone(), tx)),
                sms_rate()?,
            )),
            (None, Some(http)) => Some((
                SmsGateway::Http(Box::new(
                    HttpSmsGateway::new(http.clone())
                        .map_err(|e| WorkerError::Config(e.to_string()))?,
                )),
                sms_rate()?,
            )),
            (None, None) => None,
        };
        let email = match &config.email {
            Some(email) => Some((
                EmailGateway::new(email).map_err(|e| WorkerError::Config(e.to_string()))?,
                crate::limits::limiter("[outbox] email_per_second", config.outbox.email_per_second)
                    .map_err(|e| WorkerError::Config(e.to_string()))?,
            )),
            None => None,
        };
        Ok(Worker {
            store,
            clock,
            node: node.into(),
            config: config.outbox.clone(),
            sms,
            email,
            inbound: Mutex::new(Some(rx)),
            wake: Notify::new(),
        })
    }

    /// The channels this worker can send on.
    pub fn channels(&self) -> Vec<Channel> {
        let mut channels = Vec::new();
        if self.sms.is_some() {
            channels.push(Channel::Sms);
        }
        if self.email.is_some() {
            channels.push(Channel::Email);
        }
        channels
    }

    /// Settles what this node left behind in an earlier life (see [`delivery::recover`]).
    pub async fn recover(&self) -> Result<(u64, u64), WorkerError> {
        let (requeued, unknown) =
            delivery::recover(&self.store, Holder::Node(&self.node), self.clock.now()).await?;
        if requeued + unknown > 0 {
            tracing::warn!(node = %self.node, requeued, unknown, "outbox rows left by an earlier run settled");
        }
        Ok((requeued, unknown))
    }

    /// Connects the SMPP session now, so receipts and replies flow even before the first send.
    pub async fn connect(&self) {
        if let Some((SmsGateway::Smpp(g), _)) = &self.sms
            && let Err(e) = g.connect().await
        {
            tracing::warn!("{e}");
        }
    }

    /// Runs until `shutdown` turns true: recovery, then passes.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), WorkerError> {
        self.recover().await?;
        if self.sms.is_none() && self.email.is_none() {
            tracing::warn!("no [sms] or [email] gateway configured: messages stay queued");
        }
        self.connect().await;
        let reports = tokio::spawn(self.clone().read_inbound());
        loop {
            if *shutdown.borrow() {
                break;
            }
            // A database hiccup pauses the worker; it does not end it (its rows stay leased
            // and are taken up again).
            let pass = match self.pass().await {
                Ok(pass) => pass,
                Err(e) => {
                    tracing::error!("outbox pass failed, retrying in 2 s: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            if pass.claimed == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = self.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        reports.abort();
        Ok(())
    }

    /// Stores each receipt and reply the SMSC reports, then lets it acknowledge them.
    async fn read_inbound(self: Arc<Self>) {
        // The receiver stays in the worker (this task holds its lock while it runs), so a
        // worker stopped and run again still hears the SMSC.
        let mut guard = self.inbound.lock().await;
        let Some(rx) = guard.as_mut() else {
            return;
        };
        while let Some(event) = rx.recv().await {
            let now = self.clock.now();
            let stored = match &event.inbound {
                Inbound::Receipt(receipt) => {
                    delivery::record_receipt(&self.store, receipt, now).await
                }
                Inbound::Reply { from, to, text } => {
                    inbound::record_reply(&self.store, from, to, text, now)
                        .await
                        .map(drop)
                }
            };
            match stored {
                Ok(()) => {
                    let _ = event.stored.send(());
                    self.wake.notify_one();
                }
                // Not acknowledged: the SMSC delivers it again later.
                Err(e) => tracing::error!(?event.inbound, "cannot store an SMSC report: {e}"),
            }
        }
    }

    /// One pass: leftovers of other nodes, receipts, then one batch of due rows.
    pub async fn pass(self: &Arc<Self>) -> Result<Pass, WorkerError> {
        let now = self.clock.now();
        delivery::recover(&self.store, Holder::Expired(now), now).await?;
        let receipts = delivery::apply_receipts(&self.store, now).await?;
        let wait = chrono::TimeDelta::hours(self.config.receipt_wait_hours.max(1));
        delivery::give_up_receipts(&self.store, wait, now).await?;
        let channels = self.channels();
        if channels.is_empty() {
            return Ok(Pass {
                claimed: 0,
                receipts,
            });
        }
        let claimed =
            delivery::claim(&self.store, &self.node, &channels, now, now + LEASE, BATCH).await?;
        let count = claimed.len();
        let sms_window = Arc::new(Semaphore::new(self.config.sms_window.max(1)));
        let email_window = Arc::new(Semaphore::new(self.config.email_concurrency.max(1)));
        let mut sends = JoinSet::new();
        for row in claimed {
            let row = match row {
                Ok(row) => row,
                Err(damaged) => {
                    self.refuse_damaged(&damaged).await?;
                    continue;
                }
            };
            let window = match row.channel {
                Channel::Email => email_window.clone(),
                _ => sms_window.clone(),
            };
            let Ok(permit) = window.acquire_owned().await else {
                break;
            };
            let worker = self.clone();
            sends.spawn(async move {
                let id = row.message_id;
                if let Err(e) = worker.send_one(row).await {
                    tracing::error!(message = id, "outbox: {e}");
                }
                drop(permit);
            });
        }
        while sends.join_next().await.is_some() {}
        Ok(Pass {
            claimed: count,
            receipts,
        })
    }

    /// Ends a claimed row that cannot be read (a channel outside the vocabulary) failed, its
    /// error naming the row and the word: sent on no guessed channel, and it does not hold
    /// up the rest of the batch.
    async fn refuse_damaged(&self, damaged: &DamagedRow) -> Result<(), WorkerError> {
        tracing::error!("outbox: {damaged}");
        let why = format!("not sent: {damaged}");
        let holder = Holder::Node(&self.node);
        let now = self.clock.now();
        delivery::end(
            &self.store,
            damaged.id,
            holder,
            MessageState::Failed,
            &why,
            &[],
            now,
        )
        .await?;
        Ok(())
    }

    /// Sends one claimed row and writes down what became of it.
    async fn send_one(&self, row: Claimed) -> Result<(), WorkerError> {
        let channel = row.channel;
        if let Some(reason) = self.blocked(&row, channel).await? {
            delivery::end(
                &self.store,
                row.message_id,
                Holder::Node(&self.node),
                MessageState::Suppressed,
                &reason,
                &[],
                self.clock.now(),
            )
            .await?;
            return Ok(());
        }
        match (channel, &self.sms, &self.email) {
            (Channel::Email, _, Some((_, limit))) => limit.until_ready().await,
            // An SMSC's rate counts segments, not messages.
            (Channel::Sms, Some((gateway, limit)), _) => {
                for _ in 0..gateway.segment_count(&row.body) {
                    limit.until_ready().await;
                }
            }
            _ => {}
        }
        let now = self.clock.now();
        if !delivery::mark_sending(&self.store, row.message_id, &self.node, now, now + LEASE)
            .await?
        {
            tracing::warn!(
                message = row.message_id,
                "outbox lease lost; another worker has it"
            );
            return Ok(());
        }
        let (gateway, result) = match (channel, &self.sms, &self.email) {
            (Channel::Email, _, Some((gateway, _))) => {
                ("smtp", self.send_email(gateway, &row).await)
            }
            (Channel::Sms, Some((gateway, _)), _) => (
                gateway.name(),
                gateway.send(&row.recipient, &row.body).await,
            ),
            _ => (
                "none",
                Err(SendError::permanent(format!(
                    "no gateway for channel {channel}"
                ))),
            ),
        };
        let now = self.clock.now();
        match result {
            Ok(accepted) => {
                delivery::record_accepted(&self.store, row.message_id, gateway, &accepted, now)
                    .await?;
            }
            Err(SendError::Transient {
                reason,
                retry_after,
            }) => {
                let tries = row.attempts + 1;
                if tries >= self.config.max_attempts {
                    let why = format!("gave up after {tries} tries: {reason}");
                    delivery::end(
                        &self.store,
                        row.message_id,
                        Holder::Node(&self.node),
                        MessageState::Failed,
                        &why,
                        &[],
                        now,
                    )
                    .await?;
                } else {
                    let at = now + self.backoff(tries, retry_after);
                    delivery::requeue(&self.store, row.message_id, &self.node, at, &reason).await?;
                }
            }
            Err(SendError::Permanent { reason, accepted }) => {
                delivery::end(
                    &self.store,
                    row.message_id,
                    Holder::Node(&self.node),
                    MessageState::Failed,
                    &reason,
                    &accepted,
                    now,
                )
                .await?;
            }
            Err(SendError::Ambiguous { reason, accepted }) => {
                tracing::warn!(
                    message = row.message_id,
                    "{reason}; marked unknown, not resent"
                );
                delivery::end(
                    &self.store,
                    row.message_id,
                    Holder::Node(&self.node),
                    MessageState::Unknown,
                    &reason,
                    &accepted,
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The wait before try `tries + 1`: `retry_secs` doubled per try, at most an hour, never
    /// shorter than the gateway asked for.
    fn backoff(&self, tries: i64, retry_after: Option<Duration>) -> chrono::TimeDelta {
        let doublings = u32::try_from(tries.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        let ours = Duration::from_secs(self.config.retry_secs.max(1))
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF);
        let wait = ours.max(retry_after.unwrap_or_default());
        chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::hours(1))
    }

    async fn send_email(
        &self,
        gateway: &EmailGateway,
        row: &Claimed,
    ) -> Result<Accepted, SendError> {
        let message_id = format!("<huifang-outbox-{}@huifang>", row.message_id);
        let link = row
            .unsubscribe_token
            .as_deref()
            .and_then(|t| self.config.unsubscribe_link(t));
        // The link goes in a footer of every campaign email as well as in List-Unsubscribe.
        let (text, html) = match (&link, row.campaign_contact_id) {
            (Some(link), Some(_)) => (
                format!("{}\n\n退订 / Unsubscribe: {link}\n", row.body.trim_end()),
                row.html_body.as_deref().map(|h| {
                    format!("{h}\n<p style=\"font-size:small\"><a href=\"{link}\">退订 / Unsubscribe</a></p>\n")
                }),
            ),
            _ => (row.body.clone(), row.html_body.clone()),
        };
        gateway
            .send(&Email {
                to: &row.recipient,
                subject: row.subject.as_deref().unwrap_or(""),
                text: &text,
                html: html.as_deref(),
                message_id: &message_id,
                unsubscribe: link.as_deref(),
            })
            .await
    }

    /// Why the row must not go out now (the owner opted out or withdrew consent since it was
    /// queued), if so. Staff notices (dispatch, escalation) are work, not marketing: exempt.
    async fn blocked(
        &self,
        row: &Claimed,
        channel: Channel,
    ) -> Result<Option<String>, WorkerError> {
        if row.staff_id.is_some() {
            return Ok(None);
        }
        let contact: Option<(String, Option<i64>, String)> = match row.campaign_contact_id {
            Some(id) => on_pool!(&self.store, |pool| {
                sqlx::query_as(
                    "select c.phone, c.owner_id, k.code from campaign_contacts c
                       join campaigns k on k.campaign_id = c.campaign_id
                      where c.campaign_contact_id = $1",
                )
                .bind(id)
                .fetch_optional(pool)
                .await
            })?,
            None => None,
        };
        let (phone, owner, scope) = match (&contact, channel) {
            (Some((phone, owner, code)), _) => (Some(phone.clone()), *owner, code.as_str()),
            (None, Channel::Sms) => (Some(row.recipient.clone()), None, ""),
            (None, _) => (None, None, ""),
        };
        if let Some(phone) = phone.as_deref().and_then(|p| Phone::parse(p).ok())
            && dnc::is_blocked_in(&self.store, phone.as_str(), channel, scope).await?
        {
            return Ok(Some(format!(
                "{} is on the do-not-{channel} list",
                phone.as_str()
            )));
        }
        if let Some(owner) = owner
            && dnc::consent_withdrawn(&self.store, owner, channel).await?
        {
            return Ok(Some(format!("the owner withdrew consent to {channel}")));
        }
        Ok(None)
    }

    /// Runs passes until nothing is queued and no receipt is awaited (at most `patience`), for
    /// `huifang outbox run --until-idle`, the demo and tests.
    pub async fn drain(self: &Arc<Self>, patience: Duration) -> Result<(), WorkerError> {
        self.recover().await?;
        self.connect().await;
        let reports = tokio::spawn(self.clone().read_inbound());
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let pass = self.pass().await?;
            if pass.claimed == 0 && self.idle().await? {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("outbox still busy after {patience:?}; stopping");
                break;
            }
            if pass.claimed == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = self.wake.notified() => {}
                }
            }
        }
        reports.abort();
        Ok(())
    }

    /// Nothing queued on our channels (not even for a later retry), nothing in flight, no
    /// receipt awaited.
    async fn idle(&self) -> Result<bool, WorkerError> {
        let list = self
            .channels()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let busy: i64 = on_pool!(&self.store, |pool| {
            sqlx::query_scalar(
                "select count(*) from outbox
                  where ',' || $1 || ',' like '%,' || channel || ',%'
                    and (state in ('queued', 'claimed', 'sending')
                         or (state = 'sent' and ended_at is null))",
            )
            .bind(&list)
            .fetch_one(pool)
            .await
        })?;
        Ok(busy == 0)
    }
}
