//! Command dispatch for the binary (the only place `anyhow` is used).

use std::process::ExitCode;

use anyhow::Context as _;
use chainseal::attest::{self, Outcome};
use chainseal::cli::{AttestArgs, Cli, Command, KeygenArgs, SignerArgs, VerifyArgs};
use chainseal::config::{AttestConfig, OutputFormat, PasswordSource, SignerConfig};
use chainseal::keygen;
use chainseal::outputs::Report;
use chainseal::signing::key::read_password;
use chainseal::verify::Verifier;

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
            if let Some(path) = cfg.env.get("GITHUB_OUTPUT") {
                chainseal::outputs::append(path.as_ref(), &report.github_outputs()).with_context(
                    || format!("cannot write the step outputs to `$GITHUB_OUTPUT` ({path})"),
                )?;
            }
            if cfg.show_summary
                && let Some(path) = cfg.env.get("GITHUB_STEP_SUMMARY")
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

fn verify_image(args: &VerifyArgs, verifier: &Verifier, image: &str) -> anyhow::Result<ExitCode> {
    let settings = chainseal::config::registry_settings(&args.registry)?;
    let registry = chainseal::oci::Registry::new(&settings)?;
    let repository = args
        .repository
        .as_deref()
        .map(|r| r.trim_start_matches("oci://"));
    let found = runtime()?.block_on(verifier.verify_image(&registry, image, repository))?;
    let wanted = args
        .predicate_type
        .as_deref()
        .map(chainseal::verify::registry::predicate_type_alias);
    let mut attested = 0usize;
    for o in &found.attestations {
        match &o.result {
            Ok(v) if wanted.is_some_and(|t| t != v.predicate_type) => {
                println!(
                    "skipped {} (predicate type {})",
                    o.location, v.predicate_type
                );
            }
            Ok(v) => {
                attested += 1;
                print_verified(&o.location, v);
            }
            Err(reason) => println!("FAILED {}: {reason}", o.location),
        }
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
        "{image}: {attested} attestation(s) verified{}, {signed} image signature(s) verified; {} item(s) rejected",
        wanted.map(|t| format!(" of type {t}")).unwrap_or_default(),
        found
            .attestations
            .iter()
            .chain(&found.signatures)
            .filter(|o| o.result.is_err())
            .count()
    );
    Ok(if attested > 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("no attestation verified for {image}");
        ExitCode::from(1)
    })
}

/// `verify --certificate-identity`: keyless Sigstore bundles against a trust root.
fn verify_keyless(args: &VerifyArgs, identity: &str) -> anyhow::Result<ExitCode> {
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
        return verify_image(args, &Verifier::keyless(root, expected), image);
    }
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in &args.files {
        let bundle =
            std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
        let location = file.display().to_string();
        match verify_bundle(&bundle, &root, &expected) {
            Ok((v, chain)) => {
                ok += 1;
                print_verified(&location, &v);
                println!(
                    "  signer: {} (issuer {})",
                    chain.identity,
                    chain.issuer.as_deref().unwrap_or("?")
                );
            }
            Err(reason) => {
                failed += 1;
                println!("FAILED {location}: {reason}");
            }
        }
    }
    eprintln!("{ok} bundle(s) verified, {failed} rejected");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(identity) = &args.certificate_identity {
        return verify_keyless(args, identity);
    }
    let key = args.key.as_ref().context(
        "set `CHAINSEAL_VERIFY_KEY` (`--key`), or `--certificate-identity` for keyless bundles",
    )?;
    let verifier = Verifier::from_pem_file(key)?;
    if let Some(image) = &args.image {
        return verify_image(args, &verifier, image);
    }
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in &args.files {
        for outcome in verifier.verify_file(file)? {
            match outcome.result {
                Ok(v) => {
                    ok += 1;
                    print_verified(&outcome.location, &v);
                }
                Err(reason) => {
                    failed += 1;
                    println!("FAILED {}: {reason}", outcome.location);
                }
            }
        }
    }
    eprintln!("{ok} envelope(s) verified, {failed} rejected");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn public_key(args: SignerArgs) -> anyhow::Result<ExitCode> {
    let cfg = SignerConfig::from_args(args)?.ok_or(chainseal::config::Error::MissingKey)?;
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
        namespaces: args
            .namespaces
            .as_deref()
            .map(chainseal::subjects::split_list)
            .unwrap_or_default(),
        config_namespace: args.config_namespace,
        config_name: args.config_name,
        workers: args.workers,
        retry_backoff: std::time::Duration::from_millis(args.retry_backoff_ms),
        env: chainseal::controller::settings::Environment {
            signing_secrets: args.signing_secrets,
            registry: chainseal::config::registry_settings(&args.registry)?,
            storage_endpoint: args
                .storage_endpoint
                .clone()
                .filter(|e| !e.trim().is_empty()),
            grafeas_url: args.grafeas_url.clone().filter(|e| !e.trim().is_empty()),
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
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "chainseal".into()),
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
    let password = read_password(&PasswordSource::from_args(args.password))?;
    let written = keygen::generate(&args.out, password.as_ref(), args.force)?;
    println!("private key: {}", written.private.display());
    println!("public key:  {}", written.public.display());
    println!("key id:      {}", written.key_id);
    Ok(ExitCode::SUCCESS)
}
