//! The physical floor for request/response over HTTP on this machine: an echo server (one
//! hop) and a relay that forwards each request over a keep-alive connection to the echo
//! server and returns its answer (two hops: client → relay → echo). That is the shape of a
//! warm Invoke — client → vpclambda → the function's runtime — with no work in between, so
//! the later warm-invoke number has its reference.
//!
//! Both are plain hyper 1 HTTP/1.1 servers that buffer bodies, as the Invoke path will.
//! Each stops by itself after `lifetime`, so a forgotten one cannot linger.

use std::convert::Infallible;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::load::{self, HttpClient};

/// Serves the echo server on `listener` until `lifetime` has passed: every request is
/// answered 200 with its own body.
pub async fn serve_echo(listener: TcpListener, lifetime: Duration) -> Result<()> {
    serve(listener, lifetime, |req| async move {
        let body = req.into_body().collect().await?.to_bytes();
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(body))?)
    })
    .await
}

/// Serves the relay on `listener` until `lifetime` has passed: every request is sent on to
/// `upstream` (same method, path, headers and body) and its answer returned.
pub async fn serve_relay(listener: TcpListener, upstream: Uri, lifetime: Duration) -> Result<()> {
    let authority = upstream
        .authority()
        .context("upstream must be http://host:port")?
        .clone();
    let client = load::client(1024);
    serve(listener, lifetime, move |req| {
        let client: HttpClient = client.clone();
        let authority = authority.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let body = body.collect().await?.to_bytes();
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            parts.uri = Uri::builder()
                .scheme("http")
                .authority(authority)
                .path_and_query(path)
                .build()?;
            let answer = client
                .request(http::Request::from_parts(parts, Full::new(body)))
                .await?;
            let (parts, body) = answer.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok(Response::from_parts(parts, Full::new(body)))
        }
    })
    .await
}

async fn serve<F, Fut>(listener: TcpListener, lifetime: Duration, handler: F) -> Result<()>
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Response<Full<Bytes>>>> + Send + 'static,
{
    tokio::select! {
        r = accept_all(&listener, handler) => r,
        () = tokio::time::sleep(lifetime) => Ok(()),
    }
}

async fn accept_all<F, Fut>(listener: &TcpListener, handler: F) -> Result<()>
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Response<Full<Bytes>>>> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await.context("accept")?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move {
                    Ok::<_, Infallible>(handler(req).await.unwrap_or_else(|e| {
                        let mut resp = Response::new(Full::new(Bytes::from(format!("{e:#}"))));
                        *resp.status_mut() = StatusCode::BAD_GATEWAY;
                        resp
                    }))
                }
            });
            // A client going away mid-request is routine under load; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
