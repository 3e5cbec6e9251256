//! In-process test support: the real router over a temp-dir store, and requests signed by
//! the AWS SDK for Rust's own signer, so tests exercise exactly what clients send.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use control::{Accounts, Store};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::config::{Config, ServeArgs};
use crate::server::{router, AppState};

pub const HOST: &str = "127.0.0.1:4566";

/// A router with a fresh store; keep the `TempDir` alive for the test's duration.
pub fn app() -> (Router, tempfile::TempDir) {
    let config = Config::resolve(ServeArgs::default()).expect("default config");
    app_with_accounts(config.accounts)
}

/// [`app`] with these accounts instead of the default one.
pub fn app_with_accounts(accounts: Vec<control::Account>) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::resolve(ServeArgs::default()).expect("default config");
    config.accounts = accounts;
    config.data_dir = dir.path().to_path_buf();
    let store = Store::open_sqlite(dir.path()).expect("store");
    let accounts = Accounts::new(config.accounts.clone()).expect("accounts");
    let blobs = control::s3::BlobStore::open(dir.path()).expect("blob store");
    let s3 = crate::services::s3::service(store.clone(), accounts.clone(), blobs.clone());
    let state = Arc::new(AppState {
        sig_policy: sigv4::Policy::default(),
        accounts,
        invoke: crate::invoke::Invoker::without_execution(
            crate::server::invoke_settings(&config),
            store.clone(),
        ),
        store,
        config,
        dataplane: crate::dataplane::Handle::default(),
        zones: crate::zones::ZoneHealth::default(),
        provisioner: std::sync::Arc::new(control::lambda::ImmediateProvisioner),
        reclaim_now: tokio::sync::Notify::new(),
        blobs,
        s3,
        endpoints: std::sync::OnceLock::new(),
        vpc_endpoints: std::sync::OnceLock::new(),
    });
    (router(state), dir)
}

/// How to sign a test request.
pub struct Signing {
    pub service: &'static str,
    pub key: &'static str,
    pub secret: &'static str,
    pub time: SystemTime,
    pub presign: Option<Duration>,
}

impl Signing {
    pub fn for_service(service: &'static str) -> Self {
        Signing {
            service,
            key: "test",
            secret: "test",
            time: SystemTime::now(),
            presign: None,
        }
    }
}

/// A request signed as the SDK would, with `headers` signed too.
pub fn signed(
    s: &Signing,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Request<Body> {
    let identity: Identity = Credentials::new(s.key, s.secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = s.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(s.service)
        .time(s.time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let url = format!("http://{HOST}{target}");
    let mut all: Vec<(&str, &str)> = vec![("host", HOST)];
    all.extend_from_slice(headers);
    let signable = SignableRequest::new(
        method,
        url.clone(),
        all.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (k, v) in &all {
        builder = builder.header(*k, *v);
    }
    let mut req = builder.body(Body::from(body.to_vec())).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req
}

/// Sends `req` through the router; returns status, headers and body.
pub async fn send(
    app: &Router,
    req: http::Request<Body>,
) -> (http::StatusCode, http::HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.expect("router never fails");
    let (parts, body) = resp.into_parts();
    let bytes: Bytes = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}
