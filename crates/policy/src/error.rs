//! The one error type of this crate. Variants are named after the IAM error codes they become;
//! the message is the text IAM returns. Mapping to HTTP status and envelope is the caller's job.

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy of the requested kind (IAM `MalformedPolicyDocument`).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// The document, or the sum of a role's inline documents, is over IAM's size quota
    /// (IAM `LimitExceeded`).
    #[error("{0}")]
    LimitExceeded(String),
}

impl PolicyError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::MalformedPolicyDocument(message.into())
    }
}
