//! Replays the fuzz corpora and the saved crash inputs through the fuzz targets'
//! entry points (`chainseal::fuzzing`), in the normal test build: no sanitizer and no
//! nightly toolchain, a few seconds. A panic on any file fails the test and names the
//! file. See docs/fuzzing.md.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chainseal::fuzzing::TARGETS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_replays_without_a_panic() {
    let mut replayed = 0;
    let mut panics = Vec::new();
    for (name, target) in TARGETS {
        let corpus = files(&root().join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{name} is empty or missing: seed it (docs/fuzzing.md)"
        );
        let regressions = files(&root().join("regressions").join(name));
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).expect("read a corpus file");
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                panics.push(format!("{name}: {}", file.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        panics.is_empty(),
        "fuzz inputs that panic (reproduce with `cargo fuzz run TARGET FILE` in fuzz/):\n{}",
        panics.join("\n")
    );
    eprintln!("replayed {replayed} fuzz inputs");
}

#[test]
fn every_fuzz_target_has_an_entry_point() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] `{name}`"
        );
        assert!(
            root()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{name}.rs is missing"
        );
    }
}
