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
//!
//! Credential helpers (`docker-credential-<name> get`) run with a deadline
//! ([`HELPER_TIMEOUT`], then killed) and a cleared environment: only `PATH`, `HOME`,
//! `USER`, `TMPDIR`, `DOCKER_CONFIG`, `XDG_*`, proxy and CA settings and the cloud
//! credential variables the well-known helpers read (`AWS_*`, `GOOGLE_*`,
//! `CLOUDSDK_*`, `AZURE_*`) reach them; chainseal's own settings and secrets
//! (`CHAINSEAL_*`, `VAULT_*`, `MONGO_SERVER_URL`, …) do not. Their output is never
//! shown.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::Error;
use crate::env_vars::EnvVars;

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
pub struct Keychain {
    /// A run's ServiceAccount's pull secrets, looked up first.
    secrets: Vec<PullSecret>,
    files: Vec<PathBuf>,
}

/// A Kubernetes pull secret (`kubernetes.io/dockerconfigjson` or the older
/// `kubernetes.io/dockercfg`) read through the API for a run's ServiceAccount, as
/// Chains' k8schain reads them. Only its `auths` are used: a Secret a tenant wrote must
/// never make the controller run a program (`credHelpers`, `credsStore`).
#[derive(Clone)]
pub struct PullSecret {
    /// `<namespace>/<name>`, for messages.
    pub source: String,
    /// `{"auths": {…}}`.
    auths: crate::secret::SecretBytes,
}

impl std::fmt::Debug for PullSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullSecret")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The most credentials one pull secret may hold.
pub const MAX_PULL_SECRET_BYTES: usize = 64 * 1024;

impl PullSecret {
    /// A pull secret from a Secret's data: `.dockerconfigjson` (a docker config) or
    /// `.dockercfg` (its `auths` map alone); `None` when it holds neither as JSON.
    pub fn from_secret_data(
        source: String,
        data: &std::collections::BTreeMap<String, crate::secret::SecretBytes>,
    ) -> Option<Self> {
        let auths = if let Some(json) = data.get(".dockerconfigjson") {
            serde_json::from_slice::<serde_json::Value>(json.expose())
                .ok()?
                .get("auths")?
                .clone()
        } else {
            serde_json::from_slice::<serde_json::Value>(data.get(".dockercfg")?.expose()).ok()?
        };
        if !auths.is_object() {
            return None;
        }
        let auths = serde_json::to_vec(&serde_json::json!({ "auths": auths })).ok()?;
        // A tenant's Secret bounds what the controller keeps for it.
        if auths.len() > MAX_PULL_SECRET_BYTES {
            tracing::warn!(
                "pull secret {source} is over {MAX_PULL_SECRET_BYTES} bytes of credentials: left out"
            );
            return None;
        }
        Some(Self {
            source,
            auths: crate::secret::SecretBytes::new(auths),
        })
    }
}

/// Credentials found for one registry, and where they came from.
#[derive(Clone)]
pub struct Found {
    /// What to send.
    pub auth: RegistryAuth,
    /// Where it was found (a path, or `anonymous`), for messages.
    pub source: String,
    /// Anonymous only because a cloud keychain failed in passing (no answer, a
    /// server error): a refusal of it is a passing failure too, not a credentials
    /// problem.
    pub passing: bool,
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
        Self {
            secrets: Vec::new(),
            files,
        }
    }

    /// This keychain with `secrets` looked up before anything else.
    #[must_use]
    pub fn with_pull_secrets(mut self, secrets: Vec<PullSecret>) -> Self {
        self.secrets = secrets;
        self
    }

    /// The places looked at, for messages.
    pub fn searched(&self) -> String {
        let mut places: Vec<String> = self
            .secrets
            .iter()
            .map(|s| format!("pull secret `{}`", s.source))
            .chain(self.files.iter().map(|p| format!("`{}`", p.display())))
            .collect();
        places.push(format!("`{}`", docker_config().display()));
        places.join(", ")
    }

    /// The credentials for `registry` (a host, e.g. `ghcr.io` or `127.0.0.1:5000`).
    pub fn lookup(&self, registry: &str) -> Result<Found, Error> {
        for secret in &self.secrets {
            match docker_credential::get_credential_from_reader(secret.auths.expose(), registry) {
                Ok(c) => return Ok(found_in(c, format!("pull secret {}", secret.source))),
                Err(CredentialRetrievalError::NoCredentialConfigured) => {}
                Err(e) => {
                    return Err(Error::Credentials {
                        path: PathBuf::from(format!("pull secret {}", secret.source)),
                        reason: describe(&e),
                    });
                }
            }
        }
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
            let text = std::fs::read(file).map_err(|e| Error::Credentials {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            match credential_from_config(&text, registry) {
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
            let text = std::fs::read(&config).map_err(|e| Error::Credentials {
                path: config.clone(),
                reason: e.to_string(),
            })?;
            match credential_from_config(&text, registry) {
                Ok(c) => return Ok(found(c, &config)),
                Err(CredentialRetrievalError::NoCredentialConfigured) => {}
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
            passing: false,
        })
    }
}

fn found(c: DockerCredential, file: &Path) -> Found {
    found_in(c, file.display().to_string())
}

fn found_in(c: DockerCredential, source: String) -> Found {
    let auth = match c {
        DockerCredential::UsernamePassword(user, password) => RegistryAuth::Basic(user, password),
        // Identity tokens are refresh tokens for the registry's token service; the
        // exchange uses them as the password with the `<token>` user, as docker does.
        DockerCredential::IdentityToken(token) => RegistryAuth::Basic("<token>".into(), token),
    };
    Found {
        auth,
        source,
        passing: false,
    }
}

/// How long a credential helper may take before it is killed.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a helper may print (a JSON object with a user name and a secret).
const HELPER_OUTPUT_LIMIT: u64 = 64 * 1024;

/// The credential for `registry` in the docker config `text`: `credHelpers` for the
/// registry, else `auths`, else `credsStore`, as docker resolves them. Helpers are
/// run by [`run_helper`], not by `docker_credential` (no deadline, whole environment).
fn credential_from_config(
    text: &[u8],
    registry: &str,
) -> Result<DockerCredential, CredentialRetrievalError> {
    let mut config: serde_json::Value =
        serde_json::from_slice(text).map_err(|_| CredentialRetrievalError::ConfigReadError)?;
    let helper =
        |name: &serde_json::Value| name.as_str().filter(|n| !n.is_empty()).map(str::to_owned);
    if let Some(name) = config
        .get("credHelpers")
        .and_then(|h| h.get(registry))
        .and_then(helper)
    {
        return run_helper(
            &name,
            registry,
            helper_env(std::env::vars_os()),
            HELPER_TIMEOUT,
        );
    }
    let store = config.get("credsStore").and_then(helper);
    if let Some(object) = config.as_object_mut() {
        object.remove("credHelpers");
        object.remove("credsStore");
    }
    let auths_only =
        serde_json::to_vec(&config).map_err(|_| CredentialRetrievalError::ConfigReadError)?;
    match docker_credential::get_credential_from_reader(auths_only.as_slice(), registry) {
        Err(CredentialRetrievalError::NoCredentialConfigured) => match store {
            Some(name) => run_helper(
                &name,
                registry,
                helper_env(std::env::vars_os()),
                HELPER_TIMEOUT,
            ),
            None => Err(CredentialRetrievalError::NoCredentialConfigured),
        },
        other => other,
    }
}

/// Whether a helper may see the variable `name`.
fn helper_may_see(name: &str) -> bool {
    const EXACT: &[&str] = &[
        EnvVars::PATH,
        EnvVars::HOME,
        EnvVars::USER,
        EnvVars::LOGNAME,
        EnvVars::TMPDIR,
        EnvVars::DOCKER_CONFIG,
        EnvVars::HTTP_PROXY,
        EnvVars::HTTPS_PROXY,
        EnvVars::NO_PROXY,
        EnvVars::http_proxy,
        EnvVars::https_proxy,
        EnvVars::no_proxy,
        EnvVars::SSL_CERT_FILE,
        EnvVars::SSL_CERT_DIR,
    ];
    const PREFIXES: &[&str] = &["XDG_", "AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The environment a helper runs with: the allowed part of `vars`.
fn helper_env(vars: impl Iterator<Item = (OsString, OsString)>) -> Vec<(OsString, OsString)> {
    vars.filter(|(k, _)| k.to_str().is_some_and(helper_may_see))
        .collect()
}

/// Run `docker-credential-<name> get` for `registry` with only `env`, killed after
/// `timeout`.
fn run_helper(
    name: &str,
    registry: &str,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
) -> Result<DockerCredential, CredentialRetrievalError> {
    let program = format!("docker-credential-{name}");
    let failure = |what: &str| CredentialRetrievalError::HelperFailure {
        helper: name.to_owned(),
        stdout: String::new(),
        stderr: what.to_owned(),
    };
    if name.contains(['/', '\\']) {
        return Err(failure("a helper name is not a path"));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|_| CredentialRetrievalError::HelperCommunicationError)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(registry.as_bytes());
    }
    // The output is read on its own thread and handed over through a channel, so a
    // process the helper left behind holding its stdout cannot hold us past the deadline.
    let (sent, received) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stdout.take(HELPER_OUTPUT_LIMIT).read_to_end(&mut out);
            let _ = sent.send(out);
        });
    }
    let deadline = Instant::now() + timeout;
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                stop(&mut child);
                return Err(failure(TIMED_OUT));
            }
            Err(_) => {
                stop(&mut child);
                return Err(CredentialRetrievalError::HelperCommunicationError);
            }
        }
    };
    let out = zeroize::Zeroizing::new(
        received
            .recv_timeout(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_secs(1)),
            )
            .map_err(|_| failure(TIMED_OUT))?,
    );
    if !status.success() {
        return Err(failure("failed"));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Reply {
        username: String,
        secret: String,
    }
    let reply: Reply = serde_json::from_slice(&out)
        .map_err(|_| CredentialRetrievalError::MalformedHelperResponse)?;
    Ok(if reply.username == "<token>" {
        DockerCredential::IdentityToken(reply.secret)
    } else {
        DockerCredential::UsernamePassword(reply.username, reply.secret)
    })
}

/// What a [`CredentialRetrievalError::HelperFailure`] says when the helper was stopped
/// at its deadline.
const TIMED_OUT: &str = "timed out";

/// A message without helper output (which may hold secrets).
fn describe(e: &CredentialRetrievalError) -> String {
    match e {
        CredentialRetrievalError::HelperFailure { helper, stderr, .. } if stderr == TIMED_OUT => {
            format!(
                "credential helper `docker-credential-{helper}` did not answer within {} s and was stopped",
                HELPER_TIMEOUT.as_secs()
            )
        }
        CredentialRetrievalError::HelperFailure { helper, .. } => {
            format!("credential helper `docker-credential-{helper}` failed")
        }
        other => other.to_string(),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config() -> PathBuf {
    std::env::var_os(EnvVars::DOCKER_CONFIG)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(EnvVars::HOME).map(|h| Path::new(&h).join(".docker")))
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

    /// A helper script `docker-credential-NAME` in `dir` running `body`.
    #[cfg(unix)]
    fn helper(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write helper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[cfg(unix)]
    #[test]
    fn helpers_see_only_the_environment_they_need() {
        let dir = tempfile::tempdir().expect("tmp");
        let seen = dir.path().join("seen-env");
        helper(
            dir.path(),
            "spy",
            &format!(
                "env > '{}'\nread registry\necho \"{{\\\"Username\\\":\\\"robot\\\",\\\"Secret\\\":\\\"for-$registry\\\"}}\"",
                seen.display()
            ),
        );
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        let ours = [
            ("PATH", path.as_str()),
            ("HOME", "/home/ci"),
            ("DOCKER_CONFIG", "/etc/docker-config"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("AWS_REGION", "eu-west-1"),
            ("CHAINSEAL_KEY_PASSWORD", "key-pass-Vq3"),
            ("VAULT_TOKEN", "vault-token-Vq3"),
            ("MONGO_SERVER_URL", "mongodb://u:mongo-pass-Vq3@h"),
            ("CHAINSEAL_KMS_AUTH_TOKEN", "kms-token-Vq3"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let got = run_helper(
            "spy",
            "registry.example.com",
            helper_env(ours.into_iter()),
            Duration::from_secs(10),
        )
        .expect("helper answers");
        assert_eq!(
            got,
            DockerCredential::UsernamePassword("robot".into(), "for-registry.example.com".into())
        );
        let env = std::fs::read_to_string(&seen).expect("helper ran");
        assert!(!env.contains("Vq3"), "a secret reached the helper:\n{env}");
        for kept in [
            "HOME=/home/ci",
            "DOCKER_CONFIG=",
            "XDG_RUNTIME_DIR=",
            "AWS_REGION=",
        ] {
            assert!(env.contains(kept), "{kept} missing:\n{env}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_helper_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().expect("tmp");
        helper(dir.path(), "hang", "exec sleep 60");
        let env = vec![(
            OsString::from("PATH"),
            OsString::from(format!("{}:/usr/bin:/bin", dir.path().display())),
        )];
        let started = Instant::now();
        let err = run_helper("hang", "r.example.com", env, Duration::from_millis(300))
            .expect_err("times out");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            describe(&err).contains("did not answer"),
            "{}",
            describe(&err)
        );
    }

    #[cfg(unix)]
    #[test]
    fn config_helpers_are_run_by_us() {
        // Not on PATH: the lookup fails to start it, and says so without output.
        let config = br#"{"credHelpers":{"r.example.com":"absent-helper-xyz"},"auths":{"o.example.com":{"auth":"cm9ib3Q6czNjcmV0"}}}"#;
        assert!(credential_from_config(config, "r.example.com").is_err());
        assert_eq!(
            credential_from_config(config, "o.example.com").expect("auths"),
            DockerCredential::UsernamePassword("robot".into(), "s3cret".into())
        );
        assert_eq!(
            credential_from_config(config, "x.example.com"),
            Err(CredentialRetrievalError::NoCredentialConfigured)
        );
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

    /// A tenant's pull secret may carry credentials, never programs: `credHelpers` and
    /// `credsStore` in it are ignored (the controller must not run what a tenant names).
    #[test]
    fn pull_secrets_give_credentials_only_and_come_first() {
        use base64::Engine as _;
        let auth = |u: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:pw"));
        let json = serde_json::json!({
            "auths": {"r.example": {"auth": auth("from-secret")}},
            "credHelpers": {"helper.example": "evil"},
            "credsStore": "evil",
        });
        let data = std::collections::BTreeMap::from([(
            ".dockerconfigjson".to_owned(),
            crate::secret::SecretBytes::new(json.to_string().into_bytes()),
        )]);
        let secret =
            PullSecret::from_secret_data("ns/regcred".into(), &data).expect("a pull secret");
        assert_eq!(
            format!("{secret:?}"),
            r#"PullSecret { source: "ns/regcred", .. }"#
        );
        let old = std::collections::BTreeMap::from([(
            ".dockercfg".to_owned(),
            crate::secret::SecretBytes::new(
                serde_json::json!({"old.example": {"auth": auth("legacy")}})
                    .to_string()
                    .into_bytes(),
            ),
        )]);
        let legacy = PullSecret::from_secret_data("ns/old".into(), &old).expect("a .dockercfg");
        let chain = Keychain::new(Vec::new()).with_pull_secrets(vec![secret, legacy]);
        let found = chain.lookup("r.example").expect("lookup");
        assert_eq!(found.source, "pull secret ns/regcred");
        assert!(matches!(found.auth, RegistryAuth::Basic(ref u, _) if u == "from-secret"));
        let found = chain.lookup("old.example").expect("lookup");
        assert!(matches!(found.auth, RegistryAuth::Basic(ref u, _) if u == "legacy"));
        // The helper named for this host is not run: no credentials, not "evil"'s.
        let helper = chain.lookup("helper.example").expect("lookup");
        assert_ne!(helper.source, "pull secret ns/regcred");
        assert!(PullSecret::from_secret_data("ns/x".into(), &Default::default()).is_none());
        assert!(chain.searched().starts_with("pull secret `ns/regcred`"));
    }
}
