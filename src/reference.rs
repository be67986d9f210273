//! Container image references, normalised as go-containerregistry's `name.NewDigest`
//! and `Repository.Name()` do (the names Tekton Chains and cosign write).
//!
//! * [`DigestReference`]: `repo@sha256:<64 hex>` is required; a tag before `@` is
//!   dropped. [`ImageReference`]: a digest or a tag, with the same rules (the one
//!   parser behind both, [`parse`], takes a [`Digest`] policy).
//! * The first path component is the registry only if it contains `.` or `:`;
//!   otherwise the registry is Docker Hub (`index.docker.io`), and a repository
//!   without `/` gets the `library/` namespace. `docker.io` becomes `index.docker.io`.
//! * Repository: 2–255 characters of `a-z 0-9 _ - . /`; tag: 1–128 of
//!   `A-Z a-z 0-9 _ - .` (go-containerregistry's `checkTag`). A URL (`…://…`) is refused.

// Everything here reads what runs, registries and the cluster return.
#![warn(clippy::indexing_slicing)]

use std::fmt;

use thiserror::Error;

/// Docker Hub's canonical registry name.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";

/// Why a reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{reference}` is not a valid image digest reference: {reason}")]
pub struct ReferenceError {
    /// The input.
    pub reference: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A digest reference `registry/repository@sha256:hex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DigestReference {
    /// Registry host (with port), e.g. `gcr.io`, `index.docker.io`.
    pub registry: String,
    /// Repository path, e.g. `library/busybox`.
    pub repository: String,
    /// Lower-case hex of the sha256 digest.
    pub sha256: String,
}

/// An image reference by digest or by tag, normalised as [`DigestReference`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// Registry host (with port).
    pub registry: String,
    /// Repository path.
    pub repository: String,
    /// The tag, when one was given (kept beside a digest; the digest wins).
    pub tag: Option<String>,
    /// Lower-case hex of the sha256 digest, when one was given.
    pub sha256: Option<String>,
}

impl ImageReference {
    /// Parse `name[:tag]` or `name[:tag]@sha256:hex`, normalising the name.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        parse(reference, Digest::Optional)
    }
}

/// Whether a reference must name a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// `…@sha256:<hex>` is required (what runs name as images to sign).
    Required,
    /// A tag may stand in its place (what a user names to read from).
    Optional,
}

/// The one image-reference parser: `name[:tag][@sha256:hex]`, the digest as `digest`
/// says.
pub fn parse(reference: &str, digest: Digest) -> Result<ImageReference, ReferenceError> {
    let err = |reason| ReferenceError {
        reference: reference.to_owned(),
        reason,
    };
    if reference.contains("://") {
        return Err(err("it is a URL, not `registry/repository@sha256:<hex>`"));
    }
    let mut parts = reference.split('@');
    let (name, hex) = match (parts.next(), parts.next(), parts.next(), digest) {
        (Some(name), Some(digest), None, _) => (name, Some(sha256_hex(digest).map_err(err)?)),
        (Some(name), None, _, Digest::Optional) => (name, None),
        _ => {
            return Err(err(
                "expected exactly one `@` (registry/repository@sha256:hex)",
            ));
        }
    };
    let (name, tag) = split_tag(name).map_err(err)?;
    let (registry, repository) = split_repository(name).map_err(err)?;
    Ok(ImageReference {
        registry,
        repository,
        tag: tag.map(str::to_owned),
        sha256: hex.map(str::to_owned),
    })
}

/// The hex of `sha256:<64 lower-case hex>`.
fn sha256_hex(digest: &str) -> Result<&str, &'static str> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or("the digest must be `sha256:` followed by 64 hex characters")?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("the digest must be `sha256:` followed by 64 lower-case hex characters");
    }
    Ok(hex)
}

impl DigestReference {
    /// Parse `name@sha256:hex`, normalising the name.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        let r = parse(reference, Digest::Required)?;
        Ok(Self {
            registry: r.registry,
            repository: r.repository,
            sha256: r.sha256.unwrap_or_default(),
        })
    }

    /// The normalised repository name, e.g. `index.docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `sha256:<hex>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.sha256)
    }
}

impl fmt::Display for DigestReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}@sha256:{}",
            self.registry, self.repository, self.sha256
        )
    }
}

/// Split off a `:tag` (a `:` whose remainder has no `/`, so ports are kept).
fn split_tag(name: &str) -> Result<(&str, Option<&str>), &'static str> {
    match name.rsplit_once(':') {
        Some((base, tag)) if !tag.contains('/') => {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if ok {
                Ok((base, Some(tag)))
            } else {
                Err("invalid tag: 1-128 characters of A-Z, a-z, 0-9, `_`, `-`, `.`")
            }
        }
        _ => Ok((name, None)),
    }
}

fn split_repository(name: &str) -> Result<(String, String), &'static str> {
    let (mut registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') => {
            (first.to_owned(), rest.to_owned())
        }
        _ => (String::new(), name.to_owned()),
    };
    if repo.len() < 2
        || repo.len() > 255
        || !repo
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'/'))
    {
        return Err("the repository must be 2-255 characters of a-z, 0-9, `_`, `-`, `.`, `/`");
    }
    if !repo.split('/').all(valid_component) {
        return Err(
            "each `/`-separated part of the repository must start and end with a-z or 0-9, separated only by `.`, `_`, `__` or dashes (no empty, `.` or `..` parts)",
        );
    }
    if !registry
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err("invalid registry host");
    }
    if registry.is_empty() || registry == "docker.io" {
        registry = DEFAULT_REGISTRY.to_owned();
    }
    let repo = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo
    };
    Ok((registry, repo))
}

/// A repository path component as the distribution grammar has it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. Empty, `.` and `..` parts (which collapse in
/// URLs) are not components.
fn valid_component(c: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Between alphanumeric runs: `.`, `_`, `__` or one or more `-`.
    c.as_bytes()
        .split(alnum)
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|b| *b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex() -> String {
        "d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6".into()
    }

    fn name(r: &str) -> Result<String, ReferenceError> {
        DigestReference::parse(&format!("{r}@sha256:{}", hex())).map(|d| d.name())
    }

    #[test]
    fn normalises_like_go_containerregistry() {
        assert_eq!(
            name("busybox").as_deref(),
            Ok("index.docker.io/library/busybox")
        );
        assert_eq!(
            name("docker.io/busybox").as_deref(),
            Ok("index.docker.io/library/busybox")
        );
        assert_eq!(name("org/app").as_deref(), Ok("index.docker.io/org/app"));
        assert_eq!(name("gcr.io/my/image").as_deref(), Ok("gcr.io/my/image"));
        assert_eq!(name("gcr.io/my/image:v1").as_deref(), Ok("gcr.io/my/image"));
        assert_eq!(
            name("localhost:5000/app").as_deref(),
            Ok("localhost:5000/app")
        );
        assert_eq!(
            name("localhost:5000/app:tag").as_deref(),
            Ok("localhost:5000/app")
        );
        assert_eq!(
            name("registry.local/app").as_deref(),
            Ok("registry.local/app")
        );
    }

    #[test]
    fn rejects_invalid_references() {
        assert!(name("Upper/Case").is_err());
        assert!(name("a").is_err());
        assert!(name("gcr.io/x:bad tag").is_err());
        assert!(DigestReference::parse("gcr.io/x").is_err());
        assert!(DigestReference::parse("gcr.io/x@sha256:abc").is_err());
        assert!(DigestReference::parse(&format!("gcr.io/x@sha512:{}", hex())).is_err());
        assert!(DigestReference::parse(&format!("a@b@sha256:{}", hex())).is_err());
    }

    /// Regression (#18): `.`/`..`/empty path segments were accepted and collapse in
    /// URLs (`reg.io/team/../other` reached `reg.io/other`).
    #[test]
    fn rejects_dot_and_empty_path_segments() {
        for bad in [
            "reg.io/team/../other",
            "reg.io/team/./app",
            "reg.io/team//app",
            "reg.io/team/app/",
            "reg.io/..",
            "reg.io/.hidden/app",
            "reg.io/app-",
            "reg.io/a..b",
            "reg.io/a___b",
            "reg.io/a.-b",
        ] {
            assert!(name(bad).is_err(), "{bad}");
        }
        for good in ["reg.io/a.b/c_d/e__f/g--h/i-j", "reg.io/x1/y2"] {
            assert!(name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn tags_stand_in_for_the_digest_only_when_it_is_optional() {
        let r = ImageReference::parse("localhost:5000/x/y:v1").expect("tag");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.tag.as_deref(),
                r.sha256
            ),
            ("localhost:5000", "x/y", Some("v1"), None)
        );
        let r = ImageReference::parse(&format!("app:v1@sha256:{}", hex())).expect("both");
        assert_eq!((r.tag.as_deref(), r.sha256), (Some("v1"), Some(hex())));
        assert!(DigestReference::parse("localhost:5000/x/y:v1").is_err());
        // go-containerregistry's tag limit: 128 characters.
        let long = "t".repeat(128);
        assert!(ImageReference::parse(&format!("reg.io/app:{long}")).is_ok());
        assert!(name(&format!("reg.io/app:{long}")).is_ok());
        assert!(ImageReference::parse(&format!("reg.io/app:{long}t")).is_err());
        for bad in ["https://reg.io/app", "reg.io/app:", "reg.io/app@sha256:abc"] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        let r = DigestReference::parse(&format!("busybox:1@sha256:{}", hex())).expect("valid");
        assert_eq!(
            r.to_string(),
            format!("index.docker.io/library/busybox@sha256:{}", hex())
        );
        assert_eq!(r.digest(), format!("sha256:{}", hex()));
    }
}
