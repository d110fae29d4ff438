//! Shared set-up: prompt and list files, campaigns, the phone simulator, sipp, the binary.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use huifang::campaigns::Campaign;
use huifang::campaigns::lifecycle::Action;
use huifang::campaigns::repo::{Campaigns, StoredCampaign};
use huifang::config::TrunkConfig;
use huifang::dialer::NodeConfig;
use huifang::dialer::hopper::AttemptRow;
use huifang::dialer::lists;
use huifang::store::Store;
use huifang::telephony::simulator::{self, Mix, PhoneConfig};
use huifang::telephony::transport::{UserAgent, UserAgentConfig};

/// A mono 8 kHz tone of `seconds`, written as `DIR/zh-CN/NAME.wav`; returns DIR.
pub(crate) fn prompts(dir: &Path, name: &str, seconds: f32) -> PathBuf {
    let root = dir.join("prompts");
    std::fs::create_dir_all(root.join("zh-CN")).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(root.join("zh-CN").join(format!("{name}.wav")), spec).unwrap();
    let samples = (8000.0 * seconds) as u32;
    for i in 0..samples {
        let t = i as f32 / 8000.0;
        w.write_sample((8000.0 * (t * 440.0 * std::f32::consts::TAU).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    root
}

/// The `i`-th test number (valid mainland mobiles).
pub(crate) fn number(i: usize) -> String {
    format!("+86138{i:08}")
}

/// A list file of `(phone, tz)` rows.
pub(crate) fn list(dir: &Path, rows: &[(String, &str)]) -> PathBuf {
    let path = dir.join("list.csv");
    let mut text = String::from("phone,tz\n");
    for (phone, tz) in rows {
        text.push_str(&format!("{phone},{tz}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// An agentless notification campaign over `list.csv` playing `beep`, with `extra` TOML.
pub(crate) fn campaign_file(dir: &Path, code: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{code}.toml"));
    let text = format!(
        "code = \"{code}\"\nname = \"test {code}\"\nkind = \"notification\"\nmode = \"agentless\"\n\
         prompts = [\"beep\"]\nring_timeout_secs = 15\ncaller_id = \"400-810-8888\"\n\
         [source]\ncsv = \"list.csv\"\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Stores, loads and starts the campaign of `file`, as `huifang campaign create --start`.
pub(crate) async fn create(store: &Store, file: &Path, now: DateTime<Utc>) -> StoredCampaign {
    let campaign = Campaign::load(file).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(file).unwrap();
    let repo = Campaigns::new(store);
    let stored = repo
        .create(&campaign, &text, Some(file.to_str().unwrap()), "test", now)
        .await
        .unwrap();
    let report = lists::load(
        store,
        stored.campaign_id,
        &campaign,
        &stored.base_dir(),
        now,
    )
    .await
    .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    repo.apply(&stored.code, Action::Start, "test", "", now)
        .await
        .unwrap()
}

/// The built-in phone simulator in this process, with `mix`; returns its address.
pub(crate) async fn simulator(mix: &str, seed: u64) -> (UserAgent, SocketAddr) {
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
pub(crate) fn trunk(domain: &str, channels: usize) -> TrunkConfig {
    let text = format!("domain = \"{domain}\"\nchannels = {channels}\ncalls_per_second = 200\n");
    toml::from_str(&text).unwrap()
}

/// A node named `node` dialling through trunk `main` to `domain`.
pub(crate) fn node_config(node: &str, domain: &str, prompts: &Path, channels: usize) -> NodeConfig {
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

/// Every attempt of a campaign, by contact id, oldest first.
pub(crate) async fn attempts(store: &Store, campaign_id: i64) -> BTreeMap<i64, Vec<AttemptRow>> {
    let rows: Vec<AttemptRow> = huifang::on_pool!(store, |pool| {
        sqlx::query_as(
            "select attempt_id, campaign_contact_id, campaign_id, channel, node, queued_at,
                    dialed_at, answered_at, bridged_at, ended_at, outcome, sip_status, agent,
                    recording_path, detail
               from attempts where campaign_id = $1 order by attempt_id",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await
    })
    .unwrap();
    let mut by_contact: BTreeMap<i64, Vec<AttemptRow>> = BTreeMap::new();
    for row in rows {
        by_contact
            .entry(row.campaign_contact_id)
            .or_default()
            .push(row);
    }
    by_contact
}

/// Each contact's phone, time zone and final outcome, by contact id.
pub(crate) async fn contacts(
    store: &Store,
    campaign_id: i64,
) -> BTreeMap<i64, (String, String, String, Option<String>)> {
    let rows: Vec<(i64, String, String, String, Option<String>)> =
        huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select campaign_contact_id, phone, tz, state, final_outcome
                   from campaign_contacts where campaign_id = $1",
            )
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
    rows.into_iter()
        .map(|(id, phone, tz, state, outcome)| (id, (phone, tz, state, outcome)))
        .collect()
}

/// A free loopback port for UDP and TCP.
pub(crate) fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A child process killed when dropped.
pub(crate) struct Proc(pub(crate) Child, pub(crate) &'static str);

impl Proc {
    /// Waits for the process to exit by itself within `timeout`; panics otherwise.
    pub(crate) fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
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

/// `sipp -sn uas` (answers every call, waits for our BYE) on `port`.
pub(crate) fn sipp_uas(port: u16, dir: &Path) -> Proc {
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

/// The huifang binary with `args`, its output in `DIR/NAME.log`.
pub(crate) fn huifang(dir: &Path, name: &'static str, args: &[&str]) -> Proc {
    let out = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_huifang"))
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

/// The log a [`huifang`] process wrote.
pub(crate) fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}
