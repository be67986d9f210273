//! Policy: what a verified attestation must say, beyond being signed by a trusted
//! signer. Checked only after the signature verified, against the verified Statement
//! and (keyless) the certificate.
//!
//! A [`Policy`] is a list of named rules: the plain requirements of the `verify` flags
//! and of policy files ([`Requirements`]: builder, buildType, source, ref, commit,
//! parameters, subjects, signer workflow, runners) and CEL expressions from policy
//! files ([`cel`]). Every rule is evaluated for every attestation and reported with its
//! name, what it expected and what it observed; a rule that cannot be answered (the
//! buildType does not record what it asks, a CEL expression that fails) is an error,
//! never a pass. [`facts`] says where each buildType keeps what the rules read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

pub mod cel;
pub mod facts;
pub mod file;
pub mod vsa_checks;

pub use facts::BuildFacts;

use super::outcome::Signer;
use crate::error_text::shown;

/// Why a policy cannot be loaded (exit status 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy file could not be read.
    #[error("cannot read policy file `{}`", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A policy file is not a policy.
    #[error("policy file `{}` is not a chainseal policy: {reason} (docs/verify.md, \"Policy files\")", path.display())]
    Malformed {
        /// File.
        path: PathBuf,
        /// Why (the parser's message, with the line).
        reason: String,
    },
    /// A CEL rule does not compile.
    #[error("policy file `{}`, rule `{rule}`: the CEL expression does not compile: {reason}", path.display())]
    Cel {
        /// File.
        path: PathBuf,
        /// The rule's name.
        rule: String,
        /// The parser's message.
        reason: String,
    },
    /// A requirement with an unusable value.
    #[error("invalid {setting} `{value}`: {hint}")]
    Invalid {
        /// The flag or key.
        setting: String,
        /// The value.
        value: String,
        /// What is expected.
        hint: &'static str,
    },
    /// An artifact (`--artifact`) that cannot be read.
    #[error("cannot read artifact `{}`", path.display())]
    Artifact {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The plain requirements: the `verify` flags, or a policy file's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The builder id, exactly.
    pub builder_id: Option<String>,
    /// The buildType, exactly.
    pub build_type: Option<String>,
    /// The source repository (normalised as slsa-verifier does).
    pub source_uri: Option<String>,
    /// The source ref (`refs/heads/…`, `refs/tags/…`, or a bare name matching either).
    pub source_ref: Option<String>,
    /// The source commit (`<hex>` or `<alg>:<hex>`).
    pub source_digest: Option<String>,
    /// Parameters (`NAME`, `VALUE`), each required.
    pub params: Vec<(String, String)>,
    /// Digests (`<alg>:<hex>`) a subject must have, each required; the label says
    /// where it came from (`--subject-digest`, `--artifact <path>`).
    pub subject_digests: Vec<(String, String)>,
    /// The workflow that signed (Fulcio's `buildSignerURI`, as gh checks it).
    pub signer_workflow: Option<String>,
    /// Refuse certificates from self-hosted runners (Fulcio's `runnerEnvironment`).
    pub deny_self_hosted_runners: bool,
    /// VSA checks (`--verifier-id`, `--verified-level`, `--resource-uri`).
    pub vsa: vsa_checks::VsaRequirements,
}

impl Requirements {
    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Check the values that have a syntax.
    pub fn validate(&self, flag: impl Fn(&str) -> String) -> Result<(), Error> {
        for (_, digest) in &self.subject_digests {
            let ok = digest.split_once(':').is_some_and(|(alg, hex)| {
                !alg.is_empty() && !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !ok {
                return Err(Error::Invalid {
                    setting: flag("subject-digest"),
                    value: digest.clone(),
                    hint: "use `<algorithm>:<hex>`, e.g. `sha256:<64 hex digits>`",
                });
            }
        }
        if let Some(digest) = &self.source_digest {
            let value = digest.split_once(':').map_or(digest.as_str(), |(_, v)| v);
            if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
                return Err(Error::Invalid {
                    setting: flag("source-digest"),
                    value: digest.clone(),
                    hint: "use the commit, optionally `sha1:` or `gitCommit:` first",
                });
            }
        }
        self.vsa.validate(&flag)
    }
}

/// How a rule came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It holds.
    Passed,
    /// It does not hold.
    Failed,
    /// It cannot be answered (counts as not holding).
    Error,
}

impl Status {
    /// `passed`, `failed` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
        }
    }
}

/// What kind of rule a result is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A plain requirement, by its flag's name (`builder-id`, `source-ref`, …).
    Requirement(&'static str),
    /// A CEL rule of a policy file.
    Cel,
    /// The rule every VSA is held to (`verificationResult` is `PASSED`).
    VsaPassed,
}

/// One rule's result for one attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    /// The rule's name (`--builder-id`, `policy.yaml: reviewed`).
    pub rule: String,
    /// What kind of rule it is (a CEL rule's name says nothing about what it checks).
    pub kind: RuleKind,
    /// How it came out.
    pub status: Status,
    /// What it expected.
    pub expected: String,
    /// What the attestation says (or why it cannot be answered).
    pub observed: String,
}

/// What the rules read: the verified Statement, what it says about its build, and
/// who signed it.
pub struct Input<'a> {
    /// The verified Statement.
    pub statement: &'a Value,
    /// What it says about its build.
    pub facts: BuildFacts,
    /// The certificate's signer (keyless), or `None` (a key).
    pub signer: Option<&'a Signer>,
}

impl<'a> Input<'a> {
    /// The input for a verified Statement.
    pub fn new(statement: &'a Value, signer: Option<&'a Signer>) -> Self {
        Self {
            statement,
            facts: BuildFacts::read(statement),
            signer,
        }
    }

    /// The variables CEL rules see: `statement`, `predicateType`, `predicate`,
    /// `subjects`, `build` and `signer`.
    pub fn variables(&self) -> BTreeMap<&'static str, Value> {
        let signer = Signer::to_json(self.signer);
        BTreeMap::from([
            ("statement", self.statement.clone()),
            (
                "predicateType",
                Value::String(self.facts.predicate_type.clone()),
            ),
            (
                "predicate",
                self.statement
                    .get("predicate")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            (
                "subjects",
                self.statement
                    .get("subject")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new())),
            ),
            ("build", self.facts.to_json()),
            ("signer", signer),
        ])
    }
}

/// Every rule an attestation must pass: the flags' requirements, then each policy
/// file's requirements and CEL rules.
#[derive(Debug, Default)]
pub struct Policy {
    /// The flags' requirements (rules named after the flags).
    pub flags: Requirements,
    /// The policy files, in the order given.
    pub files: Vec<file::PolicyFile>,
}

impl Policy {
    /// Load policy files (every file read and every rule compiled before anything is
    /// verified).
    pub fn with_files(flags: Requirements, paths: &[PathBuf]) -> Result<Self, Error> {
        flags.validate(|f| format!("`--{f}`"))?;
        let files = paths
            .iter()
            .map(|p| file::PolicyFile::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { flags, files })
    }

    /// Every rule's result for one verified attestation.
    pub fn evaluate(&self, input: &Input<'_>) -> Vec<RuleResult> {
        let mut results: Vec<RuleResult> = vsa_checks::passed_rule(input).into_iter().collect();
        results.extend(check(&self.flags, input, |name| format!("--{name}")));
        let context = self
            .files
            .iter()
            .any(|f| !f.rules.is_empty())
            .then(|| cel::context(input));
        for f in &self.files {
            let shown = f.path.display().to_string();
            results.extend(check(&f.requirements, input, |name| {
                format!("{shown}: {}", file_key(name))
            }));
            if let Some(context) = &context {
                results.extend(f.rules.evaluate(context, &shown));
            }
        }
        results
    }
}

/// A flag's name as a policy file's key (`source-digest` → `source.digest`,
/// `builder-id` → `builderId`).
pub fn file_key(flag: &str) -> String {
    match flag {
        "source-uri" => "source.uri".into(),
        "source-ref" => "source.ref".into(),
        "source-digest" => "source.digest".into(),
        "param" => "params".into(),
        "subject-digest" => "subjectDigests".into(),
        "verifier-id" | "verified-level" | "resource-uri" => format!("vsa.{}", camel(flag)),
        other => camel(other),
    }
}

fn camel(flag: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in flag.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn result(
    rule: String,
    kind: RuleKind,
    passed: bool,
    expected: &str,
    observed: String,
) -> RuleResult {
    RuleResult {
        rule,
        kind,
        status: if passed {
            Status::Passed
        } else {
            Status::Failed
        },
        expected: expected.to_owned(),
        observed: shown(&observed),
    }
}

fn unanswerable(rule: String, kind: RuleKind, expected: &str, why: String) -> RuleResult {
    RuleResult {
        rule,
        kind,
        status: Status::Error,
        expected: expected.to_owned(),
        observed: why,
    }
}

fn or_none(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), str::to_owned)
}

fn listed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = values.collect();
    if all.is_empty() {
        "(none)".to_owned()
    } else {
        all.join(", ")
    }
}

/// The requirements' rules, named by `name` (from the flag's name).
fn check(req: &Requirements, input: &Input<'_>, name: impl Fn(&str) -> String) -> Vec<RuleResult> {
    let facts = &input.facts;
    let build_type = if facts.build_type.is_empty() {
        "(none)".to_owned()
    } else {
        shown(&facts.build_type)
    };
    let mut out = Vec::new();
    let req_kind = RuleKind::Requirement;
    if let Some(want) = &req.builder_id {
        out.push(result(
            name("builder-id"),
            req_kind("builder-id"),
            facts.builder_id.as_deref() == Some(want.as_str()),
            want,
            or_none(facts.builder_id.as_deref()),
        ));
    }
    if let Some(want) = &req.build_type {
        out.push(result(
            name("build-type"),
            req_kind("build-type"),
            facts.build_type == *want,
            want,
            build_type.clone(),
        ));
    }
    out.extend(source_rules(req, facts, &build_type, &name));
    for (param, want) in &req.params {
        let rule = format!("{} {param}", name("param"));
        out.push(if facts.knows_params() {
            let seen = facts.params.get(param).map(facts::param_text);
            result(
                rule,
                req_kind("param"),
                seen.as_deref() == Some(want.as_str()),
                want,
                seen.unwrap_or_else(|| "(not set)".to_owned()),
            )
        } else {
            unanswerable(
                rule,
                req_kind("param"),
                want,
                not_recorded(&build_type, "parameters"),
            )
        });
    }
    // The subjects' digests as `alg:hex`, read once for every required digest.
    let subjects: Vec<String> = match req.subject_digests.is_empty() {
        true => Vec::new(),
        false => input
            .statement
            .get("subject")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|s| {
                s.get("digest")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(alg, hex)| format!("{alg}:{}", hex.as_str().unwrap_or("")))
            })
            .collect(),
    };
    for (label, want) in &req.subject_digests {
        out.push(result(
            format!("{} {label}", name("subject-digest")),
            req_kind("subject-digest"),
            subjects.iter().any(|s| s.eq_ignore_ascii_case(want)),
            want,
            listed(subjects.iter().map(String::as_str)),
        ));
    }
    let keyless_only = |rule: String, kind: RuleKind, want: &str| {
        unanswerable(
            rule,
            kind,
            want,
            "signed with a key: only a keyless signature's certificate says this".to_owned(),
        )
    };
    if let Some(want) = &req.signer_workflow {
        let rule = name("signer-workflow");
        let kind = req_kind("signer-workflow");
        out.push(match input.signer {
            None => keyless_only(rule, kind, want),
            Some(s) => {
                let seen = s.claims.get("buildSignerURI");
                result(
                    rule,
                    kind,
                    seen.is_some_and(|uri| workflow_matches(uri, want)),
                    want,
                    or_none(seen.map(String::as_str)),
                )
            }
        });
    }
    if req.deny_self_hosted_runners {
        let rule = name("deny-self-hosted-runners");
        let want = "github-hosted or gitlab-hosted";
        let kind = req_kind("deny-self-hosted-runners");
        out.push(match input.signer {
            None => keyless_only(rule, kind, want),
            Some(s) => {
                let seen = s.claims.get("runnerEnvironment");
                result(
                    rule,
                    kind,
                    seen.is_some_and(|r| r == "github-hosted" || r == "gitlab-hosted"),
                    want,
                    or_none(seen.map(String::as_str)),
                )
            }
        });
    }
    out.extend(req.vsa.check(input, &name));
    out
}

fn not_recorded(build_type: &str, what: &str) -> String {
    format!(
        "buildType `{build_type}` does not say where its {what} is: check it with a CEL rule (docs/verify.md)"
    )
}

/// The source rules (`--source-uri`, `--source-ref`, `--source-digest`): they hold
/// only when one source meets every one of them given (a ref of one repository and a
/// commit of another prove nothing together). When none does, every given rule fails;
/// each reports what the sources say.
fn source_rules(
    req: &Requirements,
    facts: &BuildFacts,
    build_type: &str,
    name: &impl Fn(&str) -> String,
) -> Vec<RuleResult> {
    let wanted_repo = req.source_uri.as_deref().map(facts::normalize_repository);
    let repo_ok = |s: &facts::Source| wanted_repo.as_ref().is_none_or(|r| s.repository == *r);
    let ref_ok = |s: &facts::Source| {
        req.source_ref.as_deref().is_none_or(|want| {
            s.git_ref
                .as_deref()
                .is_some_and(|r| facts::ref_matches(r, want))
        })
    };
    let digest_ok = |s: &facts::Source| {
        req.source_digest
            .as_deref()
            .is_none_or(|want| facts::digest_matches(&s.digest, want))
    };
    let all_hold = facts
        .sources
        .iter()
        .any(|s| repo_ok(s) && ref_ok(s) && digest_ok(s));
    let mut out = Vec::new();
    let kind = RuleKind::Requirement;
    let together = |seen: String| {
        if all_hold {
            seen
        } else {
            format!("{seen} (no one source has every source requirement)")
        }
    };
    if let Some(want) = &req.source_uri {
        out.push(if facts.knows_source() {
            let seen = listed(facts.sources.iter().map(|s| s.repository.as_str()));
            let any = facts.sources.iter().any(repo_ok);
            result(
                name("source-uri"),
                kind("source-uri"),
                all_hold,
                want,
                if any { together(seen) } else { seen },
            )
        } else {
            unanswerable(
                name("source-uri"),
                kind("source-uri"),
                want,
                not_recorded(build_type, "source"),
            )
        });
    }
    if let Some(want) = &req.source_ref {
        out.push(if facts.knows_ref() {
            let seen = listed(facts.sources.iter().filter_map(|s| s.git_ref.as_deref()));
            let any = facts.sources.iter().any(ref_ok);
            result(
                name("source-ref"),
                kind("source-ref"),
                all_hold,
                want,
                if any { together(seen) } else { seen },
            )
        } else if facts.knows_source() {
            unanswerable(
                name("source-ref"),
                kind("source-ref"),
                want,
                format!("buildType `{build_type}` records the source's commit, not its ref: require the commit (`--source-digest`, `source.digest`)"),
            )
        } else {
            unanswerable(name("source-ref"), kind("source-ref"), want, not_recorded(build_type, "source"))
        });
    }
    if let Some(want) = &req.source_digest {
        out.push(if facts.knows_source() {
            let seen = listed(
                facts
                    .sources
                    .iter()
                    .flat_map(|s| s.digest.values().map(String::as_str)),
            );
            let any = facts.sources.iter().any(digest_ok);
            result(
                name("source-digest"),
                kind("source-digest"),
                all_hold,
                want,
                if any { together(seen) } else { seen },
            )
        } else {
            unanswerable(
                name("source-digest"),
                kind("source-digest"),
                want,
                not_recorded(build_type, "source"),
            )
        });
    }
    out
}

/// Whether a certificate's build signer (`https://github.com/acme/app/.github/
/// workflows/release.yml@refs/heads/main`) is the workflow `want`: `[host/]owner/repo/
/// path`, the host github.com when not given; with `@<ref>`, that ref too.
pub fn workflow_matches(build_signer_uri: &str, want: &str) -> bool {
    let strip = |s: &str| {
        let s = s.trim();
        s.strip_prefix("https://").unwrap_or(s).to_owned()
    };
    let seen = strip(build_signer_uri);
    let mut want = strip(want);
    let first = want.split('/').next().unwrap_or("");
    if !first.contains('.') {
        want = format!("github.com/{want}");
    }
    if want.contains('@') {
        seen == want
    } else {
        seen.split_once('@').map_or(seen.as_str(), |(path, _)| path) == want
    }
}

/// Read `path` and hash it (SHA-256, streamed), for `--artifact`.
pub fn artifact_digest(path: &Path) -> Result<String, Error> {
    crate::subjects::sha256_file(path, &mut vec![0u8; 1 << 20])
        .map(|hex| format!("sha256:{hex}"))
        .map_err(|source| Error::Artifact {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_workflows_match_as_gh_matches_them() {
        let uri = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
        assert!(workflow_matches(
            uri,
            "acme/app/.github/workflows/release.yml"
        ));
        assert!(workflow_matches(
            uri,
            "github.com/acme/app/.github/workflows/release.yml"
        ));
        assert!(workflow_matches(
            uri,
            "acme/app/.github/workflows/release.yml@refs/heads/main"
        ));
        assert!(!workflow_matches(
            uri,
            "acme/app/.github/workflows/release.yml@refs/heads/dev"
        ));
        assert!(!workflow_matches(uri, "acme/app/.github/workflows/release"));
        assert!(!workflow_matches(uri, "acme/app"));
        assert!(!workflow_matches(
            uri,
            "ghe.example/acme/app/.github/workflows/release.yml"
        ));
    }

    #[test]
    fn flags_become_policy_file_keys() {
        assert_eq!(file_key("source-digest"), "source.digest");
        assert_eq!(file_key("builder-id"), "builderId");
        assert_eq!(file_key("verified-level"), "vsa.verifiedLevel");
        assert_eq!(camel("deny-self-hosted-runners"), "denySelfHostedRunners");
    }

    #[test]
    fn long_observed_values_are_cut() {
        let long = "é".repeat(300);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.ends_with('…'));
    }
}
