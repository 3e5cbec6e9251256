//! The CloudWatch Logs wire adapter (JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`): decodes
//! requests, calls `control::logs`, encodes responses.

use std::sync::Arc;

use bytes::Bytes;
use control::logs::{
    self, Cursor, FilterPattern, FilterQuery, LogGroup, LogStream, LogsError, TimeWindow,
};
use control::Scope;
use http::Response;
use serde_json::{json, Value};
use wire::AwsError;

use super::{unknown_json_operation, Call};
use crate::server::AppState;

const TARGET_PREFIX: &str = "Logs_20140328.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Either a domain error or a wire-level one; turned into one AWS error at the end.
enum Failure {
    Logs(LogsError),
    Wire(AwsError),
}

impl From<LogsError> for Failure {
    fn from(e: LogsError) -> Self {
        Failure::Logs(e)
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Wire(e)
    }
}

/// The one mapping from Logs domain errors to AWS's codes.
fn aws_error(f: Failure) -> AwsError {
    match f {
        Failure::Wire(e) => e,
        Failure::Logs(e) => {
            let message = e.to_string();
            match e {
                LogsError::GroupNotFound | LogsError::StreamNotFound => {
                    AwsError::new(400, "ResourceNotFoundException", message)
                }
                LogsError::GroupExists | LogsError::StreamExists => {
                    AwsError::new(400, "ResourceAlreadyExistsException", message)
                }
                LogsError::InvalidParameter(_) => {
                    AwsError::new(400, "InvalidParameterException", message)
                }
                LogsError::Store(e) => {
                    tracing::error!(error = %e, "logs store failure");
                    AwsError::new(
                        500,
                        "ServiceUnavailableException",
                        "The service cannot complete the request.",
                    )
                }
            }
        }
    }
}

pub fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    operation(state, call).map_err(aws_error)
}

fn operation(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, Failure> {
    let op = call
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .ok_or_else(|| unknown_json_operation(call))?;
    let input: Value = if call.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&call.body).map_err(|e| {
            AwsError::new(
                400,
                "SerializationException",
                format!("Could not parse the request body: {e}"),
            )
        })?
    };
    let req = Input(&input);
    let scope = Scope::new(call.account.account_id.clone(), call.region.clone());
    let now = chrono::Utc::now().timestamp_millis();
    let store = &state.store;
    let out = match op {
        "CreateLogGroup" => {
            let name = req.required_str("logGroupName")?;
            store.write(|tx| logs::create_group(tx, &scope, name, now))?;
            json!({})
        }
        "DeleteLogGroup" => {
            let name = req.required_str("logGroupName")?;
            store.write(|tx| logs::delete_group(tx, &scope, name))?;
            json!({})
        }
        "PutRetentionPolicy" => {
            let name = req.required_str("logGroupName")?;
            let days = req
                .int("retentionInDays")?
                .ok_or_else(|| missing("retentionInDays"))?;
            let days = u32::try_from(days).map_err(|_| invalid("retentionInDays"))?;
            store.write(|tx| logs::put_retention(tx, &scope, name, Some(days)))?;
            json!({})
        }
        "DeleteRetentionPolicy" => {
            let name = req.required_str("logGroupName")?;
            store.write(|tx| logs::put_retention(tx, &scope, name, None))?;
            json!({})
        }
        "DescribeLogGroups" => {
            let limit = req.limit(50, 50)?;
            let groups = store.read(|tx| {
                logs::list_groups(
                    tx,
                    &scope,
                    req.str("logGroupNamePrefix"),
                    req.str("logGroupNamePattern"),
                )
            })?;
            let after = req.str("nextToken");
            let rest: Vec<&LogGroup> = groups
                .iter()
                .filter(|g| after.is_none_or(|a| g.name.as_str() > a))
                .collect();
            let page: Vec<Value> = rest
                .iter()
                .take(limit)
                .map(|g| group_json(&scope, g))
                .collect();
            let mut out = json!({ "logGroups": page });
            if rest.len() > limit {
                out["nextToken"] = json!(rest[limit - 1].name);
            }
            out
        }
        "CreateLogStream" => {
            let group = req.required_str("logGroupName")?;
            let name = req.required_str("logStreamName")?;
            store.write(|tx| logs::create_stream(tx, &scope, group, name, now))?;
            json!({})
        }
        "DeleteLogStream" => {
            let group = req.required_str("logGroupName")?;
            let name = req.required_str("logStreamName")?;
            store.write(|tx| logs::delete_stream(tx, &scope, group, name))?;
            json!({})
        }
        "DescribeLogStreams" => {
            let group = req.group_name()?;
            let limit = req.limit(50, 50)?;
            let mut streams = store.read(|tx| {
                logs::list_streams(
                    tx,
                    &scope,
                    group,
                    req.str("logStreamNamePrefix").unwrap_or(""),
                )
            })?;
            if req.str("orderBy") == Some("LastEventTime") {
                streams.sort_by_key(|s| s.last_event_timestamp.unwrap_or(s.creation_time));
            }
            if req.bool("descending") {
                streams.reverse();
            }
            let offset = req.offset_token()?;
            let page: Vec<Value> = streams
                .iter()
                .skip(offset)
                .take(limit)
                .map(|s| stream_json(&scope, s))
                .collect();
            let mut out = json!({ "logStreams": page });
            if offset + limit < streams.len() {
                out["nextToken"] = json!((offset + limit).to_string());
            }
            out
        }
        "PutLogEvents" => {
            let group = req.required_str("logGroupName")?;
            let stream = req.required_str("logStreamName")?;
            let events = input
                .get("logEvents")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("logEvents"))?
                .iter()
                .map(|e| {
                    let ts = e
                        .get("timestamp")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| missing("timestamp"))?;
                    let msg = e
                        .get("message")
                        .and_then(Value::as_str)
                        .ok_or_else(|| missing("message"))?;
                    Ok((ts, msg.to_string()))
                })
                .collect::<Result<Vec<_>, AwsError>>()?;
            store.write(|tx| logs::put_events(tx, &scope, group, stream, &events, now))?;
            json!({ "nextSequenceToken": now.to_string() })
        }
        "GetLogEvents" => {
            let group = req.group_name()?;
            let stream = req.required_str("logStreamName")?;
            let cursor = match req.str("nextToken") {
                Some(t) => Cursor::from_token(t)?,
                None if req.bool("startFromHead") => Cursor::Head,
                None => Cursor::Tail,
            };
            let limit = req.limit(logs::MAX_EVENTS, logs::MAX_EVENTS)?;
            let window = req.window()?;
            let page = store
                .read(|tx| logs::get_events(tx, &scope, group, stream, cursor, window, limit))?;
            let events: Vec<Value> = page
                .events
                .iter()
                .map(|e| json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}))
                .collect();
            json!({
                "events": events,
                "nextForwardToken": page.next_forward,
                "nextBackwardToken": page.next_backward,
            })
        }
        "FilterLogEvents" => {
            let group = req.group_name()?;
            let names: Vec<String> = input
                .get("logStreamNames")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let pattern = FilterPattern::parse(req.str("filterPattern").unwrap_or(""))?;
            let limit = req.limit(logs::MAX_EVENTS, logs::MAX_EVENTS)?;
            let offset = req.offset_token()?;
            let query = FilterQuery {
                stream_names: names,
                stream_prefix: req.str("logStreamNamePrefix").map(str::to_string),
                window: req.window()?,
                pattern,
                offset,
                limit,
            };
            let page = store.read(|tx| logs::filter_events(tx, &scope, group, &query))?;
            let events: Vec<Value> = page
                .events
                .iter()
                .map(|e| {
                    json!({
                        "logStreamName": e.stream,
                        "timestamp": e.timestamp,
                        "message": e.message,
                        "ingestionTime": e.ingestion_time,
                        "eventId": format!("{}-{}-{}", e.timestamp, e.stream, e.seq),
                    })
                })
                .collect();
            let searched: Vec<Value> = page
                .searched
                .iter()
                .map(|s| json!({"logStreamName": s, "searchedCompletely": true}))
                .collect();
            let mut out = json!({ "events": events, "searchedLogStreams": searched });
            if let Some(next) = page.next_offset {
                out["nextToken"] = json!(next.to_string());
            }
            out
        }
        _ => return Err(unknown_json_operation(call).into()),
    };
    Ok(wire::response::json(
        200,
        &out,
        CONTENT_TYPE,
        &call.request_id,
    ))
}

fn group_json(scope: &Scope, g: &LogGroup) -> Value {
    let arn = format!(
        "arn:aws:logs:{}:{}:log-group:{}",
        scope.region, scope.account, g.name
    );
    let mut v = json!({
        "logGroupName": g.name,
        "creationTime": g.creation_time,
        "metricFilterCount": 0,
        "arn": format!("{arn}:*"),
        "logGroupArn": arn,
        "storedBytes": g.stored_bytes,
        "logGroupClass": "STANDARD",
    });
    if let Some(days) = g.retention_in_days {
        v["retentionInDays"] = json!(days);
    }
    v
}

fn stream_json(scope: &Scope, s: &LogStream) -> Value {
    let mut v = json!({
        "logStreamName": s.name,
        "creationTime": s.creation_time,
        "arn": format!("arn:aws:logs:{}:{}:log-group:{}:log-stream:{}", scope.region, scope.account, s.group, s.name),
        "storedBytes": s.stored_bytes,
    });
    if let Some(t) = s.first_event_timestamp {
        v["firstEventTimestamp"] = json!(t);
    }
    if let Some(t) = s.last_event_timestamp {
        v["lastEventTimestamp"] = json!(t);
    }
    if let Some(t) = s.last_ingestion_time {
        v["lastIngestionTime"] = json!(t);
    }
    v
}

fn missing(name: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterException",
        format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
    )
}

fn invalid(name: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterException",
        format!("Invalid value for parameter {name}"),
    )
}

/// Typed access to a JSON request body.
struct Input<'a>(&'a Value);

impl<'a> Input<'a> {
    fn str(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).and_then(Value::as_str)
    }

    fn required_str(&self, name: &str) -> Result<&'a str, AwsError> {
        self.str(name).ok_or_else(|| missing(name))
    }

    fn bool(&self, name: &str) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    fn int(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| invalid(name)),
        }
    }

    /// `logGroupName`, or the name inside a `logGroupIdentifier` ARN.
    fn group_name(&self) -> Result<&'a str, AwsError> {
        if let Some(name) = self.str("logGroupName") {
            return Ok(name);
        }
        let id = self.required_str("logGroupIdentifier")?;
        Ok(id
            .split_once(":log-group:")
            .map(|(_, rest)| rest.trim_end_matches(":*"))
            .unwrap_or(id))
    }

    fn window(&self) -> Result<TimeWindow, AwsError> {
        Ok(TimeWindow {
            start: self.int("startTime")?,
            end: self.int("endTime")?,
        })
    }

    fn limit(&self, default: usize, max: usize) -> Result<usize, AwsError> {
        match self.int("limit")? {
            None => Ok(default),
            Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
            Some(_) => Err(invalid("limit")),
        }
    }

    fn offset_token(&self) -> Result<usize, AwsError> {
        self.str("nextToken")
            .map(|t| {
                t.parse().map_err(|_| {
                    AwsError::new(
                        400,
                        "InvalidParameterException",
                        "The specified nextToken is invalid.",
                    )
                })
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
