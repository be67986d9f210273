//! OIDC ID tokens from CI platforms, verified before their claims are trusted.
//!
//! GitHub Actions hands a job a token on request
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, with
//! `permissions: id-token: write`). [`verify`] checks a token the way `actions/attest`
//! does: the signature against the issuer's published keys (OpenID discovery →
//! `jwks_uri`), the issuer, the audience and the validity window. RS256 and ES256
//! are accepted.

use aws_lc_rs::signature;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::error_kind::Kind;
use crate::secret::SecretString;

/// The issuer of GitHub Actions tokens on github.com.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The audience chainseal asks GitHub for when it only reads claims (as
/// `actions/attest`: a token for nobody is useless to anyone who steals it).
pub const CLAIMS_AUDIENCE: &str = "nobody";

/// Clock skew tolerated on `exp`/`nbf`/`iat`.
const LEEWAY_SECS: i64 = 60;

/// Why a token could not be had or trusted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An HTTP exchange failed.
    #[error("{action} ({url}): {detail}")]
    Http {
        /// What was being done.
        action: &'static str,
        /// The URL (without query).
        url: String,
        /// The cause.
        detail: String,
        /// What kind of failure it is (from the status or the transport error).
        kind: Kind,
    },
    /// The token is malformed or fails a check.
    #[error("the OIDC token from {issuer} was rejected: {reason}")]
    Rejected {
        /// The expected issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Http { kind, .. } => *kind,
            Self::Rejected { .. } => Kind::Unauthenticated,
        }
    }
}

/// A claim check a token fails.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClaimError {
    /// Another issuer.
    #[error("issuer `{found}`, expected `{expected}`")]
    Issuer {
        /// The token's issuer.
        found: String,
        /// The expected one.
        expected: String,
    },
    /// Not for this audience.
    #[error("audience is not `{0}`")]
    Audience(String),
    /// Expired (beyond the leeway).
    #[error("expired {0} s ago")]
    Expired(i64),
    /// No `exp` claim.
    #[error("no `exp` claim")]
    NoExpiry,
    /// `nbf` in the future.
    #[error("not valid yet (`nbf` in the future)")]
    NotYetValid,
}

/// An issuer other than GitHub's, under GitHub Actions, without the opt-in.
#[derive(Debug, Error)]
#[error(
    "`CHAINSEAL_GITHUB_OIDC_ISSUER` is `{0}`, not GitHub's `{GITHUB_ISSUER}`: under GitHub Actions another issuer (GitHub Enterprise Server's `https://<host>/_services/token`) must be confirmed with `CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE=true` (the action's `oidc-issuer` input sets both); if your workflow does not set it, an earlier step did (through $GITHUB_ENV)"
)]
pub struct ForeignIssuer(pub String);

/// Check the issuer GitHub Actions tokens are verified against: under GitHub Actions
/// (`github_actions`), an issuer other than [`GITHUB_ISSUER`] needs `confirmed`
/// (`CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE`). An issuer decides whose tokens describe
/// the build, so one set through the job's environment alone is not trusted.
pub fn check_github_issuer(
    issuer: &str,
    github_actions: bool,
    confirmed: bool,
) -> Result<(), ForeignIssuer> {
    if !github_actions || confirmed || issuer == GITHUB_ISSUER {
        Ok(())
    } else {
        Err(ForeignIssuer(issuer.chars().take(200).collect()))
    }
}

/// The claims of the JWT `jwt`, read without checking its signature: for tokens whose
/// signature someone else checks (an identity token Fulcio verifies, the pod's own
/// token, a cloud's answer to us), never to trust what they say. The error says why it
/// is no JWT.
pub fn unverified_claims(jwt: &str) -> Result<Map<String, Value>, &'static str> {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    let [_, payload, _] = parts[..] else {
        return Err("not a JWT (three dot-separated parts)");
    };
    URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the claims are not base64url JSON")
}

/// Verified claims of an ID token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    /// A claim as a string (numbers are written in decimal, as GitHub's ids are
    /// strings in provenance).
    pub fn string(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

fn client() -> Result<reqwest::Client, Error> {
    crate::http::client().map_err(|e| Error::Http {
        action: "creating the HTTP client",
        url: String::new(),
        detail: e.detail(),
        kind: e.kind(),
    })
}

fn without_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

async fn get_json(
    client: &reqwest::Client,
    action: &'static str,
    url: &str,
    bearer: Option<&SecretString>,
) -> Result<Value, Error> {
    let fail = |detail: String, kind: Kind| Error::Http {
        action,
        url: without_query(url),
        detail,
        kind,
    };
    let mut request = client.get(url).header("Accept", "application/json");
    if let Some(token) = bearer {
        let token = String::from_utf8_lossy(token.expose()).into_owned();
        request = request.bearer_auth(token);
    }
    let reply = crate::http::send(request)
        .await
        .map_err(|e| fail(e.detail(), e.kind()))?;
    if !reply.status.is_success() {
        let text: String = String::from_utf8_lossy(&reply.body)
            .chars()
            .take(200)
            .collect();
        return Err(fail(
            format!("HTTP {}: {text}", reply.status),
            Kind::from_http_status(reply.status.as_u16()),
        ));
    }
    serde_json::from_slice(&reply.body).map_err(|e| fail(format!("not JSON: {e}"), Kind::Invalid))
}

/// Ask the GitHub Actions runtime for an ID token for `audience`.
pub async fn github_token(
    request_url: &str,
    request_token: &SecretString,
    audience: &str,
) -> Result<SecretString, Error> {
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{separator}audience={audience}");
    let body = get_json(
        &client()?,
        "requesting a GitHub Actions ID token",
        &url,
        Some(request_token),
    )
    .await?;
    match body.get("value").and_then(Value::as_str) {
        Some(token) => Ok(SecretString::new(token.to_owned())),
        None => Err(Error::Http {
            action: "requesting a GitHub Actions ID token",
            url: without_query(&url),
            detail: "the reply has no `value`".into(),
            kind: Kind::Invalid,
        }),
    }
}

/// Verify `token` was issued by `issuer` for `audience` and is valid at `now`
/// (seconds since the epoch); return its claims.
pub async fn verify(
    token: &SecretString,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<Claims, Error> {
    let reject = |reason: String| Error::Rejected {
        issuer: issuer.to_owned(),
        reason,
    };
    let token = std::str::from_utf8(token.expose()).map_err(|_| reject("not UTF-8".into()))?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, sig] = parts[..] else {
        return Err(reject("not a JWT (three dot-separated parts)".into()));
    };
    let decode = |part: &str, what: &str| -> Result<Vec<u8>, Error> {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|e| reject(format!("{what} is not base64url: {e}")))
    };
    let header: Value = serde_json::from_slice(&decode(header, "the header")?)
        .map_err(|e| reject(format!("the header is not JSON: {e}")))?;
    let claims: Map<String, Value> = serde_json::from_slice(&decode(payload, "the payload")?)
        .map_err(|e| reject(format!("the payload is not a JSON object: {e}")))?;
    let signature = decode(sig, "the signature")?;
    let alg = header["alg"].as_str().unwrap_or_default().to_owned();
    if alg != "RS256" && alg != "ES256" {
        return Err(reject(format!(
            "unsupported algorithm `{alg}` (RS256 and ES256 are accepted)"
        )));
    }
    // Check the claims before fetching keys: a wrong issuer needs no network.
    let claims = Claims(claims);
    check_claims(&claims, issuer, audience, now).map_err(|e| reject(e.to_string()))?;

    let client = client()?;
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let config = get_json(
        &client,
        "reading the issuer's OpenID configuration",
        &discovery,
        None,
    )
    .await?;
    let jwks_uri = config["jwks_uri"]
        .as_str()
        .ok_or_else(|| reject(format!("{discovery} names no `jwks_uri`")))?;
    let jwks = get_json(&client, "reading the issuer's signing keys", jwks_uri, None).await?;
    let kid = header["kid"].as_str();
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| kid.is_none() || k["kid"].as_str() == kid)
        .ok_or_else(|| {
            reject(format!(
                "no key `{}` in {jwks_uri}",
                kid.unwrap_or("(no kid)")
            ))
        })?;
    let signed = &token[..header_payload_len(token)];
    let b64 = |field: &str| -> Result<Vec<u8>, Error> {
        key[field]
            .as_str()
            .ok_or_else(|| reject(format!("the key has no `{field}`")))
            .and_then(|v| decode(v, field))
    };
    let ok = match alg.as_str() {
        "RS256" => signature::RsaPublicKeyComponents {
            n: b64("n")?,
            e: b64("e")?,
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .is_ok(),
        _ => {
            let mut point = vec![4u8];
            point.extend(b64("x")?);
            point.extend(b64("y")?);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &signature)
                .is_ok()
        }
    };
    if !ok {
        return Err(reject(format!(
            "the signature does not verify with the issuer's key `{}`",
            kid.unwrap_or("(no kid)")
        )));
    }
    Ok(claims)
}

fn header_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

/// Whether two issuer URLs name the same issuer (a trailing `/` aside).
pub(crate) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn check_claims(claims: &Claims, issuer: &str, audience: &str, now: i64) -> Result<(), ClaimError> {
    let iss = claims.string("iss").unwrap_or_default();
    if !same_issuer(&iss, issuer) {
        return Err(ClaimError::Issuer {
            found: iss,
            expected: issuer.to_owned(),
        });
    }
    let aud_ok = match claims.0.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(ClaimError::Audience(audience.to_owned()));
    }
    let time = |name: &str| claims.0.get(name).and_then(Value::as_i64);
    match time("exp") {
        Some(exp) if exp + LEEWAY_SECS < now => {
            return Err(ClaimError::Expired(now - exp));
        }
        Some(_) => {}
        None => return Err(ClaimError::NoExpiry),
    }
    if time("nbf").is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
        return Err(ClaimError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        Claims(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_foreign_issuer_under_github_actions_needs_confirming() {
        let ghes = "https://ghes.example.com/_services/token";
        assert!(check_github_issuer(GITHUB_ISSUER, true, false).is_ok());
        assert!(check_github_issuer(ghes, true, true).is_ok());
        assert!(check_github_issuer(ghes, false, false).is_ok());
        let err = check_github_issuer(ghes, true, false).expect_err("refused");
        assert!(err.to_string().contains(ghes), "{err}");
        assert!(err.to_string().contains("_OVERRIDE=true"), "{err}");
        let trailing = format!("{GITHUB_ISSUER}/");
        assert!(check_github_issuer(&trailing, true, false).is_err());
    }

    #[test]
    fn claim_checks_name_the_failure() {
        let good = json!({"iss": GITHUB_ISSUER, "aud": "nobody", "exp": 1000});
        assert_eq!(
            check_claims(&claims(good), GITHUB_ISSUER, "nobody", 900),
            Ok(())
        );
        let cases = [
            (
                json!({"iss": "https://evil", "aud": "nobody", "exp": 1000}),
                "issuer",
            ),
            (
                json!({"iss": GITHUB_ISSUER, "aud": "x", "exp": 1000}),
                "audience",
            ),
            (
                json!({"iss": GITHUB_ISSUER, "aud": ["nobody"], "exp": 100}),
                "expired",
            ),
            (json!({"iss": GITHUB_ISSUER, "aud": "nobody"}), "exp"),
            (
                json!({"iss": GITHUB_ISSUER, "aud": "nobody", "exp": 5000, "nbf": 2000}),
                "not valid yet",
            ),
        ];
        for (c, want) in cases {
            let err = check_claims(&claims(c), GITHUB_ISSUER, "nobody", 900).expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn numbers_read_as_strings() {
        let c = claims(json!({"run_id": 42, "ref": "refs/heads/main"}));
        assert_eq!(c.string("run_id").as_deref(), Some("42"));
        assert_eq!(c.string("ref").as_deref(), Some("refs/heads/main"));
        assert_eq!(c.string("missing"), None);
    }
}
