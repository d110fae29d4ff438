//! What every phase of a campaign's work shares, loaded once when its worker starts: the
//! [`Plan`] (definition, trunk, prompts, survey, templates) and the errors that stop the work.
//! A leaf of the dialer: the phases (placing a call, the survey, messages) and the node that
//! runs them all read it, and it reads none of them, so they form no circle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::agents::AgentDesk;
use super::floor::Floor;
use super::hopper::{AttemptError, HopperError};
use crate::campaigns::Campaign;
use crate::campaigns::repo::RepoError;
use crate::campaigns::templates::MessageTemplates;
use crate::clock::SharedClock;
use crate::config::TrunkConfig;
use crate::limits::{Limits, RateError};
use crate::outcomes::{OutcomeError, Outcomes};
use crate::store::Store;
use crate::surveys::Script;
use crate::telephony::media::Prompt;
use crate::telephony::sip::Transport;
use crate::telephony::sip::auth::Credentials;
use crate::telephony::transport::DialRequest;

/// A loaded prompt list.
pub(crate) type Prompts = Vec<Arc<Prompt>>;

/// Why a campaign cannot be worked as defined; it is paused with this as the reason.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The stored definition no longer validates.
    #[error("its definition is invalid: {0}")]
    Definition(String),
    /// The campaign names a trunk the configuration lacks.
    #[error("trunk `{0}` is not configured ([trunks.{0}] with a domain in huifang.toml)")]
    NoTrunk(String),
    /// The trunk has no domain to put numbers in.
    #[error("trunk `{0}` has no domain: numbers cannot be dialled through it")]
    NoDomain(String),
    /// The trunk's transport is neither UDP nor TCP.
    #[error("trunk `{trunk}`: transport `{transport}` is neither udp nor tcp")]
    Transport {
        /// The trunk.
        trunk: String,
        /// What it says.
        transport: String,
    },
    /// A prompt file is missing or unreadable.
    #[error("prompt `{name}`: {reason}")]
    Prompt {
        /// The prompt's name.
        name: String,
        /// Why it cannot be played.
        reason: String,
    },
    /// The survey script does not load.
    #[error("{0}")]
    Script(String),
    /// An SMS template of the survey is missing.
    #[error("survey SMS template `{name}`: {reason}")]
    SmsTemplate {
        /// The template's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The message templates of the SMS or email channel are missing or invalid.
    #[error("message templates: {0}")]
    Templates(String),
    /// The campaign needs something this node does not do yet.
    #[error("{0}")]
    Unsupported(String),
}

/// Everything a campaign's calls share: its definition, the trunk, the prompts.
pub(crate) struct Plan {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) node: String,
    pub(crate) campaign: Campaign,
    pub(crate) limits: Arc<Limits>,
    pub(crate) code: String,
    pub(super) trunk: TrunkConfig,
    pub(super) transport: Transport,
    pub(super) domain: String,
    pub(super) prompts: HashMap<String, Prompts>,
    pub(super) safe_harbor: HashMap<String, Prompts>,
    pub(crate) desk: Option<AgentDesk>,
    /// The keypad survey, for a campaign with a `script`.
    pub(crate) survey: Option<Arc<Survey>>,
    /// The message templates of the SMS and email channels, when the campaign has them.
    pub(crate) templates: Option<Arc<MessageTemplates>>,
    pub(crate) floor: Floor,
    /// How long an answered call holds its contact: the lease, plus the talk limit for
    /// calls that go to an agent.
    pub(crate) call_lease: Duration,
}

impl Plan {
    /// The call to `phone` through the campaign's trunk.
    pub(crate) fn request(&self, phone: &str) -> DialRequest {
        let mut request = DialRequest::new(format!("sip:{phone}@{}", self.domain));
        request.caller_id = self
            .campaign
            .caller_id()
            .map(|p| p.as_str().to_string())
            .or_else(|| self.trunk.caller_id.clone())
            .unwrap_or(request.caller_id);
        request.proxy = self.trunk.proxy.clone();
        request.transport = self.transport;
        request.ring_timeout = Duration::from_secs(u64::from(self.campaign.ring_timeout_secs()));
        request.sip_info_dtmf = self.campaign.sip_info_dtmf();
        if let (Some(username), Some(password)) = (&self.trunk.username, &self.trunk.password) {
            request.credentials = Some(Credentials {
                username: username.clone(),
                password: password.clone(),
            });
        }
        request
    }

    /// The prompts a contact speaking `language` hears.
    pub(crate) fn prompts_for(&self, language: &str) -> Prompts {
        in_language(&self.prompts, language)
    }

    /// The safe-harbor message for a contact speaking `language`.
    pub(crate) fn safe_harbor_for(&self, language: &str) -> Prompts {
        in_language(&self.safe_harbor, language)
    }
}

fn in_language(prompts: &HashMap<String, Prompts>, language: &str) -> Prompts {
    prompts
        .get(language)
        .or_else(|| prompts.get(super::lists::DEFAULT_LANGUAGE))
        .cloned()
        .unwrap_or_default()
}

/// What stops a node or one of its campaigns.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The campaign repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The hopper failed.
    #[error(transparent)]
    Hopper(#[from] HopperError),
    /// An attempt row could not be written.
    #[error(transparent)]
    Attempt(#[from] AttemptError),
    /// Another database read failed.
    #[error("dialer database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A configured rate is not usable.
    #[error(transparent)]
    Rate(#[from] RateError),
    /// An agent's leg task ended while holding an owner's call (the attempt is left open and
    /// recovered as interrupted).
    #[error("agent {0}'s leg task lost the owner's call")]
    AgentLegLost(String),
    /// A survey's transfer lost the owner's call in an agent's leg task (a bug: logged).
    #[error("attempt {0}: the survey's transfer lost the owner's call")]
    SurveyLostCall(i64),
    /// A survey's verdict could not be decided or carried out on its ticket.
    #[error(transparent)]
    Outcome(#[from] OutcomeError),
    /// A survey's SMS could not be written.
    #[error("survey SMS: {0}")]
    Sms(String),
    /// A campaign message (SMS or email channel) could not be rendered.
    #[error("campaign message: {0}")]
    Message(String),
}

/// Everything a campaign's survey calls share.
pub(crate) struct Survey {
    pub(crate) script: Script,
    /// By language, then by prompt name.
    pub(crate) prompts: HashMap<String, HashMap<String, Arc<Prompt>>>,
    /// SMS texts (tera templates) by language, then by template name.
    pub(crate) sms: HashMap<String, HashMap<String, String>>,
    /// Where this campaign's comments are recorded.
    pub(crate) recordings: PathBuf,
    /// The node's agents, for `transfer` nodes (none: the owner is promised a callback).
    pub(crate) transfer: Option<AgentDesk>,
    pub(crate) outcomes: Outcomes,
}

impl Survey {
    /// The SMS template `name` in `language`, else in the default language, else in any.
    pub(crate) fn sms_text(&self, name: &str, language: &str) -> Option<&String> {
        self.sms
            .get(language)
            .and_then(|t| t.get(name))
            .or_else(|| {
                self.sms
                    .get(super::lists::DEFAULT_LANGUAGE)
                    .and_then(|t| t.get(name))
            })
            .or_else(|| self.sms.values().find_map(|t| t.get(name)))
    }

    pub(crate) fn in_language<'a, T>(map: &'a HashMap<String, T>, language: &str) -> Option<&'a T> {
        map.get(language)
            .or_else(|| map.get(super::lists::DEFAULT_LANGUAGE))
    }
}
