use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use super::*;
use crate::surveys::parse;

/// A scripted owner: each collection takes the next entry (`None`: silence until the
/// time-out); with `hang_up_when_done` they hang up right after their last entry.
struct Owner {
    keys: VecDeque<Option<&'static str>>,
    heard: Vec<String>,
    hang_up_when_done: bool,
    gone: bool,
    agent_free: bool,
}

impl Owner {
    fn pressing(keys: &[Option<&'static str>]) -> Owner {
        Owner {
            keys: keys.iter().copied().collect(),
            heard: Vec::new(),
            hang_up_when_done: false,
            gone: false,
            agent_free: false,
        }
    }
}

impl Line for Owner {
    async fn play(&mut self, prompts: &[String], _barge_in: bool) -> Heard {
        if self.gone {
            return Heard::HungUp;
        }
        self.heard.extend(prompts.iter().cloned());
        Heard::Played
    }

    async fn collect(&mut self, _want: Want) -> Keys {
        if self.gone {
            return Keys {
                digits: String::new(),
                hung_up: true,
            };
        }
        let keys = self.keys.pop_front().flatten().unwrap_or_default();
        self.gone = self.keys.is_empty() && self.hang_up_when_done;
        Keys {
            digits: keys.to_string(),
            hung_up: false,
        }
    }

    async fn record(&mut self, _max: Duration) -> Option<String> {
        (!self.gone).then(|| "comment.wav".to_string())
    }

    async fn transfer(&mut self) -> bool {
        self.agent_free
    }

    fn hung_up(&self) -> bool {
        self.gone
    }
}

#[derive(Default)]
struct Kept(Vec<(String, Answer)>);

impl Answers for Kept {
    type Error = Infallible;
    async fn save(&mut self, node: &str, answer: &Answer) -> Result<(), Infallible> {
        self.0.push((node.to_string(), answer.clone()));
        Ok(())
    }
}

const CALLBACK: &str = r#"
start = "rating"
[nodes.rating]
kind = "rating"
prompts = ["intro", "rate"]
max = 5
retries = 1
invalid = ["invalid"]
missing = ["missing"]
on = { "1-2" = "sorry", "3-5" = "thanks" }
[nodes.sorry]
kind = "choice"
prompts = ["agent-or-comment"]
options = { "1" = { value = "agent", next = "agent" }, "2" = { value = "comment", next = "comment" } }
next = "thanks"
[nodes.agent]
kind = "transfer"
next = "later"
[nodes.later]
kind = "play"
prompts = ["agent-will-call"]
next = "bye"
[nodes.comment]
kind = "record"
prompts = ["tone"]
max = 30
next = "thanks"
[nodes.thanks]
kind = "play"
prompts = ["thanks"]
next = "bye"
[nodes.bye]
kind = "hangup"
"#;

fn script() -> Script {
    parse(CALLBACK).unwrap()
}

fn run(owner: &mut Owner, earlier: &BTreeMap<String, Answer>) -> (Walked, Kept) {
    let mut kept = Kept::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let walked = rt
        .block_on(walk(&script(), owner, &mut kept, earlier))
        .unwrap();
    (walked, kept)
}

#[test]
fn a_satisfied_owner_rates_and_hears_thanks() {
    let mut owner = Owner::pressing(&[Some("5")]);
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert!(walked.complete);
    assert_eq!(kept.0, vec![("rating".to_string(), Answer::Rating(5))]);
    assert_eq!(owner.heard, ["intro", "rate", "thanks"]);
}

#[test]
fn invalid_and_missing_keys_are_asked_again_then_given_up() {
    // 7 is out of range: the invalid prompt, then the question again; 4 is kept.
    let mut owner = Owner::pressing(&[Some("7"), Some("4")]);
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert_eq!(kept.0, vec![("rating".to_string(), Answer::Rating(4))]);
    assert_eq!(
        owner.heard[..5],
        ["intro", "rate", "invalid", "intro", "rate"]
    );
    assert!(walked.complete);

    // Silence twice (retries = 1): missing, then the walk gives up without an answer.
    let mut owner = Owner::pressing(&[None, None]);
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert!(kept.0.is_empty());
    assert!(walked.no_input && !walked.complete);
    assert_eq!(owner.heard, ["intro", "rate", "missing", "intro", "rate"]);
}

#[test]
fn an_unsatisfied_owner_without_a_free_agent_is_promised_a_call() {
    let mut owner = Owner::pressing(&[Some("1"), Some("1")]);
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert_eq!(
        kept.0,
        vec![
            ("rating".to_string(), Answer::Rating(1)),
            ("sorry".to_string(), Answer::Choice("agent".into())),
            ("agent".to_string(), Answer::Transfer(false)),
        ]
    );
    assert!(walked.complete);
    assert_eq!(
        owner.heard.last().map(String::as_str),
        Some("agent-will-call")
    );

    // With an agent free the survey ends with them.
    let mut owner = Owner::pressing(&[Some("2"), Some("1")]);
    owner.agent_free = true;
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert_eq!(kept.0.last().unwrap().1, Answer::Transfer(true));
    assert!(walked.complete);
    assert_eq!(walked.last, "agent");
}

#[test]
fn a_hang_up_keeps_the_answers_given_and_the_retry_resumes_after_them() {
    // Rated 2, then hung up at the follow-up question.
    let mut owner = Owner::pressing(&[Some("2")]);
    owner.hang_up_when_done = true;
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert_eq!(kept.0, vec![("rating".to_string(), Answer::Rating(2))]);
    assert!(!walked.complete, "the follow-up question was not answered");
    assert_eq!(walked.last, "sorry");

    // The retry does not ask the rating again: it goes straight to the follow-up.
    let earlier: BTreeMap<String, Answer> = kept.0.into_iter().collect();
    let mut owner = Owner::pressing(&[Some("2")]);
    let (walked, kept) = run(&mut owner, &earlier);
    assert_eq!(owner.heard[0], "agent-or-comment");
    assert_eq!(
        kept.0,
        vec![
            ("sorry".to_string(), Answer::Choice("comment".into())),
            (
                "comment".to_string(),
                Answer::Recording("comment.wav".into())
            ),
        ]
    );
    assert!(walked.complete);
}

#[test]
fn a_hang_up_after_the_last_question_is_a_complete_survey() {
    let mut owner = Owner::pressing(&[Some("5")]);
    owner.hang_up_when_done = true;
    // The owner is gone before "thanks" plays; nothing was left to ask.
    let (walked, kept) = run(&mut owner, &BTreeMap::new());
    assert!(walked.complete);
    assert_eq!(walked.last, "thanks");
    assert_eq!(kept.0, vec![("rating".to_string(), Answer::Rating(5))]);
    assert!(!owner.heard.contains(&"thanks".to_string()));
    assert!(script().question_ahead("rating"));
    assert!(!script().question_ahead("thanks"));
}

#[test]
fn stored_answers_read_back() {
    for answer in [
        Answer::Rating(3),
        Answer::Choice("agent".into()),
        Answer::Digits("1203".into()),
        Answer::Recording("a.wav".into()),
        Answer::Transfer(true),
        Answer::Transfer(false),
        Answer::OptOut,
        Answer::Sms("thanks".into()),
    ] {
        assert_eq!(
            Answer::from_stored(answer.kind(), &answer.value()),
            Some(answer)
        );
    }
    assert_eq!(Answer::from_stored("rating", "x"), None);
}

#[test]
fn the_verdict_rule_defaults_to_the_first_rating_and_is_checked() {
    let s = script();
    assert_eq!(s.verdict.node.as_deref(), Some("rating"));
    assert_eq!((s.verdict.satisfied, s.verdict.unsatisfied), (4, 2));
    // A yes/no rating (1-2) loads with 2 satisfied and 1 unsatisfied.
    let two = CALLBACK
        .replacen("max = 5", "max = 2", 1)
        .replace("\"3-5\"", "\"2\"")
        .replace("\"1-2\"", "\"1\"");
    let s = parse(&two).unwrap();
    assert_eq!((s.verdict.satisfied, s.verdict.unsatisfied), (2, 1));
    let bad = format!("satisfied = 2\nunsatisfied = 3\nrating = \"thanks\"\n{CALLBACK}");
    let errors = parse(&bad).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("field `rating`") && e.contains("`play` node")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("field `unsatisfied`") && e.contains("below `satisfied`")),
        "{text:?}"
    );
}
