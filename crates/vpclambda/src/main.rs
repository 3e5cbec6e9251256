//! The `vpclambda` binary: command line, configuration, and the wiring of the daemon's
//! parts. See ARCHITECTURE.md at the repository root for the map.

mod admin;
mod auth;
mod config;
mod console;
mod dataplane;
mod endpoints;
mod eni;
mod gateway;
mod invoke;
mod operator;
mod server;
mod services;
mod telemetry;
#[cfg(test)]
mod testing;
mod zones;

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
    /// Run a command as a host of the simulated internet (`vl-pub`), through the running
    /// daemon; the host is removed when the command ends. Needs root.
    InternetExec(admin::InternetExecArgs),
    /// Run a command on a new ENI in a VPC subnet, through the running daemon; the ENI is
    /// deleted when the command ends. Needs root.
    VpcExec(admin::VpcExecArgs),
    /// Simulate Availability Zone outages (through the running daemon).
    Az(operator::AzArgs),
    /// How many ENIs and addresses a function needs at a peak concurrency, with warnings.
    EniPlan(operator::EniPlanArgs),
}

fn main() -> anyhow::Result<()> {
    // The execution environments' isolation helper: this binary re-exec'd by the sandbox.
    // It must stay single-threaded, so it runs before anything else starts (no runtime, no
    // logging threads) and is not a visible subcommand.
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("sandbox-init") {
        sandbox::init_main(args.collect());
    }
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
        Command::InternetExec(args) => std::process::exit(admin::internet_exec(args)?),
        Command::VpcExec(args) => std::process::exit(admin::vpc_exec(args)?),
        Command::Az(args) => operator::az(args),
        Command::EniPlan(args) => operator::eni_plan_cli(args),
    }
}
