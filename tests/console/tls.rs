//! HTTPS (issue 29): with `[http] tls_cert`/`tls_key` the console answers over TLS (a
//! self-signed certificate made here), sends `Strict-Transport-Security`, and does not
//! answer in clear on the same port.

use std::sync::Arc;
use std::time::Duration;

use huifang::clock::SystemClock;

use crate::support::console_on;

#[tokio::test]
async fn the_console_serves_https_with_hsts_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_pem = made.cert.pem();
    let (cert, key) = (
        dir.path().join("console.crt"),
        dir.path().join("console.key"),
    );
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let db = testkit::db::databases().await.remove(0);
    let toml = format!(
        "[http]\ntls_cert = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let console = console_on(db, &toml, Arc::new(SystemClock)).await;
    let https = console.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let res = client
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect("/healthz over HTTPS");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert_eq!(res.text().await.unwrap(), "ok");
    // The same port in clear: no answer but a closed connection.
    let clear = client.get(format!("{}/healthz", console.base)).send().await;
    assert!(
        clear.is_err(),
        "answered in clear: {:?}",
        clear.map(|r| r.status())
    );
}

#[tokio::test]
async fn plain_http_sends_no_hsts() {
    let db = testkit::db::databases().await.remove(0);
    let console = console_on(db, "", Arc::new(SystemClock)).await;
    let res = reqwest::get(format!("{}/healthz", console.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("strict-transport-security").is_none());
}
