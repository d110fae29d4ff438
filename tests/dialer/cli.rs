//! The campaign life cycle through the real binary: validate, create, start, pause, resume,
//! stop, status and list, with the refusals a supervisor meets (a wrong step names the state
//! and what is allowed; a broken definition names the line and the key).

use std::path::Path;
use std::process::Output;

use testkit::binary::{self, text};
use testkit::{campaign::number, db::databases};

fn campaign(dir: &Path, url: &str, args: &[&str]) -> Output {
    binary::command()
        .arg("--database")
        .arg(url)
        .arg("campaign")
        .args(args)
        .current_dir(dir)
        .env("HUIFANG_LOG", "warn")
        .output()
        .expect("run huifang")
}

/// Runs a step that must succeed and returns its output.
fn ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = campaign(dir, url, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}

/// Runs a step that must fail and returns its message.
fn refused(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = campaign(dir, url, args);
    assert!(!out.status.success(), "{args:?} succeeded: {}", text(&out));
    text(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_steps_a_campaign_through_its_life_cycle() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url();
        let rows: Vec<(String, &str)> = (0..5).map(|i| (number(7000 + i), "")).collect();
        testkit::campaign::list(d, &rows);
        let file = testkit::campaign::campaign_file(d, "life", "");
        let file = file.to_str().unwrap();

        // A broken definition: the line and the key are named.
        std::fs::write(
            d.join("broken.toml"),
            "code = \"broken\"\nname = \"b\"\nkind = \"notification\"\nmode = \"agentless\"\n\
             ring_timeout_secs = 5\n[source]\ncsv = \"list.csv\"\n",
        )
        .unwrap();
        let message = refused(d, &url, &["validate", "broken.toml"]);
        assert!(
            message.contains("broken.toml:5") && message.contains("ring_timeout_secs"),
            "{message}"
        );
        assert!(ok(d, &url, &["validate", file]).contains("ok"));
        // A survey is validated with its script: the node and the field are named.
        std::fs::write(
            d.join("survey.toml"),
            "code = \"s\"\nname = \"s\"\nkind = \"survey\"\nmode = \"agentless\"\n\
             script = \"script.toml\"\n[source]\ncsv = \"list.csv\"\n",
        )
        .unwrap();
        std::fs::write(
            d.join("script.toml"),
            "start = \"ask\"\n[nodes.ask]\nkind = \"rating\"\nprompts = [\"rate\"]\nmax = 12\n",
        )
        .unwrap();
        let message = refused(d, &url, &["validate", "survey.toml"]);
        assert!(
            message.contains("script.toml: line 5: node `ask`, field `max`"),
            "{message}"
        );

        let created = ok(d, &url, &["create", file]);
        assert!(created.contains("draft"), "{created}");
        let message = refused(d, &url, &["pause", "life"]);
        assert!(message.contains("draft"), "{message}");
        ok(d, &url, &["start", "life", "--actor", "zhang"]);
        ok(d, &url, &["pause", "life", "--reason", "lunch"]);
        let message = refused(d, &url, &["pause", "life"]);
        assert!(message.contains("paused"), "{message}");
        ok(d, &url, &["resume", "life"]);
        ok(d, &url, &["stop", "life"]);
        let message = refused(d, &url, &["resume", "life"]);
        assert!(message.contains("stopped"), "{message}");
        let message = refused(d, &url, &["status", "nosuch"]);
        assert!(message.contains("nosuch"), "{message}");

        let status: serde_json::Value =
            serde_json::from_str(&ok(d, &url, &["status", "life", "--json"])).unwrap();
        assert_eq!(
            status["campaign"]["state"], "stopped",
            "{}: {status}",
            db.name
        );
        assert_eq!(status["progress"]["pending"], 5, "{}: {status}", db.name);
        let steps: Vec<(&str, &str, &str)> = status["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap(),
                    e["action"].as_str().unwrap(),
                    e["to_state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("cli", "create", "draft"),
                ("zhang", "start", "running"),
                ("cli", "pause", "paused"),
                ("cli", "resume", "running"),
                ("cli", "stop", "stopped"),
            ],
            "{}",
            db.name
        );
        assert_eq!(status["events"][2]["reason"], "lunch");
        assert_eq!(status["abandon"]["last_24h"]["answered"], 0);
        assert_eq!(status["abandon"]["max_pct"], 3.0);

        // A reader that went away (`| head`) ends a report quietly, never with a panic.
        let mut child = binary::command()
            .args(["--database", &url, "campaign", "status", "life"])
            .current_dir(d)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");

        let list: serde_json::Value =
            serde_json::from_str(&ok(d, &url, &["list", "--json"])).unwrap();
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|c| c["code"] == "life" && c["state"] == "stopped"),
            "{list}"
        );
    }
}
