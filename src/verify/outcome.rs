//! The outcome of `verify`: each item's verdict against the wanted predicate types
//! (counted, skipped or failed), and whether the verification as a whole passed.
//!
//! The policy:
//! * an item that verified counts only when its predicate type is wanted
//!   ([`PredicateTypes`]); another type is skipped, neither counted nor failed;
//! * files pass when nothing failed and at least one item counted;
//! * an attestation of a wanted type is then held to the [`Policy`]: it counts only
//!   when every rule passed;
//! * an image passes when at least one attestation counted (a rejected item beside
//!   it, e.g. an old attestation signed with another key, does not fail it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::policy::{Input, Policy, RuleResult, Status};
use super::{Outcome, PredicateTypes, Rejection, Verified};

/// What was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// DSSE envelope files (`--key`).
    Envelopes,
    /// Sigstore bundle files (keyless).
    Bundles,
    /// What a registry holds for this image (`--image`).
    Image(String),
}

/// Who signed a keyless bundle, as its certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The certificate's identity (email or URI).
    pub identity: String,
    /// The certificate's OIDC issuer.
    pub issuer: Option<String>,
    /// Fulcio's CI claims in the certificate (`buildSignerURI`, `runnerEnvironment`, …).
    pub claims: BTreeMap<String, String>,
}

impl Signer {
    /// Who signed, as CEL rules and `--format json` show it: `{kind: "key"}` for a key,
    /// else the certificate's identity, issuer and claims.
    pub fn to_json(signer: Option<&Self>) -> serde_json::Value {
        match signer {
            None => serde_json::json!({"kind": "key"}),
            Some(s) => serde_json::json!({
                "kind": "certificate",
                "identity": s.identity,
                "issuer": s.issuer,
                "claims": s.claims,
            }),
        }
    }
}

/// One attestation's verdict.
#[derive(Debug)]
pub enum Verdict {
    /// Verified, of a wanted predicate type, and held to the policy.
    Counted {
        /// What it says (and, keyless, who signed it).
        verified: Verified,
        /// Each policy rule's result (empty without a policy).
        rules: Vec<RuleResult>,
    },
    /// Verified, but of another predicate type.
    Skipped(Verified),
    /// Did not verify.
    Failed(Rejection),
}

impl Verdict {
    /// The verdict on one item's result for the wanted types and the policy.
    pub fn of(
        result: Result<Verified, Rejection>,
        wanted: &PredicateTypes,
        policy: &Policy,
    ) -> Self {
        match result {
            Ok(verified) if !wanted.wants(&verified.predicate_type) => Self::Skipped(verified),
            Ok(verified) => {
                let rules =
                    policy.evaluate(&Input::new(&verified.statement, verified.signer.as_ref()));
                Self::Counted { verified, rules }
            }
            Err(reason) => Self::Failed(reason),
        }
    }

    /// Verified, of a wanted type, and every rule passed.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Counted { rules, .. } if rules.iter().all(|r| r.status == Status::Passed))
    }

    /// Verified and of a wanted type, but a rule did not pass.
    pub fn failed_policy(&self) -> bool {
        matches!(self, Self::Counted { .. }) && !self.passed()
    }
}

/// One attestation (an envelope, a bundle, a registry item) and its verdict.
#[derive(Debug)]
pub struct Item {
    /// Where: `file`, `file:line`, `<tag> layer <digest>` or `referrer <digest>`.
    pub location: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// Everything a verification found, in the order it was found.
#[derive(Debug)]
pub struct Report {
    /// What was verified.
    pub checked: Checked,
    /// The predicate types that count.
    pub wanted: PredicateTypes,
    /// The rules attestations of those types are held to.
    pub policy: Arc<Policy>,
    /// The attestations.
    pub attestations: Vec<Item>,
    /// Image signatures (`--image` only), verified or not.
    pub signatures: Vec<Outcome>,
}

impl Report {
    /// An empty report.
    pub fn new(checked: Checked, wanted: PredicateTypes, policy: Arc<Policy>) -> Self {
        Self {
            checked,
            wanted,
            policy,
            attestations: Vec::new(),
            signatures: Vec::new(),
        }
    }

    /// Judge and record one attestation.
    pub fn add(&mut self, location: String, result: Result<Verified, Rejection>) {
        let verdict = Verdict::of(result, &self.wanted, &self.policy);
        self.attestations.push(Item { location, verdict });
    }

    fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.attestations.iter().filter(|i| f(&i.verdict)).count()
    }

    /// Attestations that verified, are of a wanted type and passed the policy.
    pub fn counted(&self) -> usize {
        self.count(Verdict::passed)
    }

    /// Attestations that verified and are of a wanted type but failed the policy.
    pub fn failed_policy(&self) -> usize {
        self.count(Verdict::failed_policy)
    }

    /// Attestations that did not verify.
    pub fn failed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Failed(_)))
    }

    /// Attestations that verified but are of another type.
    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skipped(_)))
    }

    /// The predicate types of the skipped attestations, sorted, once each.
    pub fn skipped_types(&self) -> BTreeSet<&str> {
        self.attestations
            .iter()
            .filter_map(|i| match &i.verdict {
                Verdict::Skipped(v) => Some(v.predicate_type.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Image signatures that verified.
    pub fn signatures_verified(&self) -> usize {
        self.signatures.iter().filter(|o| o.result.is_ok()).count()
    }

    /// Attestations and image signatures that did not verify.
    pub fn rejected(&self) -> usize {
        self.failed() + self.signatures.iter().filter(|o| o.result.is_err()).count()
    }

    /// Whether the verification passed (exit status 0; else 1).
    pub fn passed(&self) -> bool {
        match self.checked {
            Checked::Image(_) => self.counted() > 0,
            Checked::Envelopes | Checked::Bundles => {
                self.failed() == 0 && self.failed_policy() == 0 && self.counted() > 0
            }
        }
    }

    /// Whether it failed only because nothing of the wanted types verified (no
    /// rejected file to blame): the user may need `--type`.
    pub fn nothing_counted(&self) -> bool {
        let none = self.counted() == 0 && self.failed_policy() == 0;
        match self.checked {
            Checked::Image(_) => none,
            Checked::Envelopes | Checked::Bundles => self.failed() == 0 && none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Rejection;

    const SLSA: &str = "https://slsa.dev/provenance/v1";
    const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

    fn of(predicate_type: &str) -> Result<Verified, Rejection> {
        Ok(Verified {
            predicate_type: predicate_type.to_owned(),
            subjects: vec![("app".into(), vec!["sha256:aa".into()])],
            builder_id: None,
            statement: serde_json::json!({"predicateType": predicate_type}),
            payload_digest: String::new(),
            signer: None,
        })
    }

    fn failed() -> Result<Verified, Rejection> {
        Err(Rejection::NoSignatures)
    }

    fn report(checked: Checked, items: Vec<Result<Verified, Rejection>>) -> Report {
        report_with(checked, items, Policy::default())
    }

    fn report_with(
        checked: Checked,
        items: Vec<Result<Verified, Rejection>>,
        policy: Policy,
    ) -> Report {
        let mut r = Report::new(checked, PredicateTypes::default(), Arc::new(policy));
        for (i, result) in items.into_iter().enumerate() {
            r.add(format!("f:{i}"), result);
        }
        r
    }

    #[test]
    fn only_wanted_types_count_and_others_are_skipped() {
        let wanted = PredicateTypes::default();
        let none = Policy::default();
        assert!(Verdict::of(of(SLSA), &wanted, &none).passed());
        assert!(matches!(
            Verdict::of(of(CUSTOM), &wanted, &none),
            Verdict::Skipped(_)
        ));
        assert!(Verdict::of(of(CUSTOM), &PredicateTypes::Any, &none).passed());
        assert!(matches!(
            Verdict::of(failed(), &PredicateTypes::Any, &none),
            Verdict::Failed(Rejection::NoSignatures)
        ));
    }

    #[test]
    fn files_pass_only_when_nothing_failed_and_something_counted() {
        let pass = report(Checked::Envelopes, vec![of(SLSA), of(CUSTOM)]);
        assert!(pass.passed());
        assert_eq!((pass.counted(), pass.skipped(), pass.failed()), (1, 1, 0));
        let one_bad = report(Checked::Envelopes, vec![of(SLSA), failed()]);
        assert!(!one_bad.passed() && !one_bad.nothing_counted());
        let other_types = report(Checked::Bundles, vec![of(CUSTOM), of(CUSTOM)]);
        assert!(!other_types.passed() && other_types.nothing_counted());
        assert_eq!(
            other_types.skipped_types().into_iter().collect::<Vec<_>>(),
            [CUSTOM]
        );
        let empty = report(Checked::Envelopes, vec![]);
        assert!(!empty.passed() && empty.nothing_counted());
    }

    #[test]
    fn an_image_passes_when_one_attestation_counted_despite_rejected_items() {
        let mut mixed = report(
            Checked::Image("r@sha256:aa".into()),
            vec![failed(), of(SLSA)],
        );
        mixed.signatures.push(Outcome {
            location: "sig".into(),
            result: Err(Rejection::NoSignatures),
        });
        assert!(mixed.passed());
        assert_eq!((mixed.rejected(), mixed.signatures_verified()), (2, 0));
        let none = report(
            Checked::Image("r@sha256:aa".into()),
            vec![failed(), of(CUSTOM)],
        );
        assert!(!none.passed() && none.nothing_counted());
    }

    #[test]
    fn an_attestation_that_fails_the_policy_does_not_count() {
        let policy = || Policy {
            flags: crate::verify::policy::Requirements {
                builder_id: Some("https://builder.example".into()),
                ..Default::default()
            },
            files: Vec::new(),
        };
        let files = report_with(Checked::Envelopes, vec![of(SLSA)], policy());
        assert!(!files.passed());
        assert_eq!((files.counted(), files.failed_policy()), (0, 1));
        let image = report_with(
            Checked::Image("r@sha256:aa".into()),
            vec![of(SLSA)],
            policy(),
        );
        assert!(!image.passed() && !image.nothing_counted());
    }
}
