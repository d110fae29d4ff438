//! The `huifang` binary: parse the command line and hand it to the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: the SIP and media paths allocate many small, short-lived
/// buffers across threads, where glibc's arenas spent a fifth of the call set-up benchmark in
/// free/consolidate (measured with perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("HUIFANG_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = huifang::cli::Cli::parse();
    if cli.command.prints_a_report() {
        quiet_on_closed_pipe();
    }
    match huifang::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets a closed stdout end the process as it ends any Unix tool, instead of `println!`
/// panicking on the broken pipe. Rust starts with SIGPIPE ignored; sockets are unaffected
/// either way (std and tokio write them with MSG_NOSIGNAL).
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal; no handler code is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
