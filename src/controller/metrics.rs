//! Prometheus metrics with Tekton Chains' names, and the `/metrics`, `/healthz` and
//! `/readyz` endpoints.
//!
//! Chains' counters (`watcher_{taskrun,pipelinerun}_sign_created_total`,
//! `_payload_uploaded_total`, `_payload_stored_total`, `_marked_signed_total`,
//! `_signing_failures_total{error_type}`), counted as Chains counts them (per signed
//! object, per upload, per object and backend; see [`KindMetrics`]), keep dashboards
//! working; chainseal adds the
//! queue depth, the time a run spends being handled, and the time from a run's
//! completion to its `signed` annotation.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::{info, warn};

use crate::kube::TektonKind;

/// `error_type` of the failure counters (Chains' values).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorType {
    /// `payload_creation`, `signing`, `storage`, `marshal_payload` or `tlog`.
    pub error_type: String,
}

/// One kind's counters.
pub struct KindMetrics {
    /// Payloads signed: the attestation and each image signature, at every attempt.
    pub sign_created: Counter,
    /// Transparency-log entries made: one per signed object logged.
    pub payload_uploaded: Counter,
    /// Stores that succeeded: one per object and backend (`tekton` once the patch
    /// with the `signed` mark lands).
    pub payload_stored: Counter,
    /// Runs marked `signed: "true"`.
    pub marked_signed: Counter,
    /// Failures of the run's attestation by stage, one per failed step or store; image
    /// signatures' failures are not counted (as in Chains).
    pub failures: Family<ErrorType, Counter>,
    /// Seconds from a run's `completionTime` to its `signed` annotation.
    pub completion_to_signed: Histogram,
    /// Seconds a worker spends on one run (every attempt).
    pub handling: Histogram,
}

impl KindMetrics {
    fn new() -> Self {
        Self {
            sign_created: Counter::default(),
            payload_uploaded: Counter::default(),
            payload_stored: Counter::default(),
            marked_signed: Counter::default(),
            failures: Family::default(),
            completion_to_signed: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            handling: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        }
    }
}

/// Every metric, and readiness.
pub struct Metrics {
    registry: Registry,
    taskrun: KindMetrics,
    pipelinerun: KindMetrics,
    /// Runs waiting in the queue.
    pub queue_depth: Gauge,
    /// Whether this replica leads (always 1 without leader election).
    pub leader: Gauge,
    ready: AtomicBool,
    /// When each worker started the attempt it is on, for `/healthz`.
    pub workers: Workers,
}

/// Each worker's current attempt, so `/healthz` can tell a stuck worker.
#[derive(Debug, Default)]
pub struct Workers {
    /// Per worker: when its attempt started; `None` while idle.
    started: std::sync::Mutex<Vec<Option<std::time::Instant>>>,
    /// The attempt deadline.
    deadline: std::sync::Mutex<std::time::Duration>,
}

/// How long past the deadline a worker may stay on an attempt before `/healthz`
/// fails (the deadline's own bookkeeping: marking the run, recording an Event).
const STUCK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

impl Workers {
    /// `count` workers with attempts bounded by `deadline`.
    pub fn start(&self, count: usize, deadline: std::time::Duration) {
        if let Ok(mut s) = self.started.lock() {
            *s = vec![None; count];
        }
        if let Ok(mut d) = self.deadline.lock() {
            *d = deadline;
        }
    }

    /// Worker `id` started (`true`) or finished an attempt.
    pub fn busy(&self, id: usize, busy: bool) {
        if let Ok(mut s) = self.started.lock()
            && let Some(slot) = s.get_mut(id)
        {
            *slot = busy.then(std::time::Instant::now);
        }
    }

    /// Workers on one attempt for longer than the deadline allows.
    pub fn stuck(&self) -> usize {
        let deadline = self.deadline.lock().map(|d| *d).unwrap_or_default();
        self.started
            .lock()
            .map(|s| {
                s.iter()
                    .flatten()
                    .filter(|t| t.elapsed() > deadline + STUCK_GRACE)
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let taskrun = KindMetrics::new();
        let pipelinerun = KindMetrics::new();
        for (kind, m) in [("taskrun", &taskrun), ("pipelinerun", &pipelinerun)] {
            let name = |what: &str| format!("watcher_{kind}_{what}");
            registry.register(
                name("sign_created"),
                "Payloads signed",
                m.sign_created.clone(),
            );
            registry.register(
                name("payload_uploaded"),
                "Payloads uploaded to the transparency log",
                m.payload_uploaded.clone(),
            );
            registry.register(
                name("payload_stored"),
                "Payloads stored",
                m.payload_stored.clone(),
            );
            registry.register(
                name("marked_signed"),
                "Runs marked signed",
                m.marked_signed.clone(),
            );
            registry.register(
                name("signing_failures"),
                "Failures to sign or store, by stage",
                m.failures.clone(),
            );
            registry.register(
                format!("chainseal_{kind}_completion_to_signed_seconds"),
                "Time from a run's completion to its signed annotation",
                m.completion_to_signed.clone(),
            );
            registry.register(
                format!("chainseal_{kind}_handling_seconds"),
                "Time a worker spends on one run",
                m.handling.clone(),
            );
        }
        let queue_depth = Gauge::default();
        registry.register(
            "chainseal_queue_depth",
            "Runs waiting to be handled",
            queue_depth.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "chainseal_leader",
            "1 while this replica leads",
            leader.clone(),
        );
        Self {
            registry,
            taskrun,
            pipelinerun,
            queue_depth,
            leader,
            ready: AtomicBool::new(false),
            workers: Workers::default(),
        }
    }

    /// The counters of `kind`.
    pub fn kind(&self, kind: TektonKind) -> &KindMetrics {
        match kind {
            TektonKind::TaskRun => &self.taskrun,
            TektonKind::PipelineRun => &self.pipelinerun,
        }
    }

    /// Mark the controller ready (the initial lists are done).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn respond(metrics: &Metrics, path: &str) -> hyper::Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" => match metrics.workers.stuck() {
            0 => (200, "text/plain", "ok\n".to_owned()),
            n => (
                503,
                "text/plain",
                format!("{n} worker(s) stuck on one run past the reconcile deadline\n"),
            ),
        },
        "/readyz" if metrics.ready.load(Ordering::Relaxed) => {
            (200, "text/plain", "ready\n".to_owned())
        }
        "/readyz" => (503, "text/plain", "initial lists not done\n".to_owned()),
        _ => (404, "text/plain", "not found\n".to_owned()),
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Serve the endpoints on `addr` until the task is dropped. The address bound is
/// logged: with port 0 (any free port) that says which port was chosen.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!("serving /metrics, /healthz, /readyz on {bound}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!("metrics listener: {e}");
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let response = respond(&metrics, req.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            // A client that never finishes its headers is dropped (slowloris).
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(io, service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (#18): `/healthz` stayed green while every worker was held by a
    /// stalling registry.
    #[test]
    fn healthz_fails_while_a_worker_is_stuck_past_the_deadline() {
        let m = Metrics::new();
        m.workers.start(2, std::time::Duration::ZERO);
        m.workers.busy(1, true);
        assert_eq!(respond(&m, "/healthz").status(), 200, "within the grace");
        if let Ok(mut s) = m.workers.started.lock() {
            s[1] = std::time::Instant::now().checked_sub(STUCK_GRACE * 2);
        }
        assert_eq!(respond(&m, "/healthz").status(), 503);
        m.workers.busy(1, false);
        assert_eq!(respond(&m, "/healthz").status(), 200);
    }

    #[test]
    fn chains_metric_names_are_exposed() {
        let m = Metrics::new();
        m.kind(TektonKind::TaskRun).sign_created.inc();
        m.kind(TektonKind::PipelineRun)
            .failures
            .get_or_create(&ErrorType {
                error_type: "storage".into(),
            })
            .inc();
        let text = m.encode();
        for name in [
            "watcher_taskrun_sign_created_total 1",
            "watcher_taskrun_payload_uploaded_total 0",
            "watcher_taskrun_payload_stored_total 0",
            "watcher_taskrun_marked_signed_total 0",
            "watcher_pipelinerun_signing_failures_total{error_type=\"storage\"} 1",
            "chainseal_queue_depth 0",
        ] {
            assert!(text.contains(name), "{name} missing in:\n{text}");
        }
        assert_eq!(respond(&m, "/readyz").status(), 503);
        m.set_ready();
        assert_eq!(respond(&m, "/readyz").status(), 200);
        assert_eq!(respond(&m, "/healthz").status(), 200);
        assert_eq!(respond(&m, "/nope").status(), 404);
    }
}
