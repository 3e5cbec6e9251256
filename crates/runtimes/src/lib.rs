//! Lambda runtimes: turns a function's `Runtime`, `Handler` and extracted code into what an
//! execution environment runs ([`resolve`] → [`Launch`]) and builds the documented Lambda
//! environment variables ([`lambda_env`]). Knows the Lambda runtime families and the files
//! the host's set-up installs; must not start processes or touch the kernel (that is the
//! `sandbox` crate's job) and knows nothing of HTTP, accounts or the store.
//!
//! The runtimes, and what runs inside the environment:
//!
//! | `Runtime` | command | `/var/runtime` |
//! |---|---|---|
//! | `provided.al2023`, `provided.al2`, `provided` | `/var/task/bootstrap`, else `/opt/bootstrap` | — |
//! | `go1.x` | `/var/task/<Handler>`, which speaks the Runtime API because `AWS_LAMBDA_RUNTIME_API` is set (aws-lambda-go ≥ 1.18, or any Runtime API client) | — |
//! | `python3.N` | `/usr/bin/python3.M -m awslambdaric <Handler>` | `<runtimes_root>/python3.M` |
//! | `nodejs*` | `/usr/bin/node /var/runtime/bootstrap.js` | `<runtimes_root>/node` |
//!
//! **Python** runs AWS's own runtime interface client, `awslambdaric`, which `scripts/deps`
//! installs with pip into `<runtimes_root>/python3.M` for each Debian interpreter
//! `/usr/bin/python3.M` (the function runs as an unprivileged user in a root built from
//! the host's `/usr`, so only Debian's interpreters are visible inside). When the
//! function's exact version is not installed the nearest installed one runs, and
//! [`Launch::note`] says so for the function's log.
//!
//! **Node.js** runs a runtime of vpclambda's own, `runtimes/node/bootstrap.js` in the
//! repository (the `node` directory of the runtimes root), not AWS's `aws-lambda-ric`:
//! that package builds a native addon at install time and so needs a C++ toolchain, cmake
//! and autotools on every host. Ours is one dependency-free file for the host's
//! `/usr/bin/node`: it loads `module.function` from `/var/task` (CommonJS, `.mjs` and
//! `"type": "module"` ESM; async, promise and callback handlers), formats `console` lines
//! like Lambda's (`<time>\t<request id>\t<LEVEL>\t<message>`), and reports errors as
//! `{"errorType", "errorMessage", "trace"}` with `Lambda-Runtime-Function-Error-Type`. It
//! prints a note at start when the host's Node major version is not the function's.

mod env;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

pub use env::{lambda_env, Credentials, FunctionEnv, RESERVED_VARIABLES};

/// `LAMBDA_TASK_ROOT`: where the sandbox shows the function's code.
pub const TASK_ROOT: &str = "/var/task";
/// `LAMBDA_RUNTIME_DIR`: where the sandbox shows [`Launch::runtime_dir`].
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Where the sandbox shows the function's layers.
pub const OPT_DIR: &str = "/opt";

/// The host's Node.js; `/usr` is one of the host directories every environment sees.
const NODE: &str = "/usr/bin/node";
/// The Node runtime's directory below the runtimes root, and its entry point inside.
const NODE_DIR: &str = "node";
const NODE_BOOTSTRAP: &str = "bootstrap.js";

/// What an execution environment runs for a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// argv inside the environment; `command[0]` is absolute.
    pub command: Vec<String>,
    /// Host directory to show read-only at `/var/runtime`.
    pub runtime_dir: Option<PathBuf>,
    /// The runtime's own variables (`PYTHONPATH`, `NODE_PATH`); pass them to
    /// [`lambda_env`] as [`FunctionEnv::runtime_env`] so the function's variables can
    /// override them as on Lambda.
    pub env: Vec<(String, String)>,
    /// A line for the function's log about how its runtime is served, e.g.
    /// `python3.12 is not installed; running with python3.11`.
    pub note: Option<String>,
}

/// Why a function cannot be launched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    /// Not a runtime vpclambda can run; the control plane reports it as
    /// `InvalidParameterValueException`.
    #[error("The runtime parameter of {runtime} is not supported by vpclambda. Supported runtimes: provided.al2023, provided.al2, provided, go1.x, python3.x, nodejs*.x")]
    Unsupported { runtime: String },
    /// A runtime vpclambda supports but this host has not installed.
    #[error("{runtime} is not installed on this host: {detail}")]
    NotInstalled { runtime: String, detail: String },
    /// The code has no entry point for the runtime; on Lambda this is the invocation's
    /// function error of type [`RuntimeError::INVALID_ENTRYPOINT`].
    #[error("{0}")]
    InvalidEntrypoint(String),
}

impl RuntimeError {
    /// Lambda's error type for a missing or unusable entry point.
    pub const INVALID_ENTRYPOINT: &'static str = "Runtime.InvalidEntrypoint";
}

/// What runs `runtime`/`handler` for code extracted at `code_dir` (shown at `/var/task`)
/// with layers at `opt_dir` (shown at `/opt`), using the runtime files installed below
/// `runtimes_root`. Reads those directories; changes nothing.
pub fn resolve(
    runtime: &str,
    handler: &str,
    code_dir: &Path,
    opt_dir: Option<&Path>,
    runtimes_root: &Path,
) -> Result<Launch, RuntimeError> {
    match runtime {
        "provided" | "provided.al2" | "provided.al2023" => provided(code_dir, opt_dir),
        "go1.x" => go(handler, code_dir),
        _ => {
            if let Some(minor) = python_minor(runtime) {
                python(runtime, minor, handler, runtimes_root)
            } else if let Some(major) = node_major(runtime) {
                node(runtime, major, runtimes_root)
            } else {
                Err(RuntimeError::Unsupported {
                    runtime: runtime.to_owned(),
                })
            }
        }
    }
}

fn launch(command: Vec<String>) -> Launch {
    Launch {
        command,
        runtime_dir: None,
        env: Vec::new(),
        note: None,
    }
}

/// Lambda's lookup order for custom runtimes: the package's `bootstrap`, then a layer's.
fn provided(code_dir: &Path, opt_dir: Option<&Path>) -> Result<Launch, RuntimeError> {
    let candidates = [(Some(code_dir), TASK_ROOT), (opt_dir, OPT_DIR)];
    for (host_dir, inside) in candidates {
        let Some(dir) = host_dir else { continue };
        let path = dir.join("bootstrap");
        if path.is_file() {
            let inside = format!("{inside}/bootstrap");
            executable(&path, &inside)?;
            return Ok(launch(vec![inside]));
        }
    }
    Err(RuntimeError::InvalidEntrypoint(format!(
        "Couldn't find valid bootstrap(s): [{TASK_ROOT}/bootstrap {OPT_DIR}/bootstrap]"
    )))
}

/// The handler names the executable; it has to stay inside the package.
fn go(handler: &str, code_dir: &Path) -> Result<Launch, RuntimeError> {
    let inside = format!("{TASK_ROOT}/{handler}");
    let rel = Path::new(handler);
    let stays_inside = !handler.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let path = code_dir.join(rel);
    if !stays_inside || !path.is_file() {
        return Err(RuntimeError::InvalidEntrypoint(format!(
            "fork/exec {inside}: no such file or directory"
        )));
    }
    executable(&path, &inside)?;
    Ok(launch(vec![inside]))
}

/// The message Lambda gives when the entry point lacks the execute bit; checked here
/// because exec would otherwise fail inside the environment with less to say.
fn executable(path: &Path, inside: &str) -> Result<(), RuntimeError> {
    match fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(RuntimeError::InvalidEntrypoint(format!(
            "fork/exec {inside}: permission denied"
        ))),
    }
}

/// `python3.12` → 12.
fn python_minor(runtime: &str) -> Option<u32> {
    let minor = runtime.strip_prefix("python3.")?;
    digits(minor)
}

/// `nodejs20.x` → 20.
fn node_major(runtime: &str) -> Option<u32> {
    let major = runtime.strip_prefix("nodejs")?.strip_suffix(".x")?;
    digits(major)
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Minor versions `m` with `<root>/python3.m/awslambdaric` installed, ascending.
fn installed_pythons(root: &Path) -> Vec<u32> {
    let mut found: Vec<u32> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let minor = python_minor(e.file_name().to_str()?)?;
            e.path()
                .join("awslambdaric/__init__.py")
                .is_file()
                .then_some(minor)
        })
        .collect();
    found.sort_unstable();
    found
}

fn python(runtime: &str, wanted: u32, handler: &str, root: &Path) -> Result<Launch, RuntimeError> {
    let installed = installed_pythons(root);
    // Nearest version first; between two equally near, the newer one, which is likelier
    // to accept code written for the version in between.
    let minor = installed
        .iter()
        .copied()
        .min_by_key(|&m| (m.abs_diff(wanted), std::cmp::Reverse(m)))
        .ok_or_else(|| RuntimeError::NotInstalled {
            runtime: runtime.to_owned(),
            detail: format!(
                "no Python runtime below {} (scripts/deps installs awslambdaric there)",
                root.display()
            ),
        })?;
    let version = format!("python3.{minor}");
    let note =
        (minor != wanted).then(|| format!("{runtime} is not installed; running with {version}"));
    // Lambda's sys.path order: the package, the layers, then the runtime.
    let python_path = format!(
        "{TASK_ROOT}:{OPT_DIR}/python/lib/{version}/site-packages:{OPT_DIR}/python:{RUNTIME_DIR}"
    );
    Ok(Launch {
        command: vec![
            format!("/usr/bin/{version}"),
            "-m".into(),
            "awslambdaric".into(),
            handler.to_owned(),
        ],
        runtime_dir: Some(root.join(&version)),
        env: vec![("PYTHONPATH".into(), python_path)],
        note,
    })
}

fn node(runtime: &str, major: u32, root: &Path) -> Result<Launch, RuntimeError> {
    let dir = root.join(NODE_DIR);
    if !dir.join(NODE_BOOTSTRAP).is_file() {
        return Err(RuntimeError::NotInstalled {
            runtime: runtime.to_owned(),
            detail: format!("{} is missing", dir.join(NODE_BOOTSTRAP).display()),
        });
    }
    let node_path = format!(
        "{OPT_DIR}/nodejs/node{major}/node_modules:{OPT_DIR}/nodejs/node_modules:{RUNTIME_DIR}/node_modules:{RUNTIME_DIR}:{TASK_ROOT}"
    );
    Ok(Launch {
        command: vec![NODE.into(), format!("{RUNTIME_DIR}/{NODE_BOOTSTRAP}")],
        runtime_dir: Some(dir),
        env: vec![("NODE_PATH".into(), node_path)],
        note: None,
    })
}

#[cfg(test)]
mod tests;
