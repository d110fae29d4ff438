//! The hotline's IVR menu and queues, as written in `campaigns/hotline/*.toml` beside the
//! survey scripts, checked whole at load like a campaign: every problem is named by file, line
//! and dotted key, all at once, before the node takes its first call.
//!
//! ```toml
//! name = "400 客服热线"
//! languages = ["zh-CN", "en"]        # prompts/LANG/NAME.wav must exist for each; the first is the default
//! timezone = "Asia/Shanghai"
//! welcome = ["hotline-welcome"]      # played once on answer
//! menu = ["hotline-menu"]            # played before each try; a key cuts it short
//! timeout_secs = 6                   # to press a key after the menu (1..=30)
//! retries = 2                        # menu replays after no key or a wrong one (0..=5)
//! invalid = ["invalid-key"]
//! missing = ["no-key"]
//! no_choice = "consultation"         # queue after the last try; none: the caller is thanked and hung up
//! closed = ["hotline-closed"]        # outside [hours]
//! closed_callback_key = "1"          # outside hours: this key books a callback (optional)
//! callback_booked = ["agent-will-call"]
//! service_target = 0.8               # share of callers to answer within answer_within_secs
//! answer_within_secs = 20            #   (the pacer keeps agents back for it)
//!
//! [keys]
//! "1" = { queue = "repair" }         # 报修
//! "9" = { language = "en" }          # switches the prompts and plays the menu again
//!
//! [hours]                            # like a campaign's [windows]; none: always open
//! mon-sun = ["08:00-22:00"]
//! holidays = ["2026-02-17"]
//!
//! [queues.repair]
//! agents = []                        # who answers it; empty: every agent of the node
//! hold = ["hotline-hold"]            # looped while waiting
//! position = ["queue-position", "{position}", "queue-position-end"]
//! position_every_secs = 30           # 0: never
//! max_wait_secs = 180                # 0: no limit
//! after_max_wait = "callback"        # callback (offer a key), overflow (to `overflow`) or wait
//! callback_key = "1"
//! callback_offer = ["queue-callback-offer"]
//! overflow = "consultation"
//! record_calls = true                # default true
//! ```
//!
//! `{position}` in a position announcement is the caller's place in line, spoken with the
//! prompts `number-1` … `number-10`, or `number-many` beyond ten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::campaigns::error::{Report, syntax};
use crate::campaigns::raw::Texts;
use crate::campaigns::{CallWindows, CampaignError, CampaignErrors, Problem};
use crate::telephony::Digit;

/// The placeholder of a position announcement for the caller's place in line.
pub const POSITION: &str = "{position}";

/// Places in line spoken as a number; beyond this, `number-many`.
pub const SPOKEN_POSITIONS: usize = 10;

/// A menu key's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Into this queue.
    Queue(String),
    /// Switch the prompts to this language and offer the menu again.
    Language(String),
}

/// What a queue does with a caller who has waited its longest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterMaxWait {
    /// Offer a key that books a callback (and keep waiting if it is not pressed).
    Callback,
    /// Move the caller to another queue, keeping their place by arrival time.
    Overflow(String),
    /// Keep waiting.
    Wait,
}

/// One queue (ACD group).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDef {
    /// Its name in the menu (`repair`).
    pub name: String,
    /// Agents who answer it; empty: all.
    pub agents: Vec<String>,
    /// Looped while the caller waits.
    pub hold: Vec<String>,
    /// The position announcement, [`POSITION`] standing for the number.
    pub position: Vec<String>,
    /// How often the position is announced; `None`: never.
    pub position_every: Option<Duration>,
    /// The longest wait before [`QueueDef::after_max_wait`]; `None`: no limit.
    pub max_wait: Option<Duration>,
    /// What happens at the longest wait.
    pub after_max_wait: AfterMaxWait,
    /// The key that books a callback once it is offered.
    pub callback_key: Digit,
    /// The offer.
    pub callback_offer: Vec<String>,
    /// Whether conversations from this queue are recorded.
    pub record_calls: bool,
}

impl QueueDef {
    /// Whether `agent` answers this queue.
    pub fn serves(&self, agent: &str) -> bool {
        self.agents.is_empty() || self.agents.iter().any(|a| a == agent)
    }
}

/// A checked hotline menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    /// The file it came from.
    pub path: PathBuf,
    /// For people.
    pub name: String,
    /// Prompt languages; the first is the default.
    pub languages: Vec<String>,
    /// Whose clock `hours` are read on.
    pub timezone: Tz,
    /// Played once on answer.
    pub welcome: Vec<String>,
    /// Played before each try.
    pub menu: Vec<String>,
    /// To press a key after the menu.
    pub timeout: Duration,
    /// Replays after no key or a wrong one.
    pub retries: u32,
    /// After a key the menu does not know.
    pub invalid: Vec<String>,
    /// After no key.
    pub missing: Vec<String>,
    /// The queue after the last try; `None`: thanked and hung up.
    pub no_choice: Option<String>,
    /// Keys and their jobs.
    pub keys: BTreeMap<Digit, KeyAction>,
    /// Opening hours.
    pub hours: CallWindows,
    /// Outside the hours.
    pub closed: Vec<String>,
    /// Outside the hours, this key books a callback.
    pub closed_callback_key: Option<Digit>,
    /// Played when a callback is booked.
    pub callback_booked: Vec<String>,
    /// Share of callers to answer within [`Menu::answer_within`].
    pub service_target: f64,
    /// The service level's threshold.
    pub answer_within: Duration,
    /// The queues by name.
    pub queues: BTreeMap<String, QueueDef>,
}

impl Menu {
    /// The default language.
    pub fn language(&self) -> &str {
        &self.languages[0]
    }

    /// Every prompt name the menu can play (positions spelled out), for loading at start.
    pub fn prompt_names(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            &self.welcome,
            &self.menu,
            &self.invalid,
            &self.missing,
            &self.closed,
            &self.callback_booked,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        for queue in self.queues.values() {
            names.extend(queue.hold.iter().cloned());
            names.extend(queue.callback_offer.iter().cloned());
            for name in &queue.position {
                if name == POSITION {
                    names.extend(position_prompts());
                } else {
                    names.push(name.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The prompt that speaks place `n` in line.
pub fn position_prompt(n: usize) -> String {
    if (1..=SPOKEN_POSITIONS).contains(&n) {
        format!("number-{n}")
    } else {
        "number-many".to_string()
    }
}

fn position_prompts() -> impl Iterator<Item = String> {
    (1..=SPOKEN_POSITIONS + 1).map(position_prompt)
}

/// Reads and checks a menu; with `prompts_dir`, every prompt's WAV must exist in every
/// language.
pub fn load(path: &Path, prompts_dir: Option<&Path>) -> Result<Menu, CampaignErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| {
        CampaignErrors(vec![CampaignError::Read {
            path: origin.clone(),
            source,
        }])
    })?;
    parse(&text, path, prompts_dir)
}

/// Checks a menu's text (`path` names it in errors).
pub fn parse(text: &str, path: &Path, prompts_dir: Option<&Path>) -> Result<Menu, CampaignErrors> {
    let origin = path.display().to_string();
    let raw: RawMenu =
        toml::from_str(text).map_err(|e| CampaignErrors(vec![syntax(text, &origin, &e)]))?;
    let mut report = Report::new(text, &origin);
    let menu = build(raw, path, &mut report);
    if let Some(dir) = prompts_dir {
        check_prompts(&menu, text, dir, &mut report);
    }
    report.finish()?;
    Ok(menu)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenu {
    name: Option<Spanned<String>>,
    languages: Option<Texts>,
    timezone: Option<Spanned<String>>,
    welcome: Option<Texts>,
    menu: Texts,
    timeout_secs: Option<Spanned<i64>>,
    retries: Option<Spanned<i64>>,
    invalid: Option<Texts>,
    missing: Option<Texts>,
    no_choice: Option<Spanned<String>>,
    closed: Option<Texts>,
    closed_callback_key: Option<Spanned<String>>,
    callback_booked: Option<Texts>,
    service_target: Option<Spanned<f64>>,
    answer_within_secs: Option<Spanned<i64>>,
    #[serde(default)]
    keys: BTreeMap<String, Spanned<RawKey>>,
    hours: Option<BTreeMap<String, Texts>>,
    #[serde(default)]
    queues: BTreeMap<String, Spanned<RawQueue>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    queue: Option<Spanned<String>>,
    language: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    agents: Option<Texts>,
    hold: Texts,
    position: Option<Texts>,
    position_every_secs: Option<Spanned<i64>>,
    max_wait_secs: Option<Spanned<i64>>,
    after_max_wait: Option<Spanned<String>>,
    callback_key: Option<Spanned<String>>,
    callback_offer: Option<Texts>,
    overflow: Option<Spanned<String>>,
    record_calls: Option<bool>,
}

fn build(raw: RawMenu, path: &Path, report: &mut Report<'_>) -> Menu {
    let languages = match &raw.languages {
        Some(list) if list.get_ref().is_empty() => {
            report.add("languages", Some(list.span()), Problem::Empty);
            vec![crate::dialer::lists::DEFAULT_LANGUAGE.to_string()]
        }
        Some(list) => list.get_ref().iter().map(|l| l.get_ref().clone()).collect(),
        None => vec![crate::dialer::lists::DEFAULT_LANGUAGE.to_string()],
    };
    let timezone = match &raw.timezone {
        Some(tz) => report
            .check(
                "timezone",
                tz.span(),
                tz.get_ref()
                    .parse::<Tz>()
                    .map_err(|_| Problem::UnknownTimezone(tz.get_ref().clone())),
            )
            .unwrap_or(chrono_tz::Asia::Shanghai),
        None => chrono_tz::Asia::Shanghai,
    };
    let queue_names: Vec<String> = raw.queues.keys().cloned().collect();
    let known_queue = |name: &Spanned<String>, key: &str, report: &mut Report<'_>| -> bool {
        let ok = queue_names.contains(name.get_ref());
        if !ok {
            let problem = Problem::UnknownQueue(name.get_ref().clone(), queue_names.join(", "));
            report.add(key, Some(name.span()), problem);
        }
        ok
    };
    if raw.queues.is_empty() {
        report.add("queues", None, Problem::NoQueues);
    }
    let mut keys = BTreeMap::new();
    for (key, action) in &raw.keys {
        let at = format!("keys.{key}");
        let Some(digit) = report.check(&at, action.span(), one_key(key)) else {
            continue;
        };
        let action = match (&action.get_ref().queue, &action.get_ref().language) {
            (Some(queue), None) => {
                known_queue(queue, &format!("{at}.queue"), report);
                KeyAction::Queue(queue.get_ref().clone())
            }
            (None, Some(language)) => {
                if !languages.contains(language.get_ref()) {
                    let problem =
                        Problem::UnknownLanguage(language.get_ref().clone(), languages.join(", "));
                    report.add(format!("{at}.language"), Some(language.span()), problem);
                }
                KeyAction::Language(language.get_ref().clone())
            }
            _ => {
                report.add(&at, Some(action.span()), Problem::KeyAction);
                continue;
            }
        };
        keys.insert(digit, action);
    }
    let no_choice = raw.no_choice.as_ref().map(|q| {
        known_queue(q, "no_choice", report);
        q.get_ref().clone()
    });
    let mut queues = BTreeMap::new();
    for (name, queue) in &raw.queues {
        let def = build_queue(name, queue, &queue_names, report);
        queues.insert(name.clone(), def);
    }
    let hours = match raw.hours {
        Some(table) => CallWindows::from_raw(Some(table), "hours", report),
        None => CallWindows::always(),
    };
    let closed_callback_key = raw
        .closed_callback_key
        .as_ref()
        .and_then(|k| report.check("closed_callback_key", k.span(), one_key(k.get_ref())));
    Menu {
        path: path.to_path_buf(),
        name: raw
            .name
            .map(|n| n.into_inner())
            .unwrap_or_else(|| "hotline".into()),
        languages,
        timezone,
        welcome: names(raw.welcome),
        menu: names(Some(raw.menu)),
        timeout: Duration::from_secs(secs(
            raw.timeout_secs,
            "timeout_secs",
            6,
            (1, 30, "1..=30"),
            report,
        )),
        retries: secs(raw.retries, "retries", 2, (0, 5, "0..=5"), report) as u32,
        invalid: names(raw.invalid),
        missing: names(raw.missing),
        no_choice,
        keys,
        hours,
        closed: names(raw.closed),
        closed_callback_key,
        callback_booked: names(raw.callback_booked),
        service_target: share(raw.service_target, report),
        answer_within: Duration::from_secs(secs(
            raw.answer_within_secs,
            "answer_within_secs",
            20,
            (1, 600, "1..=600"),
            report,
        )),
        queues,
    }
}

fn build_queue(
    name: &str,
    queue: &Spanned<RawQueue>,
    queue_names: &[String],
    report: &mut Report<'_>,
) -> QueueDef {
    let at = |field: &str| format!("queues.{name}.{field}");
    let raw = queue.get_ref();
    if raw.hold.get_ref().is_empty() {
        report.add(at("hold"), Some(raw.hold.span()), Problem::Empty);
    }
    let every = secs_at(
        raw.position_every_secs.as_ref(),
        &at("position_every_secs"),
        30,
        report,
    );
    if every != 0 && !(10..=600).contains(&every) {
        range(
            raw.position_every_secs.as_ref(),
            &at("position_every_secs"),
            every,
            "0 or 10..=600",
            report,
        );
    }
    let max_wait = secs_at(raw.max_wait_secs.as_ref(), &at("max_wait_secs"), 0, report);
    if max_wait != 0 && !(15..=7200).contains(&max_wait) {
        range(
            raw.max_wait_secs.as_ref(),
            &at("max_wait_secs"),
            max_wait,
            "0 or 15..=7200",
            report,
        );
    }
    let after_max_wait = match raw
        .after_max_wait
        .as_ref()
        .map(|w| (w.get_ref().as_str(), w.span()))
    {
        None | Some(("callback", _)) => AfterMaxWait::Callback,
        Some(("wait", _)) => AfterMaxWait::Wait,
        Some(("overflow", span)) => match &raw.overflow {
            Some(other) if other.get_ref() != name && queue_names.contains(other.get_ref()) => {
                AfterMaxWait::Overflow(other.get_ref().clone())
            }
            Some(other) if other.get_ref() != name => {
                let problem =
                    Problem::UnknownQueue(other.get_ref().clone(), queue_names.join(", "));
                report.add(at("overflow"), Some(other.span()), problem);
                AfterMaxWait::Wait
            }
            _ => {
                report.add(at("after_max_wait"), Some(span), Problem::BadOverflow);
                AfterMaxWait::Wait
            }
        },
        Some((other, span)) => {
            let problem = Problem::NotOneOf {
                value: other.to_string(),
                expected: "callback, overflow or wait",
            };
            report.add(at("after_max_wait"), Some(span), problem);
            AfterMaxWait::Wait
        }
    };
    let callback_key = raw
        .callback_key
        .as_ref()
        .and_then(|k| report.check(at("callback_key"), k.span(), one_key(k.get_ref())))
        .unwrap_or(Digit::parse('1').expect("a key"));
    let position = names(raw.position.clone());
    QueueDef {
        name: name.to_string(),
        agents: names(raw.agents.clone()),
        hold: names(Some(raw.hold.clone())),
        position_every: (every != 0 && !position.is_empty()).then(|| Duration::from_secs(every)),
        position,
        max_wait: (max_wait != 0).then(|| Duration::from_secs(max_wait)),
        after_max_wait,
        callback_key,
        callback_offer: names(raw.callback_offer.clone()),
        record_calls: raw.record_calls.unwrap_or(true),
    }
}

/// Every prompt of the menu in every language: a missing WAV is named with its line.
fn check_prompts(menu: &Menu, text: &str, dir: &Path, report: &mut Report<'_>) {
    for language in &menu.languages {
        for name in menu.prompt_names() {
            let file = dir.join(language).join(format!("{name}.wav"));
            if !file.is_file() {
                // The line of the first mention; positions are spelled from `{position}`.
                let needle = if name.starts_with("number-") {
                    POSITION.to_string()
                } else {
                    format!("\"{name}\"")
                };
                let span = text.find(&needle).map(|at| at..at + needle.len());
                let key = key_of(text, span.as_ref().map_or(0, |s| s.start));
                let problem = Problem::MissingPrompt {
                    name: name.clone(),
                    path: file.display().to_string(),
                };
                report.add(key, span, problem);
            }
        }
    }
}

/// The dotted key a byte offset of the file belongs to: `[table]` then `key =`.
fn key_of(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    let table = before
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')));
    match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_string(),
    }
}

fn one_key(text: &str) -> Result<Digit, Problem> {
    let bad = || Problem::BadKey(text.to_string());
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => Digit::parse(c).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn names(list: Option<Texts>) -> Vec<String> {
    list.map(|l| {
        l.into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect()
    })
    .unwrap_or_default()
}

fn secs(
    value: Option<Spanned<i64>>,
    key: &str,
    default: u64,
    (low, high, expected): (i64, i64, &'static str),
    report: &mut Report<'_>,
) -> u64 {
    let Some(value) = value else {
        return default;
    };
    if (low..=high).contains(value.get_ref()) {
        *value.get_ref() as u64
    } else {
        let problem = Problem::OutOfRange {
            value: value.get_ref().to_string(),
            expected,
        };
        report.add(key, Some(value.span()), problem);
        default
    }
}

fn secs_at(value: Option<&Spanned<i64>>, key: &str, default: u64, report: &mut Report<'_>) -> u64 {
    match value {
        None => default,
        Some(v) if *v.get_ref() >= 0 => *v.get_ref() as u64,
        Some(v) => {
            range(Some(v), key, 0, "at least 0", report);
            default
        }
    }
}

fn range(
    value: Option<&Spanned<i64>>,
    key: &str,
    shown: u64,
    expected: &'static str,
    report: &mut Report<'_>,
) {
    let problem = Problem::OutOfRange {
        value: value.map_or(shown.to_string(), |v| v.get_ref().to_string()),
        expected,
    };
    report.add(key, value.map(Spanned::span), problem);
}

fn share(value: Option<Spanned<f64>>, report: &mut Report<'_>) -> f64 {
    match value {
        None => 0.8,
        Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref(),
        Some(v) => {
            let problem = Problem::OutOfRange {
                value: v.get_ref().to_string(),
                expected: "a share 0.0..=1.0 (0.8 for 80 %)",
            };
            report.add("service_target", Some(v.span()), problem);
            0.8
        }
    }
}

#[cfg(test)]
#[path = "menu_tests.rs"]
mod tests;
