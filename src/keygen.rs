//! `chainseal keygen`: an ECDSA P-256 key pair, the private key PKCS#8 PEM or
//! cosign-encrypted (`ENCRYPTED SIGSTORE PRIVATE KEY`) when a password is given.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::secret::SecretBytes;
use crate::signing::{self, KeyFileSigner, Signer as _};

/// Key generation errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file already exists.
    #[error("`{0}` already exists: choose another `--out` prefix or pass `--force`")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Key generation or encoding failed.
    #[error(transparent)]
    Key(#[from] signing::Error),
    /// Encoding failed.
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

/// Paths written by [`generate`].
#[derive(Debug, Clone)]
pub struct Written {
    /// The private key.
    pub private: PathBuf,
    /// The public key.
    pub public: PathBuf,
    /// Its key id.
    pub key_id: String,
}

/// Write `PREFIX.key` and `PREFIX.pub`. Both are written to temporary files first,
/// so a failure leaves neither behind.
pub fn generate(
    prefix: &Path,
    password: Option<&SecretBytes>,
    force: bool,
) -> Result<Written, Error> {
    let private = with_suffix(prefix, "key");
    let public = with_suffix(prefix, "pub");
    if !force {
        for p in [&private, &public] {
            if p.exists() {
                return Err(Error::Exists(p.clone()));
            }
        }
    }
    let (signer, pair) = KeyFileSigner::generate()?;
    let pem = match password {
        Some(pw) => pair.private_key_to_encrypted_pem(pw.expose()),
        None => pair.private_key_to_pem(),
    }
    .map_err(|e| Error::Encode(e.to_string()))?;
    let pubkey = signer
        .public_key()
        .ok_or_else(|| Error::Encode("no public key".into()))?;
    let dir = match private.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let write = |content: &[u8], path: &Path| -> Result<tempfile::NamedTempFile, Error> {
        let err = |source| Error::Write {
            path: path.to_owned(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".chainseal-key-")
            .tempfile_in(&dir)
            .map_err(err)?;
        tmp.write_all(content)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(err)?;
        Ok(tmp)
    };
    // tempfile creates files with mode 0600, right for the private key.
    // sigstore writes CRLF line endings; write the usual LF.
    let pem = zeroize::Zeroizing::new(pem.replace("\r\n", "\n"));
    let key_tmp = write(pem.as_bytes(), &private)?;
    let pub_tmp = write(pubkey.pem.as_bytes(), &public)?;
    set_public_mode(pub_tmp.path()).map_err(|source| Error::Write {
        path: public.clone(),
        source,
    })?;
    key_tmp.persist(&private).map_err(|e| Error::Write {
        path: private.clone(),
        source: e.error,
    })?;
    pub_tmp.persist(&public).map_err(|e| Error::Write {
        path: public.clone(),
        source: e.error,
    })?;
    Ok(Written {
        private,
        public,
        key_id: pubkey.key_id.clone(),
    })
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

#[cfg(unix)]
fn set_public_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_public_mode(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
