//! The `chainseal` binary: parse settings, run a command, map the outcome to an exit
//! status (0 success, 1 verification failed, 2 error).

// No `expect` in non-test code (a panic on bad input is an outage); `#[cfg(test)]`
// code may (clippy.toml). Set here, not in Cargo.toml, so that integration tests and
// benches (separate crates with helper functions) keep `expect`.
#![warn(clippy::expect_used)]

use std::process::ExitCode;

use clap::FromArgMatches as _;

mod run;
mod verify_cmd;

// musl's allocator is slow for the many small allocations JSON/YAML parsing makes
// (a third of `attest`'s time on a 50-TaskRun record, see BENCHMARKS.md); mimalloc is
// used on every target so the static and dynamic builds behave alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Err(e) =
        chainseal::config::check_env(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()))
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cli = match chainseal::cli::Cli::from_arg_matches(&chainseal::cli::command().get_matches())
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The error and its causes on one line (`error_text::joined`).
            eprintln!("error: {}", chainseal::error_text::joined(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
