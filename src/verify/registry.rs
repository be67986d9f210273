//! Verification of what a registry holds for an image: attestations in the cosign
//! `.att` tag and in Sigstore bundle referrers, and image signatures in the `.sig`
//! tag. Every item is verified with the key, then its claim is checked against the
//! image: an attestation must name the image digest among its subjects, a signature
//! payload must carry it as `docker-manifest-digest`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigstore::crypto::Signature;
use thiserror::Error;

use super::{Check, Outcome, Rejection, StatementError, Verified, Verifier, keyless};
use crate::envelope::{Envelope, bundle};
use crate::oci::{self, Registry, cosign, referrers};
use crate::provenance::simplesigning;

/// Why an item a registry holds for an image does not verify with a key, or is not
/// about the image.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A cosign `.att` layer that is not a DSSE envelope.
    #[error("the layer is not a DSSE envelope")]
    LayerNotEnvelope(#[source] serde_json::Error),
    /// A referrer that is not a Sigstore bundle with a DSSE envelope
    /// (`envelope::bundle`'s reason).
    #[error(transparent)]
    NotBundle(crate::envelope::bundle::BundleError),
    /// A `.sig` layer of another media type than simple signing's.
    #[error("unexpected layer media type `{0}`")]
    MediaType(String),
    /// A `.sig` layer without cosign's signature annotation.
    #[error("the layer has no signature annotation")]
    NoSignatureAnnotation,
    /// The signature annotation is not base64.
    #[error("the signature annotation is not base64")]
    SignatureNotBase64(#[source] base64::DecodeError),
    /// The `.sig` signature does not verify with the key.
    #[error("the signature does not verify with this key")]
    SignatureMismatch,
    /// The simple-signing payload signs another image.
    #[error("the payload signs `{claimed}`, not {digest}")]
    OtherImage {
        /// The digest the payload names.
        claimed: String,
        /// The image's digest.
        digest: String,
    },
    /// A verified attestation about other subjects than the image.
    #[error("verified, but its subjects do not include {0}")]
    NotAboutImage(String),
}

/// What was found for an image.
#[derive(Debug, Default)]
pub struct Found {
    /// Attestations (both encodings), verified or not.
    pub attestations: Vec<Outcome>,
    /// Image signatures, verified or not.
    pub signatures: Vec<Outcome>,
}

impl Verifier {
    /// Verify everything stored for `image` (`repo@sha256:<hex>`); `repository`
    /// overrides where the cosign tags are looked for.
    pub async fn verify_image(
        &self,
        registry: &Registry,
        image: &str,
        repository: Option<&str>,
    ) -> Result<Found, oci::Error> {
        let image_ref = oci::parse_reference(image)?;
        let digest = image_ref
            .digest()
            .ok_or_else(|| oci::Error::InvalidReference {
                reference: image.to_owned(),
                reason: "it has no digest: use `<repository>@sha256:<hex>`".into(),
            })?
            .to_owned();
        let repo = match repository {
            Some(r) => oci::parse_reference(r)?,
            None => image_ref.clone(),
        };
        let mut found = Found::default();

        let att_tag = cosign::tag(&repo, &digest, cosign::Kind::Attestation).whole();
        for layer in cosign::read(registry, &repo, &digest, cosign::Kind::Attestation).await? {
            let location = format!("{att_tag} layer {}", layer.digest);
            let result = match &self.check {
                Check::Key(_) => serde_json::from_slice::<Envelope>(&layer.blob)
                    .map_err(|e| Error::LayerNotEnvelope(e).into())
                    .and_then(|env| self.verify(&env)),
                Check::Keyless(k) => {
                    keyless::bundle_from_cosign_layer(&layer.blob, &layer.annotations)
                        .and_then(|b| keyless::verify_bundle(&b, &k.0, &k.1))
                        .map_err(Rejection::from)
                }
            }
            .and_then(|v| names_digest(v, &digest));
            found.attestations.push(Outcome { location, result });
        }
        for (referrer, blob) in referrers::bundles(registry, &image_ref).await? {
            let location = format!("referrer {referrer}");
            let result = match &self.check {
                Check::Key(_) => bundle::envelope(&blob)
                    .map_err(|e| Error::NotBundle(e).into())
                    .and_then(|env| self.verify(&env)),
                Check::Keyless(k) => {
                    keyless::verify_bundle(&blob, &k.0, &k.1).map_err(Rejection::from)
                }
            }
            .and_then(|v| names_digest(v, &digest));
            // cosign 3 image signatures are bundles too: count them as signatures.
            let is_signature = result
                .as_ref()
                .is_ok_and(|v| v.predicate_type == crate::storage::oci::COSIGN_SIGN_PREDICATE);
            if is_signature {
                found.signatures.push(Outcome { location, result });
            } else {
                found.attestations.push(Outcome { location, result });
            }
        }

        let Check::Key(key) = &self.check else {
            tracing::info!("keyless image signatures (`.sig`) are not checked: only attestations");
            return Ok(found);
        };
        let sig_tag = cosign::tag(&repo, &digest, cosign::Kind::Signature).whole();
        for layer in cosign::read(registry, &repo, &digest, cosign::Kind::Signature).await? {
            let location = format!("{sig_tag} layer {}", layer.digest);
            let result = verify_simple_signing(key, &layer, &digest);
            found.signatures.push(Outcome { location, result });
        }
        Ok(found)
    }
}

/// A cosign `.sig` layer: the base64 signature annotation over the payload, and the
/// payload's digest claim.
fn verify_simple_signing(
    key: &sigstore::crypto::CosignVerificationKey,
    layer: &cosign::ReadLayer,
    digest: &str,
) -> Result<Verified, Rejection> {
    if layer.media_type != simplesigning::MEDIA_TYPE {
        return Err(Error::MediaType(layer.media_type.clone()).into());
    }
    let sig = layer
        .annotations
        .get(cosign::SIGNATURE)
        .ok_or(Error::NoSignatureAnnotation)?;
    let sig = STANDARD.decode(sig).map_err(Error::SignatureNotBase64)?;
    key.verify_signature(Signature::Raw(&sig), &layer.blob)
        .map_err(|_| Error::SignatureMismatch)?;
    let payload: Value = serde_json::from_slice(&layer.blob).map_err(StatementError::NotJson)?;
    let claimed = payload
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if claimed != digest {
        return Err(Error::OtherImage {
            claimed: claimed.to_owned(),
            digest: digest.to_owned(),
        }
        .into());
    }
    let name = payload
        .pointer("/critical/identity/docker-reference")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Verified {
        predicate_type: simplesigning::MEDIA_TYPE.to_owned(),
        subjects: vec![(name, vec![claimed.to_owned()])],
        builder_id: None,
        statement: Value::Null,
        payload_digest: crate::oci::sha256_digest(&layer.blob),
        signer: None,
    })
}

/// A verified attestation whose subjects must include `digest` (`sha256:<hex>`).
fn names_digest(v: Verified, digest: &str) -> Result<Verified, Rejection> {
    if v.subjects
        .iter()
        .any(|(_, ds)| ds.iter().any(|d| d == digest))
    {
        Ok(v)
    } else {
        Err(Error::NotAboutImage(digest.to_owned()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_must_name_the_image() {
        let v = Verified {
            predicate_type: "p".into(),
            subjects: vec![("img".into(), vec!["sha256:aa".into()])],
            builder_id: None,
            statement: Value::Null,
            payload_digest: String::new(),
            signer: None,
        };
        assert!(names_digest(v.clone(), "sha256:aa").is_ok());
        assert!(matches!(
            names_digest(v, "sha256:bb"),
            Err(Rejection::Registry(Error::NotAboutImage(d))) if d == "sha256:bb"
        ));
    }
}
