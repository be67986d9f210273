//! `tekton` storage: Tekton Chains' annotations on the run itself.
//!
//! For the storage key `<kind>-<uid>`: `chains.tekton.dev/payload-<key>` (base64 of
//! the Statement), `chains.tekton.dev/signature-<key>` (base64 of the DSSE envelope
//! JSON), `chains.tekton.dev/cert-<key>` and `chains.tekton.dev/chain-<key>` (empty
//! for key-based signing), and `chains.tekton.dev/signed: "true"`, merged into the
//! TaskRun's or PipelineRun's annotations with one patch. Image signatures
//! (`artifacts.oci.storage: tekton`, controller only) get the same four annotations
//! under the image's key, the first 12 hex digits of its digest
//! ([`image_annotations`]). Kubernetes caps all of an
//! object's annotations at 256 KiB; a patch that would exceed it is refused before it
//! is sent.

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::{Error, Signed, SignedImage, Storage, Stored};
use crate::kube::Cluster;

/// Kubernetes' limit on the total size of an object's annotations.
pub const ANNOTATIONS_LIMIT: usize = 256 * 1024;
const PREFIX: &str = "chains.tekton.dev/";

/// Annotates runs through the Kubernetes API.
#[derive(Debug)]
pub struct TektonStorage {
    namespace: Option<String>,
}

impl fmt::Display for TektonStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tekton")
    }
}

impl TektonStorage {
    /// Storage on runs in their own namespace (`namespace` for runs that name none).
    pub fn new(namespace: Option<String>) -> Self {
        Self { namespace }
    }
}

/// The annotations Chains writes for `item`.
pub fn annotations(item: &Signed<'_>) -> Map<String, Value> {
    let key = item.key;
    let mut out = Map::new();
    out.insert(
        format!("{PREFIX}payload-{key}"),
        STANDARD.encode(&item.envelope.payload).into(),
    );
    out.insert(
        format!("{PREFIX}signature-{key}"),
        STANDARD.encode(item.envelope.to_json()).into(),
    );
    let (cert, chain) = super::certificate_pem(item.certificate);
    out.insert(format!("{PREFIX}cert-{key}"), STANDARD.encode(cert).into());
    out.insert(
        format!("{PREFIX}chain-{key}"),
        STANDARD.encode(chain).into(),
    );
    if let Some(entry) = item.tlog {
        out.insert(format!("{PREFIX}transparency"), entry.location().into());
    }
    out.insert(format!("{PREFIX}signed"), "true".into());
    out
}

/// The annotations Chains writes for an image signature kept in `tekton` storage
/// (`artifacts.oci.storage: tekton`): `payload-<key>` (base64 of the simple-signing
/// payload), `signature-<key>` (base64 of the raw signature over it), `cert-<key>`
/// and `chain-<key>` (base64 PEM, empty for key-based signing), where `<key>` is the
/// first 12 hex digits of the image digest. No `signed` mark: the run's own
/// attestation decides that.
pub fn image_annotations(item: &SignedImage<'_>) -> Map<String, Value> {
    let key = super::image_key(item);
    let (cert, chain) = super::certificate_pem(item.certificate);
    [
        ("payload", STANDARD.encode(item.payload)),
        ("signature", STANDARD.encode(item.signature)),
        ("cert", STANDARD.encode(cert)),
        ("chain", STANDARD.encode(chain)),
    ]
    .into_iter()
    .map(|(name, value)| (format!("{PREFIX}{name}-{key}"), Value::String(value)))
    .collect()
}

/// Total size (keys and values) of `existing` annotations after merging `new`.
pub fn merged_size(existing: &Map<String, Value>, new: &Map<String, Value>) -> usize {
    let size = |(k, v): (&String, &Value)| k.len() + v.as_str().map_or(0, str::len);
    existing
        .iter()
        .filter(|(k, _)| !new.contains_key(*k))
        .map(size)
        .sum::<usize>()
        + new.iter().map(size).sum::<usize>()
}

#[async_trait]
impl Storage for TektonStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let run = item.run.ok_or(Error::NoRun)?;
        let kind = run.kind;
        let namespace = run.namespace.clone().or_else(|| self.namespace.clone());
        let cluster = Cluster::connect(namespace.as_deref()).await?;
        let ns = namespace.unwrap_or_else(|| cluster.namespace.clone());
        let current = cluster.get(kind, &ns, &run.name).await?;
        let existing = current
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let new = annotations(item);
        let location = format!(
            "{}/{ns}/{} annotations {PREFIX}signature-{}",
            kind.plural(),
            run.name,
            item.key
        );
        if new.iter().all(|(k, v)| existing.get(k) == Some(v)) {
            return Ok(vec![Stored {
                backend: "tekton",
                location,
                written: false,
            }]);
        }
        let size = merged_size(&existing, &new);
        if size > ANNOTATIONS_LIMIT {
            return Err(Error::AnnotationsTooLarge {
                run: format!("{} {ns}/{}", run.kind, run.name),
                size,
            });
        }
        cluster.annotate(kind, &ns, &run.name, &new).await?;
        Ok(vec![Stored {
            backend: "tekton",
            location,
            written: true,
        }])
    }
}

/// `tekton` storage written with the run's mark: the annotations are collected
/// here, and the controller writes them in the same patch as
/// `chains.tekton.dev/signed: "true"`, so the two land together or not at all.
#[derive(Debug, Default)]
pub struct WithMark {
    annotations: std::sync::Mutex<Map<String, Value>>,
}

impl fmt::Display for WithMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tekton")
    }
}

impl WithMark {
    /// The annotations collected, without the `signed` mark (the caller's).
    pub fn take(&self) -> Map<String, Value> {
        let mut map = std::mem::take(&mut *self.lock());
        map.remove(&format!("{PREFIX}signed"));
        map
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        self.annotations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn collected(&self, new: Map<String, Value>, what: String) -> Vec<Stored> {
        self.lock().extend(new);
        vec![Stored {
            backend: "tekton",
            location: what,
            written: true,
        }]
    }
}

#[async_trait]
impl Storage for WithMark {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let run = item.run.ok_or(Error::NoRun)?;
        let what = format!(
            "{} {} annotations {PREFIX}signature-{}",
            run.kind, run.name, item.key
        );
        Ok(self.collected(annotations(item), what))
    }

    fn keeps_image_signatures(&self) -> bool {
        true
    }

    fn deferred(&self) -> bool {
        true
    }

    async fn store_image(&self, item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        let run = item.run.ok_or(Error::NoRun)?;
        let what = format!(
            "{} {} annotations {PREFIX}signature-{}",
            run.kind,
            run.name,
            super::image_key(item)
        );
        Ok(self.collected(image_annotations(item), what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, EnvelopeSignature};

    #[test]
    fn annotations_match_chains_and_sizes_count_keys_and_values() {
        let env = Envelope {
            payload_type: "application/vnd.in-toto+json".into(),
            payload: b"{}".to_vec(),
            signatures: vec![EnvelopeSignature {
                keyid: "k".into(),
                sig: vec![1],
            }],
        };
        let item = Signed {
            key: "pipelinerun-u1",
            envelope: &env,
            predicate_type: "p",
            subjects: &[],
            public_key: None,
            certificate: None,
            tlog: None,
            timestamps: &[],
            run: None,
        };
        let a = annotations(&item);
        assert_eq!(a["chains.tekton.dev/payload-pipelinerun-u1"], "e30=");
        assert_eq!(a["chains.tekton.dev/cert-pipelinerun-u1"], "");
        assert_eq!(a["chains.tekton.dev/signed"], "true");
        let decoded = STANDARD
            .decode(
                a["chains.tekton.dev/signature-pipelinerun-u1"]
                    .as_str()
                    .expect("str"),
            )
            .expect("base64");
        assert_eq!(decoded, env.to_json().as_bytes());
        let mut existing = Map::new();
        existing.insert("a".into(), "bb".into());
        existing.insert("chains.tekton.dev/signed".into(), "false".into());
        let mut new = Map::new();
        new.insert("chains.tekton.dev/signed".into(), "true".into());
        assert_eq!(
            merged_size(&existing, &new),
            3 + "chains.tekton.dev/signed".len() + 4
        );
    }

    #[test]
    fn image_annotations_are_chains_keys_with_base64_values() {
        let image = crate::reference::DigestReference::parse(&format!(
            "registry.example/app@sha256:{}",
            "ab".repeat(32)
        ))
        .expect("reference");
        let statement = Envelope {
            payload_type: "t".into(),
            payload: Vec::new(),
            signatures: Vec::new(),
        };
        let item = SignedImage {
            image: &image,
            payload: b"{}",
            signature: &[0xff, 0x00],
            statement: &statement,
            public_key: None,
            certificate: None,
            tlog: None,
            statement_tlog: None,
            timestamps: &[],
            statement_timestamps: &[],
            run: None,
        };
        let a = image_annotations(&item);
        let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "chains.tekton.dev/cert-abababababab",
                "chains.tekton.dev/chain-abababababab",
                "chains.tekton.dev/payload-abababababab",
                "chains.tekton.dev/signature-abababababab",
            ]
        );
        assert_eq!(a["chains.tekton.dev/payload-abababababab"], "e30=");
        assert_eq!(a["chains.tekton.dev/signature-abababababab"], "/wA=");
        assert_eq!(a["chains.tekton.dev/cert-abababababab"], "");
    }
}
