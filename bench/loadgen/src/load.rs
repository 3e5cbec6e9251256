//! Sending load and measuring it: closed loop (a fixed number of connections, each sending
//! its next request when the previous answer is in) or open loop (requests scheduled at a
//! fixed rate over a fixed number of connections, latency counted from the *scheduled* time,
//! so a stalled server cannot hide its queue — no coordinated omission).
//!
//! Open-loop slots come from a pacer thread sleeping with a 1 µs timer slack: tokio's timer
//! ticks in milliseconds and would send requests up to 1 ms late, charged to the server, and
//! spinning instead steals the CPU the load generator shares with whatever else runs there.
//!
//! Every run is bounded by a duration (at most [`MAX_DURATION`]) and optionally a request
//! count, whichever comes first, and stops by itself. Latencies of successful responses go
//! into an HDR histogram in nanoseconds; anything not 2xx is counted as an error by status,
//! and the latency of such answers (a server shedding load answers 429 fast, or should) into
//! a histogram of its own.
//! Each of a run's `connections` is one HTTP/1.1 keep-alive connection of its own, used for
//! one request at a time: a shared pool (hyper-util's) races the return of a just-used
//! connection against a new connect and so reconnects every few requests, which would make
//! the server accept connections a fixed-connection measurement never asked for. A server
//! that closes after each response (HTTP/1.0 servers do) costs a reconnect, as it would for
//! any client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;

use crate::ops::Template;
use crate::report::{error_code, Summary};

/// The longest a single run may last.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// The HTTP client every run sends through.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A keep-alive client that holds up to `connections` idle connections per server.
pub fn client(connections: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Pace {
    /// Each connection sends its next request as soon as the previous answer is in.
    Closed,
    /// Requests are scheduled at `rate` per second in total.
    Open { rate: f64 },
}

/// One run: how many connections, how paced, for how long.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub connections: usize,
    pub pace: Pace,
    #[serde(rename = "duration_s", serialize_with = "secs")]
    pub duration: Duration,
    pub max_requests: Option<u64>,
    #[serde(rename = "warmup_s", serialize_with = "secs")]
    pub warmup: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Plan {
    pub fn closed(connections: usize, duration: Duration) -> Self {
        Plan {
            connections,
            pace: Pace::Closed,
            duration,
            max_requests: None,
            warmup: Duration::ZERO,
        }
    }

    pub fn with_max_requests(mut self, max: Option<u64>) -> Self {
        self.max_requests = max;
        self
    }

    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    fn check(&self) -> Result<()> {
        if self.connections == 0 || self.connections > 4096 {
            bail!("connections must be 1..=4096, got {}", self.connections);
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            bail!("duration must be in (0, {}] s", MAX_DURATION.as_secs());
        }
        if self.warmup > MAX_DURATION {
            bail!("warmup must be at most {} s", MAX_DURATION.as_secs());
        }
        if let Pace::Open { rate } = self.pace {
            if !(rate.is_finite() && rate > 0.0 && rate <= 1e7) {
                bail!("rate must be in (0, 1e7] requests/s, got {rate}");
            }
        }
        Ok(())
    }
}

/// What a run (or several merged runs) measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Latency of successful responses, nanoseconds.
    pub latency: Histogram<u64>,
    /// Latency of responses that were not a success (refusals), nanoseconds.
    pub refused_latency: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// Wall time of the measured part (after warm-up), summed over merged runs.
    pub elapsed: Duration,
    /// CPU time the load generator itself used meanwhile (user + system, all threads): near
    /// `elapsed` × its CPUs, the rate measured is the load generator's limit, not the server's.
    pub client_cpu: Duration,
    /// Responses by status code, `"transport"` for requests that got no response.
    pub statuses: BTreeMap<String, u64>,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn new() -> Result<Self> {
        let histogram =
            || Histogram::new_with_bounds(1, 3_600_000_000_000, 3).context("latency histogram");
        Ok(Outcome {
            latency: histogram()?,
            refused_latency: histogram()?,
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            client_cpu: Duration::ZERO,
            statuses: BTreeMap::new(),
            first_error: None,
        })
    }

    /// Adds `other`'s samples, counts and time to this one.
    pub fn merge(&mut self, other: &Outcome) -> Result<()> {
        self.latency
            .add(&other.latency)
            .context("merging histograms")?;
        self.refused_latency
            .add(&other.refused_latency)
            .context("merging histograms")?;
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.client_cpu += other.client_cpu;
        for (k, v) in &other.statuses {
            *self.statuses.entry(k.clone()).or_default() += v;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }

    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }

    fn count(&mut self, status: &str) {
        *self.statuses.entry(status.to_owned()).or_default() += 1;
    }
}

/// Sends one request built by `template` and reads the whole response. `Ok(Err(_))` is a
/// response that is not a success, described as `HTTP <status> <error code>`.
pub async fn send_once(client: &HttpClient, template: &Template) -> Result<Result<(), String>> {
    let req = template.request()?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| Failure::Transport(root_cause(&e)));
    Ok(answer(resp).await.map(|_| ()).map_err(|e| e.describe()))
}

enum Failure {
    Transport(String),
    Status(u16, String),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Transport(e) => format!("no response: {e}"),
            Failure::Status(s, code) => format!("HTTP {s} {code}"),
        }
    }
}

/// One load connection's own HTTP/1.1 connection, opened on first use and again after the
/// server closed it.
struct Conn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(template: &Template) -> Conn {
        Conn {
            authority: template.authority().to_owned(),
            sender: None,
        }
    }

    async fn exchange(&mut self, req: http::Request<Full<Bytes>>) -> Result<u16, Failure> {
        let resp = match self.send(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                self.sender = None;
                Err(Failure::Transport(e))
            }
        };
        answer(resp).await
    }

    async fn send(
        &mut self,
        req: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, String> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            _ => self.sender.insert(connect(&self.authority).await?),
        };
        sender.ready().await.map_err(|e| root_cause(&e))?;
        sender.send_request(req).await.map_err(|e| root_cause(&e))
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| root_cause(&e))?;
    // Ends when the server closes the connection or the sender is dropped.
    tokio::spawn(conn);
    Ok(sender)
}

/// Reads the whole answer; `Ok` with the status for a success.
async fn answer(resp: Result<http::Response<Incoming>, Failure>) -> Result<u16, Failure> {
    let (parts, body) = resp?.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Failure::Transport(root_cause(&e)))?
        .to_bytes();
    let status = parts.status.as_u16();
    if parts.status.is_success() {
        Ok(status)
    } else {
        Err(Failure::Status(status, error_code(&parts.headers, &body)))
    }
}

/// The innermost cause (`Connection refused (os error 111)`): hyper's outer layers only
/// say which layer failed.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Runs `plan` against what `template` builds: warm-up first (not measured), then the
/// measured part. Returns when the duration or request count is reached.
pub async fn run(template: &Arc<Template>, plan: &Plan) -> Result<Outcome> {
    plan.check()?;
    if !plan.warmup.is_zero() {
        let warm = Plan {
            pace: Pace::Closed,
            duration: plan.warmup,
            max_requests: None,
            ..plan.clone()
        };
        measure(template, &warm).await?;
    }
    measure(template, plan).await
}

async fn measure(template: &Arc<Template>, plan: &Plan) -> Result<Outcome> {
    let cpu_before = process_cpu()?;
    let start = Instant::now();
    let deadline = start + plan.duration;
    let slots = match plan.pace {
        Pace::Closed => Slots::Closed {
            issued: AtomicU64::new(0),
            max: plan.max_requests,
            deadline,
        },
        Pace::Open { rate } => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let max = plan.max_requests;
            std::thread::Builder::new()
                .name("loadgen-pacer".into())
                .spawn(move || pace(&tx, start, deadline, rate, max))
                .context("starting the pacer thread")?;
            Slots::Open(tokio::sync::Mutex::new(rx))
        }
    };
    let slots = Arc::new(slots);
    let mut tasks = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        let template = Arc::clone(template);
        let slots = Arc::clone(&slots);
        tasks.push(tokio::spawn(
            async move { connection(&template, &slots).await },
        ));
    }
    let mut total = Outcome::new()?;
    for task in tasks {
        let part = task.await.context("load task panicked")??;
        total.merge(&part)?;
    }
    total.elapsed = start.elapsed();
    total.client_cpu = process_cpu()?.saturating_sub(cpu_before);
    Ok(total)
}

/// User + system CPU time of this whole process so far.
fn process_cpu() -> Result<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    Ok(tv(usage.user_time()) + tv(usage.system_time()))
}

/// Where connections take their next request from.
enum Slots {
    /// Whenever the previous one is done, until the deadline or `max` requests.
    Closed {
        issued: AtomicU64,
        max: Option<u64>,
        deadline: Instant,
    },
    /// Scheduled times from the pacer; the channel closes when the schedule is over.
    Open(tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Instant>>),
}

impl Slots {
    /// The time the next request's latency counts from, or `None` when the run is over.
    async fn next(&self) -> Option<Instant> {
        match self {
            Slots::Closed {
                issued,
                max,
                deadline,
            } => {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                (max.is_none_or(|m| n < m) && now < *deadline).then_some(now)
            }
            Slots::Open(rx) => rx.lock().await.recv().await,
        }
    }
}

/// The pacer thread: releases slot n at `start + n / rate` until the deadline or `max`.
fn pace(
    tx: &tokio::sync::mpsc::UnboundedSender<Instant>,
    start: Instant,
    deadline: Instant,
    rate: f64,
    max: Option<u64>,
) {
    // Best effort: without it, sleeps end up to 50 µs late, which only adds to latency.
    let _ = nix::sys::prctl::set_timerslack(1_000);
    let mut n: u64 = 0;
    while max.is_none_or(|m| n < m) {
        let scheduled = start + Duration::from_secs_f64(n as f64 / rate);
        if scheduled >= deadline {
            break;
        }
        let now = Instant::now();
        if scheduled > now {
            std::thread::sleep(scheduled - now);
        }
        if tx.send(scheduled).is_err() {
            break;
        }
        n += 1;
    }
}

async fn connection(template: &Template, slots: &Slots) -> Result<Outcome> {
    let mut out = Outcome::new()?;
    let mut conn = Conn::new(template);
    while let Some(scheduled) = slots.next().await {
        let req = template.request()?;
        // Closed loop: from now, after signing. Open loop: from the scheduled time.
        let begin = match slots {
            Slots::Closed { .. } => Instant::now(),
            Slots::Open(_) => scheduled,
        };
        let result = conn.exchange(req).await;
        let nanos = u64::try_from(begin.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        match result {
            Ok(status) => {
                out.latency.saturating_record(nanos);
                out.ok += 1;
                out.count(&status.to_string());
            }
            Err(failure) => {
                out.errors += 1;
                match &failure {
                    Failure::Status(s, _) => {
                        out.refused_latency.saturating_record(nanos);
                        out.count(&s.to_string());
                    }
                    Failure::Transport(_) => {
                        out.count("transport");
                        // A refused connection fails at once; don't spin on it.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                if out.first_error.is_none() {
                    out.first_error = Some(failure.describe());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Op, OpParams};
    use crate::sign::Signer;

    async fn echo_template() -> Arc<Template> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(crate::floor::serve_echo(listener, Duration::from_secs(30)));
        let signer = Signer::new("test", "test", "us-east-1");
        Arc::new(
            Template::new(
                Op::LambdaInvoke,
                &format!("http://{addr}"),
                &OpParams::default(),
                signer,
            )
            .expect("template"),
        )
    }

    #[tokio::test]
    async fn open_loop_sends_the_scheduled_number_of_requests() {
        let template = echo_template().await;
        let plan =
            Plan::closed(4, Duration::from_millis(250)).with_pace(Pace::Open { rate: 200.0 });
        let out = run(&template, &plan).await.expect("run");
        assert_eq!((out.ok, out.errors), (50, 0), "{:?}", out.first_error);
        assert!(
            out.elapsed >= Duration::from_millis(245),
            "{:?}",
            out.elapsed
        );
    }

    #[tokio::test]
    async fn closed_loop_stops_at_the_request_count() {
        let template = echo_template().await;
        let plan = Plan::closed(3, Duration::from_secs(10)).with_max_requests(Some(20));
        let out = run(&template, &plan).await.expect("run");
        assert_eq!((out.ok, out.errors), (20, 0));
        assert_eq!(out.latency.len(), 20);
    }

    #[tokio::test]
    async fn plans_out_of_bounds_are_refused() {
        let template = echo_template().await;
        for plan in [
            Plan::closed(0, Duration::from_secs(1)),
            Plan::closed(1, Duration::from_secs(601)),
            Plan::closed(1, Duration::from_secs(1)).with_pace(Pace::Open { rate: 0.0 }),
        ] {
            assert!(run(&template, &plan).await.is_err(), "{plan:?}");
        }
    }
}
