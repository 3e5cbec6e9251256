//! The front door: every AWS request arrives here, is authenticated with SigV4, routed on
//! its credential scope's service, size-limited while its body is read, and handed to the
//! service. Every response, success or error, carries a request id; every error is in the
//! protocol's own envelope — never a hang, never a bare 500.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use wire::{AwsError, Protocol, QueryParams};

use crate::auth;
use crate::server::AppState;
use crate::services::{self, Call, Service};

/// The fallback handler for all AWS traffic.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if services::s3::is_s3(&parts) {
        // S3 streams its bodies and checks its own signatures (chunked, trailers, SigV2);
        // its operations are counted by method, as its routing is the s3s service's.
        let (started, method) = (std::time::Instant::now(), parts.method.clone());
        let resp = services::s3::handle(&state.s3, Request::from_parts(parts, body)).await;
        crate::telemetry::global().api_request(
            "s3",
            method.as_str(),
            resp.status(),
            started.elapsed(),
        );
        return resp;
    }
    let request_id = wire::new_request_id();
    let resp = match serve(&state, parts, body, &request_id).await {
        Ok(resp) => resp,
        Err((protocol, err)) => {
            if err.status.is_server_error() {
                tracing::error!(%request_id, code = %err.code, message = %err.message, "request failed");
            } else {
                tracing::debug!(%request_id, code = %err.code, message = %err.message, "request refused");
            }
            err.into_response(protocol, &request_id)
        }
    };
    resp.map(Body::from)
}

type Failure = (Protocol, AwsError);

async fn serve(
    state: &Arc<AppState>,
    parts: Parts,
    body: Body,
    request_id: &str,
) -> Result<http::Response<Bytes>, Failure> {
    let headers_only = sigv4::SignedRequest::new(&parts, &[]);
    let parsed = match sigv4::parse(&headers_only) {
        Ok(p) => p,
        Err(e) => {
            let service = sniff(&parts, body).await;
            let protocol = service.protocol_for(&parts.headers, parts.uri.path());
            return Err((protocol, auth::signature_error(service, &e)));
        }
    };
    let cred = &parsed.credential;
    let Some(service) = Service::from_signing_name(&cred.service) else {
        return Err((
            Protocol::Json11,
            AwsError::new(
                400,
                "UnknownServiceException",
                format!("vpclambda does not serve the '{}' service; it serves lambda, ec2, iam, sts, logs, monitoring and s3.", cred.service),
            ),
        ));
    };
    let protocol = service.protocol_for(&parts.headers, parts.uri.path());
    if has_dot_or_empty_segments(parts.uri.path()) {
        // The verifier accepts a signature over the normalised path; routing on the raw one
        // would let `/a/../b` pass as `/b`. No AWS client sends such paths.
        return Err((
            protocol,
            AwsError::new(
                400,
                "MalformedRequest",
                "The request path must not contain empty, '.' or '..' segments.",
            ),
        ));
    }
    if !control::regions::is_known(&cred.region) {
        return Err((protocol, auth::bad_region(service, &cred.region)));
    }
    let (account, session) = match state.accounts.lookup(&cred.access_key_id) {
        Some(account) => (account.clone(), None),
        None => {
            let session = temporary_credentials(state, &parsed, service)
                .await
                .map_err(|e| (protocol, e))?;
            (session.account(), Some(session))
        }
    };
    let (limit, too_large) = service.body_limit(parts.uri.path());
    let body = read_body(&parts, body, limit)
        .await
        .map_err(|e| (protocol, e.unwrap_or(too_large)))?;
    let signed = sigv4::SignedRequest::new(&parts, &body);
    sigv4::verify(
        &parsed,
        &signed,
        &account.secret_access_key,
        chrono::Utc::now(),
        &state.sig_policy,
    )
    .map_err(|e| (protocol, auth::signature_error(service, &e)))?;
    let peer = crate::endpoints::peer_of(&parts.extensions);
    let call = Call {
        region: cred.region.clone(),
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        request_id: request_id.to_string(),
        account,
        session,
    };
    let operation = crate::telemetry::operation(service, &call);
    let started = std::time::Instant::now();
    let answered = match through_endpoint(peer, service, &operation, &call) {
        Ok(()) => services::dispatch(service, state, call).await,
        Err(e) => Err(e),
    };
    let (status, code) = match &answered {
        Ok(resp) => (resp.status(), None),
        Err(e) => (e.status, Some(e.code.as_str())),
    };
    crate::telemetry::global().api_request(
        service.signing_name(),
        &crate::telemetry::answered_operation(operation, code),
        status,
        started.elapsed(),
    );
    answered.map_err(|e| (protocol, e))
}

/// A request that came through a VPC endpoint must be allowed by its endpoint policy.
fn through_endpoint(
    peer: Option<crate::endpoints::Peer>,
    service: Service,
    operation: &str,
    call: &Call,
) -> Result<(), AwsError> {
    let Some((via, ip)) = peer.and_then(|p| p.via.map(|via| (via, p.ip))) else {
        return Ok(());
    };
    match crate::endpoints::access::Question::of(service, operation, call) {
        Some(question) => crate::endpoints::access::check(&via, ip, service, &question, call),
        None => Ok(()),
    }
}

/// The session of temporary credentials (an execution environment's), if the access key
/// is one and the request carries its session token; expired ones are refused.
async fn temporary_credentials(
    state: &Arc<AppState>,
    parsed: &sigv4::Parsed,
    service: Service,
) -> Result<control::sts::Session, AwsError> {
    let key = parsed.credential.access_key_id.clone();
    if !key.starts_with("ASIA") {
        return Err(auth::unknown_key(service));
    }
    let store = state.store.clone();
    let found =
        tokio::task::spawn_blocking(move || store.read(|tx| control::sts::session(tx, &key)))
            .await
            .map_err(|_| AwsError::internal())?
            .map_err(|e| {
                tracing::error!(error = %e, "looking up a session");
                AwsError::internal()
            })?;
    let Some(session) = found.filter(|s| parsed.security_token() == Some(s.session_token.as_str()))
    else {
        return Err(auth::unknown_key(service));
    };
    if session.expires_at <= chrono::Utc::now().timestamp_millis() {
        return Err(auth::expired_token(service));
    }
    Ok(session)
}

fn has_dot_or_empty_segments(path: &str) -> bool {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    !trimmed.is_empty()
        && trimmed
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
}

/// Reads the body, refusing it as soon as it passes `limit` (declared or actual). `Err(None)`
/// means "too large"; `Err(Some(_))` is a broken transfer.
async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, Option<AwsError>> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(None);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(None),
        Err(e) => Err(Some(AwsError::new(
            400,
            "IncompleteBody",
            format!("The request body could not be read: {e}"),
        ))),
    }
}

/// Guesses the service of an unsigned request from its shape, so even "you forgot to sign"
/// comes back in an envelope the client can parse.
async fn sniff(parts: &Parts, body: Body) -> Service {
    if parts.uri.path().starts_with("/service/") || parts.headers.contains_key("smithy-protocol") {
        return Service::Monitoring;
    }
    let target = parts.headers.get("x-amz-target");
    if target.is_some_and(|t| t.as_bytes().starts_with(b"GraniteServiceVersion20100801.")) {
        return Service::Monitoring;
    }
    if target.is_some() {
        return Service::Logs;
    }
    if parts.uri.path().starts_with("/20") {
        return Service::Lambda;
    }
    let bytes = Limited::new(body, services::DEFAULT_REQUEST_LIMIT)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut params = QueryParams::parse(&bytes).unwrap_or_default();
    if let Some(q) = parts.uri.query() {
        params.merge_missing(QueryParams::parse(q.as_bytes()).unwrap_or_default());
    }
    match params.get("Version") {
        Some("2016-11-15") => Service::Ec2,
        Some("2010-05-08") => Service::Iam,
        Some("2010-08-01") => Service::Monitoring,
        _ => Service::Sts,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use crate::testing::{app, send, signed, Signing};

    const STS_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
    const FORM: (&str, &str) = (
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );

    #[tokio::test]
    async fn header_signed_sts_call_answers_with_request_id() {
        let (app, _dir) = app();
        let req = signed(&Signing::for_service("sts"), "POST", "/", &[FORM], STS_BODY);
        let (status, headers, body) = send(&app, req).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<Account>000000000000</Account>"));
        let rid = headers["x-amzn-requestid"].to_str().unwrap();
        assert!(body.contains(&format!("<RequestId>{rid}</RequestId>")));
    }

    #[tokio::test]
    async fn presigned_query_form_is_accepted_and_expires() {
        let (app, _dir) = app();
        let mut s = Signing::for_service("sts");
        s.presign = Some(Duration::from_secs(60));
        let target = "/?Action=GetCallerIdentity&Version=2011-06-15";
        let (status, _, body) = send(&app, signed(&s, "GET", target, &[], b"")).await;
        assert_eq!(status, 200, "{body}");
        s.time = SystemTime::now() - Duration::from_secs(120);
        let (status, _, body) = send(&app, signed(&s, "GET", target, &[], b"")).await;
        assert_eq!(status, 403, "{body}");
    }

    #[tokio::test]
    async fn unknown_keys_in_each_services_words() {
        let (app, _dir) = app();
        for (service, status, code) in [
            ("sts", 403, "InvalidClientTokenId"),
            ("iam", 403, "InvalidClientTokenId"),
            ("ec2", 401, "AuthFailure"),
            ("lambda", 403, "UnrecognizedClientException"),
            ("logs", 400, "UnrecognizedClientException"),
            ("monitoring", 403, "InvalidClientTokenId"),
        ] {
            let mut s = Signing::for_service(service);
            s.key = "AKIDNOBODY";
            let (st, headers, body) = send(&app, signed(&s, "POST", "/", &[FORM], STS_BODY)).await;
            assert_eq!(st.as_u16(), status, "{service}: {body}");
            let in_header = headers.get("x-amzn-errortype").is_some_and(|v| v == code);
            assert!(body.contains(code) || in_header, "{service}: {body}");
        }
    }

    #[tokio::test]
    async fn clock_skew_on_lambda_is_invalid_signature_with_aws_message() {
        let (app, _dir) = app();
        let mut s = Signing::for_service("lambda");
        s.time = SystemTime::now() - Duration::from_secs(20 * 60);
        let req = signed(&s, "GET", "/2015-03-31/functions", &[], b"");
        let (status, headers, body) = send(&app, req).await;
        assert_eq!(status, 403);
        assert_eq!(headers["x-amzn-errortype"], "InvalidSignatureException");
        assert!(body.contains("Signature expired"), "{body}");
        assert!(body.contains("- 5 min.)"), "{body}");
    }

    #[tokio::test]
    async fn ec2_clock_skew_is_request_expired() {
        let (app, _dir) = app();
        let mut s = Signing::for_service("ec2");
        s.time = SystemTime::now() + Duration::from_secs(20 * 60);
        let body = b"Action=DescribeVpcs&Version=2016-11-15";
        let (status, _, text) = send(&app, signed(&s, "POST", "/", &[FORM], body)).await;
        assert_eq!(status, 400);
        assert!(text.contains("<Code>RequestExpired</Code>"), "{text}");
    }

    #[tokio::test]
    async fn invoke_payload_over_six_megabytes_is_413() {
        let (app, _dir) = app();
        let payload = vec![b'x'; super::services::INVOKE_PAYLOAD_LIMIT + 1];
        let req = signed(
            &Signing::for_service("lambda"),
            "POST",
            "/2015-03-31/functions/f/invocations",
            &[],
            &payload,
        );
        let (status, headers, body) = send(&app, req).await;
        assert_eq!(status, 413);
        assert_eq!(headers["x-amzn-errortype"], "RequestTooLargeException");
        assert!(body.contains("6291456"), "{body}");
    }

    #[tokio::test]
    async fn unsigned_lambda_call_gets_rest_json_missing_token() {
        let (app, _dir) = app();
        let req = http::Request::get("/2015-03-31/functions")
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, headers, _) = send(&app, req).await;
        assert_eq!(status, 403);
        assert_eq!(
            headers["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
    }

    #[test]
    fn dot_segments_are_detected() {
        for bad in ["/a/../b", "/a/./b", "/a//b", "/..", "/a/."] {
            assert!(super::has_dot_or_empty_segments(bad), "{bad}");
        }
        for good in [
            "/",
            "/2015-03-31/functions",
            "/2015-03-31/functions/",
            "/a.b/c..d",
        ] {
            assert!(!super::has_dot_or_empty_segments(good), "{good}");
        }
    }

    #[tokio::test]
    async fn region_outside_aws_is_refused() {
        let (app, _dir) = app();
        let s = Signing::for_service("sts");
        let mut req = signed(&s, "POST", "/", &[FORM], STS_BODY);
        let auth = req.headers()["authorization"]
            .to_str()
            .unwrap()
            .replace("us-east-1", "moon-1");
        req.headers_mut()
            .insert("authorization", auth.parse().unwrap());
        let (status, _, body) = send(&app, req).await;
        assert_eq!(status, 403);
        assert!(body.contains("valid region"), "{body}");
    }
}
