//! What the controller works with, built from `chains-config` and the environment:
//! per artifact type its format, its storage backends and its loaded signer. Rebuilt
//! whole when the ConfigMap changes; runs in flight keep the settings they started with.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;

use super::chains_config::{Backend, ChainsConfig, SignerKind};
use crate::provenance::{Format, Options};
use crate::signing::{self, Signer};
use crate::storage::{Factory, Storage, StorageTarget};

/// Settings that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The ConfigMap is invalid.
    #[error(transparent)]
    Config(#[from] super::chains_config::Error),
    /// A storage backend chainseal does not implement.
    #[error(
        "chains-config `artifacts.{kind}.storage` names `{backend}`, which chainseal does not support: use tekton, oci, gcs, docdb, grafeas or archivista"
    )]
    UnsupportedBackend {
        /// The artifact type.
        kind: &'static str,
        /// The backend.
        backend: &'static str,
    },
    /// OCI storage settings are invalid.
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    /// A storage backend without the key that says where it is.
    #[error(
        "chains-config `artifacts.{kind}.storage` names `{backend}` but sets no `{key}`{example}"
    )]
    MissingKey {
        /// The artifact type.
        kind: &'static str,
        /// The backend, e.g. `gcs`.
        backend: &'static str,
        /// The key it needs, e.g. `storage.gcs.bucket`.
        key: &'static str,
        /// An example value (with its leading space), or nothing.
        example: &'static str,
    },
    /// A `mongo://` docdb URL with no server connection string anywhere.
    #[error(
        "chains-config `storage.docdb.url` is a `mongo://` URL but no server is set: set `storage.docdb.mongo-server-url-path`, `storage.docdb.mongo-server-url-dir`, `storage.docdb.mongo-server-url` or the controller's `MONGO_SERVER_URL`"
    )]
    NoMongoServer,
    /// The transparency log client could not be made.
    #[error("{0}")]
    Transparency(String),
}

/// Why chain-config's `kms` signer settings name no usable signer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KmsSettingsError {
    /// No key reference.
    #[error("a signer is `kms` but chains-config sets no `signers.kms.kmsref`")]
    NoKmsRef,
    /// Half a Vault JWT login.
    #[error(
        "a Vault JWT login needs both chains-config `signers.kms.auth.oidc.path` and `signers.kms.auth.oidc.role`"
    )]
    HalfJwtLogin,
    /// The key reference is not one chainseal reads.
    #[error(transparent)]
    KmsRef(signing::settings::Error),
}

/// Why a run has no signer. Cloneable: a failed load is kept and reported to every
/// run that needs the signer until it is loaded again.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The settings name no usable signer.
    #[error(transparent)]
    Settings(Arc<KmsSettingsError>),
    /// The signer could not be loaded.
    #[error(transparent)]
    Load(Arc<signing::Error>),
    /// Keyless signing got no certificate.
    #[error(transparent)]
    Keyless(Arc<crate::signing::keyless::Error>),
    /// A tenant's signer cannot be made (until the tenants ConfigMap or its Secret
    /// changes).
    #[error("{0}")]
    Tenant(Arc<str>),
    /// The run's ServiceAccount got no certificate (a keyless tenant).
    #[error(transparent)]
    RunIdentity(Arc<super::tenant_keyless::Error>),
}

impl SignerError {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> crate::error_kind::Kind {
        match self {
            Self::Settings(_) | Self::Tenant(_) => crate::error_kind::Kind::Invalid,
            Self::Load(e) => e.kind(),
            Self::Keyless(e) => e.kind(),
            Self::RunIdentity(e) => e.kind(),
        }
    }
}

/// A signer, or why there is none (runs that need it fail with this message and are
/// never marked signed).
#[derive(Clone)]
pub enum SignerSlot {
    /// A key or KMS key: loaded on first use, loaded again when its secret files
    /// change (a rotated `signing-secrets`), and tried again on the next run after a
    /// failed load — as Chains, which builds its signer per run.
    Loaded(Arc<Reloading>),
    /// Keyless: a fresh Fulcio certificate for each use (as Chains; the certificate
    /// lives 10 minutes and the identity token rotates).
    Keyless(crate::signing::keyless::Settings),
    /// The settings name no usable signer: nothing to load until the ConfigMap
    /// changes.
    Failed(SignerError),
    /// A key already loaded (a tenant's signing Secret, read through the API: loaded
    /// again when the Secret changes, with the settings).
    Fixed(Arc<dyn Signer>),
    /// Keyless as each run's own ServiceAccount (a `keyless: true` tenant).
    PerRun(Arc<super::tenant_keyless::PerServiceAccount>),
}

impl std::fmt::Debug for SignerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Loaded(r) => f.debug_tuple("Loaded").field(r).finish(),
            Self::Keyless(_) => f.write_str("Keyless"),
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            Self::Fixed(_) => f.write_str("Fixed"),
            Self::PerRun(p) => f.debug_tuple("PerRun").field(p).finish(),
        }
    }
}

impl SignerSlot {
    /// The signer of a run of `namespace` running as `service_account`.
    pub async fn get_for(
        &self,
        cluster: &crate::kube::Cluster,
        namespace: &str,
        service_account: &str,
    ) -> Result<Arc<dyn Signer>, SignerError> {
        match self {
            Self::PerRun(per_run) => per_run
                .signer(cluster, namespace, service_account)
                .await
                .map_err(|e| SignerError::RunIdentity(Arc::new(e))),
            _ => self.get().await,
        }
    }

    /// The signer (of any run: a [`SignerSlot::PerRun`] has none of its own).
    pub async fn get(&self) -> Result<Arc<dyn Signer>, SignerError> {
        match self {
            Self::PerRun(_) => Err(SignerError::Tenant(Arc::from(
                "a keyless tenant signs as each run's ServiceAccount: no signer without a run",
            ))),
            Self::Loaded(s) => s.get().await,
            Self::Keyless(settings) => crate::signing::keyless::KeylessSigner::connect(settings)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Signer>)
                .map_err(|e| SignerError::Keyless(Arc::new(e))),
            Self::Failed(why) => Err(why.clone()),
            Self::Fixed(signer) => Ok(signer.clone()),
        }
    }

    /// A signer loaded from `settings` on first use (and again after a failed load).
    pub fn reloading(settings: signing::Settings) -> Self {
        Self::Loaded(Arc::new(Reloading::new(settings, None)))
    }
}

/// How often the secret files of a loaded signer are looked at for a change.
const SECRETS_CHECKED_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A signer loaded from settings, reloaded when its secret files change or after a
/// failed load.
pub struct Reloading {
    settings: signing::Settings,
    /// The directory whose files make the signer (`signing-secrets`), if any.
    watched: Option<std::path::PathBuf>,
    state: tokio::sync::Mutex<Option<LoadedSigner>>,
}

struct LoadedSigner {
    signer: Result<Arc<dyn Signer>, SignerError>,
    fingerprint: Option<[u8; 32]>,
    checked: std::time::Instant,
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

impl Reloading {
    fn new(settings: signing::Settings, watched: Option<std::path::PathBuf>) -> Self {
        Self {
            settings,
            watched,
            state: tokio::sync::Mutex::new(None),
        }
    }

    /// The signer, loaded again if its files changed or the last load failed.
    pub async fn get(&self) -> Result<Arc<dyn Signer>, SignerError> {
        let mut state = self.state.lock().await;
        let reload = match &*state {
            None => true,
            Some(s) if s.signer.is_err() => true,
            Some(s) if s.checked.elapsed() < SECRETS_CHECKED_EVERY => false,
            Some(s) => match &self.watched {
                Some(dir) => fingerprint(dir) != s.fingerprint,
                None => false,
            },
        };
        if reload {
            let fingerprint = self.watched.as_deref().and_then(fingerprint);
            let signer = signing::load(&self.settings)
                .await
                .map(Arc::from)
                .map_err(|e| SignerError::Load(Arc::new(e)));
            if let Some(old) = &*state
                && old.signer.is_ok()
            {
                tracing::info!("the signing secrets changed: signer loaded again");
            }
            let loaded = state.insert(LoadedSigner {
                signer,
                fingerprint,
                checked: std::time::Instant::now(),
            });
            return loaded.signer.clone();
        }
        match state.as_mut() {
            Some(s) => {
                s.checked = std::time::Instant::now();
                s.signer.clone()
            }
            // `reload` is true without a state: not reached.
            None => Err(SignerError::Settings(Arc::new(KmsSettingsError::NoKmsRef))),
        }
    }
}

/// A digest of the regular files directly in `dir` (names and contents), following
/// symlinks as a mounted Secret's `..data` swap needs; `None` if it cannot be read.
fn fingerprint(dir: &std::path::Path) -> Option<[u8; 32]> {
    use sha2::Digest as _;
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
                && p.is_file()
        })
        .collect();
    names.sort();
    let mut digest = sha2::Sha256::new();
    for path in names.iter().take(64) {
        digest.update(path.as_os_str().as_encoded_bytes());
        digest.update([0]);
        // Signing secrets are small; of a larger file, its length and first MiB.
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, 1 << 20), &mut data).ok()?;
        digest.update(len.to_le_bytes());
        digest.update(&data);
    }
    Some(digest.finalize().into())
}

/// One enabled artifact type.
pub struct ArtifactSettings {
    /// Payload format.
    pub format: Format,
    /// Where it goes, besides the run's own annotations.
    pub backends: Vec<Box<dyn Storage>>,
    /// Whether it also goes to the run's annotations (`tekton` storage): written in
    /// the same patch as `signed: "true"`, so the two land together or not at all.
    pub tekton: bool,
    /// Who signs.
    pub signer: SignerSlot,
}

/// Each artifact type's settings (`None`: disabled).
#[derive(Default)]
pub struct Artifacts {
    /// TaskRun attestations.
    pub taskrun: Option<ArtifactSettings>,
    /// PipelineRun attestations.
    pub pipelinerun: Option<ArtifactSettings>,
    /// Image signatures.
    pub oci: Option<ArtifactSettings>,
}

impl Artifacts {
    /// `taskrun=<format> → <stores>, …`, for the settings log.
    pub fn describe(&self) -> String {
        [
            ("taskrun", &self.taskrun),
            ("pipelinerun", &self.pipelinerun),
            ("oci", &self.oci),
        ]
        .iter()
        .map(|(kind, a)| match a {
            None => format!("{kind}=disabled"),
            Some(a) => format!(
                "{kind}={} → {}",
                a.format,
                (a.backends.iter().map(ToString::to_string))
                    .chain(a.tekton.then(|| "tekton".to_owned()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        })
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The tenants to build the settings with.
#[derive(Debug, Clone, Copy)]
pub struct Tenancy<'a> {
    /// The tenants ConfigMap, parsed.
    pub config: &'a super::tenants::TenantsConfig,
    /// Their signing Secrets' data.
    pub secrets: &'a super::tenants::SecretsData,
    /// The namespace those Secrets are in (the controller's).
    pub controller_namespace: &'a str,
}

/// Everything a worker needs.
pub struct Settings {
    /// The parsed ConfigMap.
    pub chains: ChainsConfig,
    /// Each artifact type's format, stores and signer (a tenant with storage of its
    /// own has its own: [`super::tenants::Tenant::storage`]).
    pub artifacts: Artifacts,
    /// The transparency log, when `transparency.enabled` is `true` or `manual`.
    pub rekor: Option<crate::transparency::Log>,
    /// The timestamp authorities, when `chainseal.tsa.url` or the signing config
    /// names some.
    pub timestamps: Option<crate::transparency::Timestamping>,
    /// The registry client OCI storage writes through (a run's pull secrets make
    /// per-run clients from it).
    pub registry: Option<Arc<crate::oci::Registry>>,
    /// The tenants (per-namespace signers and repository policy).
    pub tenants: super::tenants::Tenants,
    /// The Fulcio keyless tenants are certified by: the signing config's, else
    /// chains-config's `signers.x509.fulcio.address` (enabled or not), else the
    /// public one.
    pub keyless_fulcio: String,
    /// Registry clients per run ServiceAccount (its pull secrets).
    pub registries: super::credentials::RunRegistries,
}

/// Where keys and registry access come from, besides the ConfigMap.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The mounted `signing-secrets` Secret.
    pub signing_secrets: std::path::PathBuf,
    /// Registry access.
    pub registry: crate::oci::Settings,
    /// Where `gcs` storage is reached instead of Google's endpoint (tests, private
    /// endpoints).
    pub storage_endpoint: Option<String>,
    /// The Grafeas server for `grafeas` storage (default Container Analysis).
    pub grafeas_url: Option<String>,
    /// The controller's own ServiceAccount (namespace, name): its pull secrets come
    /// after a run's.
    pub service_account: Option<(String, String)>,
}

/// The value of `key`, which `backend` (named by `artifacts.<kind>.storage`) needs.
fn required<'a>(
    value: &'a Option<String>,
    kind: &'static str,
    backend: &'static str,
    key: &'static str,
) -> Result<&'a str, Error> {
    value.as_deref().ok_or(Error::MissingKey {
        kind,
        backend,
        key,
        example: "",
    })
}

/// Where a `mongo://` `storage.docdb.url` finds its server: (in Chains' order)
/// `mongo-server-url-path`, `-url-dir`, `-url`, else `MONGO_SERVER_URL`.
fn mongo_server(chains: &ChainsConfig) -> crate::storage::docdb::ServerUrl {
    use crate::storage::docdb::ServerUrl;
    match (
        &chains.mongo_server_url_path,
        &chains.mongo_server_url_dir,
        &chains.mongo_server_url,
    ) {
        (Some(path), _, _) => ServerUrl::Path(path.into()),
        (None, Some(dir), _) => ServerUrl::Dir(dir.into()),
        (None, None, Some(value)) => ServerUrl::Value(value.clone()),
        (None, None, None) => ServerUrl::Env,
    }
}

/// The storage destination chains-config's `backend` names for artifact type
/// `kind`: the same [`StorageTarget`] a `CHAINSEAL_STORAGE` URI makes; `None` for
/// `tekton` (written with the run's mark, see [`ArtifactSettings::tekton`]).
fn target(
    chains: &ChainsConfig,
    kind: &'static str,
    backend: Backend,
) -> Result<Option<StorageTarget>, Error> {
    Ok(Some(match backend {
        Backend::Tekton => return Ok(None),
        Backend::Oci => StorageTarget::Oci {
            repository: chains.oci_repository.clone(),
        },
        Backend::Gcs => {
            let bucket = required(&chains.gcs_bucket, kind, "gcs", "storage.gcs.bucket")?;
            StorageTarget::Object(format!("gs://{bucket}"))
        }
        Backend::Archivista => StorageTarget::Archivista(
            required(
                &chains.archivista_url,
                kind,
                "archivista",
                "storage.archivista.url",
            )?
            .to_owned(),
        ),
        Backend::DocDb => {
            let url = chains.docdb_url.as_ref().ok_or(Error::MissingKey {
                kind,
                backend: "docdb",
                key: "storage.docdb.url",
                example: " (e.g. `mongo://<db>/<collection>` or `dynamodb://<table>`)",
            })?;
            let url = String::from_utf8_lossy(url.expose()).into_owned();
            let no_server = matches!(mongo_server(chains), crate::storage::docdb::ServerUrl::Env)
                && std::env::var(crate::env_vars::EnvVars::MONGO_SERVER_URL)
                    .map_or(true, |v| v.is_empty());
            if url.starts_with("mongo://") && no_server {
                return Err(Error::NoMongoServer);
            }
            StorageTarget::DocDb(url)
        }
        Backend::Grafeas => {
            let project = required(
                &chains.grafeas_project,
                kind,
                "grafeas",
                "storage.grafeas.projectid",
            )?;
            StorageTarget::Grafeas(format!("grafeas://projects/{project}"))
        }
        Backend::Unsupported(backend) => {
            return Err(Error::UnsupportedBackend { kind, backend });
        }
    }))
}

impl Settings {
    /// Provenance options for `format`.
    pub fn options(&self, format: Format) -> Options {
        let mut o = Options::new(self.chains.builder_id.clone());
        o.format = format;
        o.build_type = self.chains.build_type;
        o.deep_inspection = self.chains.deep_inspection;
        o
    }

    /// Build the settings for `data` (the ConfigMap's data) and `tenancy`.
    pub async fn build(
        data: &BTreeMap<String, String>,
        env: &Environment,
        tenancy: Tenancy<'_>,
    ) -> Result<Self, Error> {
        let chains = ChainsConfig::parse(data)?;
        for ignored in super::chains_config::ignored_keys(data) {
            tracing::warn!(
                "chains-config `{}` is set but ignored: {}",
                ignored.key,
                ignored.instead
            );
        }
        let mut registry_settings = env.registry.clone();
        // As in Chains: every image of a run and the storage repository.
        registry_settings.insecure_everywhere = chains.oci_insecure;
        if chains.oci_insecure {
            tracing::warn!(
                "`storage.oci.repository.insecure` is true: every registry is reached without TLS certificate verification, or over plain HTTP when it does not speak https; anyone on the network path can read and change what is stored and the credentials sent (use it only for testing)"
            );
        }
        let factory = Factory::new(crate::storage::Settings {
            oci_encoding: chains.oci_encoding,
            registry: registry_settings,
            object_endpoint: env.storage_endpoint.clone(),
            bundles: false,
            grafeas: crate::storage::grafeas::Options {
                note_id: chains.grafeas_note_id.clone(),
                note_hint: chains.grafeas_note_hint.clone(),
                endpoint: env.grafeas_url.clone(),
            },
            mongo_server: mongo_server(&chains),
            namespace: None,
            // Chains has no GitHub storage; the controller never uploads there.
            github: crate::storage::github::Options::default(),
        });
        let services = crate::transparency::Settings {
            mode: chains.transparency,
            url: chains.transparency_url.clone(),
            tsa_urls: chains.tsa_urls.clone(),
            signing_config: chains.signing_config.clone(),
            bundle: false,
        }
        .services()
        .await
        .map_err(|e| Error::Transparency(crate::error_text::joined(&e)))?;
        let mut signers = Signers {
            env,
            fulcio: services.fulcio.as_deref(),
            loaded: BTreeMap::new(),
        };
        let artifacts = open_artifacts(&chains, &factory, &mut signers).await?;
        // Tenants with storage of their own: chains-config with their keys set.
        let mut storage = BTreeMap::new();
        for t in tenancy
            .config
            .tenants
            .iter()
            .filter(|t| !t.storage.0.is_empty())
        {
            let mut merged = data.clone();
            merged.extend(t.storage.0.clone());
            let made = match ChainsConfig::parse(&merged) {
                Ok(c) => {
                    for (kind, artifact) in c.artifacts() {
                        let key = format!("artifacts.{kind}.storage");
                        if artifact.is_none()
                            && t.storage.0.get(&key).is_some_and(|v| !v.is_empty())
                        {
                            tracing::warn!(
                                "tenant `{}`: its `{key}` has no effect: chains-config's `artifacts.{kind}.signer` is `none`",
                                t.name
                            );
                        }
                    }
                    open_artifacts(&c, &factory, &mut signers).await
                }
                Err(e) => Err(e.into()),
            };
            let made = made.map_err(|e| {
                let why = format!(
                    "tenant `{}`: its `storage` cannot be used with chains-config: {}",
                    t.name,
                    crate::error_text::joined(&e)
                );
                tracing::warn!("{why} (its runs fail until this is fixed)");
                Arc::from(why)
            });
            storage.insert(t.name.clone(), made);
        }
        let transparency =
            |e: crate::transparency::Error| Error::Transparency(crate::error_text::joined(&e));
        let rekor = match chains.transparency {
            crate::transparency::Mode::Off => None,
            _ => Some(crate::transparency::Log::new(&services.logs).map_err(transparency)?),
        };
        let timestamps =
            crate::transparency::Timestamping::new(&services.tsas).map_err(transparency)?;
        // Keyless signatures logged in Rekor v2 without a timestamp could never be
        // verified: refused, as `attest` refuses them (a log whose version cannot be
        // told now fails its uploads later instead).
        if let (Some(_), Some(log), None) = (&chains.fulcio, &rekor, &timestamps)
            && let Ok(crate::transparency::ApiVersion::V2) = log.version().await
        {
            return Err(transparency(crate::transparency::Error::NeedsTimestamp(
                log.url().to_owned(),
            )));
        }
        let keyless_fulcio = services
            .fulcio
            .clone()
            .unwrap_or_else(|| chains.fulcio_address.clone());
        // `kms` tenants' keys are reached with chains-config's KMS auth.
        let tenants = super::tenants::Tenants::make(
            tenancy.config,
            tenancy.secrets,
            &kms_options(&chains).unwrap_or_default(),
            tenancy.controller_namespace,
            &keyless_fulcio,
            storage,
        );
        Ok(Self {
            rekor,
            timestamps,
            artifacts,
            registry: factory.shared_registry().ok(),
            tenants,
            keyless_fulcio,
            registries: super::credentials::RunRegistries::new(env.service_account.clone()),
            chains,
        })
    }
}

/// chains-config's signers, each loaded once per settings (by the artifact types of
/// chains-config and of every tenant's storage).
struct Signers<'a> {
    env: &'a Environment,
    /// The signing config's Fulcio.
    fulcio: Option<&'a str>,
    loaded: BTreeMap<SignerKind, SignerSlot>,
}

impl Signers<'_> {
    /// The signer of `kind`, loaded on first use.
    async fn slot(&mut self, kind: SignerKind, chains: &ChainsConfig) -> SignerSlot {
        if let Some(s) = self.loaded.get(&kind) {
            return s.clone();
        }
        let s = load_signer(kind, chains, self.env, self.fulcio).await;
        self.loaded.insert(kind, s.clone());
        s
    }
}

/// Each artifact type `chains` enables, with its stores opened by `factory`.
async fn open_artifacts(
    chains: &ChainsConfig,
    factory: &Factory,
    signers: &mut Signers<'_>,
) -> Result<Artifacts, Error> {
    let mut made = [None, None, None];
    for (slot, (kind, artifact)) in made.iter_mut().zip(chains.artifacts()) {
        let Some(a) = artifact else { continue };
        let mut targets = Vec::new();
        for b in &a.storage {
            targets.extend(target(chains, kind, *b)?);
        }
        *slot = Some(ArtifactSettings {
            format: a.format,
            backends: factory.open(&targets)?,
            tekton: a.storage.contains(&Backend::Tekton),
            signer: signers.slot(a.signer, chains).await,
        });
    }
    let [taskrun, pipelinerun, oci] = made;
    Ok(Artifacts {
        taskrun,
        pipelinerun,
        oci,
    })
}

async fn load_signer(
    kind: SignerKind,
    chains: &ChainsConfig,
    env: &Environment,
    fulcio_url: Option<&str>,
) -> SignerSlot {
    if let (SignerKind::X509, Some(fulcio)) = (kind, &chains.fulcio) {
        let ci = crate::record::ci::Environment::capture(std::env::vars());
        return SignerSlot::Keyless(crate::signing::keyless::Settings {
            fulcio_url: fulcio_url.map_or_else(|| fulcio.address.clone(), str::to_owned),
            tokens: token_sources(fulcio, &ci),
        });
    }
    let settings = match kind {
        SignerKind::X509 => signing::Settings {
            key: signing::KeyRef::SigningSecrets(env.signing_secrets.clone()),
            password: signing::PasswordSource::None,
            kms: signing::KmsOptions::default(),
            keyless: crate::signing::keyless::Settings::default(),
        },
        SignerKind::Kms => match kms_settings(chains) {
            Ok(settings) => settings,
            Err(why) => {
                tracing::warn!(
                    "the kms signer cannot be made (until chains-config changes): {}",
                    crate::error_text::joined(&why)
                );
                return SignerSlot::Failed(SignerError::Settings(Arc::new(why)));
            }
        },
    };
    let watched = (kind == SignerKind::X509).then(|| env.signing_secrets.clone());
    let slot = Reloading::new(settings, watched);
    // Loaded now, so the settings log says at once whether the key works.
    if let Err(e) = slot.get().await {
        let e = crate::error_text::joined(&e);
        tracing::warn!("the {kind:?} signer cannot be loaded (tried again at the next run): {e}");
    }
    SignerSlot::Loaded(Arc::new(slot))
}

/// The `kms` signer's settings: `signers.kms.kmsref` and `signers.kms.auth.*`.
fn kms_settings(chains: &ChainsConfig) -> Result<signing::Settings, KmsSettingsError> {
    // `ChainsConfig::parse` keeps only non-empty, trimmed values.
    let Some(kms_ref) = chains.kms_ref.as_deref() else {
        return Err(KmsSettingsError::NoKmsRef);
    };
    Ok(signing::Settings {
        key: signing::KeyRef::parse(kms_ref).map_err(KmsSettingsError::KmsRef)?,
        password: signing::PasswordSource::None,
        kms: kms_options(chains)?,
        keyless: crate::signing::keyless::Settings::default(),
    })
}

/// How KMS keys are reached: `signers.kms.auth.*`.
fn kms_options(chains: &ChainsConfig) -> Result<signing::KmsOptions, KmsSettingsError> {
    let auth = |k: &str| chains.kms_auth.get(k).cloned().filter(|v| !v.is_empty());
    let oidc = signing::settings::VaultJwtLogin::from_parts(
        auth("oidc.path"),
        auth("oidc.role"),
        auth("oidc.token-path").map(Into::into),
    )
    .map_err(|_| KmsSettingsError::HalfJwtLogin)?;
    Ok(signing::KmsOptions {
        address: crate::values::non_empty_owned(auth("address")),
        token: auth("token").map(crate::secret::SecretString::new),
        token_path: auth("token-path").map(Into::into),
        oidc,
        ..signing::KmsOptions::default()
    })
}

/// The identity-token sources for `fulcio`, picked as Chains picks them:
/// `signers.x509.identity.token.file`, when set, wins whatever the provider (Chains
/// then forces its `filesystem-custom-path` provider); otherwise none, `filesystem`
/// or `filesystem-custom-path` read Chains' path, and `github-actions` and `envvar`
/// read the controller's environment `ci`. A provider whose variables are missing is
/// warned about now; its runs fail until they are set.
fn token_sources(
    fulcio: &super::chains_config::Fulcio,
    ci: &crate::record::ci::Environment,
) -> crate::signing::keyless::token::Sources {
    use super::chains_config::TokenProvider;
    use crate::signing::keyless::token::DEFAULT_TOKEN_FILE;
    let file = fulcio.token_file.clone().map(std::path::PathBuf::from);
    let mut sources = crate::signing::keyless::token::Sources {
        expected_issuer: fulcio.issuer.clone(),
        ..Default::default()
    };
    if file.is_some() {
        sources.file = file;
        return sources;
    }
    let missing = match fulcio.provider {
        None => {
            sources.default_file = Some(DEFAULT_TOKEN_FILE.into());
            None
        }
        Some(TokenProvider::Filesystem | TokenProvider::FilesystemCustomPath) => {
            sources.file = Some(DEFAULT_TOKEN_FILE.into());
            None
        }
        Some(TokenProvider::GithubActions) => {
            sources.github = ci.id_token_request.clone();
            sources.github.is_none().then_some(
                "`github-actions` but the controller has no `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`",
            )
        }
        Some(TokenProvider::Envvar) => {
            sources.gitlab = ci.sigstore_id_token.clone();
            sources
                .gitlab
                .is_none()
                .then_some("`envvar` but the controller has no `SIGSTORE_ID_TOKEN`")
        }
    };
    if let Some(missing) = missing {
        tracing::warn!(
            "chains-config `signers.x509.fulcio.provider` is {missing}: keyless signing fails until it is set"
        );
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::chains_config::{Fulcio, TokenProvider};
    use crate::signing::keyless::token::DEFAULT_TOKEN_FILE;

    fn fulcio(provider: Option<TokenProvider>, token_file: Option<&str>) -> Fulcio {
        Fulcio {
            address: crate::signing::keyless::DEFAULT_FULCIO_URL.into(),
            token_file: token_file.map(Into::into),
            provider,
            issuer: Some("https://issuer.example".into()),
        }
    }

    #[test]
    fn the_provider_picks_the_token_source() {
        let ci = crate::record::ci::Environment::capture([
            ("SIGSTORE_ID_TOKEN".to_owned(), "a.b.c".to_owned()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL".to_owned(),
                "https://gh".to_owned(),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), "t".to_owned()),
        ]);
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let given = Some("/token".to_owned());
        let default = Some(DEFAULT_TOKEN_FILE.to_owned());

        let s = token_sources(&fulcio(None, Some("/token")), &ci);
        assert_eq!(
            (path(&s.file), path(&s.default_file)),
            (given.clone(), None)
        );
        assert!(s.github.is_none() && s.gitlab.is_none() && s.token.is_none());
        assert_eq!(s.expected_issuer.as_deref(), Some("https://issuer.example"));

        for p in [
            TokenProvider::Filesystem,
            TokenProvider::FilesystemCustomPath,
        ] {
            let s = token_sources(&fulcio(Some(p), Some("/token")), &ci);
            assert_eq!(
                (path(&s.file), path(&s.default_file)),
                (given.clone(), None)
            );
            let s = token_sources(&fulcio(Some(p), None), &ci);
            assert_eq!(path(&s.file), default.clone(), "{p:?}: Chains' path");
            assert!(s.github.is_none() && s.gitlab.is_none());
        }

        // The token file wins over any provider (Chains forces its file provider).
        for p in [TokenProvider::Envvar, TokenProvider::GithubActions] {
            let s = token_sources(&fulcio(Some(p), Some("/token")), &ci);
            assert_eq!(path(&s.file), given.clone(), "{p:?}");
            assert!(s.github.is_none() && s.gitlab.is_none(), "{p:?}");
        }
        let s = token_sources(&fulcio(None, None), &ci);
        assert_eq!(
            (path(&s.file), path(&s.default_file)),
            (None, default.clone())
        );
        let s = token_sources(&fulcio(Some(TokenProvider::Envvar), None), &ci);
        assert!(s.file.is_none() && s.default_file.is_none() && s.github.is_none());
        assert_eq!(
            s.gitlab.map(|t| t.expose().to_vec()),
            Some(b"a.b.c".to_vec())
        );

        let s = token_sources(&fulcio(Some(TokenProvider::GithubActions), None), &ci);
        assert!(s.file.is_none() && s.default_file.is_none() && s.gitlab.is_none());
        assert_eq!(s.github.map(|(url, _)| url).as_deref(), Some("https://gh"));
    }
}
