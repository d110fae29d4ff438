//! Settling a contact after an attempt on any channel: the retry rules and caps decide whether
//! it is called again, when, or finished, and whether the campaign's next channel takes over.
//!
//! Write before act: [`super::place`] writes the attempt's end before the contact is settled
//! here, so a crash at any point leaves a row that restart recovery ([`super::node`]) settles.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::hopper::{AttemptRow, Attempts, ClaimedContact, Hopper};
use super::plan::NodeError;
use crate::campaigns::{self, Outcome};
use crate::store::Store;
use crate::telephony::sip::Disposition;
use crate::vocab::AttemptOutcome;

/// How long an abandoned owner is left in peace before another attempt.
pub const ABANDON_QUIET: chrono::TimeDelta = chrono::TimeDelta::hours(72);

impl From<Disposition> for AttemptOutcome {
    /// How a call that ended with this SIP disposition ended, in the attempts' vocabulary.
    fn from(d: Disposition) -> AttemptOutcome {
        match d {
            Disposition::Answered => AttemptOutcome::Answered,
            Disposition::Busy => AttemptOutcome::Busy,
            Disposition::NoAnswer => AttemptOutcome::NoAnswer,
            Disposition::InvalidNumber => AttemptOutcome::InvalidNumber,
            Disposition::Rejected => AttemptOutcome::Rejected,
            Disposition::Congestion => AttemptOutcome::Congestion,
            Disposition::Unavailable => AttemptOutcome::Unavailable,
            Disposition::Cancelled => AttemptOutcome::Cancelled,
            Disposition::Timeout => AttemptOutcome::Timeout,
            Disposition::AuthFailed => AttemptOutcome::AuthFailed,
            Disposition::Failed => AttemptOutcome::Failed,
        }
    }
}

/// Which retry rule applies after an attempt that ended with `outcome`; `None`: the contact is
/// finished (answered, invalid number, rejected) — or, for [`AttemptOutcome::NotDialed`],
/// simply due again.
pub fn retry_class(outcome: AttemptOutcome) -> Option<Outcome> {
    use AttemptOutcome as A;
    match outcome {
        A::Busy => Some(Outcome::Busy),
        A::NoAnswer => Some(Outcome::NoAnswer),
        A::Machine => Some(Outcome::Machine),
        A::Abandoned => Some(Outcome::Abandoned),
        A::Incomplete => Some(Outcome::Incomplete),
        A::Congestion
        | A::Unavailable
        | A::Timeout
        | A::Cancelled
        | A::AuthFailed
        | A::Failed
        | A::Interrupted => Some(Outcome::Failed),
        A::Answered
        | A::InvalidNumber
        | A::Rejected
        | A::Completed
        | A::NotDialed
        | A::Queued
        | A::Sent
        | A::Delivered
        | A::Unknown
        | A::Suppressed
        | A::NoReply
        | A::Unsent
        | A::Dnc
        | A::NoConsent
        | A::NoWindow
        | A::NoEmail => None,
    }
}

/// Where a contact stands after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Called again at this moment (the retry rule's delay, moved into a call window).
    Retry(DateTime<Utc>),
    /// Finished with this final outcome.
    Done(AttemptOutcome),
}

/// Decides a contact's next step after an attempt that ended with `word` at `now`, from the
/// campaign's retry rules and caps and every attempt so far (`history`, the last included).
pub fn settle(
    campaign: &campaigns::Campaign,
    word: AttemptOutcome,
    history: &[AttemptRow],
    now: DateTime<Utc>,
    tz: Tz,
) -> Settled {
    if word == AttemptOutcome::NotDialed {
        return Settled::Retry(now);
    }
    let Some(outcome) = retry_class(word) else {
        return Settled::Done(word);
    };
    let local_day = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
    let counted = history
        .iter()
        .filter(|a| a.outcome != Some(AttemptOutcome::NotDialed));
    let count = |pred: &dyn Fn(&AttemptRow) -> bool| {
        u32::try_from(counted.clone().filter(|a| pred(a)).count()).unwrap_or(u32::MAX)
    };
    let attempts = campaigns::Attempts {
        total: count(&|_| true),
        today: count(&|a| local_day(a.queued_at) == local_day(now)),
        of_outcome: count(&|a| a.outcome.and_then(retry_class) == Some(outcome)),
    };
    match campaign.next_attempt(outcome, attempts, now, tz) {
        // An owner whose answered call found no agent is not called again within 72 hours,
        // whatever the rule says (the abandoned-call rule of predictive dialing).
        Some(at) if outcome == Outcome::Abandoned && at < now + ABANDON_QUIET => {
            match campaign.windows().next_open(now + ABANDON_QUIET, tz) {
                Some(at) => Settled::Retry(at),
                None => Settled::Done(word),
            }
        }
        Some(at) => Settled::Retry(at),
        None => Settled::Done(word),
    }
}

/// Gives the contact back for its next attempt, or finishes it; says which.
pub(crate) async fn settle_contact(
    store: &Store,
    campaign: &campaigns::Campaign,
    contact: &ClaimedContact,
    word: AttemptOutcome,
    at: DateTime<Utc>,
) -> Result<Settled, NodeError> {
    let hopper = Hopper::new(store);
    let history = Attempts::new(store)
        .of_contact(contact.campaign_contact_id)
        .await?;
    let tz: Tz = contact.tz.parse().unwrap_or(campaign.timezone());
    let settled = settle(campaign, word, &history, at, tz);
    // Unreached by phone after every retry: the campaign's next channel (SMS, email) if any.
    if let Settled::Done(outcome) = settled
        && !reached(outcome)
        && has_next_channel(campaign, contact)
    {
        hopper.advance(contact, at).await?;
        return Ok(Settled::Retry(at));
    }
    match &settled {
        Settled::Retry(next) => hopper.release(contact, Some(*next), at).await?,
        Settled::Done(outcome) => hopper.finish(contact, *outcome, at).await?,
    }
    Ok(settled)
}

/// Whether a call that ended with `outcome` reached the owner (no other channel is tried then).
pub fn reached(outcome: AttemptOutcome) -> bool {
    use AttemptOutcome as A;
    matches!(
        outcome,
        A::Answered | A::Completed | A::Incomplete | A::Abandoned
    )
}

/// Whether the campaign has a channel after the contact's current one.
pub(crate) fn has_next_channel(campaign: &campaigns::Campaign, contact: &ClaimedContact) -> bool {
    usize::try_from(contact.channel_step + 1).is_ok_and(|next| next < campaign.channels().len())
}

/// The prompts of `names` in `language`, falling back to the default language per prompt.
pub(crate) fn prompt_paths(
    dir: &std::path::Path,
    names: &[String],
    language: &str,
) -> Vec<std::path::PathBuf> {
    names
        .iter()
        .map(|name| {
            let wanted = dir.join(language).join(format!("{name}.wav"));
            if wanted.is_file() {
                wanted
            } else {
                dir.join(super::lists::DEFAULT_LANGUAGE)
                    .join(format!("{name}.wav"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Channel;
    use AttemptOutcome as A;
    use chrono::TimeZone;

    fn campaign() -> campaigns::Campaign {
        campaigns::Campaign::parse(
            r#"
code = "t"
name = "t"
kind = "notification"
mode = "agentless"
prompts = ["handover-notice"]
[source]
csv = "x.csv"
[windows]
mon-sun = ["09:00-20:00"]
[retry]
busy = { after = "30m", max = 2 }
no_answer = { after = "2h", max = 1 }
daily_cap = 5
lifetime_cap = 8
"#,
            "test",
        )
        .unwrap()
    }

    fn row(outcome: AttemptOutcome, at: DateTime<Utc>) -> AttemptRow {
        AttemptRow {
            attempt_id: 1,
            campaign_contact_id: 1,
            campaign_id: 1,
            channel: Channel::Voice,
            node: "n".into(),
            queued_at: at,
            dialed_at: Some(at),
            answered_at: None,
            bridged_at: None,
            ended_at: Some(at),
            outcome: Some(outcome),
            sip_status: None,
            agent: None,
            recording_path: None,
            detail: None,
        }
    }

    #[test]
    fn busy_is_retried_per_its_rule_then_finished() {
        let c = campaign();
        let tz = Tz::Asia__Shanghai;
        // 10:00 in Shanghai, inside the window.
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap();
        let one = [row(A::Busy, t)];
        assert_eq!(
            settle(&c, A::Busy, &one, t, tz),
            Settled::Retry(t + chrono::TimeDelta::minutes(30))
        );
        let three = [row(A::Busy, t), row(A::Busy, t), row(A::Busy, t)];
        assert_eq!(settle(&c, A::Busy, &three, t, tz), Settled::Done(A::Busy));
        // No answer has its own count: one busy before does not use it up.
        let mixed = [row(A::Busy, t), row(A::NoAnswer, t)];
        assert_eq!(
            settle(&c, A::NoAnswer, &mixed, t, tz),
            Settled::Retry(t + chrono::TimeDelta::hours(2))
        );
    }

    #[test]
    fn final_outcomes_finish_and_a_retry_waits_for_the_window() {
        let c = campaign();
        let tz = Tz::Asia__Shanghai;
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap();
        assert_eq!(
            settle(&c, A::Answered, &[], t, tz),
            Settled::Done(A::Answered)
        );
        assert_eq!(
            settle(&c, A::InvalidNumber, &[], t, tz),
            Settled::Done(A::InvalidNumber)
        );
        assert_eq!(settle(&c, A::NotDialed, &[], t, tz), Settled::Retry(t));
        // Busy at 19:50 local: 30 min later is after the window, so 09:00 the next day.
        let late = Utc.with_ymd_and_hms(2026, 12, 2, 11, 50, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2026, 12, 3, 1, 0, 0).unwrap();
        assert_eq!(
            settle(&c, A::Busy, &[row(A::Busy, late)], late, tz),
            Settled::Retry(next)
        );
    }
}
