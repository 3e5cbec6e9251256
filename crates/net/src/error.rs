//! The crate's error type. Owns the mapping from OS, netlink and libnftables failures to
//! variants callers can match on; must not decide policy such as retrying.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the dataplane primitives.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name that is not a valid kernel name, or lacks our `vl-`/`vl_` prefix where one is required.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// A string that is not `a.b.c.d/len`.
    #[error("invalid IPv4 CIDR {0:?}")]
    InvalidCidr(String),
    /// A sysctl key outside `net.*` or with unsafe characters.
    #[error("invalid sysctl key {0:?}: only net.* keys are namespaced")]
    InvalidSysctl(String),
    /// `/run/netns/<name>` does not exist.
    #[error("network namespace {0:?} does not exist")]
    NetnsNotFound(String),
    /// The file exists but no namespace is mounted on it (a create interrupted by a crash).
    #[error("{0} is not a network namespace mount")]
    NotANetns(PathBuf),
    /// A system call or file operation failed.
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    /// A netlink request failed.
    #[error("netlink {op}: {source}")]
    Netlink {
        op: String,
        #[source]
        source: rtnetlink::Error,
    },
    /// A link the operation needs does not exist.
    #[error("link {0:?} not found")]
    LinkNotFound(String),
    /// A create found an existing link of the same name but another kind.
    #[error("link {name:?} exists as {found}, wanted {wanted}")]
    LinkKindMismatch {
        name: String,
        found: String,
        wanted: &'static str,
    },
    /// The worker thread inside the namespace panicked or vanished before answering.
    #[error("namespace worker thread died before answering")]
    Worker,
    /// libnftables could not be loaded.
    #[error("libnftables unavailable (install libnftables1): {0}")]
    NftUnavailable(String),
    /// The batch text was refused before reaching the kernel (it names a table that is not ours).
    #[error("nft batch refused: {0}")]
    NftRefused(String),
    /// libnftables or the kernel rejected the batch; nothing of it was applied.
    #[error("nft: {0}")]
    Nft(String),
    /// libnftables answered with JSON we could not read.
    #[error("nft output: {0}")]
    NftOutput(String),
    /// Some teardown steps failed; the others ran.
    #[error("teardown: {}", Failures(.0))]
    Teardown(Vec<crate::TeardownFailure>),
}

struct Failures<'a>(&'a [crate::TeardownFailure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step(s) failed", self.0.len())?;
        for failure in self.0 {
            write!(f, "; {}: {}", failure.step, failure.error)?;
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(op: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        Error::Io {
            op: op.into(),
            source: source.into(),
        }
    }

    pub(crate) fn netlink(op: impl Into<String>, source: rtnetlink::Error) -> Self {
        Error::Netlink {
            op: op.into(),
            source,
        }
    }

    pub(crate) fn invalid_name(name: &str, reason: &'static str) -> Self {
        Error::InvalidName {
            name: name.to_owned(),
            reason,
        }
    }
}

/// The positive errno carried by a netlink error reply, if any.
pub(crate) fn netlink_errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => Some(message.raw_code().abs()),
        _ => None,
    }
}
