//! The `vpclambda` binary: command line, configuration, and the wiring of the daemon's
//! parts. See ARCHITECTURE.md at the repository root for the map.

mod admin;
mod auth;
mod config;
mod gateway;
mod server;
mod services;
#[cfg(test)]
mod testing;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vpclambda",
    version,
    about = "A self-hosted, AWS-compatible AWS Lambda with real VPC networking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: every AWS service on one port.
    Serve(config::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VPCLAMBDA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => {
            let config = config::Config::resolve(args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(server::run(config))
        }
    }
}
