//! What a provenance Statement says about its build, read per buildType: the builder,
//! the source repositories with their commits and refs, and the parameters.
//!
//! Each buildType chainseal writes or reads keeps these in its own place:
//!
//! | buildType | source | ref | parameters |
//! | --- | --- | --- | --- |
//! | Tekton Chains `https://tekton.dev/chains/v2/slsa`, `…/slsa-tekton` (SLSA v1.0) | `resolvedDependencies` named `inputs/result` with a `git+` URI | not recorded (only the commit) | `externalParameters.runSpec.params` |
//! | Tekton Chains `tekton.dev/v1beta1/TaskRun`, `…/PipelineRun`, `tekton.dev/v1/…` (SLSA v0.2) | `materials` with a `git+` URI | not recorded | `invocation.parameters` |
//! | GitHub `https://actions.github.io/buildtypes/workflow/v1` | `resolvedDependencies[0]` | `externalParameters.workflow.ref` | `externalParameters`, flattened (`workflow.path`, `inputs.<name>`) |
//! | GitLab (chainseal's `gitlab-ci-v1`, GitLab runner's `PROVENANCE.md`) | `resolvedDependencies` with a `git+` URI | the URI's `@<ref>` | `externalParameters.variables`, plus `source`, `entryPoint` |
//! | chainseal's `generic-v1` | `resolvedDependencies` with a `git+` URI, if any | the URI's `@<ref>` | `externalParameters`, flattened |
//!
//! Any other buildType answers none of these: a check of them is an error naming the
//! buildType, never a pass.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::provenance::ci::{GENERIC_BUILD_TYPE, GITHUB_BUILD_TYPE, GITLAB_BUILD_TYPE};

/// Tekton Chains' SLSA v1.0 buildTypes.
const TEKTON_V1: [&str; 2] = [
    "https://tekton.dev/chains/v2/slsa",
    "https://tekton.dev/chains/v2/slsa-tekton",
];
/// GitLab runner's own provenance buildType (`…/blob/<version>/PROVENANCE.md`).
const GITLAB_RUNNER_PREFIX: &str = "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/";

/// Which layout a buildType has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Tekton Chains, SLSA v1.0.
    TektonV1,
    /// Tekton Chains, SLSA v0.2.
    TektonV02,
    /// GitHub Actions (`workflow/v1`).
    Github,
    /// GitLab CI.
    Gitlab,
    /// chainseal's generic buildType.
    Generic,
    /// A buildType chainseal does not know.
    Unknown,
}

impl Layout {
    /// The layout of `build_type` in a Statement of `predicate_type`.
    pub fn of(predicate_type: &str, build_type: &str) -> Self {
        let v02 = predicate_type == crate::provenance::slsa_v02::PREDICATE_TYPE;
        match build_type {
            t if TEKTON_V1.contains(&t) && !v02 => Self::TektonV1,
            t if v02 && t.starts_with("tekton.dev/") => Self::TektonV02,
            GITHUB_BUILD_TYPE if !v02 => Self::Github,
            GITLAB_BUILD_TYPE if !v02 => Self::Gitlab,
            t if !v02 && t.starts_with(GITLAB_RUNNER_PREFIX) => Self::Gitlab,
            GENERIC_BUILD_TYPE if !v02 => Self::Generic,
            _ => Self::Unknown,
        }
    }

    /// Whether the layout records the source's ref.
    fn records_ref(self) -> bool {
        matches!(self, Self::Github | Self::Gitlab | Self::Generic)
    }
}

/// One source repository of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The URI as written (`git+https://github.com/acme/app@refs/heads/main`).
    pub uri: String,
    /// The repository, normalised ([`normalize_repository`]).
    pub repository: String,
    /// The commit and other digests (`sha1`, `gitCommit`, …).
    pub digest: BTreeMap<String, String>,
    /// The ref the build used, when the buildType records it.
    pub git_ref: Option<String>,
}

/// What a Statement says about its build.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildFacts {
    /// `predicateType`.
    pub predicate_type: String,
    /// The buildType (empty when the predicate has none).
    pub build_type: String,
    /// The builder id.
    pub builder_id: Option<String>,
    /// Which layout the buildType has.
    pub layout: Layout,
    /// The sources (empty when the build recorded none; meaningless for `Unknown`).
    pub sources: Vec<Source>,
    /// The parameters by name, values as written.
    pub params: BTreeMap<String, Value>,
}

impl BuildFacts {
    /// Read a verified Statement.
    pub fn read(statement: &Value) -> Self {
        let predicate_type = text(statement.get("predicateType")).unwrap_or_default();
        let predicate = statement.get("predicate").unwrap_or(&Value::Null);
        let build_type = build_type(predicate).unwrap_or_default().to_owned();
        let builder_id = builder_id(predicate).map(str::to_owned);
        let layout = Layout::of(&predicate_type, &build_type);
        let external = predicate
            .pointer("/buildDefinition/externalParameters")
            .unwrap_or(&Value::Null);
        let dependencies = predicate
            .pointer("/buildDefinition/resolvedDependencies")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let git = |d: &&Value| {
            d.get("uri")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("git+"))
        };
        let (sources, params) = match layout {
            Layout::TektonV1 => (
                dependencies
                    .iter()
                    .filter(|d| d.get("name").and_then(Value::as_str) == Some("inputs/result"))
                    .filter(git)
                    .map(|d| source(d, None))
                    .collect(),
                named_params(external.pointer("/runSpec/params")),
            ),
            Layout::TektonV02 => (
                predicate
                    .get("materials")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(git)
                    .map(|d| source(d, None))
                    .collect(),
                predicate
                    .pointer("/invocation/parameters")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            ),
            Layout::Github => {
                let workflow_ref = text(external.pointer("/workflow/ref"));
                (
                    dependencies
                        .first()
                        .map(|d| source(d, workflow_ref))
                        .into_iter()
                        .collect(),
                    flattened(external),
                )
            }
            Layout::Gitlab => {
                let mut params: BTreeMap<String, Value> = external
                    .get("variables")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                for key in ["source", "entryPoint"] {
                    if let Some(v) = external.get(key) {
                        params.insert(key.to_owned(), v.clone());
                    }
                }
                (
                    dependencies
                        .iter()
                        .filter(git)
                        .map(|d| source(d, None))
                        .collect(),
                    params,
                )
            }
            Layout::Generic => (
                dependencies
                    .iter()
                    .filter(git)
                    .map(|d| source(d, None))
                    .collect(),
                flattened(external),
            ),
            Layout::Unknown => (Vec::new(), BTreeMap::new()),
        };
        Self {
            predicate_type,
            build_type,
            builder_id,
            layout,
            sources,
            params,
        }
    }

    /// Whether the buildType says where its source is.
    pub fn knows_source(&self) -> bool {
        self.layout != Layout::Unknown
    }

    /// Whether the buildType records the source's ref.
    pub fn knows_ref(&self) -> bool {
        self.layout.records_ref()
    }

    /// Whether the buildType says where its parameters are.
    pub fn knows_params(&self) -> bool {
        self.layout != Layout::Unknown
    }

    /// The facts as CEL's `build` variable sees them.
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.build_type,
            "builderId": self.builder_id,
            "sources": self.sources.iter().map(|s| json!({
                "uri": s.uri,
                "repository": s.repository,
                "digest": s.digest,
                "ref": s.git_ref,
            })).collect::<Vec<_>>(),
            "params": self.params,
        })
    }
}

/// A provenance predicate's buildType (SLSA v1.0 `buildDefinition.buildType`, v0.2
/// `buildType`).
pub fn build_type(predicate: &Value) -> Option<&str> {
    predicate
        .pointer("/buildDefinition/buildType")
        .or_else(|| predicate.get("buildType"))
        .and_then(Value::as_str)
}

/// A provenance predicate's builder id (v1.0 `runDetails.builder.id`, v0.2
/// `builder.id`).
pub fn builder_id(predicate: &Value) -> Option<&str> {
    predicate
        .pointer("/runDetails/builder/id")
        .or_else(|| predicate.pointer("/builder/id"))
        .and_then(Value::as_str)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// A source from a resource descriptor (`uri`, `digest`), its ref from the URI's
/// `@<ref>` unless the buildType records it elsewhere.
fn source(d: &Value, recorded_ref: Option<String>) -> Source {
    let uri = text(d.get("uri")).unwrap_or_default();
    let digest = d
        .get("digest")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let git_ref = recorded_ref.or_else(|| uri_ref(&uri).map(str::to_owned));
    Source {
        repository: normalize_repository(&uri),
        uri,
        digest,
        git_ref,
    }
}

/// Tekton's `[{name, value}]` parameters.
fn named_params(list: Option<&Value>) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            Some((
                name.to_owned(),
                p.get("value").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// An object's leaves by dotted path (`workflow.path`); arrays stay whole.
fn flattened(value: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>, depth: usize) {
        match value {
            Value::Object(map) if depth < 8 => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out, depth + 1);
                }
            }
            other if !prefix.is_empty() => {
                out.insert(prefix.to_owned(), other.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out, 0);
    out
}

/// The path part of a repository URI: after the scheme and host.
fn split_host(rest: &str) -> (&str, &str) {
    rest.split_once('/').unwrap_or((rest, ""))
}

/// The `@<ref>` of `git+https://host/repo@refs/heads/main`, if any.
fn uri_ref(uri: &str) -> Option<&str> {
    let rest = strip_scheme(uri.strip_prefix("git+").unwrap_or(uri));
    let (_, path) = split_host(rest);
    path.split_once('@')
        .map(|(_, r)| r)
        .filter(|r| !r.is_empty())
}

fn strip_scheme(uri: &str) -> &str {
    ["https://", "http://", "ssh://", "git://"]
        .iter()
        .find_map(|s| uri.strip_prefix(s))
        .unwrap_or(uri)
}

/// A repository as slsa-verifier compares them: `git+https://github.com/Acme/app.git@ref`,
/// `https://github.com/Acme/app/` and `github.com/Acme/app` are all
/// `github.com/Acme/app` (scheme, `git+`, `@ref`, `.git` and a trailing slash dropped;
/// the host lower-cased; the path kept as written).
pub fn normalize_repository(uri: &str) -> String {
    let rest = strip_scheme(uri.trim().strip_prefix("git+").unwrap_or(uri.trim()));
    let (host, path) = split_host(rest);
    let path = path.split_once('@').map_or(path, |(p, _)| p);
    let host = host.to_ascii_lowercase();
    let whole = if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    };
    let whole = whole.trim_end_matches('/');
    whole.strip_suffix(".git").unwrap_or(whole).to_owned()
}

/// Whether an observed ref is the expected one: equal, or one of them is a bare name
/// (`main`) and the other `refs/heads/<name>` or `refs/tags/<name>`.
pub fn ref_matches(observed: &str, expected: &str) -> bool {
    let bare = |full: &str, name: &str| {
        full.strip_prefix("refs/heads/") == Some(name)
            || full.strip_prefix("refs/tags/") == Some(name)
    };
    observed == expected
        || (!expected.starts_with("refs/") && bare(observed, expected))
        || (!observed.starts_with("refs/") && bare(expected, observed))
}

/// Whether a source's digests include `expected` (`<hex>` or `<alg>:<hex>`; `sha1`
/// and `gitCommit` name the same thing), hex compared without regard to case.
pub fn digest_matches(digest: &BTreeMap<String, String>, expected: &str) -> bool {
    let (alg, hex) = match expected.split_once(':') {
        Some((alg, hex)) => (Some(alg), hex),
        None => (None, expected),
    };
    let same_alg = |a: &str, b: &str| {
        let commit = |x: &str| matches!(x, "sha1" | "gitCommit");
        a == b || (commit(a) && commit(b))
    };
    digest.iter().any(|(a, h)| {
        alg.is_none_or(|alg| same_alg(a, alg)) && h.eq_ignore_ascii_case(hex) && !hex.is_empty()
    })
}

/// A parameter value as compared with `--param NAME=VALUE`: a string as it is, anything
/// else as compact JSON.
pub fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_compared_as_slsa_verifier_does() {
        for uri in [
            "git+https://github.com/Acme/app.git@refs/heads/main",
            "https://GitHub.com/Acme/app/",
            "github.com/Acme/app",
            "git+https://github.com/Acme/app",
            "https://github.com/Acme/app.git",
            "https://github.com/Acme/app.git/",
        ] {
            assert_eq!(normalize_repository(uri), "github.com/Acme/app", "{uri}");
        }
        assert_eq!(
            normalize_repository("git+https://my-git-url.git"),
            "my-git-url"
        );
        assert_ne!(
            normalize_repository("github.com/Acme/app-fork"),
            normalize_repository("github.com/Acme/app")
        );
        assert_eq!(
            uri_ref("git+https://github.com/a/b@refs/tags/v1@x"),
            Some("refs/tags/v1@x")
        );
        assert_eq!(uri_ref("git+https://user@host/a/b"), None);
    }

    #[test]
    fn refs_match_bare_names_and_full_refs() {
        assert!(ref_matches("refs/heads/main", "main"));
        assert!(ref_matches("refs/tags/v1", "v1"));
        assert!(ref_matches("main", "refs/heads/main"));
        assert!(ref_matches("refs/heads/main", "refs/heads/main"));
        assert!(!ref_matches("refs/heads/main", "refs/tags/main"));
        assert!(!ref_matches("refs/heads/mainline", "main"));
        assert!(!ref_matches("refs/heads/feature/main", "main"));
    }

    #[test]
    fn digests_match_with_or_without_an_algorithm() {
        let d: BTreeMap<String, String> = [("sha1".to_owned(), "AbC123".to_owned())].into();
        assert!(digest_matches(&d, "abc123"));
        assert!(digest_matches(&d, "gitCommit:abc123"));
        assert!(digest_matches(&d, "sha1:ABC123"));
        assert!(!digest_matches(&d, "sha256:abc123"));
        assert!(!digest_matches(&d, "abc12"));
        assert!(!digest_matches(&d, ""));
    }

    #[test]
    fn unknown_build_types_answer_nothing() {
        let facts = BuildFacts::read(&json!({
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"buildType": "https://example.com/mine",
                "externalParameters": {"a": 1},
                "resolvedDependencies": [{"uri": "git+https://x/y", "digest": {"sha1": "aa"}}]}},
        }));
        assert_eq!(facts.layout, Layout::Unknown);
        assert!(!facts.knows_source() && !facts.knows_params() && !facts.knows_ref());
        // A v0.2 Statement with a v1.0 buildType is not that buildType's layout.
        let v02 = json!({"predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": {"buildType": GITHUB_BUILD_TYPE}});
        assert_eq!(BuildFacts::read(&v02).layout, Layout::Unknown);
    }
}
