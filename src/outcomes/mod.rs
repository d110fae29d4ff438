//! What a callback survey means for its ticket (seed 000: "only with the owner's agreement is
//! it closed").
//!
//! - satisfied (rating ≥ the script's `satisfied`, default 4 of 5): the ticket is closed and
//!   the owner's consent noted on its timeline;
//! - unsatisfied (rating ≤ `unsatisfied`, default 2): reopened (back to the responsible
//!   person by SMS, fresh SLA clocks), escalated one level, and an agent callback scheduled;
//! - neutral (in between): left for a person to settle, on the agents' callback list;
//! - unreached (every attempt spent without a rating): on the agents' callback list.
//!
//! Write before act: the verdict is a row ([`decide`]) before any effect; [`Outcomes::apply`]
//! then carries out each effect guarded by the ticket's state and level, and stamps the row
//! applied. A crash in between leaves a pending verdict that the next pass finishes without
//! doing anything twice.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::callbacks::NewAgentCallback;
use crate::contacts::dnc;
use crate::phone::Phone;
use crate::store::Store;
use crate::surveys::VerdictRule;
use crate::tickets::{Action, TicketDesk, TicketError, TicketRepo};
use crate::vocab::{Channel, DamagedRow, Level, TicketState, stored};
use crate::{on_pool, on_tx};

/// How soon an agent should call an owner the survey could not settle.
pub const AGENT_CALLBACK_WITHIN: TimeDelta = TimeDelta::hours(2);

pub use crate::vocab::Verdict;

impl Verdict {
    /// The verdict of a rating under `rule`.
    pub fn of_rating(rating: u8, rule: &VerdictRule) -> Verdict {
        if rating >= rule.satisfied {
            Verdict::Satisfied
        } else if rating <= rule.unsatisfied {
            Verdict::Unsatisfied
        } else {
            Verdict::Neutral
        }
    }
}

/// Why a verdict could not be decided or applied.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    /// The database failed.
    #[error("outcomes database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A ticket operation failed.
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// A verdict row holds a word outside its vocabulary.
    #[error("damaged survey verdict: {0}")]
    Damaged(#[from] DamagedRow),
}

/// A verdict to write.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The callback contact.
    pub campaign_contact_id: i64,
    /// Its campaign.
    pub campaign_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// What the survey says.
    pub verdict: Verdict,
    /// The rating, when one was given.
    pub rating: Option<u8>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A verdict after [`decide`]: the one that stands, and whether this call wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The contact's verdict as stored: this decision's, or the earlier one that stands.
    pub stored: StoredVerdict,
    /// This decision was written (false: the contact had a verdict already).
    pub written: bool,
}

/// Writes the verdict of a contact unless it has one (the first verdict stands), and returns
/// the verdict that stands, read in the same transaction, so the caller carries out exactly
/// what is stored without reading it back.
pub async fn decide(store: &Store, d: &Decision) -> Result<Decided, OutcomeError> {
    let mut tx = store.begin_write().await?;
    let level: Option<String> = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("select level from tickets where ticket_id = $1")
            .bind(d.ticket_id)
            .fetch_optional(conn)
            .await
    })?;
    let Some(level) = level else {
        return Err(TicketError::NotFound(d.ticket_id).into());
    };
    let written = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "insert into survey_verdicts
                    (campaign_contact_id, campaign_id, ticket_id, verdict, rating, level_before,
                     decided_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (campaign_contact_id) do nothing",
        )
        .bind(d.campaign_contact_id)
        .bind(d.campaign_id)
        .bind(d.ticket_id)
        .bind(d.verdict.as_str())
        .bind(d.rating.map(i64::from))
        .bind(level)
        .bind(d.at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected() > 0)
    })?;
    let sql = sqlx::AssertSqlSafe(OF_CONTACT.as_str());
    let row: VerdictRow = on_tx!(&mut tx, |conn| {
        sqlx::query_as(sql)
            .bind(d.campaign_contact_id)
            .fetch_one(conn)
            .await
    })?;
    tx.commit().await?;
    Ok(Decided {
        stored: StoredVerdict::try_from(row)?,
        written,
    })
}

/// A verdict as read from the store: its words checked against their vocabularies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredVerdict {
    /// Database id.
    pub verdict_id: i64,
    /// The callback contact.
    pub campaign_contact_id: i64,
    /// Its campaign.
    pub campaign_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// What the survey says.
    pub verdict: Verdict,
    /// The rating.
    pub rating: Option<i64>,
    /// The ticket's level when the verdict was decided (escalation climbs once from here).
    pub level_before: Level,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
    /// When every effect was written.
    pub applied_at: Option<DateTime<Utc>>,
}

/// A `survey_verdicts` row as the driver returns it, words still text.
#[derive(sqlx::FromRow)]
struct VerdictRow {
    verdict_id: i64,
    campaign_contact_id: i64,
    campaign_id: i64,
    ticket_id: i64,
    verdict: String,
    rating: Option<i64>,
    level_before: String,
    decided_at: DateTime<Utc>,
    applied_at: Option<DateTime<Utc>>,
}

impl TryFrom<VerdictRow> for StoredVerdict {
    type Error = DamagedRow;
    fn try_from(r: VerdictRow) -> Result<StoredVerdict, DamagedRow> {
        let id = r.verdict_id;
        Ok(StoredVerdict {
            verdict_id: id,
            campaign_contact_id: r.campaign_contact_id,
            campaign_id: r.campaign_id,
            ticket_id: r.ticket_id,
            verdict: stored(&r.verdict, TABLE, id, "verdict")?,
            rating: r.rating,
            level_before: stored(&r.level_before, TABLE, id, "level_before")?,
            decided_at: r.decided_at,
            applied_at: r.applied_at,
        })
    }
}

const TABLE: &str = "survey_verdicts";

/// The verdict of one contact, for [`decide`] (in its transaction) and [`of_contact`].
static OF_CONTACT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{VERDICT_COLUMNS} where v.campaign_contact_id = $1"));

const VERDICT_COLUMNS: &str = "select v.verdict_id, v.campaign_contact_id, v.campaign_id, \
     v.ticket_id, v.verdict, v.rating, v.level_before, v.decided_at, v.applied_at \
     from survey_verdicts v";

/// The verdicts of a campaign, in the order decided.
pub async fn of_campaign(
    store: &Store,
    campaign_id: i64,
) -> Result<Vec<StoredVerdict>, OutcomeError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{VERDICT_COLUMNS} where v.campaign_id = $1 order by v.verdict_id"
    ));
    let rows: Vec<VerdictRow> = on_pool!(store, |pool| {
        sqlx::query_as(sql).bind(campaign_id).fetch_all(pool).await
    })?;
    typed(rows)
}

fn typed(rows: Vec<VerdictRow>) -> Result<Vec<StoredVerdict>, OutcomeError> {
    rows.into_iter()
        .map(|r| StoredVerdict::try_from(r).map_err(OutcomeError::from))
        .collect()
}

/// The verdict of one callback contact, if decided.
pub async fn of_contact(
    store: &Store,
    campaign_contact_id: i64,
) -> Result<Option<StoredVerdict>, OutcomeError> {
    let sql = sqlx::AssertSqlSafe(OF_CONTACT.as_str());
    let row: Option<VerdictRow> = on_pool!(store, |pool| {
        sqlx::query_as(sql)
            .bind(campaign_contact_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(StoredVerdict::try_from).transpose()?)
}

/// One effect carried out, for logs and reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// The ticket.
    pub ticket_id: i64,
    /// The verdict.
    pub verdict: Verdict,
    /// The ticket's state afterwards.
    pub state: TicketState,
    /// Its level afterwards.
    pub level: Level,
}

/// Carries verdicts out on tickets.
#[derive(Debug, Clone)]
pub struct Outcomes {
    desk: TicketDesk,
    actor: String,
}

impl Outcomes {
    /// Outcomes applied through `desk`, in the name of `actor` (`survey:CAMPAIGN`).
    pub fn new(desk: TicketDesk, actor: impl Into<String>) -> Outcomes {
        Outcomes {
            desk,
            actor: actor.into(),
        }
    }

    /// Applies every verdict not yet applied (the ones just decided, and any a crash left).
    /// One that fails (its ticket's project has nobody responsible, say) is logged and left
    /// pending for the next pass; the others go on.
    pub async fn apply_pending(&self) -> Result<Vec<Applied>, OutcomeError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{VERDICT_COLUMNS} where v.applied_at is null order by v.verdict_id"
        ));
        let pending: Vec<VerdictRow> = on_pool!(self.desk.store(), |pool| {
            sqlx::query_as(sql).fetch_all(pool).await
        })?;
        // A damaged row stops the pass with an error naming it, rather than being applied
        // as some other verdict.
        let pending = typed(pending)?;
        let mut done = Vec::new();
        for verdict in pending {
            match self.apply(&verdict).await {
                Ok(applied) => done.push(applied),
                Err(OutcomeError::Db(e)) => return Err(OutcomeError::Db(e)),
                Err(e) => tracing::warn!(
                    verdict = verdict.verdict_id,
                    ticket = verdict.ticket_id,
                    "survey verdict left pending: {e}"
                ),
            }
        }
        Ok(done)
    }

    /// Carries out one verdict's effects, each only if not yet done, then stamps it applied.
    pub async fn apply(&self, v: &StoredVerdict) -> Result<Applied, OutcomeError> {
        let verdict = v.verdict;
        let store = self.desk.store().clone();
        let ticket_id = v.ticket_id;
        let get = || async {
            TicketRepo::new(&store)
                .get(ticket_id)
                .await?
                .ok_or(OutcomeError::Ticket(TicketError::NotFound(ticket_id)))
        };
        let rated = match v.rating {
            Some(r) => format!("rated {r} by keypad"),
            None => "no rating".to_string(),
        };
        let mut ticket = get().await?;
        // Completed again since (a new round of work, with its own callback): this verdict's
        // moment has passed; it changes nothing.
        let stale = ticket.completed_at.is_some_and(|at| at > v.decided_at);
        match verdict {
            _ if stale => {}
            Verdict::Satisfied => {
                if matches!(ticket.state, TicketState::Completed | TicketState::Callback) {
                    let consent = format!(
                        "业主同意结案 / the owner agreed to close: {rated} (campaign {}, \
                         verdict {})",
                        v.campaign_id, v.verdict_id
                    );
                    let reason = format!("回访满意 / satisfied at the callback: {rated}");
                    ticket = self
                        .desk
                        .act_noting(
                            ticket_id,
                            &self.actor,
                            Action::Close,
                            &reason,
                            &[("consent", &consent)],
                        )
                        .await?;
                }
            }
            Verdict::Unsatisfied => {
                let reason = format!("回访不满意 / unsatisfied at the callback: {rated}");
                if ticket.state == TicketState::Completed {
                    ticket = self.desk.start_callback(ticket_id, &self.actor).await?;
                }
                if ticket.state == TicketState::Callback {
                    self.desk.reopen(ticket_id, &self.actor, &reason).await?;
                }
                self.desk
                    .escalate_above(ticket_id, v.level_before, &self.actor, &reason)
                    .await?;
                self.agent_callback(
                    v,
                    Verdict::Unsatisfied.as_str(),
                    &format!("{reason}; call the owner"),
                )
                .await?;
                ticket = get().await?;
            }
            Verdict::Neutral => {
                let note = format!("回访一般 / neutral: {rated}; ask whether it can be closed");
                self.agent_callback(v, Verdict::Neutral.as_str(), &note)
                    .await?;
            }
            Verdict::Unreached => {
                let note = "回访未接通 / every callback attempt went unanswered; call the owner";
                self.agent_callback(v, Verdict::Unreached.as_str(), note)
                    .await?;
            }
        }
        let now = self.desk.now();
        on_pool!(self.desk.store(), |pool| {
            // Only the task this survey answered: a later round's task stays for its campaign.
            sqlx::query(
                "update callback_tasks set state = 'done'
                  where ticket_id = $1 and state = 'queued' and created_at <= $2",
            )
            .bind(ticket_id)
            .bind(v.decided_at)
            .execute(pool)
            .await?;
            sqlx::query(
                "update survey_verdicts set applied_at = $2 where verdict_id = $1 \
                 and applied_at is null",
            )
            .bind(v.verdict_id)
            .bind(now)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(Applied {
            ticket_id,
            verdict,
            state: ticket.state,
            level: ticket.level,
        })
    }

    /// A satisfied owner who asked for an agent when none was free: on the agents' list.
    pub async fn asked_for_agent(&self, v: &StoredVerdict) -> Result<(), OutcomeError> {
        let note = "回访时要求转人工 / asked for an agent during the callback; none was free";
        self.agent_callback(v, "asked_for_agent", note).await
    }

    async fn agent_callback(
        &self,
        v: &StoredVerdict,
        reason: &str,
        note: &str,
    ) -> Result<(), OutcomeError> {
        let contact: Option<(Option<i64>, String)> = on_pool!(self.desk.store(), |pool| {
            sqlx::query_as(
                "select owner_id, phone from campaign_contacts where campaign_contact_id = $1",
            )
            .bind(v.campaign_contact_id)
            .fetch_optional(pool)
            .await
        })?;
        let Some((owner_id, phone)) = contact else {
            return Ok(());
        };
        // An owner who asked not to be called (or never agreed to calls) is not called back.
        let blocked = match Phone::parse(&phone) {
            Ok(p) => dnc::is_blocked(self.desk.store(), &p, Channel::Voice).await?,
            Err(_) => false,
        };
        let withdrawn = match owner_id {
            Some(id) => dnc::consent_withdrawn(self.desk.store(), id, Channel::Voice).await?,
            None => false,
        };
        if blocked || withdrawn {
            let why = format!(
                "{reason}: not put on the agents' callback list — the owner {}",
                if blocked {
                    "is on the do-not-call list"
                } else {
                    "has not consented to calls"
                }
            );
            self.desk
                .note(v.ticket_id, &self.actor, "no_callback", &why)
                .await?;
            return Ok(());
        }
        let now = self.desk.now();
        let call = NewAgentCallback {
            verdict_id: Some(v.verdict_id),
            owner_id,
            phone: &phone,
            campaign_id: Some(v.campaign_id),
            reason,
            note,
            due_at: now + AGENT_CALLBACK_WITHIN,
            created_at: now,
        };
        self.desk
            .schedule_agent_callback(v.ticket_id, &call, &self.actor)
            .await?;
        Ok(())
    }
}

/// A campaign's survey so far: answers per node and value, verdicts per word.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// `(node, value, answers)`, by node then value.
    pub answers: Vec<(String, String, i64)>,
    /// `(verdict, contacts)`.
    pub verdicts: Vec<(String, i64)>,
}

/// The survey answers and verdicts of campaign `campaign_id`.
pub async fn tally(store: &Store, campaign_id: i64) -> Result<Tally, sqlx::Error> {
    on_pool!(store, |pool| {
        let answers = sqlx::query_as(
            "select node, value, count(*) from survey_answers where campaign_id = $1
              group by node, value order by node, value",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await?;
        let verdicts = sqlx::query_as(
            "select verdict, count(*) from survey_verdicts where campaign_id = $1
              group by verdict order by verdict",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await?;
        Ok(Tally { answers, verdicts })
    })
}
