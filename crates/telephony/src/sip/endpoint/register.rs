//! REGISTER to a trunk's registrar, with digest answers and refresh before expiry.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::Header;
use rsip::Method;
use rsip::headers::UntypedHeader;
use rsip::headers::{CSeq, CallId, From, MaxForwards, To, Via};

use super::{Endpoint, Event, Owner, TimerRef, Transport};
use crate::sip::auth::{self, Credentials};
use crate::sip::message::{self, Parsed};

/// Identifies a registration within one [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegKey(pub u64);

/// What to register.
#[derive(Debug, Clone)]
pub struct Register {
    /// The registrar (or outbound proxy) address.
    pub registrar: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Address of record: `sip:4008001234@trunk.example`.
    pub aor: String,
    /// Requested lifetime in seconds.
    pub expires: u32,
    /// Digest credentials.
    pub credentials: Option<Credentials>,
}

/// Where a registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegState {
    /// The registrar accepted; refreshed automatically before it runs out.
    Registered {
        /// Seconds granted.
        expires: u32,
    },
    /// Refused or unanswered; retried after a back-off.
    Failed {
        /// The final status, when there was one.
        status: Option<u16>,
        /// Why, for people.
        reason: String,
    },
}

#[derive(Debug)]
pub(super) struct Registration {
    config: Register,
    call_id: String,
    tag: String,
    cseq: u32,
    auth_tries: u32,
    refresh_at: Option<Instant>,
}

impl Endpoint {
    /// Starts registering; the outcome arrives as [`Event::Registration`].
    pub fn register(&mut self, now: Instant, config: Register) -> RegKey {
        let key = RegKey(self.new_key());
        let registration = Registration {
            config,
            call_id: format!("{}@huifang", self.token(20)),
            tag: self.token(10),
            cseq: 0,
            auth_tries: 0,
            refresh_at: None,
        };
        self.registrations.insert(key, registration);
        self.send_register(now, key, None);
        key
    }

    fn send_register(&mut self, now: Instant, key: RegKey, authorization: Option<Header>) {
        let Some(transport) = self.registrations.get(&key).map(|r| r.config.transport) else {
            return;
        };
        let (via, _) = self.via(transport);
        let contact = self.contact(transport);
        let user_agent = self.config.user_agent.clone();
        let Some(reg) = self.registrations.get_mut(&key) else {
            return;
        };
        reg.cseq += 1;
        let aor = reg.config.aor.clone();
        let registrar_uri = match message::host_port(&aor) {
            Some((host, Some(port))) => format!("sip:{host}:{port}"),
            Some((host, None)) => format!("sip:{host}"),
            None => aor.clone(),
        };
        let mut headers = vec![
            Header::Via(Via::new(via)),
            Header::MaxForwards(MaxForwards::new("70")),
            Header::From(From::new(format!("<{aor}>;tag={}", reg.tag))),
            Header::To(To::new(format!("<{aor}>"))),
            Header::CallId(CallId::new(reg.call_id.clone())),
            Header::CSeq(CSeq::new(format!("{} REGISTER", reg.cseq))),
            Header::Contact(rsip::headers::Contact::new(contact)),
            message::other("Expires", reg.config.expires.to_string()),
            message::other("User-Agent", user_agent),
        ];
        headers.extend(authorization);
        let bytes = message::build_request(Method::Register, &registrar_uri, headers, b"");
        let (to, transport) = (reg.config.registrar, reg.config.transport);
        self.start_client(now, Owner::Reg(key), to, transport, bytes);
    }

    pub(super) fn reg_response(&mut self, now: Instant, key: RegKey, response: Parsed) {
        let status = response.status().unwrap_or(0);
        let cnonce = self.token(16);
        let Some(reg) = self.registrations.get_mut(&key) else {
            return;
        };
        match status {
            100..=199 => {}
            200..=299 => {
                reg.auth_tries = 0;
                let expires = granted_expires(&response).unwrap_or(reg.config.expires);
                // Refresh at half the granted time, so one lost REGISTER still leaves time.
                let refresh = Duration::from_secs(u64::from(expires.max(2) / 2));
                reg.refresh_at = Some(now + refresh);
                self.arm(now + refresh, TimerRef::Reg(key));
                self.events.push_back(Event::Registration {
                    registration: key,
                    state: super::RegState::Registered { expires },
                });
            }
            401 | 407 if reg.auth_tries == 0 && reg.config.credentials.is_some() => {
                let credentials = reg.config.credentials.clone().unwrap_or(Credentials {
                    username: String::new(),
                    password: String::new(),
                });
                let uri = match message::host_port(&reg.config.aor) {
                    Some((host, Some(port))) => format!("sip:{host}:{port}"),
                    Some((host, None)) => format!("sip:{host}"),
                    None => reg.config.aor.clone(),
                };
                match auth::answer_challenge(
                    &response,
                    Method::Register,
                    &uri,
                    &credentials,
                    &cnonce,
                    1,
                ) {
                    Ok(header) => {
                        reg.auth_tries += 1;
                        self.send_register(now, key, Some(header));
                    }
                    Err(err) => self.reg_failed(now, key, Some(status), err.to_string()),
                }
            }
            423 if reg.auth_tries < 2 => {
                // Interval Too Brief: ask again for at least what the registrar wants.
                match response
                    .header("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                {
                    Some(min) if min > reg.config.expires => {
                        reg.config.expires = min;
                        reg.auth_tries += 1;
                        self.send_register(now, key, None);
                    }
                    _ => self.reg_failed(
                        now,
                        key,
                        Some(423),
                        "registrar wants a longer expiry but gave no usable Min-Expires".into(),
                    ),
                }
            }
            _ => {
                let reason = if matches!(status, 401 | 407) {
                    "registrar refused our credentials".to_string()
                } else {
                    format!("registrar answered {status}")
                };
                self.reg_failed(now, key, Some(status), reason);
            }
        }
    }

    pub(super) fn reg_failed(
        &mut self,
        now: Instant,
        key: RegKey,
        status: Option<u16>,
        reason: String,
    ) {
        let Some(reg) = self.registrations.get_mut(&key) else {
            return;
        };
        reg.auth_tries = 0;
        let retry = now + Duration::from_secs(60);
        reg.refresh_at = Some(retry);
        self.arm(retry, TimerRef::Reg(key));
        self.events.push_back(Event::Registration {
            registration: key,
            state: RegState::Failed { status, reason },
        });
    }

    pub(super) fn reg_timeout(&mut self, now: Instant, key: RegKey) {
        let Some(reg) = self.registrations.get_mut(&key) else {
            return;
        };
        if reg.refresh_at.is_some_and(|at| at <= now) {
            reg.refresh_at = None;
            self.send_register(now, key, None);
        }
    }
}

/// The expiry the registrar granted: `expires` on our Contact, else the Expires header.
fn granted_expires(response: &Parsed) -> Option<u32> {
    response
        .headers("Contact")
        .iter()
        .find_map(|c| message::param(c, "expires").and_then(|e| e.parse().ok()))
        .or_else(|| {
            response
                .header("Expires")
                .and_then(|e| e.trim().parse().ok())
        })
}
