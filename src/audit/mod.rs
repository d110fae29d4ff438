//! The audit log: an append-only record of who did what to whom, when and from where — logins
//! (ok and failed), look-ups and screen pops of an owner, ticket and campaign changes, account
//! changes. China's PIPL expects access to personal information to be logged and reviewable.
//!
//! A row is written before the thing it records is answered or acted on: a look-up whose row
//! cannot be written is refused. Rows are never updated (a trigger refuses it); only
//! [`AuditLog::prune`] deletes, by the configured retention. May import only `store`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::on_pool;
use crate::store::Store;

/// What was done: the closed vocabulary of the `action` column.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::Display,
    strum::AsRefStr,
    strum::EnumIter,
)]
pub enum AuditAction {
    /// A good password; a session was opened.
    #[strum(serialize = "login.ok")]
    #[serde(rename = "login.ok")]
    LoginOk,
    /// A wrong password or unknown name.
    #[strum(serialize = "login.failed")]
    #[serde(rename = "login.failed")]
    LoginFailed,
    /// A login refused by the throttle (429) or a lock-out.
    #[strum(serialize = "login.throttled")]
    #[serde(rename = "login.throttled")]
    LoginThrottled,
    /// An account reached the lock-out threshold.
    #[strum(serialize = "account.locked")]
    #[serde(rename = "account.locked")]
    AccountLocked,
    /// `/api/lookup`: an owner found by phone number.
    #[strum(serialize = "owner.lookup")]
    #[serde(rename = "owner.lookup")]
    OwnerLookup,
    /// The screen pop of a call or a preview offer shown to an agent.
    #[strum(serialize = "owner.screen_pop")]
    #[serde(rename = "owner.screen_pop")]
    ScreenPop,
    /// A ticket opened.
    #[strum(serialize = "ticket.open")]
    #[serde(rename = "ticket.open")]
    TicketOpen,
    /// A ticket action (assign, resolve, escalate, ...).
    #[strum(serialize = "ticket.change")]
    #[serde(rename = "ticket.change")]
    TicketChange,
    /// A campaign created from the console.
    #[strum(serialize = "campaign.create")]
    #[serde(rename = "campaign.create")]
    CampaignCreate,
    /// A campaign life-cycle step (start, pause, resume, stop, ...).
    #[strum(serialize = "campaign.step")]
    #[serde(rename = "campaign.step")]
    CampaignStep,
    /// An account created or its password reset.
    #[strum(serialize = "account.add")]
    #[serde(rename = "account.add")]
    AccountAdd,
    /// An account switched off (its sessions ended).
    #[strum(serialize = "account.disable")]
    #[serde(rename = "account.disable")]
    AccountDisable,
    /// An account switched on again.
    #[strum(serialize = "account.enable")]
    #[serde(rename = "account.enable")]
    AccountEnable,
    /// A locked account opened by an admin.
    #[strum(serialize = "account.unlock")]
    #[serde(rename = "account.unlock")]
    AccountUnlock,
    /// An account's owner chose a new password (a generated one at the first login).
    #[strum(serialize = "account.password")]
    #[serde(rename = "account.password")]
    AccountPassword,
    /// Figures or records taken out of the console (reports).
    #[strum(serialize = "export")]
    #[serde(rename = "export")]
    Export,
}

/// One thing done, to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry<'a> {
    /// Who: a username, or `cli:USER` for the command line.
    pub actor: &'a str,
    /// What.
    pub action: AuditAction,
    /// To what: `owner:12`, `ticket:7`, `campaign:SPRING`, `user:agent1`.
    pub target: &'a str,
    /// The client's address (empty when unknown, as for the command line).
    pub address: &'a str,
    /// Anything more: the action word, a reason, a failure's cause.
    pub detail: &'a str,
}

/// A row read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Row id (increasing).
    pub audit_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// To what.
    pub target: String,
    /// From where.
    pub address: String,
    /// Anything more.
    pub detail: String,
}

/// Which rows to read, newest first.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only rows at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<i64>,
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A row carries an action word this build does not know.
    #[error("audit row {row}: unknown action `{word}`")]
    UnknownAction {
        /// The row's id.
        row: i64,
        /// The word read.
        word: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The default of `[audit] retention_days`.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;

type Row = (i64, DateTime<Utc>, String, String, String, String, String);

/// The audit log in a store.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    /// The log of `store`.
    pub fn new(store: &Store) -> AuditLog {
        AuditLog {
            store: store.clone(),
        }
    }

    /// Appends one row.
    pub async fn record(
        &self,
        entry: &AuditEntry<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), AuditError> {
        on_pool!(&self.store, |pool| {
            sqlx::query(
                "insert into audit_log (at, actor, action, target, address, detail)
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(now)
            .bind(entry.actor)
            .bind(entry.action.as_ref())
            .bind(entry.target)
            .bind(entry.address)
            .bind(entry.detail)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Whether `actor` already has a row of `action` with exactly `detail` at or after
    /// `since`: for what goes on record once however often it is shown (a call's screen pop
    /// that the desktop's feed sends on every change). `since` keeps the look-up on the
    /// `(actor, at)` index.
    pub async fn recorded_since(
        &self,
        actor: &str,
        action: AuditAction,
        detail: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, AuditError> {
        let found: Option<i64> = on_pool!(&self.store, |pool| {
            sqlx::query_scalar(
                "select audit_id from audit_log
                  where actor = $1 and at >= $2 and action = $3 and detail = $4 limit 1",
            )
            .bind(actor)
            .bind(since)
            .bind(action.as_ref())
            .bind(detail)
            .fetch_optional(pool)
            .await
        })?;
        Ok(found.is_some())
    }

    /// The rows `filter` picks, newest first.
    pub async fn search(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, AuditError> {
        let limit = filter.limit.unwrap_or(100).clamp(1, 10_000);
        let action = filter.action.map(|a| a.as_ref().to_string());
        let rows: Vec<Row> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "select audit_id, at, actor, action, target, address, detail from audit_log
                  where ($1 is null or actor = $1) and ($2 is null or action = $2)
                    and ($3 is null or at >= $3)
                  order by audit_id desc limit $4",
            )
            .bind(filter.actor.as_deref())
            .bind(action.as_deref())
            .bind(filter.since)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(audit_id, at, actor, word, target, address, detail)| {
                let action = word.parse().map_err(|_| AuditError::UnknownAction {
                    row: audit_id,
                    word,
                })?;
                Ok(AuditRow {
                    audit_id,
                    at,
                    actor,
                    action,
                    target,
                    address,
                    detail,
                })
            })
            .collect()
    }

    /// Deletes the rows older than `retention_days` before `now`; returns how many.
    pub async fn prune(&self, retention_days: i64, now: DateTime<Utc>) -> Result<u64, AuditError> {
        let before = now - TimeDelta::days(retention_days.max(1));
        let done = on_pool!(&self.store, |pool| {
            sqlx::query("delete from audit_log where at < $1")
                .bind(before)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn action_words_round_trip() {
        for action in AuditAction::iter() {
            let word = action.to_string();
            assert_eq!(word.parse::<AuditAction>().unwrap(), action, "{word}");
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{word}\""));
        }
        assert!("login".parse::<AuditAction>().is_err());
    }
}
