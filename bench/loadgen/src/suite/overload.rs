//! Suite: overload. Measures a warm function's closed-loop capacity (throughput at
//! [`CONNS`] connections), then offers it an open loop at 1×, 2× and 4× that rate for a
//! fixed time each, over enough connections ([`OPEN_CONNS`]) that the server, not the load
//! generator's connections, decides what waits: a server that queues without bound shows it
//! as latency counted from each request's scheduled time; one that sheds answers 429 fast.
//! Reports per rate: goodput (successes per second) against the capacity, admitted p50/p99,
//! the share of 429s and their own latency, any other error, and the daemon's RSS before and
//! after; and the issue's target row for 2× (goodput ≥ 90 % of capacity, admitted p99 ≤
//! 50 ms, the rest 429, RSS flat).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;

use super::{probe, Section, SuiteOpts};
use crate::load::{self, Pace, Plan};
use crate::ops::{Op, OpParams, Template};
use crate::report::{self, Summary};
use crate::sign::Signer;

/// Connections for the closed-loop capacity (and environments warmed).
const CONNS: usize = 16;
/// Connections the open loop may use at once.
const OPEN_CONNS: usize = 512;
/// Requests of unmeasured warm-up, so every one of the `CONNS` environments exists.
const PREWARM_REQUESTS: u64 = 40 * CONNS as u64;
/// Multiples of the capacity offered.
const MULTIPLES: [f64; 3] = [1.0, 2.0, 4.0];
/// Targets at 2×: goodput share of capacity, admitted p99, RSS growth counted as flat.
const TARGET_GOODPUT: f64 = 0.9;
const TARGET_P99_US: f64 = 50_000.0;
const FLAT_RSS_KIB: u64 = 10 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// vpclambda, `http://127.0.0.1:PORT`.
    #[arg(long)]
    pub vpclambda: String,
    /// The warm function to invoke.
    #[arg(long)]
    pub function: String,
    /// The daemon's pid, for its RSS.
    #[arg(long)]
    pub daemon_pid: u32,
    /// Seconds of open loop per rate (default 60, 10 with --quick).
    #[arg(long)]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub opts: SuiteOpts,
}

/// One open-loop rate.
#[derive(Debug, Clone, Serialize)]
struct Level {
    multiple: f64,
    offered_rps: f64,
    summary: Summary,
    refused_429: u64,
    server_errors_5xx: u64,
    other_errors: u64,
    rss_before_kib: u64,
    rss_after_kib: u64,
}

impl Level {
    fn sent(&self) -> u64 {
        self.summary.ok + self.summary.errors
    }

    fn share_429(&self) -> f64 {
        match self.sent() {
            0 => 0.0,
            n => self.refused_429 as f64 / n as f64,
        }
    }
}

/// `VmRSS` of `pid`, KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub async fn run(args: &Args) -> Result<Section> {
    let quick = args.opts.quick;
    let duration =
        Duration::from_secs_f64(args.duration.unwrap_or(if quick { 10.0 } else { 60.0 }));
    let capacity_for = Duration::from_secs(if quick { 3 } else { 10 });
    let signer = Signer::new("test", "test", "us-east-1");
    let params = OpParams {
        function: args.function.clone(),
        payload: r#"{"data":"overload"}"#.into(),
        ..OpParams::default()
    };
    let t = Arc::new(Template::new(
        Op::LambdaInvoke,
        &args.vpclambda,
        &params,
        signer,
    )?);
    if let Err(why) = probe(&t).await? {
        bail!("Invoke of {} does not answer: {why}", args.function);
    }
    eprintln!(
        "overload: warming {CONNS} environments of {}",
        args.function
    );
    let warm =
        Plan::closed(CONNS, Duration::from_secs(120)).with_max_requests(Some(PREWARM_REQUESTS));
    load::run(&t, &warm).await?;
    eprintln!("overload: closed-loop capacity at {CONNS} connections");
    let capacity = load::run(
        &t,
        &Plan::closed(CONNS, capacity_for).with_warmup(Duration::from_secs(1)),
    )
    .await?
    .summary();
    if capacity.throughput_rps <= 0.0 {
        bail!("no capacity measured: {:?}", capacity.first_error);
    }
    let mut levels = Vec::new();
    for multiple in MULTIPLES {
        let rate = capacity.throughput_rps * multiple;
        eprintln!("overload: open loop at {multiple}× capacity ({rate:.0}/s) for {duration:?}");
        let rss_before_kib = rss_kib(args.daemon_pid)?;
        let plan = Plan::closed(OPEN_CONNS, duration).with_pace(Pace::Open { rate });
        let summary = load::run(&t, &plan).await?.summary();
        let rss_after_kib = rss_kib(args.daemon_pid)?;
        let count = |f: &dyn Fn(&str) -> bool| -> u64 {
            summary
                .statuses
                .iter()
                .filter(|(k, _)| f(k))
                .map(|(_, v)| v)
                .sum()
        };
        let refused_429 = count(&|k| k == "429");
        let server_errors_5xx = count(&|k| k.starts_with('5'));
        levels.push(Level {
            multiple,
            offered_rps: rate,
            other_errors: summary.errors - refused_429 - server_errors_5xx,
            refused_429,
            server_errors_5xx,
            rss_before_kib,
            rss_after_kib,
            summary,
        });
        // Let what the last rate left in flight drain before the next.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let mut md = String::new();
    md.push_str("## Overload: open loop beyond capacity\n\n");
    md.push_str(&format!(
        "Warm Invoke of `{}` (a 19 byte payload). Capacity: closed loop at {CONNS} \
         connections for {:.0} s, **{}** ({}). Then an open loop at each multiple of it for \
         {:.0} s over up to {OPEN_CONNS} connections, latency counted from each request's \
         scheduled time. Goodput: successes per second. Target at 2×: goodput ≥ {:.0} % of \
         capacity, admitted p99 ≤ {}, the rest 429, daemon RSS flat.\n\n",
        args.function,
        capacity_for.as_secs_f64(),
        report::rate(capacity.throughput_rps),
        report::percentiles(&capacity),
        duration.as_secs_f64(),
        TARGET_GOODPUT * 100.0,
        report::latency(TARGET_P99_US),
    ));
    md.push_str(
        "| offered | goodput | goodput / capacity | admitted p50 / p99 | 429 share | 429 p50 / p99 | 5xx | other errors | daemon RSS before → after | load generator CPU |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for l in &levels {
        let s = &l.summary;
        md.push_str(&format!(
            "| {}× ({}) | {} | {:.0} % | {} | {:.1} % | {} / {} | {} | {} | {} → {} | {:.0} % |\n",
            l.multiple,
            report::rate(l.offered_rps),
            report::rate_of(s),
            s.throughput_rps / capacity.throughput_rps * 100.0,
            report::percentiles(s),
            l.share_429() * 100.0,
            report::latency(s.refused_p50_us),
            report::latency(s.refused_p99_us),
            l.server_errors_5xx,
            l.other_errors,
            mib(l.rss_before_kib),
            mib(l.rss_after_kib),
            s.client_cpus * 100.0,
        ));
    }
    if md.contains(report::CLIENT_BOUND_MARK) {
        md.push_str(&format!("\n{}\n", report::CLIENT_BOUND_NOTE));
    }
    let mut verdicts = Vec::new();
    if let Some(l) = levels.iter().find(|l| l.multiple == 2.0) {
        let s = &l.summary;
        let goodput = s.throughput_rps / capacity.throughput_rps;
        let growth = l.rss_after_kib.saturating_sub(l.rss_before_kib);
        let verdict = |ok: bool| if ok { "met" } else { "not met" };
        verdicts = vec![
            json!({"target": "goodput ≥ 90 % of capacity", "value": goodput, "met": goodput >= TARGET_GOODPUT}),
            json!({"target": "admitted p99 ≤ 50 ms", "value_us": s.p99_us, "met": s.p99_us <= TARGET_P99_US}),
            json!({"target": "the rest 429", "other_errors": l.other_errors + l.server_errors_5xx, "met": l.other_errors + l.server_errors_5xx == 0}),
            json!({"target": "daemon RSS flat", "growth_kib": growth, "met": growth <= FLAT_RSS_KIB}),
        ];
        md.push_str(&format!(
            "\nAt 2×: goodput {:.0} % of capacity ({}); admitted p99 {} ({}); the rest 429: {} \
             other errors ({}); daemon RSS +{} over the run ({}, flat meaning ≤ +{}).\n",
            goodput * 100.0,
            verdict(goodput >= TARGET_GOODPUT),
            report::latency(s.p99_us),
            verdict(s.p99_us <= TARGET_P99_US),
            l.other_errors + l.server_errors_5xx,
            verdict(l.other_errors + l.server_errors_5xx == 0),
            mib(growth),
            verdict(growth <= FLAT_RSS_KIB),
            mib(FLAT_RSS_KIB),
        ));
    }
    let json = json!({
        "suite": "overload",
        "function": args.function,
        "capacity": capacity,
        "capacity_connections": CONNS,
        "open_loop_connections": OPEN_CONNS,
        "duration_s": duration.as_secs_f64(),
        "levels": levels,
        "target_2x": verdicts,
    });
    Ok(Section {
        name: "overload",
        markdown: md,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_proc() {
        assert!(rss_kib(std::process::id()).expect("own RSS") > 0);
    }

    #[test]
    fn the_429_share_counts_every_request_sent() {
        let mut o = crate::load::Outcome::new().expect("outcome");
        o.ok = 30;
        o.errors = 70;
        let level = Level {
            multiple: 2.0,
            offered_rps: 100.0,
            summary: o.summary(),
            refused_429: 70,
            server_errors_5xx: 0,
            other_errors: 0,
            rss_before_kib: 0,
            rss_after_kib: 0,
        };
        assert!((level.share_429() - 0.7).abs() < 1e-9);
    }
}
