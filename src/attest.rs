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
use crate::record::ci::{self, Platform};
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
    /// Reading the CI job failed.
    #[error(transparent)]
    Ci(#[from] ci::Error),
    /// Collecting the explicit subjects failed.
    #[error(transparent)]
    Subjects(#[from] crate::subjects::Error),
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
    #[error(
        "storing in `{target}` failed: {}{}",
        crate::error_text::joined(.cause),
        stored_note(.stored)
    )]
    Storage {
        /// The failing destination.
        target: String,
        /// What was stored (every other backend still stores).
        stored: Vec<Stored>,
        /// Cause.
        cause: storage::Error,
    },
    /// The transparency log upload failed; what could be stored was stored (listed).
    #[error("{cause}{}; run again to retry the upload", stored_note(.stored))]
    Transparency {
        /// What was stored.
        stored: Vec<Stored>,
        /// Cause.
        cause: crate::transparency::Error,
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
        /// The attestation's transparency log entry, when it was logged.
        transparency: Option<String>,
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
pub(crate) struct ImageSignature {
    pub(crate) payload: ImagePayload,
    signature: Vec<u8>,
    statement: Envelope,
    /// The `hashedrekord` entry of the signature, once logged.
    pub(crate) tlog: Option<crate::transparency::LogEntry>,
    /// The `dsse` entry of `statement`, once logged (for Sigstore bundles).
    pub(crate) statement_tlog: Option<crate::transparency::LogEntry>,
}

impl ImageSignature {
    pub(crate) fn as_item<'a>(
        &'a self,
        signer: &'a dyn signing::Signer,
        run: Option<&'a storage::RunId>,
    ) -> SignedImage<'a> {
        SignedImage {
            run,
            image: &self.payload.image,
            payload: &self.payload.payload,
            signature: &self.signature,
            statement: &self.statement,
            public_key: signer.public_key(),
            certificate: signer.certificate(),
            tlog: self.tlog.as_ref(),
            statement_tlog: self.statement_tlog.as_ref(),
        }
    }
}

/// Log image signatures: each `hashedrekord` (the `.sig` form) and, for Sigstore
/// bundle storage (`bundles`), each Statement's `dsse` entry, so image-signature
/// bundles carry their own log entry. Every upload is tried; the first failure is
/// returned.
pub(crate) async fn log_images(
    rekor: &crate::transparency::Rekor,
    verifier: &str,
    images: &mut [ImageSignature],
    bundles: bool,
) -> Result<(), crate::transparency::Error> {
    let uploads = images.iter().map(|i| async move {
        let signature = rekor.upload_hashedrekord(&i.payload.payload, &i.signature, verifier);
        let statement = async {
            match bundles {
                true => Some(rekor.upload_dsse(&i.statement, verifier).await),
                false => None,
            }
        };
        tokio::join!(signature, statement)
    });
    let results = futures::future::join_all(uploads).await;
    let mut failure = None;
    for (image, (signature, statement)) in images.iter_mut().zip(results) {
        match signature {
            Ok(e) => image.tlog = Some(e),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
        match statement {
            Some(Ok(e)) => image.statement_tlog = Some(e),
            Some(Err(e)) => {
                failure.get_or_insert(e);
            }
            None => {}
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Whether a run's signatures go to the transparency log: always (`on`), never
/// (`off`), or (`manual`) when the run is annotated
/// `chains.tekton.dev/transparency-upload: "true"` and not yet logged, as Chains.
pub(crate) fn wants_transparency(mode: crate::transparency::Mode, record: Option<&Record>) -> bool {
    let annotations = record.map(|r| match r {
        Record::TaskRun(tr) => &tr.metadata.annotations,
        Record::PipelineRun { run, .. } => &run.metadata.annotations,
    });
    let annotation = |name: &str| annotations.and_then(|a| a.get(name)).map(String::as_str);
    mode.wants(
        annotation("chains.tekton.dev/transparency-upload"),
        annotation("chains.tekton.dev/transparency").is_some(),
    )
}

/// The PEM that verifies `signer`'s signatures in a log entry: its certificate, else
/// its public key.
pub(crate) fn verifier_pem(
    signer: &dyn signing::Signer,
) -> Result<&str, crate::transparency::Error> {
    signer
        .certificate()
        .map(|c| c.leaf_pem.as_str())
        .or_else(|| signer.public_key().map(|k| k.pem.as_str()))
        .ok_or_else(|| crate::transparency::Error::Rekor {
            url: String::new(),
            detail: "the signer has no public key or certificate to log".into(),
        })
}

/// Log the attestation (`dsse`) and every image signature (`hashedrekord`) in Rekor.
/// Entries that could be made are kept even when another upload fails.
pub(crate) async fn log_signatures(
    rekor: &crate::transparency::Rekor,
    signer: &dyn signing::Signer,
    envelope: &Envelope,
    images: &mut [ImageSignature],
    bundles: bool,
) -> (
    Option<crate::transparency::LogEntry>,
    Result<(), crate::transparency::Error>,
) {
    let verifier = match verifier_pem(signer) {
        Ok(v) => v,
        Err(e) => return (None, Err(e)),
    };
    let attestation = rekor.upload_dsse(envelope, verifier);
    let signatures = log_images(rekor, verifier, images, bundles);
    let (attestation, signatures) = tokio::join!(attestation, signatures);
    let mut failure = signatures.err();
    let entry = match attestation {
        Ok(e) => {
            info!(
                log_index = e.log_index,
                "logged the attestation in {}", e.url
            );
            Some(e)
        }
        Err(e) => {
            failure = Some(e);
            None
        }
    };
    (entry, failure.map_or(Ok(()), Err))
}

/// Sign every image the record's TaskRuns name: the simple-signing payload (cosign
/// `.sig`), and cosign 3's in-toto Statement about the image digest (bundles).
pub(crate) async fn sign_images(
    record: &Record,
    signer: &dyn signing::Signer,
) -> Result<Vec<ImageSignature>, Error> {
    let mut out = Vec::new();
    for payload in simplesigning::payloads(record) {
        let signature = signer.sign(&payload.payload).await?.sig;
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            // A named subject: in-toto verifiers (sigstore-python) require the name.
            "subject": [{"name": payload.image.name(), "digest": {"sha256": payload.image.sha256}}],
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
            tlog: None,
            statement_tlog: None,
        });
    }
    Ok(out)
}

/// The Statement's subjects that have a SHA-256 digest.
pub(crate) fn sha256_subjects(statement: &provenance::Statement) -> Vec<Subject> {
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

/// A build, read.
enum Build {
    /// A Tekton run, and the provenance options for it.
    Tekton(Box<Record>, provenance::Options),
    /// A CI job or a generic build.
    Ci(ci::Build),
}

/// The record (from files, the cluster or the CI environment).
async fn read_build(cfg: &AttestConfig) -> Result<Build, Error> {
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
        RecordSource::Ci(platform) => {
            return Ok(Build::Ci(match platform {
                Platform::Github => ci::Build::Github(
                    ci::GithubRun::collect(&cfg.env, &cfg.github_oidc_issuer).await?,
                ),
                Platform::Gitlab => ci::Build::Gitlab(ci::GitlabJob::read(&cfg.env)?),
                Platform::Generic => ci::Build::Generic {
                    builder_id: options.builder_id,
                },
            }));
        }
    };
    Ok(Build::Tekton(Box::new(record), options))
}

pub(crate) fn run_id(record: &Record) -> storage::RunId {
    let (kind, meta) = match record {
        Record::TaskRun(tr) => (crate::kube::TektonKind::TaskRun, &tr.metadata),
        Record::PipelineRun { run, .. } => (crate::kube::TektonKind::PipelineRun, &run.metadata),
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
    let explicit = crate::subjects::collect(&cfg.subjects)?;
    let (generated, record) = match read_build(cfg).await? {
        Build::Tekton(record, mut options) => {
            options.extra_subjects.extend(explicit);
            (provenance::generate(&record, &options)?, record)
        }
        Build::Ci(build) => {
            let statement = provenance::ci::statement(&build, explicit);
            // A CI job may attest several times: the key names the job and the
            // Statement, so a re-run of the same step finds its own file.
            let digest = crate::oci::sha256_digest(&statement.to_bytes());
            let hex = digest.trim_start_matches("sha256:");
            let key = format!("{}-{}", build.key_prefix(), &hex[..12.min(hex.len())]);
            let generated = Generated {
                statement,
                findings: Vec::new(),
            };
            return finish(cfg, signer, generated, key, None, None).await;
        }
    };
    let record = *record;
    for f in generated.findings.iter().filter(|f| f.is_skipped()) {
        warn!(source = %f.source, "type hint skipped: {}", f.message);
    }
    let key = match &signer {
        Some(_) => storage_key(&record)?,
        None => String::new(),
    };
    let run = run_id(&record);
    finish(cfg, signer, generated, key, Some(&record), Some(&run)).await
}

/// Sign and store `generated` (or return it for a dry run).
async fn finish(
    cfg: &AttestConfig,
    signer: Option<Box<dyn signing::Signer>>,
    generated: Generated,
    key: String,
    record: Option<&Record>,
    run: Option<&storage::RunId>,
) -> Result<Outcome, Error> {
    let Some(signer) = signer else {
        return Ok(Outcome::DryRun {
            generated,
            images: record.map(simplesigning::payloads).unwrap_or_default(),
        });
    };
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
    let mut images = match record {
        Some(record) if backends.iter().any(|b| b.keeps_image_signatures()) => {
            sign_images(record, signer.as_ref()).await?
        }
        _ => Vec::new(),
    };
    // Logged before storing (as Chains), so stores can carry the entries; a failed
    // upload still lets everything be stored, then fails the run.
    let (tlog, logged) = if wants_transparency(cfg.transparency.mode, record) {
        match crate::transparency::Rekor::new(&cfg.transparency.url) {
            Ok(rekor) => {
                let bundles = cfg.oci_encoding == crate::config::OciEncoding::SigstoreBundle;
                log_signatures(&rekor, signer.as_ref(), &envelope, &mut images, bundles).await
            }
            Err(e) => (None, Err(e)),
        }
    } else {
        (None, Ok(()))
    };
    let subjects = sha256_subjects(&generated.statement);
    let item = Signed {
        key: &key,
        envelope: &envelope,
        predicate_type: &generated.statement.predicate_type,
        subjects: &subjects,
        public_key: signer.public_key(),
        certificate: signer.certificate(),
        tlog: tlog.as_ref(),
        run,
    };
    let image_items: Vec<_> = images
        .iter()
        .map(|i| (i, i.as_item(signer.as_ref(), run)))
        .collect();
    let mut stored = Vec::new();
    let mut first_failure = None;
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
        // The other backends still store; the run fails with the first failure.
        if let Some(cause) = failure {
            warn!(backend = %backend, "storing failed: {cause}");
            first_failure.get_or_insert((backend.to_string(), cause));
        }
    }
    if let Some((target, cause)) = first_failure {
        return Err(Error::Storage {
            target,
            stored,
            cause,
        });
    }
    if let Err(cause) = logged {
        return Err(Error::Transparency { stored, cause });
    }
    Ok(Outcome::Stored {
        generated,
        key,
        stored,
        transparency: tlog.as_ref().map(|e| e.location()),
    })
}
