//! `loadgen`: one bounded load run from flags (`--endpoint`, `--op`, `--connections`,
//! `--duration`/`--requests`, `--rate`, `--json`), the floor's `echo` and `relay` servers,
//! and `suite <name>` for the suites `bench/run` drives.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use loadgen::load::{self, Pace, Plan, MAX_DURATION};
use loadgen::ops::{Op, OpParams, Template};
use loadgen::sign::Signer;
use loadgen::{floor, report, suite};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "SigV4-signed HTTP/1.1 load against a loopback endpoint, and the benchmark suites",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// Server to load, `http://127.0.0.1:PORT`.
    #[arg(long)]
    endpoint: Option<String>,
    /// Operation to send.
    #[arg(long, value_enum)]
    op: Option<Op>,
    /// Concurrent connections (closed loop: requests in flight).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds to measure (default 10, or 600 as an upper bound with --requests).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Open loop at this many requests/s in total; closed loop without it.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of unmeasured warm-up first.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Function for lambda-get-function and lambda-invoke.
    #[arg(long, default_value = "bench-fn-000")]
    function: String,
    /// Execution role ARN for lambda-create-function.
    #[arg(long, default_value = "arn:aws:iam::000000000000:role/bench-exec")]
    role: String,
    /// Zip size for lambda-create-function, bytes (0: a tiny zip).
    #[arg(long, default_value_t = 0)]
    zip_bytes: usize,
    /// lambda-create-function names functions `<prefix>-<n>`.
    #[arg(long, default_value = "loadgen")]
    name_prefix: String,
    /// MaxItems for lambda-list-functions.
    #[arg(long, default_value_t = 100)]
    max_items: u32,
    /// Payload for lambda-invoke.
    #[arg(long, default_value = r#"{"hello":"world"}"#)]
    payload: String,
    #[arg(long, default_value = "test")]
    access_key: String,
    #[arg(long, default_value = "test")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

#[derive(Subcommand)]
enum Command {
    /// The floor's echo server: answers every request with its own body.
    Echo {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Seconds after which the server exits by itself.
        #[arg(long, default_value_t = 1800)]
        lifetime: u64,
    },
    /// The floor's relay: forwards every request to --upstream and returns its answer.
    Relay {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// `http://127.0.0.1:PORT` of the echo server.
        #[arg(long)]
        upstream: http::Uri,
        /// Seconds after which the server exits by itself.
        #[arg(long, default_value_t = 1800)]
        lifetime: u64,
    },
    /// Runs one benchmark suite and writes `<suite>.md` and `<suite>.json`.
    #[command(subcommand)]
    Suite(SuiteCommand),
}

#[derive(Subcommand)]
enum SuiteCommand {
    /// Suite 1: control plane, vpclambda vs moto_server.
    ControlPlane(suite::control_plane::Args),
    /// Suite 2: warm Invoke against the two-hop HTTP floor.
    Floor(suite::floor::Args),
    /// Warm Invoke beyond its capacity: open loop at 1×, 2× and 4× of it.
    Overload(suite::overload::Args),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => load_once(cli.load).await,
        Some(Command::Echo { listen, lifetime }) => {
            let listener = bind(listen, "echo").await?;
            floor::serve_echo(listener, Duration::from_secs(lifetime)).await
        }
        Some(Command::Relay {
            listen,
            upstream,
            lifetime,
        }) => {
            let listener = bind(listen, "relay").await?;
            floor::serve_relay(listener, upstream, Duration::from_secs(lifetime)).await
        }
        Some(Command::Suite(which)) => {
            let (section, out) = match which {
                SuiteCommand::ControlPlane(args) => {
                    (suite::control_plane::run(&args).await?, args.opts.out_dir)
                }
                SuiteCommand::Floor(args) => (suite::floor::run(&args).await?, args.opts.out_dir),
                SuiteCommand::Overload(args) => {
                    (suite::overload::run(&args).await?, args.opts.out_dir)
                }
            };
            section.write(&out)?;
            println!("{}", section.markdown);
            Ok(())
        }
    }
}

/// Binds and announces the address on the first line of stdout, for `bench/run` to read.
async fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "loadgen {what} listening on http://{local}")?;
    out.flush()?;
    Ok(listener)
}

async fn load_once(a: LoadArgs) -> Result<()> {
    let (Some(endpoint), Some(op)) = (a.endpoint, a.op) else {
        bail!("--endpoint and --op are required (or give a subcommand; see --help)");
    };
    let duration = match (a.duration, a.requests) {
        (Some(d), _) => secs(d, "--duration")?,
        (None, Some(_)) => MAX_DURATION,
        (None, None) => Duration::from_secs(10),
    };
    let pace = match a.rate {
        Some(rate) => Pace::Open { rate },
        None => Pace::Closed,
    };
    let plan = Plan::closed(a.connections, duration)
        .with_pace(pace)
        .with_max_requests(a.requests)
        .with_warmup(secs(a.warmup, "--warmup")?);
    let params = OpParams {
        function: a.function,
        role: a.role,
        zip_bytes: a.zip_bytes,
        name_prefix: a.name_prefix,
        max_items: a.max_items,
        payload: a.payload,
    };
    let signer = Signer::new(&a.access_key, &a.secret_key, &a.region);
    let template = Arc::new(Template::new(op, &endpoint, &params, signer)?);
    let summary = load::run(&template, &plan).await?.summary();
    if a.json {
        let out = json!({ "endpoint": endpoint, "op": op, "plan": plan, "summary": summary });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{op:?} {endpoint}: {} ok, {} errors in {:.2} s = {}; latency p50 {} p90 {} p99 {} p99.9 {} max {}",
            summary.ok,
            summary.errors,
            summary.elapsed_s,
            report::rate(summary.throughput_rps),
            report::latency(summary.p50_us),
            report::latency(summary.p90_us),
            report::latency(summary.p99_us),
            report::latency(summary.p999_us),
            report::latency(summary.max_us),
        );
        if let Some(e) = &summary.first_error {
            println!("first error: {e}");
        }
    }
    Ok(())
}

fn secs(s: f64, flag: &str) -> Result<Duration> {
    if !(s.is_finite() && s >= 0.0 && s <= MAX_DURATION.as_secs_f64()) {
        bail!("{flag} must be 0..={} seconds", MAX_DURATION.as_secs());
    }
    Ok(Duration::from_secs_f64(s))
}
