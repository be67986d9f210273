//! Every environment variable chainseal reads or writes, as a named constant (in the
//! style of uv's `EnvVars`): use `EnvVars::CHAINSEAL_KEY`, never the string.
//!
//! * chainseal's own settings (`CHAINSEAL_*`), each the environment side of a flag
//!   ([`EnvVars::SETTINGS`]; clap reads them, `config::check_env` rejects any other
//!   `CHAINSEAL_*` name);
//! * the names of the GitLab dotenv report it writes ([`EnvVars::OUTPUTS`]);
//! * the variables of other tools and platforms it reads or passes on: Vault, AWS,
//!   Google, Azure, docker, MongoDB, proxies, GitHub Actions, GitLab CI
//!   ([`EnvVars::THIRD_PARTY`]);
//! * the variables of the test suite that `src/` reads ([`EnvVars::TEST_ONLY`]).
//!
//! Each constant's doc says what the variable does, its default and which front door
//! reads it. The README's configuration table and `docs/configuration.md`
//! ("Environment variables of other tools") document them for users; tests keep the
//! three in agreement (`tests/it/cli.rs`).

/// The environment variables chainseal reads or writes (constants only).
#[derive(Debug, Clone, Copy)]
pub struct EnvVars;

/// chainseal's own settings: one per flag, read by clap (`cli.rs`).
impl EnvVars {
    /// `auto`, `tekton`, `github`, `gitlab` or `generic`: where the build record comes
    /// from. Default: `auto`. Read by: attest (`--source`).
    pub const CHAINSEAL_SOURCE: &'static str = "CHAINSEAL_SOURCE";

    /// Tekton build record file(s), comma-separated. Default: none. Read by: attest
    /// (`--record`).
    pub const CHAINSEAL_RECORD: &'static str = "CHAINSEAL_RECORD";

    /// Signing key: path, `file://` URI, `hashivault://<key>` (with `VAULT_ADDR`,
    /// `VAULT_TOKEN`), `awskms://[endpoint]/<key id, alias/name or ARN>` (standard AWS
    /// credentials and `AWS_REGION`),
    /// `gcpkms://projects/…/cryptoKeys/<k>[/cryptoKeyVersions/<v>]` (Application Default
    /// Credentials), `azurekms://<vault host>/<key>` (service principal, workload or
    /// managed identity), or `keyless` (an ephemeral key certified by Fulcio for the
    /// workload's OIDC identity; see docs/keyless.md). Default: (required unless
    /// `--dry-run`, or `CHAINSEAL_SIGNING_SECRETS`). Read by: attest, public-key (`--key`).
    pub const CHAINSEAL_KEY: &'static str = "CHAINSEAL_KEY";

    /// With `CHAINSEAL_KEY=keyless`: the Fulcio that certifies the ephemeral key (v2 API).
    /// Default: `https://fulcio.sigstore.dev`. Read by: attest (`--fulcio-url`).
    pub const CHAINSEAL_FULCIO_URL: &'static str = "CHAINSEAL_FULCIO_URL";

    /// Keyless: the OIDC identity token itself (never logged); wins over every other
    /// source. Default: none. Read by: attest (`--identity-token`).
    pub const CHAINSEAL_IDENTITY_TOKEN: &'static str = "CHAINSEAL_IDENTITY_TOKEN";

    /// Keyless: a file holding the token (a projected service-account token, audience
    /// `sigstore`); then GitHub Actions' ID token (audience `sigstore`), then GitLab's
    /// `SIGSTORE_ID_TOKEN`. Default: `/var/run/sigstore/cosign/oidc-token` when it exists.
    /// Read by: attest (`--identity-token-file`).
    pub const CHAINSEAL_IDENTITY_TOKEN_FILE: &'static str = "CHAINSEAL_IDENTITY_TOKEN_FILE";

    /// `on`, `off` or `manual` (only runs annotated `chains.tekton.dev/transparency-upload:
    /// "true"`): log attestations (`dsse`) and image signatures (`hashedrekord`) in Rekor.
    /// Default: `on` for keyless, else `off`. Read by: attest (`--transparency`).
    pub const CHAINSEAL_TRANSPARENCY: &'static str = "CHAINSEAL_TRANSPARENCY";

    /// The Rekor to log in, v1 or v2 (the API version is detected). Default:
    /// `https://rekor.sigstore.dev`. Read by: attest (`--rekor-url`).
    pub const CHAINSEAL_REKOR_URL: &'static str = "CHAINSEAL_REKOR_URL";

    /// RFC 3161 timestamp authorities (their timestamp endpoints, comma-separated, e.g.
    /// `https://timestamp.sigstore.dev/api/v1/timestamp`): every signature is
    /// timestamped by each. Default: none. Read by: attest (`--tsa-url`).
    pub const CHAINSEAL_TSA_URL: &'static str = "CHAINSEAL_TSA_URL";

    /// A Sigstore SigningConfig v0.2 (a file, or an https URL) that selects Fulcio, the
    /// Rekor log and the timestamp authorities; replaces `CHAINSEAL_FULCIO_URL`,
    /// `CHAINSEAL_REKOR_URL` and `CHAINSEAL_TSA_URL`. Read by: attest
    /// (`--signing-config`).
    pub const CHAINSEAL_SIGNING_CONFIG: &'static str = "CHAINSEAL_SIGNING_CONFIG";

    /// The Sigstore deployment to sign with when no URL or signing config names one:
    /// `public-good` (Fulcio and Rekor at sigstore.dev), `github` (GitHub's Fulcio and
    /// timestamp authority, no transparency log), or `auto` (by the GitHub repository's
    /// visibility, as actions/attest: public-good for public repositories, GitHub's
    /// otherwise). Default: `auto` for keyless signing in a GitHub Actions job when no
    /// service setting is given, else `public-good`. Read by: attest, verify (`--vsa`)
    /// (`--sigstore`).
    pub const CHAINSEAL_SIGSTORE: &'static str = "CHAINSEAL_SIGSTORE";

    /// Also write a Sigstore bundle v0.3, `<key>.sigstore.json`, next to each
    /// `.intoto.jsonl`. Default: `false` (always on for keyless). Read by: attest
    /// (`--bundle`).
    pub const CHAINSEAL_BUNDLE: &'static str = "CHAINSEAL_BUNDLE";

    /// Read the record from the Kubernetes API: this PipelineRun and its finished TaskRuns
    /// (the `finally` Task passes `$(context.pipelineRun.name)`). Default: none. Read by:
    /// attest (`--pipelinerun`).
    pub const CHAINSEAL_PIPELINERUN: &'static str = "CHAINSEAL_PIPELINERUN";

    /// Read one finished TaskRun from the Kubernetes API. Default: none. Read by: attest
    /// (`--taskrun`).
    pub const CHAINSEAL_TASKRUN: &'static str = "CHAINSEAL_TASKRUN";

    /// Namespace of the run and of `tekton` storage. Default: the pod's, or the kubeconfig
    /// context's. Read by: attest (`--namespace`).
    pub const CHAINSEAL_NAMESPACE: &'static str = "CHAINSEAL_NAMESPACE";

    /// An image to add as a subject (with `CHAINSEAL_IMAGE_DIGEST`). Default: none. Read
    /// by: attest (`--image-url`).
    pub const CHAINSEAL_IMAGE_URL: &'static str = "CHAINSEAL_IMAGE_URL";

    /// Its digest, `sha256:<hex>`. Default: none. Read by: attest (`--image-digest`).
    pub const CHAINSEAL_IMAGE_DIGEST: &'static str = "CHAINSEAL_IMAGE_DIGEST";

    /// Files and globs (comma- or newline-separated), each a subject named by its file
    /// name, SHA-256. Default: none. Read by: attest (`--subject-path`).
    pub const CHAINSEAL_SUBJECT_PATH: &'static str = "CHAINSEAL_SUBJECT_PATH";

    /// A subject by name, with `CHAINSEAL_SUBJECT_DIGEST`. Default: none. Read by: attest
    /// (`--subject-name`).
    pub const CHAINSEAL_SUBJECT_NAME: &'static str = "CHAINSEAL_SUBJECT_NAME";

    /// Its digest, `sha256:<hex>` or `sha512:<hex>`. Default: none. Read by: attest
    /// (`--subject-digest`).
    pub const CHAINSEAL_SUBJECT_DIGEST: &'static str = "CHAINSEAL_SUBJECT_DIGEST";

    /// A `sha256sum` / `sha512sum` output file naming subjects. Default: none. Read by:
    /// attest (`--subject-checksums`).
    pub const CHAINSEAL_SUBJECT_CHECKSUMS: &'static str = "CHAINSEAL_SUBJECT_CHECKSUMS";

    /// `name@sha256:<hex>` entries, comma- or newline-separated. Default: none. Read by:
    /// attest (`--subjects`).
    pub const CHAINSEAL_SUBJECTS: &'static str = "CHAINSEAL_SUBJECTS";

    /// The most subjects one attestation may have (after merging duplicates). Default:
    /// `1024`. Read by: attest (`--max-subjects`).
    pub const CHAINSEAL_MAX_SUBJECTS: &'static str = "CHAINSEAL_MAX_SUBJECTS";

    /// Sign this predicate type instead of provenance (a URI; with
    /// `CHAINSEAL_PREDICATE` or `CHAINSEAL_PREDICATE_PATH`). Default: none
    /// (provenance). Read by: attest (`--predicate-type`).
    pub const CHAINSEAL_PREDICATE_TYPE: &'static str = "CHAINSEAL_PREDICATE_TYPE";

    /// The custom predicate, as JSON (an object, at most 16 MiB). Default: none. Read
    /// by: attest (`--predicate`).
    pub const CHAINSEAL_PREDICATE: &'static str = "CHAINSEAL_PREDICATE";

    /// A file holding the custom predicate (JSON object, at most 16 MiB). Default: none.
    /// Read by: attest (`--predicate-path`).
    pub const CHAINSEAL_PREDICATE_PATH: &'static str = "CHAINSEAL_PREDICATE_PATH";

    /// An SPDX or CycloneDX JSON SBOM to sign instead of provenance, its predicate type
    /// detected. Default: none. Read by: attest (`--sbom-path`).
    pub const CHAINSEAL_SBOM_PATH: &'static str = "CHAINSEAL_SBOM_PATH";

    /// Add `oci` storage (the registry of each image subject). Default: `false`. Read by:
    /// attest (`--push-to-registry`).
    pub const CHAINSEAL_PUSH_TO_REGISTRY: &'static str = "CHAINSEAL_PUSH_TO_REGISTRY";

    /// On GitHub Actions, write the job summary to `$GITHUB_STEP_SUMMARY`. Default: `true`.
    /// Read by: attest (`--show-summary`).
    pub const CHAINSEAL_SHOW_SUMMARY: &'static str = "CHAINSEAL_SHOW_SUMMARY";

    /// `text` or `json` (attestation path, digest, subjects and locations on stdout).
    /// Default: `text`. Read by: attest (`--output`).
    pub const CHAINSEAL_OUTPUT: &'static str = "CHAINSEAL_OUTPUT";

    /// On GitLab CI, the dotenv report (`CHAINSEAL_ATTESTATION_PATH`, `_DIGEST`, `_KEY`,
    /// `CHAINSEAL_SUBJECTS`, `CHAINSEAL_BUNDLE_PATH`, `CHAINSEAL_TRANSPARENCY_LOG_ENTRY`).
    /// Default: `chainseal.env`. Read by: attest (`--dotenv`).
    pub const CHAINSEAL_DOTENV: &'static str = "CHAINSEAL_DOTENV";

    /// Issuer whose keys verify the GitHub Actions ID token (GHES:
    /// `https://<host>/_services/token`). Default:
    /// `https://token.actions.githubusercontent.com`. Read by: attest
    /// (`--github-oidc-issuer`).
    pub const CHAINSEAL_GITHUB_OIDC_ISSUER: &'static str = "CHAINSEAL_GITHUB_OIDC_ISSUER";

    /// Confirm a non-GitHub issuer: under GitHub Actions any other issuer is refused
    /// without it (the action sets it only from its `oidc-issuer` input). Default: `false`.
    /// Read by: attest (`--github-oidc-issuer-override`).
    pub const CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE: &'static str =
        "CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE";

    /// File to write where the attestation went, one per line (a Tekton result path).
    /// Default: none. Read by: attest (`--result-locations`).
    pub const CHAINSEAL_RESULT_LOCATIONS: &'static str = "CHAINSEAL_RESULT_LOCATIONS";

    /// File to write the attested subjects to, `name@sha256:<hex>` per line. Default: none.
    /// Read by: attest (`--result-subjects`).
    pub const CHAINSEAL_RESULT_SUBJECTS: &'static str = "CHAINSEAL_RESULT_SUBJECTS";

    /// A Chains `signing-secrets` directory: `x509.pem`, else `cosign.key` +
    /// `cosign.password`. Default: none (controller: `/etc/signing-secrets`). Read by:
    /// attest, public-key, controller (`--signing-secrets`).
    pub const CHAINSEAL_SIGNING_SECRETS: &'static str = "CHAINSEAL_SIGNING_SECRETS";

    /// Namespaces to watch, comma-separated. Default: all. Read by: controller
    /// (`--namespaces`).
    pub const CHAINSEAL_NAMESPACES: &'static str = "CHAINSEAL_NAMESPACES";

    /// Namespace of the `chains-config` ConfigMap. Default: `tekton-chains`. Read by:
    /// controller (`--config-namespace`).
    pub const CHAINSEAL_CONFIG_NAMESPACE: &'static str = "CHAINSEAL_CONFIG_NAMESPACE";

    /// Name of that ConfigMap. Default: `chains-config`. Read by: controller
    /// (`--config-name`).
    pub const CHAINSEAL_CONFIG_NAME: &'static str = "CHAINSEAL_CONFIG_NAME";

    /// Name of the tenants ConfigMap (in the config namespace): per-namespace signers
    /// and repository policy. Default: `chainseal-tenants`. Read by: controller
    /// (`--tenants-config`).
    pub const CHAINSEAL_TENANTS_CONFIG: &'static str = "CHAINSEAL_TENANTS_CONFIG";

    /// The controller's own ServiceAccount, `NAMESPACE/NAME`: its pull secrets are
    /// tried after the run's ServiceAccount's, as Chains' k8schain does. Default: the
    /// ServiceAccount the pod runs as (its mounted token's subject); none outside a
    /// cluster. Read by: controller (`--service-account`).
    pub const CHAINSEAL_SERVICE_ACCOUNT: &'static str = "CHAINSEAL_SERVICE_ACCOUNT";

    /// Runs signed at once. Default: `4`. Read by: controller (`--workers`).
    pub const CHAINSEAL_WORKERS: &'static str = "CHAINSEAL_WORKERS";

    /// Client-side limit on Kubernetes API requests per second (Chains' effective default:
    /// 20). Default: `0` (no limit). Read by: controller (`--kube-api-qps`).
    pub const CHAINSEAL_KUBE_API_QPS: &'static str = "CHAINSEAL_KUBE_API_QPS";

    /// Requests allowed at once above that rate. Default: `50`. Read by: controller
    /// (`--kube-api-burst`).
    pub const CHAINSEAL_KUBE_API_BURST: &'static str = "CHAINSEAL_KUBE_API_BURST";

    /// Add Chains' finalizer to unfinished runs until they are signed (docs/controller.md);
    /// runs being deleted are released in every mode. Default: `false`. Read by: controller
    /// (`--finalizers`).
    pub const CHAINSEAL_FINALIZERS: &'static str = "CHAINSEAL_FINALIZERS";

    /// Where `/metrics` (Chains' metric names), `/healthz` and `/readyz` are served; `off`
    /// to disable. Default: `0.0.0.0:9090`. Read by: controller (`--metrics-addr`).
    pub const CHAINSEAL_METRICS_ADDR: &'static str = "CHAINSEAL_METRICS_ADDR";

    /// Elect one signing replica through a `coordination.k8s.io/v1` Lease. Default: `true`.
    /// Read by: controller (`--leader-election`).
    pub const CHAINSEAL_LEADER_ELECTION: &'static str = "CHAINSEAL_LEADER_ELECTION";

    /// The Lease's name, in the config namespace. Default: `chainseal-controller`. Read by:
    /// controller (`--lease-name`).
    pub const CHAINSEAL_LEASE_NAME: &'static str = "CHAINSEAL_LEASE_NAME";

    /// Seconds a lease lasts without renewal (how long a dead leader blocks the others).
    /// Default: `15`. Read by: controller (`--lease-duration`).
    pub const CHAINSEAL_LEASE_DURATION: &'static str = "CHAINSEAL_LEASE_DURATION";

    /// First retry delay, doubled per retry (at most 5 minutes). Default: `1000`. Read by:
    /// controller (`--retry-backoff-ms`).
    pub const CHAINSEAL_RETRY_BACKOFF_MS: &'static str = "CHAINSEAL_RETRY_BACKOFF_MS";

    /// Seconds one attempt at a run may take; after that it counts as failed (and
    /// `/healthz` fails while a worker is stuck past it). Default: `300`. Read by:
    /// controller (`--reconcile-timeout`).
    pub const CHAINSEAL_RECONCILE_TIMEOUT: &'static str = "CHAINSEAL_RECONCILE_TIMEOUT";

    /// Password of an encrypted key (never logged). Default: none. Read by: attest, keygen,
    /// public-key (`--key-password`).
    pub const CHAINSEAL_KEY_PASSWORD: &'static str = "CHAINSEAL_KEY_PASSWORD";

    /// File holding that password. Default: none. Read by: attest, keygen, public-key
    /// (`--key-password-file`).
    pub const CHAINSEAL_KEY_PASSWORD_FILE: &'static str = "CHAINSEAL_KEY_PASSWORD_FILE";

    /// KMS API endpoint override (`gcpkms://`; `awskms://` without an endpoint in the URI).
    /// Default: the provider's. Read by: attest, public-key (`--kms-endpoint`).
    pub const CHAINSEAL_KMS_ENDPOINT: &'static str = "CHAINSEAL_KMS_ENDPOINT";

    /// Key version to sign with (`hashivault://`, `azurekms://`; GCP takes it in the URI).
    /// Default: latest. Read by: attest, public-key (`--kms-key-version`).
    pub const CHAINSEAL_KMS_KEY_VERSION: &'static str = "CHAINSEAL_KMS_KEY_VERSION";

    /// Vault address (Chains `signers.kms.auth.address`). Default: `VAULT_ADDR`. Read by:
    /// attest, public-key (`--kms-auth-address`).
    pub const CHAINSEAL_KMS_AUTH_ADDRESS: &'static str = "CHAINSEAL_KMS_AUTH_ADDRESS";

    /// Vault token (Chains `signers.kms.auth.token`; never logged). Default: `VAULT_TOKEN`.
    /// Read by: attest, public-key (`--kms-auth-token`).
    pub const CHAINSEAL_KMS_AUTH_TOKEN: &'static str = "CHAINSEAL_KMS_AUTH_TOKEN";

    /// File holding the Vault token (Chains `signers.kms.auth.token-path`; wins over the
    /// token). Default: none. Read by: attest, public-key (`--kms-auth-token-path`).
    pub const CHAINSEAL_KMS_AUTH_TOKEN_PATH: &'static str = "CHAINSEAL_KMS_AUTH_TOKEN_PATH";

    /// Vault JWT auth mount for a JWT login (Chains `signers.kms.auth.oidc.path`). Default:
    /// none. Read by: attest, public-key (`--kms-auth-oidc-path`).
    pub const CHAINSEAL_KMS_AUTH_OIDC_PATH: &'static str = "CHAINSEAL_KMS_AUTH_OIDC_PATH";

    /// Vault role for that login (Chains `signers.kms.auth.oidc.role`). Default: none. Read
    /// by: attest, public-key (`--kms-auth-oidc-role`).
    pub const CHAINSEAL_KMS_AUTH_OIDC_ROLE: &'static str = "CHAINSEAL_KMS_AUTH_OIDC_ROLE";

    /// The JWT for that login (Chains `signers.kms.auth.oidc.token-path`). Default:
    /// `/var/run/secrets/kubernetes.io/serviceaccount/token`. Read by: attest, public-key
    /// (`--kms-auth-oidc-token-path`).
    pub const CHAINSEAL_KMS_AUTH_OIDC_TOKEN_PATH: &'static str =
        "CHAINSEAL_KMS_AUTH_OIDC_TOKEN_PATH";

    /// Comma-separated destinations: `file:///dir` or a directory path;
    /// `gs://<bucket>[/prefix]` or `s3://<bucket>[/prefix]` (Chains' GCS layout plus
    /// `.intoto.jsonl` and bundles; docs/storage.md); `mongodb://<host>/<db>/<collection>`,
    /// `mongodb+srv://…` or Chains' `mongo://<db>/<collection>` (server from
    /// `MONGO_SERVER_URL`) and `dynamodb://<table>[?partition_key=<attr>]` (Chains' docdb
    /// document); `grafeas://projects/<project>[?noteid=…&notehint=…]` (Grafeas v1 REST,
    /// Container Analysis by default); `archivista+https://<host>` (the envelope uploaded,
    /// its gitoid reported); `oci` (attestations and image signatures next to each image)
    /// or `oci://<registry>/<repository>` (cosign tags in one repository); `tekton`
    /// (Chains' annotations on the run, through the Kubernetes API). Default:
    /// `attestations`, plus `github` for keyless signing in a GitHub Actions job (a
    /// failure of that default upload is a warning). Read by: attest, verify --vsa
    /// (`--storage`).
    pub const CHAINSEAL_STORAGE: &'static str = "CHAINSEAL_STORAGE";

    /// Endpoint for `gs://` and `s3://` storage (controller: `gcs`) (an emulator, MinIO, a
    /// private endpoint); credentials come from the cloud's standard chain
    /// (`GOOGLE_APPLICATION_CREDENTIALS`, `AWS_*`). DynamoDB takes the SDK's own
    /// `AWS_ENDPOINT_URL_DYNAMODB`. Default: the cloud's. Read by: attest, controller
    /// (`--storage-endpoint`).
    pub const CHAINSEAL_STORAGE_ENDPOINT: &'static str = "CHAINSEAL_STORAGE_ENDPOINT";

    /// The Grafeas server of `grafeas://` storage (controller: `grafeas`); Google
    /// credentials are sent only to it over https. Default:
    /// `https://containeranalysis.googleapis.com`. Read by: attest, controller
    /// (`--grafeas-url`).
    pub const CHAINSEAL_GRAFEAS_URL: &'static str = "CHAINSEAL_GRAFEAS_URL";

    /// The token `github` storage (GitHub's attestation store) uploads with; it needs
    /// `attestations: write` (never logged). Default: none. Read by: attest, verify
    /// `--vsa` (`--github-token`).
    pub const CHAINSEAL_GITHUB_TOKEN: &'static str = "CHAINSEAL_GITHUB_TOKEN";

    /// With `github` storage and image subjects pushed to a registry: also create
    /// GitHub artifact metadata storage records (organisations only; needs
    /// `artifact-metadata: write`; a failure is a warning). Default: `true`. Read by:
    /// attest (`--github-storage-record`).
    pub const CHAINSEAL_GITHUB_STORAGE_RECORD: &'static str = "CHAINSEAL_GITHUB_STORAGE_RECORD";

    /// The artifact version GitHub storage records name (`version`; actions/attest's
    /// `subject-version`). Default: none. Read by: attest, verify --vsa (`--subject-version`).
    pub const CHAINSEAL_SUBJECT_VERSION: &'static str = "CHAINSEAL_SUBJECT_VERSION";

    /// `dsse` (cosign tags `sha256-<hex>.att` / `.sig`) or `sigstore-bundle` (Sigstore
    /// bundles v0.3 as OCI 1.1 referrers). Default: `dsse`. Read by: attest
    /// (`--oci-encoding`).
    pub const CHAINSEAL_OCI_ENCODING: &'static str = "CHAINSEAL_OCI_ENCODING";

    /// Comma-separated `host[:port]` reached over plain HTTP. Default: none. Read by:
    /// attest, verify, controller (`--insecure-registries`).
    pub const CHAINSEAL_INSECURE_REGISTRIES: &'static str = "CHAINSEAL_INSECURE_REGISTRIES";

    /// Docker `config.json` files or mounted `.dockerconfigjson` Secret keys, read before
    /// `$DOCKER_CONFIG/config.json` / `~/.docker/config.json`. Default: none. Read by:
    /// attest, verify, controller (`--registry-auth-files`).
    pub const CHAINSEAL_REGISTRY_AUTH_FILES: &'static str = "CHAINSEAL_REGISTRY_AUTH_FILES";

    /// The cloud keychains (`ecr`, `google`, `acr`, comma-separated, or `none`) asked for
    /// the credentials of the clouds' own registries when no pull secret or docker
    /// configuration has any: ECR `GetAuthorizationToken` with the AWS credentials,
    /// a Google access token, an ACR refresh token for the Azure identity. Default (unset
    /// or empty): all three. Read by: attest, verify, controller (`--registry-keychains`).
    pub const CHAINSEAL_REGISTRY_KEYCHAINS: &'static str = "CHAINSEAL_REGISTRY_KEYCHAINS";

    /// `runDetails.builder.id`; GitHub and GitLab builds take it from the platform.
    /// Default: Tekton: `https://tekton.dev/chains/v2`; generic: (required). Read by:
    /// attest (`--builder-id`).
    pub const CHAINSEAL_BUILDER_ID: &'static str = "CHAINSEAL_BUILDER_ID";

    /// `slsa/v1.0` or `slsa/v0.2` (Tekton records only); Chains' names `in-toto`, `slsa/v1`
    /// (SLSA v0.2), `slsa/v2alpha3`, `slsa/v2alpha4` (SLSA v1.0). Default: `slsa/v1.0`.
    /// Read by: attest (`--format`).
    pub const CHAINSEAL_FORMAT: &'static str = "CHAINSEAL_FORMAT";

    /// Or `https://tekton.dev/chains/v2/slsa-tekton` (adds labels, annotations and each
    /// child TaskRun). Default: `https://tekton.dev/chains/v2/slsa`. Read by: attest
    /// (`--buildtype`).
    pub const CHAINSEAL_BUILDTYPE: &'static str = "CHAINSEAL_BUILDTYPE";

    /// Take a PipelineRun's subjects, inputs and byproducts from its TaskRuns too (Chains'
    /// `artifacts.pipelinerun.enable-deep-inspection`). Default: `false`. Read by: attest
    /// (`--deep-inspection`).
    pub const CHAINSEAL_DEEP_INSPECTION: &'static str = "CHAINSEAL_DEEP_INSPECTION";

    /// Print the Statement to stdout; sign and store nothing. Default: `false`. Read by:
    /// attest (`--dry-run`).
    pub const CHAINSEAL_DRY_RUN: &'static str = "CHAINSEAL_DRY_RUN";

    /// With `--dry-run`: list every result and parameter considered and what became of it.
    /// Default: `false`. Read by: attest (`--explain`).
    pub const CHAINSEAL_EXPLAIN: &'static str = "CHAINSEAL_EXPLAIN";

    /// PEM public key to verify with. Default: (required unless `--certificate-identity`).
    /// Read by: verify (`--key`).
    pub const CHAINSEAL_VERIFY_KEY: &'static str = "CHAINSEAL_VERIFY_KEY";

    /// Verify what the registry holds for `<repo>@sha256:<hex>` (`.att`, bundle referrers,
    /// `.sig`) instead of files. Default: none. Read by: verify (`--image`).
    pub const CHAINSEAL_VERIFY_IMAGE: &'static str = "CHAINSEAL_VERIFY_IMAGE";

    /// Where the cosign tags were stored (`oci://<registry>/<repository>` storage).
    /// Default: the image's. Read by: verify (`--repository`).
    pub const CHAINSEAL_VERIFY_REPOSITORY: &'static str = "CHAINSEAL_VERIFY_REPOSITORY";

    /// The predicate types that count, for files and `--image` alike: URIs or cosign's
    /// short names (`slsaprovenance1`, `slsaprovenance02`, `slsaprovenance` = v0.2,
    /// `custom`, `link`, `spdx`, `spdxjson`, `cyclonedx`, `vuln`, `openvex`),
    /// comma-separated, or `any` / `*`; attestations of other types are reported as
    /// skipped, and verify fails when none of the wanted types verified. Default: SLSA
    /// provenance (`https://slsa.dev/provenance/v1`, `…/v0.2`). Read by: verify (`--type`).
    pub const CHAINSEAL_VERIFY_TYPE: &'static str = "CHAINSEAL_VERIFY_TYPE";

    /// Keyless: the identity (email or URI SAN) the signing certificate must name; the
    /// files are Sigstore bundles. Default: none. Read by: verify
    /// (`--certificate-identity`).
    pub const CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY: &'static str =
        "CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY";

    /// Keyless: the OIDC issuer the certificate must name. Default: none. Read by: verify
    /// (`--certificate-oidc-issuer`).
    pub const CHAINSEAL_VERIFY_CERTIFICATE_OIDC_ISSUER: &'static str =
        "CHAINSEAL_VERIFY_CERTIFICATE_OIDC_ISSUER";

    /// Keyless: a regular expression the whole certificate identity must match
    /// (anchored at both ends, unlike cosign's). Default: none. Read by: verify
    /// (`--certificate-identity-regexp`).
    pub const CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY_REGEXP: &'static str =
        "CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY_REGEXP";

    /// Policy: the builder id the provenance must name, exactly. Default: none. Read
    /// by: verify (`--builder-id`).
    pub const CHAINSEAL_VERIFY_BUILDER_ID: &'static str = "CHAINSEAL_VERIFY_BUILDER_ID";

    /// Policy: the buildType the provenance must have, exactly. Default: none. Read by:
    /// verify (`--build-type`).
    pub const CHAINSEAL_VERIFY_BUILD_TYPE: &'static str = "CHAINSEAL_VERIFY_BUILD_TYPE";

    /// Policy: the source repository (`github.com/org/repo`, `git+https://…`; compared
    /// as slsa-verifier does). Default: none. Read by: verify (`--source-uri`).
    pub const CHAINSEAL_VERIFY_SOURCE_URI: &'static str = "CHAINSEAL_VERIFY_SOURCE_URI";

    /// Policy: the source ref (`refs/heads/…`, `refs/tags/…`, or a bare name matching
    /// either). Default: none. Read by: verify (`--source-ref`).
    pub const CHAINSEAL_VERIFY_SOURCE_REF: &'static str = "CHAINSEAL_VERIFY_SOURCE_REF";

    /// Policy: the source commit (hex, optionally `sha1:` first). Default: none. Read
    /// by: verify (`--source-digest`).
    pub const CHAINSEAL_VERIFY_SOURCE_DIGEST: &'static str = "CHAINSEAL_VERIFY_SOURCE_DIGEST";

    /// Policy: external parameters `NAME=VALUE`, one per line. Default: none. Read by:
    /// verify (`--param`, repeated).
    pub const CHAINSEAL_VERIFY_PARAMS: &'static str = "CHAINSEAL_VERIFY_PARAMS";

    /// Policy: digests (`sha256:<hex>`, comma-separated) each of which a subject must
    /// have. Default: none. Read by: verify (`--subject-digest`).
    pub const CHAINSEAL_VERIFY_SUBJECT_DIGEST: &'static str = "CHAINSEAL_VERIFY_SUBJECT_DIGEST";

    /// Policy: files (comma-separated) hashed with SHA-256, each of which must be a
    /// subject. Default: none. Read by: verify (`--artifact`).
    pub const CHAINSEAL_VERIFY_ARTIFACT: &'static str = "CHAINSEAL_VERIFY_ARTIFACT";

    /// Keyless policy: the workflow that signed (`[host/]owner/repo/path[@ref]`, the
    /// certificate's build signer URI, as gh checks it). Default: none. Read by: verify
    /// (`--signer-workflow`).
    pub const CHAINSEAL_VERIFY_SIGNER_WORKFLOW: &'static str = "CHAINSEAL_VERIFY_SIGNER_WORKFLOW";

    /// Keyless policy: refuse certificates whose runner environment is not
    /// `github-hosted` or `gitlab-hosted`. Default: `false`. Read by: verify
    /// (`--deny-self-hosted-runners`).
    pub const CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS: &'static str =
        "CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS";

    /// Policy files (YAML: requirements and CEL rules), comma-separated. Default: none.
    /// Read by: verify (`--policy`).
    pub const CHAINSEAL_VERIFY_POLICY: &'static str = "CHAINSEAL_VERIFY_POLICY";

    /// VSA checks: the `verifier.id` a VSA must name. Default: none. Read by: verify
    /// (`--verifier-id`).
    pub const CHAINSEAL_VERIFY_VERIFIER_ID: &'static str = "CHAINSEAL_VERIFY_VERIFIER_ID";

    /// VSA checks: SLSA levels (comma-separated) a VSA's `verifiedLevels` must reach.
    /// Default: none. Read by: verify (`--verified-level`).
    pub const CHAINSEAL_VERIFY_VERIFIED_LEVEL: &'static str = "CHAINSEAL_VERIFY_VERIFIED_LEVEL";

    /// VSA checks: the `resourceUri` a VSA must name. Default: none. Read by: verify
    /// (`--resource-uri`).
    pub const CHAINSEAL_VERIFY_RESOURCE_URI: &'static str = "CHAINSEAL_VERIFY_RESOURCE_URI";

    /// What verify prints on stdout: `text` or `json`. Default: `text`. Read by: verify
    /// (`--format`).
    pub const CHAINSEAL_VERIFY_FORMAT: &'static str = "CHAINSEAL_VERIFY_FORMAT";

    /// Write a signed Verification Summary Attestation for each verified subject.
    /// Default: `false`. Read by: verify (`--vsa`).
    pub const CHAINSEAL_VERIFY_VSA: &'static str = "CHAINSEAL_VERIFY_VSA";

    /// The key that signs VSAs (the forms of `CHAINSEAL_KEY`). Default: (required with
    /// `--vsa`). Read by: verify (`--vsa-key`).
    pub const CHAINSEAL_VSA_KEY: &'static str = "CHAINSEAL_VSA_KEY";

    /// The VSA's `verifier.id`. Default:
    /// `https://github.com/chainseal/chainseal/verify/v<version>`.
    /// Read by: verify (`--vsa-verifier-id`).
    pub const CHAINSEAL_VSA_VERIFIER_ID: &'static str = "CHAINSEAL_VSA_VERIFIER_ID";

    /// The SLSA build level the operator trusts the builder for (1–3); with a checked
    /// builder id, VSAs report up to it. Default: `2`. Read by: verify
    /// (`--builder-level`).
    pub const CHAINSEAL_VERIFY_BUILDER_LEVEL: &'static str = "CHAINSEAL_VERIFY_BUILDER_LEVEL";

    /// The Sigstore `trusted_root.json` (Fulcio CAs, Rekor and CT log keys, timestamp
    /// authorities) bundles are checked against, offline; with a key, key-signed
    /// bundles' log entries and timestamps. Default: (required for keyless). Read by:
    /// verify (`--trusted-root`).
    pub const CHAINSEAL_TRUSTED_ROOT: &'static str = "CHAINSEAL_TRUSTED_ROOT";

    /// Prefix of `PREFIX.key` and `PREFIX.pub`. Default: (required). Read by: keygen
    /// (`--out`).
    pub const CHAINSEAL_KEYGEN_OUT: &'static str = "CHAINSEAL_KEYGEN_OUT";

    /// Overwrite existing key files. Default: `false`. Read by: keygen (`--force`).
    pub const CHAINSEAL_KEYGEN_FORCE: &'static str = "CHAINSEAL_KEYGEN_FORCE";

    /// `error`, `warn`, `info`, `debug`, `trace`; logs go to stderr. Default: `info`. Read
    /// by: all (`--log-level`).
    pub const CHAINSEAL_LOG_LEVEL: &'static str = "CHAINSEAL_LOG_LEVEL";

    /// Every `CHAINSEAL_*` setting: exactly the variables the command line declares
    /// (`cli::known_env_vars`; a unit test of `cli` keeps the two equal).
    pub const SETTINGS: &'static [&'static str] = &[
        Self::CHAINSEAL_SOURCE,
        Self::CHAINSEAL_RECORD,
        Self::CHAINSEAL_KEY,
        Self::CHAINSEAL_FULCIO_URL,
        Self::CHAINSEAL_IDENTITY_TOKEN,
        Self::CHAINSEAL_IDENTITY_TOKEN_FILE,
        Self::CHAINSEAL_TRANSPARENCY,
        Self::CHAINSEAL_REKOR_URL,
        Self::CHAINSEAL_TSA_URL,
        Self::CHAINSEAL_SIGNING_CONFIG,
        Self::CHAINSEAL_SIGSTORE,
        Self::CHAINSEAL_BUNDLE,
        Self::CHAINSEAL_PIPELINERUN,
        Self::CHAINSEAL_TASKRUN,
        Self::CHAINSEAL_NAMESPACE,
        Self::CHAINSEAL_IMAGE_URL,
        Self::CHAINSEAL_IMAGE_DIGEST,
        Self::CHAINSEAL_SUBJECT_PATH,
        Self::CHAINSEAL_SUBJECT_NAME,
        Self::CHAINSEAL_SUBJECT_DIGEST,
        Self::CHAINSEAL_SUBJECT_CHECKSUMS,
        Self::CHAINSEAL_SUBJECTS,
        Self::CHAINSEAL_MAX_SUBJECTS,
        Self::CHAINSEAL_PREDICATE_TYPE,
        Self::CHAINSEAL_PREDICATE,
        Self::CHAINSEAL_PREDICATE_PATH,
        Self::CHAINSEAL_SBOM_PATH,
        Self::CHAINSEAL_PUSH_TO_REGISTRY,
        Self::CHAINSEAL_SHOW_SUMMARY,
        Self::CHAINSEAL_OUTPUT,
        Self::CHAINSEAL_DOTENV,
        Self::CHAINSEAL_GITHUB_OIDC_ISSUER,
        Self::CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE,
        Self::CHAINSEAL_RESULT_LOCATIONS,
        Self::CHAINSEAL_RESULT_SUBJECTS,
        Self::CHAINSEAL_SIGNING_SECRETS,
        Self::CHAINSEAL_NAMESPACES,
        Self::CHAINSEAL_CONFIG_NAMESPACE,
        Self::CHAINSEAL_CONFIG_NAME,
        Self::CHAINSEAL_TENANTS_CONFIG,
        Self::CHAINSEAL_SERVICE_ACCOUNT,
        Self::CHAINSEAL_WORKERS,
        Self::CHAINSEAL_KUBE_API_QPS,
        Self::CHAINSEAL_KUBE_API_BURST,
        Self::CHAINSEAL_FINALIZERS,
        Self::CHAINSEAL_METRICS_ADDR,
        Self::CHAINSEAL_LEADER_ELECTION,
        Self::CHAINSEAL_LEASE_NAME,
        Self::CHAINSEAL_LEASE_DURATION,
        Self::CHAINSEAL_RETRY_BACKOFF_MS,
        Self::CHAINSEAL_RECONCILE_TIMEOUT,
        Self::CHAINSEAL_KEY_PASSWORD,
        Self::CHAINSEAL_KEY_PASSWORD_FILE,
        Self::CHAINSEAL_KMS_ENDPOINT,
        Self::CHAINSEAL_KMS_KEY_VERSION,
        Self::CHAINSEAL_KMS_AUTH_ADDRESS,
        Self::CHAINSEAL_KMS_AUTH_TOKEN,
        Self::CHAINSEAL_KMS_AUTH_TOKEN_PATH,
        Self::CHAINSEAL_KMS_AUTH_OIDC_PATH,
        Self::CHAINSEAL_KMS_AUTH_OIDC_ROLE,
        Self::CHAINSEAL_KMS_AUTH_OIDC_TOKEN_PATH,
        Self::CHAINSEAL_STORAGE,
        Self::CHAINSEAL_STORAGE_ENDPOINT,
        Self::CHAINSEAL_GRAFEAS_URL,
        Self::CHAINSEAL_GITHUB_TOKEN,
        Self::CHAINSEAL_GITHUB_STORAGE_RECORD,
        Self::CHAINSEAL_SUBJECT_VERSION,
        Self::CHAINSEAL_OCI_ENCODING,
        Self::CHAINSEAL_INSECURE_REGISTRIES,
        Self::CHAINSEAL_REGISTRY_AUTH_FILES,
        Self::CHAINSEAL_REGISTRY_KEYCHAINS,
        Self::CHAINSEAL_BUILDER_ID,
        Self::CHAINSEAL_FORMAT,
        Self::CHAINSEAL_BUILDTYPE,
        Self::CHAINSEAL_DEEP_INSPECTION,
        Self::CHAINSEAL_DRY_RUN,
        Self::CHAINSEAL_EXPLAIN,
        Self::CHAINSEAL_VERIFY_KEY,
        Self::CHAINSEAL_VERIFY_IMAGE,
        Self::CHAINSEAL_VERIFY_REPOSITORY,
        Self::CHAINSEAL_VERIFY_TYPE,
        Self::CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY,
        Self::CHAINSEAL_VERIFY_CERTIFICATE_OIDC_ISSUER,
        Self::CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY_REGEXP,
        Self::CHAINSEAL_VERIFY_BUILDER_ID,
        Self::CHAINSEAL_VERIFY_BUILD_TYPE,
        Self::CHAINSEAL_VERIFY_SOURCE_URI,
        Self::CHAINSEAL_VERIFY_SOURCE_REF,
        Self::CHAINSEAL_VERIFY_SOURCE_DIGEST,
        Self::CHAINSEAL_VERIFY_PARAMS,
        Self::CHAINSEAL_VERIFY_SUBJECT_DIGEST,
        Self::CHAINSEAL_VERIFY_ARTIFACT,
        Self::CHAINSEAL_VERIFY_SIGNER_WORKFLOW,
        Self::CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS,
        Self::CHAINSEAL_VERIFY_POLICY,
        Self::CHAINSEAL_VERIFY_VERIFIER_ID,
        Self::CHAINSEAL_VERIFY_VERIFIED_LEVEL,
        Self::CHAINSEAL_VERIFY_RESOURCE_URI,
        Self::CHAINSEAL_VERIFY_FORMAT,
        Self::CHAINSEAL_VERIFY_VSA,
        Self::CHAINSEAL_VSA_KEY,
        Self::CHAINSEAL_VSA_VERIFIER_ID,
        Self::CHAINSEAL_VERIFY_BUILDER_LEVEL,
        Self::CHAINSEAL_TRUSTED_ROOT,
        Self::CHAINSEAL_KEYGEN_OUT,
        Self::CHAINSEAL_KEYGEN_FORCE,
        Self::CHAINSEAL_LOG_LEVEL,
    ];
}

/// The GitLab dotenv report's names (`CHAINSEAL_DOTENV`, `outputs.rs`): written, never
/// read.
impl EnvVars {
    /// Dotenv report: the storage key of the attestation. Written by: attest (GitLab CI).
    pub const CHAINSEAL_ATTESTATION_KEY: &'static str = "CHAINSEAL_ATTESTATION_KEY";

    /// Dotenv report: the `.intoto.jsonl` file written by directory storage. Written by:
    /// attest (GitLab CI).
    pub const CHAINSEAL_ATTESTATION_PATH: &'static str = "CHAINSEAL_ATTESTATION_PATH";

    /// Dotenv report: the SHA-256 of the envelope. Written by: attest (GitLab CI).
    pub const CHAINSEAL_ATTESTATION_DIGEST: &'static str = "CHAINSEAL_ATTESTATION_DIGEST";

    /// Dotenv report: the Sigstore bundle written, when bundles are on. Written by:
    /// attest (GitLab CI).
    pub const CHAINSEAL_BUNDLE_PATH: &'static str = "CHAINSEAL_BUNDLE_PATH";

    /// Dotenv report: the Rekor entry of the attestation, when logged. Written by: attest
    /// (GitLab CI).
    pub const CHAINSEAL_TRANSPARENCY_LOG_ENTRY: &'static str = "CHAINSEAL_TRANSPARENCY_LOG_ENTRY";

    /// Dotenv report: the attestation's page in GitHub's attestation store, with
    /// `github` storage. Written by: attest (GitLab CI).
    pub const CHAINSEAL_ATTESTATION_URL: &'static str = "CHAINSEAL_ATTESTATION_URL";

    /// Dotenv report: GitHub's id of the attestation, with `github` storage. Written
    /// by: attest (GitLab CI).
    pub const CHAINSEAL_ATTESTATION_ID: &'static str = "CHAINSEAL_ATTESTATION_ID";

    /// The names the dotenv report writes (the subjects go to
    /// [`EnvVars::CHAINSEAL_SUBJECTS`], the setting's format, so the next job can pass
    /// them on).
    pub const OUTPUTS: &'static [&'static str] = &[
        Self::CHAINSEAL_ATTESTATION_KEY,
        Self::CHAINSEAL_ATTESTATION_PATH,
        Self::CHAINSEAL_ATTESTATION_DIGEST,
        Self::CHAINSEAL_SUBJECTS,
        Self::CHAINSEAL_BUNDLE_PATH,
        Self::CHAINSEAL_TRANSPARENCY_LOG_ENTRY,
        Self::CHAINSEAL_ATTESTATION_URL,
        Self::CHAINSEAL_ATTESTATION_ID,
    ];
}

/// Variables of other tools and platforms: read by chainseal, by the SDKs it builds
/// on, or passed on to docker credential helpers.
impl EnvVars {
    // Vault / OpenBao (`hashivault://` keys; `signing/vault.rs`).

    /// The Vault address, when `CHAINSEAL_KMS_AUTH_ADDRESS` is unset. Default: none.
    /// Read by: attest, public-key, controller (`hashivault://`).
    pub const VAULT_ADDR: &'static str = "VAULT_ADDR";

    /// The Vault token, after `CHAINSEAL_KMS_AUTH_TOKEN_PATH`, `CHAINSEAL_KMS_AUTH_TOKEN`
    /// and a JWT login (never logged). Default: `~/.vault-token`. Read by: attest,
    /// public-key, controller (`hashivault://`).
    pub const VAULT_TOKEN: &'static str = "VAULT_TOKEN";

    /// The Vault namespace (Enterprise). Default: none. Read by: attest, public-key,
    /// controller (`hashivault://`).
    pub const VAULT_NAMESPACE: &'static str = "VAULT_NAMESPACE";

    /// A PEM CA file Vault's TLS certificate is checked against. Default: the system
    /// roots. Read by: attest, public-key, controller (`hashivault://`).
    pub const VAULT_CACERT: &'static str = "VAULT_CACERT";

    /// A directory of PEM CA files, added to `VAULT_CACERT`. Default: none. Read by:
    /// attest, public-key, controller (`hashivault://`).
    pub const VAULT_CAPATH: &'static str = "VAULT_CAPATH";

    /// The client certificate for TLS client authentication (with `VAULT_CLIENT_KEY`).
    /// Default: none. Read by: attest, public-key, controller (`hashivault://`).
    pub const VAULT_CLIENT_CERT: &'static str = "VAULT_CLIENT_CERT";

    /// The client certificate's key (with `VAULT_CLIENT_CERT`). Default: none. Read by:
    /// attest, public-key, controller (`hashivault://`).
    pub const VAULT_CLIENT_KEY: &'static str = "VAULT_CLIENT_KEY";

    /// `true` skips TLS verification of Vault (dangerous); only `1`/`t`/`true` and
    /// `0`/`f`/`false` are accepted. Default: `false`. Read by: attest, public-key,
    /// controller (`hashivault://`).
    pub const VAULT_SKIP_VERIFY: &'static str = "VAULT_SKIP_VERIFY";

    /// The mount of Vault's transit engine (as cosign and Chains). Default: `transit`.
    /// Read by: attest, public-key, controller (`hashivault://`).
    pub const TRANSIT_SECRET_ENGINE_PATH: &'static str = "TRANSIT_SECRET_ENGINE_PATH";

    // AWS (`awskms://` keys, `s3://` and `dynamodb://` storage), read by the AWS SDK
    // and object_store; chainseal names them in its hints.

    /// The AWS region of the KMS key, bucket or table. Default: the profile's. Read by:
    /// attest, public-key, controller (the AWS SDK).
    pub const AWS_REGION: &'static str = "AWS_REGION";

    /// The region when `AWS_REGION` is unset. Default: none. Read by: attest, controller
    /// (`s3://`, object_store).
    pub const AWS_DEFAULT_REGION: &'static str = "AWS_DEFAULT_REGION";

    /// An AWS access key id (with `AWS_SECRET_ACCESS_KEY`). Default: the SDK's chain
    /// (profile, web identity, instance metadata). Read by: attest, public-key,
    /// controller (the AWS SDK, object_store).
    pub const AWS_ACCESS_KEY_ID: &'static str = "AWS_ACCESS_KEY_ID";

    /// The secret of `AWS_ACCESS_KEY_ID` (never logged). Default: none. Read by: attest,
    /// public-key, controller (the AWS SDK, object_store).
    pub const AWS_SECRET_ACCESS_KEY: &'static str = "AWS_SECRET_ACCESS_KEY";

    /// A session token for temporary AWS credentials (never logged). Default: none. Read
    /// by: attest, public-key, controller (the AWS SDK, object_store).
    pub const AWS_SESSION_TOKEN: &'static str = "AWS_SESSION_TOKEN";

    /// A web identity token file (EKS IRSA). Default: none. Read by: attest, public-key,
    /// controller (the AWS SDK, object_store).
    pub const AWS_WEB_IDENTITY_TOKEN_FILE: &'static str = "AWS_WEB_IDENTITY_TOKEN_FILE";

    /// Another endpoint for every AWS service (LocalStack, moto). Default: AWS's. Read
    /// by: attest, public-key, controller (the AWS SDK).
    pub const AWS_ENDPOINT_URL: &'static str = "AWS_ENDPOINT_URL";

    /// Another endpoint for DynamoDB only. Default: `AWS_ENDPOINT_URL`, else AWS's. Read
    /// by: attest, controller (`dynamodb://`, the AWS SDK).
    pub const AWS_ENDPOINT_URL_DYNAMODB: &'static str = "AWS_ENDPOINT_URL_DYNAMODB";

    /// Another endpoint for ECR only (the registry keychain's `GetAuthorizationToken`).
    /// Default: `AWS_ENDPOINT_URL`, else AWS's. Read by: attest, verify, controller (the
    /// AWS SDK).
    pub const AWS_ENDPOINT_URL_ECR: &'static str = "AWS_ENDPOINT_URL_ECR";

    // Google (`gcpkms://` keys, `gs://` and `grafeas://` storage).

    /// A service-account key file (Application Default Credentials). With
    /// `CHAINSEAL_GRAFEAS_URL` set, Google credentials go to that server only when this
    /// is set. Default: workload identity or the metadata server. Read by: attest,
    /// public-key, controller (`gcpkms://`, `gs://`, `grafeas://`).
    pub const GOOGLE_APPLICATION_CREDENTIALS: &'static str = "GOOGLE_APPLICATION_CREDENTIALS";

    /// object_store's service-account key file for `gs://` storage. Default: none. Read
    /// by: attest, controller (`gs://`, object_store).
    pub const GOOGLE_SERVICE_ACCOUNT: &'static str = "GOOGLE_SERVICE_ACCOUNT";

    // Azure (`azurekms://` keys; `signing/azure.rs`).

    /// The tenant of a service principal (with `AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`). Default: none. Read by: attest, public-key, controller
    /// (`azurekms://`).
    pub const AZURE_TENANT_ID: &'static str = "AZURE_TENANT_ID";

    /// The client id of a service principal, workload identity or user-assigned managed
    /// identity. Default: none (the system-assigned identity). Read by: attest,
    /// public-key, controller (`azurekms://`).
    pub const AZURE_CLIENT_ID: &'static str = "AZURE_CLIENT_ID";

    /// A service principal's secret (never logged). Default: none. Read by: attest,
    /// public-key, controller (`azurekms://`).
    pub const AZURE_CLIENT_SECRET: &'static str = "AZURE_CLIENT_SECRET";

    /// The federated token file of workload identity (AKS). Default: none. Read by:
    /// attest, public-key, controller (`azurekms://`).
    pub const AZURE_FEDERATED_TOKEN_FILE: &'static str = "AZURE_FEDERATED_TOKEN_FILE";

    /// `cli` authenticates as the Azure CLI's login. Default: managed identity. Read by:
    /// attest, public-key, controller (`azurekms://`).
    pub const AZURE_AUTH_METHOD: &'static str = "AZURE_AUTH_METHOD";

    // Storage.

    /// The MongoDB connection string of Chains' `mongo://<db>/<collection>` storage (as
    /// Chains; never printed); also the file name in a `storage.docdb.mongo-server-url-dir`.
    /// Default: none. Read by: attest, controller (`storage/mongo.rs`).
    pub const MONGO_SERVER_URL: &'static str = "MONGO_SERVER_URL";

    // Registries (`oci/`): docker's configuration, and what credential helpers see.

    /// docker's configuration directory: `$DOCKER_CONFIG/config.json` is read after
    /// `CHAINSEAL_REGISTRY_AUTH_FILES`. Default: `~/.docker`. Read by: attest, verify,
    /// controller (`oci/auth.rs`).
    pub const DOCKER_CONFIG: &'static str = "DOCKER_CONFIG";

    /// The home directory: `~/.docker/config.json`, `~/.vault-token`; passed to
    /// credential helpers. Default: none. Read by: every command.
    pub const HOME: &'static str = "HOME";

    /// Passed to docker credential helpers (which are found on it). Read by: attest,
    /// verify, controller (`oci/auth.rs`).
    pub const PATH: &'static str = "PATH";

    /// Passed to docker credential helpers. Read by: attest, verify, controller
    /// (`oci/auth.rs`).
    pub const USER: &'static str = "USER";

    /// Passed to docker credential helpers. Read by: attest, verify, controller
    /// (`oci/auth.rs`).
    pub const LOGNAME: &'static str = "LOGNAME";

    /// Passed to docker credential helpers. Read by: attest, verify, controller
    /// (`oci/auth.rs`).
    pub const TMPDIR: &'static str = "TMPDIR";

    /// The proxy for HTTPS requests (reqwest); its host is exempt from the registry
    /// client's internal-address guard; passed to credential helpers. Default: none.
    /// Read by: every command that makes requests.
    pub const HTTPS_PROXY: &'static str = "HTTPS_PROXY";

    /// `HTTPS_PROXY`, lower-case spelling.
    #[allow(non_upper_case_globals)]
    pub const https_proxy: &'static str = "https_proxy";

    /// The proxy for plain-HTTP requests (reqwest); as `HTTPS_PROXY`. Default: none.
    /// Read by: every command that makes requests.
    pub const HTTP_PROXY: &'static str = "HTTP_PROXY";

    /// `HTTP_PROXY`, lower-case spelling.
    #[allow(non_upper_case_globals)]
    pub const http_proxy: &'static str = "http_proxy";

    /// The proxy for every request (reqwest); as `HTTPS_PROXY`. Default: none. Read by:
    /// every command that makes requests.
    pub const ALL_PROXY: &'static str = "ALL_PROXY";

    /// `ALL_PROXY`, lower-case spelling.
    #[allow(non_upper_case_globals)]
    pub const all_proxy: &'static str = "all_proxy";

    /// Hosts reached without the proxy (reqwest); passed to credential helpers.
    /// Default: none. Read by: every command that makes requests.
    pub const NO_PROXY: &'static str = "NO_PROXY";

    /// `NO_PROXY`, lower-case spelling.
    #[allow(non_upper_case_globals)]
    pub const no_proxy: &'static str = "no_proxy";

    /// A CA bundle that replaces the system's trust store (a private CA), read by the
    /// TLS clients' platform verifier; passed to docker credential helpers. Default: the
    /// system's. Read by: every command that makes requests.
    pub const SSL_CERT_FILE: &'static str = "SSL_CERT_FILE";

    /// A directory of CA certificates, as `SSL_CERT_FILE`. Default: the system's. Read
    /// by: every command that makes requests.
    pub const SSL_CERT_DIR: &'static str = "SSL_CERT_DIR";

    // Kubernetes and the controller's pod.

    /// The kubeconfig used outside a pod (as kubectl). Default: `~/.kube/config`, else
    /// the in-cluster service account. Read by: attest (Tekton records, `tekton`
    /// storage), controller (the kube client).
    pub const KUBECONFIG: &'static str = "KUBECONFIG";

    /// The pod name: the controller's Lease holder identity and metrics instance.
    /// Default: `chainseal`. Read by: controller.
    pub const HOSTNAME: &'static str = "HOSTNAME";

    // Keyless identity tokens (`keyless/token.rs`, `record/ci/mod.rs`).

    /// GitHub Actions' ID-token request URL (with `permissions: id-token: write`).
    /// Read by: attest (GitHub builds, keyless), controller (`fulcio.provider:
    /// github-actions`).
    pub const ACTIONS_ID_TOKEN_REQUEST_URL: &'static str = "ACTIONS_ID_TOKEN_REQUEST_URL";

    /// The bearer token for that request (never logged). Read by: attest, controller.
    pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &'static str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

    /// A GitLab `id_tokens:` token with audience `sigstore` (never logged). Read by:
    /// attest (keyless), controller (`fulcio.provider: envvar`).
    pub const SIGSTORE_ID_TOKEN: &'static str = "SIGSTORE_ID_TOKEN";

    // GitHub Actions: the job's default variables (`record/ci/github.rs`), read by
    // attest; only these are copied from the environment.

    /// `true` in a GitHub Actions job: `CHAINSEAL_SOURCE=auto` picks GitHub.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    /// The GitHub server. Default: `https://github.com`.
    pub const GITHUB_SERVER_URL: &'static str = "GITHUB_SERVER_URL";
    /// The REST API root (`https://api.github.com`, GHES `https://<host>/api/v3`):
    /// where `github` storage uploads.
    pub const GITHUB_API_URL: &'static str = "GITHUB_API_URL";
    /// `owner/repo` (without an ID token).
    pub const GITHUB_REPOSITORY: &'static str = "GITHUB_REPOSITORY";
    /// The repository's numeric id (without an ID token).
    pub const GITHUB_REPOSITORY_ID: &'static str = "GITHUB_REPOSITORY_ID";
    /// The owner's numeric id (without an ID token).
    pub const GITHUB_REPOSITORY_OWNER_ID: &'static str = "GITHUB_REPOSITORY_OWNER_ID";
    /// The commit built (without an ID token).
    pub const GITHUB_SHA: &'static str = "GITHUB_SHA";
    /// The git ref built (without an ID token).
    pub const GITHUB_REF: &'static str = "GITHUB_REF";
    /// The event that started the run (without an ID token).
    pub const GITHUB_EVENT_NAME: &'static str = "GITHUB_EVENT_NAME";
    /// The workflow (without an ID token, also the builder id's workflow).
    pub const GITHUB_WORKFLOW_REF: &'static str = "GITHUB_WORKFLOW_REF";
    /// The run id (without an ID token).
    pub const GITHUB_RUN_ID: &'static str = "GITHUB_RUN_ID";
    /// The run attempt (without an ID token).
    pub const GITHUB_RUN_ATTEMPT: &'static str = "GITHUB_RUN_ATTEMPT";
    /// `github-hosted` or `self-hosted` (without an ID token).
    pub const RUNNER_ENVIRONMENT: &'static str = "RUNNER_ENVIRONMENT";
    /// The JSON file the runner lists the job's artifacts in (`{version: 1, subjects:
    /// [{name, digest, kind}]}`): the subjects when no subject input is given.
    pub const GITHUB_ARTIFACTS_LIST: &'static str = "GITHUB_ARTIFACTS_LIST";
    /// The job's event payload (JSON): its `repository.visibility` chooses the Sigstore
    /// instance for keyless signing (`CHAINSEAL_SIGSTORE=auto`).
    pub const GITHUB_EVENT_PATH: &'static str = "GITHUB_EVENT_PATH";
    /// The step-outputs file attest appends to.
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    /// The job-summary file attest appends to (`CHAINSEAL_SHOW_SUMMARY`).
    pub const GITHUB_STEP_SUMMARY: &'static str = "GITHUB_STEP_SUMMARY";

    // GitLab CI: the job's predefined variables (`record/ci/gitlab.rs`), read by
    // attest; only these are copied from the environment.

    /// `true` in a GitLab CI job: `CHAINSEAL_SOURCE=auto` picks GitLab.
    pub const GITLAB_CI: &'static str = "GITLAB_CI";
    /// The branch built (recorded).
    pub const CI_COMMIT_BRANCH: &'static str = "CI_COMMIT_BRANCH";
    /// The branch or tag built (recorded; the git ref of branch pipelines).
    pub const CI_COMMIT_REF_NAME: &'static str = "CI_COMMIT_REF_NAME";
    /// Whether that ref is protected (recorded).
    pub const CI_COMMIT_REF_PROTECTED: &'static str = "CI_COMMIT_REF_PROTECTED";
    /// The commit built (recorded; required).
    pub const CI_COMMIT_SHA: &'static str = "CI_COMMIT_SHA";
    /// The tag built (recorded; the git ref of tag pipelines).
    pub const CI_COMMIT_TAG: &'static str = "CI_COMMIT_TAG";
    /// The CI configuration file (recorded).
    pub const CI_CONFIG_PATH: &'static str = "CI_CONFIG_PATH";
    /// The project's default branch (recorded).
    pub const CI_DEFAULT_BRANCH: &'static str = "CI_DEFAULT_BRANCH";
    /// The job id (recorded; required).
    pub const CI_JOB_ID: &'static str = "CI_JOB_ID";
    /// The job name (recorded; required).
    pub const CI_JOB_NAME: &'static str = "CI_JOB_NAME";
    /// The job's stage (recorded).
    pub const CI_JOB_STAGE: &'static str = "CI_JOB_STAGE";
    /// When the job started.
    pub const CI_JOB_STARTED_AT: &'static str = "CI_JOB_STARTED_AT";
    /// The job's URL. Default: built from the project URL and job id.
    pub const CI_JOB_URL: &'static str = "CI_JOB_URL";
    /// The pipeline id (recorded).
    pub const CI_PIPELINE_ID: &'static str = "CI_PIPELINE_ID";
    /// What started the pipeline (recorded).
    pub const CI_PIPELINE_SOURCE: &'static str = "CI_PIPELINE_SOURCE";
    /// The pipeline's URL (recorded).
    pub const CI_PIPELINE_URL: &'static str = "CI_PIPELINE_URL";
    /// The project id (recorded).
    pub const CI_PROJECT_ID: &'static str = "CI_PROJECT_ID";
    /// The project path (recorded).
    pub const CI_PROJECT_PATH: &'static str = "CI_PROJECT_PATH";
    /// The project's URL (required; the builder id and source are built from it).
    pub const CI_PROJECT_URL: &'static str = "CI_PROJECT_URL";
    /// The project's visibility (recorded).
    pub const CI_PROJECT_VISIBILITY: &'static str = "CI_PROJECT_VISIBILITY";
    /// The GitLab server (recorded).
    pub const CI_SERVER_URL: &'static str = "CI_SERVER_URL";
    /// The runner's description.
    pub const CI_RUNNER_DESCRIPTION: &'static str = "CI_RUNNER_DESCRIPTION";
    /// The runner's architecture.
    pub const CI_RUNNER_EXECUTABLE_ARCH: &'static str = "CI_RUNNER_EXECUTABLE_ARCH";
    /// The runner's id (required).
    pub const CI_RUNNER_ID: &'static str = "CI_RUNNER_ID";
    /// The runner's version.
    pub const CI_RUNNER_VERSION: &'static str = "CI_RUNNER_VERSION";

    /// Every variable of another tool or platform above.
    pub const THIRD_PARTY: &'static [&'static str] = &[
        Self::VAULT_ADDR,
        Self::VAULT_TOKEN,
        Self::VAULT_NAMESPACE,
        Self::VAULT_CACERT,
        Self::VAULT_CAPATH,
        Self::VAULT_CLIENT_CERT,
        Self::VAULT_CLIENT_KEY,
        Self::VAULT_SKIP_VERIFY,
        Self::TRANSIT_SECRET_ENGINE_PATH,
        Self::AWS_REGION,
        Self::AWS_DEFAULT_REGION,
        Self::AWS_ACCESS_KEY_ID,
        Self::AWS_SECRET_ACCESS_KEY,
        Self::AWS_SESSION_TOKEN,
        Self::AWS_WEB_IDENTITY_TOKEN_FILE,
        Self::AWS_ENDPOINT_URL,
        Self::AWS_ENDPOINT_URL_DYNAMODB,
        Self::AWS_ENDPOINT_URL_ECR,
        Self::GOOGLE_APPLICATION_CREDENTIALS,
        Self::GOOGLE_SERVICE_ACCOUNT,
        Self::AZURE_TENANT_ID,
        Self::AZURE_CLIENT_ID,
        Self::AZURE_CLIENT_SECRET,
        Self::AZURE_FEDERATED_TOKEN_FILE,
        Self::AZURE_AUTH_METHOD,
        Self::MONGO_SERVER_URL,
        Self::DOCKER_CONFIG,
        Self::HOME,
        Self::PATH,
        Self::USER,
        Self::LOGNAME,
        Self::TMPDIR,
        Self::HTTPS_PROXY,
        Self::https_proxy,
        Self::HTTP_PROXY,
        Self::http_proxy,
        Self::ALL_PROXY,
        Self::all_proxy,
        Self::NO_PROXY,
        Self::no_proxy,
        Self::SSL_CERT_FILE,
        Self::SSL_CERT_DIR,
        Self::KUBECONFIG,
        Self::HOSTNAME,
        Self::ACTIONS_ID_TOKEN_REQUEST_URL,
        Self::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
        Self::SIGSTORE_ID_TOKEN,
        Self::GITHUB_ACTIONS,
        Self::GITHUB_SERVER_URL,
        Self::GITHUB_API_URL,
        Self::GITHUB_REPOSITORY,
        Self::GITHUB_REPOSITORY_ID,
        Self::GITHUB_REPOSITORY_OWNER_ID,
        Self::GITHUB_SHA,
        Self::GITHUB_REF,
        Self::GITHUB_EVENT_NAME,
        Self::GITHUB_WORKFLOW_REF,
        Self::GITHUB_RUN_ID,
        Self::GITHUB_ARTIFACTS_LIST,
        Self::GITHUB_EVENT_PATH,
        Self::GITHUB_RUN_ATTEMPT,
        Self::RUNNER_ENVIRONMENT,
        Self::GITHUB_OUTPUT,
        Self::GITHUB_STEP_SUMMARY,
        Self::GITLAB_CI,
        Self::CI_COMMIT_BRANCH,
        Self::CI_COMMIT_REF_NAME,
        Self::CI_COMMIT_REF_PROTECTED,
        Self::CI_COMMIT_SHA,
        Self::CI_COMMIT_TAG,
        Self::CI_CONFIG_PATH,
        Self::CI_DEFAULT_BRANCH,
        Self::CI_JOB_ID,
        Self::CI_JOB_NAME,
        Self::CI_JOB_STAGE,
        Self::CI_JOB_STARTED_AT,
        Self::CI_JOB_URL,
        Self::CI_PIPELINE_ID,
        Self::CI_PIPELINE_SOURCE,
        Self::CI_PIPELINE_URL,
        Self::CI_PROJECT_ID,
        Self::CI_PROJECT_PATH,
        Self::CI_PROJECT_URL,
        Self::CI_PROJECT_VISIBILITY,
        Self::CI_SERVER_URL,
        Self::CI_RUNNER_DESCRIPTION,
        Self::CI_RUNNER_EXECUTABLE_ARCH,
        Self::CI_RUNNER_ID,
        Self::CI_RUNNER_VERSION,
    ];
}

/// Variables of the test suite that `src/` reads. Never set them in production.
impl EnvVars {
    /// Test-only, debug builds only: `1` lets registries on loopback and private
    /// addresses get the insecure-registry treatment the tests' local registry needs
    /// (`oci/mod.rs`). Release builds ignore it.
    pub const TEST_CHAINSEAL_UNVERIFIED_INTERNAL: &'static str =
        "TEST_CHAINSEAL_UNVERIFIED_INTERNAL";

    /// The test-only variables above.
    pub const TEST_ONLY: &'static [&'static str] = &[Self::TEST_CHAINSEAL_UNVERIFIED_INTERNAL];
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::EnvVars;

    /// `(name, value)` of every constant declared in this file, read from its source.
    fn declared() -> Vec<(&'static str, &'static str)> {
        include_str!("env_vars.rs")
            .split("pub const ")
            .skip(1)
            .filter_map(|decl| {
                let (name, rest) = decl.split_once(':')?;
                let rest = rest.trim_start().strip_prefix("&'static str =")?;
                let value = rest.trim_start().strip_prefix('"')?.split('"').next()?;
                Some((name, value))
            })
            .collect()
    }

    fn lists() -> [(&'static str, &'static [&'static str]); 4] {
        [
            ("SETTINGS", EnvVars::SETTINGS),
            ("OUTPUTS", EnvVars::OUTPUTS),
            ("THIRD_PARTY", EnvVars::THIRD_PARTY),
            ("TEST_ONLY", EnvVars::TEST_ONLY),
        ]
    }

    #[test]
    fn every_constant_is_named_as_its_variable_and_listed() {
        let declared = declared();
        assert!(declared.len() > 150, "{} constants parsed", declared.len());
        for (name, value) in &declared {
            assert_eq!(name, value, "constant {name} is the variable {value}");
            assert!(
                lists().iter().any(|(_, list)| list.contains(value)),
                "{name} is in none of SETTINGS, OUTPUTS, THIRD_PARTY, TEST_ONLY"
            );
        }
        for (list_name, list) in lists() {
            let unique: BTreeSet<_> = list.iter().collect();
            assert_eq!(unique.len(), list.len(), "{list_name} lists a name twice");
        }
    }

    #[test]
    fn chainseal_variables_are_settings_or_outputs() {
        // chainseal reads no `CHAINSEAL_*` variable past clap: every one is a setting
        // (so `config::check_env` accepts it) or a name the dotenv report writes.
        for (name, _) in declared() {
            if name.starts_with("CHAINSEAL_") {
                assert!(
                    EnvVars::SETTINGS.contains(&name) || EnvVars::OUTPUTS.contains(&name),
                    "{name}"
                );
            }
        }
        for name in EnvVars::THIRD_PARTY.iter().chain(EnvVars::TEST_ONLY) {
            assert!(!name.starts_with("CHAINSEAL_"), "{name}");
        }
    }
}
