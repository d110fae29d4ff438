//! The shipped catalogue holds together: every campaign in `campaigns/` validates, and every
//! prompt it names exists in `prompts/` in each language we serve and loads as audio.

use std::path::{Path, PathBuf};

use huifang::campaigns::{Campaign, Content};
use huifang::telephony::media::Prompt;

/// Languages every prompt is recorded in (owners choose theirs; see contacts' `language`).
const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn campaign_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("campaigns"))
        .expect("campaigns/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
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
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no campaign names any prompt");
}

#[test]
fn the_safe_harbor_message_exists_in_every_language() {
    // Played to an answered owner who finds no agent within 2 s (issue 4): it must always exist.
    for lang in LANGUAGES {
        let path = root().join("prompts").join(lang).join("safe-harbor.wav");
        Prompt::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}
