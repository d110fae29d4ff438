//! kamailio 5.6 as an authenticating proxy and registrar (no database), from the template
//! `tests/kamailio/kamailio.cfg`, and `huifang phones` as the phones behind it. Both are
//! killed on drop.
//!
//! A missing kamailio fails the test pointing at `tests/run.sh`; `HUIFANG_SKIP_PEERS=1` skips.

use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::{free_ports, require};

/// The user and password the template's proxy and registrar accept.
pub(crate) const USER: &str = "huifang";
/// See [`USER`].
pub(crate) const PASSWORD: &str = "s3cret";

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

/// Stops a child started in its own process group: SIGTERM (kamailio's clean exit, which also
/// ends its workers), then SIGKILL to the whole group after two seconds.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let gone = wait_until(Duration::from_secs(2), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !gone {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A running kamailio on `127.0.0.1:port` (UDP and TCP).
pub(crate) struct Kamailio {
    /// Its SIP port on 127.0.0.1.
    pub(crate) port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Kamailio {
    /// Fills the template with a free port, starts kamailio in the foreground (`-DD`, logging
    /// to stderr, which goes to a file) and waits until it answers an OPTIONS. `None` when
    /// skipping.
    pub(crate) fn start() -> Option<Kamailio> {
        // It lives in /usr/sbin, which a non-root PATH may lack.
        let sbin = Path::new("/usr/sbin/kamailio");
        let binary = if sbin.is_file() {
            sbin.to_path_buf()
        } else if require(&["kamailio"]) {
            PathBuf::from("kamailio")
        } else {
            return None;
        };
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/kamailio.cfg");
        let template = std::fs::read_to_string(&template).expect("tests/kamailio/kamailio.cfg");
        let port = free_ports(1);
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg, template.replace("@PORT@", &port.to_string())).expect("write cfg");
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).expect("run dir");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).expect("kamailio.log");
        let child = Command::new(&binary)
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "64", "-M", "16", "-Y"])
            .arg(&run)
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("kamailio.log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start kamailio");
        let mut kamailio = Kamailio { port, child, dir };
        let answered = wait_until(Duration::from_secs(10), || {
            matches!(kamailio.child.try_wait(), Ok(None)) && kamailio.options()
        });
        if !answered {
            stop(&mut kamailio.child);
            panic!(
                "kamailio did not answer OPTIONS on 127.0.0.1:{port}\n{}",
                kamailio.log()
            );
        }
        Some(kamailio)
    }

    /// Sends one OPTIONS over UDP; true when a 200 came back within 200 ms.
    fn options(&self) -> bool {
        let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let Ok(local) = socket.local_addr() else {
            return false;
        };
        let port = self.port;
        let request = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-probe{}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@127.0.0.1>;tag=probe\r\n\
             To: <sip:127.0.0.1:{port}>\r\n\
             Call-ID: probe-{}@127.0.0.1\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            local.port(),
            local.port(),
        );
        let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
        if socket
            .send_to(request.as_bytes(), ("127.0.0.1", port))
            .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 2048];
        matches!(socket.recv(&mut buf), Ok(n) if buf[..n].starts_with(b"SIP/2.0 200"))
    }

    /// `host:port` of the proxy.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its log (stderr): our `HFK ...` xlog lines among kamailio's own.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Our `HFK` xlog lines only, without kamailio's process prefix.
    pub(crate) fn script_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.find("HFK ").map(|at| l[at + 4..].to_string()))
            .collect()
    }

    /// Waits (at most `timeout`) until a script line contains `needle`.
    pub(crate) fn wait_line(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.script_lines().iter().any(|l| l.contains(needle))
        })
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `huifang phones --listen 127.0.0.1:PORT --seconds 60`: the owners' phones behind kamailio.
pub(crate) struct Phones {
    /// Its SIP port on 127.0.0.1.
    pub(crate) port: u16,
    child: Child,
    log: PathBuf,
}

impl Phones {
    /// Starts the simulator on a free port, logging into `dir`, and waits until it listens.
    pub(crate) fn start(dir: &Path) -> Phones {
        let port = free_ports(1);
        let log = dir.join("phones.log");
        let out = std::fs::File::create(&log).expect("phones.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_huifang"))
            .args(["phones", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--seconds", "60", "--press-after-ms", "500"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("phones.log"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("start huifang phones");
        let listening = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("answering on"))
        });
        if !listening {
            stop(&mut child);
            panic!(
                "huifang phones did not start on {port}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Phones { port, child, log }
    }

    /// A URI that makes the simulator answer and press `digits`.
    pub(crate) fn uri_pressing(&self, digits: &str) -> String {
        format!("sip:press-{digits}@127.0.0.1:{}", self.port)
    }

    /// Its output, for assertion messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Phones {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
