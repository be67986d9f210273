//! Policy files (`verify --policy FILE`, YAML): the flags' requirements as plain keys,
//! and named CEL rules.
//!
//! ```yaml
//! builderId: https://tekton.example/chains/v2
//! buildType: https://tekton.dev/chains/v2/slsa
//! predicateType: https://slsa.dev/provenance/v1   # or a list; cosign short names too
//! source: {uri: github.com/acme/app, ref: main, digest: 3f2a…}
//! params: {IMAGE: registry.example/acme/app}
//! subjectDigests: [sha256:…]
//! signerWorkflow: acme/app/.github/workflows/release.yml
//! denySelfHostedRunners: true
//! vsa: {verifierId: https://chainseal.dev/verifier, verifiedLevel: SLSA_BUILD_LEVEL_2, resourceUri: …}
//! rules:
//!   - name: image-param-is-ours
//!     expr: build.params.IMAGE.startsWith('registry.example/acme/')
//!     observe: build.params.IMAGE
//! ```
//!
//! Unknown keys are refused (a misspelt requirement must not pass silently).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::cel::{Rule, Rules};
use super::vsa_checks::VsaRequirements;
use super::{Error, Requirements};

/// A loaded policy file.
#[derive(Debug)]
pub struct PolicyFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its SHA-256 (`sha256:<hex>`, for a VSA's `policy.digest`).
    pub digest: String,
    /// Its plain requirements.
    pub requirements: Requirements,
    /// The predicate types it requires (full URIs), if it says.
    pub predicate_types: Vec<String>,
    /// Its CEL rules.
    pub rules: Rules,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Document {
    builder_id: Option<String>,
    build_type: Option<String>,
    predicate_type: Option<OneOrMany>,
    source: Option<SourceDoc>,
    #[serde(default)]
    params: BTreeMap<String, Scalar>,
    #[serde(default)]
    subject_digests: Vec<String>,
    signer_workflow: Option<String>,
    #[serde(default)]
    deny_self_hosted_runners: bool,
    vsa: Option<VsaDoc>,
    #[serde(default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Bool(bool),
    Int(i64),
    Float(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDoc {
    uri: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VsaDoc {
    verifier_id: Option<String>,
    #[serde(default)]
    verified_level: Option<OneOrMany>,
    resource_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: String,
    expr: String,
    observe: Option<String>,
}

/// The names of the plain keys (and the VSA rule): no CEL rule may take one, so a
/// report's `<file>: builderId` is always the plain requirement.
const RESERVED: [&str; 14] = [
    "builderId",
    "buildType",
    "predicateType",
    "source.uri",
    "source.ref",
    "source.digest",
    "params",
    "subjectDigests",
    "signerWorkflow",
    "denySelfHostedRunners",
    "vsa.verifierId",
    "vsa.verifiedLevel",
    "vsa.resourceUri",
    "verificationResult",
];

/// Policy files are small; a larger one is refused rather than parsed.
const MAX_POLICY_BYTES: u64 = 1 << 20;

impl PolicyFile {
    /// Read, parse and compile a policy file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let read = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let malformed = |reason: String| Error::Malformed {
            path: path.to_owned(),
            reason,
        };
        use crate::read_limited::{Refused, read_at_most};
        let bytes = read_at_most(path, MAX_POLICY_BYTES).map_err(|e| match e {
            Refused::Io(e) => read(e),
            Refused::TooLarge(size) => malformed(format!(
                "it is {size} bytes; policy files are at most 1 MiB"
            )),
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| malformed("it is not UTF-8".into()))?;
        let doc: Document = serde_saphyr::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let many = |v: Option<OneOrMany>| match v {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        };
        let mut predicate_types = Vec::new();
        for t in many(doc.predicate_type) {
            let uri = crate::verify::predicate_type_alias(t.trim()).to_owned();
            if !uri.contains(':') {
                return Err(malformed(format!(
                    "predicateType `{t}` is neither a URI nor one of cosign's short names"
                )));
            }
            predicate_types.push(uri);
        }
        let mut names = std::collections::BTreeSet::new();
        let mut rules = Vec::new();
        for r in &doc.rules {
            if r.name.trim().is_empty() || !names.insert(r.name.clone()) {
                return Err(malformed(format!(
                    "every rule needs a name of its own (`{}`)",
                    r.name
                )));
            }
            if RESERVED.contains(&r.name.as_str()) {
                return Err(malformed(format!(
                    "rule `{}` is named like a plain key: give the rule a name of its own",
                    r.name
                )));
            }
            rules.push(Rule::compile(path, &r.name, &r.expr, r.observe.as_deref())?);
        }
        let source = doc.source.unwrap_or(SourceDoc {
            uri: None,
            git_ref: None,
            digest: None,
        });
        let vsa = doc
            .vsa
            .map_or_else(VsaRequirements::default, |v| VsaRequirements {
                verifier_id: v.verifier_id,
                verified_levels: many(v.verified_level),
                resource_uri: v.resource_uri,
            });
        let requirements = Requirements {
            builder_id: doc.builder_id,
            build_type: doc.build_type,
            source_uri: source.uri,
            source_ref: source.git_ref,
            source_digest: source.digest,
            params: doc
                .params
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        Scalar::Text(s) => s,
                        Scalar::Bool(b) => b.to_string(),
                        Scalar::Int(i) => i.to_string(),
                        Scalar::Float(f) => f.to_string(),
                    };
                    (k, text)
                })
                .collect(),
            subject_digests: doc
                .subject_digests
                .into_iter()
                .map(|d| (d.clone(), d))
                .collect(),
            signer_workflow: doc.signer_workflow,
            deny_self_hosted_runners: doc.deny_self_hosted_runners,
            vsa,
        };
        let shown = path.display().to_string();
        requirements.validate(|key| format!("`{}` in `{shown}`", super::file_key(key)))?;
        if requirements.is_empty() && predicate_types.is_empty() && rules.is_empty() {
            return Err(malformed(
                "it requires nothing (no keys, no rules): an empty policy checks nothing".into(),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            digest: crate::oci::sha256_digest(&bytes),
            requirements,
            predicate_types,
            rules: Rules(rules),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<PolicyFile, Error> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, text).expect("write");
        PolicyFile::load(&path)
    }

    #[test]
    fn a_policy_file_has_keys_and_rules() {
        let p = load(
            "builderId: b\nsource: {uri: github.com/a/b, ref: main, digest: abc}\nparams: {N: 1, M: x}\npredicateType: [slsaprovenance1]\nrules:\n  - name: r\n    expr: 'true'\n",
        )
        .expect("loads");
        assert_eq!(p.requirements.builder_id.as_deref(), Some("b"));
        assert_eq!(p.requirements.source_ref.as_deref(), Some("main"));
        assert_eq!(
            p.requirements.params,
            vec![("M".into(), "x".into()), ("N".into(), "1".into())]
        );
        assert_eq!(p.predicate_types, vec!["https://slsa.dev/provenance/v1"]);
        assert_eq!(p.rules.0.len(), 1);
        assert!(p.digest.starts_with("sha256:"));
    }

    #[test]
    fn misspelt_keys_and_bad_rules_are_refused() {
        for (text, says) in [
            ("builderID: x\n", "unknown field"),
            ("source: {url: x}\n", "unknown field"),
            (
                "rules:\n  - name: a\n    expr: 'a =='\n",
                "does not compile",
            ),
            (
                "rules:\n  - {name: a, expr: 'true'}\n  - {name: a, expr: 'true'}\n",
                "a name of its own",
            ),
            ("subjectDigests: [abc]\n", "invalid `subjectDigests`"),
            ("predicateType: nonsense\n", "short names"),
            ("- a\n", "not a chainseal policy"),
            ("{}\n", "requires nothing"),
            (
                "rules:\n  - {name: builderId, expr: 'true'}\n",
                "named like a plain key",
            ),
        ] {
            let e = load(text).expect_err(text);
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }
}
