//! Kubernetes access shared by the Tekton record source, `tekton` storage and the
//! controller: client construction and the Tekton resources, with errors that name
//! the verb and resource and point at the RBAC example.
//!
//! The client is configured as kubectl is: `KUBECONFIG` (or `~/.kube/config`), else
//! the in-cluster service account (token and CA under
//! `/var/run/secrets/kubernetes.io/serviceaccount`). Every request has a 30 s timeout,
//! replies are capped and lists are read in pages ([`replies`]).

pub mod replies;

use std::time::Duration;

use ::kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::Value;
use thiserror::Error;

use crate::error_kind::Kind;

/// Where the least-privilege Role for the `finally` Task is.
pub const RBAC_EXAMPLE: &str = "examples/tekton/rbac.yaml";

/// Kubernetes errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable configuration.
    #[error(
        "no Kubernetes configuration (inside a pod the service account is used; elsewhere set `KUBECONFIG`)"
    )]
    Config(#[source] ::kube::config::InferConfigError),
    /// A configuration no client can be made from.
    #[error("cannot make a Kubernetes client from the configuration")]
    Client(#[source] ::kube::Error),
    /// The API refused: RBAC.
    #[error(
        "the Kubernetes API refused to {verb} {resource} `{name}` in namespace `{namespace}`: {message} (grant `{verb}` on `{resource}` to the service account; see {RBAC_EXAMPLE})"
    )]
    Forbidden {
        /// Verb.
        verb: &'static str,
        /// Resource, e.g. `pipelineruns.tekton.dev`.
        resource: String,
        /// Object name (or `*` for lists).
        name: String,
        /// Namespace.
        namespace: String,
        /// The API server's message.
        message: String,
    },
    /// The object does not exist.
    #[error("{resource} `{name}` not found in namespace `{namespace}`")]
    NotFound {
        /// Resource.
        resource: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
    },
    /// The API server found the request invalid (HTTP 422), e.g. annotations over
    /// its 256 KiB limit: the same request will never succeed.
    #[error(
        "Kubernetes API: {verb} {resource} `{name}` in namespace `{namespace}` failed: {message} (422)"
    )]
    Invalid {
        /// Verb.
        verb: &'static str,
        /// Resource.
        resource: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// The API server's message.
        message: String,
    },
    /// The API server answered with another error status.
    #[error(
        "Kubernetes API: {verb} {resource} `{name}` in namespace `{namespace}` failed: {message} ({code})"
    )]
    Status {
        /// Verb.
        verb: &'static str,
        /// Resource.
        resource: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// The HTTP status.
        code: u16,
        /// The API server's message.
        message: String,
    },
    /// The request got no answer (or one that could not be read).
    #[error("Kubernetes API: {verb} {resource} `{name}` in namespace `{namespace}` failed")]
    Request {
        /// Verb.
        verb: &'static str,
        /// Resource.
        resource: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// Cause.
        #[source]
        source: ::kube::Error,
    },
    /// A request chainseal gives up on (a reply or a list over its caps).
    #[error(
        "Kubernetes API: {verb} {resource} `{name}` in namespace `{namespace}` failed: {message}"
    )]
    Api {
        /// Verb.
        verb: &'static str,
        /// Resource.
        resource: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Config(_) | Self::Client(_) | Self::Invalid { .. } | Self::Api { .. } => {
                Kind::Invalid
            }
            Self::Forbidden { .. } => Kind::PermissionDenied,
            Self::NotFound { .. } => Kind::NotFound,
            Self::Status { code, .. } => Kind::from_http_status(*code),
            Self::Request { source, .. } => Kind::of_chain(source),
        }
    }
}

/// A run's kind: the Tekton kinds chainseal reads, attests and annotates. The one type
/// for it, from the record loader (files or the API) to storage and the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TektonKind {
    /// `tekton.dev/v1` TaskRun.
    TaskRun,
    /// `tekton.dev/v1` PipelineRun.
    PipelineRun,
}

impl TektonKind {
    fn resource(self) -> ApiResource {
        ApiResource::from_gvk(&GroupVersionKind::gvk("tekton.dev", "v1", self.name()))
    }

    /// The kind as Kubernetes writes it: `TaskRun` / `PipelineRun`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TaskRun => "TaskRun",
            Self::PipelineRun => "PipelineRun",
        }
    }

    /// The kind named `name` (`TaskRun` / `PipelineRun`), if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "TaskRun" => Some(Self::TaskRun),
            "PipelineRun" => Some(Self::PipelineRun),
            _ => None,
        }
    }

    /// The resource: `taskruns` / `pipelineruns`.
    pub fn resource_name(self) -> &'static str {
        match self {
            Self::TaskRun => "taskruns",
            Self::PipelineRun => "pipelineruns",
        }
    }

    /// `taskruns.tekton.dev` / `pipelineruns.tekton.dev`.
    pub fn plural(self) -> &'static str {
        match self {
            Self::TaskRun => "taskruns.tekton.dev",
            Self::PipelineRun => "pipelineruns.tekton.dev",
        }
    }
}

impl std::fmt::Display for TektonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// At most this many pull secrets of one ServiceAccount are read.
const MAX_PULL_SECRETS: usize = 16;

/// A Kubernetes client and the namespace to work in.
#[derive(Clone)]
pub struct Cluster {
    client: ::kube::Client,
    /// Client-side request rate limit (the controller's `--kube-api-qps`).
    limit: Option<std::sync::Arc<crate::rate_limit::RateLimit>>,
    /// The namespace given, else the client's default (the pod's, or the kubeconfig
    /// context's).
    pub namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connect as kubectl would; `namespace` overrides the default namespace.
    pub async fn connect(namespace: Option<&str>) -> Result<Self, Error> {
        let mut config = ::kube::Config::infer().await.map_err(Error::Config)?;
        config.read_timeout = Some(Duration::from_secs(30));
        config.connect_timeout = Some(Duration::from_secs(10));
        let namespace = namespace
            .map(str::to_owned)
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = ::kube::client::ClientBuilder::try_from(config)
            .map_err(Error::Client)?
            .with_layer(&replies::CapReplies)
            .build();
        Ok(Self {
            client,
            namespace,
            limit: None,
        })
    }

    /// The same client, sending at most `qps` requests per second (bursts of `burst`)
    /// through [`Cluster::get`], [`Cluster::annotate`] and the other one-shot calls;
    /// `qps` 0 means no limit. Watches are long-lived and not counted.
    pub fn with_rate_limit(mut self, qps: f64, burst: u32) -> Self {
        self.limit = crate::rate_limit::RateLimit::new(qps, burst).map(std::sync::Arc::new);
        self
    }

    async fn pace(&self) {
        if let Some(limit) = &self.limit {
            limit.acquire().await;
        }
    }

    /// The underlying client (for watches).
    pub fn client(&self) -> ::kube::Client {
        self.client.clone()
    }

    /// Runs of `kind` in `namespace`, or in every namespace when `None`.
    pub fn runs(&self, kind: TektonKind, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &kind.resource()),
            None => Api::all_with(self.client.clone(), &kind.resource()),
        }
    }

    /// Get one core (`v1`) object; `None` when it does not exist.
    async fn get_core<K>(&self, namespace: &str, name: &str) -> Result<Option<K>, Error>
    where
        K: ::kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as ::kube::Resource>::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        self.get_through(api, namespace, name).await
    }

    /// GET `name` through `api` (`namespace`: where it is, for messages).
    async fn get_through<K>(
        &self,
        api: Api<K>,
        namespace: &str,
        name: &str,
    ) -> Result<Option<K>, Error>
    where
        K: ::kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        <K as ::kube::Resource>::DynamicType: Default,
    {
        self.pace().await;
        api.get_opt(name).await.map_err(|e| {
            let resource = K::plural(&Default::default()).into_owned();
            error_for(e, "get", resource, name, namespace)
        })
    }

    /// The labels of the namespace `name`; `None` when it does not exist.
    pub async fn namespace_labels(
        &self,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, Error> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns = self.get_through(api, name, name).await?;
        Ok(ns.map(|ns| ns.metadata.labels.unwrap_or_default()))
    }

    /// The `data` of a Secret (decoded); `None` when it does not exist.
    pub async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, crate::secret::SecretBytes>>, Error> {
        let secret: Option<k8s_openapi::api::core::v1::Secret> =
            self.get_core(namespace, name).await?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, crate::secret::SecretBytes::new(v.0)))
                .collect()
        }))
    }

    /// The pull secrets of the ServiceAccount `namespace/name` (its
    /// `imagePullSecrets`, in order), as Chains' k8schain reads them: a missing
    /// ServiceAccount or Secret, or a Secret without docker credentials, is left out.
    pub async fn pull_secrets(
        &self,
        namespace: &str,
        service_account: &str,
    ) -> Result<Vec<crate::oci::auth::PullSecret>, Error> {
        let sa: Option<k8s_openapi::api::core::v1::ServiceAccount> =
            self.get_core(namespace, service_account).await?;
        let mut names: Vec<String> = Vec::new();
        for r in sa.and_then(|sa| sa.image_pull_secrets).unwrap_or_default() {
            if !r.name.is_empty() && !names.contains(&r.name) && names.len() < MAX_PULL_SECRETS {
                names.push(r.name);
            }
        }
        let mut out = Vec::new();
        for name in names {
            let Some(data) = self.secret(namespace, &name).await? else {
                tracing::warn!(
                    "ServiceAccount {namespace}/{service_account} names pull secret {name}, which does not exist"
                );
                continue;
            };
            match crate::oci::auth::PullSecret::from_secret_data(
                format!("{namespace}/{name}"),
                &data,
            ) {
                Some(secret) => out.push(secret),
                None => tracing::warn!(
                    "pull secret {namespace}/{name} holds no `.dockerconfigjson` or `.dockercfg` credentials"
                ),
            }
        }
        Ok(out)
    }

    /// The `data` of a ConfigMap; `None` when it does not exist.
    pub async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, Error> {
        let cm: Option<k8s_openapi::api::core::v1::ConfigMap> =
            self.get_core(namespace, name).await?;
        Ok(cm.map(|c| c.data.unwrap_or_default()))
    }

    fn api(&self, kind: TektonKind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &kind.resource())
    }

    fn error(
        &self,
        e: ::kube::Error,
        verb: &'static str,
        kind: TektonKind,
        name: &str,
        namespace: &str,
    ) -> Error {
        error_for(e, verb, kind.plural().to_owned(), name, namespace)
    }

    /// A token for the ServiceAccount `namespace/name` with `audience`, valid
    /// `seconds` (the API server may shorten it), through the TokenRequest API (`create`
    /// on `serviceaccounts/token`).
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        seconds: i64,
    ) -> Result<crate::secret::SecretString, Error> {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        self.pace().await;
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![audience.to_owned()],
                expiration_seconds: Some(seconds),
                ..Default::default()
            },
            ..Default::default()
        };
        let resource = "serviceaccounts/token";
        let answer = api
            .create_token_request(name, &::kube::api::PostParams::default(), &request)
            .await
            .map_err(|e| error_for(e, "create", resource.to_owned(), name, namespace))?;
        let token = answer.status.map(|s| s.token).unwrap_or_default();
        if token.is_empty() {
            return Err(Error::Api {
                verb: "create",
                resource: resource.to_owned(),
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                message: "the TokenRequest came back without a token".to_owned(),
            });
        }
        Ok(crate::secret::SecretString::new(token))
    }

    /// One run, as JSON.
    pub async fn get(&self, kind: TektonKind, namespace: &str, name: &str) -> Result<Value, Error> {
        self.pace().await;
        let obj = self
            .api(kind, namespace)
            .get(name)
            .await
            .map_err(|e| self.error(e, "get", kind, name, namespace))?;
        Ok(to_value(obj, kind))
    }

    /// The runs with `label_selector`, as JSON, read in pages of
    /// [`replies::PAGE_SIZE`]; more than [`replies::MAX_LISTED`] runs is an error.
    pub async fn list(
        &self,
        kind: TektonKind,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, Error> {
        let api = self.api(kind, namespace);
        let mut params = ListParams::default()
            .labels(label_selector)
            .limit(replies::PAGE_SIZE);
        let mut runs = Vec::new();
        loop {
            self.pace().await;
            let page = api
                .list(&params)
                .await
                .map_err(|e| self.error(e, "list", kind, "*", namespace))?;
            runs.extend(page.items.into_iter().map(|o| to_value(o, kind)));
            if runs.len() > replies::MAX_LISTED {
                return Err(Error::Api {
                    verb: "list",
                    resource: kind.plural().to_owned(),
                    name: "*".to_owned(),
                    namespace: namespace.to_owned(),
                    message: format!(
                        "more than {} match `{label_selector}`; chainseal reads at most that many",
                        replies::MAX_LISTED
                    ),
                });
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(runs),
            }
        }
    }

    /// Merge `annotations` into a run's annotations (a JSON merge patch).
    pub async fn annotate(
        &self,
        kind: TektonKind,
        namespace: &str,
        name: &str,
        annotations: &serde_json::Map<String, Value>,
    ) -> Result<(), Error> {
        self.pace().await;
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        self.api(kind, namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| self.error(e, "patch", kind, name, namespace))?;
        Ok(())
    }

    /// Add `finalizer` to a run by server-side apply under `manager` (as Chains adds
    /// its own), so other writers' finalizers are kept.
    pub async fn add_finalizer(
        &self,
        kind: TektonKind,
        namespace: &str,
        name: &str,
        finalizer: &str,
        manager: &str,
    ) -> Result<(), Error> {
        self.pace().await;
        let resource = kind.resource();
        let patch = serde_json::json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": name, "namespace": namespace, "finalizers": [finalizer]},
        });
        self.api(kind, namespace)
            .patch(
                name,
                &PatchParams::apply(manager).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|e| self.error(e, "patch", kind, name, namespace))?;
        Ok(())
    }

    /// Remove the finalizers at `positions` (index, name) from a run, each guarded by
    /// a `test` that it is still there, so a list changed meanwhile is never clobbered
    /// (the patch is then refused and the caller looks again).
    pub async fn remove_finalizers(
        &self,
        kind: TektonKind,
        namespace: &str,
        name: &str,
        positions: &[(usize, String)],
    ) -> Result<(), Error> {
        if positions.is_empty() {
            return Ok(());
        }
        self.pace().await;
        let mut sorted = positions.to_vec();
        // Highest index first, so earlier removals don't shift later ones.
        sorted.sort_by_key(|p| std::cmp::Reverse(p.0));
        let ops: Vec<Value> = sorted
            .iter()
            .flat_map(|(i, f)| {
                let path = format!("/metadata/finalizers/{i}");
                [
                    serde_json::json!({"op": "test", "path": path, "value": f}),
                    serde_json::json!({"op": "remove", "path": path}),
                ]
            })
            .collect();
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(ops)).map_err(|e| Error::Api {
                verb: "patch",
                resource: kind.plural().to_owned(),
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                message: format!("building the finalizer patch: {e}"),
            })?;
        self.api(kind, namespace)
            .patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
            .await
            .map_err(|e| self.error(e, "patch", kind, name, namespace))?;
        Ok(())
    }
}

/// A dynamic object as plain JSON with its `apiVersion` and `kind`.
fn to_value(obj: DynamicObject, kind: TektonKind) -> Value {
    let mut value = serde_json::to_value(&obj).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        let resource = kind.resource();
        map.insert("apiVersion".into(), resource.api_version.into());
        map.insert("kind".into(), resource.kind.into());
    }
    value
}

/// The error of a `verb` request for `resource` `namespace/name` that failed with `e`.
fn error_for(
    e: ::kube::Error,
    verb: &'static str,
    resource: String,
    name: &str,
    namespace: &str,
) -> Error {
    let (name, namespace) = (name.to_owned(), namespace.to_owned());
    match e {
        ::kube::Error::Api(status) if status.code == 403 => Error::Forbidden {
            verb,
            resource,
            name,
            namespace,
            message: status.message,
        },
        ::kube::Error::Api(status) if status.code == 404 => Error::NotFound {
            resource,
            name,
            namespace,
        },
        ::kube::Error::Api(status) if status.code == 422 => Error::Invalid {
            verb,
            resource,
            name,
            namespace,
            message: status.message,
        },
        ::kube::Error::Api(status) => Error::Status {
            verb,
            resource,
            name,
            namespace,
            code: status.code,
            message: status.message,
        },
        other if replies::too_large(&other) => Error::Api {
            verb,
            resource,
            name,
            namespace,
            message: format!(
                "the reply is larger than {} MiB, more than any one object or page can be",
                replies::MAX_REPLY_BYTES >> 20
            ),
        },
        source => Error::Request {
            verb,
            resource,
            name,
            namespace,
            source,
        },
    }
}
