//! Engine tests on 127.0.0.1, every wait bounded.

use std::net::Ipv4Addr;
use std::path::Path;

use tokio::time::timeout;

use super::*;
use crate::media::prompt::PromptLibrary;
use crate::media::prompt::tests::write_tone_wav;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);

fn digits(s: &str) -> Vec<Digit> {
    Digit::parse_all(s).unwrap()
}

/// Points two legs at each other.
fn pair(a: &MediaLeg, b: &MediaLeg, codec: Codec, dtmf_pt: Option<u8>) {
    let params = |remote| MediaParams {
        remote,
        codec,
        dtmf_pt,
        ptime_ms: 20,
    };
    a.connect(params(b.local_addr()));
    b.connect(params(a.local_addr()));
}

/// A 1 kHz tone prompt made from a 16 kHz stereo WAV written on the fly.
fn tone_prompt(dir: &Path, seconds: f64) -> Arc<Prompt> {
    let path = dir.join(format!("tone-{seconds}.wav"));
    write_tone_wav(
        &path,
        16000,
        2,
        hound::SampleFormat::Int,
        16,
        1000.0,
        seconds,
    );
    PromptLibrary::new().get(&path).unwrap()
}

/// Events until `done` says so (inclusive) or `WAIT` passes.
async fn until(leg: &mut MediaLeg, mut done: impl FnMut(&[MediaEvent]) -> bool) -> Vec<MediaEvent> {
    let mut seen = Vec::new();
    let _ = timeout(WAIT, async {
        while let Some(ev) = leg.next_event().await {
            if matches!(ev, MediaEvent::RtpTimeout) {
                continue;
            }
            seen.push(ev);
            if done(&seen) {
                break;
            }
        }
    })
    .await;
    seen
}

/// Events arriving within `d` (to prove nothing more comes).
async fn within(leg: &mut MediaLeg, d: Duration) -> Vec<MediaEvent> {
    let mut seen = Vec::new();
    let _ = timeout(d, async {
        while let Some(ev) = leg.next_event().await {
            seen.push(ev);
        }
    })
    .await;
    seen
}

fn digit_string(events: &[MediaEvent], want: DigitSource) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { digit, source } => {
                assert_eq!(*source, want, "{events:?}");
                Some(digit.as_char())
            }
            _ => None,
        })
        .collect()
}

fn count_digits(events: &[MediaEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Digit { .. }))
        .count()
}

/// Left and right channels of a recording.
fn read_stereo(path: &Path) -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}

/// 20 ms windows whose RMS is within 25 % of a 0.5-full-scale sine (11,585).
fn tone_frames(samples: &[i16]) -> usize {
    samples
        .chunks(160)
        .filter(|c| {
            let rms =
                (c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / c.len() as f64).sqrt();
            (rms - 11585.0).abs() < 0.25 * 11585.0
        })
        .count()
}

#[tokio::test]
async fn played_prompt_reaches_the_other_leg_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = MediaEngine::new(LOCAL);
    let mut a = engine.open().await.unwrap();
    let b = engine.open().await.unwrap();
    assert_eq!(engine.leg_count(), 2);
    pair(&a, &b, Codec::Pcmu, Some(101));
    let rec = dir.path().join("b.wav");
    b.start_recording(rec.clone()).unwrap();

    a.play(vec![tone_prompt(dir.path(), 0.3)], false);
    assert!(a.is_playing());
    let events = until(&mut a, |e| e.contains(&MediaEvent::PlayFinished)).await;
    assert_eq!(events, vec![MediaEvent::PlayFinished]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(b.stats().packets_received >= 15, "{:?}", b.stats());
    assert!(a.stats().packets_sent >= 15);
    b.close().await;
    assert_eq!(engine.leg_count(), 1);

    let (left, right) = read_stereo(&rec);
    // 15 frames of tone heard (allow the edges of the resampled tone to fall short).
    let heard = tone_frames(&left);
    assert!((13..=16).contains(&heard), "{heard} tone frames");
    // B itself sent comfort silence.
    assert!(right.iter().all(|&x| x.abs() <= 8));
    let jitter = engine.send_jitter();
    assert!(
        jitter.count > 0 && jitter.p50_us <= jitter.p99_us && jitter.p99_us <= jitter.max_us + 10
    );
    a.close().await;
}

#[tokio::test]
async fn rfc4733_digits_are_reported_once_each() {
    let engine = MediaEngine::new(LOCAL);
    let a = engine.open().await.unwrap();
    let mut b = engine.open().await.unwrap();
    pair(&a, &b, Codec::Pcma, Some(101));
    a.send_digits(&digits("1#91"), 80);
    let events = until(&mut b, |e| count_digits(e) == 4).await;
    assert_eq!(digit_string(&events, DigitSource::Rfc4733), "1#91");
    assert_eq!(
        count_digits(&within(&mut b, Duration::from_millis(300)).await),
        0
    );
    assert_eq!(b.stats().digits, 4);
}

#[tokio::test]
async fn without_telephone_event_digits_go_in_band() {
    let engine = MediaEngine::new(LOCAL);
    let a = engine.open().await.unwrap();
    let mut b = engine.open().await.unwrap();
    pair(&a, &b, Codec::Pcmu, None);
    a.send_digits(&digits("580"), 100);
    let events = until(&mut b, |e| count_digits(e) == 3).await;
    assert_eq!(digit_string(&events, DigitSource::InBand), "580");
    assert_eq!(
        count_digits(&within(&mut b, Duration::from_millis(300)).await),
        0
    );
}

#[tokio::test]
async fn a_digit_barges_in_and_its_sip_info_copy_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    let engine = MediaEngine::new(LOCAL);
    let a = engine.open().await.unwrap();
    let mut b = engine.open().await.unwrap();
    pair(&a, &b, Codec::Pcmu, Some(101));
    b.play(vec![tone_prompt(dir.path(), 3.0)], true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send_digits(&digits("4"), 100);
    let four = Digit::parse('4').unwrap();
    let events = until(&mut b, |e| e.len() == 2).await;
    assert_eq!(
        events,
        vec![
            MediaEvent::Digit {
                digit: four,
                source: DigitSource::Rfc4733
            },
            MediaEvent::PlayInterrupted(four)
        ]
    );
    assert!(!b.is_playing());
    b.inject_digit(four, DigitSource::SipInfo);
    assert_eq!(b.try_next_event(), None);
    let seven = Digit::parse('7').unwrap();
    b.inject_digit(seven, DigitSource::SipInfo);
    assert_eq!(
        b.try_next_event(),
        Some(MediaEvent::Digit {
            digit: seven,
            source: DigitSource::SipInfo
        })
    );
}

#[tokio::test]
async fn bridge_relays_audio_with_transcoding_and_digits_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let engine = MediaEngine::new(LOCAL);
    // X (a phone on a PCMU trunk) <-> A ==bridge== B <-> Y (an agent's PCMA phone).
    let mut x = engine.open().await.unwrap();
    let mut a = engine.open().await.unwrap();
    let mut b = engine.open().await.unwrap();
    let mut y = engine.open().await.unwrap();
    pair(&x, &a, Codec::Pcmu, Some(101));
    pair(&b, &y, Codec::Pcma, Some(96));
    a.bridge(&b);
    let rec = dir.path().join("y.wav");
    y.start_recording(rec.clone()).unwrap();

    x.play(vec![tone_prompt(dir.path(), 0.4)], false);
    assert_eq!(
        until(&mut x, |e| !e.is_empty()).await,
        vec![MediaEvent::PlayFinished]
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    y.stop_recording().unwrap();
    let (left, _) = read_stereo(&rec);
    let heard = tone_frames(&left);
    assert!((17..=21).contains(&heard), "{heard} tone frames relayed");

    x.send_digits(&digits("7"), 100);
    assert_eq!(
        digit_string(
            &until(&mut a, |e| count_digits(e) == 1).await,
            DigitSource::Rfc4733
        ),
        "7"
    );
    assert_eq!(
        digit_string(
            &until(&mut y, |e| count_digits(e) == 1).await,
            DigitSource::Rfc4733
        ),
        "7"
    );
    y.send_digits(&digits("2"), 100);
    assert_eq!(
        digit_string(
            &until(&mut b, |e| count_digits(e) == 1).await,
            DigitSource::Rfc4733
        ),
        "2"
    );
    assert_eq!(
        digit_string(
            &until(&mut x, |e| count_digits(e) == 1).await,
            DigitSource::Rfc4733
        ),
        "2"
    );

    a.unbridge();
    let before = y.stats().packets_received;
    x.play(vec![tone_prompt(dir.path(), 0.2)], false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Y still gets B's comfort silence, but no more of X's audio reaches B's relay.
    assert!(y.stats().packets_received > before);
    assert!(lock(&b.leg.state).relay.is_empty());
    for leg in [x, a, b, y] {
        leg.close().await;
    }
    assert_eq!(engine.leg_count(), 0);
}

#[tokio::test]
async fn garbage_is_counted_not_fatal_and_silence_times_out() {
    let engine = MediaEngine::with_config(
        LOCAL,
        MediaConfig {
            rtp_timeout: Some(Duration::from_millis(200)),
            ..MediaConfig::default()
        },
    );
    let mut a = engine.open().await.unwrap();
    let silent = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    a.connect(MediaParams {
        remote: silent.local_addr().unwrap(),
        codec: Codec::Pcmu,
        dtmf_pt: None,
        ptime_ms: 20,
    });
    for junk in [
        &b"\x00"[..],
        b"\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"\x8f\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        silent.send_to(junk, a.local_addr()).unwrap();
    }
    let events = within(&mut a, Duration::from_millis(600)).await;
    assert_eq!(events, vec![MediaEvent::RtpTimeout]);
    assert_eq!(a.stats().malformed, 3);
}

/// Send timing with many legs talking in pairs; a benchmark, run by hand:
/// `LEGS=2000 cargo test --release --lib many_legs -- --ignored --nocapture`
/// (needs `ulimit -n` above the number of legs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn many_legs_send_jitter() {
    let n: usize = std::env::var("LEGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let engine = MediaEngine::new(LOCAL);
    let mut legs = Vec::with_capacity(n);
    for _ in 0..n {
        legs.push(engine.open().await.unwrap());
    }
    for p in legs.chunks(2) {
        if let [a, b] = p {
            pair(a, b, Codec::Pcmu, Some(101));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    engine.reset_send_jitter();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let j = engine.send_jitter();
    let received: u64 = legs.iter().map(|l| l.stats().packets_received).sum();
    println!("{n} legs: {j:?}, {received} packets received");
    assert!(j.count as usize >= n * 200);
}

/// A valid PCMU packet (12-byte header, 160 bytes of silence).
fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xff, 160));
    p
}

/// An RFC 4733 press of `digit` (its first packet) on payload type `pt` from SSRC `ssrc`.
fn event_packet(seq: u16, pt: u8, ssrc: u32, digit: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x80 | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 1000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[digit, 0x0a, 0x00, 0xa0]);
    p
}

/// Waits until the leg has read `n` datagrams (counted one way or another).
async fn read_at_least(leg: &MediaLeg, n: u64) -> MediaStats {
    timeout(WAIT, async {
        loop {
            let s = leg.stats();
            if s.foreign + s.unlatched + s.packets_received >= n {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the leg read its datagrams")
}

/// Another IP is dropped; then the leg latches on to the first valid stream from the peer's
/// IP and drops the same IP's other ports and SSRCs, and events on an unnegotiated payload
/// type, until a new connect (an accepted re-INVITE) latches afresh. Before issue 30 the
/// other port, the other SSRC and PT 96 were all heard, and each "5" was a rating.
#[tokio::test]
async fn a_connected_leg_hears_only_the_stream_it_latched_on_to() {
    let engine = MediaEngine::new(LOCAL);
    let mut a = engine.open().await.unwrap();
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    // Another host: the whole of 127/8 is loopback on Linux.
    let intruder = std::net::UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0)).unwrap();
    // The same host as the peer, another port.
    let peer_other_port = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let params = MediaParams {
        remote: peer.local_addr().unwrap(),
        codec: Codec::Pcmu,
        dtmf_pt: Some(101),
        ptime_ms: 20,
    };
    a.connect(params);
    let to = a.local_addr();
    for seq in 0..5 {
        intruder
            .send_to(&event_packet(seq, 101, 0x1234_5678, 5), to)
            .unwrap();
    }
    for seq in 0..3 {
        peer.send_to(&rtp_packet(seq), to).unwrap();
    }
    let stats = read_at_least(&a, 8).await;
    assert_eq!((stats.foreign, stats.packets_received), (5, 3), "{stats:?}");
    // The forgeries: another port, another SSRC, the unnegotiated PT 96.
    peer_other_port
        .send_to(&event_packet(10, 101, 0x1234_5678, 5), to)
        .unwrap();
    peer.send_to(&event_packet(11, 101, 0xbad, 5), to).unwrap();
    peer.send_to(&event_packet(12, 96, 0x1234_5678, 5), to)
        .unwrap();
    let stats = read_at_least(&a, 11).await;
    assert_eq!(stats.unlatched, 2, "{stats:?}");
    assert_eq!(stats.digits, 0, "no forged digit: {stats:?}");
    // The latched stream's own press on 101 is the one digit heard.
    peer.send_to(&event_packet(13, 101, 0x1234_5678, 7), to)
        .unwrap();
    let first = timeout(WAIT, a.next_event()).await.expect("a digit");
    assert_eq!(
        first,
        Some(MediaEvent::Digit {
            digit: Digit::parse('7').unwrap(),
            source: DigitSource::Rfc4733
        })
    );
    // A re-INVITE we accepted connects again: the next valid stream is latched.
    a.connect(params);
    peer_other_port.send_to(&rtp_packet(20), to).unwrap();
    let stats = read_at_least(&a, 13).await;
    assert_eq!(stats.unlatched, 2, "the new stream is taken: {stats:?}");
    peer.send_to(&rtp_packet(21), to).unwrap();
    let stats = read_at_least(&a, 14).await;
    assert_eq!(stats.unlatched, 3, "and now the old one is not: {stats:?}");
    a.close().await;
}

#[tokio::test]
async fn an_ended_legs_port_carries_a_later_call() {
    let engine = MediaEngine::new(LOCAL);
    let a = engine.open().await.unwrap();
    let port = a.local_addr();
    assert_eq!(engine.idle_ports(), 0);
    a.close().await;
    // The sender thread may hold the leg for the rest of its tick.
    timeout(WAIT, async {
        while engine.idle_ports() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the closed leg's port went back to the pool");
    let b = engine.open().await.unwrap();
    assert_eq!(b.local_addr(), port);
    assert_eq!(engine.idle_ports(), 0);
    b.close().await;
}

#[test]
fn the_peer_is_recognised_by_its_address() {
    let at = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert!(leg::from_peer(at("10.0.0.5:4000"), at("10.0.0.5:4000")));
    assert!(leg::from_peer(at("10.0.0.5:4000"), at("10.0.0.5:4002")));
    assert!(!leg::from_peer(at("10.0.0.5:4000"), at("10.0.0.6:4000")));
    assert!(leg::from_peer(
        at("10.0.0.5:4000"),
        at("[::ffff:10.0.0.5]:4000")
    ));
    assert!(leg::from_peer(at("0.0.0.0:4000"), at("192.0.2.1:9")));
    assert!(!leg::from_peer(
        at("[2001:db8::1]:4000"),
        at("[2001:db8::2]:4000")
    ));
}
