//! Execution environments: isolated process trees that speak the Lambda Runtime API.
//!
//! The crate knows processes, namespaces, cgroups, mounts, seccomp and the Runtime API
//! protocol; it knows nothing of AWS APIs, accounts, functions or the daemon's HTTP routing.
//! The daemon builds a [`Sandbox`] once, [`Sandbox::start`]s an [`Environment`] per
//! execution environment, and calls [`Environment::invoke`] for each event.
//!
//! Code map:
//! * `env` — [`Sandbox`] and [`Environment`]: start, invoke (timeouts, outcomes), freeze,
//!   destroy; the spare helper a [`Reservation`] hands to the next cold start; the only
//!   module that combines the others.
//! * `runtime_api` — the 2018-06-01 Runtime API state machine and hyper server.
//! * `init`, `mounts`, `harden`, `loopdev` — the re-exec'd helper ([`init_main`]) that builds
//!   the isolation and execs the function.
//! * `cgroup`, `netns` — kernel objects created from the daemon side.
//! * `tmpimage` — `/tmp` ext4 images: a template per size made with mkfs, copied sparsely
//!   per environment.
//! * `protocol` — the daemon ↔ helper messages; `logs` — stdout/stderr lines.
//!
//! Kernel object names: cgroups `<hierarchy>/vl-<instance>/vl-env-<id>`, network namespace
//! (when [`NetnsChoice::Isolated`]) `vl-env-<id>`, scratch `<state_dir>/vl-env-<id>/`, `/tmp`
//! image templates `<state_dir>/tmp-templates/ext4-<MiB>m`.

mod cgroup;
mod env;
mod error;
mod harden;
mod init;
mod logs;
mod loopdev;
mod mounts;
mod netns;
mod protocol;
mod runtime_api;
mod tmpimage;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

pub use env::{Environment, Reservation, Sandbox};
pub use error::SandboxError;
pub use init::init_main;
pub use logs::{LogLine, LogStream, MAX_LINE_BYTES};
pub use runtime_api::MAX_RESPONSE_BYTES;

/// Host-wide settings shared by every environment of one daemon instance.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Daemon instance name; cgroups live under `<hierarchy>/vl-<instance>/` so several
    /// daemons never collide. 1–32 characters of `[A-Za-z0-9-]`.
    pub instance: String,
    /// The executable re-exec'd as the single-threaded isolation helper (normally
    /// `/proc/self/exe`); it must call [`init_main`].
    pub init_exe: PathBuf,
    /// Arguments selecting the helper in `init_exe` (normally `["sandbox-init"]`).
    pub init_args: Vec<String>,
    /// Per-environment scratch (`/tmp` images, `/etc` overrides, root mount points);
    /// should be on local disk and not readable by function uids.
    pub state_dir: PathBuf,
    /// Where the cgroup hierarchies are mounted.
    pub cgroup_root: PathBuf,
    /// Where namespace files of `Isolated` environments are created.
    pub netns_dir: PathBuf,
    /// Host directories shown read-only at the same path inside every environment.
    pub host_ro_dirs: Vec<PathBuf>,
    /// What backs each environment's `/tmp`.
    pub tmp_backing: TmpBacking,
}

impl HostConfig {
    /// The standard layout: cgroups at `/sys/fs/cgroup`, namespaces in `/run/netns`, the
    /// host's `/usr`, `/etc` and library directories visible read-only, `/tmp` on ext4
    /// images copied from templates made with `/usr/sbin/mkfs.ext4`.
    pub fn new(
        instance: impl Into<String>,
        init_exe: impl Into<PathBuf>,
        init_args: Vec<String>,
        state_dir: impl Into<PathBuf>,
    ) -> HostConfig {
        HostConfig {
            instance: instance.into(),
            init_exe: init_exe.into(),
            init_args,
            state_dir: state_dir.into(),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            netns_dir: PathBuf::from("/run/netns"),
            host_ro_dirs: [
                "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            tmp_backing: TmpBacking::Ext4Image {
                mkfs: PathBuf::from("/usr/sbin/mkfs.ext4"),
            },
        }
    }
}

/// The filesystem behind `/tmp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmpBacking {
    /// A sparse ext4 image per environment, loop-mounted: size-limited, and its pages are
    /// reclaimable page cache rather than memory that counts against the function forever.
    /// Each image is a copy of a template made once per size (in the state dir, removed by
    /// [`Sandbox::cleanup_leftovers`]).
    Ext4Image {
        /// The `mkfs.ext4` executable (e2fsprogs) that makes the templates.
        mkfs: PathBuf,
    },
    /// A size-limited tmpfs. Its pages are charged to the writer's memory cgroup and stay
    /// charged while the files exist: a function filling `/tmp` can be OOM-killed.
    Tmpfs,
}

/// Which network namespace an environment runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsChoice {
    /// A namespace file made by the network layer; the sandbox only joins it and binds the
    /// Runtime API inside it, and never deletes it.
    Existing(PathBuf),
    /// A namespace `vl-env-<id>` with only `lo`, created by the sandbox and deleted on destroy.
    Isolated,
}

/// One execution environment to start.
#[derive(Debug, Clone)]
pub struct EnvSpec {
    /// 1–40 characters of `[A-Za-z0-9-]`; kernel names derive from it (`vl-env-<id>`).
    pub id: String,
    /// Extracted code, shown read-only at `/var/task`; must be readable by `uid`.
    pub code_dir: PathBuf,
    /// Layers, shown read-only at `/opt`; an empty read-only `/opt` when `None`.
    pub opt_dir: Option<PathBuf>,
    /// A managed runtime, shown read-only at `/var/runtime` when present.
    pub runtime_dir: Option<PathBuf>,
    /// argv inside the environment; `command[0]` must be absolute (no PATH search).
    pub command: Vec<String>,
    /// The environment variables (the caller builds Lambda's); `AWS_LAMBDA_RUNTIME_API`
    /// is always set to `127.0.0.1:9001` by the sandbox.
    pub env: Vec<(String, String)>,
    /// Memory limit (memory + swap) in MiB; CPU is proportional (1,769 MiB = one vCPU).
    pub memory_mb: u32,
    /// Size of `/tmp` in MiB.
    pub ephemeral_mb: u32,
    /// How long an invocation may run once the runtime has picked it up.
    pub timeout: Duration,
    pub netns: NetnsChoice,
    /// Unprivileged uid/gid the function runs as; 0 is refused.
    pub uid: u32,
    pub gid: u32,
    /// Contents of `/etc/resolv.conf` and `/etc/hosts`; the host's files otherwise.
    pub resolv_conf: Option<String>,
    pub hosts: Option<String>,
    /// A host file (readable by the function's uid) bound over the system trust store,
    /// `/etc/ssl/certs/ca-certificates.crt`; the host's otherwise.
    pub ca_bundle: Option<PathBuf>,
}

/// One event for the runtime. The deadline the runtime sees is pick-up time plus
/// [`EnvSpec::timeout`], so a cold start's init time never eats into it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`; must not contain `/`.
    pub request_id: String,
    pub payload: Bytes,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`; not sent when empty.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context`, already base64-decoded JSON.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` JSON.
    pub cognito_identity: Option<String>,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The runtime posted a response.
    Response(Bytes),
    /// The runtime posted to `/invocation/{id}/error`.
    FunctionError {
        body: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
    },
    /// The runtime posted to `/init/error`; the environment is dead.
    InitError {
        body: Bytes,
        error_type: Option<String>,
    },
    /// The deadline passed (or init did not finish in 10 s); the environment was killed.
    Timeout,
    /// The runtime's process exited; the environment is dead.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        /// The memory cgroup's OOM killer fired in this environment.
        oom_killed: bool,
    },
    /// The response was over [`MAX_RESPONSE_BYTES`]; the runtime got a 413.
    ResponseTooLarge,
}

/// Measurements of one invocation (for the REPORT line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeStats {
    /// From the runtime's pick-up to the outcome.
    pub duration: Duration,
    /// High-water mark of the environment's memory use so far, in bytes.
    pub max_memory_bytes: u64,
    /// Start to the runtime's first `/next`; only on the environment's first invocation.
    pub init_duration: Option<Duration>,
}
