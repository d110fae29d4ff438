//! Campaigns in the database: the definition as written, the life-cycle state, and one event
//! row per state change (written in the same commit as the state).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lifecycle::{Action, State, TransitionError, UnknownState};
use super::{Campaign, CampaignErrors};
use crate::metrics::{Period, abandon};
use crate::pacing::AbandonWindow;
use crate::store::{Store, Tx};
use crate::{on_pool, on_tx};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCampaign {
    /// Database id.
    pub campaign_id: i64,
    /// Unique code (from the definition).
    pub code: String,
    /// Display name.
    pub name: String,
    /// `callback`, `notification` or `survey`.
    pub kind: String,
    /// Where it is in its life.
    pub state: State,
    /// The TOML text it was created from.
    pub definition: String,
    /// The file it was created from, when it came from one.
    pub source_file: Option<String>,
    /// When a scheduled campaign starts by itself.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

impl StoredCampaign {
    /// Parses the stored definition again (it was valid when stored; a newer release may
    /// disagree, which is reported with the campaign's code).
    pub fn definition(&self) -> Result<Campaign, CampaignErrors> {
        let origin = self
            .source_file
            .clone()
            .unwrap_or_else(|| format!("campaign {} (database)", self.code));
        Campaign::parse(&self.definition, &origin)
    }

    /// The folder that relative paths of the definition (CSV lists, scripts) are taken from.
    pub fn base_dir(&self) -> PathBuf {
        self.source_file
            .as_deref()
            .and_then(|f| std::path::Path::new(f).parent())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    campaign_id: i64,
    code: String,
    name: String,
    kind: String,
    state: String,
    definition: String,
    source_file: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for StoredCampaign {
    type Error = UnknownState;
    fn try_from(r: Row) -> Result<StoredCampaign, UnknownState> {
        Ok(StoredCampaign {
            state: r.state.parse()?,
            campaign_id: r.campaign_id,
            code: r.code,
            name: r.name,
            kind: r.kind,
            definition: r.definition,
            source_file: r.source_file,
            starts_at: r.starts_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// One state change on a campaign's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CampaignEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a user, or `dialer:NODE`).
    pub actor: String,
    /// `create`, `schedule`, `start`, `pause`, `resume`, `stop`, `complete`.
    pub action: String,
    /// The state before (none for `create`).
    pub from_state: Option<String>,
    /// The state after.
    pub to_state: String,
    /// Why, when given.
    pub reason: String,
}

/// What failed in the campaign repository, naming the campaign.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// `create` with a code that is taken.
    #[error("a campaign with code `{0}` already exists")]
    Exists(String),
    /// No campaign has this code.
    #[error("no campaign `{0}`")]
    NotFound(String),
    /// The step is not allowed in the campaign's state.
    #[error("campaign `{code}`: {source}")]
    Transition {
        /// The campaign.
        code: String,
        /// The refused step.
        source: TransitionError,
    },
    /// A stored row holds a state word we do not know.
    #[error("campaign `{code}`: {source}")]
    Damaged {
        /// The campaign.
        code: String,
        /// The word.
        source: UnknownState,
    },
    /// The database failed.
    #[error("campaign database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// How a campaign's contacts stand, for `status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Progress {
    /// Contacts waiting for a (first or next) attempt.
    pub pending: i64,
    /// Contacts leased to a node now (being called, or about to be).
    pub leased: i64,
    /// Contacts with a final outcome.
    pub done: i64,
    /// Final outcomes of done contacts, by word.
    pub final_outcomes: BTreeMap<String, i64>,
    /// Attempts made, by outcome (`open` for those still in progress).
    pub attempts: BTreeMap<String, i64>,
}

/// The select list of a campaign row.
macro_rules! select {
    () => {
        "select campaign_id, code, name, kind, state, definition, source_file, starts_at,
                created_at, updated_at from campaigns"
    };
}

/// The campaigns of one store.
#[derive(Debug, Clone, Copy)]
pub struct Campaigns<'s> {
    store: &'s Store,
}

impl<'s> Campaigns<'s> {
    /// Works on `store`.
    pub fn new(store: &'s Store) -> Campaigns<'s> {
        Campaigns { store }
    }

    /// The store the repository reads.
    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// Stores a validated definition as a draft; `definition` is its TOML text.
    pub async fn create(
        &self,
        campaign: &Campaign,
        definition: &str,
        source_file: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredCampaign, RepoError> {
        let code = campaign.code();
        if self.find(code).await?.is_some() {
            return Err(RepoError::Exists(code.to_string()));
        }
        let mut tx = self.store.begin_write().await?;
        let inserted: Result<i64, sqlx::Error> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "insert into campaigns (code, name, kind, state, definition, source_file,
                                        created_at, updated_at)
                 values ($1, $2, $3, 'draft', $4, $5, $6, $6) returning campaign_id",
            )
            .bind(code)
            .bind(campaign.name())
            .bind(campaign.kind().as_str())
            .bind(definition)
            .bind(source_file)
            .bind(now)
            .fetch_one(conn)
            .await
        });
        let id = match inserted {
            Ok(id) => id,
            // Another process created the same code between our look-up and the insert.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(RepoError::Exists(code.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        event(&mut tx, id, now, actor, "create", None, State::Draft, "").await?;
        tx.commit().await?;
        self.get(code).await
    }

    /// The campaign with `code`, or [`RepoError::NotFound`].
    pub async fn get(&self, code: &str) -> Result<StoredCampaign, RepoError> {
        self.find(code)
            .await?
            .ok_or_else(|| RepoError::NotFound(code.to_string()))
    }

    /// The campaign with `code`, if any.
    pub async fn find(&self, code: &str) -> Result<Option<StoredCampaign>, RepoError> {
        let row: Option<Row> = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(select!(), " where code = $1"))
                .bind(code)
                .fetch_optional(pool)
                .await
        })?;
        row.map(convert).transpose()
    }

    /// Every campaign, newest first.
    pub async fn list(&self) -> Result<Vec<StoredCampaign>, RepoError> {
        let rows: Vec<Row> = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(select!(), " order by campaign_id desc"))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(convert).collect()
    }

    /// Takes a life-cycle step; the new state and its event are one commit. A step that the
    /// state does not allow (also when another process changed it first) is refused.
    pub async fn apply(
        &self,
        code: &str,
        action: Action,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredCampaign, RepoError> {
        self.step(code, action, None, actor, reason, now).await
    }

    /// Schedules a draft to start by itself at `starts_at`.
    pub async fn schedule(
        &self,
        code: &str,
        starts_at: DateTime<Utc>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredCampaign, RepoError> {
        let reason = format!("starts at {}", starts_at.to_rfc3339());
        self.step(code, Action::Schedule, Some(starts_at), actor, &reason, now)
            .await
    }

    /// Starts every scheduled campaign whose start time has come; returns their codes.
    pub async fn start_due(
        &self,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, RepoError> {
        let mut started = Vec::new();
        for campaign in self.list().await? {
            let due = campaign.starts_at.is_some_and(|at| at <= now);
            if campaign.state == State::Scheduled && due {
                match self
                    .apply(
                        &campaign.code,
                        Action::Start,
                        actor,
                        "start time reached",
                        now,
                    )
                    .await
                {
                    Ok(_) => started.push(campaign.code),
                    // Another node started it first.
                    Err(RepoError::Transition { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(started)
    }

    async fn step(
        &self,
        code: &str,
        action: Action,
        starts_at: Option<DateTime<Utc>>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredCampaign, RepoError> {
        let current = self.get(code).await?;
        let to = current
            .state
            .apply(action)
            .map_err(|source| RepoError::Transition {
                code: code.to_string(),
                source,
            })?;
        let mut tx = self.store.begin_write().await?;
        // Only from the state we read: a concurrent step makes this update find nothing.
        let changed = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "update campaigns set state = $3, updated_at = $4,
                        starts_at = coalesce($5, starts_at)
                  where campaign_id = $1 and state = $2",
            )
            .bind(current.campaign_id)
            .bind(current.state.as_str())
            .bind(to.as_str())
            .bind(now)
            .bind(starts_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        if changed == 0 {
            drop(tx);
            let now_state = self.get(code).await?.state;
            let source = now_state
                .apply(action)
                .err()
                .unwrap_or_else(|| TransitionError {
                    action,
                    state: now_state,
                    allowed: "retry".into(),
                });
            return Err(RepoError::Transition {
                code: code.to_string(),
                source,
            });
        }
        let from = Some(current.state);
        event(
            &mut tx,
            current.campaign_id,
            now,
            actor,
            action.as_str(),
            from,
            to,
            reason,
        )
        .await?;
        tx.commit().await?;
        self.get(code).await
    }

    /// The campaign's timeline, oldest first.
    pub async fn events(&self, campaign_id: i64) -> Result<Vec<CampaignEvent>, RepoError> {
        Ok(on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select at, actor, action, from_state, to_state, reason from campaign_events
                  where campaign_id = $1 order by campaign_event_id",
            )
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// How the campaign's contacts and attempts stand.
    pub async fn progress(&self, campaign_id: i64) -> Result<Progress, RepoError> {
        let states: Vec<(String, Option<String>, i64)> = on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select state, final_outcome, count(*) from campaign_contacts
                  where campaign_id = $1 group by state, final_outcome",
            )
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })?;
        let attempts: Vec<(Option<String>, i64)> = on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select outcome, count(*) from attempts where campaign_id = $1 group by outcome",
            )
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })?;
        let mut progress = Progress::default();
        for (state, outcome, n) in states {
            match state.as_str() {
                "pending" => progress.pending += n,
                "leased" => progress.leased += n,
                _ => {
                    progress.done += n;
                    let word = outcome.unwrap_or_else(|| "unknown".into());
                    *progress.final_outcomes.entry(word).or_default() += n;
                }
            }
        }
        for (outcome, n) in attempts {
            let word = outcome.unwrap_or_else(|| "open".into());
            *progress.attempts.entry(word).or_default() += n;
        }
        Ok(progress)
    }

    /// Human answers and abandoned calls of the campaign answered within `window`, under the
    /// one abandon rule (`metrics::abandon`: machine answers out of both, counted by the
    /// answer's instant), so the pacer, the wallboard, `campaign status` and the report agree.
    pub async fn abandon(
        &self,
        campaign_id: i64,
        window: Period,
    ) -> Result<AbandonWindow, RepoError> {
        let sql = format!(
            "select {} from attempts a where a.campaign_id = $1 and {}",
            abandon::columns("a"),
            abandon::counted("a", 2, 3),
        );
        let (answered, abandoned): (i64, i64) = on_pool!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(campaign_id)
                .bind(window.from)
                .bind(window.to)
                .fetch_one(pool)
                .await
        })?;
        Ok(AbandonWindow {
            answered: u32::try_from(answered).unwrap_or(u32::MAX),
            abandoned: u32::try_from(abandoned).unwrap_or(u32::MAX),
        })
    }
}

fn convert(row: Row) -> Result<StoredCampaign, RepoError> {
    let code = row.code.clone();
    StoredCampaign::try_from(row).map_err(|source| RepoError::Damaged { code, source })
}

/// Writes one event row inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &mut Tx,
    campaign_id: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    from: Option<State>,
    to: State,
    reason: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "insert into campaign_events (campaign_id, at, actor, action, from_state, to_state, reason)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(campaign_id)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(from.map(State::as_str))
        .bind(to.as_str())
        .bind(reason)
        .execute(conn)
        .await
        .map(drop)
    })
}
