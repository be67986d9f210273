//! Tekton Chains type hinting: which results name the artifacts a run built
//! (subjects) and consumed (inputs). Rules from tektoncd/chains `pkg/artifacts` and
//! `pkg/chains/formats/slsa/extract` (see `docs/chains-compatibility.md`).
//!
//! * `*IMAGE_URL` + `*IMAGE_DIGEST` (same prefix) and `IMAGES` (comma/newline list of
//!   `repo@sha256:hex`) name images; names are normalised ([`DigestReference`]).
//! * `*ARTIFACT_OUTPUTS` objects `{uri, digest, isBuildArtifact: "true"}` are build
//!   artifacts; `*ARTIFACT_INPUTS` objects `{uri, digest}` are inputs.
//! * Under the older rules ([`SubjectRules::Legacy`]: SLSA v0.2, `slsa/v2alpha3`),
//!   `*ARTIFACT_URI` + `*ARTIFACT_DIGEST` pairs and every valid `*ARTIFACT_OUTPUTS`
//!   (whatever its `isBuildArtifact`) are subjects too.
//! * `CHAINS-GIT_URL` / `CHAINS-GIT_COMMIT` name the source repository.
//!
//! Every decision is recorded as a [`Finding`] (subject, input, byproduct, or skipped
//! with the reason; `--explain` prints them). Invalid hints are skipped, never fatal.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use thiserror::Error;

use super::model::{ParamSpec, RunResult, spec_params};
use crate::provenance::digest::{DigestError, Rules, parse_digest};
use crate::provenance::statement::{ResourceDescriptor, append_material, append_subject};
use crate::reference::DigestReference;

/// Why an artifact object result (`{uri, digest}`) is not used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArtifactError {
    /// Not an object of strings.
    #[error("value is not an object of strings")]
    NotAnObject,
    /// A `*ARTIFACT_OUTPUTS` value that is not an object of strings.
    #[error(
        "value is not an object of strings (note: `isBuildArtifact` must be the string \"true\")"
    )]
    NotAnOutputObject,
    /// `uri` or `digest` missing or empty.
    #[error("needs non-empty `uri` and `digest`")]
    Incomplete,
    /// A digest Chains' rules refuse.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A malformed build artifact (`isBuildArtifact: "true"`).
    #[error("a build artifact {0}")]
    BuildArtifact(Box<ArtifactError>),
}

/// What happened to one result or parameter (one line of `--explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// It named a subject.
    Subject,
    /// It named an input (material / resolved dependency).
    Input,
    /// It was recorded as a byproduct.
    Byproduct,
    /// It was skipped because it is malformed; logged as a warning.
    Skipped,
}

/// A type-hint decision: what a result or parameter became, or why it was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where, e.g. `taskRunResults/build/IMAGE_DIGEST`.
    pub source: String,
    /// What became of it.
    pub kind: FindingKind,
    /// Details: the subject or input named, or what was wrong.
    pub message: String,
}

impl Finding {
    /// A skipped hint (a warning).
    pub fn skipped(source: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(source, FindingKind::Skipped, message)
    }

    /// Any decision.
    pub fn new(source: impl Into<String>, kind: FindingKind, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            kind,
            message: message.into(),
        }
    }

    /// Whether this is a warning.
    pub fn is_skipped(&self) -> bool {
        self.kind == FindingKind::Skipped
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            FindingKind::Subject => "subject",
            FindingKind::Input => "input",
            FindingKind::Byproduct => "byproduct",
            FindingKind::Skipped => "skipped",
        };
        write!(f, "{}: {what}: {}", self.source, self.message)
    }
}

/// A Tekton parameter/result value as Tekton decodes it (`v1.ParamValue`): a
/// string, an array of strings or a string map. Anything else (numbers, nested
/// values, `isBuildArtifact: true` as a boolean) decodes as a string holding the raw
/// JSON text; `null` as the empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// A string.
    String(String),
    /// An array of strings.
    Array(Vec<String>),
    /// An object of strings.
    Object(BTreeMap<String, String>),
}

impl ParamValue {
    /// Decode as Tekton does.
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Self::String(String::new()),
            Value::String(s) => Self::String(s.clone()),
            Value::Array(items) => match items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
            {
                Some(strings) => Self::Array(strings),
                None => Self::String(value.to_string()),
            },
            Value::Object(map) => match map
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect::<Option<BTreeMap<_, _>>>()
            {
                Some(obj) => Self::Object(obj),
                None => Self::String(value.to_string()),
            },
            Value::Bool(_) | Value::Number(_) => Self::String(value.to_string()),
        }
    }

    /// The string value; empty for arrays and objects (Tekton's `StringVal`).
    pub fn string_val(&self) -> &str {
        match self {
            Self::String(s) => s,
            _ => "",
        }
    }
}

const ARTIFACT_OUTPUTS: &str = "ARTIFACT_OUTPUTS";
const ARTIFACT_INPUTS: &str = "ARTIFACT_INPUTS";

/// Whether a result name is an image type hint (`*IMAGE_URL`, `*IMAGE_DIGEST`, `IMAGES`).
pub fn is_image_hint(name: &str) -> bool {
    name.ends_with("IMAGE_URL") || name.ends_with("IMAGE_DIGEST") || name == "IMAGES"
}

/// Classify a `*ARTIFACT_OUTPUTS` result: `Ok(Some(descriptor))` for a valid build
/// artifact, `Ok(None)` when it is not one (not `*ARTIFACT_OUTPUTS`, or
/// `isBuildArtifact` is not the string `"true"`), `Err` when it is malformed.
pub fn build_artifact(result: &RunResult) -> Result<Option<ResourceDescriptor>, ArtifactError> {
    if !result.name.ends_with(ARTIFACT_OUTPUTS) {
        return Ok(None);
    }
    let ParamValue::Object(obj) = ParamValue::from_json(&result.value) else {
        return Err(ArtifactError::NotAnOutputObject);
    };
    if obj.get("isBuildArtifact").map(String::as_str) != Some("true") {
        return Ok(None);
    }
    // Chains keeps the digest as written (split on `:`), not the normalised form.
    artifact_object(result)
        .map(Some)
        .map_err(|e| ArtifactError::BuildArtifact(Box::new(e)))
}

/// Which subject rules apply to a results list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectRules {
    /// `slsa/v2alpha4`: build artifacts (`*ARTIFACT_OUTPUTS` with `isBuildArtifact:
    /// "true"`), then images.
    BuildArtifacts,
    /// `slsa/v0.2` and `slsa/v2alpha3`: images, then `*ARTIFACT_URI`/`*ARTIFACT_DIGEST`
    /// pairs, then every valid `*ARTIFACT_OUTPUTS` whatever its `isBuildArtifact`.
    Legacy,
}

/// Subjects named by one list of results, merged into `out`.
///
/// Images are, in order: `*IMAGE_URL`/`*IMAGE_DIGEST` pairs (in order of first
/// appearance; Chains uses Go map order), `IMAGES` items, then build artifacts again as
/// normalised image names (so a build artifact `abc` also gives
/// `index.docker.io/library/abc`, as in Chains).
pub fn subjects(
    results: &[RunResult],
    origin: &str,
    rules: SubjectRules,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    let at = |name: &str| format!("{origin}/{name}");
    let mut artifacts = Vec::new();
    for r in results {
        match build_artifact(r) {
            Ok(Some(d)) => artifacts.push((r.name.as_str(), d)),
            Ok(None) => {}
            Err(e) => {
                // Legacy rules re-check every `*ARTIFACT_OUTPUTS` below and report there.
                if rules == SubjectRules::BuildArtifacts {
                    findings.push(Finding::skipped(at(&r.name), e.to_string()));
                }
            }
        }
    }
    if rules == SubjectRules::BuildArtifacts {
        for (name, a) in &artifacts {
            findings.push(Finding::new(at(name), FindingKind::Subject, describe(a)));
            append_subject(out, a.clone());
        }
    }

    let mut seen = HashSet::new();
    for (source, reference) in images(results, origin, findings) {
        let note = if seen.insert(reference.to_string()) {
            append_subject(
                out,
                ResourceDescriptor {
                    name: reference.name(),
                    digest: BTreeMap::from([("sha256".to_owned(), reference.sha256.clone())]),
                    ..ResourceDescriptor::default()
                },
            );
            format!("image {reference}")
        } else {
            format!("image {reference} (already a subject)")
        };
        findings.push(Finding::new(source, FindingKind::Subject, note));
    }

    if rules == SubjectRules::Legacy {
        for (prefix, uri, digest) in pairs(results, "ARTIFACT_URI", "ARTIFACT_DIGEST") {
            let Some(source) = check_pair(
                &at,
                &prefix,
                ("ARTIFACT_URI", &uri),
                ("ARTIFACT_DIGEST", &digest),
                findings,
            ) else {
                continue;
            };
            match parse_digest(&digest, Rules::CHAINS) {
                Ok(_) => {
                    let (alg, hex) = digest.split_once(':').unwrap_or((&digest, ""));
                    let d = ResourceDescriptor {
                        name: uri.clone(),
                        digest: BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
                        ..ResourceDescriptor::default()
                    };
                    findings.push(Finding::new(source, FindingKind::Subject, describe(&d)));
                    append_subject(out, d);
                }
                Err(e) => findings.push(Finding::skipped(source, e.to_string())),
            }
        }
        for r in results
            .iter()
            .filter(|r| r.name.ends_with(ARTIFACT_OUTPUTS))
        {
            match artifact_object(r) {
                Ok(d) => {
                    findings.push(Finding::new(
                        at(&r.name),
                        FindingKind::Subject,
                        describe(&d),
                    ));
                    append_subject(out, d);
                }
                Err(e) => findings.push(Finding::skipped(at(&r.name), e.to_string())),
            }
        }
    }
}

/// The images one results list names, with where each was found, in Chains' order:
/// `*IMAGE_URL`/`*IMAGE_DIGEST` pairs (in order of first appearance; Chains uses Go map
/// order), `IMAGES` items, then build artifacts (`*ARTIFACT_OUTPUTS`, `isBuildArtifact:
/// "true"`) whose `uri@digest` is an image reference. Duplicates are kept; invalid
/// pairs and `IMAGES` items are reported.
pub fn images(
    results: &[RunResult],
    origin: &str,
    findings: &mut Vec<Finding>,
) -> Vec<(String, DigestReference)> {
    let at = |name: &str| format!("{origin}/{name}");
    let mut out = Vec::new();
    for (prefix, url, digest) in pairs(results, "IMAGE_URL", "IMAGE_DIGEST") {
        if let Some(source) = check_pair(
            &at,
            &prefix,
            ("IMAGE_URL", &url),
            ("IMAGE_DIGEST", &digest),
            findings,
        ) {
            match DigestReference::parse(&format!("{url}@{digest}")) {
                Ok(r) => out.push((source, r)),
                Err(e) => findings.push(Finding::skipped(source, e.to_string())),
            }
        }
    }
    for r in results.iter().filter(|r| r.name == "IMAGES") {
        let value = ParamValue::from_json(&r.value);
        for item in value
            .string_val()
            .split([',', '\n'])
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            match DigestReference::parse(item) {
                Ok(reference) => out.push((at("IMAGES"), reference)),
                Err(e) => findings.push(Finding::skipped(at("IMAGES"), e.to_string())),
            }
        }
    }
    for r in results {
        if let Ok(Some(a)) = build_artifact(r)
            && let Some((alg, hex)) = a.digest.iter().next()
            && let Ok(reference) = DigestReference::parse(&format!("{}@{alg}:{hex}", a.name))
        {
            out.push((at(&r.name), reference));
        }
    }
    out
}

/// Report an incomplete `<prefix><url>` / `<prefix><digest>` pair; `Some(source)` when
/// both halves are present.
fn check_pair(
    at: &dyn Fn(&str) -> String,
    prefix: &str,
    (url_name, url): (&str, &str),
    (digest_name, digest): (&str, &str),
    findings: &mut Vec<Finding>,
) -> Option<String> {
    match (url.is_empty(), digest.is_empty()) {
        (true, true) => None,
        (false, true) => {
            findings.push(Finding::skipped(
                at(&format!("{prefix}{url_name}")),
                format!("no matching `{prefix}{digest_name}`"),
            ));
            None
        }
        (true, false) => {
            findings.push(Finding::skipped(
                at(&format!("{prefix}{digest_name}")),
                format!("no matching `{prefix}{url_name}`"),
            ));
            None
        }
        (false, false) => Some(at(&format!("{prefix}{url_name} + {prefix}{digest_name}"))),
    }
}

/// A `{uri, digest}` object result as a descriptor named by its URI, the digest kept
/// as written (`isBuildArtifact` not considered).
fn artifact_object(result: &RunResult) -> Result<ResourceDescriptor, ArtifactError> {
    let ParamValue::Object(obj) = ParamValue::from_json(&result.value) else {
        return Err(ArtifactError::NotAnObject);
    };
    let uri = obj.get("uri").map(String::as_str).unwrap_or("");
    let digest = obj.get("digest").map(String::as_str).unwrap_or("");
    if uri.is_empty() || digest.is_empty() {
        return Err(ArtifactError::Incomplete);
    }
    parse_digest(digest, Rules::CHAINS)?;
    let (alg, hex) = digest.split_once(':').unwrap_or((digest, ""));
    Ok(ResourceDescriptor {
        name: uri.to_owned(),
        digest: BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
        ..ResourceDescriptor::default()
    })
}

/// `name alg:hex …` of a descriptor, for `--explain`.
pub fn describe(d: &ResourceDescriptor) -> String {
    let name = if d.uri.is_empty() { &d.name } else { &d.uri };
    let digests: Vec<String> = d.digest.iter().map(|(a, h)| format!("{a}:{h}")).collect();
    format!("{name} {}", digests.join(" "))
}

/// `<prefix><url_suffix>` / `<prefix><digest_suffix>` string results paired by prefix,
/// in order of the prefix's first appearance; values trimmed, later results overriding
/// earlier ones. Returns `(prefix, url, digest)`.
fn pairs(
    results: &[RunResult],
    url_suffix: &str,
    digest_suffix: &str,
) -> Vec<(String, String, String)> {
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    for r in results {
        let (prefix, is_url) = if let Some(p) = r.name.strip_suffix(url_suffix) {
            (p, true)
        } else if let Some(p) = r.name.strip_suffix(digest_suffix) {
            (p, false)
        } else {
            continue;
        };
        let value = ParamValue::from_json(&r.value)
            .string_val()
            .trim()
            .to_owned();
        let pair = match pairs.iter().position(|(p, _, _)| p == prefix) {
            Some(i) => pairs.get_mut(i),
            None => {
                pairs.push((prefix.to_owned(), String::new(), String::new()));
                pairs.last_mut()
            }
        };
        if let Some(pair) = pair {
            if is_url {
                pair.1 = value;
            } else {
                pair.2 = value;
            }
        }
    }
    pairs
}

/// Inputs named by `*ARTIFACT_INPUTS` object results, merged into `out` with the
/// given descriptor name.
pub fn artifact_inputs(
    results: &[RunResult],
    origin: &str,
    name: &str,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    for r in results.iter().filter(|r| r.name.ends_with(ARTIFACT_INPUTS)) {
        let problem = match ParamValue::from_json(&r.value) {
            ParamValue::Object(obj) => {
                let uri = obj.get("uri").map(String::as_str).unwrap_or("");
                let digest = obj.get("digest").map(String::as_str).unwrap_or("");
                if uri.is_empty() || digest.is_empty() {
                    Some("an input needs non-empty `uri` and `digest`".to_owned())
                } else {
                    match parse_digest(digest, Rules::CHAINS) {
                        Ok((alg, hex)) => {
                            let d = ResourceDescriptor {
                                name: name.to_owned(),
                                uri: uri.to_owned(),
                                digest: BTreeMap::from([(alg.to_owned(), hex)]),
                                ..ResourceDescriptor::default()
                            };
                            findings.push(Finding::new(
                                format!("{origin}/{}", r.name),
                                FindingKind::Input,
                                describe(&d),
                            ));
                            append_material(out, d);
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
            _ => Some("value is not an object of strings".to_owned()),
        };
        if let Some(message) = problem {
            findings.push(Finding::skipped(format!("{origin}/{}", r.name), message));
        }
    }
}

/// Tracks `CHAINS-GIT_URL` / `CHAINS-GIT_COMMIT` through successive sources; a later
/// source overrides an earlier one, even with an empty value (as Chains does).
#[derive(Debug, Default, Clone)]
pub struct GitSource {
    url: String,
    commit: String,
}

impl GitSource {
    /// Apply one `name = value` (param default, param or result).
    pub fn apply(&mut self, name: &str, value: &Value) {
        let value = ParamValue::from_json(value).string_val().to_owned();
        match name {
            "CHAINS-GIT_URL" => self.url = value,
            "CHAINS-GIT_COMMIT" => self.commit = value,
            _ => {}
        }
    }

    /// The git pair of a run: its spec's parameter defaults, then `spec.params`,
    /// then its results, each overriding the previous.
    pub fn from_run(defaults: &[ParamSpec], spec: &Value, results: &[RunResult]) -> Self {
        let mut git = Self::default();
        for p in defaults {
            if let Some(default) = &p.default {
                git.apply(&p.name, default);
            }
        }
        for p in spec_params(spec) {
            git.apply(&p.name, &p.value);
        }
        for r in results {
            git.apply(&r.name, &r.value);
        }
        git
    }

    /// [`Self::material`], noted as an input found at `origin`.
    pub fn material_noted(
        &self,
        name: &str,
        origin: &str,
        findings: &mut Vec<Finding>,
    ) -> Option<ResourceDescriptor> {
        let m = self.material(name)?;
        findings.push(Finding::new(
            format!("{origin}/CHAINS-GIT_URL + CHAINS-GIT_COMMIT"),
            FindingKind::Input,
            describe(&m),
        ));
        Some(m)
    }

    /// The source material, when both URL and commit are known:
    /// `git+<url>.git` with digest `{sha1: commit}` (the commit is not validated).
    pub fn material(&self, name: &str) -> Option<ResourceDescriptor> {
        if self.url.is_empty() || self.commit.is_empty() {
            return None;
        }
        let mut uri = self.url.clone();
        if !uri.starts_with("git+") {
            uri.insert_str(0, "git+");
        }
        if !uri.ends_with(".git") {
            uri.push_str(".git");
        }
        Some(ResourceDescriptor {
            name: name.to_owned(),
            uri,
            digest: BTreeMap::from([("sha1".to_owned(), self.commit.clone())]),
            ..ResourceDescriptor::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const H1: &str = "d31cc8328054de2bd93735f9cbf0ccfb6e0ee8f4c4225da7d8f8cb3900eaf466";
    const H2: &str = "827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7";

    fn r(name: &str, value: Value) -> RunResult {
        RunResult {
            name: name.into(),
            kind: None,
            value,
        }
    }

    fn names(list: &[ResourceDescriptor]) -> Vec<&str> {
        list.iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn param_values_decode_as_tekton_does() {
        assert_eq!(
            ParamValue::from_json(&json!(null)),
            ParamValue::String(String::new())
        );
        assert_eq!(
            ParamValue::from_json(&json!(5)),
            ParamValue::String("5".into())
        );
        assert_eq!(
            ParamValue::from_json(&json!(["a"])),
            ParamValue::Array(vec!["a".into()])
        );
        assert_eq!(
            ParamValue::from_json(&json!({"isBuildArtifact": true})),
            ParamValue::String(r#"{"isBuildArtifact":true}"#.into())
        );
    }

    #[test]
    fn image_pairs_images_and_build_artifacts_in_chains_order() {
        let results = vec![
            r("second-IMAGE_URL", json!("gcr.io/b/img ")),
            r(
                "IMAGES",
                json!(format!("busybox@sha256:{H1}\n, gcr.io/c/img@sha256:{H2}")),
            ),
            r("second-IMAGE_DIGEST", json!(format!("sha256:{H1}"))),
            r(
                "x-ARTIFACT_OUTPUTS",
                json!({"uri": "abc", "digest": format!("sha256:{H2}"), "isBuildArtifact": "true"}),
            ),
        ];
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        subjects(
            &results,
            "taskRunResults/t",
            SubjectRules::BuildArtifacts,
            &mut out,
            &mut findings,
        );
        assert_eq!(
            names(&out),
            vec![
                "abc",
                "gcr.io/b/img",
                "index.docker.io/library/busybox",
                "gcr.io/c/img",
                "index.docker.io/library/abc"
            ]
        );
        assert!(!findings.iter().any(Finding::is_skipped), "{findings:?}");
        assert_eq!(
            findings
                .iter()
                .filter(|f| f.kind == FindingKind::Subject)
                .count(),
            5,
            "every subject is explained: {findings:?}"
        );
    }

    #[test]
    fn invalid_hints_are_skipped_with_findings() {
        let results = vec![
            r("IMAGE_URL", json!("gcr.io/my/image")),
            r("IMAGE_DIGEST", json!("sha256:notahexdigest")),
            r("lonely-IMAGE_URL", json!("gcr.io/x/y")),
            r(
                "bad-ARTIFACT_OUTPUTS",
                json!({"uri": "x", "digest": "md5:00", "isBuildArtifact": "true"}),
            ),
            r(
                "bool-ARTIFACT_OUTPUTS",
                json!({"uri": "x", "digest": format!("sha256:{H1}"), "isBuildArtifact": true}),
            ),
            r("IMAGES", json!("not-a-ref")),
        ];
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        subjects(
            &results,
            "taskRunResults/t",
            SubjectRules::BuildArtifacts,
            &mut out,
            &mut findings,
        );
        assert!(out.is_empty(), "{out:?}");
        assert!(findings.iter().all(Finding::is_skipped), "{findings:?}");
        let sources: Vec<_> = findings.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(
            sources,
            vec![
                "taskRunResults/t/bad-ARTIFACT_OUTPUTS",
                "taskRunResults/t/bool-ARTIFACT_OUTPUTS",
                "taskRunResults/t/IMAGE_URL + IMAGE_DIGEST",
                "taskRunResults/t/lonely-IMAGE_URL",
                "taskRunResults/t/IMAGES"
            ]
        );
    }

    #[test]
    fn legacy_rules_add_artifact_uri_pairs_and_every_artifact_output() {
        let results = vec![
            r("x-ARTIFACT_URI", json!("https://example.com/file.tgz")),
            r("x-ARTIFACT_DIGEST", json!(format!("sha256:{H1}"))),
            r(
                "o-ARTIFACT_OUTPUTS",
                json!({"uri": "busybox", "digest": format!("sha256:{H2}"), "isBuildArtifact": "true"}),
            ),
            r(
                "n-ARTIFACT_OUTPUTS",
                json!({"uri": "gcr.io/n/m", "digest": format!("sha256:{H2}")}),
            ),
        ];
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        subjects(&results, "o", SubjectRules::Legacy, &mut out, &mut findings);
        assert_eq!(
            names(&out),
            vec![
                "index.docker.io/library/busybox",
                "https://example.com/file.tgz",
                "busybox",
                "gcr.io/n/m"
            ]
        );
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        subjects(
            &results,
            "o",
            SubjectRules::BuildArtifacts,
            &mut out,
            &mut findings,
        );
        assert_eq!(
            names(&out),
            vec!["busybox", "index.docker.io/library/busybox"]
        );
    }

    #[test]
    fn duplicate_subjects_merge_digests() {
        let results = vec![
            r(
                "a-ARTIFACT_OUTPUTS",
                json!({"uri": "gcr.io/a/b", "digest": format!("sha256:{H1}"), "isBuildArtifact": "true"}),
            ),
            r("IMAGE_URL", json!("gcr.io/a/b")),
            r("IMAGE_DIGEST", json!(format!("sha256:{H1}"))),
        ];
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        subjects(
            &results,
            "o",
            SubjectRules::BuildArtifacts,
            &mut out,
            &mut findings,
        );
        assert_eq!(names(&out), vec!["gcr.io/a/b"]);
    }

    #[test]
    fn artifact_inputs_and_git_source() {
        let results = vec![
            r(
                "src-ARTIFACT_INPUTS",
                json!({"uri": "https://x/y", "digest": format!("SHA256:{H1}")}),
            ),
            r("bad-ARTIFACT_INPUTS", json!("text")),
        ];
        let (mut out, mut findings) = (Vec::new(), Vec::new());
        artifact_inputs(&results, "o", "inputs/result", &mut out, &mut findings);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].digest.get("sha256").map(String::as_str), Some(H1));
        let kinds: Vec<_> = findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![FindingKind::Input, FindingKind::Skipped]);

        let mut git = GitSource::default();
        git.apply("CHAINS-GIT_URL", &json!("https://git.test.com"));
        assert_eq!(git.material("inputs/result"), None);
        git.apply("CHAINS-GIT_COMMIT", &json!("abc"));
        let m = git.material("inputs/result").expect("both set");
        assert_eq!(m.uri, "git+https://git.test.com.git");
        git.apply("CHAINS-GIT_URL", &json!(""));
        assert_eq!(git.material("inputs/result"), None);
    }
}
