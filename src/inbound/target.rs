//! The service level's threshold the console judges the hotline by (`/reports`, the
//! wallboard): the `answer_within_secs` of the configured menus (`[[inbound]] menu = ...`),
//! the strictest when several differ (as the pacer takes it), or
//! [`DEFAULT_ANSWER_WITHIN_SECS`] when no hotline is configured.

use std::path::Path;

use serde::Serialize;

use super::menu::{self, Menu};
use crate::campaigns::CampaignErrors;
use crate::config::InboundNumberConfig;
use crate::metrics::DEFAULT_ANSWER_WITHIN_SECS;

/// The threshold and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerTarget {
    /// Answered within this many seconds of joining the queue counts as in time.
    pub secs: i64,
    /// The menu files it was taken from (empty: the default, no hotline configured).
    pub menus: Vec<String>,
}

impl Default for AnswerTarget {
    fn default() -> Self {
        AnswerTarget {
            secs: DEFAULT_ANSWER_WITHIN_SECS,
            menus: Vec::new(),
        }
    }
}

impl AnswerTarget {
    /// The strictest `answer_within` of `menus`, named by the files that set it; the default
    /// with no menu.
    pub fn of_menus<'a>(menus: impl IntoIterator<Item = &'a Menu>) -> AnswerTarget {
        let mut target: Option<AnswerTarget> = None;
        for m in menus {
            let secs = i64::try_from(m.answer_within.as_secs()).unwrap_or(i64::MAX);
            let file = m.path.display().to_string();
            match &mut target {
                Some(t) if t.secs < secs => {}
                Some(t) if t.secs == secs => t.menus.push(file),
                _ => {
                    target = Some(AnswerTarget {
                        secs,
                        menus: vec![file],
                    })
                }
            }
        }
        target.unwrap_or_default()
    }

    /// The target of the configured hotline: each `[[inbound]]` menu read (its prompts are
    /// the node's business, not checked here). A menu that does not load is an error: the
    /// figures would otherwise be judged by a threshold nobody set.
    pub fn of_config(entries: &[InboundNumberConfig]) -> Result<AnswerTarget, CampaignErrors> {
        let mut menus = Vec::new();
        let mut errors = Vec::new();
        for entry in entries {
            match menu::load(Path::new(&entry.menu), None) {
                Ok(m) => menus.push(m),
                Err(e) => errors.extend(e.0),
            }
        }
        if errors.is_empty() {
            Ok(AnswerTarget::of_menus(&menus))
        } else {
            Err(CampaignErrors(errors))
        }
    }

    /// For people: `20 s (the default: no hotline is configured)` or `30 s (answer_within_secs
    /// of campaigns/hotline/400.toml)`.
    pub fn describe(&self) -> String {
        if self.menus.is_empty() {
            format!("{} s (the default: no hotline is configured)", self.secs)
        } else {
            format!(
                "{} s (answer_within_secs of {})",
                self.secs,
                self.menus.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu(file: &str, within: u64) -> Menu {
        let text = format!(
            "welcome = [\"w\"]\nmenu = [\"m\"]\nanswer_within_secs = {within}\n\
             [keys]\n\"1\" = {{ queue = \"repair\" }}\n[queues.repair]\nhold = [\"h\"]\n"
        );
        menu::parse(&text, Path::new(file), None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_strictest_menu_sets_the_target_and_none_gives_the_default() {
        let (a, b, c) = (menu("a.toml", 30), menu("b.toml", 15), menu("c.toml", 15));
        let t = AnswerTarget::of_menus([&a, &b, &c]);
        assert_eq!(t.secs, 15);
        assert_eq!(t.menus, ["b.toml", "c.toml"]);
        assert_eq!(t.describe(), "15 s (answer_within_secs of b.toml, c.toml)");
        let none = AnswerTarget::of_menus([]);
        assert_eq!((none.secs, none.menus.len()), (20, 0));
        assert!(
            none.describe().contains("no hotline"),
            "{}",
            none.describe()
        );
    }

    #[test]
    fn a_configured_menu_that_does_not_load_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("400.toml");
        let text = "welcome = [\"w\"]\nmenu = [\"m\"]\nanswer_within_secs = 25\n\
                    [keys]\n\"1\" = { queue = \"repair\" }\n[queues.repair]\nhold = [\"h\"]\n";
        std::fs::write(&good, text).unwrap();
        let entry = |menu: &Path| InboundNumberConfig {
            number: "4008108888".into(),
            menu: menu.display().to_string(),
        };
        let t = AnswerTarget::of_config(&[entry(&good)]).unwrap();
        assert_eq!(t.secs, 25);
        assert_eq!(
            AnswerTarget::of_config(&[]).unwrap(),
            AnswerTarget::default()
        );
        let missing = dir.path().join("missing.toml");
        let e = AnswerTarget::of_config(&[entry(&good), entry(&missing)]).unwrap_err();
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }
}
