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
use crate::signing::{KeyFileSigner, Signer as _};

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
        .map_err(|e| fail(format!("signing the proof of possession: {e}")))?;
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
    .map_err(|e| fail(e.detail()))?;
    let status = reply.status;
    if !status.is_success() {
        let message = reply.message();
        // Fulcio v2 refuses a token with 400 "There was an error processing the
        // identity token"; an authenticating proxy in front of it with 401/403.
        let token_refused = matches!(status.as_u16(), 401 | 403)
            || (status.as_u16() == 400 && message.contains("identity token"));
        let hint = if token_refused {
            format!(
                " (the identity token from {} was refused: check its audience is `sigstore` and its issuer `{}` is one this Fulcio trusts)",
                token.source_name, token.issuer
            )
        } else {
            String::new()
        };
        return Err(fail(format!("HTTP {status}: {message}{hint}")));
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
    let chain =
        CertificateChain::from_pems(&pems).map_err(|e| fail(crate::error_text::joined(&e)))?;
    if chain.public_key_der != public.der {
        return Err(fail(
            "the certificate is for another public key than the one sent".into(),
        ));
    }
    Ok(chain)
}
