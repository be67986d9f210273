//! Registry credentials: docker `config.json` files, as docker, cosign and Tekton
//! Chains read them.
//!
//! Looked up per registry host, first match wins:
//! 1. the files in `CHAINSEAL_REGISTRY_AUTH_FILES`, in order: docker `config.json`
//!    files or the `.dockerconfigjson` key of a Kubernetes
//!    `kubernetes.io/dockerconfigjson` Secret mounted in the pod (same format); a
//!    directory entry (a mounted Secret, a Tekton workspace) means its
//!    `.dockerconfigjson`, else its `config.json`, and is skipped when it has neither;
//! 2. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, including its
//!    `credsStore` / `credHelpers` programs (run as docker runs them);
//! 3. anonymous access.
//!
//! Basic credentials and identity (refresh) tokens are both handled; the bearer-token
//! exchange with the registry's token service is done by `oci-client`.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::Error;

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
pub struct Keychain {
    files: Vec<PathBuf>,
}

/// Credentials found for one registry, and where they came from.
#[derive(Clone)]
pub struct Found {
    /// What to send.
    pub auth: RegistryAuth,
    /// Where it was found (a path, or `anonymous`), for messages.
    pub source: String,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Keychain {
    /// A keychain reading `files` before the docker configuration.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self { files }
    }

    /// The places looked at, for messages.
    pub fn searched(&self) -> String {
        let mut places: Vec<String> = self
            .files
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect();
        places.push(format!("`{}`", docker_config().display()));
        places.join(", ")
    }

    /// The credentials for `registry` (a host, e.g. `ghcr.io` or `127.0.0.1:5000`).
    pub fn lookup(&self, registry: &str) -> Result<Found, Error> {
        for entry in &self.files {
            let file = if entry.is_dir() {
                match [".dockerconfigjson", "config.json"]
                    .iter()
                    .map(|name| entry.join(name))
                    .find(|p| p.is_file())
                {
                    Some(f) => f,
                    None => continue,
                }
            } else {
                entry.clone()
            };
            let file = &file;
            let f = std::fs::File::open(file).map_err(|e| Error::Credentials {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            match docker_credential::get_credential_from_reader(BufReader::new(f), registry) {
                Ok(c) => return Ok(found(c, file)),
                Err(CredentialRetrievalError::NoCredentialConfigured) => {}
                Err(e) => {
                    return Err(Error::Credentials {
                        path: file.clone(),
                        reason: describe(&e),
                    });
                }
            }
        }
        let config = docker_config();
        if config.exists() {
            match docker_credential::get_credential(registry) {
                Ok(c) => return Ok(found(c, &config)),
                Err(
                    CredentialRetrievalError::NoCredentialConfigured
                    | CredentialRetrievalError::ConfigNotFound,
                ) => {}
                Err(e) => {
                    return Err(Error::Credentials {
                        path: config,
                        reason: describe(&e),
                    });
                }
            }
        }
        Ok(Found {
            auth: RegistryAuth::Anonymous,
            source: "anonymous".to_owned(),
        })
    }
}

fn found(c: DockerCredential, file: &Path) -> Found {
    let auth = match c {
        DockerCredential::UsernamePassword(user, password) => RegistryAuth::Basic(user, password),
        // Identity tokens are refresh tokens for the registry's token service; the
        // exchange uses them as the password with the `<token>` user, as docker does.
        DockerCredential::IdentityToken(token) => RegistryAuth::Basic("<token>".into(), token),
    };
    Found {
        auth,
        source: file.display().to_string(),
    }
}

/// A message without helper output (which may hold secrets).
fn describe(e: &CredentialRetrievalError) -> String {
    match e {
        CredentialRetrievalError::HelperFailure { helper, .. } => {
            format!("credential helper `docker-credential-{helper}` failed")
        }
        other => other.to_string(),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config() -> PathBuf {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))
        .unwrap_or_else(|| PathBuf::from(".docker"))
        .join("config.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_come_first_and_match_by_host() {
        let dir = tempfile::tempdir().expect("tmp");
        let secret = dir.path().join(".dockerconfigjson");
        // base64("robot:s3cret")
        std::fs::write(
            &secret,
            r#"{"auths":{"registry.example.com":{"auth":"cm9ib3Q6czNjcmV0"}}}"#,
        )
        .expect("write");
        let chain = Keychain::new(vec![secret.clone()]);
        let found = chain.lookup("registry.example.com").expect("lookup");
        assert_eq!(
            found.auth,
            RegistryAuth::Basic("robot".into(), "s3cret".into())
        );
        assert_eq!(found.source, secret.display().to_string());
        assert!(!format!("{found:?}").contains("s3cret"), "secret in Debug");
        let other = chain.lookup("other.example.com").expect("lookup");
        assert!(matches!(
            other.auth,
            RegistryAuth::Anonymous | RegistryAuth::Basic(..)
        ));
    }

    #[test]
    fn an_unreadable_secret_file_is_an_error_naming_it() {
        let chain = Keychain::new(vec![PathBuf::from("/nonexistent/.dockerconfigjson")]);
        let err = chain.lookup("r.example.com").expect_err("missing file");
        assert!(
            err.to_string().contains("/nonexistent/.dockerconfigjson"),
            "{err}"
        );
    }
}
