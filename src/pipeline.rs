//! Sign, log and store: the one pipeline behind both front doors.
//!
//! A front door (`attest`, the controller) reads its build, generates the Statement,
//! picks signers and stores, and hands this module a [`Plan`]. The pipeline knows no
//! front door: it signs the attestation and the image signatures, logs them in the
//! transparency log when asked, and writes every signed object to every store meant
//! for it. Its behaviour is the same for every caller:
//!
//! - every store is attempted, even after another failed;
//! - the two parts (the attestation, the image signatures) are independent: a part
//!   that cannot be signed is not stored, the other still is (as Chains signs each
//!   artifact type on its own);
//! - a signature that must be timestamped (RFC 3161) and is not is a part that is
//!   not stored, as one that could not be signed;
//! - a failed upload to the transparency log still lets everything be stored (the
//!   entries that could be made are carried), then fails the plan;
//! - the [`Report`] lists everything that landed, and every failure with its stage;
//!   a plan succeeded only when the failure list is empty.

use futures::StreamExt as _;
use thiserror::Error;
use tracing::info;

use crate::envelope::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::provenance::simplesigning::ImagePayload;
use crate::provenance::{self, Statement};
use crate::record::tekton::Record;
use crate::signing::{self, Signer};
use crate::storage::{self, RunId, Signed, SignedImage, Storage, Stored, Subject};
use crate::transparency::{Log, LogEntry, Timestamp, Timestamping, Verifier};

/// How many writes run at once (object × store).
const CONCURRENT_WRITES: usize = 8;

/// The attestation to sign and where it goes.
pub struct Attestation<'a> {
    /// Storage key, e.g. `taskrun-<uid>`.
    pub key: &'a str,
    /// The Statement.
    pub statement: &'a Statement,
    /// Who signs it.
    pub signer: &'a dyn Signer,
}

/// The image signatures to make (cosign's simple-signing payloads).
pub struct Images<'a> {
    /// The images and their payloads.
    pub payloads: Vec<ImagePayload>,
    /// Who signs them.
    pub signer: &'a dyn Signer,
}

/// One store and what it receives.
pub struct Store<'a> {
    /// The backend.
    pub storage: &'a dyn Storage,
    /// It receives the attestation.
    pub attestation: bool,
    /// It receives the image signatures (it must keep them).
    pub images: bool,
}

/// What to sign, log and store.
pub struct Plan<'a> {
    /// The attestation, if one is signed.
    pub attestation: Option<Attestation<'a>>,
    /// The image signatures, if any are made.
    pub images: Option<Images<'a>>,
    /// The stores, in order.
    pub stores: Vec<Store<'a>>,
    /// The transparency log, when the signatures are logged.
    pub rekor: Option<&'a Log>,
    /// The timestamp authorities, when signatures are timestamped.
    pub timestamps: Option<&'a Timestamping>,
    /// Image signatures are kept as Sigstore bundles: their Statements are logged too.
    pub bundles: bool,
    /// The run the build is (for storage on the run itself).
    pub run: Option<&'a RunId>,
    /// Nothing is logged or stored unless every part was signed (`attest`: one signer
    /// for both parts, so a failure to sign either is a failure of the run). Without
    /// it the parts are independent, as Chains signs each artifact type on its own.
    pub all_signed_or_nothing: bool,
}

/// Which signed object a failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The attestation.
    Attestation,
    /// The image signatures.
    Images,
}

/// The stage a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Signing.
    Signing,
    /// Timestamping the signatures (RFC 3161).
    Timestamp,
    /// Storing.
    Storage,
    /// Logging in the transparency log.
    Tlog,
}

/// Why a stage failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] signing::Error),
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// The transparency log failed.
    #[error(transparent)]
    Transparency(#[from] crate::transparency::Error),
    /// Image signatures sent to a store that cannot keep them.
    #[error("it cannot keep image signatures")]
    NoImageSignatures,
}

/// One failure of a plan.
#[derive(Debug)]
pub struct Failure {
    /// What it is about.
    pub part: Part,
    /// Where it happened.
    pub stage: Stage,
    /// The store (its display name), for storage failures.
    pub store: Option<String>,
    /// The image, for a failure about one image signature.
    pub image: Option<String>,
    /// Why.
    pub error: Error,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.stage, self.part, &self.store, &self.image) {
            (Stage::Storage, _, Some(store), Some(image)) => {
                write!(f, "storing the signature of {image} in `{store}` failed")
            }
            (Stage::Storage, _, Some(store), None) => write!(f, "storing in `{store}` failed"),
            (Stage::Storage, ..) => f.write_str("storing failed"),
            (Stage::Signing, Part::Attestation, ..) => {
                f.write_str("signing the attestation failed")
            }
            (Stage::Signing, Part::Images, ..) => {
                f.write_str("signing the image signatures failed")
            }
            (Stage::Timestamp, Part::Attestation, ..) => {
                f.write_str("timestamping the attestation's signature failed")
            }
            (Stage::Timestamp, Part::Images, ..) => {
                f.write_str("timestamping the image signatures failed")
            }
            (Stage::Tlog, Part::Attestation, ..) => {
                f.write_str("logging the attestation in the transparency log failed")
            }
            (Stage::Tlog, Part::Images, ..) => {
                f.write_str("logging the image signatures in the transparency log failed")
            }
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What a plan did.
#[derive(Debug, Default)]
pub struct Report {
    /// Every place something landed, in store order.
    pub stored: Vec<Stored>,
    /// Writes that succeeded and are final (an object in a store).
    pub writes: u64,
    /// Writes that succeeded but land only with the run's mark
    /// ([`Storage::deferred`]).
    pub deferred: u64,
    /// Signatures made (the attestation and each image).
    pub signatures: u64,
    /// The attestation's transparency log entry.
    pub entry: Option<LogEntry>,
    /// The image signatures' entries (`hashedrekord`), in image order.
    pub image_entries: Vec<LogEntry>,
    /// Every failure, in the order the stages ran.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Whether everything was signed, logged and stored.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failure that says most about the outcome — the earliest stage (signing,
    /// then storage, then the transparency log) — taken out, and how many others
    /// there were; `None` when nothing failed.
    pub fn take_first_failure(&mut self) -> Option<(Failure, usize)> {
        let (first, _) = self
            .failures
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| f.stage)?;
        let more = self.failures.len() - 1;
        Some((self.failures.swap_remove(first), more))
    }
}

/// An image signature in both forms storage may want.
struct ImageSignature {
    payload: ImagePayload,
    signature: Vec<u8>,
    statement: Envelope,
    /// The `hashedrekord` entry of the signature, once logged.
    tlog: Option<LogEntry>,
    /// The `dsse` entry of `statement`, once logged (for Sigstore bundles).
    statement_tlog: Option<LogEntry>,
    /// Timestamps over `signature`.
    timestamps: Vec<Timestamp>,
    /// Timestamps over the Statement's signature.
    statement_timestamps: Vec<Timestamp>,
}

impl ImageSignature {
    fn as_item<'a>(&'a self, signer: &'a dyn Signer, run: Option<&'a RunId>) -> SignedImage<'a> {
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
            timestamps: &self.timestamps,
            statement_timestamps: &self.statement_timestamps,
        }
    }
}

/// Sign every image: the simple-signing payload (cosign `.sig`), and cosign 3's
/// in-toto Statement about the image digest (bundles).
async fn sign_images(
    payloads: Vec<ImagePayload>,
    signer: &dyn Signer,
) -> Result<Vec<ImageSignature>, signing::Error> {
    let mut out = Vec::new();
    for payload in payloads {
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
            timestamps: Vec::new(),
            statement_timestamps: Vec::new(),
        });
    }
    Ok(out)
}

/// What verifies `signer`'s signatures in a log entry: its certificate, else its
/// public key.
fn verifier(signer: &dyn Signer) -> Result<Verifier<'_>, crate::transparency::Error> {
    let missing = || crate::transparency::Error::Rekor {
        url: String::new(),
        detail: "the signer has no public key or certificate to log".into(),
    };
    match signer.certificate() {
        Some(c) => Ok(Verifier {
            pem: &c.leaf_pem,
            public_key_der: &c.public_key_der,
            certificate_der: Some(&c.leaf_der),
        }),
        None => {
            let key = signer.public_key().ok_or_else(missing)?;
            Ok(Verifier {
                pem: &key.pem,
                public_key_der: &key.der,
                certificate_der: None,
            })
        }
    }
}

/// Timestamp every image signature: the `.sig` signature, and for bundles the
/// Statement's. The first failure is returned.
async fn timestamp_images(
    tsas: &Timestamping,
    images: &mut [ImageSignature],
    bundles: bool,
) -> Result<(), crate::transparency::Error> {
    for image in images.iter_mut() {
        image.timestamps = tsas.timestamp(&image.signature).await?;
        if bundles {
            image.statement_timestamps = tsas.timestamp(image.statement.first_signature()).await?;
        }
    }
    Ok(())
}

/// Log image signatures: each `hashedrekord` and, for bundles, each Statement's
/// `dsse` entry. Every upload is tried; the first failure is returned.
async fn log_images(
    rekor: &Log,
    signer: &dyn Signer,
    images: &mut [ImageSignature],
    bundles: bool,
) -> Result<(), crate::transparency::Error> {
    let verifier = &verifier(signer)?;
    // The images come from the run's results: at most CONCURRENT_WRITES at once.
    let uploads: Vec<futures::future::BoxFuture<'_, _>> = images
        .iter()
        .map(|i| {
            Box::pin(async move {
                let signature =
                    rekor.upload_hashedrekord(&i.payload.payload, &i.signature, verifier);
                let statement = async {
                    match bundles {
                        true => Some(rekor.upload_dsse(&i.statement, verifier).await),
                        false => None,
                    }
                };
                tokio::join!(signature, statement)
            }) as futures::future::BoxFuture<'_, _>
        })
        .collect();
    let results: Vec<_> = futures::stream::iter(uploads)
        .buffered(CONCURRENT_WRITES)
        .collect()
        .await;
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

/// Log the attestation (`dsse`).
async fn log_attestation(
    rekor: &Log,
    signer: &dyn Signer,
    envelope: &Envelope,
) -> Result<LogEntry, crate::transparency::Error> {
    let entry = rekor.upload_dsse(envelope, &verifier(signer)?).await?;
    info!(
        log_index = entry.log_index,
        "logged the attestation in {}", entry.url
    );
    Ok(entry)
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

/// One write: an object into a store.
enum Write<'a> {
    Attestation(&'a Signed<'a>),
    Image(&'a ImageSignature, SignedImage<'a>),
}

/// One write, boxed so that a list of them has one type.
fn write_one<'a>(
    storage: &'a dyn Storage,
    write: &'a Write<'a>,
) -> futures::future::BoxFuture<'a, Result<Vec<Stored>, Error>> {
    Box::pin(async move {
        match write {
            Write::Attestation(item) => storage.store(item).await.map_err(Error::from),
            Write::Image(_, item) if storage.keeps_image_signatures() => {
                storage.store_image(item).await.map_err(Error::from)
            }
            Write::Image(..) => Err(Error::NoImageSignatures),
        }
    })
}

/// Carry out `plan`.
pub async fn run(plan: Plan<'_>) -> Report {
    let mut report = Report::default();
    let fail = |part, stage, error: Error| Failure {
        part,
        stage,
        store: None,
        image: None,
        error,
    };
    // Sign.
    let mut attestation = None;
    if let Some(a) = &plan.attestation {
        match Envelope::sign(IN_TOTO_PAYLOAD_TYPE, a.statement.to_bytes(), a.signer).await {
            Ok(envelope) => {
                report.signatures += 1;
                attestation = Some((a, envelope));
            }
            Err(e) => report
                .failures
                .push(fail(Part::Attestation, Stage::Signing, e.into())),
        }
    }
    let mut images = Vec::new();
    let mut image_signer = None;
    if let Some(i) = plan.images {
        match sign_images(i.payloads, i.signer).await {
            Ok(signed) => {
                report.signatures += signed.len() as u64;
                images = signed;
                image_signer = Some(i.signer);
            }
            Err(e) => report
                .failures
                .push(fail(Part::Images, Stage::Signing, e.into())),
        }
    }
    // Timestamp: a part whose timestamps are required but missing is not stored.
    let mut attestation_timestamps = Vec::new();
    if let Some(tsas) = plan.timestamps {
        if let Some((_, envelope)) = &attestation {
            match tsas.timestamp(envelope.first_signature()).await {
                Ok(t) => attestation_timestamps = t,
                Err(e) => {
                    attestation = None;
                    report
                        .failures
                        .push(fail(Part::Attestation, Stage::Timestamp, e.into()));
                }
            }
        }
        if !images.is_empty()
            && let Err(e) = timestamp_images(tsas, &mut images, plan.bundles).await
        {
            images.clear();
            image_signer = None;
            report
                .failures
                .push(fail(Part::Images, Stage::Timestamp, e.into()));
        }
    }
    if plan.all_signed_or_nothing && !report.failures.is_empty() {
        return report;
    }
    // Log, before storing (as Chains), so stores can carry the entries.
    let mut logged = Vec::new();
    if let Some(rekor) = plan.rekor {
        let of_attestation = async {
            match &attestation {
                Some((a, envelope)) => Some(log_attestation(rekor, a.signer, envelope).await),
                None => None,
            }
        };
        let of_images = async {
            match image_signer {
                Some(signer) if !images.is_empty() => {
                    Some(log_images(rekor, signer, &mut images, plan.bundles).await)
                }
                _ => None,
            }
        };
        let (a, i) = tokio::join!(of_attestation, of_images);
        match a {
            Some(Ok(entry)) => report.entry = Some(entry),
            Some(Err(e)) => logged.push(fail(Part::Attestation, Stage::Tlog, e.into())),
            None => {}
        }
        if let Some(Err(e)) = i {
            logged.push(fail(Part::Images, Stage::Tlog, e.into()));
        }
        report.image_entries = images.iter().filter_map(|i| i.tlog.clone()).collect();
    }
    // Store.
    let subjects = attestation
        .as_ref()
        .map(|(a, _)| sha256_subjects(a.statement))
        .unwrap_or_default();
    let item = attestation.as_ref().map(|(a, envelope)| Signed {
        key: a.key,
        envelope,
        predicate_type: &a.statement.predicate_type,
        subjects: &subjects,
        public_key: a.signer.public_key(),
        certificate: a.signer.certificate(),
        tlog: report.entry.as_ref(),
        timestamps: &attestation_timestamps,
        run: plan.run,
    });
    let mut writes = Vec::new();
    for store in &plan.stores {
        if let (true, Some(item)) = (store.attestation, &item) {
            writes.push((store.storage, Write::Attestation(item)));
        }
        if let (true, Some(signer)) = (store.images, image_signer) {
            for image in &images {
                writes.push((
                    store.storage,
                    Write::Image(image, image.as_item(signer, plan.run)),
                ));
            }
        }
    }
    let pending: Vec<_> = writes
        .iter()
        .map(|(storage, write)| write_one(*storage, write))
        .collect();
    let results: Vec<_> = futures::stream::iter(pending)
        .buffered(CONCURRENT_WRITES)
        .collect()
        .await;
    for ((storage, write), result) in writes.iter().zip(results) {
        let (part, image) = match write {
            Write::Attestation(_) => (Part::Attestation, None),
            Write::Image(i, _) => (Part::Images, Some(i.payload.image.to_string())),
        };
        match result {
            Ok(places) => {
                for s in &places {
                    match &image {
                        None => {
                            info!(backend = s.backend, location = %s.location, written = s.written, "stored the attestation")
                        }
                        Some(image) => {
                            info!(backend = s.backend, location = %s.location, written = s.written, "stored the image signature of {image}")
                        }
                    }
                }
                match storage.deferred() {
                    true => report.deferred += 1,
                    false => report.writes += 1,
                }
                report.stored.extend(places);
            }
            Err(error) => {
                report.failures.push(Failure {
                    part,
                    stage: Stage::Storage,
                    store: Some(storage.to_string()),
                    image,
                    error,
                });
            }
        }
    }
    report.failures.extend(logged);
    report
}

/// A Tekton record without a usable storage key.
#[derive(Debug, Error)]
#[error(
    "{kind} `{name}` has no metadata.uid: chainseal names attestations `{prefix}-<uid>`; export the run with its metadata"
)]
pub struct MissingUid {
    /// Kind.
    pub kind: &'static str,
    /// Name.
    pub name: String,
    /// Key prefix.
    pub prefix: &'static str,
}

/// The storage key of a Statement that is not a Tekton run's: `<prefix>-` and the
/// first 12 hex digits of its SHA-256, so a re-run of the same step finds its own file
/// and another Statement of the same job gets its own.
pub fn content_key(prefix: &str, statement: &crate::provenance::Statement) -> String {
    let digest = crate::oci::sha256_digest(&statement.to_bytes());
    let hex = digest.trim_start_matches("sha256:");
    format!("{prefix}-{}", hex.get(..12).unwrap_or(hex))
}

/// Chains' short storage key of a Tekton record: `taskrun-<uid>` or
/// `pipelinerun-<uid>`.
pub fn storage_key(record: &Record) -> Result<String, MissingUid> {
    let (prefix, kind, meta) = match record {
        Record::TaskRun(tr) => ("taskrun", "TaskRun", &tr.metadata),
        Record::PipelineRun { run, .. } => ("pipelinerun", "PipelineRun", &run.metadata),
    };
    if meta.uid.is_empty() {
        return Err(MissingUid {
            kind,
            name: meta.name.clone(),
            prefix,
        });
    }
    Ok(format!("{prefix}-{}", meta.uid))
}

/// The run a Tekton record is, for storage on the run itself.
pub fn run_id(record: &Record) -> RunId {
    let (kind, meta) = match record {
        Record::TaskRun(tr) => (crate::kube::TektonKind::TaskRun, &tr.metadata),
        Record::PipelineRun { run, .. } => (crate::kube::TektonKind::PipelineRun, &run.metadata),
    };
    RunId {
        kind,
        name: meta.name.clone(),
        namespace: (!meta.namespace.is_empty()).then(|| meta.namespace.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{KeyFileSigner, PublicKey, Signature};

    /// A signer that refuses to sign the Statement (a KMS flake on one call).
    #[derive(Debug)]
    struct RefusesStatements(KeyFileSigner);

    #[async_trait::async_trait]
    impl Signer for RefusesStatements {
        async fn sign(&self, message: &[u8]) -> Result<Signature, signing::Error> {
            if message.starts_with(b"DSSEv1") && message.windows(6).any(|w| w == b"refuse") {
                return Err(signing::Error::Sign("refused".into()));
            }
            self.0.sign(message).await
        }

        fn public_key(&self) -> Option<&PublicKey> {
            self.0.public_key()
        }
    }

    /// A store that keeps image signatures and counts what it got.
    #[derive(Debug, Default)]
    struct Counting(std::sync::Mutex<(usize, usize)>);

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("counting")
        }
    }

    #[async_trait::async_trait]
    impl Storage for Counting {
        async fn store(&self, _: &Signed<'_>) -> Result<Vec<Stored>, storage::Error> {
            self.0.lock().expect("lock").0 += 1;
            Ok(Vec::new())
        }

        fn keeps_image_signatures(&self) -> bool {
            true
        }

        async fn store_image(&self, _: &SignedImage<'_>) -> Result<Vec<Stored>, storage::Error> {
            self.0.lock().expect("lock").1 += 1;
            Ok(Vec::new())
        }
    }

    async fn run_with(all_signed_or_nothing: bool) -> (Report, (usize, usize)) {
        let (key, _) = KeyFileSigner::generate().expect("key");
        let signer = RefusesStatements(key);
        let statement = Statement {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            subject: Vec::new(),
            predicate_type: "refuse".into(),
            predicate: serde_json::json!({}),
        };
        let image = crate::reference::DigestReference::parse(&format!(
            "reg.example/app@sha256:{}",
            "ab".repeat(32)
        ))
        .expect("reference");
        let store = Counting::default();
        let plan = Plan {
            attestation: Some(Attestation {
                key: "taskrun-u",
                statement: &statement,
                signer: &signer,
            }),
            images: Some(Images {
                payloads: vec![ImagePayload {
                    image,
                    payload: b"{}".to_vec(),
                }],
                signer: &signer,
            }),
            stores: vec![Store {
                storage: &store,
                attestation: true,
                images: true,
            }],
            rekor: None,
            timestamps: None,
            bundles: false,
            run: None,
            all_signed_or_nothing,
        };
        let report = run(plan).await;
        let counts = *store.0.lock().expect("lock");
        (report, counts)
    }

    /// `attest` (one signer for both parts) stores nothing when a part cannot be
    /// signed; the controller (Chains' independent artifact types) stores the other.
    #[tokio::test]
    async fn a_part_that_cannot_be_signed_stops_the_other_only_when_asked() {
        let (report, counts) = run_with(true).await;
        assert_eq!(
            counts,
            (0, 0),
            "stored although the attestation was not signed"
        );
        assert_eq!(report.failures.len(), 1);
        assert_eq!(
            (report.failures[0].part, report.failures[0].stage),
            (Part::Attestation, Stage::Signing)
        );
        assert_eq!(
            report.failures[0].to_string(),
            "signing the attestation failed"
        );

        let (report, counts) = run_with(false).await;
        assert_eq!(counts, (0, 1), "the image signature is stored on its own");
        assert_eq!(report.failures.len(), 1);
        assert!(!report.succeeded());
    }
}
