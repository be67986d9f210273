//! The small HTTP exchanges with Sigstore and OIDC services (Fulcio, Rekor, token
//! issuers): one client shape and one way to read a reply, with transport errors
//! joined into one line.

use std::time::Duration;

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
            Self::TooLarge(_) => Kind::Invalid,
        }
    }
}

/// A client with chainseal's timeouts (10 s to connect, 30 s in all) and user agent.
pub fn client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("chainseal/", env!("CARGO_PKG_VERSION")))
        .build()?)
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
        match (
            json["message"].as_str(),
            json["error"]["message"].as_str(),
            json["error"]["status"].as_str(),
        ) {
            (Some(m), _, _) => m.to_owned(),
            (None, Some(m), Some(status)) => format!("{status}: {m}"),
            (None, Some(m), None) => m.to_owned(),
            _ => String::from_utf8_lossy(&self.body)
                .chars()
                .take(200)
                .collect(),
        }
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
