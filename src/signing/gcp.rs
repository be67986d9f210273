//! GCP Cloud KMS signer:
//! `gcpkms://projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>[/cryptoKeyVersions/<v>]`
//! (the cosign and Tekton Chains URI form), through the official
//! `google-cloud-kms-v1` client.
//!
//! * Credentials are Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`
//!   (service account, authorized user, workload identity federation), the gcloud
//!   default file, or the metadata server (GKE workload identity, GCE).
//! * Without a version in the URI the newest enabled version is used (as cosign does);
//!   its public key is read when the signer is created, so the key id is known and a
//!   wrong name or a missing permission fails before any work.
//! * ECDSA P-256/P-384 and RSA PKCS#1 v1.5 keys sign a digest computed here; Ed25519
//!   keys sign the message. Each request carries the CRC32C of what is sent and the
//!   response's checksums are checked, as Google recommends.
//! * `CHAINSEAL_KMS_ENDPOINT` overrides the API endpoint; every call has a 30 s
//!   attempt timeout.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt as _};
use google_cloud_kms_v1::client::KeyManagementService;
use google_cloud_kms_v1::model::crypto_key_version::CryptoKeyVersionAlgorithm as Algorithm;
use google_cloud_kms_v1::model::{self, AsymmetricSignRequest};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::settings::KmsOptions;
use super::{Error, PublicKey, Signature, Signer};
use crate::error_kind::{Kind, Reply};

const TIMEOUT: Duration = Duration::from_secs(30);

/// What the key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Sha256,
    Sha384,
    Sha512,
    Message,
}

/// A signer backed by a Cloud KMS asymmetric signing key version.
pub struct GcpKmsSigner {
    client: KeyManagementService,
    version: String,
    input: Input,
    public: PublicKey,
}

impl fmt::Debug for GcpKmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpKmsSigner")
            .field("version", &self.version)
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

/// The key (`projects/…/cryptoKeys/<k>`) and the version, if the URI names one.
fn parse(rest: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let names = [
        "projects",
        "locations",
        "keyRings",
        "cryptoKeys",
        "cryptoKeyVersions",
    ];
    if !(parts.len() == 8 || parts.len() == 10)
        || parts.iter().any(|p| p.is_empty())
        || parts.iter().step_by(2).zip(names).any(|(p, n)| *p != n)
    {
        return None;
    }
    let key = parts[..8].join("/");
    let version = (parts.len() == 10).then(|| parts.join("/"));
    Some((key, version))
}

/// The kind of a failed call, from the client's typed error: the gRPC code of the
/// service's answer, else the transport failure (of the last attempt, when the retry
/// policy gave up).
fn kind_of(e: &google_cloud_kms_v1::Error) -> Kind {
    use google_cloud_gax::error::rpc::Code;
    if let Some(status) = e.status() {
        return match status.code {
            Code::PermissionDenied => Kind::PermissionDenied,
            Code::NotFound => Kind::NotFound,
            Code::Unauthenticated => Kind::Unauthenticated,
            Code::FailedPrecondition | Code::InvalidArgument => Kind::Invalid,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                Kind::Unavailable
            }
            _ => Kind::Other,
        };
    }
    if e.is_timeout() || e.is_connect() || e.is_io() {
        return Kind::Unavailable;
    }
    if e.is_authentication() {
        return Kind::Unauthenticated;
    }
    // Exhausted retries keep the last attempt's error as their source.
    match std::error::Error::source(e).and_then(|s| s.downcast_ref::<google_cloud_kms_v1::Error>())
    {
        Some(last) if e.is_exhausted() => kind_of(last),
        _ => Kind::Other,
    }
}

/// What to check, by kind (and whether the key version's state is the likely cause).
fn hint(e: &google_cloud_kms_v1::Error, kind: Kind) -> &'static str {
    use google_cloud_gax::error::rpc::Code;
    match kind {
        Kind::PermissionDenied => {
            " (permission denied: signing needs roles/cloudkms.signerVerifier on this key)"
        }
        Kind::NotFound => " (not found: check the project, location, key ring and key)",
        Kind::Unauthenticated if e.status().is_some() => {
            " (not authenticated: set GOOGLE_APPLICATION_CREDENTIALS or use workload identity)"
        }
        Kind::Unauthenticated => {
            " (no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS or use workload identity)"
        }
        Kind::Invalid
            if e.status()
                .is_some_and(|s| s.code == Code::FailedPrecondition) =>
        {
            " (is the key version enabled?)"
        }
        Kind::Unavailable if e.is_timeout() => " (timed out: is the endpoint reachable?)",
        Kind::Unavailable => " (is the endpoint reachable?)",
        _ => "",
    }
}

/// A failed call `action` on `uri`: kind and hint from the typed error, the service's
/// status (or the client's error) as the cause.
fn call_failed(uri: &str, action: &str, e: &google_cloud_kms_v1::Error) -> Error {
    let kind = kind_of(e);
    let reply = match e.status() {
        Some(s) => format!("{:?}: {}", s.code, s.message),
        None => crate::error_text::joined(e),
    };
    Error::KmsCall {
        uri: uri.to_owned(),
        action: action.to_owned(),
        kind,
        hint: hint(e, kind).to_owned(),
        source: Box::new(Reply(reply)),
    }
}

impl GcpKmsSigner {
    /// Connect to Cloud KMS and read the key version's public key (`rest` is the part
    /// after `gcpkms://`).
    pub async fn connect(rest: &str, options: &KmsOptions) -> Result<Self, Error> {
        let uri = format!("gcpkms://{rest}");
        let kms = |message: String| Error::Kms {
            uri: uri.clone(),
            message,
        };
        let (key, version) = parse(rest).ok_or_else(|| {
            kms("expected `gcpkms://projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>[/cryptoKeyVersions/<v>]`".into())
        })?;
        // Transient failures are retried, but within bounds: a build's last step must
        // not hang for minutes on an unreachable endpoint.
        let retry = Aip194Strict
            .with_attempt_limit(3)
            .with_time_limit(Duration::from_secs(60));
        let mut builder = KeyManagementService::builder()
            .with_attempt_timeout(TIMEOUT)
            .with_retry_policy(retry);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let client = builder.build().await.map_err(|e| Error::KmsCall {
            uri: uri.clone(),
            action: "creating the Cloud KMS client".into(),
            kind: if e.is_default_credentials() {
                Kind::Unauthenticated
            } else {
                Kind::Other
            },
            hint: " (are Application Default Credentials set up?)".into(),
            source: Box::new(e),
        })?;
        let version = match version {
            Some(v) => v,
            None => newest_enabled(&client, &uri, &key).await?,
        };
        let public = client
            .get_public_key()
            .set_name(&version)
            .send()
            .await
            .map_err(|e| call_failed(&uri, &format!("GetPublicKey of `{version}`"), &e))?;
        let input = match public.algorithm {
            Algorithm::EcSignP256Sha256
            | Algorithm::RsaSignPkcs12048Sha256
            | Algorithm::RsaSignPkcs13072Sha256
            | Algorithm::RsaSignPkcs14096Sha256 => Input::Sha256,
            Algorithm::EcSignP384Sha384 => Input::Sha384,
            Algorithm::RsaSignPkcs14096Sha512 => Input::Sha512,
            Algorithm::EcSignEd25519 => Input::Message,
            ref other => {
                return Err(kms(format!(
                    "key algorithm {} is not supported: use EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384, EC_SIGN_ED25519 or RSA_SIGN_PKCS1_*",
                    other.name().unwrap_or("unknown")
                )));
            }
        };
        let der = pem::parse(public.pem.as_bytes())
            .map_err(|e| kms(format!("unreadable public key: {e}")))?
            .into_contents();
        let algorithm = format!(
            "gcpkms {}",
            public.algorithm.name().unwrap_or("unknown algorithm")
        );
        let public = PublicKey::from_spki_der(der, algorithm)
            .ok_or_else(|| kms("the public key has no SSH fingerprint".into()))?;
        Ok(Self {
            client,
            version,
            input,
            public,
        })
    }
}

/// The newest enabled version of `key`.
async fn newest_enabled(
    client: &KeyManagementService,
    uri: &str,
    key: &str,
) -> Result<String, Error> {
    let mut newest: Option<(u64, String)> = None;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_crypto_key_versions()
            .set_parent(key)
            .set_filter("state=ENABLED")
            .set_page_token(&page_token)
            .send()
            .await
            .map_err(|e| {
                let mut failed = call_failed(uri, "listing the key's versions", &e);
                if let Error::KmsCall { hint, .. } = &mut failed {
                    hint.push_str(" (listing needs `cloudkms.cryptoKeyVersions.list`; naming the version, `/cryptoKeyVersions/<v>`, avoids it)");
                }
                failed
            })?;
        for v in page.crypto_key_versions {
            let number = v
                .name
                .rsplit('/')
                .next()
                .and_then(|n| n.parse::<u64>().ok());
            if v.state == model::crypto_key_version::CryptoKeyVersionState::Enabled
                && let Some(n) = number
                && newest.as_ref().is_none_or(|(best, _)| n > *best)
            {
                newest = Some((n, v.name));
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    newest.map(|(_, name)| name).ok_or_else(|| Error::Kms {
        uri: uri.to_owned(),
        message:
            "the key has no enabled version: enable one or name it with `/cryptoKeyVersions/<v>`"
                .to_owned(),
    })
}

#[async_trait]
impl Signer for GcpKmsSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let kms = |message: String| Error::Kms {
            uri: format!("gcpkms://{}", self.version),
            message,
        };
        let request = AsymmetricSignRequest::new().set_name(&self.version);
        let (request, sent) = match self.input {
            Input::Message => (
                request
                    .set_data(message.to_vec())
                    .set_data_crc32c(crc(message)),
                message.to_vec(),
            ),
            hashed => {
                let (digest, bytes) = match hashed {
                    Input::Sha384 => {
                        let d = Sha384::digest(message).to_vec();
                        (model::Digest::new().set_sha384(d.clone()), d)
                    }
                    Input::Sha512 => {
                        let d = Sha512::digest(message).to_vec();
                        (model::Digest::new().set_sha512(d.clone()), d)
                    }
                    _ => {
                        let d = Sha256::digest(message).to_vec();
                        (model::Digest::new().set_sha256(d.clone()), d)
                    }
                };
                (
                    request.set_digest(digest).set_digest_crc32c(crc(&bytes)),
                    bytes,
                )
            }
        };
        let out = self
            .client
            .asymmetric_sign()
            .with_request(request)
            .send()
            .await
            .map_err(|e| {
                call_failed(&format!("gcpkms://{}", self.version), "AsymmetricSign", &e)
            })?;
        let verified = match self.input {
            Input::Message => out.verified_data_crc32c,
            _ => out.verified_digest_crc32c,
        };
        if !verified {
            return Err(kms(format!(
                "Cloud KMS did not confirm the checksum of the {} bytes sent: the request was corrupted in transit; retry",
                sent.len()
            )));
        }
        if out.signature_crc32c != Some(crc(&out.signature)) {
            return Err(kms(
                "the signature's checksum does not match: the response was corrupted in transit; retry"
                    .into(),
            ));
        }
        Ok(self.public.signature(out.signature.to_vec()))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}

/// CRC32C as Cloud KMS carries it (an `Int64Value`).
fn crc(bytes: &[u8]) -> i64 {
    i64::from(crc32c::crc32c(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_like_cosign() {
        let key = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
        assert_eq!(parse(key), Some((key.to_owned(), None)));
        let version = format!("{key}/cryptoKeyVersions/3");
        assert_eq!(
            parse(&version),
            Some((key.to_owned(), Some(version.clone())))
        );
        assert_eq!(parse("projects/p/locations/global/keyRings/r"), None);
        assert_eq!(
            parse("projects/p/locations/global/keyRings/r/cryptoKey/k"),
            None
        );
        assert_eq!(
            parse("projects//locations/global/keyRings/r/cryptoKeys/k"),
            None
        );
        assert_eq!(parse(&format!("{key}/cryptoKeyVersions/")), None);
    }
}
