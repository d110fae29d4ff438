//! `huifang import KIND FILE`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::contacts::import::{ImportKind, import_file};
use crate::store::Store;

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds.
    kind: ImportKind,
    /// The CSV file (UTF-8, header row first).
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Imports and reports; exits with 1 when any row was refused (the good rows are kept).
pub(crate) async fn run(store: &Store, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    // indicatif draws only when stderr is a terminal.
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {elapsed}")?
            .progress_chars("=> "),
    );
    bar.set_message(format!("importing {}", args.file.display()));
    let started = Instant::now();
    let report = import_file(store, args.kind, &args.file, &mut |bytes| {
        bar.set_position(bytes)
    })
    .await?;
    bar.finish_and_clear();
    if args.json {
        super::output::json(&report)?;
    } else {
        for error in &report.rejected {
            eprintln!("{error}");
        }
        println!(
            "{}: {} rows read, {} imported ({} new, {} updated), {} refused, in {:.2?}",
            report.file,
            report.rows,
            report.accepted,
            report.created,
            report.accepted.saturating_sub(report.created),
            report.rejected.len(),
            started.elapsed()
        );
    }
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
