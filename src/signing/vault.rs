//! HashiCorp Vault / OpenBao transit signer: `hashivault://<key>` (the cosign and
//! Tekton Chains URI form).
//!
//! * Server and token from the standard variables: `VAULT_ADDR`, `VAULT_TOKEN` (else
//!   the token file `~/.vault-token`), `VAULT_CACERT`, `VAULT_SKIP_VERIFY`,
//!   `VAULT_NAMESPACE`; the transit mount from `TRANSIT_SECRET_ENGINE_PATH` (default
//!   `transit`), as cosign reads them.
//! * The address and token may also come from Tekton Chains' `signers.kms.auth.*`
//!   equivalents (`CHAINSEAL_KMS_AUTH_ADDRESS`, `_TOKEN`, `_TOKEN_PATH`), and a JWT
//!   login (`CHAINSEAL_KMS_AUTH_OIDC_PATH`, `_ROLE`, `_TOKEN_PATH`: the pod's service
//!   account token by default) replaces the token, in Chains' order: token file, token,
//!   JWT login, `VAULT_TOKEN`, `~/.vault-token`.
//! * The public key of the chosen version (`CHAINSEAL_KMS_KEY_VERSION`, default the
//!   latest) is read when the signer is created, so the key id is known and a missing
//!   key or a denied token fails before any work; signing is pinned to that version.
//! * ECDSA keys sign a digest computed here (prehashed, SHA-256/384/512 by curve, ASN.1
//!   DER); RSA keys PKCS#1 v1.5 over SHA-256; Ed25519 keys sign the message itself.
//! * Every request has a 30 s timeout.
//! * `VAULT_SKIP_VERIFY` is read here, strictly: TLS verification is off only for
//!   `1`, `t` or `true` (any case); `0`, `f`, `false` and an empty value keep it on,
//!   anything else is an error. Every client setting is set explicitly, so vaultrs
//!   reads no variable itself (it would turn verification off for any other value).
//! * Tokens stay fresh in a long-running process: a token file is read again at most
//!   every 5 s, and at once when Vault refuses the token (Vault Agent and projected
//!   Secrets rewrite it), a JWT login is
//!   repeated when two thirds of its token's lease have passed, and a request
//!   refused with HTTP 403 is retried once after a new login or a changed token
//!   file. A fixed token (`CHAINSEAL_KMS_AUTH_TOKEN`, `VAULT_TOKEN`,
//!   `~/.vault-token`) is used as given.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use vaultrs::api::transit::requests::SignDataRequest;
use vaultrs::api::transit::responses::ReadKeyData;
use vaultrs::api::transit::{HashAlgorithm, KeyType, MarshalingAlgorithm, SignatureAlgorithm};
use vaultrs::client::{VaultClient, VaultClientSettings, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use super::settings::{KmsOptions, VaultJwtLogin};
use super::{Error, PublicKey, Signature, Signer};
use crate::env_vars::EnvVars;
use crate::error_kind::{Cause, Kind, Reply};
use crate::secret::SecretBytes;

/// Why the Vault client could not be set up: its settings (the standard `VAULT_*`
/// variables), token or login files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A file named by a setting could not be read.
    #[error("cannot read {what} `{path}`")]
    Read {
        /// What the file is, e.g. "the Vault token file".
        what: &'static str,
        /// The file (or directory).
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `VAULT_SKIP_VERIFY` is neither true nor false.
    #[error("`VAULT_SKIP_VERIFY` must be `true` (skip TLS verification) or `false`, got `{0}`")]
    SkipVerify(String),
    /// A variable is not UTF-8.
    #[error("`{0}` is not UTF-8")]
    NotUtf8(&'static str),
    /// The client certificate and key do not parse.
    #[error("`VAULT_CLIENT_CERT` + `VAULT_CLIENT_KEY` are not a PEM certificate and key")]
    Identity,
    /// The address is not a URL.
    #[error("the Vault address `{address}` is not a URL")]
    Address {
        /// The address, without a password.
        address: String,
        /// Cause.
        #[source]
        source: url::ParseError,
    },
    /// The address is not http(s).
    #[error("the Vault address `{0}` must start with `https://` (or `http://`)")]
    Scheme(String),
    /// The settings are incomplete.
    #[error("invalid Vault settings")]
    Settings(#[source] vaultrs::client::VaultClientSettingsBuilderError),
    /// The HTTP client could not be made.
    #[error("cannot create the Vault client")]
    Client(#[source] ClientError),
}

impl SetupError {
    /// What kind of failure this is.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Read { source, .. } => Kind::from_io(source.kind()),
            Self::Client(_) => Kind::Other,
            _ => Kind::Invalid,
        }
    }

    /// As a signing error for the key `uri`.
    fn on(self, uri: &str) -> Error {
        Error::KmsSetup {
            uri: uri.to_owned(),
            kind: self.kind(),
            source: Box::new(self),
        }
    }
}

/// How the signer authenticates to Vault.
enum Credential {
    /// A token used as given.
    Token(SecretBytes),
    /// A token file, read again at most every [`FILE_RECHECK`] and after a refusal.
    File(PathBuf),
    /// A JWT login, repeated before the token's lease runs out.
    Jwt(VaultJwtLogin),
}

/// The credential, in Tekton Chains' order: token file, token, JWT login, then the
/// standard `VAULT_TOKEN` and `~/.vault-token`.
fn credential(options: &KmsOptions) -> Option<Credential> {
    if let Some(path) = &options.token_path {
        return Some(Credential::File(path.clone()));
    }
    if let Some(token) = &options.token {
        return Some(Credential::Token(token.clone().into()));
    }
    if let Some(login) = &options.oidc {
        return Some(Credential::Jwt(login.clone()));
    }
    if let Some(token) = std::env::var(EnvVars::VAULT_TOKEN)
        .ok()
        .filter(|t| !t.is_empty())
    {
        return Some(Credential::Token(SecretBytes::new(token.into_bytes())));
    }
    let file = std::env::var_os(EnvVars::HOME).map(|h| Path::new(&h).join(".vault-token"));
    file.and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| Credential::Token(SecretBytes::new(t.trim().as_bytes().to_vec())))
}

/// The token in the file `path`, without its trailing newline.
fn read_token_file(path: &Path) -> Result<SecretBytes, SetupError> {
    let token = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        SetupError::Read {
            what: "the Vault token file",
            path: path.to_owned(),
            source,
        }
    })?);
    Ok(SecretBytes::new(token.trim_end().as_bytes().to_vec()))
}

/// `VAULT_SKIP_VERIFY`: whether to skip TLS verification. Only `1`, `t` and `true`
/// (any case) skip it; `0`, `f`, `false`, empty and unset keep it; anything else is
/// an error naming the variable.
fn skip_verify(value: Option<&str>) -> Result<bool, SetupError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    match value.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(SetupError::SkipVerify(value.escape_debug().to_string())),
    }
}

/// A variable's value, `None` when unset or empty; an error when it is not UTF-8.
fn env_var(name: &'static str) -> Result<Option<String>, SetupError> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(SetupError::NotUtf8(name)),
    }
}

/// CA certificate files: `VAULT_CACERT`, then the files in the `VAULT_CAPATH`
/// directory.
fn ca_certs() -> Result<Vec<String>, SetupError> {
    let mut certs: Vec<String> = env_var(EnvVars::VAULT_CACERT)?.into_iter().collect();
    if let Some(dir) = env_var(EnvVars::VAULT_CAPATH)? {
        let entries = std::fs::read_dir(&dir).map_err(|source| SetupError::Read {
            what: "`VAULT_CAPATH`",
            path: dir.clone().into(),
            source,
        })?;
        let mut files: Vec<String> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter_map(|p| p.to_str().map(str::to_owned))
            .collect();
        files.sort();
        certs.extend(files);
    }
    Ok(certs)
}

/// The client certificate from `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`, if both
/// are set.
fn identity() -> Result<Option<vaultrs::client::Identity>, SetupError> {
    let (Some(cert), Some(key)) = (
        env_var(EnvVars::VAULT_CLIENT_CERT)?,
        env_var(EnvVars::VAULT_CLIENT_KEY)?,
    ) else {
        return Ok(None);
    };
    let read = |what: &'static str, path: &str| {
        std::fs::read(path).map_err(|source| SetupError::Read {
            what,
            path: path.into(),
            source,
        })
    };
    let mut pem = read("`VAULT_CLIENT_CERT`", &cert)?;
    let key_pem = zeroize::Zeroizing::new(read("`VAULT_CLIENT_KEY`", &key)?);
    pem.extend_from_slice(&key_pem);
    let pem = zeroize::Zeroizing::new(pem);
    vaultrs::client::Identity::from_pem(&pem)
        .map(Some)
        .map_err(|_| SetupError::Identity)
}

/// Client settings with every field set here, so vaultrs reads no environment
/// variable of its own; the token is set per client ([`client_with`]).
fn settings(address: &str) -> Result<VaultClientSettings, SetupError> {
    // vaultrs panics on an address it cannot parse: check it first.
    let shown = || crate::secret::without_password(address).to_string();
    let url = reqwest::Url::parse(address).map_err(|source| SetupError::Address {
        address: shown(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SetupError::Scheme(shown()));
    }
    let skip = skip_verify(env_var(EnvVars::VAULT_SKIP_VERIFY)?.as_deref())?;
    let mut settings = VaultClientSettingsBuilder::default();
    settings
        .timeout(Some(TIMEOUT))
        .address(url.as_str())
        .token(String::new())
        .verify(!skip)
        .ca_certs(ca_certs()?)
        .identity(identity()?)
        .namespace(env_var(EnvVars::VAULT_NAMESPACE)?);
    settings.build().map_err(SetupError::Settings)
}

/// A client for `settings` sending `token`.
fn client_with(
    settings: &VaultClientSettings,
    token: &SecretBytes,
) -> Result<VaultClient, SetupError> {
    let mut settings = settings.clone();
    settings.token = String::from_utf8_lossy(token.expose()).into_owned();
    VaultClient::new(settings).map_err(SetupError::Client)
}

const TIMEOUT: Duration = Duration::from_secs(30);
/// How often a token file is read again to notice a rewritten token (a token Vault
/// refuses makes it read at once).
const FILE_RECHECK: Duration = Duration::from_secs(5);
/// After a failed renewal while the current token is still valid: when to try again.
const RENEWAL_RETRY: Duration = Duration::from_secs(30);

/// How the key signs.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    Ecdsa(HashAlgorithm),
    Rsa,
    Ed25519,
}

/// The client in use, and when its token must be replaced.
struct Session {
    client: Arc<VaultClient>,
    /// The token the client sends (to notice a rewritten token file).
    token: SecretBytes,
    /// When a JWT login is due again (two thirds into the token's lease).
    renew_at: Option<Instant>,
    /// When the token's lease ends (JWT login), if it has one.
    expires_at: Option<Instant>,
    /// When the token file was last read.
    checked_at: Instant,
}

/// A signer backed by a Vault transit key.
pub struct VaultSigner {
    uri: String,
    settings: VaultClientSettings,
    credential: Credential,
    session: tokio::sync::Mutex<Session>,
    mount: String,
    key: String,
    version: u64,
    scheme: Scheme,
    public: PublicKey,
}

impl fmt::Debug for VaultSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSigner")
            .field("mount", &self.mount)
            .field("key", &self.key)
            .field("version", &self.version)
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

/// The kind of a Vault client error: the HTTP status of Vault's answer, else a
/// request that got no answer.
fn kind_of(e: &ClientError) -> Kind {
    match e {
        ClientError::APIError { code, .. } => Kind::from_http_status(*code),
        ClientError::RestClientError { .. } => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// What to check, by kind.
fn hint(kind: Kind) -> &'static str {
    match kind {
        Kind::PermissionDenied => {
            " (permission denied: check `VAULT_TOKEN` and its policy: transit read and sign on this key)"
        }
        Kind::NotFound => " (not found: check the key name and `TRANSIT_SECRET_ENGINE_PATH`)",
        Kind::Unavailable => " (is `VAULT_ADDR` right and the server reachable?)",
        _ => "",
    }
}

fn vault_error(uri: &str, action: &str, e: ClientError) -> Error {
    let kind = kind_of(&e);
    let source: Cause = match &e {
        ClientError::APIError { code, errors } if errors.is_empty() => {
            Box::new(Reply(format!("HTTP {code}")))
        }
        ClientError::APIError { code, errors } => {
            Box::new(Reply(format!("HTTP {code}: {}", errors.join("; "))))
        }
        _ => Box::new(e),
    };
    Error::KmsCall {
        uri: uri.to_owned(),
        action: action.to_owned(),
        kind,
        hint: hint(kind).to_owned(),
        source,
    }
}

/// A session sending `token` (a fixed token or one read from a file), which has no
/// lease of its own to watch.
fn token_session(
    uri: &str,
    settings: &VaultClientSettings,
    token: SecretBytes,
) -> Result<Session, Error> {
    let client = client_with(settings, &token).map_err(|e| e.on(uri))?;
    Ok(Session {
        client: Arc::new(client),
        token,
        renew_at: None,
        expires_at: None,
        checked_at: Instant::now(),
    })
}

/// Log in (JWT) or read the token (file, fixed), and make a client sending it.
async fn open_session(
    uri: &str,
    settings: &VaultClientSettings,
    credential: &Credential,
) -> Result<Session, Error> {
    let setup = |e: SetupError| e.on(uri);
    match credential {
        Credential::Token(token) => token_session(uri, settings, token.clone()),
        Credential::File(path) => {
            token_session(uri, settings, read_token_file(path).map_err(setup)?)
        }
        Credential::Jwt(login) => {
            let anonymous = client_with(settings, &SecretBytes::default()).map_err(setup)?;
            let jwt = zeroize::Zeroizing::new(std::fs::read_to_string(&login.token_path).map_err(
                |source| {
                    setup(SetupError::Read {
                        what: "the JWT for the Vault login",
                        path: login.token_path.clone(),
                        source,
                    })
                },
            )?);
            let started = Instant::now();
            let auth = vaultrs::auth::oidc::login(
                &anonymous,
                &login.mount,
                jwt.trim(),
                Some(login.role.clone()),
            )
            .await
            .map_err(|e| {
                vault_error(
                    uri,
                    &format!(
                        "JWT login at `auth/{}` as role `{}`",
                        login.mount, login.role
                    ),
                    e,
                )
            })?;
            let token = SecretBytes::new(
                zeroize::Zeroizing::new(auth.client_token)
                    .as_bytes()
                    .to_vec(),
            );
            // Log in again two thirds into the lease (none for a token without one).
            // The lease is Vault's number: a huge one means "never", not an overflow.
            let after = |secs: u64| {
                (auth.lease_duration > 0)
                    .then(|| started.checked_add(Duration::from_secs(secs)))
                    .flatten()
            };
            Ok(Session {
                client: Arc::new(client_with(settings, &token).map_err(setup)?),
                token,
                renew_at: after(auth.lease_duration / 3 * 2),
                expires_at: after(auth.lease_duration),
                checked_at: started,
            })
        }
    }
}

impl VaultSigner {
    /// Connect to Vault and read the public key of `key` (the part after
    /// `hashivault://`).
    pub async fn connect(key: &str, options: &KmsOptions) -> Result<Self, Error> {
        let uri = format!("hashivault://{key}");
        let kms = |message: String| Error::Kms {
            uri: uri.clone(),
            message,
        };
        if key.is_empty() || key.contains('/') {
            return Err(kms("expected `hashivault://<key name>`".into()));
        }
        let address = options
            .address
            .clone()
            .or_else(|| {
                std::env::var(EnvVars::VAULT_ADDR)
                    .ok()
                    .filter(|a| !a.is_empty())
            })
            .ok_or_else(|| {
                kms("no Vault address: set `CHAINSEAL_KMS_AUTH_ADDRESS` or `VAULT_ADDR`".into())
            })?;
        let settings = settings(&address).map_err(|e| e.on(&uri))?;
        let credential = credential(options).ok_or_else(|| {
            kms("no Vault token: set `CHAINSEAL_KMS_AUTH_TOKEN`, `CHAINSEAL_KMS_AUTH_TOKEN_PATH`, `VAULT_TOKEN`, a JWT login (`CHAINSEAL_KMS_AUTH_OIDC_PATH` + `_ROLE`), or write `~/.vault-token`".into())
        })?;
        let session = open_session(&uri, &settings, &credential).await?;
        let client = Arc::clone(&session.client);
        let mount = std::env::var(EnvVars::TRANSIT_SECRET_ENGINE_PATH)
            .unwrap_or_else(|_| "transit".to_owned());

        let info = vaultrs::transit::key::read(client.as_ref(), &mount, key)
            .await
            .map_err(|e| vault_error(&uri, "reading the key", e))?;
        let scheme = match info.key_type {
            KeyType::EcdsaP256 => Scheme::Ecdsa(HashAlgorithm::Sha2_256),
            KeyType::EcdsaP384 => Scheme::Ecdsa(HashAlgorithm::Sha2_384),
            KeyType::EcdsaP521 => Scheme::Ecdsa(HashAlgorithm::Sha2_512),
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => Scheme::Rsa,
            KeyType::Ed25519 => Scheme::Ed25519,
            other => return Err(kms(format!("key type {other:?} cannot sign"))),
        };
        let ReadKeyData::Asymmetric(versions) = info.keys else {
            return Err(kms("the key has no public keys".into()));
        };
        let wanted = match &options.key_version {
            Some(v) => Some(v.trim_start_matches('v').parse::<u64>().map_err(|_| {
                kms(format!(
                    "`CHAINSEAL_KMS_KEY_VERSION` must be a version number, got `{v}`"
                ))
            })?),
            None => None,
        };
        let mut available: Vec<(u64, &str)> = versions
            .iter()
            .filter_map(|(v, entry)| Some((v.parse::<u64>().ok()?, entry.public_key.as_str())))
            .collect();
        available.sort_unstable_by_key(|(v, _)| *v);
        let (version, latest) = match wanted {
            Some(w) => available
                .iter()
                .find(|(v, _)| *v == w)
                .copied()
                .ok_or_else(|| {
                    let have: Vec<String> = available.iter().map(|(v, _)| v.to_string()).collect();
                    kms(format!(
                        "key version {w} does not exist or is below the key's minimum decryption version (available: {})",
                        have.join(", ")
                    ))
                })?,
            None => available
                .last()
                .copied()
                .ok_or_else(|| kms("the key has no versions".into()))?,
        };
        let latest = latest.to_owned();
        let der = match scheme {
            // Vault returns Ed25519 public keys as base64 of the raw 32 bytes.
            Scheme::Ed25519 => {
                let raw = STANDARD
                    .decode(latest.trim())
                    .map_err(|e| kms(format!("unreadable Ed25519 public key: {e}")))?;
                let mut der = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                der.extend_from_slice(&raw);
                der
            }
            _ => pem::parse(latest.as_bytes())
                .map_err(|e| kms(format!("unreadable public key: {e}")))?
                .into_contents(),
        };
        let public = PublicKey::from_spki_der(der, format!("hashivault {:?}", info.key_type))
            .ok_or_else(|| kms("the public key has no SSH fingerprint".into()))?;
        Ok(Self {
            uri,
            settings,
            credential,
            session: tokio::sync::Mutex::new(session),
            mount,
            key: key.to_owned(),
            version,
            scheme,
            public,
        })
    }
}

impl VaultSigner {
    fn kms(&self, message: String) -> Error {
        Error::Kms {
            uri: self.uri.clone(),
            message,
        }
    }

    /// The client to use now: a new one when the token file was rewritten (read at
    /// most every [`FILE_RECHECK`]; the token read is the one used) or the JWT login
    /// is due. A renewal that fails
    /// while the current token is still valid is logged and tried again after
    /// [`RENEWAL_RETRY`]: signing goes on until the token really expires.
    async fn current_client(&self) -> Result<Arc<VaultClient>, Error> {
        let mut session = self.session.lock().await;
        let now = Instant::now();
        let due = match &self.credential {
            Credential::Token(_) => false,
            Credential::File(_) if now.duration_since(session.checked_at) < FILE_RECHECK => false,
            Credential::File(path) => {
                session.checked_at = now;
                match read_token_file(path) {
                    Ok(token) if token != session.token => {
                        *session = token_session(&self.uri, &self.settings, token)?;
                        false
                    }
                    Ok(_) => false,
                    Err(e) => {
                        let message = crate::error_text::joined(&e);
                        tracing::warn!(key = %self.uri, %message, "keeping the current Vault token");
                        false
                    }
                }
            }
            Credential::Jwt(_) => session.renew_at.is_some_and(|at| now >= at),
        };
        if due {
            match open_session(&self.uri, &self.settings, &self.credential).await {
                Ok(fresh) => *session = fresh,
                Err(e) if session.expires_at.is_some_and(|end| now < end) => {
                    tracing::warn!(
                        key = %self.uri,
                        error = %crate::error_text::joined(&e),
                        "renewing the Vault token failed; the current one is still valid, trying again in 30 s"
                    );
                    session.renew_at = now.checked_add(RENEWAL_RETRY);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Arc::clone(&session.client))
    }

    /// After Vault refused `refused`'s token (HTTP 403): a client with a new token,
    /// or `None` when there is no other token to try (a fixed token, an unchanged
    /// token file).
    async fn renewed_client(
        &self,
        refused: &Arc<VaultClient>,
    ) -> Result<Option<Arc<VaultClient>>, Error> {
        let mut session = self.session.lock().await;
        if !Arc::ptr_eq(&session.client, refused) {
            // Another request renewed it meanwhile.
            return Ok(Some(Arc::clone(&session.client)));
        }
        let fresh = match &self.credential {
            Credential::Token(_) => return Ok(None),
            Credential::File(path) => {
                let token = read_token_file(path).map_err(|e| e.on(&self.uri))?;
                if token == session.token {
                    return Ok(None);
                }
                tracing::info!(key = %self.uri, "Vault refused the token; using the rewritten token file and retrying once");
                token_session(&self.uri, &self.settings, token)?
            }
            Credential::Jwt(_) => {
                tracing::info!(key = %self.uri, "Vault refused the token; logging in again and retrying once");
                open_session(&self.uri, &self.settings, &self.credential).await?
            }
        };
        *session = fresh;
        Ok(Some(Arc::clone(&session.client)))
    }

    /// One sign request with `client`.
    async fn sign_with(&self, client: &VaultClient, message: &[u8]) -> Result<String, ClientError> {
        let mut request = SignDataRequest::builder();
        // Pin the version whose public key was read, so a rotation in between cannot
        // produce a signature that the recorded key id does not match.
        request.key_version(self.version);
        let input = match self.scheme {
            Scheme::Ecdsa(hash) => {
                let digest = match hash {
                    HashAlgorithm::Sha2_384 => Sha384::digest(message).to_vec(),
                    HashAlgorithm::Sha2_512 => Sha512::digest(message).to_vec(),
                    _ => Sha256::digest(message).to_vec(),
                };
                request
                    .prehashed(true)
                    .hash_algorithm(hash)
                    .marshaling_algorithm(MarshalingAlgorithm::Asn1);
                STANDARD.encode(digest)
            }
            Scheme::Rsa => {
                request
                    .prehashed(true)
                    .hash_algorithm(HashAlgorithm::Sha2_256)
                    .signature_algorithm(SignatureAlgorithm::Pkcs1v15);
                STANDARD.encode(Sha256::digest(message))
            }
            Scheme::Ed25519 => STANDARD.encode(message),
        };
        vaultrs::transit::data::sign(client, &self.mount, &self.key, &input, Some(&mut request))
            .await
            .map(|r| r.signature)
    }
}

#[async_trait]
impl Signer for VaultSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let client = self.current_client().await?;
        let signature = match self.sign_with(&client, message).await {
            Err(refused @ ClientError::APIError { code: 403, .. }) => {
                match self.renewed_client(&client).await? {
                    Some(renewed) => self.sign_with(&renewed, message).await,
                    None => Err(refused),
                }
            }
            other => other,
        }
        .map_err(|e| vault_error(&self.uri, "signing", e))?;
        // `vault:v<version>:<base64>`
        let encoded = signature.rsplit(':').next().unwrap_or_default();
        let sig = STANDARD
            .decode(encoded)
            .map_err(|e| self.kms(format!("unreadable signature from Vault: {e}")))?;
        Ok(self.public.signature(sig))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_skip_verify_is_off_unless_explicitly_true() {
        for off in [
            None,
            Some(""),
            Some("  "),
            Some("0"),
            Some("f"),
            Some("FALSE"),
            Some("false"),
        ] {
            assert!(matches!(skip_verify(off), Ok(false)), "{off:?}");
        }
        for on in ["1", "t", "T", "true", "True", "TRUE"] {
            assert!(matches!(skip_verify(Some(on)), Ok(true)), "{on}");
        }
        for bad in ["yes", "no", "2", "on", "off", "tru"] {
            let e = skip_verify(Some(bad)).expect_err(bad).to_string();
            assert!(e.contains("`VAULT_SKIP_VERIFY`") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn vault_statuses_choose_the_hints() {
        let denied = vault_error(
            "hashivault://k",
            "signing",
            ClientError::APIError {
                code: 403,
                errors: vec!["permission denied".into()],
            },
        );
        assert_eq!(denied.kind(), Kind::PermissionDenied);
        assert_eq!(
            crate::error_text::joined(&denied),
            "hashivault://k: signing failed (permission denied: check `VAULT_TOKEN` and its policy: transit read and sign on this key): HTTP 403: permission denied"
        );
        let missing = vault_error(
            "hashivault://k",
            "reading the key",
            ClientError::APIError {
                code: 404,
                errors: vec![],
            },
        );
        assert_eq!(missing.kind(), Kind::NotFound);
        assert!(missing.to_string().contains("TRANSIT_SECRET_ENGINE_PATH"));
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_panic() {
        for bad in ["not a url", "ftp://h", "127.0.0.1:8200"] {
            let e = settings(bad).expect_err(bad);
            assert_eq!(e.kind(), Kind::Invalid);
            let e = e.to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
