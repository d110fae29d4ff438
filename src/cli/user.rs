//! `huifang user add|list`: console accounts.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use super::output::{json, table};
use crate::store::Store;
use crate::users::{NewUser, Role, Users, random_token};

/// The account subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (or with `--reset`, set a new password, role and team on one).
    /// Without `--password-stdin` a password is generated and printed once.
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`); an agent's name on their calls.
        username: String,
        /// admin, supervisor or agent.
        #[arg(long)]
        role: Role,
        /// The group: a supervisor sees the agents of the same team.
        #[arg(long, default_value = "")]
        team: String,
        /// Name shown in the console (default: the username).
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Replace an existing account's password, role and team.
        #[arg(long)]
        reset: bool,
    },
    /// Every active account.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(store: &Store, command: UserCommand) -> anyhow::Result<ExitCode> {
    let users = Users::new(store);
    match command {
        UserCommand::Add {
            username,
            role,
            team,
            name,
            password_stdin,
            reset,
        } => {
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_token()[..16].to_string(), true)
            };
            let new = NewUser {
                username: &username,
                display_name: &name,
                role,
                team: &team,
                password: &password,
            };
            let user = users.add(&new, reset, Utc::now()).await?;
            println!(
                "{} {} ({})",
                if reset { "reset" } else { "added" },
                user.username,
                user.role
            );
            if generated {
                println!("password: {password}");
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { json: as_json } => {
            let all = users.list().await?;
            if as_json {
                json(&all)?;
            } else {
                let mut t = table(&["username", "name", "role", "team"]);
                for u in &all {
                    t.add_row(vec![
                        u.username.clone(),
                        u.display_name.clone(),
                        u.role.to_string(),
                        u.team.clone(),
                    ]);
                }
                println!("{t}\n{} account(s)", all.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
