//! Verification Summary Attestations (SLSA `https://slsa.dev/verification_summary/v1`):
//! what `verify --vsa` concluded, one Statement per verified subject, for consumers that
//! trust the verifier instead of verifying again. Pure: the report in, the Statements
//! out; `chainseal verify` signs and stores them as `attest` does.
//!
//! Levels (`verifiedLevels`), by these rules:
//! * a `FAILED` summary reaches no level;
//! * a `PASSED` summary of SLSA provenance reaches `SLSA_BUILD_LEVEL_1` (provenance
//!   exists, is signed and names the subject);
//! * with the builder id checked (`--builder-id`, or `builderId` in a policy file),
//!   the level the operator trusts that builder for (`--builder-level`, default 2;
//!   SLSA leaves to the verifier which builders reach level 3).
//!
//! A summary is `PASSED` only when the whole verification passed and every attestation
//! of a wanted type naming the subject passed the policy (`--image`: at least one).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

use super::outcome::{Checked, Report, Verdict};
use super::policy::Policy;
use crate::provenance::{ResourceDescriptor, Statement};

/// The VSA predicate type.
pub use super::policy::vsa_checks::VSA_PREDICATE_TYPE as PREDICATE_TYPE;

/// The default `verifier.id`: chainseal's, with its version.
pub const DEFAULT_VERIFIER_ID: &str = concat!(
    "https://github.com/chainseal/chainseal/verify/v",
    env!("CARGO_PKG_VERSION")
);

/// What the VSAs say about the verifier and the policy.
#[derive(Debug, Clone)]
pub struct Options {
    /// `verifier.id`.
    pub verifier_id: String,
    /// The level the builder is trusted for (1–3).
    pub builder_level: u8,
    /// `timeVerified` (RFC 3339).
    pub time_verified: String,
}

/// One summary: the subject and its Statement.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The subject (`name`, digests).
    pub subject: ResourceDescriptor,
    /// `PASSED` or `FAILED`.
    pub passed: bool,
    /// The VSA Statement.
    pub statement: Statement,
}

/// The policy as the VSA names it: a single policy file by its path and digest, else
/// the whole policy (flags and files) as a canonical JSON document in a `data:` URI.
pub fn policy_descriptor(policy: &Policy, flags_doc: &Value) -> Value {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    if let ([file], true) = (policy.files.as_slice(), policy.flags.is_empty()) {
        return json!({
            "uri": file.path.display().to_string(),
            "digest": {"sha256": hex(&file.digest)},
        });
    }
    let files: Vec<Value> = policy
        .files
        .iter()
        .map(|f| json!({"path": f.path.display().to_string(), "sha256": hex(&f.digest)}))
        .collect();
    // serde_json's maps are sorted by key: this text is canonical.
    let doc = json!({"flags": flags_doc, "files": files}).to_string();
    json!({
        "uri": format!(
            "data:application/json;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(doc.as_bytes())
        ),
        "digest": {"sha256": hex(&crate::oci::sha256_digest(doc.as_bytes()))},
    })
}

/// The summaries of a report: one per subject of the verified attestations of a
/// wanted type.
pub fn summaries(report: &Report, options: &Options, policy_doc: &Value) -> Vec<Summary> {
    // What was seen of one subject (keyed by its digests, sorted).
    struct Seen {
        subject: ResourceDescriptor,
        inputs: BTreeMap<String, String>,
        all_passed: bool,
        any_passed: bool,
        builder_checked: bool,
        provenance: bool,
    }
    let mut seen: BTreeMap<BTreeMap<String, String>, Seen> = BTreeMap::new();
    // With `--image`, the checks were about the image: only it is summarised.
    let image_digest = match &report.checked {
        Checked::Image(image) => image.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()),
        Checked::Envelopes | Checked::Bundles => None,
    };
    for item in &report.attestations {
        let Verdict::Counted { verified, rules } = &item.verdict else {
            continue;
        };
        let passed = item.verdict.passed();
        let builder_checked = rules.iter().any(|r| {
            r.kind == super::policy::RuleKind::Requirement("builder-id")
                && r.status == super::policy::Status::Passed
        });
        let provenance = super::SLSA_PROVENANCE.contains(&verified.predicate_type.as_str());
        for (name, digests) in &verified.subjects {
            let digest: BTreeMap<String, String> = digests
                .iter()
                .filter_map(|d| d.split_once(':'))
                .map(|(a, h)| (a.to_owned(), h.to_ascii_lowercase()))
                .collect();
            if digest.is_empty() {
                continue;
            }
            if let Some(image) = &image_digest
                && !digests.iter().any(|d| d.eq_ignore_ascii_case(image))
            {
                continue;
            }
            let entry = seen.entry(digest.clone()).or_insert_with(|| Seen {
                subject: ResourceDescriptor {
                    name: name.clone(),
                    digest: digest.clone(),
                    ..Default::default()
                },
                inputs: BTreeMap::new(),
                all_passed: true,
                any_passed: false,
                builder_checked: true,
                provenance: true,
            });
            entry
                .inputs
                .insert(item.location.clone(), verified.payload_digest.clone());
            entry.all_passed &= passed;
            entry.any_passed |= passed;
            entry.builder_checked &= builder_checked;
            entry.provenance &= provenance;
        }
    }
    let whole = report.passed();
    seen.into_values()
        .map(|s| {
            let passed = whole
                && match report.checked {
                    Checked::Image(_) => s.any_passed,
                    Checked::Envelopes | Checked::Bundles => s.all_passed,
                };
            let levels: Vec<String> = match (passed, s.provenance, s.builder_checked) {
                (false, _, _) | (true, false, _) => Vec::new(),
                (true, true, false) => vec!["SLSA_BUILD_LEVEL_1".to_owned()],
                (true, true, true) => vec![format!("SLSA_BUILD_LEVEL_{}", options.builder_level)],
            };
            let resource_uri = match &report.checked {
                Checked::Image(image) => image.clone(),
                Checked::Envelopes | Checked::Bundles => s.subject.name.clone(),
            };
            let inputs: Vec<Value> = s
                .inputs
                .iter()
                .map(|(uri, digest)| {
                    json!({"uri": uri, "digest": {"sha256": digest.trim_start_matches("sha256:")}})
                })
                .collect();
            let predicate = json!({
                "verifier": {
                    "id": options.verifier_id,
                    "version": {"chainseal": env!("CARGO_PKG_VERSION")},
                },
                "timeVerified": options.time_verified,
                "resourceUri": resource_uri,
                "policy": policy_doc,
                "inputAttestations": inputs,
                "verificationResult": if passed { "PASSED" } else { "FAILED" },
                "verifiedLevels": levels,
                "slsaVersion": "1.0",
            });
            Summary {
                statement: Statement {
                    statement_type: crate::provenance::statement::STATEMENT_V1.to_owned(),
                    subject: vec![s.subject.clone()],
                    predicate_type: PREDICATE_TYPE.to_owned(),
                    predicate,
                },
                subject: s.subject,
                passed,
            }
        })
        .collect()
}
