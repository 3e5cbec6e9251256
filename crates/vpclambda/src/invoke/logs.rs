//! Function logs: each environment's stdout/stderr lines and the platform's START, END and
//! REPORT lines become events of the function's log group (`/aws/lambda/<function>`, or its
//! `LoggingConfig.LogGroup`), one stream per environment. With the JSON log format the
//! platform's lines are `platform.start`, `platform.runtimeDone` and `platform.report`
//! records, filtered by the system log level, and the function's JSON lines are filtered
//! by the application log level, as Lambda does.
//!
//! Each environment has one pump task, the single writer of its stream, so lines stay in
//! order; the pump hands events to one background writer that batches them into store
//! transactions. The invoke path only sends on channels: it never waits for the store.
//! Owns the log formats (stream names, REPORT, the `Log-Result` tail); must not decide
//! outcomes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use control::lambda::{LogFormat, Logging};
use control::{Scope, Store};
use sandbox::{InvokeStats, LogLine};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// `X-Amz-Log-Result` carries this much of the end of the invocation's log.
const TAIL_BYTES: usize = 4096;
/// How long the writer gathers events before one store transaction.
const FLUSH_DELAY: Duration = Duration::from_millis(50);
/// A batch this large is written at once.
const FLUSH_EVENTS: usize = 5000;
/// After an invocation ends, how long its last output may still be in the pipe: lines the
/// runtime printed just before posting its response are read by then, so END follows them.
/// Counted from the invocation's end, not from when the pump gets to it, so a pump behind
/// a busy environment catches up instead of waiting this long per invocation.
const SETTLE: Duration = Duration::from_millis(5);

/// `YYYY/MM/DD/[<version>]<32 hex>`: the environment's stream. In a custom log group,
/// which functions may share, `YYYY/MM/DD/<function>[<version>][<32 hex>]`.
fn stream_name(version: &str, env_hex: &str) -> String {
    format!(
        "{}/[{version}]{env_hex}",
        chrono::Utc::now().format("%Y/%m/%d")
    )
}

/// The environment's stream in the group `logging` names.
pub fn stream_in(logging: &Logging, function: &str, version: &str, env_hex: &str) -> String {
    if logging.log_group.is_none() {
        return stream_name(version, env_hex);
    }
    format!(
        "{}/{function}[{version}][{env_hex}]",
        chrono::Utc::now().format("%Y/%m/%d")
    )
}

/// Log levels in Lambda's order, least severe first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    #[default]
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// A level name as runtimes write them (`WARNING` and `CRITICAL` are Python's).
    fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_uppercase().as_str() {
            "TRACE" => Level::Trace,
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" => Level::Error,
            "FATAL" | "CRITICAL" => Level::Fatal,
            _ => return None,
        })
    }
}

/// How an environment's log is written: its function's `LoggingConfig`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub json: bool,
    /// Platform records below it are not written.
    pub system: Level,
    /// The function's JSON lines whose `level` is below it are not written.
    pub application: Level,
}

impl Style {
    pub fn of(logging: &Logging) -> Style {
        let level = |l: &Option<String>| l.as_deref().and_then(Level::parse).unwrap_or_default();
        Style {
            json: logging.format == LogFormat::Json,
            system: level(&logging.system_level),
            application: level(&logging.application_level),
        }
    }

    /// Whether a line of the function's output is written: Lambda filters JSON lines that
    /// carry a level it knows; other lines are always written.
    fn admits(&self, line: &str) -> bool {
        if !self.json || self.application == Level::Trace || !line.starts_with('{') {
            return true;
        }
        let level = serde_json::from_str::<Value>(line).ok().and_then(|v| {
            v.get("level")
                .and_then(Value::as_str)
                .and_then(Level::parse)
        });
        level.is_none_or(|l| l >= self.application)
    }
}

/// One platform event, written as Lambda writes it in either log format.
#[derive(Clone, Debug)]
pub enum Platform {
    Start {
        request_id: String,
        version: String,
    },
    /// END; `platform.runtimeDone` in JSON.
    End {
        request_id: String,
        status: &'static str,
    },
    Report {
        request_id: String,
        stats: InvokeStats,
        memory_mb: u32,
        timed_out_at: Option<Duration>,
        status: &'static str,
        /// The invocation's `X-Amzn-Trace-Id` when it was sampled.
        trace: Option<String>,
    },
    /// A line of the platform's own (a timeout's message, the runtime's note), as it is.
    Line(String),
}

impl Platform {
    fn level(&self) -> Level {
        match self {
            Platform::Line(_) => Level::Warn,
            _ => Level::Info,
        }
    }

    fn render(&self, json: bool) -> String {
        if !json {
            return match self {
                Platform::Start {
                    request_id,
                    version,
                } => format!("START RequestId: {request_id} Version: {version}"),
                Platform::End { request_id, .. } => format!("END RequestId: {request_id}"),
                Platform::Report {
                    request_id,
                    stats,
                    memory_mb,
                    timed_out_at,
                    trace,
                    ..
                } => {
                    let mut line = report_line(request_id, stats, *memory_mb, *timed_out_at);
                    if let Some(t) = trace {
                        let field = |k: &str| {
                            t.split(';')
                                .find_map(|p| p.strip_prefix(k))
                                .unwrap_or_default()
                                .to_string()
                        };
                        line.push_str(&format!(
                            "\tXRAY TraceId: {}\tSegmentId: {}\tSampled: true",
                            field("Root="),
                            field("Parent=")
                        ));
                    }
                    line
                }
                Platform::Line(l) => l.clone(),
            };
        }
        let (kind, record) = match self {
            Platform::Start {
                request_id,
                version,
            } => (
                "platform.start",
                json!({ "requestId": request_id, "version": version }),
            ),
            Platform::End { request_id, status } => (
                "platform.runtimeDone",
                json!({ "requestId": request_id, "status": status }),
            ),
            Platform::Report {
                request_id,
                stats,
                memory_mb,
                timed_out_at,
                status,
                trace,
            } => {
                let duration_ms = stats.duration.as_secs_f64() * 1000.0;
                let mut metrics = json!({
                    "durationMs": (duration_ms * 100.0).round() / 100.0,
                    "billedDurationMs": billed_ms(stats, *timed_out_at) as u64,
                    "memorySizeMB": memory_mb,
                    "maxMemoryUsedMB": stats.max_memory_bytes.div_ceil(1 << 20),
                });
                if let Some(init) = stats.init_duration {
                    metrics["initDurationMs"] =
                        json!((init.as_secs_f64() * 100_000.0).round() / 100.0);
                }
                let mut record =
                    json!({ "requestId": request_id, "metrics": metrics, "status": status });
                if let Some(t) = trace {
                    let span = t
                        .split(';')
                        .find_map(|p| p.strip_prefix("Parent="))
                        .unwrap_or_default();
                    record["tracing"] =
                        json!({ "spanId": span, "type": "X-Amzn-Trace-Id", "value": t });
                }
                ("platform.report", record)
            }
            Platform::Line(l) => return l.clone(),
        };
        json!({
            "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "type": kind,
            "record": record,
        })
        .to_string()
    }
}

fn billed_ms(stats: &InvokeStats, timed_out_at: Option<Duration>) -> u128 {
    match timed_out_at {
        Some(limit) => limit.as_millis(),
        None => ((stats.duration.as_secs_f64() * 1000.0).ceil() as u128).max(1),
    }
}

pub fn now_ms() -> i64 {
    millis(SystemTime::now())
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The REPORT line. A timed-out invocation is billed at its timeout, others rounded up to
/// the next millisecond.
pub fn report_line(
    request_id: &str,
    stats: &InvokeStats,
    memory_mb: u32,
    timed_out_at: Option<Duration>,
) -> String {
    let duration_ms = stats.duration.as_secs_f64() * 1000.0;
    let billed = billed_ms(stats, timed_out_at);
    let used_mb = stats.max_memory_bytes.div_ceil(1 << 20);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used_mb} MB"
    );
    if let Some(init) = stats.init_duration {
        line.push_str(&format!(
            "\tInit Duration: {:.2} ms",
            init.as_secs_f64() * 1000.0
        ));
    }
    line
}

/// base64 of the last 4 KB of the lines, each ended by a newline.
pub fn tail(lines: &[String]) -> String {
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l.as_bytes());
        text.push(b'\n');
    }
    let start = text.len().saturating_sub(TAIL_BYTES);
    base64::engine::general_purpose::STANDARD.encode(&text[start..])
}

/// Events bound for one stream.
struct Batch {
    scope: Scope,
    group: String,
    stream: String,
    events: Vec<(i64, String)>,
}

/// The background writer's inbox.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::UnboundedSender<Batch>,
}

impl LogWriter {
    /// Starts the writer task; it ends when every sender is gone.
    pub fn spawn(store: Store) -> LogWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, rx));
        LogWriter { tx }
    }

    /// Starts the pump of one environment's stream and returns its handle.
    pub fn attach(
        &self,
        scope: Scope,
        group: String,
        stream: String,
        style: Style,
        output: Option<mpsc::Receiver<LogLine>>,
    ) -> EnvLog {
        let (ctl, rx) = mpsc::unbounded_channel();
        let pump = Pump {
            scope,
            group,
            stream,
            style,
            writer: self.tx.clone(),
            last_ts: 0,
            capture: None,
        };
        tokio::spawn(pump.run(output, rx));
        EnvLog { ctl }
    }
}

async fn write_batches(store: Store, mut rx: mpsc::UnboundedReceiver<Batch>) {
    while let Some(first) = rx.recv().await {
        let mut pending: HashMap<(Scope, String, String), Vec<(i64, String)>> = HashMap::new();
        let mut count = 0;
        let mut add = |b: Batch, count: &mut usize| {
            *count += b.events.len();
            pending
                .entry((b.scope, b.group, b.stream))
                .or_default()
                .extend(b.events);
        };
        add(first, &mut count);
        let deadline = Instant::now() + FLUSH_DELAY;
        while count < FLUSH_EVENTS {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(b) => add(b, &mut count),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let store = store.clone();
        let written = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            store.write(|tx| {
                for ((scope, group, stream), events) in &pending {
                    control::logs::append_lines(tx, scope, group, stream, events, now)?;
                }
                Ok::<_, control::logs::LogsError>(())
            })
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "writing function logs failed"),
            Err(e) => tracing::error!(error = %e, "the log writer panicked"),
        }
    }
}

/// What the invoke path tells an environment's pump.
enum Ctl {
    /// Platform lines outside any invocation (the runtime's note at init).
    Lines(Vec<Platform>),
    /// START: the invocation's lines are kept for its tail when `capture`.
    Begin { record: Platform, capture: bool },
    /// END, REPORT and the like; the captured tail goes back on `reply`.
    End {
        lines: Vec<Platform>,
        /// When the invocation ended.
        at: Instant,
        reply: Option<oneshot::Sender<Vec<String>>>,
    },
}

/// The invoke path's handle on one environment's stream.
pub struct EnvLog {
    ctl: mpsc::UnboundedSender<Ctl>,
}

impl EnvLog {
    pub fn lines(&self, lines: Vec<Platform>) {
        let _ = self.ctl.send(Ctl::Lines(lines));
    }

    pub fn begin(&self, record: Platform, capture: bool) {
        let _ = self.ctl.send(Ctl::Begin { record, capture });
    }

    /// Ends the invocation's part of the log; with `want_tail`, resolves to its lines.
    pub fn end(
        &self,
        lines: Vec<Platform>,
        want_tail: bool,
    ) -> Option<oneshot::Receiver<Vec<String>>> {
        let (reply, rx) = if want_tail {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let _ = self.ctl.send(Ctl::End {
            lines,
            at: Instant::now(),
            reply,
        });
        rx
    }
}

struct Pump {
    scope: Scope,
    group: String,
    stream: String,
    style: Style,
    writer: mpsc::UnboundedSender<Batch>,
    /// Events of one stream must not go back in time.
    last_ts: i64,
    capture: Option<Vec<String>>,
}

impl Pump {
    async fn run(
        mut self,
        mut output: Option<mpsc::Receiver<LogLine>>,
        mut ctl: mpsc::UnboundedReceiver<Ctl>,
    ) {
        let mut ctl_open = true;
        while ctl_open || output.is_some() {
            tokio::select! {
                line = recv(&mut output), if output.is_some() => match line {
                    Some(l) => self.output(l),
                    None => output = None,
                },
                msg = ctl.recv(), if ctl_open => match msg {
                    None => ctl_open = false,
                    Some(Ctl::Lines(lines)) => self.platform(lines),
                    Some(Ctl::Begin { record, capture }) => {
                        self.capture = capture.then(Vec::new);
                        self.platform(vec![record]);
                    }
                    Some(Ctl::End { lines, at, reply }) => {
                        self.settle(&mut output, at + SETTLE).await;
                        self.platform(lines);
                        let captured = self.capture.take().unwrap_or_default();
                        if let Some(reply) = reply {
                            let _ = reply.send(captured);
                        }
                    }
                },
            }
        }
    }

    /// Takes what the function wrote just before its invocation ended, until `deadline`.
    async fn settle(&mut self, output: &mut Option<mpsc::Receiver<LogLine>>, deadline: Instant) {
        let Some(rx) = output.as_mut() else { return };
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(l)) => self.output(l),
                Ok(None) => {
                    *output = None;
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn output(&mut self, l: LogLine) {
        if self.style.admits(&l.line) {
            self.emit(vec![(millis(l.at), l.line)]);
        }
    }

    fn platform(&mut self, records: Vec<Platform>) {
        let at = now_ms();
        let style = self.style;
        // The system log level applies to the JSON format only, as on Lambda.
        let lines = records
            .into_iter()
            .filter(|r| !style.json || r.level() >= style.system)
            .map(|r| (at, r.render(style.json)))
            .collect();
        self.emit(lines);
    }

    fn emit(&mut self, events: Vec<(i64, String)>) {
        let mut out = Vec::with_capacity(events.len());
        for (at, line) in events {
            self.last_ts = self.last_ts.max(at);
            if let Some(c) = &mut self.capture {
                c.push(line.clone());
            }
            out.push((self.last_ts, line));
        }
        let _ = self.writer.send(Batch {
            scope: self.scope.clone(),
            group: self.group.clone(),
            stream: self.stream.clone(),
            events: out,
        });
    }
}

async fn recv(output: &mut Option<mpsc::Receiver<LogLine>>) -> Option<LogLine> {
    match output {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ms: u64, init: Option<u64>) -> InvokeStats {
        InvokeStats {
            duration: Duration::from_micros(ms),
            max_memory_bytes: 40 * (1 << 20) + 1,
            init_duration: init.map(Duration::from_micros),
        }
    }

    #[test]
    fn report_lines_look_like_lambdas() {
        assert_eq!(
            report_line("r1", &stats(12_341, Some(80_120)), 128, None),
            "REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 80.12 ms"
        );
        assert_eq!(
            report_line("r2", &stats(3_071_270, None), 256, Some(Duration::from_secs(3))),
            "REPORT RequestId: r2\tDuration: 3071.27 ms\tBilled Duration: 3000 ms\tMemory Size: 256 MB\tMax Memory Used: 41 MB"
        );
    }

    #[test]
    fn stream_names_carry_the_version() {
        let s = stream_name("$LATEST", "0123456789abcdef0123456789abcdef");
        assert_eq!(s.len(), "2024/01/31/[$LATEST]".len() + 32, "{s}");
        assert!(s.contains("/[$LATEST]0123"));
    }

    fn json_style(system: &str, application: &str) -> Style {
        Style::of(&Logging {
            format: LogFormat::Json,
            application_level: Some(application.into()),
            system_level: Some(system.into()),
            log_group: None,
        })
    }

    #[test]
    fn json_platform_records_look_like_lambdas() {
        let start = Platform::Start {
            request_id: "r1".into(),
            version: "$LATEST".into(),
        };
        assert_eq!(start.render(false), "START RequestId: r1 Version: $LATEST");
        let v: Value = serde_json::from_str(&start.render(true)).unwrap();
        assert_eq!(v["type"], "platform.start");
        assert_eq!(
            v["record"],
            json!({"requestId": "r1", "version": "$LATEST"})
        );
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        let report = Platform::Report {
            request_id: "r1".into(),
            stats: stats(12_341, Some(80_120)),
            memory_mb: 128,
            timed_out_at: None,
            status: "success",
            trace: Some(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
            ),
        };
        let v: Value = serde_json::from_str(&report.render(true)).unwrap();
        assert_eq!(v["type"], "platform.report");
        assert_eq!(
            v["record"]["metrics"],
            json!({"durationMs": 12.34, "billedDurationMs": 13, "memorySizeMB": 128, "maxMemoryUsedMB": 41, "initDurationMs": 80.12})
        );
        assert_eq!(v["record"]["tracing"]["spanId"], "9a9197af755a6419");
        assert!(report.render(false).ends_with(
            "\tXRAY TraceId: 1-5bef4de7-ad49b0e87f6ef6c87fc2e700\tSegmentId: 9a9197af755a6419\tSampled: true"
        ));
    }

    #[test]
    fn levels_filter_as_lambda_does() {
        let warn = json_style("WARN", "ERROR");
        assert!(Platform::Line("x".into()).level() >= warn.system);
        assert!(
            Platform::End {
                request_id: "r".into(),
                status: "success"
            }
            .level()
                < warn.system
        );
        assert!(!warn.admits(r#"{"level":"INFO","message":"m"}"#));
        assert!(!warn.admits(r#"{"level":"WARNING","message":"m"}"#));
        assert!(warn.admits(r#"{"level":"CRITICAL","message":"m"}"#));
        assert!(warn.admits("plain text at any level"));
        assert!(warn.admits(r#"{"no":"level"}"#));
        let text = Style::of(&Logging::default());
        assert!(text.admits(r#"{"level":"DEBUG"}"#));
        assert_eq!(
            stream_in(
                &Logging {
                    log_group: Some("/g".into()),
                    ..Logging::default()
                },
                "f",
                "1",
                "ab"
            )
            .split_once('/')
            .map(|(_, rest)| rest.len()),
            Some("MM/DD/f[1][ab]".len())
        );
    }

    #[test]
    fn tail_keeps_the_last_4_kb() {
        let engine = base64::engine::general_purpose::STANDARD;
        let short = engine.decode(tail(&["a".into(), "b".into()])).unwrap();
        assert_eq!(short, b"a\nb\n");
        let long: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let t = engine.decode(tail(&long)).unwrap();
        assert_eq!(t.len(), TAIL_BYTES);
        assert!(t.ends_with(b"line 999\n"));
    }
}
