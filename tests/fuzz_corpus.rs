//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through its target's
//! body on stable, without libFuzzer, so an input that crashes a parser fails `cargo test`;
//! and checks that the fuzz targets, their `[[bin]]`s in `fuzz/Cargo.toml` and their corpora
//! name the same set, so a target without a corpus (or the reverse) fails too.

use std::collections::BTreeSet;
use std::path::Path;

#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

fn fuzz_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz"))
}

#[test]
fn every_corpus_file_runs_through_its_target() {
    let mut files = 0;
    for (name, body) in targets::TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target needs a corpus)", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", path.display());
            count += 1;
        }
        assert!(count > 0, "{}: an empty corpus", dir.display());
        files += count;
    }
    assert!(files > 0);
}

#[test]
fn targets_bins_and_corpora_agree() {
    let listed: BTreeSet<String> = targets::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let bins: BTreeSet<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            let line = section
                .lines()
                .find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_string())
        })
        .collect();
    let corpora: BTreeSet<String> = std::fs::read_dir(fuzz_dir().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        bins, listed,
        "fuzz/Cargo.toml's [[bin]]s and TARGETS differ"
    );
    assert_eq!(corpora, listed, "fuzz/corpus/ and TARGETS differ");
}
