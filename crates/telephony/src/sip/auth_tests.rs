//! Digest answers checked against the RFC examples and sipp.

use super::*;

fn mufasa(password: &str) -> Credentials {
    Credentials {
        username: "Mufasa".into(),
        password: password.into(),
    }
}

/// RFC 2617 §3.5.
#[test]
fn rfc2617_example() {
    let c = Challenge::parse(
        "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    assert!(c.qop_auth);
    assert_eq!(c.algorithm, Algorithm::Md5);
    let creds = mufasa("Circle Of Life");
    let got = c.response("GET", "/dir/index.html", &creds, "0a4f113b", 1);
    assert_eq!(got, "6629fae49393a05397450978507c4ef1");
    let header = c.authorization("GET", "/dir/index.html", &creds, "0a4f113b", 1);
    assert_eq!(
        header,
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
         response=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001"
    );
}

/// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
#[test]
fn rfc7616_examples() {
    let challenge = |alg: &str| {
        Challenge::parse(&format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        ))
        .unwrap()
    };
    let creds = mufasa("Circle of Life");
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let sha = challenge("SHA-256");
    assert_eq!(sha.algorithm, Algorithm::Sha256);
    assert_eq!(
        sha.response("GET", "/dir/index.html", &creds, cnonce, 1),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert!(
        sha.authorization("GET", "/dir/index.html", &creds, cnonce, 1)
            .contains(", algorithm=SHA-256, ")
    );
    assert_eq!(
        challenge("MD5").response("GET", "/dir/index.html", &creds, cnonce, 1),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

/// sipp 3.6.1's `[authentication]` answering tests/sipp/uas_auth.xml's challenge, which
/// its `verifyauth` accepted: an independent implementation agreeing with ours.
#[test]
fn agrees_with_sipp() {
    let c = Challenge::parse(
        "Digest realm=\"sipp.test\", nonce=\"4f1b2c3d5e6f7a8b9c0d1e2f3a4b5c6d\", \
         qop=\"auth\", algorithm=MD5",
    )
    .unwrap();
    let creds = Credentials {
        username: "huifang".into(),
        password: "s3cret".into(),
    };
    assert_eq!(
        c.response("INVITE", "sip:127.0.0.1:27669", &creds, "6b8b4567", 1),
        "c78f90096ad7f3fbfbc09a01f041bca4"
    );
}

#[test]
fn legacy_without_qop_and_hex_nonce_count() {
    let c = Challenge::parse("Digest realm=\"r\",nonce=\"n\"").unwrap();
    assert!(!c.qop_auth);
    let creds = mufasa("p");
    // RFC 2069: H(HA1:nonce:HA2).
    let ha1 = Algorithm::Md5.hex("Mufasa:r:p");
    let ha2 = Algorithm::Md5.hex("INVITE:sip:bob@example.com");
    let want = Algorithm::Md5.hex(&format!("{ha1}:n:{ha2}"));
    assert_eq!(
        c.response("INVITE", "sip:bob@example.com", &creds, "x", 7),
        want
    );
    let v = c.authorization("INVITE", "sip:bob@example.com", &creds, "x", 7);
    assert!(!v.contains("qop") && !v.contains("nc=") && !v.contains("cnonce"));
    assert!(!v.contains("algorithm"));

    let q = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=auth").unwrap();
    let v = q.authorization("INVITE", "sip:b@h", &creds, "c", 10);
    assert!(v.ends_with("qop=auth, nc=0000000a"), "{v}");
}

#[test]
fn sess_algorithms_hash_nonce_and_cnonce_into_ha1() {
    let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess, qop=\"auth\"")
        .unwrap();
    let creds = mufasa("p");
    let ha1 = Algorithm::Md5.hex(&format!("{}:n:c", Algorithm::Md5.hex("Mufasa:r:p")));
    let ha2 = Algorithm::Md5.hex("BYE:sip:b@h");
    let want = Algorithm::Md5.hex(&format!("{ha1}:n:00000001:c:auth:{ha2}"));
    assert_eq!(c.response("BYE", "sip:b@h", &creds, "c", 1), want);
}

#[test]
fn authorize_answers_401_and_407_with_the_matching_header() {
    let uri = "sip:owner@127.0.0.1:5080";
    let creds = mufasa("secret");
    let www = rsip::Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::new(
        "Digest realm=\"sipp\", nonce=\"abc\", algorithm=MD5",
    ));
    let h = authorize(&www, rsip::Method::Invite, uri, &creds, "cn", 1).unwrap();
    let rsip::Header::Authorization(a) = &h else {
        panic!("{h:?}")
    };
    assert!(
        a.value().contains("uri=\"sip:owner@127.0.0.1:5080\""),
        "{}",
        a.value()
    );
    let c = Challenge::parse("Digest realm=\"sipp\", nonce=\"abc\"").unwrap();
    let want = c.response("INVITE", "sip:owner@127.0.0.1:5080", &creds, "cn", 1);
    assert!(a.value().contains(&want));

    let proxy = rsip::Header::ProxyAuthenticate(rsip::headers::ProxyAuthenticate::new(
        "Digest realm=\"kamailio\", nonce=\"xyz\", qop=\"auth\", algorithm=SHA-256",
    ));
    let h = authorize(&proxy, rsip::Method::Invite, uri, &creds, "cn", 2).unwrap();
    let rsip::Header::ProxyAuthorization(p) = &h else {
        panic!("{h:?}")
    };
    assert!(p.value().contains("algorithm=SHA-256") && p.value().contains("nc=00000002"));
    // Parsed back by rsip, it is a well-formed header.
    let text = h.to_string();
    assert!(text.starts_with("Proxy-Authorization: Digest username=\"Mufasa\""));

    let not = rsip::Header::CallId("x".into());
    assert!(matches!(
        authorize(&not, rsip::Method::Invite, uri, &creds, "c", 1),
        Err(AuthError::NotAChallenge(_))
    ));
}

/// A 401 as sipp's `<send>` of our `uas_auth.xml` scenario writes it.
const SIPP_401: &str = "SIP/2.0 401 Authorization Required\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1;rport=5060\r\n\
    From: <sip:huifang@127.0.0.1>;tag=abc\r\n\
    To: <sip:owner@127.0.0.1:5080>;tag=1\r\n\
    Call-ID: 1-2@127.0.0.1\r\n\
    CSeq: 1 INVITE\r\n\
    WWW-Authenticate: Digest realm=\"sipp.test\", nonce=\"2a4f\", algorithm=MD5\r\n\
    WWW-Authenticate: Digest realm=\"sipp.test\", nonce=\"2a50\", algorithm=SHA-256, qop=\"auth\"\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn answers_a_parsed_401_with_its_strongest_challenge() {
    let response = crate::sip::message::parse(SIPP_401.as_bytes()).unwrap();
    let creds = mufasa("secret");
    let uri = "sip:owner@127.0.0.1:5080";
    let h = answer_challenge(&response, rsip::Method::Invite, uri, &creds, "cn", 1).unwrap();
    let rsip::Header::Authorization(a) = &h else {
        panic!("{h:?}")
    };
    assert!(a.value().contains("nonce=\"2a50\"") && a.value().contains("SHA-256"));

    let md5_line =
        "WWW-Authenticate: Digest realm=\"sipp.test\", nonce=\"2a4f\", algorithm=MD5\r\n";
    let sha_line = "WWW-Authenticate: Digest realm=\"sipp.test\", nonce=\"2a50\", \
                    algorithm=SHA-256, qop=\"auth\"\r\n";
    assert!(SIPP_401.contains(md5_line) && SIPP_401.contains(sha_line));
    let parse = |text: &str| crate::sip::message::parse(text.as_bytes()).unwrap();
    let bare = SIPP_401.replace(md5_line, "").replace(sha_line, "");
    assert_eq!(
        answer_challenge(&parse(&bare), rsip::Method::Invite, uri, &creds, "cn", 1),
        Err(AuthError::NoChallenge)
    );
    let basic = SIPP_401
        .replace(md5_line, "WWW-Authenticate: Basic realm=\"x\"\r\n")
        .replace(sha_line, "");
    assert_eq!(
        answer_challenge(&parse(&basic), rsip::Method::Invite, uri, &creds, "cn", 1),
        Err(AuthError::Scheme("Basic".into()))
    );
}

#[test]
fn picks_the_strongest_challenge() {
    let md5 = rsip::Header::WwwAuthenticate("Digest realm=\"r\", nonce=\"1\"".into());
    let sha =
        rsip::Header::WwwAuthenticate("Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256".into());
    let odd = rsip::Header::WwwAuthenticate("Digest realm=\"r\", nonce=\"3\", algorithm=X".into());
    let headers = [md5.clone(), odd.clone(), sha.clone()];
    assert_eq!(strongest(&headers), Some(&sha));
    assert_eq!(strongest([&md5, &odd]), Some(&md5));
    assert_eq!(strongest([&odd]), None);
}

#[test]
fn nonce_count_restarts_per_nonce() {
    let mut nc = NonceCount::default();
    assert_eq!(nc.next("a"), 1);
    assert_eq!(nc.next("a"), 2);
    assert_eq!(nc.next("b"), 1);
    assert_eq!(nc.next("a"), 1);
}

#[test]
fn parses_awkward_but_valid_challenges() {
    let c = Challenge::parse(
        "  digest realm = \"a \\\"quoted\\\" realm\" ,nonce=\"n,with,commas\",stale=TRUE,\
         algorithm=sha-256",
    )
    .unwrap();
    assert_eq!(c.realm, "a \"quoted\" realm");
    assert_eq!(c.nonce, "n,with,commas");
    assert!(c.stale);
    assert_eq!(c.algorithm, Algorithm::Sha256);
    let v = c.authorization("INVITE", "sip:x@y", &mufasa("p"), "c", 1);
    assert!(v.contains("realm=\"a \\\"quoted\\\" realm\""), "{v}");
}

#[test]
fn bad_challenges_are_typed_errors() {
    assert_eq!(
        Challenge::parse("Basic realm=\"x\""),
        Err(AuthError::Scheme("Basic".into()))
    );
    assert_eq!(
        Challenge::parse("Digest nonce=\"n\""),
        Err(AuthError::Missing("realm"))
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\""),
        Err(AuthError::Missing("nonce"))
    );
    assert_eq!(
        Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-1"),
        Err(AuthError::Algorithm("SHA-1".into()))
    );
    assert_eq!(
        Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int\""),
        Err(AuthError::Qop("auth-int".into()))
    );
    assert!(matches!(
        Challenge::parse("Digest realm=\"unterminated"),
        Err(AuthError::Syntax { .. })
    ));
    assert!(matches!(
        Challenge::parse("Digest realm"),
        Err(AuthError::Syntax { .. })
    ));
    assert!(matches!(
        Challenge::parse("Digest realm=a b, nonce=c"),
        Err(AuthError::Syntax { at: 15, .. })
    ));
    assert!(Challenge::parse("").is_err());
    assert!(Challenge::parse("Digest \"\\").is_err());
}

#[test]
fn credentials_debug_hides_the_password() {
    let dbg = format!("{:?}", mufasa("hunter2"));
    assert!(dbg.contains("Mufasa") && !dbg.contains("hunter2"));
}
