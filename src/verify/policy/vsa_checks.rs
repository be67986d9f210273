//! Checks of Verification Summary Attestations (`https://slsa.dev/verification_summary/v1`)
//! being verified (`verify --type vsa`): who verified (`--verifier-id`), what
//! (`--resource-uri`) and to which level (`--verified-level`), as slsa-verifier's
//! `verify-vsa` checks them. A VSA whose `verificationResult` is not `PASSED` never
//! passes, whatever else is required.

use serde_json::Value;

use super::{Error, Input, RuleKind, RuleResult, Status, result, shown};

/// The VSA predicate type.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";

/// Every VSA version's predicate type starts so (v0.1, v0.2 and v1).
const VSA_PREFIX: &str = "https://slsa.dev/verification_summary/";

/// What a VSA must say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VsaRequirements {
    /// `verifier.id`, exactly.
    pub verifier_id: Option<String>,
    /// Levels `verifiedLevels` must reach (`SLSA_BUILD_LEVEL_2`: level 2 or 3 of the
    /// build track; other names exactly).
    pub verified_levels: Vec<String>,
    /// `resourceUri`, exactly.
    pub resource_uri: Option<String>,
}

/// `SLSA_<TRACK>_LEVEL_<n>` as (track, n).
fn level(name: &str) -> Option<(&str, u8)> {
    let rest = name.strip_prefix("SLSA_")?;
    let (track, n) = rest.rsplit_once("_LEVEL_")?;
    Some((track, n.parse().ok()?))
}

/// Whether `levels` reach `want`: the same track at `want`'s level or higher, or the
/// same name.
pub fn reaches(levels: &[&str], want: &str) -> bool {
    levels.iter().any(|have| {
        *have == want
            || matches!((level(have), level(want)), (Some((t1, n1)), Some((t2, n2))) if t1 == t2 && n1 >= n2)
    })
}

impl VsaRequirements {
    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Check the level names.
    pub fn validate(&self, flag: &impl Fn(&str) -> String) -> Result<(), Error> {
        for l in &self.verified_levels {
            if level(l).is_none() {
                return Err(Error::Invalid {
                    setting: flag("verified-level"),
                    value: l.clone(),
                    hint: "use a SLSA level name such as `SLSA_BUILD_LEVEL_2`",
                });
            }
        }
        Ok(())
    }

    /// The rules for one attestation.
    pub fn check(&self, input: &Input<'_>, name: &impl Fn(&str) -> String) -> Vec<RuleResult> {
        if self.is_empty() {
            return Vec::new();
        }
        let predicate = input.statement.get("predicate").unwrap_or(&Value::Null);
        if input.facts.predicate_type != VSA_PREDICATE_TYPE {
            let observed = format!(
                "not a VSA v1 (predicate type `{}`): give `--type vsa`",
                shown(&input.facts.predicate_type)
            );
            // Named after the first requirement given.
            let flag = match (&self.verifier_id, &self.resource_uri) {
                (Some(_), _) => "verifier-id",
                (None, Some(_)) => "resource-uri",
                (None, None) => "verified-level",
            };
            return vec![RuleResult {
                rule: name(flag),
                kind: RuleKind::Requirement(flag),
                status: Status::Error,
                expected: VSA_PREDICATE_TYPE.to_owned(),
                observed,
            }];
        }
        let text = |pointer: &str| {
            predicate
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("(none)")
                .to_owned()
        };
        let mut out = Vec::new();
        if let Some(want) = &self.verifier_id {
            let seen = text("/verifier/id");
            let kind = RuleKind::Requirement("verifier-id");
            out.push(result(name("verifier-id"), kind, seen == *want, want, seen));
        }
        if let Some(want) = &self.resource_uri {
            let seen = text("/resourceUri");
            let kind = RuleKind::Requirement("resource-uri");
            out.push(result(
                name("resource-uri"),
                kind,
                seen == *want,
                want,
                seen,
            ));
        }
        let levels: Vec<&str> = predicate
            .get("verifiedLevels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for want in &self.verified_levels {
            out.push(result(
                name("verified-level"),
                RuleKind::Requirement("verified-level"),
                reaches(&levels, want),
                want,
                if levels.is_empty() {
                    "(none)".to_owned()
                } else {
                    levels.join(", ")
                },
            ));
        }
        out
    }
}

/// The rule every verified VSA (any version) is held to: `verificationResult` (v0.x:
/// `verification_result`) is `PASSED`.
pub fn passed_rule(input: &Input<'_>) -> Option<RuleResult> {
    if !input.facts.predicate_type.starts_with(VSA_PREFIX) {
        return None;
    }
    let predicate = input.statement.get("predicate").unwrap_or(&Value::Null);
    let seen = predicate
        .get("verificationResult")
        .or_else(|| predicate.get("verification_result"))
        .and_then(Value::as_str)
        .map_or_else(|| "(none)".to_owned(), shown);
    Some(result(
        "verificationResult".to_owned(),
        RuleKind::VsaPassed,
        seen == "PASSED",
        "PASSED",
        seen,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_level_of_the_same_track_reaches_a_lower_one() {
        let have = ["SLSA_BUILD_LEVEL_3", "FRSCA"];
        assert!(reaches(&have, "SLSA_BUILD_LEVEL_2"));
        assert!(reaches(&have, "SLSA_BUILD_LEVEL_3"));
        assert!(reaches(&have, "FRSCA"));
        assert!(!reaches(&have, "SLSA_SOURCE_LEVEL_1"));
        assert!(!reaches(&["SLSA_BUILD_LEVEL_1"], "SLSA_BUILD_LEVEL_2"));
        assert!(!reaches(&[], "SLSA_BUILD_LEVEL_1"));
    }
}
