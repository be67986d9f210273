//! `chainseal attest`: record → provenance → DSSE envelope → signer → storage.
//!
//! The key is loaded before anything else, so a wrong password fails fast; nothing is
//! stored unless signing succeeded; every configured store must succeed for the run
//! to succeed.

use thiserror::Error;
use tracing::{info, warn};

use crate::config::{AttestConfig, RecordSource};
use crate::envelope::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::provenance::simplesigning::{self, ImagePayload};
use crate::provenance::{self, Generated};
use crate::record::tekton::{self, Record};
use crate::signing;
use crate::storage::{self, Signed, SignedImage, Stored, Subject};

/// Errors of the attest pipeline, one variant per stage.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading the record failed.
    #[error(transparent)]
    Record(#[from] tekton::Error),
    /// Reading the record from the cluster failed.
    #[error(transparent)]
    Api(#[from] tekton::api::Error),
    /// Generating provenance failed.
    #[error(transparent)]
    Provenance(#[from] provenance::Error),
    /// Loading the key or signing failed.
    #[error(transparent)]
    Signing(#[from] signing::Error),
    /// A store failed; earlier stores may have succeeded (listed).
    // The message carries the cause (not also exposed as `source`, which would
    // print it twice in `{:#}` chains).
    #[error("storing in `{target}` failed: {cause}{}", stored_note(.stored))]
    Storage {
        /// The failing destination.
        target: String,
        /// What was stored before the failure.
        stored: Vec<Stored>,
        /// Cause.
        cause: storage::Error,
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

/// An image signature in both forms storage may want.
struct ImageSignature {
    payload: ImagePayload,
    signature: Vec<u8>,
    statement: Envelope,
}

impl ImageSignature {
    fn as_item<'a>(&'a self, public_key: Option<&'a signing::PublicKey>) -> SignedImage<'a> {
        SignedImage {
            image: &self.payload.image,
            payload: &self.payload.payload,
            signature: &self.signature,
            statement: &self.statement,
            public_key,
        }
    }
}

/// Sign every image the record's TaskRuns name: the simple-signing payload (cosign
/// `.sig`), and cosign 3's in-toto Statement about the image digest (bundles).
async fn sign_images(
    record: &Record,
    signer: &dyn signing::Signer,
) -> Result<Vec<ImageSignature>, Error> {
    let mut out = Vec::new();
    for payload in simplesigning::payloads(record) {
        let signature = signer.sign(&payload.payload).await?.sig;
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"digest": {"sha256": payload.image.sha256}}],
            "predicateType": storage::oci::COSIGN_SIGN_PREDICATE,
            "predicate": {},
        });
        let statement = Envelope::sign(
            IN_TOTO_PAYLOAD_TYPE,
            serde_json::to_vec(&statement).unwrap_or_default(),
            signer,
        )
        .await?;
        out.push(ImageSignature {
            payload,
            signature,
            statement,
        });
    }
    Ok(out)
}

/// The Statement's subjects that have a SHA-256 digest.
fn sha256_subjects(statement: &provenance::Statement) -> Vec<Subject> {
    statement
        .subject
        .iter()
        .filter_map(|s| {
            Some(Subject {
                name: s.name.clone(),
                sha256: s.digest.get("sha256")?.clone(),
            })
        })
        .collect()
}

/// The record (from files or the cluster) and the provenance options for it.
async fn read_record(cfg: &AttestConfig) -> Result<(Record, provenance::Options), Error> {
    let mut options = cfg.provenance.clone();
    let record = match &cfg.record {
        RecordSource::Files(paths) => tekton::load(paths)?,
        RecordSource::Api(what) => {
            let cluster = crate::kube::Cluster::connect(cfg.namespace.as_deref())
                .await
                .map_err(tekton::api::Error::from)?;
            let (objects, state) = tekton::api::fetch(&cluster, what).await?;
            for (name, why) in &state.excluded {
                info!("TaskRun {name} left out: {why}");
            }
            options.run_state = state.note();
            let source = format!("the Kubernetes API (namespace {})", cluster.namespace);
            tekton::from_values(&source, objects)?
        }
    };
    Ok((record, options))
}

fn run_id(record: &Record) -> storage::RunId {
    let (kind, meta) = match record {
        Record::TaskRun(tr) => ("TaskRun", &tr.metadata),
        Record::PipelineRun { run, .. } => ("PipelineRun", &run.metadata),
    };
    storage::RunId {
        kind,
        name: meta.name.clone(),
        namespace: (!meta.namespace.is_empty()).then(|| meta.namespace.clone()),
    }
}

/// Run the pipeline once.
pub async fn run(cfg: &AttestConfig) -> Result<Outcome, Error> {
    let signer = match (&cfg.signer, cfg.dry_run) {
        (Some(signer), false) => Some(signing::load(signer).await?),
        _ => None,
    };
    let (record, options) = read_record(cfg).await?;
    let generated = provenance::generate(&record, &options)?;
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
    let backends = storage::from_config(cfg).map_err(|source| Error::Storage {
        target: "CHAINSEAL_STORAGE".into(),
        stored: Vec::new(),
        cause: source,
    })?;
    let envelope = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        generated.statement.to_bytes(),
        signer.as_ref(),
    )
    .await?;
    let images = if backends.iter().any(|b| b.keeps_image_signatures()) {
        sign_images(&record, signer.as_ref()).await?
    } else {
        Vec::new()
    };
    let subjects = sha256_subjects(&generated.statement);
    let run = run_id(&record);
    let item = Signed {
        key: &key,
        envelope: &envelope,
        predicate_type: &generated.statement.predicate_type,
        subjects: &subjects,
        public_key: signer.public_key(),
        run: Some(&run),
    };
    let image_items: Vec<_> = images
        .iter()
        .map(|i| (i, i.as_item(signer.public_key())))
        .collect();
    let mut stored = Vec::new();
    for backend in &backends {
        // The attestation and every image signature go to different places (the
        // `.att` and `.sig` tags, distinct referrers), so they are written at once;
        // every write finishes before the outcome is judged, so a failure still lists
        // everything that did land.
        let attestation = async {
            let places = backend.store(&item).await?;
            for s in &places {
                info!(backend = s.backend, location = %s.location, written = s.written, "stored attestation {key}");
            }
            Ok::<_, storage::Error>(places)
        };
        let signatures = image_items
            .iter()
            .filter(|_| backend.keeps_image_signatures())
            .map(|(image, signed)| async move {
                let places = backend.store_image(signed).await?;
                for s in &places {
                    info!(backend = s.backend, location = %s.location, written = s.written, "stored image signature of {}", image.payload.image);
                }
                Ok(places)
            });
        let (attestation, signatures) =
            tokio::join!(attestation, futures::future::join_all(signatures));
        let mut failure = None;
        for result in std::iter::once(attestation).chain(signatures) {
            match result {
                Ok(places) => stored.extend(places),
                Err(cause) => {
                    failure.get_or_insert(cause);
                }
            }
        }
        if let Some(cause) = failure {
            return Err(Error::Storage {
                target: backend.to_string(),
                stored,
                cause,
            });
        }
    }
    Ok(Outcome::Stored {
        generated,
        key,
        stored,
    })
}
