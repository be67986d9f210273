//! Fulcio's v2 API (`POST /api/v2/signingCert`): an OIDC token and a public key in, a
//! certificate chain out. Written here because the `sigstore` crate's v2 client only
//! takes tokens with an `email` claim, which workload tokens (Kubernetes, GitHub,
//! GitLab, SPIFFE) don't have.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Error;
use super::certificate::CertificateChain;
use super::token::IdentityToken;
use crate::error_kind::Kind;
use crate::signing::{KeyFileSigner, Signer as _};

/// Fulcio's message (its error code, `invalidIdentityToken` in fulcio's
/// `pkg/server/error.go`) when it refuses the identity token: Fulcio v2 answers 400
/// (gRPC InvalidArgument) with it, as for other invalid arguments.
pub const INVALID_IDENTITY_TOKEN: &str = "There was an error processing the identity token";

/// The kind of a refusal: 401/403 (an authenticating proxy in front of Fulcio) and
/// Fulcio's invalid-identity-token error are the token refused; other statuses as
/// HTTP says.
fn refusal_kind(status: u16, message: &str) -> Kind {
    match status {
        400 if message == INVALID_IDENTITY_TOKEN => Kind::Unauthenticated,
        _ => Kind::from_http_status(status),
    }
}

/// Ask Fulcio at `base_url` to certify `key` for `token`'s identity.
pub async fn request_certificate(
    client: &reqwest::Client,
    base_url: &str,
    token: &IdentityToken,
    key: &KeyFileSigner,
) -> Result<CertificateChain, Error> {
    let url = format!("{}/api/v2/signingCert", base_url.trim_end_matches('/'));
    let fail = |detail: String| Error::Fulcio {
        url: url.clone(),
        detail,
    };
    let public = key
        .public_key()
        .ok_or_else(|| fail("the ephemeral key has no public key".into()))?;
    // Proof of possession: a signature over the identity the certificate will name.
    let proof = key
        .sign(token.challenge().as_bytes())
        .await
        .map_err(|e| Error::Proof {
            url: url.clone(),
            source: Box::new(e),
        })?;
    let jwt = String::from_utf8_lossy(token.jwt.expose()).into_owned();
    let body = json!({
        "credentials": {"oidcIdentityToken": jwt},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": public.pem},
            "proofOfPossession": STANDARD.encode(&proof.sig),
        },
    });
    let reply = crate::http::send(
        client
            .post(&url)
            .header("Accept", "application/json")
            .json(&body),
    )
    .await
    .map_err(|source| Error::FulcioUnreachable {
        url: url.clone(),
        source,
    })?;
    let status = reply.status;
    if !status.is_success() {
        let message = reply.message();
        let kind = refusal_kind(status.as_u16(), &message);
        let hint = if matches!(kind, Kind::Unauthenticated | Kind::PermissionDenied) {
            format!(
                " (the identity token from {} was refused: check its audience is `sigstore` and its issuer `{}` is one this Fulcio trusts)",
                token.source_name, token.issuer
            )
        } else {
            String::new()
        };
        return Err(Error::FulcioRefused {
            url: url.clone(),
            status,
            message,
            hint,
            kind,
        });
    }
    let reply = reply.json();
    let certificates = [
        "signedCertificateEmbeddedSct",
        "signedCertificateDetachedSct",
    ]
    .iter()
    .find_map(|k| reply[k]["chain"]["certificates"].as_array())
    .ok_or_else(|| fail("the reply holds no certificate chain".into()))?;
    let pems: Vec<String> = certificates
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let chain = CertificateChain::from_pems(&pems).map_err(|source| Error::Chain {
        url: url.clone(),
        source,
    })?;
    if chain.public_key_der != public.der {
        return Err(fail(
            "the certificate is for another public key than the one sent".into(),
        ));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_identity_token_is_unauthenticated() {
        assert_eq!(
            refusal_kind(400, INVALID_IDENTITY_TOKEN),
            Kind::Unauthenticated
        );
        assert_eq!(refusal_kind(401, "no"), Kind::Unauthenticated);
        assert_eq!(refusal_kind(403, "no"), Kind::PermissionDenied);
        assert_eq!(
            refusal_kind(
                400,
                "The signature supplied in the request could not be verified"
            ),
            Kind::Invalid
        );
        assert_eq!(refusal_kind(503, ""), Kind::Unavailable);
    }
}
