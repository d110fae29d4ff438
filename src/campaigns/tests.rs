//! Validation: every example file is valid, and each bad value is refused with its key and line.

use std::path::Path;

use super::{Campaign, CampaignError, CampaignKind, Content, DialMode, ListSource};
use crate::pacing::PacingMode;
use crate::vocab::Channel;

/// The smallest valid campaign (5 lines), with `extra` appended.
pub(super) fn base(extra: &str) -> String {
    format!(
        "code = \"t\"\nname = \"test\"\nkind = \"notification\"\n[source]\ncsv = \"owners.csv\"\n{extra}"
    )
}

/// The errors of `text`, which must be invalid.
fn errors(text: &str) -> Vec<CampaignError> {
    match Campaign::parse(text, "t.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.0,
    }
}

/// The one error of `text`, checked to name `key` and `line` (in the struct and the message).
fn refused(text: &str, key: &str, line: usize) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = &errors[0];
    let message = error.to_string();
    assert_eq!(error.key(), Some(key), "{message}");
    assert_eq!(error.line(), Some(line), "{message}");
    assert!(
        message.starts_with(&format!("t.toml:{line}: {key}: ")),
        "{message}"
    );
    message
}

#[test]
fn every_example_campaign_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(errors) = Campaign::load(&path) {
                panic!("{errors}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} campaign files in {}", dir.display());
}

#[test]
fn the_callback_survey_example_reads_as_written() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/callback-survey.toml");
    let campaign = Campaign::load(&path).unwrap();
    assert_eq!(campaign.kind(), CampaignKind::Callback);
    assert_eq!(campaign.lists()[0].source, ListSource::Callbacks);
    assert!(matches!(campaign.content(), Content::Script(_)));
    assert_eq!(campaign.windows().count(), 12);
    assert_eq!(campaign.caller_id().unwrap().as_str(), "+864008108888");
}

#[test]
fn defaults_apply_to_a_minimal_file() {
    let campaign = Campaign::parse(&base(""), "t.toml").unwrap();
    assert_eq!(campaign.mode(), DialMode::Paced(PacingMode::Progressive));
    assert_eq!(campaign.channels(), [Channel::Voice]);
    assert_eq!(campaign.max_abandon_pct(), 3.0);
    assert_eq!(campaign.ring_timeout_secs(), 30);
    assert_eq!(campaign.trunk(), "main");
    assert_eq!(campaign.windows().count(), 12);
    assert_eq!(campaign.retry().lifetime_cap(), 8);
}

#[test]
fn a_ring_time_out_of_14_seconds_is_refused() {
    let text = format!("ring_timeout_secs = 14\n{}", base(""));
    let message = refused(&text, "ring_timeout_secs", 1);
    assert!(message.contains("at least 15"), "{message}");
}

#[test]
fn an_abandon_target_of_0_or_50_is_refused() {
    for value in ["0", "50", "-1", "nan"] {
        let message = refused(
            &format!("max_abandon_pct = {value}\n{}", base("")),
            "max_abandon_pct",
            1,
        );
        assert!(message.contains("at most 10"), "{message}");
    }
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = base("[retry]\nbusy = { after = \"30m\", max = 3 }\ndaily_limit = 2\n");
    let message = refused(&text, "retry.daily_limit", 8);
    assert!(message.contains("unknown field `daily_limit`"), "{message}");
}

#[test]
fn an_hour_of_25_is_refused() {
    let text = base("[windows]\nmon-fri = [\n  \"09:00-12:00\",\n  \"14:00-25:00\",\n]\n");
    let message = refused(&text, "windows.mon-fri[1]", 9);
    assert!(message.contains("`14:00-25:00`"), "{message}");
}

#[test]
fn a_window_ending_before_it_starts_is_refused() {
    let message = refused(
        &base("[windows]\nsat = [\"18:00-10:00\"]\n"),
        "windows.sat[0]",
        7,
    );
    assert!(message.contains("ends before it starts"), "{message}");
}

#[test]
fn an_unknown_weekday_is_refused() {
    let message = refused(
        &base("[windows]\nfunday = [\"10:00-12:00\"]\n"),
        "windows.funday",
        7,
    );
    assert!(message.contains("unknown weekday `funday`"), "{message}");
}

#[test]
fn an_unknown_mode_is_refused() {
    let message = refused(&format!("mode = \"turbo\"\n{}", base("")), "mode", 1);
    assert!(message.contains("unknown dial mode `turbo`"), "{message}");
    assert!(message.contains("agentless"), "{message}");
    let message = refused(&format!("mode = \"ratio:0.5\"\n{}", base("")), "mode", 1);
    assert!(message.contains("at least 1"), "{message}");
}

#[test]
fn overlapping_and_repeated_days_are_refused() {
    let text = base("[windows]\nmon-fri = [\"09:00-12:00\", \"11:00-13:00\"]\n");
    refused(&text, "windows.mon-fri[1]", 7);
    let text = base("[windows]\nmon-fri = [\"09:00-12:00\"]\nfri = [\"09:00-12:00\"]\n");
    let message = refused(&text, "windows.mon-fri", 7);
    assert!(
        message.contains("fri is already given by `windows.fri`"),
        "{message}"
    );
}

#[test]
fn a_bad_holiday_is_refused() {
    let text = base("[windows]\nholidays = [\"2026-10-01\", \"2026-02-30\"]\n");
    refused(&text, "windows.holidays[1]", 7);
}

#[test]
fn retry_values_are_checked() {
    refused(
        &base("[retry]\nbusy = { after = \"soon\", max = 3 }\n"),
        "retry.busy.after",
        7,
    );
    refused(
        &base("[retry]\nbusy = { after = \"30m\", max = -1 }\n"),
        "retry.busy.max",
        7,
    );
    let message = refused(
        &base("[retry]\nabandoned = { after = \"1h\", max = 1 }\n"),
        "retry.abandoned.after",
        7,
    );
    assert!(message.contains("72h"), "{message}");
    let errors = errors(&base("[retry]\ndaily_cap = 5\nlifetime_cap = 4\n"));
    assert_eq!(errors[0].key(), Some("retry.daily_cap"));
}

#[test]
fn sources_must_fit_the_kind() {
    let text = "code = \"t\"\nname = \"t\"\nkind = \"callback\"\n[source]\ncsv = \"a.csv\"\n";
    refused(text, "source", 4);
    let text = "code = \"t\"\nname = \"t\"\nkind = \"survey\"\nscript = \"s.toml\"\n[source]\ncsv = \"a.csv\"\ncallbacks = true\n";
    refused(text, "source", 5);
    let text = "code = \"t\"\nname = \"t\"\nkind = \"notification\"\n";
    assert_eq!(errors(text)[0].key(), Some("source"));
}

#[test]
fn lists_are_mixed_by_weight() {
    let text = "code = \"t\"\nname = \"t\"\nkind = \"notification\"\n\
        [[lists]]\nsource = { csv = \"vip.csv\" }\nweight = 3\n\
        [[lists]]\nsource = { owners = { projects = [\"XH\"] } }\n";
    let campaign = Campaign::parse(text, "t.toml").unwrap();
    let weights: Vec<u32> = campaign.lists().iter().map(|l| l.weight).collect();
    assert_eq!(weights, [3, 1]);
    let bad = text.replace("weight = 3", "weight = 0");
    refused(&bad, "lists[0].weight", 6);
}

#[test]
fn other_values_are_checked() {
    refused(&format!("caller_id = \"12\"\n{}", base("")), "caller_id", 1);
    refused(
        &format!("timezone = \"Mars/Base\"\n{}", base("")),
        "timezone",
        1,
    );
    refused(
        &format!("channels = [\"voice\", \"fax\"]\n{}", base("")),
        "channels[1]",
        1,
    );
    refused(
        &format!(
            "channels = [\"sms\", \"短信\"]\ntemplate = \"n\"\n{}",
            base("")
        ),
        "channels[1]",
        1,
    );
    let errors = errors(&format!("mode = \"agentless\"\n{}", base("")));
    assert_eq!(errors[0].key(), Some("prompts"), "{errors:?}");
}

#[test]
fn message_channels_need_a_template_and_no_agents() {
    let message = refused(
        &format!(
            "channels = [\"voice\", \"sms\"]\nprompts = [\"p\"]\n{}",
            base("")
        ),
        "template",
        1,
    );
    assert!(message.contains("templates/LANG/NAME"), "{message}");
    refused(
        &format!(
            "channels = [\"sms\"]\ntemplate = \"n\"\nmode = \"predictive\"\n{}",
            base("")
        ),
        "mode",
        3,
    );
    refused(
        &format!(
            "channels = [\"email\"]\ntemplate = \"n\"\nreply_hours = 0\n{}",
            base("")
        ),
        "reply_hours",
        3,
    );
    // Messages only: agentless by default, nothing to play, no trunk needed.
    let campaign = Campaign::parse(
        &format!(
            "channels = [\"sms\", \"email\"]\ntemplate = \"n\"\n{}",
            base("")
        ),
        "t.toml",
    )
    .unwrap();
    assert_eq!(campaign.mode(), DialMode::Agentless);
    assert_eq!(campaign.template(), Some("n"));
    assert_eq!(campaign.reply_hours(), 24);
}

#[test]
fn a_file_with_several_problems_reports_them_all() {
    let text = format!(
        "ring_timeout_secs = 5\nmax_abandon_pct = 50\nmode = \"x\"\n{}",
        base("")
    );
    let keys: Vec<String> = errors(&text)
        .iter()
        .filter_map(|e| e.key().map(String::from))
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[test]
fn a_type_error_names_the_key_and_line() {
    let text = format!("ring_timeout_secs = \"long\"\n{}", base(""));
    let message = refused(&text, "ring_timeout_secs", 1);
    assert!(message.contains("invalid type"), "{message}");
}
