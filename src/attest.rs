//! `chainseal attest`: record → provenance → DSSE envelope → signer → storage.
//!
//! The key is loaded before anything else, so a wrong password fails fast; nothing is
//! stored unless signing succeeded; every configured store must succeed for the run
//! to succeed.

use thiserror::Error;
use tracing::{info, warn};

use crate::config::AttestConfig;
use crate::envelope::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::provenance::simplesigning::{self, ImagePayload};
use crate::provenance::{self, Generated};
use crate::record::tekton::{self, Record};
use crate::signing;
use crate::storage::{self, Signed, Stored};

/// Errors of the attest pipeline, one variant per stage.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading the record failed.
    #[error(transparent)]
    Record(#[from] tekton::Error),
    /// Generating provenance failed.
    #[error(transparent)]
    Provenance(#[from] provenance::Error),
    /// Loading the key or signing failed.
    #[error(transparent)]
    Signing(#[from] signing::Error),
    /// A store failed; earlier stores may have succeeded (listed).
    #[error("storing in `{target}` failed: {source}{}", stored_note(.stored))]
    Storage {
        /// The failing destination.
        target: String,
        /// What was stored before the failure.
        stored: Vec<Stored>,
        /// Cause.
        #[source]
        source: storage::Error,
    },
    /// A record without a usable storage key.
    #[error(
        "{kind} `{name}` has no metadata.uid: chainseal names attestations `{prefix}-<uid>`; export the run with its metadata"
    )]
    MissingUid {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
        /// Key prefix.
        prefix: &'static str,
    },
}

fn stored_note(stored: &[Stored]) -> String {
    if stored.is_empty() {
        String::new()
    } else {
        let places: Vec<_> = stored.iter().map(|s| s.location.as_str()).collect();
        format!(" (already stored in: {})", places.join(", "))
    }
}

/// What `attest` produced.
#[derive(Debug)]
pub enum Outcome {
    /// `--dry-run`: the Statement, not signed or stored.
    DryRun {
        /// Generated Statement and findings.
        generated: Generated,
        /// The images a TaskRun names (image signatures would be made for these).
        images: Vec<ImagePayload>,
    },
    /// Signed and stored.
    Stored {
        /// Generated Statement and findings.
        generated: Generated,
        /// Storage key, e.g. `taskrun-<uid>`.
        key: String,
        /// Where it went.
        stored: Vec<Stored>,
    },
}

/// Chains' short storage key: `taskrun-<uid>` or `pipelinerun-<uid>`.
pub fn storage_key(record: &Record) -> Result<String, Error> {
    let (prefix, kind, meta) = match record {
        Record::TaskRun(tr) => ("taskrun", "TaskRun", &tr.metadata),
        Record::PipelineRun { run, .. } => ("pipelinerun", "PipelineRun", &run.metadata),
    };
    if meta.uid.is_empty() {
        return Err(Error::MissingUid {
            kind,
            name: meta.name.clone(),
            prefix,
        });
    }
    Ok(format!("{prefix}-{}", meta.uid))
}

/// Run the pipeline once.
pub async fn run(cfg: &AttestConfig) -> Result<Outcome, Error> {
    let signer = match (&cfg.signer, cfg.dry_run) {
        (Some(signer), false) => Some(signing::load(signer).await?),
        _ => None,
    };
    let record = tekton::load(&cfg.record)?;
    let generated = provenance::generate(&record, &cfg.provenance)?;
    for f in generated.findings.iter().filter(|f| f.is_skipped()) {
        warn!(source = %f.source, "type hint skipped: {}", f.message);
    }
    let Some(signer) = signer else {
        return Ok(Outcome::DryRun {
            generated,
            images: simplesigning::payloads(&record),
        });
    };
    let key = storage_key(&record)?;
    let envelope = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        generated.statement.to_bytes(),
        signer.as_ref(),
    )
    .await?;
    let mut stored = Vec::new();
    for backend in storage::from_targets(&cfg.storage) {
        let item = Signed {
            key: &key,
            envelope: &envelope,
        };
        match backend.store(&item).await {
            Ok(s) => {
                info!(backend = s.backend, location = %s.location, written = s.written, "stored attestation {key}");
                stored.push(s);
            }
            Err(source) => {
                return Err(Error::Storage {
                    target: backend.to_string(),
                    stored,
                    source,
                });
            }
        }
    }
    Ok(Outcome::Stored {
        generated,
        key,
        stored,
    })
}
