//! CloudWatch metrics as records: each metric (namespace, name, dimension set) is one
//! record, and its datapoints are kept aggregated per minute (sum, count, minimum, maximum)
//! — the finest resolution Lambda's own metrics have. Reads aggregate minutes into periods.
//! Lambda's metrics are recorded by the invoke path (through a batching writer), custom ones
//! by PutMetricData. Owns validation of names and values; knows nothing of the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{Scope, StoreError, Tx, TxExt};

const METRIC: &str = "metric";
const MINUTE: &str = "metric-minute";

/// Separates the parts of a metric's key: namespace, name, then each dimension.
const PART: char = '\u{1f}';
/// Separates a dimension's name from its value in a key.
const PAIR: char = '\u{1e}';
/// Separates a metric's key from a minute in a datapoint's key.
const AT: char = '\u{1d}';

/// Namespaces starting with this are AWS's own; PutMetricData refuses them.
pub const RESERVED_PREFIX: &str = "AWS/";
/// The most datapoints one GetMetricStatistics call may ask for.
pub const MAX_DATAPOINTS: i64 = 1440;
/// The most datapoints one GetMetricData call may ask for.
pub const MAX_DATA_DATAPOINTS: i64 = 100_800;
/// The most dimensions one metric may have.
pub const MAX_DIMENSIONS: usize = 30;
/// The most metrics one PutMetricData call may carry.
pub const MAX_PUT_METRICS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One metric: CloudWatch identifies it by all three parts; dimensions are sorted by name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> MetricId {
        let mut dimensions: Vec<(String, String)> = dimensions
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect();
        dimensions.sort();
        MetricId {
            namespace: namespace.to_string(),
            name: name.to_string(),
            dimensions,
        }
    }

    fn key(&self) -> String {
        let mut key = format!("{}{PART}{}", self.namespace, self.name);
        for (n, v) in &self.dimensions {
            key.push(PART);
            key.push_str(n);
            key.push(PAIR);
            key.push_str(v);
        }
        key
    }
}

/// Aggregated values: what a minute, or a period of minutes, holds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub sum: f64,
    pub count: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn one(value: f64) -> Stats {
        Stats {
            sum: value,
            count: 1.0,
            min: value,
            max: value,
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.sum += other.sum;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn average(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }
}

/// Values of one metric observed at one moment (or already aggregated by the sender).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub metric: MetricId,
    pub unit: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub stats: Stats,
}

/// One minute of one metric as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Minute {
    unit: Option<String>,
    stats: Stats,
}

/// One period's aggregate, as GetMetricStatistics returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Datapoint {
    /// The period's start, Unix milliseconds.
    pub at_ms: i64,
    pub unit: Option<String>,
    pub stats: Stats,
}

/// What a read asks for: a time range `[start_ms, end_ms)` cut into periods.
#[derive(Clone, Debug)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_s: i64,
}

impl Window {
    /// Refuses an empty or backward range, and one of more than `max_datapoints` periods.
    pub fn check(&self, max_datapoints: i64) -> Result<(), MetricsError> {
        if self.period_s < 1 {
            return Err(MetricsError::InvalidParameterValue(format!(
                "The parameter Period must be greater than 0 (got {}).",
                self.period_s
            )));
        }
        if self.end_ms <= self.start_ms {
            return Err(MetricsError::InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime.".into(),
            ));
        }
        let period_ms = self.period_s * 1000;
        let wanted = (self.end_ms - self.start_ms + period_ms - 1) / period_ms;
        if wanted > max_datapoints {
            return Err(MetricsError::InvalidParameterCombination(format!(
                "You have requested up to {wanted} datapoints, which exceeds the limit of {max_datapoints}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )));
        }
        Ok(())
    }
}

fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(60_000)
}

fn minute_key(metric_key: &str, minute: i64) -> String {
    // Zero-padded, so ids sort by time.
    format!("{metric_key}{AT}{minute:012}")
}

/// Merges samples into their minutes, creating the metrics they name.
pub fn record(tx: &mut dyn Tx, scope: &Scope, samples: &[Sample]) -> Result<(), MetricsError> {
    let mut merged: BTreeMap<(String, i64), (&Sample, Stats)> = BTreeMap::new();
    for s in samples {
        merged
            .entry((s.metric.key(), minute_of(s.at_ms)))
            .and_modify(|(_, stats)| stats.merge(&s.stats))
            .or_insert((s, s.stats));
    }
    let mut known = std::collections::HashSet::new();
    for ((key, minute), (sample, stats)) in merged {
        if known.insert(key.clone()) && tx.get(METRIC, scope, &key)?.is_none() {
            tx.put_json(METRIC, scope, &key, &sample.metric)?;
        }
        let id = minute_key(&key, minute);
        let m = match tx.get_json::<Minute>(MINUTE, scope, &id)? {
            Some(mut m) => {
                m.stats.merge(&stats);
                if sample.unit.is_some() {
                    m.unit = sample.unit.clone();
                }
                m
            }
            None => Minute {
                unit: sample.unit.clone(),
                stats,
            },
        };
        tx.put_json(MINUTE, scope, &id, &m)?;
    }
    Ok(())
}

/// The metric's datapoints in `window` (checked by the caller, whose limit it is), one per
/// period that has data, oldest first; with `unit`, only minutes recorded in that unit.
pub fn statistics(
    tx: &mut dyn Tx,
    scope: &Scope,
    metric: &MetricId,
    window: &Window,
    unit: Option<&str>,
) -> Result<Vec<Datapoint>, MetricsError> {
    let key = metric.key();
    let prefix = format!("{key}{AT}");
    let first = minute_key(&key, minute_of(window.start_ms));
    let past_last = minute_key(&key, minute_of(window.end_ms - 1) + 1);
    let period_ms = window.period_s * 1000;
    let mut periods: BTreeMap<i64, Datapoint> = BTreeMap::new();
    for (id, body) in tx.list_range(MINUTE, scope, &first, &past_last)? {
        let Some(minute) = id[prefix.len()..].parse::<i64>().ok() else {
            continue;
        };
        let at_ms = minute * 60_000;
        if at_ms < window.start_ms || at_ms >= window.end_ms {
            continue;
        }
        let m: Minute = serde_json::from_slice(&body).map_err(|source| StoreError::Corrupt {
            kind: MINUTE.into(),
            id: id.clone(),
            source,
        })?;
        if unit.is_some_and(|u| m.unit.as_deref() != Some(u)) {
            continue;
        }
        let start = at_ms.div_euclid(period_ms) * period_ms;
        periods
            .entry(start)
            .and_modify(|d| d.stats.merge(&m.stats))
            .or_insert(Datapoint {
                at_ms: start,
                unit: m.unit.clone(),
                stats: m.stats,
            });
    }
    Ok(periods.into_values().collect())
}

/// Metrics of the scope, optionally of one namespace and name, having every filter's
/// dimension (with its value, when the filter gives one); sorted.
pub fn list(
    tx: &mut dyn Tx,
    scope: &Scope,
    namespace: Option<&str>,
    name: Option<&str>,
    filters: &[(String, Option<String>)],
) -> Result<Vec<MetricId>, MetricsError> {
    let prefix = match (namespace, name) {
        (Some(ns), Some(n)) => format!("{ns}{PART}{n}"),
        (Some(ns), None) => format!("{ns}{PART}"),
        _ => String::new(),
    };
    let mut out: Vec<MetricId> = tx.list_json(METRIC, scope, &prefix)?;
    out.retain(|m| {
        name.is_none_or(|n| m.name == n)
            && filters.iter().all(|(fname, fvalue)| {
                m.dimensions
                    .iter()
                    .any(|(n, v)| n == fname && fvalue.as_ref().is_none_or(|fv| fv == v))
            })
    });
    out.sort();
    Ok(out)
}

/// A custom namespace: 1–255 characters, not starting with ':', not AWS's.
pub fn check_put_namespace(namespace: &str) -> Result<(), MetricsError> {
    if namespace.is_empty()
        || namespace.chars().count() > 255
        || namespace.starts_with(':')
        || namespace.starts_with(RESERVED_PREFIX)
        || namespace.chars().any(char::is_control)
    {
        return Err(MetricsError::InvalidParameterValue(format!(
            "The value {namespace} for parameter Namespace is invalid."
        )));
    }
    Ok(())
}

/// A metric's name and dimensions as PutMetricData accepts them.
pub fn check_metric(metric: &MetricId) -> Result<(), MetricsError> {
    let bad = |what: &str, value: &str| {
        Err(MetricsError::InvalidParameterValue(format!(
            "The value {value} for parameter {what} is invalid."
        )))
    };
    if metric.name.is_empty()
        || metric.name.chars().count() > 255
        || metric.name.chars().any(char::is_control)
    {
        return bad("MetricData.member.MetricName", &metric.name);
    }
    if metric.dimensions.len() > MAX_DIMENSIONS {
        return Err(MetricsError::InvalidParameterValue(format!(
            "The collection MetricData.member.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    for (i, (n, v)) in metric.dimensions.iter().enumerate() {
        if n.is_empty() || n.chars().count() > 255 || n.chars().any(char::is_control) {
            return bad("Dimensions.member.Name", n);
        }
        if v.is_empty() || v.chars().count() > 1024 || v.chars().any(char::is_control) {
            return bad("Dimensions.member.Value", v);
        }
        if metric.dimensions[..i].iter().any(|(m, _)| m == n) {
            return Err(MetricsError::InvalidParameterValue(format!(
                "No Metric may specify the same dimension name twice: {n}."
            )));
        }
    }
    Ok(())
}

/// A datapoint value: CloudWatch refuses NaN, infinities and magnitudes beyond 2^360.
pub fn check_value(value: f64) -> Result<(), MetricsError> {
    let limit = 2f64.powi(360);
    if !value.is_finite() || value.abs() > limit || (value != 0.0 && value.abs() < 1.0 / limit) {
        return Err(MetricsError::InvalidParameterValue(format!(
            "The value {value} for parameter MetricData.member.Value is invalid."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open_sqlite(dir.path()).unwrap(), dir)
    }

    fn sample(metric: &MetricId, at_ms: i64, value: f64) -> Sample {
        Sample {
            metric: metric.clone(),
            unit: Some("Count".into()),
            at_ms,
            stats: Stats::one(value),
        }
    }

    const T0: i64 = 1_700_000_040_000; // a minute boundary

    #[test]
    fn minutes_aggregate_and_periods_sum_them() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let m = MetricId::new("AWS/Lambda", "Duration", &[("FunctionName", "f")]);
        let batch1 = [sample(&m, T0, 10.0), sample(&m, T0 + 59_999, 30.0)];
        let batch2 = [sample(&m, T0 + 1_000, 2.0), sample(&m, T0 + 60_000, 7.0)];
        store.write(|tx| record(tx, &scope, &batch1)).unwrap();
        store.write(|tx| record(tx, &scope, &batch2)).unwrap();
        let window = |period_s| Window {
            start_ms: T0,
            end_ms: T0 + 120_000,
            period_s,
        };
        let minutes = store
            .read(|tx| statistics(tx, &scope, &m, &window(60), None))
            .unwrap();
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].at_ms, T0);
        assert_eq!(
            minutes[0].stats,
            Stats {
                sum: 42.0,
                count: 3.0,
                min: 2.0,
                max: 30.0
            }
        );
        assert_eq!(minutes[1].stats, Stats::one(7.0));
        let whole = store
            .read(|tx| statistics(tx, &scope, &m, &window(3600), None))
            .unwrap();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].stats.count, 4.0);
        assert_eq!(whole[0].stats.average(), 12.25);
        let none = store
            .read(|tx| statistics(tx, &scope, &m, &window(60), Some("Seconds")))
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn dimensions_identify_a_metric_exactly() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let by_fn = MetricId::new("AWS/Lambda", "Invocations", &[("FunctionName", "f")]);
        let by_res = MetricId::new(
            "AWS/Lambda",
            "Invocations",
            &[("Resource", "f:live"), ("FunctionName", "f")],
        );
        let other = MetricId::new("AWS/Lambda", "Errors", &[("FunctionName", "g")]);
        let samples = [
            sample(&by_fn, T0, 1.0),
            sample(&by_res, T0, 1.0),
            sample(&other, T0, 1.0),
        ];
        store.write(|tx| record(tx, &scope, &samples)).unwrap();
        let window = Window {
            start_ms: T0,
            end_ms: T0 + 60_000,
            period_s: 60,
        };
        let points = store
            .read(|tx| statistics(tx, &scope, &by_fn, &window, None))
            .unwrap();
        assert_eq!(points[0].stats.sum, 1.0);
        let all = store
            .read(|tx| list(tx, &scope, Some("AWS/Lambda"), None, &[]))
            .unwrap();
        assert_eq!(all.len(), 3);
        let f = [("FunctionName".to_string(), Some("f".to_string()))];
        let of_f = store
            .read(|tx| list(tx, &scope, Some("AWS/Lambda"), Some("Invocations"), &f))
            .unwrap();
        assert_eq!(of_f, vec![by_fn.clone(), by_res]);
        let other_scope = Scope::new("111111111111", "us-east-1");
        let none = store
            .read(|tx| list(tx, &other_scope, None, None, &[]))
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn windows_and_names_are_validated() {
        let w = Window {
            start_ms: 0,
            end_ms: 1441 * 60_000,
            period_s: 60,
        };
        assert!(matches!(
            w.check(MAX_DATAPOINTS),
            Err(MetricsError::InvalidParameterCombination(_))
        ));
        assert!(matches!(
            check_put_namespace("AWS/Lambda"),
            Err(MetricsError::InvalidParameterValue(m)) if m == "The value AWS/Lambda for parameter Namespace is invalid."
        ));
        assert!(check_put_namespace("MyApp").is_ok());
        assert!(check_value(f64::NAN).is_err());
        assert!(check_value(1.5).is_ok());
        let twice = MetricId {
            namespace: "N".into(),
            name: "m".into(),
            dimensions: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
        };
        assert!(check_metric(&twice).is_err());
    }
}
