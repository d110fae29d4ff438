//! `huifang call` against baresip, a real softphone answering automatically.

use std::process::Command;
use std::time::Duration;

use crate::peers::{Baresip, CALL_TIMEOUT, HuifangRun, huifang_call, require, tone_wav};

#[test]
fn baresip_answers_and_the_call_is_recorded_to_a_wav_sox_reads() {
    if !require(&["sox"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    tone_wav(&tone, 60);
    let Some(phone) = Baresip::start(dir.path(), &tone) else {
        return;
    };
    let record = dir.path().join("out.wav");
    let record_arg = record.to_str().unwrap();
    // Collecting with nobody pressing keeps the call up for the time-out: 3 s of audio.
    let out = huifang_call(
        &phone.uri(),
        &["--record", record_arg, "--collect", "1", "--timeout", "3"],
    );
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), phone.log());
    assert_eq!(out.named("answered").len(), 1, "{}", out.report());
    assert_eq!(out.ended()["disposition"], "answered", "{}", out.report());
    let recorded = out.named("recorded");
    assert_eq!(recorded.len(), 1, "{}", out.report());
    assert_eq!(recorded[0]["path"], record_arg, "{}", out.report());

    let info = Command::new("sox")
        .arg("--i")
        .arg(&record)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "sox cannot read the recording: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let samples = Command::new("sox")
        .args(["--i", "-s"])
        .arg(&record)
        .output()
        .unwrap();
    let samples: u64 = String::from_utf8_lossy(&samples.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(samples > 0, "empty recording\n{text}");
    // Three seconds of call at 8 kHz, give or take set-up: well over one second.
    assert!(samples >= 8_000, "only {samples} samples recorded\n{text}");
}

#[test]
fn digits_pressed_on_baresip_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    tone_wav(&tone, 60);
    let Some(mut phone) = Baresip::start(dir.path(), &tone) else {
        return;
    };
    // No `#`: it would end the collection as a terminator.
    let run = HuifangRun::spawn(&phone.uri(), &["--collect", "3", "--timeout", "15"]);
    let pressed = phone.press("159", Duration::from_secs(15));
    let out = run.finish(CALL_TIMEOUT);
    pressed.unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.report(), phone.log()));
    assert_eq!(out.code, Some(0), "{}", out.report());
    let digits: String = out
        .named("digit")
        .iter()
        .filter_map(|d| d["digit"].as_str())
        .collect();
    assert_eq!(digits, "159", "each press once, in order\n{}", out.report());
    assert!(
        out.named("digit").iter().all(|d| d["source"] == "rfc4733"),
        "{}",
        out.report()
    );
    let collected = out.named("digits");
    assert_eq!(collected.len(), 1, "{}", out.report());
    assert_eq!(collected[0]["digits"], "159", "{}", out.report());
    assert!(
        phone
            .wait_event("CALL_CLOSED", Duration::from_secs(10))
            .is_ok(),
        "{}",
        phone.log()
    );
}
