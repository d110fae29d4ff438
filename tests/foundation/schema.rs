//! The SQLite and PostgreSQL migrations describe the same tables and columns.

use std::collections::BTreeMap;

use huifang::store::Store;
use testkit::db::databases;

type Schema = BTreeMap<String, Vec<String>>;

/// Tables and their columns (sorted) as written in a folder of migrations (`create table`
/// bodies and `alter table ... add column`).
fn declared(folder: &str) -> Schema {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut schema = Schema::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut table: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("alter table ") {
                // `alter table NAME add column COLUMN ...`
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let [name, "add", "column", column, ..] = words.as_slice() {
                    schema
                        .entry(name.to_string())
                        .or_default()
                        .push(column.to_string());
                }
            } else if let Some(rest) = line.strip_prefix("create table ") {
                let name = rest.split_whitespace().next().unwrap().to_string();
                schema.entry(name.clone()).or_default();
                table = Some(name);
            } else if line.starts_with(')') {
                table = None;
            } else if let Some(name) = &table {
                let first = line.split_whitespace().next().unwrap_or_default();
                if !first.is_empty()
                    && !["primary", "unique", "foreign", "check", "--"].contains(&first)
                {
                    schema.get_mut(name).unwrap().push(first.to_string());
                }
            }
        }
    }
    for columns in schema.values_mut() {
        columns.sort();
    }
    schema
}

/// Tables and columns as the live database reports them.
async fn live(store: &Store) -> Schema {
    let rows: Vec<(String, String)> = match store {
        Store::Sqlite(pool) => sqlx::query_as(
            "select m.name, p.name from sqlite_master m join pragma_table_info(m.name) p
             where m.type = 'table' and m.name not like 'sqlite_%' and m.name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Store::Postgres(pool) => sqlx::query_as(
            "select table_name::text, column_name::text from information_schema.columns
             where table_schema = current_schema() and table_name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    let mut schema = Schema::new();
    for (table, column) in rows {
        schema.entry(table).or_default().push(column);
    }
    for columns in schema.values_mut() {
        columns.sort();
    }
    schema
}

#[test]
fn migration_folders_declare_the_same_tables_and_columns() {
    let sqlite = declared("sqlite");
    let postgres = declared("postgres");
    assert!(sqlite.len() >= 15, "parsed too few tables: {sqlite:?}");
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres drifted apart"
    );
}

#[tokio::test]
async fn each_live_database_has_exactly_the_declared_schema() {
    let expected = declared("sqlite");
    for db in databases().await {
        assert_eq!(live(&db.store).await, expected, "{}", db.name);
    }
}

#[tokio::test]
async fn migrating_twice_is_harmless() {
    for db in databases().await {
        db.store.migrate().await.unwrap();
        db.store.set_meta("k", "v").await.unwrap();
        db.store.set_meta("k", "w").await.unwrap();
        assert_eq!(
            db.store.meta("k").await.unwrap().as_deref(),
            Some("w"),
            "{}",
            db.name
        );
    }
}
