//! SMS through a provider's HTTP API (most Chinese SMS providers offer one): the request is
//! a `tera` template, success is a rule over the status and the JSON answer.
//!
//! Failures are sorted as the worker needs them: no connection, 408, 429 and 503 are transient
//! (honouring `Retry-After`); other 4xx and a business error code in a 200 are permanent; a
//! time-out after the request went out, a 500, or a proxy's 502/504 is ambiguous (the provider
//! may have sent it).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Accepted, SendError};

/// `[sms.http]`: one provider's API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSmsConfig {
    /// The endpoint.
    pub url: String,
    /// `POST` (default) or `GET`, `PUT`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra headers, e.g. `Authorization = "Bearer ..."`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, a tera template with `to`, `text`, `sender` and `text_json`/`to_json` (the
    /// same as JSON string literals). Default: `{"to": {{ to_json }}, "text": {{ text_json }}}`.
    #[serde(default = "default_body")]
    pub body: String,
    /// Content-Type of the body (default `application/json`).
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// The sender name or number the template may use.
    #[serde(default)]
    pub sender: String,
    /// Success also needs this JSON field (a JSON pointer such as `/code`) ...
    pub success_field: Option<String>,
    /// ... to equal this value (compared as text: `0` matches `0` and `"0"`).
    pub success_value: Option<String>,
    /// Where the provider's message id is (a JSON pointer such as `/msgid`).
    pub id_field: Option<String>,
    /// Seconds to wait for an answer (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_method() -> String {
    "POST".into()
}
fn default_body() -> String {
    r#"{"to": {{ to_json }}, "text": {{ text_json }}}"#.into()
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_timeout() -> u64 {
    10
}

/// The HTTP SMS gateway.
#[derive(Debug, Clone)]
pub struct HttpSmsGateway {
    config: HttpSmsConfig,
    client: reqwest::Client,
    method: reqwest::Method,
}

/// Why an HTTP gateway configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum HttpSmsConfigError {
    /// The method is not an HTTP method.
    #[error("[sms.http] method `{0}` is not an HTTP method")]
    Method(String),
    /// The body template does not parse or render.
    #[error("[sms.http] body template: {0}")]
    Body(String),
    /// The client could not be built.
    #[error("[sms.http] client: {0}")]
    Client(String),
}

impl HttpSmsGateway {
    /// Checks the configuration (the body template is rendered once with sample values).
    pub fn new(config: HttpSmsConfig) -> Result<HttpSmsGateway, HttpSmsConfigError> {
        let method = reqwest::Method::from_bytes(config.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HttpSmsConfigError::Method(config.method.clone()))?;
        render(&config, "+8613800000000", "sample")
            .map_err(|e| HttpSmsConfigError::Body(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .build()
            .map_err(|e| HttpSmsConfigError::Client(e.to_string()))?;
        Ok(HttpSmsGateway {
            config,
            client,
            method,
        })
    }

    /// Sends one SMS.
    pub async fn send(&self, to: &str, text: &str) -> Result<Accepted, SendError> {
        let body = render(&self.config, to, text)
            .map_err(|e| SendError::permanent(format!("[sms.http] body template: {e}")))?;
        let mut request = self
            .client
            .request(self.method.clone(), &self.config.url)
            .header(reqwest::header::CONTENT_TYPE, &self.config.content_type)
            .body(body);
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Err(SendError::permanent(format!(
                    "SMS gateway {}: cannot build the request: {e}",
                    self.config.url
                )));
            }
            Err(e) if e.is_connect() => {
                return Err(SendError::transient(format!(
                    "cannot reach SMS gateway {}: {e}",
                    self.config.url
                )));
            }
            Err(e) => {
                return Err(SendError::Ambiguous {
                    reason: format!("SMS gateway {}: {e}", self.config.url),
                    accepted: Vec::new(),
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match response.text().await {
            Ok(text) => judge(&self.config, status.as_u16(), retry_after, &text),
            // Answered, then cut off: it may have been accepted.
            Err(e) => Err(SendError::Ambiguous {
                reason: format!("SMS gateway answered HTTP {status} but the body was lost: {e}"),
                accepted: Vec::new(),
            }),
        }
    }
}

/// The request body for one message.
fn render(config: &HttpSmsConfig, to: &str, text: &str) -> Result<String, tera::Error> {
    let mut context = tera::Context::new();
    context.insert("to", to);
    context.insert("text", text);
    context.insert("sender", &config.sender);
    context.insert("to_json", &serde_json::to_string(to).unwrap_or_default());
    context.insert(
        "text_json",
        &serde_json::to_string(text).unwrap_or_default(),
    );
    tera::Tera::one_off(&config.body, &context, false)
}

/// The provider's answer, sorted by the success rule.
pub(crate) fn judge(
    config: &HttpSmsConfig,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<Accepted, SendError> {
    let short: String = body.chars().take(200).collect();
    match status {
        200..=299 => {}
        // Refused before anything was done: 408 (we were too slow), 429 (too many), 503.
        408 | 429 | 503 => {
            return Err(SendError::Transient {
                reason: format!("SMS gateway busy: HTTP {status} {short}"),
                retry_after,
            });
        }
        // A proxy's 502/504 or a 500: the provider may have sent it.
        500..=502 | 504..=599 => {
            return Err(SendError::Ambiguous {
                reason: format!("SMS gateway failed: HTTP {status} {short}"),
                accepted: Vec::new(),
            });
        }
        _ => {
            return Err(SendError::permanent(format!(
                "SMS gateway refused: HTTP {status} {short}"
            )));
        }
    }
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |pointer: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(pointer))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    if let (Some(pointer), Some(expected)) = (&config.success_field, &config.success_value) {
        let got = field(pointer);
        if got.as_deref() != Some(expected.as_str()) {
            return Err(SendError::permanent(format!(
                "SMS gateway refused: {pointer} is {} (success is {expected}): {short}",
                got.unwrap_or_else(|| "missing".into())
            )));
        }
    }
    let id = config
        .id_field
        .as_deref()
        .and_then(field)
        .unwrap_or_default();
    Ok(Accepted {
        provider_ids: vec![id],
        receipt_expected: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HttpSmsConfig {
        toml::from_str(
            r#"url = "http://127.0.0.1:1/send"
               success_field = "/code"
               success_value = "0"
               id_field = "/msgid""#,
        )
        .unwrap()
    }

    #[test]
    fn the_default_body_is_json_with_escaped_text() {
        let body = render(&config(), "+8613800000001", "您好 \"quoted\"\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["to"], "+8613800000001");
        assert_eq!(json["text"], "您好 \"quoted\"\n");
    }

    #[test]
    fn answers_are_sorted_by_the_rule() {
        let c = config();
        let ok = judge(&c, 200, None, r#"{"code":0,"msgid":"h1"}"#).unwrap();
        assert_eq!(ok.provider_ids, ["h1"]);
        assert!(matches!(
            judge(&c, 200, None, r#"{"code":17,"msg":"invalid number"}"#),
            Err(SendError::Permanent { .. })
        ));
        assert_eq!(
            judge(&c, 429, Some(Duration::from_secs(2)), "{}"),
            Err(SendError::Transient {
                reason: "SMS gateway busy: HTTP 429 {}".into(),
                retry_after: Some(Duration::from_secs(2)),
            })
        );
        assert!(matches!(
            judge(&c, 401, None, ""),
            Err(SendError::Permanent { .. })
        ));
        assert!(matches!(
            judge(&c, 500, None, ""),
            Err(SendError::Ambiguous { .. })
        ));
        assert!(matches!(
            judge(&c, 504, None, ""),
            Err(SendError::Ambiguous { .. })
        ));
        assert!(matches!(
            judge(&c, 408, None, ""),
            Err(SendError::Transient { .. })
        ));
        assert!(matches!(
            judge(&c, 200, None, "not json"),
            Err(SendError::Permanent { .. })
        ));
    }

    #[test]
    fn a_broken_body_template_is_refused_at_start() {
        let mut c = config();
        c.body = "{{ to ".into();
        assert!(matches!(
            HttpSmsGateway::new(c),
            Err(HttpSmsConfigError::Body(_))
        ));
        let mut c = config();
        c.method = "SEND IT".into();
        assert!(matches!(
            HttpSmsGateway::new(c),
            Err(HttpSmsConfigError::Method(_))
        ));
    }
}
