//! OCI storage (`oci`, `oci://<registry>/<repository>`): attestations and image
//! signatures next to the image, as Tekton Chains' `oci` storage and cosign write them.
//!
//! * `dsse` encoding (default): each attestation goes to the `.att` tag of every
//!   Statement subject (`sha256-<hex>.att`), as a DSSE-envelope layer with cosign's
//!   annotations; each image signature to the image's `.sig` tag as a simple-signing
//!   layer with the base64 signature annotation. With a repository override the tags
//!   go there instead of the image's repository.
//! * `sigstore-bundle` encoding: a Sigstore bundle v0.3 per attestation and subject,
//!   and per image signature (cosign 3's form: an in-toto Statement with predicate
//!   type `https://sigstore.dev/cosign/sign/v1`), attached as OCI 1.1 referrers of the
//!   image. Referrers live next to their subject, so a repository override is ignored
//!   (with a warning), as in Chains.
//!
//! A run whose Statement names no subject with a SHA-256 digest pushes nothing; that
//! is logged once and is not an error.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oci_client::Reference;
use tracing::{info, warn};

use super::settings::OciEncoding;
use super::{Error, Signed, SignedImage, Storage, Stored};
use crate::envelope::bundle;
use crate::oci::{self, Registry, cosign, referrers};
use crate::provenance::simplesigning;
use crate::signing::keyless::CertificateChain;
use crate::transparency::{LogEntry, Timestamp};

/// The predicate type cosign 3 gives image signatures in bundles.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Stores in OCI registries.
pub struct OciStorage {
    registry: Arc<Registry>,
    repository: Option<Reference>,
    encoding: OciEncoding,
}

impl fmt::Debug for OciStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OciStorage({self})")
    }
}

impl fmt::Display for OciStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repository {
            Some(r) => write!(f, "oci://{}/{}", r.registry(), r.repository()),
            None => f.write_str("oci"),
        }
    }
}

impl OciStorage {
    /// OCI storage through `registry`, optionally into one `repository`
    /// (`<registry>/<repository>`).
    pub fn new(
        registry: Arc<Registry>,
        repository: Option<String>,
        encoding: OciEncoding,
    ) -> Result<Self, Error> {
        let repository = match repository {
            Some(r) if encoding == OciEncoding::SigstoreBundle => {
                warn!(
                    "`oci://{r}`: Sigstore bundles are attached to the image as referrers, so the repository override is ignored"
                );
                None
            }
            Some(r) => Some(oci::parse_reference(&r)?),
            None => None,
        };
        Ok(Self {
            registry,
            repository,
            encoding,
        })
    }

    /// The repository the cosign tags of `image` go to.
    fn tag_repository<'a>(&'a self, image: &'a Reference) -> &'a Reference {
        self.repository.as_ref().unwrap_or(image)
    }

    async fn put(
        &self,
        image: &Reference,
        kind: cosign::Kind,
        layer: cosign::Layer,
        bundle: impl FnOnce() -> Result<Vec<u8>, Error>,
        predicate_type: &str,
    ) -> Result<Stored, Error> {
        let digest = image.digest().unwrap_or_default().to_owned();
        let (location, written) = match self.encoding {
            OciEncoding::Dsse => {
                let (tag, written) = cosign::append(
                    &self.registry,
                    self.tag_repository(image),
                    &digest,
                    kind,
                    &layer,
                )
                .await?;
                (tag.whole(), written)
            }
            OciEncoding::SigstoreBundle => {
                let json = bundle()?;
                let (referrer, written) =
                    referrers::attach(&self.registry, image, &json, predicate_type).await?;
                (
                    format!("{} (referrer of {})", referrer.whole(), image.whole()),
                    written,
                )
            }
        };
        Ok(Stored {
            backend: "oci",
            location,
            written,
        })
    }
}

/// The cosign annotations every layer Chains writes has: the certificate and chain
/// (empty for key-based signing), and the Rekor bundle when the signature was logged
/// in Rekor v1 (cosign's bundle annotation needs a SET, which Rekor v2 does not give);
/// and cosign's RFC 3161 timestamp annotation, of the first timestamp, when there is
/// one (`.sig` layers only: cosign's `.att` annotation timestamps the envelope's JSON,
/// while chainseal's timestamps are over signatures, as bundles carry them).
fn annotations(
    signature: &str,
    certificate: Option<&CertificateChain>,
    tlog: Option<&LogEntry>,
    timestamps: &[Timestamp],
) -> BTreeMap<String, String> {
    let (cert, chain) = certificate.map_or(("", ""), |c| (&c.leaf_pem, &c.chain_pem));
    let mut out: BTreeMap<String, String> = [
        (cosign::SIGNATURE, signature),
        (cosign::CERTIFICATE, cert),
        (cosign::CHAIN, chain),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(entry) = tlog.filter(|e| !e.is_v2()) {
        out.insert(cosign::BUNDLE.to_owned(), entry.cosign_bundle().to_string());
    }
    if let Some(t) = timestamps.first() {
        out.insert(
            cosign::RFC3161_TIMESTAMP.to_owned(),
            serde_json::json!({"SignedRFC3161Timestamp": STANDARD.encode(&t.token)}).to_string(),
        );
    }
    out
}

#[async_trait]
impl Storage for OciStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        if item.subjects.is_empty() {
            info!(
                "attestation {} has no subject with a sha256 digest: nothing pushed to OCI",
                item.key
            );
            return Ok(Vec::new());
        }
        let blob = item.envelope.to_json().into_bytes();
        // Every subject must be an image before anything is pushed.
        let images = item
            .subjects
            .iter()
            .map(|s| oci::parse_reference(&format!("{}@sha256:{}", s.name, s.sha256)))
            .collect::<Result<Vec<_>, _>>()?;
        // One write per distinct image (two names may share a digest and repository);
        // different images use different tags or referrers, so they are written at
        // once, and every write finishes before the first failure is reported.
        let mut seen = std::collections::BTreeSet::new();
        let writes = images
            .iter()
            .filter(|image| {
                let repo = self.tag_repository(image);
                seen.insert((
                    repo.registry().to_owned(),
                    repo.repository().to_owned(),
                    image.digest().map(str::to_owned),
                ))
            })
            .map(|image| {
                let mut notes = annotations("", item.certificate, item.tlog, &[]);
                notes.insert(
                    cosign::PREDICATE_TYPE.to_owned(),
                    item.predicate_type.to_owned(),
                );
                let layer = cosign::Layer {
                    media_type: cosign::DSSE_LAYER,
                    blob: blob.clone(),
                    annotations: notes,
                };
                let make_bundle = || item.bundle();
                self.put(
                    image,
                    cosign::Kind::Attestation,
                    layer,
                    make_bundle,
                    item.predicate_type,
                )
            });
        futures::future::join_all(writes)
            .await
            .into_iter()
            .collect()
    }

    fn keeps_image_signatures(&self) -> bool {
        true
    }

    fn through(&self, registry: &Arc<Registry>) -> Option<Box<dyn Storage>> {
        Some(Box::new(Self {
            registry: registry.clone(),
            repository: self.repository.clone(),
            encoding: self.encoding,
        }))
    }

    fn repositories(&self, images: &[String]) -> Vec<String> {
        images
            .iter()
            .map(|i| match oci::parse_reference(i) {
                Ok(image) => {
                    let repo = self.tag_repository(&image);
                    format!("{}/{}", repo.registry(), repo.repository())
                }
                // Not a reference: listed as written, so no policy allows it.
                Err(_) => i.clone(),
            })
            .collect()
    }

    async fn store_image(&self, item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        let image =
            oci::parse_reference(&format!("{}@{}", item.image.name(), item.image.digest()))?;
        let layer = cosign::Layer {
            media_type: simplesigning::MEDIA_TYPE,
            blob: item.payload.to_vec(),
            annotations: annotations(
                &STANDARD.encode(item.signature),
                item.certificate,
                item.tlog,
                item.timestamps,
            ),
        };
        // The bundle holds cosign 3's Statement about the image: its own `dsse` entry
        // goes in (the `hashedrekord` is the `.sig` payload's).
        let make_bundle = || {
            let key = item.public_key.ok_or(Error::NoPublicKey)?;
            Ok(bundle::to_json(
                item.statement,
                bundle::Material {
                    public_key_der: &key.der,
                    certificate: item.certificate,
                    tlog: item.statement_tlog,
                    timestamps: item.statement_timestamps,
                },
            ))
        };
        Ok(vec![
            self.put(
                &image,
                cosign::Kind::Signature,
                layer,
                make_bundle,
                COSIGN_SIGN_PREDICATE,
            )
            .await?,
        ])
    }
}
