//! The house's shape, checked: rooms import only rooms below them (the map at the top of
//! `src/lib.rs`), the pure rooms stay pure, the dialer's files form no circle, and no source
//! file outgrows one screenful of rooms (~700 lines).
//!
//! The checks read the source text (comments and string literals blanked out first), so they
//! need no build of their own and fail with the file and the offending path.

mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use source::{Code, rust_files};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layer table of `src/lib.rs`: room → its line (0 = top); pure rooms get `None`.
fn layers() -> BTreeMap<String, Option<usize>> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut layers = BTreeMap::new();
    let mut line_no = 0;
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let (Some(line_cell), Some(rooms)) = (cells.first(), cells.get(1)) else {
            continue;
        };
        let level = match line_cell.trim() {
            "pure" => None,
            n if n.parse::<usize>().is_ok() => {
                line_no += 1;
                Some(line_no)
            }
            _ => continue,
        };
        for room in rooms.split(',') {
            let room = room.trim().trim_matches('`');
            assert!(
                layers.insert(room.to_string(), level).is_none(),
                "src/lib.rs: room `{room}` is on two lines of the map"
            );
        }
    }
    assert!(layers.len() > 10, "src/lib.rs: the room map was not found");
    layers
}

/// The room a file of `src/` belongs to: `src/x.rs` and `src/x/...` are room `x`.
fn room_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let room = first.strip_suffix(".rs").unwrap_or(first);
    (room != "lib" && room != "main").then(|| room.to_string())
}

/// `#[macro_export]` macros live at the crate root; they belong to the room that defines them.
fn exported_macros(files: &[(PathBuf, Code)], src: &Path) -> BTreeMap<String, String> {
    let mut macros = BTreeMap::new();
    for (file, code) in files {
        for name in code.exported_macros() {
            if let Some(room) = room_of(src, file) {
                macros.insert(name, room);
            }
        }
    }
    macros
}

#[test]
fn every_room_imports_only_rooms_below_it() {
    let src = root().join("src");
    let layers = layers();
    let files: Vec<(PathBuf, Code)> = rust_files(&src)
        .into_iter()
        .map(|f| {
            let code = Code::read(&f);
            (f, code)
        })
        .collect();
    let macros = exported_macros(&files, &src);
    let mut wrong = Vec::new();
    for (file, code) in &files {
        let Some(room) = room_of(&src, file) else {
            continue;
        };
        let Some(&level) = layers.get(&room) else {
            wrong.push(format!(
                "{}: room `{room}` is not in src/lib.rs's map",
                file.display()
            ));
            continue;
        };
        for target in code.crate_paths() {
            let target = macros.get(&target).cloned().unwrap_or(target);
            if target == room || target == "self" {
                continue;
            }
            let Some(&to) = layers.get(&target) else {
                continue; // an item of the crate root (none today) or a macro of lib.rs
            };
            let allowed = match (level, to) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(from), Some(to)) => to > from,
            };
            if !allowed {
                wrong.push(format!(
                    "{}: room `{room}` imports `crate::{target}`, which is not below it",
                    file.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_telephony_crate_and_pacing_use_no_domain_nor_io() {
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src/pacing")) {
        let code = Code::read(&file);
        for banned in [
            "tokio",
            "sqlx",
            "Instant::now",
            "SystemTime",
            "Utc::now",
            "Local::now",
        ] {
            if code.mentions(banned) {
                wrong.push(format!(
                    "{}: the pure pacing room uses `{banned}`",
                    file.display()
                ));
            }
        }
    }
    // The telephony crate cannot name huifang (Cargo would refuse the cycle); this keeps it
    // from growing a dependency on it by another name.
    let manifest = std::fs::read_to_string(root().join("crates/telephony/Cargo.toml")).unwrap();
    for line in manifest.lines() {
        if line.trim_start().starts_with("huifang ") || line.contains("path = \"../..\"") {
            wrong.push(format!(
                "crates/telephony/Cargo.toml depends on the domain: {line}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_dialers_files_form_no_circle() {
    let dialer = root().join("src/dialer");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in rust_files(&dialer) {
        let rel = file.strip_prefix(&dialer).unwrap();
        let depth = rel.components().count();
        let unit = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .unwrap();
        let code = Code::read(&file);
        if code.glob_super_import() {
            wrong.push(format!(
                "{}: `use super::*` (name what you use)",
                file.display()
            ));
        }
        // From dialer/x.rs, `super::` is the dialer; from dialer/x/y.rs it is `x` and
        // `super::super::` the dialer.
        let mut targets = code.prefixed_paths("crate::dialer::");
        let up = if depth == 1 {
            "super::"
        } else {
            "super::super::"
        };
        targets.extend(code.prefixed_paths(up));
        for target in targets {
            if target != unit
                && target != "mod"
                && target != "super"
                && dialer_unit(&dialer, &target)
            {
                edges.entry(unit.clone()).or_default().insert(target);
            }
        }
    }
    if let Some(circle) = find_circle(&edges) {
        wrong.push(format!(
            "src/dialer: files import each other in a circle: {}",
            circle.join(" -> ")
        ));
    }
    assert!(wrong.is_empty(), "{}\nedges: {edges:?}", wrong.join("\n"));
}

/// Whether `name` is a file or folder of the dialer (not an item its `mod.rs` re-exports).
fn dialer_unit(dialer: &Path, name: &str) -> bool {
    dialer.join(format!("{name}.rs")).exists() || dialer.join(name).is_dir()
}

/// A circle in the graph, as the path that closes it.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(circle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(circle);
        }
    }
    None
}

#[test]
fn no_source_file_is_over_700_lines() {
    let mut long = Vec::new();
    for dir in ["src", "crates/telephony/src"] {
        for file in rust_files(&root().join(dir)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 700 {
                long.push(format!("{}: {lines} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these along their seams:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_through_comments_strings_and_groups() {
    let code = Code::parse(
        r##"
        // use crate::web;
        /* crate::cli /* nested */ crate::demo */
        use crate::{store::Store, vocab::{A, B}, on_pool};
        let url = "sqlite://x.db crate::web";
        let raw = r#"crate::cli "quoted""#;
        let c = '"'; let l: &'static str = "";
        fn f() -> crate::phone::Phone { crate::clock::now() }
        use super::*;
        #[macro_export]
        macro_rules! on_thing { () => {} }
        "##,
    );
    let paths: BTreeSet<String> = code.crate_paths().into_iter().collect();
    let expected: BTreeSet<String> = ["store", "vocab", "on_pool", "phone", "clock"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(paths, expected);
    assert!(code.glob_super_import());
    assert_eq!(code.exported_macros(), vec!["on_thing".to_string()]);
    assert!(
        find_circle(&BTreeMap::from([
            ("a".to_string(), BTreeSet::from(["b".to_string()])),
            ("b".to_string(), BTreeSet::from(["a".to_string()])),
        ]))
        .is_some()
    );
}
