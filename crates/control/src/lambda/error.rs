//! The one error type of the Lambda domain. Each variant is one kind of AWS answer; the
//! message texts are Lambda's own where they are known. Must not know HTTP or the wire: the
//! binary maps every variant to an AWS error code and status in one place.

use std::fmt;
use std::path::PathBuf;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// Member constraints the request broke, reported together as AWS's validation layer
    /// does (`ValidationException`).
    #[error("{}", Violations(.0))]
    Validation(Vec<String>),

    /// A value that passed the model's constraints but that Lambda refuses
    /// (`InvalidParameterValueException`).
    #[error("{0}")]
    InvalidParameter(String),

    /// The body is not the JSON the operation expects (`InvalidRequestContentException`).
    #[error("Could not parse request body into json: {0}")]
    InvalidRequestContent(String),

    /// `arn` is the function ARN, qualified when a version or alias was asked for.
    #[error("Function not found: {arn}")]
    FunctionNotFound { arn: String },

    #[error("Cannot find alias arn: {arn}")]
    AliasNotFound { arn: String },

    /// An ARN naming a function in another region than the one the request was signed for.
    #[error("Functions from '{arn_region}' are not reachable in this region ('{region}')")]
    OtherRegion { arn_region: String, region: String },

    /// A function of another account that its resource policy does not open to the caller
    /// (`caller` is the caller's ARN).
    #[error("User: {caller} is not authorized to perform: lambda:{action} on resource: {resource} because no resource-based policy allows the lambda:{action} action")]
    AccessDenied {
        caller: String,
        action: String,
        resource: String,
    },

    /// The resource exists but is in a state or relation that forbids the operation
    /// (`ResourceConflictException`).
    #[error("{0}")]
    Conflict(String),

    #[error("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")]
    RevisionMismatch,

    /// A resource other than a function or alias that is not there (a policy or one of its
    /// statements, an event invoke config …): `ResourceNotFoundException` in Lambda's words.
    #[error("{0}")]
    ResourceNotFound(String),

    /// AddPermission would make the policy larger than Lambda keeps.
    #[error("The final policy size ({size}) is bigger than the limit (20480).")]
    PolicyLengthExceeded { size: usize },

    /// A stored policy that the policy language refuses: ours to fix, not the caller's.
    #[error("stored resource policy: {0}")]
    PolicyUnreadable(String),

    #[error("Code storage limit exceeded.")]
    CodeStorageExceeded,

    /// The package is larger than a direct upload may be (`RequestTooLargeException`).
    #[error("{0}")]
    PackageTooLarge(codepkg::CodeError),

    /// The host failed while examining the package (not the package's fault).
    #[error("code package: {0}")]
    PackageIo(codepkg::CodeError),

    /// The host failed while reading or writing the code store.
    #[error("code store {}: {source}", path.display())]
    CodeStore {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LambdaError {
    /// One constraint violation in AWS's words: `Value '<v>' at '<member>' failed to satisfy
    /// constraint: <rule>`.
    pub(crate) fn violation(value: impl fmt::Display, member: &str, rule: &str) -> String {
        format!("Value '{value}' at '{member}' failed to satisfy constraint: {rule}")
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        LambdaError::InvalidParameter(message.into())
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        LambdaError::Conflict(message.into())
    }

    pub(crate) fn code_store(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LambdaError::CodeStore {
            path: path.into(),
            source,
        }
    }
}

impl From<codepkg::CodeError> for LambdaError {
    fn from(e: codepkg::CodeError) -> Self {
        match e.class() {
            codepkg::ErrorClass::RequestTooLarge => LambdaError::PackageTooLarge(e),
            codepkg::ErrorClass::InvalidParameter => LambdaError::InvalidParameter(e.to_string()),
            codepkg::ErrorClass::Internal => LambdaError::PackageIo(e),
        }
    }
}

struct Violations<'a>(&'a [String]);

impl fmt::Display for Violations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(
            f,
            "{n} validation error{plural} detected: {}",
            self.0.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_reads_like_aws() {
        let e = LambdaError::Validation(vec![LambdaError::violation(
            99999,
            "memorySize",
            "Member must have value less than or equal to 10240",
        )]);
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value '99999' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"
        );
    }

    #[test]
    fn several_violations_are_joined() {
        let e = LambdaError::Validation(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "2 validation errors detected: a; b");
    }
}
