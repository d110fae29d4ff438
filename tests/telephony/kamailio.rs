//! `huifang call` through kamailio, a real authenticating proxy and registrar
//! (`tests/kamailio/kamailio.cfg`): REGISTER answered after a 401 (WWW-Authenticate), the INVITE
//! after a 407 (Proxy-Authenticate), record-routed, so the ACK and BYE go through kamailio to
//! the phone (`huifang phones`, or a sipp UAS that hangs up first) behind it; our BYE is
//! challenged with a 407 as well. Wrong passwords fail clearly, on REGISTER and on INVITE.

use std::path::Path;
use std::time::Duration;

use crate::kamailio_peer::{Kamailio, PASSWORD, Phones, USER};
use crate::peers::{SippUas, huifang_call};

/// Writes `huifang.toml` with `[trunks.k]` pointing at kamailio; returns its path.
fn trunk_config(
    dir: &Path,
    kamailio: &Kamailio,
    password: &str,
    register: bool,
    transport: &str,
) -> String {
    let proxy = kamailio.addr();
    let mut toml = format!(
        "[trunks.k]\n\
         proxy = \"{proxy}\"\n\
         transport = \"{transport}\"\n\
         username = \"{USER}\"\n\
         password = \"{password}\"\n"
    );
    if register {
        toml.push_str(&format!("register = \"sip:{USER}@{proxy}\"\n"));
    }
    let path = dir.join("huifang.toml");
    std::fs::write(&path, toml).expect("write huifang.toml");
    path.to_string_lossy().into_owned()
}

/// Registers, calls through the proxy, hears the digit and hangs up, over `transport`.
fn registered_call_through_kamailio(transport: &str) {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let phones = Phones::start(dir.path());
    let config = trunk_config(dir.path(), &kamailio, PASSWORD, true, transport);
    let out = huifang_call(
        &phones.uri_pressing("4"),
        &[
            "--trunk",
            "k",
            "--config",
            &config,
            "--collect",
            "1",
            "--timeout",
            "10",
        ],
    );
    // The BYE's trip through kamailio is logged just after huifang exits.
    kamailio.wait_line("reply 200 OK for BYE", Duration::from_secs(3));
    let context = || {
        format!(
            "{}\n--- kamailio ---\n{}\n--- phones ---\n{}",
            out.report(),
            kamailio.log(),
            phones.log()
        )
    };
    assert_eq!(out.code, Some(0), "{}", context());
    // Registered first (after kamailio's 401), then the call.
    assert_eq!(
        out.events.first().map(|e| e["event"].clone()),
        Some("registered".into()),
        "{}",
        context()
    );
    assert_eq!(out.named("registered")[0]["expires"], 3600, "{}", context());
    assert_eq!(out.named("answered").len(), 1, "{}", context());
    let digits = out.named("digit");
    assert_eq!(digits.len(), 1, "one press, one digit\n{}", context());
    assert_eq!(digits[0]["digit"], "4", "{}", context());
    assert_eq!(out.named("digits")[0]["digits"], "4", "{}", context());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "answered", "{}", context());
    assert_eq!(ended["by"], "local", "{}", context());

    // What kamailio saw and did, from its xlog lines, in order.
    let lines = kamailio.script_lines();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("kamailio never logged `{needle}`\n{}", context()))
    };
    let challenged_register = at("401 challenge for REGISTER");
    let registered = at(&format!("registered sip:{USER}@"));
    let challenged_invite = at("407 challenge for INVITE");
    let authenticated = at(&format!("authenticated INVITE from {USER}"));
    let relayed = at("relaying INVITE from");
    let answered = at("reply 200 OK for INVITE");
    let ack = at("in-dialog ACK");
    // kamailio challenges the caller's BYE too (as some trunks do): we answer it, and only
    // the authenticated BYE goes on to the phone.
    let challenged_bye = at("407 challenge for BYE");
    let authenticated_bye = at(&format!("authenticated BYE from {USER}"));
    let bye = at("in-dialog BYE");
    let bye_ok = at("reply 200 OK for BYE");
    assert!(
        challenged_register < registered
            && registered < challenged_invite
            && challenged_invite < authenticated
            && authenticated < relayed
            && relayed < answered
            && answered < ack
            && ack < challenged_bye
            && challenged_bye < authenticated_bye
            && authenticated_bye < bye
            && bye < bye_ok,
        "kamailio's steps out of order\n{}",
        context()
    );
    assert!(
        !lines.iter().any(|l| l.contains("refused")),
        "kamailio refused something\n{}",
        context()
    );
    // Exactly one challenge each (REGISTER, INVITE, BYE): the right password is accepted the
    // first time.
    assert_eq!(
        lines.iter().filter(|l| l.contains("challenge for")).count(),
        3,
        "{}",
        context()
    );
}

#[test]
fn register_and_call_with_407_digest_through_kamailio() {
    registered_call_through_kamailio("udp");
}

#[test]
fn register_and_call_through_kamailio_over_tcp() {
    registered_call_through_kamailio("tcp");
}

#[test]
fn wrong_password_fails_registration_clearly() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let phones = Phones::start(dir.path());
    let config = trunk_config(dir.path(), &kamailio, "wrong", true, "udp");
    let out = huifang_call(
        &phones.uri_pressing("4"),
        &["--trunk", "k", "--config", &config],
    );
    let context = || format!("{}\n--- kamailio ---\n{}", out.report(), kamailio.log());
    assert_eq!(out.code, Some(1), "{}", context());
    assert!(out.named("registered").is_empty(), "{}", context());
    assert!(
        out.named("answered").is_empty() && out.named("ended").is_empty(),
        "no call is placed after a failed registration\n{}",
        context()
    );
    assert!(
        out.stderr.contains("registration failed (401)") && out.stderr.contains("credentials"),
        "stderr should say the registrar refused the credentials\n{}",
        context()
    );
    let lines = kamailio.script_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("401 REGISTER refused for {USER}"))),
        "{}",
        context()
    );
    assert!(!lines.iter().any(|l| l.contains("INVITE")), "{}", context());
}

#[test]
fn wrong_password_on_407_ends_the_call_as_auth_failed() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let phones = Phones::start(dir.path());
    let config = trunk_config(dir.path(), &kamailio, "wrong", false, "udp");
    let out = huifang_call(
        &phones.uri_pressing("4"),
        &["--trunk", "k", "--config", &config],
    );
    let context = || format!("{}\n--- kamailio ---\n{}", out.report(), kamailio.log());
    assert_eq!(out.code, Some(1), "{}", context());
    assert!(out.named("answered").is_empty(), "{}", context());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "auth_failed", "{}", context());
    assert_eq!(ended["status"], 407, "{}", context());
    assert!(
        ended["reason"]
            .as_str()
            .is_some_and(|r| r.contains("password")),
        "{}",
        context()
    );
    let lines = kamailio.script_lines();
    assert!(
        lines.iter().any(|l| l.contains("407 challenge for INVITE")),
        "{}",
        context()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("407 INVITE refused for {USER}"))),
        "{}",
        context()
    );
    assert!(
        !lines.iter().any(|l| l.contains("relaying INVITE")),
        "an unauthenticated INVITE must not reach the phone\n{}",
        context()
    );
}

#[test]
fn callee_bye_comes_back_through_kamailio() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    let Some(uas) = SippUas::start("uas_bye_via_proxy.xml", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = trunk_config(dir.path(), &kamailio, PASSWORD, false, "udp");
    let out = huifang_call(
        &uas.uri(),
        &["--trunk", "k", "--config", &config, "--duration", "10"],
    );
    let sipp = uas.wait(Duration::from_secs(20));
    let context = || {
        format!(
            "{}\n--- kamailio ---\n{}\n{}",
            out.report(),
            kamailio.log(),
            sipp.report()
        )
    };
    assert_eq!(out.code, Some(0), "{}", context());
    assert_eq!(out.named("answered").len(), 1, "{}", context());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "answered", "{}", context());
    assert_eq!(ended["by"], "remote", "the phone hung up\n{}", context());
    assert!(sipp.success(), "{}", context());
    let lines = kamailio.script_lines();
    // Only the caller's BYE is challenged, not the phone's.
    assert!(
        !lines.iter().any(|l| l.contains("challenge for BYE")),
        "{}",
        context()
    );
    for step in [
        "407 challenge for INVITE",
        "authenticated INVITE from huifang",
        "in-dialog ACK",
        "in-dialog BYE",
        "reply 200 OK for BYE",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(step)),
            "kamailio never logged `{step}`\n{}",
            context()
        );
    }
}

#[test]
fn ring_timeout_cancel_goes_through_kamailio() {
    let Some(kamailio) = Kamailio::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let phones = Phones::start(dir.path());
    let config = trunk_config(dir.path(), &kamailio, PASSWORD, false, "udp");
    let out = huifang_call(
        &format!("sip:noanswer@127.0.0.1:{}", phones.port),
        &["--trunk", "k", "--config", &config, "--ring-timeout", "15"],
    );
    kamailio.wait_line("reply 487", Duration::from_secs(3));
    let context = || {
        format!(
            "{}\n--- kamailio ---\n{}\n--- phones ---\n{}",
            out.report(),
            kamailio.log(),
            phones.log()
        )
    };
    assert_eq!(out.code, Some(1), "{}", context());
    assert_eq!(out.named("ringing").len(), 1, "{}", context());
    let ended = out.ended();
    assert_eq!(ended["disposition"], "no_answer", "{}", context());
    assert_eq!(ended["by"], "local", "{}", context());
    // The CANCEL matched the authenticated INVITE's transaction in kamailio (same branch),
    // which cancelled the phone's leg: the phone's 487 came back.
    let lines = kamailio.script_lines();
    for step in [
        "407 challenge for INVITE",
        "authenticated INVITE from huifang",
        "request CANCEL",
        "reply 487",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(step)),
            "kamailio never logged `{step}`\n{}",
            context()
        );
    }
}
