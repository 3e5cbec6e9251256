//! The environment variables Lambda documents for a function's process: the reserved ones
//! the platform sets (which a function's own variables never override), the unreserved
//! defaults (which they may), and the runtime's own. Pure data; no I/O.

use std::collections::BTreeMap;

use crate::{OPT_DIR, RUNTIME_DIR, TASK_ROOT};

/// Names only the platform sets: a function's variable of one of these names is dropped.
/// `AWS_LAMBDA_RUNTIME_API` is among them; the sandbox sets it.
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// Temporary credentials of the function's execution role.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// What the variables of one execution environment are made from.
#[derive(Debug, Clone, Copy)]
pub struct FunctionEnv<'a> {
    pub name: &'a str,
    /// `$LATEST` or a version number.
    pub version: &'a str,
    pub memory_mb: u32,
    pub region: &'a str,
    /// `/aws/lambda/<name>`.
    pub log_group: &'a str,
    /// `2020/01/31/[$LATEST]<32 hex>`.
    pub log_stream: &'a str,
    pub handler: &'a str,
    /// The function's `Runtime` as configured (not the version that serves it).
    pub runtime: &'a str,
    pub credentials: Option<Credentials<'a>>,
    /// [`crate::Launch::env`].
    pub runtime_env: &'a [(String, String)],
    /// The function's `Environment.Variables`.
    pub user: Option<&'a BTreeMap<String, String>>,
    /// Initialized ahead for provisioned concurrency rather than by an invocation.
    pub provisioned: bool,
    /// `LoggingConfig` with the JSON format: its `ApplicationLogLevel`, which runtimes read
    /// with the format from `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`.
    pub json_log_level: Option<&'a str>,
}

/// Ordered variables where setting a name again replaces its value in place.
#[derive(Default)]
struct Vars(Vec<(String, String)>);

impl Vars {
    fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }
}

/// Every variable of the function's process except `AWS_LAMBDA_RUNTIME_API` (the
/// sandbox's): defaults, then the runtime's, then the function's own, then the reserved
/// ones, each layer overriding the one before. No name appears twice.
pub fn lambda_env(f: &FunctionEnv<'_>) -> Vec<(String, String)> {
    let mut vars = Vars::default();
    vars.set("LANG", "en_US.UTF-8");
    vars.set("TZ", ":UTC");
    vars.set(
        "PATH",
        format!("/usr/local/bin:/usr/bin/:/bin:{OPT_DIR}/bin"),
    );
    vars.set(
        "LD_LIBRARY_PATH",
        format!(
            "/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:{TASK_ROOT}:{TASK_ROOT}/lib:{OPT_DIR}/lib"
        ),
    );
    for (name, value) in f.runtime_env {
        vars.set(name, value.as_str());
    }
    for (name, value) in f.user.into_iter().flatten() {
        if !RESERVED_VARIABLES.contains(&name.as_str()) {
            vars.set(name, value.as_str());
        }
    }
    vars.set("_HANDLER", f.handler);
    vars.set("LAMBDA_TASK_ROOT", TASK_ROOT);
    vars.set("LAMBDA_RUNTIME_DIR", RUNTIME_DIR);
    vars.set("AWS_REGION", f.region);
    vars.set("AWS_DEFAULT_REGION", f.region);
    vars.set("AWS_LAMBDA_FUNCTION_NAME", f.name);
    vars.set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string());
    vars.set("AWS_LAMBDA_FUNCTION_VERSION", f.version);
    vars.set("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group);
    vars.set("AWS_LAMBDA_LOG_STREAM_NAME", f.log_stream);
    vars.set(
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        if f.provisioned {
            "provisioned-concurrency"
        } else {
            "on-demand"
        },
    );
    if let Some(level) = f.json_log_level {
        vars.set("AWS_LAMBDA_LOG_FORMAT", "JSON");
        vars.set("AWS_LAMBDA_LOG_LEVEL", level);
    }
    // Lambda leaves it unset for custom runtimes.
    if !f.runtime.starts_with("provided") {
        vars.set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", f.runtime));
    }
    if let Some(c) = f.credentials {
        vars.set("AWS_ACCESS_KEY_ID", c.access_key_id);
        vars.set("AWS_ACCESS_KEY", c.access_key_id);
        vars.set("AWS_SECRET_ACCESS_KEY", c.secret_access_key);
        if let Some(token) = c.session_token {
            vars.set("AWS_SESSION_TOKEN", token);
        }
    }
    vars.0
}
