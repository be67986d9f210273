//! OCI 1.1 referrers: a Sigstore bundle attached to an image as Tekton Chains'
//! `sigstore-bundle` mode and cosign 3 attach it.
//!
//! The referrer is an image manifest pushed by digest with the image as `subject`,
//! `artifactType` the bundle media type, the empty config, one layer (the bundle) and
//! the annotations `dev.sigstore.bundle.content`, `dev.sigstore.bundle.predicateType`
//! and `org.opencontainers.image.created`. Registries with the referrers API index it
//! themselves; for the others the referrers tag schema is kept up to date: the image
//! index at tag `sha256-<hex>` gets a descriptor of the referrer (read-modify-write,
//! manifests sorted by digest, as go-containerregistry does).

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;

use super::manifest::{
    Descriptor, ImageIndex, ImageManifest, OCI_INDEX, OCI_MANIFEST, declared_media_type,
};
use super::{Blob, Error, READ_AT_ONCE, Registry, sha256_digest};

/// Media type (and artifact type) of a Sigstore bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The empty config blob and its media type.
const EMPTY: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Every manifest type an image may have.
const ANY_MANIFEST: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Attach `bundle` (JSON) to `image` (a digest reference). Returns the referrer's
/// digest reference and whether anything was written (`false`: a referrer with an
/// identical bundle exists).
pub async fn attach(
    registry: &Registry,
    image: &Reference,
    bundle: &[u8],
    predicate_type: &str,
) -> Result<(Reference, bool), Error> {
    let image_digest = image.digest().unwrap_or_default().to_owned();
    let (subject_body, _) = registry
        .manifest(image, ANY_MANIFEST)
        .await?
        .ok_or_else(|| Error::Content {
            location: image.whole(),
            reason: "the image does not exist in the registry: push it before attesting".into(),
        })?;
    let subject_type = declared_media_type(&subject_body)
        .filter(|t| ANY_MANIFEST.contains(&t.as_str()))
        .unwrap_or_else(|| OCI_MANIFEST.to_owned());
    let bundle_digest = sha256_digest(bundle);

    // An identical bundle attached before (a re-run) is not attached again. A
    // referrer can only name a blob the repository has, so the referrers are searched
    // only when it has the bundle's blob; their manifests are read a few at a time
    // (an image may have many).
    let present = match registry.has_blob(image, &bundle_digest).await {
        Ok(present) => present,
        Err(e @ Error::Unauthorized { .. }) => return Err(e),
        // Only a shortcut: a registry that cannot answer it is searched in full.
        Err(e) => {
            tracing::warn!("{e}; searching the referrers of {} instead", image.whole());
            true
        }
    };
    let candidates = if present {
        listed(registry, image).await?
    } else {
        Vec::new()
    };
    let mut manifests = futures::stream::iter(candidates)
        .map(|existing| async move {
            let referrer = image.clone_with_digest(existing);
            let body = registry.manifest(&referrer, &[OCI_MANIFEST]).await?;
            Ok::<_, Error>((referrer, body))
        })
        .buffered(READ_AT_ONCE);
    while let Some(read) = manifests.next().await {
        if let (referrer, Some((body, _))) = read?
            && let Ok(m) = ImageManifest::parse(&body)
            && m.layers.iter().any(|l| l.digest == bundle_digest)
        {
            return Ok((referrer, false));
        }
    }

    // An image's attestation and signature bundles are attached at once; they share
    // the empty config (uploaded once, see `Registry::push_blob`).
    let bundle_kind = if present { Blob::Shared } else { Blob::Fresh };
    let (empty, bundle_pushed) = tokio::join!(
        registry.push_blob(image, EMPTY, Blob::Shared),
        registry.push_blob(image, bundle, bundle_kind)
    );
    empty?;
    bundle_pushed?;
    let created = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
        config: Descriptor {
            media_type: EMPTY_MEDIA_TYPE.into(),
            digest: sha256_digest(EMPTY),
            size: EMPTY.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        },
        layers: vec![Descriptor {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            digest: bundle_digest,
            size: bundle.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }],
        subject: Some(Descriptor {
            media_type: subject_type,
            digest: image_digest.clone(),
            size: subject_body.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }),
        annotations: BTreeMap::from([
            (
                "dev.sigstore.bundle.content".to_owned(),
                "dsse-envelope".to_owned(),
            ),
            (
                "dev.sigstore.bundle.predicateType".to_owned(),
                predicate_type.to_owned(),
            ),
            ("org.opencontainers.image.created".to_owned(), created),
        ]),
    };
    let body = manifest.to_bytes();
    let digest = sha256_digest(&body);
    let referrer = image.clone_with_digest(digest.clone());
    registry
        .push_manifest(&referrer, &body, OCI_MANIFEST)
        .await?;

    // Registries with the referrers API list it now; otherwise keep the tag schema,
    // whose index is read, changed and written back by one attach at a time.
    let _held = registry
        .lock(fallback_tag(image, &image_digest).whole())
        .await;
    if !listed(registry, image).await?.contains(&digest) {
        add_to_fallback_index(registry, image, &image_digest, &digest, body.len()).await?;
    }
    Ok((referrer, true))
}

/// Digests of the bundle referrers of `image`.
async fn listed(registry: &Registry, image: &Reference) -> Result<Vec<String>, Error> {
    let index = registry.referrers(image, Some(BUNDLE_MEDIA_TYPE)).await?;
    // `referrers` keeps only bundles and entries without an artifact type.
    Ok(index.manifests.into_iter().map(|m| m.digest).collect())
}

/// The referrers tag schema's index tag of `image`: `sha256-<hex>`.
pub(super) fn fallback_tag(image: &Reference, image_digest: &str) -> Reference {
    Reference::with_tag(
        image.registry().to_owned(),
        image.repository().to_owned(),
        image_digest.replace(':', "-"),
    )
}

/// The referrers tag schema: add the referrer to the index at `sha256-<hex>`.
async fn add_to_fallback_index(
    registry: &Registry,
    image: &Reference,
    image_digest: &str,
    referrer_digest: &str,
    referrer_size: usize,
) -> Result<(), Error> {
    // The caller holds this tag's lock; the check below guards against other processes.
    let tag = fallback_tag(image, image_digest);
    for _ in 0..3 {
        let mut manifests = match registry.manifest(&tag, &[OCI_INDEX]).await? {
            Some((body, _)) => ImageIndex::parse(&body)
                .ok()
                .filter(|i| i.media_type.as_deref() == Some(OCI_INDEX))
                .ok_or_else(|| Error::Content {
                    location: tag.whole(),
                    reason: "the referrers tag holds something other than an OCI image index; move it away".into(),
                })?
                .manifests,
            None => Vec::new(),
        };
        if manifests.iter().any(|m| m.digest == referrer_digest) {
            return Ok(());
        }
        manifests.push(Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: referrer_digest.to_owned(),
            size: referrer_size as u64,
            artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
            annotations: BTreeMap::new(),
        });
        manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests,
        };
        registry
            .push_manifest(&tag, &index.to_bytes(), OCI_INDEX)
            .await?;
        // Confirm against concurrent writers, as for cosign tags.
        let landed = registry
            .manifest(&tag, &[OCI_INDEX])
            .await?
            .and_then(|(b, _)| ImageIndex::parse(&b).ok())
            .is_some_and(|i| i.manifests.iter().any(|m| m.digest == referrer_digest));
        if landed {
            return Ok(());
        }
    }
    Err(Error::Content {
        location: tag.whole(),
        reason: "the referrers tag kept changing while it was written; try again".into(),
    })
}

/// Every Sigstore bundle attached to `image`, with its referrer digest.
pub async fn bundles(
    registry: &Registry,
    image: &Reference,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    // Each referrer's manifest and bundles, a few referrers at a time, in index order.
    let per_referrer = futures::stream::iter(listed(registry, image).await?)
        .map(|digest| async move {
            let referrer = image.clone_with_digest(digest.clone());
            let mut found = Vec::new();
            let Some((body, _)) = registry.manifest(&referrer, &[OCI_MANIFEST]).await? else {
                return Ok(found);
            };
            let Ok(m) = ImageManifest::parse(&body) else {
                return Ok(found);
            };
            for l in m
                .layers
                .iter()
                .filter(|l| l.media_type == BUNDLE_MEDIA_TYPE)
            {
                found.push((
                    digest.clone(),
                    registry.blob(&referrer, &l.digest, l.size).await?,
                ));
            }
            Ok::<_, Error>(found)
        })
        .buffered(READ_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    let out = per_referrer.into_iter().flatten().collect();
    Ok(out)
}
