//! Email over SMTP with `lettre` (mandated): plain, STARTTLS or implicit TLS, with or without
//! authentication, a pool of connections, text and HTML bodies, and a `List-Unsubscribe`
//! header (RFC 2369, with RFC 8058 one-click) when the message carries an unsubscribe link.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::{Accepted, SendError};

/// `[email]`: the SMTP server we hand mail to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Server host name or address.
    pub host: String,
    /// Port (default: 25 plain, 587 STARTTLS, 465 implicit TLS).
    pub port: Option<u16>,
    /// `none`, `starttls` (required) or `tls` (implicit, from the first byte).
    #[serde(default)]
    pub security: Security,
    /// User name, when the server wants authentication.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// The sender, `Name <address>`.
    pub from: String,
    /// Accept a certificate that does not verify (a test server's self-signed one). Never in
    /// production.
    #[serde(default)]
    pub accept_invalid_certs: bool,
    /// Seconds to wait for the server (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain text (a relay on the same host).
    #[default]
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// One email to send.
#[derive(Debug, Clone)]
pub struct Email<'a> {
    /// The owner's address.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain text body.
    pub text: &'a str,
    /// HTML body, when the template has one.
    pub html: Option<&'a str>,
    /// Our Message-ID (unique per outbox row, so a duplicate would be recognisable).
    pub message_id: &'a str,
    /// The unsubscribe link, put in `List-Unsubscribe`.
    pub unsubscribe: Option<&'a str>,
}

/// The SMTP gateway.
#[derive(Debug, Clone)]
pub struct EmailGateway {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

/// Why an email configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    /// `from` is not an address.
    #[error("[email] from `{from}`: {reason}")]
    From {
        /// The value.
        from: String,
        /// Why.
        reason: String,
    },
    /// TLS could not be set up.
    #[error("[email] TLS for `{host}`: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
}

impl EmailGateway {
    /// A gateway for `config`; nothing connects until the first message.
    pub fn new(config: &EmailConfig) -> Result<EmailGateway, EmailConfigError> {
        let from: Mailbox = config.from.parse().map_err(|e| EmailConfigError::From {
            from: config.from.clone(),
            reason: format!("{e}"),
        })?;
        let tls_parameters = || {
            TlsParameters::builder(config.host.clone())
                .dangerous_accept_invalid_certs(config.accept_invalid_certs)
                .dangerous_accept_invalid_hostnames(config.accept_invalid_certs)
                .build()
                .map_err(|e| EmailConfigError::Tls {
                    host: config.host.clone(),
                    reason: e.to_string(),
                })
        };
        let (tls, port) = match config.security {
            Security::None => (Tls::None, 25),
            Security::Starttls => (Tls::Required(tls_parameters()?), 587),
            Security::Tls => (Tls::Wrapper(tls_parameters()?), 465),
        };
        let port = config.port.unwrap_or(port);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        // An empty user name means no authentication (a relay that trusts our address).
        if let (Some(user), Some(password)) = (&config.username, &config.password)
            && !user.is_empty()
        {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(EmailGateway {
            transport: builder.build(),
            from,
            server: format!("{}:{port}", config.host),
        })
    }

    /// Hands one email to the server. Reaching the server is checked first, so a server
    /// that is down is a transient failure (nothing was sent), not an ambiguous one.
    pub async fn send(&self, email: &Email<'_>) -> Result<Accepted, SendError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| SendError::permanent(format!("recipient `{}`: {e}", email.to)))?;
        let message = self.build(email, to)?;
        match self.transport.test_connection().await {
            Ok(true) => {}
            Ok(false) => {
                return Err(SendError::transient(format!(
                    "SMTP server {} did not answer NOOP",
                    self.server
                )));
            }
            // Refused at login (a wrong password): no retry will help.
            Err(e) if e.is_permanent() => {
                return Err(SendError::permanent(format!(
                    "SMTP server {} refused us: {}",
                    self.server,
                    chain(&e)
                )));
            }
            Err(e) => {
                return Err(SendError::transient(format!(
                    "cannot reach SMTP server {}: {}",
                    self.server,
                    chain(&e)
                )));
            }
        }
        match self.transport.send(message).await {
            Ok(response) => Ok(Accepted {
                provider_ids: vec![
                    response
                        .message()
                        .next()
                        .map(str::to_string)
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| email.message_id.to_string()),
                ],
                receipt_expected: false,
            }),
            Err(e) if e.is_transient() => Err(SendError::transient(format!(
                "SMTP server {} deferred: {}",
                self.server,
                chain(&e)
            ))),
            Err(e) if e.is_permanent() || e.is_client() => Err(SendError::permanent(format!(
                "SMTP server {} refused: {}",
                self.server,
                chain(&e)
            ))),
            Err(e) => Err(SendError::Ambiguous {
                reason: format!("SMTP server {}: {}", self.server, chain(&e)),
                accepted: Vec::new(),
            }),
        }
    }

    fn build(&self, email: &Email<'_>, to: Mailbox) -> Result<Message, SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(email.message_id.to_string()));
        if let Some(link) = email.unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{link}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_string(),
                ));
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.to_string());
        let built = match email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.to_string()),
                ),
            ),
            None => builder.singlepart(text),
        };
        built.map_err(|e| SendError::permanent(format!("cannot build the email: {e}")))
    }
}

/// An error with its sources, in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
