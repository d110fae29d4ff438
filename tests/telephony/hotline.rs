//! The 400 hotline end to end on loopback: an owner (sipp, and baresip) calls the number through kamailio
//! as the carrier's authenticating proxy, presses 1 for the repair queue and is put through
//! to an agent's nailed-up leg (sipp echoing RTP as the agent's phone); the conversation is
//! recorded with the owner on the left and the agent on the right, and sox hears both. A
//! number the hotline does not answer gets 404. On a manual clock: a caller who waits their
//! queue's longest is offered a callback and takes it; a caller who hangs up in the queue is
//! an inbound abandon, listed for a callback. SQLite always, PostgreSQL too when
//! `TEST_DATABASE_URL` is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use huifang::clock::{ManualClock, SharedClock, SystemClock};
use huifang::dialer::DialerNode;
use huifang::dialer::agents::{AgentConfig, AgentDesk};
use huifang::inbound::{Hotline, HotlineConfig, InboundCall, InboundCalls, menu};
use huifang::store::Store;
use huifang::telephony::Digit;
use huifang::telephony::transport::{CallUpdate, DialRequest, UserAgent, UserAgentConfig};
use testkit::db::databases;
use tokio::sync::watch;

use crate::kamailio_peer::{Kamailio, PASSWORD, USER};
use crate::peers::{Baresip, SippUas, can_send_raw_packets};

/// The number the tests' hotline answers.
const NUMBER: &str = "4008108888";

/// A menu with the shipped one's shape: 1 is repair (a callback offered after 180 s), 2 is
/// complaint; always open.
const MENU: &str = r#"welcome = ["hotline-welcome"]
menu = ["hotline-menu"]
timeout_secs = 5
invalid = ["invalid-key"]
missing = ["no-key"]
callback_booked = ["agent-will-call"]
[keys]
"1" = { queue = "repair" }
"2" = { queue = "complaint" }
[queues.repair]
hold = ["hotline-hold"]
position = ["queue-position", "{position}"]
position_every_secs = 30
max_wait_secs = 180
after_max_wait = "callback"
callback_key = "1"
callback_offer = ["queue-callback-offer"]
[queues.complaint]
hold = ["hotline-hold"]
"#;

/// A dialer node with its hotline, in this process, over real UDP.
pub(crate) struct HotlineNode {
    pub(crate) store: Store,
    ua: UserAgent,
    desk: AgentDesk,
    _hotline: Hotline,
    pub(crate) stop: watch::Sender<bool>,
    recordings: PathBuf,
    _dir: tempfile::TempDir,
}

impl HotlineNode {
    pub(crate) async fn start(
        store: Store,
        agents: Vec<(String, String)>,
        clock: SharedClock,
    ) -> HotlineNode {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("400.toml");
        std::fs::write(&file, MENU).unwrap();
        let unchecked = menu::parse(MENU, &file, None).unwrap();
        let mut prompts = PathBuf::new();
        for name in unchecked.prompt_names() {
            prompts = testkit::campaign::prompts(dir.path(), &name, 0.3);
        }
        let menu = menu::load(&file, Some(&prompts)).unwrap();
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let mut config = testkit::dialer::node_config("hotline-a", "127.0.0.1:9", &prompts, 4);
        config.agents = Some(AgentConfig {
            agents,
            wrap: Duration::from_millis(500),
            talk_limit: Duration::from_secs(60),
            caller_id: "4008000400".into(),
        });
        let node = DialerNode::new(store.clone(), ua.clone(), clock.clone(), config).unwrap();
        let (stop, stopped) = watch::channel(false);
        let desk = node.start_desk(&stopped).unwrap();
        let recordings = dir.path().join("recordings");
        let hotline = Hotline::start(
            store.clone(),
            ua.clone(),
            desk.clone(),
            clock,
            HotlineConfig {
                node: "hotline-a".into(),
                numbers: BTreeMap::from([(NUMBER.to_string(), Arc::new(menu))]),
                prompts_dir: prompts,
                recordings_dir: recordings.clone(),
            },
            Duration::from_millis(500),
            stopped,
        )
        .await
        .unwrap();
        HotlineNode {
            store,
            ua,
            desk,
            _hotline: hotline,
            stop,
            recordings,
            _dir: dir,
        }
    }

    fn addr(&self) -> String {
        self.ua.local_addr().to_string()
    }

    /// The hotline's rows, oldest first.
    async fn calls(&self) -> Vec<InboundCall> {
        let now = Utc::now();
        InboundCalls::new(&self.store)
            .between(
                now - chrono::TimeDelta::days(3650),
                now + chrono::TimeDelta::days(3650),
            )
            .await
            .unwrap()
    }

    /// Waits until the `n`-th row (1-based) satisfies `done`.
    pub(crate) async fn wait_row(
        &self,
        n: usize,
        done: impl Fn(&InboundCall) -> bool,
    ) -> InboundCall {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let rows = self.calls().await;
            if let Some(row) = rows.get(n - 1).filter(|r| done(r)) {
                return row.clone();
            }
            assert!(
                Instant::now() < deadline,
                "row {n} never got there: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn callbacks(&self) -> Vec<(String, String, Option<i64>)> {
        let sql =
            "select reason, phone, inbound_call_id from agent_callbacks order by agent_callback_id";
        match &self.store {
            Store::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
            Store::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        }
    }
}

impl Drop for HotlineNode {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// An owner's RTP stream as a pcap sipp can play: one SSRC throughout, 20 ms apart — a
/// second of low noise, the key `1` (RFC 2833, payload type 101: an event, then three ends),
/// then five seconds of a 300 Hz tone, all A-law (payload type 8).
fn owner_capture() -> Vec<u8> {
    use huifang::telephony::Codec;
    use huifang::telephony::rtp::g711;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let (mut seq, mut ts, ssrc) = (1000u16, 8000u32, 0x0511_2233u32);
    let rtp = |pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]| {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    };
    let audio = |start: u32, amplitude: f64| -> Vec<u8> {
        let samples: Vec<i16> = (0..160)
            .map(|i| {
                let t = f64::from(start + i) / 8000.0;
                (amplitude * (t * 300.0 * std::f64::consts::TAU).sin()) as i16
            })
            .collect();
        let mut out = Vec::new();
        g711::encode(Codec::Pcma, &samples, &mut out);
        out
    };
    for _ in 0..50 {
        packets.push(rtp(8, false, seq, ts, &audio(ts, 200.0)));
        (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(160));
    }
    for i in 0..8u16 {
        let end = i >= 5;
        let duration = (i.min(5) + 1) * 160;
        let mut event = vec![1u8, if end { 0x80 | 10 } else { 10 }];
        event.extend_from_slice(&duration.to_be_bytes());
        packets.push(rtp(101, i == 0, seq, ts, &event));
        seq = seq.wrapping_add(1);
    }
    ts = ts.wrapping_add(6 * 160);
    for _ in 0..250 {
        packets.push(rtp(8, false, seq, ts, &audio(ts, 8000.0)));
        (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(160));
    }
    // pcap: Ethernet, IPv4, UDP 2006 -> 2006; sipp replaces addresses and ports.
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, payload) in packets.iter().enumerate() {
        let micros = i as u64 * 20_000;
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&2006u16.to_be_bytes());
        frame.extend_from_slice(&2006u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(payload);
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// sox's RMS level (dB) of one channel of a WAV, once the file is finished (its header
/// written when the call's leg closes, just after the row's end).
fn channel_level(path: &Path, channel: u32) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while hound::WavReader::open(path).map_or(true, |w| w.duration() == 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = std::process::Command::new("sox")
        .arg(path)
        .args(["-n", "remix", &channel.to_string(), "stats"])
        .output()
        .expect("sox (tests/run.sh installs it)");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| l.strip_prefix("RMS lev dB"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no RMS level from sox for {}: {text}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_through_kamailio_chooses_repair_and_talks_to_an_agent_on_the_record() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    assert!(
        can_send_raw_packets(),
        "sipp's play_pcap_audio needs root or CAP_NET_RAW"
    );
    for db in databases().await {
        // The agent's phone: answers the nailed-up call and echoes every RTP packet, so what
        // the owner says comes back over the bridge only if the agent heard it.
        let Some(agent_phone) = SippUas::start("uas_answer.xml", &["-rtp_echo"]) else {
            return;
        };
        let agents = vec![("li".to_string(), agent_phone.uri())];
        let node = HotlineNode::start(db.store.clone(), agents, Arc::new(SystemClock)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.desk.free_agents().is_empty() {
            assert!(
                Instant::now() < deadline,
                "{}: the agent's leg never came up",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let proxy = format!("127.0.0.1:{}", kamailio.port);
        let node_addr = node.addr();
        let capture = owner_capture();
        let owner = SippUas::start_with(
            "hotline_caller.xml",
            &[
                &proxy,
                "-s",
                NUMBER,
                "-key",
                "node",
                &node_addr,
                "-key",
                "caller",
                "8613800000001",
                "-au",
                USER,
                "-ap",
                PASSWORD,
            ],
            &[("owner.pcap", &capture)],
        )
        .unwrap();
        let outcome = tokio::task::spawn_blocking(move || owner.wait(Duration::from_secs(40)))
            .await
            .unwrap();
        assert!(outcome.success(), "{}: {}", db.name, outcome.report());

        let row = node.wait_row(1, |r| r.ended_at.is_some()).await;
        assert_eq!(
            row.outcome.as_deref(),
            Some("answered"),
            "{}: {row:#?}",
            db.name
        );
        assert_eq!(row.number, NUMBER);
        assert_eq!(row.caller, "8613800000001");
        assert_eq!(row.choices, "1");
        assert_eq!(row.queue.as_deref(), Some("repair"));
        assert_eq!(row.agent.as_deref(), Some("li"));
        assert!(row.answered_at.is_some() && row.queued_at.is_some() && row.connected_at.is_some());
        let recording = PathBuf::from(row.recording_path.clone().expect("a recording"));
        assert!(
            recording.starts_with(&node.recordings),
            "{}",
            recording.display()
        );
        let (owner_side, agent_side) = (channel_level(&recording, 1), channel_level(&recording, 2));
        assert!(
            owner_side > -45.0,
            "{}: the owner's channel is silent ({owner_side} dB)",
            db.name
        );
        assert!(
            agent_side > -45.0,
            "{}: nothing came back from the agent's side ({agent_side} dB)",
            db.name
        );

        // A number the hotline does not answer: 404, and no row.
        let phone = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let mut stranger = phone
            .dial(DialRequest::new(format!("sip:4009999999@{node_addr}")))
            .await
            .unwrap();
        assert!(!stranger.wait_answer().await);
        match stranger.ended() {
            Some(CallUpdate::Ended { status, .. }) => assert_eq!(*status, Some(404), "{}", db.name),
            other => panic!("{}: {other:?}", db.name),
        }
        assert_eq!(node.calls().await.len(), 1, "{}", db.name);
    }
}

/// Dials the hotline from a phone of our own; presses `keys` once answered.
pub(crate) async fn call_in(node: &HotlineNode, keys: &str) -> huifang::telephony::transport::Call {
    let phone = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let mut request = DialRequest::new(format!("sip:{NUMBER}@{}", node.addr()));
    request.caller_id = "8613900000002".into();
    let mut call = phone.dial(request).await.unwrap();
    assert!(call.wait_answer().await, "the hotline did not answer");
    // As an owner would: the key a moment after the welcome begins.
    tokio::time::sleep(Duration::from_millis(700)).await;
    call.send_digits(&Digit::parse_all(keys).unwrap());
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_manual_clock_the_longest_wait_offers_a_callback_and_a_hang_up_is_an_abandon() {
    if std::env::var("DEBUG_HOTLINE").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .try_init();
    }
    for db in databases().await {
        let clock = ManualClock::new(Utc::now());
        // Nobody to answer: the callers wait.
        let node = HotlineNode::start(db.store.clone(), Vec::new(), Arc::new(clock.clone())).await;

        let mut caller = call_in(&node, "1").await;
        let row = node.wait_row(1, |r| r.queued_at.is_some()).await;
        assert_eq!(row.queue.as_deref(), Some("repair"), "{}", db.name);
        // Past the 180 s limit the callback is offered; 1 takes it.
        clock.advance(chrono::TimeDelta::seconds(181));
        tokio::time::sleep(Duration::from_millis(600)).await;
        caller.send_digits(&Digit::parse_all("1").unwrap());
        let row = node.wait_row(1, |r| r.ended_at.is_some()).await;
        assert_eq!(
            row.outcome.as_deref(),
            Some("callback"),
            "{}: {row:#?}",
            db.name
        );
        assert_eq!(row.choices, "1,1", "{}", db.name);
        // A phone whose call ended sends nothing more (its RTP port may serve the next call).
        caller.hangup().await;
        caller.close().await;

        // Another caller chooses complaint and hangs up while waiting.
        let mut second = call_in(&node, "2").await;
        node.wait_row(2, |r| r.queued_at.is_some()).await;
        clock.advance(chrono::TimeDelta::seconds(40));
        second.hangup().await;
        let row = node.wait_row(2, |r| r.ended_at.is_some()).await;
        assert_eq!(
            row.outcome.as_deref(),
            Some("abandoned"),
            "{}: {row:#?}",
            db.name
        );
        assert!(row.detail.contains("complaint"), "{}", row.detail);
        let callbacks = node.callbacks().await;
        let ids: Vec<i64> = node
            .calls()
            .await
            .iter()
            .map(|c| c.inbound_call_id)
            .collect();
        assert_eq!(
            callbacks,
            vec![
                (
                    "inbound_callback".to_string(),
                    "8613900000002".to_string(),
                    Some(ids[0])
                ),
                (
                    "inbound_abandoned".to_string(),
                    "8613900000002".to_string(),
                    Some(ids[1])
                ),
            ],
            "{}",
            db.name
        );
    }
}

/// The same call from baresip, a real softphone: it answers the proxy's 407, presses 1 (RFC
/// 4733) after the welcome begins and talks (a tone) until it hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_on_baresip_through_kamailio_reaches_an_agent_on_the_record() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    for db in databases().await {
        let Some(agent_phone) = SippUas::start("uas_answer.xml", &["-rtp_echo"]) else {
            return;
        };
        let agents = vec![("li".to_string(), agent_phone.uri())];
        let node = HotlineNode::start(db.store.clone(), agents, Arc::new(SystemClock)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.desk.free_agents().is_empty() {
            assert!(Instant::now() < deadline, "{}: no agent leg", db.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let tone = dir.path().join("tone.wav");
        crate::peers::tone_wav(&tone, 60);
        let credentials = (USER, PASSWORD);
        let caller = "8613800000003";
        let Some(mut owner) =
            Baresip::start_caller(dir.path(), &tone, kamailio.port, caller, credentials)
        else {
            return;
        };
        let uri = format!("sip:{NUMBER}@{}", node.addr());
        let talked = tokio::task::spawn_blocking(move || {
            let wait = Duration::from_secs(15);
            let steps = (|| {
                owner.dial(&uri, wait)?;
                owner.wait_event("CALL_ESTABLISHED", wait)?;
                std::thread::sleep(Duration::from_millis(700));
                owner.send_code("1", wait)?;
                // The queue puts the caller through at once; then a few seconds of talk.
                std::thread::sleep(Duration::from_secs(5));
                // (Its CALL_CLOSED event may come before the command's answer, which skips it.)
                owner.hangup(wait)
            })();
            steps.map_err(|e| format!("{e}\n{}", owner.log()))
        })
        .await
        .unwrap();
        talked.unwrap_or_else(|e| panic!("{}: baresip: {e}", db.name));

        let row = node.wait_row(1, |r| r.ended_at.is_some()).await;
        assert_eq!(
            row.outcome.as_deref(),
            Some("answered"),
            "{}: {row:#?}",
            db.name
        );
        assert_eq!(
            (
                row.caller.as_str(),
                row.choices.as_str(),
                row.agent.as_deref()
            ),
            (caller, "1", Some("li")),
            "{}",
            db.name
        );
        let recording = PathBuf::from(row.recording_path.clone().expect("a recording"));
        let (owner_side, agent_side) = (channel_level(&recording, 1), channel_level(&recording, 2));
        assert!(
            owner_side > -45.0,
            "{}: owner silent ({owner_side} dB)",
            db.name
        );
        assert!(
            agent_side > -45.0,
            "{}: agent silent ({agent_side} dB)",
            db.name
        );
    }
}
