//! CloudWatch metrics as records: each metric (namespace, name, dimension set) is one
//! record, and its datapoints are kept aggregated per minute (sum, count, minimum, maximum)
//! — the finest resolution Lambda's own metrics have. Reads aggregate stored buckets into
//! periods. Lambda's metrics are recorded by the invoke path (through a batching writer),
//! custom ones by PutMetricData. Retention follows CloudWatch's: minutes are kept for 15
//! days, then [`roll_up`] merges them into 5-minute buckets, kept for 63 days, then into
//! hourly ones, kept for 455 days, then deleted. Owns validation of names and values;
//! knows nothing of the wire.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::store::{Scope, Store, StoreError, Tx, TxExt};

const METRIC: &str = "metric";
const MINUTE: &str = "metric-minute";
const FIVE_MINUTES: &str = "metric-5min";
const HOUR: &str = "metric-hour";

/// Separates the parts of a metric's key: namespace, name, then each dimension.
const PART: char = '\u{1f}';
/// Separates a dimension's name from its value in a key.
const PAIR: char = '\u{1e}';
/// Separates a metric's key from a bucket's first minute in a datapoint's key, and that
/// minute from the unit in the key of a rolled-up bucket.
const AT: char = '\u{1d}';
/// The character after [`AT`]: `{key}{AT}` up to `{key}{AFTER_AT}` is every bucket of a key.
const AFTER_AT: char = '\u{1e}';

const DAY_MS: i64 = 86_400_000;

/// One resolution data is stored at: its record kind, its length, and for how long after
/// its end CloudWatch keeps data at that resolution.
struct Resolution {
    kind: &'static str,
    minutes: i64,
    kept_ms: i64,
}

const BY_MINUTE: Resolution = Resolution {
    kind: MINUTE,
    minutes: 1,
    kept_ms: 15 * DAY_MS,
};
const BY_FIVE_MINUTES: Resolution = Resolution {
    kind: FIVE_MINUTES,
    minutes: 5,
    kept_ms: 63 * DAY_MS,
};
const BY_HOUR: Resolution = Resolution {
    kind: HOUR,
    minutes: 60,
    kept_ms: 455 * DAY_MS,
};
/// Finest first; each is rolled up into the next.
const RESOLUTIONS: [&Resolution; 3] = [&BY_MINUTE, &BY_FIVE_MINUTES, &BY_HOUR];

/// Data younger than this may be read at any period (high-resolution data is kept for 3
/// hours); older data only at multiples of the resolution it is kept at.
const ANY_PERIOD_MS: i64 = 3 * 3_600_000;
/// How many stored buckets one roll-up transaction reads at most, so that a pass never
/// holds the store's writer for long.
const ROLL_UP_BATCH: usize = 1000;

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
/// How far in the past PutMetricData accepts a timestamp: two weeks.
pub const MAX_PUT_AGE_MS: i64 = 14 * DAY_MS;

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

/// One bucket (a minute, 5 minutes or an hour) of one metric as stored; the shape has not
/// changed since minutes were the only buckets.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Bucket {
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

    /// Where CloudWatch starts reading this window at `now_ms`: the start rounded down to
    /// the resolution data of its age is kept at (a minute up to 15 days ago, 5 minutes up
    /// to 63 days, an hour beyond). `None` when the start is more than 3 hours ago and the
    /// period is not a multiple of that resolution: AWS documents that "no data points in
    /// that time range" are returned then, not an error, so reads return none.
    pub fn readable_start(&self, now_ms: i64) -> Option<i64> {
        let age_ms = now_ms - self.start_ms;
        let resolution_ms = RESOLUTIONS
            .iter()
            .find(|r| age_ms < r.kept_ms)
            .unwrap_or(&&BY_HOUR)
            .minutes
            * 60_000;
        if age_ms > ANY_PERIOD_MS && (self.period_s * 1000) % resolution_ms != 0 {
            return None;
        }
        Some(self.start_ms.div_euclid(resolution_ms) * resolution_ms)
    }
}

fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(60_000)
}

fn minute_key(metric_key: &str, minute: i64) -> String {
    // Zero-padded, so ids sort by time.
    format!("{metric_key}{AT}{minute:012}")
}

/// A rolled-up bucket's id: its first minute, then its unit, so that buckets of one time
/// recorded in different units stay apart as their minutes were.
fn rolled_key(metric_key: &str, minute: i64, unit: Option<&str>) -> String {
    format!(
        "{}{AT}{}",
        minute_key(metric_key, minute),
        unit.unwrap_or_default()
    )
}

/// The first minute of the bucket whose id is `{prefix}{rest}`.
fn bucket_minute(rest: &str) -> Option<i64> {
    rest.split(AT).next()?.parse().ok()
}

fn decode_bucket(kind: &str, id: &str, body: &[u8]) -> Result<Bucket, StoreError> {
    serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
        kind: kind.into(),
        id: id.into(),
        source,
    })
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
        let m = match tx.get_json::<Bucket>(MINUTE, scope, &id)? {
            Some(mut m) => {
                m.stats.merge(&stats);
                if sample.unit.is_some() {
                    m.unit = sample.unit.clone();
                }
                m
            }
            None => Bucket {
                unit: sample.unit.clone(),
                stats,
            },
        };
        tx.put_json(MINUTE, scope, &id, &m)?;
    }
    Ok(())
}

/// The metric's datapoints in `window` (checked by the caller, whose limit it is) as read at
/// `now_ms` (see [`Window::readable_start`]), one per period that has data, oldest first;
/// with `unit`, only buckets recorded in that unit. Buckets of every resolution are read,
/// as a roll-up pass that has not run yet leaves finer ones past their age.
pub fn statistics(
    tx: &mut dyn Tx,
    scope: &Scope,
    metric: &MetricId,
    window: &Window,
    unit: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Datapoint>, MetricsError> {
    let Some(start_ms) = window.readable_start(now_ms) else {
        return Ok(Vec::new());
    };
    let key = metric.key();
    let prefix = format!("{key}{AT}");
    let first = minute_key(&key, minute_of(start_ms));
    let past_last = minute_key(&key, minute_of(window.end_ms - 1) + 1);
    let period_ms = window.period_s * 1000;
    let mut periods: BTreeMap<i64, Datapoint> = BTreeMap::new();
    for resolution in RESOLUTIONS {
        let kind = resolution.kind;
        for (id, body) in tx.list_range(kind, scope, &first, &past_last, usize::MAX)? {
            let Some(minute) = bucket_minute(&id[prefix.len()..]) else {
                continue;
            };
            let at_ms = minute * 60_000;
            if at_ms < start_ms || at_ms >= window.end_ms {
                continue;
            }
            let b = decode_bucket(kind, &id, &body)?;
            if unit.is_some_and(|u| b.unit.as_deref() != Some(u)) {
                continue;
            }
            let start = at_ms.div_euclid(period_ms) * period_ms;
            periods
                .entry(start)
                .and_modify(|d| d.stats.merge(&b.stats))
                .or_insert(Datapoint {
                    at_ms: start,
                    unit: b.unit.clone(),
                    stats: b.stats,
                });
        }
    }
    Ok(periods.into_values().collect())
}

/// What one roll-up pass changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RolledUp {
    /// Buckets merged into coarser ones (minutes into 5 minutes, 5 minutes into hours).
    pub merged: usize,
    /// Hourly buckets deleted after 455 days.
    pub expired: usize,
    /// Metrics deleted because no data of theirs is left.
    pub metrics_deleted: usize,
}

/// Applies CloudWatch's retention as of `now_ms`: minute buckets whose 5-minute bucket ended
/// more than 15 days ago are merged into it, 5-minute buckets whose hour ended more than 63
/// days ago into that hour, hours that ended more than 455 days ago are deleted, and so is a
/// metric left without data. Each transaction merges and deletes at most
/// [`ROLL_UP_BATCH`] buckets of one metric at once, so a pass stopped anywhere (even by
/// `kill -9`) neither loses nor counts twice, and a second pass finds nothing to do. Once
/// `stop` is set the pass ends before its next transaction; the next pass goes on.
pub fn roll_up(store: &Store, now_ms: i64, stop: &AtomicBool) -> Result<RolledUp, MetricsError> {
    let metrics = store.read(|tx| tx.list_all(METRIC))?;
    let mut done = RolledUp::default();
    for (scope, key, _) in &metrics {
        for (fine, coarse) in [(&BY_MINUTE, &BY_FIVE_MINUTES), (&BY_FIVE_MINUTES, &BY_HOUR)] {
            let before = ended_before(now_ms - fine.kept_ms, coarse);
            loop {
                if stopped(stop) {
                    return Ok(done);
                }
                let n = store.write(|tx| merge_batch(tx, scope, key, fine, coarse, before))?;
                done.merged += n;
                if n < ROLL_UP_BATCH {
                    break;
                }
            }
        }
        let before = ended_before(now_ms - BY_HOUR.kept_ms, &BY_HOUR);
        loop {
            if stopped(stop) {
                return Ok(done);
            }
            let (n, gone) = store.write(|tx| expire_batch(tx, scope, key, before))?;
            done.expired += n;
            done.metrics_deleted += usize::from(gone);
            if n < ROLL_UP_BATCH {
                break;
            }
        }
    }
    Ok(done)
}

/// Before each transaction of a pass: lets a writer waiting for the store go first, then
/// whether the pass is to stop.
fn stopped(stop: &AtomicBool) -> bool {
    std::thread::yield_now();
    stop.load(Ordering::Relaxed)
}

/// The first minute of the first `resolution` bucket that has not ended at `at_ms`: the
/// buckets before it ended at or before `at_ms`.
fn ended_before(at_ms: i64, resolution: &Resolution) -> i64 {
    minute_of(at_ms).div_euclid(resolution.minutes) * resolution.minutes
}

/// Merges up to [`ROLL_UP_BATCH`] `fine` buckets of the metric starting before minute
/// `before` into their `coarse` buckets (into what those already hold) and deletes them;
/// how many it merged.
fn merge_batch(
    tx: &mut dyn Tx,
    scope: &Scope,
    key: &str,
    fine: &Resolution,
    coarse: &Resolution,
    before: i64,
) -> Result<usize, MetricsError> {
    let prefix = format!("{key}{AT}");
    let rows = tx.list_range(
        fine.kind,
        scope,
        &prefix,
        &minute_key(key, before),
        ROLL_UP_BATCH,
    )?;
    let mut merged: BTreeMap<String, Bucket> = BTreeMap::new();
    for (id, body) in &rows {
        let minute = bucket_minute(&id[prefix.len()..]).ok_or_else(|| {
            MetricsError::Store(StoreError::Corrupt {
                kind: fine.kind.into(),
                id: id.clone(),
                source: serde::de::Error::custom("the id names no minute"),
            })
        })?;
        let b = decode_bucket(fine.kind, id, body)?;
        let start = minute.div_euclid(coarse.minutes) * coarse.minutes;
        let coarse_id = rolled_key(key, start, b.unit.as_deref());
        match merged.entry(coarse_id) {
            Entry::Occupied(mut e) => e.get_mut().stats.merge(&b.stats),
            Entry::Vacant(e) => {
                let held: Option<Bucket> = tx.get_json(coarse.kind, scope, e.key())?;
                e.insert(match held {
                    Some(mut held) => {
                        held.stats.merge(&b.stats);
                        held
                    }
                    None => b,
                });
            }
        }
    }
    for (id, bucket) in &merged {
        tx.put_json(coarse.kind, scope, id, bucket)?;
    }
    for (id, _) in &rows {
        tx.delete(fine.kind, scope, id)?;
    }
    Ok(rows.len())
}

/// Deletes up to [`ROLL_UP_BATCH`] hourly buckets of the metric starting before minute
/// `before`; once none is left, the metric too when it has no data at all. How many
/// buckets it deleted, and whether it deleted the metric.
fn expire_batch(
    tx: &mut dyn Tx,
    scope: &Scope,
    key: &str,
    before: i64,
) -> Result<(usize, bool), MetricsError> {
    let prefix = format!("{key}{AT}");
    let rows = tx.list_range(
        HOUR,
        scope,
        &prefix,
        &minute_key(key, before),
        ROLL_UP_BATCH,
    )?;
    for (id, _) in &rows {
        tx.delete(HOUR, scope, id)?;
    }
    if rows.len() == ROLL_UP_BATCH {
        return Ok((rows.len(), false));
    }
    let all = format!("{key}{AFTER_AT}");
    for resolution in RESOLUTIONS {
        if !tx
            .list_range(resolution.kind, scope, &prefix, &all, 1)?
            .is_empty()
        {
            return Ok((rows.len(), false));
        }
    }
    Ok((rows.len(), tx.delete(METRIC, scope, key)?))
}

/// How far back ListMetrics looks for a metric's data: "ListMetrics doesn't return
/// information about metrics if those metrics haven't reported data in the past two weeks."
pub const LIST_ACTIVE_MS: i64 = 14 * DAY_MS;
/// ListMetrics' `RecentlyActive=PT3H`: data in the past three hours.
pub const RECENTLY_ACTIVE_MS: i64 = 3 * 3_600_000;

/// Metrics of the scope that have data at or after `active_since_ms` (minute buckets are
/// kept longer than ListMetrics looks back, so they alone decide), optionally of one
/// namespace and name, having every filter's dimension (with its value, when the filter
/// gives one); sorted.
pub fn list(
    tx: &mut dyn Tx,
    scope: &Scope,
    namespace: Option<&str>,
    name: Option<&str>,
    filters: &[(String, Option<String>)],
    active_since_ms: i64,
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
    let since = minute_of(active_since_ms);
    let mut active = Vec::with_capacity(out.len());
    for m in out {
        let key = m.key();
        // The ids' 12 digits hold every minute up to the year 1,900,000 or so.
        let (from, to) = (minute_key(&key, since), minute_key(&key, 999_999_999_999));
        if !tx.list_range(MINUTE, scope, &from, &to, 1)?.is_empty() {
            active.push(m);
        }
    }
    active.sort();
    Ok(active)
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

/// The timestamp of the `n`th datum (from 1) of a PutMetricData at `now_ms`: CloudWatch
/// accepts them up to two weeks in the past.
pub fn check_put_time(at_ms: i64, now_ms: i64, n: usize) -> Result<(), MetricsError> {
    if at_ms < now_ms - MAX_PUT_AGE_MS {
        return Err(MetricsError::InvalidParameterValue(format!(
            "The parameter MetricData.member.{n}.Timestamp must specify a time within the past two weeks."
        )));
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
            .read(|tx| statistics(tx, &scope, &m, &window(60), None, T0))
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
            .read(|tx| statistics(tx, &scope, &m, &window(3600), None, T0))
            .unwrap();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].stats.count, 4.0);
        assert_eq!(whole[0].stats.average(), 12.25);
        let none = store
            .read(|tx| statistics(tx, &scope, &m, &window(60), Some("Seconds"), T0))
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
            .read(|tx| statistics(tx, &scope, &by_fn, &window, None, T0))
            .unwrap();
        assert_eq!(points[0].stats.sum, 1.0);
        let all = store
            .read(|tx| list(tx, &scope, Some("AWS/Lambda"), None, &[], T0))
            .unwrap();
        assert_eq!(all.len(), 3);
        let f = [("FunctionName".to_string(), Some("f".to_string()))];
        let of_f = store
            .read(|tx| list(tx, &scope, Some("AWS/Lambda"), Some("Invocations"), &f, T0))
            .unwrap();
        assert_eq!(of_f, vec![by_fn.clone(), by_res]);
        let other_scope = Scope::new("111111111111", "us-east-1");
        let none = store
            .read(|tx| list(tx, &other_scope, None, None, &[], T0))
            .unwrap();
        assert!(none.is_empty());
    }

    /// ListMetrics shows what reported in the past two weeks (or, with `RecentlyActive`,
    /// three hours), including a minute written just now, and not what is only older.
    #[test]
    fn listing_shows_recently_active_metrics_only() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let metric = |name: &str| MetricId::new("Custom", name, &[]);
        let hour = 3_600_000;
        let samples = [
            sample(&metric("now"), T0, 1.0),
            sample(&metric("two-hours"), T0 - 2 * hour, 1.0),
            sample(&metric("four-hours"), T0 - 4 * hour, 1.0),
            sample(&metric("ten-days"), T0 - 10 * DAY_MS, 1.0),
            sample(&metric("fifteen-days"), T0 - 15 * DAY_MS, 1.0),
        ];
        store.write(|tx| record(tx, &scope, &samples)).unwrap();
        let names = |since: i64| -> Vec<String> {
            let listed = store
                .read(|tx| list(tx, &scope, Some("Custom"), None, &[], since))
                .unwrap();
            listed.into_iter().map(|m| m.name).collect()
        };
        assert_eq!(
            names(T0 - LIST_ACTIVE_MS),
            ["four-hours", "now", "ten-days", "two-hours"]
        );
        assert_eq!(names(T0 - RECENTLY_ACTIVE_MS), ["now", "two-hours"]);
        assert!(names(T0 + 60_000).is_empty());
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

    /// "Now" of the roll-up tests; data is stored days before it.
    const NOW: i64 = T0 + 600 * DAY_MS;

    fn at(ago_days: i64, resolution_ms: i64) -> i64 {
        (NOW - ago_days * DAY_MS).div_euclid(resolution_ms) * resolution_ms
    }

    fn stats(sum: f64, count: f64, min: f64, max: f64) -> Stats {
        Stats {
            sum,
            count,
            min,
            max,
        }
    }

    /// Every metric record and bucket of the store, to compare whole states.
    fn dump(store: &Store) -> Vec<(String, Scope, String, Vec<u8>)> {
        store
            .read(|tx| -> Result<_, StoreError> {
                let mut all = Vec::new();
                for kind in [METRIC, MINUTE, FIVE_MINUTES, HOUR] {
                    for (scope, id, body) in tx.list_all(kind)? {
                        all.push((kind.to_string(), scope, id, body));
                    }
                }
                Ok(all)
            })
            .unwrap()
    }

    fn count(store: &Store, kind: &str) -> usize {
        store.read(|tx| tx.list_all(kind)).unwrap().len()
    }

    #[test]
    fn roll_up_merges_exactly_and_deletes_what_is_past_retention() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let m = MetricId::new("MyApp", "Latency", &[("Stage", "prod")]);
        let gone = MetricId::new("MyApp", "Old", &[]);
        let (b20, b70) = (at(20, 300_000), at(70, 3_600_000));
        let samples = [
            // Two 5-minute buckets 20 days ago; the first from three minutes.
            sample(&m, b20, 4.0),
            sample(&m, b20 + 30_000, 6.0),
            sample(&m, b20 + 60_000, -2.0),
            sample(&m, b20 + 240_000, 10.0),
            sample(&m, b20 + 300_000, 1.0),
            // One hour 70 days ago, from three 5-minute buckets.
            sample(&m, b70 + 60_000, 3.0),
            sample(&m, b70 + 17 * 60_000, 5.0),
            sample(&m, b70 + 59 * 60_000, 7.0),
            // Past retention.
            sample(&m, at(500, 60_000), 100.0),
            sample(&gone, at(500, 60_000), 1.0),
            // Recent.
            sample(&m, at(1, 60_000), 9.0),
        ];
        store.write(|tx| record(tx, &scope, &samples)).unwrap();
        let read = |start_ms, minutes: i64, period_s| {
            let w = Window {
                start_ms,
                end_ms: start_ms + minutes * 60_000,
                period_s,
            };
            store
                .read(|tx| statistics(tx, &scope, &m, &w, None, NOW))
                .unwrap()
        };
        let before = (
            read(b20, 10, 300),
            read(b70, 60, 3600),
            read(at(1, 60_000), 1, 60),
        );

        let done = roll_up(&store, NOW, &AtomicBool::new(false)).unwrap();
        assert_eq!(
            done,
            RolledUp {
                // 20 days: 4 minutes; 70 days: 3 minutes, then 3 five-minute buckets;
                // 500 days: 2 minutes, then 2 five-minute buckets.
                merged: 4 + 3 + 3 + 2 + 2,
                expired: 2,
                metrics_deleted: 1,
            }
        );
        assert_eq!(
            (
                count(&store, MINUTE),
                count(&store, FIVE_MINUTES),
                count(&store, HOUR)
            ),
            (1, 2, 1)
        );
        let twenty = read(b20, 10, 300);
        assert_eq!(twenty.len(), 2);
        assert_eq!(twenty[0].at_ms, b20);
        assert_eq!(twenty[0].stats, stats(18.0, 4.0, -2.0, 10.0));
        assert_eq!(twenty[0].stats.average(), 4.5);
        assert_eq!(twenty[0].unit.as_deref(), Some("Count"));
        assert_eq!(twenty[1].stats, Stats::one(1.0));
        let seventy = read(b70, 60, 3600);
        assert_eq!(seventy.len(), 1);
        assert_eq!(seventy[0].stats, stats(15.0, 3.0, 3.0, 7.0));
        assert_eq!(seventy[0].stats.average(), 5.0);
        assert_eq!(
            (twenty, seventy, read(at(1, 60_000), 1, 60)),
            before,
            "the same statistics at the periods the data is still kept at"
        );
        assert!(read(b20, 10, 60).is_empty(), "no minutes 20 days ago");
        assert!(read(b70, 60, 300).is_empty(), "no 5 minutes 70 days ago");
        assert!(read(at(500, 3_600_000), 60, 3600).is_empty());
        let listed = store
            .read(|tx| list(tx, &scope, None, None, &[], NOW - LIST_ACTIVE_MS))
            .unwrap();
        assert_eq!(listed, vec![m]);

        let state = dump(&store);
        assert_eq!(
            roll_up(&store, NOW, &AtomicBool::new(false)).unwrap(),
            RolledUp::default()
        );
        assert_eq!(dump(&store), state, "a second pass changes nothing");
    }

    #[test]
    fn a_stopped_roll_up_leaves_the_rest_to_the_next_pass() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let m = MetricId::new("MyApp", "Hits", &[]);
        let samples = [sample(&m, at(20, 300_000), 1.0)];
        store.write(|tx| record(tx, &scope, &samples)).unwrap();
        let state = dump(&store);
        let stopped = roll_up(&store, NOW, &AtomicBool::new(true)).unwrap();
        assert_eq!(stopped, RolledUp::default());
        assert_eq!(dump(&store), state);
        let next = roll_up(&store, NOW, &AtomicBool::new(false)).unwrap();
        assert_eq!(next.merged, 1);
    }

    #[test]
    fn roll_up_pages_and_merges_into_buckets_already_rolled() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let m = MetricId::new("MyApp", "Depth", &[]);
        // More minutes than a batch, starting mid-bucket, so a bucket spans two batches.
        let first = at(20, 300_000) + 2 * 60_000;
        let n = ROLL_UP_BATCH as i64 + 502;
        let samples: Vec<Sample> = (0..n)
            .map(|i| sample(&m, first + i * 60_000, i as f64))
            .collect();
        store.write(|tx| record(tx, &scope, &samples)).unwrap();
        let w = Window {
            start_ms: first - 120_000,
            end_ms: first + n * 60_000,
            period_s: 300,
        };
        let read = || {
            store
                .read(|tx| statistics(tx, &scope, &m, &w, None, NOW))
                .unwrap()
        };
        let before = read();
        let done = roll_up(&store, NOW, &AtomicBool::new(false)).unwrap();
        assert_eq!(done.merged, n as usize);
        assert_eq!(count(&store, MINUTE), 0);
        let after = read();
        assert_eq!(after, before);
        let mut total = after[0].stats;
        for p in &after[1..] {
            total.merge(&p.stats);
        }
        let last = (n - 1) as f64;
        assert_eq!(total, stats(last * (last + 1.0) / 2.0, n as f64, 0.0, last));

        // A minute recorded into a bucket already rolled (as a pass stopped between two
        // batches leaves it) is merged into what the bucket holds.
        let late = [sample(&m, first, 1000.0)];
        store.write(|tx| record(tx, &scope, &late)).unwrap();
        assert_eq!(
            roll_up(&store, NOW, &AtomicBool::new(false))
                .unwrap()
                .merged,
            1
        );
        let first_bucket = read()[0].stats;
        assert_eq!(first_bucket, stats(1000.0 + 3.0, 4.0, 0.0, 1000.0));
    }

    #[test]
    fn rolled_up_buckets_keep_units_apart() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let m = MetricId::new("MyApp", "Size", &[]);
        let b = at(20, 300_000);
        let mut bytes = sample(&m, b + 60_000, 5.0);
        bytes.unit = Some("Bytes".into());
        store
            .write(|tx| record(tx, &scope, &[sample(&m, b, 2.0), bytes]))
            .unwrap();
        roll_up(&store, NOW, &AtomicBool::new(false)).unwrap();
        let w = Window {
            start_ms: b,
            end_ms: b + 300_000,
            period_s: 300,
        };
        let sum = |unit| {
            store
                .read(|tx| statistics(tx, &scope, &m, &w, unit, NOW))
                .unwrap()
                .iter()
                .map(|p| p.stats.sum)
                .sum::<f64>()
        };
        assert_eq!(
            (sum(Some("Count")), sum(Some("Bytes")), sum(None)),
            (2.0, 5.0, 7.0)
        );
    }

    #[test]
    fn records_of_the_previous_version_are_read_and_rolled_up() {
        let (store, _dir) = store();
        let scope = Scope::new("000000000000", "us-east-1");
        let minute = at(20, 300_000) / 60_000;
        // Written byte for byte as the version that kept minutes only stored them.
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.put(
                    "metric",
                    &scope,
                    "MyApp\u{1f}Hits",
                    br#"{"namespace":"MyApp","name":"Hits","dimensions":[]}"#,
                )?;
                tx.put(
                    "metric-minute",
                    &scope,
                    &format!("MyApp\u{1f}Hits\u{1d}{minute:012}"),
                    br#"{"unit":"Count","stats":{"sum":3.0,"count":2.0,"min":1.0,"max":2.0}}"#,
                )
            })
            .unwrap();
        let m = MetricId::new("MyApp", "Hits", &[]);
        let w = Window {
            start_ms: minute * 60_000,
            end_ms: minute * 60_000 + 300_000,
            period_s: 300,
        };
        let read = || {
            store
                .read(|tx| statistics(tx, &scope, &m, &w, None, NOW))
                .unwrap()
        };
        assert_eq!(read()[0].stats, stats(3.0, 2.0, 1.0, 2.0));
        assert_eq!(
            roll_up(&store, NOW, &AtomicBool::new(false))
                .unwrap()
                .merged,
            1
        );
        assert_eq!(read()[0].stats, stats(3.0, 2.0, 1.0, 2.0));
        assert_eq!(count(&store, FIVE_MINUTES), 1);
    }

    #[test]
    fn reads_follow_the_resolution_kept_at_the_start_age() {
        let window = |start_ms, period_s| Window {
            start_ms,
            end_ms: NOW,
            period_s,
        };
        // 12:32:34 on a day so many days ago.
        let clock = |days| at(days, DAY_MS) + (12 * 3600 + 32 * 60 + 34) * 1000;
        let start = |days, period_s| window(clock(days), period_s).readable_start(NOW);
        let day = |days| at(days, DAY_MS);
        assert_eq!(
            window(NOW - 3_600_000 + 1_500, 10).readable_start(NOW),
            Some(NOW - 3_600_000),
            "any period for the last 3 hours"
        );
        assert_eq!(start(5, 60), Some(day(5) + (12 * 60 + 32) * 60_000));
        assert_eq!(start(5, 90), None);
        assert_eq!(start(20, 60), None);
        assert_eq!(start(20, 600), Some(day(20) + (12 * 60 + 30) * 60_000));
        assert_eq!(start(70, 300), None);
        assert_eq!(start(70, 7200), Some(day(70) + 12 * 3_600_000));
    }

    #[test]
    fn put_timestamps_reach_two_weeks_back() {
        assert!(check_put_time(NOW - MAX_PUT_AGE_MS, NOW, 1).is_ok());
        assert!(matches!(
            check_put_time(NOW - MAX_PUT_AGE_MS - 1, NOW, 3),
            Err(MetricsError::InvalidParameterValue(m))
                if m == "The parameter MetricData.member.3.Timestamp must specify a time within the past two weeks."
        ));
    }
}
