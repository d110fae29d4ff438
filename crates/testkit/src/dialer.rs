//! What a dialer under test talks to: the built-in phone simulator, sipp as an answering
//! peer, a trunk, a node's configuration, free loopback ports.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use huifang::config::TrunkConfig;
use huifang::dialer::NodeConfig;
use huifang::telephony::simulator::{self, Mix, PhoneConfig};
use huifang::telephony::transport::{UserAgent, UserAgentConfig};

use crate::binary::Proc;

/// The built-in phone simulator in this process, with `mix`; returns its address.
pub async fn simulator(mix: &str, seed: u64) -> (UserAgent, SocketAddr) {
    let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let config = PhoneConfig {
        mix: mix.parse::<Mix>().unwrap(),
        answer_delay: (Duration::from_millis(100), Duration::from_millis(600)),
        seed,
        ..PhoneConfig::default()
    };
    tokio::spawn(simulator::serve(ua.clone(), config));
    let addr = ua.local_addr();
    (ua, addr)
}

/// A trunk to `domain` with `channels` and a generous rate.
pub fn trunk(domain: &str, channels: usize) -> TrunkConfig {
    let text = format!("domain = \"{domain}\"\nchannels = {channels}\ncalls_per_second = 200\n");
    toml::from_str(&text).unwrap()
}

/// A node named `node` dialling through trunk `main` to `domain`.
pub fn node_config(node: &str, domain: &str, prompts: &Path, channels: usize) -> NodeConfig {
    NodeConfig {
        node: node.into(),
        lease: Duration::from_secs(900),
        poll: Duration::from_millis(100),
        prompts_dir: prompts.to_path_buf(),
        recordings_dir: std::env::temp_dir().join(format!("huifang-recordings-{node}")),
        sla: Default::default(),
        trunks: BTreeMap::from([("main".to_string(), trunk(domain, channels))]),
        prefix_rates: BTreeMap::new(),
        agents: None,
    }
}

/// A free loopback port for UDP and TCP.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `sipp -sn uas` (answers every call, waits for our BYE) on `port`.
pub fn sipp_uas(port: u16, dir: &Path) -> Proc {
    let out = std::fs::File::create(dir.join("sipp.out")).unwrap();
    let child = Command::new("sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &free_port().to_string()])
        .args(["-buff_size", "4194304", "-nostdin"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("sipp (apt-get install sip-tester; tests/run.sh installs it)");
    std::thread::sleep(Duration::from_millis(500));
    Proc(child, "sipp")
}
