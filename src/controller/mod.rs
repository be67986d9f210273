//! `chainseal controller`: watch every TaskRun and PipelineRun and sign each one that
//! completes, as the Tekton Chains controller does — same `chains-config` keys, same
//! `signing-secrets` layout, same annotations — with bounded memory.
//!
//! * Watches hold no cache: each watch event is looked at and dropped; only the keys
//!   of runs that need work are queued ([`queue`]). Runs completing while the
//!   controller watches go before the backlog found at start-up.
//! * A worker re-reads the run, signs every enabled artifact type, stores it in every
//!   configured backend, and only then writes `chains.tekton.dev/signed: "true"`; a
//!   failure counts `chains.tekton.dev/retries` and, after Chains' maximum, writes
//!   `signed: "failed"` ([`reconcile`]).
//! * No finalizers by default: a run is signed when it completes; one deleted before
//!   that is not signed (Chains' finalizers deadlock with admission webhooks and block
//!   deletion). `CHAINSEAL_FINALIZERS=true` opts in ([`finalizers`]); runs being
//!   deleted with a Chains finalizer are released in every mode.
//! * The ConfigMap is watched; a change rebuilds the settings ([`settings`]), an
//!   invalid one is logged and the previous settings are kept.
//! * SIGTERM/SIGINT: the watches stop, workers finish the run they hold, then exit.
//!   A run interrupted mid-way has no `signed` annotation and is signed again on the
//!   next start.

// Everything here reads what runs, registries and the cluster return.
#![warn(clippy::indexing_slicing)]

pub mod chains_config;
pub mod credentials;
pub mod finalizers;
pub mod metrics;
pub mod queue;
pub mod reconcile;
pub mod settings;
pub mod tenant_keyless;
pub mod tenants;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;
use thiserror::Error;
use tracing::{error, info, warn};

use crate::env_vars::EnvVars;
use crate::kube::{Cluster, TektonKind};
use metrics::Metrics;
use queue::{Lane, Queue, RunKey};
use reconcile::{Outcome, SharedSettings};
use settings::Settings;
use tenants::SecretsData;

/// Why the controller could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster could not be reached or read.
    #[error(transparent)]
    Kube(#[from] crate::kube::Error),
    /// The settings are unusable.
    #[error(transparent)]
    Settings(#[from] settings::Error),
    /// The tenants ConfigMap is unusable.
    #[error(transparent)]
    Tenants(#[from] tenants::Error),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(String),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Namespaces to watch; empty: all.
    pub namespaces: Vec<String>,
    /// Where `chains-config` (and the leader Lease) live.
    pub config_namespace: String,
    /// Its name.
    pub config_name: String,
    /// The tenants ConfigMap's name (in the config namespace).
    pub tenants_name: String,
    /// Runs worked on at once.
    pub workers: usize,
    /// First retry delay (doubled per retry, at most 5 minutes).
    pub retry_backoff: Duration,
    /// How long one attempt at a run may take; after that it counts as failed.
    pub reconcile_timeout: Duration,
    /// Keys and registry access.
    pub env: settings::Environment,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; `None`: not served.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Leader election: `None` runs without it (one replica only).
    pub leader: Option<LeaderOptions>,
    /// Client-side limit on Kubernetes API requests: (per second, burst); 0: none.
    pub kube_api_rate: (f64, u32),
    /// Add Chains' finalizer to unfinished runs until they are handled.
    pub finalizers: bool,
}

/// Leader election through a `coordination.k8s.io/v1` Lease.
#[derive(Debug, Clone)]
pub struct LeaderOptions {
    /// The Lease's name (in the config namespace).
    pub lease_name: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a lease lasts without renewal, in seconds.
    pub duration_secs: u64,
}

/// Run until SIGTERM or SIGINT (or, with leader election, until the lease is lost).
pub async fn run(opts: Options) -> Result<(), Error> {
    let cluster = Cluster::connect(None)
        .await?
        .with_rate_limit(opts.kube_api_rate.0, opts.kube_api_rate.1);
    let metrics = Arc::new(Metrics::new());
    if let Some(addr) = opts.metrics_addr {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, m).await {
                error!(%addr, "cannot serve metrics: {e}");
            }
        });
    }
    let Some(leader) = &opts.leader else {
        metrics.leader.set(1);
        return lead(&cluster, &opts, metrics, shutdown_signal()).await;
    };
    let manager =
        kube_lease_manager::LeaseManagerBuilder::new(cluster.client(), &leader.lease_name)
            .with_namespace(&opts.config_namespace)
            .with_identity(&leader.identity)
            .with_duration(leader.duration_secs)
            .with_grace((leader.duration_secs / 3).max(1))
            .build()
            .await
            .map_err(|e| Error::Lease(e.to_string()))?;
    let (mut leading, task) = manager.watch().await;
    info!(
        identity = leader.identity,
        lease = leader.lease_name,
        "waiting for the lease"
    );
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    return Err(Error::Lease("the lease manager stopped".into()));
                }
            }
            () = &mut shutdown => {
                drop(leading);
                let _ = task.await;
                return Ok(());
            }
        }
    }
    info!(identity = leader.identity, "leading");
    metrics.leader.set(1);
    let lost = Arc::new(AtomicBool::new(false));
    let stop = {
        let lost = lost.clone();
        let mut leading = leading.clone();
        async move {
            let lease_lost = async {
                loop {
                    if leading.changed().await.is_err() || !*leading.borrow_and_update() {
                        break;
                    }
                }
            };
            tokio::select! {
                () = shutdown => {},
                () = lease_lost => lost.store(true, Ordering::Relaxed),
            }
        }
    };
    let result = lead(&cluster, &opts, metrics.clone(), stop).await;
    metrics.leader.set(0);
    // Dropping the channel makes the manager release the lease for the next replica.
    drop(leading);
    let _ = task.await;
    result?;
    if lost.load(Ordering::Relaxed) {
        return Err(Error::Lease(
            "lost the lease to another replica: stopped signing".into(),
        ));
    }
    Ok(())
}

/// Watch and sign until `stop` completes.
async fn lead(
    cluster: &Cluster,
    opts: &Options,
    metrics: Arc<Metrics>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let data = cluster
        .config_map(&opts.config_namespace, &opts.config_name)
        .await?;
    if data.is_none() {
        warn!(
            namespace = opts.config_namespace,
            name = opts.config_name,
            "no chains-config ConfigMap: using Chains' defaults"
        );
    }
    let mut inputs = Inputs {
        chains: data.unwrap_or_default(),
        tenants: match cluster
            .config_map(&opts.config_namespace, &opts.tenants_name)
            .await
        {
            Ok(data) => data.unwrap_or_default(),
            // The Role of an earlier version names chains-config only: no tenants.
            Err(crate::kube::Error::Forbidden { .. }) => {
                warn!(
                    "cannot read the tenants ConfigMap {} (RBAC): no tenants; grant get, list and watch on it (examples/controller/controller.yaml)",
                    opts.tenants_name
                );
                Default::default()
            }
            Err(e) => return Err(e.into()),
        },
        secrets: Default::default(),
    };
    let tenants = tenants::TenantsConfig::parse(&inputs.tenants)?;
    inputs.secrets = tenant_secrets(
        cluster,
        &opts.config_namespace,
        &tenants,
        &Default::default(),
    )
    .await;
    let tenancy = settings::Tenancy {
        config: &tenants,
        secrets: &inputs.secrets,
        controller_namespace: &opts.config_namespace,
    };
    let settings = Settings::build(&inputs.chains, &opts.env, tenancy).await?;
    log_settings(&settings);
    let shared: SharedSettings = Arc::new(tokio::sync::RwLock::new(Arc::new(settings)));
    let queue = Arc::new(Queue::default());

    let mut watches = Vec::new();
    let namespaces: Vec<Option<String>> = if opts.namespaces.is_empty() {
        vec![None]
    } else {
        opts.namespaces.iter().cloned().map(Some).collect()
    };
    let lists = Arc::new(ListsDone {
        left: std::sync::atomic::AtomicUsize::new(namespaces.len() * 2),
        metrics: metrics.clone(),
    });
    for ns in &namespaces {
        for kind in [TektonKind::TaskRun, TektonKind::PipelineRun] {
            watches.push(tokio::spawn(watch_runs(
                cluster.clone(),
                kind,
                ns.clone(),
                queue.clone(),
                lists.clone(),
                opts.finalizers,
            )));
        }
    }
    watches.push(tokio::spawn(watch_config(
        cluster.clone(),
        opts.clone(),
        shared.clone(),
        inputs,
    )));

    let count = opts.workers.max(1);
    metrics.workers.start(count, opts.reconcile_timeout);
    let worker = Worker {
        id: 0,
        cluster: cluster.clone(),
        shared: shared.clone(),
        queue: queue.clone(),
        metrics: metrics.clone(),
        backoff: opts.retry_backoff,
        deadline: opts.reconcile_timeout,
        finalizers: opts.finalizers,
    };
    let supervisor = tokio::spawn(supervise(worker, count));
    info!(
        workers = count,
        namespaces = ?opts.namespaces,
        "controller started"
    );

    stop.await;
    info!("stopping: finishing the runs in hand");
    for w in &watches {
        w.abort();
    }
    queue.close();
    let _ = tokio::time::timeout(Duration::from_secs(30), supervisor).await;
    info!("stopped");
    Ok(())
}

/// Counts the initial lists still running; the controller is ready when none is.
struct ListsDone {
    left: std::sync::atomic::AtomicUsize,
    metrics: Arc<Metrics>,
}

impl ListsDone {
    fn one_done(&self) {
        if self.left.fetch_sub(1, Ordering::Relaxed) == 1 {
            info!("initial lists done: ready");
            self.metrics.set_ready();
        }
    }
}

fn log_settings(s: &Settings) {
    info!(
        artifacts = s.artifacts.describe(),
        tenants = s.tenants.describe(),
        "settings"
    );
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Queue every run `kind` shows that needs a worker: finished and unhandled, or a
/// finalizer to add or release.
async fn watch_runs(
    cluster: Cluster,
    kind: TektonKind,
    namespace: Option<String>,
    queue: Arc<Queue>,
    lists: Arc<ListsDone>,
    with_finalizers: bool,
) {
    let mut listed = false;
    let api = cluster.runs(kind, namespace.as_deref());
    let paged = watcher::Config::default().page_size(crate::kube::replies::PAGE_SIZE);
    let mut events = watcher(api, paged).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let (obj, lane) = match event {
            Ok(watcher::Event::Apply(o)) => (o, Lane::Fresh),
            Ok(watcher::Event::InitApply(o)) => (o, Lane::Backlog),
            Ok(watcher::Event::InitDone) => {
                if !listed {
                    listed = true;
                    lists.one_done();
                }
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                warn!(resource = kind.plural(), "watch: {e}");
                continue;
            }
        };
        // A few fields decide; the object is not converted or kept.
        let signed = obj
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(&format!("{}signed", reconcile::PREFIX)))
            .map(String::as_str);
        let seen = finalizers::Seen {
            done: reconcile::status_done(obj.data.get("status")),
            handled: reconcile::signed_value_handled(signed),
            held: obj
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| finalizers::is_chains(f)),
            deleting: obj.metadata.deletion_timestamp.is_some(),
        };
        if seen.needs_work(with_finalizers) {
            let (Some(ns), Some(name)) = (obj.metadata.namespace, obj.metadata.name) else {
                continue;
            };
            queue.push(
                RunKey {
                    kind,
                    namespace: ns,
                    name,
                },
                lane,
            );
        }
    }
}

/// What the settings are made of: chains-config's data, the tenants ConfigMap's, and
/// the tenants' signing Secrets (key material: no `Debug`).
#[derive(Clone, Default, PartialEq, Eq)]
struct Inputs {
    chains: std::collections::BTreeMap<String, String>,
    tenants: std::collections::BTreeMap<String, String>,
    secrets: SecretsData,
}

/// How often the tenants' signing Secrets are read for a change.
const TENANT_SECRETS_EVERY: Duration = Duration::from_secs(5);

/// The tenants' signing Secrets, read from the config namespace.
async fn tenant_secrets(
    cluster: &Cluster,
    namespace: &str,
    tenants: &tenants::TenantsConfig,
    previous: &SecretsData,
) -> SecretsData {
    let mut out = std::collections::BTreeMap::new();
    for name in tenants.secrets() {
        let data = match cluster.secret(namespace, &name).await {
            Ok(data) => data,
            // A passing API error keeps what was read before (its tenant keeps
            // signing); only a Secret that is gone takes the signer away.
            Err(e) => {
                warn!(
                    "cannot read tenant signing Secret {namespace}/{name}: {}",
                    crate::error_text::joined(&e)
                );
                previous.get(&name).cloned().flatten()
            }
        };
        out.insert(name, data);
    }
    out
}

/// Watch chains-config and the tenants ConfigMap, and read the tenants' signing
/// Secrets every [`TENANT_SECRETS_EVERY`]; any change rebuilds the settings (an
/// invalid change is logged and the previous settings are kept).
async fn watch_config(cluster: Cluster, opts: Options, shared: SharedSettings, start: Inputs) {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(cluster.client(), &opts.config_namespace);
    let watch = |name: &str| {
        let named = watcher::Config::default().fields(&format!("metadata.name={name}"));
        watcher(api.clone(), named).default_backoff().boxed()
    };
    let mut chains_events = watch(&opts.config_name);
    let mut tenant_events = watch(&opts.tenants_name);
    // The Secrets were just read (at start): the first look is a period from now.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + TENANT_SECRETS_EVERY,
        TENANT_SECRETS_EVERY,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let data_of = |event: Option<
        Result<watcher::Event<k8s_openapi::api::core::v1::ConfigMap>, watcher::Error>,
    >,
                   what: &str| match event {
        Some(Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm))) => {
            Some(cm.data.unwrap_or_default())
        }
        Some(Ok(watcher::Event::Delete(_))) => Some(Default::default()),
        Some(Ok(_)) | None => None,
        Some(Err(e)) => {
            warn!("watch {what}: {e}");
            None
        }
    };
    let mut valid = tenants::TenantsConfig::parse(&start.tenants).unwrap_or_default();
    // The chains-config data the settings in use were built from.
    let mut good_chains = start.chains.clone();
    let mut seen = start;
    loop {
        let mut next = seen.clone();
        let mut ticked = false;
        tokio::select! {
            event = chains_events.next() => match event {
                None => {
                    // Not expected (the watcher retries by itself): start it again.
                    warn!("the watch of chains-config ended: watching again");
                    chains_events = watch(&opts.config_name);
                    continue;
                }
                event => match data_of(event, "chains-config") {
                    Some(data) => next.chains = data,
                    None => continue,
                },
            },
            event = tenant_events.next() => match event {
                None => {
                    warn!("the watch of the tenants ConfigMap ended: watching again");
                    tenant_events = watch(&opts.tenants_name);
                    continue;
                }
                event => match data_of(event, "the tenants ConfigMap") {
                    Some(data) => next.tenants = data,
                    None => continue,
                },
            },
            _ = tick.tick() => ticked = true,
        }
        // Parsed when it changed; an invalid one leaves the last valid tenants.
        if next.tenants != seen.tenants {
            match tenants::TenantsConfig::parse(&next.tenants) {
                Ok(t) => valid = t,
                Err(e) => error!(
                    "the tenants ConfigMap changed but is invalid, keeping the previous tenants: {e}"
                ),
            }
        }
        // The Secrets are read on the tick, or at once when the tenants changed.
        if ticked || next.tenants != seen.tenants {
            next.secrets =
                tenant_secrets(&cluster, &opts.config_namespace, &valid, &seen.secrets).await;
        }
        if next == seen {
            continue;
        }
        let tenants_changed = next.tenants != seen.tenants || next.secrets != seen.secrets;
        let chains_changed = next.chains != seen.chains;
        let what = if chains_changed {
            "chains-config"
        } else if next.tenants != seen.tenants {
            "the tenants ConfigMap"
        } else {
            "a tenant's signing Secret"
        };
        seen = next.clone();
        let tenancy = settings::Tenancy {
            config: &valid,
            secrets: &next.secrets,
            controller_namespace: &opts.config_namespace,
        };
        let built = match Settings::build(&next.chains, &opts.env, tenancy).await {
            Ok(s) => {
                good_chains = next.chains.clone();
                Ok(s)
            }
            Err(e) => {
                if chains_changed {
                    error!(
                        "chains-config changed but is invalid, keeping the previous settings: {e}"
                    );
                } else {
                    error!(
                        "{what} changed; chains-config is invalid, the previous one is kept: {e}"
                    );
                }
                // A tenants change (even one in the same pass) still applies, on the
                // chains-config in use; `seen` has it, so it is never looked at again.
                if !tenants_changed {
                    continue;
                }
                Settings::build(&good_chains, &opts.env, tenancy).await
            }
        };
        match built {
            Ok(s) => {
                info!("{what} changed: settings rebuilt");
                log_settings(&s);
                *shared.write().await = Arc::new(s);
            }
            Err(e) => error!("{what} changed but the settings cannot be rebuilt: {e}"),
        }
    }
}

/// A Kubernetes Event (`events.k8s.io/v1`, type Warning) on the run, so
/// `kubectl describe` shows why it is not signed. Failing to record it is only logged.
async fn event(
    recorder: &kube::runtime::events::Recorder,
    key: &RunKey,
    reason: &str,
    note: String,
) {
    use kube::runtime::events::{Event, EventType};
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("tekton.dev/v1".into()),
        kind: Some(key.kind.name().into()),
        name: Some(key.name.clone()),
        namespace: Some(key.namespace.clone()),
        ..Default::default()
    };
    // Event notes are limited to 1 kB.
    let note: String = note.chars().take(1000).collect();
    let ev = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note),
        action: "Sign".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, &reference).await {
        warn!(run = %key, "cannot record a Kubernetes Event: {e}");
    }
}

/// Run `count` workers; a worker that ends before the queue closes (a panic outside
/// its guarded attempts) is replaced. Returns once every worker has ended after the
/// queue closed.
async fn supervise(worker: Worker, count: usize) {
    let mut workers = tokio::task::JoinSet::new();
    let start = |workers: &mut tokio::task::JoinSet<usize>, id: usize| {
        let w = Worker {
            id,
            ..worker.clone()
        };
        workers.spawn(async move {
            // Run the worker in its own task so that a panic ends only it.
            let _ = tokio::spawn(work(w)).await;
            id
        });
    };
    for id in 0..count {
        start(&mut workers, id);
    }
    while let Some(ended) = workers.join_next().await {
        let Ok(id) = ended else { continue };
        if worker.queue.is_closed() {
            continue;
        }
        error!(
            worker = id,
            "a worker stopped unexpectedly: starting a new one"
        );
        worker.metrics.workers.busy(id, false);
        start(&mut workers, id);
    }
}

/// What a worker needs.
#[derive(Clone)]
struct Worker {
    id: usize,
    cluster: Cluster,
    shared: SharedSettings,
    queue: Arc<Queue>,
    metrics: Arc<Metrics>,
    backoff: Duration,
    deadline: Duration,
    finalizers: bool,
}

/// One guarded attempt at `key`: a panic or an attempt past `deadline` counts as a
/// failed attempt (the run's `retries` goes up, as for any failure), never as a dead
/// or stuck worker.
async fn attempt(
    w: &Worker,
    settings: &settings::Settings,
    key: &RunKey,
) -> (Outcome, Option<RunKey>) {
    use futures::FutureExt as _;
    let guarded = std::panic::AssertUnwindSafe(reconcile::reconcile(
        &w.cluster,
        settings,
        w.finalizers,
        &w.metrics,
        key,
    ))
    .catch_unwind();
    let why = match tokio::time::timeout(w.deadline, guarded).await {
        Ok(Ok(done)) => return done,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            error!(run = %key, "signing panicked: {what}");
            "internal error while signing (a chainseal bug: see the controller's log)".to_owned()
        }
        Err(_) => {
            warn!(run = %key, deadline = ?w.deadline, "the attempt took too long: abandoned");
            format!(
                "the attempt did not finish within {}s (`CHAINSEAL_RECONCILE_TIMEOUT`); a registry or service named by the run may be slow or stalling",
                w.deadline.as_secs()
            )
        }
    };
    (reconcile::count_failure(&w.cluster, key, why).await, None)
}

/// Take keys off the queue until it closes.
async fn work(w: Worker) {
    let recorder = kube::runtime::events::Recorder::new(
        w.cluster.client(),
        kube::runtime::events::Reporter {
            controller: "chainseal-controller".into(),
            instance: std::env::var(EnvVars::HOSTNAME).ok(),
        },
    );
    let (queue, metrics, backoff) = (&w.queue, &w.metrics, w.backoff);
    while let Some(key) = queue.pop().await {
        metrics
            .queue_depth
            .set(i64::try_from(queue.depth()).unwrap_or(i64::MAX));
        let settings = w.shared.read().await.clone();
        let started = std::time::Instant::now();
        metrics.workers.busy(w.id, true);
        let (outcome, parent) = attempt(&w, &settings, &key).await;
        metrics.workers.busy(w.id, false);
        metrics
            .kind(key.kind)
            .handling
            .observe(started.elapsed().as_secs_f64());
        queue.done(&key);
        let later = |delay: Duration, key: RunKey| {
            let queue = queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                queue.push(key, Lane::Backlog);
            });
        };
        match outcome {
            Outcome::Retry(n, why) => {
                event(
                    &recorder,
                    &key,
                    "SigningFailed",
                    format!("retry {n}: {why}"),
                )
                .await;
                later(
                    backoff
                        .saturating_mul(1 << n.min(16))
                        .min(Duration::from_secs(300)),
                    key,
                );
            }
            Outcome::Failed(why) => {
                event(
                    &recorder,
                    &key,
                    "MarkedFailed",
                    format!("gave up after {} retries: {why}", reconcile::MAX_RETRIES),
                )
                .await;
            }
            Outcome::Refused(why) => {
                event(&recorder, &key, "NotAllowed", why).await;
            }
            Outcome::Unmarkable(why) => {
                warn!(run = %key, "giving up: {why}");
                event(&recorder, &key, "MarkingFailed", format!("gave up: {why}")).await;
            }
            Outcome::Waiting => later(Duration::from_secs(5), key),
            Outcome::Unavailable(why) => {
                warn!(run = %key, "{why}");
                later(backoff, key);
            }
            Outcome::Signed | Outcome::Skipped(_) => {}
        }
        // A PipelineRun waiting for this TaskRun can go now.
        if let Some(parent) = parent {
            queue.push(parent, Lane::Fresh);
        }
    }
}
