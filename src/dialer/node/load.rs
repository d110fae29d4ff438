//! Planning a campaign on this node: the checks that it can be worked here (trunk, prompts,
//! survey script, templates) and the loading of everything its calls then share.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::super::attempt;
use super::super::floor::Floor;
use super::super::plan::{Plan, PlanError, Prompts, Survey};
use super::{DialerNode, SAFE_HARBOR_PROMPT};
use crate::campaigns::repo::StoredCampaign;
use crate::campaigns::templates::MessageTemplates;
use crate::campaigns::{Campaign, Content, DialMode};
use crate::config::TrunkConfig;
use crate::telephony::sip::Transport;
use crate::vocab::Channel;

impl DialerNode {
    /// Checks that the campaign can be worked here and loads what its calls need.
    pub(super) fn plan(&self, stored: &StoredCampaign) -> Result<Plan, PlanError> {
        let campaign = stored
            .definition()
            .map_err(|e| PlanError::Definition(e.to_string()))?;
        let voice = campaign.channels().contains(&Channel::Voice);
        let desk = match campaign.mode() {
            DialMode::Agentless => None,
            DialMode::Paced(mode) => Some(self.desk.get().cloned().ok_or_else(|| {
                PlanError::Unsupported(format!(
                    "dial mode `{mode}` needs agents: configure [dialer.agents] \
                     (NAME = \"sip:...\") or pass --agent NAME=URI"
                ))
            })?),
        };
        let names = prompt_names(&campaign, desk.is_some(), voice)?;
        let (trunk, transport, domain) = self.trunk_of(&campaign, voice)?;
        let prompts = self.load_prompts(&names)?;
        let safe_harbor = match desk {
            Some(_) => self.load_prompts(&[SAFE_HARBOR_PROMPT.to_string()])?,
            None => HashMap::new(),
        };
        let survey = match campaign.content() {
            Content::Script(path) => Some(Arc::new(self.survey(stored, path, voice)?)),
            _ => None,
        };
        let templates = MessageTemplates::of_campaign(&campaign, &stored.base_dir())
            .map_err(|errors| {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                PlanError::Templates(all.join("; "))
            })?
            .map(Arc::new);
        Ok(Plan {
            store: self.store.clone(),
            clock: self.clock.clone(),
            node: self.config.node.clone(),
            code: stored.code.clone(),
            campaign,
            limits: self.limits.clone(),
            trunk,
            transport,
            domain,
            prompts,
            safe_harbor,
            // A survey may transfer the owner to an agent too.
            call_lease: self.config.lease
                + match (
                    desk.is_some() || survey.as_ref().is_some_and(|s| s.transfer.is_some()),
                    &self.config.agents,
                ) {
                    (true, Some(agents)) => agents.talk_limit,
                    _ => Duration::ZERO,
                },
            desk,
            survey,
            templates,
            floor: Floor::new(self.clock.clone()),
        })
    }

    /// The trunk a voice campaign calls through, its transport and its domain; a campaign of
    /// messages only gets empty stand-ins (no call is ever placed).
    fn trunk_of(
        &self,
        campaign: &Campaign,
        voice: bool,
    ) -> Result<(TrunkConfig, Transport, String), PlanError> {
        let trunk_name = campaign.trunk().to_string();
        let (trunk, domain) = if voice {
            let trunk = self
                .config
                .trunks
                .get(&trunk_name)
                .cloned()
                .ok_or_else(|| PlanError::NoTrunk(trunk_name.clone()))?;
            let domain = trunk
                .domain
                .clone()
                .ok_or_else(|| PlanError::NoDomain(trunk_name.clone()))?;
            (trunk, domain)
        } else {
            // No call is ever placed: the trunk is not looked up (an empty one stands in).
            let unused: TrunkConfig = toml::from_str("")
                .map_err(|e| PlanError::Unsupported(format!("default trunk settings: {e}")))?;
            (unused, String::new())
        };
        let transport = match trunk.transport.as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            other => {
                return Err(PlanError::Transport {
                    trunk: trunk_name,
                    transport: other.to_string(),
                });
            }
        };
        Ok((trunk, transport, domain))
    }

    /// Loads a campaign's survey: the script (relative to the campaign's file), every prompt
    /// it names in every language, its SMS templates (`templates/LANG/NAME.sms.txt` beside the
    /// campaign), and what carries its verdicts out on tickets.
    fn survey(
        &self,
        stored: &StoredCampaign,
        path: &std::path::Path,
        voice: bool,
    ) -> Result<Survey, PlanError> {
        let file = stored.base_dir().join(path);
        let script = crate::surveys::load(&file).map_err(|e| PlanError::Script(e.to_string()))?;
        if stored.kind == "callback" && script.verdict.node.is_none() {
            return Err(PlanError::Script(format!(
                "{}: a callback survey needs a rating node to decide its tickets",
                file.display()
            )));
        }
        // A survey sent only by SMS or email plays nothing.
        let names = if voice {
            script.prompt_names()
        } else {
            Vec::new()
        };
        let prompts = self
            .load_prompts(&names)?
            .into_iter()
            .map(|(language, loaded)| (language, names.iter().cloned().zip(loaded).collect()))
            .collect();
        let sms = crate::dialer::survey::sms_templates(&script, &stored.base_dir(), &stored.code)?;
        let desk = crate::tickets::TicketDesk::new(
            self.store.clone(),
            self.clock.clone(),
            self.config.sla.clone(),
        );
        Ok(Survey {
            script,
            prompts,
            sms,
            recordings: self.config.recordings_dir.join(&stored.code),
            transfer: self.desk.get().cloned(),
            outcomes: crate::outcomes::Outcomes::new(desk, format!("survey:{}", stored.code)),
        })
    }

    /// Every language folder's version of the prompts (the default language must have all).
    fn load_prompts(&self, names: &[String]) -> Result<HashMap<String, Prompts>, PlanError> {
        let dir = &self.config.prompts_dir;
        let mut languages = vec![crate::dialer::lists::DEFAULT_LANGUAGE.to_string()];
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if entry.path().is_dir() && !languages.contains(&name) {
                    languages.push(name);
                }
            }
        }
        let mut prompts = HashMap::new();
        for language in languages {
            let mut loaded = Vec::new();
            for (name, path) in names
                .iter()
                .zip(attempt::prompt_paths(dir, names, &language))
            {
                let prompt = self
                    .ua
                    .prompts()
                    .get(&path)
                    .map_err(|e| PlanError::Prompt {
                        name: name.clone(),
                        reason: e.to_string(),
                    })?;
                loaded.push(prompt);
            }
            prompts.insert(language, loaded);
        }
        Ok(prompts)
    }
}

/// The prompts a campaign's calls play: its own for agentless prompts, none for a survey (its
/// script names its own) or an agent campaign; an error for what is not supported.
fn prompt_names(campaign: &Campaign, agents: bool, voice: bool) -> Result<Vec<String>, PlanError> {
    match (campaign.content(), agents) {
        (Content::Agent, true) => Ok(Vec::new()),
        (Content::Prompts(names), false) => Ok(names.clone()),
        (Content::Prompts(_), true) => Err(PlanError::Unsupported(
            "prompts before the agent are not played yet: drop `prompts` or use \
                 mode = \"agentless\""
                .into(),
        )),
        (Content::Script(_), false) => Ok(Vec::new()),
        (Content::Script(path), true) => Err(PlanError::Unsupported(format!(
            "survey script `{}`: a keypad survey runs agentless (mode = \"agentless\"); \
                 its transfer nodes reach the agents configured on the node",
            path.display()
        ))),
        // A campaign of messages only plays nothing.
        (Content::Agent, false) if !voice => Ok(Vec::new()),
        (Content::Agent, false) => Err(PlanError::Unsupported("nothing to play".into())),
    }
}
