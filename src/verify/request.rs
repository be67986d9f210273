//! What `verify` is asked to check, and running it: the trust (a public key, or a
//! trusted root and the identity a certificate must name), the target (files or an
//! image in a registry) and the predicate types that count.
//!
//! Every input is read and parsed before anything is verified: malformed input is an
//! [`Error`](enum@Error) (exit status 2) whatever the other inputs hold; items that do not verify
//! are recorded in the [`Report`] (exit status 1).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keyless::{Identity, IdentityMatch, TrustedRoot, verify_bundle};
use super::outcome::{Checked, Report};
use super::policy::Policy;
use super::{Error, PredicateTypes, Verifier};
use crate::oci;

/// What signatures are checked against.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A PEM public key file, and a trusted root that key-signed bundles' log entries
    /// and timestamps are checked against.
    Key {
        /// The key.
        key: PathBuf,
        /// The Sigstore trusted root file, when given.
        trusted_root: Option<PathBuf>,
    },
    /// Keyless: certificates chaining to this `trusted_root.json`, naming `identity`.
    Keyless {
        /// The identity and issuer the certificate must name.
        identity: Identity,
        /// The Sigstore trusted root file.
        trusted_root: PathBuf,
    },
}

impl Trust {
    /// Keyless when a certificate identity (or a regular expression for it) is given
    /// (the trusted root is then required; an unset issuer must match an empty one),
    /// else the key (required).
    pub fn choose(
        key: Option<&Path>,
        identity: Option<&str>,
        issuer: Option<&str>,
        trusted_root: Option<&Path>,
    ) -> Result<Self, Error> {
        Self::choose_matching(key, identity.map(IdentityMatch::from), issuer, trusted_root)
    }

    /// [`Trust::choose`] with an identity matcher (exact or a regular expression).
    pub fn choose_matching(
        key: Option<&Path>,
        identity: Option<IdentityMatch>,
        issuer: Option<&str>,
        trusted_root: Option<&Path>,
    ) -> Result<Self, Error> {
        if let Some(identity) = identity {
            let trusted_root = trusted_root.ok_or(Error::MissingTrustedRoot)?;
            return Ok(Self::Keyless {
                identity: Identity {
                    identity,
                    issuer: issuer.unwrap_or_default().to_owned(),
                },
                trusted_root: trusted_root.to_owned(),
            });
        }
        Ok(Self::Key {
            key: key.ok_or(Error::MissingKey)?.to_owned(),
            trusted_root: trusted_root.map(Path::to_owned),
        })
    }
}

/// What is verified.
#[derive(Debug, Clone)]
pub enum Target {
    /// Envelope files (`--key`: DSSE JSON or `.intoto.jsonl`) or Sigstore bundles
    /// (keyless).
    Files(Vec<PathBuf>),
    /// What a registry holds for an image.
    Image {
        /// `<repository>@sha256:<hex>`.
        image: String,
        /// Where the cosign tags were stored (`oci://<registry>/<repository>` or
        /// without the scheme), when not beside the image.
        repository: Option<String>,
        /// How to reach the registry.
        registry: oci::Settings,
    },
}

/// One verification.
#[derive(Debug, Clone)]
pub struct Request {
    /// What signatures are checked against.
    pub trust: Trust,
    /// What is verified.
    pub target: Target,
    /// The predicate types that count.
    pub wanted: PredicateTypes,
    /// The rules counted attestations are held to.
    pub policy: Arc<Policy>,
}

/// Run a verification: load the trust, read every input, verify each item and
/// judge it against the wanted types.
pub async fn run(request: &Request) -> Result<Report, Error> {
    let judge = Judge {
        wanted: request.wanted.clone(),
        policy: request.policy.clone(),
    };
    let verifier = match &request.trust {
        Trust::Key { key, trusted_root } => {
            let verifier = Verifier::from_pem_file(key)?;
            match trusted_root {
                Some(root) => verifier.with_trusted_root(read_trusted_root(root)?),
                None => verifier,
            }
        }
        Trust::Keyless {
            identity,
            trusted_root,
        } => {
            let root = read_trusted_root(trusted_root)?;
            if let Target::Files(files) = &request.target {
                return keyless_files(&root, identity, files, judge);
            }
            Verifier::keyless(root, identity.clone())
        }
    };
    match &request.target {
        Target::Files(files) => key_files(&verifier, files, judge),
        Target::Image {
            image: name,
            repository,
            registry,
        } => {
            let repository = repository.as_deref().map(cosign_repository);
            image(&verifier, name, repository, registry, judge).await
        }
    }
}

/// What verified items are judged by: the wanted types and the policy.
struct Judge {
    wanted: PredicateTypes,
    policy: Arc<Policy>,
}

impl Judge {
    fn report(self, checked: Checked) -> Report {
        Report::new(checked, self.wanted, self.policy)
    }
}

/// The repository of `--repository`, without the `oci://` of storage settings.
fn cosign_repository(repository: &str) -> &str {
    repository.trim_start_matches("oci://")
}

/// Everything stored for `name` (`<repository>@sha256:<hex>`).
async fn image(
    verifier: &Verifier,
    name: &str,
    repository: Option<&str>,
    registry: &oci::Settings,
    judge: Judge,
) -> Result<Report, Error> {
    let registry = oci::Registry::new(registry)?;
    let found = verifier.verify_image(&registry, name, repository).await?;
    let mut report = judge.report(Checked::Image(name.to_owned()));
    for o in found.attestations {
        report.add(o.location, o.result);
    }
    report.signatures = found.signatures;
    Ok(report)
}

/// DSSE envelope files, every file read and parsed before any signature is checked.
fn key_files(verifier: &Verifier, files: &[PathBuf], judge: Judge) -> Result<Report, Error> {
    let outcomes = files
        .iter()
        .map(|file| verifier.verify_file(file))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = judge.report(Checked::Envelopes);
    for o in outcomes.into_iter().flatten() {
        report.add(o.location, o.result);
    }
    Ok(report)
}

/// The trusted root file.
fn read_trusted_root(path: &Path) -> Result<TrustedRoot, Error> {
    let bytes = read(path)?;
    TrustedRoot::from_json(&bytes).map_err(|source| Error::TrustedRoot {
        path: path.to_owned(),
        source,
    })
}

/// Keyless bundle files, every file read and checked to be a bundle with an
/// envelope before any is verified.
fn keyless_files(
    root: &TrustedRoot,
    identity: &Identity,
    files: &[PathBuf],
    judge: Judge,
) -> Result<Report, Error> {
    let mut bundles = Vec::new();
    for file in files {
        let bundle = read(file)?;
        crate::envelope::bundle::envelope(&bundle).map_err(|reason| Error::NotBundle {
            path: file.clone(),
            reason,
        })?;
        bundles.push((file.display().to_string(), bundle));
    }
    let mut report = judge.report(Checked::Bundles);
    for (location, bundle) in bundles {
        let result = verify_bundle(&bundle, root, identity);
        report.add(location, result.map_err(Into::into));
    }
    Ok(report)
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Rejection, Verdict};

    #[test]
    fn an_identity_chooses_keyless_and_needs_a_trusted_root() {
        let (key, root) = (Path::new("k.pub"), Path::new("root.json"));
        assert!(matches!(
            Trust::choose(Some(key), Some("me@example.com"), None, Some(root)),
            Ok(Trust::Keyless { identity, trusted_root })
                if identity.identity.matches("me@example.com") && identity.issuer.is_empty()
                    && trusted_root == root
        ));
        assert!(matches!(
            Trust::choose(Some(key), Some("me@example.com"), Some("https://i"), None),
            Err(Error::MissingTrustedRoot)
        ));
        assert!(matches!(
            Trust::choose(Some(key), None, Some("https://i"), Some(root)),
            Ok(Trust::Key { key: k, trusted_root: Some(r) }) if k == key && r == root
        ));
        assert!(matches!(
            Trust::choose(None, None, None, Some(root)),
            Err(Error::MissingKey)
        ));
    }

    #[test]
    fn the_repository_may_be_written_as_storage_is() {
        assert_eq!(cosign_repository("oci://r.example/att"), "r.example/att");
        assert_eq!(cosign_repository("r.example/att"), "r.example/att");
    }

    fn request(files: Vec<PathBuf>) -> Request {
        let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.pub");
        Request {
            trust: Trust::Key {
                key,
                trusted_root: None,
            },
            target: Target::Files(files),
            wanted: PredicateTypes::default(),
            policy: Arc::default(),
        }
    }

    #[tokio::test]
    async fn malformed_input_is_an_error_before_anything_is_verified() {
        let dir = tempfile::tempdir().expect("tmp");
        let unsigned = dir.path().join("unsigned.json");
        std::fs::write(
            &unsigned,
            r#"{"payloadType":"t","payload":"eA==","signatures":[]}"#,
        )
        .expect("write");
        let report = run(&request(vec![unsigned.clone()]))
            .await
            .expect("well-formed");
        assert!(matches!(
            &report.attestations[..],
            [crate::verify::outcome::Item {
                verdict: Verdict::Failed(Rejection::NoSignatures),
                ..
            }]
        ));
        assert!(!report.passed());
        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "[1]").expect("write");
        assert!(matches!(
            run(&request(vec![unsigned, garbage])).await,
            Err(Error::Malformed { .. })
        ));
    }
}
