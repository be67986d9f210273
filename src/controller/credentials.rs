//! Registry credentials per run, as Tekton Chains finds them (k8schain): the pull
//! secrets of the run's ServiceAccount first, then the controller's own (mounted
//! docker config files, `CHAINSEAL_REGISTRY_AUTH_FILES`, `~/.docker/config.json`).
//!
//! A ServiceAccount's pull secrets are read through the API once per
//! [`FRESH_FOR`] (a rotated Secret is picked up without a restart) and again at once
//! after a push through them failed ([`RunRegistries::forget`]); at most [`MAX_CACHED`]
//! ServiceAccounts are remembered. Each ServiceAccount gets its own registry client
//! (its credentials and the tokens exchanged for them are never used for another).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kube::Cluster;
use crate::oci::Registry;

/// How long a ServiceAccount's pull secrets are used before they are read again.
pub const FRESH_FOR: Duration = Duration::from_secs(60);
/// How many ServiceAccounts' clients are remembered.
pub const MAX_CACHED: usize = 1024;

/// Whether the missing RBAC rule was logged.
static FORBIDDEN_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The ServiceAccount a run runs as: TaskRun `spec.serviceAccountName`, PipelineRun
/// `spec.taskRunTemplate.serviceAccountName`; `default` when it names none.
pub fn service_account(run: &Value) -> String {
    run.pointer("/spec/serviceAccountName")
        .or_else(|| run.pointer("/spec/taskRunTemplate/serviceAccountName"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_owned()
}

/// Each `(namespace, ServiceAccount)`'s client and when its pull secrets were read.
type Cache = HashMap<(String, String), (Arc<Registry>, Instant)>;

/// Registry clients per ServiceAccount.
#[derive(Debug, Default)]
pub struct RunRegistries {
    cached: std::sync::Mutex<Cache>,
}

impl RunRegistries {
    /// The client for runs of `namespace/service_account`: `base` with the
    /// ServiceAccount's pull secrets looked up first (`base` itself when it has none).
    pub async fn for_run(
        &self,
        cluster: &Cluster,
        base: &Arc<Registry>,
        namespace: &str,
        service_account: &str,
    ) -> Result<Arc<Registry>, crate::kube::Error> {
        let key = (namespace.to_owned(), service_account.to_owned());
        if let Some((registry, at)) = self.lock().get(&key)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(registry.clone());
        }
        let secrets = match cluster.pull_secrets(namespace, service_account).await {
            Ok(secrets) => secrets,
            // Without the RBAC rule (an upgrade that kept the old Role): the controller's
            // own credentials, as before pull secrets were read; said once.
            Err(crate::kube::Error::Forbidden { .. }) => {
                if !FORBIDDEN_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        "cannot read ServiceAccounts or Secrets (RBAC): runs push with the controller's own registry credentials only; grant `get` on serviceaccounts and secrets to use the runs' pull secrets (examples/controller/controller.yaml)"
                    );
                }
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let registry = if secrets.is_empty() {
            base.clone()
        } else {
            Arc::new(base.with_pull_secrets(secrets))
        };
        let mut cached = self.lock();
        if cached.len() >= MAX_CACHED {
            cached.retain(|_, (_, at)| at.elapsed() < FRESH_FOR);
            // Still full: the oldest goes (no clearing, so no one run flood evicts
            // every other ServiceAccount).
            while cached.len() >= MAX_CACHED {
                let Some(oldest) = cached
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                cached.remove(&oldest);
            }
        }
        cached.insert(key, (registry.clone(), Instant::now()));
        Ok(registry)
    }

    /// Read `namespace/service_account`'s pull secrets again next time (a push through
    /// them failed).
    pub fn forget(&self, namespace: &str, service_account: &str) {
        self.lock()
            .remove(&(namespace.to_owned(), service_account.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_name_their_service_account_as_tekton_does() {
        assert_eq!(
            service_account(&json!({"spec": {"serviceAccountName": "builder"}})),
            "builder"
        );
        assert_eq!(
            service_account(&json!({"spec": {"taskRunTemplate": {"serviceAccountName": "ci"}}})),
            "ci"
        );
        assert_eq!(service_account(&json!({"spec": {}})), "default");
        assert_eq!(
            service_account(&json!({"spec": {"serviceAccountName": ""}})),
            "default"
        );
    }
}
