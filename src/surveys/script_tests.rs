use super::*;
use std::path::Path;

const GOOD: &str = r#"
start = "rating"

[nodes.rating]
kind = "rating"
prompts = ["rate-1-5"]
max = 5
invalid = ["invalid-key"]
on = { "1-2" = "sorry", "3-5" = "thanks" }

[nodes.sorry]
kind = "choice"
prompts = ["press-1-for-agent"]
options = { "1" = { value = "agent", next = "agent" }, "2" = { value = "comment", next = "comment" } }

[nodes.agent]
kind = "transfer"

[nodes.comment]
kind = "record"
prompts = ["after-the-tone"]
max = 30
next = "bye"

[nodes.thanks]
kind = "play"
prompts = ["thanks"]
next = "bye"

[nodes.bye]
kind = "hangup"
"#;

#[test]
fn a_valid_script_loads_with_its_defaults() {
    let script = parse(GOOD).unwrap();
    assert_eq!(script.start, "rating");
    let Step::Rating { max, on, input } = &script.nodes["rating"].step else {
        panic!("{:?}", script.nodes["rating"]);
    };
    assert_eq!(*max, 5);
    assert_eq!(
        on,
        &[
            ((1, 2), "sorry".to_string()),
            ((3, 5), "thanks".to_string())
        ]
    );
    assert_eq!(input.timeout, Duration::from_secs(8));
    assert_eq!(input.retries, 2);
    assert!(input.barge_in);
    let Step::Choice { options, .. } = &script.nodes["sorry"].step else {
        panic!();
    };
    assert_eq!(options[&'1'].next.as_deref(), Some("agent"));
}

fn errors(text: &str) -> Vec<ScriptError> {
    parse(text).expect_err("the script must be refused")
}

fn find<'a>(errors: &'a [ScriptError], node: &str, field: &str) -> &'a ScriptError {
    errors
        .iter()
        .find(|e| e.node.as_deref() == Some(node) && e.field == field)
        .unwrap_or_else(|| panic!("no error on {node}.{field}: {errors:?}"))
}

#[test]
fn every_error_names_its_node_field_and_line() {
    let text = GOOD
        .replace("max = 5", "max = 12")
        .replace(
            "next = \"bye\"\n\n[nodes.thanks]",
            "next = \"nowhere\"\n\n[nodes.thanks]",
        )
        .replace("\"2\" = { value", "\"22\" = { value");
    let all = errors(&text);
    let max = find(&all, "rating", "max");
    assert!(max.message.contains("2 to 9"), "{max}");
    assert_eq!(max.line, Some(7), "the line of `max = 12`");
    let next = find(&all, "comment", "next");
    assert!(
        next.to_string().contains("no node is named `nowhere`"),
        "{next}"
    );
    find(&all, "sorry", "options.22");
    assert!(all.len() >= 3, "all reported at once: {all:?}");
}

#[test]
fn kinds_fields_and_shapes_are_checked() {
    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"dance\"\n");
    assert!(
        find(&e, "a", "kind")
            .message
            .contains("unknown kind `dance`")
    );

    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"rating\"\nmax = 5\n");
    find(&e, "a", "prompts");

    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"hangup\"\nmax = 5\n");
    assert!(find(&e, "a", "max").message.contains("has no `max`"));

    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"hangup\"\nnext = \"a\"\n");
    find(&e, "a", "next");

    let e = errors(
        "start = \"a\"\n[nodes.a]\nkind = \"digits\"\nprompts = [\"unit\"]\nmin = 4\nmax = 2\n\
         timeout_secs = 0\nretries = 9\nterminator = \"x\"\n",
    );
    for field in ["max", "timeout_secs", "retries", "terminator"] {
        find(&e, "a", field);
    }

    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"sms\"\n");
    find(&e, "a", "template");

    let e = errors("start = \"a\"\n[nodes.a]\nkind = \"play\"\nprompts = [\"x\"]\nwhat = 1\n");
    assert_eq!(e[0].field, "toml");
    assert!(e[0].message.contains("what"), "{:?}", e[0]);
    assert_eq!(e[0].line, Some(5));
}

#[test]
fn the_start_must_exist_and_every_node_be_reachable() {
    let e = errors("start = \"nope\"\n[nodes.a]\nkind = \"hangup\"\n");
    assert!(
        e.iter().any(|e| e.field == "start" && e.line == Some(1)),
        "{e:?}"
    );

    let e =
        errors("start = \"a\"\n[nodes.a]\nkind = \"hangup\"\n[nodes.lost]\nkind = \"hangup\"\n");
    let lost = find(&e, "lost", "kind");
    assert!(lost.message.contains("no path from `a`"), "{lost}");
    assert_eq!(lost.line, Some(4));
}

#[test]
fn the_example_scripts_in_campaigns_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/surveys");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(seen >= 2, "{seen} scripts in {}", dir.display());
}
