//! The running hotline: INVITEs to the configured numbers answered by their menu, callers
//! queued by the [`Acd`] and put through to the same agents' nailed-up legs the dialer keeps
//! up, every step a row first.
//!
//! One task per caller walks the menu and waits in the queue (hold audio, position
//! announcements, the callback offer); one dispatcher task matches waiting callers to free
//! agents whenever a seat changes or a queue timer is due, and tells the agent desk which
//! callers wait so outbound answers leave those agents to them. A third writes the node's
//! live row for the wallboard about once a second.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};

use super::calls::{InboundCalls, InboundOutcome};
use super::menu::Menu;
use super::queue::{Acd, CallerKey, QueueEvent};
use crate::clock::SharedClock;
use crate::dialer::agents::{AgentDesk, Reserved};
use crate::pacing::state::InboundLoad;
use crate::store::Store;
use crate::telephony::media::{Prompt, PromptError};
use crate::telephony::transport::{Incoming, UserAgent};

pub mod live;
mod walk;
pub use live::HotlineLive;
use walk::Walk;

/// How the hotline of a node is set up.
#[derive(Debug, Clone)]
pub struct HotlineConfig {
    /// The node's name on its rows.
    pub node: String,
    /// The numbers answered (digits as dialled, no `+`) and each one's menu.
    pub numbers: BTreeMap<String, Arc<Menu>>,
    /// `LANGUAGE/NAME.wav` prompts live here.
    pub prompts_dir: PathBuf,
    /// Conversations are recorded under `inbound/DAY/` here.
    pub recordings_dir: PathBuf,
}

/// Why the hotline cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HotlineError {
    /// A prompt of a menu cannot be loaded.
    #[error("{menu}: prompt `{name}`: {source}")]
    Prompt {
        /// The menu file.
        menu: String,
        /// The prompt.
        name: String,
        /// Why.
        source: PromptError,
    },
    /// The database refused a row.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The hotline's load now, for the pacer and the wallboard.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HotlineLoad {
    /// What the pacer reads: callers queued, agents on inbound calls, the arrival rate over
    /// the last 15 minutes, the mean handle time, the busiest menu's service target.
    pub pacing: InboundLoad,
    /// The longest wait of a queued caller now, seconds.
    pub longest_wait_s: f64,
}

/// The window arrivals are counted over.
const ARRIVAL_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Conversations the handle time is averaged over.
const HANDLE_SAMPLES: usize = 50;
/// How often queue timers are looked at when no seat changes.
const TICK: Duration = Duration::from_millis(250);

enum ToCaller {
    Agent(Reserved),
    Event(QueueEvent),
}

#[derive(Default)]
struct Stats {
    arrivals: VecDeque<DateTime<Utc>>,
    handles: VecDeque<f64>,
    on_inbound: u32,
}

struct Shared {
    store: Store,
    desk: AgentDesk,
    clock: SharedClock,
    config: HotlineConfig,
    wrap_s: f64,
    /// By (language, name).
    prompts: HashMap<(String, String), Arc<Prompt>>,
    acd: Mutex<Acd>,
    callers: Mutex<HashMap<CallerKey, mpsc::UnboundedSender<ToCaller>>>,
    next_key: AtomicU64,
    kick: Notify,
    stats: Mutex<Stats>,
}

/// A node's hotline. Cheap to clone.
#[derive(Clone)]
pub struct Hotline {
    shared: Arc<Shared>,
}

/// The user part of a SIP URI or name-addr (`"A" <sip:+8613800000001@host>;tag=x` →
/// `+8613800000001`).
pub fn user_part(header: &str) -> Option<String> {
    let uri = match (header.find('<'), header.find('>')) {
        (Some(a), Some(b)) if a < b => &header[a + 1..b],
        _ => header.split(';').next().unwrap_or(header),
    };
    let rest = uri
        .trim()
        .strip_prefix("sips:")
        .or_else(|| uri.trim().strip_prefix("sip:"))
        .or_else(|| uri.trim().strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '?']).next()?;
    (!user.is_empty() && user != "+").then(|| user.to_string())
}

impl Hotline {
    /// Loads every menu's prompts, closes what a stop left open (its callers listed for a
    /// callback), and starts answering `ua`'s incoming calls until `shutdown`.
    pub async fn start(
        store: Store,
        ua: UserAgent,
        desk: AgentDesk,
        clock: SharedClock,
        config: HotlineConfig,
        wrap: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Hotline, HotlineError> {
        let mut prompts = HashMap::new();
        for menu in config.numbers.values() {
            for language in &menu.languages {
                for name in menu.prompt_names() {
                    let path = config
                        .prompts_dir
                        .join(language)
                        .join(format!("{name}.wav"));
                    let prompt =
                        ua.prompts()
                            .get(&path)
                            .map_err(|source| HotlineError::Prompt {
                                menu: menu.path.display().to_string(),
                                name: name.clone(),
                                source,
                            })?;
                    prompts.insert((language.clone(), name), prompt);
                }
            }
        }
        let calls = InboundCalls::new(&store);
        let now = clock.now();
        for left in calls.close_interrupted(&config.node, now).await? {
            calls
                .list_for_callback(&left, "inbound_interrupted", now)
                .await?;
        }
        let hotline = Hotline {
            shared: Arc::new(Shared {
                store,
                desk,
                clock,
                config,
                wrap_s: wrap.as_secs_f64(),
                prompts,
                acd: Mutex::new(Acd::new()),
                callers: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(1),
                kick: Notify::new(),
                stats: Mutex::new(Stats::default()),
            }),
        };
        tokio::spawn(hotline.clone().dispatch(shutdown.clone()));
        tokio::spawn(hotline.clone().publish_live(shutdown.clone()));
        tokio::spawn(hotline.clone().answer(ua, shutdown));
        Ok(hotline)
    }

    /// The load as the pacer reads it.
    pub fn pacing_load(&self) -> InboundLoad {
        self.load().pacing
    }

    /// The load now.
    pub fn load(&self) -> HotlineLoad {
        let s = &self.shared;
        let now = s.clock.now();
        let (waiting, longest) = {
            let acd = lock(&s.acd);
            (acd.len(), acd.longest_wait(now))
        };
        let mut stats = lock(&s.stats);
        prune(&mut stats.arrivals, now);
        let handles = &stats.handles;
        let (target, within) = s
            .config
            .numbers
            .values()
            .map(|m| (m.service_target, m.answer_within.as_secs_f64()))
            .fold((0.0_f64, f64::MAX), |(t, w), (t2, w2)| {
                (t.max(t2), w.min(w2))
            });
        HotlineLoad {
            pacing: InboundLoad {
                waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
                on_inbound: stats.on_inbound,
                arrivals_per_s: stats.arrivals.len() as f64 / ARRIVAL_WINDOW.as_secs_f64(),
                handle_s: if handles.is_empty() {
                    0.0
                } else {
                    handles.iter().sum::<f64>() / handles.len() as f64
                },
                service_target: target,
                answer_within_s: if within == f64::MAX { 0.0 } else { within },
            },
            longest_wait_s: longest.map_or(0.0, |d| d.as_seconds_f64()),
        }
    }

    async fn answer(self, ua: UserAgent, mut shutdown: watch::Receiver<bool>) {
        loop {
            let incoming = tokio::select! {
                incoming = ua.accept() => incoming,
                _ = shutdown.changed() => None,
            };
            let Some(incoming) = incoming else { break };
            tokio::spawn(self.clone().serve(incoming));
        }
    }

    /// Which configured number an INVITE is for: its Request-URI's user, else its To's.
    fn route(&self, incoming: &Incoming) -> Option<(String, Arc<Menu>)> {
        [user_part(&incoming.uri), user_part(&incoming.to)]
            .into_iter()
            .flatten()
            .find_map(|user| {
                // The configured numbers are digits; a carrier may send them with a `+`.
                let number = user.trim_start_matches('+');
                let menu = self.shared.config.numbers.get(number)?;
                Some((number.to_string(), menu.clone()))
            })
    }

    async fn serve(self, incoming: Incoming) {
        let s = &self.shared;
        let arrived = s.clock.now();
        let Some((number, menu)) = self.route(&incoming) else {
            tracing::info!(uri = %incoming.uri, to = %incoming.to, "INVITE for a number the hotline does not answer: 404");
            incoming.reject(404);
            return;
        };
        let caller = user_part(&incoming.from).unwrap_or_default();
        let calls = InboundCalls::new(&s.store);
        let id = match calls.open(&s.config.node, &number, &caller, arrived).await {
            Ok(id) => id,
            Err(e) => {
                // No row, no call: a caller we cannot account for is refused, not lost.
                tracing::error!(%number, %caller, "cannot write the inbound call's row: {e}; 503");
                incoming.reject(503);
                return;
            }
        };
        {
            let mut stats = lock(&s.stats);
            stats.arrivals.push_back(arrived);
            prune(&mut stats.arrivals, arrived);
        }
        let call = match incoming.answer().await {
            Ok(call) => call,
            Err(e) => {
                let detail = format!("cannot answer: {e}");
                self.end(id, InboundOutcome::Failed, &detail).await;
                return;
            }
        };
        let mut walk = Walk {
            hotline: &self,
            id,
            menu: &menu,
            language: menu.language().to_string(),
            choices: Vec::new(),
            arrived,
        };
        let (call, outcome, detail) = walk.run(call).await;
        self.end(id, outcome, &detail).await;
        if let Some(mut call) = call {
            call.hangup().await;
            call.close().await;
        }
    }

    async fn end(&self, id: i64, outcome: InboundOutcome, detail: &str) {
        let s = &self.shared;
        if let Err(e) = InboundCalls::new(&s.store)
            .end(id, outcome, detail, s.clock.now())
            .await
        {
            tracing::error!(inbound_call = id, "cannot write the call's end: {e}");
        }
    }

    /// Matches waiting callers to free agents and fires queue timers, until `shutdown`.
    async fn dispatch(self, mut shutdown: watch::Receiver<bool>) {
        let s = &self.shared;
        loop {
            tokio::select! {
                _ = s.desk.changed() => {}
                _ = s.kick.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => break,
            }
            let now = s.clock.now();
            let free = s.desk.free_agents();
            let (events, pairs) = {
                let mut acd = lock(&s.acd);
                (acd.due(now), acd.assign(&free))
            };
            for event in events {
                let caller = match event {
                    QueueEvent::Announce { caller, .. } | QueueEvent::MaxWait { caller } => caller,
                };
                self.tell(caller, ToCaller::Event(event));
            }
            for (caller, agent) in pairs {
                let Some(reserved) = s.desk.hold(&agent) else {
                    continue;
                };
                lock(&s.acd).leave(caller);
                // A caller who hung up meanwhile drops the reservation: the agent is free again.
                self.tell(caller, ToCaller::Agent(reserved));
            }
            let wanted = lock(&s.acd).wanted();
            s.desk.set_inbound_waiting(wanted);
        }
        s.desk.set_inbound_waiting(Vec::new());
    }

    fn tell(&self, caller: CallerKey, message: ToCaller) {
        if let Some(tx) = lock(&self.shared.callers).get(&caller) {
            let _ = tx.send(message);
        }
    }

    fn prompts(&self, language: &str, names: &[String]) -> Vec<Arc<Prompt>> {
        names
            .iter()
            .filter_map(|name| {
                self.shared
                    .prompts
                    .get(&(language.to_string(), name.clone()))
                    .cloned()
            })
            .collect()
    }
}

fn prune(arrivals: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    let window = chrono::TimeDelta::from_std(ARRIVAL_WINDOW).unwrap_or_default();
    while arrivals.front().is_some_and(|at| now - *at > window) {
        arrivals.pop_front();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_is_the_user_part_of_the_uri_or_header() {
        assert_eq!(
            user_part("sip:4008108888@10.0.0.1:5060").as_deref(),
            Some("4008108888")
        );
        assert_eq!(
            user_part("\"Owner\" <sip:+8613800000001@carrier.example;user=phone>;tag=ab")
                .as_deref(),
            Some("+8613800000001")
        );
        assert_eq!(user_part("<tel:4008108888>").as_deref(), Some("4008108888"));
        assert_eq!(user_part("sip:host.example"), Some("host.example".into()));
        assert_eq!(user_part("mailto:x@y"), None);
        assert_eq!(user_part("sip:@host"), None);
    }
}
