//! The crate's one error type. Owns the mapping from kernel/IO failures to `SandboxError`;
//! must not know how the daemon renders errors to AWS clients.

use std::path::PathBuf;

/// Everything that can go wrong while creating, driving or tearing down an environment.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host or environment configuration is unusable (bad id, uid 0, relative command…).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An invocation carries a value that cannot be put on the Runtime API wire.
    #[error("invalid invocation: {0}")]
    InvalidInvocation(String),
    /// The host lacks a kernel feature the sandbox needs.
    #[error("host not supported: {0}")]
    Unsupported(String),
    /// A file or kernel interface operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path or object.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `mkfs.ext4` could not build a `/tmp` image template.
    #[error("building the /tmp image {path}: {detail}")]
    TmpImage {
        /// The image file.
        path: PathBuf,
        /// Exit status and stderr of the tool.
        detail: String,
    },
    /// The isolation helper reported a failure before the function's command ran.
    #[error("environment setup failed: {0}")]
    Setup(String),
    /// Processes of the environment could not all be killed within the bound.
    #[error("environment {0} still has processes after kill")]
    KillTimedOut(String),
    /// The environment has already died (timeout, exit, OOM) or was destroyed.
    #[error("environment {0} is not alive")]
    Dead(String),
}

impl SandboxError {
    /// Builds a mapper for `map_err` that records what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
        let context = context.into();
        move |source| SandboxError::Io { context, source }
    }

    /// Same as [`SandboxError::io`] for `nix` calls.
    pub(crate) fn sys(context: impl Into<String>) -> impl FnOnce(nix::Error) -> SandboxError {
        let context = context.into();
        move |errno| SandboxError::Io {
            context,
            source: std::io::Error::from(errno),
        }
    }
}
