//! Object storage: `gs://bucket/prefix` and `s3://bucket/prefix` through
//! `object_store`, in Tekton Chains' GCS layout plus chainseal's own files.
//!
//! For a run `<kind>-<namespace>-<name>` (CI builds: no run directory) and the storage
//! key `<key>`, below the prefix:
//!
//! * `<run>/<key>.payload` (the Statement), `<run>/<key>.signature` (the DSSE
//!   envelope), `<run>/<key>.cert` and `<run>/<key>.chain` (PEM; empty for keys):
//!   Chains' objects, so its users' tooling keeps working;
//! * `<run>/<key>.intoto.jsonl`: every envelope ever stored for the key, one per line,
//!   appended with a conditional write (create-if-absent, else replace-if-unchanged),
//!   so concurrent or retried runs never lose or tear a line;
//! * `<run>/<key>.sigstore.json`: the Sigstore bundle, with bundles on.
//!
//! Credentials come from each cloud's standard chain (`object_store`'s `from_env`:
//! `GOOGLE_APPLICATION_CREDENTIALS`/`GOOGLE_SERVICE_ACCOUNT` or the metadata server;
//! `AWS_*` variables, web identity or instance metadata); `CHAINSEAL_STORAGE_ENDPOINT`
//! points both at another endpoint (an emulator, MinIO, a private endpoint).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};

use super::{Error, Signed, SignedImage, Storage, Stored};
use crate::error_kind::Kind;

/// How many times a conditional append is retried when another writer got there first.
const APPEND_ATTEMPTS: usize = 8;

/// A bucket (and prefix) in GCS or S3.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// `gs://bucket` or `s3://bucket`.
    bucket_url: String,
    prefix: String,
    bundles: bool,
    /// The credentials come from the cloud's metadata server (none were configured).
    metadata: bool,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("bucket_url", &self.bucket_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            f.write_str(&self.bucket_url)
        } else {
            write!(f, "{}/{}", self.bucket_url, self.prefix)
        }
    }
}

/// `action` on `target` failed with the client's error `e`; `metadata`: credentials
/// come from the cloud's metadata server (none were configured).
fn failed(target: &str, action: &str, e: object_store::Error, metadata: bool) -> Error {
    let kind = kind_of(&e);
    // Credentials are fetched before anything else; a failure the client could not
    // map to a status (or a refusal of the credentials) is theirs.
    let no_credentials = metadata
        && matches!(
            e,
            object_store::Error::Generic { .. } | object_store::Error::Unauthenticated { .. }
        );
    let detail = format!("{action}{}", hint(kind, no_credentials));
    super::failed_by("object storage", target, detail, kind, e)
}

/// `action` on `target` failed for a reason of ours (no client error).
fn refused(target: &str, action: &str, why: impl fmt::Display) -> Error {
    super::failed("object storage", target, format!("{action}: {why}"))
}

/// The kind of a client error: `object_store`'s variant (which its HTTP client decides
/// from the status), else the transport failure among the causes.
fn kind_of(e: &object_store::Error) -> Kind {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Kind::NotFound,
        E::PermissionDenied { .. } => Kind::PermissionDenied,
        E::Unauthenticated { .. } => Kind::Unauthenticated,
        E::InvalidPath { .. } | E::UnknownConfigurationKey { .. } => Kind::Invalid,
        E::Generic { source, .. } => http_kind(source.as_ref()),
        _ => Kind::Other,
    }
}

/// [`Kind::Unavailable`] when the client could not connect or got no answer in time
/// (its `HttpError` kind, or an I/O or reqwest error among the causes).
fn http_kind(e: &(dyn std::error::Error + 'static)) -> Kind {
    #[cfg(any(feature = "aws", feature = "gcp"))]
    {
        use object_store::client::{HttpError, HttpErrorKind};
        let mut next = Some(e);
        while let Some(err) = next {
            if let Some(http) = err.downcast_ref::<HttpError>()
                && matches!(
                    http.kind(),
                    HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Interrupted
                )
            {
                return Kind::Unavailable;
            }
            next = err.source();
        }
    }
    Kind::of_chain(e)
}

/// What to do about the usual causes, by kind; `no_credentials`: none were
/// configured and the client got none from the cloud metadata server.
fn hint(kind: Kind, no_credentials: bool) -> &'static str {
    match kind {
        _ if no_credentials => {
            " (no credentials were found, and the cloud metadata server gave none: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a web identity for S3, GOOGLE_APPLICATION_CREDENTIALS or workload identity for GCS)"
        }
        Kind::PermissionDenied => {
            " (permission denied: the credentials need to read and write objects in this bucket)"
        }
        Kind::NotFound => " (create the bucket, or fix its name)",
        _ => "",
    }
}

/// A client, and whether its credentials come from the cloud's metadata server (none
/// were configured).
type Client = (Arc<dyn ObjectStore>, bool);

/// The client for `scheme://bucket` (through `endpoint` when given).
fn open(uri: &str, scheme: &str, bucket: &str, endpoint: Option<&str>) -> Result<Client, Error> {
    match scheme {
        "gs" => gcs(uri, bucket, endpoint),
        "s3" => s3(uri, bucket, endpoint),
        other => Err(refused(
            uri,
            "configuring",
            format!("unknown scheme `{other}`"),
        )),
    }
}

/// A GCS client, with Google's standard credentials also at another endpoint (for an
/// emulator that wants none, object_store's `GOOGLE_SERVICE_ACCOUNT` key file with
/// `"disable_oauth": true` sends empty tokens).
#[cfg(feature = "gcp")]
fn gcs(uri: &str, bucket: &str, endpoint: Option<&str>) -> Result<Client, Error> {
    use object_store::gcp::GoogleConfigKey as Key;
    let http = endpoint.is_some_and(|e| e.starts_with("http://"));
    let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(bucket)
        .with_client_options(object_store::ClientOptions::new().with_allow_http(http));
    if let Some(e) = endpoint {
        b = b.with_base_url(e.trim_end_matches('/'));
    }
    let gcloud_file = std::env::var_os(crate::env_vars::EnvVars::HOME).is_some_and(|home| {
        std::path::Path::new(&home)
            .join(".config/gcloud/application_default_credentials.json")
            .is_file()
    });
    let metadata = !gcloud_file
        && [
            Key::ServiceAccount,
            Key::ServiceAccountKey,
            Key::ApplicationCredentials,
        ]
        .iter()
        .all(|k| b.get_config_value(k).is_none());
    let store = b
        .build()
        .map_err(|e| failed(uri, "configuring GCS", e, false))?;
    Ok((Arc::new(store), metadata))
}

/// An S3 client, with conditional writes by ETag.
#[cfg(feature = "aws")]
fn s3(uri: &str, bucket: &str, endpoint: Option<&str>) -> Result<Client, Error> {
    use object_store::aws::AmazonS3ConfigKey as Key;
    let mut b = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://")))
        .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
    if let Some(e) = endpoint {
        b = b.with_endpoint(e.trim_end_matches('/'));
    }
    let metadata = [
        Key::AccessKeyId,
        Key::SecretAccessKey,
        Key::WebIdentityTokenFile,
        Key::ContainerCredentialsRelativeUri,
        Key::ContainerCredentialsFullUri,
    ]
    .iter()
    .all(|k| b.get_config_value(k).is_none());
    let store = b
        .build()
        .map_err(|e| failed(uri, "configuring S3", e, false))?;
    Ok((Arc::new(store), metadata))
}

#[cfg(not(feature = "gcp"))]
fn gcs(uri: &str, _bucket: &str, _endpoint: Option<&str>) -> Result<Client, Error> {
    Err(Error::NotBuilt {
        uri: uri.to_owned(),
        what: "GCS",
        feature: "gcp",
    })
}

#[cfg(not(feature = "aws"))]
fn s3(uri: &str, _bucket: &str, _endpoint: Option<&str>) -> Result<Client, Error> {
    Err(Error::NotBuilt {
        uri: uri.to_owned(),
        what: "S3",
        feature: "aws",
    })
}

impl ObjectStorage {
    /// Storage at `uri` (`gs://bucket[/prefix]` or `s3://bucket[/prefix]`), at
    /// `endpoint` instead of the cloud's own when given.
    pub fn new(uri: &str, endpoint: Option<&str>, bundles: bool) -> Result<Self, Error> {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(super::failed(
                "object storage",
                uri,
                "no bucket: use gs://<bucket>[/prefix] or s3://<bucket>[/prefix]",
            ));
        }
        let (store, metadata) = open(uri, scheme, bucket, endpoint)?;
        Ok(Self {
            store,
            metadata,
            bucket_url: format!("{scheme}://{bucket}"),
            prefix: prefix.trim_matches('/').to_owned(),
            bundles,
        })
    }

    /// `action` on `location` failed with the client's error `e`.
    fn failed(&self, location: &str, action: &str, e: object_store::Error) -> Error {
        failed(location, action, e, self.metadata)
    }

    /// The object path of `name` below the prefix.
    fn path(&self, name: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        }
    }

    fn location(&self, path: &Path) -> String {
        format!("{}/{path}", self.bucket_url)
    }

    /// Write `content` to `name` (replacing it); `written` is false when it already
    /// held exactly that.
    async fn put(&self, name: &str, content: Vec<u8>) -> Result<Stored, Error> {
        let path = self.path(name);
        let location = self.location(&path);
        let stored = |written| Stored {
            backend: "object",
            location: location.clone(),
            written,
        };
        // Created if absent: one request in the common case (a first write).
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(content.clone()), create)
            .await
        {
            Ok(_) => return Ok(stored(true)),
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(self.failed(&location, "write", e)),
        }
        if let Ok(current) = self.store.get(&path).await
            && let Ok(bytes) = current.bytes().await
            && bytes.as_ref() == content.as_slice()
        {
            return Ok(stored(false));
        }
        self.store
            .put(&path, PutPayload::from(content))
            .await
            .map_err(|e| self.failed(&location, "write", e))?;
        Ok(stored(true))
    }

    /// Append `line` to the JSON Lines object `name` unless it is there already, with
    /// conditional writes (retried when another writer changed it meanwhile).
    async fn append(&self, name: &str, line: &str) -> Result<Stored, Error> {
        let path = self.path(name);
        let location = self.location(&path);
        for _ in 0..APPEND_ATTEMPTS {
            let (content, mode) = match self.store.get(&path).await {
                Ok(current) => {
                    let version = UpdateVersion {
                        e_tag: current.meta.e_tag.clone(),
                        version: current.meta.version.clone(),
                    };
                    let bytes = current
                        .bytes()
                        .await
                        .map_err(|e| self.failed(&location, "read", e))?;
                    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                        refused(&location, "read", "the object is not UTF-8 JSON Lines")
                    })?;
                    (text, PutMode::Update(version))
                }
                Err(object_store::Error::NotFound { .. }) => (String::new(), PutMode::Create),
                Err(e) => return Err(self.failed(&location, "read", e)),
            };
            let Some(content) = super::append_line(&content, line).map_err(|e| {
                super::failed_by(
                    "object storage",
                    &location,
                    "read: the object is not JSON Lines; move it away",
                    Kind::Invalid,
                    e,
                )
            })?
            else {
                return Ok(Stored {
                    backend: "object",
                    location,
                    written: false,
                });
            };
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&path, PutPayload::from(content.into_bytes()), options)
                .await
            {
                Ok(_) => {
                    return Ok(Stored {
                        backend: "object",
                        location,
                        written: true,
                    });
                }
                // Another writer got there first: read again.
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => continue,
                Err(e) => return Err(self.failed(&location, "write", e)),
            }
        }
        Err(refused(
            &location,
            "write",
            "the object kept changing while it was appended to; try again",
        ))
    }
}

/// Chains' objects of one signed payload below `base` (`<run>/<key>`): `.payload`,
/// `.signature`, `.cert` and `.chain` (PEM; empty without a certificate).
fn chains_objects(
    base: &str,
    payload: Vec<u8>,
    signature: Vec<u8>,
    certificate: Option<&crate::signing::keyless::CertificateChain>,
) -> [(String, Vec<u8>); 4] {
    let (cert, chain) = super::certificate_pem(certificate);
    [
        (format!("{base}.payload"), payload),
        (format!("{base}.signature"), signature),
        (format!("{base}.cert"), cert.into_bytes()),
        (format!("{base}.chain"), chain.into_bytes()),
    ]
}

/// Chains' object prefix for a run: `taskrun-<namespace>-<name>/` (none for CI builds).
fn run_dir(run: Option<&super::RunId>) -> String {
    match run {
        Some(run) => format!(
            "{}-{}-{}/",
            run.kind.name().to_ascii_lowercase(),
            run.namespace.as_deref().unwrap_or("default"),
            run.name
        ),
        None => String::new(),
    }
}

#[async_trait]
impl Storage for ObjectStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        super::check_key(item.key)?;
        let base = format!("{}{}", run_dir(item.run), item.key);
        let envelope = item.envelope.to_json();
        let bundle = item.bundle_if(self.bundles)?;
        // Chains' objects and the bundle are independent objects: written at once.
        let objects = chains_objects(
            &base,
            item.envelope.payload.clone(),
            envelope.clone().into_bytes(),
            item.certificate,
        )
        .into_iter()
        .chain(bundle.map(|b| (format!("{base}.sigstore.json"), b)));
        let writes = objects.map(|(name, content)| async move { self.put(&name, content).await });
        let jsonl = format!("{base}.intoto.jsonl");
        let (lines, objects) = tokio::join!(
            self.append(&jsonl, &envelope),
            futures::future::join_all(writes)
        );
        let mut stored = vec![lines?];
        for o in objects {
            stored.push(o?);
        }
        Ok(stored)
    }

    fn keeps_image_signatures(&self) -> bool {
        true
    }

    /// Chains' objects for an image signature, below the run's prefix with the
    /// image's short key (the first 12 hex digits of its digest).
    async fn store_image(&self, item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        let base = format!("{}{}", run_dir(item.run), super::image_key(item));
        let objects = chains_objects(
            &base,
            item.payload.to_vec(),
            item.signature.to_vec(),
            item.certificate,
        );
        futures::future::join_all(
            objects.map(|(name, content)| async move { self.put(&name, content).await }),
        )
        .await
        .into_iter()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        }
    }

    #[test]
    fn kinds_choose_the_hints() {
        let denied = failed(
            "s3://b/x",
            "write",
            object_store::Error::PermissionDenied {
                path: "x".into(),
                source: "AccessDenied".into(),
            },
            false,
        );
        assert_eq!(denied.kind(), Kind::PermissionDenied);
        assert!(denied.to_string().contains("permission denied"), "{denied}");
        let missing = failed(
            "s3://b/x",
            "write",
            object_store::Error::NotFound {
                path: "x".into(),
                source: "NoSuchBucket".into(),
            },
            false,
        );
        assert_eq!(missing.kind(), Kind::NotFound);
        assert!(
            missing.to_string().contains("create the bucket"),
            "{missing}"
        );
        let unreachable = failed("s3://b/x", "write", generic(), false);
        assert_eq!(unreachable.kind(), Kind::Unavailable);
        assert!(unreachable.to_string().ends_with("write"), "{unreachable}");
        let no_credentials = failed("s3://b/x", "write", generic(), true);
        assert!(
            no_credentials.to_string().contains("AWS_ACCESS_KEY_ID"),
            "{no_credentials}"
        );
        assert!(
            crate::error_text::joined(&no_credentials).contains("refused"),
            "the cause is kept"
        );
    }
}
