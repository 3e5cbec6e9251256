//! Suite 2, first part: the two-hop HTTP floor. The same signed Invoke-shaped request
//! (`POST /2015-03-31/functions/floor/invocations`) goes to the echo server directly (one
//! hop) and through the relay (two hops), interleaved: throughput at 16 connections,
//! latency at 1 connection, and latency at a fixed open-loop rate. The warm-invoke
//! measurement joins this suite as a third path once Invoke exists, so its ratio to the
//! floor is taken in the same run.

use std::sync::Arc;

use anyhow::Result;
use serde_json::json;

use super::{interleaved, probe, Rounds, Section, SuiteOpts};
use crate::load::{Pace, Plan};
use crate::ops::{Op, OpParams, Template};
use crate::report::{self, Summary};
use crate::sign::Signer;

/// Issue targets: two hops at about this p50…
const TWO_HOP_P50_US: f64 = 55.0;
/// …and one hop at about this throughput per core.
const ONE_HOP_RPS: f64 = 48_000.0;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The echo server (`loadgen echo`), `http://127.0.0.1:PORT`.
    #[arg(long)]
    pub echo: String,
    /// The relay in front of it (`loadgen relay --upstream <echo>`).
    #[arg(long)]
    pub relay: String,
    /// Open-loop rate for the fixed-rate latency measurement, requests/s.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    #[command(flatten)]
    pub opts: SuiteOpts,
}

const PATHS: [&str; 2] = [
    "one hop (client → echo)",
    "two hops (client → relay → echo)",
];

pub async fn run(args: &Args) -> Result<Section> {
    let rounds = Rounds::for_run(args.opts.quick);
    let signer = Signer::new("test", "test", "us-east-1");
    let params = OpParams {
        function: "floor".into(),
        ..OpParams::default()
    };
    let mut templates = Vec::new();
    for endpoint in [&args.echo, &args.relay] {
        let t = Arc::new(Template::new(
            Op::LambdaInvoke,
            endpoint,
            &params,
            signer.clone(),
        )?);
        if let Err(why) = probe(&t).await? {
            anyhow::bail!("floor server at {endpoint} does not answer: {why}");
        }
        templates.push(t);
    }
    let plan16 = Plan::closed(16, rounds.round).with_warmup(rounds.warmup);
    let plan1 = Plan::closed(1, rounds.round).with_warmup(rounds.warmup);
    let open = Plan::closed(16, rounds.round)
        .with_warmup(rounds.warmup)
        .with_pace(Pace::Open { rate: args.rate });
    eprintln!("floor: throughput at 16 connections");
    let throughput: Vec<Summary> = interleaved(&templates, &plan16, rounds.rounds)
        .await?
        .iter()
        .map(|o| o.summary())
        .collect();
    eprintln!("floor: latency at 1 connection");
    let latency: Vec<Summary> = interleaved(&templates, &plan1, rounds.rounds)
        .await?
        .iter()
        .map(|o| o.summary())
        .collect();
    eprintln!("floor: latency at {} req/s open loop", args.rate);
    let paced: Vec<Summary> = interleaved(&templates, &open, rounds.rounds)
        .await?
        .iter()
        .map(|o| o.summary())
        .collect();

    let mut md = String::new();
    md.push_str("## Floor: two-hop HTTP relay (reference for warm Invoke)\n\n");
    md.push_str(&format!(
        "Signed Invoke-shaped POST ({} byte payload), hyper 1 servers buffering bodies, \
         {} interleaved rounds of {:.1} s per path and measurement. Issue reference: two hops \
         ≈ {TWO_HOP_P50_US:.0} µs p50, one hop ≈ {} per core.\n\n",
        params.payload.len(),
        rounds.rounds,
        rounds.round.as_secs_f64(),
        report::rate(ONE_HOP_RPS),
    ));
    let rate = report::rate(args.rate);
    md.push_str(&format!(
        "| path | req/s @16 conns | load generator CPU @16 | p50 / p99 @1 conn | p50 / p99 @{rate} open loop |\n"
    ));
    md.push_str("|---|---:|---:|---:|---:|\n");
    for i in 0..2 {
        md.push_str(&format!(
            "| {} | {} | {:.0} % | {} | {} |\n",
            PATHS[i],
            report::rate_of(&throughput[i]),
            throughput[i].client_cpus * 100.0,
            report::percentiles(&latency[i]),
            report::percentiles(&paced[i]),
        ));
    }
    md.push_str(&format!(
        "| two hops / one hop | **{}** | | **{}** p50 | **{}** p50 |\n",
        report::ratio(throughput[1].throughput_rps, throughput[0].throughput_rps),
        report::ratio(latency[1].p50_us, latency[0].p50_us),
        report::ratio(paced[1].p50_us, paced[0].p50_us),
    ));
    if md.contains(report::CLIENT_BOUND_MARK) {
        md.push_str(&format!("\n{}\n", report::CLIENT_BOUND_NOTE));
    }
    let mut notes = Vec::new();
    for (label, set) in [
        ("16 conns", &throughput),
        ("1 conn", &latency),
        ("open loop", &paced),
    ] {
        for (i, s) in set.iter().enumerate() {
            if s.errors > 0 {
                notes.push(format!(
                    "{} at {label}: {} errors (first: {})",
                    PATHS[i],
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
        "endpoints": { "echo": args.echo, "relay": args.relay },
        "rounds": rounds,
        "reference": { "two_hop_p50_us": TWO_HOP_P50_US, "one_hop_rps_per_core": ONE_HOP_RPS },
        "measurements": PATHS.iter().enumerate().map(|(i, p)| json!({
            "path": p,
            "throughput_16": throughput[i],
            "latency_1": latency[i],
            "open_loop": paced[i],
        })).collect::<Vec<_>>(),
        "plans": { "throughput": plan16, "latency": plan1, "open_loop": open },
        "notes": notes,
    });
    Ok(Section {
        name: "floor",
        markdown: md,
        json,
    })
}
