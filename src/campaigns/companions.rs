//! The files a definition names besides itself: a survey's script and the message templates.
//!
//! Checked where the definition is checked (`huifang campaign validate`, the console's create
//! form), relative to the folder the definition belongs to, so a broken script or template is
//! found before a campaign is stored rather than when the dialer first needs it.

use std::path::Path;

use super::templates::{MessageTemplates, TemplateError};
use super::{Campaign, Content};
use crate::surveys::ScriptErrors;

/// A companion file of a valid definition that is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum CompanionError {
    /// The survey script (`script = "FILE"`) does not load.
    #[error("its script is invalid:\n{0}")]
    Script(ScriptErrors),
    /// A message template (`template = "NAME"`) is missing or does not render.
    #[error("its message templates are invalid:\n{}", list(.0))]
    Templates(Vec<TemplateError>),
}

fn list(errors: &[TemplateError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
    lines.join("\n")
}

/// Checks the script and the message templates of `campaign`, relative to `base` (the folder
/// of its definition).
pub fn check(campaign: &Campaign, base: &Path) -> Result<(), CompanionError> {
    if let Content::Script(script) = campaign.content() {
        crate::surveys::load(&base.join(script)).map_err(CompanionError::Script)?;
    }
    MessageTemplates::of_campaign(campaign, base).map_err(CompanionError::Templates)?;
    Ok(())
}
