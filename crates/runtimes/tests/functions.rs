//! Privileged tests: the real test functions of `e2e/functions` run through each runtime
//! in real sandbox environments (namespaces, cgroups, seccomp; an isolated network
//! namespace with only `lo`), launched exactly as the daemon launches them:
//! [`runtimes::resolve`] + [`runtimes::lambda_env`] → `EnvSpec`. The Python runtime is the
//! one `scripts/deps` installs below the repository's `runtimes/`; the Rust function is
//! the workspace's `echo-rs` (built here when missing or stale). Each test uses its own sandbox instance, and a guard
//! removes everything it made even when the test panics. Skipped (loudly) when not root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use sandbox::{EnvSpec, Environment, HostConfig, Invocation, LogLine, NetnsChoice, Outcome};
use sandbox::{Sandbox, TmpBacking};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const UID: u32 = 4243;
const GID: u32 = 4243;
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:echo";

static NEXT: AtomicU32 = AtomicU32::new(0);

macro_rules! require_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: needs root");
            return;
        }
    };
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn runtimes_root() -> PathBuf {
    repo().join("runtimes")
}

fn functions_dir() -> PathBuf {
    repo().join("e2e/functions")
}

/// The `echo-rs` binary of the profile these tests were built with. A workspace build
/// makes it; cargo builds it here only when it is missing or older than its sources
/// (building it alone unifies features differently, so it would recompile its whole
/// dependency tree once).
fn echo_rs() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        // <target>/<profile>/deps/<test exe>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile dir")
            .to_path_buf();
        let bin = profile_dir.join("echo-rs");
        let src = functions_dir().join("echo-rs");
        let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        let newest_source = [src.join("src/main.rs"), src.join("Cargo.toml")]
            .iter()
            .filter_map(|p| modified(p))
            .max();
        if modified(&bin).is_some_and(|built| newest_source.is_some_and(|s| built >= s)) {
            return bin;
        }
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "-q", "-p", "echo-rs", "--target-dir"])
            .arg(target_dir)
            .current_dir(repo());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo");
        assert!(status.success(), "cargo build -p echo-rs failed");
        bin
    })
}

/// One sandbox instance with its own state dir; removes every leftover on drop.
struct Harness {
    sandbox: Sandbox,
    instance: String,
    _state: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let instance = unique("r");
        let state = tempfile::tempdir().expect("state dir");
        let mut cfg = HostConfig::new(
            instance.clone(),
            env!("CARGO_BIN_EXE_vl-runtimes-init"),
            Vec::new(),
            state.path().join("state"),
        );
        cfg.tmp_backing = TmpBacking::Tmpfs;
        Harness {
            sandbox: Sandbox::new(cfg).expect("sandbox"),
            instance,
            _state: state,
        }
    }

    /// Starts `runtime`/`handler` on a copy of `files` as the function's code, the way
    /// the daemon does.
    async fn start(&self, runtime: &str, handler: &str, files: &[(&str, &Path)]) -> Function {
        self.start_with(256, runtime, handler, files).await
    }

    async fn start_with(
        &self,
        memory_mb: u32,
        runtime: &str,
        handler: &str,
        files: &[(&str, &Path)],
    ) -> Function {
        let code = tempfile::tempdir().expect("code dir");
        fs::set_permissions(code.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        for (name, src) in files {
            let dest = code.path().join(name);
            fs::copy(src, &dest).expect("copy code");
            let mode = (fs::metadata(src).expect("stat").permissions().mode() & 0o755) | 0o444;
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let launch = runtimes::resolve(runtime, handler, code.path(), None, &runtimes_root())
            .unwrap_or_else(|e| panic!("{runtime}: {e} (has scripts/deps run?)"));
        let env = runtimes::lambda_env(&runtimes::FunctionEnv {
            name: "echo",
            version: "$LATEST",
            memory_mb,
            region: "us-east-1",
            log_group: "/aws/lambda/echo",
            log_stream: "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            handler,
            runtime,
            credentials: None,
            runtime_env: &launch.env,
            user: None,
            provisioned: false,
            json_log_level: None,
        });
        let spec = EnvSpec {
            id: unique(&format!("{}-", self.instance)),
            code_dir: code.path().to_path_buf(),
            opt_dir: None,
            runtime_dir: launch.runtime_dir.clone(),
            command: launch.command.clone(),
            env,
            memory_mb,
            ephemeral_mb: 16,
            // A ceiling only: the fork bomb takes seconds on a small CPU share.
            timeout: Duration::from_secs(60),
            netns: NetnsChoice::Isolated,
            uid: UID,
            gid: GID,
            resolv_conf: None,
            ca_bundle: None,
            hosts: None,
        };
        let mut env = self.sandbox.start(spec).await.expect("start");
        let logs = env.take_logs().expect("logs");
        Function {
            env,
            logs,
            _code: code,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Err(e) = self.sandbox.cleanup_leftovers() {
            eprintln!("cleanup of {} failed: {e}", self.instance);
        }
    }
}

struct Function {
    env: Environment,
    logs: mpsc::Receiver<LogLine>,
    _code: tempfile::TempDir,
}

impl Function {
    async fn invoke(&mut self, event: &Value) -> Outcome {
        let inv = Invocation {
            request_id: unique("req-"),
            payload: Bytes::from(event.to_string()),
            invoked_function_arn: FUNCTION_ARN.into(),
            trace_id: String::new(),
            client_context: None,
            cognito_identity: None,
        };
        self.env.invoke(inv).await.expect("invoke").0
    }

    /// The function's log so far, for failure messages.
    fn drain_logs(&mut self) -> String {
        let mut out = String::new();
        while let Ok(l) = self.logs.try_recv() {
            out.push_str(&l.line);
            out.push('\n');
        }
        out
    }

    async fn response(&mut self, event: Value) -> Value {
        match self.invoke(&event).await {
            Outcome::Response(b) => serde_json::from_slice(&b)
                .unwrap_or_else(|e| panic!("{event}: response {b:?} is not JSON: {e}")),
            other => panic!(
                "{event}: expected a response, got {other:?}\nlog:\n{}",
                self.drain_logs()
            ),
        }
    }

    /// The error the function posted, parsed, and its `Lambda-Runtime-Function-Error-Type`.
    async fn function_error(&mut self, event: Value) -> (Value, Option<String>) {
        match self.invoke(&event).await {
            Outcome::FunctionError { body, error_type } => (
                serde_json::from_slice(&body).expect("error body is JSON"),
                error_type,
            ),
            other => panic!(
                "{event}: expected a function error, got {other:?}\nlog:\n{}",
                self.drain_logs()
            ),
        }
    }

    /// Echo, then two `tmp_marker`s: the second sees the first's file, in the same process.
    async fn echoes_and_stays_warm(&mut self) {
        let event = json!({"hello": "world", "n": [1, 2, 3], "nested": {"ok": true}});
        assert_eq!(self.response(event.clone()).await, event);
        let first = self.response(json!({"tmp_marker": true})).await;
        let second = self.response(json!({"tmp_marker": true})).await;
        assert_eq!(first["existed"], json!(false), "{first}");
        assert_eq!(second["existed"], json!(true), "{second}");
        assert_eq!(first["pid"], second["pid"], "the same runtime process");
    }

    /// The special events the hardening tests rely on do what `e2e/functions/README.md`
    /// says inside a real environment (`/tmp` of 16 MiB, Lambda's process limit, only
    /// `lo`). The last one, an allocation over the memory limit, kills it.
    async fn misbehaves_on_request(mut self) {
        let r = self.response(json!({"write": "/var/task/x"})).await;
        assert_eq!(r["ok"], json!(false), "{r}");
        let r = self.response(json!({"read": "/etc/shadow"})).await;
        assert_eq!(r["ok"], json!(false), "{r}");
        let r = self.response(json!({"connect": "127.0.0.1:4566"})).await;
        assert_eq!(r["ok"], json!(false), "{r}");
        let r = self.response(json!({"write_tmp_mb": 64})).await;
        assert!(r["error"].is_string(), "/tmp is 16 MiB: {r}");
        assert!(r["written_mb"].as_u64().is_some_and(|n| n < 64), "{r}");
        let r = self.response(json!({"write_tmp_mb": 4})).await;
        assert_eq!(
            r,
            json!({"written_mb": 4, "error": null}),
            "the fill was removed"
        );
        let r = self.response(json!({"fork_bomb": true})).await;
        assert!(r["error"].is_string(), "{r}");
        assert!(r["spawned"].as_u64().is_some_and(|n| n < 1100), "{r}");
        let r = self.response(json!({"alloc_mb": 16})).await;
        assert_eq!(r, json!({"allocated_mb": 16}));
        let r = self.response(json!({"sleep": 0.1})).await;
        assert_eq!(r, json!({"slept": 0.1}));
        let r = self.response(json!({"log": "a log line"})).await;
        assert_eq!(r, json!({"logged": "a log line"}));
        match self.invoke(&json!({"alloc_mb": 2048})).await {
            Outcome::Exited {
                oom_killed: true, ..
            } => {}
            other => panic!("expected an OOM kill, got {other:?}"),
        }
    }

    async fn stop(self) {
        self.env.destroy().await.expect("destroy");
    }
}

fn source(rel: &str) -> PathBuf {
    functions_dir().join(rel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_function_runs_on_awslambdaric() {
    require_root!();
    let h = Harness::new();
    let app = source("python/app.py");
    // Debian 12 has only python3.11: this also runs a newer runtime on the nearest one.
    let mut f = h
        .start("python3.12", "app.handler", &[("app.py", &app)])
        .await;
    f.echoes_and_stays_warm().await;

    let env = f.response(json!({"env": true})).await;
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");

    let ctx = f.response(json!({"context": true})).await;
    assert_eq!(ctx["function_arn"], FUNCTION_ARN);

    // awslambdaric sends no Lambda-Runtime-Function-Error-Type; the body says it all.
    let (body, _) = f.function_error(json!({"error": "boom"})).await;
    assert_eq!(body["errorType"], "EchoError", "{body}");
    assert_eq!(body["errorMessage"], "boom", "{body}");
    let trace = body["stackTrace"].as_array().expect("stackTrace list");
    assert!(
        trace
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("/var/task/app.py"))),
        "{body}"
    );
    assert_eq!(
        f.response(json!({"after": "error"})).await,
        json!({"after": "error"}),
        "an error leaves the environment usable"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_import_error_is_an_init_error() {
    require_root!();
    let h = Harness::new();
    let app = source("python/app.py");
    let mut f = h
        .start("python3.11", "missing.handler", &[("app.py", &app)])
        .await;
    match f.invoke(&json!({})).await {
        Outcome::InitError { body, error_type } => {
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(body["errorType"], "Runtime.ImportModuleError", "{body}");
            assert!(error_type.is_some());
        }
        other => panic!("expected an init error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_function_runs_commonjs_esm_and_callback_handlers() {
    require_root!();
    let h = Harness::new();
    let index = source("node/index.js");
    let esm = source("node/esm.mjs");
    let files = [("index.js", index.as_path()), ("esm.mjs", esm.as_path())];

    let mut f = h.start("nodejs20.x", "index.handler", &files).await;
    f.echoes_and_stays_warm().await;
    let env = f.response(json!({"env": true})).await;
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
    let ctx = f.response(json!({"context": true})).await;
    assert_eq!(ctx["function_arn"], FUNCTION_ARN);
    let (body, error_type) = f.function_error(json!({"error": "boom"})).await;
    assert_eq!(body["errorType"], "EchoError", "{body}");
    assert_eq!(body["errorMessage"], "boom", "{body}");
    let trace = body["trace"].as_array().expect("trace list");
    assert_eq!(trace[0], "EchoError: boom", "{body}");
    assert_eq!(error_type.as_deref(), Some("EchoError"));
    assert_eq!(f.response(json!("a string")).await, json!("a string"));
    f.stop().await;

    let mut f = h.start("nodejs20.x", "esm.handler", &files).await;
    f.echoes_and_stays_warm().await;
    f.stop().await;

    let mut f = h.start("nodejs20.x", "index.callbackHandler", &files).await;
    assert_eq!(f.response(json!({"cb": 1})).await, json!({"cb": 1}));
    let (body, _) = f.function_error(json!({"error": "via callback"})).await;
    assert_eq!(body["errorMessage"], "via callback", "{body}");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_missing_handlers_are_init_errors() {
    require_root!();
    let h = Harness::new();
    let index = source("node/index.js");
    let cases = [
        ("index.nothere", "Runtime.HandlerNotFound"),
        ("nomodule.handler", "Runtime.ImportModuleError"),
        ("nodot", "Runtime.MalformedHandlerName"),
    ];
    for (handler, expected) in cases {
        let mut f = h
            .start("nodejs20.x", handler, &[("index.js", &index)])
            .await;
        match f.invoke(&json!({})).await {
            Outcome::InitError { body, error_type } => {
                let body: Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(body["errorType"], expected, "{handler}: {body}");
                assert_eq!(error_type.as_deref(), Some(expected));
            }
            other => panic!("{handler}: expected an init error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_bootstrap_runs_as_a_custom_runtime() {
    require_root!();
    assert!(
        Path::new("/usr/bin/curl").exists(),
        "the shell function needs curl"
    );
    let h = Harness::new();
    let bootstrap = source("shell/bootstrap");
    let mut f = h
        .start("provided.al2023", "ignored", &[("bootstrap", &bootstrap)])
        .await;
    f.echoes_and_stays_warm().await;
    let (body, error_type) = f.function_error(json!({"error": "boom"})).await;
    assert_eq!(
        body,
        json!({"errorMessage": "boom", "errorType": "EchoError"})
    );
    assert_eq!(error_type.as_deref(), Some("EchoError"));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_function_runs_as_provided_and_as_go1x() {
    require_root!();
    let h = Harness::new();
    let bin = echo_rs();

    let mut f = h
        .start("provided.al2023", "ignored", &[("bootstrap", bin)])
        .await;
    f.echoes_and_stays_warm().await;
    let env = f.response(json!({"env": true})).await;
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert!(env.get("AWS_EXECUTION_ENV").is_none(), "not for provided");
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
    // lambda_runtime's error type header is always `unhandled`; the body has the type.
    let (body, error_type) = f.function_error(json!({"error": "boom"})).await;
    assert_eq!(body["errorType"], "EchoError", "{body}");
    assert_eq!(body["errorMessage"], "boom", "{body}");
    assert_eq!(error_type.as_deref(), Some("unhandled"));
    let shadow = f.response(json!({"read": "/etc/shadow"})).await;
    assert_eq!(shadow["ok"], json!(false), "{shadow}");
    f.stop().await;

    let mut f = h.start("go1.x", "echo", &[("echo", bin)]).await;
    f.echoes_and_stays_warm().await;
    let env = f.response(json!({"env": true})).await;
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_go1.x");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_misbehaves_on_request() {
    require_root!();
    let h = Harness::new();
    let bin = echo_rs();
    let app = source("python/app.py");
    let index = source("node/index.js");
    let f = h
        .start_with(1024, "provided.al2023", "ignored", &[("bootstrap", bin)])
        .await;
    f.misbehaves_on_request().await;
    let f = h
        .start_with(1024, "python3.11", "app.handler", &[("app.py", &app)])
        .await;
    f.misbehaves_on_request().await;
    let f = h
        .start_with(1024, "nodejs20.x", "index.handler", &[("index.js", &index)])
        .await;
    f.misbehaves_on_request().await;
}
