//! The OCI documents chainseal reads and writes, as typed values.
//!
//! Everything a registry returns is untrusted: it is parsed into these types (a field
//! of the wrong JSON type is an error, never a panic), and what chainseal writes is
//! built from the fields it expects, never by editing a fetched document, so a
//! hostile manifest cannot smuggle keys into the next write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of a Docker v2 schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest or index read (distribution's own limit).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// The largest blob read (an envelope, a bundle, a config): far above any real one.
pub const MAX_BLOB_BYTES: u64 = 64 << 20;
/// The most layers (or index entries) accepted in one document.
pub const MAX_ENTRIES: usize = 10_000;

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Artifact type (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (absent in some Docker manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The image this one refers to (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (also the referrers API's answer and the referrers tag schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// The go-containerregistry config file cosign's tags carry: one `diff_ids` and
/// `history` entry per layer (fields in the order chainseal has always written them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignConfig {
    /// Always empty.
    #[serde(default)]
    pub architecture: String,
    /// Always `{}`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// go-containerregistry's zero time.
    #[serde(default)]
    pub created: String,
    /// One entry per layer.
    #[serde(default)]
    pub history: Vec<History>,
    /// Always empty.
    #[serde(default)]
    pub os: String,
    /// The layers' digests.
    pub rootfs: RootFs,
}

/// A config's history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When (the zero time).
    #[serde(default)]
    pub created: String,
}

/// A config's `rootfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// One digest per layer.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// Not JSON of the expected shape.
    #[error("not a valid {what}: {reason}")]
    Shape {
        /// What was expected.
        what: &'static str,
        /// serde's words (positions and types only; no document text).
        reason: String,
    },
    /// Valid JSON, but not usable.
    #[error("{0}")]
    Content(String),
}

fn parse<'a, T: Deserialize<'a>>(what: &'static str, body: &'a [u8]) -> Result<T, Invalid> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(Invalid::Content(format!(
            "{what} is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit",
            body.len()
        )));
    }
    serde_json::from_slice(body).map_err(|e| Invalid::Shape {
        what,
        // serde_json's message names a type or field and a position, never the input.
        reason: e.to_string(),
    })
}

/// Whether `digest` is `sha256:<64 lower-case hex>`.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_descriptors(what: &str, all: &[Descriptor]) -> Result<(), Invalid> {
    if all.len() > MAX_ENTRIES {
        return Err(Invalid::Content(format!(
            "{what} lists {} entries, over the limit of {MAX_ENTRIES}",
            all.len()
        )));
    }
    if let Some(bad) = all.iter().find(|d| !is_sha256_digest(&d.digest)) {
        return Err(Invalid::Content(format!(
            "{what} lists a descriptor whose digest is not `sha256:<hex>` ({} characters)",
            bad.digest.len()
        )));
    }
    Ok(())
}

impl ImageManifest {
    /// Parse a manifest a registry returned.
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let m: Self = parse("image manifest", body)?;
        if m.schema_version != 2 {
            return Err(Invalid::Content(format!(
                "schemaVersion {} (only 2 is supported)",
                m.schema_version
            )));
        }
        check_descriptors("the manifest", std::slice::from_ref(&m.config))?;
        check_descriptors("the manifest", &m.layers)?;
        Ok(m)
    }

    /// Serialise for upload.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl ImageIndex {
    /// Parse an index a registry returned.
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let i: Self = parse("image index", body)?;
        if i.schema_version != 2 {
            return Err(Invalid::Content(format!(
                "schemaVersion {} (only 2 is supported)",
                i.schema_version
            )));
        }
        check_descriptors("the index", &i.manifests)?;
        Ok(i)
    }

    /// Serialise for upload.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl CosignConfig {
    /// Parse a cosign tag's config blob.
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let c: Self = parse("cosign config", body)?;
        if c.rootfs.diff_ids.len() > MAX_ENTRIES {
            return Err(Invalid::Content("the config lists too many layers".into()));
        }
        Ok(c)
    }

    /// Serialise for upload.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The media type a document declares (`mediaType`), if it is a JSON object with one.
pub fn declared_media_type(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(body).ok()?.media_type
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (#18): a fetched `.att`/`.sig` manifest that is a JSON array, string
    /// or number panicked a controller worker (indexing a `serde_json::Value`).
    #[test]
    fn wrong_json_types_are_errors() {
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"42",
            b"null",
            b"{\"schemaVersion\":2,\"manifests\":{}}",
        ] {
            assert!(ImageIndex::parse(body).is_err(), "{body:?}");
        }
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"42",
            b"null",
            b"{\"schemaVersion\":2,\"config\":[],\"layers\":{}}",
            b"{\"schemaVersion\":2,\"config\":{\"mediaType\":1,\"digest\":\"x\",\"size\":1}}",
            b"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\",\"digest\":\"x\",\"size\":-1}}",
        ] {
            assert!(ImageManifest::parse(body).is_err(), "{body:?}");
            assert!(CosignConfig::parse(body).is_err(), "{body:?}");
        }
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(ImageManifest::parse(&big).is_err());
    }

    /// Regression (#18): unknown keys of a fetched manifest are not written back.
    #[test]
    fn unknown_keys_are_dropped_when_written() {
        let d = format!("sha256:{}", "a".repeat(64));
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"{d}","size":2,"urls":["http://169.254.169.254/"]}},"layers":[],"evil":{{"a":1}}}}"#
        );
        let m = ImageManifest::parse(body.as_bytes()).expect("parses");
        let out = String::from_utf8(m.to_bytes()).expect("utf8");
        assert!(!out.contains("evil") && !out.contains("169.254"), "{out}");
    }

    #[test]
    fn descriptors_need_sha256_digests() {
        let body = r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:../../x","size":2},"layers":[]}"#;
        assert!(ImageManifest::parse(body.as_bytes()).is_err());
    }
}
