//! Amazon S3 on the daemon's port. S3's REST-XML protocol — routing of path-style and
//! virtual-hosted requests, SigV4 (header, presigned query, `aws-chunked` streaming with
//! signed chunks or unsigned trailers) and SigV2, XML bodies, error documents — is `s3s`'s,
//! a crate generated from AWS's Smithy model; `backend.rs` is the [`s3s::S3`] implementation
//! over `control::s3`, `blob_io.rs` streams bodies to and from blob files. The gateway hands
//! a request here when [`is_s3`] says it is S3's, before reading its body, so uploads stream.

mod backend;
mod blob_io;

use axum::body::Body;
use control::s3::{BlobStore, S3Error};
use control::{Accounts, Store};
use http::request::Parts;
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{s3_error, S3ErrorCode, S3Result};

pub use backend::read_object;

/// Whether a request is S3's: signed for the `s3` service (SigV4 header or query), signed
/// with SigV2 (`AWS key:signature`, or the presigned `AWSAccessKeyId` query), or addressed
/// to a virtual-hosted bucket (`<bucket>.s3.<host>`).
pub fn is_s3(parts: &Parts) -> bool {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let auth = header("authorization");
    if auth.starts_with("AWS ") {
        return true;
    }
    if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
        return scope_service(rest) == Some("s3");
    }
    let query = parts.uri.query().unwrap_or("");
    for pair in query.split('&') {
        if let Some(v) = pair.strip_prefix("X-Amz-Credential=") {
            let v = v.replace("%2F", "/").replace("%2f", "/");
            return v.split('/').nth(3) == Some("s3");
        }
        if pair.starts_with("AWSAccessKeyId=") {
            return true;
        }
    }
    bucket_of_host(header("host")).is_some() || (auth.is_empty() && names_object(parts))
}

/// Whether an unsigned request's path reads as S3's `/<bucket>[/<key>]`: anything but the
/// root, the daemon's own `/_vpclambda/` and the Lambda REST API's `/<yyyy-mm-dd>/` versions.
/// An anonymous caller is then answered by S3 (`AccessDenied` unless a policy allows), as on
/// AWS, rather than by the query services' `MissingAuthenticationToken`.
fn names_object(parts: &Parts) -> bool {
    let Some(first) = parts.uri.path().strip_prefix('/') else {
        return false;
    };
    let first = first.split('/').next().unwrap_or("");
    let api_version = first.len() == 10
        && first.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    !first.is_empty() && !first.starts_with("_vpclambda") && !api_version
}

/// The service of a SigV4 `Authorization` header's `Credential=key/date/region/service/…`.
fn scope_service(auth: &str) -> Option<&str> {
    let cred = auth.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    cred.split('/').nth(3)
}

/// `<bucket>` of a `<bucket>.s3.<anything>` Host header (port ignored).
fn bucket_of_host(host: &str) -> Option<&str> {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let (bucket, rest) = name.split_once(".s3.")?;
    (!bucket.is_empty() && !rest.is_empty()).then_some(bucket)
}

/// The S3 service: built once at start-up, after the start-up sweep.
pub fn service(store: Store, accounts: Accounts, blobs: BlobStore) -> S3Service {
    let mut builder = S3ServiceBuilder::new(backend::Backend {
        store: store.clone(),
        accounts: accounts.clone(),
        blobs,
    });
    builder.set_auth(Auth { store, accounts });
    builder.set_host(Hosts);
    builder.set_validation(DomainNames);
    builder.build()
}

/// Where an error's extra elements travel from [`to_s3`] to [`handle`] (never sent).
const DETAIL_HEADER: &str = "x-vpclambda-s3-error-detail";

/// Serves one S3 request; every failure is an S3 error document. Every response carries a
/// request id (`x-amz-request-id`, and `<RequestId>` in error documents, with the elements
/// such as `<BucketName>` or `<Key>` S3 adds to them).
pub async fn handle(s3: &S3Service, req: http::Request<Body>) -> http::Response<Body> {
    let request_id = wire::new_request_id();
    let close = answers_without_continue(req.headers());
    let req = req.map(s3s::Body::http_body_unsync);
    let mut resp = match s3.call(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            tracing::error!(error = ?e, "S3 request failed");
            let err = s3s::S3Error::with_message(S3ErrorCode::InternalError, "internal error");
            match err.to_http_response() {
                Ok(resp) => resp.map(Body::new),
                Err(_) => http::Response::builder()
                    .status(500)
                    .body(Body::empty())
                    .unwrap_or_default(),
            }
        }
    };
    if resp.status().is_client_error() || resp.status().is_server_error() {
        resp = with_error_details(resp, &request_id).await;
    }
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v.clone());
        resp.headers_mut().insert("x-amz-id-2", v);
    }
    if close {
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// Whether the request asked for `100 Continue` with an empty body, which hyper answers with
/// the final response alone. botocore then keeps that response's status line for the next
/// request on the same connection (its `AWSConnection.response_class` is reset only on
/// close) and misreads that request's response, hanging until its read timeout; closing the
/// connection after such a response resets it.
fn answers_without_continue(headers: &http::HeaderMap) -> bool {
    let expects = headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let empty = headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    expects && empty
}

/// Adds the request id and the error's details to an error document.
async fn with_error_details(resp: http::Response<Body>, request_id: &str) -> http::Response<Body> {
    use http_body_util::BodyExt;
    let (mut parts, body) = resp.into_parts();
    let detail = parts.headers.remove(DETAIL_HEADER);
    let Ok(collected) = http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
    else {
        return http::Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let Some(end) = text.rfind("</Error>") else {
        return http::Response::from_parts(parts, Body::from(text));
    };
    let mut extra = wire::xml::XmlWriter::new();
    if let Some(d) = detail.as_ref().and_then(|d| d.to_str().ok()) {
        for (k, v) in form_urlencoded::parse(d.as_bytes()) {
            extra.elem(&k, &v);
        }
    }
    if !text.contains("<RequestId>") {
        extra.elem("RequestId", request_id);
        extra.elem("HostId", request_id);
    }
    let extra = extra.finish();
    let extra = extra.split_once("?>\n").map_or(extra.as_str(), |(_, e)| e);
    let body = format!("{}{extra}{}", &text[..end], &text[end..]);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    http::Response::from_parts(parts, Body::from(body))
}

/// Secrets for signature checks: the configured accounts' keys and the temporary
/// credentials of execution roles (whose session token the backend checks).
struct Auth {
    store: Store,
    accounts: Accounts,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if let Some(account) = self.accounts.lookup(access_key) {
            return Ok(SecretKey::from(account.secret_access_key.as_str()));
        }
        let session = backend::session(&self.store, access_key).await?;
        Ok(SecretKey::from(session.secret_access_key.as_str()))
    }
}

/// The S3 principal of a call another service received (Lambda reading code from S3).
pub fn principal_of(call: &crate::services::Call) -> control::s3::Principal {
    match &call.session {
        None => control::s3::Principal::root(&call.account.account_id),
        Some(s) => session_principal(s),
    }
}

/// An execution role's session as an S3 principal: its role's policies apply.
fn session_principal(s: &control::sts::Session) -> control::s3::Principal {
    control::s3::Principal {
        account: s.account.clone(),
        arn: s.assumed_role_arn(),
        role: Some(control::iam::lookup::RoleInfo {
            arn: s.role_arn.clone(),
            role_id: s.role_id.clone(),
            name: s.role_name.clone(),
            path: "/".into(),
        }),
        network: control::s3::Network::default(),
    }
}

/// Bucket names are `control::s3`'s to check, so a bad one gets S3's message.
struct DomainNames;

impl s3s::validation::NameValidation for DomainNames {
    fn validate_bucket_name(&self, _: &str) -> bool {
        true
    }
}

/// Virtual-hosted style for any `<bucket>.s3.<host>`, path style otherwise.
struct Hosts;

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match bucket_of_host(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

/// A domain error as S3 reports it.
fn to_s3(e: S3Error) -> s3s::S3Error {
    if matches!(e, S3Error::Store(_) | S3Error::Io(_)) {
        tracing::error!(error = %e, "S3 storage failed");
        return s3_error!(
            InternalError,
            "We encountered an internal error. Please try again."
        );
    }
    let code = S3ErrorCode::from_bytes(e.code().as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut err = s3s::S3Error::with_message(code, e.to_string());
    if let Ok(status) = http::StatusCode::from_u16(e.status()) {
        err.set_status_code(status);
    }
    let mut headers = http::HeaderMap::new();
    let details = e.details();
    if !details.is_empty() {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(details)
            .finish();
        if let Ok(v) = http::HeaderValue::from_str(&encoded) {
            headers.insert(DETAIL_HEADER, v);
        }
    }
    if let Some(marker) = e.delete_marker() {
        headers.insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
        if let Ok(v) = http::HeaderValue::from_str(marker) {
            headers.insert("x-amz-version-id", v);
        }
    }
    if !headers.is_empty() {
        err.set_headers(headers);
    }
    err
}

/// Runs a store transaction on a blocking thread.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, S3Error> + Send + 'static,
) -> S3Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| s3_error!(InternalError, "{e}"))?
        .map_err(to_s3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(auth: Option<&str>, uri: &str, host: &str) -> Parts {
        let mut b = http::Request::get(uri).header("host", host);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn s3_is_told_by_scope_sigv2_query_or_host() {
        let v4 = |svc: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00")
        };
        assert!(is_s3(&parts(Some(&v4("s3")), "/b/k", "127.0.0.1:4566")));
        assert!(!is_s3(&parts(
            Some(&v4("lambda")),
            "/2015-03-31/functions",
            "127.0.0.1:4566"
        )));
        assert!(is_s3(&parts(Some("AWS AKID:c2ln"), "/b", "localhost")));
        assert!(is_s3(&parts(
            None,
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
            "127.0.0.1"
        )));
        assert!(!is_s3(&parts(
            None,
            "/?Action=GetCallerIdentity&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsts%2Faws4_request",
            "127.0.0.1"
        )));
        assert!(is_s3(&parts(None, "/k", "bucket.s3.localhost:4566")));
        assert!(!is_s3(&parts(None, "/", "127.0.0.1:4566")));
    }

    #[test]
    fn unsigned_paths_that_name_objects_are_s3() {
        let local = "127.0.0.1:4566";
        assert!(is_s3(&parts(None, "/bucket/key", local)));
        assert!(is_s3(&parts(None, "/bucket", local)));
        assert!(!is_s3(&parts(None, "/2015-03-31/functions", local)));
        assert!(!is_s3(&parts(None, "/_vpclambda/health", local)));
        let signed_elsewhere =
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00";
        assert!(!is_s3(&parts(Some(signed_elsewhere), "/bucket/key", local)));
    }

    #[test]
    fn virtual_host_bucket() {
        assert_eq!(
            bucket_of_host("my.bucket.s3.localhost:4566"),
            Some("my.bucket")
        );
        assert_eq!(bucket_of_host("b.s3.us-east-1.amazonaws.com"), Some("b"));
        assert_eq!(bucket_of_host("s3.localhost"), None);
        assert_eq!(bucket_of_host("127.0.0.1:4566"), None);
    }
}
