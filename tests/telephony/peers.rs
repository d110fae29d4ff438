//! Real peers on loopback: sipp answering with our scenarios (`tests/sipp/*.xml`), baresip as an
//! auto-answering phone driven over its `ctrl_tcp` socket, and the `huifang` binary itself.
//!
//! A missing sipp or baresip fails the test with a message pointing at `tests/run.sh` (which
//! installs them); `HUIFANG_SKIP_PEERS=1` turns that into a skip, and only then.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one `huifang call` may take before the test kills it.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the peer binaries are there. Missing ones fail the test, unless
/// `HUIFANG_SKIP_PEERS=1`, in which case the caller skips (returns early).
pub(crate) fn require(binaries: &[&str]) -> bool {
    let missing: Vec<&str> = binaries.iter().copied().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("HUIFANG_SKIP_PEERS").is_ok_and(|v| v == "1") {
        eprintln!(
            "skipped: {} not installed (HUIFANG_SKIP_PEERS=1)",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "{} not installed: run tests/run.sh (it installs sip-tester, baresip, kamailio and sox), \
         or set HUIFANG_SKIP_PEERS=1 to skip the real-peer tests",
        missing.join(", ")
    );
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

/// sipp's `play_pcap_audio` writes raw packets: root or CAP_NET_RAW (bit 13 of CapEff).
pub(crate) fn can_send_raw_packets() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
    };
    let root = field("Uid:").is_some_and(|uid| uid == "0");
    let cap_net_raw = field("CapEff:")
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|caps| caps & (1 << 13) != 0);
    root || cap_net_raw
}

/// `count` consecutive loopback ports free for both UDP and TCP right now. Each call in this
/// process gets a different block; the bind check keeps clear of other processes.
pub(crate) fn free_ports(count: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Start somewhere that depends on the pid, so parallel test binaries spread out.
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 2_000) as u16 * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..2_000 {
        let base = NEXT.fetch_add(count, Ordering::SeqCst);
        let base = if base > 60_000 - count { 20_000 } else { base };
        let free = (base..base + count).all(|p| {
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free block of {count} loopback ports");
}

/// Whether something now holds `port` on loopback (UDP or TCP).
fn bound(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_err() || TcpListener::bind(("127.0.0.1", port)).is_err()
}

fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    ready()
}

/// The folder of our sipp scenarios.
pub(crate) fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A sipp UAS running one of our scenarios for one call (`-m 1`). Killed on drop.
pub(crate) struct SippUas {
    /// Its SIP port on 127.0.0.1.
    pub(crate) port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    name: String,
}

/// How a sipp run ended, and its logs.
pub(crate) struct SippOutcome {
    /// sipp's exit status (0: every call succeeded; 1: some failed); `None` if we killed it.
    pub(crate) status: Option<ExitStatus>,
    /// Its `-trace_err` log: unexpected messages and failures.
    pub(crate) errors: String,
    /// Its `-trace_msg` log: every message sent and received.
    pub(crate) messages: String,
    /// Its stdout and stderr (including the final screen).
    pub(crate) output: String,
}

impl SippOutcome {
    /// Whether sipp saw its one call succeed.
    pub(crate) fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// How many requests of `method` sipp received.
    pub(crate) fn received(&self, method: &str) -> usize {
        let start = format!("{method} ");
        let mut count = 0;
        let mut after_received = false;
        for line in self.messages.lines() {
            if line.contains("message received") {
                after_received = true;
            } else if after_received && !line.trim().is_empty() {
                if line.starts_with(&start) {
                    count += 1;
                }
                after_received = false;
            }
        }
        count
    }

    /// Everything, for assertion messages.
    pub(crate) fn report(&self) -> String {
        format!(
            "sipp status {:?}\n--- errors ---\n{}\n--- output ---\n{}\n--- messages ---\n{}",
            self.status, self.errors, self.output, self.messages
        )
    }
}

impl SippUas {
    /// Starts `sipp -sf tests/sipp/<scenario>` on a free port with `extra` arguments (for
    /// example `-rtp_echo` or `-t t1`), and waits until it listens. `None` when skipping.
    pub(crate) fn start(scenario_name: &str, extra: &[&str]) -> Option<SippUas> {
        SippUas::start_with(scenario_name, extra, &[])
    }

    /// [`SippUas::start`] with `files` (name, bytes) written into sipp's working folder first
    /// (a capture its scenario plays by a relative path).
    pub(crate) fn start_with(
        scenario_name: &str,
        extra: &[&str],
        files: &[(&str, &[u8])],
    ) -> Option<SippUas> {
        if !require(&["sipp"]) {
            return None;
        }
        let port = free_ports(1);
        let media = free_ports(4);
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).expect("write a file for sipp");
        }
        let log = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let stdout = std::fs::File::create(dir.path().join("sipp.out")).expect("sipp.out");
        let stderr = stdout.try_clone().expect("sipp.out");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(scenario(scenario_name))
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &media.to_string()])
            .args(["-m", "1", "-nostdin", "-trace_err", "-trace_msg"])
            .args([
                "-error_file",
                &log("errors.log"),
                "-message_file",
                &log("messages.log"),
            ])
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start sipp");
        let mut uas = SippUas {
            port,
            child: Some(child),
            dir,
            name: scenario_name.into(),
        };
        let listening = wait_until(Duration::from_secs(5), || bound(port));
        if !listening {
            let outcome = uas.stop();
            panic!(
                "sipp {} did not start listening\n{}",
                uas.name,
                outcome.report()
            );
        }
        Some(uas)
    }

    /// The URI to call it on.
    pub(crate) fn uri(&self) -> String {
        format!("sip:owner@127.0.0.1:{}", self.port)
    }

    /// Waits for sipp to finish its call (it exits after one with `-m 1`), killing it after
    /// `timeout`, and returns its status and logs.
    pub(crate) fn wait(mut self, timeout: Duration) -> SippOutcome {
        let child = self.child.as_mut().expect("sipp running");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.stop()
    }

    /// Stops sipp if it still runs (USR1 is its clean exit; KILL after two seconds).
    fn stop(&mut self) -> SippOutcome {
        let mut status = None;
        if let Some(mut child) = self.child.take() {
            status = match child.try_wait() {
                Ok(Some(s)) => Some(s),
                _ => {
                    let _ = Command::new("kill")
                        .args(["-USR1", &child.id().to_string()])
                        .status();
                    let gone = wait_until(Duration::from_secs(2), || {
                        matches!(child.try_wait(), Ok(Some(_)))
                    });
                    if !gone {
                        let _ = child.kill();
                    }
                    let _ = child.wait();
                    None
                }
            };
        }
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        SippOutcome {
            status,
            errors: read("errors.log"),
            messages: read("messages.log"),
            output: read("sipp.out"),
        }
    }
}

impl Drop for SippUas {
    fn drop(&mut self) {
        self.stop();
    }
}

/// baresip 1.0 as an auto-answering phone on a free port, with `ctrl_tcp` connected so the
/// test sees its events and can press keys. Killed on drop.
pub(crate) struct Baresip {
    /// Its SIP port (UDP and TCP; baresip also takes port + 1 for TLS).
    pub(crate) port: u16,
    /// Its `ctrl_tcp` port.
    pub(crate) ctrl_port: u16,
    child: Child,
    ctrl: Control,
    dir: PathBuf,
}

impl Baresip {
    /// Writes a config into `dir` (an empty folder the test owns) and starts baresip playing
    /// `wav_source` (16-bit mono; it hangs up when the file ends, so make it long) into every
    /// call. `None` when skipping.
    pub(crate) fn start(dir: &Path, wav_source: &Path) -> Option<Baresip> {
        Baresip::start_with(dir, wav_source, |port| {
            format!("<sip:owner@127.0.0.1:{port}>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA")
        })
    }

    /// As [`Baresip::start`], but as an owner's phone that calls out through the proxy on
    /// 127.0.0.1:`proxy_port` as `caller` (its From), answering the proxy's 407 as `user` with
    /// `password`; [`Baresip::dial`] places the call.
    pub(crate) fn start_caller(
        dir: &Path,
        wav_source: &Path,
        proxy_port: u16,
        caller: &str,
        (user, password): (&str, &str),
    ) -> Option<Baresip> {
        Baresip::start_with(dir, wav_source, |_| {
            format!(
                "<sip:{caller}@127.0.0.1>;auth_user={user};auth_pass={password};\
                 outbound=\"sip:127.0.0.1:{proxy_port}\";regint=0;audio_codecs=PCMA,PCMU"
            )
        })
    }

    /// `account(port)` is the line of its `accounts` file.
    fn start_with(
        dir: &Path,
        wav_source: &Path,
        account: impl FnOnce(u16) -> String,
    ) -> Option<Baresip> {
        if !require(&["baresip"]) {
            return None;
        }
        let port = free_ports(2);
        let ctrl_port = free_ports(1);
        let received = dir.join("received");
        std::fs::create_dir_all(&received).expect("baresip folders");
        let config = format!(
            "sip_listen 127.0.0.1:{port}\n\
             audio_player alsa,null\n\
             audio_alert alsa,null\n\
             audio_source aufile,{wav}\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule alsa.so\nmodule sndfile.so\n\
             module ctrl_tcp.so\nmodule_app account.so\nmodule_app menu.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             snd_path {snd}\n",
            wav = wav_source.display(),
            snd = received.display(),
        );
        std::fs::write(dir.join("config"), config).expect("baresip config");
        std::fs::write(dir.join("accounts"), format!("{}\n", account(port)))
            .expect("baresip accounts");
        let log = std::fs::File::create(dir.join("baresip.log")).expect("baresip.log");
        let mut child = Command::new("baresip")
            .args(["-4", "-n", "127.0.0.1", "-f"])
            .arg(dir)
            .args(["-t", "120"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("baresip.log"))
            .stderr(log)
            .spawn()
            .expect("start baresip");
        let mut stream = None;
        wait_until(Duration::from_secs(10), || {
            stream = TcpStream::connect(("127.0.0.1", ctrl_port)).ok();
            stream.is_some()
        });
        let Some(stream) = stream else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("baresip.log")).unwrap_or_default();
            panic!("baresip did not open ctrl_tcp on {ctrl_port}\n{log}");
        };
        Some(Baresip {
            port,
            ctrl_port,
            child,
            ctrl: Control::new(stream),
            dir: dir.to_path_buf(),
        })
    }

    /// The URI to call it on.
    pub(crate) fn uri(&self) -> String {
        format!("sip:owner@127.0.0.1:{}", self.port)
    }

    /// Waits for the call to be established, then presses `digits` (RFC 4733 from baresip).
    pub(crate) fn press(&mut self, digits: &str, timeout: Duration) -> Result<(), String> {
        let port = self.ctrl_port;
        self.ctrl
            .wait_event("CALL_ESTABLISHED", timeout)
            .map_err(|e| format!("baresip ctrl_tcp {port}: {e}"))?;
        self.send_code(digits, timeout)
    }

    /// Presses `digits` in the call on now (RFC 4733).
    pub(crate) fn send_code(&mut self, digits: &str, timeout: Duration) -> Result<(), String> {
        let reply = self.ctrl.command("sndcode", digits, timeout)?;
        if reply["ok"] == Value::Bool(true) {
            Ok(())
        } else {
            Err(format!("sndcode refused: {reply}"))
        }
    }

    /// Calls `uri` (through the account's outbound proxy, if it has one).
    pub(crate) fn dial(&mut self, uri: &str, timeout: Duration) -> Result<(), String> {
        let reply = self.ctrl.command("dial", uri, timeout)?;
        if reply["ok"] == Value::Bool(true) {
            Ok(())
        } else {
            Err(format!("dial refused: {reply}"))
        }
    }

    /// Hangs up the call on now.
    pub(crate) fn hangup(&mut self, timeout: Duration) -> Result<(), String> {
        self.ctrl.command("hangup", "", timeout).map(|_| ())
    }

    /// Waits for an event of `kind` (`CALL_ESTABLISHED`, `CALL_CLOSED`, ...).
    pub(crate) fn wait_event(&mut self, kind: &str, timeout: Duration) -> Result<Value, String> {
        self.ctrl.wait_event(kind, timeout)
    }

    /// baresip's own log, for assertion messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip's `ctrl_tcp`: netstring-framed JSON both ways.
struct Control {
    stream: TcpStream,
    buf: Vec<u8>,
    token: u32,
}

impl Control {
    fn new(stream: TcpStream) -> Control {
        Control {
            stream,
            buf: Vec::new(),
            token: 0,
        }
    }

    fn command(&mut self, command: &str, params: &str, timeout: Duration) -> Result<Value, String> {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body =
            serde_json::json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{body},", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .map_err(|e| format!("ctrl_tcp write: {e}"))?;
        self.next_matching(timeout, |v| {
            v["response"] == Value::Bool(true) && v["token"] == token
        })
    }

    fn wait_event(&mut self, kind: &str, timeout: Duration) -> Result<Value, String> {
        self.next_matching(timeout, |v| {
            v["event"] == Value::Bool(true) && v["type"] == kind
        })
        .map_err(|e| format!("waiting for {kind}: {e}"))
    }

    fn next_matching(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            while let Some(message) = self.take_frame()? {
                if wanted(&message) {
                    return Ok(message);
                }
                seen.push(message["type"].as_str().unwrap_or("response").to_string());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out; saw {seen:?}"));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(format!("ctrl_tcp closed; saw {seen:?}")),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(format!("ctrl_tcp read: {e}")),
            }
        }
    }

    /// One whole netstring (`len:json,`) off the buffer, if there is one.
    fn take_frame(&mut self) -> Result<Option<Value>, String> {
        let Some(colon) = self.buf.iter().position(|&b| b == b':') else {
            return Ok(None);
        };
        let len: usize = std::str::from_utf8(&self.buf[..colon])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("bad netstring: {:?}", String::from_utf8_lossy(&self.buf)))?;
        if self.buf.len() < colon + 1 + len + 1 {
            return Ok(None);
        }
        let body = self.buf[colon + 1..colon + 1 + len].to_vec();
        self.buf.drain(..colon + 1 + len + 1);
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            format!(
                "bad ctrl_tcp JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        })
    }
}

/// A 16-bit mono 8 kHz WAV of a 440 Hz tone, `seconds` long.
pub(crate) fn tone_wav(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create tone WAV");
    for n in 0..8_000 * seconds {
        let t = n as f32 / 8_000.0;
        let s = (t * 440.0 * std::f32::consts::TAU).sin() * 8_000.0;
        w.write_sample(s as i16).expect("write tone WAV");
    }
    w.finalize().expect("finish tone WAV");
}

/// A running `huifang call`, its stdout and stderr gathered by threads.
pub(crate) struct HuifangRun {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
}

/// A finished `huifang call`.
pub(crate) struct CallOutput {
    /// Exit code; `None` when it had to be killed (timed out) or died of a signal.
    pub(crate) code: Option<i32>,
    /// Whether the test killed it after its time-out.
    pub(crate) timed_out: bool,
    /// One JSON object per stdout line (lines that are not JSON are kept in `stdout`).
    pub(crate) events: Vec<Value>,
    /// Raw stdout.
    pub(crate) stdout: String,
    /// Raw stderr (logs, error messages).
    pub(crate) stderr: String,
}

impl HuifangRun {
    /// Starts `huifang call <uri> --json <args>`.
    pub(crate) fn spawn(uri: &str, args: &[&str]) -> HuifangRun {
        let mut child = Command::new(env!("CARGO_BIN_EXE_huifang"))
            .args(["call", uri, "--json"])
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start huifang");
        let gather = |mut r: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let stdout = gather(Box::new(child.stdout.take().expect("stdout")));
        let stderr = gather(Box::new(child.stderr.take().expect("stderr")));
        HuifangRun {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for it to exit, killing it after `timeout`.
    pub(crate) fn finish(mut self, timeout: Duration) -> CallOutput {
        let exited = wait_until(timeout, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("wait for huifang");
        let stdout = self.stdout.join().unwrap_or_default();
        let stderr = self.stderr.join().unwrap_or_default();
        let events = BufReader::new(stdout.as_bytes())
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .filter(Value::is_object)
            .collect();
        CallOutput {
            code: status.code(),
            timed_out: !exited,
            events,
            stdout,
            stderr,
        }
    }
}

/// Runs `huifang call <uri> --json <args>` to the end (at most [`CALL_TIMEOUT`]).
pub(crate) fn huifang_call(uri: &str, args: &[&str]) -> CallOutput {
    HuifangRun::spawn(uri, args).finish(CALL_TIMEOUT)
}

impl CallOutput {
    /// The events named `name`, in order.
    pub(crate) fn named(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// The one `ended` event (panics with the whole output when there is not exactly one).
    pub(crate) fn ended(&self) -> &Value {
        let ended = self.named("ended");
        assert_eq!(
            ended.len(),
            1,
            "expected one ended event\n{}",
            self.report()
        );
        ended[0]
    }

    /// Stdout and stderr, for assertion messages.
    pub(crate) fn report(&self) -> String {
        format!(
            "huifang exit {:?}{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            if self.timed_out {
                " (killed: timed out)"
            } else {
                ""
            },
            self.stdout,
            self.stderr
        )
    }
}
