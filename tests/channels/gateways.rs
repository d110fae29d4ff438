//! Each gateway against its real peer: SMTP with STARTTLS and authentication, implicit TLS, a
//! refused recipient and a wrong password; SMPP throttling, a dropped connection and a refused
//! bind; an HTTP SMS provider with a token, throttling and a business error.

use std::sync::Arc;
use std::time::Duration;

use huifang::clock::{Clock, SharedClock, SystemClock};
use huifang::config::Config;
use huifang::outbox::worker::Worker;
use huifang::outbox::{self, NewMessage, OutboxMessage};
use huifang::store::Store;
use huifang::vocab::Channel;
use testkit::db::databases;

use crate::peers;

/// Queues one message to `to` directly (as a ticket notice would be queued).
pub(crate) async fn queue(store: &Store, channel: Channel, to: &str, body: &str) -> i64 {
    let mut tx = store.begin_write().await.unwrap();
    let id = outbox::enqueue(
        &mut tx,
        &NewMessage {
            channel,
            recipient: to,
            subject: (channel == Channel::Email).then_some("回访通知 / callback notice"),
            body,
            html: None,
            ticket_id: None,
            staff_id: None,
            purpose: "test",
            at: SystemClock.now(),
            campaign: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Runs a worker with `config` until nothing is due (at most 60 s) and returns every message.
async fn drain(store: &Store, config: &Config) -> Vec<OutboxMessage> {
    let clock: SharedClock = Arc::new(SystemClock);
    let worker = Arc::new(Worker::new(store.clone(), clock, "w1", config).unwrap());
    worker.drain(Duration::from_secs(60)).await.unwrap();
    let mut all = outbox::recent(store, None, 1000).await.unwrap();
    all.reverse();
    all
}

fn email_config(port: u16, security: &str, user: &str, password: &str) -> Config {
    let text = format!(
        "[email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"{security}\"\n\
         username = \"{user}\"\npassword = \"{password}\"\naccept_invalid_certs = true\n\
         from = \"和悦地产客服 <callback@example.com>\"\n[outbox]\nretry_secs = 1\nmax_attempts = 3\n"
    );
    Config::parse(&text, "test").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_with_starttls_auth_implicit_tls_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = peers::certificate(dir.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let starttls = peers::smtp(
        dir.path(),
        &[
            "--user",
            "huifang",
            "--password",
            "s3cret",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--reject",
            "bad@",
        ],
    );
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let implicit = peers::smtp(
        &tls_dir,
        &["--tls-cert", &cert, "--tls-key", &key, "--implicit-tls"],
    );
    for db in databases().await {
        let store = &db.store;
        let good = queue(store, Channel::Email, "o00001@example.cn", "您好，回访通知").await;
        let bad = queue(store, Channel::Email, "bad@example.cn", "refused").await;
        let all = drain(
            store,
            &email_config(starttls.ports[0], "starttls", "huifang", "s3cret"),
        )
        .await;
        let by_id = |id: i64| all.iter().find(|m| m.message_id == id).unwrap();
        assert_eq!(by_id(good).state, "sent", "{}: {:?}", db.name, by_id(good));
        assert_eq!(by_id(bad).state, "failed", "{}", db.name);
        assert!(
            by_id(bad).last_error.as_deref().unwrap().contains("550"),
            "{:?}",
            by_id(bad)
        );
        let received = starttls.where_("event", "message");
        let mail = received
            .iter()
            .find(|m| m["rcpt_tos"][0] == "o00001@example.cn")
            .unwrap();
        assert_eq!(mail["tls"], true, "STARTTLS was used");
        assert_eq!(mail["auth_user"], "huifang");
        assert_eq!(mail["subject"], "回访通知 / callback notice");
        assert_eq!(mail["text"].as_str().unwrap().trim(), "您好，回访通知");
        assert_eq!(
            mail["message_id"].as_str().unwrap(),
            format!("<huifang-outbox-{good}@huifang>")
        );

        // A wrong password: refused for good, with the server's words.
        let refused = queue(store, Channel::Email, "o00002@example.cn", "x").await;
        let all = drain(
            store,
            &email_config(starttls.ports[0], "starttls", "huifang", "wrong"),
        )
        .await;
        let m = all.iter().find(|m| m.message_id == refused).unwrap();
        assert_eq!(m.state, "failed", "{}: {m:?}", db.name);
        assert!(m.last_error.as_deref().unwrap().contains("535"), "{m:?}");

        // Implicit TLS, no authentication.
        let wrapped = queue(store, Channel::Email, "o00003@example.cn", "over TLS").await;
        let all = drain(store, &email_config(implicit.ports[0], "tls", "", "")).await;
        let m = all.iter().find(|m| m.message_id == wrapped).unwrap();
        assert_eq!(m.state, "sent", "{}: {m:?}", db.name);
    }
    let mails = implicit.where_("event", "message");
    assert!(mails.iter().all(|m| m["tls"] == true));
}

fn smpp_config(port: u16, password: &str) -> Config {
    let text = format!(
        "[sms]\nmessages_per_second = 500\n[sms.smpp]\naddress = \"127.0.0.1:{port}\"\n\
         system_id = \"huifang\"\npassword = \"{password}\"\nsource_addr = \"4008108888\"\n\
         response_timeout_secs = 3\n[outbox]\nretry_secs = 1\nmax_attempts = 4\n"
    );
    Config::parse(&text, "test").unwrap()
}

/// Throttled submits are retried; when the SMSC drops the connection the session is opened
/// again and the receipts of earlier messages still arrive; messages in flight at the drop are
/// `unknown`, never sent twice. A refused bind fails the messages after their tries, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_throttling_a_dropped_session_and_a_refused_bind() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let smsc = peers::smsc(dir.path(), &["--throttle-every", "4", "--drop-after", "12"]);
        // Every other message is a long Chinese text of two segments: a throttled second
        // segment is offered again, never leaving half a message.
        let long = "【和悦地产】您好，您的房屋已具备交付条件，请于本月内携带身份证与购房合同\
                    前往交付中心办理交付手续，办理时间为每日九点至十七点，咨询请致电400-810-8888。";
        let mut ids = Vec::new();
        for i in 0..30 {
            let to = format!("+86139{i:08}");
            let (text, segments) = if i % 2 == 0 {
                (long.to_string(), 2)
            } else {
                (format!("hello {i}"), 1)
            };
            ids.push((queue(store, Channel::Sms, &to, &text).await, to, segments));
        }
        let all = drain(store, &smpp_config(smsc.ports[0], "secret")).await;
        let mut unknown = 0;
        for (id, to, segments) in &ids {
            let m = all.iter().find(|m| m.message_id == *id).unwrap();
            let submits = smsc.submits_to(to).len();
            assert!(m.ended_at.is_some(), "{}: {m:?}", db.name);
            match m.state.as_str() {
                "delivered" => assert_eq!(submits, *segments, "{}: {m:?}", db.name),
                "unknown" => {
                    unknown += 1;
                    assert!(submits <= *segments, "{}: {m:?}", db.name);
                }
                _ => panic!("{}: {m:?}", db.name),
            }
        }
        assert!(
            unknown <= 10,
            "{}: at most one window in flight at the drop",
            db.name
        );
        // Every 4th submit is throttled: each throttled message was offered again — the
        // delivered ones have all their segments accepted (checked above); only those caught
        // in flight by the drop may be unknown. (How many rows needed a second attempt depends
        // on which segment the throttle hits, so it is not counted.)
        let throttled = smsc.where_("pdu", "submit_sm_rejected");
        assert!(
            throttled.len() >= 5,
            "{}: {} throttled",
            db.name,
            throttled.len()
        );
        let mut resent = 0;
        for t in &throttled {
            let to = t["destination_addr"]
                .as_str()
                .unwrap()
                .trim_start_matches('+');
            let (id, _, _) = ids
                .iter()
                .find(|(_, dest, _)| dest.trim_start_matches('+') == to)
                .unwrap();
            let m = all.iter().find(|m| m.message_id == *id).unwrap();
            if m.state == "delivered" {
                resent += 1;
            }
        }
        assert!(
            resent * 2 >= throttled.len(),
            "{}: most throttled messages were sent again and delivered ({resent} of {})",
            db.name,
            throttled.len()
        );
        let binds = smsc.where_("pdu", "bind_transceiver");
        assert!(binds.len() >= 2, "{}: bound again after the drop", db.name);

        // A wrong password: every try fails to bind; the message fails with the reason.
        let id = queue(store, Channel::Sms, "+8613900000999", "never").await;
        let all = drain(store, &smpp_config(smsc.ports[0], "wrong")).await;
        let m = all.iter().find(|m| m.message_id == id).unwrap();
        assert_eq!(m.state, "failed", "{}: {m:?}", db.name);
        let error = m.last_error.as_deref().unwrap();
        assert!(error.contains("refused to bind"), "{error}");
        assert_eq!(m.attempts, 4, "{}", db.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_sms_provider_with_a_token_throttling_and_a_business_error() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let http = peers::http_sms(
            dir.path(),
            &[
                "--token",
                "T0KEN",
                "--throttle-every",
                "2",
                "--fail",
                "+86100",
            ],
        );
        let text = format!(
            "[sms.http]\nurl = \"http://127.0.0.1:{}/send\"\nheaders = {{ Authorization = \"Bearer T0KEN\" }}\n\
             body = '{{\"to\": {{{{ to_json }}}}, \"text\": {{{{ text_json }}}}, \"sign\": \"和悦\"}}'\n\
             success_field = \"/code\"\nsuccess_value = \"0\"\nid_field = \"/msgid\"\n\
             [outbox]\nretry_secs = 1\n",
            http.ports[0]
        );
        let config = Config::parse(&text, "test").unwrap();
        let ok = queue(store, Channel::Sms, "+8613800000001", "您好").await;
        let ok2 = queue(store, Channel::Sms, "+8613800000002", "再见").await;
        let bad = queue(store, Channel::Sms, "+8610012345678", "x").await;
        let all = drain(store, &config).await;
        let by_id = |id: i64| all.iter().find(|m| m.message_id == id).unwrap();
        assert_eq!(by_id(ok).state, "sent", "{}: {:?}", db.name, by_id(ok));
        assert_eq!(by_id(ok2).state, "sent", "{}", db.name);
        assert!(by_id(ok).provider_id.as_deref().unwrap().starts_with('h'));
        assert_eq!(by_id(bad).state, "failed", "{}", db.name);
        assert!(
            by_id(bad)
                .last_error
                .as_deref()
                .unwrap()
                .contains("code is 17"),
            "{:?}",
            by_id(bad)
        );
        assert!(
            all.iter().any(|m| m.attempts > 1),
            "{}: a 429 was retried",
            db.name
        );
        let requests = http.lines();
        let sent: Vec<_> = requests
            .iter()
            .filter(|r| r["status"] == 200 && r["response"]["code"] == 0)
            .collect();
        assert_eq!(sent.len(), 2, "{}: each sent once", db.name);
        assert_eq!(sent[0]["body"]["sign"], "和悦");
    }
}
