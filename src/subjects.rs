//! Subjects named explicitly, for CI and generic builds — the inputs of
//! `actions/attest`:
//!
//! * `CHAINSEAL_SUBJECT_PATH`: files and globs (comma- or newline-separated), each
//!   matched file hashed with SHA-256 (streamed, several files at once) and named by
//!   its file name;
//! * `CHAINSEAL_SUBJECT_NAME` + `CHAINSEAL_SUBJECT_DIGEST` (`sha256:<hex>` or
//!   `sha512:<hex>`);
//! * `CHAINSEAL_SUBJECT_CHECKSUMS`: a `sha256sum`/`sha512sum` output file;
//! * `CHAINSEAL_SUBJECTS`: `name@sha256:<hex>` entries (comma- or newline-separated),
//!   the format `CHAINSEAL_RESULT_SUBJECTS` writes.
//!
//! Duplicates are merged (Chains' rule: same name and a shared digest), not rejected;
//! more than [`DEFAULT_MAX_SUBJECTS`] (or `CHAINSEAL_MAX_SUBJECTS`) is an error.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use thiserror::Error;

use crate::env_vars::EnvVars;
use crate::error_text::shown;
use crate::provenance::ResourceDescriptor;
use crate::provenance::digest::{self, DigestError, Rules};
use crate::provenance::statement::append_subject;

/// The subject limit of `actions/attest` (and of the GitHub attestations API).
pub const DEFAULT_MAX_SUBJECTS: usize = 1024;

/// What names the subjects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Paths and globs (`CHAINSEAL_SUBJECT_PATH`), relative to the working directory.
    pub paths: Vec<String>,
    /// One subject by name (`CHAINSEAL_SUBJECT_NAME`) …
    pub name: Option<String>,
    /// … and digest (`CHAINSEAL_SUBJECT_DIGEST`).
    pub digest: Option<String>,
    /// A checksums file (`CHAINSEAL_SUBJECT_CHECKSUMS`).
    pub checksums: Option<PathBuf>,
    /// `name@alg:hex` entries (`CHAINSEAL_SUBJECTS`).
    pub list: Vec<String>,
    /// The most subjects one attestation may have.
    pub max: usize,
    /// GitHub's artifacts list (`GITHUB_ARTIFACTS_LIST`), read only when no other
    /// input names a subject, as `actions/attest` v4 reads it.
    pub artifacts_list: Option<PathBuf>,
}

impl Inputs {
    /// Whether any input names a subject.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.name.is_none()
            && self.digest.is_none()
            && self.checksums.is_none()
            && self.list.is_empty()
            && self.artifacts_list.is_none()
    }
}

/// Why subjects could not be collected; each names the input to fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A pattern that is not a valid glob.
    #[error("`CHAINSEAL_SUBJECT_PATH`: `{pattern}` is not a valid glob: {reason}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// GitHub's artifacts list cannot be used.
    #[error("`GITHUB_ARTIFACTS_LIST` (`{}`): {reason}", path.display())]
    ArtifactsList {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A pattern that matches no file.
    #[error(
        "`CHAINSEAL_SUBJECT_PATH`: `{pattern}` matches no file (relative to {cwd}); check the path, or that the build wrote it"
    )]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// The directory it was resolved in.
        cwd: String,
    },
    /// A file that cannot be read.
    #[error("`{input}`: cannot read `{path}`")]
    Unreadable {
        /// The input naming it.
        input: &'static str,
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A digest that is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("`{input}`: invalid digest")]
    BadDigest {
        /// The input.
        input: &'static str,
        /// What is wrong.
        #[source]
        source: DigestError,
    },
    /// A `CHAINSEAL_SUBJECTS` entry without `@`.
    #[error("`CHAINSEAL_SUBJECTS`: `{0}` is not `name@sha256:<hex>`")]
    BadEntry(String),
    /// A malformed line of the checksums file.
    #[error(
        "`CHAINSEAL_SUBJECT_CHECKSUMS` `{path}` line {line}: expected `<hex digest>  <name>` (sha256sum or sha512sum output), found `{text}`"
    )]
    BadChecksumLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The line (shortened).
        text: String,
    },
    /// Name without digest or digest without name.
    #[error(
        "`CHAINSEAL_SUBJECT_NAME` and `CHAINSEAL_SUBJECT_DIGEST` go together: set both, or neither"
    )]
    Unpaired,
    /// Too many subjects.
    #[error(
        "{count} subjects, more than the limit of {max}: raise `CHAINSEAL_MAX_SUBJECTS`, or attest in several steps (some consumers reject large attestations)"
    )]
    TooMany {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Every subject the inputs name, merged, in input order (paths, name + digest,
/// checksums, list).
pub fn collect(inputs: &Inputs) -> Result<Vec<ResourceDescriptor>, Error> {
    let mut out = Vec::new();
    let files = expand(&inputs.paths)?;
    for (path, sha256) in hash_files(&files)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        append_subject(&mut out, descriptor(name, "sha256", sha256));
    }
    match (&inputs.name, &inputs.digest) {
        (Some(name), Some(digest)) => {
            let (alg, hex) = parse_digest(EnvVars::CHAINSEAL_SUBJECT_DIGEST, digest)?;
            append_subject(&mut out, descriptor(name.clone(), alg, hex));
        }
        (None, None) => {}
        _ => return Err(Error::Unpaired),
    }
    if let Some(path) = &inputs.checksums {
        for item in read_checksums(path)? {
            append_subject(&mut out, item);
        }
    }
    for entry in &inputs.list {
        let (name, digest) = entry
            .rsplit_once('@')
            .ok_or_else(|| Error::BadEntry(entry.clone()))?;
        let (alg, hex) = parse_digest(EnvVars::CHAINSEAL_SUBJECTS, digest)?;
        append_subject(&mut out, descriptor(name.to_owned(), alg, hex));
    }
    if let (true, Some(path)) = (out.is_empty(), &inputs.artifacts_list) {
        for item in read_artifacts_list(path, inputs.max)? {
            append_subject(&mut out, item);
        }
    }
    if out.len() > inputs.max {
        return Err(Error::TooMany {
            count: out.len(),
            max: inputs.max,
        });
    }
    Ok(out)
}

/// The largest artifacts list read (it lists names and digests only).
const MAX_ARTIFACTS_LIST: u64 = 16 * 1024 * 1024;

/// GitHub's artifacts list: `{"version": 1, "subjects": [{"name", "digest", "kind":
/// "file" | "oci"}]}`; an unknown version or kind, or a bad digest, is an error.
fn read_artifacts_list(path: &Path, max: usize) -> Result<Vec<ResourceDescriptor>, Error> {
    #[derive(serde::Deserialize)]
    struct List {
        version: u32,
        #[serde(default)]
        subjects: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        digest: String,
        #[serde(default)]
        kind: Option<String>,
    }
    let bad = |reason: String| Error::ArtifactsList {
        path: path.to_owned(),
        reason,
    };
    use crate::read_limited::{Refused, read_at_most};
    let bytes = read_at_most(path, MAX_ARTIFACTS_LIST).map_err(|e| match e {
        Refused::Io(e) => bad(e.to_string()),
        Refused::TooLarge(size) => bad(format!("it is {size} bytes; at most 16 MiB is read")),
    })?;
    let list: List = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if list.version != 1 {
        return Err(bad(format!(
            "version {} (chainseal reads version 1)",
            list.version
        )));
    }
    if list.subjects.len() > max {
        return Err(Error::TooMany {
            count: list.subjects.len(),
            max,
        });
    }
    let mut out = Vec::new();
    for e in list.subjects {
        if let Some(kind) = e.kind.as_deref().filter(|k| !matches!(*k, "file" | "oci")) {
            return Err(bad(format!(
                "subject `{}` has kind `{}` (file or oci)",
                shown(&e.name),
                shown(kind)
            )));
        }
        if e.name.trim().is_empty() {
            return Err(bad("a subject has no name".into()));
        }
        let (alg, hex) = parse_digest(EnvVars::GITHUB_ARTIFACTS_LIST, &e.digest)?;
        out.push(descriptor(e.name, alg, hex));
    }
    Ok(out)
}

fn descriptor(name: String, alg: &str, hex: String) -> ResourceDescriptor {
    ResourceDescriptor {
        name,
        digest: [(alg.to_owned(), hex)].into(),
        ..ResourceDescriptor::default()
    }
}

/// `sha256:<hex>` or `sha512:<hex>` (either case) → (algorithm, lower-case hex).
fn parse_digest(input: &'static str, digest: &str) -> Result<(&'static str, String), Error> {
    digest::parse_digest(digest, Rules::SUBJECTS)
        .map_err(|source| Error::BadDigest { input, source })
}

/// Expand paths and globs to files, each once, in order of first match. Directories
/// are skipped (as `actions/attest` does); a pattern matching no file is an error.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, Error> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for pattern in patterns {
        let matches = glob::glob_with(pattern, options).map_err(|e| Error::BadGlob {
            pattern: pattern.clone(),
            reason: e.msg.to_owned(),
        })?;
        let mut matched = false;
        for entry in matches {
            let path = entry.map_err(|e| Error::Unreadable {
                input: EnvVars::CHAINSEAL_SUBJECT_PATH,
                path: e.path().display().to_string(),
                source: std::io::Error::new(e.error().kind(), e.error().to_string()),
            })?;
            let meta = std::fs::metadata(&path).map_err(|source| Error::Unreadable {
                input: EnvVars::CHAINSEAL_SUBJECT_PATH,
                path: path.display().to_string(),
                source,
            })?;
            if meta.is_dir() {
                continue;
            }
            matched = true;
            if seen.insert(path.clone()) {
                files.push(path);
            }
        }
        if !matched {
            return Err(Error::NoMatch {
                pattern: pattern.clone(),
                cwd: std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| "the working directory".into()),
            });
        }
    }
    Ok(files)
}

/// SHA-256 of every file (lower-case hex), in the given order; files are streamed in
/// 1 MiB blocks and hashed on as many threads as there are cores.
pub fn hash_files(files: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, Error> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(files.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<String, Error>>> = Vec::new();
    results.resize_with(files.len(), || None);
    let results = std::sync::Mutex::new(results);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let hashed = hash_file(path, &mut buf);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(hashed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    files
        .iter()
        .zip(results)
        .map(|(path, r)| {
            let hex = r.unwrap_or_else(|| {
                Err(Error::Unreadable {
                    input: EnvVars::CHAINSEAL_SUBJECT_PATH,
                    path: path.display().to_string(),
                    source: std::io::Error::other("not hashed"),
                })
            })?;
            Ok((path.clone(), hex))
        })
        .collect()
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<String, Error> {
    sha256_file(path, buf).map_err(|source| Error::Unreadable {
        input: EnvVars::CHAINSEAL_SUBJECT_PATH,
        path: path.display().to_string(),
        source,
    })
}

/// The SHA-256 (hex) of the file at `path`, read through `buf`.
pub fn sha256_file(path: &Path, buf: &mut [u8]) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A `sha256sum`/`sha512sum` file: `<hex>  <name>` or `<hex> *<name>` (binary mode)
/// per line; blank lines and `#` comments skipped.
fn read_checksums(path: &Path) -> Result<Vec<ResourceDescriptor>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Unreadable {
        input: EnvVars::CHAINSEAL_SUBJECT_CHECKSUMS,
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_end_matches('\r');
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad = || Error::BadChecksumLine {
            path: path.display().to_string(),
            line: i + 1,
            text: trimmed.chars().take(80).collect(),
        };
        let (hex, rest) = trimmed.split_once(' ').ok_or_else(bad)?;
        let name = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('*'))
            .ok_or_else(bad)?;
        if name.is_empty() {
            return Err(bad());
        }
        let alg = match hex.len() {
            64 => "sha256",
            128 => "sha512",
            _ => return Err(bad()),
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        out.push(descriptor(name.to_owned(), alg, hex.to_ascii_lowercase()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn inputs() -> Inputs {
        Inputs {
            max: DEFAULT_MAX_SUBJECTS,
            ..Inputs::default()
        }
    }

    #[test]
    fn digests_are_checked_for_algorithm_and_length() {
        assert_eq!(
            parse_digest("X", &format!("sha256:{}", HEX.to_uppercase())).ok(),
            Some(("sha256", HEX.to_owned()))
        );
        for bad in [
            "sha256:abc",
            HEX,
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            &format!("sha512:{HEX}"),
        ] {
            assert!(parse_digest("X", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_globs_checksums_and_lists_merge() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("sub")).expect("dir");
        std::fs::write(dir.path().join("a.txt"), "hello").expect("a");
        std::fs::write(dir.path().join("sub/b.txt"), "hello").expect("b");
        let sums = dir.path().join("SHA256SUMS");
        std::fs::write(&sums, format!("{HEX}  a.txt\n\n{HEX} *c.bin\n")).expect("sums");
        let all = Inputs {
            paths: vec![
                format!("{}/*.txt", dir.path().display()),
                format!("{}/**/*.txt", dir.path().display()),
            ],
            checksums: Some(sums),
            list: vec![format!("a.txt@sha256:{HEX}")],
            ..inputs()
        };
        let got = collect(&all).expect("subjects");
        let names: Vec<_> = got.iter().map(|s| s.name.as_str()).collect();
        // a.txt once (glob twice, checksum, list), b.txt, c.bin.
        assert_eq!(names, ["a.txt", "b.txt", "c.bin"]);
        assert!(got.iter().all(|s| s.digest["sha256"] == HEX));
    }

    #[test]
    fn bad_inputs_name_themselves() {
        let dir = tempfile::tempdir().expect("tmp");
        let none = Inputs {
            paths: vec![format!("{}/*.zip", dir.path().display())],
            ..inputs()
        };
        assert!(matches!(collect(&none), Err(Error::NoMatch { .. })));
        let sums = dir.path().join("sums");
        std::fs::write(&sums, format!("{HEX}  ok\nnot a line\n")).expect("sums");
        let err = collect(&Inputs {
            checksums: Some(sums),
            ..inputs()
        })
        .expect_err("bad line");
        assert!(err.to_string().contains("line 2"), "{err}");
        let unpaired = Inputs {
            name: Some("x".into()),
            ..inputs()
        };
        assert!(matches!(collect(&unpaired), Err(Error::Unpaired)));
    }

    #[test]
    fn the_limit_counts_merged_subjects() {
        let list: Vec<String> = (0..5).map(|i| format!("f{i}@sha256:{HEX}")).collect();
        let mut i = Inputs {
            list: list.clone(),
            max: 4,
            ..inputs()
        };
        assert!(matches!(
            collect(&i),
            Err(Error::TooMany { count: 5, max: 4 })
        ));
        i.list = [list.clone(), list].concat();
        i.max = 5;
        assert_eq!(collect(&i).expect("merged").len(), 5);
    }
}
