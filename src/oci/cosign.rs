//! cosign's tag layout: signatures in `<repo>:sha256-<hex>.sig`, attestations in
//! `<repo>:sha256-<hex>.att`, one layer each, as cosign and Tekton Chains write them.
//!
//! A tag is an OCI image manifest whose config is a go-containerregistry config file
//! (one `rootfs.diff_ids` and `history` entry per layer) and whose layers are the
//! signed items. Adding one is a read-modify-write of the tag: existing layers are
//! kept, a layer whose digest is already there is not added again, and after the
//! write the tag is read back to confirm the layer landed (a concurrent writer may
//! have replaced the tag in between; then the append is done again).

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;
use serde_json::{Value, json};

use super::{Blob, Error, READ_AT_ONCE, Registry, sha256_digest};

/// Layer media type of an attestation (the DSSE envelope JSON).
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// Layer annotation holding the base64 signature (`""` for attestations).
pub const SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding the signing certificate (PEM; `""` for keys).
pub const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding the certificate chain (PEM; `""` for keys).
pub const CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding the Rekor bundle (SET), when there is one.
pub const BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation cosign's `attest` adds with the Statement's predicate type.
pub const PREDICATE_TYPE: &str = "predicateType";

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// go-containerregistry's zero time, as cosign's config files carry it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Which tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.sig`: image signatures.
    Signature,
    /// `.att`: attestations.
    Attestation,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Self::Signature => "sig",
            Self::Attestation => "att",
        }
    }
}

/// One layer to add.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Media type.
    pub media_type: &'static str,
    /// The blob.
    pub blob: Vec<u8>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A layer read from a tag.
#[derive(Debug, Clone)]
pub struct ReadLayer {
    /// Media type.
    pub media_type: String,
    /// Digest.
    pub digest: String,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// The blob (digest checked).
    pub blob: Vec<u8>,
}

/// The tag of `kind` for the image digest `sha256:<hex>` in `repo` (a reference
/// whose registry and repository are used).
pub fn tag(repo: &Reference, image_digest: &str, kind: Kind) -> Reference {
    let tag = format!("{}.{}", image_digest.replace(':', "-"), kind.suffix());
    Reference::with_tag(
        repo.registry().to_owned(),
        repo.repository().to_owned(),
        tag,
    )
}

/// Add `layer` to the `kind` tag of `image_digest` in `repo`. Returns the tag and
/// whether anything was written (`false`: an identical layer was already there).
pub async fn append(
    registry: &Registry,
    repo: &Reference,
    image_digest: &str,
    kind: Kind,
    layer: &Layer,
) -> Result<(Reference, bool), Error> {
    let tag = tag(repo, image_digest, kind);
    let digest = sha256_digest(&layer.blob);
    // Writers in this process take turns (a run may sign one image more than once);
    // the read-back below guards against other processes.
    let _held = registry.lock(tag.whole()).await;
    for _ in 0..3 {
        let existing = registry
            .manifest(&tag, &[OCI_MANIFEST, DOCKER_MANIFEST])
            .await?;
        let mut manifest: Value = match &existing {
            Some((body, _)) => serde_json::from_slice(body).map_err(|e| Error::Content {
                location: tag.whole(),
                reason: format!("the tag holds no JSON manifest: {e}"),
            })?,
            None => json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}),
        };
        let layers = manifest
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if layers.iter().any(|l| l["digest"] == digest.as_str()) {
            return Ok((tag, false));
        }
        // The config: the existing one (read while the layer uploads) with this layer
        // added, or a new one; it is uploaded alongside the layer, as it needs only the
        // layer's digest.
        let config = async {
            let mut config = match manifest.pointer("/config/digest").and_then(Value::as_str) {
                Some(config_digest) => {
                    let size = manifest
                        .pointer("/config/size")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    let blob = registry.blob(&tag, config_digest, size).await?;
                    serde_json::from_slice(&blob).map_err(|e| Error::Content {
                        location: format!("{} config {config_digest}", tag.whole()),
                        reason: format!("not JSON: {e}"),
                    })?
                }
                None => json!({
                    "architecture": "", "created": ZERO_TIME, "history": [], "os": "",
                    "rootfs": {"type": "layers", "diff_ids": []}, "config": {},
                }),
            };
            push_json(&mut config, "/rootfs/diff_ids", json!(digest));
            push_json(&mut config, "/history", json!({"created": ZERO_TIME}));
            let bytes = serde_json::to_vec(&config).unwrap_or_default();
            let digest = registry.push_blob(&tag, &bytes, Blob::Fresh).await?;
            Ok::<_, Error>((bytes.len(), digest))
        };
        let (layer_pushed, config) =
            tokio::join!(registry.push_blob(&tag, &layer.blob, Blob::Fresh), config);
        layer_pushed?;
        let (config_size, config_digest) = config?;
        let config_media_type = manifest
            .pointer("/config/mediaType")
            .and_then(Value::as_str)
            .unwrap_or(OCI_CONFIG)
            .to_owned();
        manifest["config"] = json!({
            "mediaType": config_media_type,
            "size": config_size,
            "digest": config_digest,
        });
        let mut all = layers;
        all.push(json!({
            "mediaType": layer.media_type,
            "size": layer.blob.len(),
            "digest": digest,
            "annotations": layer.annotations,
        }));
        manifest["layers"] = Value::Array(all);
        let media_type = manifest
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(OCI_MANIFEST)
            .to_owned();
        let body = serde_json::to_vec(&manifest).unwrap_or_default();
        registry.push_manifest(&tag, &body, &media_type).await?;
        // Confirm: a concurrent writer may have replaced the tag after our read.
        let landed = registry
            .manifest(&tag, &[OCI_MANIFEST, DOCKER_MANIFEST])
            .await?
            .and_then(|(body, _)| serde_json::from_slice::<Value>(&body).ok())
            .is_some_and(|m| {
                m["layers"]
                    .as_array()
                    .is_some_and(|ls| ls.iter().any(|l| l["digest"] == digest.as_str()))
            });
        if landed {
            return Ok((tag, true));
        }
        tracing::warn!(tag = %tag.whole(), "the tag changed while writing it; adding the layer again");
    }
    Err(Error::Content {
        location: tag.whole(),
        reason: "the tag kept changing while it was written (another writer?); try again".into(),
    })
}

fn push_json(doc: &mut Value, pointer: &str, item: Value) {
    match doc.pointer_mut(pointer) {
        Some(Value::Array(items)) => items.push(item),
        _ => {
            // Missing or malformed: rebuild the path's last component as a list.
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(Value::Object(map)) = if parent.is_empty() {
                Some(&mut *doc)
            } else {
                doc.pointer_mut(parent)
            } {
                map.insert(key.to_owned(), Value::Array(vec![item]));
            }
        }
    }
}

/// Every layer of the `kind` tag of `image_digest` in `repo` (empty when the tag
/// does not exist), blobs included.
pub async fn read(
    registry: &Registry,
    repo: &Reference,
    image_digest: &str,
    kind: Kind,
) -> Result<Vec<ReadLayer>, Error> {
    let tag = tag(repo, image_digest, kind);
    let Some((body, _)) = registry
        .manifest(&tag, &[OCI_MANIFEST, DOCKER_MANIFEST])
        .await?
    else {
        return Ok(Vec::new());
    };
    let manifest: Value = serde_json::from_slice(&body).map_err(|e| Error::Content {
        location: tag.whole(),
        reason: format!("not a JSON manifest: {e}"),
    })?;
    // The layers' blobs, a few at a time, in the manifest's order.
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    futures::stream::iter(layers)
        .map(|l| {
            let tag = &tag;
            async move {
                let digest = l["digest"].as_str().unwrap_or_default().to_owned();
                let size = l["size"].as_i64().unwrap_or(0);
                let blob = registry.blob(tag, &digest, size).await?;
                let annotations = l["annotations"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(ReadLayer {
                    media_type: l["mediaType"].as_str().unwrap_or_default().to_owned(),
                    digest,
                    annotations,
                    blob,
                })
            }
        })
        .buffered(READ_AT_ONCE)
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_cosign() {
        let repo: Reference = "127.0.0.1:5000/team/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .expect("ref");
        let t = tag(&repo, "sha256:abc", Kind::Attestation);
        assert_eq!(t.whole(), "127.0.0.1:5000/team/app:sha256-abc.att");
        assert_eq!(
            tag(&repo, "sha256:abc", Kind::Signature).whole(),
            "127.0.0.1:5000/team/app:sha256-abc.sig"
        );
    }

    #[test]
    fn config_lists_grow() {
        let mut config = json!({"rootfs": {"type": "layers", "diff_ids": ["a"]}});
        push_json(&mut config, "/rootfs/diff_ids", json!("b"));
        push_json(&mut config, "/history", json!({"created": ZERO_TIME}));
        assert_eq!(config["rootfs"]["diff_ids"], json!(["a", "b"]));
        assert_eq!(config["history"], json!([{"created": ZERO_TIME}]));
    }
}
