//! Lambda's CloudWatch metrics (namespace `AWS/Lambda`): what the invoke path observes is
//! sent, as one small message per observation (the subject is shared), to one background
//! writer that expands it into samples under each dimension set Lambda publishes — none
//! (the account), then `FunctionName`, `FunctionName`+`Resource`, and with a qualifier also
//! `ExecutedVersion` —, merges a batch per minute and writes it in one store transaction.
//! The invoke path only sends on a channel; it never waits for the store.
//! Also runs CloudWatch's retention ([`spawn_roll_up`]) over every metric, Lambda's and
//! custom ones, off the invoke path.
//! Owns which metric has which unit and dimensions; must not decide outcomes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use control::metrics::{MetricId, Sample, Stats};
use control::{Scope, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::logs::now_ms;

pub const NAMESPACE: &str = "AWS/Lambda";
/// How long the writer gathers samples before one store transaction.
const FLUSH_DELAY: Duration = Duration::from_millis(200);
/// A batch this large is written at once.
const FLUSH_SAMPLES: usize = 10_000;
/// How often the roll-up runs: the finest retention boundary moves by a minute every
/// minute, and an hour's lag past it is invisible to reads (they read every resolution).
const ROLL_UP_EVERY: Duration = Duration::from_secs(3600);

/// Lambda's metrics, each with its CloudWatch unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Invocations,
    Errors,
    Throttles,
    Duration,
    ConcurrentExecutions,
    AsyncEventsReceived,
    AsyncEventAge,
    AsyncEventsDropped,
    DestinationDeliveryFailures,
    ProvisionedConcurrencyInvocations,
    ProvisionedConcurrencySpilloverInvocations,
    ProvisionedConcurrentExecutions,
    ProvisionedConcurrencyUtilization,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Invocations => "Invocations",
            Metric::Errors => "Errors",
            Metric::Throttles => "Throttles",
            Metric::Duration => "Duration",
            Metric::ConcurrentExecutions => "ConcurrentExecutions",
            Metric::AsyncEventsReceived => "AsyncEventsReceived",
            Metric::AsyncEventAge => "AsyncEventAge",
            Metric::AsyncEventsDropped => "AsyncEventsDropped",
            Metric::DestinationDeliveryFailures => "DestinationDeliveryFailures",
            Metric::ProvisionedConcurrencyInvocations => "ProvisionedConcurrencyInvocations",
            Metric::ProvisionedConcurrencySpilloverInvocations => {
                "ProvisionedConcurrencySpilloverInvocations"
            }
            Metric::ProvisionedConcurrentExecutions => "ProvisionedConcurrentExecutions",
            Metric::ProvisionedConcurrencyUtilization => "ProvisionedConcurrencyUtilization",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::Duration | Metric::AsyncEventAge => "Milliseconds",
            Metric::ProvisionedConcurrencyUtilization => "None",
            _ => "Count",
        }
    }
}

/// The function (and how it was addressed) an observation is about.
#[derive(Clone, Debug)]
pub struct Subject {
    pub scope: Scope,
    pub function: String,
    pub qualifier: Option<String>,
    /// The version that ran, when one did and it was invoked through a qualifier.
    pub executed_version: Option<String>,
}

impl Subject {
    /// The samples one observation of `metric` becomes: one per dimension set, and the
    /// account-wide one (no dimensions) except for the async metrics, which AWS publishes
    /// per function only, and ConcurrentExecutions and the provisioned concurrency gauges,
    /// whose account value is not the function's (see [`Msg::Concurrency`]).
    fn samples(&self, metric: Metric, value: f64, at_ms: i64) -> Vec<Sample> {
        let mut samples: Vec<Sample> = self
            .dimension_sets(metric)
            .into_iter()
            .map(|dims| {
                let dims: Vec<(&str, &str)> = dims.iter().map(|(n, v)| (*n, v.as_str())).collect();
                sample(metric, &dims, at_ms, value)
            })
            .collect();
        let per_function_only = matches!(
            metric,
            Metric::AsyncEventsReceived
                | Metric::AsyncEventAge
                | Metric::AsyncEventsDropped
                | Metric::DestinationDeliveryFailures
                | Metric::ConcurrentExecutions
                | Metric::ProvisionedConcurrentExecutions
                | Metric::ProvisionedConcurrencyUtilization
        );
        if !per_function_only {
            samples.push(sample(metric, &[], at_ms, value));
        }
        samples
    }

    /// The dimension sets an observation of `metric` is published under.
    fn dimension_sets(&self, metric: Metric) -> Vec<Vec<(&'static str, String)>> {
        let resource = match &self.qualifier {
            Some(q) => format!("{}:{q}", self.function),
            None => self.function.clone(),
        };
        let name = ("FunctionName", self.function.clone());
        let mut sets = vec![vec![name.clone()]];
        if metric == Metric::ConcurrentExecutions {
            return sets;
        }
        sets.push(vec![name.clone(), ("Resource", resource.clone())]);
        if let (Some(_), Some(v)) = (&self.qualifier, &self.executed_version) {
            sets.push(vec![
                name,
                ("Resource", resource),
                ("ExecutedVersion", v.clone()),
            ]);
        }
        sets
    }
}

enum Msg {
    Observed {
        subject: Arc<Subject>,
        metric: Metric,
        value: f64,
        at_ms: i64,
    },
    /// An invocation started: how many of the function's and of the account's run now.
    Concurrency {
        subject: Arc<Subject>,
        function: u32,
        account: u32,
        at_ms: i64,
    },
    Flush(oneshot::Sender<()>),
}

impl Msg {
    /// The message as samples, with the scope they belong to.
    fn expand(self) -> Option<(Scope, Vec<Sample>)> {
        match self {
            Msg::Observed {
                subject,
                metric,
                value,
                at_ms,
            } => Some((subject.scope.clone(), subject.samples(metric, value, at_ms))),
            Msg::Concurrency {
                subject,
                function,
                account,
                at_ms,
            } => {
                let metric = Metric::ConcurrentExecutions;
                let mut samples = subject.samples(metric, f64::from(function), at_ms);
                samples.push(sample(metric, &[], at_ms, f64::from(account)));
                Some((subject.scope.clone(), samples))
            }
            Msg::Flush(_) => None,
        }
    }
}

/// The background writer's inbox.
#[derive(Clone)]
pub struct MetricWriter {
    tx: mpsc::UnboundedSender<Msg>,
}

impl MetricWriter {
    /// Starts the writer task; it ends when every sender is gone.
    pub fn spawn(store: Store) -> MetricWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, rx));
        MetricWriter { tx }
    }

    /// Records one observation of `metric` about `subject`.
    pub fn record(&self, subject: &Arc<Subject>, metric: Metric, value: f64) {
        crate::telemetry::global().lambda(&subject.scope, &subject.function, metric.name(), value);
        let _ = self.tx.send(Msg::Observed {
            subject: subject.clone(),
            metric,
            value,
            at_ms: now_ms(),
        });
    }

    /// Records ConcurrentExecutions as an invocation of `subject` starts: `function` of
    /// its function's invocations run now, `account` of its account's.
    pub fn record_concurrency(&self, subject: &Arc<Subject>, function: u32, account: u32) {
        let _ = self.tx.send(Msg::Concurrency {
            subject: subject.clone(),
            function,
            account,
            at_ms: now_ms(),
        });
    }

    /// Resolves once everything recorded before the call is in the store, so a metrics read
    /// sees every invocation already answered.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

fn sample(metric: Metric, dims: &[(&str, &str)], at_ms: i64, value: f64) -> Sample {
    Sample {
        metric: MetricId::new(NAMESPACE, metric.name(), dims),
        unit: Some(metric.unit().to_string()),
        at_ms,
        stats: Stats::one(value),
    }
}

/// The background roll-up of every metric's old data.
pub struct RollUpTask {
    task: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl RollUpTask {
    /// Ends the task; a pass under way stops before its next transaction, so a stopping
    /// daemon does not wait for a long first pass over an old store.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// Runs [`control::metrics::roll_up`] at start-up and then every [`ROLL_UP_EVERY`], on a
/// blocking thread: it takes the store's writer for one small batch at a time.
pub fn spawn_roll_up(store: Store) -> RollUpTask {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(ROLL_UP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (store, flag) = (store.clone(), flag.clone());
            let pass = tokio::task::spawn_blocking(move || {
                control::metrics::roll_up(&store, now_ms(), &flag)
            })
            .await;
            match pass {
                Ok(Ok(done)) if done != control::metrics::RolledUp::default() => {
                    tracing::info!(
                        merged = done.merged,
                        expired = done.expired,
                        metrics_deleted = done.metrics_deleted,
                        "rolled up CloudWatch metrics"
                    )
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "rolling up metrics failed"),
                Err(e) => tracing::error!(error = %e, "the metrics roll-up panicked"),
            }
        }
    });
    RollUpTask { task, stop }
}

async fn write_batches(store: Store, mut rx: mpsc::UnboundedReceiver<Msg>) {
    while let Some(first) = rx.recv().await {
        let mut pending: HashMap<Scope, Vec<Sample>> = HashMap::new();
        let mut waiting = Vec::new();
        let mut count = 0;
        let mut add = |m: Msg, count: &mut usize, waiting: &mut Vec<oneshot::Sender<()>>| {
            if let Msg::Flush(reply) = m {
                waiting.push(reply);
            } else if let Some((scope, samples)) = m.expand() {
                *count += samples.len();
                pending.entry(scope).or_default().extend(samples);
            }
        };
        add(first, &mut count, &mut waiting);
        let deadline = Instant::now() + FLUSH_DELAY;
        // A flush request ends the gathering at once: it writes what came before it.
        while count < FLUSH_SAMPLES && waiting.is_empty() {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(m) => add(m, &mut count, &mut waiting),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if !pending.is_empty() {
            let store = store.clone();
            let written = tokio::task::spawn_blocking(move || {
                store.write(|tx| {
                    for (scope, samples) in &pending {
                        control::metrics::record(tx, scope, samples)?;
                    }
                    Ok::<_, control::metrics::MetricsError>(())
                })
            })
            .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "writing Lambda metrics failed"),
                Err(e) => tracing::error!(error = %e, "the metrics writer panicked"),
            }
        }
        for reply in waiting {
            let _ = reply.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(qualifier: Option<&str>, executed: Option<&str>) -> Subject {
        Subject {
            scope: Scope::new("000000000000", "us-east-1"),
            function: "f".into(),
            qualifier: qualifier.map(Into::into),
            executed_version: executed.map(Into::into),
        }
    }

    #[test]
    fn dimension_sets_follow_lambdas() {
        let plain = subject(None, Some("$LATEST")).dimension_sets(Metric::Invocations);
        assert_eq!(
            plain,
            vec![
                vec![("FunctionName", "f".to_string())],
                vec![
                    ("FunctionName", "f".to_string()),
                    ("Resource", "f".to_string())
                ],
            ]
        );
        let alias = subject(Some("live"), Some("3")).dimension_sets(Metric::Errors);
        assert_eq!(alias.len(), 3);
        assert_eq!(alias[2][1], ("Resource", "f:live".to_string()));
        assert_eq!(alias[2][2], ("ExecutedVersion", "3".to_string()));
        let conc = subject(Some("live"), None).dimension_sets(Metric::ConcurrentExecutions);
        assert_eq!(conc.len(), 1);
    }

    #[tokio::test]
    async fn flush_makes_recorded_samples_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let writer = MetricWriter::spawn(store.clone());
        let s = Arc::new(subject(None, None));
        writer.record(&s, Metric::Invocations, 1.0);
        writer.record(&s, Metric::Invocations, 1.0);
        writer.record(&s, Metric::Duration, 12.5);
        writer.record_concurrency(&s, 2, 5);
        writer.flush().await;
        let now = now_ms();
        let window = control::metrics::Window {
            start_ms: now - 120_000,
            end_ms: now + 60_000,
            period_s: 3600,
        };
        let by_fn = MetricId::new(NAMESPACE, "Invocations", &[("FunctionName", "f")]);
        let points = store
            .read(|tx| control::metrics::statistics(tx, &s.scope, &by_fn, &window, None, now))
            .unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].stats.sum, 2.0);
        assert_eq!(points[0].unit.as_deref(), Some("Count"));
        let account = MetricId::new(NAMESPACE, "Duration", &[]);
        let points = store
            .read(|tx| control::metrics::statistics(tx, &s.scope, &account, &window, None, now))
            .unwrap();
        assert_eq!(points[0].stats.max, 12.5);
        let max = |dims: &[(&str, &str)]| {
            let m = MetricId::new(NAMESPACE, "ConcurrentExecutions", dims);
            store
                .read(|tx| control::metrics::statistics(tx, &s.scope, &m, &window, None, now))
                .unwrap()
                .first()
                .map(|p| p.stats.max)
        };
        assert_eq!(max(&[("FunctionName", "f")]), Some(2.0));
        assert_eq!(max(&[]), Some(5.0), "the account's");
    }
}
