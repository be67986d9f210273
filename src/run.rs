//! Command dispatch for the binary (the only place `anyhow` is used).

use std::process::ExitCode;

use anyhow::Context as _;
use chainseal::attest::{self, Outcome};
use chainseal::cli::{AttestArgs, Cli, Command, KeygenArgs, SignerArgs};
use chainseal::config::{AttestConfig, OutputFormat};
use chainseal::env_vars::EnvVars;
use chainseal::keygen;
use chainseal::outputs::{self, Report};
use chainseal::signing::key::read_password;

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_logging(&cli.global.log_level)?;
    match cli.command {
        None => attest(cli.attest),
        Some(Command::Attest(args)) => attest(args),
        Some(Command::Verify(args)) => crate::verify_cmd::verify(&args),
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
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
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
        tenants_name: args.tenants_config,
        workers: args.workers,
        retry_backoff: std::time::Duration::from_millis(args.retry_backoff_ms),
        reconcile_timeout: std::time::Duration::from_secs(args.reconcile_timeout),
        env: chainseal::controller::settings::Environment {
            signing_secrets: args.signing_secrets,
            registry: chainseal::config::registry_settings(&args.registry)?,
            storage_endpoint: chainseal::values::non_empty_owned(args.storage_endpoint.clone()),
            grafeas_url: chainseal::values::non_empty_owned(args.grafeas_url.clone()),
            service_account: chainseal::controller::credentials::own_service_account(
                args.service_account.as_deref(),
                std::path::Path::new(chainseal::controller::credentials::POD_TOKEN),
            )?,
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
