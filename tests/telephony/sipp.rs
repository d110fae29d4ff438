//! `huifang call` against sipp answering with our scenarios (`tests/sipp/*.xml`).
//!
//! The CLI contract: one JSON object per stdout line with an `event` field (`trying`,
//! `ringing`, `early_media`, `answered`, `digit`, `digits`, `recorded`, `ended`); exit code 0
//! when the call was answered, 1 otherwise, 2 on usage errors.

use std::time::Duration;

use serde_json::Value;

use crate::peers::{SippUas, can_send_raw_packets, huifang_call};

const SIPP_WAIT: Duration = Duration::from_secs(20);

#[test]
fn rfc2833_digit_from_sipp_is_reported_once() {
    let Some(uas) = SippUas::start("uas_dtmf.xml", &[]) else {
        return;
    };
    assert!(
        can_send_raw_packets(),
        "sipp's play_pcap_audio needs root or CAP_NET_RAW"
    );
    let out = huifang_call(&uas.uri(), &["--collect", "1", "--timeout", "10"]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), sipp.report());
    assert_eq!(out.named("answered").len(), 1, "{}", out.report());
    let digits = out.named("digit");
    assert_eq!(digits.len(), 1, "one press, one digit\n{}", out.report());
    assert_eq!(digits[0]["digit"], "4", "{}", out.report());
    assert_eq!(digits[0]["source"], "rfc4733", "{}", out.report());
    let collected = out.named("digits");
    assert_eq!(collected.len(), 1, "{}", out.report());
    assert_eq!(collected[0]["digits"], "4", "{}", out.report());
    assert_eq!(out.ended()["disposition"], "answered", "{}", out.report());
    assert!(sipp.success(), "{}", sipp.report());
}

#[test]
fn busy_is_reported_with_its_status() {
    let Some(uas) = SippUas::start("uas_busy.xml", &[]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &[]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(1), "{}", out.report());
    assert_eq!(out.named("ringing").len(), 1, "{}", out.report());
    assert!(out.named("answered").is_empty(), "{}", out.report());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "busy", "{}", out.report());
    assert_eq!(ended["status"], 486, "{}", out.report());
    assert_eq!(ended["by"], "remote", "{}", out.report());
    assert!(
        sipp.success(),
        "sipp saw no ACK for its 486\n{}",
        sipp.report()
    );
}

#[test]
fn ring_timeout_cancels_and_reports_no_answer() {
    let Some(uas) = SippUas::start("uas_ring_forever.xml", &[]) else {
        return;
    };
    let started = std::time::Instant::now();
    let out = huifang_call(&uas.uri(), &["--ring-timeout", "15"]);
    let took = started.elapsed();
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(1), "{}", out.report());
    assert!(
        took >= Duration::from_secs(15),
        "hung up after {took:?}, before the 15 s ring time-out\n{}",
        out.report()
    );
    assert_eq!(out.named("ringing").len(), 1, "{}", out.report());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "no_answer", "{}", out.report());
    assert_eq!(ended["by"], "local", "{}", out.report());
    // sipp's scenario only succeeds when CANCEL, its 200, the 487 and our ACK all happened.
    assert!(sipp.success(), "{}", sipp.report());
    assert_eq!(sipp.received("CANCEL"), 1, "{}", sipp.report());
    assert_eq!(sipp.received("ACK"), 1, "{}", sipp.report());
}

#[test]
fn digest_challenge_with_the_right_password_is_answered() {
    let Some(uas) = SippUas::start("uas_auth.xml", &[]) else {
        return;
    };
    let out = huifang_call(
        &uas.uri(),
        &["--username", "huifang", "--password", "s3cret"],
    );
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), sipp.report());
    assert_eq!(out.named("answered").len(), 1, "{}", out.report());
    assert_eq!(out.ended()["disposition"], "answered", "{}", out.report());
    assert!(sipp.success(), "{}", sipp.report());
    assert_eq!(sipp.received("INVITE"), 2, "{}", sipp.report());
}

#[test]
fn digest_challenge_with_a_wrong_password_fails_clearly() {
    let Some(uas) = SippUas::start("uas_auth.xml", &[]) else {
        return;
    };
    let out = huifang_call(
        &uas.uri(),
        &["--username", "huifang", "--password", "wrong"],
    );
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(1), "{}", out.report());
    assert!(out.named("answered").is_empty(), "{}", out.report());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "auth_failed", "{}", out.report());
    assert_eq!(ended["status"], 401, "{}", out.report());
    // One try with credentials, not a loop: the second challenge ends the call.
    assert_eq!(sipp.received("INVITE"), 2, "{}", sipp.report());
    // "Clearly": a human-readable reason (in the ended event or on stderr) that names the
    // credentials, not only the snake_case disposition.
    let reason = ended["reason"].as_str().unwrap_or_default();
    let said = format!("{reason}\n{}", out.stderr).to_lowercase();
    assert!(
        said.contains("password") || said.contains("credential"),
        "a wrong password should be named as such (ended.reason or stderr)\n{}",
        out.report()
    );
}

#[test]
fn without_credentials_a_challenge_is_auth_failed() {
    let Some(uas) = SippUas::start("uas_auth.xml", &[]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &[]);
    drop(uas);
    assert_eq!(out.code, Some(1), "{}", out.report());
    assert_eq!(
        out.ended()["disposition"],
        "auth_failed",
        "{}",
        out.report()
    );
}

#[test]
fn lost_first_invite_is_retransmitted_and_answered() {
    let Some(uas) = SippUas::start("uas_drop_first.xml", &[]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &[]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), sipp.report());
    assert_eq!(out.named("answered").len(), 1, "{}", out.report());
    assert!(
        sipp.received("INVITE") >= 2,
        "no INVITE retransmission within sipp's 1 s silence\n{}",
        sipp.report()
    );
    assert!(sipp.success(), "{}", sipp.report());
}

#[test]
fn sip_info_digit_is_reported() {
    let Some(uas) = SippUas::start("uas_info_dtmf.xml", &[]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &["--collect", "1", "--timeout", "10"]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), sipp.report());
    let digits = out.named("digit");
    assert_eq!(digits.len(), 1, "{}", out.report());
    assert_eq!(digits[0]["digit"], "4", "{}", out.report());
    assert_eq!(digits[0]["source"], "sip_info", "{}", out.report());
    assert_eq!(out.named("digits")[0]["digits"], "4", "{}", out.report());
    // sipp only succeeds if we answered its INFO with 200 and hung up with BYE.
    assert!(sipp.success(), "{}", sipp.report());
}

#[test]
fn call_over_tcp_is_answered() {
    let Some(uas) = SippUas::start("uas_answer.xml", &["-t", "t1", "-rtp_echo"]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &["--transport", "tcp"]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}\n{}", out.report(), sipp.report());
    assert_eq!(out.named("answered").len(), 1, "{}", out.report());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "answered", "{}", out.report());
    assert_eq!(ended["by"], "local", "{}", out.report());
    assert!(sipp.success(), "{}", sipp.report());
}

#[test]
fn events_come_in_call_order() {
    let Some(uas) = SippUas::start("uas_answer.xml", &["-rtp_echo"]) else {
        return;
    };
    let out = huifang_call(&uas.uri(), &[]);
    let sipp = uas.wait(SIPP_WAIT);
    assert_eq!(out.code, Some(0), "{}", out.report());
    let order: Vec<&str> = out
        .events
        .iter()
        .filter_map(|e| e["event"].as_str())
        .filter(|e| ["trying", "ringing", "answered", "ended"].contains(e))
        .collect();
    let position = |name: &str| order.iter().position(|e| *e == name);
    assert!(
        position("ringing") < position("answered"),
        "{}",
        out.report()
    );
    assert_eq!(order.last(), Some(&"ended"), "{}", out.report());
    assert!(
        out.events.iter().all(|e| e["event"].is_string()),
        "every line names its event\n{}",
        out.report()
    );
    let ended = out.ended();
    assert!(
        ended["status"].is_null() || ended["status"].is_u64(),
        "{}",
        out.report()
    );
    assert_ne!(ended["disposition"], Value::Null, "{}", out.report());
    assert!(sipp.success(), "{}", sipp.report());
}

#[test]
fn usage_error_exits_2() {
    let out = huifang_call("not-a-sip-uri", &[]);
    assert_eq!(out.code, Some(2), "{}", out.report());
}
