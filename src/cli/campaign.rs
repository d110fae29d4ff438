//! `huifang campaign validate FILE...` (the lifecycle verbs come with the database).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::campaigns::Campaign;

/// The campaign subcommands.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Check campaign definition files: `FILE: ok (...)`, or each error as `FILE:LINE: KEY:
    /// REASON`; exits 1 when any file is invalid.
    Validate {
        /// The TOML files (e.g. campaigns/*.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub(crate) fn run(command: CampaignCommand) -> anyhow::Result<ExitCode> {
    match command {
        CampaignCommand::Validate { files } => Ok(validate(&files)),
    }
}

/// Validates every file (not stopping at the first bad one) and prints one verdict each.
fn validate(files: &[PathBuf]) -> ExitCode {
    let mut all_valid = true;
    for file in files {
        match Campaign::load(file) {
            Ok(campaign) => println!(
                "{}: ok ({}, {}, {} windows)",
                file.display(),
                campaign.kind(),
                campaign.mode(),
                campaign.windows().count()
            ),
            Err(errors) => {
                all_valid = false;
                eprintln!("{errors}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
