//! Registry credentials per run, as Tekton Chains finds them (k8schain): the pull
//! secrets of the run's ServiceAccount first, then those of the controller's own
//! ServiceAccount (`CHAINSEAL_SERVICE_ACCOUNT`, default the pod's), then the
//! controller's mounted docker config files (`CHAINSEAL_REGISTRY_AUTH_FILES`,
//! `~/.docker/config.json`).
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

/// Where a pod's ServiceAccount token is mounted.
pub const POD_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A `CHAINSEAL_SERVICE_ACCOUNT` that is not `NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`CHAINSEAL_SERVICE_ACCOUNT` is `{}`: use NAMESPACE/NAME, e.g. tekton-chains/chainseal-controller", crate::error_text::shown(.0))]
pub struct BadServiceAccount(pub String);

/// The largest token file read.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// The controller's own ServiceAccount: `setting` (`NAMESPACE/NAME`), else the subject
/// (`system:serviceaccount:<namespace>:<name>`) of the pod's token at `token`, else
/// none (outside a cluster). The token's signature is not checked: it is the pod's
/// own, and it only names whose pull secrets to read through the API, which checks it.
pub fn own_service_account(
    setting: Option<&str>,
    token: &std::path::Path,
) -> Result<Option<(String, String)>, BadServiceAccount> {
    let split = |value: &str, sep: char| {
        value
            .split_once(sep)
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(sep))
            .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
    };
    if let Some(value) = crate::values::non_empty(setting) {
        return split(value.trim(), '/')
            .map(Some)
            .ok_or_else(|| BadServiceAccount(value.to_owned()));
    }
    let Ok(bytes) = crate::read_limited::read_at_most(token, MAX_TOKEN_BYTES) else {
        return Ok(None);
    };
    let subject = String::from_utf8(bytes)
        .ok()
        .and_then(|jwt| crate::oidc::unverified_claims(&jwt).ok())
        .and_then(|claims| claims.get("sub")?.as_str().map(str::to_owned));
    Ok(subject
        .as_deref()
        .and_then(|s| s.strip_prefix("system:serviceaccount:"))
        .and_then(|rest| split(rest, ':')))
}

/// Each `(namespace, ServiceAccount)`'s client and when its pull secrets were read.
type Cache = HashMap<(String, String), (Arc<Registry>, Instant)>;

/// Registry clients per ServiceAccount.
#[derive(Debug, Default)]
pub struct RunRegistries {
    cached: std::sync::Mutex<Cache>,
    /// The controller's own ServiceAccount, whose pull secrets follow each run's.
    own: Option<(String, String)>,
}

impl RunRegistries {
    /// Clients for runs, the pull secrets of `own` (the controller's ServiceAccount)
    /// tried after each run's.
    pub fn new(own: Option<(String, String)>) -> Self {
        Self {
            cached: std::sync::Mutex::default(),
            own,
        }
    }

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
        let mut secrets = read_pull_secrets(cluster, namespace, service_account).await?;
        if let Some((own_namespace, own_name)) = &self.own
            && (own_namespace, own_name) != (&key.0, &key.1)
        {
            secrets.extend(read_pull_secrets(cluster, own_namespace, own_name).await?);
        }
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

/// `namespace/service_account`'s pull secrets; none when the controller may not read
/// them.
async fn read_pull_secrets(
    cluster: &Cluster,
    namespace: &str,
    service_account: &str,
) -> Result<Vec<crate::oci::auth::PullSecret>, crate::kube::Error> {
    match cluster.pull_secrets(namespace, service_account).await {
        Ok(secrets) => Ok(secrets),
        // Without the RBAC rule (an upgrade that kept the old Role): the controller's
        // mounted credentials, as before pull secrets were read; said once.
        Err(crate::kube::Error::Forbidden { .. }) => {
            if !FORBIDDEN_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    "cannot read ServiceAccounts or Secrets (RBAC): runs push with the controller's mounted registry credentials only; grant `get` on serviceaccounts and secrets to use the pull secrets of the runs' and the controller's ServiceAccounts (examples/controller/controller.yaml)"
                );
            }
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_controller_s_service_account_is_the_setting_or_the_pod_token_s_subject() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().expect("tmp");
        let token = dir.path().join("token");
        let jwt = |claims: Value| {
            let part =
                |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("{}.{}.c2ln", part(&json!({"alg": "RS256"})), part(&claims))
        };
        let own = |setting: Option<&str>| own_service_account(setting, &token);
        assert_eq!(own(None), Ok(None), "no token: outside a cluster");
        std::fs::write(
            &token,
            jwt(json!({"sub": "system:serviceaccount:tekton-chains:chainseal-controller"})),
        )
        .expect("token");
        let pod = Some((
            "tekton-chains".to_owned(),
            "chainseal-controller".to_owned(),
        ));
        assert_eq!(own(None), Ok(pod.clone()));
        assert_eq!(own(Some("")), Ok(pod), "empty is unset");
        assert_eq!(
            own(Some("ops/signer")),
            Ok(Some(("ops".to_owned(), "signer".to_owned())))
        );
        for bad in ["signer", "ops/", "/signer", "a/b/c"] {
            let err = own(Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("NAMESPACE/NAME"), "{err}");
        }
        for claims in [json!({"sub": "user:alice"}), json!({"iss": "x"})] {
            std::fs::write(&token, jwt(claims)).expect("token");
            assert_eq!(own(None), Ok(None));
        }
        std::fs::write(&token, "not a jwt").expect("token");
        assert_eq!(own(None), Ok(None));
    }

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
