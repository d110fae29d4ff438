//! The `huifang` binary: parse the command line and hand it to the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: the SIP and media paths allocate many small, short-lived
/// buffers across threads, where glibc's arenas spent a fifth of the call set-up benchmark in
/// free/consolidate (measured with perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match huifang::cli::run(cli).await {
            Ok(code) => code,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The async runtime: one thread runs every task, unless `HUIFANG_WORKER_THREADS=N` (N > 1)
/// asks for a multi-thread runtime with N workers.
///
/// A call is a chain of hand-overs between the SIP task, the call's owner and the dialer
/// (dial, reply, ringing, answered, hang-up, ended). On one thread each is a queue push; with
/// tokio's work-stealing workers each could be a futex or eventfd wake-up and a context switch
/// on another core. On the call set-up benchmark (`bench calls`, 20,000 calls, same build) one
/// thread instead of two workers took context switches from ~2.5 to ~0.2 per call, eventfd
/// wake-ups from ~0.45 to ~0.02 and CPU per call from ~85 to ~67 µs. Heavy work has threads of
/// its own anyway: RTP (the media engine's sender thread) and SQLite (sqlx's).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("HUIFANG_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1);
    if workers > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
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
