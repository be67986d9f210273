//! Archivista storage (`archivista+https://host[/path]`, `archivista+http://…` for local
//! servers): the DSSE envelope POSTed to `<base>/upload` as the Archivista client does;
//! the gitoid Archivista answers with is the stored location
//! (`<base>/download/<gitoid>`, where `archivistactl` and the API read it back).
//! Archivista names content by its gitoid (the SHA-256 git blob id of the bytes): the
//! envelope's gitoid is computed first and, when Archivista already serves it, nothing
//! is uploaded ("already present").
//!
//! Credentials in the URI (`archivista+https://user:password@host`) are taken out of
//! it and sent as HTTP Basic authorization; the base URL kept for requests, messages
//! and stored locations has none.

use std::fmt;

use async_trait::async_trait;

use super::{Error, Signed, Storage, Stored};
use crate::secret::SecretString;

/// User name and password from the URI.
#[derive(Debug)]
struct BasicAuth {
    user: String,
    password: SecretString,
}

/// An Archivista server.
#[derive(Debug)]
pub struct ArchivistaStorage {
    /// The base URL without user information.
    base: String,
    auth: Option<BasicAuth>,
    client: reqwest::Client,
}

impl fmt::Display for ArchivistaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "archivista+{}", self.base)
    }
}

fn failed(target: &str, detail: impl fmt::Display) -> Error {
    super::failed("Archivista", target, detail)
}

impl ArchivistaStorage {
    /// Storage at `uri` (`archivista+https://…`), or a plain `http(s)://` base URL
    /// (Chains' `storage.archivista.url`).
    pub fn new(uri: &str) -> Result<Self, Error> {
        let shown = crate::secret::without_password(uri);
        let base = uri.strip_prefix("archivista+").unwrap_or(uri);
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(failed(
                &shown,
                "use archivista+https://<host>[/path] (or archivista+http:// for a local server)",
            ));
        }
        let mut url = reqwest::Url::parse(base).map_err(|e| {
            failed(
                &shown,
                format!("not a URL ({e}); percent-encode special characters in the user name and password"),
            )
        })?;
        let auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            BasicAuth {
                user: decode(url.username()),
                password: SecretString::new(decode(url.password().unwrap_or_default())),
            }
        });
        // Neither can fail on an http(s) URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let client = crate::http::credentialed_client().map_err(|e| failed(&shown, e.detail()))?;
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
            auth,
            client,
        })
    }

    /// `request` with the URI's credentials, if any.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some(a) => {
                request.basic_auth(&a.user, Some(String::from_utf8_lossy(a.password.expose())))
            }
            None => request,
        }
    }
}

/// The gitoid Archivista names `content` by: the SHA-256 git blob id, hex.
fn gitoid(content: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

#[async_trait]
impl Storage for ArchivistaStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let body = item.envelope.to_json();
        let gitoid = gitoid(body.as_bytes());
        let location = format!("{}/download/{gitoid}", self.base);
        // Already there (a re-run): Archivista serves these exact bytes under the gitoid.
        if let Ok(reply) = crate::http::send(self.authorized(self.client.get(&location))).await
            && reply.status.is_success()
            && reply.body == body.as_bytes()
        {
            return Ok(vec![Stored {
                backend: "archivista",
                location,
                written: false,
            }]);
        }
        let target = format!("{}/upload", self.base);
        let reply = crate::http::send(
            self.authorized(self.client.post(&target))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
        .map_err(|e| {
            failed(
                &target,
                format!("{} (is Archivista reachable?)", e.detail()),
            )
        })?;
        if !reply.status.is_success() {
            return Err(failed(
                &target,
                format!("HTTP {}: {}", reply.status, reply.message()),
            ));
        }
        let answered = reply.json()["gitoid"]
            .as_str()
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| failed(&target, "the reply names no gitoid"))?;
        Ok(vec![Stored {
            backend: "archivista",
            // The server's name for it, though it should be ours.
            location: format!("{}/download/{answered}", self.base),
            written: true,
        }])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_leave_the_uri() {
        let s = super::ArchivistaStorage::new(
            "archivista+https://ci:p%40ss-w0rd@archivista.example/api/",
        )
        .expect("parses");
        assert_eq!(s.to_string(), "archivista+https://archivista.example/api");
        let auth = s.auth.as_ref().expect("credentials");
        assert_eq!(
            (auth.user.as_str(), auth.password.expose()),
            ("ci", &b"p@ss-w0rd"[..])
        );
        assert!(!format!("{s:?}").contains("w0rd"), "{s:?}");
        let e = super::ArchivistaStorage::new("archivista+ftp://ci:hunter2@h")
            .expect_err("fails")
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn gitoid_is_the_sha256_git_blob_id() {
        // `printf 'hello\n' | git hash-object --object-format=sha256 --stdin`
        assert_eq!(
            super::gitoid(b"hello\n"),
            "2cf8d83d9ee29543b34a87727421fdecb7e3f3a183d337639025de576db9ebb4"
        );
    }
}
