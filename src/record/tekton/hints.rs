//! Tekton Chains type hinting: which results name the artifacts a run built
//! (subjects) and consumed (inputs). Rules from tektoncd/chains `pkg/artifacts` and
//! `pkg/chains/formats/slsa/extract` (see `docs/chains-compatibility.md`).
//!
//! * `*IMAGE_URL` + `*IMAGE_DIGEST` (same prefix) and `IMAGES` (comma/newline list of
//!   `repo@sha256:hex`) name images; names are normalised ([`DigestReference`]).
//! * `*ARTIFACT_OUTPUTS` objects `{uri, digest, isBuildArtifact: "true"}` are build
//!   artifacts; `*ARTIFACT_INPUTS` objects `{uri, digest}` are inputs.
//! * `CHAINS-GIT_URL` / `CHAINS-GIT_COMMIT` name the source repository.
//!
//! Invalid hints are skipped and reported as [`Finding`]s, never fatal.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::model::{ParamSpec, RunResult, spec_params};
use crate::provenance::digest::parse_digest;
use crate::provenance::statement::{ResourceDescriptor, append_material, append_subject};
use crate::reference::DigestReference;

/// A skipped or suspicious type hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where, e.g. `taskRunResults/build/IMAGE_DIGEST`.
    pub source: String,
    /// What was wrong and what happened.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
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
pub fn build_artifact(result: &RunResult) -> Result<Option<ResourceDescriptor>, String> {
    if !result.name.ends_with(ARTIFACT_OUTPUTS) {
        return Ok(None);
    }
    let ParamValue::Object(obj) = ParamValue::from_json(&result.value) else {
        return Err("value is not an object of strings (note: `isBuildArtifact` must be the string \"true\")".into());
    };
    if obj.get("isBuildArtifact").map(String::as_str) != Some("true") {
        return Ok(None);
    }
    let uri = obj.get("uri").map(String::as_str).unwrap_or("");
    let digest = obj.get("digest").map(String::as_str).unwrap_or("");
    if uri.is_empty() || digest.is_empty() {
        return Err("a build artifact needs non-empty `uri` and `digest`".into());
    }
    parse_digest(digest).map_err(|e| e.to_string())?;
    // Chains keeps the digest as written (split on `:`), not the normalised form.
    let (alg, hex) = digest.split_once(':').unwrap_or((digest, ""));
    Ok(Some(ResourceDescriptor {
        name: uri.to_owned(),
        digest: BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
        ..ResourceDescriptor::default()
    }))
}

/// Subjects named by one list of results, in Chains' order: build artifacts, image
/// URL/DIGEST pairs (in order of first appearance; Chains uses Go map order), `IMAGES`
/// items, then build artifacts again as normalised image names. Merged into `out`.
pub fn subjects(
    results: &[RunResult],
    origin: &str,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    let at = |name: &str| format!("{origin}/{name}");
    let mut artifacts = Vec::new();
    for r in results {
        match build_artifact(r) {
            Ok(Some(d)) => artifacts.push(d),
            Ok(None) => {}
            Err(message) => findings.push(Finding {
                source: at(&r.name),
                message: format!("{message}; skipped"),
            }),
        }
    }
    for a in &artifacts {
        append_subject(out, a.clone());
    }

    let mut seen = HashSet::new();
    let mut push_image = |reference: DigestReference, out: &mut Vec<ResourceDescriptor>| {
        if seen.insert(reference.to_string()) {
            append_subject(
                out,
                ResourceDescriptor {
                    name: reference.name(),
                    digest: BTreeMap::from([("sha256".to_owned(), reference.sha256.clone())]),
                    ..ResourceDescriptor::default()
                },
            );
        }
    };

    for (prefix, (url, digest)) in image_pairs(results) {
        let source = at(&format!("{prefix}IMAGE_URL"));
        match (url.as_str(), digest.as_str()) {
            ("", "") => {}
            (_, "") => findings.push(Finding {
                source,
                message: format!("no matching `{prefix}IMAGE_DIGEST`; skipped"),
            }),
            ("", _) => findings.push(Finding {
                source: at(&format!("{prefix}IMAGE_DIGEST")),
                message: format!("no matching `{prefix}IMAGE_URL`; skipped"),
            }),
            _ => match DigestReference::parse(&format!("{url}@{digest}")) {
                Ok(r) => push_image(r, out),
                Err(e) => findings.push(Finding {
                    source,
                    message: format!("{e}; skipped"),
                }),
            },
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
                Ok(reference) => push_image(reference, out),
                Err(e) => findings.push(Finding {
                    source: at("IMAGES"),
                    message: format!("{e}; skipped"),
                }),
            }
        }
    }

    for a in &artifacts {
        if let Some((alg, hex)) = a.digest.iter().next()
            && let Ok(reference) = DigestReference::parse(&format!("{}@{alg}:{hex}", a.name))
        {
            push_image(reference, out);
        }
    }
}

/// `*IMAGE_URL` / `*IMAGE_DIGEST` values by prefix, in order of the prefix's first
/// appearance; values trimmed, later results overriding earlier ones.
fn image_pairs(results: &[RunResult]) -> Vec<(String, (String, String))> {
    let mut pairs: Vec<(String, (String, String))> = Vec::new();
    for r in results {
        let (prefix, is_url) = if let Some(p) = r.name.strip_suffix("IMAGE_URL") {
            (p, true)
        } else if let Some(p) = r.name.strip_suffix("IMAGE_DIGEST") {
            (p, false)
        } else {
            continue;
        };
        let value = ParamValue::from_json(&r.value)
            .string_val()
            .trim()
            .to_owned();
        let idx = match pairs.iter().position(|(p, _)| p == prefix) {
            Some(i) => i,
            None => {
                pairs.push((prefix.to_owned(), (String::new(), String::new())));
                pairs.len() - 1
            }
        };
        if is_url {
            pairs[idx].1.0 = value;
        } else {
            pairs[idx].1.1 = value;
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
                    match parse_digest(digest) {
                        Ok((alg, hex)) => {
                            append_material(
                                out,
                                ResourceDescriptor {
                                    name: name.to_owned(),
                                    uri: uri.to_owned(),
                                    digest: BTreeMap::from([(alg, hex)]),
                                    ..ResourceDescriptor::default()
                                },
                            );
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
            _ => Some("value is not an object of strings".to_owned()),
        };
        if let Some(message) = problem {
            findings.push(Finding {
                source: format!("{origin}/{}", r.name),
                message: format!("{message}; skipped"),
            });
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
        subjects(&results, "taskRunResults/t", &mut out, &mut findings);
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
        assert!(findings.is_empty(), "{findings:?}");
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
        subjects(&results, "taskRunResults/t", &mut out, &mut findings);
        assert!(out.is_empty(), "{out:?}");
        let sources: Vec<_> = findings.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(
            sources,
            vec![
                "taskRunResults/t/bad-ARTIFACT_OUTPUTS",
                "taskRunResults/t/bool-ARTIFACT_OUTPUTS",
                "taskRunResults/t/IMAGE_URL",
                "taskRunResults/t/lonely-IMAGE_URL",
                "taskRunResults/t/IMAGES"
            ]
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
        subjects(&results, "o", &mut out, &mut findings);
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
        assert_eq!(findings.len(), 1);

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
