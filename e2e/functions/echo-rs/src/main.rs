//! The end-to-end tests' Rust function, built with AWS's `lambda_runtime`. Zipped as
//! `bootstrap` it is a `provided.al2023` function; zipped under its handler name it is a
//! `go1.x` one (the binary speaks the Runtime API either way). It echoes the event, or
//! does what one of the special events of `e2e/functions/README.md` asks, so the
//! hardening tests can make a function misbehave.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Map, Value};

const MARKER: &str = "/tmp/echo-marker";
const FILL: &str = "/tmp/echo-fill";
/// Bounds the fork bomb when nothing else does, so it always ends.
const MAX_CHILDREN: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MIB: usize = 1 << 20;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, ctx) = event.into_parts();
    let field = |k: &str| payload.get(k).filter(|v| !v.is_null());
    if let Some(secs) = field("sleep").and_then(Value::as_f64) {
        tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
        return Ok(json!({ "slept": secs }));
    }
    if let Some(secs) = field("spin").and_then(Value::as_f64) {
        // Busy on the CPU, as a compute-bound handler is, for `secs` of wall time.
        let until = std::time::Instant::now() + Duration::from_secs_f64(secs.max(0.0));
        let mut turns: u64 = 0;
        while std::time::Instant::now() < until {
            turns = std::hint::black_box(turns.wrapping_add(1));
        }
        return Ok(json!({ "spun": secs }));
    }
    if let Some(mb) = field("alloc_mb").and_then(Value::as_u64) {
        // Non-zero contents, so every page is really touched.
        let block = vec![
            1u8;
            usize::try_from(mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(MIB)
        ];
        std::hint::black_box(&block);
        return Ok(json!({ "allocated_mb": mb }));
    }
    if let Some(mb) = field("write_tmp_mb").and_then(Value::as_u64) {
        return Ok(write_tmp(mb));
    }
    if field("fork_bomb").and_then(Value::as_bool) == Some(true) {
        return Ok(fork_bomb());
    }
    if let Some(path) = field("read").and_then(Value::as_str) {
        return Ok(attempt(fs::read(path).map(|_| ())));
    }
    if let Some(path) = field("write").and_then(Value::as_str) {
        return Ok(attempt(fs::write(path, b"x")));
    }
    if let Some(addr) = field("connect").and_then(Value::as_str) {
        return Ok(connect(addr));
    }
    if field("tmp_marker").and_then(Value::as_bool) == Some(true) {
        let existed = Path::new(MARKER).exists();
        if !existed {
            fs::write(MARKER, b"x").map_err(|e| diagnostic(&e.to_string()))?;
        }
        return Ok(json!({ "existed": existed, "pid": std::process::id() }));
    }
    if field("env").and_then(Value::as_bool) == Some(true) {
        let vars: Map<String, Value> = std::env::vars()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Ok(Value::Object(vars));
    }
    if field("context").and_then(Value::as_bool) == Some(true) {
        return Ok(json!({
            "request_id": ctx.request_id,
            "function_arn": ctx.invoked_function_arn,
            "deadline_ms": ctx.deadline,
        }));
    }
    if let Some(text) = field("log").and_then(Value::as_str) {
        println!("{text}");
        eprintln!("{text}");
        return Ok(json!({ "logged": text }));
    }
    if let Some(message) = field("error").and_then(Value::as_str) {
        return Err(diagnostic(message));
    }
    if let Some(code) = field("exit").and_then(Value::as_i64) {
        std::process::exit(i32::try_from(code).unwrap_or(1));
    }
    Ok(payload)
}

fn diagnostic(message: &str) -> Diagnostic {
    Diagnostic {
        error_type: "EchoError".into(),
        error_message: message.into(),
    }
}

fn attempt(result: std::io::Result<()>) -> Value {
    match result {
        Ok(()) => json!({ "ok": true, "error": null }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

fn connect(addr: &str) -> Value {
    match addr.parse::<SocketAddr>() {
        Ok(sa) => attempt(TcpStream::connect_timeout(&sa, CONNECT_TIMEOUT).map(drop)),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

/// Writes 1 MiB blocks until `mb` are written or the filesystem refuses, then removes
/// the file so the next invocation starts with the same free space.
fn write_tmp(mb: u64) -> Value {
    let block = vec![7u8; MIB];
    let mut written = 0u64;
    let result = fs::File::create(FILL).and_then(|mut f| {
        while written < mb {
            f.write_all(&block)?;
            written += 1;
        }
        // Delayed allocation can report a full disk only here.
        f.sync_all()
    });
    let _ = fs::remove_file(FILL);
    json!({
        "written_mb": written,
        "error": result.err().map(|e| e.to_string()),
    })
}

/// Starts sleeping children until the kernel refuses (or [`MAX_CHILDREN`]), then reaps
/// them all so the environment is usable again.
fn fork_bomb() -> Value {
    let mut children: Vec<Child> = Vec::new();
    let mut error = None;
    while children.len() < MAX_CHILDREN {
        match Command::new("/bin/sleep").arg("300").spawn() {
            Ok(c) => children.push(c),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let spawned = children.len();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    json!({ "spawned": spawned, "error": error })
}
