//! SMS over SMPP 3.4 with `rusmppc` (the maintained tokio SMPP client: sequence numbers,
//! response time-outs, enquire_link keep-alive) and `rusmpp`'s codec and multipart helpers.
//!
//! One transceiver session per gateway, opened on first use and re-opened with exponential
//! backoff (1 s doubling to 60 s) when it drops. Chinese text goes as UCS-2 (data coding 8),
//! plain text as the GSM default alphabet; a text too long for one SMS is split into segments
//! with a concatenation header (16-bit reference), each acknowledged with its own id.
//! Delivery receipts and owners' replies arrive as `deliver_sm`; each is handed to the worker
//! as an [`InboundEvent`] and answered with `deliver_sm_resp` only once the worker wrote it
//! down, so a crash makes the SMSC deliver it again rather than lose it.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rusmpp::extra::concatenation::SubmitSmMultipartExt;
use rusmpp::extra::encoding::ucs2::Ucs2;
use rusmpp::pdus::{BindTransceiver, DeliverSm, DeliverSmResp, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{CommandStatus, Pdu};
use rusmppc::{Client, ConnectionBuilder, Event};
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Accepted, Inbound, SendError, receipt, text};

/// `[sms.smpp]`: the SMSC and our account there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    /// Speak TLS (`smpps://`).
    #[serde(default)]
    pub tls: bool,
    /// Our account (`system_id`).
    pub system_id: String,
    /// Its password.
    pub password: String,
    /// `system_type`, when the SMSC wants one.
    #[serde(default)]
    pub system_type: String,
    /// The sender number owners see (our 400 number or a short code).
    pub source_addr: String,
    /// Ask for delivery receipts (default true).
    #[serde(default = "yes")]
    pub receipts: bool,
    /// Seconds between enquire_link keep-alives (default 30).
    #[serde(default = "default_enquire_link")]
    pub enquire_link_secs: u64,
    /// Seconds to wait for an SMSC answer (default 10).
    #[serde(default = "default_response_timeout")]
    pub response_timeout_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_enquire_link() -> u64 {
    30
}
fn default_response_timeout() -> u64 {
    10
}

/// A report from the gateway with the promise to acknowledge it once it is stored.
#[derive(Debug)]
pub struct InboundEvent {
    /// The receipt or reply.
    pub inbound: Inbound,
    /// Send `()` once it is written down; the SMSC then gets its `deliver_sm_resp`.
    pub stored: oneshot::Sender<()>,
}

/// The SMPP gateway; cheap to share (`Arc`).
#[derive(Debug)]
pub struct SmppGateway {
    config: SmppConfig,
    inbound: mpsc::Sender<InboundEvent>,
    session: Mutex<Session>,
    reference: AtomicU16,
}

#[derive(Debug, Default)]
struct Session {
    client: Option<Client>,
    /// Counts the sessions opened, so a send that failed on an old one does not drop a newer.
    generation: u64,
    failures: u32,
    not_before: Option<Instant>,
    /// Why the last connection attempt failed (repeated while backing off).
    last_error: String,
}

/// How often a later segment of a long SMS is offered again when the SMSC says "not now".
const SEGMENT_TRIES: u32 = 5;

/// Error statuses that mean "not now" rather than "never".
fn is_transient(status: CommandStatus) -> bool {
    matches!(
        status,
        CommandStatus::EsmeRthrottled
            | CommandStatus::EsmeRmsgqful
            | CommandStatus::EsmeRsyserr
            | CommandStatus::EsmeRinvbndsts
    )
}

impl SmppGateway {
    /// A gateway that reports receipts and replies on `inbound`. Nothing connects yet.
    pub fn new(config: SmppConfig, inbound: mpsc::Sender<InboundEvent>) -> Arc<SmppGateway> {
        let seed = u16::try_from(std::process::id() % 65_536).unwrap_or(1);
        Arc::new(SmppGateway {
            config,
            inbound,
            session: Mutex::new(Session::default()),
            reference: AtomicU16::new(seed),
        })
    }

    /// Connects and binds now (a worker's start-up check); later sends reconnect on their own.
    pub async fn connect(self: &Arc<Self>) -> Result<(), SendError> {
        self.client().await.map(drop)
    }

    /// How many segments `body` takes (what the SMSC counts against its rate).
    pub fn segment_count(&self, body: &str) -> usize {
        self.segments("+1", body).map_or(1, |parts| parts.len())
    }

    /// The bound session and its generation, opening one if there is none (or it closed).
    async fn client(self: &Arc<Self>) -> Result<(Client, u64), SendError> {
        let mut session = self.session.lock().await;
        if let Some(client) = &session.client
            && client.is_active()
        {
            return Ok((client.clone(), session.generation));
        }
        session.client = None;
        if let Some(at) = session.not_before
            && at > Instant::now()
        {
            return Err(SendError::Transient {
                reason: format!("{} (next try after a back-off)", session.last_error),
                retry_after: Some(at - Instant::now()),
            });
        }
        match self.open().await {
            Ok(client) => {
                session.failures = 0;
                session.not_before = None;
                session.client = Some(client.clone());
                session.generation += 1;
                Ok((client, session.generation))
            }
            Err(reason) => {
                session.failures = session.failures.saturating_add(1);
                let backoff =
                    Duration::from_secs(1 << session.failures.min(6)).min(Duration::from_secs(60));
                session.not_before = Some(Instant::now() + backoff);
                session.last_error = reason.clone();
                tracing::warn!(smsc = %self.config.address, ?backoff, "{reason}");
                Err(SendError::Transient {
                    reason,
                    retry_after: Some(backoff),
                })
            }
        }
    }

    /// Connects, binds as a transceiver and starts the task that reads the SMSC's reports.
    async fn open(self: &Arc<Self>) -> Result<Client, String> {
        let c = &self.config;
        let scheme = if c.tls { "smpps" } else { "smpp" };
        let url = format!("{scheme}://{}", c.address);
        let (client, events) = ConnectionBuilder::new()
            .enquire_link_interval(Duration::from_secs(c.enquire_link_secs.max(1)))
            .enquire_link_response_timeout(Duration::from_secs(c.response_timeout_secs.max(1)))
            .response_timeout(Duration::from_secs(c.response_timeout_secs.max(1)))
            .disable_interface_version_check()
            .connect(&url)
            .await
            .map_err(|e| format!("cannot connect to SMSC {}: {e}", c.address))?;
        let bind = BindTransceiver::builder()
            .system_id(field("system_id", &c.system_id)?)
            .password(field("password", &c.password)?)
            .system_type(field("system_type", &c.system_type)?)
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        if let Err(e) = client.bind_transceiver(bind).await {
            let _ = client.close().await;
            return Err(format!(
                "SMSC {} refused to bind as `{}`: {}",
                c.address,
                c.system_id,
                describe(&e)
            ));
        }
        tracing::info!(smsc = %c.address, system_id = %c.system_id, "SMPP session bound");
        tokio::spawn(read_reports(client.clone(), events, self.inbound.clone()));
        Ok(client)
    }

    /// Submits one SMS (in as many segments as it needs) to `to` (E.164 or a local number).
    pub async fn send(self: &Arc<Self>, to: &str, body: &str) -> Result<Accepted, SendError> {
        let parts = self.segments(to, body)?;
        let (client, generation) = self.client().await?;
        let mut accepted = Vec::with_capacity(parts.len());
        let total = parts.len();
        let mut tries = 0;
        let mut parts = parts.into_iter().enumerate().peekable();
        while let Some((i, part)) = parts.peek().cloned() {
            match client.submit_sm(part).await {
                Ok(resp) => {
                    accepted.push(resp.message_id().as_str().to_string());
                    parts.next();
                    tries = 0;
                }
                Err(rusmppc::error::Error::UnexpectedResponse { response }) => {
                    let status = response.status;
                    let reason = format!(
                        "SMSC refused segment {} of {total}: {status:?} (0x{:08x})",
                        i + 1,
                        u32::from(status)
                    );
                    let retry_after =
                        (status == CommandStatus::EsmeRthrottled).then_some(Duration::from_secs(1));
                    if accepted.is_empty() && is_transient(status) {
                        return Err(SendError::Transient {
                            reason,
                            retry_after,
                        });
                    }
                    // A later segment of a message begun: the same segment again, a few
                    // times, rather than half a message (the SMSC refused it, nothing went).
                    if is_transient(status) && tries < SEGMENT_TRIES {
                        tries += 1;
                        tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1))).await;
                        continue;
                    }
                    return Err(SendError::Permanent { reason, accepted });
                }
                Err(e) => {
                    // The PDU may have reached the SMSC: we cannot know, so we never resend.
                    {
                        let mut session = self.session.lock().await;
                        if session.generation == generation {
                            session.client = None;
                        }
                    }
                    let _ = client.close().await;
                    return Err(SendError::Ambiguous {
                        reason: format!(
                            "no answer from SMSC for segment {} of {total}: {}",
                            i + 1,
                            describe(&e)
                        ),
                        accepted,
                    });
                }
            }
        }
        Ok(Accepted {
            provider_ids: accepted,
            receipt_expected: self.config.receipts,
        })
    }

    /// The `submit_sm` PDUs of one message: GSM default alphabet when the text allows it, else
    /// UCS-2; split with a concatenation header when it does not fit in one.
    fn segments(&self, to: &str, body: &str) -> Result<Vec<SubmitSm>, SendError> {
        let (ton, destination) = address(to);
        let (source_ton, source) = address(&self.config.source_addr);
        let octets = |what: &str, value: &str| {
            COctetString::from_str(value)
                .map_err(|e| SendError::permanent(format!("SMPP {what} `{value}`: {e}")))
        };
        let registered = if self.config.receipts {
            RegisteredDelivery::request_all()
        } else {
            RegisteredDelivery::default()
        };
        let reference = self.reference.fetch_add(1, Ordering::Relaxed);
        SubmitSm::builder()
            .source_addr_ton(source_ton)
            .source_addr_npi(Npi::Isdn)
            .source_addr(octets("source_addr", source)?)
            .dest_addr_ton(ton)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(octets("destination", destination)?)
            .esm_class(EsmClass::default())
            .registered_delivery(registered)
            .short_message(OctetString::empty())
            .build()
            .multipart(body)
            .reference_u16(reference)
            .gsm7bit_unpacked()
            .fallback(Ucs2::new())
            .build()
            .map_err(|e| SendError::permanent(format!("cannot encode the SMS text: {e}")))
    }
}

/// A configured text as an SMPP field of at most `MAX - 1` bytes, or why not.
fn field<const MIN: usize, const MAX: usize>(
    what: &str,
    value: &str,
) -> Result<COctetString<MIN, MAX>, String> {
    COctetString::from_str(value).map_err(|e| format!("SMPP {what} `{value}`: {e}"))
}

/// An address and its type of number: `+8613...` is international without the plus.
fn address(number: &str) -> (Ton, &str) {
    match number.strip_prefix('+') {
        Some(digits) => (Ton::International, digits),
        None => (Ton::Unknown, number),
    }
}

/// A client error in words (the SMSC's status, when it answered).
fn describe(e: &rusmppc::error::Error) -> String {
    match e {
        rusmppc::error::Error::UnexpectedResponse { response } => {
            format!(
                "{:?} (0x{:08x})",
                response.status,
                u32::from(response.status)
            )
        }
        other => other.to_string(),
    }
}

/// Reads the SMSC's reports until the session ends: each `deliver_sm` goes to the worker, and
/// is acknowledged once the worker stored it (or never, if it could not: the SMSC retries).
async fn read_reports(
    client: Client,
    mut events: impl futures_util::Stream<Item = Event> + Unpin,
    inbound: mpsc::Sender<InboundEvent>,
) {
    while let Some(event) = events.next().await {
        match event {
            Event::Incoming(command) => {
                let Some(Pdu::DeliverSm(sm)) = command.pdu() else {
                    continue;
                };
                let sequence = command.sequence_number;
                let Some(report) = read_deliver_sm(sm) else {
                    tracing::warn!(
                        ?sm,
                        "deliver_sm neither a receipt nor a reply; acknowledged and dropped"
                    );
                    let _ = client
                        .deliver_sm_resp(sequence, DeliverSmResp::default())
                        .await;
                    continue;
                };
                let (stored, written) = oneshot::channel();
                if inbound
                    .send(InboundEvent {
                        inbound: report,
                        stored,
                    })
                    .await
                    .is_err()
                {
                    // Nobody stores reports any more: unbound, the SMSC keeps them for later.
                    let _ = client.close().await;
                    break;
                }
                let client = client.clone();
                tokio::spawn(async move {
                    if written.await.is_ok() {
                        let _ = client
                            .deliver_sm_resp(sequence, DeliverSmResp::default())
                            .await;
                    }
                });
            }
            Event::Error(e) => tracing::warn!("SMPP session: {e}"),
        }
    }
    tracing::info!("SMPP session closed");
}

/// A receipt (esm_class with the MC delivery receipt bit) or an owner's reply.
pub(crate) fn read_deliver_sm(sm: &DeliverSm) -> Option<Inbound> {
    let esm = u8::from(sm.esm_class);
    let data_coding = u8::from(sm.data_coding);
    let mut receipted = None;
    let mut state = None;
    let mut payload = None;
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(id)) => receipted = Some(id.as_str().to_string()),
            Some(TlvValue::MessageState(s)) => state = Some(u8::from(*s)),
            Some(TlvValue::MessagePayload(p)) => payload = Some(p.value.as_ref().to_vec()),
            _ => {}
        }
    }
    let bytes = payload.unwrap_or_else(|| sm.short_message().as_ref().to_vec());
    let udhi = esm & 0x40 != 0;
    let body = text::decode(data_coding, udhi, &bytes);
    if esm & 0x3c == 0x04 {
        return receipt::parse(&body, receipted.as_deref(), state).map(Inbound::Receipt);
    }
    Some(Inbound::Reply {
        from: with_plus(sm.source_addr_ton, sm.source_addr.as_str()),
        to: sm.destination_addr.as_str().to_string(),
        text: body,
    })
}

/// An international number gets its `+` back.
fn with_plus(ton: Ton, number: &str) -> String {
    if ton == Ton::International && !number.starts_with('+') {
        format!("+{number}")
    } else {
        number.to_string()
    }
}
