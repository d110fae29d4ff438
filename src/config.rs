//! Configuration: an optional `huifang.toml`, then the environment (`DATABASE_URL`).
//!
//! Every field has a default, so no file is needed; a file with an unknown key or a bad value is
//! refused with the key and line named (the `toml` crate's error says both).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::vocab::Category;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://huifang.db";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid for this schema.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and key.
        source: Box<toml::de::Error>,
    },
}

/// Everything configurable.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the data lives; `DATABASE_URL` overrides it.
    pub database_url: Option<String>,
    /// Service-level clocks and escalation.
    pub sla: SlaPolicy,
    /// The HTTP server.
    pub http: HttpConfig,
    /// SIP trunks by name (`[trunks.main]`), used by `huifang call --trunk main` and campaigns.
    pub trunks: BTreeMap<String, TrunkConfig>,
    /// The campaign dialer.
    pub dialer: DialerConfig,
    /// The SMS gateway (`[sms.smpp]` or `[sms.http]`).
    pub sms: SmsConfig,
    /// The SMTP server (`[email]`); without it, email messages wait in the outbox.
    pub email: Option<crate::channels::email::EmailConfig>,
    /// How the outbox worker sends.
    pub outbox: OutboxConfig,
    /// The audit log (`[audit]`).
    pub audit: AuditConfig,
    /// The hotline's numbers (`[[inbound]] number = "4008108888"`, `menu = "FILE"`), answered
    /// by `huifang campaign run` on the dialer's agents.
    pub inbound: Vec<InboundNumberConfig>,
}

/// `[[inbound]]`: one number the node answers and the menu its callers hear.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundNumberConfig {
    /// The number as the carrier sends it in the Request-URI or `To` (digits; a leading `+`
    /// is ignored).
    pub number: String,
    /// The menu file (`campaigns/hotline/400.toml`).
    pub menu: String,
}

/// `[audit]`: how long the audit log keeps its rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Rows older than this many days are deleted by `serve` (default 365).
    pub retention_days: i64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: crate::audit::DEFAULT_RETENTION_DAYS,
        }
    }
}

/// `[sms]`: one gateway, SMPP or HTTP; without one, SMS wait in the outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// An SMSC spoken to over SMPP 3.4.
    pub smpp: Option<crate::channels::smpp::SmppConfig>,
    /// A provider's HTTP API.
    pub http: Option<crate::channels::http_sms::HttpSmsConfig>,
    /// SMS per second the gateway accepts; each segment of a long SMS counts, as SMSCs count.
    pub messages_per_second: f64,
    /// The secret an HTTP gateway's reply webhook must present (`Authorization: Bearer ...` or
    /// `?token=...`) at `POST /api/sms/inbound`; without it the webhook is off.
    pub inbound_token: Option<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            smpp: None,
            http: None,
            messages_per_second: 20.0,
            inbound_token: None,
        }
    }
}

/// `[outbox]`: retries, windows and links of the outbox worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Tries before a message that keeps failing transiently is given up.
    pub max_attempts: i64,
    /// Seconds before the first retry; each later one waits twice as long, at most an hour.
    pub retry_secs: u64,
    /// Hours to wait for an SMS delivery receipt before the message is final as `sent`.
    pub receipt_wait_hours: i64,
    /// Messages handed to the SMS gateway at once (the SMPP window).
    pub sms_window: usize,
    /// Emails sent at once.
    pub email_concurrency: usize,
    /// Emails per second the SMTP server accepts.
    pub email_per_second: f64,
    /// Where `huifang serve` is reachable from owners' mail readers, for unsubscribe links
    /// (`https://callback.example.com`); without it, emails carry no unsubscribe link.
    pub public_url: Option<String>,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 6,
            retry_secs: 30,
            receipt_wait_hours: 48,
            sms_window: 10,
            email_concurrency: 4,
            email_per_second: 5.0,
            public_url: None,
        }
    }
}

impl OutboxConfig {
    /// The unsubscribe link of an email with `token`, when a public URL is configured.
    pub fn unsubscribe_link(&self, token: &str) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|base| format!("{}/unsubscribe/{token}", base.trim_end_matches('/')))
    }
}

/// `[trunks.NAME]`: where and how to place calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Outbound proxy `host:port`; when absent, calls go to the host of the dialled URI.
    pub proxy: Option<String>,
    /// The domain dialled numbers are put in (`sip:NUMBER@domain`), when a number is dialled.
    pub domain: Option<String>,
    /// `udp` (default) or `tcp`.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Digest user name.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// The caller ID owners see (our 400 number).
    pub caller_id: Option<String>,
    /// Register to the proxy with this address of record and expiry.
    pub register: Option<String>,
    /// Ring time-out in seconds (at least 15).
    #[serde(default = "default_ring_seconds")]
    pub ring_timeout_secs: u64,
    /// Calls per second the trunk accepts (the dialer never places them faster).
    #[serde(default = "default_trunk_rate")]
    pub calls_per_second: f64,
    /// Calls the trunk carries at once (its channels).
    #[serde(default = "default_trunk_channels")]
    pub channels: usize,
    /// Other addresses the trunk sends requests from (`"203.0.113.7"`, `"10.1.2.0/28"`), as a
    /// carrier's SBC cluster does; the proxy's (else the domain's) own addresses are always in.
    #[serde(default)]
    pub addresses: Vec<Net>,
}

/// An IP network of an address list: `10.1.2.0/28`, or one address (`203.0.113.7`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net(pub ipnet::IpNet);

impl std::str::FromStr for Net {
    type Err = String;

    fn from_str(text: &str) -> Result<Net, String> {
        let text = text.trim();
        if let Ok(net) = text.parse::<ipnet::IpNet>() {
            return Ok(Net(net.trunc()));
        }
        text.parse::<std::net::IpAddr>()
            .map(|ip| Net(ipnet::IpNet::from(ip)))
            .map_err(|_| {
                format!("`{text}` is not an IP address or network (203.0.113.7, 10.1.2.0/28)")
            })
    }
}

impl<'de> Deserialize<'de> for Net {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Net, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn default_trunk_rate() -> f64 {
    10.0
}

fn default_trunk_channels() -> usize {
    30
}

/// `[dialer]`: how this node works campaigns.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialerConfig {
    /// This node's name in leases and attempt rows; keep it stable across restarts, so a
    /// restarted node settles its own unfinished attempts. Default: the host name.
    pub node: Option<String>,
    /// The SIP address the dialer binds (port 0: any free port).
    pub sip_listen: String,
    /// Seconds a claimed contact stays leased to this node (renewed by nothing: make it
    /// longer than a call's ring time plus its longest conversation).
    pub lease_secs: u64,
    /// The folder of prompt WAVs (`LANGUAGE/NAME.wav`).
    pub prompts_dir: String,
    /// Where survey comments are recorded (`CAMPAIGN/ATTEMPT-NODE.wav`).
    pub recordings_dir: String,
    /// Calls per second to numbers of a prefix (E.164: `"+86138" = 5`), across trunks.
    pub prefix_calls_per_second: BTreeMap<String, f64>,
    /// Agents of the paced modes and their SIP phones (`[dialer.agents] 1001 = "sip:..."`);
    /// each phone gets one nailed-up call while the node runs.
    pub agents: BTreeMap<String, String>,
    /// Seconds of wrap-up after each conversation before the agent is offered the next owner.
    pub wrap_secs: u64,
    /// Longest conversation in seconds; then the owner is hung up (agents end calls sooner by
    /// pressing `#` on their phone).
    pub talk_limit_secs: u64,
    /// Who besides the trunks may send this node requests outside a call (a monitoring host's
    /// OPTIONS); everyone else gets a few stateless 403s a second and no state.
    pub allow: Vec<Net>,
    /// Seconds an answered owner's call may go without RTP before it is hung up (the phone
    /// is gone without a BYE); 0: never. Agents' nailed-up legs are never hung up for it.
    pub rtp_timeout_secs: u64,
    /// Send RTP back to where the owner's latched stream comes from, not to the SDP's
    /// address (for trunks behind NAT). Off: a trunk sends from where its SDP says.
    pub symmetric_rtp: bool,
    /// Limits on SIP over TCP (used when a trunk's transport is `tcp`).
    pub tcp: TcpLimitsConfig,
}

/// `[dialer.tcp]`: limits on SIP TCP connections (defaults as Kamailio's and Asterisk's, see
/// `TcpLimits`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TcpLimitsConfig {
    /// Seconds a connection may carry no complete message before it is closed.
    pub idle_secs: u64,
    /// Seconds a begun message (headers and body) may take to arrive.
    pub header_secs: u64,
    /// Accepted connections open at once.
    pub max_connections: usize,
    /// Accepted connections open at once from one IP address.
    pub max_per_ip: usize,
}

impl Default for TcpLimitsConfig {
    fn default() -> Self {
        let limits = huifang_telephony::transport::TcpLimits::default();
        TcpLimitsConfig {
            idle_secs: limits.idle.as_secs(),
            header_secs: limits.header.as_secs(),
            max_connections: limits.max_connections,
            max_per_ip: limits.max_per_ip,
        }
    }
}

impl TcpLimitsConfig {
    /// The transport's limits (zero seconds or connections are taken as one).
    pub fn limits(&self) -> huifang_telephony::transport::TcpLimits {
        huifang_telephony::transport::TcpLimits {
            idle: std::time::Duration::from_secs(self.idle_secs.max(1)),
            header: std::time::Duration::from_secs(self.header_secs.max(1)),
            max_connections: self.max_connections.max(1),
            max_per_ip: self.max_per_ip.max(1),
        }
    }
}

impl Default for DialerConfig {
    fn default() -> Self {
        DialerConfig {
            node: None,
            sip_listen: "127.0.0.1:0".into(),
            lease_secs: 900,
            prompts_dir: "prompts".into(),
            recordings_dir: "recordings".into(),
            prefix_calls_per_second: BTreeMap::new(),
            agents: BTreeMap::new(),
            wrap_secs: 20,
            talk_limit_secs: 1800,
            allow: Vec::new(),
            rtp_timeout_secs: 30,
            symmetric_rtp: false,
            tcp: TcpLimitsConfig::default(),
        }
    }
}

fn default_transport() -> String {
    "udp".into()
}

fn default_ring_seconds() -> u64 {
    30
}

/// `[http]`: the console's listener, its connection discipline and TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: String,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Browsers also send it to
    /// `http://localhost`; turn it off only to reach a console over plain HTTP elsewhere.
    pub secure_cookies: bool,
    /// Seconds a client has to send a whole request head (and, on a kept-alive connection, the
    /// next one) before the connection is closed; also the limit of a TLS handshake.
    pub header_read_secs: u64,
    /// Seconds a connection may go with no byte read or written (a client that stopped
    /// reading an event stream, say) before it is closed.
    pub idle_secs: u64,
    /// Seconds a request may take from its head to its response's head (then 408).
    pub request_secs: u64,
    /// Open connections at most; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one client address at most (a reverse proxy is one address).
    pub max_connections_per_address: usize,
    /// Live streams (`/api/campaigns/CODE/live`, `/api/agent/live`) one session may hold
    /// open at once; one more gets 429.
    pub streams_per_session: usize,
    /// A PEM certificate chain: with `tls_key`, the console speaks HTTPS only.
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            secure_cookies: true,
            header_read_secs: 10,
            idle_secs: 60,
            request_secs: 60,
            max_connections: 4096,
            max_connections_per_address: 256,
            streams_per_session: 8,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[sla]`: time limits per category and the escalation ladder.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaPolicy {
    /// Minutes from dispatch to the responsible person's reply (seed 000: 10).
    pub acknowledge_minutes: i64,
    /// Minutes from dispatch to someone on site, when the owner waits there (seed 000: 60).
    pub on_site_minutes: i64,
    /// Per-category overrides of the two clocks.
    pub category: BTreeMap<Category, SlaClock>,
    /// Minutes a ticket may stay `key` with its breach unremedied before it becomes `hot`.
    pub key_to_hot_minutes: i64,
    /// Minutes a ticket may stay `hot` with its breach unremedied before it becomes `major`.
    pub hot_to_major_minutes: i64,
    /// Minutes after completion that the callback (回访) falls due.
    pub callback_after_minutes: i64,
}

/// `[sla.category.NAME]`: clocks of one category.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SlaClock {
    /// Minutes from dispatch to the reply.
    pub acknowledge_minutes: i64,
    /// Minutes from dispatch to on site, when the owner waits there.
    pub on_site_minutes: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            acknowledge_minutes: 10,
            on_site_minutes: 60,
            category: BTreeMap::new(),
            key_to_hot_minutes: 120,
            hot_to_major_minutes: 480,
            callback_after_minutes: 60,
        }
    }
}

impl SlaPolicy {
    /// The clocks that apply to `category`.
    pub fn clock(&self, category: Category) -> SlaClock {
        self.category.get(&category).copied().unwrap_or(SlaClock {
            acknowledge_minutes: self.acknowledge_minutes,
            on_site_minutes: self.on_site_minutes,
        })
    }
}

impl Config {
    /// Reads `path` if it exists (a missing file means defaults), then applies the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config = match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &path.display().to_string())?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            config.database_url = Some(url);
        }
        Ok(config)
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: origin.to_string(),
            source: Box::new(source),
        })
    }

    /// The database URL in force.
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_seed_000() {
        let policy = SlaPolicy::default();
        assert_eq!(
            policy.clock(Category::Materials),
            SlaClock {
                acknowledge_minutes: 10,
                on_site_minutes: 60
            }
        );
    }

    #[test]
    fn category_overrides_apply() {
        let config = Config::parse(
            "[sla.category.property_management]\nacknowledge_minutes = 30\non_site_minutes = 90\n",
            "huifang.toml",
        )
        .unwrap();
        assert_eq!(
            config
                .sla
                .clock(Category::PropertyManagement)
                .acknowledge_minutes,
            30
        );
        assert_eq!(
            config.sla.clock(Category::Materials).acknowledge_minutes,
            10
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = Config::parse(
            "[sla]\nacknowledge_minutes = 10\nack_minutes = 5\n",
            "huifang.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("huifang.toml") && err.contains("ack_minutes") && err.contains("line 3"),
            "{err}"
        );
    }
}
