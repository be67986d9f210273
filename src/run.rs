//! Command dispatch for the binary (the only place `anyhow` is used).

use std::process::ExitCode;

use anyhow::Context as _;
use chainseal::attest::{self, Outcome};
use chainseal::cli::{AttestArgs, Cli, Command, KeygenArgs, SignerArgs, VerifyArgs};
use chainseal::config::{AttestConfig, PasswordSource, SignerConfig};
use chainseal::keygen;
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
        } => {
            let subjects = generated.statement.subject.len();
            println!("attestation {key} ({subjects} subject(s)) signed and stored:");
            for s in stored {
                let note = if s.written { "" } else { " (already present)" };
                println!("  {}: {}{note}", s.backend, s.location);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let verifier = Verifier::from_pem_file(&args.key)?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in &args.files {
        for outcome in verifier.verify_file(file)? {
            match outcome.result {
                Ok(v) => {
                    ok += 1;
                    println!("verified {}", outcome.location);
                    println!("  predicate type: {}", v.predicate_type);
                    println!(
                        "  builder id: {}",
                        v.builder_id.as_deref().unwrap_or("(none)")
                    );
                    for (name, digests) in v.subjects {
                        println!("  subject: {name} {}", digests.join(" "));
                    }
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

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let password = read_password(&PasswordSource::from_args(args.password))?;
    let written = keygen::generate(&args.out, password.as_ref(), args.force)?;
    println!("private key: {}", written.private.display());
    println!("public key:  {}", written.public.display());
    println!("key id:      {}", written.key_id);
    Ok(ExitCode::SUCCESS)
}
