//! The built `huifang` binary: run to completion (output captured), or spawned with its log in
//! a file and killed when the handle drops.
//!
//! Where the binary is: cargo sets `CARGO_BIN_EXE_huifang` when it builds an integration test
//! and again in the environment when it runs one; `env!` is no use here, since this crate is
//! not one of huifang's own test targets, so [`path`] reads it at run time. A test executable
//! started by hand (not by cargo) finds the binary next to it: cargo puts tests in
//! `target/<profile>/deps/` and the binary in `target/<profile>/`. Passing `env!(..)` in from
//! every test binary would have worked too, but at every call site, for the same answer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `huifang` binary cargo built for the tests.
pub fn path() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_huifang") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join(format!("huifang{}", std::env::consts::EXE_SUFFIX)));
    match beside {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "no huifang binary: CARGO_BIN_EXE_huifang is unset and none is next to {}; \
             run the tests with cargo test",
            exe.display()
        ),
    }
}

/// A command running the binary (nothing else set).
pub fn command() -> Command {
    Command::new(path())
}

/// Runs the binary in `dir` with `args` to completion, without any `DATABASE_URL` of the
/// caller's environment (so it uses the folder's SQLite file unless told otherwise).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command()
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run huifang")
}

/// What a finished process printed: standard output, then standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A child process killed when dropped.
pub struct Proc(pub Child, pub &'static str);

impl Proc {
    /// Waits for the process to exit by itself within `timeout`; panics otherwise.
    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not exit within {timeout:?}", self.1);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The huifang binary with `args`, its output in `DIR/NAME.log`.
pub fn spawn(dir: &Path, name: &'static str, args: &[&str]) -> Proc {
    let out = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = command()
        .args(args)
        .current_dir(dir)
        // HUIFANG_TEST_LOG=info (or debug) shows more in the child's log.
        .env(
            "HUIFANG_LOG",
            std::env::var("HUIFANG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start huifang");
    Proc(child, name)
}

/// The log a process started by [`spawn`] wrote.
pub fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}
