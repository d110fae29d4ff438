use std::path::Path;

use super::*;

const MINIMAL: &str = r#"menu = ["hotline-menu"]
[keys]
"1" = { queue = "repair" }
[queues.repair]
hold = ["hotline-hold"]
"#;

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("hotline.toml"), None) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_shipped_menu_loads_with_every_prompt_in_every_language() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let menu = load(
        &root.join("campaigns/hotline/400.toml"),
        Some(&root.join("prompts")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(menu.languages, ["zh-CN", "en"]);
    assert_eq!(menu.queues.len(), 3);
    let one = Digit::parse('1').unwrap();
    assert_eq!(menu.keys[&one], KeyAction::Queue("repair".into()));
    assert_eq!(
        menu.queues["complaint"].after_max_wait,
        AfterMaxWait::Overflow("consultation".into())
    );
    assert!(menu.prompt_names().contains(&"number-many".to_string()));
    assert!((menu.service_target - 0.8).abs() < 1e-9);
}

#[test]
fn a_minimal_menu_takes_the_defaults() {
    let menu = parse(MINIMAL, Path::new("m.toml"), None).unwrap();
    assert_eq!(menu.language(), "zh-CN");
    assert_eq!(menu.timeout, Duration::from_secs(6));
    assert_eq!(menu.retries, 2);
    let repair = &menu.queues["repair"];
    assert!(repair.record_calls, "recording is on by default");
    assert_eq!(repair.max_wait, None);
    assert_eq!(
        repair.position_every, None,
        "no position prompts, no announcements"
    );
    assert!(
        menu.hours.is_open(chrono::Utc::now(), menu.timezone),
        "no [hours]: always open"
    );
}

#[test]
fn a_missing_prompt_is_named_with_its_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("zh-CN");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(prompts.join("hotline-menu.wav"), b"").unwrap();
    let err = parse(MINIMAL, Path::new("hotline.toml"), Some(dir.path())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("hotline.toml:5: queues.repair.hold: prompt `hotline-hold` has no file"),
        "{text}"
    );
    assert_eq!(err.0.len(), 1, "{text}");
}

#[test]
fn an_unknown_queue_a_bad_key_and_a_bad_overflow_are_all_reported() {
    let text = r#"menu = ["m"]
no_choice = "sales"
[keys]
"1" = { queue = "repairs" }
"12" = { queue = "repair" }
"3" = { queue = "repair", language = "en" }
"4" = { language = "fr" }
[queues.repair]
hold = ["h"]
after_max_wait = "overflow"
[queues.other]
hold = []
timeout = 3
"#;
    let all = errors(text).join("\n");
    assert!(all.contains("hotline.toml"), "{all}");
    // A misspelt key is a syntax error with its line, before anything else.
    assert!(all.contains(":13"), "{all}");
    let text = text.replace("timeout = 3\n", "max_wait_secs = 5\n");
    let all = errors(&text);
    let expect = [
        "hotline.toml:2: no_choice: no queue `sales` in [queues] (defined: other, repair)",
        "hotline.toml:4: keys.1.queue: no queue `repairs`",
        "hotline.toml:5: keys.12: `12` is not a key",
        "hotline.toml:6: keys.3: give exactly one of queue",
        "hotline.toml:7: keys.4.language: language `fr` is not in languages = [zh-CN]",
        "hotline.toml:10: queues.repair.after_max_wait: after_max_wait = \"overflow\" needs overflow",
        "hotline.toml:12: queues.other.hold: must not be empty",
        "hotline.toml:13: queues.other.max_wait_secs: 5 is out of range",
    ];
    for e in expect {
        assert!(
            all.iter().any(|line| line.starts_with(e)),
            "missing {e:?} in:\n{}",
            all.join("\n")
        );
    }
    assert_eq!(all.len(), expect.len(), "{}", all.join("\n"));
}

#[test]
fn hours_are_checked_like_call_windows_under_their_own_name() {
    let text =
        format!("{MINIMAL}[hours]\nmon-fri = [\"08:00-25:00\"]\nholidays = [\"2026-13-01\"]\n");
    let all = errors(&text).join("\n");
    assert!(all.contains("hotline.toml:7: hours.mon-fri[0]"), "{all}");
    assert!(all.contains("hotline.toml:8: hours.holidays[0]"), "{all}");
}

#[test]
fn positions_are_spoken_up_to_ten_then_as_many() {
    assert_eq!(position_prompt(1), "number-1");
    assert_eq!(position_prompt(10), "number-10");
    assert_eq!(position_prompt(11), "number-many");
    assert_eq!(position_prompt(0), "number-many");
}
