//! Function logs: each environment's stdout/stderr lines and the platform's START, END and
//! REPORT lines become events of `/aws/lambda/<function>`, one stream per environment.
//!
//! Each environment has one pump task, the single writer of its stream, so lines stay in
//! order; the pump hands events to one background writer that batches them into store
//! transactions. The invoke path only sends on channels: it never waits for the store.
//! Owns the log formats (stream names, REPORT, the `Log-Result` tail); must not decide
//! outcomes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use control::{Scope, Store};
use sandbox::{InvokeStats, LogLine};
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

/// `/aws/lambda/<function>`.
pub fn group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// `YYYY/MM/DD/[<version>]<32 hex>`: the environment's stream.
pub fn stream_name(version: &str, env_hex: &str) -> String {
    format!(
        "{}/[{version}]{env_hex}",
        chrono::Utc::now().format("%Y/%m/%d")
    )
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
    let billed = match timed_out_at {
        Some(limit) => limit.as_millis(),
        None => (duration_ms.ceil() as u128).max(1),
    };
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
        output: Option<mpsc::Receiver<LogLine>>,
    ) -> EnvLog {
        let (ctl, rx) = mpsc::unbounded_channel();
        let pump = Pump {
            scope,
            group,
            stream,
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
    Lines(Vec<String>),
    /// START: the invocation's lines are kept for its tail when `capture`.
    Begin { line: String, capture: bool },
    /// END, REPORT and the like; the captured tail goes back on `reply`.
    End {
        lines: Vec<String>,
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
    pub fn lines(&self, lines: Vec<String>) {
        let _ = self.ctl.send(Ctl::Lines(lines));
    }

    pub fn begin(&self, line: String, capture: bool) {
        let _ = self.ctl.send(Ctl::Begin { line, capture });
    }

    /// Ends the invocation's part of the log; with `want_tail`, resolves to its lines.
    pub fn end(
        &self,
        lines: Vec<String>,
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
                    Some(l) => self.emit(vec![(millis(l.at), l.line)]),
                    None => output = None,
                },
                msg = ctl.recv(), if ctl_open => match msg {
                    None => ctl_open = false,
                    Some(Ctl::Lines(lines)) => self.platform(lines),
                    Some(Ctl::Begin { line, capture }) => {
                        self.capture = capture.then(Vec::new);
                        self.platform(vec![line]);
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
                Ok(Some(l)) => self.emit(vec![(millis(l.at), l.line)]),
                Ok(None) => {
                    *output = None;
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn platform(&mut self, lines: Vec<String>) {
        let at = now_ms();
        self.emit(lines.into_iter().map(|l| (at, l)).collect());
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
        assert_eq!(group_name("f"), "/aws/lambda/f");
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
