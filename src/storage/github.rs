//! GitHub's attestation store (`github`, or `github://<owner>/<repo>`): each
//! attestation's Sigstore bundle POSTed to `/repos/{owner}/{repo}/attestations` as
//! `{"bundle": …}`, as actions/attest does, where `gh attestation verify --owner` and
//! `--repo` find it by subject digest. The stored location is the attestation's page,
//! `<server>/<owner>/<repo>/attestations/<id>` (actions/attest's `attestation-url`).
//!
//! With image subjects pushed to a registry (`oci` storage) and storage records asked
//! for, an artifact metadata storage record is also created per image
//! (`POST /orgs/{owner}/artifacts/metadata/storage-record`), for organisations only,
//! as actions/attest's `create-storage-record`; a record that cannot be made is a
//! warning, never a failed run (it needs the `artifact-metadata: write` permission).
//!
//! The token (`CHAINSEAL_GITHUB_TOKEN`) needs `attestations: write`. It is sent only
//! over https, or plain http to a loopback host (a test double), and never shown.
//! GitHub Enterprise Server has no attestations API: the refusal says so.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use tracing::{debug, warn};

use super::{Error, Signed, Storage, Stored};
use crate::error_kind::Kind;
use crate::secret::SecretString;

/// What GitHub's store is reached with: filled from the job's variables and
/// chainseal's settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The REST API root (`GITHUB_API_URL`; default `https://api.github.com`).
    pub api_url: Option<String>,
    /// The web root attestation pages live under (`GITHUB_SERVER_URL`; default
    /// `https://github.com`).
    pub server_url: Option<String>,
    /// `owner/repo` (`GITHUB_REPOSITORY`), unless the storage URI names one.
    pub repository: Option<String>,
    /// The token (`CHAINSEAL_GITHUB_TOKEN`).
    pub token: Option<SecretString>,
    /// Create artifact metadata storage records for the image subjects when they are
    /// pushed to their registries (`CHAINSEAL_GITHUB_STORAGE_RECORD`).
    pub storage_records: bool,
    /// The artifact version storage records name (`CHAINSEAL_SUBJECT_VERSION`).
    pub version: Option<String>,
    /// The store was added by default (keyless in a GitHub job, no storage set), as
    /// actions/attest stores: any failure of it (no `attestations: write`, GitHub
    /// Enterprise Server, a plan without attestations, no reply) is a warning, never a
    /// failed run.
    pub by_default: bool,
}

/// The largest reply read from GitHub's API.
const MAX_REPLY_BYTES: u64 = 1 << 20;

/// The backend name in [`Stored`] for attestations stored in GitHub.
pub const BACKEND: &str = "github";

/// The backend name in [`Stored`] for storage records.
pub const STORAGE_RECORD: &str = "github-storage-record";

/// GitHub's attestation store for one repository.
pub struct GitHubStorage {
    api: String,
    server: String,
    owner: String,
    repo: String,
    token: SecretString,
    storage_records: bool,
    version: Option<String>,
    by_default: bool,
    client: reqwest::Client,
    /// Whether the owner is an organisation, once GitHub said.
    organisation: tokio::sync::OnceCell<bool>,
}

impl fmt::Debug for GitHubStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubStorage")
            .field("api", &self.api)
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .field("token", &self.token)
            .field("storage_records", &self.storage_records)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GitHubStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "github://{}/{}", self.owner, self.repo)
    }
}

fn failed(target: &str, detail: impl fmt::Display) -> Error {
    super::failed("GitHub attestations", target, detail)
}

/// Whether `name` is a GitHub owner or repository name (letters, digits, `-`, `_`,
/// `.`; not `.` or `..`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `url` without a trailing slash, if the token may be sent to it: https, or http to
/// a loopback host; never with credentials in it.
fn base_url(url: &str, setting: &str) -> Result<String, Error> {
    let shown = crate::http::redacted(url);
    let parsed = url::Url::parse(url)
        .map_err(|e| failed(&shown, format!("{setting} is not a URL ({e})")))?;
    if crate::http::has_credentials(url) {
        return Err(failed(
            &shown,
            format!(
                "{setting} must not carry credentials; the token comes from CHAINSEAL_GITHUB_TOKEN"
            ),
        ));
    }
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(failed(
                &shown,
                format!("{setting} must be an https URL (the token is sent to it)"),
            ));
        }
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl GitHubStorage {
    /// The store for `repository` (`owner/repo`; else the options' repository);
    /// `images_pushed`: the run pushes its image subjects to their registries (then
    /// storage records are made, when the options ask for them).
    pub fn new(
        repository: Option<&str>,
        options: &Options,
        images_pushed: bool,
    ) -> Result<Self, Error> {
        let repository = repository
            .or(options.repository.as_deref())
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                failed(
                    "github",
                    "no repository: run inside a GitHub Actions job (GITHUB_REPOSITORY) or name it, `github://<owner>/<repo>`",
                )
            })?;
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| valid_name(o) && valid_name(r))
            .ok_or_else(|| {
                failed(
                    &format!(
                        "github://{}",
                        repository.chars().take(200).collect::<String>()
                    ),
                    "expected `<owner>/<repo>`",
                )
            })?;
        let shown = format!("github://{owner}/{repo}");
        let token = options.token.clone().filter(|t| !t.expose().is_empty()).ok_or_else(|| {
            failed(
                &shown,
                "no token: set CHAINSEAL_GITHUB_TOKEN (the action's `github-token` input) to a token with `attestations: write`",
            )
        })?;
        let api = base_url(
            options
                .api_url
                .as_deref()
                .unwrap_or("https://api.github.com"),
            "GITHUB_API_URL",
        )?;
        let server = base_url(
            options
                .server_url
                .as_deref()
                .unwrap_or("https://github.com"),
            "GITHUB_SERVER_URL",
        )?;
        let client = crate::http::credentialed_client().map_err(|e| failed(&shown, e.detail()))?;
        Ok(Self {
            api,
            server,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            token,
            storage_records: options.storage_records && images_pushed,
            version: options.version.clone(),
            by_default: options.by_default,
            client,
            organisation: tokio::sync::OnceCell::new(),
        })
    }

    /// A request to the API with the token and GitHub's media type and API version.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(String::from_utf8_lossy(self.token.expose()))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    /// Send what `make` builds (retried on no reply, 5xx and 429), read the reply.
    async fn send(
        &self,
        target: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<crate::http::Reply, Error> {
        crate::http::send_retrying(target, MAX_REPLY_BYTES, make)
            .await
            .map_err(|e| {
                super::failed_by(
                    "GitHub attestations",
                    target,
                    format!("no reply ({}); is GITHUB_API_URL right?", e.detail()),
                    e.kind(),
                    e,
                )
            })
    }

    /// The error for a refused `POST …/attestations`, with the fix for its status.
    fn refused(&self, target: &str, reply: &crate::http::Reply) -> Error {
        let status = reply.status.as_u16();
        let hint = match status {
            401 => {
                " (the token was not accepted: check CHAINSEAL_GITHUB_TOKEN, the action's `github-token`)"
            }
            403 => {
                " (the token may not write attestations: give the job `permissions: attestations: write`, and `id-token: write` for keyless signing)"
            }
            404 => {
                " (no attestations API here: GitHub Enterprise Server has none, so drop `github` from the storage; on github.com, check the repository name and that the token can see it)"
            }
            422 => " (GitHub refused the bundle)",
            _ => "",
        };
        Error::Backend {
            backend: "GitHub attestations",
            target: target.to_owned(),
            detail: format!("HTTP {}: {}{hint}", reply.status, reply.message()),
            kind: Kind::from_http_status(status),
            source: None,
        }
    }

    /// Whether the repository's owner is an organisation (storage records exist only
    /// for those).
    async fn owner_is_organisation(&self) -> Result<bool, String> {
        let ask = || async {
            let path = format!("/repos/{}/{}", self.owner, self.repo);
            let target = format!("{}{path}", self.api);
            let reply = self
                .send(&target, || self.request(reqwest::Method::GET, &path))
                .await
                .map_err(|e| e.to_string())?;
            if !reply.status.is_success() {
                return Err(format!("HTTP {}: {}", reply.status, reply.message()));
            }
            Ok(reply.json()["owner"]["type"].as_str() == Some("Organization"))
        };
        // Asked once per store (an answer is kept; a failure is asked again).
        self.organisation.get_or_try_init(ask).await.copied()
    }

    /// One storage record per image subject; the ids made. Failures are warnings.
    async fn storage_records(&self, item: &Signed<'_>) -> Vec<Stored> {
        match self.owner_is_organisation().await {
            Ok(true) => {}
            Ok(false) => {
                debug!("{self}: the owner is not an organisation; no storage records");
                return Vec::new();
            }
            Err(e) => {
                warn!(
                    "{self}: cannot tell whether the owner is an organisation, so no storage records were made: {e}"
                );
                return Vec::new();
            }
        }
        let path = format!("/orgs/{}/artifacts/metadata/storage-record", self.owner);
        let target = format!("{}{path}", self.api);
        let mut made = Vec::new();
        for subject in item.subjects {
            let Ok(image) =
                crate::oci::parse_reference(&format!("{}@sha256:{}", subject.name, subject.sha256))
            else {
                continue;
            };
            let mut body = serde_json::json!({
                "name": subject.name,
                "digest": format!("sha256:{}", subject.sha256),
                "registry_url": format!("https://{}", image.registry()),
                "status": "active",
            });
            if let Some(version) = &self.version {
                body["version"] = version.as_str().into();
            }
            let body = body.to_string();
            let outcome = self
                .send(&target, || {
                    self.request(reqwest::Method::POST, &path)
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                })
                .await;
            let ids = match outcome {
                Ok(reply) if reply.status.is_success() => record_ids(&reply.json()),
                Ok(reply) => {
                    warn!(
                        "{self}: no storage record for {}: HTTP {}: {} (the token needs `artifact-metadata: write`)",
                        subject.name,
                        reply.status,
                        reply.message()
                    );
                    continue;
                }
                Err(e) => {
                    warn!("{self}: no storage record for {}: {e}", subject.name);
                    continue;
                }
            };
            made.extend(ids.into_iter().map(|id| Stored {
                backend: STORAGE_RECORD,
                location: id,
                written: true,
            }));
        }
        made
    }
}

/// The ids of a storage-record reply (`{"storage_records": [{"id": …}]}`).
fn record_ids(reply: &Value) -> Vec<String> {
    reply["storage_records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| id_text(&r["id"]))
        .collect()
}

/// An id GitHub answered, as text: a number, or a string of at most 64 letters,
/// digits, `-` or `_` (anything else is not an id).
fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s)
            if !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

#[async_trait]
impl Storage for GitHubStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        match self.upload(item).await {
            Err(e) if self.by_default => {
                warn!(
                    "not stored in GitHub's attestation store, which keyless signing in a GitHub job uses by default: {e}; set the storage (the action's `storage` input) to leave it out"
                );
                Ok(Vec::new())
            }
            done => done,
        }
    }
}

impl GitHubStorage {
    /// Upload `item`'s bundle (and make its storage records).
    async fn upload(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        if item.public_key.is_none() {
            return Err(failed(
                &self.to_string(),
                "GitHub stores Sigstore bundles, which need a signer with a public key",
            ));
        }
        let bundle = item.bundle()?;
        let mut body = Vec::with_capacity(bundle.len() + 12);
        body.extend_from_slice(b"{\"bundle\":");
        body.extend_from_slice(&bundle);
        body.push(b'}');
        // Shared, not copied, by each try.
        let body = bytes::Bytes::from(body);
        let path = format!("/repos/{}/{}/attestations", self.owner, self.repo);
        let target = format!("{}{path}", self.api);
        let reply = self
            .send(&target, || {
                self.request(reqwest::Method::POST, &path)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
            })
            .await?;
        if !reply.status.is_success() {
            return Err(self.refused(&target, &reply));
        }
        let id = id_text(&reply.json()["id"])
            .ok_or_else(|| failed(&target, "the reply names no attestation id"))?;
        let mut stored = vec![Stored {
            backend: BACKEND,
            location: format!(
                "{}/{}/{}/attestations/{id}",
                self.server, self.owner, self.repo
            ),
            written: true,
        }];
        if self.storage_records {
            stored.extend(self.storage_records(item).await);
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            repository: Some("octo-org/hello".into()),
            token: Some(SecretString::new("ghs_s3cret".into())),
            ..Options::default()
        }
    }

    #[test]
    fn the_token_never_shows() {
        let s = GitHubStorage::new(None, &options(), false).expect("store");
        assert_eq!(s.to_string(), "github://octo-org/hello");
        let debug = format!("{s:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn repositories_and_urls_are_checked() {
        let refused = |repo: Option<&str>, o: Options| {
            GitHubStorage::new(repo, &o, false)
                .expect_err("refused")
                .to_string()
        };
        let mut none = options();
        none.repository = None;
        assert!(refused(None, none).contains("GITHUB_REPOSITORY"));
        assert!(refused(Some("octo-org"), options()).contains("<owner>/<repo>"));
        assert!(refused(Some("a/b/c"), options()).contains("<owner>/<repo>"));
        assert!(refused(Some("../x"), options()).contains("<owner>/<repo>"));
        let mut no_token = options();
        no_token.token = Some(SecretString::new(String::new()));
        assert!(refused(None, no_token).contains("CHAINSEAL_GITHUB_TOKEN"));
        for url in [
            "http://api.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@api.example.com",
        ] {
            let mut o = options();
            o.api_url = Some(url.into());
            let e = refused(None, o);
            assert!(e.contains("GITHUB_API_URL"), "{url}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost:1",
            "https://ghe.example/api/v3",
        ] {
            let mut o = options();
            o.api_url = Some(url.into());
            GitHubStorage::new(None, &o, false).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn ids_are_numbers_or_plain_strings() {
        assert_eq!(id_text(&serde_json::json!(42)).as_deref(), Some("42"));
        assert_eq!(
            id_text(&serde_json::json!("abc-1")).as_deref(),
            Some("abc-1")
        );
        assert_eq!(id_text(&serde_json::json!("../x")), None);
        assert_eq!(id_text(&serde_json::json!(null)), None);
        assert_eq!(
            record_ids(
                &serde_json::json!({"storage_records": [{"id": 1}, {"id": "x y"}, {"id": 3}]})
            ),
            ["1", "3"]
        );
    }
}
