//! Command dispatch for the binary (the only place `anyhow` is used).

use std::process::ExitCode;

use anyhow::Context as _;
use chainseal::attest::{self, Outcome};
use chainseal::cli::{AttestArgs, Cli, Command, KeygenArgs, SignerArgs, VerifyArgs};
use chainseal::config::{AttestConfig, OutputFormat};
use chainseal::env_vars::EnvVars;
use chainseal::error_text::joined;
use chainseal::keygen;
use chainseal::outputs::{self, Report};
use chainseal::signing::key::read_password;
use chainseal::verify::outcome::{Checked, Item};
use chainseal::verify::{self, PredicateTypes, Verdict};

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
            outputs::write_results(
                &report,
                cfg.result_locations.as_deref(),
                cfg.result_subjects.as_deref(),
            )?;
            outputs::write_ci(&report, &cfg.env, cfg.show_summary, &cfg.dotenv).with_context(
                || {
                    format!(
                        "the attestation was stored ({}), but",
                        report.stored.join(", ")
                    )
                },
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let request = verify_request(args)?;
    let report = runtime()?.block_on(verify::run(&request))?;
    print_report(&report);
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The library's request from the flags and environment.
fn verify_request(args: &VerifyArgs) -> anyhow::Result<verify::Request> {
    let wanted = PredicateTypes::parse(args.predicate_type.as_deref())?;
    let trust = verify::Trust::choose(
        args.key.as_deref(),
        args.certificate_identity.as_deref(),
        args.certificate_oidc_issuer.as_deref(),
        args.trusted_root.as_deref(),
    )?;
    let target = match &args.image {
        Some(image) => verify::Target::Image {
            image: image.clone(),
            repository: args.repository.clone(),
            registry: chainseal::config::registry_settings(&args.registry)?,
        },
        None => verify::Target::Files(args.files.clone()),
    };
    Ok(verify::Request {
        trust,
        target,
        wanted,
    })
}

/// Each item on stdout (verified, skipped or FAILED), then the summary on stderr.
fn print_report(report: &verify::Report) {
    for item in &report.attestations {
        print_item(item);
    }
    for o in &report.signatures {
        match &o.result {
            Ok(_) => println!("verified image signature {}", o.location),
            Err(reason) => println!("FAILED image signature {}: {}", o.location, joined(reason)),
        }
    }
    print_summary(report);
}

/// One attestation: what it says when it counted, else why not.
fn print_item(item: &Item) {
    let location = &item.location;
    match &item.verdict {
        Verdict::Counted { verified, signer } => {
            print_verified(location, verified);
            if let Some(signer) = signer {
                println!(
                    "  signer: {} (issuer {})",
                    signer.identity,
                    signer.issuer.as_deref().unwrap_or("?")
                );
            }
        }
        Verdict::Skipped(v) => println!("skipped {location} (predicate type {})", v.predicate_type),
        Verdict::Failed(reason) => println!("FAILED {location}: {}", joined(reason)),
    }
}

fn print_verified(location: &str, v: &verify::Verified) {
    println!("verified {location}");
    println!("  predicate type: {}", v.predicate_type);
    if let Some(id) = &v.builder_id {
        println!("  builder id: {id}");
    }
    for (name, digests) in &v.subjects {
        println!("  subject: {name} {}", digests.join(" "));
    }
}

/// The counts, and why nothing counted when that is why it failed.
fn print_summary(report: &verify::Report) {
    let skipped = match report.skipped() {
        0 => String::new(),
        n => format!(", {n} skipped (another predicate type)"),
    };
    let what = match &report.checked {
        Checked::Image(image) => {
            let of_type = match &report.wanted {
                PredicateTypes::Any => String::new(),
                wanted => format!(" of type {}", wanted.describe()),
            };
            eprintln!(
                "{image}: {} attestation(s) verified{of_type}{skipped}, {} image signature(s) verified; {} item(s) rejected",
                report.counted(),
                report.signatures_verified(),
                report.rejected()
            );
            format!("attestation for {image}")
        }
        Checked::Envelopes | Checked::Bundles => {
            let what = match report.checked {
                Checked::Bundles => "bundle",
                _ => "envelope",
            };
            eprintln!(
                "{} {what}(s) verified, {} rejected{skipped}",
                report.counted(),
                report.failed()
            );
            what.to_owned()
        }
    };
    if report.nothing_counted() {
        print_nothing_counted(report, &what);
    }
}

/// Why nothing counted, naming the types found and the flag.
fn print_nothing_counted(report: &verify::Report, what: &str) {
    let found = report.skipped_types().into_iter().collect::<Vec<_>>();
    let found = if found.is_empty() {
        "none".to_owned()
    } else {
        found.join(", ")
    };
    eprintln!(
        "no {what} of type {} verified (verified but of another type: {found}): set `--type` (`CHAINSEAL_VERIFY_TYPE`) to the predicate type to check, or `--type any`",
        report.wanted.describe()
    );
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
            EnvVars::CHAINSEAL_NAMESPACES,
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
