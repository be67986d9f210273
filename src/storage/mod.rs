//! Storage backends: where signed attestations go.
//!
//! Each backend implements [`Storage`] in its own file and is chosen by the URI in
//! `CHAINSEAL_STORAGE` ([`crate::config::StorageTarget`]). Backends know nothing of
//! the payload format: they receive a key and a signed envelope.

use std::fmt::{Debug, Display};
use std::path::PathBuf;

use async_trait::async_trait;
use thiserror::Error;

use crate::config::StorageTarget;
use crate::envelope::Envelope;

pub mod file;

pub use file::FileStorage;

/// One signed item to store.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Storage key, e.g. `taskrun-<uid>` or `pipelinerun-<uid>` (Chains' short key).
    pub key: &'a str,
    /// The signed DSSE envelope.
    pub envelope: &'a Envelope,
}

/// Where a stored item went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Backend name, e.g. `file`.
    pub backend: &'static str,
    /// Location, e.g. a path or URI.
    pub location: String,
    /// `false` when an identical envelope was already there and nothing was written.
    pub written: bool,
}

/// A place attestations are written to.
#[async_trait]
pub trait Storage: Display + Debug + Send + Sync {
    /// Store one signed item; either all of it lands or none of it does.
    async fn store(&self, item: &Signed<'_>) -> Result<Stored, Error>;
}

/// Storage errors. Messages name the destination and the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("cannot {action} `{path}`: {source}{}", fs_hint(source))]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A storage key that is not safe as a file name.
    #[error("storage key `{0}` is not a safe name (letters, digits, `.`, `_`, `-` only)")]
    InvalidKey(String),
    /// Existing content that cannot be extended safely.
    #[error("`{path}` exists but is not an `.intoto.jsonl` file ({reason}); move it away")]
    Corrupt {
        /// Path of the file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
}

fn fs_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " (choose a writable directory with `CHAINSEAL_STORAGE`)"
        }
        _ => "",
    }
}

/// Build the backends for the configured targets.
pub fn from_targets(targets: &[StorageTarget]) -> Vec<Box<dyn Storage>> {
    targets
        .iter()
        .map(|t| match t {
            StorageTarget::Dir(dir) => Box::new(FileStorage::new(dir.clone())) as Box<dyn Storage>,
        })
        .collect()
}
