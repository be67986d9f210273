//! Archivista storage (`archivista+https://host[/path]`, `archivista+http://…` for local
//! servers): the DSSE envelope POSTed to `<base>/upload` as the Archivista client does;
//! the gitoid Archivista answers with is the stored location
//! (`<base>/download/<gitoid>`, where `archivistactl` and the API read it back).
//! Archivista stores by content, so a re-run stores nothing new and gets the same gitoid.

use std::fmt;

use async_trait::async_trait;

use super::{Error, Signed, Storage, Stored};

/// An Archivista server.
#[derive(Debug)]
pub struct ArchivistaStorage {
    base: String,
    client: reqwest::Client,
}

impl fmt::Display for ArchivistaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "archivista+{}", self.base)
    }
}

fn failed(target: &str, detail: impl fmt::Display) -> Error {
    Error::Archivista {
        target: target.to_owned(),
        detail: detail.to_string(),
    }
}

impl ArchivistaStorage {
    /// Storage at `uri` (`archivista+https://…`), or a plain `http(s)://` base URL
    /// (Chains' `storage.archivista.url`).
    pub fn new(uri: &str) -> Result<Self, Error> {
        let base = uri.strip_prefix("archivista+").unwrap_or(uri);
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(failed(
                uri,
                "use archivista+https://<host>[/path] (or archivista+http:// for a local server)",
            ));
        }
        let client = crate::http::client().map_err(|e| failed(uri, e))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }
}

#[async_trait]
impl Storage for ArchivistaStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let target = format!("{}/upload", self.base);
        let reply = crate::http::send(
            self.client
                .post(&target)
                .header("Content-Type", "application/json")
                .body(item.envelope.to_json()),
        )
        .await
        .map_err(|e| failed(&target, format!("{e} (is Archivista reachable?)")))?;
        if !reply.status.is_success() {
            return Err(failed(
                &target,
                format!("HTTP {}: {}", reply.status, reply.message()),
            ));
        }
        let gitoid = reply.json()["gitoid"]
            .as_str()
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| failed(&target, "the reply names no gitoid"))?;
        Ok(vec![Stored {
            backend: "archivista",
            location: format!("{}/download/{gitoid}", self.base),
            written: true,
        }])
    }
}
