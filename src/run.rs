//! Command dispatch for the binary (the only place `anyhow` is used).

use std::process::ExitCode;

use anyhow::Context as _;
use chainseal::attest::{self, Outcome};
use chainseal::cli::{AttestArgs, Cli, Command, KeygenArgs, SignerArgs, VerifyArgs};
use chainseal::config::{AttestConfig, OutputFormat};
use chainseal::env_vars::EnvVars;
use chainseal::keygen;
use chainseal::outputs::Report;
use chainseal::signing::key::read_password;
use chainseal::verify::{PredicateTypes, Verifier};

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_logging(&cli.global.log_level)?;
    match cli.command {
        None => attest(cli.attest),
        Some(Command::Attest(args)) => attest(args),
        Some(Command::Verify(args)) => verify(&args),
        Some(Command::Keygen(args)) => keygen(args),
        Some(Command::PublicKey(args)) => public_key(args),
        Some(Command::Controller(args)) => controller(args),
    }
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let level: tracing::Level = level.parse().map_err(|_| {
        anyhow::anyhow!(
            "invalid `CHAINSEAL_LOG_LEVEL` `{level}`: use error, warn, info, debug or trace"
        )
    })?;
    // Libraries (cloud SDKs, HTTP clients) only speak up for warnings, unless asked
    // for debug or trace, where their detail is the point.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let libraries = if level >= tracing::Level::DEBUG {
        level
    } else {
        tracing::Level::WARN.min(level)
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("chainseal", level)
        .with_default(libraries);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(filter)
        .init();
    Ok(())
}

/// A single-threaded runtime: one command does one thing at a time.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let cfg = AttestConfig::from_args(args)?;
    let rt = runtime()?;
    match rt.block_on(attest::run(&cfg))? {
        Outcome::DryRun { generated, images } => {
            let json = serde_json::to_string_pretty(&generated.statement)?;
            println!("{json}");
            let skipped: Vec<_> = generated
                .findings
                .iter()
                .filter(|f| f.is_skipped())
                .collect();
            if cfg.explain {
                eprintln!("explain: every type hint considered and what became of it:");
                for f in &generated.findings {
                    eprintln!("  {f}");
                }
            } else if !skipped.is_empty() {
                eprintln!("dry run: {} type hint(s) skipped:", skipped.len());
                for f in &skipped {
                    eprintln!("  - {f}");
                }
            }
            if !images.is_empty() {
                eprintln!("images named by the TaskRun's results (simple-signing payloads):");
                for i in &images {
                    eprintln!("  {} ({})", i.image, String::from_utf8_lossy(&i.payload));
                }
            }
            eprintln!("dry run: nothing signed or stored");
        }
        Outcome::Stored {
            generated,
            stored,
            key,
            transparency,
        } => {
            let report = Report::new(&key, &generated.statement, &stored, transparency.clone());
            match cfg.output {
                OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&report.to_json())?)
                }
                OutputFormat::Text => {
                    let subjects = generated.statement.subject.len();
                    println!("attestation {key} ({subjects} subject(s)) signed and stored:");
                    if stored.is_empty() {
                        println!("  nowhere: no storage had a place for it (see the log)");
                    }
                    for s in &stored {
                        let note = if s.written { "" } else { " (already present)" };
                        println!("  {}: {}{note}", s.backend, s.location);
                    }
                    if let Some(entry) = &transparency {
                        println!("  transparency log: {entry}");
                    }
                }
            }
            write_results(&cfg, &report)?;
            write_ci_outputs(&cfg, &report).with_context(|| {
                format!(
                    "the attestation was stored ({}), but",
                    report.stored.join(", ")
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// GitHub step outputs and summary, or the GitLab dotenv report, when running there.
fn write_ci_outputs(cfg: &AttestConfig, report: &Report) -> anyhow::Result<()> {
    use chainseal::record::ci::Platform;
    match cfg.env.detect() {
        Platform::Github => {
            if let Some(path) = cfg.env.get(EnvVars::GITHUB_OUTPUT) {
                chainseal::outputs::append(path.as_ref(), &report.github_outputs()).with_context(
                    || format!("cannot write the step outputs to `$GITHUB_OUTPUT` ({path})"),
                )?;
            }
            if cfg.show_summary
                && let Some(path) = cfg.env.get(EnvVars::GITHUB_STEP_SUMMARY)
            {
                chainseal::outputs::append(path.as_ref(), &report.github_summary()).with_context(
                    || format!("cannot write the step summary to `$GITHUB_STEP_SUMMARY` ({path})"),
                )?;
            }
        }
        Platform::Gitlab => {
            std::fs::write(&cfg.dotenv, report.dotenv()).with_context(|| {
                format!(
                    "cannot write the dotenv report `{}` (`CHAINSEAL_DOTENV`)",
                    cfg.dotenv.display()
                )
            })?;
        }
        Platform::Generic => {}
    }
    Ok(())
}

/// The result files (`CHAINSEAL_RESULT_LOCATIONS`, `CHAINSEAL_RESULT_SUBJECTS`),
/// e.g. Tekton results: one location, or one `name@alg:hex` subject, per line.
fn write_results(cfg: &AttestConfig, report: &Report) -> anyhow::Result<()> {
    let write = |path: &std::path::Path, lines: &[String]| {
        std::fs::write(path, lines.join("\n"))
            .with_context(|| format!("cannot write the result file `{}`", path.display()))
    };
    if let Some(path) = &cfg.result_locations {
        write(path, &report.stored)?;
    }
    if let Some(path) = &cfg.result_subjects {
        write(path, &report.subjects)?;
    }
    Ok(())
}

fn print_verified(location: &str, v: &chainseal::verify::Verified) {
    println!("verified {location}");
    println!("  predicate type: {}", v.predicate_type);
    if let Some(id) = &v.builder_id {
        println!("  builder id: {id}");
    }
    for (name, digests) in &v.subjects {
        println!("  subject: {name} {}", digests.join(" "));
    }
}

/// Attestations counted against the wanted predicate types (`--type`): each
/// printed as verified, skipped (another type) or FAILED.
struct Tally<'a> {
    wanted: &'a PredicateTypes,
    verified: usize,
    failed: usize,
    /// Verified attestations of another type, and their types.
    skipped: usize,
    skipped_types: std::collections::BTreeSet<String>,
}

impl<'a> Tally<'a> {
    fn new(wanted: &'a PredicateTypes) -> Self {
        Self {
            wanted,
            verified: 0,
            failed: 0,
            skipped: 0,
            skipped_types: Default::default(),
        }
    }

    /// Print and count one outcome; the verified content when it counts.
    fn add<'v>(
        &mut self,
        location: &str,
        result: &'v Result<chainseal::verify::Verified, String>,
    ) -> Option<&'v chainseal::verify::Verified> {
        match result {
            Ok(v) if !self.wanted.wants(&v.predicate_type) => {
                println!("skipped {location} (predicate type {})", v.predicate_type);
                self.skipped += 1;
                self.skipped_types.insert(v.predicate_type.clone());
                None
            }
            Ok(v) => {
                self.verified += 1;
                print_verified(location, v);
                Some(v)
            }
            Err(reason) => {
                self.failed += 1;
                println!("FAILED {location}: {reason}");
                None
            }
        }
    }

    /// ` of type …` for the summary line, unless every type counts.
    fn of_type(&self) -> String {
        match self.wanted {
            PredicateTypes::Any => String::new(),
            wanted => format!(" of type {}", wanted.describe()),
        }
    }

    /// `, N skipped (another predicate type)` for the summary line.
    fn skipped_note(&self) -> String {
        if self.skipped == 0 {
            String::new()
        } else {
            format!(", {} skipped (another predicate type)", self.skipped)
        }
    }

    /// Why nothing counted, naming the types found and the flag.
    fn none_counted(&self, what: &str) {
        let found = if self.skipped_types.is_empty() {
            "none".to_owned()
        } else {
            self.skipped_types
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "no {what} of type {} verified (verified but of another type: {found}): set `--type` (`CHAINSEAL_VERIFY_TYPE`) to the predicate type to check, or `--type any`",
            self.wanted.describe()
        );
    }
}

fn verify_image(
    args: &VerifyArgs,
    verifier: &Verifier,
    image: &str,
    wanted: &PredicateTypes,
) -> anyhow::Result<ExitCode> {
    let settings = chainseal::config::registry_settings(&args.registry)?;
    let registry = chainseal::oci::Registry::new(&settings)?;
    let repository = args
        .repository
        .as_deref()
        .map(|r| r.trim_start_matches("oci://"));
    let found = runtime()?.block_on(verifier.verify_image(&registry, image, repository))?;
    let mut tally = Tally::new(wanted);
    for o in &found.attestations {
        tally.add(&o.location, &o.result);
    }
    let mut signed = 0usize;
    for o in &found.signatures {
        match &o.result {
            Ok(_) => {
                signed += 1;
                println!("verified image signature {}", o.location);
            }
            Err(reason) => println!("FAILED image signature {}: {reason}", o.location),
        }
    }
    eprintln!(
        "{image}: {} attestation(s) verified{}{}, {signed} image signature(s) verified; {} item(s) rejected",
        tally.verified,
        tally.of_type(),
        tally.skipped_note(),
        found
            .attestations
            .iter()
            .chain(&found.signatures)
            .filter(|o| o.result.is_err())
            .count()
    );
    Ok(if tally.verified > 0 {
        ExitCode::SUCCESS
    } else {
        tally.none_counted(&format!("attestation for {image}"));
        ExitCode::from(1)
    })
}

/// The exit status of a file verification: 1 when anything failed or nothing of
/// the wanted types verified.
fn files_outcome(tally: &Tally<'_>, what: &str) -> ExitCode {
    eprintln!(
        "{} {what}(s) verified, {} rejected{}",
        tally.verified,
        tally.failed,
        tally.skipped_note()
    );
    if tally.failed > 0 {
        return ExitCode::from(1);
    }
    if tally.verified == 0 {
        tally.none_counted(what);
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `verify --certificate-identity`: keyless Sigstore bundles against a trust root.
fn verify_keyless(
    args: &VerifyArgs,
    identity: &str,
    wanted: &PredicateTypes,
) -> anyhow::Result<ExitCode> {
    use chainseal::verify::keyless::{Identity, TrustedRoot, verify_bundle};
    let path = args.trusted_root.as_ref().context(
        "keyless verification needs `CHAINSEAL_TRUSTED_ROOT` (`--trusted-root`): the `trusted_root.json` of the Sigstore deployment that signed (for the public-good instance: `sigstore-python trust-root`, `cosign trusted-root create`, or the TUF repository's `trusted_root.json`)",
    )?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let root = TrustedRoot::from_json(&bytes)
        .map_err(|e| anyhow::anyhow!("`{}` is not a usable trusted root: {e}", path.display()))?;
    let expected = Identity {
        identity: identity.to_owned(),
        issuer: args.certificate_oidc_issuer.clone().unwrap_or_default(),
    };
    if let Some(image) = &args.image {
        return verify_image(args, &Verifier::keyless(root, expected), image, wanted);
    }
    // Malformed input is an error (exit 2) before anything is verified.
    let mut bundles = Vec::new();
    for file in &args.files {
        let bundle =
            std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
        chainseal::envelope::bundle::envelope(&bundle).map_err(|e| {
            anyhow::anyhow!(
                "`{}` is not a Sigstore bundle with a DSSE envelope ({}): keyless verification takes `.sigstore.json` bundles",
                file.display(),
                chainseal::error_text::joined(&e)
            )
        })?;
        bundles.push((file.display().to_string(), bundle));
    }
    let mut tally = Tally::new(wanted);
    for (location, bundle) in &bundles {
        let result = verify_bundle(bundle, &root, &expected);
        let (verified, chain) = match result {
            Ok((v, chain)) => (Ok(v), Some(chain)),
            Err(e) => (Err(e), None),
        };
        if let (Some(_), Some(chain)) = (tally.add(location, &verified), chain) {
            println!(
                "  signer: {} (issuer {})",
                chain.identity,
                chain.issuer.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(files_outcome(&tally, "bundle"))
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let wanted = PredicateTypes::parse(args.predicate_type.as_deref())?;
    if let Some(identity) = &args.certificate_identity {
        return verify_keyless(args, identity, &wanted);
    }
    let key = args.key.as_ref().context(
        "set `CHAINSEAL_VERIFY_KEY` (`--key`), or `--certificate-identity` for keyless bundles",
    )?;
    let verifier = Verifier::from_pem_file(key)?;
    if let Some(image) = &args.image {
        return verify_image(args, &verifier, image, &wanted);
    }
    // Every file is read first: malformed input is an error (exit 2) whatever the
    // other files hold.
    let outcomes = args
        .files
        .iter()
        .map(|file| verifier.verify_file(file))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tally = Tally::new(&wanted);
    for outcome in outcomes.iter().flatten() {
        tally.add(&outcome.location, &outcome.result);
    }
    Ok(files_outcome(&tally, "envelope"))
}

fn public_key(args: SignerArgs) -> anyhow::Result<ExitCode> {
    let cfg =
        chainseal::config::signer_settings(args)?.ok_or(chainseal::config::Error::MissingKey)?;
    let rt = runtime()?;
    let signer = rt.block_on(chainseal::signing::load(&cfg))?;
    let public = signer
        .public_key()
        .ok_or_else(|| anyhow::anyhow!("this signer has no public key until it signs"))?;
    print!("{}", public.pem);
    eprintln!("key id: {} ({})", public.key_id, public.algorithm);
    Ok(ExitCode::SUCCESS)
}

fn controller(args: chainseal::cli::ControllerArgs) -> anyhow::Result<ExitCode> {
    let opts = chainseal::controller::Options {
        namespaces: chainseal::values::split_list(
            "CHAINSEAL_NAMESPACES",
            args.namespaces.as_deref().unwrap_or(""),
            chainseal::values::Separators::Commas,
        )?,
        config_namespace: args.config_namespace,
        config_name: args.config_name,
        workers: args.workers,
        retry_backoff: std::time::Duration::from_millis(args.retry_backoff_ms),
        reconcile_timeout: std::time::Duration::from_secs(args.reconcile_timeout),
        env: chainseal::controller::settings::Environment {
            signing_secrets: args.signing_secrets,
            registry: chainseal::config::registry_settings(&args.registry)?,
            storage_endpoint: chainseal::values::non_empty_owned(args.storage_endpoint.clone()),
            grafeas_url: chainseal::values::non_empty_owned(args.grafeas_url.clone()),
        },
        metrics_addr: match args.metrics_addr.trim() {
            "off" => None,
            addr => Some(addr.parse().with_context(|| {
                format!(
                    "`CHAINSEAL_METRICS_ADDR` is `{addr}`: use host:port, e.g. 0.0.0.0:9090, or off"
                )
            })?),
        },
        kube_api_rate: (args.kube_api_qps.max(0.0), args.kube_api_burst),
        finalizers: args.finalizers,
        leader: args
            .leader_election
            .then(|| chainseal::controller::LeaderOptions {
                lease_name: args.lease_name,
                // The pod name (HOSTNAME in a pod), made unique per process.
                identity: format!(
                    "{}-{:08x}",
                    std::env::var(EnvVars::HOSTNAME).unwrap_or_else(|_| "chainseal".into()),
                    fastrand::u32(..)
                ),
                duration_secs: args.lease_duration.max(2),
            }),
    };
    // Workers sign in parallel: one runtime thread per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(chainseal::controller::run(opts))?;
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let password = read_password(&chainseal::config::password_source(args.password))?;
    let written = keygen::generate(&args.out, password.as_ref(), args.force)?;
    println!("private key: {}", written.private.display());
    println!("public key:  {}", written.public.display());
    println!("key id:      {}", written.key_id);
    Ok(ExitCode::SUCCESS)
}
