//! AWS KMS signer: `awskms://[endpoint]/<key id | alias/name | arn>` (the cosign and
//! Tekton Chains URI form).
//!
//! * Region and credentials come from the standard AWS chain (`AWS_REGION`,
//!   `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, web identity, instance
//!   metadata). An endpoint in the URI (`awskms://localhost:4566/alias/x`) overrides the
//!   service endpoint: `http://` for loopback hosts, `https://` otherwise;
//!   `CHAINSEAL_KMS_ENDPOINT` and `AWS_ENDPOINT_URL` work too.
//! * `GetPublicKey` is called when the signer is created: the key spec picks the
//!   algorithm and the public key gives the key id, so a wrong key or missing permission
//!   fails before any work.
//! * Signing sends the digest (`MessageType=DIGEST`), so payloads of any size can be
//!   signed: ECDSA P-256/384/521 with SHA-256/384/512 (DER signatures), RSA with PKCS#1
//!   v1.5 SHA-256.
//! * Every call has a 30 s timeout.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::settings::KmsOptions;
use super::{Error, PublicKey, Signature, Signer};
use crate::error_kind::{Kind, Reply};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A signer backed by an AWS KMS asymmetric key.
pub struct AwsKmsSigner {
    client: Client,
    uri: String,
    key: String,
    algorithm: SigningAlgorithmSpec,
    public: PublicKey,
}

impl fmt::Debug for AwsKmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsSigner")
            .field("uri", &self.uri)
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

/// `(endpoint, key)` from the part after `awskms://`.
fn parse(rest: &str) -> Option<(Option<String>, String)> {
    let (host, key) = rest.split_once('/')?;
    if key.is_empty() {
        return None;
    }
    let endpoint = (!host.is_empty()).then(|| super::host_url(host));
    Some((endpoint, key.to_owned()))
}

/// What to check, by kind.
fn hint(kind: Kind) -> &'static str {
    match kind {
        Kind::PermissionDenied => {
            " (permission denied: the caller needs kms:GetPublicKey and kms:Sign on this key)"
        }
        Kind::NotFound => " (not found: check the key id, alias or ARN, and the region)",
        Kind::Unavailable => " (is the endpoint reachable?)",
        Kind::Unauthenticated => {
            " (no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or a role)"
        }
        Kind::Invalid | Kind::Other => "",
    }
}

/// A failed call `action` on `uri`: kind and hint from the typed error, the service's
/// code and message (or the transport failure) as the cause.
fn call_failed<E>(
    uri: &str,
    action: &str,
    e: &aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
) -> Error
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = Kind::from_aws(e);
    Error::KmsCall {
        uri: uri.to_owned(),
        action: action.to_owned(),
        kind,
        hint: hint(kind).to_owned(),
        source: Box::new(Reply(crate::error_text::aws(e))),
    }
}

impl AwsKmsSigner {
    /// Connect to KMS and read the key's public key (`rest` is the part after
    /// `awskms://`).
    pub async fn connect(rest: &str, options: &KmsOptions) -> Result<Self, Error> {
        let uri = format!("awskms://{rest}");
        let kms = |message: String| Error::Kms {
            uri: uri.clone(),
            message,
        };
        let (endpoint, key) = parse(rest).ok_or_else(|| {
            kms("expected `awskms://[endpoint]/<key id | alias/name | arn>`".into())
        })?;
        let config =
            crate::cloud::aws::sdk_config(TIMEOUT, endpoint.or_else(|| options.endpoint.clone()))
                .await;
        if config.region().is_none() {
            return Err(kms("no AWS region: set `AWS_REGION`".into()));
        }
        let client = Client::new(&config);
        let out = client
            .get_public_key()
            .key_id(&key)
            .send()
            .await
            .map_err(|e| call_failed(&uri, "GetPublicKey", &e))?;
        let algorithm = match out.key_spec() {
            Some(KeySpec::EccNistP256) => SigningAlgorithmSpec::EcdsaSha256,
            Some(KeySpec::EccNistP384) => SigningAlgorithmSpec::EcdsaSha384,
            Some(KeySpec::EccNistP521) => SigningAlgorithmSpec::EcdsaSha512,
            Some(KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
                SigningAlgorithmSpec::RsassaPkcs1V15Sha256
            }
            // Older responses (and moto) may omit KeySpec: use the advertised algorithms.
            None => {
                let offered = out.signing_algorithms();
                [
                    SigningAlgorithmSpec::EcdsaSha256,
                    SigningAlgorithmSpec::EcdsaSha384,
                    SigningAlgorithmSpec::EcdsaSha512,
                    SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
                ]
                .into_iter()
                .find(|a| offered.contains(a))
                .ok_or_else(|| kms(format!("no supported signing algorithm among {offered:?}")))?
            }
            Some(other) => {
                return Err(kms(format!(
                    "key spec {} is not supported for signing",
                    other.as_str()
                )));
            }
        };
        let der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| kms("GetPublicKey returned no key".into()))?;
        let public = PublicKey::from_spki_der(der, format!("awskms {}", algorithm.as_str()))
            .ok_or_else(|| kms("the public key has no SSH fingerprint".into()))?;
        Ok(Self {
            client,
            uri,
            key,
            public,
            algorithm,
        })
    }
}

#[async_trait]
impl Signer for AwsKmsSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let digest = match self.algorithm {
            SigningAlgorithmSpec::EcdsaSha384 => Sha384::digest(message).to_vec(),
            SigningAlgorithmSpec::EcdsaSha512 => Sha512::digest(message).to_vec(),
            _ => Sha256::digest(message).to_vec(),
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(self.algorithm.clone())
            .send()
            .await
            .map_err(|e| call_failed(&self.uri, "Sign", &e))?;
        let sig = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| Error::Kms {
                uri: self.uri.clone(),
                message: "Sign returned no signature".into(),
            })?;
        Ok(self.public.signature(sig))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_choose_the_hints() {
        let kind = crate::error_kind::aws_code_kind(Some("AccessDeniedException")).expect("known");
        assert_eq!(kind, Kind::PermissionDenied);
        assert_eq!(
            hint(kind),
            " (permission denied: the caller needs kms:GetPublicKey and kms:Sign on this key)"
        );
        let kind = crate::error_kind::aws_code_kind(Some("NotFoundException")).expect("known");
        assert_eq!(kind, Kind::NotFound);
        assert!(hint(kind).contains("check the key id, alias or ARN"));
        assert_eq!(
            crate::error_kind::aws_code_kind(Some("UnrecognizedClientException")),
            Some(Kind::Unauthenticated)
        );
        assert!(hint(Kind::Unauthenticated).contains("AWS_ACCESS_KEY_ID"));
        assert!(hint(Kind::Unavailable).contains("reachable"));
        assert_eq!(crate::error_kind::aws_code_kind(Some("SomethingNew")), None);
        assert_eq!(crate::error_kind::aws_code_kind(None), None);
    }

    #[test]
    fn a_timeout_is_unavailable() {
        let e: aws_sdk_kms::error::SdkError<
            aws_sdk_kms::operation::sign::SignError,
            aws_sdk_kms::config::http::HttpResponse,
        > = aws_sdk_kms::error::SdkError::timeout_error("no answer");
        assert_eq!(Kind::from_aws(&e), Kind::Unavailable);
        let e = call_failed("awskms:///alias/k", "Sign", &e);
        assert_eq!(e.kind(), Kind::Unavailable);
        assert!(
            e.to_string()
                .ends_with("Sign failed (is the endpoint reachable?)"),
            "{e}"
        );
    }

    #[test]
    fn uris_parse_like_cosign() {
        assert_eq!(parse("/alias/x"), Some((None, "alias/x".into())));
        assert_eq!(
            parse("localhost:4566/alias/x"),
            Some((Some("http://localhost:4566".into()), "alias/x".into()))
        );
        assert_eq!(
            parse("kms.eu-west-1.amazonaws.com/1234abcd-12ab-34cd-56ef-1234567890ab"),
            Some((
                Some("https://kms.eu-west-1.amazonaws.com".into()),
                "1234abcd-12ab-34cd-56ef-1234567890ab".into()
            ))
        );
        assert_eq!(
            parse("/arn:aws:kms:us-east-2:111122223333:key/abcd"),
            Some((None, "arn:aws:kms:us-east-2:111122223333:key/abcd".into()))
        );
        assert_eq!(parse("alias"), None);
        assert_eq!(parse("host/"), None);
    }
}
