//! The suites `bench/run` drives, one module per suite, each a function from the endpoints
//! `bench/run` started to a [`Section`]: a Markdown table and the raw JSON behind it.
//!
//! Every comparison is made inside one run with A/B interleaving ([`interleaved`]): the
//! measured servers take turns in short rounds (A B, B A, A B, …) and each one's rounds are
//! merged, so a neighbour's build or a thermal drift lands on all of them alike and ratios
//! stay honest on a shared machine.
//!
//! Warm Invoke is measured in [`floor`], beside the floor it is compared with; beyond its
//! capacity (open loop at multiples of it) in [`overload`]. Suites made of
//! sequential AWS calls (cold start, ENI/SG) live in `bench/lambda_bench.py` instead; a new
//! throughput or latency suite joins as a module here and a `suite_<name>` function in
//! `bench/run`.

pub mod control_plane;
pub mod floor;
pub mod overload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::load::{self, Outcome, Plan};
use crate::ops::Template;

/// Options every suite takes.
#[derive(Debug, Clone, clap::Args)]
pub struct SuiteOpts {
    /// Fewer, shorter rounds: the whole of `bench/run --quick` stays under five minutes.
    #[arg(long)]
    pub quick: bool,
    /// Where to write `<suite>.md` and `<suite>.json`.
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// How long each server is measured: `rounds` turns of `round` each, after `warmup`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rounds {
    pub rounds: usize,
    #[serde(rename = "round_s", serialize_with = "secs")]
    pub round: Duration,
    #[serde(rename = "warmup_s", serialize_with = "secs")]
    pub warmup: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Rounds {
    pub fn for_run(quick: bool) -> Self {
        if quick {
            Rounds {
                rounds: 3,
                round: Duration::from_millis(1000),
                warmup: Duration::from_millis(300),
            }
        } else {
            Rounds {
                rounds: 5,
                round: Duration::from_secs(3),
                warmup: Duration::from_secs(1),
            }
        }
    }
}

/// A suite's result.
pub struct Section {
    pub name: &'static str,
    pub markdown: String,
    pub json: serde_json::Value,
}

impl Section {
    /// Writes `<name>.md` and `<name>.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let md = dir.join(format!("{}.md", self.name));
        std::fs::write(&md, &self.markdown).with_context(|| format!("writing {}", md.display()))?;
        let json = dir.join(format!("{}.json", self.name));
        std::fs::write(&json, serde_json::to_vec_pretty(&self.json)?)
            .with_context(|| format!("writing {}", json.display()))?;
        Ok(())
    }
}

/// Measures every template under `plan` in `rounds` alternating turns and returns each
/// one's merged outcome, in the order given. Warm-up runs before each turn, since the other
/// servers' turns in between let caches and pools cool.
pub async fn interleaved(
    templates: &[Arc<Template>],
    plan: &Plan,
    rounds: usize,
) -> Result<Vec<Outcome>> {
    let mut merged = templates
        .iter()
        .map(|_| Outcome::new())
        .collect::<Result<Vec<_>>>()?;
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..templates.len()).collect();
        if !round.is_multiple_of(2) {
            order.reverse();
        }
        for i in order {
            let outcome = load::run(&templates[i], plan).await?;
            merged[i].merge(&outcome)?;
        }
    }
    Ok(merged)
}

/// Sends one request to see whether the server implements the operation at all: `Err` says
/// why not (`HTTP 404 UnknownOperationException`, `no response: …`).
pub async fn probe(template: &Template) -> Result<Result<(), String>> {
    load::send_once(&load::client(1), template).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Op, OpParams};
    use crate::sign::Signer;

    #[tokio::test]
    async fn interleaved_measures_every_target_against_real_servers() {
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = echo.local_addr().expect("addr");
        tokio::spawn(crate::floor::serve_echo(echo, Duration::from_secs(30)));
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let relay_addr = relay.local_addr().expect("addr");
        let upstream = format!("http://{addr}").parse().expect("uri");
        tokio::spawn(crate::floor::serve_relay(
            relay,
            upstream,
            Duration::from_secs(30),
        ));

        let signer = Signer::new("test", "test", "us-east-1");
        let make = |endpoint: String| {
            Arc::new(
                Template::new(
                    Op::LambdaInvoke,
                    &endpoint,
                    &OpParams::default(),
                    signer.clone(),
                )
                .expect("template"),
            )
        };
        let templates = [
            make(format!("http://{addr}")),
            make(format!("http://{relay_addr}")),
        ];
        assert_eq!(probe(&templates[1]).await.expect("probe"), Ok(()));
        let plan = Plan::closed(2, Duration::from_secs(10)).with_max_requests(Some(50));
        let out = interleaved(&templates, &plan, 2).await.expect("measured");
        for o in &out {
            assert_eq!(o.errors, 0, "{:?}", o.first_error);
            assert_eq!(o.ok, 100);
            assert!(o.latency.value_at_quantile(0.5) > 0);
        }
    }
}
