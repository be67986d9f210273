//! What `attest` reports after storing: `$GITHUB_OUTPUT` step outputs and a
//! `$GITHUB_STEP_SUMMARY` on GitHub Actions, a dotenv report on GitLab CI, and one
//! JSON object on stdout with `--output json` anywhere.
//!
//! The outputs, by their GitHub names:
//! * `attestation-path`: the local file holding the envelope (file storage), or empty;
//! * `attestation-digest`: `sha256:<hex>` of the signed in-toto Statement (the DSSE
//!   payload), the same whichever storage holds it;
//! * `subjects`: `name@alg:hex`, one per line (comma-separated in dotenv, which has no
//!   multi-line values);
//! * `attestation-key`: the storage key; `stored`: every location;
//! * `attestation-id`, `attestation-url`: the attestation in GitHub's attestation
//!   store (`github` storage), as actions/attest names them; `storage-record-ids`:
//!   the artifact metadata storage records made, comma-separated.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use thiserror::Error;

use crate::env_vars::EnvVars;
use crate::provenance::Statement;
use crate::record::ci::{Environment, Platform};
use crate::storage::Stored;

/// A report file that could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `$GITHUB_OUTPUT`.
    #[error("cannot write the step outputs to `$GITHUB_OUTPUT` ({path})")]
    StepOutputs {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `$GITHUB_STEP_SUMMARY`.
    #[error("cannot write the step summary to `$GITHUB_STEP_SUMMARY` ({path})")]
    StepSummary {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The GitLab dotenv report.
    #[error("cannot write the dotenv report `{}` (`CHAINSEAL_DOTENV`)", path.display())]
    Dotenv {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `CHAINSEAL_RESULT_LOCATIONS` or `CHAINSEAL_RESULT_SUBJECTS`.
    #[error("cannot write the result file `{}`", path.display())]
    ResultFile {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The facts every output is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Storage key.
    pub key: String,
    /// The envelope file, when file storage wrote one.
    pub attestation_path: Option<String>,
    /// `sha256:<hex>` of the Statement bytes.
    pub attestation_digest: String,
    /// `name@alg:hex` per subject digest.
    pub subjects: Vec<String>,
    /// `backend: location` per place stored.
    pub stored: Vec<String>,
    /// The predicate type.
    pub predicate_type: String,
    /// The Sigstore bundle file, when file storage wrote one.
    pub bundle_path: Option<String>,
    /// The attestation's transparency log entry (`<rekor>/api/v1/log/entries?logIndex=N`).
    pub transparency: Option<String>,
    /// The attestation's page in GitHub's attestation store (`github` storage).
    pub attestation_url: Option<String>,
    /// The GitHub artifact metadata storage records made.
    pub storage_record_ids: Vec<String>,
}

impl Report {
    /// The report of a stored attestation.
    pub fn new(
        key: &str,
        statement: &Statement,
        stored: &[Stored],
        transparency: Option<String>,
    ) -> Self {
        let file = |suffix: &str| {
            stored
                .iter()
                .find(|s| s.backend == "file" && s.location.ends_with(suffix))
                .map(|s| s.location.clone())
        };
        let attestation_url = stored
            .iter()
            .find(|s| s.backend == crate::storage::github::BACKEND)
            .map(|s| s.location.clone());
        let record = crate::storage::github::STORAGE_RECORD;
        Self {
            key: key.to_owned(),
            attestation_url,
            storage_record_ids: stored
                .iter()
                .filter(|s| s.backend == record)
                .map(|s| s.location.clone())
                .collect(),
            attestation_path: file(".intoto.jsonl"),
            bundle_path: file(".sigstore.json"),
            transparency,
            attestation_digest: crate::oci::sha256_digest(&statement.to_bytes()),
            subjects: statement
                .subject
                .iter()
                .flat_map(|s| {
                    s.digest
                        .iter()
                        .map(move |(alg, hex)| format!("{}@{alg}:{hex}", s.name))
                })
                .collect(),
            stored: stored
                .iter()
                .filter(|s| s.is_place())
                .map(|s| format!("{}: {}", s.backend, s.location))
                .collect(),
            predicate_type: statement.predicate_type.clone(),
        }
    }

    /// GitHub's id of the attestation: the last part of `attestation_url`.
    pub fn attestation_id(&self) -> Option<&str> {
        self.attestation_url
            .as_deref()
            .and_then(|u| u.rsplit_once('/'))
            .map(|(_, id)| id)
    }

    /// The JSON object of `--output json`.
    pub fn to_json(&self) -> Value {
        json!({
            "attestation-key": self.key,
            "attestation-path": self.attestation_path,
            "attestation-digest": self.attestation_digest,
            "predicate-type": self.predicate_type,
            "subjects": self.subjects,
            "stored": self.stored,
            "bundle-path": self.bundle_path,
            "transparency-log-entry": self.transparency,
            "attestation-id": self.attestation_id(),
            "attestation-url": self.attestation_url,
            "storage-record-ids": self.storage_record_ids,
        })
    }

    /// `$GITHUB_OUTPUT` lines; multi-line values use the heredoc form with a
    /// delimiter that cannot occur in the value.
    pub fn github_outputs(&self) -> String {
        let mut out = String::new();
        let mut put = |name: &str, value: &str| {
            if value.contains('\n') {
                let mut delimiter = format!("CHAINSEAL_EOF_{:016x}", fastrand::u64(..));
                while value.contains(&delimiter) {
                    delimiter = format!("CHAINSEAL_EOF_{:016x}", fastrand::u64(..));
                }
                out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
            } else {
                out.push_str(&format!("{name}={value}\n"));
            }
        };
        put("attestation-key", &self.key);
        put(
            "attestation-path",
            self.attestation_path.as_deref().unwrap_or(""),
        );
        put("attestation-digest", &self.attestation_digest);
        put("subjects", &self.subjects.join("\n"));
        put("stored", &self.stored.join("\n"));
        put("bundle-path", self.bundle_path.as_deref().unwrap_or(""));
        put(
            "transparency-log-entry",
            self.transparency.as_deref().unwrap_or(""),
        );
        put("attestation-id", self.attestation_id().unwrap_or(""));
        put(
            "attestation-url",
            self.attestation_url.as_deref().unwrap_or(""),
        );
        put("storage-record-ids", &self.storage_record_ids.join(","));
        out
    }

    /// The dotenv report for GitLab (`KEY=value`, single-line values).
    pub fn dotenv(&self) -> String {
        let one_line = |v: &str| v.replace(['\n', '\r'], " ");
        [
            (EnvVars::CHAINSEAL_ATTESTATION_KEY, self.key.clone()),
            (
                EnvVars::CHAINSEAL_ATTESTATION_PATH,
                self.attestation_path.clone().unwrap_or_default(),
            ),
            (
                EnvVars::CHAINSEAL_ATTESTATION_DIGEST,
                self.attestation_digest.clone(),
            ),
            (EnvVars::CHAINSEAL_SUBJECTS, self.subjects.join(",")),
            (
                EnvVars::CHAINSEAL_BUNDLE_PATH,
                self.bundle_path.clone().unwrap_or_default(),
            ),
            (
                EnvVars::CHAINSEAL_TRANSPARENCY_LOG_ENTRY,
                self.transparency.clone().unwrap_or_default(),
            ),
        ]
        .into_iter()
        // With `github` storage only (`github://<owner>/<repo>` from GitLab).
        .chain(
            self.attestation_url
                .clone()
                .map(|u| (EnvVars::CHAINSEAL_ATTESTATION_URL, u)),
        )
        .chain(
            self.attestation_id()
                .map(|i| (EnvVars::CHAINSEAL_ATTESTATION_ID, i.to_owned())),
        )
        .map(|(k, v)| format!("{k}={}\n", one_line(&v)))
        .collect()
    }

    /// The Markdown step summary: subjects, where the attestation went, how to
    /// verify it.
    pub fn github_summary(&self) -> String {
        let mut md = String::from("## chainseal: provenance attested\n\n");
        md.push_str(&format!(
            "Predicate type `{}`, statement digest `{}`.\n\n",
            self.predicate_type, self.attestation_digest
        ));
        md.push_str("| Subject | Digest |\n| --- | --- |\n");
        const SHOWN: usize = 50;
        for s in self.subjects.iter().take(SHOWN) {
            let (name, digest) = s.rsplit_once('@').unwrap_or((s, ""));
            md.push_str(&format!(
                "| `{}` | `{digest}` |\n",
                name.replace('|', "\\|")
            ));
        }
        if self.subjects.len() > SHOWN {
            md.push_str(&format!(
                "| … and {} more | |\n",
                self.subjects.len() - SHOWN
            ));
        }
        md.push_str("\n**Stored**\n\n");
        for s in &self.stored {
            md.push_str(&format!("- `{s}`\n"));
        }
        if let Some(url) = &self.attestation_url {
            md.push_str(&format!("\nUploaded to GitHub: <{url}>\n"));
        }
        md.push_str("\n**Verify**\n\n```sh\n");
        if let Some(repo) = self.attestation_url.as_deref().and_then(repository_of) {
            md.push_str(&format!(
                "gh attestation verify <artifact> --repo {repo}  # keyless signatures\n"
            ));
        }
        match &self.attestation_path {
            Some(path) => md.push_str(&format!("chainseal verify --key <public key> {path}\n")),
            None => {
                md.push_str("chainseal verify --key <public key> --image <image>@sha256:<hex>\n")
            }
        }
        md.push_str("```\n");
        md
    }
}

/// `owner/repo` of an attestation page `<server>/<owner>/<repo>/attestations/<id>`.
fn repository_of(url: &str) -> Option<String> {
    let mut parts = url.rsplit('/').skip(2);
    let repo = parts.next()?;
    let owner = parts.next()?;
    Some(format!("{owner}/{repo}"))
}

/// Where the CI platform takes reports: GitHub's step outputs and (when
/// `show_summary`) step summary, or GitLab's dotenv report at `dotenv`; nothing
/// elsewhere.
pub fn write_ci(
    report: &Report,
    env: &Environment,
    show_summary: bool,
    dotenv: &Path,
) -> Result<(), Error> {
    match env.detect() {
        Platform::Github => {
            if let Some(path) = env.get(EnvVars::GITHUB_OUTPUT) {
                append(path.as_ref(), &report.github_outputs()).map_err(|source| {
                    Error::StepOutputs {
                        path: path.to_owned(),
                        source,
                    }
                })?;
            }
            if show_summary && let Some(path) = env.get(EnvVars::GITHUB_STEP_SUMMARY) {
                append(path.as_ref(), &report.github_summary()).map_err(|source| {
                    Error::StepSummary {
                        path: path.to_owned(),
                        source,
                    }
                })?;
            }
        }
        Platform::Gitlab => {
            std::fs::write(dotenv, report.dotenv()).map_err(|source| Error::Dotenv {
                path: dotenv.to_owned(),
                source,
            })?;
        }
        Platform::Generic => {}
    }
    Ok(())
}

/// The result files (`CHAINSEAL_RESULT_LOCATIONS`, `CHAINSEAL_RESULT_SUBJECTS`),
/// e.g. Tekton results: one location, or one `name@alg:hex` subject, per line.
pub fn write_results(
    report: &Report,
    locations: Option<&Path>,
    subjects: Option<&Path>,
) -> Result<(), Error> {
    let write = |path: &Path, lines: &[String]| {
        std::fs::write(path, lines.join("\n")).map_err(|source| Error::ResultFile {
            path: path.to_owned(),
            source,
        })
    };
    if let Some(path) = locations {
        write(path, &report.stored)?;
    }
    if let Some(path) = subjects {
        write(path, &report.subjects)?;
    }
    Ok(())
}

/// Append `text` to the file `path` (GitHub's file commands are appended to).
fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(subjects: &[&str]) -> Report {
        Report {
            key: "github-1-1-abc".into(),
            attestation_path: Some("/w/attestations/x.intoto.jsonl".into()),
            attestation_digest: "sha256:00".into(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            stored: vec!["file: /w/attestations/x.intoto.jsonl".into()],
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            bundle_path: None,
            transparency: None,
            attestation_url: None,
            storage_record_ids: Vec::new(),
        }
    }

    #[test]
    fn ci_reports_go_where_the_platform_takes_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outputs, summary, dotenv) = (
            dir.path().join("out"),
            dir.path().join("summary.md"),
            dir.path().join("report.env"),
        );
        let env = |platform: &[(&str, &str)]| {
            let mut vars: Vec<(String, String)> = platform
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            vars.push(("GITHUB_OUTPUT".into(), outputs.display().to_string()));
            vars.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
            Environment::capture(vars)
        };
        let r = report(&["a@sha256:1"]);
        write_ci(&r, &env(&[]), true, &dotenv).expect("generic");
        assert!(!outputs.exists() && !summary.exists() && !dotenv.exists());
        write_ci(&r, &env(&[("GITHUB_ACTIONS", "true")]), false, &dotenv).expect("github");
        assert!(outputs.exists() && !summary.exists() && !dotenv.exists());
        write_ci(&r, &env(&[("GITLAB_CI", "true")]), true, &dotenv).expect("gitlab");
        assert!(dotenv.exists() && !summary.exists());
        let missing = dir.path().join("no/such/dir/report.env");
        assert!(matches!(
            write_ci(&r, &env(&[("GITLAB_CI", "true")]), true, &missing),
            Err(Error::Dotenv { path, .. }) if path == missing
        ));
    }

    #[test]
    fn result_files_hold_one_line_each() {
        let dir = tempfile::tempdir().expect("tmp");
        let (locations, subjects) = (dir.path().join("loc"), dir.path().join("sub"));
        let r = report(&["a@sha256:1", "b@sha256:2"]);
        write_results(&r, Some(&locations), Some(&subjects)).expect("written");
        assert_eq!(
            std::fs::read_to_string(&subjects).expect("subjects"),
            "a@sha256:1\nb@sha256:2"
        );
        assert!(
            std::fs::read_to_string(&locations)
                .expect("locations")
                .starts_with("file: ")
        );
        assert!(matches!(
            write_results(&r, Some(&dir.path().join("no/loc")), None),
            Err(Error::ResultFile { .. })
        ));
    }

    #[test]
    fn multi_line_outputs_use_a_fresh_delimiter() {
        let r = report(&["a@sha256:1", "b@sha256:2"]);
        let out = r.github_outputs();
        let line = out
            .lines()
            .find(|l| l.starts_with("subjects<<"))
            .expect("heredoc form");
        let delimiter = line.trim_start_matches("subjects<<");
        assert!(out.contains(&format!("a@sha256:1\nb@sha256:2\n{delimiter}\n")));
        assert!(out.contains("attestation-digest=sha256:00\n"));
    }

    #[test]
    fn dotenv_values_are_single_lines() {
        let d = report(&["a@sha256:1", "b@sha256:2"]).dotenv();
        assert!(d.contains("CHAINSEAL_SUBJECTS=a@sha256:1,b@sha256:2\n"));
        assert_eq!(d.lines().count(), 6);
    }

    #[test]
    fn the_summary_lists_subjects_and_how_to_verify() {
        let many: Vec<String> = (0..60).map(|i| format!("f{i}@sha256:{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let md = report(&refs).github_summary();
        assert!(md.contains("| `f0` | `sha256:0` |"));
        assert!(md.contains("… and 10 more"));
        assert!(md.contains("chainseal verify --key <public key> /w/attestations/x.intoto.jsonl"));
    }
}
