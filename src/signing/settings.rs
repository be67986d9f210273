//! The settings a signer is made from: which key, its password, the KMS connection
//! and keyless settings. Both front doors fill them in (the CLI from flags and
//! environment, the controller from `chains-config`); [`super::load`] makes the signer.

use std::path::PathBuf;

use thiserror::Error;

use crate::secret::SecretString;

/// Signer settings that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A key reference this build cannot load.
    #[error(
        "unsupported key reference `{0}`: use a key file path, a `file://` URI, `awskms://[endpoint]/<key>`, `gcpkms://projects/…`, `azurekms://<vault>/<key>`, `hashivault://<key>` or `keyless`"
    )]
    UnsupportedKey(String),
    /// Only one of a Vault JWT login's mount and role.
    #[error("a Vault JWT login needs both its auth mount and its role")]
    IncompleteVaultLogin,
}

/// Where the signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A PEM key file.
    File(PathBuf),
    /// A Tekton Chains `signing-secrets` directory.
    SigningSecrets(PathBuf),
    /// A Vault / OpenBao transit key (`hashivault://<key>`).
    Vault(String),
    /// An AWS KMS key (`awskms://[endpoint]/<key>`; the part after the scheme).
    AwsKms(String),
    /// A GCP Cloud KMS key (`gcpkms://projects/…`; the part after the scheme).
    GcpKms(String),
    /// An Azure Key Vault key (`azurekms://<vault>/<key>`; the part after the scheme).
    AzureKms(String),
    /// An ephemeral key certified by Fulcio (`keyless`).
    Keyless,
}

/// KMS connection settings (`CHAINSEAL_KMS_*`, or chains-config `signers.kms.*`).
#[derive(Debug, Clone, Default)]
pub struct KmsOptions {
    /// API endpoint override.
    pub endpoint: Option<String>,
    /// Key version to sign with (Vault, Azure).
    pub key_version: Option<String>,
    /// Vault address (else `VAULT_ADDR`).
    pub address: Option<String>,
    /// Vault token (else `VAULT_TOKEN`).
    pub token: Option<SecretString>,
    /// File holding the Vault token (wins over `token`).
    pub token_path: Option<PathBuf>,
    /// Vault JWT login: auth mount, role and JWT file.
    pub oidc: Option<VaultJwtLogin>,
}

/// A Vault JWT login (`auth/<mount>/login` with `role` and the JWT in `token_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultJwtLogin {
    /// The JWT auth mount path, e.g. `jwt`.
    pub mount: String,
    /// The role.
    pub role: String,
    /// The JWT file.
    pub token_path: PathBuf,
}

/// Default JWT for Vault logins: the pod's service account token.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A validated signer setting.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The key.
    pub key: KeyRef,
    /// Its password, if encrypted.
    pub password: PasswordSource,
    /// KMS connection settings.
    pub kms: KmsOptions,
    /// Fulcio and identity tokens (for [`KeyRef::Keyless`]).
    pub keyless: crate::signing::keyless::Settings,
}

/// Where the password of an encrypted key comes from.
#[derive(Debug, Clone, Default)]
pub enum PasswordSource {
    /// No password configured.
    #[default]
    None,
    /// Given directly (`CHAINSEAL_KEY_PASSWORD`).
    Value(SecretString),
    /// Read from a file (`CHAINSEAL_KEY_PASSWORD_FILE`).
    File(PathBuf),
}

impl VaultJwtLogin {
    /// The login from its parts: `None` when neither mount nor role is set; the JWT
    /// defaults to the pod's service account token.
    pub fn from_parts(
        mount: Option<String>,
        role: Option<String>,
        token_path: Option<PathBuf>,
    ) -> Result<Option<Self>, Error> {
        let set = crate::values::non_empty_owned;
        match (set(mount), set(role)) {
            (Some(mount), Some(role)) => Ok(Some(Self {
                mount: mount.trim_matches('/').to_owned(),
                role,
                token_path: token_path.unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_TOKEN)),
            })),
            (None, None) => Ok(None),
            _ => Err(Error::IncompleteVaultLogin),
        }
    }
}

impl KeyRef {
    /// Parse a key reference: a path, `file://…`, a KMS URI or `keyless`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s == "keyless" {
            return Ok(Self::Keyless);
        }
        if let Some(key) = s.strip_prefix("hashivault://") {
            return Ok(Self::Vault(key.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("awskms://") {
            return Ok(Self::AwsKms(rest.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("gcpkms://") {
            return Ok(Self::GcpKms(rest.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("azurekms://") {
            return Ok(Self::AzureKms(rest.to_owned()));
        }
        if let Some(path) = s.strip_prefix("file://") {
            if !path.is_empty() {
                return Ok(Self::File(PathBuf::from(path)));
            }
        } else if !s.is_empty() && !s.contains("://") && !s.starts_with("pkcs11:") {
            return Ok(Self::File(PathBuf::from(s)));
        }
        Err(Error::UnsupportedKey(s.to_owned()))
    }
}
