//! Suite 1, the control plane against moto: the same signed requests to vpclambda and to
//! `moto_server`, both seeded with the same data by `bench/seed.py`, measured in interleaved
//! rounds — throughput at 16 connections, latency at 1 connection — and reported as the ratio
//! vpclambda / moto. An operation a server does not answer with a success is reported as
//! "not available" with the error it gave, and the rest of the suite still runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{interleaved, probe, Rounds, Section, SuiteOpts};
use crate::load::Plan;
use crate::ops::{Op, OpParams, Template};
use crate::report::{self, Summary};
use crate::sign::Signer;

/// Issue targets: vpclambda at least this many times moto's throughput…
const THROUGHPUT_TARGET: f64 = 20.0;
/// …and at most this fraction of moto's p50 latency.
const P50_TARGET: f64 = 0.1;
const MIB: usize = 1024 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// vpclambda's endpoint, `http://127.0.0.1:PORT`.
    #[arg(long)]
    pub vpclambda: String,
    /// moto_server's endpoint.
    #[arg(long)]
    pub moto: String,
    /// What `bench/seed.py` created in each (role ARNs, function names, counts).
    #[arg(long)]
    pub seed: PathBuf,
    #[command(flatten)]
    pub opts: SuiteOpts,
}

/// `bench/seed.py`'s account of one server.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Seeded {
    pub role: String,
    pub function: String,
    pub functions: u32,
    pub subnets: u32,
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Seed {
    vpclambda: Seeded,
    moto: Seeded,
}

/// One operation measured on both servers.
struct Case {
    label: &'static str,
    op: Op,
    zip_bytes: usize,
    /// Whether the ratio targets apply (the STS baseline only calibrates).
    targeted: bool,
    /// Most requests per round at 16 and at 1 connection (quick, full); `None`: time only.
    cap: Option<[(u64, u64); 2]>,
}

const CASES: &[Case] = &[
    Case {
        label: "STS GetCallerIdentity (baseline)",
        op: Op::StsGetCallerIdentity,
        zip_bytes: 0,
        targeted: false,
        cap: None,
    },
    Case {
        label: "Lambda GetFunction",
        op: Op::LambdaGetFunction,
        zip_bytes: 0,
        targeted: true,
        cap: None,
    },
    Case {
        label: "Lambda ListFunctions (100 functions)",
        op: Op::LambdaListFunctions,
        zip_bytes: 0,
        targeted: true,
        cap: None,
    },
    Case {
        label: "EC2 DescribeSubnets",
        op: Op::Ec2DescribeSubnets,
        zip_bytes: 0,
        targeted: true,
        cap: None,
    },
    Case {
        label: "Lambda CreateFunction (tiny zip)",
        op: Op::LambdaCreateFunction,
        zip_bytes: 0,
        targeted: true,
        cap: Some([(1000, 500), (3000, 1500)]),
    },
    Case {
        label: "Lambda CreateFunction (10 MiB zip)",
        op: Op::LambdaCreateFunction,
        zip_bytes: 10 * MIB,
        targeted: true,
        // Each create keeps 10 MiB on disk (vpclambda) or in memory (moto): keep it bounded.
        cap: Some([(24, 6), (48, 12)]),
    },
];

const TARGETS: [&str; 2] = ["vpclambda", "moto"];

/// What one server did for one case.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
enum Measured {
    NotAvailable {
        reason: String,
    },
    Measured {
        throughput_16: Box<Summary>,
        latency_1: Box<Summary>,
    },
}

pub async fn run(args: &Args) -> Result<Section> {
    let seed: Seed = serde_json::from_slice(
        &std::fs::read(&args.seed).with_context(|| format!("reading {}", args.seed.display()))?,
    )
    .with_context(|| format!("parsing {}", args.seed.display()))?;
    let rounds = Rounds::for_run(args.opts.quick);
    let signer = Signer::new("test", "test", "us-east-1");
    let endpoints = [args.vpclambda.as_str(), args.moto.as_str()];
    let seeded = [&seed.vpclambda, &seed.moto];

    let mut rows = Vec::new();
    let mut cases_json = Vec::new();
    let mut notes = Vec::new();
    for case in CASES {
        eprintln!("control-plane: {}", case.label);
        let tag = if case.zip_bytes >= MIB { "big" } else { "tiny" };
        let mut templates = Vec::new();
        for (endpoint, s) in endpoints.iter().zip(seeded) {
            let params = OpParams {
                function: s.function.clone(),
                role: s.role.clone(),
                zip_bytes: case.zip_bytes,
                name_prefix: format!("bench-create-{tag}"),
                ..OpParams::default()
            };
            templates.push(Arc::new(Template::new(
                case.op,
                endpoint,
                &params,
                signer.clone(),
            )?));
        }
        let mut available = Vec::new();
        let mut reasons = BTreeMap::new();
        for (i, t) in templates.iter().enumerate() {
            match probe(t).await? {
                Ok(()) => available.push(i),
                Err(why) => {
                    reasons.insert(i, why);
                }
            }
        }
        let live: Vec<_> = available
            .iter()
            .map(|&i| Arc::clone(&templates[i]))
            .collect();
        let (cap16, cap1) = match case.cap {
            Some(caps) => {
                let (a, b) = caps[usize::from(!args.opts.quick)];
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        // Creates are measured cold: a warm-up would only add functions.
        let warmup = if case.cap.is_some() {
            Duration::ZERO
        } else {
            rounds.warmup
        };
        let plan16 = Plan::closed(16, rounds.round)
            .with_max_requests(cap16)
            .with_warmup(warmup);
        let plan1 = Plan::closed(1, rounds.round)
            .with_max_requests(cap1)
            .with_warmup(warmup);
        let mut per_target: Vec<Measured> = templates
            .iter()
            .enumerate()
            .map(|(i, _)| Measured::NotAvailable {
                reason: reasons.get(&i).cloned().unwrap_or_default(),
            })
            .collect();
        if !live.is_empty() {
            let throughput = interleaved(&live, &plan16, rounds.rounds).await?;
            let latency = interleaved(&live, &plan1, rounds.rounds).await?;
            for ((&i, t), l) in available.iter().zip(&throughput).zip(&latency) {
                let (t, l) = (t.summary(), l.summary());
                for (s, conns) in [(&t, 16), (&l, 1)] {
                    if s.errors > 0 {
                        notes.push(format!(
                            "{} on {} at {conns} connection(s): {} of {} requests failed (first: {})",
                            case.label,
                            TARGETS[i],
                            s.errors,
                            s.errors + s.ok,
                            s.first_error.as_deref().unwrap_or("?")
                        ));
                    }
                }
                per_target[i] = Measured::Measured {
                    throughput_16: Box::new(t),
                    latency_1: Box::new(l),
                };
            }
        }
        rows.push(row(case, &per_target));
        cases_json.push(json!({
            "label": case.label,
            "op": case.op,
            "zip_bytes": case.zip_bytes,
            "throughput_plan": plan16,
            "latency_plan": plan1,
            "targets": TARGETS.iter().zip(&per_target).map(|(n, m)| (n.to_string(), json!(m))).collect::<serde_json::Map<_, _>>(),
        }));
    }

    for (name, s) in TARGETS.iter().zip(seeded) {
        for p in &s.problems {
            notes.push(format!("seeding {name}: {p}"));
        }
    }
    let markdown = render(&rows, &rounds, &seed, &notes);
    let json = json!({
        "suite": "control-plane",
        "endpoints": { "vpclambda": args.vpclambda, "moto": args.moto },
        "seed": seed,
        "rounds": rounds,
        "targets": { "throughput_ratio_min": THROUGHPUT_TARGET, "p50_ratio_max": P50_TARGET },
        "cases": cases_json,
        "notes": notes,
    });
    Ok(Section {
        name: "control-plane",
        markdown,
        json,
    })
}

fn row(case: &Case, m: &[Measured]) -> String {
    let cell_rate = |m: &Measured| match m {
        Measured::Measured { throughput_16, .. } => report::rate_of(throughput_16),
        Measured::NotAvailable { reason } => format!("not available ({reason})"),
    };
    let cell_lat = |m: &Measured| match m {
        Measured::Measured { latency_1, .. } => report::percentiles(latency_1),
        Measured::NotAvailable { .. } => "—".to_owned(),
    };
    let (rate_ratio, p50_ratio, verdict) = match (&m[0], &m[1]) {
        (
            Measured::Measured {
                throughput_16: ta,
                latency_1: la,
            },
            Measured::Measured {
                throughput_16: tb,
                latency_1: lb,
            },
        ) => {
            let met = ta.throughput_rps >= THROUGHPUT_TARGET * tb.throughput_rps
                && la.p50_us <= P50_TARGET * lb.p50_us;
            let verdict = match (case.targeted, met) {
                (false, _) => "(baseline)",
                (true, true) => "met",
                (true, false) => "not met",
            };
            (
                report::ratio(ta.throughput_rps, tb.throughput_rps),
                report::ratio(la.p50_us, lb.p50_us),
                verdict,
            )
        }
        _ => ("—".to_owned(), "—".to_owned(), "not yet measurable"),
    };
    format!(
        "| {} | {} | {} | **{}** | {} | {} | **{}** | {} |",
        case.label,
        cell_rate(&m[0]),
        cell_rate(&m[1]),
        rate_ratio,
        cell_lat(&m[0]),
        cell_lat(&m[1]),
        p50_ratio,
        verdict
    )
}

fn render(rows: &[String], rounds: &Rounds, seed: &Seed, notes: &[String]) -> String {
    let mut md = String::new();
    md.push_str("## Control plane: vpclambda vs moto_server\n\n");
    md.push_str(&format!(
        "Same SigV4-signed requests to both, {} interleaved rounds of {:.1} s per server and \
         measurement (warm-up {:.1} s before each, none for creates). Seeded alike: {} functions \
         and {} subnets in vpclambda, {} functions and {} subnets in moto. Ratios are \
         vpclambda / moto; the issue's target is ≥ {THROUGHPUT_TARGET:.0}× throughput and \
         ≤ {P50_TARGET}× p50.\n\n",
        rounds.rounds,
        rounds.round.as_secs_f64(),
        rounds.warmup.as_secs_f64(),
        seed.vpclambda.functions,
        seed.vpclambda.subnets,
        seed.moto.functions,
        seed.moto.subnets,
    ));
    md.push_str(
        "| operation | vpclambda req/s @16 conns | moto req/s @16 conns | throughput ratio \
         | vpclambda p50 / p99 @1 conn | moto p50 / p99 @1 conn | p50 ratio | target |\n",
    );
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        md.push_str(r);
        md.push('\n');
    }
    if md.contains(report::CLIENT_BOUND_MARK) {
        md.push_str(&format!("\n{}\n", report::CLIENT_BOUND_NOTE));
    }
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    md
}
