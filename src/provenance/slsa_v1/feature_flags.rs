//! Tekton Pipelines feature flags as Chains re-encodes them into
//! `internalParameters["tekton-pipelines-feature-flags"]`: decoded into
//! `config.FeatureFlags` (tektoncd/pipeline v1.15) and written back with the struct's
//! json tags. Keys match case-insensitively (Go `encoding/json`), unknown keys are
//! dropped, zero values are omitted — except `enableTektonOCIBundles`, a `*bool`,
//! whose explicit `false` is kept.

use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    String,
    Int,
    OptionalBool,
}

const FLAGS: &[(&str, Kind)] = &[
    ("disableCredsInit", Kind::Bool),
    ("runningInEnvWithInjectedSidecars", Kind::Bool),
    ("requireGitSSHSecretKnownHosts", Kind::Bool),
    ("enableAPIFields", Kind::String),
    ("sendCloudEventsForRuns", Kind::Bool),
    ("awaitSidecarReadiness", Kind::Bool),
    ("enforceNonfalsifiability", Kind::String),
    ("enableKeepPodOnCancel", Kind::Bool),
    ("verificationNoMatchPolicy", Kind::String),
    ("enableProvenanceInStatus", Kind::Bool),
    ("resultExtractionMethod", Kind::String),
    ("maxResultSize", Kind::Int),
    ("setSecurityContext", Kind::Bool),
    ("setSecurityContextReadOnlyRootFilesystem", Kind::Bool),
    ("coschedule", Kind::String),
    ("enableCELInWhenExpression", Kind::Bool),
    ("enableStepActions", Kind::Bool),
    ("enableParamEnum", Kind::Bool),
    ("enableArtifacts", Kind::Bool),
    ("disableInlineSpec", Kind::String),
    ("enableConciseResolverSyntax", Kind::Bool),
    ("enableKubernetesSidecar", Kind::Bool),
    ("enableWaitExponentialBackoff", Kind::Bool),
    ("enableTerminationMessageCompression", Kind::Bool),
    ("enableTektonOCIBundles", Kind::OptionalBool),
];

/// A feature flag whose value has the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("feature flag `{flag}` has the wrong type: {value}")]
pub struct WrongType {
    /// The flag.
    pub flag: &'static str,
    /// Its value.
    pub value: Value,
}

/// Re-encode feature flags; `Err` names a flag whose value has the wrong type.
pub fn normalise(input: &Map<String, Value>) -> Result<Map<String, Value>, WrongType> {
    let mut out = Map::new();
    for (tag, kind) in FLAGS {
        // An exact match wins over a case-insensitive one, as in Go.
        let value = input.get(*tag).or_else(|| {
            input
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v)
        });
        let Some(value) = value else { continue };
        let wrong = || WrongType {
            flag: tag,
            value: value.clone(),
        };
        let keep = match (kind, value) {
            (_, Value::Null) => None,
            (Kind::Bool, Value::Bool(b)) => b.then_some(Value::Bool(true)),
            (Kind::OptionalBool, Value::Bool(b)) => Some(Value::Bool(*b)),
            (Kind::String, Value::String(s)) => (!s.is_empty()).then(|| value.clone()),
            (Kind::Int, Value::Number(n)) if n.is_i64() => {
                (n.as_i64() != Some(0)).then(|| value.clone())
            }
            _ => return Err(wrong()),
        };
        if let Some(v) = keep {
            out.insert((*tag).to_owned(), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn re_encodes_like_go() {
        let input = json!({
            "EnableAPIFields": "beta",
            "ResultExtractionMethod": "termination-message",
            "enableStepActions": false,
            "enableTektonOCIBundles": false,
            "maxResultSize": 4096,
            "unknownFlag": "x"
        });
        let out = normalise(input.as_object().expect("object")).expect("valid");
        assert_eq!(
            Value::Object(out),
            json!({
                "enableAPIFields": "beta",
                "resultExtractionMethod": "termination-message",
                "enableTektonOCIBundles": false,
                "maxResultSize": 4096
            })
        );
        let bad = json!({"enableStepActions": "yes"});
        assert!(normalise(bad.as_object().expect("object")).is_err());
    }
}
