//! Simple-signing payloads: what cosign and Tekton Chains sign for a container image
//! (`cosign container image signature`, sigstore `payload.Cosign`), one per image a
//! TaskRun names in its results.
//!
//! Images come from the TaskRun's `status.results` only, in Chains' order
//! (`*IMAGE_URL`/`*IMAGE_DIGEST` pairs, `IMAGES`, build-artifact `*ARTIFACT_OUTPUTS`),
//! de-duplicated on the normalised `repository@sha256:hex`. For a PipelineRun record,
//! the images of its TaskRuns (Chains signs images when it signs each TaskRun). The
//! bytes are signed as they are (no DSSE).

use serde::Serialize;

use crate::record::tekton::hints::{self, Finding};
use crate::record::tekton::{Record, TaskRun};
use crate::reference::DigestReference;

/// The payload type cosign stores simple-signing payloads under.
pub const MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// One image and the exact bytes to sign for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePayload {
    /// The image.
    pub image: DigestReference,
    /// Compact JSON, field order as cosign writes it.
    pub payload: Vec<u8>,
}

impl ImagePayload {
    /// Chains' short storage key: the first 12 hex characters of the digest.
    pub fn short_key(&self) -> &str {
        &self.image.sha256[..12]
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    optional: Option<()>,
}

#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity<'a>,
    image: Image<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Identity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}

#[derive(Serialize)]
struct Image<'a> {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: &'a str,
}

/// The payload for one image.
pub fn payload(image: &DigestReference) -> Vec<u8> {
    let name = image.name();
    let digest = image.digest();
    let p = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: &name,
            },
            image: Image {
                docker_manifest_digest: &digest,
            },
            kind: "cosign container image signature",
        },
        optional: None,
    };
    // Plain strings only: serialising cannot fail.
    serde_json::to_vec(&p).unwrap_or_default()
}

/// Payloads for every image a record's TaskRuns name: a TaskRun's own, or for a
/// PipelineRun those of its TaskRuns (what Chains' TaskRun controller would sign for
/// them), without repeats.
pub fn payloads(record: &Record) -> Vec<ImagePayload> {
    match record {
        Record::TaskRun(tr) => taskrun_payloads(tr),
        Record::PipelineRun { children, .. } => {
            let mut seen = std::collections::HashSet::new();
            children
                .iter()
                .flat_map(taskrun_payloads)
                .filter(|p| seen.insert(p.image.to_string()))
                .collect()
        }
    }
}

/// Payloads for every image a TaskRun names in its results.
pub fn taskrun_payloads(tr: &TaskRun) -> Vec<ImagePayload> {
    let mut ignored: Vec<Finding> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    hints::images(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        &mut ignored,
    )
    .into_iter()
    .filter(|(_, image)| seen.insert(image.to_string()))
    .map(|(_, image)| ImagePayload {
        payload: payload(&image),
        image,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5";

    #[test]
    fn payload_bytes_match_cosign() {
        let image =
            DigestReference::parse(&format!("gcr.io/foo/bar:v1@sha256:{HEX}")).expect("ref");
        assert_eq!(
            String::from_utf8(payload(&image)).expect("utf-8"),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"gcr.io/foo/bar"}},"image":{{"docker-manifest-digest":"sha256:{HEX}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let p = ImagePayload {
            payload: payload(&image),
            image,
        };
        assert_eq!(p.short_key(), "05f95b26ed10");
    }
}
