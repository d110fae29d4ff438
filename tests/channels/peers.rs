//! The real loopback peers of tests/peers (README there): the SMSC simulator, the SMTP server
//! and the HTTP SMS provider, each a child process killed when dropped, with its JSON log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running peer: its ports (from its `READY` line) and its log file.
pub(crate) struct Peer {
    child: Child,
    pub(crate) ports: Vec<u16>,
    pub(crate) log: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Starts `program args`, waits (at most 20 s) for its `READY p1 p2 ...` line.
fn start(name: &'static str, program: &str, args: &[String], dir: &Path) -> Peer {
    let log = dir.join(format!("{name}.jsonl"));
    let mut all = args.to_vec();
    all.extend(["--log".to_string(), log.display().to_string()]);
    let mut child = Command::new(program)
        .args(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{name}: cannot start {program} ({e}); tests/run.sh installs it")
        });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining, so the peer never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{name} did not print READY within 20 s"));
    let ports: Vec<u16> = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("{name} printed `{line}`, not READY"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    Peer { child, ports, log }
}

impl Peer {
    /// Every JSON line of the log so far.
    pub(crate) fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The log lines whose `key` is `value`.
    pub(crate) fn where_(&self, key: &str, value: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l[key] == value)
            .collect()
    }
}

/// The SMSC simulator with account huifang/secret and `extra` options.
pub(crate) fn smsc(dir: &Path, extra: &[&str]) -> Peer {
    let mut args: Vec<String> = [
        "tests/peers/smsc/smsc.js",
        "--port",
        "0",
        "--control-port",
        "0",
        "--system-id",
        "huifang",
        "--password",
        "secret",
        "--receipt-delay-ms",
        "50",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args[0] = peers_dir().join("smsc/smsc.js").display().to_string();
    args.extend(extra.iter().map(|s| s.to_string()));
    start("smsc", "node", &args, dir)
}

impl Peer {
    /// An owner's SMS reply through the SMSC's control port (a mobile-originated deliver_sm);
    /// returns the HTTP status (200 once huifang acknowledged it).
    pub(crate) async fn mo(&self, from: &str, text: &str) -> u16 {
        let url = format!("http://127.0.0.1:{}/mo", self.ports[1]);
        let body = serde_json::json!({ "from": from, "to": "4008108888", "text": text });
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// Accepted submits to `destination` (without its `+`).
    pub(crate) fn submits_to(&self, destination: &str) -> Vec<Value> {
        let bare = destination.trim_start_matches('+');
        self.where_("pdu", "submit_sm")
            .into_iter()
            .filter(|s| {
                s["destination_addr"]
                    .as_str()
                    .map(|d| d.trim_start_matches('+'))
                    == Some(bare)
            })
            .collect()
    }
}

/// The SMTP server with `extra` options.
pub(crate) fn smtp(dir: &Path, extra: &[&str]) -> Peer {
    let mut args = vec![
        peers_dir().join("smtp_server.py").display().to_string(),
        "--port".into(),
        "0".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    start("smtp", "python3", &args, dir)
}

/// A self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem).
pub(crate) fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let status = Command::new(peers_dir().join("make_cert.sh"))
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("make_cert.sh (needs openssl)");
    assert!(status.success());
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The HTTP SMS provider with `extra` options.
pub(crate) fn http_sms(dir: &Path, extra: &[&str]) -> Peer {
    let mut args = vec![
        peers_dir().join("http_sms.py").display().to_string(),
        "--port".into(),
        "0".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    start("http_sms", "python3", &args, dir)
}

/// A huifang.toml with the SMSC of `smsc` and the SMTP server of `smtp` (either may be absent)
/// and `extra` TOML, parsed.
pub(crate) fn config(
    smsc: Option<&Peer>,
    smtp: Option<&Peer>,
    extra: &str,
) -> huifang::config::Config {
    let mut text = String::new();
    if let Some(smsc) = smsc {
        text.push_str(&format!(
            "[sms]\nmessages_per_second = 500\n[sms.smpp]\naddress = \"127.0.0.1:{}\"\n\
             system_id = \"huifang\"\npassword = \"secret\"\nsource_addr = \"4008108888\"\n\
             response_timeout_secs = 5\n",
            smsc.ports[0]
        ));
    }
    if let Some(smtp) = smtp {
        text.push_str(&format!(
            "[email]\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"和悦地产客服 <callback@example.com>\"\n",
            smtp.ports[0]
        ));
    }
    text.push_str(
        "[outbox]\nretry_secs = 1\nemail_per_second = 500\npublic_url = \"http://127.0.0.1:8080\"\n",
    );
    text.push_str(extra);
    huifang::config::Config::parse(&text, "test huifang.toml").unwrap_or_else(|e| panic!("{e}"))
}
