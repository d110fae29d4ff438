//! One caller's way through the menu and the queue: the welcome, the keys with their retries,
//! the closed message, the wait (hold audio, position announcements, the callback offer), and
//! the hand-over to an agent with its recording.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::super::calls::{InboundCall, InboundCalls, InboundOutcome};
use super::super::menu::{AfterMaxWait, KeyAction, Menu, POSITION, QueueDef, position_prompt};
use super::super::queue::{CallerKey, QueueEvent};
use super::{HANDLE_SAMPLES, Hotline, ToCaller, lock};
use crate::clock::seconds_between;
use crate::dialer::agents::Reserved;
use crate::telephony::transport::{Call, CallUpdate, Collect, CollectEnd, PlayEnd};

/// One caller's way through the menu and the queue.
pub(super) struct Walk<'a> {
    pub(super) hotline: &'a Hotline,
    pub(super) id: i64,
    pub(super) menu: &'a Menu,
    pub(super) language: String,
    pub(super) choices: Vec<char>,
    pub(super) arrived: DateTime<Utc>,
}

/// The call (none when it was lost to a failed hand-over), how it ended, and why.
type Ended = (Option<Call>, InboundOutcome, String);

impl Walk<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.hotline.shared.clock.now()
    }

    fn calls(&self) -> InboundCalls<'_> {
        InboundCalls::new(&self.hotline.shared.store)
    }

    async fn play(&self, call: &mut Call, names: &[String], barge_in: bool) -> PlayEnd {
        let prompts = self.hotline.prompts(&self.language, names);
        if prompts.is_empty() {
            return PlayEnd::Finished;
        }
        call.play(prompts, barge_in).await
    }

    pub(super) async fn run(&mut self, mut call: Call) -> Ended {
        if let Err(e) = self
            .calls()
            .answered(self.id, &self.language, self.now())
            .await
        {
            return (Some(call), InboundOutcome::Failed, format!("database: {e}"));
        }
        if !self.menu.hours.is_open(self.now(), self.menu.timezone) {
            return self.closed(call).await;
        }
        if self.play(&mut call, &self.menu.welcome, true).await == PlayEnd::HungUp {
            return (
                Some(call),
                InboundOutcome::Menu,
                "hung up during the welcome".into(),
            );
        }
        let queue = match self.choose(&mut call).await {
            Ok(queue) => queue,
            Err(why) => return (Some(call), InboundOutcome::Menu, why),
        };
        self.wait(call, queue).await
    }

    /// Outside the hours: the closed message and, when offered, a callback.
    async fn closed(&mut self, mut call: Call) -> Ended {
        let offer = self.menu.closed_callback_key;
        if self
            .play(&mut call, &self.menu.closed, offer.is_some())
            .await
            == PlayEnd::HungUp
        {
            return (
                Some(call),
                InboundOutcome::Closed,
                "called outside the hours".into(),
            );
        }
        if let Some(key) = offer {
            let got = call.collect(one_key(self.menu.timeout)).await;
            if got.digits.starts_with(key.as_char()) {
                self.choices.push(key.as_char());
                return self.book_callback(call, None).await;
            }
        }
        (
            Some(call),
            InboundOutcome::Closed,
            "called outside the hours".into(),
        )
    }

    /// The menu with its retries; the queue chosen, or why there is none.
    async fn choose(&mut self, call: &mut Call) -> Result<String, String> {
        let mut tries = 0;
        loop {
            if tries > self.menu.retries {
                return self
                    .menu
                    .no_choice
                    .clone()
                    .ok_or_else(|| "no choice in the menu".to_string());
            }
            if self.play(call, &self.menu.menu, true).await == PlayEnd::HungUp {
                return Err("hung up in the menu".into());
            }
            let got = call.collect(one_key(self.menu.timeout)).await;
            let key = match got.end {
                CollectEnd::HungUp => return Err("hung up in the menu".into()),
                _ => got.digits.chars().next(),
            };
            let Some(key) = key else {
                self.play(call, &self.menu.missing, true).await;
                tries += 1;
                continue;
            };
            self.choices.push(key);
            let digit = crate::telephony::Digit::parse(key).ok();
            let action = digit.and_then(|d| self.menu.keys.get(&d)).cloned();
            match action {
                Some(KeyAction::Queue(queue)) => {
                    self.save_choices().await;
                    return Ok(queue);
                }
                Some(KeyAction::Language(language)) => {
                    self.language = language;
                    self.save_choices().await;
                }
                None => {
                    self.save_choices().await;
                    self.play(call, &self.menu.invalid, true).await;
                    tries += 1;
                }
            }
        }
    }

    async fn save_choices(&self) {
        let choices: Vec<String> = self.choices.iter().map(char::to_string).collect();
        if let Err(e) = self
            .calls()
            .chose(self.id, &choices.join(","), &self.language)
            .await
        {
            tracing::warn!(inbound_call = self.id, "cannot write the menu choices: {e}");
        }
    }

    /// Waits in `queue` until an agent takes the call, the caller hangs up or asks to be
    /// called back.
    async fn wait(&mut self, mut call: Call, queue: String) -> Ended {
        let s = &self.hotline.shared;
        let key = CallerKey(s.next_key.fetch_add(1, Ordering::Relaxed));
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&s.callers).insert(key, tx);
        let mut def = &self.menu.queues[&queue];
        let ended = 'queue: loop {
            if let Err(e) = self.calls().queued(self.id, &def.name, self.now()).await {
                break (Some(call), InboundOutcome::Failed, format!("database: {e}"));
            }
            lock(&s.acd).join(key, def, self.arrived, self.now());
            s.kick.notify_one();
            call.start_playing(self.hotline.prompts(&self.language, &def.hold), false);
            let mut offered = false;
            loop {
                tokio::select! {
                    message = rx.recv() => match message {
                        Some(ToCaller::Agent(reserved)) => {
                            match self.put_through(call, reserved, def).await {
                                Ok(ended) => break 'queue ended,
                                // The agent's leg went down: back in line, by arrival.
                                Err(back) => {
                                    call = back;
                                    continue 'queue;
                                }
                            }
                        }
                        Some(ToCaller::Event(QueueEvent::Announce { position, .. })) => {
                            call.stop_playing();
                            let names = position_names(def, position);
                            call.start_playing(self.hotline.prompts(&self.language, &names), false);
                        }
                        Some(ToCaller::Event(QueueEvent::MaxWait { .. })) => match &def.after_max_wait {
                            AfterMaxWait::Callback => {
                                offered = true;
                                call.stop_playing();
                                call.start_playing(self.hotline.prompts(&self.language, &def.callback_offer), false);
                            }
                            AfterMaxWait::Overflow(other) => {
                                def = &self.menu.queues[other];
                                continue 'queue;
                            }
                            AfterMaxWait::Wait => {}
                        },
                        None => break 'queue (Some(call), InboundOutcome::Failed, "the hotline stopped".into()),
                    },
                    update = call.next_update() => match update {
                        None | Some(CallUpdate::Ended { .. }) => {
                            lock(&s.acd).leave(key);
                            let waited = seconds_between(self.arrived, self.now());
                            self.list("inbound_abandoned").await;
                            break 'queue (Some(call), InboundOutcome::Abandoned,
                                format!("hung up after {waited:.0} s waiting in {}", def.name));
                        }
                        Some(CallUpdate::PlayFinished) => {
                            call.start_playing(self.hotline.prompts(&self.language, &def.hold), false);
                        }
                        Some(CallUpdate::Digit { digit, .. }) if offered && digit == def.callback_key => {
                            lock(&s.acd).leave(key);
                            self.choices.push(digit.as_char());
                            self.save_choices().await;
                            call.stop_playing();
                            break 'queue self.book_callback(call, Some(&def.name)).await;
                        }
                        _ => {}
                    },
                }
            }
        };
        lock(&s.callers).remove(&key);
        lock(&s.acd).leave(key);
        s.kick.notify_one();
        ended
    }

    /// Records (when the queue says so) and bridges the caller to the agent, waits for the
    /// conversation to end. `Err` gives the call back when the agent's leg went down first.
    async fn put_through(
        &self,
        call: Call,
        reserved: Reserved,
        def: &QueueDef,
    ) -> Result<Ended, Call> {
        let s = &self.hotline.shared;
        call.stop_playing();
        let agent = reserved.name();
        let recording = if def.record_calls {
            self.start_recording(&call, &agent)
        } else {
            None
        };
        let at = self.now();
        if let Err(e) = self
            .calls()
            .connected(self.id, &agent, recording.as_deref(), at)
            .await
        {
            // Not put through what cannot be written: the agent is freed, the caller told.
            drop(reserved);
            return Ok((Some(call), InboundOutcome::Failed, format!("database: {e}")));
        }
        lock(&s.stats).on_inbound += 1;
        let result = reserved.connect(call).await;
        lock(&s.stats).on_inbound -= 1;
        match result {
            Ok(conversation) => {
                let talk = conversation.talk.as_secs_f64();
                let mut stats = lock(&s.stats);
                stats.handles.push_back(talk + s.wrap_s);
                if stats.handles.len() > HANDLE_SAMPLES {
                    stats.handles.pop_front();
                }
                drop(stats);
                let detail = format!("talked {talk:.0} s with {}", conversation.agent);
                Ok((Some(conversation.owner), InboundOutcome::Answered, detail))
            }
            Err(Some(call)) => {
                let _ = call.stop_recording();
                Err(call)
            }
            Err(None) => Ok((
                None,
                InboundOutcome::Failed,
                "the agent's leg task failed".into(),
            )),
        }
    }

    /// `RECORDINGS/inbound/DAY/ID-AGENT.wav`, or none when it cannot be started (logged: the
    /// conversation matters more than its recording).
    fn start_recording(&self, call: &Call, agent: &str) -> Option<String> {
        let s = &self.hotline.shared;
        let day = self.now().format("%Y-%m-%d").to_string();
        let dir = s.config.recordings_dir.join("inbound").join(day);
        let safe: String = agent
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{}-{safe}.wav", self.id));
        let started = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| call.record(path.clone()).map_err(|e| e.to_string()));
        match started {
            Ok(()) => Some(path.display().to_string()),
            Err(e) => {
                tracing::warn!(inbound_call = self.id, path = %path.display(), "cannot record: {e}");
                None
            }
        }
    }

    /// Puts the caller on the agents' callback list and thanks them.
    async fn book_callback(&mut self, mut call: Call, queue: Option<&str>) -> Ended {
        self.list("inbound_callback").await;
        self.play(&mut call, &self.menu.callback_booked, false)
            .await;
        let detail = match queue {
            Some(queue) => format!("asked for a callback from the {queue} queue"),
            None => "asked for a callback outside the hours".into(),
        };
        (Some(call), InboundOutcome::Callback, detail)
    }

    async fn list(&self, reason: &str) {
        let calls = self.calls();
        let row: Result<Option<InboundCall>, _> = calls.get(self.id).await;
        let listed = match row {
            Ok(Some(row)) => calls.list_for_callback(&row, reason, self.now()).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = listed {
            tracing::error!(
                inbound_call = self.id,
                "cannot list the caller for a callback: {e}"
            );
        }
    }
}

fn one_key(timeout: Duration) -> Collect {
    Collect {
        max_digits: 1,
        terminator: None,
        first_timeout: timeout,
        inter_timeout: timeout,
    }
}

/// A queue's position announcement with the place spelled out.
fn position_names(def: &QueueDef, position: usize) -> Vec<String> {
    def.position
        .iter()
        .map(|name| {
            if name == POSITION {
                position_prompt(position)
            } else {
                name.clone()
            }
        })
        .collect()
}
