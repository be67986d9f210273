//! `chainseal attest`: record → provenance → DSSE envelope → signer → storage.
//!
//! The key is loaded before anything else, so a wrong password fails fast; nothing is
//! stored unless signing succeeded; every configured store must succeed for the run
//! to succeed.

use std::path::PathBuf;

use thiserror::Error;
use tracing::{info, warn};

use crate::pipeline::{Attestation, Failure, Images, Part, Plan, Stage, Store};
use crate::provenance::Options;
use crate::provenance::simplesigning::ImagePayload;
use crate::provenance::{self, Generated};
use crate::record::ci::{self, Platform};
use crate::record::tekton::{self, Record};
use crate::signing;
use crate::storage::{self, StorageTarget, Stored};

/// Where the record comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSource {
    /// Files, in the order given.
    Files(Vec<PathBuf>),
    /// The Kubernetes API.
    Api(crate::record::tekton::api::RunRef),
    /// A CI job's environment (GitHub, GitLab) or nothing but subjects (generic).
    Ci(crate::record::ci::Platform),
}

/// What `attest` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// Validated settings of `chainseal attest`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the record comes from.
    pub record: RecordSource,
    /// The signer; `None` only in dry-run mode.
    pub signer: Option<crate::signing::Settings>,
    /// Namespace for the API record and `tekton` storage (else the client's default).
    pub namespace: Option<String>,
    /// Where to write the stored locations.
    pub result_locations: Option<PathBuf>,
    /// Where to write the attested subjects.
    pub result_subjects: Option<PathBuf>,
    /// The transparency log, timestamps and stores.
    pub publish: Publish,
    /// Provenance settings (format, build type, builder id, deep inspection).
    pub provenance: Options,
    /// Subjects named explicitly.
    pub subjects: crate::subjects::Inputs,
    /// The CI variables (GitHub, GitLab) the record and outputs are read from.
    pub env: crate::record::ci::Environment,
    /// Issuer of GitHub Actions ID tokens.
    pub github_oidc_issuer: String,
    /// Write a GitHub step summary.
    pub show_summary: bool,
    /// The GitLab dotenv report.
    pub dotenv: PathBuf,
    /// What to print on stdout.
    pub output: OutputFormat,
    /// Print the Statement only.
    pub dry_run: bool,
    /// A custom predicate or SBOM signed instead of provenance, for the same subjects.
    pub custom: Option<crate::provenance::custom::Source>,
    /// With `dry_run`: explain every type-hint decision.
    pub explain: bool,
}

/// Where a signed attestation goes: the transparency log and timestamp authorities,
/// and the stores (attest's provenance, verify's VSAs).
#[derive(Debug, Clone)]
pub struct Publish {
    /// Rekor uploads, timestamps and bundles.
    pub transparency: crate::transparency::Settings,
    /// Storage destinations, in the order given.
    pub storage: Vec<StorageTarget>,
    /// What the storage backends need to reach them.
    pub stores: crate::storage::Settings,
}

/// A signer with the Sigstore services selected for it.
pub type Loaded = (Box<dyn signing::Signer>, crate::transparency::Services);

/// A loaded signer as [`finish`] takes it.
pub type Signing<'a> = (&'a dyn signing::Signer, &'a crate::transparency::Services);

/// `loaded` as [`finish`] takes it.
pub fn borrowed(loaded: &Option<Loaded>) -> Option<Signing<'_>> {
    loaded.as_ref().map(|(s, services)| (s.as_ref(), services))
}

impl Publish {
    /// The storage backends, opened (clients made, URIs checked) once.
    pub fn open_stores(&self) -> Result<Vec<Box<dyn storage::Storage>>, storage::Error> {
        storage::Factory::new(self.stores.clone()).open(&self.storage)
    }

    /// Load `signer`, with Fulcio, the logs and the timestamp authorities selected
    /// once (signing config or URL shortcuts); they travel with it.
    pub async fn load_signer(&self, signer: &signing::Settings) -> Result<Loaded, Error> {
        let services = self.transparency.services().await?;
        let mut signer = signer.clone();
        if let Some(fulcio) = &services.fulcio {
            signer.keyless.fulcio_url = fulcio.clone();
        }
        Ok((signing::load(&signer).await?, services))
    }
}

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
    /// The custom predicate or SBOM cannot be used.
    #[error(transparent)]
    Custom(#[from] crate::provenance::custom::Error),
    /// Loading the key failed.
    #[error(transparent)]
    Signing(#[from] signing::Error),
    /// The storage settings name a backend that cannot be made.
    #[error("cannot use `CHAINSEAL_STORAGE`")]
    Storage(#[source] storage::Error),
    /// Something was not signed, logged or stored; what did land is listed.
    #[error("{failure}{}{}{}", retry_note(failure), more_note(*.more), stored_note(.stored))]
    Incomplete {
        /// The failure that says most (the earliest stage).
        #[source]
        failure: crate::pipeline::Failure,
        /// How many other failures there were (each was logged).
        more: usize,
        /// What was stored.
        stored: Vec<Stored>,
    },
    /// A record without a usable storage key.
    #[error(transparent)]
    MissingUid(#[from] crate::pipeline::MissingUid),
    /// The signing config, log or timestamp authorities cannot be used.
    #[error(transparent)]
    Transparency(#[from] crate::transparency::Error),
}

fn retry_note(failure: &crate::pipeline::Failure) -> &'static str {
    match failure.stage {
        Stage::Tlog => " (run again to retry the upload)",
        _ => "",
    }
}

fn more_note(more: usize) -> String {
    match more {
        0 => String::new(),
        n => format!(" (and {n} more failure(s), see the log)"),
    }
}

fn stored_note(stored: &[Stored]) -> String {
    let places: Vec<_> = stored
        .iter()
        .filter(|s| s.is_place())
        .map(|s| s.location.as_str())
        .collect();
    if places.is_empty() {
        String::new()
    } else {
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

/// Whether a run's signatures go to the transparency log: always (`on`), never
/// (`off`), or (`manual`) when the run is annotated
/// `chains.tekton.dev/transparency-upload: "true"` and not yet logged, as Chains.
fn wants_transparency(mode: crate::transparency::Mode, record: Option<&Record>) -> bool {
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

/// A build, read.
enum Build {
    /// A Tekton run, and the provenance options for it.
    Tekton(Box<Record>, provenance::Options),
    /// A CI job or a generic build.
    Ci(ci::Build),
}

/// The record (from files, the cluster or the CI environment).
async fn read_build(cfg: &Settings) -> Result<Build, Error> {
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

/// Run the pipeline once.
pub async fn run(cfg: &Settings) -> Result<Outcome, Error> {
    // The services (signing config or URL shortcuts) are selected once, when signing
    // starts; they travel with the signer.
    let signer = match (&cfg.signer, cfg.dry_run) {
        (Some(signer), false) => Some(cfg.publish.load_signer(signer).await?),
        _ => None,
    };
    let explicit = crate::subjects::collect(&cfg.subjects)?;
    let (generated, record) = match read_build(cfg).await? {
        Build::Tekton(record, mut options) => {
            options.extra_subjects.extend(explicit);
            (provenance::generate(&record, &options)?, record)
        }
        Build::Ci(build) => {
            let mut statement = provenance::ci::statement(&build, explicit);
            with_custom(cfg, &mut statement)?;
            // A CI job may attest several times: the key names the job and the
            // Statement, so a re-run of the same step finds its own file.
            let key = crate::pipeline::content_key(&build.key_prefix(), &statement);
            let generated = Generated {
                statement,
                findings: Vec::new(),
            };
            return finish(&cfg.publish, borrowed(&signer), generated, key, None, None).await;
        }
    };
    let record = *record;
    let mut generated = generated;
    with_custom(cfg, &mut generated.statement)?;
    for f in generated.findings.iter().filter(|f| f.is_skipped()) {
        warn!(source = %f.source, "type hint skipped: {}", f.message);
    }
    let key = match &signer {
        Some(_) => crate::pipeline::storage_key(&record)?,
        None => String::new(),
    };
    let run = crate::pipeline::run_id(&record);
    finish(
        &cfg.publish,
        borrowed(&signer),
        generated,
        key,
        Some(&record),
        Some(&run),
    )
    .await
}

/// The custom predicate or SBOM in place of the provenance, when one is set (the
/// subjects stay the build's).
fn with_custom(
    cfg: &Settings,
    statement: &mut provenance::Statement,
) -> Result<(), crate::provenance::custom::Error> {
    if let Some(custom) = &cfg.custom {
        let (predicate_type, predicate) = custom.load()?;
        statement.predicate_type = predicate_type;
        statement.predicate = predicate;
    }
    Ok(())
}

/// Sign, log and store `generated` (or return it for a dry run).
pub async fn finish(
    cfg: &Publish,
    signer: Option<Signing<'_>>,
    generated: Generated,
    key: String,
    record: Option<&Record>,
    run: Option<&storage::RunId>,
) -> Result<Outcome, Error> {
    let Some(signer) = signer else {
        let images = record
            .map(crate::provenance::simplesigning::payloads)
            .unwrap_or_default();
        return Ok(Outcome::DryRun { generated, images });
    };
    let backends = cfg.open_stores().map_err(Error::Storage)?;
    finish_in(cfg, &backends, signer, generated, key, record, run).await
}

/// [`finish`] into `backends` already opened ([`Publish::open_stores`]), for callers
/// that publish many attestations (`verify --vsa`).
pub async fn finish_in(
    cfg: &Publish,
    backends: &[Box<dyn storage::Storage>],
    (signer, services): Signing<'_>,
    generated: Generated,
    key: String,
    record: Option<&Record>,
    run: Option<&storage::RunId>,
) -> Result<Outcome, Error> {
    let images = record
        .map(crate::provenance::simplesigning::payloads)
        .unwrap_or_default();
    let keeps_images = backends.iter().any(|b| b.keeps_image_signatures());
    let timestamps = crate::transparency::Timestamping::new(&services.tsas)?;
    let rekor = match wants_transparency(cfg.transparency.mode, record) {
        true => Some(crate::transparency::Log::new(&services.logs)),
        false => None,
    };
    // A log whose version cannot be told now fails its uploads later, after storing,
    // as any unreachable log does.
    if let (Some(Ok(log)), None, Some(_)) = (&rekor, &timestamps, signer.certificate())
        && let Ok(crate::transparency::ApiVersion::V2) = log.version().await
    {
        return Err(crate::transparency::Error::NeedsTimestamp(log.url().to_owned()).into());
    }
    let plan = Plan {
        attestation: Some(Attestation {
            key: &key,
            statement: &generated.statement,
            signer,
        }),
        images: (keeps_images && !images.is_empty()).then_some(Images {
            payloads: images,
            signer,
        }),
        stores: backends
            .iter()
            .map(|b| Store {
                storage: b.as_ref(),
                attestation: true,
                images: b.keeps_image_signatures(),
            })
            .collect(),
        rekor: rekor.as_ref().and_then(|r| r.as_ref().ok()),
        timestamps: timestamps.as_ref(),
        bundles: cfg.stores.oci_encoding == storage::OciEncoding::SigstoreBundle,
        run,
        all_signed_or_nothing: true,
    };
    let mut report = crate::pipeline::run(plan).await;
    if let Some(Err(e)) = rekor {
        // No log to upload to: everything was stored, and the run fails.
        report.failures.push(Failure {
            part: Part::Attestation,
            stage: Stage::Tlog,
            store: None,
            image: None,
            error: e.into(),
        });
    }
    if let Some((failure, more)) = report.take_first_failure() {
        // The message names the first; the others are logged here.
        for other in &report.failures {
            warn!("{}", crate::error_text::joined(other));
        }
        return Err(Error::Incomplete {
            failure,
            more,
            stored: report.stored,
        });
    }
    Ok(Outcome::Stored {
        generated,
        key,
        stored: report.stored,
        transparency: report.entry.as_ref().map(|e| e.location()),
    })
}
