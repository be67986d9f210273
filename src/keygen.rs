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
    #[error("cannot write `{path}`")]
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

/// Write `PREFIX.key` and `PREFIX.pub`, all or nothing. Both are written to
/// temporary files first and then moved into place without replacing anything that
/// exists (a link, not a check followed by a write: no race, and a dangling symlink
/// counts as existing) unless `force` is set. When the public key cannot be put in
/// place, the private key just written is removed again.
pub fn generate(
    prefix: &Path,
    password: Option<&SecretBytes>,
    force: bool,
) -> Result<Written, Error> {
    let private = with_suffix(prefix, "key");
    let public = with_suffix(prefix, "pub");
    if !force {
        // A friendly early answer only; the no-clobber move below is what decides.
        for p in [&private, &public] {
            if std::fs::symlink_metadata(p).is_ok() {
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
    // tempfile creates files with mode 0600, right for the private key.
    // sigstore writes CRLF line endings; write the usual LF.
    let pem = zeroize::Zeroizing::new(pem.replace("\r\n", "\n"));
    let key_tmp = write_temp(&dir, pem.as_bytes(), &private)?;
    let pub_tmp = write_temp(&dir, pubkey.pem.as_bytes(), &public)?;
    set_public_mode(pub_tmp.path()).map_err(|source| Error::Write {
        path: public.clone(),
        source,
    })?;
    put_in_place(key_tmp, &private, force)?;
    if let Err(e) = put_in_place(pub_tmp, &public, force) {
        // All or nothing: no private key without its public key.
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    Ok(Written {
        private,
        public,
        key_id: pubkey.key_id.clone(),
    })
}

/// `content` in a new temporary file in `dir`, synced; `path` names it in errors.
fn write_temp(dir: &Path, content: &[u8], path: &Path) -> Result<tempfile::NamedTempFile, Error> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".chainseal-key-")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(content)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(err)?;
    Ok(tmp)
}

/// Move `tmp` to `path`: replacing what is there only with `force`, else failing
/// with [`Error::Exists`] when anything (a file, directory or symlink) is there.
fn put_in_place(tmp: tempfile::NamedTempFile, path: &Path, force: bool) -> Result<(), Error> {
    let result = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) if !force && e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::Exists(path.to_owned()))
        }
        Err(e) => Err(Error::Write {
            path: path.to_owned(),
            source: e.error,
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_dangling_symlink_is_not_clobbered_and_no_private_key_is_left() {
        let dir = tempfile::tempdir().expect("tmp");
        let prefix = dir.path().join("team");
        // `exists()` says no for a dangling symlink: a check-then-write would replace it.
        let elsewhere = dir.path().join("elsewhere.pub");
        std::os::unix::fs::symlink(&elsewhere, with_suffix(&prefix, "pub")).expect("symlink");
        let err = generate(&prefix, None, false).expect_err("must not overwrite");
        assert!(matches!(err, Error::Exists(_)), "{err}");
        assert!(
            std::fs::symlink_metadata(with_suffix(&prefix, "pub"))
                .expect("still there")
                .file_type()
                .is_symlink(),
            "the symlink was replaced"
        );
        assert!(
            !with_suffix(&prefix, "key").exists(),
            "private key left behind"
        );
        assert!(!elsewhere.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
    }

    #[test]
    fn a_failed_public_key_write_removes_the_private_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let prefix = dir.path().join("team");
        // A directory where the public key goes: even `--force` cannot write it.
        std::fs::create_dir(with_suffix(&prefix, "pub")).expect("dir");
        let err = generate(&prefix, None, true).expect_err("public key cannot be written");
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert!(
            !with_suffix(&prefix, "key").exists(),
            "private key left behind"
        );
    }

    #[test]
    fn existing_files_are_refused_without_force_and_replaced_with_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let prefix = dir.path().join("team");
        std::fs::write(with_suffix(&prefix, "key"), "old").expect("old key");
        let err = generate(&prefix, None, false).expect_err("exists");
        assert!(matches!(err, Error::Exists(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(with_suffix(&prefix, "key")).expect("old"),
            "old"
        );
        assert!(!with_suffix(&prefix, "pub").exists());
        let written = generate(&prefix, None, true).expect("force");
        let key = std::fs::read_to_string(&written.private).expect("new key");
        assert!(key.contains("PRIVATE KEY"), "{key}");
        assert!(
            std::fs::read_to_string(&written.public)
                .expect("pub")
                .contains("PUBLIC KEY")
        );
        // Both present now: a second run without `--force` changes neither.
        let err = generate(&prefix, None, false).expect_err("exists");
        assert!(matches!(err, Error::Exists(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(&written.private).expect("kept"),
            key
        );
    }
}
