//! Console accounts, their roles and their browser sessions.
//!
//! Passwords are kept as argon2id PHC strings (salted, memory-hard), never in clear. A session is
//! a random token in the browser's cookie; the database keeps only its SHA-256, so a copy of the
//! database opens no session. Each session has its own CSRF token, which every write must echo.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::on_pool;
use crate::store::Store;

mod state;
pub mod throttle;

pub use state::{Account, AccountState, Failure, LOCK_AFTER, LOCK_MINUTES};

/// What a console user may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::EnumString, strum::Display, strum::AsRefStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Everything, every team.
    Admin,
    /// Campaigns, wallboards, tickets and reports; the agents and calls of their team.
    Supervisor,
    /// Their own desktop, calls and callbacks.
    Agent,
}

impl Role {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }
}

/// A console account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Row id.
    pub user_id: i64,
    /// Login name; for agents also the name attempts carry.
    pub username: String,
    /// The name shown.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// Their group: a supervisor sees the agents of the same team.
    pub team: String,
}

impl User {
    /// Whether this user may see what `agent` (an agent's username) did: the agent themself,
    /// a supervisor of the agent's team, or an admin.
    pub fn may_see_agent(&self, agent: &str, agent_team: Option<&str>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Agent => self.username == agent,
            Role::Supervisor => agent_team.is_some_and(|t| t == self.team),
        }
    }

    /// Supervisors and admins run campaigns and see reports.
    pub fn supervises(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Supervisor)
    }
}

/// A session found from its cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Who is logged in.
    pub user: User,
    /// The token forms and API writes must carry.
    pub csrf: String,
    /// The account's password was generated: until its owner chooses one, the session may
    /// only change it or log out.
    pub must_change_password: bool,
}

/// A user whose password was just checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Who.
    pub user: User,
    /// Their password was generated: they must choose their own before anything else.
    pub must_change_password: bool,
}

/// Errors of the account operations.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A username that cannot be used.
    #[error("username `{0}`: use 1-40 letters, digits, `.`, `_` or `-`")]
    BadUsername(String),
    /// A password too short to keep.
    #[error("the password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    /// A new password that is the one it replaces.
    #[error("choose a new password, not the one you have now")]
    SamePassword,
    /// The name is taken.
    #[error("user `{0}` already exists")]
    Exists(String),
    /// No such user.
    #[error("no user `{0}`")]
    NotFound(String),
    /// Hashing failed (not expected with the default parameters).
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// How long a session lasts without logging in again (a shift and a half).
pub const SESSION_HOURS: i64 = 12;

type UserRow = (i64, String, String, String, String);

fn user_of(row: UserRow) -> Option<User> {
    let (user_id, username, display_name, role, team) = row;
    Some(User {
        user_id,
        username,
        display_name,
        role: role.parse().ok()?,
        team,
    })
}

/// The accounts and sessions in the store.
#[derive(Debug, Clone)]
pub struct Users {
    store: Store,
}

impl Users {
    /// Accounts in `store`.
    pub fn new(store: &Store) -> Users {
        Users {
            store: store.clone(),
        }
    }

    /// Creates an account, or with `replace` sets a new password, role and team on an existing
    /// one (so `user add` can be re-run to reset a password).
    pub async fn add(
        &self,
        new: &NewUser<'_>,
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<User, UserError> {
        let valid = !new.username.is_empty()
            && new.username.len() <= 40
            && new
                .username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(UserError::BadUsername(new.username.into()));
        }
        let hash = strong_hash(new.password)?;
        let display = if new.display_name.is_empty() {
            new.username
        } else {
            new.display_name
        };
        let sql = if replace {
            "insert into users (username, display_name, role, team, password_hash, active, created_at,
                                must_change_password)
             values ($1, $2, $3, $4, $5, true, $6, $7)
             on conflict (username) do update set display_name = $2, role = $3, team = $4,
                    password_hash = $5, active = true, must_change_password = $7"
        } else {
            "insert into users (username, display_name, role, team, password_hash, active, created_at,
                                must_change_password)
             values ($1, $2, $3, $4, $5, true, $6, $7) on conflict (username) do nothing"
        };
        let done = on_pool!(&self.store, |pool| {
            sqlx::query(sql)
                .bind(new.username)
                .bind(display)
                .bind(new.role.as_str())
                .bind(new.team)
                .bind(&hash)
                .bind(now)
                .bind(new.must_change)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(UserError::Exists(new.username.into()));
        }
        self.get(new.username)
            .await?
            .ok_or_else(|| UserError::NotFound(new.username.into()))
    }

    /// The active account named `username`.
    pub async fn get(&self, username: &str) -> Result<Option<User>, UserError> {
        let row: Option<UserRow> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "select user_id, username, display_name, role, team from users
                  where username = $1 and active",
            )
            .bind(username)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.and_then(user_of))
    }

    /// Every active account, by name.
    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        let rows: Vec<UserRow> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "select user_id, username, display_name, role, team from users
                  where active order by username",
            )
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().filter_map(user_of).collect())
    }

    /// The user when `password` is theirs. Unknown names cost a hash too, so the answer's
    /// timing does not tell which names exist.
    pub async fn verify(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Verified>, UserError> {
        let row: Option<(String, bool)> = on_pool!(&self.store, |pool| {
            sqlx::query_as(
                "select password_hash, must_change_password from users
                  where username = $1 and active",
            )
            .bind(username)
            .fetch_optional(pool)
            .await
        })?;
        let Some((stored, must_change_password)) = row else {
            let _ = hash_password(password);
            return Ok(None);
        };
        let ok = PasswordHash::new(&stored).ok().is_some_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        });
        if !ok {
            return Ok(None);
        }
        Ok(self.get(username).await?.map(|user| Verified {
            user,
            must_change_password,
        }))
    }

    /// Opens a session; returns the cookie's token (only its hash is stored).
    pub async fn open_session(&self, user: &User, now: DateTime<Utc>) -> Result<String, UserError> {
        let token = random_token();
        let csrf = random_token();
        on_pool!(&self.store, |pool| {
            sqlx::query(
                "insert into web_sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash(&token))
            .bind(user.user_id)
            .bind(&csrf)
            .bind(now)
            .bind(now + TimeDelta::hours(SESSION_HOURS))
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(token)
    }

    /// The live session of a cookie's token.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, UserError> {
        let row: Option<(i64, String, String, String, String, String, bool)> =
            on_pool!(&self.store, |pool| {
                sqlx::query_as(
                    "select u.user_id, u.username, u.display_name, u.role, u.team, s.csrf_token,
                            u.must_change_password
                       from web_sessions s join users u on u.user_id = s.user_id
                      where s.token_hash = $1 and s.expires_at > $2 and u.active",
                )
                .bind(token_hash(token))
                .bind(now)
                .fetch_optional(pool)
                .await
            })?;
        Ok(
            row.and_then(|(id, username, display, role, team, csrf, must)| {
                let user = user_of((id, username, display, role, team))?;
                Some(Session {
                    user,
                    csrf,
                    must_change_password: must,
                })
            }),
        )
    }

    /// Sets the password its owner chose (`current` is the one it replaces, already
    /// verified): the account no longer must change it, and its other sessions end (one
    /// transaction), so whoever else knew the old password is logged out.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep_session: &str,
    ) -> Result<(), UserError> {
        if new == current {
            return Err(UserError::SamePassword);
        }
        let hash = strong_hash(new)?;
        on_pool!(&self.store, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "update users set password_hash = $2, must_change_password = false
                      where user_id = $1",
                )
                .bind(user.user_id)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
                sqlx::query("delete from web_sessions where user_id = $1 and token_hash <> $2")
                    .bind(user.user_id)
                    .bind(token_hash(keep_session))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
            .await
        })?;
        Ok(())
    }

    /// Ends a session (logout); expired ones are swept at the same time.
    pub async fn close_session(&self, token: &str, now: DateTime<Utc>) -> Result<(), UserError> {
        on_pool!(&self.store, |pool| {
            sqlx::query("delete from web_sessions where token_hash = $1 or expires_at <= $2")
                .bind(token_hash(token))
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}

/// What `Users::add` needs.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// Shown name (the username when empty).
    pub display_name: &'a str,
    /// Role.
    pub role: Role,
    /// Team (group).
    pub team: &'a str,
    /// Password in clear, hashed before it is stored.
    pub password: &'a str,
    /// The password was generated (and shown to whoever ran the command): its owner must
    /// choose their own at the first login.
    pub must_change: bool,
}

/// The hash of a password that obeys the rules ([`MIN_PASSWORD`] characters at least).
fn strong_hash(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::WeakPassword);
    }
    hash_password(password)
}

fn hash_password(password: &str) -> Result<String, UserError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// 32 random bytes, hex: session tokens, CSRF tokens, generated passwords.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex(&bytes)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compares a presented secret (CSRF token, webhook secret) with ours in time that does not
/// depend on where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_see_agents_by_rule() {
        assert_eq!("supervisor".parse::<Role>().unwrap(), Role::Supervisor);
        assert!("boss".parse::<Role>().is_err());
        let agent = User {
            user_id: 1,
            username: "a1".into(),
            display_name: "A".into(),
            role: Role::Agent,
            team: "north".into(),
        };
        assert!(agent.may_see_agent("a1", Some("north")));
        assert!(!agent.may_see_agent("a2", Some("north")));
        let sup = User {
            role: Role::Supervisor,
            username: "s".into(),
            ..agent.clone()
        };
        assert!(sup.may_see_agent("a2", Some("north")));
        assert!(!sup.may_see_agent("a3", Some("south")));
        assert!(!sup.may_see_agent("a4", None));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("w3bh00k", "w3bh00k"));
        assert!(!same_secret("w3bh00", "w3bh00k"));
        assert!(!same_secret("w3bh00kk", "w3bh00k"));
        assert!(!same_secret("", "w3bh00k"));
        assert!(!same_secret("x3bh00k", "w3bh00k"));
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }
}
