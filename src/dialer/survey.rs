//! A keypad survey on an answered call: the campaign's script walked over the SIP call
//! ([`crate::surveys::walk`]), every answer written (with its opt-out or SMS) before the walk
//! goes on; what it heard goes to [`super::verdict`], which settles a callback's ticket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::agents::AgentDesk;
use super::hopper::{AttemptId, Attempts, ClaimedContact};
use super::plan::{NodeError, Plan, PlanError, Survey};
use super::verdict::SurveyResult;
use crate::clock::SharedClock;
use crate::contacts::dnc;
use crate::on_tx;
use crate::outbox::{self, NewMessage};
use crate::phone::Phone;
use crate::store::Store;
use crate::surveys::{self, Answer, Heard, Keys, Line, Script, Want};
use crate::telephony::Digit;
use crate::telephony::media::Prompt;
use crate::telephony::transport::{Call, Collect, CollectEnd, PlayEnd};
use crate::vocab::Channel;

/// How a survey call went.
pub(crate) struct Surveyed {
    /// The owner's call, to hang up.
    pub(crate) call: Call,
    /// Nothing left to ask.
    pub(crate) complete: bool,
    /// The agent the owner was handed to, if any.
    pub(crate) agent: Option<String>,
    /// Everything the contact's survey has heard, earlier attempts and this call.
    pub(crate) heard: SurveyResult,
}

/// Walks the survey over an answered `call`, resuming after what earlier attempts answered.
pub(crate) async fn converse(
    plan: &Plan,
    survey: &Survey,
    id: AttemptId,
    contact: &ClaimedContact,
    call: Call,
) -> Result<Surveyed, NodeError> {
    let mut heard = SurveyResult::of_contact(&plan.store, contact.campaign_contact_id).await?;
    let empty = HashMap::new();
    let mut line = CallLine {
        call: Some(call),
        prompts: Survey::in_language(&survey.prompts, &contact.language).unwrap_or(&empty),
        recording: survey.recordings.join(format!("{}", id.0)),
        recorded: 0,
        desk: survey.transfer.clone(),
        attempts: Attempts::new(&plan.store),
        clock: plan.clock.clone(),
        id,
        agent: None,
    };
    let mut sink = Stored {
        store: &plan.store,
        clock: &plan.clock,
        survey,
        attempt: id,
        contact,
        code: &plan.code,
    };
    let walked = surveys::walk(&survey.script, &mut line, &mut sink, heard.answers()).await?;
    let call = line.call.take().ok_or(NodeError::SurveyLostCall(id.0))?;
    heard.heard(walked.answers);
    Ok(Surveyed {
        call,
        complete: walked.complete,
        agent: line.agent,
        heard,
    })
}

/// The SIP call as a survey line.
struct CallLine<'a> {
    call: Option<Call>,
    prompts: &'a HashMap<String, Arc<Prompt>>,
    /// The file stem of this attempt's comments (`.../ATTEMPT`).
    recording: PathBuf,
    /// Comments recorded so far in this call (each its own file).
    recorded: usize,
    desk: Option<AgentDesk>,
    attempts: Attempts<'a>,
    clock: SharedClock,
    id: AttemptId,
    agent: Option<String>,
}

impl Line for CallLine<'_> {
    async fn play(&mut self, prompts: &[String], barge_in: bool) -> Heard {
        let Some(call) = self.call.as_mut() else {
            return Heard::HungUp;
        };
        // Every name was loaded with the plan, which refuses a script naming a missing one.
        let audio = prompts
            .iter()
            .filter_map(|name| self.prompts.get(name).cloned())
            .collect();
        match call.play(audio, barge_in).await {
            PlayEnd::HungUp => Heard::HungUp,
            PlayEnd::Finished | PlayEnd::Interrupted(_) => Heard::Played,
        }
    }

    async fn collect(&mut self, want: Want) -> Keys {
        let Some(call) = self.call.as_mut() else {
            return Keys {
                digits: String::new(),
                hung_up: true,
            };
        };
        let collected = call
            .collect(Collect {
                max_digits: usize::from(want.max_digits),
                terminator: want.terminator.and_then(|c| Digit::parse(c).ok()),
                first_timeout: want.first_timeout,
                inter_timeout: want.inter_timeout,
            })
            .await;
        Keys {
            hung_up: collected.end == CollectEnd::HungUp,
            digits: collected.digits,
        }
    }

    async fn record(&mut self, max: Duration) -> Option<String> {
        let call = self.call.as_mut()?;
        self.recorded += 1;
        let path = self.recording.with_file_name(format!(
            "{}-{}.wav",
            self.recording.file_name()?.to_string_lossy(),
            self.recorded
        ));
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::warn!("cannot record into {}: {e}", dir.display());
            return None;
        }
        if let Err(e) = call.record(path.clone()) {
            tracing::warn!("cannot record {}: {e}", path.display());
            return None;
        }
        // `#` ends the comment early; the time limit, or a hang-up, ends it otherwise.
        let until_pound = Collect {
            max_digits: usize::MAX,
            terminator: Digit::parse('#').ok(),
            first_timeout: max,
            inter_timeout: max,
        };
        let _ = tokio::time::timeout(max, call.collect(until_pound)).await;
        // Once the call has ended the file was finished with it.
        let _ = call.stop_recording();
        Some(path.display().to_string())
    }

    async fn transfer(&mut self) -> bool {
        let Some(desk) = self.desk.clone() else {
            return false;
        };
        let Some(call) = self.call.take() else {
            return false;
        };
        let rule = Duration::from_secs_f64(super::floor::CONNECT_RULE_S);
        let Some(reserved) = desk.take(rule).await else {
            self.call = Some(call);
            return false;
        };
        let name = reserved.name();
        if let Err(e) = self
            .attempts
            .mark_bridged(self.id, &name, self.clock.now())
            .await
        {
            tracing::warn!("attempt {}: {e}", self.id);
        }
        match reserved.connect(call).await {
            Ok(conversation) => {
                self.call = Some(conversation.owner);
                self.agent = Some(name);
                true
            }
            Err(back) => {
                let _ = self.attempts.unmark_bridged(self.id).await;
                self.call = back;
                false
            }
        }
    }

    fn hung_up(&self) -> bool {
        self.call.as_ref().is_none_or(|c| c.ended().is_some())
    }
}

/// Answers into `survey_answers`, each with what it asks for in the same transaction.
struct Stored<'a> {
    store: &'a Store,
    clock: &'a SharedClock,
    survey: &'a Survey,
    attempt: AttemptId,
    contact: &'a ClaimedContact,
    code: &'a str,
}

impl surveys::Answers for Stored<'_> {
    type Error = NodeError;

    async fn save(&mut self, node: &str, answer: &Answer) -> Result<(), NodeError> {
        let now = self.clock.now();
        let c = self.contact;
        let mut tx = self.store.begin_write().await?;
        let inserted = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "insert into survey_answers
                        (attempt_id, campaign_contact_id, campaign_id, node, kind, value, at)
                 values ($1, $2, $3, $4, $5, $6, $7)
                 on conflict (attempt_id, node) do nothing",
            )
            .bind(self.attempt.0)
            .bind(c.campaign_contact_id)
            .bind(c.campaign_id)
            .bind(node)
            .bind(answer.kind())
            .bind(answer.value())
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected() > 0)
        })?;
        // A node visited twice in one call (a looping script) acts once.
        if !inserted {
            return Ok(());
        }
        match answer {
            Answer::OptOut => {
                if let Ok(phone) = Phone::parse(&c.phone) {
                    let reason = format!(
                        "opted out in survey {} (attempt {})",
                        self.code, self.attempt
                    );
                    dnc::add_in_tx(&mut tx, &phone, Channel::All, "", &reason, now).await?;
                }
            }
            Answer::Sms(template) => {
                let text = self.survey.sms_text(template, &c.language);
                if let Some(text) = text {
                    let body = render_sms(text, self.code, c)
                        .map_err(|e| NodeError::Sms(format!("template `{template}`: {e}")))?;
                    let message = NewMessage {
                        channel: Channel::Sms,
                        recipient: &c.phone,
                        subject: None,
                        body: &body,
                        html: None,
                        ticket_id: c.ticket_id,
                        staff_id: None,
                        purpose: "survey",
                        at: now,
                        campaign: None,
                    };
                    outbox::enqueue(&mut tx, &message).await?;
                }
            }
            _ => {}
        }
        tx.commit().await?;
        Ok(())
    }
}

/// An SMS node's text, with `campaign`, `phone` and `ticket` filled in.
fn render_sms(template: &str, code: &str, contact: &ClaimedContact) -> Result<String, tera::Error> {
    let mut context = tera::Context::new();
    context.insert("campaign", code);
    context.insert("phone", &contact.phone);
    context.insert("ticket", &contact.ticket_id);
    tera::Tera::one_off(template, &context, false)
}

/// The SMS templates a script's `sms` nodes name, `templates/LANG/NAME.sms.txt` under `base_dir`
/// in each language present, each rendered once with sample values so a broken one is refused
/// when the campaign is planned, not found on a call.
pub(crate) fn sms_templates(
    script: &Script,
    base_dir: &std::path::Path,
    code: &str,
) -> Result<HashMap<String, HashMap<String, String>>, PlanError> {
    let mut sms: HashMap<String, HashMap<String, String>> = HashMap::new();
    let dir = base_dir.join("templates");
    let mut sample = tera::Context::new();
    sample.insert("campaign", code);
    sample.insert("phone", "+8613800000000");
    sample.insert("ticket", &1);
    for node in script.nodes.values() {
        let surveys::Step::Sms { template: name } = &node.step else {
            continue;
        };
        for language in [super::lists::DEFAULT_LANGUAGE, "en"] {
            let path = dir.join(language).join(format!("{name}.sms.txt"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Err(e) = tera::Tera::one_off(&text, &sample, false) {
                    return Err(PlanError::SmsTemplate {
                        name: name.clone(),
                        reason: format!("{}: {e}", path.display()),
                    });
                }
                sms.entry(language.to_string())
                    .or_default()
                    .insert(name.clone(), text);
            }
        }
        if !sms.values().any(|t| t.contains_key(name)) {
            let wanted = dir
                .join(super::lists::DEFAULT_LANGUAGE)
                .join(format!("{name}.sms.txt"));
            return Err(PlanError::SmsTemplate {
                name: name.clone(),
                reason: format!("{} does not exist", wanted.display()),
            });
        }
    }
    Ok(sms)
}
