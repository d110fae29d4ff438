//! A fresh database per test: a SQLite file always, and a PostgreSQL schema of its own as well
//! when `TEST_DATABASE_URL` is set (`tests/run.sh` drops the `t_*` and `h_*` schemas of earlier
//! runs). Each can be opened again, as a second node or a `huifang --database URL` process
//! would; so tests run in parallel and a test is never affected by another's rows.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use huifang::dialer::hopper::NewContact;
use huifang::phone::Phone;
use huifang::store::Store;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

/// Where a test database lives; dropping it removes the SQLite folder (PostgreSQL schemas stay
/// until `tests/run.sh` drops them).
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(Box<PgConnectOptions>, String),
}

/// A migrated, empty database; it lives as long as the value.
pub struct TestDb {
    /// The pool tests work through.
    pub store: Store,
    /// `sqlite` or `postgres`, for assertion messages.
    pub name: &'static str,
    place: Place,
}

impl TestDb {
    /// A second, independent pool on the same database: another node.
    pub async fn another_node(&self) -> Store {
        match &self.place {
            Place::Sqlite(dir) => Store::open(dir.path().join("test.db").to_str().unwrap())
                .await
                .expect("reopen sqlite"),
            Place::Postgres(options, _) => pg_pool((**options).clone(), 4).await,
        }
    }

    /// A URL another process (`huifang --database URL`) opens the same database with.
    pub fn url(&self) -> String {
        match &self.place {
            Place::Sqlite(dir) => format!("sqlite://{}", dir.path().join("test.db").display()),
            Place::Postgres(_, url) => url.clone(),
        }
    }
}

/// One fresh database per backend under test: SQLite, then PostgreSQL when
/// `TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.is_empty()
    {
        dbs.push(postgres(&url).await);
    }
    dbs
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("test.db").to_str().unwrap())
        .await
        .expect("open sqlite");
    TestDb {
        store,
        name: "sqlite",
        place: Place::Sqlite(dir),
    }
}

async fn postgres(url: &str) -> TestDb {
    let schema = format!("h_{}", unique());
    let mut admin = PgConnection::connect(url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    admin.close().await.ok();
    let options = PgConnectOptions::from_str(url)
        .expect("TEST_DATABASE_URL")
        .options([("search_path", schema.as_str())]);
    let store = pg_pool(options.clone(), 4).await;
    store.migrate().await.expect("migrate postgres");
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    TestDb {
        store,
        name: "postgres",
        place: Place::Postgres(Box::new(options), url),
    }
}

async fn pg_pool(options: PgConnectOptions, connections: u32) -> Store {
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .expect("open postgres");
    Store::Postgres(pool)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{}_{n}", std::process::id(), nanos % 1_000_000_000_000)
}

/// 2026-06-01 09:00 UTC, whole seconds so both backends round-trip it exactly.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

/// Inserts a campaign (the campaign repository is not ours) and returns its id.
pub async fn campaign(store: &Store, code: &str) -> i64 {
    let sql = "insert into campaigns (code, name, kind, state, definition, created_at, updated_at)
               values ($1, $1, 'notification', 'running', '', $2, $2) returning campaign_id";
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql)
            .bind(code)
            .bind(t0())
            .fetch_one(pool)
            .await
            .unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sql)
            .bind(code)
            .bind(t0())
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// `n` valid mainland mobile numbers, starting at `first`, at priority 0.
pub fn contacts(first: u64, n: u64) -> Vec<NewContact> {
    (first..first + n)
        .map(|i| NewContact {
            owner_id: None,
            phone: Phone::parse(&format!("138{i:08}")).expect("valid number"),
            tz: chrono_tz::Asia::Shanghai,
            priority: 0,
            language: "zh-CN".into(),
            ticket_id: None,
        })
        .collect()
}
