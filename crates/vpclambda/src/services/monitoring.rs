//! The CloudWatch metrics wire adapter (signing name `monitoring`). The model lists three
//! protocols and clients pick: botocore 1.4x (boto3, aws CLI v1) sends JSON 1.0
//! (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, `x-amzn-query-mode: true`), SDKs that
//! prefer CBOR send Smithy RPC v2 CBOR (`POST
//! /service/GraniteServiceVersion20100801/operation/<Op>`, `smithy-protocol: rpc-v2-cbor`),
//! older ones the query protocol (`Action=<Op>&Version=2010-08-01`, XML). All decode into
//! one tree; operations call `control::metrics` on a blocking thread and answer in the
//! request's protocol, errors with `x-amzn-query-error` so clients find the query code.

use std::sync::Arc;

use bytes::Bytes;
use control::metrics::{self, Datapoint, MetricId, MetricsError, Sample, Stats, Window};
use control::Scope;
use http::{HeaderMap, Response};
use serde_json::Value;
use wire::{AwsError, Doc, Protocol, QueryParams};

use super::Call;
use crate::server::AppState;

pub const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
const CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";
const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const OPERATIONS: [&str; 4] = [
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
    "PutMetricData",
];
/// ListMetrics answers in pages of this many.
const LIST_PAGE: usize = 500;
const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
/// CloudWatch's standard units.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The protocol a request to CloudWatch speaks, from its shape.
pub fn protocol_of(headers: &HeaderMap, path: &str) -> Protocol {
    if path.starts_with("/service/") || headers.contains_key("smithy-protocol") {
        Protocol::RpcV2Cbor
    } else if headers.contains_key("x-amz-target") {
        Protocol::Json10
    } else {
        Protocol::Query { xmlns: XMLNS }
    }
}

/// Either a domain error or a wire-level one; turned into one AWS error at the end.
enum Failure {
    Metrics(MetricsError),
    Wire(AwsError),
}

impl From<MetricsError> for Failure {
    fn from(e: MetricsError) -> Self {
        Failure::Metrics(e)
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Wire(e)
    }
}

/// The one mapping from metrics domain errors to CloudWatch's codes.
fn aws_error(f: Failure) -> AwsError {
    match f {
        Failure::Wire(e) => e,
        Failure::Metrics(e) => {
            let message = e.to_string();
            match e {
                MetricsError::InvalidParameterValue(_) => {
                    AwsError::new(400, "InvalidParameterValue", message)
                }
                MetricsError::InvalidParameterCombination(_) => {
                    AwsError::new(400, "InvalidParameterCombination", message)
                }
                MetricsError::MissingParameter(_) => {
                    AwsError::new(400, "MissingParameter", message)
                }
                MetricsError::Store(e) => {
                    tracing::error!(error = %e, "metrics store failure");
                    AwsError::new(500, "InternalServiceError", "Internal service error.")
                }
            }
        }
    }
}

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let protocol = protocol_of(&call.headers, call.uri.path());
    let body =
        wire::document::decoded_body(&call.headers, &call.body, super::DEFAULT_REQUEST_LIMIT)?;
    let (op, input) = if protocol == Protocol::RpcV2Cbor {
        let op = call
            .uri
            .path()
            .strip_prefix(CBOR_PATH)
            .filter(|op| !op.is_empty() && !op.contains('/'))
            .ok_or_else(|| unknown_operation(call.uri.path()))?;
        (op.to_string(), wire::document::from_cbor(&body)?)
    } else if protocol == Protocol::Json10 {
        let target = call
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let op = target
            .strip_prefix(TARGET_PREFIX)
            .ok_or_else(|| super::unknown_json_operation(call))?;
        let input = if body.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                AwsError::new(
                    400,
                    "SerializationException",
                    format!("Could not parse the request body: {e}"),
                )
            })?
        };
        (op.to_string(), input)
    } else {
        let mut params = QueryParams::parse(&body)?;
        if let Some(q) = call.uri.query() {
            params.merge_missing(QueryParams::parse(q.as_bytes())?);
        }
        let known = params.get("Action").filter(|a| OPERATIONS.contains(a));
        let Some(action) = known else {
            return Err(super::unknown_query_action(
                super::Service::Monitoring,
                &params,
            ));
        };
        (action.to_string(), wire::document::from_query(&params))
    };
    if !OPERATIONS.contains(&op.as_str()) {
        return Err(unknown_operation(&op));
    }
    if op != "PutMetricData" {
        // Reads see every invocation that was answered before them.
        state.invoke.flush_metrics().await;
    }
    let store = state.store.clone();
    let scope = Scope::new(call.account.account_id.clone(), call.region.clone());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let op2 = op.clone();
    let doc = tokio::task::spawn_blocking(move || operation(&store, &scope, &op2, &input, now_ms))
        .await
        .map_err(|_| AwsError::internal())?
        .map_err(aws_error)?;
    let rid = &call.request_id;
    Ok(match (protocol, doc) {
        (Protocol::RpcV2Cbor, doc) => {
            wire::document::cbor_response(&doc.unwrap_or(Doc::Map(Vec::new())), rid)
        }
        (Protocol::Json10, doc) => {
            let body = doc.map_or_else(|| serde_json::json!({}), |d| d.to_json());
            wire::response::json(200, &body, JSON_CONTENT_TYPE, rid)
        }
        (_, None) => wire::response::query_empty(&op, XMLNS, rid),
        (_, Some(doc)) => wire::response::query(&op, XMLNS, rid, |w| doc.write_xml(w)),
    })
}

fn unknown_operation(path: &str) -> AwsError {
    AwsError::new(
        404,
        "UnknownOperationException",
        format!("Unknown operation {path}"),
    )
}

/// Runs one operation; `None` is an operation without output.
fn operation(
    store: &control::Store,
    scope: &Scope,
    op: &str,
    input: &Value,
    now_ms: i64,
) -> Result<Option<Doc>, Failure> {
    let req = Input(input);
    Ok(match op {
        "PutMetricData" => {
            let samples = put_samples(&req, now_ms)?;
            store.write(|tx| metrics::record(tx, scope, &samples))?;
            None
        }
        "GetMetricStatistics" => {
            let metric = MetricId::new(
                req.required_str("Namespace")?,
                req.required_str("MetricName")?,
                &borrowed(&req.dimensions("Dimensions")?),
            );
            let window = Window {
                start_ms: req.required_time("StartTime")?,
                end_ms: req.required_time("EndTime")?,
                period_s: req.required_int("Period")?,
            };
            window.check(metrics::MAX_DATAPOINTS)?;
            let stats = req.strings("Statistics")?;
            if !req.strings("ExtendedStatistics")?.is_empty() {
                return Err(invalid("Extended statistics (percentiles) are not supported by vpclambda; use Statistics.").into());
            }
            if stats.is_empty() {
                return Err(MetricsError::InvalidParameterCombination(
                    "Must specify either Statistics or ExtendedStatistics.".into(),
                )
                .into());
            }
            for s in &stats {
                check_statistic(s, "Statistics")?;
            }
            let unit = req.unit("Unit")?;
            let points =
                store.read(|tx| metrics::statistics(tx, scope, &metric, &window, unit, now_ms))?;
            let datapoints = points.iter().map(|p| datapoint_doc(p, &stats)).collect();
            Some(Doc::Map(vec![
                ("Label", Doc::Str(metric.name.clone())),
                ("Datapoints", Doc::List(datapoints)),
            ]))
        }
        "GetMetricData" => Some(metric_data(store, scope, &req, now_ms)?),
        "ListMetrics" => {
            let filters = req
                .list("Dimensions")?
                .iter()
                .map(|d| {
                    let d = Input(d);
                    Ok((
                        d.required_str("Name")?.to_string(),
                        d.str("Value")?.map(str::to_string),
                    ))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let (namespace, name) = (req.str("Namespace")?, req.str("MetricName")?);
            let active_ms = match req.str("RecentlyActive")? {
                None => metrics::LIST_ACTIVE_MS,
                Some("PT3H") => metrics::RECENTLY_ACTIVE_MS,
                Some(other) => {
                    return Err(invalid(&format!(
                        "The value {other} for parameter RecentlyActive is invalid."
                    ))
                    .into())
                }
            };
            let since = now_ms - active_ms;
            let found =
                store.read(|tx| metrics::list(tx, scope, namespace, name, &filters, since))?;
            let start = match req.str("NextToken")? {
                Some(t) => t.parse::<usize>().map_err(|_| invalid_next_token())?,
                None => 0,
            };
            let page: Vec<Doc> = found
                .iter()
                .skip(start)
                .take(LIST_PAGE)
                .map(metric_doc)
                .collect();
            let mut out = vec![("Metrics", Doc::List(page))];
            if found.len() > start + LIST_PAGE {
                out.push(("NextToken", Doc::Str((start + LIST_PAGE).to_string())));
            }
            Some(Doc::Map(out))
        }
        _ => return Err(unknown_operation(op).into()),
    })
}

fn borrowed(dims: &[(String, String)]) -> Vec<(&str, &str)> {
    dims.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn check_statistic(s: &str, what: &str) -> Result<(), Failure> {
    if STATISTICS.contains(&s) {
        Ok(())
    } else {
        Err(invalid(&format!("The value {s} for parameter {what} is invalid.")).into())
    }
}

fn stat_value(stats: &Stats, name: &str) -> f64 {
    match name {
        "SampleCount" => stats.count,
        "Average" => stats.average(),
        "Sum" => stats.sum,
        "Minimum" => stats.min,
        _ => stats.max,
    }
}

fn datapoint_doc(p: &Datapoint, stats: &[String]) -> Doc {
    let mut members = vec![("Timestamp", Doc::Time(p.at_ms as f64 / 1000.0))];
    for name in STATISTICS {
        if stats.iter().any(|s| s == name) {
            members.push((name, Doc::Float(stat_value(&p.stats, name))));
        }
    }
    members.push((
        "Unit",
        Doc::Str(p.unit.clone().unwrap_or_else(|| "None".into())),
    ));
    Doc::Map(members)
}

fn metric_doc(m: &MetricId) -> Doc {
    let dims = m
        .dimensions
        .iter()
        .map(|(n, v)| {
            Doc::Map(vec![
                ("Name", Doc::Str(n.clone())),
                ("Value", Doc::Str(v.clone())),
            ])
        })
        .collect();
    Doc::Map(vec![
        ("Namespace", Doc::Str(m.namespace.clone())),
        ("MetricName", Doc::Str(m.name.clone())),
        ("Dimensions", Doc::List(dims)),
    ])
}

/// GetMetricData with `MetricStat` queries, at most `MaxDatapoints` datapoints a page;
/// metric math is refused plainly.
fn metric_data(
    store: &control::Store,
    scope: &Scope,
    req: &Input,
    now_ms: i64,
) -> Result<Doc, Failure> {
    let queries = req.list("MetricDataQueries")?;
    if queries.is_empty() {
        return Err(MetricsError::MissingParameter(
            "The parameter MetricDataQueries is required.".into(),
        )
        .into());
    }
    let start_ms = req.required_time("StartTime")?;
    let end_ms = req.required_time("EndTime")?;
    let newest_first = match req.str("ScanBy")? {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(invalid(&format!(
                "The value {other} for parameter ScanBy is invalid."
            ))
            .into())
        }
    };
    let max_points = req
        .int("MaxDatapoints")?
        .unwrap_or(metrics::MAX_DATA_DATAPOINTS);
    let mut budget = usize::try_from(max_points)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid("The parameter MaxDatapoints must be greater than 0."))?;
    // The token is how many datapoints earlier pages returned, counted over the queries
    // in order.
    let first = match req.str("NextToken")? {
        Some(t) => t.parse::<usize>().map_err(|_| invalid_next_token())?,
        None => 0,
    };
    let mut skip = first;
    let mut returned = 0;
    let mut more = false;
    let mut results = Vec::new();
    for q in queries {
        let q = Input(q);
        let id = q.required_str("Id")?;
        if q.str("Expression")?.is_some() {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("Query {id}: metric math expressions are not supported by vpclambda; use MetricStat."),
            )
            .into());
        }
        let stat = q.field("MetricStat").ok_or_else(|| {
            AwsError::new(
                400,
                "ValidationError",
                format!("Query {id}: one of MetricStat or Expression must be given."),
            )
        })?;
        let stat = Input(stat);
        let metric = Input(stat.field("Metric").unwrap_or(&Value::Null));
        let id_of_metric = MetricId::new(
            metric.required_str("Namespace")?,
            metric.required_str("MetricName")?,
            &borrowed(&metric.dimensions("Dimensions")?),
        );
        let stat_name = stat.required_str("Stat")?;
        check_statistic(stat_name, "Stat")?;
        let window = Window {
            start_ms,
            end_ms,
            period_s: stat.required_int("Period")?,
        };
        window.check(metrics::MAX_DATA_DATAPOINTS)?;
        let unit = stat.unit("Unit")?;
        let mut points = store
            .read(|tx| metrics::statistics(tx, scope, &id_of_metric, &window, unit, now_ms))?;
        if q.bool("ReturnData")? == Some(false) {
            continue;
        }
        if newest_first {
            points.reverse();
        }
        let total = points.len();
        let skipped = skip.min(total);
        skip -= skipped;
        let points: Vec<Datapoint> = points.into_iter().skip(skipped).take(budget).collect();
        budget -= points.len();
        returned += points.len();
        let complete = skipped + points.len() == total;
        more |= !complete;
        let label = q.str("Label")?.unwrap_or(&id_of_metric.name).to_string();
        results.push(Doc::Map(vec![
            ("Id", Doc::Str(id.to_string())),
            ("Label", Doc::Str(label)),
            (
                "Timestamps",
                Doc::List(
                    points
                        .iter()
                        .map(|p| Doc::Time(p.at_ms as f64 / 1000.0))
                        .collect(),
                ),
            ),
            (
                "Values",
                Doc::List(
                    points
                        .iter()
                        .map(|p| Doc::Float(stat_value(&p.stats, stat_name)))
                        .collect(),
                ),
            ),
            (
                "StatusCode",
                Doc::Str(if complete { "Complete" } else { "PartialData" }.into()),
            ),
        ]));
    }
    let mut out = vec![
        ("MetricDataResults", Doc::List(results)),
        ("Messages", Doc::List(Vec::new())),
    ];
    if more {
        out.push(("NextToken", Doc::Str((first + returned).to_string())));
    }
    Ok(Doc::Map(out))
}

/// PutMetricData's datums as samples: a `Value`, `StatisticValues`, or `Values` with
/// optional `Counts`.
fn put_samples(req: &Input, now_ms: i64) -> Result<Vec<Sample>, Failure> {
    let namespace = req.required_str("Namespace")?;
    metrics::check_put_namespace(namespace)?;
    let data = req.list("MetricData")?;
    if data.is_empty() {
        return Err(
            MetricsError::MissingParameter("The parameter MetricData is required.".into()).into(),
        );
    }
    if data.len() > metrics::MAX_PUT_METRICS {
        return Err(invalid(&format!(
            "The collection MetricData must not have a size greater than {}.",
            metrics::MAX_PUT_METRICS
        ))
        .into());
    }
    let mut samples = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let d = Input(d);
        let n = i + 1;
        let metric = MetricId::new(
            namespace,
            d.required_str("MetricName")?,
            &borrowed(&d.dimensions("Dimensions")?),
        );
        metrics::check_metric(&metric)?;
        let at_ms = d.time("Timestamp")?.unwrap_or(now_ms);
        metrics::check_put_time(at_ms, now_ms, n)?;
        let unit = d.unit("Unit")?.map(str::to_string);
        let value = d.float("Value")?;
        let statistic = d.field("StatisticValues");
        let values = d.list("Values")?;
        if value.is_some() && statistic.is_some() {
            return Err(MetricsError::InvalidParameterCombination(format!(
                "The parameters MetricData.member.{n}.Value and MetricData.member.{n}.StatisticValues are mutually exclusive and you have specified both."
            ))
            .into());
        }
        let mut push = |stats: Stats| {
            samples.push(Sample {
                metric: metric.clone(),
                unit: unit.clone(),
                at_ms,
                stats,
            })
        };
        if let Some(v) = value {
            metrics::check_value(v)?;
            push(Stats::one(v));
        } else if let Some(s) = statistic {
            let s = Input(s);
            let stats = Stats {
                count: s.required_float("SampleCount")?,
                sum: s.required_float("Sum")?,
                min: s.required_float("Minimum")?,
                max: s.required_float("Maximum")?,
            };
            for v in [stats.count, stats.sum, stats.min, stats.max] {
                metrics::check_value(v)?;
            }
            if stats.count <= 0.0 || stats.min > stats.max {
                return Err(invalid(&format!(
                    "The parameter MetricData.member.{n}.StatisticValues is invalid."
                ))
                .into());
            }
            push(stats);
        } else if !values.is_empty() {
            let counts = d.list("Counts")?;
            if !counts.is_empty() && counts.len() != values.len() {
                return Err(invalid(&format!(
                    "The parameters MetricData.member.{n}.Values and MetricData.member.{n}.Counts must be of the same size."
                ))
                .into());
            }
            for (j, v) in values.iter().enumerate() {
                let v = number(v).ok_or_else(|| invalid("The parameter Values is invalid."))?;
                metrics::check_value(v)?;
                let c = match counts.get(j) {
                    Some(c) => {
                        number(c).ok_or_else(|| invalid("The parameter Counts is invalid."))?
                    }
                    None => 1.0,
                };
                push(Stats {
                    sum: v * c,
                    count: c,
                    min: v,
                    max: v,
                });
            }
        } else {
            return Err(MetricsError::InvalidParameterCombination(format!(
                "At least one of the parameters MetricData.member.{n}.Value, MetricData.member.{n}.StatisticValues or MetricData.member.{n}.Values must be specified."
            ))
            .into());
        }
    }
    Ok(samples)
}

fn invalid_next_token() -> AwsError {
    AwsError::new(
        400,
        "InvalidNextToken",
        "The service couldn't process your request because the next token is invalid.",
    )
}

fn invalid(message: &str) -> MetricsError {
    MetricsError::InvalidParameterValue(message.to_string())
}

fn missing(name: &str) -> MetricsError {
    MetricsError::MissingParameter(format!("The parameter {name} is required."))
}

/// A number in a tree: CBOR gives numbers, the query form strings.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Typed access to one structure of the request tree.
struct Input<'a>(&'a Value);

impl<'a> Input<'a> {
    fn field(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn str(&self, name: &str) -> Result<Option<&'a str>, Failure> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(&format!("The parameter {name} must be a string.")).into()),
        }
    }

    fn required_str(&self, name: &str) -> Result<&'a str, Failure> {
        self.str(name)?.ok_or_else(|| missing(name).into())
    }

    fn float(&self, name: &str) -> Result<Option<f64>, Failure> {
        match self.field(name) {
            None => Ok(None),
            Some(v) => number(v)
                .map(Some)
                .ok_or_else(|| invalid(&format!("The parameter {name} must be a number.")).into()),
        }
    }

    fn required_float(&self, name: &str) -> Result<f64, Failure> {
        self.float(name)?.ok_or_else(|| missing(name).into())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, Failure> {
        match self.float(name)? {
            None => Ok(None),
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            Some(_) => Err(invalid(&format!("The parameter {name} must be an integer.")).into()),
        }
    }

    fn required_int(&self, name: &str) -> Result<i64, Failure> {
        self.int(name)?.ok_or_else(|| missing(name).into())
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, Failure> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid(&format!("The parameter {name} must be a boolean.")).into()),
        }
    }

    /// A timestamp in Unix milliseconds: epoch seconds (CBOR) or ISO 8601 (query).
    fn time(&self, name: &str) -> Result<Option<i64>, Failure> {
        let bad = || invalid(&format!("The parameter {name} must be a timestamp."));
        match self.field(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let secs = n.as_f64().ok_or_else(bad)?;
                Ok(Some((secs * 1000.0).round() as i64))
            }
            Some(Value::String(s)) => {
                if let Ok(secs) = s.parse::<f64>() {
                    return Ok(Some((secs * 1000.0).round() as i64));
                }
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.timestamp_millis()))
                    .map_err(|_| bad().into())
            }
            Some(_) => Err(bad().into()),
        }
    }

    fn required_time(&self, name: &str) -> Result<i64, Failure> {
        self.time(name)?.ok_or_else(|| missing(name).into())
    }

    fn list(&self, name: &str) -> Result<&'a [Value], Failure> {
        match self.field(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(invalid(&format!("The parameter {name} must be a list.")).into()),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, Failure> {
        self.list(name)?
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => {
                    Err(invalid(&format!("The parameter {name} must be a list of strings.")).into())
                }
            })
            .collect()
    }

    fn dimensions(&self, name: &str) -> Result<Vec<(String, String)>, Failure> {
        self.list(name)?
            .iter()
            .map(|d| {
                let d = Input(d);
                Ok((
                    d.required_str("Name")?.to_string(),
                    d.required_str("Value")?.to_string(),
                ))
            })
            .collect()
    }

    fn unit(&self, name: &str) -> Result<Option<&'a str>, Failure> {
        match self.str(name)? {
            Some(u) if !UNITS.contains(&u) => {
                Err(invalid(&format!("The value {u} for parameter {name} is invalid.")).into())
            }
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Sends a signed RPC v2 CBOR call through the router; the status and decoded body.
    async fn cbor_call(app: &axum::Router, op: &str, input: &Value) -> (u16, HeaderMap, Value) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let mut body = Vec::new();
        ciborium::into_writer(input, &mut body).unwrap();
        let path = format!("{CBOR_PATH}{op}");
        let headers = [
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
        ];
        let req = crate::testing::signed(
            &crate::testing::Signing::for_service("monitoring"),
            "POST",
            &path,
            &headers,
            &body,
        );
        let resp = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let value = wire::document::from_cbor(&bytes).unwrap();
        (parts.status.as_u16(), parts.headers, value)
    }

    #[tokio::test]
    async fn rpc_v2_cbor_round_trip() {
        let (app, _dir) = crate::testing::app();
        let now = chrono::Utc::now().timestamp();
        let put = json!({"Namespace": "MyApp", "MetricData": [
            {"MetricName": "Hits", "Value": 3, "Unit": "Count"},
            {"MetricName": "Hits", "Value": 4, "Unit": "Count"}]});
        let (status, headers, _) = cbor_call(&app, "PutMetricData", &put).await;
        assert_eq!(status, 200);
        assert_eq!(headers["smithy-protocol"], "rpc-v2-cbor");
        let get = json!({"Namespace": "MyApp", "MetricName": "Hits", "StartTime": now - 600,
            "EndTime": now + 600, "Period": 3600, "Statistics": ["Sum", "SampleCount"]});
        let (status, _, out) = cbor_call(&app, "GetMetricStatistics", &get).await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["Datapoints"][0]["Sum"], 7.0);
        assert_eq!(out["Datapoints"][0]["SampleCount"], 2.0);
        assert!(out["Datapoints"][0]["Timestamp"].is_number());
        let reserved =
            json!({"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "x", "Value": 1}]});
        let (status, headers, out) = cbor_call(&app, "PutMetricData", &reserved).await;
        assert_eq!(status, 400);
        assert_eq!(out["__type"], "InvalidParameterValue");
        assert_eq!(
            headers["x-amzn-query-error"],
            "InvalidParameterValue;Sender"
        );
        let (status, _, out) = cbor_call(&app, "DeleteDashboards", &json!({})).await;
        assert_eq!(
            (status, out["__type"].as_str()),
            (404, Some("UnknownOperationException"))
        );
    }

    #[tokio::test]
    async fn old_data_follows_cloudwatch_retention() {
        let (app, _dir) = crate::testing::app();
        let now = chrono::Utc::now().timestamp();
        let day = 86_400;
        let put = |at| {
            json!({"Namespace": "Old", "MetricData": [
            {"MetricName": "m", "Value": 2, "Timestamp": at}]})
        };
        let (status, _, out) = cbor_call(&app, "PutMetricData", &put(now - 15 * day)).await;
        assert_eq!(
            (status, out["__type"].as_str()),
            (400, Some("InvalidParameterValue"))
        );
        assert_eq!(
            out["message"],
            "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks."
        );
        let (status, _, _) = cbor_call(&app, "PutMetricData", &put(now - 60)).await;
        assert_eq!(status, 200);
        // From 20 days ago data is kept per 5 minutes: a period of 60 s gives no datapoints.
        let values = |period| {
            let get = json!({"StartTime": now - 20 * day, "EndTime": now + 600,
                "MetricDataQueries": [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Old",
                "MetricName": "m"}, "Period": period, "Stat": "Sum"}}]});
            let app = app.clone();
            async move {
                let (status, _, out) = cbor_call(&app, "GetMetricData", &get).await;
                assert_eq!(status, 200, "{out}");
                out["MetricDataResults"][0]["Values"].clone()
            }
        };
        assert_eq!(values(60).await, json!([]));
        assert_eq!(values(300).await, json!([2.0]));
    }

    #[test]
    fn protocol_follows_the_request() {
        let mut h = HeaderMap::new();
        assert_eq!(protocol_of(&h, "/"), Protocol::Query { xmlns: XMLNS });
        assert_eq!(
            protocol_of(
                &h,
                "/service/GraniteServiceVersion20100801/operation/ListMetrics"
            ),
            Protocol::RpcV2Cbor
        );
        h.insert(
            "x-amz-target",
            "GraniteServiceVersion20100801.ListMetrics".parse().unwrap(),
        );
        assert_eq!(protocol_of(&h, "/"), Protocol::Json10);
        h.insert("smithy-protocol", "rpc-v2-cbor".parse().unwrap());
        assert_eq!(protocol_of(&h, "/"), Protocol::RpcV2Cbor);
    }

    #[test]
    fn put_metric_data_decodes_every_datum_form() {
        let input = json!({
            "Namespace": "MyApp",
            "MetricData": [
                {"MetricName": "a", "Value": 2, "Unit": "Count",
                 "Dimensions": [{"Name": "Stage", "Value": "prod"}]},
                {"MetricName": "b", "Timestamp": 1_700_000_000,
                 "StatisticValues": {"SampleCount": 2, "Sum": 5, "Minimum": 1, "Maximum": 4}},
                {"MetricName": "c", "Values": ["1", "3"], "Counts": ["2", "1"]},
            ]
        });
        let samples = put_samples(&Input(&input), 42).map_err(aws_error).unwrap();
        assert_eq!(samples.len(), 4);
        assert_eq!(
            samples[0].metric.dimensions,
            vec![("Stage".into(), "prod".into())]
        );
        assert_eq!(samples[0].at_ms, 42);
        assert_eq!(samples[1].at_ms, 1_700_000_000_000);
        assert_eq!(samples[1].stats.average(), 2.5);
        assert_eq!(samples[2].stats.sum, 2.0);
        assert_eq!(samples[2].stats.count, 2.0);
    }

    #[test]
    fn put_metric_data_refuses_what_cloudwatch_refuses() {
        let err = |input: Value| aws_error(put_samples(&Input(&input), 0).unwrap_err());
        let e = err(
            json!({"Namespace": "AWS/Lambda", "MetricData": [{"MetricName": "x", "Value": 1}]}),
        );
        assert_eq!(
            (e.code.as_str(), e.status.as_u16()),
            ("InvalidParameterValue", 400)
        );
        assert_eq!(
            e.message,
            "The value AWS/Lambda for parameter Namespace is invalid."
        );
        let e = err(
            json!({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1,
            "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]}),
        );
        assert_eq!(e.code, "InvalidParameterCombination");
        let e = err(json!({"MetricData": []}));
        assert_eq!(e.code, "MissingParameter");
        let e = err(
            json!({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1, "Unit": "Furlongs"}]}),
        );
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn timestamps_come_as_seconds_or_iso_8601() {
        let input = json!({"A": 1_700_000_000.5, "B": "2023-11-14T22:13:20Z", "C": "x"});
        let i = Input(&input);
        assert_eq!(i.time("A").ok().flatten(), Some(1_700_000_000_500));
        assert_eq!(i.time("B").ok().flatten(), Some(1_700_000_000_000));
        assert!(i.time("C").is_err());
        assert!(i.time("D").ok().flatten().is_none());
    }
}
