//! Helpers shared by the integration tests: run the real binary with a clean
//! environment in a temporary directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository root.
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// `chainseal` with no inherited `CHAINSEAL_*` settings, run in `cwd`.
pub fn chainseal(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainseal"));
    cmd.env_clear().current_dir(cwd);
    cmd
}

/// Output decoded, for assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("binary runs");
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        r.stderr
    );
    r
}

/// Assert a failed run: exit 2, exactly one `error:` line naming `needle`.
pub fn assert_error(r: &Run, needle: &str) {
    assert_eq!(r.code, 2, "exit code; stderr:\n{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", r.stderr);
    assert!(
        errors[0].contains(needle),
        "error should mention `{needle}`:\n{}",
        r.stderr
    );
}

/// `chainseal verify --key KEY FILE` in `cwd`.
pub fn verify(
    cwd: &Path,
    key: impl AsRef<std::ffi::OsStr>,
    file: impl AsRef<std::ffi::OsStr>,
) -> Run {
    run(chainseal(cwd).args(["verify", "--key"]).arg(key).arg(file))
}

/// Every file below `dir` (relative names), sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                for f in files_below(&p) {
                    out.push(format!("{}/{f}", e.file_name().to_string_lossy()));
                }
            } else {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// The storage file the example PipelineRun is written to.
pub const EXAMPLE_KEY: &str = "pipelinerun-4f9c2a2e-6d1b-4c1e-9a57-1f0d3b7e8a21";

/// A tool path from `var` (set by scripts/test). Outside CI, `None` with a message
/// saying what was skipped; in CI an unset variable is a failure.
pub fn tool(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set in CI: run the tests with scripts/test")
        }
        None => {
            eprintln!("SKIPPED {what}: {var} is unset (scripts/test sets it)");
            None
        }
    }
}
