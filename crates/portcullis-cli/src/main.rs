//! `portcullis`: the gateway's command line (CONTRACT §1).

mod explain;
mod logfmt;
mod mail;
mod serve;
mod token;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's allocator: a proxied request makes about a
/// hundred short-lived allocations, and glibc's slow paths cost ~14k
/// instructions per request (docs/performance.md). Built without
/// transparent-huge-page hints (`no_thp`): with them the resident set of a
/// mostly idle gateway grows by 2 MiB pages (20 → 32 MiB idle).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Authorization gateway for Strapi and REST APIs"
)]
struct Cli {
    /// The gateway configuration file.
    #[arg(long, global = true, default_value = "gateway.yaml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGTERM/SIGINT.
    Serve,
    /// Validate gateway.yaml and every policy file.
    Check,
    /// Print the decision for a request without contacting the upstream.
    Explain(explain::Args),
    /// Manage users in the store.
    #[command(subcommand)]
    User(user::Command),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve::run(&cli.config),
        Command::Check => return check(&cli.config),
        Command::Explain(args) => explain::run(&cli.config, &args),
        Command::User(cmd) => user::run(&cli.config, cmd),
        Command::Token(cmd) => token::run(&cli.config, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration, or renders every problem as one error.
pub(crate) fn load(config: &std::path::Path) -> anyhow::Result<portcullis_config::Loaded> {
    portcullis_config::load(config, &portcullis_config::process_env).map_err(|diags| {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "{} is invalid ({} problem{}):\n{}",
            config.display(),
            diags.len(),
            if diags.len() == 1 { "" } else { "s" },
            lines.join("\n")
        )
    })
}

fn check(config: &std::path::Path) -> ExitCode {
    match portcullis_config::load(config, &portcullis_config::process_env) {
        Ok(loaded) => {
            println!("{}", portcullis_config::summary(&loaded));
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            ExitCode::FAILURE
        }
    }
}
