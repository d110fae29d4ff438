//! Why a campaign definition was refused, with file, line and dotted key.
//!
//! Syntax and shape errors come from the `toml` parser (its span gives the line); semantic errors
//! are found after parsing on `toml::Spanned` fields, so they carry a line too. Validation
//! collects every problem of a file rather than stopping at the first, so one run of
//! `huifang campaign validate` shows all that needs fixing.

use std::fmt;
use std::ops::Range;

use crate::pacing::ModeError;
use crate::phone::PhoneError;

/// One thing wrong with a campaign file.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or not the shape of a campaign (unknown key, wrong type, missing key).
    #[error("{}: {message}", Location::new(.path, *.line, .key.as_deref()))]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The dotted key, when it can be told from the text.
        key: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// Well-formed, but a value is not acceptable.
    #[error("{}: {problem}", Location::new(.path, *.line, Some(.key)))]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line of the value.
        line: Option<usize>,
        /// The dotted key, e.g. `windows.mon-fri[1]`.
        key: String,
        /// What is wrong.
        problem: Problem,
    },
}

impl CampaignError {
    /// The dotted key the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            CampaignError::Read { .. } => None,
            CampaignError::Syntax { key, .. } => key.as_deref(),
            CampaignError::Invalid { key, .. } => Some(key),
        }
    }

    /// The 1-based line the error is about, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            CampaignError::Read { .. } => None,
            CampaignError::Syntax { line, .. } | CampaignError::Invalid { line, .. } => *line,
        }
    }
}

/// Every error of one file (never empty), one per line when displayed.
#[derive(Debug, thiserror::Error)]
pub struct CampaignErrors(pub Vec<CampaignError>);

impl fmt::Display for CampaignErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// What is wrong with a well-formed value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// A required text is empty.
    #[error("must not be empty")]
    Empty,
    /// No weekday has a call window: the campaign could never call anyone.
    #[error("no call window on any day: give at least one (e.g. mon-fri = [\"09:00-12:00\"])")]
    NoWindows,
    /// A priority outside ±1,000,000.
    #[error("priority {0} is outside -1000000..=1000000")]
    Priority(i64),
    /// A campaign code outside `[a-z0-9_-]`.
    #[error("`{0}`: use lowercase letters, digits, `-` and `_` only")]
    BadCode(String),
    /// Not one of the campaign kinds.
    #[error(
        "unknown kind `{0}`: expected callback (回访), notification (通知) or survey (满意度调研)"
    )]
    UnknownKind(String),
    /// Not a channel a campaign can use.
    #[error("unknown channel `{0}`: expected voice, sms or email")]
    UnknownChannel(String),
    /// The same channel twice in the fallback order.
    #[error("`{0}` is listed twice")]
    Duplicate(String),
    /// A dial mode name that is not known.
    #[error(
        "unknown dial mode `{0}`: expected preview, progressive, ratio:K, predictive or agentless"
    )]
    UnknownMode(String),
    /// A dial mode the pacer refuses (e.g. a bad ratio).
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// A caller ID that is not a valid number.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// Not an IANA time zone.
    #[error("unknown time zone `{0}` (expected an IANA name such as Asia/Shanghai)")]
    UnknownTimezone(String),
    /// A number outside its allowed range.
    #[error("{value} is out of range: {expected}")]
    OutOfRange {
        /// The value given.
        value: String,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// A window that is not `HH:MM-HH:MM`.
    #[error("`{0}` is not a time range HH:MM-HH:MM between 00:00 and 24:00")]
    BadTime(String),
    /// A window whose end is not after its start.
    #[error("`{0}` ends before it starts (a window cannot cross midnight; split it)")]
    EndBeforeStart(String),
    /// Two windows of one day that overlap.
    #[error("`{0}` overlaps `{1}`")]
    Overlap(String, String),
    /// A weekday key that is not a day or a range of days.
    #[error(
        "unknown weekday `{0}`: expected mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or holidays"
    )]
    UnknownDay(String),
    /// A day covered by two keys.
    #[error("{0} is already given by `{1}`")]
    DayTwice(&'static str, String),
    /// A holiday that is not a date or a date range.
    #[error("`{0}` is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")]
    BadDate(String),
    /// A delay that is not a duration like `30m`, `2h` or `1h30m`.
    #[error("`{0}` is not a duration such as 90s, 30m, 2h, 1h30m or 3d")]
    BadDuration(String),
    /// An abandoned owner redialled sooner than the 72 hours the rules allow.
    #[error("`{0}`: an abandoned owner is not redialled within 72h")]
    AbandonRetryTooSoon(String),
    /// The daily cap is above the lifetime cap.
    #[error("the daily cap {0} is above the lifetime cap {1}")]
    DailyOverLifetime(u32, u32),
    /// Not exactly one of the list-source keys.
    #[error("give exactly one of csv, callbacks or owners")]
    SourceCount,
    /// `callbacks = false`.
    #[error("must be true (leave the key out otherwise)")]
    CallbacksFalse,
    /// An owner list that selects nobody.
    #[error("give at least one project or building")]
    NoOwners,
    /// Both a single `[source]` and `[[lists]]`, or neither.
    #[error("give either [source] or [[lists]] (exactly one of them)")]
    SourceOrLists,
    /// A list source that does not fit the campaign kind.
    #[error(
        "a callback campaign draws only from completed-ticket callbacks (callbacks = true), and only it does"
    )]
    KindSource,
    /// A survey without its script.
    #[error("a survey needs `script = \"FILE\"`")]
    ScriptRequired,
    /// Both prompts and a script.
    #[error("give prompts or script, not both")]
    PromptsAndScript,
    /// An agentless voice campaign with nothing to play.
    #[error("an agentless campaign needs prompts or a script: nobody is on the line to talk")]
    NothingToPlay,
    /// SMS or email is among the channels, but no message template is named.
    #[error(
        "the sms and email channels need `template = \"NAME\"` (campaigns/templates/LANG/NAME.*)"
    )]
    TemplateRequired,
    /// A message-only campaign in a paced (agent) mode.
    #[error(
        "a campaign without the voice channel places no calls: use mode = \"agentless\" or leave mode out"
    )]
    MessagesArePaced,
    /// A prompt named in a file whose WAV is not in the prompts folder.
    #[error("prompt `{name}` has no file {path} (see prompts/README.md)")]
    MissingPrompt {
        /// The prompt's name.
        name: String,
        /// The file looked for.
        path: String,
    },
    /// A hotline menu names a queue it does not define.
    #[error("no queue `{0}` in [queues] (defined: {1})")]
    UnknownQueue(String, String),
    /// Not one keypad key.
    #[error("`{0}` is not a key: one of 0-9, * or #")]
    BadKey(String),
    /// A menu key that does neither or both of its two jobs.
    #[error("give exactly one of queue = \"NAME\" or language = \"LANG\"")]
    KeyAction,
    /// A language the menu does not list in `languages`.
    #[error("language `{0}` is not in languages = [{1}]")]
    UnknownLanguage(String, String),
    /// A word that is not one of a few.
    #[error("unknown `{value}`: expected {expected}")]
    NotOneOf {
        /// The word given.
        value: String,
        /// The words accepted.
        expected: &'static str,
    },
    /// A hotline menu without a queue: no caller could reach an agent.
    #[error("a menu needs at least one [queues.NAME]")]
    NoQueues,
    /// A queue whose overflow is missing, or is itself.
    #[error("after_max_wait = \"overflow\" needs overflow = \"OTHER-QUEUE\" (not itself)")]
    BadOverflow,
}

/// `file:line: key` (each part only when known), the prefix of every message.
struct Location<'a> {
    path: &'a str,
    line: Option<usize>,
    key: Option<&'a str>,
}

impl<'a> Location<'a> {
    fn new(path: &'a str, line: Option<usize>, key: Option<&'a str>) -> Location<'a> {
        Location { path, line, key }
    }
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = self.key {
            write!(f, ": {key}")?;
        }
        Ok(())
    }
}

/// Collects the problems of one file while it is validated.
pub(crate) struct Report<'a> {
    text: &'a str,
    path: &'a str,
    errors: Vec<CampaignError>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(text: &'a str, path: &'a str) -> Report<'a> {
        Report {
            text,
            path,
            errors: Vec::new(),
        }
    }

    /// Records `problem` at `key`, on the line of `span` when given.
    pub(crate) fn add(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        problem: Problem,
    ) {
        self.errors.push(CampaignError::Invalid {
            path: self.path.to_string(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: key.into(),
            problem,
        });
    }

    /// How many problems are recorded so far.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// The value of `result`, or `None` after recording its problem.
    pub(crate) fn check<T>(
        &mut self,
        key: impl Into<String>,
        span: Range<usize>,
        result: Result<T, Problem>,
    ) -> Option<T> {
        result.map_err(|p| self.add(key, Some(span), p)).ok()
    }

    /// Every problem recorded, in line order, or `Ok` when there were none.
    pub(crate) fn finish(mut self) -> Result<(), CampaignErrors> {
        self.errors.sort_by_key(|e| e.line().unwrap_or(usize::MAX));
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(CampaignErrors(self.errors))
        }
    }
}

/// Turns the parser's error into ours, naming the key at the error's line when it can.
pub(crate) fn syntax(text: &str, path: &str, error: &toml::de::Error) -> CampaignError {
    let line = error.span().map(|s| line_of(text, s.start));
    CampaignError::Syntax {
        path: path.to_string(),
        line,
        key: line.and_then(|l| key_at_line(text, l)),
        message: error.message().trim().to_string(),
    }
}

/// The 1-based line of byte `offset`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `table.key` for a `key = ...` line, from the last `[table]` header above it; `[[lists]]`
/// headers are numbered (`lists[1]`).
fn key_at_line(text: &str, line: usize) -> Option<String> {
    let mut table: Option<String> = None;
    let mut arrays: Vec<(String, usize)> = Vec::new();
    let mut found = None;
    for (n, raw) in text.lines().enumerate().take(line) {
        let l = raw.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let index = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, count)) => {
                    *count += 1;
                    *count - 1
                }
                None => {
                    arrays.push((name.clone(), 1));
                    0
                }
            };
            table = Some(format!("{name}[{index}]"));
        } else if let Some(name) = l.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = Some(name.trim().to_string());
        }
        if n + 1 == line {
            found = l
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string());
            if found.is_none() {
                return table;
            }
        }
    }
    let key = found?;
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key,
    })
}
