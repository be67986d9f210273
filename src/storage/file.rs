//! Local-directory storage: `<dir>/<key>.intoto.jsonl`, one DSSE envelope per line,
//! and with bundles on (`CHAINSEAL_BUNDLE`, always for keyless signing) the latest
//! Sigstore bundle v0.3 beside it, `<dir>/<key>.sigstore.json`.
//!
//! Writes are atomic (a temporary file in the same directory, synced, then renamed
//! over the target) and serialised between processes with an advisory lock on the
//! directory, so a concurrent or interrupted run never leaves a torn or partial file.
//! Existing envelopes are kept; an identical envelope is not added twice.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Error, Signed, Storage, Stored};

/// Stores envelopes below one directory (created when missing).
#[derive(Debug, Clone)]
pub struct FileStorage {
    dir: PathBuf,
    bundles: bool,
}

impl FileStorage {
    /// Storage in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            bundles: false,
        }
    }

    /// Also write Sigstore bundles (they are always written for certificates).
    pub fn with_bundles(mut self, bundles: bool) -> Self {
        self.bundles = bundles;
        self
    }

    /// The path an item with `key` is written to.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.intoto.jsonl"))
    }

    /// The path of the Sigstore bundle of the item with `key`.
    pub fn bundle_path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.sigstore.json"))
    }

    fn store_blocking(
        &self,
        key: &str,
        line: &str,
        bundle: Option<&[u8]>,
    ) -> Result<Vec<Stored>, Error> {
        super::check_key(key)?;
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create directory", &self.dir))?;
        let lock = File::open(&self.dir).map_err(io("open directory", &self.dir))?;
        lock_within(&lock, LOCK_WAIT).map_err(io("lock directory", &self.dir))?;

        let path = self.path_for(key);
        // Report absolute locations; `absolute` does not touch the file system.
        let path = std::path::absolute(&path).unwrap_or(path);
        let content = match std::fs::read_to_string(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let mut stored = Vec::new();
        // The bundle first: if it cannot be written, the envelope is not added either.
        if let Some(bundle) = bundle {
            let bundle_path = self.bundle_path_for(key);
            let bundle_path = std::path::absolute(&bundle_path).unwrap_or(bundle_path);
            let same = std::fs::read(&bundle_path).is_ok_and(|old| old == bundle);
            if !same {
                self.replace(&bundle_path, bundle)?;
            }
            stored.push(Stored {
                backend: "file",
                location: bundle_path.display().to_string(),
                written: !same,
            });
        }
        let Some(content) =
            super::append_line(&content, line).map_err(|source| Error::Corrupt {
                path: path.clone(),
                source,
            })?
        else {
            stored.insert(
                0,
                Stored {
                    backend: "file",
                    location: path.display().to_string(),
                    written: false,
                },
            );
            return Ok(stored);
        };
        self.replace(&path, content.as_bytes())?;
        // Make the renames themselves durable.
        lock.sync_all().map_err(io("sync directory", &self.dir))?;
        stored.insert(
            0,
            Stored {
                backend: "file",
                location: path.display().to_string(),
                written: true,
            },
        );
        Ok(stored)
    }

    /// Replace `path` with `content` atomically (a synced temporary file renamed over
    /// it); the caller holds the directory lock.
    fn replace(&self, path: &Path, content: &[u8]) -> Result<(), Error> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".chainseal-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|source| Error::Io {
                action: "create a temporary file in",
                path: self.dir.clone(),
                source,
            })?;
        tmp.write_all(content)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|source| Error::Io {
                action: "write",
                path: tmp.path().to_owned(),
                source,
            })?;
        tmp.persist(path).map_err(|e| Error::Io {
            action: "rename into place",
            path: path.to_owned(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// How long a write waits for another process's lock on the directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Take `file`'s exclusive advisory lock, waiting at most `wait`.
fn lock_within(file: &File, wait: std::time::Duration) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "another process has held its lock for over {}s",
                        wait.as_secs()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

impl fmt::Display for FileStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file://{}", self.dir.display())
    }
}

#[async_trait]
impl Storage for FileStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let line = item.envelope.to_json();
        let bundle = item.bundle_if(self.bundles)?;
        // File I/O and the lock wait block: off the async worker threads.
        let (this, key) = (self.clone(), item.key.to_owned());
        tokio::task::spawn_blocking(move || this.store_blocking(&key, &line, bundle.as_deref()))
            .await
            .map_err(|e| Error::Io {
                action: "write (the writer stopped)",
                path: self.dir.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, EnvelopeSignature};

    fn signed<'a>(key: &'a str, envelope: &'a Envelope) -> Signed<'a> {
        Signed {
            key,
            envelope,
            predicate_type: "",
            subjects: &[],
            public_key: None,
            certificate: None,
            tlog: None,
            timestamps: &[],
            run: None,
        }
    }

    fn envelope(n: u8) -> Envelope {
        Envelope {
            payload_type: "application/vnd.in-toto+json".into(),
            payload: vec![b'{', n, b'}'],
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: vec![n],
            }],
        }
    }

    #[tokio::test]
    async fn appends_new_envelopes_and_skips_identical_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = FileStorage::new(dir.path().join("out"));
        let (a, b) = (envelope(1), envelope(2));
        for (env, written) in [(&a, true), (&b, true), (&a, false)] {
            let stored = store
                .store(&signed("taskrun-1", env))
                .await
                .expect("stored");
            assert_eq!(stored.len(), 1);
            assert_eq!(stored[0].written, written);
        }
        let text = std::fs::read_to_string(store.path_for("taskrun-1")).expect("read");
        assert_eq!(text, format!("{}\n{}\n", a.to_json(), b.to_json()));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .expect("ls")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from("taskrun-1.intoto.jsonl")]
        );
    }

    #[tokio::test]
    async fn unsafe_keys_and_corrupt_files_are_refused_without_writing() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = FileStorage::new(dir.path().to_owned());
        let env = envelope(1);
        for key in ["../x", "", ".hidden", "a/b"] {
            let err = store.store(&signed(key, &env)).await;
            assert!(matches!(err, Err(Error::InvalidKey(_))), "{key}");
        }
        std::fs::write(store.path_for("k"), "not json\n").expect("write");
        let err = store.store(&signed("k", &env)).await;
        assert!(matches!(err, Err(Error::Corrupt { .. })));
        assert_eq!(
            std::fs::read_to_string(store.path_for("k")).expect("read"),
            "not json\n"
        );
    }

    /// #18: the directory lock is waited for a bounded time, not forever.
    #[test]
    fn a_held_lock_is_waited_for_a_bounded_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let holder = File::open(dir.path()).expect("open");
        holder.lock().expect("lock");
        let other = File::open(dir.path()).expect("open");
        let err = lock_within(&other, std::time::Duration::from_millis(100)).expect_err("held");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        holder.unlock().expect("unlock");
        lock_within(&other, std::time::Duration::from_millis(100)).expect("free");
    }

    #[tokio::test]
    async fn unwritable_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("tmp");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").expect("write");
        let store = FileStorage::new(blocker.join("sub"));
        let err = store
            .store(&signed("k", &envelope(1)))
            .await
            .expect_err("cannot create a directory below a file");
        assert!(err.to_string().contains("cannot create directory"), "{err}");
    }
}
