//! The small HTTP exchanges with Sigstore and OIDC services (Fulcio, Rekor, timestamp
//! authorities, token issuers): one client shape and one way to read a reply, with
//! transport errors joined into one line.
//!
//! Every client shares one TLS configuration, whose verifier is the platform's (the
//! OS trust store, as reqwest's own default) loaded on the first https connection:
//! building a client costs no trust-store read, and a run that only speaks plain HTTP
//! to loopback services never reads it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use serde_json::Value;
use thiserror::Error;

use crate::error_kind::Kind;

/// Why an exchange got no whole reply.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built, no reply came, or the connection failed while
    /// reading it.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    /// The reply is larger than the limit.
    #[error("the reply is larger than {0} bytes")]
    TooLarge(u64),
    /// The TLS configuration could not be made.
    #[error("cannot set up TLS")]
    Tls(#[source] rustls::Error),
}

impl Error {
    /// The error and its causes on one line, for the callers' messages.
    pub fn detail(&self) -> String {
        crate::error_text::joined(self)
    }

    /// What kind of failure this is: no reply ([`Kind::Unavailable`]), or one too
    /// large.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Transport(e) => Kind::from_reqwest(e),
            Self::TooLarge(_) | Self::Tls(_) => Kind::Invalid,
        }
    }
}

/// `url` as it may be shown: without a user name or password (a URL that does not
/// parse is redacted as text, so its credentials never show either).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => crate::secret::without_password(url),
    }
}

/// Whether `url` carries a user name or password (read as text when it does not
/// parse).
pub fn has_credentials(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) => !u.username().is_empty() || u.password().is_some(),
        Err(_) => crate::secret::without_password(url) != url,
    }
}

/// A client with chainseal's timeouts (10 s to connect, 30 s in all), user agent and
/// the shared TLS configuration.
pub fn client() -> Result<reqwest::Client, Error> {
    Ok(builder()?.build()?)
}

/// [`client`] that never follows a redirect: for requests that carry credentials (a
/// token, basic authorization), which a redirect could otherwise carry to another
/// host, or over plain http (reqwest drops `Authorization` only on the hop that
/// changes host, and a later hop can restore it). A redirect is then a reply like
/// any other status.
pub fn credentialed_client() -> Result<reqwest::Client, Error> {
    Ok(builder()?
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

fn builder() -> Result<reqwest::ClientBuilder, Error> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("chainseal/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls_config()?))
}

/// The process's TLS configuration: rustls with the installed (else aws-lc) crypto
/// provider, safe default protocol versions, HTTP/1.1, and the platform verifier,
/// loaded lazily.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        // Not dangerous: the platform's own verifier, only constructed later.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LazyPlatformVerifier {
            provider,
            inner: OnceLock::new(),
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// `rustls_platform_verifier::Verifier`, made (the OS trust store read) when the
/// first server certificate is to be verified.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    /// Kept once made; a failed load is tried again at the next connection.
    inner: OnceLock<rustls_platform_verifier::Verifier>,
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verifier = match self.inner.get() {
            Some(v) => v,
            None => {
                let made = rustls_platform_verifier::Verifier::new(self.provider.clone())?;
                self.inner.get_or_init(|| made)
            }
        };
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A reply, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: reqwest::StatusCode,
    /// The `Location` header, when there is one.
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// What a failed reply says: its JSON `message` (also Google's
    /// `{"error": {"message", "status"}}`), else the start of the body.
    pub fn message(&self) -> String {
        let json = self.json();
        let said: std::borrow::Cow<'_, str> = match (
            json["message"].as_str(),
            json["error"]["message"].as_str(),
            json["error"]["status"].as_str(),
        ) {
            (Some(m), _, _) => m.into(),
            (None, Some(m), Some(status)) => format!("{status}: {m}").into(),
            (None, Some(m), None) => m.into(),
            // Not copied whole: only its start is shown.
            _ => String::from_utf8_lossy(&self.body),
        };
        // Whatever the server sent, at most 200 characters of it are repeated, with
        // control characters (line breaks that could forge log or workflow-command
        // lines) as spaces.
        said.chars()
            .take(200)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }
}

/// The largest reply read from a Sigstore or OIDC service (a Rekor entry carries the
/// logged envelope; Fulcio a certificate chain; an issuer its keys).
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// Send `request` and read the whole reply (at most [`MAX_REPLY_BYTES`]); `Err` when
/// no reply came or it was larger.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Error> {
    send_within(request, MAX_REPLY_BYTES as u64).await
}

/// [`send`] with another limit on the reply's size.
pub async fn send_within(request: reqwest::RequestBuilder, limit: u64) -> Result<Reply, Error> {
    let response = request.send().await?;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = body_within(response, limit).await.map_err(|e| match e {
        Body::TooLarge(limit) => Error::TooLarge(limit),
        Body::Transport(e) => Error::Transport(e),
    })?;
    Ok(Reply {
        status,
        location,
        body,
    })
}

/// How many times [`send_retrying`] tries again, and the pauses before each try.
const RETRY_PAUSES_MS: [u64; 2] = [250, 1000];

/// Send the request `make` builds and read the reply (at most `limit` bytes),
/// trying again (twice, after 250 ms and 1 s) when no reply came, or the reply is a
/// 5xx other than 501, or a 429. The last reply is returned whatever its status. The
/// error never repeats the URL (`url`, for the debug log, is the caller's to show).
pub async fn send_retrying(
    url: &str,
    limit: u64,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Reply, Error> {
    let mut pauses = RETRY_PAUSES_MS.iter();
    loop {
        let outcome = send_within(make(), limit).await;
        let retry = match &outcome {
            Ok(r) => {
                let s = r.status.as_u16();
                s == 429 || (s >= 500 && s != 501)
            }
            // No reply (connection, timeout, reading); never a request that could
            // not even be built (it would fail the same way again).
            Err(Error::Transport(e)) => !e.is_builder(),
            Err(_) => false,
        };
        match (retry, pauses.next()) {
            (true, Some(ms)) => {
                tracing::debug!(url = %redacted(url), "retrying in {ms} ms");
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
            _ => {
                return outcome.map_err(|e| match e {
                    Error::Transport(e) => Error::Transport(e.without_url()),
                    other => other,
                });
            }
        }
    }
}

/// Why a reply's body could not be read whole.
#[derive(Debug)]
pub enum Body {
    /// It is larger than the limit (said by `Content-Length` or seen while reading).
    TooLarge(u64),
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// `response`'s body, failing as soon as it passes `limit` bytes: a reply from an
/// untrusted server is never read whole before its size is known.
pub async fn body_within(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, Body> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Body::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Body::Transport)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(Body::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_not_shown() {
        assert_eq!(
            redacted("https://robot:s3cret@config.example/signing_config.json"),
            "https://config.example/signing_config.json"
        );
        assert_eq!(redacted("/etc/sigstore/x.json"), "/etc/sigstore/x.json");
        // Regression: a URL that does not parse (a port out of range) kept its
        // password when shown, and passed the credentials check.
        let bad = "https://robot:s3cret@config.example:99999/sc.json";
        assert!(!redacted(bad).contains("s3cret"), "{}", redacted(bad));
        assert!(has_credentials(bad));
        assert!(!has_credentials("https://rekor.example/api?a=b"));
    }

    #[test]
    fn a_refusal_is_repeated_at_most_200_characters_long() {
        let reply = Reply {
            status: reqwest::StatusCode::BAD_REQUEST,
            location: None,
            body: serde_json::json!({"message": "x".repeat(10_000)})
                .to_string()
                .into_bytes(),
        };
        assert_eq!(reply.message().chars().count(), 200);
    }
}
