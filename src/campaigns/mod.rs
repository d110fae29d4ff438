//! # Campaign definitions: TOML files in `campaigns/`, parsed once into typed values.
//!
//! The definitions are pure (no database, no network, no clock); [`repo`] stores them with
//! their life-cycle state ([`lifecycle`]: draft → scheduled → running ⇄ paused → completed |
//! stopped) and one event row per state change. A file is read with serde into the
//! spanned shapes of the private `raw` module — unknown keys refused with their line — then
//! validated into a [`Campaign`] whose every field is already checked ("parse, don't
//! validate"); all problems of a file are reported together, each with file, line and dotted key.
//!
//! - [`Campaign`], [`CampaignKind`], [`DialMode`], [`ListSource`], [`Content`]: the definition.
//! - [`windows`]: call windows per weekday in the contact's time zone, holidays, `next_open`.
//! - [`retry`]: per-outcome retry rules and the daily and lifetime caps.
//! - [`CampaignError`]: what can be wrong, and where; [`companions`]: its script and templates.
//! - [`wallboard`]: the live figures of one campaign for the console, with the center's
//!   hotline figures of [`hotline_board`] on every one; [`export`]: its attempts as CSV.
//!
//! The format, with every default (see `campaigns/*.toml` for real ones):
//!
//! ```toml
//! code = "handover-2026"            # [a-z0-9_-]
//! name = "交付通知"
//! kind = "notification"             # callback (回访) | notification (通知) | survey (满意度调研)
//! channels = ["voice", "sms"]       # ordered fallback; default ["voice"]
//! mode = "agentless"                # preview | progressive (default) | ratio:K | predictive | agentless
//! max_abandon_pct = 3               # default 3; 0 < x <= 10
//! ring_timeout_secs = 30            # default 30; 15..=120
//! calls_per_second = 5              # optional cap of this campaign (trunk limits apply too)
//! timezone = "Asia/Shanghai"        # default; for contacts whose own zone is unknown
//! caller_id = "4008123456"          # optional; E.164 after parsing; the trunk's when absent
//! trunk = "main"                    # default "main"
//! prompts = ["handover-notice"]     # or script = "FILE" (required for surveys)
//! template = "handover-notice"      # SMS/email text: templates/LANG/NAME.{sms.txt,subject.txt,email.txt,email.html}
//! reply_hours = 24                  # how long an SMS/email survey waits for a reply (1..=336)
//! priority = 0                      # higher is claimed first
//!
//! [source]                          # or several [[lists]] with source = {...} and weight = N
//! owners = { projects = ["HYF"], buildings = ["LXC-2"] }   # union; or csv = "FILE" or callbacks = true
//!
//! [windows]                         # default: mon-sat 09:00-12:00 and 14:00-20:00
//! mon-fri = ["09:00-12:00", "14:00-20:00"]
//! sat = ["10:00-18:00"]
//! sun = []
//! holidays = ["2026-10-01..2026-10-07"]
//!
//! [retry]                           # defaults: see retry::RetryPolicy
//! busy = { after = "30m", max = 3 }
//! no_answer = { after = "2h", max = 3 }
//! daily_cap = 3
//! lifetime_cap = 8
//! ```

pub mod companions;
pub(crate) mod error;
pub mod export;
pub mod hotline_board;
pub mod lifecycle;
pub(crate) mod raw;
pub mod repo;
pub mod retry;
pub mod templates;
mod validate;
pub mod wallboard;
pub mod windows;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::pacing::PacingMode;
use crate::phone::Phone;
use crate::vocab::Channel;

pub use error::{CampaignError, CampaignErrors, Problem};
pub use retry::{Attempts, Outcome, RetryPolicy, RetryRule};
pub use windows::{CallWindows, TimeRange};

/// What a campaign is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignKind {
    /// 回访: calling owners back after their ticket was completed.
    Callback,
    /// 通知: handover notices, inspection appointments, maintenance notices.
    Notification,
    /// 满意度调研: a periodic survey across the owners of projects.
    Survey,
}

impl CampaignKind {
    /// The word used in files and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Callback => "callback",
            CampaignKind::Notification => "notification",
            CampaignKind::Survey => "survey",
        }
    }

    /// Parses the English word or the Chinese label.
    pub fn parse(text: &str) -> Result<CampaignKind, Problem> {
        match text.trim() {
            "callback" | "回访" => Ok(CampaignKind::Callback),
            "notification" | "通知" => Ok(CampaignKind::Notification),
            "survey" | "满意度调研" => Ok(CampaignKind::Survey),
            other => Err(Problem::UnknownKind(other.to_string())),
        }
    }
}

impl fmt::Display for CampaignKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How voice calls are placed: one of the dialer's pacing modes, or with no agents at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DialMode {
    /// Agents take the answered calls, paced by the dialer's [`PacingMode`].
    Paced(PacingMode),
    /// No agents: the call plays prompts or runs a keypad survey, paced by trunk capacity.
    Agentless,
}

impl DialMode {
    /// Parses `agentless` or any name the dialer's [`PacingMode`] accepts.
    pub fn parse(text: &str) -> Result<DialMode, Problem> {
        if text.trim() == "agentless" {
            return Ok(DialMode::Agentless);
        }
        match text.parse::<PacingMode>() {
            Ok(mode) => Ok(DialMode::Paced(mode)),
            Err(crate::pacing::ModeError::Unknown(name)) => Err(Problem::UnknownMode(name)),
            Err(other) => Err(Problem::Mode(other)),
        }
    }
}

impl fmt::Display for DialMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialMode::Paced(mode) => mode.fmt(f),
            DialMode::Agentless => f.write_str("agentless"),
        }
    }
}

/// Where the contacts of a list come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    /// A CSV file of contacts.
    Csv(PathBuf),
    /// The callback tasks of completed tickets.
    Callbacks,
    /// Every owner of these projects and buildings.
    Owners {
        /// Project codes.
        projects: Vec<String>,
        /// Building codes.
        buildings: Vec<String>,
    },
}

/// A list and its share of the dials when several lists are mixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedList {
    /// Where its contacts come from.
    pub source: ListSource,
    /// Relative weight, at least 1.
    pub weight: u32,
}

/// What an answered call hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing recorded: an agent talks.
    Agent,
    /// Prompts played in order (names in `prompts/`).
    Prompts(Vec<String>),
    /// A keypad survey script file.
    Script(PathBuf),
}

/// A validated campaign definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    code: String,
    name: String,
    kind: CampaignKind,
    channels: Vec<Channel>,
    template: Option<String>,
    reply_hours: u32,
    lists: Vec<WeightedList>,
    mode: DialMode,
    max_abandon_pct: f64,
    ring_timeout_secs: u32,
    calls_per_second: Option<f64>,
    timezone: Tz,
    windows: CallWindows,
    retry: RetryPolicy,
    caller_id: Option<Phone>,
    trunk: String,
    content: Content,
    priority: i64,
    sip_info_dtmf: bool,
}

impl Campaign {
    /// Reads and validates a campaign file.
    pub fn load(path: &Path) -> Result<Campaign, CampaignErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            CampaignErrors(vec![CampaignError::Read {
                path: origin.clone(),
                source,
            }])
        })?;
        Campaign::parse(&text, &origin)
    }

    /// Validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Campaign, CampaignErrors> {
        validate::campaign(text, origin)
    }

    /// When the contact is next to be called after an attempt that ended with `outcome` at
    /// `last`: the retry rule and caps, then moved into the contact's next open window.
    pub fn next_attempt(
        &self,
        outcome: Outcome,
        attempts: Attempts,
        last: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        let due = self.retry.next_attempt(outcome, attempts, last, tz)?;
        self.windows.next_open(due, tz)
    }
}

/// Read access; the values were checked when the campaign was parsed.
impl Campaign {
    /// Short unique code.
    pub fn code(&self) -> &str {
        &self.code
    }
    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the campaign is for.
    pub fn kind(&self) -> CampaignKind {
        self.kind
    }
    /// Channels in fallback order (never empty, never `all`).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    /// The message template (`campaigns/templates/LANG/NAME.*`) of the SMS and email channels.
    pub fn template(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// Hours an SMS or email survey waits for the owner's reply before the next channel.
    pub fn reply_hours(&self) -> u32 {
        self.reply_hours
    }

    /// The lists and their weights (never empty).
    pub fn lists(&self) -> &[WeightedList] {
        &self.lists
    }
    /// How voice calls are paced.
    pub fn mode(&self) -> DialMode {
        self.mode
    }
    /// The abandon target in percent (0 < x ≤ 10).
    pub fn max_abandon_pct(&self) -> f64 {
        self.max_abandon_pct
    }
    /// Whether keys the owner's side sends by SIP INFO count (off unless the file says
    /// `sip_info_dtmf = true`: a trunk that relays keys so is the exception, and a digit
    /// decides a ticket, so the channel is opened only where it is used). RFC 4733 and
    /// in-band tones always count.
    pub fn sip_info_dtmf(&self) -> bool {
        self.sip_info_dtmf
    }
    /// Seconds a call rings before it counts as no answer (15 to 120).
    pub fn ring_timeout_secs(&self) -> u32 {
        self.ring_timeout_secs
    }
    /// The campaign's own cap on calls per second (the trunk's applies as well).
    pub fn calls_per_second(&self) -> Option<f64> {
        self.calls_per_second
    }
    /// The zone for contacts whose own zone is unknown.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }
    /// When contacts may be called.
    pub fn windows(&self) -> &CallWindows {
        &self.windows
    }
    /// Retry rules and caps.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
    /// The number shown to owners, when not the trunk's.
    pub fn caller_id(&self) -> Option<&Phone> {
        self.caller_id.as_ref()
    }
    /// The trunk calls go out on (a `[trunks.NAME]` of the configuration).
    pub fn trunk(&self) -> &str {
        &self.trunk
    }
    /// What an answered call hears.
    pub fn content(&self) -> &Content {
        &self.content
    }
    /// Higher is claimed first.
    pub fn priority(&self) -> i64 {
        self.priority
    }
}
