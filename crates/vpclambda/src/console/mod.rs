//! The web console at `/_vpclambda/console/`, on the daemon's own listener: server-rendered
//! HTML pages (VPC topology as SVG, functions, ENI capacity, AZ drill) that work without
//! JavaScript, and a little dependency-free script (`assets/console.js`, embedded in the
//! binary like the stylesheet) that follows each page's live region and a function's log
//! over server-sent events, and submits the invoke form in place.
//!
//! Owns sessions (`session.rs`), escaping (`html.rs`) and what each page shows. Every page
//! reads the session's account and the daemon's region only. Actions (invoke, impair or
//! restore a zone, sign out) are POSTs that carry the session's CSRF token and come from a
//! page of this origin. Invocations go through the Lambda service's own Invoke, as an API
//! call of the session's account would. Must not hold domain rules: figures come from
//! `control` (the ENI plan) and the invoke side.

mod html;
mod pages;
mod session;
mod snapshot;
mod topology;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use control::eni::plan::PlanInput;
use control::Scope;
use futures::Stream;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::server::AppState;
use crate::services::{self, Call, Service};
use html::{esc, seg, Viewer};
use pages::Runtime;
use session::Session;
use snapshot::Snapshot;

const BASE: &str = "/_vpclambda/console";
/// How often a live region or a log tail looks for changes.
const TICK: Duration = Duration::from_millis(700);
/// The capacity page's peak concurrency when none is asked for.
const DEFAULT_PEAK: u32 = 10;
/// The log lines a function's page starts with.
const LOG_LINES: usize = 50;
/// How far behind its newest line a log tail keeps looking for late ones.
const LOOK_BACK_MS: i64 = 10_000;

/// Set when the daemon stops: live streams end, so the graceful stop does not wait for
/// browsers to go away.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Ends every live stream (the daemon is stopping).
pub fn stop_streams() {
    STOPPING.store(true, Ordering::Relaxed);
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(BASE, get(index))
        .route(&format!("{BASE}/"), get(index))
        .route(&format!("{BASE}/assets/console.js"), get(script))
        .route(&format!("{BASE}/assets/console.css"), get(stylesheet))
        .route(&format!("{BASE}/signin"), get(signin_form).post(signin))
        .route(&format!("{BASE}/signout"), post(signout))
        .route(&format!("{BASE}/topology"), get(topology_page))
        .route(&format!("{BASE}/topology/live"), get(topology_live))
        .route(&format!("{BASE}/functions"), get(functions_page))
        .route(&format!("{BASE}/functions/live"), get(functions_live))
        .route(&format!("{BASE}/functions/{{name}}"), get(function_page))
        .route(
            &format!("{BASE}/functions/{{name}}/live"),
            get(function_live),
        )
        .route(&format!("{BASE}/functions/{{name}}/invoke"), post(invoke))
        .route(&format!("{BASE}/functions/{{name}}/logs"), get(log_tail))
        .route(&format!("{BASE}/capacity"), get(capacity_page))
        .route(&format!("{BASE}/capacity/live"), get(capacity_live))
        .route(&format!("{BASE}/zones"), get(zones_page))
        .route(&format!("{BASE}/zones/live"), get(zones_live))
        .route(&format!("{BASE}/zones/{{zone}}"), post(zone_action))
        .layer(axum::middleware::map_response(secure))
}

/// Headers every console response carries: no inline script or style can run (escaping
/// is the first defence, this the second), no framing, nothing cached. The referrer
/// policy keeps `Origin` on our own POSTs (with `no-referrer` browsers send `null`).
async fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn index() -> Redirect {
    Redirect::to(&format!("{BASE}/topology"))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn refused(status: StatusCode, why: &str) -> Response {
    html(
        status,
        html::page(
            "Refused",
            "",
            None,
            &format!(
                "<p role=\"alert\">{}</p><p><a href=\"{BASE}/\">Back to the console</a></p>",
                esc(why)
            ),
        ),
    )
}

/// Why a request gets no page or action.
enum Denied {
    /// No session: to the sign-in form.
    SignIn,
    Refused(StatusCode, &'static str),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::SignIn => Redirect::to(&format!("{BASE}/signin")).into_response(),
            Denied::Refused(status, why) => refused(status, why),
        }
    }
}

/// The request's session, or the way to the sign-in form.
fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Session, Denied> {
    session::of(headers, &state.accounts, now()).ok_or(Denied::SignIn)
}

/// The session of an action: same-origin, signed in, and carrying the session's token.
fn acting(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, Denied> {
    if session::cross_site(headers) {
        return Err(Denied::Refused(
            StatusCode::FORBIDDEN,
            "Refused: the request came from another site.",
        ));
    }
    let s = session::of(headers, &state.accounts, now()).ok_or(Denied::Refused(
        StatusCode::FORBIDDEN,
        "Refused: not signed in.",
    ))?;
    let token = form.get("csrf").map(String::as_str).unwrap_or("");
    if !s.csrf_ok(token) {
        return Err(Denied::Refused(
            StatusCode::FORBIDDEN,
            "Refused: the form's CSRF token is missing or wrong. Reload the page and try again.",
        ));
    }
    Ok(s)
}

fn scope_of(state: &AppState, s: &Session) -> Scope {
    Scope::new(s.account.account_id.clone(), state.config.region.clone())
}

/// A page's subject.
#[derive(Clone)]
enum View {
    Topology(Option<String>),
    Functions,
    Function(String),
    Capacity(u32),
    Zones,
}

impl View {
    fn path(&self) -> String {
        match self {
            View::Topology(_) => format!("{BASE}/topology"),
            View::Functions => format!("{BASE}/functions"),
            View::Function(name) => format!("{BASE}/functions/{}", seg(name)),
            View::Capacity(_) => format!("{BASE}/capacity"),
            View::Zones => format!("{BASE}/zones"),
        }
    }

    fn stream(&self) -> String {
        let query = match self {
            View::Topology(Some(f)) => format!("?function={}", seg(f)),
            View::Capacity(peak) => format!("?peak={peak}"),
            _ => String::new(),
        };
        format!("{}/live{query}", self.path())
    }

    fn title(&self) -> String {
        match self {
            View::Topology(_) => "VPC topology".into(),
            View::Functions => "Functions".into(),
            View::Function(name) => format!("Function {name}"),
            View::Capacity(_) => "ENI capacity".into(),
            View::Zones => "AZ drill".into(),
        }
    }

    fn nav(&self) -> &'static str {
        match self {
            View::Topology(_) => "topology",
            View::Functions | View::Function(_) => "functions",
            View::Capacity(_) => "capacity",
            View::Zones => "zones",
        }
    }
}

/// Everything a view renders from, read at one moment.
struct Gathered {
    snap: Snapshot,
    rt: Runtime,
    plans: Vec<(String, PlanInput)>,
}

async fn gather(state: &Arc<AppState>, scope: &Scope, view: &View) -> Result<Gathered, String> {
    let (state2, scope2) = (state.clone(), scope.clone());
    let peak = match view {
        View::Capacity(p) => Some(*p),
        _ => None,
    };
    let (snap, plans) = tokio::task::spawn_blocking(move || {
        let snap = state2
            .store
            .read(|tx| snapshot::load(tx, &scope2))
            .map_err(|e| e.to_string())?;
        let mut plans = Vec::new();
        if let Some(peak) = peak {
            for f in &snap.functions {
                let name = &f.latest.function_name;
                if f.latest.settings.attached_vpc().is_none() {
                    continue;
                }
                if let Some(input) = crate::operator::plan_input(&state2, &scope2, name, peak)
                    .map_err(|e| e.to_string())?
                {
                    plans.push((name.clone(), input));
                }
            }
        }
        Ok::<_, String>((snap, plans))
    })
    .await
    .map_err(|e| e.to_string())??;
    let rt = Runtime {
        environments: state.invoke.environments(Some(scope)),
        impaired: state.zones.impaired(),
    };
    Ok(Gathered { snap, rt, plans })
}

/// The live region's content; `None` when the view's function does not exist.
fn live_html(view: &View, g: &Gathered, scope: &Scope) -> Option<String> {
    Some(match view {
        View::Topology(selected) => pages::topology(&g.snap, &g.rt, selected.as_deref()),
        View::Functions => pages::functions(&g.snap, &g.rt),
        View::Function(name) => {
            let f = g.snap.function(name)?;
            let recent = crate::telemetry::global().recent_invocations(scope, name);
            pages::function(&g.snap, &g.rt, f, &recent)
        }
        View::Capacity(peak) => pages::capacity(&g.snap, &g.plans, *peak),
        View::Zones => pages::zones(&g.snap, &g.rt),
    })
}

/// A whole page of `view`; `result` is an invocation's outcome to show (the form posted
/// without JavaScript).
async fn show(
    state: &Arc<AppState>,
    s: &Session,
    view: View,
    result: Option<&InvokeResult>,
) -> Response {
    let scope = scope_of(state, s);
    let g = match gather(state, &scope, &view).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "console: reading the store");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The store could not be read.",
            );
        }
    };
    let csrf = s.csrf();
    let v = Viewer {
        account_id: &s.account.account_id,
        region: &scope.region,
        csrf: &csrf,
        implicit: s.implicit,
    };
    let Some(live) = live_html(&view, &g, &scope) else {
        return html(
            StatusCode::NOT_FOUND,
            html::page(
                "Not found",
                view.nav(),
                Some(&v),
                "<p role=\"alert\">This account has no such function.</p>",
            ),
        );
    };
    let region = html::live(&view.stream(), &live);
    let body = match &view {
        View::Topology(selected) => format!(
            "{}{region}",
            function_picker(&g.snap, selected.as_deref())
        ),
        View::Capacity(peak) => format!(
            "<form method=\"get\" action=\"{BASE}/capacity\" class=\"bar\">\
             <label for=\"peak\">Peak concurrent executions</label>\
             <input id=\"peak\" name=\"peak\" type=\"number\" min=\"1\" max=\"100000\" value=\"{peak}\">\
             <button type=\"submit\">Plan</button></form>{region}"
        ),
        View::Zones => format!("{}{region}", zone_forms(&g, &csrf)),
        View::Function(name) => function_body(state, &scope, name, &csrf, &region, result).await,
        View::Functions => region,
    };
    html(
        StatusCode::OK,
        html::page(&view.title(), view.nav(), Some(&v), &body),
    )
}

fn function_picker(snap: &Snapshot, selected: Option<&str>) -> String {
    let mut options = String::from("<option value=\"\">(none)</option>");
    for f in &snap.functions {
        let name = &f.latest.function_name;
        let sel = if Some(name.as_str()) == selected {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            esc(name),
            esc(name)
        ));
    }
    format!(
        "<form method=\"get\" action=\"{BASE}/topology\" class=\"bar\">\
         <label for=\"function\">Show the path of function</label>\
         <select id=\"function\" name=\"function\">{options}</select>\
         <button type=\"submit\">Show</button></form>"
    )
}

fn zone_forms(g: &Gathered, csrf: &str) -> String {
    let mut out = String::from("<div class=\"zone-actions\">");
    for z in g.snap.zones() {
        let down = g.rt.impaired.iter().any(|i| i == z);
        let (action, label) = if down {
            ("restore", format!("Restore {z}"))
        } else {
            ("impair", format!("Impair {z}"))
        };
        out.push_str(&format!(
            "<form method=\"post\" action=\"{BASE}/zones/{}\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">\
             <button type=\"submit\" data-zone=\"{}\" data-action=\"{action}\">{}</button></form>",
            seg(z),
            esc(csrf),
            esc(z),
            esc(&label)
        ));
    }
    if g.snap.zones().is_empty() {
        out.push_str("<p>This account has no subnets, so no zones to drill.</p>");
    }
    out.push_str(
        "</div><p>An impaired zone gets no new environments; those idle there are \
         stopped now, busy ones after their invocation. Zone health is the daemon's, shared \
         by every account.</p>",
    );
    out
}

async fn function_body(
    state: &Arc<AppState>,
    scope: &Scope,
    name: &str,
    csrf: &str,
    region: &str,
    result: Option<&InvokeResult>,
) -> String {
    let since = chrono::Utc::now().timestamp_millis();
    let lines = recent_log_lines(state, scope, name).await;
    let mut log = String::new();
    for (t, m) in &lines {
        log.push_str(&format!(
            "<li><time>{}</time> <span class=\"msg\">{}</span></li>",
            esc(&pages::time(*t)),
            esc(m)
        ));
    }
    let outcome = result.map(InvokeResult::html).unwrap_or_default();
    format!(
        "{region}\
         <section aria-labelledby=\"invoke-h\"><h2 id=\"invoke-h\">Invoke</h2>\
         <form method=\"post\" action=\"{BASE}/functions/{seg}/invoke\" id=\"invoke-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"payload\">Payload (JSON)</label>\
         <textarea id=\"payload\" name=\"payload\" rows=\"4\" cols=\"60\">{{}}</textarea>\
         <button type=\"submit\" id=\"invoke-button\">Invoke</button></form>\
         <div id=\"invoke-result\" aria-live=\"polite\">{outcome}</div></section>\
         <section aria-labelledby=\"log-h\"><h2 id=\"log-h\">Log</h2>\
         <ol id=\"log\" class=\"log\" data-stream=\"{BASE}/functions/{seg}/logs?since={since}\" \
         aria-live=\"polite\">{log}</ol></section>",
        seg = seg(name),
        csrf = esc(csrf),
    )
}

/// The function's log group's last lines (of the last hour), oldest first.
async fn recent_log_lines(state: &Arc<AppState>, scope: &Scope, name: &str) -> Vec<(i64, String)> {
    let since = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let mut lines: Vec<(i64, String)> = log_events(state, scope, name, since)
        .await
        .into_iter()
        .map(|e| (e.timestamp, e.message))
        .collect();
    let skip = lines.len().saturating_sub(LOG_LINES);
    lines.drain(..skip);
    lines
}

/// The events of the function's log group from `since` (ms) on; none when the function or
/// its group does not exist.
async fn log_events(
    state: &Arc<AppState>,
    scope: &Scope,
    name: &str,
    since: i64,
) -> Vec<control::logs::Event> {
    let (store, scope, name) = (state.store.clone(), scope.clone(), name.to_string());
    tokio::task::spawn_blocking(move || {
        store.read(|tx| -> Result<_, control::logs::LogsError> {
            let Some(f) = control::TxExt::get_json::<control::lambda::Function>(
                tx,
                control::lambda::kind::FUNCTION,
                &scope,
                &name,
            )?
            else {
                return Ok(Vec::new());
            };
            let group = f.latest.settings.logging.group(&name);
            let q = control::logs::FilterQuery {
                window: control::logs::TimeWindow {
                    start: Some(since),
                    end: None,
                },
                limit: control::logs::MAX_EVENTS,
                ..Default::default()
            };
            match control::logs::filter_events(tx, &scope, &group, &q) {
                Ok(page) => Ok(page.events),
                Err(control::logs::LogsError::GroupNotFound) => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        })
    })
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default()
}

#[derive(Deserialize)]
struct TopologyQuery {
    function: Option<String>,
}

#[derive(Deserialize)]
struct CapacityQuery {
    peak: Option<u32>,
}

fn topology_view(q: TopologyQuery) -> View {
    View::Topology(q.function.filter(|f| !f.is_empty()))
}

fn capacity_view(q: CapacityQuery) -> View {
    View::Capacity(q.peak.unwrap_or(DEFAULT_PEAK).clamp(1, 100_000))
}

async fn page_of(state: Arc<AppState>, headers: HeaderMap, view: View) -> Response {
    match viewer(&state, &headers) {
        Ok(s) => show(&state, &s, view, None).await,
        Err(d) => d.into_response(),
    }
}

async fn topology_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TopologyQuery>,
) -> Response {
    page_of(state, headers, topology_view(q)).await
}

async fn functions_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    page_of(state, headers, View::Functions).await
}

async fn function_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    page_of(state, headers, View::Function(name)).await
}

async fn capacity_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<CapacityQuery>,
) -> Response {
    page_of(state, headers, capacity_view(q)).await
}

async fn zones_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    page_of(state, headers, View::Zones).await
}

/// The live region of `view` as server-sent events: `update` with the region's new HTML
/// whenever it changes.
fn live_stream(state: Arc<AppState>, headers: &HeaderMap, view: View) -> Response {
    let Some(s) = session::of(headers, &state.accounts, now()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let scope = scope_of(&state, &s);
    let stream = futures::stream::unfold(
        (state, scope, view, String::new()),
        |(state, scope, view, mut last)| async move {
            loop {
                tokio::time::sleep(TICK).await;
                if STOPPING.load(Ordering::Relaxed) {
                    return None;
                }
                let Ok(g) = gather(&state, &scope, &view).await else {
                    continue;
                };
                let html = live_html(&view, &g, &scope).unwrap_or_default();
                if html != last {
                    last.clone_from(&html);
                    let event = Event::default().event("update").data(html);
                    return Some((Ok(event), (state, scope, view, last)));
                }
            }
        },
    );
    sse(stream)
}

fn sse(
    stream: impl Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static,
) -> Response {
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn topology_live(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TopologyQuery>,
) -> Response {
    live_stream(state, &headers, topology_view(q))
}

async fn functions_live(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    live_stream(state, &headers, View::Functions)
}

async fn function_live(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    live_stream(state, &headers, View::Function(name))
}

async fn capacity_live(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<CapacityQuery>,
) -> Response {
    live_stream(state, &headers, capacity_view(q))
}

async fn zones_live(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    live_stream(state, &headers, View::Zones)
}

#[derive(Deserialize)]
struct LogQuery {
    since: Option<i64>,
}

#[derive(Serialize)]
struct LogLine {
    time: String,
    message: String,
}

/// A function's log events as they are written: `log` events, each a JSON array of lines.
async fn log_tail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let Some(s) = session::of(&headers, &state.accounts, now()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let scope = scope_of(&state, &s);
    let since = q
        .since
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    // Lines already sent, with their times; forgotten once older than the look-back.
    let seen: HashMap<(String, u64), i64> = HashMap::new();
    let stream = futures::stream::unfold(
        (state, scope, name, since, seen),
        |(state, scope, name, mut since, mut seen)| async move {
            loop {
                tokio::time::sleep(TICK).await;
                if STOPPING.load(Ordering::Relaxed) {
                    return None;
                }
                let events = log_events(&state, &scope, &name, since).await;
                let mut fresh = Vec::new();
                let mut newest = since;
                for e in events {
                    newest = newest.max(e.timestamp);
                    if seen
                        .insert((e.stream.clone(), e.seq), e.timestamp)
                        .is_none()
                    {
                        fresh.push(LogLine {
                            time: pages::time(e.timestamp),
                            message: e.message,
                        });
                    }
                }
                // The writer's batches may land a little out of time order: look back a
                // while, and forget what is older than that.
                since = since.max(newest - LOOK_BACK_MS);
                seen.retain(|_, t| *t >= since);
                if fresh.is_empty() {
                    continue;
                }
                let data = serde_json::to_string(&fresh).unwrap_or_default();
                let event = Event::default().event("log").data(data);
                return Some((Ok(event), (state, scope, name, since, seen)));
            }
        },
    );
    sse(stream)
}

/// An invocation from the console, as the page shows it.
#[derive(Serialize)]
struct InvokeResult {
    status: u16,
    executed_version: Option<String>,
    function_error: Option<String>,
    error_code: Option<String>,
    payload: String,
}

impl InvokeResult {
    fn html(&self) -> String {
        let headline = match (&self.error_code, &self.function_error) {
            (Some(code), _) => format!("<p class=\"bad\">Refused: {}</p>", esc(code)),
            (None, Some(kind)) => format!("<p class=\"bad\">Function error ({})</p>", esc(kind)),
            (None, None) => format!(
                "<p class=\"good\">Succeeded (status {}, version {})</p>",
                self.status,
                esc(self.executed_version.as_deref().unwrap_or("?"))
            ),
        };
        format!(
            "{headline}<pre class=\"payload\">{}</pre>",
            esc(&self.payload)
        )
    }
}

/// Invoke through the Lambda service, as the session's account.
async fn run_invoke(
    state: &Arc<AppState>,
    s: &Session,
    name: &str,
    payload: String,
) -> InvokeResult {
    let uri = format!("/2015-03-31/functions/{}/invocations", seg(name));
    let call = Call {
        method: http::Method::POST,
        uri: uri.parse().unwrap_or_default(),
        headers: HeaderMap::new(),
        body: payload.into(),
        request_id: wire::new_request_id(),
        account: s.account.clone(),
        session: None,
        region: state.config.region.clone(),
    };
    match services::dispatch(Service::Lambda, state, call).await {
        Ok(resp) => {
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            InvokeResult {
                status: resp.status().as_u16(),
                executed_version: header("x-amz-executed-version"),
                function_error: header("x-amz-function-error"),
                error_code: None,
                payload: String::from_utf8_lossy(resp.body()).into_owned(),
            }
        }
        Err(e) => InvokeResult {
            status: e.status.as_u16(),
            executed_version: None,
            function_error: None,
            error_code: Some(e.code.clone()),
            payload: e.message.clone(),
        },
    }
}

async fn invoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match acting(&state, &headers, &form) {
        Ok(s) => s,
        Err(d) => return d.into_response(),
    };
    let payload = form
        .get("payload")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "{}".to_string());
    let result = run_invoke(&state, &s, &name, payload).await;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return axum::Json(result).into_response();
    }
    show(&state, &s, View::Function(name), Some(&result)).await
}

async fn zone_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match acting(&state, &headers, &form) {
        Ok(s) => s,
        Err(d) => return d.into_response(),
    };
    let scope = scope_of(&state, &s);
    let Ok(g) = gather(&state, &scope, &View::Zones).await else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The store could not be read.",
        );
    };
    if !g.snap.zones().contains(zone.as_str()) {
        return refused(
            StatusCode::NOT_FOUND,
            "This account has no subnet in that zone.",
        );
    }
    match form.get("action").map(String::as_str) {
        Some("impair") => crate::operator::impair_zone(&state, &zone),
        Some("restore") => {
            state.zones.restore(&zone);
        }
        _ => return refused(StatusCode::BAD_REQUEST, "Unknown action."),
    }
    Redirect::to(&format!("{BASE}/zones")).into_response()
}

fn signin_page(status: StatusCode, error: Option<&str>) -> Response {
    let Some(nonce) = session::nonce() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable: the OS has no randomness to give.",
        );
    };
    let token = session::signin_token(&nonce).unwrap_or_default();
    let error = error
        .map(|e| format!("<p role=\"alert\" class=\"bad\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"{BASE}/signin\" class=\"signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"access_key_id\">Access key ID</label>\
         <input id=\"access_key_id\" name=\"access_key_id\" autocomplete=\"username\" required>\
         <label for=\"secret_access_key\">Secret access key</label>\
         <input id=\"secret_access_key\" name=\"secret_access_key\" type=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"signin-button\">Sign in</button></form>\
         <p>The console shows one account: the one whose key you sign in with.</p>",
        esc(&token)
    );
    let mut resp = html(status, html::page("Sign in", "", None, &body));
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(session::NONCE_COOKIE, &nonce, 3600))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn signin_form() -> Response {
    signin_page(StatusCode::OK, None)
}

async fn signin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if session::cross_site(&headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "Refused: the request came from another site.",
        );
    }
    let nonce = session::cookie(&headers, session::NONCE_COOKIE).unwrap_or("");
    let token = form.get("csrf").map(String::as_str).unwrap_or("");
    if !session::signin_token_ok(nonce, token) {
        return signin_page(
            StatusCode::FORBIDDEN,
            Some("The form expired or did not come from this console; try again."),
        );
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let account = session::sign_in(
        &state.accounts,
        field("access_key_id").trim(),
        field("secret_access_key"),
    );
    let Some(value) = account.and_then(|a| session::issue(&a, now())) else {
        return signin_page(
            StatusCode::UNAUTHORIZED,
            Some("The access key ID or secret access key is wrong."),
        );
    };
    let mut resp = Redirect::to(&format!("{BASE}/topology")).into_response();
    let cookies = [
        session::set_cookie(session::COOKIE, &value, session::LIFETIME_SECS),
        session::set_cookie(session::NONCE_COOKIE, "", 0),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn signout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(d) = acting(&state, &headers, &form) {
        return d.into_response();
    }
    let mut resp = Redirect::to(&format!("{BASE}/signin")).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(session::COOKIE, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::Router;
    use control::Account;

    use super::*;
    use crate::testing::{app, app_with_accounts, send, signed, Signing, HOST};

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    fn two_accounts() -> (Router, tempfile::TempDir) {
        app_with_accounts(vec![
            Account {
                access_key_id: "AKIAAAAA".into(),
                secret_access_key: "secret-a".into(),
                account_id: "111111111111".into(),
            },
            Account {
                access_key_id: "AKIABBBB".into(),
                secret_access_key: "secret-b".into(),
                account_id: "222222222222".into(),
            },
        ])
    }

    fn get(path: &str, cookie: Option<&str>) -> http::Request<Body> {
        let mut b = http::Request::get(path).header("host", HOST);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        b.body(Body::empty()).unwrap()
    }

    fn post(path: &str, cookie: Option<&str>, body: &str) -> http::Request<Body> {
        let mut b = http::Request::post(path)
            .header("host", HOST)
            .header(FORM.0, FORM.1);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    fn token(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        page[at..at + 64].to_string()
    }

    /// The `name=value` of a `Set-Cookie` named `name`.
    fn set_cookie(headers: &HeaderMap, name: &str) -> String {
        headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string()
    }

    async fn sign_in(app: &Router, key: &str, secret: &str) -> String {
        let (_, headers, page) = send(app, get(&format!("{BASE}/signin"), None)).await;
        let nonce = set_cookie(&headers, session::NONCE_COOKIE);
        let body = format!(
            "csrf={}&access_key_id={key}&secret_access_key={secret}",
            token(&page)
        );
        let (status, headers, _) =
            send(app, post(&format!("{BASE}/signin"), Some(&nonce), &body)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let all: Vec<&str> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(all
            .iter()
            .any(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
        set_cookie(&headers, session::COOKIE)
    }

    async fn create_vpc(
        app: &Router,
        key: &'static str,
        secret: &'static str,
        tag: &str,
    ) -> String {
        let mut s = Signing::for_service("ec2");
        (s.key, s.secret) = (key, secret);
        let body = format!(
            "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.5.0.0/16\
             &TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name\
             &TagSpecification.1.Tag.1.Value={}",
            form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
        );
        let (status, _, xml) = send(app, signed(&s, "POST", "/", &[FORM], body.as_bytes())).await;
        assert_eq!(status, 200, "{xml}");
        let at = xml.find("<vpcId>").unwrap() + 7;
        xml[at..at + 21].to_string()
    }

    #[tokio::test]
    async fn a_session_sees_its_own_account_and_escaped_strings_only() {
        let (app, _dir) = two_accounts();
        let mine = create_vpc(&app, "AKIAAAAA", "secret-a", "<script>alert(1)</script>").await;
        let theirs = create_vpc(&app, "AKIABBBB", "secret-b", "b's").await;
        let (status, _, _) = send(&app, get(&format!("{BASE}/topology"), None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "no session, no page");
        let cookie = sign_in(&app, "AKIAAAAA", "secret-a").await;
        let (status, _, page) = send(&app, get(&format!("{BASE}/topology"), Some(&cookie))).await;
        assert_eq!(status, 200);
        assert!(page.contains(&mine));
        assert!(!page.contains(&theirs) && !page.contains("222222222222"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>alert"));
    }

    #[tokio::test]
    async fn actions_need_the_sessions_token_and_a_same_origin_request() {
        let (app, _dir) = two_accounts();
        let a = sign_in(&app, "AKIAAAAA", "secret-a").await;
        let b = sign_in(&app, "AKIABBBB", "secret-b").await;
        let (_, _, page) = send(&app, get(&format!("{BASE}/zones"), Some(&a))).await;
        let (_, _, other) = send(&app, get(&format!("{BASE}/zones"), Some(&b))).await;
        let invoke = format!("{BASE}/functions/f/invoke");
        for body in [
            "payload={}".to_string(),
            format!("payload={{}}&csrf={}", token(&other)),
        ] {
            let (status, _, _) = send(&app, post(&invoke, Some(&a), &body)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        }
        let mut cross = post(&invoke, Some(&a), &format!("csrf={}", token(&page)));
        cross
            .headers_mut()
            .insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert_eq!(send(&app, cross).await.0, StatusCode::FORBIDDEN);
        let mut ok = post(&invoke, Some(&a), &format!("csrf={}", token(&page)));
        ok.headers_mut()
            .insert("accept", HeaderValue::from_static("application/json"));
        let (status, _, body) = send(&app, ok).await;
        assert_eq!(status, 200, "with the token the action runs: {body}");
        assert!(body.contains("ResourceNotFoundException"), "{body}");
    }

    /// The value of the first `<name>…</name>` in an EC2 answer.
    fn xml_value(xml: &str, name: &str) -> String {
        let open = format!("<{name}>");
        let at = xml.find(&open).unwrap() + open.len();
        xml[at..at + xml[at..].find('<').unwrap()].to_string()
    }

    #[tokio::test]
    async fn the_topology_draws_subnets_and_enis_with_their_addresses() {
        let (app, _dir) = app();
        let ec2 = Signing::for_service("ec2");
        let call = |body: String| {
            let app = app.clone();
            let req = signed(&ec2, "POST", "/", &[FORM], body.as_bytes());
            async move { send(&app, req).await.2 }
        };
        let v = "Version=2016-11-15";
        let vpc = xml_value(
            &call(format!("Action=CreateVpc&{v}&CidrBlock=10.7.0.0/16")).await,
            "vpcId",
        );
        let subnet = xml_value(
            &call(format!(
                "Action=CreateSubnet&{v}&VpcId={vpc}&CidrBlock=10.7.1.0/24&AvailabilityZone=us-east-1b"
            ))
            .await,
            "subnetId",
        );
        let eni_xml = call(format!(
            "Action=CreateNetworkInterface&{v}&SubnetId={subnet}"
        ))
        .await;
        let (eni, ip) = (
            xml_value(&eni_xml, "networkInterfaceId"),
            xml_value(&eni_xml, "privateIpAddress"),
        );
        let (status, _, page) = send(&app, get(&format!("{BASE}/topology"), None)).await;
        assert_eq!(status, 200);
        assert!(page.contains(&format!("<g class=\"subnet\" data-id=\"{subnet}\">")));
        assert!(
            page.contains(&format!("data-id=\"{eni}\" data-ip=\"{ip}\"")),
            "{page}"
        );
        assert!(page.contains("250 free · 1 used"), "{page}");
        assert!(page.contains("data-zone=\"us-east-1b\""));
        assert!(page.contains("10.7.0.0/16 → local"));
    }

    #[tokio::test]
    async fn wrong_secrets_and_foreign_forms_do_not_sign_in() {
        let (app, _dir) = two_accounts();
        let (_, headers, page) = send(&app, get(&format!("{BASE}/signin"), None)).await;
        let nonce = set_cookie(&headers, session::NONCE_COOKIE);
        let wrong = format!(
            "csrf={}&access_key_id=AKIAAAAA&secret_access_key=secret-b",
            token(&page)
        );
        let path = format!("{BASE}/signin");
        let (status, _, _) = send(&app, post(&path, Some(&nonce), &wrong)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let no_nonce = "csrf=00&access_key_id=AKIAAAAA&secret_access_key=secret-a";
        let (status, _, _) = send(&app, post(&path, None, no_nonce)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn pages_render_for_the_default_key_and_assets_are_embedded() {
        let (app, _dir) = app();
        for page in ["topology", "functions", "capacity", "zones"] {
            let (status, headers, body) = send(&app, get(&format!("{BASE}/{page}"), None)).await;
            assert_eq!(status, 200, "{page}");
            assert!(headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
            assert!(body.contains("aria-current=\"page\""), "{page}");
        }
        let (status, _, _) = send(&app, get(&format!("{BASE}/functions/nope"), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, js) =
            send(&app, get(&format!("{BASE}/assets/console.js"), None)).await;
        assert_eq!(status, 200);
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert!(js.contains("EventSource"));
    }
}
