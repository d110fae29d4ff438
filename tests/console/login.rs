//! Logging in and out over HTTP: the form, wrong passwords, where each role lands, CSRF.

use crate::support::consoles;

#[tokio::test]
async fn login_lands_each_role_at_home_and_logout_ends_the_session() {
    for console in consoles().await {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // Not logged in: pages go to the login form, remembering where they were going.
        let res = http
            .get(format!("{}/?from=mail", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            "/login?next=/%3Ffrom%3Dmail"
        );
        // A wrong password: the form again, with the error and the name kept.
        let res = http
            .post(format!("{}/login", console.base))
            .form(&[("username", "sup"), ("password", "nope-nope"), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
        let body = res.text().await.unwrap();
        assert!(body.contains("wrong username or password"), "{body}");
        assert!(body.contains("value=\"sup\""), "{body}");

        // Posted from a page of another site (login CSRF): refused before the password is
        // looked at, whichever header names the sender.
        let base_host = console.base.trim_start_matches("http://").to_string();
        for (name, value) in [
            ("origin", "http://evil.example".to_string()),
            ("origin", "null".to_string()),
            ("sec-fetch-site", "cross-site".to_string()),
        ] {
            let res = http
                .post(format!("{}/login", console.base))
                .header(name, value.as_str())
                .form(&[("username", "sup"), ("password", "nope-nope"), ("next", "")])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 403, "{name}: {value}");
            let body = res.text().await.unwrap();
            assert!(body.contains("another site"), "{body}");
        }
        // The console's own page posting it (as a browser does) is fine.
        let res = http
            .post(format!("{}/login", console.base))
            .header("origin", format!("http://{base_host}"))
            .header("sec-fetch-site", "same-origin")
            .form(&[("username", "sup"), ("password", "nope-nope"), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);

        let sup = console.login("sup").await;
        assert_eq!(sup.get("/").await.location.as_deref(), Some("/campaigns"));
        let agent = console.login("agent1").await;
        assert_eq!(agent.get("/").await.location.as_deref(), Some("/agent"));

        // Logging out needs the form's CSRF token; then the cookie opens nothing.
        let out = sup.post_form("/logout", &[]).await;
        assert_eq!(out.status, 303, "{}", out.text);
        assert_eq!(
            sup.get("/")
                .await
                .location
                .as_deref()
                .map(|l| l.starts_with("/login")),
            Some(true),
            "{}",
            console.db.name
        );
    }
}
