//! Invoke's wire adapter (`POST /2015-03-31/functions/{name}/invocations`): the
//! `X-Amz-*` request headers and the payload in, the function's answer and Lambda's
//! response headers out; and the deprecated InvokeAsync
//! (`POST /2014-11-13/functions/{name}/invoke-async`), an Event invocation. The invocation
//! itself is [`crate::invoke`]'s.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use control::lambda::{FunctionRef, LambdaError, NameShape};
use http::{HeaderValue, Response, StatusCode};
use wire::AwsError;

use super::errors;
use super::Request;
use crate::invoke::{InvocationType, InvokeError, InvokeRequest, Invoked};
use crate::server::AppState;

/// Lambda's limit on `X-Amz-Client-Context`, in bytes of base64.
const CLIENT_CONTEXT_LIMIT: usize = 3583;
/// Event invocations carry at most this much payload.
const EVENT_PAYLOAD_LIMIT: usize = 1_048_576;

pub async fn invoke(
    state: &Arc<AppState>,
    req: &Request,
    f: &str,
) -> Result<Response<Bytes>, AwsError> {
    let parsed = parse(req, f).map_err(errors::invoke_to_aws)?;
    super::policy::authorize_invoke(state, req, &parsed.scope, &parsed.function).await?;
    let tail = parsed.tail;
    let invoked = state
        .invoke
        .invoke(parsed)
        .await
        .map_err(errors::invoke_to_aws)?;
    Ok(match invoked {
        Invoked::Checked => req.empty(204),
        Invoked::Queued => req.empty(202),
        Invoked::Ran {
            executed_version,
            answer,
            log_tail,
        } => {
            let mut resp = Response::new(answer.payload);
            *resp.status_mut() = StatusCode::OK;
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            if answer.function_error {
                h.insert(
                    "x-amz-function-error",
                    HeaderValue::from_static("Unhandled"),
                );
            }
            if let Some(t) = log_tail.filter(|_| tail) {
                if let Ok(v) = HeaderValue::from_str(&t) {
                    h.insert("x-amz-log-result", v);
                }
            }
            wire::response::set_request_id(&mut resp, &req.request_id);
            resp
        }
    })
}

/// InvokeAsync: the body is the event, queued as Invoke's `Event` type queues it; `202`
/// (botocore's `Status`).
pub async fn invoke_async(
    state: &Arc<AppState>,
    req: &Request,
    f: &str,
) -> Result<Response<Bytes>, AwsError> {
    let parsed = parse_async(req, f).map_err(errors::invoke_to_aws)?;
    state
        .invoke
        .invoke(parsed)
        .await
        .map_err(errors::invoke_to_aws)?;
    Ok(req.empty(202))
}

fn parse_async(req: &Request, f: &str) -> Result<InvokeRequest, InvokeError> {
    let function = FunctionRef::parse(f, NameShape::Namespaced, &req.scope, "InvokeAsync")?;
    Ok(InvokeRequest {
        scope: req.scope.clone(),
        function,
        kind: InvocationType::Event,
        tail: false,
        payload: payload(req, InvocationType::Event)?,
        client_context: None,
        request_id: req.request_id.clone(),
        trace_header: header(req, "x-amzn-trace-id").map(str::to_string),
    })
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse(req: &Request, f: &str) -> Result<InvokeRequest, InvokeError> {
    // A function of another account runs in its owner's scope, once `invoke` has checked
    // the owner's policy.
    let (function, owner) = FunctionRef::parse_with_owner(f, NameShape::Namespaced, &req.scope)?;
    let function = function.with_qualifier(req.param("Qualifier"))?;
    let kind = match header(req, "x-amz-invocation-type") {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(LambdaError::Validation(vec![format!(
                "Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )])
            .into())
        }
    };
    let tail = match header(req, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(LambdaError::Validation(vec![format!(
                "Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            )])
            .into())
        }
    };
    let client_context = match header(req, "x-amz-client-context") {
        None | Some("") => None,
        Some(raw) if raw.len() > CLIENT_CONTEXT_LIMIT => {
            return Err(LambdaError::Validation(vec![format!(
                "Value '{raw}' at 'clientContext' failed to satisfy constraint: Member must have length less than or equal to {CLIENT_CONTEXT_LIMIT}"
            )])
            .into())
        }
        Some(raw) => Some(decode_client_context(raw)?),
    };
    Ok(InvokeRequest {
        scope: owner,
        function,
        kind,
        tail,
        payload: payload(req, kind)?,
        client_context,
        request_id: req.request_id.clone(),
        trace_header: header(req, "x-amzn-trace-id").map(str::to_string),
    })
}

/// The event: `{}` when the caller sent nothing (as Lambda hands it), refused before
/// anything runs when it is not JSON or, queued, larger than an Event may be.
fn payload(req: &Request, kind: InvocationType) -> Result<Bytes, InvokeError> {
    if kind == InvocationType::Event && req.body.len() > EVENT_PAYLOAD_LIMIT {
        return Err(InvokeError::PayloadTooLarge(EVENT_PAYLOAD_LIMIT));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&req.body).map_err(|e| {
        LambdaError::InvalidRequestContent(format!("Could not parse payload into json: {e}"))
    })?;
    Ok(req.body.clone())
}

fn decode_client_context(raw: &str) -> Result<String, InvokeError> {
    let invalid = || {
        InvokeError::InvalidRequest(
            "Client context must be a valid Base64-encoded JSON object.".into(),
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
        .map_err(|_| invalid())?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_must_be_base64_json() {
        let ok = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"a":"b"}}"#);
        assert_eq!(
            decode_client_context(&ok).unwrap(),
            r#"{"custom":{"a":"b"}}"#
        );
        assert!(decode_client_context("not base64!").is_err());
        let not_json = base64::engine::general_purpose::STANDARD.encode("[1]");
        assert!(decode_client_context(&not_json).is_err());
    }
}
