//! An account's state: active, switched off by an admin, or locked out after too many wrong
//! passwords (kept in the database, so it survives a restart and holds across nodes); its
//! last login.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{User, UserError, Users, user_of};
use crate::on_pool;

/// Wrong passwords in a row after which an account is locked.
pub const LOCK_AFTER: i64 = 50;

/// How long a lock-out lasts unless an admin unlocks the account sooner.
pub const LOCK_MINUTES: i64 = 60;

/// Whether an account may log in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display, strum::AsRefStr, strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AccountState {
    /// It may.
    Active,
    /// Switched off by an admin (`huifang user disable`).
    Disabled,
    /// Too many wrong passwords: until an admin unlocks it or [`LOCK_MINUTES`] pass.
    Locked,
}

/// An account as `user list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    /// The account.
    #[serde(flatten)]
    pub user: User,
    /// Whether it may log in.
    pub state: AccountState,
    /// Its last good login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Wrong passwords since its last good one.
    pub failed_logins: i64,
}

/// What a wrong password did to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Wrong passwords in a row now.
    pub failed_logins: i64,
    /// This one locked the account.
    pub locked_now: bool,
}

impl Users {
    /// Every account, active or not, by name, with its state.
    pub async fn accounts(&self, now: DateTime<Utc>) -> Result<Vec<Account>, UserError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            bool,
            Option<DateTime<Utc>>,
            i64,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "select user_id, username, display_name, role, team, active, last_login_at,
                        failed_logins, locked_at
                   from users order by username",
            )
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, name, display, role, team, active, last, failed, locked)| {
                    let user = user_of((id, name, display, role, team))?;
                    let state = if !active {
                        AccountState::Disabled
                    } else if lock_stands(locked, now) {
                        AccountState::Locked
                    } else {
                        AccountState::Active
                    };
                    Some(Account {
                        user,
                        state,
                        last_login_at: last,
                        failed_logins: failed,
                    })
                },
            )
            .collect())
    }

    /// Switches an account off and ends its sessions at once (one transaction: no request
    /// finds the account off but a session still open).
    pub async fn disable(&self, username: &str) -> Result<(), UserError> {
        let done = on_pool!(&self.store, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let n = sqlx::query("update users set active = false where username = $1")
                    .bind(username)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "delete from web_sessions
                      where user_id in (select user_id from users where username = $1)",
                )
                .bind(username)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            }
            .await
        })?;
        if done == 0 {
            return Err(UserError::NotFound(username.into()));
        }
        Ok(())
    }

    /// Switches an account on again.
    pub async fn enable(&self, username: &str) -> Result<(), UserError> {
        self.update(
            username,
            "update users set active = true where username = $1",
        )
        .await
    }

    /// Ends an account's lock-out and its count of wrong passwords.
    pub async fn unlock(&self, username: &str) -> Result<(), UserError> {
        self.update(
            username,
            "update users set failed_logins = 0, locked_at = null where username = $1",
        )
        .await
    }

    async fn update(&self, username: &str, sql: &'static str) -> Result<(), UserError> {
        let done = on_pool!(&self.store, |pool| {
            sqlx::query(sql)
                .bind(username)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(UserError::NotFound(username.into()));
        }
        Ok(())
    }

    /// When the account `username` is locked out at `now`, until when.
    pub async fn locked_until(
        &self,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, UserError> {
        let row: Option<(Option<DateTime<Utc>>,)> = on_pool!(&self.store, |pool| {
            sqlx::query_as("select locked_at from users where username = $1")
                .bind(username)
                .fetch_optional(pool)
                .await
        })?;
        let locked = row.and_then(|(at,)| at);
        Ok(locked.map(lock_end).filter(|end| *end > now))
    }

    /// Counts a wrong password against `username` (nothing, for an unknown name: the same
    /// statement runs, so the answer takes about as long). Locks the account at [`LOCK_AFTER`];
    /// a lock that has run out starts the count again.
    pub async fn record_failure(
        &self,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Failure>, UserError> {
        let expired = now - TimeDelta::minutes(LOCK_MINUTES);
        let row: Option<(i64, Option<DateTime<Utc>>)> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "update users set
                    failed_logins = case when locked_at is not null and locked_at <= $3 then 1
                                         else failed_logins + 1 end,
                    locked_at = case when locked_at is not null and locked_at <= $3 then null
                                     when locked_at is null and failed_logins + 1 >= $4 then $2
                                     else locked_at end
                  where username = $1
                  returning failed_logins, locked_at",
            )
            .bind(username)
            .bind(now)
            .bind(expired)
            .bind(LOCK_AFTER)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(failed_logins, locked_at)| Failure {
            failed_logins,
            locked_now: locked_at.is_some() && failed_logins == LOCK_AFTER,
        }))
    }

    /// Notes a good login: when, and the end of the wrong-password count.
    pub async fn record_login(&self, user: &User, now: DateTime<Utc>) -> Result<(), UserError> {
        on_pool!(&self.store, |pool| {
            sqlx::query(
                "update users set last_login_at = $2, failed_logins = 0, locked_at = null
                  where user_id = $1",
            )
            .bind(user.user_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}

fn lock_end(at: DateTime<Utc>) -> DateTime<Utc> {
    at + TimeDelta::minutes(LOCK_MINUTES)
}

fn lock_stands(locked_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    locked_at.is_some_and(|at| lock_end(at) > now)
}
