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

use super::manifest::{
    CosignConfig, DOCKER_MANIFEST, Descriptor, History, ImageManifest, OCI_MANIFEST, RootFs,
};
use super::{Blob, Error, READ_AT_ONCE, Registry, sha256_digest};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;

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
/// Layer annotation holding an RFC 3161 timestamp over the signature
/// (`{"SignedRFC3161Timestamp": <base64 DER token>}`), when there is one.
pub const RFC3161_TIMESTAMP: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Layer annotation cosign's `attest` adds with the Statement's predicate type.
pub const PREDICATE_TYPE: &str = "predicateType";

const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
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
///
/// The manifest and config written are built from the layers read (typed), never by
/// editing the fetched documents: whatever else a registry put there is not written back.
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
        let existing = read_manifest(registry, &tag).await?;
        let (manifest_type, config_type, mut layers) = match existing {
            Some(m) => {
                let docker = m.media_type.as_deref() == Some(DOCKER_MANIFEST);
                (
                    if docker {
                        DOCKER_MANIFEST
                    } else {
                        OCI_MANIFEST
                    },
                    if docker { DOCKER_CONFIG } else { OCI_CONFIG },
                    m.layers,
                )
            }
            None => (OCI_MANIFEST, OCI_CONFIG, Vec::new()),
        };
        if layers.iter().any(|l| l.digest == digest) {
            return Ok((tag, false));
        }
        layers.push(Descriptor {
            media_type: layer.media_type.to_owned(),
            digest: digest.clone(),
            size: layer.blob.len() as u64,
            artifact_type: None,
            annotations: layer.annotations.clone(),
        });
        // go-containerregistry's config: one diff_id (the layer digest: signature
        // layers are not compressed) and one history entry per layer.
        let config = CosignConfig {
            architecture: String::new(),
            config: Default::default(),
            created: ZERO_TIME.to_owned(),
            history: layers
                .iter()
                .map(|_| History {
                    created: ZERO_TIME.to_owned(),
                })
                .collect(),
            os: String::new(),
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
            },
        }
        .to_bytes();
        let (layer_pushed, config_pushed) = tokio::join!(
            registry.push_blob(&tag, &layer.blob, Blob::Fresh),
            registry.push_blob(&tag, &config, Blob::Fresh)
        );
        layer_pushed?;
        let config_digest = config_pushed?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(manifest_type.to_owned()),
            artifact_type: None,
            config: Descriptor {
                media_type: config_type.to_owned(),
                digest: config_digest,
                size: config.len() as u64,
                artifact_type: None,
                annotations: Default::default(),
            },
            layers,
            subject: None,
            annotations: Default::default(),
        };
        registry
            .push_manifest(&tag, &manifest.to_bytes(), manifest_type)
            .await?;
        // Confirm: a concurrent writer may have replaced the tag after our read.
        let landed = read_manifest(registry, &tag)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| m.layers.iter().any(|l| l.digest == digest));
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

/// The manifest at `tag`, typed; `None` when the tag does not exist.
async fn read_manifest(
    registry: &Registry,
    tag: &Reference,
) -> Result<Option<ImageManifest>, Error> {
    let Some((body, _)) = registry
        .manifest(tag, &[OCI_MANIFEST, DOCKER_MANIFEST])
        .await?
    else {
        return Ok(None);
    };
    ImageManifest::parse(&body)
        .map(Some)
        .map_err(|e| Error::Content {
            location: tag.whole(),
            reason: format!("the tag holds a manifest chainseal cannot read ({e}); move it away"),
        })
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
    let Some(manifest) = read_manifest(registry, &tag).await? else {
        return Ok(Vec::new());
    };
    // The layers' blobs, a few at a time, in the manifest's order.
    futures::stream::iter(manifest.layers)
        .map(|l| {
            let tag = &tag;
            async move {
                let blob = registry.blob(tag, &l.digest, l.size).await?;
                Ok(ReadLayer {
                    media_type: l.media_type,
                    digest: l.digest,
                    annotations: l.annotations,
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
}
