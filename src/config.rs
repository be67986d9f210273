//! Validated configuration, built from [`crate::cli`] before any I/O.
//!
//! Precedence is flag > `CHAINSEAL_*` environment variable > built-in default, which
//! clap implements once for every setting. This module then checks the values
//! (URIs, required settings) and rejects unknown `CHAINSEAL_*` variables, because a
//! misspelt variable must never silently change what gets signed or where it goes.

use std::path::PathBuf;

use thiserror::Error;

use crate::cli::{
    AttestArgs, KmsArgs, PasswordArgs, SignerArgs, StorageArgs, TransparencyArgs, known_env_vars,
};
use crate::env_vars::EnvVars;
use crate::provenance::Options;
use crate::secret::without_password;
use crate::signing::settings::{KeyRef, KmsOptions, PasswordSource, VaultJwtLogin};
use crate::storage::settings::{OciEncoding, StorageTarget};

pub use crate::attest::{OutputFormat, RecordSource, Settings as AttestConfig};

/// Configuration errors. Each message names the setting and how to fix it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A `CHAINSEAL_*` variable that no setting reads.
    #[error("unknown environment variable `{name}`{}", suggestion(closest))]
    UnknownEnvVar {
        /// The variable found in the environment.
        name: String,
        /// The closest valid name, if any is close.
        closest: Option<String>,
    },
    /// `attest` without a record.
    #[error(
        "no build record given: set `CHAINSEAL_RECORD` to a TaskRun or PipelineRun file, or `CHAINSEAL_PIPELINERUN` / `CHAINSEAL_TASKRUN` to read one from the cluster; for any other build, name its subjects (`CHAINSEAL_SUBJECT_PATH`, `CHAINSEAL_SUBJECTS`, …) and set `CHAINSEAL_BUILDER_ID`"
    )]
    MissingRecord,
    /// An unknown `CHAINSEAL_SOURCE`.
    #[error("`CHAINSEAL_SOURCE` is `{0}`: use auto, tekton, github, gitlab or generic")]
    Source(String),
    /// A custom predicate without its type, or a type without a predicate.
    #[error(
        "a custom predicate needs both `CHAINSEAL_PREDICATE_TYPE` (a URI) and one of `CHAINSEAL_PREDICATE` or `CHAINSEAL_PREDICATE_PATH`{0}"
    )]
    CustomPredicate(&'static str),
    /// A CI build without subjects.
    #[error(
        "no subjects for the {0} build: set `CHAINSEAL_SUBJECT_PATH` (files, globs), `CHAINSEAL_SUBJECT_NAME` + `CHAINSEAL_SUBJECT_DIGEST`, `CHAINSEAL_SUBJECT_CHECKSUMS` or `CHAINSEAL_SUBJECTS` (on GitHub, the runner's `GITHUB_ARTIFACTS_LIST` is read when none is set)"
    )]
    NoSubjects(crate::record::ci::Platform),
    /// A generic build without a builder id.
    #[error(
        "a generic build needs `CHAINSEAL_BUILDER_ID`: the URI of the system that ran the build (verifiers match it against what they trust)"
    )]
    GenericBuilderId,
    /// A builder id set for a platform that defines its own.
    #[error(
        "`CHAINSEAL_BUILDER_ID` does not apply to {0} builds: the builder id comes from the platform (unset it)"
    )]
    PlatformBuilderId(crate::record::ci::Platform),
    /// A format CI provenance is not written in.
    #[error("{platform} provenance is SLSA v1.0 only: `CHAINSEAL_FORMAT` is `{format}`; unset it")]
    CiFormat {
        /// The platform.
        platform: crate::record::ci::Platform,
        /// The format asked for.
        format: String,
    },
    /// `tekton` storage for a build that is not a Tekton run.
    #[error(
        "`CHAINSEAL_STORAGE` names `tekton` (annotations on a Tekton run), but this is a {0} build: store in a directory or `oci` instead"
    )]
    TektonStorage(crate::record::ci::Platform),
    /// An unknown output format.
    #[error("`CHAINSEAL_OUTPUT` is `{0}`: use text or json")]
    Output(String),
    /// A CI source and a Tekton record named together.
    #[error("`CHAINSEAL_SOURCE` is {0} but `{1}` names a Tekton record: set only one")]
    SourceConflict(crate::record::ci::Platform, &'static str),
    /// Two settings that exclude each other.
    #[error("`{0}` and `{1}` exclude each other: set only one")]
    Conflict(&'static str, &'static str),
    /// An image subject that is not `image` + `sha256:<hex>`.
    #[error("`CHAINSEAL_IMAGE_URL`/`CHAINSEAL_IMAGE_DIGEST`: {0}")]
    ImageSubject(String),
    /// `attest` without a key.
    #[error(
        "no signing key given: set `CHAINSEAL_KEY` (or `--key`) to a key file; create one with `chainseal keygen --out cosign`"
    )]
    MissingKey,
    /// An empty item in a list.
    #[error(transparent)]
    EmptyListItem(#[from] crate::values::EmptyListItem),
    /// A `CHAINSEAL_REGISTRY_KEYCHAINS` naming no keychain.
    #[error(transparent)]
    Keychains(#[from] crate::oci::cloud_keychains::UnknownKeychain),
    /// A storage destination that cannot be used.
    #[error(transparent)]
    Storage(#[from] crate::storage::settings::Error),
    /// An unknown OCI encoding.
    #[error(
        "`CHAINSEAL_OCI_ENCODING` is `{0}`: use `dsse` (cosign tags) or `sigstore-bundle` (OCI referrers)"
    )]
    OciEncoding(String),
    /// A signer setting that cannot be used.
    #[error(transparent)]
    Signer(#[from] crate::signing::settings::Error),
    /// A bad `CHAINSEAL_TRANSPARENCY`.
    #[error("{0}")]
    Transparency(String),
    /// An unknown format or build type.
    #[error("`CHAINSEAL_{setting}`")]
    Name {
        /// The setting (`FORMAT`, `BUILDTYPE`).
        setting: &'static str,
        /// What is wrong.
        #[source]
        source: crate::provenance::UnknownName,
    },
    /// Only one of the Vault JWT login settings.
    #[error(
        "Vault JWT login needs both `CHAINSEAL_KMS_AUTH_OIDC_PATH` (the auth mount, e.g. `jwt`) and `CHAINSEAL_KMS_AUTH_OIDC_ROLE`"
    )]
    IncompleteVaultLogin,
    /// An empty builder id.
    #[error("`CHAINSEAL_BUILDER_ID` is empty: set it to a URI naming the build platform")]
    EmptyBuilderId,
    /// A GitHub OIDC issuer that is not GitHub's, unconfirmed, under GitHub Actions.
    #[error(transparent)]
    GithubIssuer(#[from] crate::oidc::ForeignIssuer),
}

fn suggestion(closest: &Option<String>) -> String {
    match closest {
        Some(c) => format!(": did you mean `{c}`?"),
        None => ": see `chainseal --help` for the valid names".to_owned(),
    }
}

/// Reject every `CHAINSEAL_*` variable in `vars` that no setting reads.
pub fn check_env<I>(vars: I) -> Result<(), Error>
where
    I: IntoIterator<Item = String>,
{
    let known = known_env_vars();
    let mut unknown: Vec<String> = vars
        .into_iter()
        .filter(|name| name.starts_with("CHAINSEAL_") && !known.contains(name))
        .collect();
    unknown.sort();
    match unknown.into_iter().next() {
        None => Ok(()),
        Some(name) => {
            let closest = known
                .iter()
                .map(|k| (strsim::jaro_winkler(k, &name), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| k.clone());
            Err(Error::UnknownEnvVar { name, closest })
        }
    }
}

/// The KMS connection settings from their arguments.
pub fn kms_options(args: KmsArgs) -> Result<KmsOptions, Error> {
    let nonempty = crate::values::non_empty_owned;
    let oidc = VaultJwtLogin::from_parts(
        args.kms_auth_oidc_path,
        args.kms_auth_oidc_role,
        args.kms_auth_oidc_token_path,
    )
    .map_err(|_| Error::IncompleteVaultLogin)?;
    Ok(KmsOptions {
        endpoint: nonempty(args.kms_endpoint),
        key_version: nonempty(args.kms_key_version),
        address: nonempty(args.kms_auth_address),
        token: args.kms_auth_token.filter(|t| !t.expose().is_empty()),
        token_path: args.kms_auth_token_path,
        oidc,
    })
}

/// The signer settings from their arguments; `Ok(None)` when no key is configured.
pub fn signer_settings(args: SignerArgs) -> Result<Option<crate::signing::Settings>, Error> {
    // Empty values count as unset (a Tekton Task passes every param, bound or not).
    let key = crate::values::non_empty(args.key.as_deref());
    let secrets = crate::values::non_empty(args.signing_secrets.as_deref()).map(PathBuf::from);
    let key = match (key, secrets) {
        (Some(_), Some(_)) => {
            return Err(Error::Conflict(
                EnvVars::CHAINSEAL_KEY,
                EnvVars::CHAINSEAL_SIGNING_SECRETS,
            ));
        }
        (Some(k), None) => KeyRef::parse(k)?,
        (None, Some(dir)) => KeyRef::SigningSecrets(dir),
        (None, None) => return Ok(None),
    };
    let mut keyless = crate::signing::keyless::Settings {
        fulcio_url: args.keyless.fulcio_url.trim().to_owned(),
        ..Default::default()
    };
    keyless.tokens.token = args
        .keyless
        .identity_token
        .filter(|t| !t.expose().iter().all(u8::is_ascii_whitespace));
    keyless.tokens.file = args.keyless.identity_token_file;
    Ok(Some(crate::signing::Settings {
        key,
        password: password_source(args.password),
        kms: kms_options(args.kms)?,
        keyless,
    }))
}

/// `signer` taking the CI job's identity tokens for keyless signing: GitHub's request
/// credentials, GitLab's `SIGSTORE_ID_TOKEN`.
fn with_ci_tokens(signer: &mut crate::signing::Settings, env: &crate::record::ci::Environment) {
    signer.keyless.tokens.github = env.id_token_request.clone();
    signer.keyless.tokens.gitlab = env.sigstore_id_token.clone();
}

/// The password source from its arguments (clap already rejects both at once).
pub fn password_source(args: PasswordArgs) -> PasswordSource {
    match (args.key_password, args.key_password_file) {
        (Some(v), _) => PasswordSource::Value(v),
        (None, Some(f)) => PasswordSource::File(f),
        (None, None) => PasswordSource::None,
    }
}

/// Registry settings from their arguments.
pub fn registry_settings(args: &crate::cli::RegistryArgs) -> Result<crate::oci::Settings, Error> {
    let list = |setting: &'static str, value: &Option<String>| {
        crate::values::split_list(
            setting,
            value.as_deref().unwrap_or(""),
            crate::values::Separators::Commas,
        )
    };
    Ok(crate::oci::Settings {
        insecure: list(
            EnvVars::CHAINSEAL_INSECURE_REGISTRIES,
            &args.insecure_registries,
        )?,
        insecure_everywhere: false,
        auth_files: list(
            EnvVars::CHAINSEAL_REGISTRY_AUTH_FILES,
            &args.registry_auth_files,
        )?
        .into_iter()
        .map(PathBuf::from)
        .collect(),
        // Empty is unset: every keychain (`none` turns them off).
        keychains: match crate::values::non_empty(args.registry_keychains.as_deref()) {
            Some(value) => crate::oci::cloud_keychains::parse(value)?,
            None => crate::oci::cloud_keychains::Cloud::ALL.to_vec(),
        },
    })
}

/// Whether `piece` (after a comma) still belongs to the MongoDB URI `last`: a host of
/// its host list (no path yet), or part of an option value (`?compressors=zstd,zlib`)
/// — anything but another destination.
fn continues_mongodb_uri(last: &str, piece: &str) -> bool {
    let Some(rest) = last
        .strip_prefix("mongodb://")
        .or_else(|| last.strip_prefix("mongodb+srv://"))
    else {
        return false;
    };
    !piece.is_empty()
        && !piece.contains("://")
        && !matches!(piece, "oci" | "tekton")
        && !piece.starts_with(['/', '.', '~'])
        && (!rest.contains('/') || rest.contains('?'))
}

/// The entries of `CHAINSEAL_STORAGE`: comma-separated, except that the commas
/// of a `mongodb://h1,h2/<db>/<collection>?opt=a,b` URI (host lists, option values)
/// stay in it. A directory right after such a URI must be a path (`/…`, `./…`) or
/// `file://`.
/// Messages never show passwords.
pub fn split_storage(value: &str) -> Result<Vec<String>, Error> {
    let mut items: Vec<String> = Vec::new();
    for piece in value.split(',') {
        let piece = piece.trim();
        if let Some(last) = items.last_mut()
            && continues_mongodb_uri(last, piece)
        {
            last.push(',');
            last.push_str(piece);
            continue;
        }
        if piece.is_empty() {
            return Err(Error::EmptyListItem(crate::values::EmptyListItem {
                setting: EnvVars::CHAINSEAL_STORAGE,
                value: without_password(value),
                separators: crate::values::Separators::Commas,
            }));
        }
        items.push(piece.to_owned());
    }
    Ok(items)
}

/// The transparency settings (Rekor, timestamp authorities, signing config, bundles)
/// from their arguments; `keyless` decides the default mode (`on` for keyless).
fn transparency_settings(
    args: &TransparencyArgs,
    keyless: bool,
) -> Result<crate::transparency::Settings, Error> {
    let nonempty = |v: &Option<String>| crate::values::non_empty_owned(v.clone());
    Ok(crate::transparency::Settings {
        mode: match nonempty(&args.transparency) {
            Some(m) => m.parse().map_err(|e: crate::transparency::UnknownMode| {
                Error::Transparency(e.to_string())
            })?,
            None if keyless => crate::transparency::Mode::On,
            None => crate::transparency::Mode::Off,
        },
        url: args.rekor_url.trim().to_owned(),
        tsa_urls: args
            .tsa_url
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect(),
        signing_config: nonempty(&args.signing_config),
        bundle: args.bundle || keyless,
    })
}

/// The Sigstore instance `CHAINSEAL_SIGSTORE` names or (keyless signing in a GitHub
/// Actions job, `github_job`, with no service setting) the repository's visibility
/// calls for, applied to the signer's Fulcio and the transparency settings (public-good
/// is what they default to; with no choice they stay as given).
fn sigstore_instance(
    args: &TransparencyArgs,
    signer: Option<&mut crate::signing::Settings>,
    transparency: &mut crate::transparency::Settings,
    env: &crate::record::ci::Environment,
    github_job: bool,
) -> Result<(), Error> {
    use crate::transparency::instance::{self, Choice, Instance};
    let keyless = signer
        .as_ref()
        .is_some_and(|s| matches!(s.key, KeyRef::Keyless));
    let default = |url: &str, default: &str| url.trim().trim_end_matches('/') == default;
    let mut named = [
        (
            EnvVars::CHAINSEAL_REKOR_URL,
            !default(&args.rekor_url, crate::transparency::DEFAULT_REKOR_URL),
        ),
        (
            EnvVars::CHAINSEAL_TSA_URL,
            !transparency.tsa_urls.is_empty(),
        ),
        (
            EnvVars::CHAINSEAL_SIGNING_CONFIG,
            transparency.signing_config.is_some(),
        ),
    ]
    .into_iter()
    .chain(signer.as_ref().map(|s| {
        let fulcio = &s.keyless.fulcio_url;
        (
            EnvVars::CHAINSEAL_FULCIO_URL,
            !default(fulcio, crate::signing::keyless::DEFAULT_FULCIO_URL),
        )
    }))
    .filter(|(_, given)| *given)
    .map(|(name, _)| name);
    let choice = match crate::values::non_empty(args.sigstore.as_deref()) {
        Some(value) => {
            let choice: Choice = value
                .parse()
                .map_err(|e: instance::UnknownChoice| Error::Transparency(e.to_string()))?;
            if let Some(name) = named.next() {
                return Err(Error::Conflict(EnvVars::CHAINSEAL_SIGSTORE, name));
            }
            choice
        }
        None if github_job && keyless && named.next().is_none() => Choice::ByVisibility,
        None => return Ok(()),
    };
    let instance = match choice {
        Choice::Given(instance) => instance,
        Choice::ByVisibility if !github_job => {
            return Err(Error::Transparency(
                "`CHAINSEAL_SIGSTORE=auto` chooses by a GitHub repository's visibility, which only `attest` in a GitHub Actions job knows: set public-good or github".into(),
            ));
        }
        Choice::ByVisibility => {
            let event = env
                .get(EnvVars::GITHUB_EVENT_PATH)
                .map(std::path::Path::new);
            let visibility = instance::visibility(event);
            let chosen = instance::for_visibility(&visibility);
            match &visibility {
                Ok(v) => tracing::info!(
                    "the repository is {}: signing with the {} Sigstore instance",
                    crate::error_text::shown(v),
                    chosen.name()
                ),
                Err(why) => tracing::warn!(
                    "the repository's visibility is unknown ({why}): signing with GitHub's Sigstore instance, which logs nothing publicly; set CHAINSEAL_SIGSTORE=public-good (action input `sigstore`) for a public repository"
                ),
            }
            chosen
        }
    };
    if instance == Instance::Github {
        if transparency.mode != crate::transparency::Mode::Off
            && args
                .transparency
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty())
        {
            return Err(Error::Transparency(format!(
                "`CHAINSEAL_TRANSPARENCY` asks for a transparency log, but GitHub's Sigstore instance (chosen by `CHAINSEAL_SIGSTORE`{}) has none: drop the transparency setting, or set CHAINSEAL_SIGSTORE=public-good to log in the public Rekor (which shows the repository's name)",
                if choice == Choice::ByVisibility {
                    " for a repository that is not public"
                } else {
                    ""
                }
            )));
        }
        transparency.mode = crate::transparency::Mode::Off;
        transparency.tsa_urls = vec![instance::GITHUB_TSA_URL.to_owned()];
        if let Some(s) = signer {
            s.keyless.fulcio_url = instance::GITHUB_FULCIO_URL.to_owned();
        }
    }
    Ok(())
}

/// Where attestations `signer` signs go, from their arguments: the signer given the
/// CI job's identity tokens (keyless), the transparency settings (their default mode
/// decided by keyless signing, their services by the Sigstore instance — chosen by
/// the repository's visibility in a GitHub job, `github_job`) and the storage
/// settings. `attest` and `verify --vsa` publish alike.
pub fn publish_settings(
    mut signer: Option<&mut crate::signing::Settings>,
    env: &crate::record::ci::Environment,
    github_job: bool,
    transparency: &TransparencyArgs,
    store: &StorageArgs,
    registry: &crate::cli::RegistryArgs,
    namespace: Option<String>,
) -> Result<crate::attest::Publish, Error> {
    let transparency_args = transparency;
    let keyless = signer
        .as_ref()
        .is_some_and(|s| matches!(s.key, KeyRef::Keyless));
    if let Some(s) = signer.as_deref_mut() {
        with_ci_tokens(s, env);
    }
    let mut transparency = transparency_settings(transparency_args, keyless)?;
    sigstore_instance(
        transparency_args,
        signer,
        &mut transparency,
        env,
        github_job,
    )?;
    // As actions/attest: keyless in a GitHub job, also GitHub's attestation store
    // unless the storage is set (a refusal of this default is only a warning).
    let github_by_default = keyless && github_job;
    let (storage, stores) = storage_settings(
        store,
        registry_settings(registry)?,
        transparency.bundle,
        namespace,
        github_by_default,
    )?;
    Ok(crate::attest::Publish {
        transparency,
        storage,
        stores,
    })
}

/// The storage destinations and what their backends need, from their arguments;
/// `github_by_default`: unless the storage is set, GitHub's attestation store too
/// (when the job has a token and a repository).
fn storage_settings(
    args: &StorageArgs,
    registry: crate::oci::Settings,
    bundles: bool,
    namespace: Option<String>,
    github_by_default: bool,
) -> Result<(Vec<StorageTarget>, crate::storage::Settings), Error> {
    let nonempty = |v: &Option<String>| crate::values::non_empty_owned(v.clone());
    let set = nonempty(&args.storage);
    let mut storage = split_storage(set.as_deref().unwrap_or(crate::cli::DEFAULT_STORAGE))?
        .iter()
        .map(|s| StorageTarget::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let by_default = set.is_none()
        && github_by_default
        && job_var(EnvVars::GITHUB_REPOSITORY).is_some()
        && args
            .github_token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty());
    if by_default {
        storage.push(StorageTarget::GitHub { repository: None });
    }
    let oci_encoding = OciEncoding::from_name(&args.oci_encoding)
        .ok_or_else(|| Error::OciEncoding(args.oci_encoding.trim().to_owned()))?;
    let stores = crate::storage::Settings {
        oci_encoding,
        registry,
        object_endpoint: nonempty(&args.storage_endpoint),
        bundles,
        grafeas: crate::storage::grafeas::Options {
            endpoint: nonempty(&args.grafeas_url),
            ..Default::default()
        },
        mongo_server: crate::storage::docdb::ServerUrl::Env,
        namespace,
        github: crate::storage::github::Options {
            api_url: job_var(EnvVars::GITHUB_API_URL),
            server_url: job_var(EnvVars::GITHUB_SERVER_URL),
            repository: job_var(EnvVars::GITHUB_REPOSITORY),
            token: args.github_token.clone(),
            storage_records: args.github_storage_record,
            version: nonempty(&args.subject_version),
            by_default,
        },
    };
    Ok((storage, stores))
}

/// A GitHub Actions variable of this process, `None` when unset or empty.
fn job_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The custom predicate or SBOM to sign instead of provenance, if one is set.
fn custom_predicate(args: &AttestArgs) -> Result<Option<crate::provenance::custom::Source>, Error> {
    use crate::provenance::custom::Source;
    let nonempty = |v: &Option<String>| crate::values::non_empty_owned(v.clone());
    let path = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    if let Some(sbom) = path(&args.sbom_path) {
        return Ok(Some(Source::Sbom(sbom)));
    }
    let predicate_type = nonempty(&args.predicate_type);
    let inline = nonempty(&args.predicate);
    let file = path(&args.predicate_path);
    match (predicate_type, inline, file) {
        (None, None, None) => Ok(None),
        (Some(t), Some(json), None) => Ok(Some(Source::Inline {
            predicate_type: uri(t)?,
            json,
        })),
        (Some(t), None, Some(path)) => Ok(Some(Source::File {
            predicate_type: uri(t)?,
            path,
        })),
        (Some(_), None, None) => Err(Error::CustomPredicate(": the predicate is missing")),
        (None, _, _) => Err(Error::CustomPredicate(": the predicate type is missing")),
        (Some(_), Some(_), Some(_)) => Err(Error::CustomPredicate(", not both")),
    }
}

/// A predicate type: a URI (`scheme:rest`, no whitespace).
fn uri(text: String) -> Result<String, Error> {
    let t = text.trim();
    if crate::verify::looks_like_uri(t) {
        Ok(t.to_owned())
    } else {
        Err(Error::CustomPredicate(
            ": `CHAINSEAL_PREDICATE_TYPE` must be a URI",
        ))
    }
}

impl AttestConfig {
    /// Validate the raw `attest` arguments.
    pub fn from_args(args: AttestArgs) -> Result<Self, Error> {
        use crate::record::ci::Platform;
        use crate::record::tekton::api::RunRef;
        let nonempty = |v: &Option<String>| crate::values::non_empty_owned(v.clone());
        let sources = [
            (EnvVars::CHAINSEAL_RECORD, nonempty(&args.record)),
            (EnvVars::CHAINSEAL_PIPELINERUN, nonempty(&args.pipelinerun)),
            (EnvVars::CHAINSEAL_TASKRUN, nonempty(&args.taskrun)),
        ];
        let given: Vec<&str> = sources
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| *n)
            .collect();
        if let [a, b, ..] = given[..] {
            return Err(Error::Conflict(a, b));
        }
        let env = crate::record::ci::Environment::capture(std::env::vars());
        let named = !given.is_empty();
        let platform = match args.source.trim() {
            "auto" | "" if named => None,
            "auto" | "" => Some(env.detect()),
            "tekton" => None,
            "github" => Some(Platform::Github),
            "gitlab" => Some(Platform::Gitlab),
            "generic" => Some(Platform::Generic),
            other => return Err(Error::Source(other.to_owned())),
        };
        if let (Some(p), Some(first)) = (platform, given.first()) {
            return Err(Error::SourceConflict(p, first));
        }
        let record = match (
            nonempty(&args.record),
            nonempty(&args.pipelinerun),
            nonempty(&args.taskrun),
            platform,
        ) {
            (Some(files), _, _, _) => RecordSource::Files(
                crate::values::split_list(
                    EnvVars::CHAINSEAL_RECORD,
                    &files,
                    crate::values::Separators::Commas,
                )?
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            ),
            (None, Some(pr), _, _) => RecordSource::Api(RunRef::PipelineRun(pr)),
            (None, None, Some(tr), _) => RecordSource::Api(RunRef::TaskRun(tr)),
            (None, None, None, Some(p)) => RecordSource::Ci(p),
            (None, None, None, None) => return Err(Error::MissingRecord),
        };
        let custom = custom_predicate(&args)?;
        let mut subjects = crate::subjects::Inputs {
            paths: crate::values::split_list(
                "CHAINSEAL_SUBJECT_PATH",
                args.subject_path.as_deref().unwrap_or(""),
                crate::values::Separators::CommasAndNewlines,
            )?,
            name: nonempty(&args.subject_name),
            digest: nonempty(&args.subject_digest),
            checksums: args.subject_checksums.filter(|p| !p.as_os_str().is_empty()),
            list: crate::values::split_list(
                "CHAINSEAL_SUBJECTS",
                args.subjects.as_deref().unwrap_or(""),
                crate::values::Separators::CommasAndNewlines,
            )?,
            max: args.max_subjects,
            artifacts_list: None,
        };
        // As actions/attest v4: with no subject input, the runner's artifacts list
        // (`subjects::collect` reads it only then).
        if matches!(record, RecordSource::Ci(Platform::Github)) {
            subjects.artifacts_list = env.get(EnvVars::GITHUB_ARTIFACTS_LIST).map(PathBuf::from);
        }
        let builder_id = nonempty(&args.builder_id);
        if args.builder_id.is_some() && builder_id.is_none() {
            return Err(Error::EmptyBuilderId);
        }
        if let RecordSource::Ci(p) = record {
            if subjects.is_empty() {
                return Err(if p == Platform::Generic && builder_id.is_none() {
                    Error::MissingRecord
                } else {
                    Error::NoSubjects(p)
                });
            }
            match (p, &builder_id) {
                (Platform::Generic, None) => return Err(Error::GenericBuilderId),
                (Platform::Github | Platform::Gitlab, Some(_)) => {
                    return Err(Error::PlatformBuilderId(p));
                }
                _ => {}
            }
            if args.format.trim() != "slsa/v1.0" {
                return Err(Error::CiFormat {
                    platform: p,
                    format: args.format.trim().to_owned(),
                });
            }
        }
        crate::oidc::check_github_issuer(
            args.github_oidc_issuer.trim(),
            env.get(EnvVars::GITHUB_ACTIONS) == Some("true"),
            args.github_oidc_issuer_override,
        )?;
        let output = match args.output.trim() {
            "" | "text" => OutputFormat::Text,
            "json" => OutputFormat::Json,
            other => return Err(Error::Output(other.to_owned())),
        };
        let extra_subjects = match (nonempty(&args.image_url), nonempty(&args.image_digest)) {
            (Some(url), Some(digest)) => {
                let image = crate::reference::DigestReference::parse(&format!("{url}@{digest}"))
                    .map_err(|e| Error::ImageSubject(e.to_string()))?;
                vec![crate::provenance::ResourceDescriptor {
                    name: image.name(),
                    digest: [("sha256".to_owned(), image.sha256.clone())].into(),
                    ..Default::default()
                }]
            }
            (None, None) => Vec::new(),
            _ => {
                return Err(Error::ImageSubject(
                    "set both the image and its digest, or neither".into(),
                ));
            }
        };
        let mut signer = match signer_settings(args.signer)? {
            None if args.dry_run => None,
            None => return Err(Error::MissingKey),
            some => some,
        };
        let namespace = nonempty(&args.namespace);
        let mut publish = publish_settings(
            signer.as_mut(),
            &env,
            matches!(record, RecordSource::Ci(Platform::Github)),
            &args.transparency,
            &args.store,
            &args.registry,
            namespace.clone(),
        )?;
        if let RecordSource::Ci(p) = record
            && publish.storage.contains(&StorageTarget::Tekton)
        {
            return Err(Error::TektonStorage(p));
        }
        if args.push_to_registry
            && !publish
                .storage
                .iter()
                .any(|t| matches!(t, StorageTarget::Oci { repository: None }))
        {
            publish
                .storage
                .push(StorageTarget::Oci { repository: None });
        }
        let format = args.format.parse().map_err(|source| Error::Name {
            setting: "FORMAT",
            source,
        })?;
        let build_type = args.buildtype.parse().map_err(|source| Error::Name {
            setting: "BUILDTYPE",
            source,
        })?;
        Ok(Self {
            record,
            signer,
            publish,
            provenance: Options {
                format,
                build_type,
                builder_id: builder_id
                    .unwrap_or_else(|| crate::provenance::DEFAULT_BUILDER_ID.to_owned()),
                deep_inspection: args.deep_inspection,
                run_state: None,
                extra_subjects,
            },
            namespace,
            result_locations: args.result_locations,
            result_subjects: args.result_subjects,
            subjects,
            env,
            github_oidc_issuer: args.github_oidc_issuer.trim().to_owned(),
            show_summary: args.show_summary,
            dotenv: args.dotenv,
            output,
            dry_run: args.dry_run,
            custom,
            explain: args.explain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;
    use crate::signing::settings::SERVICE_ACCOUNT_TOKEN;

    fn args() -> AttestArgs {
        AttestArgs {
            record: Some("a.json".into()),
            signer: SignerArgs {
                key: Some("k.pem".into()),
                ..SignerArgs::default()
            },
            store: crate::cli::StorageArgs {
                storage: Some("file:///tmp/out,rel/dir".into()),
                ..Default::default()
            },
            builder_id: Some("https://example.com/builder".into()),
            format: "slsa/v1.0".into(),
            buildtype: "https://tekton.dev/chains/v2/slsa".into(),
            ..AttestArgs::default()
        }
    }

    #[test]
    fn storage_lists_keep_mongodb_hosts_and_hide_passwords() {
        assert_eq!(
            split_storage("mongodb://u:p@h1:27017,h2/db/coll?replicaSet=rs,oci, dynamodb://tbl")
                .expect("parses"),
            [
                "mongodb://u:p@h1:27017,h2/db/coll?replicaSet=rs",
                "oci",
                "dynamodb://tbl"
            ]
        );
        let e = split_storage("mongodb://u:hunter2@h/db/c,,oci")
            .expect_err("fails")
            .to_string();
        assert!(
            !e.contains("hunter2") && e.contains("mongodb://[redacted]@h"),
            "{e}"
        );
        // Passwords with characters that should have been escaped still never show.
        for uri in [
            "mongodb://u:p,w@h/db/c",
            "mongodb://u:p/w@h/db/c",
            "mongodb://u:p?w@h/db/c",
        ] {
            let listed = format!("{uri},,oci");
            let e = split_storage(&listed).expect_err("fails").to_string();
            assert!(!e.contains("u:p"), "{e}");
        }
        assert_eq!(
            split_storage("mongodb://h/db/c?compressors=zstd,zlib,/var/x,./y").expect("parses"),
            ["mongodb://h/db/c?compressors=zstd,zlib", "/var/x", "./y"]
        );
        let e = StorageTarget::parse("mongodbx://u:hunter2@h/db/c")
            .expect_err("fails")
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(
            StorageTarget::parse("mongo://db/c?id_field=name").expect("parses"),
            StorageTarget::DocDb("mongo://db/c?id_field=name".into())
        );
        assert_eq!(
            StorageTarget::parse("dynamodb://tbl").expect("parses"),
            StorageTarget::DocDb("dynamodb://tbl".into())
        );
        assert_eq!(without_password("https://h/x"), "https://h/x");
        let target = StorageTarget::parse("mongodb://u:hunter2@h/db/c").expect("parses");
        assert!(!format!("{target:?}").contains("hunter2"), "{target:?}");
        assert_eq!(
            without_password("mongodb://u@h/x"),
            "mongodb://[redacted]@h/x"
        );
    }

    #[test]
    fn unknown_env_var_names_the_closest_valid_one() {
        let err = check_env(vec!["CHAINSEAL_STORGE".to_owned(), "HOME".to_owned()])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown environment variable `CHAINSEAL_STORGE`: did you mean `CHAINSEAL_STORAGE`?"
            )
        );
        assert!(check_env(vec!["CHAINSEAL_KEY".to_owned(), "OTHER_X".to_owned()]).is_ok());
    }

    #[test]
    fn debug_output_never_contains_the_password() {
        let mut a = args();
        a.signer.password.key_password = Some(SecretString::new("hunter2-secret".into()));
        let shown = format!(
            "{a:?} {:?}",
            AttestConfig::from_args(a.clone()).expect("valid")
        );
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn storage_list_is_parsed_in_order() {
        let cfg = AttestConfig::from_args(args()).expect("valid");
        assert_eq!(
            cfg.publish.storage,
            vec![
                StorageTarget::Dir("/tmp/out".into()),
                StorageTarget::Dir("rel/dir".into())
            ]
        );
        assert_eq!(
            cfg.signer.map(|s| s.key),
            Some(KeyRef::File("k.pem".into()))
        );
    }

    #[test]
    fn bad_settings_are_rejected_with_the_setting_named() {
        let mut a = args();
        a.store.storage = Some("ftp://host/dir".into());
        assert!(matches!(
            AttestConfig::from_args(a),
            Err(Error::Storage(
                crate::storage::settings::Error::Unsupported(_)
            ))
        ));
        let mut a = args();
        a.store.storage = Some("s3://bucket/prefix/,gs://b".into());
        assert_eq!(
            AttestConfig::from_args(a).expect("valid").publish.storage,
            vec![
                StorageTarget::Object("s3://bucket/prefix".into()),
                StorageTarget::Object("gs://b".into())
            ]
        );
        let mut a = args();
        a.record = Some("a.json,,b.json".into());
        assert!(matches!(
            AttestConfig::from_args(a),
            Err(Error::EmptyListItem(_))
        ));
        let mut a = args();
        a.signer.key = None;
        assert!(matches!(AttestConfig::from_args(a), Err(Error::MissingKey)));
        let mut a = args();
        a.signer.key = None;
        a.dry_run = true;
        assert!(AttestConfig::from_args(a).is_ok());
        let mut a = args();
        a.format = "slsa/v9".into();
        let err = AttestConfig::from_args(a).expect_err("unknown format");
        assert!(
            crate::error_text::joined(&err)
                .starts_with("`CHAINSEAL_FORMAT`: unknown format `slsa/v9`"),
            "{err}"
        );
        let mut a = args();
        a.signer.key = Some("pkcs11:token=x".into());
        assert!(matches!(
            AttestConfig::from_args(a),
            Err(Error::Signer(
                crate::signing::settings::Error::UnsupportedKey(_)
            ))
        ));
    }

    #[test]
    fn kms_uris_and_options() {
        for (uri, expected) in [
            ("gcpkms://projects/p", KeyRef::GcpKms("projects/p".into())),
            (
                "azurekms://v.vault.azure.net/k",
                KeyRef::AzureKms("v.vault.azure.net/k".into()),
            ),
            ("awskms:///alias/a", KeyRef::AwsKms("/alias/a".into())),
            ("hashivault://k", KeyRef::Vault("k".into())),
        ] {
            assert_eq!(KeyRef::parse(uri).expect(uri), expected);
        }
        let login = kms_options(KmsArgs {
            kms_auth_oidc_path: Some("/jwt/".into()),
            kms_auth_oidc_role: Some("signer".into()),
            ..KmsArgs::default()
        })
        .expect("valid");
        assert_eq!(
            login.oidc,
            Some(VaultJwtLogin {
                mount: "jwt".into(),
                role: "signer".into(),
                token_path: SERVICE_ACCOUNT_TOKEN.into(),
            })
        );
        let half = kms_options(KmsArgs {
            kms_auth_oidc_role: Some("signer".into()),
            ..KmsArgs::default()
        });
        assert!(matches!(half, Err(Error::IncompleteVaultLogin)));
        let token = kms_options(KmsArgs {
            kms_auth_token: Some(SecretString::new("s3cr3t".into())),
            ..KmsArgs::default()
        })
        .expect("valid");
        assert!(!format!("{token:?}").contains("s3cr3t"), "token in Debug");
    }
}
