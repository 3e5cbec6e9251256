//! The crate's error type: kernel failures from `net`, desired states that cannot be built,
//! and requests naming things the dataplane does not have. Must not decide retries.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reconciling or attaching.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kernel operation failed.
    #[error(transparent)]
    Net(#[from] net::Error),
    /// The desired state of one VPC is inconsistent (an ENI outside its subnet, a route to a
    /// NAT gateway that is not there, …); nothing of that VPC was changed by the check.
    #[error("desired state of {vpc}: {reason}")]
    Invalid { vpc: String, reason: String },
    /// An id that cannot become a kernel name (only `[A-Za-z0-9-]` is accepted).
    #[error("id {0:?} cannot name kernel objects")]
    BadId(String),
    /// The network interface is not (or not yet) realized by the dataplane.
    #[error("network interface {0} is not realized")]
    UnknownInterface(String),
    /// The environment is attached to another interface already.
    #[error("environment {env} is attached to {eni}")]
    AlreadyAttached { env: String, eni: String },
    /// Every environment address of the interface is in use.
    #[error("no free environment address on {0}")]
    EnvironmentAddressesExhausted(String),
    /// A simulated-internet host address outside the test ranges or already taken.
    #[error("public host address {address}: {reason}")]
    PublicAddress { address: String, reason: String },
    /// The VPC resolver's socket could not be bound.
    #[error("VPC resolver at {address}: {source}")]
    Resolver {
        address: std::net::Ipv4Addr,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(vpc: &str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            vpc: vpc.to_owned(),
            reason: reason.into(),
        }
    }
}
