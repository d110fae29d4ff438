//! Fresh databases for tests: SQLite always, PostgreSQL too when `TEST_DATABASE_URL` is set.
//! Each test gets its own SQLite file or PostgreSQL schema, so tests run in parallel.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use huifang::clock::ManualClock;
use huifang::config::SlaPolicy;
use huifang::contacts::import::{ImportKind, ImportReport, import_reader};
use huifang::store::Store;
use huifang::tickets::TicketDesk;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

/// A store that lives as long as the value (the SQLite file's folder, the PostgreSQL schema).
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) name: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// One fresh database per backend under test.
pub(crate) async fn databases() -> Vec<TestDb> {
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
    let path = dir.path().join("test.db");
    let store = Store::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("open sqlite");
    TestDb {
        store,
        name: "sqlite",
        _dir: Some(dir),
    }
}

async fn postgres(url: &str) -> TestDb {
    let schema = format!("t_{}", uuid_like());
    let mut admin = PgConnection::connect(url)
        .await
        .expect("connect TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    admin.close().await.ok();
    let options = PgConnectOptions::from_str(url)
        .expect("TEST_DATABASE_URL")
        .options([("search_path", schema.as_str())]);
    // A small pool per test: many tests run at once against one server.
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(options)
        .await
        .expect("open postgres");
    let store = Store::Postgres(pool);
    store.migrate().await.expect("migrate postgres");
    TestDb {
        store,
        name: "postgres",
        _dir: None,
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Imports CSV text, panicking on a database failure.
pub(crate) async fn import(store: &Store, kind: ImportKind, csv: &str) -> ImportReport {
    import_reader(store, kind, kind.file_name(), csv.as_bytes(), &mut |_| {})
        .await
        .expect("import")
}

/// A small, hand-written world: one region, one project with two units, suppliers, staff.
pub(crate) async fn small_world(store: &Store) {
    let units = "region_code,region_name,project_code,project_name,city,building,unit,floor,area_m2,handover_date\n\
        EAST,华东区域,HYF,海韵府,上海,3,1202,12,89.5,2026-03-15\n\
        EAST,华东区域,HYF,海韵府,上海,3,1203,12,120,\n";
    let suppliers = "code,name,trade,phone,email\nSUP01,美家橱柜有限公司,kitchen,021-55550101,service@sup01.example.cn\n\
        SUP02,光明灯饰有限公司,lighting,13900000002,\n";
    let components = "unit_code,component,supplier_code,warranty_months\n\
        HYF-3-1202,kitchen,SUP01,24\nHYF-3-1202,light_fitting,SUP02,6\nHYF-3-1203,kitchen,SUP01,24\n";
    let staff = "code,name,role,department,phone,email,region_code,project_code,categories,head_code\n\
        S001,周总,group_vp,集团,13900000001,,,,,\n\
        S002,吴经理,regional_gm,华东,13900000003,,EAST,,,\n\
        S003,郑主任,department_head,工程,13900000004,,EAST,HYF,,\n\
        S004,王工,responsible,工程,13900000005,,EAST,HYF,materials;construction_quality,S003\n\
        S005,李管家,responsible,物业,13900000006,,EAST,HYF,property_management,\n";
    let owners = "code,name,phones,email,language,time_zone,consent_voice,consent_sms,consent_email,units\n\
        O00001,张伟,13812345678;021-64001234,zhangwei@example.cn,zh-CN,Asia/Shanghai,1,1,1,HYF-3-1202\n\
        O00002,Li Na,13812345679,,en,Asia/Hong_Kong,1,0,1,HYF-3-1202;HYF-3-1203\n";
    for (kind, csv) in [
        (ImportKind::Units, units),
        (ImportKind::Suppliers, suppliers),
        (ImportKind::Components, components),
        (ImportKind::Staff, staff),
        (ImportKind::Owners, owners),
    ] {
        let report = import(store, kind, csv).await;
        assert!(
            report.rejected.is_empty(),
            "{kind:?}: {:?}",
            report.rejected
        );
    }
}

/// 2026-06-01 09:00 China time.
pub(crate) fn morning() -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A desk on a manual clock standing at [`morning`].
pub(crate) fn desk(store: &Store) -> (TicketDesk, ManualClock) {
    let clock = ManualClock::new(morning());
    (
        TicketDesk::new(store.clone(), Arc::new(clock.clone()), SlaPolicy::default()),
        clock,
    )
}
