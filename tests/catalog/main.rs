//! The shipped catalogue holds together: every campaign in `campaigns/` validates, every survey
//! script (`campaigns/surveys/`, and any a campaign names) loads, and every prompt a campaign or
//! a script names exists in `prompts/` in each language we serve and loads as audio.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use huifang::campaigns::{Campaign, Content};
use huifang::surveys;
use huifang::telephony::media::Prompt;

/// Languages every prompt is recorded in (owners choose theirs; see contacts' `language`).
const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.toml` files directly in `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn campaign_files() -> Vec<PathBuf> {
    toml_files(&root().join("campaigns"))
}

/// Every script in `campaigns/surveys/` and every script a campaign names (relative to the
/// campaign's file), once each.
fn survey_files() -> BTreeSet<PathBuf> {
    let mut files: BTreeSet<PathBuf> = toml_files(&root().join("campaigns").join("surveys"))
        .into_iter()
        .collect();
    for file in campaign_files() {
        let campaign = Campaign::load(&file).unwrap_or_else(|e| panic!("{e}"));
        if let Content::Script(script) = campaign.content() {
            let dir = file.parent().expect("a campaign file is in a folder");
            files.insert(dir.join(script));
        }
    }
    files
}

/// Checks that prompt `name`, named by `file`, exists in every language and loads as audio;
/// returns how many files it checked.
fn check_prompt(file: &Path, name: &str) -> usize {
    for lang in LANGUAGES {
        let path = root()
            .join("prompts")
            .join(lang)
            .join(format!("{name}.wav"));
        assert!(
            path.exists(),
            "{} names prompt `{name}`: {} is missing",
            file.display(),
            path.display()
        );
        let prompt = Prompt::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            prompt.duration().as_millis() > 500,
            "{} is nearly empty",
            path.display()
        );
    }
    LANGUAGES.len()
}

#[test]
fn every_prompt_a_campaign_names_exists_in_every_language() {
    let files = campaign_files();
    assert!(!files.is_empty(), "no campaign definitions found");
    let mut checked = 0;
    for file in files {
        let campaign = Campaign::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let Content::Prompts(names) = campaign.content() else {
            continue;
        };
        for name in names {
            checked += check_prompt(&file, name);
        }
    }
    assert!(checked > 0, "no campaign names any prompt");
}

#[test]
fn every_prompt_a_survey_script_names_exists_in_every_language() {
    let files = survey_files();
    assert!(!files.is_empty(), "no survey scripts found");
    let mut checked = 0;
    for file in files {
        let script = surveys::load(&file).unwrap_or_else(|e| panic!("{e}"));
        // What the dialer loads for it: node prompts, and the invalid and missing ones.
        let names = script.prompt_names();
        assert!(!names.is_empty(), "{} names no prompt", file.display());
        for name in &names {
            checked += check_prompt(&file, name);
        }
    }
    assert!(checked > 0, "no survey script names any prompt");
}

#[test]
fn the_safe_harbor_message_exists_in_every_language() {
    // Played to an answered owner who finds no agent within 2 s (issue 4): it must always exist.
    for lang in LANGUAGES {
        let path = root().join("prompts").join(lang).join("safe-harbor.wav");
        Prompt::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}
