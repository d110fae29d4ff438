//! The real binary: the demo on a fresh folder, then `ticket` and `lookup` read what it left.

use testkit::binary::{self, text};

/// The repository's prompts (the demo's callback round plays them).
const PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");

#[test]
fn demo_leaves_a_database_that_ticket_list_reads() {
    let dir = tempfile::tempdir().unwrap();
    let demo = binary::run(
        dir.path(),
        &["demo", "--tickets", "60", "--prompts", PROMPTS],
    );
    assert!(demo.status.success(), "{}", text(&demo));
    let out = text(&demo);
    assert!(
        out.lines()
            .any(|l| l.contains("tickets opened") && l.contains(" 60 ")),
        "{out}"
    );
    assert!(out.contains("reply within 10 min"), "{out}");

    let list = binary::run(dir.path(), &["ticket", "list", "--json", "--limit", "1000"]);
    assert!(list.status.success(), "{}", text(&list));
    let tickets: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(tickets.as_array().unwrap().len(), 60);

    // A second demo replaces its own database, but never someone else's.
    let again = binary::run(
        dir.path(),
        &["demo", "--tickets", "5", "--prompts", PROMPTS],
    );
    assert!(again.status.success(), "{}", text(&again));
    let other = dir.path().join("mine.db");
    std::fs::write(&other, b"").unwrap();
    let refused = binary::run(dir.path(), &["--database", "sqlite://mine.db", "demo"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("mine.db exists and was not made by the demo"),
        "{}",
        text(&refused)
    );
}

#[test]
fn import_cli_reports_bad_rows_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("suppliers.csv"),
        "code,name,trade,phone,email\nSUP01,好材料有限公司,kitchen,021-55550101,\nSUP02,,kitchen,,\n",
    )
    .unwrap();
    let out = binary::run(dir.path(), &["import", "suppliers", "suppliers.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("suppliers.csv:3: column `name`: is empty"),
        "{all}"
    );
    assert!(
        all.contains("2 rows read, 1 imported (1 new, 0 updated), 1 refused"),
        "{all}"
    );

    let missing = binary::run(dir.path(), &["import", "owners", "nope.csv"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("cannot open nope.csv"),
        "{}",
        text(&missing)
    );
}
