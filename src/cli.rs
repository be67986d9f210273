//! Command-line and environment definitions (clap derive).
//!
//! Every flag has an environment variable `CHAINSEAL_<FLAG>`; the two are the same
//! setting, the flag winning when both are given. This module only describes the
//! settings; [`crate::config`] validates them into the values the pipeline uses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::env_vars::EnvVars;
use crate::secret::SecretString;

/// Default storage: a directory `attestations` below the working directory.
pub const DEFAULT_STORAGE: &str = "attestations";

/// Signed, verifiable SLSA provenance for finished CI builds.
///
/// With no subcommand, `chainseal` runs `attest`.
#[derive(Debug, Parser)]
#[command(
    name = "chainseal",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// What to do (default: `attest`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings of the default `attest` command.
    #[command(flatten)]
    pub attest: AttestArgs,

    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process; boxing would only complicate the clap derive.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Build SLSA provenance for a build record, sign it and store it (the default).
    Attest(AttestArgs),
    /// Verify DSSE envelopes (a `.json` envelope or an `.intoto.jsonl` file).
    ///
    /// Exit status: 0 every envelope verified, 1 a signature or content check failed,
    /// 2 bad usage or unreadable input.
    Verify(VerifyArgs),
    /// Generate an ECDSA P-256 key pair (`PREFIX.key`, `PREFIX.pub`).
    Keygen(KeygenArgs),
    /// Print the PEM public key (and its key id, on stderr) of the configured signer.
    PublicKey(SignerArgs),
    /// Watch every TaskRun and PipelineRun and sign each completed one, as the Tekton
    /// Chains controller does (same `chains-config`, `signing-secrets`, annotations).
    Controller(ControllerArgs),
}

/// Settings of `chainseal controller` (the rest comes from `chains-config`).
#[derive(Debug, Args, Clone)]
pub struct ControllerArgs {
    /// Namespaces to watch, comma-separated; default: all.
    #[arg(long, env = EnvVars::CHAINSEAL_NAMESPACES, value_name = "NS[,NS...]")]
    pub namespaces: Option<String>,

    /// Namespace of the `chains-config` ConfigMap.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_CONFIG_NAMESPACE,
        default_value = "tekton-chains",
        value_name = "NS"
    )]
    pub config_namespace: String,

    /// Name of the ConfigMap holding Chains' settings.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_CONFIG_NAME,
        default_value = "chains-config",
        value_name = "NAME"
    )]
    pub config_name: String,

    /// The ConfigMap (in the config namespace) mapping namespaces to tenants: their
    /// signers and the repositories their runs may push to (docs/controller.md).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_TENANTS_CONFIG,
        default_value = "chainseal-tenants",
        value_name = "NAME"
    )]
    pub tenants_config: String,

    /// Runs signed at once.
    #[arg(long, env = EnvVars::CHAINSEAL_WORKERS, default_value_t = 4, value_name = "N")]
    pub workers: usize,

    /// The first retry delay in milliseconds, doubled per retry (at most 5 minutes).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_RETRY_BACKOFF_MS,
        default_value_t = 1000,
        value_name = "MS"
    )]
    pub retry_backoff_ms: u64,

    /// How long one attempt at a run may take, in seconds (reading it, signing,
    /// logging, storing, marking). An attempt still going after that counts as failed
    /// and is retried like any other failure; `/healthz` fails while a worker is stuck
    /// past it.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_RECONCILE_TIMEOUT,
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        value_name = "SECONDS"
    )]
    pub reconcile_timeout: u64,

    /// Kubernetes API requests per second (client-side limit; 0: none). Chains'
    /// effective default is 20.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_KUBE_API_QPS,
        default_value_t = 0.0,
        value_name = "QPS"
    )]
    pub kube_api_qps: f64,

    /// Requests allowed at once above `--kube-api-qps`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_KUBE_API_BURST,
        default_value_t = 50,
        value_name = "N"
    )]
    pub kube_api_burst: u32,

    /// The controller's own ServiceAccount (`NAMESPACE/NAME`), whose pull secrets are
    /// tried after the run's, as Chains' k8schain does; default: the one the pod runs
    /// as (its mounted token's subject).
    #[arg(long, env = EnvVars::CHAINSEAL_SERVICE_ACCOUNT, value_name = "NAMESPACE/NAME")]
    pub service_account: Option<String>,

    /// Where `gcs` storage (`storage.gcs.bucket`) is reached instead of Google's
    /// endpoint (an emulator, a private endpoint).
    #[arg(long, env = EnvVars::CHAINSEAL_STORAGE_ENDPOINT, value_name = "URL")]
    pub storage_endpoint: Option<String>,

    /// The Grafeas server `grafeas` storage talks to (default Google's Container
    /// Analysis, `https://containeranalysis.googleapis.com`).
    #[arg(long, env = EnvVars::CHAINSEAL_GRAFEAS_URL, value_name = "URL")]
    pub grafeas_url: Option<String>,

    /// Add Chains' finalizer (`chains.tekton.dev/taskrun`, `…/pipelinerun`) to
    /// unfinished runs, so a run deleted before it is signed waits for its signature;
    /// removed as soon as the run is handled. Off by default: see docs/controller.md.
    #[arg(long, env = EnvVars::CHAINSEAL_FINALIZERS, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub finalizers: bool,

    /// Where `/metrics`, `/healthz` and `/readyz` are served (`off`: nowhere).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_METRICS_ADDR,
        default_value = "0.0.0.0:9090",
        value_name = "ADDR"
    )]
    pub metrics_addr: String,

    /// Elect a leader through a `coordination.k8s.io/v1` Lease, so that replicas never
    /// sign at the same time.
    #[arg(long, env = EnvVars::CHAINSEAL_LEADER_ELECTION, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub leader_election: bool,

    /// The Lease's name (in `--config-namespace`).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_LEASE_NAME,
        default_value = "chainseal-controller",
        value_name = "NAME"
    )]
    pub lease_name: String,

    /// Seconds a lease lasts without renewal: how long a dead leader blocks the others.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_LEASE_DURATION,
        default_value_t = 15,
        value_name = "SECONDS"
    )]
    pub lease_duration: u64,

    /// The mounted `signing-secrets` Secret (`x509.pem`, or `cosign.key` +
    /// `cosign.password`), used by signers set to `x509`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_SIGNING_SECRETS,
        default_value = "/etc/signing-secrets",
        value_name = "DIR"
    )]
    pub signing_secrets: PathBuf,

    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Settings shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log level: `error`, `warn`, `info`, `debug` or `trace`. Logs go to stderr.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_LOG_LEVEL,
        default_value = "info",
        global = true
    )]
    pub log_level: String,
}

/// Settings of `chainseal attest`.
#[derive(Debug, Args, Clone, Default)]
pub struct AttestArgs {
    /// Where the build record comes from: `auto` (a named Tekton record or run, else
    /// GitHub Actions when `GITHUB_ACTIONS=true`, GitLab CI when `GITLAB_CI=true`, else
    /// generic), `tekton`, `github`, `gitlab` or `generic` (subjects only).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_SOURCE,
        default_value = "auto",
        value_name = "SOURCE"
    )]
    pub source: String,

    /// The build record: a Tekton `tekton.dev/v1` TaskRun or PipelineRun as JSON or
    /// YAML. A PipelineRun's child TaskRuns come from the same input: a YAML
    /// multi-document file, a Kubernetes `List`, or several paths separated by commas.
    #[arg(long, env = EnvVars::CHAINSEAL_RECORD, value_name = "PATH[,PATH...]")]
    pub record: Option<String>,

    /// Read the record from the Kubernetes API: this PipelineRun and its finished
    /// TaskRuns (a `finally` Task passes `$(context.pipelineRun.name)`).
    #[arg(long, env = EnvVars::CHAINSEAL_PIPELINERUN, value_name = "NAME")]
    pub pipelinerun: Option<String>,

    /// Read the record from the Kubernetes API: this (finished) TaskRun.
    #[arg(long, env = EnvVars::CHAINSEAL_TASKRUN, value_name = "NAME")]
    pub taskrun: Option<String>,

    /// Namespace of `--pipelinerun` / `--taskrun` and of `tekton` storage; default: the
    /// pod's namespace (service-account mount) or the kubeconfig context's.
    #[arg(long, env = EnvVars::CHAINSEAL_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// An image to add as a subject (with `--image-digest`), for pipelines that pass
    /// the image to the attesting Task as parameters.
    #[arg(long, env = EnvVars::CHAINSEAL_IMAGE_URL, value_name = "IMAGE")]
    pub image_url: Option<String>,

    /// The digest of `--image-url` (`sha256:<hex>`).
    #[arg(long, env = EnvVars::CHAINSEAL_IMAGE_DIGEST, value_name = "DIGEST")]
    pub image_digest: Option<String>,

    /// Subjects: files and globs (comma- or newline-separated), each hashed with
    /// SHA-256 and named by its file name (`actions/attest`'s `subject-path`).
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECT_PATH, value_name = "PATH[,PATH...]")]
    pub subject_path: Option<String>,

    /// A subject by name (with `--subject-digest`), e.g. an image `ghcr.io/org/app`.
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECT_NAME, value_name = "NAME")]
    pub subject_name: Option<String>,

    /// The digest of `--subject-name`: `sha256:<hex>` or `sha512:<hex>`.
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECT_DIGEST, value_name = "DIGEST")]
    pub subject_digest: Option<String>,

    /// Subjects from a checksums file (`sha256sum` or `sha512sum` output).
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECT_CHECKSUMS, value_name = "PATH")]
    pub subject_checksums: Option<PathBuf>,

    /// Subjects as `name@sha256:<hex>` entries (comma- or newline-separated).
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECTS, value_name = "NAME@DIGEST[,...]")]
    pub subjects: Option<String>,

    /// The most subjects one attestation may have (after merging duplicates).
    #[arg(long, env = EnvVars::CHAINSEAL_MAX_SUBJECTS, default_value_t = crate::subjects::DEFAULT_MAX_SUBJECTS, value_name = "N")]
    pub max_subjects: usize,

    /// Sign a predicate of this type (a URI) instead of provenance, with `--predicate`
    /// or `--predicate-path`; the subjects are the build's, as for provenance.
    #[arg(long, env = EnvVars::CHAINSEAL_PREDICATE_TYPE, value_name = "URI")]
    pub predicate_type: Option<String>,

    /// The custom predicate: a JSON object (at most 16 MiB).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_PREDICATE,
        value_name = "JSON",
        conflicts_with = "predicate_path"
    )]
    pub predicate: Option<String>,

    /// A file holding the custom predicate (a JSON object, at most 16 MiB).
    #[arg(long, env = EnvVars::CHAINSEAL_PREDICATE_PATH, value_name = "PATH")]
    pub predicate_path: Option<PathBuf>,

    /// Sign this SPDX or CycloneDX JSON SBOM instead of provenance (its predicate type
    /// detected), for the build's subjects.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_SBOM_PATH,
        value_name = "PATH",
        conflicts_with_all = ["predicate_type", "predicate", "predicate_path"]
    )]
    pub sbom_path: Option<PathBuf>,

    /// Also store in the OCI registry of each image subject (adds `oci` storage).
    #[arg(long, env = EnvVars::CHAINSEAL_PUSH_TO_REGISTRY)]
    pub push_to_registry: bool,

    /// On GitHub Actions, write a Markdown summary to `$GITHUB_STEP_SUMMARY`.
    #[arg(long, env = EnvVars::CHAINSEAL_SHOW_SUMMARY, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub show_summary: bool,

    /// What `attest` prints on stdout: `text` or `json` (attestation path and digest,
    /// subjects, stored locations).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_OUTPUT,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub output: String,

    /// On GitLab CI, the dotenv report written for later jobs (declare it under
    /// `artifacts: reports: dotenv`).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_DOTENV,
        default_value = "chainseal.env",
        value_name = "PATH"
    )]
    pub dotenv: PathBuf,

    /// The issuer of GitHub Actions OIDC tokens (GitHub Enterprise Server:
    /// `https://<host>/_services/token`).
    #[arg(long, env = EnvVars::CHAINSEAL_GITHUB_OIDC_ISSUER, default_value = crate::oidc::GITHUB_ISSUER, value_name = "URL")]
    pub github_oidc_issuer: String,

    /// Confirm a `--github-oidc-issuer` that is not GitHub's: under GitHub Actions
    /// (`GITHUB_ACTIONS=true`) any other issuer is refused without it, so a variable
    /// an earlier step set (through `$GITHUB_ENV`) cannot name an issuer that mints
    /// tokens for any repository. The action sets it only from its `oidc-issuer` input.
    #[arg(long, env = EnvVars::CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub github_oidc_issuer_override: bool,

    /// File to write where the attestation went (one location per line), e.g. a
    /// Tekton result path `$(results.ATTESTATIONS.path)`.
    #[arg(long, env = EnvVars::CHAINSEAL_RESULT_LOCATIONS, value_name = "PATH")]
    pub result_locations: Option<PathBuf>,

    /// File to write the attested subjects to (`name@sha256:<hex>`, one per line),
    /// e.g. `$(results.SUBJECTS.path)`.
    #[arg(long, env = EnvVars::CHAINSEAL_RESULT_SUBJECTS, value_name = "PATH")]
    pub result_subjects: Option<PathBuf>,

    /// The signing key.
    #[command(flatten)]
    pub signer: SignerArgs,

    /// Rekor and bundles.
    #[command(flatten)]
    pub transparency: TransparencyArgs,

    /// Where to store attestations.
    #[command(flatten)]
    pub store: StorageArgs,

    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// The SLSA builder id written into the provenance: Tekton records default to
    /// Chains' `https://tekton.dev/chains/v2`; generic builds must set it; GitHub and
    /// GitLab builds take it from the platform.
    #[arg(long, env = EnvVars::CHAINSEAL_BUILDER_ID, value_name = "URI")]
    pub builder_id: Option<String>,

    /// Provenance format: `slsa/v1.0` (SLSA 1.0) or `slsa/v0.2`; Tekton Chains' names
    /// `in-toto`, `slsa/v1`, `slsa/v2alpha3`, `slsa/v2alpha4` are accepted too.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_FORMAT,
        default_value = "slsa/v1.0",
        value_name = "NAME"
    )]
    pub format: String,

    /// `buildDefinition.buildType` of SLSA 1.0 provenance:
    /// `https://tekton.dev/chains/v2/slsa` or `https://tekton.dev/chains/v2/slsa-tekton`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_BUILDTYPE,
        default_value = "https://tekton.dev/chains/v2/slsa",
        value_name = "URI"
    )]
    pub buildtype: String,

    /// Take a PipelineRun's subjects, inputs and byproducts from its child TaskRuns
    /// too (Chains' `artifacts.pipelinerun.enable-deep-inspection`).
    #[arg(long, env = EnvVars::CHAINSEAL_DEEP_INSPECTION)]
    pub deep_inspection: bool,

    /// Print the in-toto Statement to stdout; sign and store nothing.
    #[arg(long, env = EnvVars::CHAINSEAL_DRY_RUN)]
    pub dry_run: bool,

    /// With `--dry-run`: list every result and parameter considered and what became
    /// of it (subject, material, byproduct, or rejected with the reason).
    #[arg(long, env = EnvVars::CHAINSEAL_EXPLAIN, requires = "dry_run")]
    pub explain: bool,
}

/// Where signed attestations are stored (attest's attestations, verify's VSAs).
#[derive(Debug, Args, Clone)]
pub struct StorageArgs {
    /// Where to store attestations, a comma-separated list: `file:///dir` or a
    /// directory path; `oci` (next to each image: cosign tags or referrers, plus image
    /// signatures) or `oci://<registry>/<repository>` (all in one repository);
    /// `tekton` (Chains' annotations on the run itself). Default: `attestations`; in a
    /// GitHub Actions job signing keyless (`attest`), also `github` as actions/attest
    /// stores (any failure of that default upload is a warning, not a failed run).
    #[arg(long, env = EnvVars::CHAINSEAL_STORAGE, value_name = "URI[,URI...]")]
    pub storage: Option<String>,

    /// The endpoint `gs://` and `s3://` storage talks to instead of the cloud's (an
    /// emulator, MinIO, a private endpoint); credentials still come from the cloud's
    /// standard chain (`GOOGLE_APPLICATION_CREDENTIALS`, `AWS_*`).
    #[arg(long, env = EnvVars::CHAINSEAL_STORAGE_ENDPOINT, value_name = "URL")]
    pub storage_endpoint: Option<String>,

    /// The Grafeas server `grafeas://` storage talks to (default Google's Container
    /// Analysis, `https://containeranalysis.googleapis.com`).
    #[arg(long, env = EnvVars::CHAINSEAL_GRAFEAS_URL, value_name = "URL")]
    pub grafeas_url: Option<String>,

    /// How `oci` storage writes: `dsse` (cosign tags `sha256-<hex>.att`/`.sig`) or
    /// `sigstore-bundle` (Sigstore bundles as OCI 1.1 referrers).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_OCI_ENCODING,
        default_value = "dsse",
        value_name = "ENCODING"
    )]
    pub oci_encoding: String,

    /// The token `github` storage uploads to GitHub's attestation store with (needs
    /// `attestations: write`; never logged).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_GITHUB_TOKEN,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<SecretString>,

    /// With `github` storage and image subjects pushed to a registry, also create
    /// GitHub artifact metadata storage records (organisations only; a failure is a
    /// warning).
    #[arg(long, env = EnvVars::CHAINSEAL_GITHUB_STORAGE_RECORD, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub github_storage_record: bool,

    /// The artifact version storage records name (actions/attest's `subject-version`).
    #[arg(long, env = EnvVars::CHAINSEAL_SUBJECT_VERSION, value_name = "VERSION")]
    pub subject_version: Option<String>,
}

impl Default for StorageArgs {
    fn default() -> Self {
        Self {
            storage: None,
            storage_endpoint: None,
            grafeas_url: None,
            oci_encoding: "dsse".to_owned(),
            github_token: None,
            github_storage_record: true,
            subject_version: None,
        }
    }
}

/// Registry access settings (`attest` with `oci` storage, `verify --image`).
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Registries (`host[:port]`, comma-separated) reached over plain HTTP.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_INSECURE_REGISTRIES,
        value_name = "HOST[,HOST...]"
    )]
    pub insecure_registries: Option<String>,

    /// Docker `config.json` files, or mounted `.dockerconfigjson` Secret keys, read
    /// for registry credentials before `$DOCKER_CONFIG/config.json`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_REGISTRY_AUTH_FILES,
        value_name = "FILE[,FILE...]"
    )]
    pub registry_auth_files: Option<String>,

    /// The cloud keychains asked for a cloud registry's credentials when no pull
    /// secret or docker configuration has them: a comma-separated list of `ecr`,
    /// `google`, `acr`, or `none`. Default: all three.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_REGISTRY_KEYCHAINS,
        value_name = "ecr,google,acr|none"
    )]
    pub registry_keychains: Option<String>,
}

/// Which key signs: a key file, or Tekton Chains' `signing-secrets` directory.
#[derive(Debug, Args, Clone, Default)]
pub struct SignerArgs {
    /// The signing key: a key file path or `file://` URI (PEM `PRIVATE KEY` (PKCS#8:
    /// ECDSA P-256/384/521, Ed25519, RSA 2048-4096), `EC PRIVATE KEY`,
    /// `RSA PRIVATE KEY`, or a cosign-encrypted key), or a KMS key:
    /// `awskms://[endpoint]/<key>`, `gcpkms://projects/…/cryptoKeys/<k>[/cryptoKeyVersions/<v>]`,
    /// `azurekms://<vault>/<key>`, `hashivault://<key>`; or `keyless` (an ephemeral
    /// key certified by Fulcio for the workload's OIDC identity).
    #[arg(long, env = EnvVars::CHAINSEAL_KEY, value_name = "KEY")]
    pub key: Option<String>,

    /// A directory laid out like Tekton Chains' `signing-secrets` Secret: `x509.pem`
    /// if present, else `cosign.key` with `cosign.password`.
    #[arg(long, env = EnvVars::CHAINSEAL_SIGNING_SECRETS, value_name = "DIR")]
    pub signing_secrets: Option<String>,

    /// Password of an encrypted key.
    #[command(flatten)]
    pub password: PasswordArgs,

    /// KMS connection settings.
    #[command(flatten)]
    pub kms: KmsArgs,

    /// Keyless signing settings.
    #[command(flatten)]
    pub keyless: KeylessArgs,
}

/// Keyless signing (`CHAINSEAL_KEY=keyless`): Fulcio and the identity token.
#[derive(Debug, Args, Clone, Default)]
pub struct KeylessArgs {
    /// Fulcio's URL (a private Sigstore deployment's, or the public-good instance).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_FULCIO_URL,
        default_value = crate::signing::keyless::DEFAULT_FULCIO_URL,
        value_name = "URL"
    )]
    pub fulcio_url: String,

    /// The OIDC identity token itself (never logged); wins over every other source.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_IDENTITY_TOKEN,
        value_name = "JWT",
        hide_env_values = true
    )]
    pub identity_token: Option<SecretString>,

    /// A file holding the OIDC identity token, re-read on every signing; default: the
    /// projected token at `/var/run/sigstore/cosign/oidc-token` when it exists.
    #[arg(long, env = EnvVars::CHAINSEAL_IDENTITY_TOKEN_FILE, value_name = "PATH")]
    pub identity_token_file: Option<PathBuf>,
}

/// The transparency log and Sigstore bundles.
#[derive(Debug, Args, Clone, Default)]
pub struct TransparencyArgs {
    /// Upload signatures to Rekor: `on`, `off`, or `manual` (only runs annotated
    /// `chains.tekton.dev/transparency-upload: "true"`, as Chains); default: `on` for
    /// keyless signing, `off` for keys.
    #[arg(long, env = EnvVars::CHAINSEAL_TRANSPARENCY, value_name = "on|off|manual")]
    pub transparency: Option<String>,

    /// Rekor's URL.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_REKOR_URL,
        default_value = crate::transparency::DEFAULT_REKOR_URL,
        value_name = "URL"
    )]
    pub rekor_url: String,

    /// RFC 3161 timestamp authorities' endpoints (comma-separated): each timestamps
    /// every signature; with `--transparency off`, bundles carry timestamps only.
    #[arg(long, env = EnvVars::CHAINSEAL_TSA_URL, value_delimiter = ',', value_name = "URL")]
    pub tsa_url: Vec<String>,

    /// A Sigstore SigningConfig v0.2 (file or https URL) selecting Fulcio, Rekor (v1 or
    /// v2) and timestamp authorities; replaces the three URL settings.
    #[arg(long, env = EnvVars::CHAINSEAL_SIGNING_CONFIG, value_name = "FILE|URL")]
    pub signing_config: Option<String>,

    /// The Sigstore deployment when no URL or signing config names one: `public-good`,
    /// `github` (GitHub's Fulcio and timestamp authority, no log) or `auto` (by the
    /// GitHub repository's visibility, as actions/attest); default `auto` for keyless
    /// signing in a GitHub Actions job, else `public-good`.
    #[arg(long, env = EnvVars::CHAINSEAL_SIGSTORE, value_name = "public-good|github|auto")]
    pub sigstore: Option<String>,

    /// Also write a Sigstore bundle v0.3 (`<key>.sigstore.json`) next to each
    /// `.intoto.jsonl` in file storage; always on for keyless signing.
    #[arg(long, env = EnvVars::CHAINSEAL_BUNDLE, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub bundle: bool,
}

/// KMS settings: endpoint, key version and Vault authentication (Tekton Chains'
/// `signers.kms.auth.*` keys).
#[derive(Debug, Args, Clone, Default)]
pub struct KmsArgs {
    /// KMS API endpoint override (`gcpkms://`; `awskms://` keys without an endpoint in
    /// the URI), e.g. a private endpoint or a local test double.
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_ENDPOINT, value_name = "URL")]
    pub kms_endpoint: Option<String>,

    /// Key version to sign with (`hashivault://`, `azurekms://`); default: the latest.
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_KEY_VERSION, value_name = "VERSION")]
    pub kms_key_version: Option<String>,

    /// Vault server address (Chains `signers.kms.auth.address`); default `VAULT_ADDR`.
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_AUTH_ADDRESS, value_name = "URL")]
    pub kms_auth_address: Option<String>,

    /// Vault token (Chains `signers.kms.auth.token`; never logged); default
    /// `VAULT_TOKEN`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_KMS_AUTH_TOKEN,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub kms_auth_token: Option<SecretString>,

    /// File holding the Vault token (Chains `signers.kms.auth.token-path`; wins over
    /// the token).
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_AUTH_TOKEN_PATH, value_name = "PATH")]
    pub kms_auth_token_path: Option<PathBuf>,

    /// Vault JWT auth mount (Chains `signers.kms.auth.oidc.path`, e.g. `jwt`); with a
    /// role, log in with a JWT instead of a token.
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_AUTH_OIDC_PATH, value_name = "MOUNT")]
    pub kms_auth_oidc_path: Option<String>,

    /// Vault JWT auth role (Chains `signers.kms.auth.oidc.role`).
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_AUTH_OIDC_ROLE, value_name = "ROLE")]
    pub kms_auth_oidc_role: Option<String>,

    /// JWT file for the Vault login (Chains `signers.kms.auth.oidc.token-path`);
    /// default: the pod's service account token,
    /// `/var/run/secrets/kubernetes.io/serviceaccount/token`.
    #[arg(long, env = EnvVars::CHAINSEAL_KMS_AUTH_OIDC_TOKEN_PATH, value_name = "PATH")]
    pub kms_auth_oidc_token_path: Option<PathBuf>,
}

/// The password of an encrypted key (`attest`: to decrypt it; `keygen`: to encrypt).
#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Password of an encrypted key (never logged).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_KEY_PASSWORD,
        hide_env_values = true,
        value_name = "PASSWORD",
        conflicts_with = "key_password_file"
    )]
    pub key_password: Option<SecretString>,

    /// File holding the password (read as is; a trailing newline is tolerated when
    /// decrypting).
    #[arg(long, env = EnvVars::CHAINSEAL_KEY_PASSWORD_FILE, value_name = "PATH")]
    pub key_password_file: Option<PathBuf>,
}

/// Settings of `chainseal verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The PEM public key the envelopes must be signed with.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_KEY,
        value_name = "PATH",
        required_unless_present_any = ["certificate_identity", "certificate_identity_regexp"],
        conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"]
    )]
    pub key: Option<PathBuf>,

    /// Files to verify: a DSSE envelope as JSON, `.intoto.jsonl` (one envelope per
    /// line) or a Sigstore bundle (`.sigstore.json`); with `--certificate-identity`,
    /// Sigstore bundles.
    #[arg(required_unless_present = "image", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Keyless: the identity the signing certificate must name (its email or URI
    /// subject alternative name, exactly); the files are Sigstore bundles.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY,
        value_name = "IDENTITY",
        requires = "certificate_oidc_issuer",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,

    /// Keyless: a regular expression the whole certificate identity must match
    /// (anchored at both ends, unlike cosign's: `https://github.com/acme/.*`).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY_REGEXP,
        value_name = "REGEXP",
        requires = "certificate_oidc_issuer"
    )]
    pub certificate_identity_regexp: Option<String>,

    /// Keyless: the OIDC issuer the signing certificate must name, exactly.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_CERTIFICATE_OIDC_ISSUER,
        value_name = "URL"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// The Sigstore trust root (`trusted_root.json`: Fulcio CAs, Rekor and CT log keys,
    /// timestamp authorities) bundles are checked against, offline; a private
    /// deployment's, or the public-good instance's. Required for keyless; with
    /// `--key`, key-signed bundles' log entries and timestamps are checked against it.
    #[arg(long, env = EnvVars::CHAINSEAL_TRUSTED_ROOT, value_name = "PATH")]
    pub trusted_root: Option<PathBuf>,

    /// Verify what is stored in the registry for this image (`<repo>@sha256:<hex>`):
    /// attestations (cosign `.att` tag and Sigstore bundle referrers) and image
    /// signatures (`.sig` tag).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_IMAGE,
        value_name = "IMAGE",
        conflicts_with = "files"
    )]
    pub image: Option<String>,

    /// With `--image`: the repository attestations were stored in, when not the
    /// image's (`oci://<registry>/<repository>` storage).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_REPOSITORY,
        value_name = "REPOSITORY",
        requires = "image"
    )]
    pub repository: Option<String>,

    /// The predicate types that count, checked in the verified payload: URIs or
    /// cosign's short names (`slsaprovenance1`, `slsaprovenance02`, `custom`, `spdx`,
    /// …), comma-separated, or `any`; by default SLSA provenance (v1 and v0.2).
    /// Attestations of other types are reported as skipped.
    #[arg(
        long = "type",
        visible_alias = "predicate-type",
        env = EnvVars::CHAINSEAL_VERIFY_TYPE,
        value_name = "PREDICATE_TYPE"
    )]
    pub predicate_type: Option<String>,

    /// What each counted attestation must say.
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// What to print on stdout: `text` (lines for people) or `json` (one document:
    /// each attestation with its signer, subjects and every rule's result).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_FORMAT,
        default_value = "text",
        value_name = "text|json"
    )]
    pub format: String,

    /// Verification Summary Attestations.
    #[command(flatten)]
    pub vsa: VsaArgs,

    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `verify`'s policy: requirements checked against the verified Statement and, for
/// keyless signatures, the certificate (docs/verify.md).
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// The builder id the provenance must name, exactly.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_BUILDER_ID, value_name = "URI")]
    pub builder_id: Option<String>,

    /// The buildType the provenance must have, exactly.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_BUILD_TYPE, value_name = "URI")]
    pub build_type: Option<String>,

    /// The source repository (`github.com/org/repo`, `https://…`, `git+https://…`;
    /// scheme, `.git` and `@ref` ignored, as slsa-verifier compares them).
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_SOURCE_URI, value_name = "URI")]
    pub source_uri: Option<String>,

    /// The source ref: `refs/heads/<branch>`, `refs/tags/<tag>`, or a bare name
    /// matching either.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_SOURCE_REF, value_name = "REF")]
    pub source_ref: Option<String>,

    /// The source commit (hex; `sha1:` or `gitCommit:` first is allowed).
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_SOURCE_DIGEST, value_name = "COMMIT")]
    pub source_digest: Option<String>,

    /// An external parameter the build must have had (repeatable; the variable takes
    /// one `NAME=VALUE` per line).
    #[arg(
        long = "param",
        env = EnvVars::CHAINSEAL_VERIFY_PARAMS,
        value_delimiter = '\n',
        value_name = "NAME=VALUE"
    )]
    pub params: Vec<String>,

    /// A digest (`sha256:<hex>`) a subject must have (repeatable, or comma-separated).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_SUBJECT_DIGEST,
        value_delimiter = ',',
        value_name = "ALG:HEX"
    )]
    pub subject_digest: Vec<String>,

    /// A file that must be a subject: hashed with SHA-256 (repeatable, or
    /// comma-separated).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_ARTIFACT,
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub artifact: Vec<PathBuf>,

    /// Keyless: the workflow that signed, `[host/]owner/repo/path/to/workflow.yml` (host
    /// github.com when left out), optionally `@<ref>`: the certificate's build signer.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_SIGNER_WORKFLOW,
        value_name = "WORKFLOW",
        conflicts_with = "key"
    )]
    pub signer_workflow: Option<String>,

    /// Keyless: refuse certificates issued to self-hosted runners (the certificate's
    /// runner environment must be `github-hosted` or `gitlab-hosted`).
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS)]
    pub deny_self_hosted_runners: bool,

    /// Policy files (YAML: these requirements as keys, and named CEL rules), repeatable
    /// or comma-separated; every rule of every file is evaluated.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_POLICY,
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub policy: Vec<PathBuf>,

    /// VSAs (`--type vsa`): the `verifier.id` they must name.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_VERIFIER_ID, value_name = "URI")]
    pub verifier_id: Option<String>,

    /// VSAs: SLSA levels their `verifiedLevels` must reach (`SLSA_BUILD_LEVEL_2`;
    /// repeatable or comma-separated).
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_VERIFIED_LEVEL,
        value_delimiter = ',',
        value_name = "LEVEL"
    )]
    pub verified_level: Vec<String>,

    /// VSAs: the `resourceUri` they must name.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_RESOURCE_URI, value_name = "URI")]
    pub resource_uri: Option<String>,
}

/// `verify --vsa`: a signed Verification Summary Attestation for each verified
/// subject, signed and stored as attest signs and stores.
#[derive(Debug, Args, Clone, Default)]
pub struct VsaArgs {
    /// Write a signed VSA (`https://slsa.dev/verification_summary/v1`) for each
    /// verified subject, `PASSED` or `FAILED`.
    #[arg(long, env = EnvVars::CHAINSEAL_VERIFY_VSA)]
    pub vsa: bool,

    /// The key that signs VSAs: the forms of attest's `--key` (key file, KMS URI,
    /// `keyless`).
    #[arg(long, env = EnvVars::CHAINSEAL_VSA_KEY, value_name = "KEY")]
    pub vsa_key: Option<String>,

    /// The VSA's `verifier.id`.
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VSA_VERIFIER_ID,
        default_value = crate::verify::vsa::DEFAULT_VERIFIER_ID,
        value_name = "URI"
    )]
    pub vsa_verifier_id: String,

    /// The SLSA build level (1-3) the builder is trusted for: with a checked builder id
    /// the VSA reports up to it (docs/verify.md, "Levels").
    #[arg(
        long,
        env = EnvVars::CHAINSEAL_VERIFY_BUILDER_LEVEL,
        default_value_t = 2,
        value_parser = clap::value_parser!(u8).range(1..=3),
        value_name = "1|2|3"
    )]
    pub builder_level: u8,

    /// Password of an encrypted VSA key.
    #[command(flatten)]
    pub password: PasswordArgs,

    /// KMS connection settings of the VSA key.
    #[command(flatten)]
    pub kms: KmsArgs,

    /// Keyless signing settings of VSAs.
    #[command(flatten)]
    pub keyless: KeylessArgs,

    /// Rekor and timestamps for VSAs.
    #[command(flatten)]
    pub transparency: TransparencyArgs,

    /// Where VSAs are stored.
    #[command(flatten)]
    pub store: StorageArgs,
}

/// Settings of `chainseal keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Path prefix of the files to write: `PREFIX.key` and `PREFIX.pub`.
    #[arg(long, env = EnvVars::CHAINSEAL_KEYGEN_OUT, value_name = "PREFIX")]
    pub out: PathBuf,

    /// Encrypt the private key (cosign format) with this password.
    #[command(flatten)]
    pub password: PasswordArgs,

    /// Overwrite existing files.
    #[arg(long, env = EnvVars::CHAINSEAL_KEYGEN_FORCE)]
    pub force: bool,
}

/// The command-line definition, with one rule clap lacks: a `CHAINSEAL_*` variable
/// set to the empty string counts as unset (a docker action passes every optional
/// input, given or not; `docker run -e VAR=` likewise).
pub fn command() -> clap::Command {
    use clap::CommandFactory as _;
    fn drop_empty_env(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|arg| {
            let empty = arg.get_env().is_some_and(crate::values::empty_env);
            if empty { arg.env(None::<&str>) } else { arg }
        })
        .mut_subcommands(drop_empty_env)
    }
    drop_empty_env(Cli::command())
}

/// Every environment variable the command line knows, sorted.
pub fn known_env_vars() -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&<Cli as clap::CommandFactory>::command(), &mut out);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_a_chainseal_env_var() {
        fn walk(cmd: &clap::Command) {
            for arg in cmd.get_arguments() {
                if arg.is_positional() || matches!(arg.get_id().as_str(), "help" | "version") {
                    continue;
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                let want = format!(
                    "CHAINSEAL_{}",
                    arg.get_id().as_str().to_uppercase().replace('-', "_")
                );
                let env = env.unwrap_or_else(|| panic!("--{} has no env var", arg.get_id()));
                assert!(
                    env == want || env.starts_with("CHAINSEAL_"),
                    "--{} uses {env}",
                    arg.get_id()
                );
            }
            for sub in cmd.get_subcommands() {
                walk(sub);
            }
        }
        walk(&Cli::command());
    }

    #[test]
    fn known_env_vars_lists_attest_and_verify_settings() {
        let vars = known_env_vars();
        for v in ["CHAINSEAL_RECORD", "CHAINSEAL_KEY", "CHAINSEAL_VERIFY_KEY"] {
            assert!(vars.iter().any(|x| x == v), "{v} missing from {vars:?}");
        }
    }

    #[test]
    fn settings_are_exactly_the_variables_the_command_line_declares() {
        let clap: std::collections::BTreeSet<String> = known_env_vars().into_iter().collect();
        let settings: std::collections::BTreeSet<String> = crate::env_vars::EnvVars::SETTINGS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let missing: Vec<_> = clap.difference(&settings).collect();
        let extra: Vec<_> = settings.difference(&clap).collect();
        assert!(
            missing.is_empty(),
            "clap reads {missing:?}, not in EnvVars::SETTINGS"
        );
        assert!(
            extra.is_empty(),
            "EnvVars::SETTINGS has {extra:?}, no flag reads them"
        );
    }
}
