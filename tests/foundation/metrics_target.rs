//! `huifang metrics` judges the inbound service level by the configured menus'
//! `answer_within_secs`, as the console does, unless `--answer-within` says otherwise; 20 s
//! with no hotline configured.

use testkit::binary::{self, text};

/// A menu whose service level counts calls answered within 30 s.
const MENU: &str = "menu = [\"hotline-menu\"]\nanswer_within_secs = 30\n\
                    [keys]\n\"1\" = { queue = \"repair\" }\n[queues.repair]\nhold = [\"hotline-hold\"]\n";

/// `metrics --json` of one day in `dir` with `extra` flags: its `inbound.answer_within_secs`.
fn threshold(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let day = [
        "metrics",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-20",
        "--json",
    ];
    let out = binary::run(dir, &[&day[..], extra].concat());
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    report["inbound"]["answer_within_secs"].clone()
}

#[test]
fn metrics_take_the_menus_target_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(threshold(dir.path(), &[]), 20, "no hotline configured");
    std::fs::write(dir.path().join("400.toml"), MENU).unwrap();
    std::fs::write(
        dir.path().join("huifang.toml"),
        "[[inbound]]\nnumber = \"4008108888\"\nmenu = \"400.toml\"\n",
    )
    .unwrap();
    assert_eq!(threshold(dir.path(), &[]), 30, "the menu's");
    assert_eq!(threshold(dir.path(), &["--answer-within", "45"]), 45);
}
