//! The Lambda Runtime API (2018-06-01) for one environment, served with hyper on a listener
//! the caller created inside the environment's network namespace. Owns the runtime-facing
//! state machine (initializing → idle → invoking → answered) and reports what the runtime
//! did as [`ApiEvent`]s; must not decide what an event means for the invocation (timeouts,
//! killing, outcomes belong to `env`), and must not buffer more than the response limit.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

/// Lambda's synchronous response limit, 6 MiB + 100 bytes (RIE `interop/model.go`).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// Connections one runtime may hold open at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 64;
const PREFIX: &str = "/2018-06-01/runtime/";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// An invocation waiting for the runtime's `/next`.
#[derive(Debug)]
pub(crate) struct Dispatch {
    pub request_id: String,
    pub payload: Bytes,
    /// The `Lambda-Runtime-*` headers except the deadline, already validated.
    pub headers: HeaderMap,
    /// The deadline sent to the runtime is pick-up time plus this.
    pub timeout: Duration,
}

/// What the runtime did, in order.
#[derive(Debug, PartialEq)]
pub(crate) enum ApiEvent {
    /// First `/next`: initialization is over.
    Ready {
        at: Instant,
    },
    /// The runtime received the invocation.
    Dispatched {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        body: Bytes,
    },
    FunctionError {
        request_id: String,
        body: Bytes,
        error_type: Option<String>,
    },
    ResponseTooLarge {
        request_id: String,
    },
    InitError {
        body: Bytes,
        error_type: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Initializing,
    InitFailed,
    Idle,
    Invoking { request_id: String, answered: bool },
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Initializing => "Initializing",
            Phase::InitFailed => "InitError",
            Phase::Idle => "Ready",
            Phase::Invoking {
                answered: false, ..
            } => "Invoking",
            Phase::Invoking { answered: true, .. } => "InvocationResponse",
        }
    }
}

struct State {
    phase: Phase,
    queued: Option<Dispatch>,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
    events: mpsc::UnboundedSender<ApiEvent>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked mid-update; the state is still a
        // valid enum, and refusing every later request would wedge the environment.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, ev: ApiEvent) {
        // The environment may already be gone; then nobody needs the event.
        let _ = self.events.send(ev);
    }
}

/// One environment's Runtime API. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RuntimeApi {
    shared: Arc<Shared>,
}

type Reply = Response<Full<Bytes>>;

impl RuntimeApi {
    pub(crate) fn new() -> (RuntimeApi, mpsc::UnboundedReceiver<ApiEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                phase: Phase::Initializing,
                queued: None,
            }),
            wake: Notify::new(),
            events: tx,
        });
        (RuntimeApi { shared }, rx)
    }

    /// Hands an invocation to the next `/next`; replaces one that was never picked up.
    pub(crate) fn queue(&self, dispatch: Dispatch) {
        self.shared.lock().queued = Some(dispatch);
        self.shared.wake.notify_one();
    }

    /// Serves connections until the future is dropped, which also drops every connection.
    pub(crate) async fn serve(self, listener: TcpListener) {
        let mut conns = JoinSet::new();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "runtime API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            while conns.try_join_next().is_some() {}
            if conns.len() >= MAX_CONNECTIONS {
                continue;
            }
            let shared = self.shared.clone();
            conns.spawn(async move {
                let svc = service_fn(move |req| handle(shared.clone(), req));
                // A runtime that hangs up mid-request is its own problem.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(not_found());
    };
    let post = req.method() == Method::POST;
    let reply = match rest {
        "invocation/next" if req.method() == Method::GET => next(&shared).await,
        "init/error" if post => init_error(&shared, req).await,
        "invocation/next" | "init/error" => status_only(StatusCode::METHOD_NOT_ALLOWED),
        _ => match rest.strip_prefix("invocation/").and_then(split_id) {
            Some((id, kind)) if post => answer(&shared, id, kind, req).await,
            Some(_) => status_only(StatusCode::METHOD_NOT_ALLOWED),
            None => not_found(),
        },
    };
    Ok(reply)
}

#[derive(Clone, Copy, PartialEq)]
enum AnswerKind {
    Response,
    Error,
}

/// `{id}/response` or `{id}/error`.
fn split_id(rest: &str) -> Option<(String, AnswerKind)> {
    let (id, kind) = rest.rsplit_once('/')?;
    let kind = match kind {
        "response" => AnswerKind::Response,
        "error" => AnswerKind::Error,
        _ => return None,
    };
    (!id.is_empty() && !id.contains('/')).then(|| (id.to_string(), kind))
}

async fn next(shared: &Shared) -> Reply {
    loop {
        let notified = shared.wake.notified();
        {
            let mut st = shared.lock();
            match &st.phase {
                Phase::Invoking {
                    answered: false, ..
                }
                | Phase::InitFailed => {
                    return invalid_transition(st.phase.name(), "InvocationNext");
                }
                Phase::Initializing => {
                    st.phase = Phase::Idle;
                    shared.emit(ApiEvent::Ready { at: Instant::now() });
                }
                Phase::Invoking { answered: true, .. } => st.phase = Phase::Idle,
                Phase::Idle => {}
            }
            if let Some(d) = st.queued.take() {
                st.phase = Phase::Invoking {
                    request_id: d.request_id.clone(),
                    answered: false,
                };
                shared.emit(ApiEvent::Dispatched {
                    request_id: d.request_id.clone(),
                    at: Instant::now(),
                });
                return invocation_reply(d);
            }
        }
        notified.await;
    }
}

fn invocation_reply(d: Dispatch) -> Reply {
    let deadline_ms = (SystemTime::now() + d.timeout)
        .duration_since(UNIX_EPOCH)
        .map(|t| t.as_millis())
        .unwrap_or(0);
    let mut resp = Response::new(Full::new(d.payload));
    let h = resp.headers_mut();
    h.extend(d.headers);
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from(deadline_ms as u64),
    );
    if !h.contains_key(CONTENT_TYPE) {
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    resp
}

async fn answer(shared: &Shared, id: String, kind: AnswerKind, req: Request<Incoming>) -> Reply {
    if let Err(refusal) = check_answerable(&shared.lock().phase, &id) {
        return refusal.reply();
    }
    let error_type = req
        .headers()
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = read_limited(req).await;
    {
        let mut st = shared.lock();
        if let Err(refusal) = check_answerable(&st.phase, &id) {
            return refusal.reply();
        }
        st.phase = Phase::Invoking {
            request_id: id.clone(),
            answered: true,
        };
    }
    let request_id = id;
    match body {
        Body::TooLarge => {
            shared.emit(ApiEvent::ResponseTooLarge { request_id });
            too_large()
        }
        Body::Broken => status_only(StatusCode::BAD_REQUEST),
        Body::Complete(body) => {
            shared.emit(match kind {
                AnswerKind::Response => ApiEvent::Response { request_id, body },
                AnswerKind::Error => ApiEvent::FunctionError {
                    request_id,
                    body,
                    error_type,
                },
            });
            accepted()
        }
    }
}

/// Why an answer to an invocation is refused.
enum Refusal {
    /// Not the invocation in flight (RIE: 400 InvalidRequestID).
    UnknownId,
    /// Already answered (RIE: 403 InvalidStateTransition).
    AlreadyAnswered,
}

impl Refusal {
    fn reply(self) -> Reply {
        match self {
            Refusal::UnknownId => json(
                StatusCode::BAD_REQUEST,
                r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
            ),
            Refusal::AlreadyAnswered => {
                invalid_transition("InvocationResponse", "InvocationResponse")
            }
        }
    }
}

/// Only the invocation in flight may be answered, and only once.
fn check_answerable(phase: &Phase, id: &str) -> Result<(), Refusal> {
    match phase {
        Phase::Invoking {
            request_id,
            answered,
        } if request_id == id => {
            if *answered {
                Err(Refusal::AlreadyAnswered)
            } else {
                Ok(())
            }
        }
        _ => Err(Refusal::UnknownId),
    }
}

async fn init_error(shared: &Shared, req: Request<Incoming>) -> Reply {
    let phase = shared.lock().phase.clone();
    if phase != Phase::Initializing {
        return invalid_transition(phase.name(), "InitError");
    }
    let error_type = req
        .headers()
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match read_limited(req).await {
        Body::Complete(b) => b,
        Body::TooLarge => return too_large(),
        Body::Broken => return status_only(StatusCode::BAD_REQUEST),
    };
    let mut st = shared.lock();
    if st.phase != Phase::Initializing {
        return invalid_transition(st.phase.name(), "InitError");
    }
    st.phase = Phase::InitFailed;
    shared.emit(ApiEvent::InitError { body, error_type });
    accepted()
}

enum Body {
    Complete(Bytes),
    TooLarge,
    Broken,
}

/// Reads at most [`MAX_RESPONSE_BYTES`]; a declared length over the limit is refused
/// without reading.
async fn read_limited(req: Request<Incoming>) -> Body {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Body::TooLarge;
    }
    match Limited::new(req.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(c) => Body::Complete(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Body::TooLarge,
        Err(_) => Body::Broken,
    }
}

fn json(status: StatusCode, body: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// 202 without a body. AWS sends `{"status":"OK"}`, which no runtime reads; a body left
/// unread makes a hyper client (`lambda_runtime`) close the connection, so the runtime
/// would reconnect after most invocations. An empty body keeps it alive.
fn accepted() -> Reply {
    status_only(StatusCode::ACCEPTED)
}

fn too_large() -> Reply {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            r#"{{"errorMessage":"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).","errorType":"RequestEntityTooLarge"}}"#
        ),
    )
}

fn invalid_transition(from: &str, to: &str) -> Reply {
    let body = serde_json::json!({
        "errorMessage": format!(
            "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
        ),
        "errorType": "InvalidStateTransition",
    });
    json(StatusCode::FORBIDDEN, &body.to_string())
}

fn not_found() -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn status_only(status: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    struct Http {
        status: u16,
        head: String,
        body: Vec<u8>,
    }

    /// A deliberately tiny HTTP/1.1 client: one request per connection, read to close.
    async fn http(addr: SocketAddr, method: &str, path: &str, extra: &str, body: &[u8]) -> Http {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write head");
        // The server may answer (413) and close before the whole body is sent.
        let _ = s.write_all(body).await;
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw).await;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        let status = head[9..12].parse().expect("status");
        Http {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        }
    }

    async fn server() -> (RuntimeApi, mpsc::UnboundedReceiver<ApiEvent>, SocketAddr) {
        let (api, events) = RuntimeApi::new();
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(api.clone().serve(l));
        (api, events, addr)
    }

    fn dispatch(id: &str) -> Dispatch {
        let mut headers = HeaderMap::new();
        headers.insert(
            "lambda-runtime-aws-request-id",
            HeaderValue::from_str(id).expect("id"),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            HeaderValue::from_static("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"),
        );
        Dispatch {
            request_id: id.to_string(),
            payload: Bytes::from_static(b"{\"k\":1}"),
            headers,
            timeout: Duration::from_secs(60),
        }
    }

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    fn answer_path(id: &str, kind: &str) -> String {
        format!("/2018-06-01/runtime/invocation/{id}/{kind}")
    }

    #[tokio::test]
    async fn next_delivers_the_event_and_a_response_completes_it() {
        let (api, mut events, addr) = server().await;
        let waiting = tokio::spawn(async move { http(addr, "GET", NEXT, "", b"").await });
        assert!(matches!(events.recv().await, Some(ApiEvent::Ready { .. })));
        api.queue(dispatch("req-1"));
        let next = waiting.await.expect("join");
        assert_eq!(next.status, 200);
        assert_eq!(next.body, b"{\"k\":1}");
        assert!(next.head.contains("lambda-runtime-aws-request-id: req-1"));
        assert!(next
            .head
            .contains("lambda-runtime-trace-id: root=1-5bef4de7"));
        assert!(next.head.contains("content-type: application/json"));
        let deadline: u128 = next
            .head
            .lines()
            .find_map(|l| l.strip_prefix("lambda-runtime-deadline-ms: "))
            .expect("deadline header")
            .parse()
            .expect("deadline ms");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        assert!(deadline > now && deadline <= now + 60_000);
        assert!(matches!(
            events.recv().await,
            Some(ApiEvent::Dispatched { request_id, .. }) if request_id == "req-1"
        ));
        let resp = http(addr, "POST", &answer_path("req-1", "response"), "", b"done").await;
        assert_eq!((resp.status, resp.body.as_slice()), (202, &b""[..]));
        assert_eq!(
            events.recv().await,
            Some(ApiEvent::Response {
                request_id: "req-1".into(),
                body: Bytes::from_static(b"done")
            })
        );
        let again = http(addr, "POST", &answer_path("req-1", "response"), "", b"x").await;
        assert_eq!(again.status, 403);
        assert!(String::from_utf8_lossy(&again.body).contains("InvalidStateTransition"));
    }

    #[tokio::test]
    async fn unknown_ids_and_early_answers_are_invalid_request_ids() {
        let (api, _events, addr) = server().await;
        let early = http(addr, "POST", &answer_path("nope", "response"), "", b"x").await;
        assert_eq!(early.status, 400);
        assert_eq!(
            early.body,
            br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
        );
        api.queue(dispatch("req-2"));
        assert_eq!(http(addr, "GET", NEXT, "", b"").await.status, 200);
        let wrong = http(addr, "POST", &answer_path("req-3", "error"), "", b"x").await;
        assert_eq!(wrong.status, 400);
        let again = http(addr, "GET", NEXT, "", b"").await;
        assert_eq!(again.status, 403, "next while the invocation is unanswered");
    }

    #[tokio::test]
    async fn errors_keep_body_and_type() {
        let (api, mut events, addr) = server().await;
        api.queue(dispatch("req-4"));
        assert_eq!(http(addr, "GET", NEXT, "", b"").await.status, 200);
        let body = br#"{"errorMessage":"boom","errorType":"KeyError"}"#;
        let r = http(
            addr,
            "POST",
            &answer_path("req-4", "error"),
            "Lambda-Runtime-Function-Error-Type: Unhandled\r\n",
            body,
        )
        .await;
        assert_eq!(r.status, 202);
        let mut last = None;
        while let Ok(ev) = events.try_recv() {
            last = Some(ev);
        }
        assert_eq!(
            last,
            Some(ApiEvent::FunctionError {
                request_id: "req-4".into(),
                body: Bytes::from_static(body),
                error_type: Some("Unhandled".into()),
            })
        );
    }

    #[tokio::test]
    async fn oversized_responses_get_413_and_end_the_invocation() {
        let (api, mut events, addr) = server().await;
        api.queue(dispatch("req-5"));
        assert_eq!(http(addr, "GET", NEXT, "", b"").await.status, 200);
        let big = vec![b'a'; MAX_RESPONSE_BYTES + 1];
        let r = http(addr, "POST", &answer_path("req-5", "response"), "", &big).await;
        assert_eq!(r.status, 413);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
        );
        let mut last = None;
        while let Ok(ev) = events.try_recv() {
            last = Some(ev);
        }
        assert_eq!(
            last,
            Some(ApiEvent::ResponseTooLarge {
                request_id: "req-5".into()
            })
        );
        api.queue(dispatch("req-6"));
        assert_eq!(http(addr, "GET", NEXT, "", b"").await.status, 200);
        let exact = vec![b'a'; MAX_RESPONSE_BYTES];
        let ok = http(addr, "POST", &answer_path("req-6", "response"), "", &exact).await;
        assert_eq!(ok.status, 202, "exactly the limit is allowed");
    }

    #[tokio::test]
    async fn init_error_only_before_the_first_next() {
        let (api, mut events, addr) = server().await;
        let r = http(
            addr,
            "POST",
            "/2018-06-01/runtime/init/error",
            "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n",
            b"{}",
        )
        .await;
        assert_eq!(r.status, 202);
        assert_eq!(
            events.recv().await,
            Some(ApiEvent::InitError {
                body: Bytes::from_static(b"{}"),
                error_type: Some("Runtime.ImportModuleError".into())
            })
        );
        api.queue(dispatch("req-8"));
        assert_eq!(
            http(addr, "GET", NEXT, "", b"").await.status,
            403,
            "no invocations after a failed init"
        );
    }

    #[tokio::test]
    async fn init_error_after_next_is_refused() {
        let (api, mut events, addr) = server().await;
        api.queue(dispatch("req-7"));
        assert_eq!(http(addr, "GET", NEXT, "", b"").await.status, 200);
        assert!(matches!(events.recv().await, Some(ApiEvent::Ready { .. })));
        let r = http(addr, "POST", "/2018-06-01/runtime/init/error", "", b"{}").await;
        assert_eq!(r.status, 403);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let (_api, _events, addr) = server().await;
        assert_eq!(
            http(addr, "GET", "/2018-06-01/runtime/nope", "", b"")
                .await
                .status,
            404
        );
        assert_eq!(http(addr, "GET", "/", "", b"").await.status, 404);
        assert_eq!(http(addr, "POST", NEXT, "", b"").await.status, 405);
        assert_eq!(
            http(addr, "GET", &answer_path("x", "response"), "", b"")
                .await
                .status,
            405
        );
        assert_eq!(
            http(
                addr,
                "POST",
                "/2018-06-01/runtime/invocation/a/b/response",
                "",
                b""
            )
            .await
            .status,
            404
        );
    }
}
