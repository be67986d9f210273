//! One run, looked at once: sign what its configuration enables, store it everywhere,
//! then mark it — `chains.tekton.dev/signed: "true"` only when every signer and every
//! store succeeded; on failure `chains.tekton.dev/retries`, and `signed: "failed"`
//! after Chains' maximum.

use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::{debug, info, warn};

use super::finalizers;
use super::metrics::{ErrorType, KindMetrics, Metrics};
use super::queue::RunKey;
use super::settings::Settings;
use crate::kube::{Cluster, TektonKind};
use crate::pipeline;
use crate::provenance;
use crate::record::tekton;

/// The annotation prefix Chains uses.
pub const PREFIX: &str = "chains.tekton.dev/";
/// Chains' retry limit: `retries` counts 0..=3, the next failure marks `failed`.
pub const MAX_RETRIES: u32 = 3;

/// What became of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do (gone, not finished, already handled, not ours).
    Skipped(&'static str),
    /// Signed and stored everywhere; marked `signed: "true"`.
    Signed,
    /// A PipelineRun whose TaskRuns are not all handled yet: look again later.
    Waiting,
    /// Failed; `retries` now says `n`: look again later.
    Retry(u32, String),
    /// Failed for the last time: marked `signed: "failed"`.
    Failed(String),
    /// Refused at once (its tenant may not push where it asks): marked
    /// `signed: "failed"`, nothing signed or pushed.
    Refused(String),
    /// The cluster could not be read or written: look again later, nothing counted.
    Unavailable(String),
    /// Failed, and the API server refuses every mark on the run as invalid (its
    /// annotations are at Kubernetes' size limit): given up without a mark, since
    /// retrying could only fail the same way.
    Unmarkable(String),
}

/// Which stage failed, for the `*_signing_failures_total{error_type}` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Building the payload.
    PayloadCreation,
    /// Signing.
    Signing,
    /// Storing.
    Storage,
    /// Logging in the transparency log.
    Tlog,
}

impl Stage {
    /// Chains' label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::PayloadCreation => "payload_creation",
            Self::Signing => "signing",
            Self::Storage => "storage",
            Self::Tlog => "tlog",
        }
    }
}

/// A failure of one artifact type.
#[derive(Debug)]
pub struct Failure {
    /// The stage.
    pub stage: Stage,
    /// Why.
    pub message: String,
}

fn annotation<'a>(obj: &'a Value, name: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")?
        .get(format!("{PREFIX}{name}"))?
        .as_str()
}

/// Whether the run has finished: the record model's one definition (Chains' `IsDone()`);
/// failed runs are signed too.
pub use crate::record::tekton::model::{is_done, status_done};

/// Whether the run has been handled (`signed` is `true` or `failed`).
pub fn is_handled(obj: &Value) -> bool {
    signed_value_handled(annotation(obj, "signed"))
}

/// [`is_handled`] from the value of `chains.tekton.dev/signed` alone.
pub fn signed_value_handled(signed: Option<&str>) -> bool {
    matches!(signed, Some("true" | "failed"))
}

/// Look at `key` once; also returns the PipelineRun that owns a TaskRun just handled
/// (it may have been waiting for it).
///
/// With `finalizers`, an unfinished run gets Chains' finalizer and a handled one loses
/// it; in every mode a run being deleted is released ([`super::finalizers`]).
pub async fn reconcile(
    cluster: &Cluster,
    settings: &Settings,
    finalizers: bool,
    metrics: &Metrics,
    key: &RunKey,
) -> (Outcome, Option<RunKey>) {
    let (outcome, obj) = match look(cluster, settings, metrics, key).await {
        Ok((o, v)) => (o, Some(v)),
        Err(o) => (o, None),
    };
    let parent = match (&outcome, key.kind, &obj) {
        (
            Outcome::Signed | Outcome::Failed(_) | Outcome::Refused(_),
            TektonKind::TaskRun,
            Some(obj),
        ) => obj
            .pointer("/metadata/labels/tekton.dev~1pipelineRun")
            .and_then(Value::as_str)
            .map(|name| RunKey {
                kind: TektonKind::PipelineRun,
                namespace: key.namespace.clone(),
                name: name.to_owned(),
            }),
        _ => None,
    };
    let outcome = match &obj {
        Some(obj) => settle(cluster, finalizers, key, obj, outcome).await,
        None => outcome,
    };
    (outcome, parent)
}

/// Why an unfinished run was skipped (the one case a finalizer is added).
const NOT_FINISHED: &str = "not finished";

/// Add or release the finalizer `outcome` calls for, on the run as read (`obj`).
async fn settle(
    cluster: &Cluster,
    enabled: bool,
    key: &RunKey,
    obj: &Value,
    outcome: Outcome,
) -> Outcome {
    let held = finalizers::held(obj);
    let deleting = finalizers::deleting(obj);
    let release = match &outcome {
        Outcome::Skipped(why) if *why == NOT_FINISHED => deleting,
        Outcome::Signed
        | Outcome::Failed(_)
        | Outcome::Refused(_)
        | Outcome::Unmarkable(_)
        | Outcome::Skipped(_) => deleting || enabled,
        Outcome::Waiting | Outcome::Retry(..) | Outcome::Unavailable(_) => false,
    };
    if release && !held.is_empty() {
        return match cluster
            .remove_finalizers(key.kind, &key.namespace, &key.name, &held)
            .await
        {
            Ok(()) | Err(crate::kube::Error::NotFound { .. }) => {
                debug!(run = %key, "finalizer released");
                outcome
            }
            Err(e) => Outcome::Unavailable(format!(
                "releasing the finalizer: {}",
                crate::error_text::joined(&e)
            )),
        };
    }
    let add = enabled
        && held.is_empty()
        && !deleting
        && matches!(outcome, Outcome::Skipped(why) if why == NOT_FINISHED);
    if add {
        let name = finalizers::name(key.kind);
        match cluster
            .add_finalizer(
                key.kind,
                &key.namespace,
                &key.name,
                name,
                finalizers::FIELD_MANAGER,
            )
            .await
        {
            Ok(()) => debug!(run = %key, "finalizer added"),
            // Not worth a retry loop: the run is still signed when it finishes.
            Err(e) => warn!(
                run = %key,
                "cannot add the finalizer {name}: {}",
                crate::error_text::joined(&e)
            ),
        }
    }
    outcome
}

async fn look(
    cluster: &Cluster,
    settings: &Settings,
    metrics: &Metrics,
    key: &RunKey,
) -> Result<(Outcome, Value), Outcome> {
    // A fresh read: the watch event that queued the key may be stale, and another
    // replica or an earlier attempt may have handled it.
    let obj = match cluster.get(key.kind, &key.namespace, &key.name).await {
        Ok(o) => o,
        Err(crate::kube::Error::NotFound { .. }) => return Err(Outcome::Skipped("gone")),
        Err(e) => return Err(Outcome::Unavailable(crate::error_text::joined(&e))),
    };
    if is_handled(&obj) {
        return Ok((Outcome::Skipped("already handled"), obj));
    }
    let managed_by = obj.pointer("/spec/managedBy").and_then(Value::as_str);
    if !settings.chains.manages(managed_by) {
        return Ok((Outcome::Skipped("managed by another controller"), obj));
    }
    if !is_done(&obj) {
        return Ok((Outcome::Skipped(NOT_FINISHED), obj));
    }
    let mut values = vec![obj.clone()];
    if key.kind == TektonKind::PipelineRun {
        match children(cluster, &key.namespace, &obj).await {
            Ok(Some(kids)) => {
                // A TaskRun named in `childReferences` must be this PipelineRun's own
                // (its controlling ownerReference): otherwise the status and the
                // TaskRuns disagree, and another run's work would be attested.
                let uid = obj
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some(foreign) = kids.iter().find(|k| !tekton::api::owned_by(k, uid)) {
                    let name = foreign
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    let why = format!(
                        "payload_creation: the child TaskRun `{name}` is not owned by this PipelineRun (no controlling ownerReference to its uid): refusing to attest it"
                    );
                    warn!(run = %key, "{why}");
                    return Ok((retry(cluster, key, &obj, why, &Map::new()).await, obj));
                }
                values.extend(kids)
            }
            Ok(None) => return Ok((Outcome::Waiting, obj)),
            Err(Outcome::Unmarkable(why)) => {
                // The child can never be marked, so the PipelineRun would wait for
                // it forever: count a failure on the PipelineRun instead.
                warn!(run = %key, "{why}");
                return Ok((retry(cluster, key, &obj, why, &Map::new()).await, obj));
            }
            Err(Outcome::Skipped(why)) => return Ok((Outcome::Skipped(why), obj)),
            Err(outcome) => return Err(outcome),
        }
    }
    let counters = metrics.kind(key.kind);
    let upload = wants_tlog(settings, &obj);
    let mut tally = Tally::default();
    let stored =
        match sign_and_store(cluster, settings, counters, key, values, upload, &mut tally).await {
            Err(NotSigned::Refused(why)) => {
                warn!(run = %key, "{why}");
                let pairs = [("signed", "failed")];
                let outcome = mark(cluster, key, &pairs, &Map::new(), Outcome::Refused(why)).await;
                return Ok((outcome, obj));
            }
            Err(NotSigned::Failed(failures)) => Err(failures),
            Ok(notes) => Ok(notes),
        };
    let stored = stored
        .and_then(|mut notes| {
            // `tekton` storage and the mark in one patch: both land or neither does.
            notes.extend(tally.extra.clone());
            notes.insert(format!("{PREFIX}signed"), Value::String("true".into()));
            let size = crate::storage::tekton::merged_size(annotations_of(&obj), &notes);
            if size > crate::storage::tekton::ANNOTATIONS_LIMIT {
                record_error(counters, Stage::Storage);
                return Err(vec![Failure {
                    stage: Stage::Storage,
                    message: format!(
                        "`tekton` storage: the annotations would be {size} bytes, over Kubernetes' {} byte limit; store in `oci` instead",
                        crate::storage::tekton::ANNOTATIONS_LIMIT
                    ),
                }]);
            }
            Ok(notes)
        });
    // A failed write of the annotations is a storage failure like any other.
    let stored = match stored {
        Ok(notes) => cluster
            .annotate(key.kind, &key.namespace, &key.name, &notes)
            .await
            .map_err(|e| {
                record_error(counters, Stage::Storage);
                vec![Failure {
                    stage: Stage::Storage,
                    message: format!(
                        "writing the run's annotations: {}",
                        crate::error_text::joined(&e)
                    ),
                }]
            }),
        Err(failures) => Err(failures),
    };
    let outcome = match stored {
        Ok(()) => {
            info!(run = %key, "signed");
            counters.payload_stored.inc_by(tally.tekton_objects);
            counters.marked_signed.inc();
            if let Some(done) = obj
                .pointer("/status/completionTime")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            {
                let secs = jiff::Timestamp::now().duration_since(done).as_secs_f64();
                counters.completion_to_signed.observe(secs.max(0.0));
            }
            Outcome::Signed
        }
        Err(failures) => {
            // Counted where they happened (`record_error`).
            for f in &failures {
                warn!(run = %key, stage = f.stage.label(), "{}", f.message);
            }
            let why = failures
                .iter()
                .map(|f| format!("{}: {}", f.stage.label(), f.message))
                .collect::<Vec<_>>()
                .join("; ");
            retry(cluster, key, &obj, why, &tally.extra).await
        }
    };
    Ok((outcome, obj))
}

/// What an attempt leaves besides its outcome.
#[derive(Debug, Default)]
struct Tally {
    /// Annotations written with whatever mark ends the attempt (`signed` or
    /// `retries`/`failed`), as Chains' `extraAnnotations`: `transparency`, the entry of
    /// the last successful upload, so a `manual` run is not logged again on retry.
    extra: Map<String, Value>,
    /// Objects (the attestation, image signatures) kept by `tekton` storage: counted
    /// as stored once the patch with the `signed` mark lands.
    tekton_objects: u64,
}

impl Tally {
    /// One object logged in the transparency log as `entry`.
    fn uploaded(&mut self, counters: &KindMetrics, entry: &crate::transparency::LogEntry) {
        counters.payload_uploaded.inc();
        self.extra.insert(
            format!("{PREFIX}transparency"),
            Value::String(entry.location()),
        );
    }
}

/// Count a failure of the run's attestation in `*_signing_failures_total`, where it
/// happens (Chains' `recordError`: once per failed step, each failed store; image
/// signatures' failures are not counted).
fn record_error(counters: &KindMetrics, stage: Stage) {
    counters
        .failures
        .get_or_create(&ErrorType {
            error_type: stage.label().to_owned(),
        })
        .inc();
}

/// A PipelineRun's child TaskRuns, once every one is finished and handled;
/// `Ok(None)` to wait. A child that no longer exists ends the PipelineRun's turn
/// without signing it (as Chains does, so deleting a child never blocks anything); a
/// finished child that can never be marked (its annotations leave no room even for
/// `retries`, see [`Outcome::Unmarkable`]) is `Err(Outcome::Unmarkable)`, so the
/// PipelineRun fails instead of waiting for it forever.
async fn children(
    cluster: &Cluster,
    namespace: &str,
    run: &Value,
) -> Result<Option<Vec<Value>>, Outcome> {
    let refs = run
        .pointer("/status/childReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for r in refs.iter().filter(|r| r["kind"] == "TaskRun") {
        let Some(name) = r["name"].as_str() else {
            continue;
        };
        match cluster.get(TektonKind::TaskRun, namespace, name).await {
            Ok(child) if is_done(&child) && is_handled(&child) => out.push(child),
            Ok(child) if is_done(&child) && !markable(&child) => {
                return Err(Outcome::Unmarkable(format!(
                    "payload_creation: the child TaskRun `{name}` cannot be marked (its annotations are at Kubernetes' {} byte limit), so it will never be signed",
                    crate::storage::tekton::ANNOTATIONS_LIMIT
                )));
            }
            Ok(_) => {
                debug!(child = name, "waiting for the TaskRun to be signed");
                return Ok(None);
            }
            Err(crate::kube::Error::NotFound { .. }) => {
                return Err(Outcome::Skipped("a child TaskRun is gone"));
            }
            Err(e) => return Err(Outcome::Unavailable(crate::error_text::joined(&e))),
        }
    }
    Ok(Some(out))
}

/// `run`'s annotations (none: an empty map).
fn annotations_of(run: &Value) -> &Map<String, Value> {
    static NONE: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    run.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .unwrap_or(&NONE)
}

/// Whether `run` has room for the smallest mark (`retries: "0"`) under Kubernetes'
/// annotation limit.
fn markable(run: &Value) -> bool {
    let mut mark = Map::new();
    mark.insert(format!("{PREFIX}retries"), Value::String("0".into()));
    crate::storage::tekton::merged_size(annotations_of(run), &mark)
        <= crate::storage::tekton::ANNOTATIONS_LIMIT
}

/// Whether this run's signatures go to the transparency log: `transparency.enabled`
/// `true`, or `manual` and the run asks (`transparency-upload: "true"`) and has no
/// entry yet, as Chains decides.
fn wants_tlog(settings: &Settings, obj: &Value) -> bool {
    settings.rekor.is_some()
        && settings.chains.transparency.wants(
            annotation(obj, "transparency-upload"),
            annotation(obj, "transparency").is_some(),
        )
}

/// The stores of one artifact type, for `part`: its backends (each through the run's
/// own registry client when it has one: `own`), and `with_mark` when it also goes to
/// the run's annotations.
fn stores_of<'a>(
    artifact: &'a super::settings::ArtifactSettings,
    own: &'a [Option<Box<dyn crate::storage::Storage>>],
    with_mark: &'a crate::storage::tekton::WithMark,
    part: pipeline::Part,
) -> Vec<pipeline::Store<'a>> {
    let mark: Option<&'a dyn crate::storage::Storage> = artifact
        .tekton
        .then_some(with_mark as &dyn crate::storage::Storage);
    artifact
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            own.get(i)
                .and_then(Option::as_deref)
                .unwrap_or_else(|| b.as_ref())
        })
        .chain(mark)
        .map(|storage| pipeline::Store {
            storage,
            attestation: part == pipeline::Part::Attestation,
            images: part == pipeline::Part::Images,
        })
        .collect()
}

/// Each backend of `artifact` through `registry` (those that write to registries).
fn through(
    artifact: &super::settings::ArtifactSettings,
    registry: Option<&Arc<crate::oci::Registry>>,
) -> Vec<Option<Box<dyn crate::storage::Storage>>> {
    artifact
        .backends
        .iter()
        .map(|b| registry.and_then(|r| b.through(r)))
        .collect()
}

/// Why a run was not signed: failures (retried), or a refusal (final: the run is
/// marked failed at once).
enum NotSigned {
    Failed(Vec<Failure>),
    Refused(String),
}

impl From<Vec<Failure>> for NotSigned {
    fn from(f: Vec<Failure>) -> Self {
        Self::Failed(f)
    }
}

/// Why a run's tenant cannot be told.
enum Unknown {
    /// Two tenants select its namespace.
    Ambiguous(super::tenants::Ambiguous),
    /// Its namespace's labels cannot be read (RBAC, the API down): it is tried again.
    Unreadable(String),
}

/// The tenant of a run in `namespace`: the tenant that names it, else (tenants that
/// select namespaces by label) the one its labels match, read through the API once a
/// minute at most.
async fn tenant_of<'a>(
    cluster: &Cluster,
    tenants: &'a super::tenants::Tenants,
    namespace: &str,
) -> Result<Option<&'a Arc<super::tenants::Tenant>>, Unknown> {
    if !tenants.needs_labels(namespace) {
        return Ok(tenants.named(namespace));
    }
    let labels = match tenants.cached_labels(namespace) {
        Some(labels) => labels,
        None => {
            let labels = cluster
                .namespace_labels(namespace)
                .await
                .map_err(|e| {
                    Unknown::Unreadable(format!(
                        "reading namespace {namespace}'s labels, which decide its tenant: {}",
                        crate::error_text::joined(&e)
                    ))
                })?
                .unwrap_or_default();
            tenants.remember_labels(namespace, labels.clone());
            labels
        }
    };
    tenants.of(namespace, &labels).map_err(Unknown::Ambiguous)
}

/// The repositories the artifacts of a run would be pushed to that its tenant may not
/// push to, as a refusal; `None` when every one is allowed.
fn repository_refusal(
    tenant: &super::tenants::Tenant,
    pushes: &[(&super::settings::ArtifactSettings, Vec<String>)],
) -> Option<String> {
    let repositories: Vec<String> = pushes
        .iter()
        .flat_map(|(artifact, images)| {
            artifact
                .backends
                .iter()
                .flat_map(|b| b.repositories(images))
        })
        .collect();
    let refused: std::collections::BTreeSet<&str> =
        tenant.refused(&repositories).into_iter().collect();
    if refused.is_empty() {
        return None;
    }
    let allowed = match tenant.config.repositories.as_deref() {
        Some([]) | None => "none".to_owned(),
        Some(prefixes) => prefixes.join(", "),
    };
    Some(format!(
        "{} may not push to {} (allowed: {allowed}): nothing was signed or pushed",
        match tenant.config.namespaces.is_empty() && tenant.config.selector.is_empty() {
            true => "namespaces of no tenant".to_owned(),
            false => format!("tenant `{}`", tenant.config.name),
        },
        shown_list(&refused)
    ))
}

/// Names a run's results supplied, for a message: each escaped and cut
/// ([`crate::error_text::shown`]), at most 20 of them.
fn shown_list(names: &std::collections::BTreeSet<&str>) -> String {
    const MAX: usize = 20;
    let mut out: Vec<String> = names
        .iter()
        .take(MAX)
        .map(|n| crate::error_text::shown(n))
        .collect();
    if names.len() > MAX {
        out.push(format!("and {} more", names.len() - MAX));
    }
    out.join(", ")
}

/// Sign and store every enabled artifact type through the one pipeline; returns the
/// annotations `tekton` storage wants on the run (written with the `signed` mark).
#[allow(
    clippy::too_many_arguments,
    reason = "one attempt's context, passed down once"
)]
async fn sign_and_store(
    cluster: &Cluster,
    settings: &Settings,
    counters: &KindMetrics,
    key: &RunKey,
    values: Vec<Value>,
    upload: bool,
    tally: &mut Tally,
) -> Result<Map<String, Value>, NotSigned> {
    let fail = |stage, message: String| {
        record_error(counters, stage);
        vec![Failure { stage, message }]
    };
    let service_account = values
        .first()
        .map(super::credentials::service_account)
        .unwrap_or_default();
    let record = tekton::from_values("the Kubernetes API", values)
        .map_err(|e| fail(Stage::PayloadCreation, crate::error_text::joined(&e)))?;
    // The run's tenant signs (a namespace no tenant names: chains-config's signers).
    let tenant = match tenant_of(cluster, &settings.tenants, &key.namespace).await {
        Ok(t) => t,
        Err(Unknown::Ambiguous(why)) => {
            record_error(counters, Stage::Signing);
            return Err(NotSigned::Refused(why.to_string()));
        }
        Err(Unknown::Unreadable(why)) => return Err(fail(Stage::Signing, why).into()),
    };
    let tenant_signer = tenant.and_then(|t| t.signer.as_ref());
    // Stored as its tenant's `storage` says, else as chains-config says.
    let artifacts = match tenant.and_then(|t| t.storage.as_ref()) {
        None => &settings.artifacts,
        Some(Ok(own)) => own,
        Some(Err(why)) => return Err(fail(Stage::Storage, why.to_string()).into()),
    };
    let storage_key = pipeline::storage_key(&record)
        .map_err(|e| fail(Stage::PayloadCreation, crate::error_text::joined(&e)))?;
    let run = pipeline::run_id(&record);
    // Failures before the pipeline: of the attestation (counted, as Chains'
    // `recordError`) and of the image signatures (not counted).
    let mut failures = Vec::new();
    let artifact = match key.kind {
        TektonKind::TaskRun => artifacts.taskrun.as_ref(),
        TektonKind::PipelineRun => artifacts.pipelinerun.as_ref(),
    };
    // The payloads first: the repository policy is checked before any signer is
    // asked for anything (a keyless signer would get a certificate).
    let mut generated = None;
    if let Some(a) = artifact {
        match provenance::generate(&record, &settings.options(a.format)) {
            Ok(g) => generated = Some((a, g)),
            Err(e) => {
                record_error(counters, Stage::PayloadCreation);
                failures.push(Failure {
                    stage: Stage::PayloadCreation,
                    message: crate::error_text::joined(&e),
                });
            }
        }
    }
    // Image signatures: TaskRuns only (their results name the images).
    let oci = match key.kind {
        TektonKind::TaskRun => artifacts.oci.as_ref(),
        TektonKind::PipelineRun => None,
    };
    let payloads = match oci {
        Some(_) => crate::provenance::simplesigning::payloads(&record),
        None => Vec::new(),
    };
    // The repository policy (the run's tenant's, or that of namespaces no tenant
    // names), before anything is signed or pushed.
    if let Some(policy) = settings.tenants.policy_of(tenant) {
        let mut pushes = Vec::new();
        if let Some((a, g)) = &generated {
            let subjects = g
                .statement
                .subject
                .iter()
                .filter_map(|s| Some(format!("{}@sha256:{}", s.name, s.digest.get("sha256")?)))
                .collect();
            pushes.push((*a, subjects));
        }
        if let Some(oci) = oci {
            let signed = payloads
                .iter()
                .map(|p| format!("{}@{}", p.image.name(), p.image.digest()))
                .collect();
            pushes.push((oci, signed));
        }
        if let Some(why) = repository_refusal(policy, &pushes) {
            record_error(counters, Stage::Storage);
            return Err(NotSigned::Refused(why));
        }
    }
    let mut attestation = None;
    if let Some((a, g)) = generated {
        match tenant_signer
            .unwrap_or(&a.signer)
            .get_for(cluster, &key.namespace, &service_account)
            .await
        {
            Ok(signer) => attestation = Some((a, (g, signer))),
            Err(e) => {
                record_error(counters, Stage::Signing);
                failures.push(Failure {
                    stage: Stage::Signing,
                    message: crate::error_text::joined(&e),
                });
            }
        }
    }
    let mut images = None;
    if let Some(oci) = oci {
        match tenant_signer
            .unwrap_or(&oci.signer)
            .get_for(cluster, &key.namespace, &service_account)
            .await
        {
            Ok(signer) => images = Some((oci, signer)),
            Err(e) => failures.push(Failure {
                stage: Stage::Signing,
                message: crate::error_text::joined(&e),
            }),
        }
    }
    // Registries are written with the run's ServiceAccount's pull secrets first.
    let pushes_to_registries = |a: &super::settings::ArtifactSettings| {
        settings
            .registry
            .as_ref()
            .is_some_and(|r| a.backends.iter().any(|b| b.through(r).is_some()))
    };
    let needs_registry = attestation
        .as_ref()
        .is_some_and(|(a, _)| pushes_to_registries(a))
        || images
            .as_ref()
            .is_some_and(|(o, _)| pushes_to_registries(o));
    let run_registry = match (&settings.registry, needs_registry) {
        (Some(base), true) => match settings
            .registries
            .for_run(cluster, base, &key.namespace, &service_account)
            .await
        {
            Ok(r) if !Arc::ptr_eq(&r, base) => Some(r),
            Ok(_) => None,
            Err(e) => {
                failures.push(Failure {
                    stage: Stage::Storage,
                    message: format!(
                        "reading the pull secrets of ServiceAccount {}/{service_account}: {}",
                        key.namespace,
                        crate::error_text::joined(&e)
                    ),
                });
                record_error(counters, Stage::Storage);
                return Err(failures.into());
            }
        },
        _ => None,
    };
    let own_attestation = attestation
        .as_ref()
        .map(|(a, _)| through(a, run_registry.as_ref()))
        .unwrap_or_default();
    let own_images = images
        .as_ref()
        .map(|(o, _)| through(o, run_registry.as_ref()))
        .unwrap_or_default();
    let with_mark = crate::storage::tekton::WithMark::default();
    let mut stores = Vec::new();
    if let Some((a, _)) = &attestation {
        stores.extend(stores_of(
            a,
            &own_attestation,
            &with_mark,
            pipeline::Part::Attestation,
        ));
    }
    if let Some((oci, _)) = &images {
        stores.extend(stores_of(
            oci,
            &own_images,
            &with_mark,
            pipeline::Part::Images,
        ));
    }
    let plan = pipeline::Plan {
        attestation: attestation
            .as_ref()
            .map(|(_, (generated, signer))| pipeline::Attestation {
                key: &storage_key,
                statement: &generated.statement,
                signer: signer.as_ref(),
            }),
        images: images.as_ref().map(|(_, signer)| pipeline::Images {
            payloads,
            signer: signer.as_ref(),
        }),
        stores,
        rekor: settings.rekor.as_ref().filter(|_| upload),
        timestamps: settings.timestamps.as_ref(),
        bundles: settings.chains.oci_encoding == crate::storage::OciEncoding::SigstoreBundle,
        run: Some(&run),
        all_signed_or_nothing: false,
    };
    let report = pipeline::run(plan).await;
    counters.sign_created.inc_by(report.signatures);
    counters.payload_stored.inc_by(report.writes);
    tally.tekton_objects += report.deferred;
    for entry in report.entry.iter().chain(&report.image_entries) {
        tally.uploaded(counters, entry);
    }
    for f in &report.failures {
        let stage = match f.stage {
            // Chains' error types have no timestamp: a missing timestamp is a failure
            // to sign.
            pipeline::Stage::Signing | pipeline::Stage::Timestamp => Stage::Signing,
            pipeline::Stage::Storage => Stage::Storage,
            pipeline::Stage::Tlog => Stage::Tlog,
        };
        if f.part == pipeline::Part::Attestation {
            record_error(counters, stage);
        }
        failures.push(Failure {
            stage,
            message: crate::error_text::joined(f),
        });
    }
    if failures.is_empty() {
        Ok(with_mark.take())
    } else {
        if needs_registry && failures.iter().any(|f| f.stage == Stage::Storage) {
            // The pull secrets may have been added or rotated: read them again next time.
            settings.registries.forget(&key.namespace, &service_account);
        }
        Err(failures.into())
    }
}

/// Count a failed attempt that ended without its own bookkeeping (a panic, the
/// deadline): read the run again and count it as `retry` does.
pub async fn count_failure(cluster: &Cluster, key: &RunKey, why: String) -> Outcome {
    match cluster.get(key.kind, &key.namespace, &key.name).await {
        Ok(obj) if is_handled(&obj) => Outcome::Skipped("already handled"),
        Ok(obj) => retry(cluster, key, &obj, why, &Map::new()).await,
        Err(crate::kube::Error::NotFound { .. }) => Outcome::Skipped("gone"),
        Err(e) => Outcome::Unavailable(crate::error_text::joined(&e)),
    }
}

/// Count a failure: `retries` "0", "1", … up to [`MAX_RETRIES`], then `signed: failed`
/// written with `extra` (the attempt's log entry). A `retries` mark carries no log
/// entry: Chains writes it there (`HandleRetry`), and in `manual` mode its retry then
/// logs nothing, so what a retry stores (a new signature, with a keyless or KMS
/// signer; images whose upload failed) would never be logged. Here a retry logs again
/// (Rekor answers 409 with the existing entry for an identical signature).
async fn retry(
    cluster: &Cluster,
    key: &RunKey,
    obj: &Value,
    why: String,
    extra: &Map<String, Value>,
) -> Outcome {
    let next = match annotation(obj, "retries") {
        None | Some("") => Some(0),
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n < MAX_RETRIES => Some(n + 1),
            _ => None,
        },
    };
    match next {
        Some(n) => {
            let text = n.to_string();
            let pairs = [("retries", text.as_str())];
            mark(cluster, key, &pairs, &Map::new(), Outcome::Retry(n, why)).await
        }
        None => {
            let pairs = [("signed", "failed")];
            mark(cluster, key, &pairs, extra, Outcome::Failed(why)).await
        }
    }
}

/// Write the `chains.tekton.dev/` annotations `pairs` and `extra` in one patch.
async fn mark(
    cluster: &Cluster,
    key: &RunKey,
    pairs: &[(&str, &str)],
    extra: &Map<String, Value>,
    then: Outcome,
) -> Outcome {
    let map = mark_annotations(pairs, extra);
    match cluster
        .annotate(key.kind, &key.namespace, &key.name, &map)
        .await
    {
        Ok(()) => then,
        Err(e @ crate::kube::Error::Invalid { .. }) => {
            let why = match then {
                Outcome::Retry(_, why) | Outcome::Failed(why) | Outcome::Refused(why) => why,
                _ => String::new(),
            };
            Outcome::Unmarkable(format!("{why}; and the run cannot be marked: {e}"))
        }
        Err(e) => Outcome::Unavailable(crate::error_text::joined(&e)),
    }
}

/// The annotations of a mark: `extra` (already `chains.tekton.dev/` keys) and then
/// `pairs` (names under the prefix), which win.
fn mark_annotations(pairs: &[(&str, &str)], extra: &Map<String, Value>) -> Map<String, Value> {
    let mut map = extra.clone();
    for (k, v) in pairs {
        map.insert(format!("{PREFIX}{k}"), Value::String((*v).to_owned()));
    }
    map
}

/// Shared handle for settings swapped on a ConfigMap change.
pub type SharedSettings = Arc<tokio::sync::RwLock<Arc<Settings>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An attempt's uploads are counted one per object, the last entry is the one
    /// kept, and a mark carries it with its own annotation (which mark does is
    /// `retry`'s choice, covered by the controller tests).
    #[test]
    fn a_failed_attempt_marks_with_its_log_entry() {
        let entry = crate::transparency::LogEntry {
            url: "https://rekor.example/".into(),
            uuid: "u".into(),
            log_index: 7,
            log_id: String::new(),
            integrated_time: 0,
            body: String::new(),
            kind: "dsse".into(),
            version: "0.0.1".into(),
            signed_entry_timestamp: None,
            inclusion_proof: None,
        };
        let counters = Metrics::new();
        let counters = counters.kind(TektonKind::TaskRun);
        let mut tally = Tally::default();
        tally.uploaded(counters, &entry);
        tally.uploaded(
            counters,
            &crate::transparency::LogEntry {
                log_index: 9,
                ..entry.clone()
            },
        );
        assert_eq!(counters.payload_uploaded.get(), 2, "one per object logged");
        let map = mark_annotations(&[("signed", "failed")], &tally.extra);
        assert_eq!(
            map.get("chains.tekton.dev/transparency"),
            Some(&json!(
                "https://rekor.example/api/v1/log/entries?logIndex=9"
            )),
            "the last successful upload wins, as in Chains"
        );
        assert_eq!(map.get("chains.tekton.dev/signed"), Some(&json!("failed")));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn done_and_handled_read_the_run() {
        let run = |status: &str, signed: Option<&str>| {
            let mut v = json!({"metadata": {"annotations": {}}, "status": {"conditions": [{"type": "Succeeded", "status": status}]}});
            if let Some(s) = signed {
                v["metadata"]["annotations"]["chains.tekton.dev/signed"] = json!(s);
            }
            v
        };
        assert!(is_done(&run("True", None)));
        assert!(is_done(&run("False", None)), "failed runs are signed too");
        assert!(!is_done(&run("Unknown", None)));
        assert!(!is_done(&json!({})));
        assert!(is_handled(&run("True", Some("failed"))));
        assert!(!is_handled(&run("True", Some("false"))));
    }
}
