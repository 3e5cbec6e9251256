//! Suite 2: warm Invoke against the two-hop HTTP floor, in one run. The same signed
//! Invoke-shaped request (`POST /2015-03-31/functions/<name>/invocations`, a 64 byte JSON
//! payload) goes to the echo server directly (one hop), through the relay (two hops: the
//! shape of Invoke → Runtime API → response without any Lambda work), and, when a vpclambda
//! endpoint is given, to vpclambda's Invoke of warm functions (the Rust `lambda_runtime` echo
//! and the Python one). All paths are interleaved: throughput at 16 connections, latency at
//! 1 connection, and latency at a fixed open-loop rate. With `--daemon-pid`, one more run per
//! function at 16 connections samples the daemon's own CPU time (its threads only; function
//! processes are other processes) to give invokes per second per daemon core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;

use super::{interleaved, probe, Rounds, Section, SuiteOpts};
use crate::load::{self, Pace, Plan};
use crate::ops::{Op, OpParams, Template};
use crate::report::{self, Summary};
use crate::sign::Signer;

/// Issue targets: two hops at about this p50…
const TWO_HOP_P50_US: f64 = 55.0;
/// …and one hop at about this throughput per core.
const ONE_HOP_RPS: f64 = 48_000.0;
/// Warm invoke targets: p50, p99, and invokes/s per daemon core.
const INVOKE_P50_US: f64 = 150.0;
const INVOKE_P99_US: f64 = 1000.0;
const INVOKE_RPS_PER_CORE: f64 = 15_000.0;
/// Connections for the throughput measurements (and environments each function warms).
const CONNS: usize = 16;
/// Requests of unmeasured warm-up per function before anything is measured, so every one
/// of the `CONNS` environments exists and has finished its init.
const PREWARM_REQUESTS: u64 = 40 * CONNS as u64;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The echo server (`loadgen echo`), `http://127.0.0.1:PORT`.
    #[arg(long)]
    pub echo: String,
    /// The relay in front of it (`loadgen relay --upstream <echo>`).
    #[arg(long)]
    pub relay: String,
    /// vpclambda, `http://127.0.0.1:PORT`; without it only the floor is measured.
    #[arg(long)]
    pub vpclambda: Option<String>,
    /// A function to invoke warm, `LABEL=NAME` (e.g. `rust=bench-echo-rs`); repeatable.
    #[arg(long = "invoke", value_name = "LABEL=NAME")]
    pub invoke: Vec<String>,
    /// The vpclambda daemon's pid, to measure its CPU time per invoke.
    #[arg(long)]
    pub daemon_pid: Option<u32>,
    /// Why vpclambda is not measured, when it is not (printed in the section).
    #[arg(long)]
    pub skip_reason: Option<String>,
    /// Open-loop rate for the fixed-rate latency measurement, requests/s.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    #[command(flatten)]
    pub opts: SuiteOpts,
}

/// The 64 byte payload every path gets.
fn payload() -> String {
    let p = format!(r#"{{"data":"{}"}}"#, "x".repeat(53));
    debug_assert_eq!(p.len(), 64);
    p
}

/// Invokes per second per daemon core, from a dedicated 16-connection run.
#[derive(Debug, Clone, Serialize)]
struct PerCore {
    path: String,
    throughput_rps: f64,
    daemon_cpus: f64,
    invokes_per_core_s: f64,
}

/// The daemon's user + system CPU time (all its threads) from `/proc/<pid>/stat`.
fn daemon_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime); `after` starts at field 3.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse()
            .context("utime/stime")
    };
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .context("sysconf(CLK_TCK)")?
        .context("CLK_TCK unknown")?;
    let hz = u64::try_from(hz).context("CLK_TCK")?;
    Ok(Duration::from_secs_f64(
        (ticks(11)? + ticks(12)?) as f64 / hz as f64,
    ))
}

pub async fn run(args: &Args) -> Result<Section> {
    let rounds = Rounds::for_run(args.opts.quick);
    let signer = Signer::new("test", "test", "us-east-1");
    let payload = payload();
    let mut paths: Vec<String> = vec![
        "one hop (client → echo)".into(),
        "two hops (client → relay → echo)".into(),
    ];
    let mut templates = Vec::new();
    for endpoint in [&args.echo, &args.relay] {
        let params = OpParams {
            function: "floor".into(),
            payload: payload.clone(),
            ..OpParams::default()
        };
        let t = Arc::new(Template::new(
            Op::LambdaInvoke,
            endpoint,
            &params,
            signer.clone(),
        )?);
        if let Err(why) = probe(&t).await? {
            bail!("floor server at {endpoint} does not answer: {why}");
        }
        templates.push(t);
    }
    let mut notes = Vec::new();
    let mut invoke_paths = Vec::new();
    if let Some(endpoint) = &args.vpclambda {
        for spec in &args.invoke {
            let (label, function) = spec
                .split_once('=')
                .with_context(|| format!("--invoke {spec:?}: expected LABEL=NAME"))?;
            let params = OpParams {
                function: function.into(),
                payload: payload.clone(),
                ..OpParams::default()
            };
            let t = Arc::new(Template::new(
                Op::LambdaInvoke,
                endpoint,
                &params,
                signer.clone(),
            )?);
            if let Err(why) = probe(&t).await? {
                notes.push(format!(
                    "warm Invoke of {function} ({label}): not measured, {why}"
                ));
                continue;
            }
            eprintln!("floor: warming {CONNS} environments of {function}");
            let warm = Plan::closed(CONNS, Duration::from_secs(120))
                .with_max_requests(Some(PREWARM_REQUESTS));
            let w = load::run(&t, &warm).await?;
            if w.errors > 0 {
                notes.push(format!(
                    "warm-up of {function}: {} errors (first: {})",
                    w.errors,
                    w.first_error.as_deref().unwrap_or("?")
                ));
            }
            invoke_paths.push(templates.len());
            paths.push(format!(
                "warm Invoke, {label} (client → vpclambda → runtime)"
            ));
            templates.push(t);
        }
    } else if let Some(why) = &args.skip_reason {
        notes.push(format!("warm Invoke not measured: {why}"));
    }

    let plan16 = Plan::closed(CONNS, rounds.round).with_warmup(rounds.warmup);
    let plan1 = Plan::closed(1, rounds.round).with_warmup(rounds.warmup);
    let open = Plan::closed(CONNS, rounds.round)
        .with_warmup(rounds.warmup)
        .with_pace(Pace::Open { rate: args.rate });
    let summaries = |o: Vec<load::Outcome>| o.iter().map(|o| o.summary()).collect::<Vec<_>>();
    eprintln!("floor: throughput at {CONNS} connections");
    let throughput: Vec<Summary> =
        summaries(interleaved(&templates, &plan16, rounds.rounds).await?);
    eprintln!("floor: latency at 1 connection");
    let latency: Vec<Summary> = summaries(interleaved(&templates, &plan1, rounds.rounds).await?);
    eprintln!("floor: latency at {} req/s open loop", args.rate);
    let paced: Vec<Summary> = summaries(interleaved(&templates, &open, rounds.rounds).await?);

    let mut per_core = Vec::new();
    if let Some(pid) = args.daemon_pid {
        let long = Plan::closed(CONNS, rounds.round * u32::try_from(rounds.rounds)?)
            .with_warmup(rounds.warmup);
        for &i in &invoke_paths {
            eprintln!("floor: daemon CPU per invoke, {}", paths[i]);
            let before = daemon_cpu(pid)?;
            let started = Instant::now();
            let o = load::run(&templates[i], &long).await?;
            let cpu = daemon_cpu(pid)?.saturating_sub(before);
            // The window includes the plan's warm-up, at the same load on warm environments,
            // so CPU per wall second is that of the measured part.
            let wall = started.elapsed().as_secs_f64();
            let daemon_cpus = cpu.as_secs_f64() / wall;
            let s = o.summary();
            per_core.push(PerCore {
                path: paths[i].clone(),
                throughput_rps: s.throughput_rps,
                daemon_cpus,
                invokes_per_core_s: if daemon_cpus > 0.0 {
                    s.throughput_rps / daemon_cpus
                } else {
                    0.0
                },
            });
        }
    }

    let mut md = String::new();
    md.push_str("## Warm Invoke vs the two-hop HTTP floor\n\n");
    md.push_str(&format!(
        "Signed Invoke-shaped POST ({} byte payload) on every path; floor servers are hyper 1, \
         buffering bodies; warm Invoke is vpclambda's full path (SigV4, routing, pool, Runtime \
         API in the environment's namespace, the function's answer) with every environment \
         warmed first ({PREWARM_REQUESTS} requests at {CONNS} connections). {} interleaved \
         rounds of {:.1} s per path and measurement. Issue reference: two hops ≈ \
         {TWO_HOP_P50_US:.0} µs p50, one hop ≈ {} per core; warm Invoke target p50 ≤ \
         {INVOKE_P50_US:.0} µs, p99 ≤ {}, ≥ {} per daemon core.\n\n",
        payload.len(),
        rounds.rounds,
        rounds.round.as_secs_f64(),
        report::rate(ONE_HOP_RPS),
        report::latency(INVOKE_P99_US),
        report::rate(INVOKE_RPS_PER_CORE),
    ));
    let rate = report::rate(args.rate);
    md.push_str(&format!(
        "| path | req/s @{CONNS} conns | load generator CPU @{CONNS} | p50 / p99 @1 conn | p50 / p99 @{rate} open loop |\n"
    ));
    md.push_str("|---|---:|---:|---:|---:|\n");
    for i in 0..templates.len() {
        md.push_str(&format!(
            "| {} | {} | {:.0} % | {} | {} |\n",
            paths[i],
            report::rate_of(&throughput[i]),
            throughput[i].client_cpus * 100.0,
            report::percentiles(&latency[i]),
            report::percentiles(&paced[i]),
        ));
    }
    let mut ratio_row = |label: &str, a: usize, b: usize| {
        md.push_str(&format!(
            "| {label} | **{}** | | **{}** p50 | **{}** p50 |\n",
            report::ratio(throughput[a].throughput_rps, throughput[b].throughput_rps),
            report::ratio(latency[a].p50_us, latency[b].p50_us),
            report::ratio(paced[a].p50_us, paced[b].p50_us),
        ));
    };
    ratio_row("two hops / one hop", 1, 0);
    for &i in &invoke_paths {
        let label = paths[i].split(" (").next().unwrap_or(&paths[i]).to_owned();
        ratio_row(&format!("{label} / two hops"), i, 1);
    }
    if md.contains(report::CLIENT_BOUND_MARK) {
        md.push_str(&format!("\n{}\n", report::CLIENT_BOUND_NOTE));
    }
    if !per_core.is_empty() {
        md.push_str(&format!(
            "\nDaemon CPU per invoke (one {:.1} s run per function at {CONNS} connections, the \
             daemon's own threads from /proc/<pid>/stat, function processes excluded):\n\n\
             | path | invokes/s | daemon CPUs busy | invokes/s per daemon core |\n|---|---:|---:|---:|\n",
            (rounds.round * u32::try_from(rounds.rounds)?).as_secs_f64()
        ));
        for p in &per_core {
            md.push_str(&format!(
                "| {} | {} | {:.2} | **{}** |\n",
                p.path,
                report::rate(p.throughput_rps),
                p.daemon_cpus,
                report::rate(p.invokes_per_core_s)
            ));
        }
    }
    for (label, set) in [
        ("16 conns", &throughput),
        ("1 conn", &latency),
        ("open loop", &paced),
    ] {
        for (i, s) in set.iter().enumerate() {
            if s.errors > 0 {
                notes.push(format!(
                    "{} at {label}: {} errors (first: {})",
                    paths[i],
                    s.errors,
                    s.first_error.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in &notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    let json = json!({
        "suite": "floor",
        "endpoints": { "echo": args.echo, "relay": args.relay, "vpclambda": args.vpclambda },
        "payload_bytes": payload.len(),
        "rounds": rounds,
        "reference": {
            "two_hop_p50_us": TWO_HOP_P50_US,
            "one_hop_rps_per_core": ONE_HOP_RPS,
            "invoke_p50_us": INVOKE_P50_US,
            "invoke_p99_us": INVOKE_P99_US,
            "invoke_rps_per_daemon_core": INVOKE_RPS_PER_CORE,
        },
        "measurements": paths.iter().enumerate().map(|(i, p)| json!({
            "path": p,
            "throughput_16": throughput[i],
            "latency_1": latency[i],
            "open_loop": paced[i],
        })).collect::<Vec<_>>(),
        "per_daemon_core": per_core,
        "plans": { "throughput": plan16, "latency": plan1, "open_loop": open },
        "notes": notes,
    });
    Ok(Section {
        name: "floor",
        markdown: md,
        json,
    })
}
