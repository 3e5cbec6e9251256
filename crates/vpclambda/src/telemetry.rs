//! Operators' metrics: `GET /_vpclambda/metrics` in the OpenMetrics text exposition that
//! Prometheus scrapes (the `prometheus-client` crate).
//!
//! Owns the daemon's one metrics registry and the names, labels and buckets of its
//! metrics. What happens as it happens (invocations, cold starts, dataplane passes, store
//! commits, API requests) is counted by hooks that only touch atomics; what is a state
//! (environments, ENIs and free addresses per subnet, concurrent executions) is read at
//! scrape time from the store and the invoke side. Must not decide anything: a metric is
//! never an input of the daemon's behaviour.
//!
//! The registry is process-wide ([`global`]) because its hooks sit on paths (the invoke
//! engine, the store) that are built before the daemon's shared state exists; one process
//! serves one daemon.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use control::ec2::model::{kind as ec2_kind, NetworkInterface, Subnet};
use control::{Scope, StoreError};
use http::{HeaderMap, Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::server::AppState;
use crate::services::{Call, Service};

/// The OpenMetrics content type Prometheus negotiates for.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    account: String,
    region: String,
    function: String,
}

impl FunctionLabels {
    fn new(scope: &Scope, function: &str) -> Self {
        FunctionLabels {
            account: scope.account.clone(),
            region: scope.region.clone(),
            function: function.to_string(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvironmentLabels {
    account: String,
    region: String,
    function: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubnetLabels {
    account: String,
    region: String,
    vpc: String,
    subnet: String,
    zone: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassLabels {
    pass: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: String,
    operation: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// 1 ms to ~65 s: function durations and init, API latency.
fn slow_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// 50 µs to ~3 s: store commits and dataplane passes.
fn fast_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// The daemon's metrics.
pub struct Telemetry {
    registry: Registry,
    invocations: Family<FunctionLabels, Counter>,
    errors: Family<FunctionLabels, Counter>,
    throttles: Family<FunctionLabels, Counter>,
    duration: Histograms<FunctionLabels>,
    cold_starts: Family<FunctionLabels, Counter>,
    init_duration: Histograms<FunctionLabels>,
    concurrent: Family<FunctionLabels, Gauge>,
    environments: Family<EnvironmentLabels, Gauge>,
    subnet_enis: Family<SubnetLabels, Gauge>,
    subnet_free: Family<SubnetLabels, Gauge>,
    subnet_used: Family<SubnetLabels, Gauge>,
    dataplane: Histograms<PassLabels>,
    commits: Histogram,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<OperationLabels>,
    /// One scrape at a time: a scrape clears and refills the state gauges.
    scraping: tokio::sync::Mutex<()>,
    /// Each function's handles, resolved once: a copy-on-write map read without a lock,
    /// so the invoke path's hooks take no lock shared by all functions.
    functions: ArcSwap<FunctionHandles>,
}

type FunctionHandles = HashMap<Scope, HashMap<String, Arc<FunctionMetrics>>>;

/// One function's last invocations, the oldest first.
type Recent = Mutex<VecDeque<RecentInvocation>>;

/// One function's series of the Lambda families (clones share their values) and its recent
/// invocations: what the invoke path's hooks touch, atomics and the function's own lock.
#[derive(Debug)]
pub struct FunctionMetrics {
    invocations: Counter,
    errors: Counter,
    throttles: Counter,
    duration: Histogram,
    cold_starts: Counter,
    init_duration: Histogram,
    recent: Recent,
}

/// How many invocations per function the console lists.
const RECENT_INVOCATIONS: usize = 20;

/// One invocation whose code ran.
#[derive(Clone, Debug)]
pub struct RecentInvocation {
    pub at_ms: i64,
    pub version: String,
    pub duration: Duration,
    pub function_error: bool,
}

static GLOBAL: LazyLock<Telemetry> = LazyLock::new(Telemetry::new);

/// The process's metrics.
pub fn global() -> &'static Telemetry {
    &GLOBAL
}

/// The store's commit observer, feeding [`Telemetry::committed`].
pub fn commit_observer() -> control::store::CommitObserver {
    Arc::new(|elapsed| global().committed(elapsed))
}

impl Telemetry {
    fn new() -> Telemetry {
        let mut t = Telemetry {
            registry: Registry::with_prefix("vpclambda"),
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            duration: Family::new_with_constructor(slow_buckets as fn() -> Histogram),
            cold_starts: Family::default(),
            init_duration: Family::new_with_constructor(slow_buckets as fn() -> Histogram),
            concurrent: Family::default(),
            environments: Family::default(),
            subnet_enis: Family::default(),
            subnet_free: Family::default(),
            subnet_used: Family::default(),
            dataplane: Family::new_with_constructor(fast_buckets as fn() -> Histogram),
            commits: fast_buckets(),
            requests: Family::default(),
            latency: Family::new_with_constructor(slow_buckets as fn() -> Histogram),
            scraping: tokio::sync::Mutex::new(()),
            functions: ArcSwap::default(),
        };
        let r = &mut t.registry;
        r.register(
            "lambda_invocations",
            "Invocations whose function code ran (CloudWatch's Invocations)",
            t.invocations.clone(),
        );
        r.register(
            "lambda_errors",
            "Invocations that ended in a function error (CloudWatch's Errors)",
            t.errors.clone(),
        );
        r.register(
            "lambda_throttles",
            "Invocations refused for concurrency (CloudWatch's Throttles)",
            t.throttles.clone(),
        );
        r.register_with_unit(
            "lambda_duration",
            "How long function code ran per invocation (CloudWatch's Duration)",
            Unit::Seconds,
            t.duration.clone(),
        );
        r.register(
            "lambda_cold_starts",
            "Invocations that ran on a new execution environment",
            t.cold_starts.clone(),
        );
        r.register_with_unit(
            "lambda_init_duration",
            "Runtime and function initialization of new environments",
            Unit::Seconds,
            t.init_duration.clone(),
        );
        r.register(
            "lambda_concurrent_executions",
            "Invocations running function code now",
            t.concurrent.clone(),
        );
        r.register(
            "lambda_environments",
            "Execution environments between invocations, by state",
            t.environments.clone(),
        );
        r.register(
            "subnet_network_interfaces",
            "Network interfaces in a subnet",
            t.subnet_enis.clone(),
        );
        r.register(
            "subnet_free_ips",
            "Addresses a subnet can still hand out",
            t.subnet_free.clone(),
        );
        r.register(
            "subnet_used_ips",
            "Addresses of a subnet in use (AWS's five reserved ones not counted)",
            t.subnet_used.clone(),
        );
        r.register_with_unit(
            "dataplane_apply_duration",
            "Dataplane passes applying EC2 records to the kernel, by kind of pass",
            Unit::Seconds,
            t.dataplane.clone(),
        );
        r.register_with_unit(
            "store_commit_duration",
            "Store transaction commits (durable on return)",
            Unit::Seconds,
            t.commits.clone(),
        );
        r.register(
            "api_requests",
            "AWS API requests answered, by service, operation and HTTP status",
            t.requests.clone(),
        );
        r.register_with_unit(
            "api_request_duration",
            "AWS API request latency, by service and operation",
            Unit::Seconds,
            t.latency.clone(),
        );
        t
    }

    /// The handles of `function`'s series, made on its first observation.
    fn function(&self, scope: &Scope, function: &str) -> Arc<FunctionMetrics> {
        let find = |map: &FunctionHandles| map.get(scope).and_then(|f| f.get(function)).cloned();
        if let Some(found) = find(&self.functions.load()) {
            return found;
        }
        let labels = FunctionLabels::new(scope, function);
        let fresh = Arc::new(FunctionMetrics {
            invocations: self.invocations.get_or_create(&labels).clone(),
            errors: self.errors.get_or_create(&labels).clone(),
            throttles: self.throttles.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
            cold_starts: self.cold_starts.get_or_create(&labels).clone(),
            init_duration: self.init_duration.get_or_create(&labels).clone(),
            recent: Recent::default(),
        });
        self.functions.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(scope.clone())
                .or_default()
                .entry(function.to_string())
                .or_insert_with(|| fresh.clone());
            map
        });
        find(&self.functions.load()).unwrap_or(fresh)
    }

    /// One observation of one of Lambda's CloudWatch metrics (the same calls the
    /// `AWS/Lambda` writer gets, so both agree); `value` is in CloudWatch's unit.
    pub fn lambda(&self, scope: &Scope, function: &str, metric: &str, value: f64) {
        let f = self.function(scope, function);
        match metric {
            "Invocations" => {
                f.invocations.inc();
            }
            "Errors" => {
                f.errors.inc();
            }
            "Throttles" => {
                f.throttles.inc();
            }
            "Duration" => f.duration.observe(value / 1000.0),
            _ => {}
        }
    }

    /// An invocation ran on a new environment whose init took `init`.
    pub fn cold_start(&self, scope: &Scope, function: &str, init: Duration) {
        let f = self.function(scope, function);
        f.cold_starts.inc();
        f.init_duration.observe(init.as_secs_f64());
    }

    /// An invocation whose code ran, for the console's list of recent ones.
    pub fn invoked(
        &self,
        scope: &Scope,
        function: &str,
        version: &str,
        duration: Duration,
        function_error: bool,
    ) {
        let f = self.function(scope, function);
        let mut list = f.recent.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() == RECENT_INVOCATIONS {
            list.pop_front();
        }
        list.push_back(RecentInvocation {
            at_ms: chrono::Utc::now().timestamp_millis(),
            version: version.to_string(),
            duration,
            function_error,
        });
    }

    /// The function's last invocations, the newest first.
    pub fn recent_invocations(&self, scope: &Scope, function: &str) -> Vec<RecentInvocation> {
        let functions = self.functions.load();
        let Some(f) = functions.get(scope).and_then(|f| f.get(function)) else {
            return Vec::new();
        };
        let list = f.recent.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().rev().cloned().collect()
    }

    /// A dataplane pass of kind `pass` (full, groups, interfaces) applied in `elapsed`.
    pub fn dataplane_applied(&self, pass: &str, elapsed: Duration) {
        let labels = PassLabels {
            pass: pass.to_string(),
        };
        self.dataplane
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    fn committed(&self, elapsed: Duration) {
        self.commits.observe(elapsed.as_secs_f64());
    }

    /// An AWS API request answered with `status` after `elapsed`.
    pub fn api_request(
        &self,
        service: &str,
        operation: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let (service, operation) = (service.to_string(), operation.to_string());
        self.latency
            .get_or_create(&OperationLabels {
                service: service.clone(),
                operation: operation.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                service,
                operation,
                status: status.as_u16().to_string(),
            })
            .inc();
    }

    /// The exposition, with the state gauges read now.
    async fn scrape(&self, state: &Arc<AppState>) -> Result<String, String> {
        let _one = self.scraping.lock().await;
        let store = state.store.clone();
        let subnets = tokio::task::spawn_blocking(move || store.read(subnet_figures))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e: StoreError| e.to_string())?;
        for family in [&self.subnet_enis, &self.subnet_free, &self.subnet_used] {
            family.clear();
        }
        for (labels, f) in subnets {
            self.subnet_enis.get_or_create(&labels).set(f.enis);
            self.subnet_free.get_or_create(&labels).set(f.free);
            self.subnet_used.get_or_create(&labels).set(f.used);
        }
        self.environments.clear();
        self.concurrent.clear();
        for f in state.invoke.environments(None) {
            let labels = FunctionLabels::new(&f.scope, &f.function);
            self.concurrent
                .get_or_create(&labels)
                .set(i64::from(f.executing));
            for env in &f.environments {
                self.environments
                    .get_or_create(&EnvironmentLabels {
                        account: labels.account.clone(),
                        region: labels.region.clone(),
                        function: labels.function.clone(),
                        state: env.state.to_string(),
                    })
                    .inc();
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

struct SubnetFigures {
    enis: i64,
    free: i64,
    used: i64,
}

/// Every subnet of every account with its interfaces and addresses.
fn subnet_figures(
    tx: &mut dyn control::Tx,
) -> Result<Vec<(SubnetLabels, SubnetFigures)>, StoreError> {
    let mut out = Vec::new();
    let mut by_id = HashMap::new();
    for (scope, id, body) in tx.list_all(ec2_kind::SUBNET)? {
        let subnet: Subnet = decode(ec2_kind::SUBNET, &id, &body)?;
        let free = i64::from(subnet.available_ip_address_count());
        let used = (usable_addresses(&subnet.cidr_block) - free).max(0);
        let labels = SubnetLabels {
            account: scope.account.clone(),
            region: scope.region.clone(),
            vpc: subnet.vpc_id,
            subnet: subnet.id,
            zone: subnet.availability_zone,
        };
        by_id.insert((scope, id), out.len());
        out.push((
            labels,
            SubnetFigures {
                enis: 0,
                free,
                used,
            },
        ));
    }
    for (scope, id, body) in tx.list_all(ec2_kind::NETWORK_INTERFACE)? {
        let eni: NetworkInterface = decode(ec2_kind::NETWORK_INTERFACE, &id, &body)?;
        if let Some(&i) = by_id.get(&(scope, eni.subnet_id)) {
            out[i].1.enis += 1;
        }
    }
    Ok(out)
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &str,
    id: &str,
    body: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
        kind: kind.into(),
        id: id.into(),
        source,
    })
}

/// A subnet's addresses less the five AWS reserves (network, router, DNS, future, broadcast).
pub fn usable_addresses(cidr: &str) -> i64 {
    let prefix = cidr
        .split_once('/')
        .and_then(|(_, p)| p.parse::<u32>().ok())
        .filter(|p| *p <= 32)
        .unwrap_or(32);
    ((1i64 << (32 - prefix)) - 5).max(0)
}

/// `GET /_vpclambda/metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match global().scrape(&state).await {
        Ok(body) => ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n").into_response()
        }
    }
}

/// The operation a verified call names, for the API metrics: a name from a fixed set or
/// `unknown`, never a string the caller chose freely (labels must stay few).
pub fn operation(service: Service, call: &Call) -> String {
    let named = match service {
        Service::Lambda => return lambda_operation(&call.method, call.uri.path()).to_string(),
        Service::Logs => target_operation(&call.headers),
        Service::Monitoring => call
            .uri
            .path()
            .rsplit_once("/operation/")
            .map(|(_, op)| op.to_string())
            .or_else(|| target_operation(&call.headers))
            .or_else(|| action(call)),
        Service::Ec2 | Service::Iam | Service::Sts => action(call),
    };
    named
        .filter(|op| op.len() <= 64 && op.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The operation's label once the service answered: one the service did not know is
/// `unknown`, so made-up names do not become label values.
pub fn answered_operation(operation: String, error_code: Option<&str>) -> String {
    match error_code {
        Some("InvalidAction" | "UnknownOperationException" | "UnknownOperation") => {
            "unknown".to_string()
        }
        _ => operation,
    }
}

fn action(call: &Call) -> Option<String> {
    call.query_params()
        .ok()
        .and_then(|p| p.get("Action").map(str::to_string))
}

fn target_operation(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit_once('.'))
        .map(|(_, op)| op.to_string())
}

/// Lambda's REST operations by method and path shape (the version segment skipped).
fn lambda_operation(method: &Method, path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = segments.get(1..).unwrap_or_default();
    match (method.as_str(), rest) {
        ("GET", ["functions"]) => "ListFunctions",
        ("POST", ["functions"]) => "CreateFunction",
        ("GET", ["functions", _]) => "GetFunction",
        ("DELETE", ["functions", _]) => "DeleteFunction",
        ("POST", ["functions", _, "invocations"]) => "Invoke",
        ("POST", ["functions", _, "invoke-async"]) => "InvokeAsync",
        ("GET", ["functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("PUT", ["functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("PUT", ["functions", _, "code"]) => "UpdateFunctionCode",
        ("GET", ["functions", _, "concurrency"]) => "GetFunctionConcurrency",
        ("PUT", ["functions", _, "concurrency"]) => "PutFunctionConcurrency",
        ("DELETE", ["functions", _, "concurrency"]) => "DeleteFunctionConcurrency",
        ("GET", ["functions", _, "versions"]) => "ListVersionsByFunction",
        ("POST", ["functions", _, "versions"]) => "PublishVersion",
        ("GET", ["functions", _, "aliases"]) => "ListAliases",
        ("POST", ["functions", _, "aliases"]) => "CreateAlias",
        ("GET", ["functions", _, "aliases", _]) => "GetAlias",
        ("PUT", ["functions", _, "aliases", _]) => "UpdateAlias",
        ("DELETE", ["functions", _, "aliases", _]) => "DeleteAlias",
        ("GET", ["functions", _, "policy"]) => "GetPolicy",
        ("POST", ["functions", _, "policy"]) => "AddPermission",
        ("DELETE", ["functions", _, "policy", _]) => "RemovePermission",
        ("GET", ["account-settings"]) => "GetAccountSettings",
        ("GET", ["tags", _]) => "ListTags",
        ("POST", ["tags", _]) => "TagResource",
        ("DELETE", ["tags", _]) => "UntagResource",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(t: &Telemetry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &t.registry).unwrap();
        out
    }

    #[test]
    fn lambda_observations_become_counters_and_histograms() {
        let t = Telemetry::new();
        let scope = Scope::new("111111111111", "us-east-1");
        for ms in [10.0, 30.0] {
            t.lambda(&scope, "f", "Invocations", 1.0);
            t.lambda(&scope, "f", "Duration", ms);
        }
        t.lambda(&scope, "f", "Errors", 1.0);
        t.lambda(&scope, "f", "AsyncEventAge", 5.0);
        t.cold_start(&scope, "f", Duration::from_millis(120));
        let text = encoded(&t);
        let labels = r#"account="111111111111",region="us-east-1",function="f""#;
        assert!(
            text.contains(&format!("vpclambda_lambda_invocations_total{{{labels}}} 2")),
            "{text}"
        );
        assert!(text.contains(&format!("vpclambda_lambda_errors_total{{{labels}}} 1")));
        assert!(text.contains(&format!(
            "vpclambda_lambda_duration_seconds_sum{{{labels}}} 0.04"
        )));
        assert!(text.contains(&format!(
            "vpclambda_lambda_duration_seconds_count{{{labels}}} 2"
        )));
        assert!(text.contains(&format!("vpclambda_lambda_cold_starts_total{{{labels}}} 1")));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn api_requests_by_service_operation_and_status() {
        let t = Telemetry::new();
        t.api_request(
            "ec2",
            "DescribeVpcs",
            StatusCode::OK,
            Duration::from_millis(3),
        );
        t.api_request(
            "ec2",
            "DescribeVpcs",
            StatusCode::OK,
            Duration::from_millis(5),
        );
        let text = encoded(&t);
        assert!(text.contains(
            r#"vpclambda_api_requests_total{service="ec2",operation="DescribeVpcs",status="200"} 2"#
        ));
        assert!(text.contains(
            r#"vpclambda_api_request_duration_seconds_count{service="ec2",operation="DescribeVpcs"} 2"#
        ));
    }

    #[test]
    fn lambda_paths_name_their_operations() {
        let get = Method::GET;
        assert_eq!(
            lambda_operation(&Method::POST, "/2015-03-31/functions/f/invocations"),
            "Invoke"
        );
        assert_eq!(
            lambda_operation(&get, "/2015-03-31/functions/f/configuration"),
            "GetFunctionConfiguration"
        );
        assert_eq!(
            lambda_operation(&get, "/2015-03-31/functions"),
            "ListFunctions"
        );
        assert_eq!(lambda_operation(&get, "/2015-03-31/whatever/x/y"), "other");
    }

    #[test]
    fn made_up_operations_are_unknown() {
        assert_eq!(
            answered_operation("Nope".into(), Some("InvalidAction")),
            "unknown"
        );
        assert_eq!(
            answered_operation("DescribeVpcs".into(), Some("InvalidVpcID.NotFound")),
            "DescribeVpcs"
        );
    }

    #[test]
    fn recent_invocations_are_bounded_and_newest_first() {
        let t = Telemetry::new();
        let scope = Scope::new("111111111111", "us-east-1");
        for i in 0..25 {
            t.invoked(&scope, "f", "$LATEST", Duration::from_millis(i), i == 24);
        }
        let recent = t.recent_invocations(&scope, "f");
        assert_eq!(recent.len(), RECENT_INVOCATIONS);
        assert!(recent[0].function_error);
        assert_eq!(recent[0].duration, Duration::from_millis(24));
        assert!(t.recent_invocations(&scope, "g").is_empty());
    }

    #[tokio::test]
    async fn the_endpoint_serves_openmetrics_with_api_and_subnet_figures() {
        use crate::testing::{app, send, signed, Signing};
        let (app, _dir) = app();
        let form = ("content-type", "application/x-www-form-urlencoded");
        let ec2 = Signing::for_service("ec2");
        for body in [
            "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.9.0.0/16".to_string(),
            "Action=MadeUpAction&Version=2016-11-15".to_string(),
        ] {
            send(&app, signed(&ec2, "POST", "/", &[form], body.as_bytes())).await;
        }
        let req = http::Request::get("/_vpclambda/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, headers, text) = send(&app, req).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], CONTENT_TYPE);
        assert!(
            text.contains(
                r#"vpclambda_api_requests_total{service="ec2",operation="CreateVpc",status="200"}"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"operation="unknown",status="400"}"#),
            "{text}"
        );
        assert!(!text.contains("MadeUpAction"));
        assert!(text.contains("# TYPE vpclambda_store_commit_duration_seconds histogram"));
    }

    #[test]
    fn usable_addresses_leave_out_the_reserved_five() {
        assert_eq!(usable_addresses("10.0.1.0/24"), 251);
        assert_eq!(usable_addresses("10.0.0.0/28"), 11);
        assert_eq!(usable_addresses("bogus"), 0);
    }
}
