//! Tenants: which signer signs each namespace's runs, and where its runs may push.
//!
//! The cluster admin writes a ConfigMap beside `chains-config` (`chainseal-tenants`,
//! `CHAINSEAL_TENANTS_CONFIG`), key `tenants.yaml`:
//!
//! ```yaml
//! tenants:
//!   - name: team-a
//!     namespaces: [team-a, team-a-ci]
//!     signer:
//!       secret: team-a-signing   # a Secret in the controller's namespace, laid out
//!                                # like signing-secrets (x509.pem, or cosign.key with
//!                                # cosign.password)
//!       # or kms: awskms:///alias/team-a   (chains-config's signers.kms.auth.* apply)
//!     repositories: [registry.example.com/team-a/]
//!     storage:                 # optional: chains-config's storage keys, over its own
//!       storage.oci.repository: registry.example.com/team-a/attestations
//!   - name: team-c
//!     namespaceSelector: {matchLabels: {team: c}}   # namespaces by label
//!     signer: {kms: awskms:///alias/team-c}
//!   - name: team-d
//!     namespaces: [team-d]
//!     signer: {keyless: true}   # each run as its own ServiceAccount (TokenRequest)
//! otherNamespaces:
//!   repositories: [registry.example.com/shared/]   # default: none
//! ```
//!
//! A namespace's tenant is the one that names it, else the one whose selector its
//! labels match (two matching: its runs are refused). A namespace's runs are signed
//! by its tenant's signer, and their attestations and
//! image signatures may go only to repositories under its tenant's prefixes; a run
//! naming another repository is refused before anything is signed or pushed. A
//! namespace no tenant names is signed as `chains-config` says, and, once any tenant
//! is configured, may push only under `otherNamespaces.repositories` (none by default:
//! a namespace outside every tenant must not write into a tenant's repositories with
//! the controller's own credentials). Nothing in a run or its namespace chooses a
//! signer: only this ConfigMap, which tenants cannot write.
//!
//! A tenant's `storage` holds chains-config keys that say where attestations and
//! signatures go ([`STORAGE_KEYS`]); its runs are stored as chains-config with those
//! keys set says (formats, signer kinds and registry options stay chains-config's).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use thiserror::Error;

use super::settings::{SignerError, SignerSlot};
use crate::signing::{self, Signer};

/// The ConfigMap key holding the tenants.
pub const DATA_KEY: &str = "tenants.yaml";

/// Why the tenants ConfigMap cannot be used (the previous settings are kept).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Not YAML of the expected shape.
    #[error("the tenants ConfigMap's `{DATA_KEY}` is not a tenant list: {0}")]
    Malformed(String),
    /// Something that is not a tenant definition.
    #[error("tenant `{tenant}`: {reason}")]
    Tenant {
        /// The tenant's name.
        tenant: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    tenants: Vec<TenantDoc>,
    other_namespaces: Option<OtherDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherDoc {
    #[serde(default)]
    repositories: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantDoc {
    name: String,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(rename = "namespaceSelector")]
    namespace_selector: Option<SelectorDoc>,
    signer: Option<SignerDoc>,
    repositories: Option<Vec<String>>,
    storage: Option<BTreeMap<String, String>>,
}

/// The chains-config keys a tenant's `storage` may set: where each artifact type is
/// stored and where each backend is.
pub const STORAGE_KEYS: &[&str] = &[
    "artifacts.taskrun.storage",
    "artifacts.pipelinerun.storage",
    "artifacts.oci.storage",
    "storage.oci.repository",
    "storage.gcs.bucket",
    "storage.docdb.url",
    "storage.grafeas.projectid",
    "storage.archivista.url",
];

/// A tenant's chains-config storage keys (empty: chains-config's storage). Its
/// `Debug` shows the keys only: `storage.docdb.url` may hold a password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StorageKeys(pub BTreeMap<String, String>);

impl std::fmt::Debug for StorageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A label selector; `matchExpressions` is refused as an unknown field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectorDoc {
    #[serde(rename = "matchLabels")]
    match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerDoc {
    secret: Option<String>,
    kms: Option<String>,
    #[serde(default)]
    keyless: bool,
}

/// Which signer a tenant has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerChoice {
    /// A Secret in the controller's namespace, laid out like `signing-secrets`.
    Secret(String),
    /// A KMS key (parsed from its URI).
    Kms(signing::KeyRef),
    /// Keyless, as each run's own ServiceAccount (a token from the TokenRequest API).
    Keyless,
}

/// One tenant, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// Its name.
    pub name: String,
    /// Its namespaces, by name.
    pub namespaces: BTreeSet<String>,
    /// Its namespaces, by label: each of these labels, with these values (empty:
    /// none by label).
    pub selector: BTreeMap<String, String>,
    /// Its signer (`None`: chains-config's).
    pub signer: Option<SignerChoice>,
    /// The repository prefixes (`<registry>/<path>`) its runs may push to (`None`:
    /// anywhere the credentials reach).
    pub repositories: Option<Vec<String>>,
    /// Its storage keys, set over chains-config's.
    pub storage: StorageKeys,
}

/// Every tenant, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantsConfig {
    /// The tenants, in order.
    pub tenants: Vec<TenantConfig>,
    /// Where runs of namespaces no tenant names may push (when there are tenants).
    pub other_repositories: Vec<String>,
}

impl TenantsConfig {
    /// Parse the ConfigMap's data (no `tenants.yaml`, or no ConfigMap: no tenants).
    pub fn parse(data: &BTreeMap<String, String>) -> Result<Self, Error> {
        let Some(text) = data.get(DATA_KEY).filter(|t| !t.trim().is_empty()) else {
            return Ok(Self::default());
        };
        // No source snippet in the error, and any `scheme://user:password@` in its
        // words redacted: a tenant's `storage.docdb.url` may hold a password.
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        let doc: Document = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| Error::Malformed(crate::secret::without_password(&e.to_string())))?;
        let mut seen_ns: BTreeMap<String, String> = BTreeMap::new();
        let mut names = BTreeSet::new();
        let mut tenants = Vec::new();
        for t in doc.tenants {
            let bad = |reason: String| Error::Tenant {
                tenant: t.name.clone(),
                reason,
            };
            if t.name.trim().is_empty() || !names.insert(t.name.clone()) {
                return Err(bad("every tenant needs a name of its own".into()));
            }
            let selector = match t.namespace_selector {
                Some(s) if s.match_labels.is_empty() => {
                    return Err(bad(
                        "its `namespaceSelector` has no `matchLabels`: it would select every namespace".into(),
                    ));
                }
                Some(s) => s.match_labels,
                None => BTreeMap::new(),
            };
            if t.namespaces.is_empty() && selector.is_empty() {
                return Err(bad(
                    "it names no namespace (`namespaces`, or `namespaceSelector.matchLabels`)"
                        .into(),
                ));
            }
            for ns in &t.namespaces {
                if let Some(other) = seen_ns.insert(ns.clone(), t.name.clone()) {
                    return Err(bad(format!(
                        "namespace `{ns}` is also tenant `{other}`'s: a namespace has one tenant"
                    )));
                }
            }
            let signer = match t.signer {
                None => None,
                Some(SignerDoc {
                    secret: Some(s),
                    kms: None,
                    keyless: false,
                }) if !s.trim().is_empty() => Some(SignerChoice::Secret(s.trim().to_owned())),
                Some(SignerDoc {
                    secret: None,
                    kms: Some(k),
                    keyless: false,
                }) => {
                    let key = signing::KeyRef::parse(k.trim())
                        .map_err(|e| bad(format!("signer `kms`: {e}")))?;
                    Some(SignerChoice::Kms(key))
                }
                Some(SignerDoc {
                    secret: None,
                    kms: None,
                    keyless: true,
                }) => Some(SignerChoice::Keyless),
                Some(_) => {
                    return Err(bad(
                        "its signer names exactly one of `secret`, `kms` or `keyless: true`".into(),
                    ));
                }
            };
            let repositories = match t.repositories {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .map(|r| repository_prefix(r).map_err(&bad))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            let storage = storage_keys(t.storage.unwrap_or_default(), repositories.as_deref())
                .map_err(bad)?;
            tenants.push(TenantConfig {
                name: t.name,
                namespaces: t.namespaces.into_iter().collect(),
                selector,
                signer,
                repositories,
                storage,
            });
        }
        let other_repositories = doc
            .other_namespaces
            .map(|o| o.repositories)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                repository_prefix(r)
                    .map_err(|why| Error::Malformed(format!("otherNamespaces: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tenants,
            other_repositories,
        })
    }

    /// The Secrets (in the controller's namespace) tenants sign with.
    pub fn secrets(&self) -> BTreeSet<String> {
        self.tenants
            .iter()
            .filter_map(|t| match &t.signer {
                Some(SignerChoice::Secret(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A tenant's `storage`: only [`STORAGE_KEYS`], each with a value, and a
/// `storage.oci.repository` under the tenant's `repositories` (its runs could
/// otherwise never be stored).
fn storage_keys(
    keys: BTreeMap<String, String>,
    repositories: Option<&[String]>,
) -> Result<StorageKeys, String> {
    let mut out = BTreeMap::new();
    for (key, value) in keys {
        let key = key.trim().to_owned();
        if !STORAGE_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "its `storage` sets `{}`: a tenant's storage sets only {}",
                crate::error_text::shown(&key),
                STORAGE_KEYS.join(", ")
            ));
        }
        let value = value.trim().to_owned();
        // `""` turns an artifact type off, or (`storage.oci.repository`) stores beside
        // each image; the other keys need a place.
        if value.is_empty() && !key.starts_with("artifacts.") && key != "storage.oci.repository" {
            return Err(format!("its `storage` sets `{key}` to nothing"));
        }
        if key == "storage.oci.repository"
            && !value.is_empty()
            && let Some(prefixes) = repositories
            && !prefixes.iter().any(|p| allowed(&value, p))
        {
            return Err(format!(
                "its `storage.oci.repository` `{}` is not under its `repositories` ({}): its runs could never be stored",
                crate::error_text::shown(&value),
                prefixes.join(", ")
            ));
        }
        out.insert(key, value);
    }
    Ok(StorageKeys(out))
}

/// A repository prefix as compared: `registry.example.com/team-a/` (host lower-cased,
/// scheme refused, at least a host and one path segment).
fn repository_prefix(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.contains("://") || t.contains('@') || t.contains(char::is_whitespace) {
        return Err(format!(
            "repository prefix `{t}`: write `<registry>/<path>`, without a scheme or digest"
        ));
    }
    let (host, path) = t.split_once('/').unwrap_or((t, ""));
    if host.is_empty() || path.trim_matches('/').is_empty() {
        return Err(format!(
            "repository prefix `{t}`: name a registry and a path (`registry.example.com/team-a/`), not a whole registry"
        ));
    }
    Ok(format!("{}/{path}", registry_host(host)))
}

/// A registry host as compared: lower-cased, Docker Hub's names made one.
fn registry_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

/// Whether `repository` (`<registry>/<repository>`) is under `prefix`: the same
/// registry, and the prefix's path is a whole leading part of the repository's path
/// (`team-a/` or `team-a` allows `team-a/app`, not `team-ab/app`).
pub fn allowed(repository: &str, prefix: &str) -> bool {
    let (r_host, r_path) = repository.split_once('/').unwrap_or((repository, ""));
    let (p_host, p_path) = prefix.split_once('/').unwrap_or((prefix, ""));
    if registry_host(r_host) != registry_host(p_host) || r_path.is_empty() {
        return false;
    }
    let p_path = p_path.trim_end_matches('/');
    r_path == p_path
        || r_path
            .strip_prefix(p_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A tenant with its signer made.
pub struct Tenant {
    /// As configured.
    pub config: TenantConfig,
    /// Its signer (`None`: chains-config's).
    pub signer: Option<SignerSlot>,
    /// Where its runs are stored when its `storage` sets keys (`None`: as
    /// chains-config says), or why they cannot be (its runs fail with this).
    pub storage: Option<Result<super::settings::Artifacts, Arc<str>>>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Tenant {
    /// The repositories among `repositories` this tenant may not push to.
    pub fn refused<'a>(&self, repositories: &'a [String]) -> Vec<&'a str> {
        let Some(prefixes) = &self.config.repositories else {
            return Vec::new();
        };
        repositories
            .iter()
            .filter(|r| !prefixes.iter().any(|p| allowed(r, p)))
            .map(String::as_str)
            .collect()
    }
}

/// How long a namespace's labels are used before they are read again.
pub const LABELS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// How many namespaces' labels are remembered.
const MAX_LABELS_CACHED: usize = 4096;

/// Namespaces' labels, as read, and when.
type LabelCache = std::sync::Mutex<
    std::collections::HashMap<String, (BTreeMap<String, String>, std::time::Instant)>,
>;

/// Every tenant, by namespace name and by namespace labels.
#[derive(Debug, Default)]
pub struct Tenants {
    by_namespace: BTreeMap<String, Arc<Tenant>>,
    /// Tenants that select namespaces by label, in order.
    by_labels: Vec<Arc<Tenant>>,
    /// The policy of namespaces no tenant names (when there are tenants).
    others: Option<Arc<Tenant>>,
    /// Namespaces' labels, read through the API (only when tenants select by label).
    labels: LabelCache,
}

/// A namespace more than one tenant selects by label: its runs are refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("namespace `{namespace}` has the labels of tenants {}: a namespace has one tenant; make the tenants' `namespaceSelector`s exclusive, or name the namespace in one tenant's `namespaces`", .tenants.join(", "))]
pub struct Ambiguous {
    /// The namespace.
    pub namespace: String,
    /// The tenants whose selectors match it, quoted.
    pub tenants: Vec<String>,
}

impl Tenants {
    /// The tenant that names `namespace`, if any (label selectors aside).
    pub fn named(&self, namespace: &str) -> Option<&Arc<Tenant>> {
        self.by_namespace.get(namespace)
    }

    /// Whether `namespace`'s labels decide its tenant: no tenant names it and some
    /// tenant selects by label.
    pub fn needs_labels(&self, namespace: &str) -> bool {
        !self.by_labels.is_empty() && !self.by_namespace.contains_key(namespace)
    }

    /// The tenant of `namespace` with `labels`: the one that names it, else the one
    /// whose selector its labels match; two or more matching is [`Ambiguous`].
    pub fn of(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Option<&Arc<Tenant>>, Ambiguous> {
        if let Some(t) = self.by_namespace.get(namespace) {
            return Ok(Some(t));
        }
        let matching: Vec<&Arc<Tenant>> = self
            .by_labels
            .iter()
            .filter(|t| {
                t.config
                    .selector
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        match matching.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(Ambiguous {
                namespace: namespace.to_owned(),
                tenants: many
                    .iter()
                    .map(|t| format!("`{}`", t.config.name))
                    .collect(),
            }),
        }
    }

    /// The repository policy of a namespace whose tenant is `tenant`: its tenant's,
    /// or (when there are tenants) the one of namespaces no tenant names.
    pub fn policy_of<'a>(&'a self, tenant: Option<&'a Arc<Tenant>>) -> Option<&'a Arc<Tenant>> {
        tenant.or(self.others.as_ref())
    }

    /// `namespace`'s labels as read less than [`LABELS_FRESH_FOR`] ago.
    pub fn cached_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        let cache = self
            .labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(namespace)
            .filter(|(_, at)| at.elapsed() < LABELS_FRESH_FOR)
            .map(|(labels, _)| labels.clone())
    }

    /// Remember `namespace`'s `labels`, just read.
    pub fn remember_labels(&self, namespace: &str, labels: BTreeMap<String, String>) {
        let mut cache = self
            .labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_LABELS_CACHED {
            cache.retain(|_, (_, at)| at.elapsed() < LABELS_FRESH_FOR);
            if cache.len() >= MAX_LABELS_CACHED {
                cache.clear();
            }
        }
        cache.insert(namespace.to_owned(), (labels, std::time::Instant::now()));
    }

    /// `none`, or each tenant with its namespaces, for the settings log.
    pub fn describe(&self) -> String {
        let mut by_tenant: BTreeMap<&str, (&Tenant, Vec<String>)> = BTreeMap::new();
        for (ns, t) in &self.by_namespace {
            (by_tenant.entry(t.config.name.as_str()))
                .or_insert((t, Vec::new()))
                .1
                .push(ns.clone());
        }
        for t in &self.by_labels {
            let labels: Vec<String> = (t.config.selector.iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (by_tenant.entry(t.config.name.as_str()))
                .or_insert((t, Vec::new()))
                .1
                .push(format!("labels {}", labels.join(",")));
        }
        if by_tenant.is_empty() {
            return "none".to_owned();
        }
        by_tenant
            .iter()
            .map(|(name, (t, ns))| {
                let storage = match &t.storage {
                    None => String::new(),
                    Some(Ok(a)) => format!(" storage {}", a.describe()),
                    Some(Err(_)) => " storage unusable".to_owned(),
                };
                format!("{name} ({}){storage}", ns.join(","))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Make each tenant's signer: `secret` from `secrets` (the named Secrets' data,
    /// read from the controller's namespace), `kms` with `kms` (chains-config's KMS
    /// options), `keyless` certified by the Fulcio at `fulcio_url`; `storage` holds
    /// the storage made for tenants whose `storage` sets keys, by tenant name.
    pub fn make(
        config: &TenantsConfig,
        secrets: &SecretsData,
        kms: &signing::KmsOptions,
        controller_namespace: &str,
        fulcio_url: &str,
        mut storage: BTreeMap<String, Result<super::settings::Artifacts, Arc<str>>>,
    ) -> Self {
        let mut by_namespace = BTreeMap::new();
        let mut by_labels = Vec::new();
        let others = (!config.tenants.is_empty()).then(|| {
            Arc::new(Tenant {
                config: TenantConfig {
                    name: "(namespaces of no tenant)".to_owned(),
                    namespaces: BTreeSet::new(),
                    selector: BTreeMap::new(),
                    signer: None,
                    repositories: Some(config.other_repositories.clone()),
                    storage: StorageKeys::default(),
                },
                signer: None,
                storage: None,
            })
        });
        for t in &config.tenants {
            let signer = t.signer.as_ref().map(|choice| match choice {
                SignerChoice::Secret(name) => {
                    let shown = format!("{controller_namespace}/{name}");
                    match secrets.get(name).and_then(Option::as_ref) {
                        None => failed(
                            &t.name,
                            format!("its signing Secret {shown} does not exist or cannot be read"),
                        ),
                        Some(data) => match key_from_secret(&shown, data) {
                            Ok(signer) => SignerSlot::Fixed(signer),
                            Err(e) => failed(&t.name, crate::error_text::joined(&e)),
                        },
                    }
                }
                SignerChoice::Kms(key) => SignerSlot::reloading(signing::Settings {
                    key: key.clone(),
                    password: signing::PasswordSource::None,
                    kms: kms.clone(),
                    keyless: crate::signing::keyless::Settings::default(),
                }),
                SignerChoice::Keyless => SignerSlot::PerRun(Arc::new(
                    super::tenant_keyless::PerServiceAccount::new(fulcio_url.to_owned()),
                )),
            });
            let tenant = Arc::new(Tenant {
                config: t.clone(),
                signer,
                storage: storage.remove(&t.name),
            });
            for ns in &t.namespaces {
                by_namespace.insert(ns.clone(), tenant.clone());
            }
            if !t.selector.is_empty() {
                by_labels.push(tenant);
            }
        }
        Self {
            by_namespace,
            by_labels,
            others,
            labels: LabelCache::default(),
        }
    }
}

fn failed(tenant: &str, why: String) -> SignerSlot {
    tracing::warn!("tenant `{tenant}` has no signer (its runs fail until this is fixed): {why}");
    SignerSlot::Failed(SignerError::Tenant(Arc::from(format!(
        "tenant `{tenant}`: {why}"
    ))))
}

/// The tenants' signing Secrets' data by name (`None`: missing).
pub type SecretsData = BTreeMap<String, Option<BTreeMap<String, crate::secret::SecretBytes>>>;

/// The key of a Secret laid out like `signing-secrets`: `x509.pem`, else `cosign.key`
/// with the password in `cosign.password` (read as is, as Chains reads it).
fn key_from_secret(
    shown: &str,
    data: &BTreeMap<String, crate::secret::SecretBytes>,
) -> Result<Arc<dyn Signer>, signing::Error> {
    let origin = |file: &str| std::path::PathBuf::from(format!("secret {shown} {file}"));
    if let Some(pem) = data.get("x509.pem") {
        let signer = signing::KeyFileSigner::from_pem(&origin("x509.pem"), pem.expose(), None)?;
        return Ok(Arc::new(signer));
    }
    let Some(key) = data.get("cosign.key") else {
        return Err(signing::Error::NoKeyInSecrets {
            dir: std::path::PathBuf::from(format!("secret {shown}")),
        });
    };
    let signer = signing::KeyFileSigner::from_pem(
        &origin("cosign.key"),
        key.expose(),
        data.get("cosign.password"),
    )?;
    Ok(Arc::new(signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TenantsConfig, Error> {
        TenantsConfig::parse(&BTreeMap::from([(DATA_KEY.to_owned(), text.to_owned())]))
    }

    #[test]
    fn tenants_map_namespaces_to_signers_and_repositories() {
        let c = parse(
            "tenants:\n  - name: a\n    namespaces: [a, a-ci]\n    signer: {secret: a-key}\n    repositories: [Registry.example/team-a/]\n  - name: b\n    namespaces: [b]\n    signer: {kms: 'hashivault://b'}\notherNamespaces: {repositories: [index.docker.io/shared]}\n",
        )
        .expect("parses");
        assert_eq!(c.tenants.len(), 2);
        assert_eq!(
            c.tenants[0].signer,
            Some(SignerChoice::Secret("a-key".into()))
        );
        assert_eq!(
            c.tenants[0].repositories,
            Some(vec!["registry.example/team-a/".to_owned()])
        );
        assert_eq!(
            c.tenants[1].signer,
            Some(SignerChoice::Kms(
                signing::KeyRef::parse("hashivault://b").expect("a KMS URI")
            ))
        );
        assert_eq!(c.other_repositories, vec!["docker.io/shared".to_owned()]);
        assert_eq!(c.secrets(), BTreeSet::from(["a-key".to_owned()]));
        assert_eq!(
            TenantsConfig::parse(&BTreeMap::new()).expect("none"),
            TenantsConfig::default()
        );
    }

    #[test]
    fn tenants_select_namespaces_by_label_and_names_win() {
        let c = parse(
            "tenants:\n  - {name: a, namespaceSelector: {matchLabels: {team: a}}}\n  - {name: prod, namespaceSelector: {matchLabels: {env: prod, tier: web}}}\n  - {name: n, namespaces: [named]}\n",
        )
        .expect("parses");
        let t = Tenants::make(
            &c,
            &SecretsData::new(),
            &signing::KmsOptions::default(),
            "tekton-chains",
            crate::signing::keyless::DEFAULT_FULCIO_URL,
            BTreeMap::new(),
        );
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let of = |ns: &str, l: &[(&str, &str)]| {
            t.of(ns, &labels(l))
                .map(|t| t.map(|t| t.config.name.clone()))
        };
        assert_eq!(
            of("x", &[("team", "a"), ("other", "1")]),
            Ok(Some("a".into()))
        );
        assert_eq!(
            of("x", &[("env", "prod")]),
            Ok(None),
            "every label must match"
        );
        assert_eq!(
            of("x", &[("env", "prod"), ("tier", "web")]),
            Ok(Some("prod".into()))
        );
        assert_eq!(of("x", &[]), Ok(None));
        // A name wins over labels; two selectors matching is refused.
        assert_eq!(of("named", &[("team", "a")]), Ok(Some("n".into())));
        let err =
            of("x", &[("team", "a"), ("env", "prod"), ("tier", "web")]).expect_err("ambiguous");
        assert_eq!(err.tenants, ["`a`", "`prod`"]);
        assert!(
            err.to_string().contains("a namespace has one tenant"),
            "{err}"
        );
        assert!(t.needs_labels("x") && !t.needs_labels("named"));
        assert!(
            t.describe().contains("labels env=prod,tier=web"),
            "{}",
            t.describe()
        );
        // Labels are remembered, for a minute.
        assert_eq!(t.cached_labels("x"), None);
        t.remember_labels("x", labels(&[("team", "a")]));
        assert_eq!(t.cached_labels("x"), Some(labels(&[("team", "a")])));
        for (text, says) in [
            (
                "tenants:\n  - {name: a, namespaceSelector: {matchLabels: {}}}\n",
                "every namespace",
            ),
            (
                "tenants:\n  - {name: a, namespaceSelector: {matchExpressions: []}}\n",
                "matchExpressions",
            ),
            ("tenants:\n  - {name: a}\n", "names no namespace"),
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn a_keyless_tenant_signs_as_each_run_s_service_account() {
        let c = parse("tenants:\n  - {name: k, namespaces: [k], signer: {keyless: true}}\n")
            .expect("parses");
        assert_eq!(c.tenants[0].signer, Some(SignerChoice::Keyless));
        let t = Tenants::make(
            &c,
            &SecretsData::new(),
            &signing::KmsOptions::default(),
            "tekton-chains",
            "https://fulcio.example",
            BTreeMap::new(),
        );
        let slot = t
            .named("k")
            .and_then(|t| t.signer.as_ref())
            .expect("a signer");
        assert!(matches!(slot, SignerSlot::PerRun(_)), "{slot:?}");
        assert!(format!("{slot:?}").contains("https://fulcio.example"));
    }

    #[test]
    fn a_tenant_s_storage_sets_only_storage_keys_within_its_repositories() {
        let c = parse(
            "tenants:\n  - name: a\n    namespaces: [a]\n    repositories: [reg.example/a/]\n    storage:\n      storage.oci.repository: ' reg.example/a/attestations '\n      artifacts.pipelinerun.storage: ''\n      storage.docdb.url: mongodb://user:hunter2@db/x/y\n",
        )
        .expect("parses");
        let storage = &c.tenants[0].storage;
        assert_eq!(
            storage.0.get("storage.oci.repository").map(String::as_str),
            Some("reg.example/a/attestations")
        );
        assert_eq!(
            storage
                .0
                .get("artifacts.pipelinerun.storage")
                .map(String::as_str),
            Some(""),
            "an artifact type may be turned off"
        );
        let shown = format!("{c:?}");
        assert!(
            shown.contains("storage.docdb.url") && !shown.contains("hunter2"),
            "{shown}"
        );
        for (text, says) in [
            (
                "tenants:\n  - {name: a, namespaces: [a], storage: {signers.x509.fulcio.enabled: 'true'}}\n",
                "sets only artifacts.taskrun.storage",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [a], storage: {artifacts.taskrun.format: slsa/v1}}\n",
                "`artifacts.taskrun.format`",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [a], storage: {storage.gcs.bucket: ' '}}\n",
                "sets `storage.gcs.bucket` to nothing",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [a], repositories: [reg.example/a], storage: {storage.oci.repository: reg.example/b/att}}\n",
                "is not under its `repositories` (reg.example/a)",
            ),
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        // `storage.oci.repository: ''` stores beside each image, even with prefixes.
        let beside = parse(
            "tenants:\n  - {name: a, namespaces: [a], repositories: [reg.example/a], storage: {storage.oci.repository: ''}}\n",
        )
        .expect("parses");
        assert_eq!(
            beside.tenants[0]
                .storage
                .0
                .get("storage.oci.repository")
                .map(String::as_str),
            Some("")
        );
        // Review of #24: a malformed ConfigMap's error never shows a password, neither
        // in a quoted value nor in a source snippet.
        for text in [
            "tenants:\n  - name: a\n    namespaces: [a]\n    storage: mongodb://user:hunter2@db/x/y\n",
            "tenants:\n  - name: a\n    namespaces: [a]\n    storage: {storage.docdb.url: mongodb://user:hunter2@db/x/y}\n    bogus: 1\n",
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn ambiguous_or_misspelt_tenants_are_refused() {
        for (text, says) in [
            (
                "tenants:\n  - {name: a, namespaces: [x]}\n  - {name: b, namespaces: [x]}\n",
                "also tenant `a`'s",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [x], signer: {secret: s, keyless: true}}\n",
                "exactly one",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [x], signer: {kms: 'nope://k'}}\n",
                "signer `kms`",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [x], repositories: ['registry.example']}\n",
                "not a whole registry",
            ),
            (
                "tenants:\n  - {name: a, namespaces: [x], repositories: ['https://r.example/a']}\n",
                "without a scheme",
            ),
            ("tenants:\n  - {name: a, namespaces: []}\n", "no namespace"),
            ("tenants:\n  - {name: a, namespace: [x]}\n", "unknown field"),
            (
                "tenants:\n  - {name: a, namespaces: [x]}\n  - {name: a, namespaces: [y]}\n",
                "a name of its own",
            ),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn repository_prefixes_match_whole_path_segments() {
        assert!(allowed(
            "registry.example/team-a/app",
            "registry.example/team-a/"
        ));
        assert!(allowed(
            "registry.example/team-a/app",
            "registry.example/team-a"
        ));
        assert!(allowed(
            "registry.example/team-a",
            "registry.example/team-a/"
        ));
        assert!(allowed(
            "Registry.Example/team-a/x/y",
            "registry.example/team-a"
        ));
        assert!(!allowed(
            "registry.example/team-ab/app",
            "registry.example/team-a"
        ));
        assert!(!allowed(
            "other.example/team-a/app",
            "registry.example/team-a/"
        ));
        assert!(!allowed(
            "registry.example/team-b/app",
            "registry.example/team-a/"
        ));
    }
}
