//! Destinations of Event invocations: the invocation record Lambda sends to an `OnSuccess`
//! or `OnFailure` destination once an event is done with (it succeeded, its retries ran out,
//! or it grew older than its maximum age), and the record's delivery — an Event invocation of
//! the destination function, after the checks Lambda makes then (the function exists, the
//! source's execution role may invoke it, the record fits an Event payload). A record that
//! cannot be delivered counts in the source's `DestinationDeliveryFailures`.
//! Owns the record's shape; the queue decides when an event is done.

use base64::Engine;
use bytes::Bytes;
use control::lambda::{function_arn, EventPolicy, FunctionRef, LATEST};
use control::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::metrics::Metric;
use super::queue::QueuedEvent;
use super::{subject, InvokeError, Invoker};

/// An Event invocation carries at most this much payload, a record as well.
const EVENT_PAYLOAD_LIMIT: usize = 1_048_576;

/// How an event ended, in the record's `requestContext.condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// What one attempt answered, as the record's `responseContext` and `responsePayload`
/// report it; kept with a queued event so a record after its last attempt has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptResponse {
    pub status_code: u16,
    /// The version that ran (none when the attempt failed before code ran).
    pub executed_version: Option<String>,
    pub function_error: bool,
    /// base64.
    payload: String,
}

impl AttemptResponse {
    /// The function ran (and answered, or failed with `function_error`).
    pub fn ran(executed_version: &str, function_error: bool, payload: &[u8]) -> Self {
        AttemptResponse {
            status_code: 200,
            executed_version: Some(executed_version.to_string()),
            function_error,
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
        }
    }

    /// The attempt failed before code ran: Lambda's error, as Invoke would have answered.
    pub fn refused(e: &InvokeError) -> Self {
        let (status_code, error_type) = match e {
            InvokeError::NetworkFailed { code, .. } => (502, *code),
            InvokeError::InvalidRuntime(_) => (502, "InvalidRuntimeException"),
            InvokeError::Inactive => (502, "ResourceNotReadyException"),
            InvokeError::NotInvocable(_) => (409, "ResourceConflictException"),
            _ => (500, "ServiceException"),
        };
        let body = json!({ "errorType": error_type, "errorMessage": e.to_string() });
        AttemptResponse {
            status_code,
            executed_version: None,
            function_error: false,
            payload: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        }
    }

    pub fn payload(&self) -> Bytes {
        base64::engine::general_purpose::STANDARD
            .decode(&self.payload)
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

/// The invocation record (version 1.0) of an event of `function_arn` that ended with
/// `condition` after `invoke_count` attempts, the last of which answered `response`.
pub fn record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    invoke_count: u32,
    request_payload: &[u8],
    response: Option<&AttemptResponse>,
    at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let mut record = json!({
        "version": "1.0",
        "timestamp": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": json_or_text(request_payload),
    });
    if let Some(r) = response {
        let mut context = json!({ "statusCode": r.status_code });
        if let Some(v) = &r.executed_version {
            context["executedVersion"] = json!(v);
        }
        if r.function_error {
            context["functionError"] = json!("Unhandled");
        }
        record["responseContext"] = context;
        record["responsePayload"] = json_or_text(&r.payload());
    }
    record
}

/// A payload as JSON: `null` when empty, a string when it is not JSON.
fn json_or_text(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Invoker {
    /// The settings an Event invocation of `fref` runs under; Lambda's defaults when they
    /// cannot be read (logged).
    pub(super) async fn event_policy(&self, scope: &Scope, fref: &FunctionRef) -> EventPolicy {
        let (lambda, scope2, fref2) = (self.lambda.clone(), scope.clone(), fref.clone());
        match tokio::task::spawn_blocking(move || lambda.event_policy(&scope2, &fref2)).await {
            Ok(Ok(policy)) => policy,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reading the function's event invoke config failed; using the defaults");
                EventPolicy::default()
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the function's event invoke config panicked; using the defaults");
                EventPolicy::default()
            }
        }
    }

    /// Sends the record of `event`, which ended with `condition`, to the destination its
    /// `policy` names for that condition, if any.
    pub(super) async fn conclude(
        &self,
        scope: &Scope,
        event: &QueuedEvent,
        policy: &EventPolicy,
        condition: Condition,
        response: Option<&AttemptResponse>,
    ) {
        let destination = match condition {
            Condition::Success => &policy.on_success,
            Condition::RetriesExhausted | Condition::EventAgeExceeded => &policy.on_failure,
        };
        let Some(arn) = destination else { return };
        let source = event.function_ref();
        let invoked = function_arn(
            scope,
            &source.name,
            Some(source.qualifier.as_deref().unwrap_or(LATEST)),
        );
        let invoke_count = match condition {
            Condition::Success => event.attempts() + 1,
            _ => event.attempts(),
        };
        let record = record(
            &event.request_id,
            &invoked,
            condition,
            invoke_count,
            &event.payload(),
            response,
            chrono::Utc::now(),
        );
        self.deliver(scope, &source, arn, Bytes::from(record.to_string()))
            .await;
    }

    /// Queues `record` as an Event invocation of the function `arn` names.
    async fn deliver(&self, scope: &Scope, source: &FunctionRef, arn: &str, record: Bytes) {
        let failed = |why: &str| {
            tracing::warn!(destination = %arn, reason = %why, "the invocation record could not be delivered");
            self.metrics.record(
                &subject(scope, source),
                Metric::DestinationDeliveryFailures,
                1.0,
            );
        };
        if record.len() > EVENT_PAYLOAD_LIMIT {
            return failed("the record is larger than an Event payload may be");
        }
        let (lambda, scope2, source2, arn2) = (
            self.lambda.clone(),
            scope.clone(),
            source.clone(),
            arn.to_string(),
        );
        let target = match tokio::task::spawn_blocking(move || {
            lambda.delivery_target(&scope2, &source2, &arn2)
        })
        .await
        {
            Ok(Ok(target)) => target,
            Ok(Err(e)) => return failed(&e.to_string()),
            Err(e) => return failed(&e.to_string()),
        };
        let request_id = wire::new_request_id();
        match self
            .queue
            .enqueue(scope, &target, &request_id, &record)
            .await
        {
            Ok(()) => {
                tracing::info!(destination = %arn, %request_id, "invocation record queued");
                self.metrics
                    .record(&subject(scope, &target), Metric::AsyncEventsReceived, 1.0);
            }
            Err(e) => failed(&e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn records_look_like_lambdas() {
        let at = chrono::Utc
            .timestamp_millis_opt(1_574_637_167_333)
            .single()
            .unwrap();
        let failed = AttemptResponse::ran(
            "$LATEST",
            true,
            br#"{"errorMessage":"boom","errorType":"EchoError"}"#,
        );
        let r = record(
            "rid",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            Condition::RetriesExhausted,
            1,
            br#"{"error":"boom"}"#,
            Some(&failed),
            at,
        );
        assert_eq!(
            r,
            json!({
                "version": "1.0",
                "timestamp": "2019-11-24T23:12:47.333Z",
                "requestContext": {
                    "requestId": "rid",
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 1,
                },
                "requestPayload": {"error": "boom"},
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": {"errorMessage": "boom", "errorType": "EchoError"},
            })
        );
        let ok = AttemptResponse::ran("3", false, b"");
        let r = record("rid", "arn", Condition::Success, 2, b"{}", Some(&ok), at);
        assert_eq!(r["responsePayload"], Value::Null);
        assert_eq!(
            r["responseContext"],
            json!({"statusCode": 200, "executedVersion": "3"})
        );
        let r = record(
            "rid",
            "arn",
            Condition::EventAgeExceeded,
            0,
            b"{}",
            None,
            at,
        );
        assert_eq!(r["requestContext"]["condition"], "EventAgeExceeded");
        assert!(r.get("responseContext").is_none() && r.get("responsePayload").is_none());
        assert_eq!(json_or_text(b"not json"), json!("not json"));
    }

    #[test]
    fn refusals_carry_lambdas_error() {
        let r = AttemptResponse::refused(&InvokeError::InvalidRuntime("bad".into()));
        assert_eq!(r.status_code, 502);
        assert!(r.executed_version.is_none() && !r.function_error);
        let body: Value = serde_json::from_slice(&r.payload()).unwrap();
        assert_eq!(body["errorType"], "InvalidRuntimeException");
    }
}
