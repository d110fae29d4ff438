//! The store: one data model on two backends.
//!
//! SQLite is the embedded default (a file, created and migrated on first use, WAL mode);
//! PostgreSQL is the shared database that lets several nodes work together. sqlx's `Any`
//! driver cannot carry timestamps, booleans or dates, so [`Store`] holds a typed pool per
//! backend and domain code writes its SQL once (with `$N` placeholders, which both dialects
//! accept) inside [`on_pool!`], which expands the body once per backend.

mod tx;

pub use tx::Tx;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool, Transaction};

/// Errors of opening and migrating a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot open database `{url}`: {source}")]
    Connect {
        /// The URL, with any password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// The shared, multi-node database.
    Postgres,
}

/// A handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite file (or memory) database.
    Sqlite(SqlitePool),
    /// PostgreSQL database.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of the store's backend.
///
/// The body is compiled once per backend, so it may use any type either driver can carry.
#[macro_export]
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}

/// Starts a transaction that will write.
///
/// On SQLite a plain `BEGIN` that reads first and writes later can fail with `SQLITE_BUSY`
/// when another writer got in between; `BEGIN IMMEDIATE` takes the write lock up front and
/// waits for it (busy timeout) instead.
pub trait BeginWrite {
    /// The database of the pool.
    type Db: sqlx::Database;
    /// Begins a write transaction.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

impl Store {
    /// Opens the database at `url`, creating (SQLite) and migrating it as needed.
    ///
    /// `sqlite://FILE`, `sqlite:FILE`, a bare path ending in `.db`, or `postgres://...`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = if is_postgres(url) {
            let options = PgConnectOptions::from_str(url).map_err(|source| connect(url, source))?;
            Store::open_postgres(options).await?
        } else if let Some(path) = sqlite_path(url) {
            Store::open_sqlite(path).await?
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating if missing) the SQLite file at `path`, in WAL mode.
    pub async fn open_sqlite(path: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| connect(path, source))?;
        Ok(Store::Sqlite(pool))
    }

    /// Opens a PostgreSQL pool with the given options (tests set `search_path` here).
    pub async fn open_postgres(options: PgConnectOptions) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|source| connect("postgres", source))?;
        Ok(Store::Postgres(pool))
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Store::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Reads a value of the `meta` key–value table.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_scalar("select value from meta where key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })
    }

    /// Writes a value of the `meta` key–value table.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
                "insert into meta (key, value) values ($1, $2)
                 on conflict (key) do update set value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// Closes every connection (lets SQLite check-point its WAL).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The file path of a SQLite URL, or `None` when the URL is not one.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .or_else(|| (!url.contains("://")).then_some(url))?;
    // Query parameters such as `?mode=rwc` are implied: we always create the file.
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then_some(path)
}

fn connect(url: &str, source: sqlx::Error) -> StoreError {
    StoreError::Connect {
        url: redact(url),
        source,
    }
}

/// The URL with its password (if any) replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_recognised() {
        assert_eq!(sqlite_path("sqlite://huifang.db"), Some("huifang.db"));
        assert_eq!(sqlite_path("sqlite:x.db?mode=rwc"), Some("x.db"));
        assert_eq!(sqlite_path("data/huifang.db"), Some("data/huifang.db"));
        assert_eq!(sqlite_path("mysql://x"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
