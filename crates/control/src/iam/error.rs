//! The one error type of IAM's domain. Each variant is one IAM error code with the facts its
//! message needs; the binary maps variants to codes, texts and HTTP statuses in one place.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// `NoSuchEntity`: no role has this name.
    #[error("role {0} does not exist")]
    NoSuchRole(String),
    /// `NoSuchEntity`: the role has no inline policy with this name.
    #[error("role policy {0} does not exist")]
    NoSuchRolePolicy(String),
    /// `NoSuchEntity`: no managed policy has this ARN.
    #[error("policy {0} does not exist")]
    NoSuchPolicy(String),
    /// `NoSuchEntity`: the policy has no such version.
    #[error("policy {arn} has no version {version_id}")]
    NoSuchPolicyVersion { arn: String, version_id: String },
    /// `NoSuchEntity`: attaching a policy that does not exist (or another account's).
    #[error("policy {0} does not exist or is not attachable")]
    PolicyNotAttachable(String),
    /// `NoSuchEntity`: detaching a policy the role does not have.
    #[error("policy {0} is not attached")]
    PolicyNotAttached(String),
    /// `EntityAlreadyExists`: a role with this name (in any case) exists.
    #[error("role {0} already exists")]
    RoleAlreadyExists(String),
    /// `EntityAlreadyExists`: a customer policy with this name (in any case) exists.
    #[error("policy {0} already exists")]
    PolicyAlreadyExists(String),
    /// `DeleteConflict`: the role still has managed policies attached.
    #[error("role has attached policies")]
    RoleHasAttachedPolicies,
    /// `DeleteConflict`: the role still has inline policies.
    #[error("role has inline policies")]
    RoleHasInlinePolicies,
    /// `DeleteConflict`: the policy is still attached to roles.
    #[error("policy is attached")]
    PolicyAttached,
    /// `DeleteConflict`: a policy with versions besides its default cannot be deleted.
    #[error("policy has non-default versions")]
    PolicyHasVersions,
    /// `DeleteConflict`: the default version of a policy cannot be deleted.
    #[error("cannot delete the default version")]
    DefaultVersion,
    /// `LimitExceeded`: a managed policy already has five versions.
    #[error("policy has the maximum number of versions")]
    TooManyVersions,
    /// `LimitExceeded` with IAM's own text (size quotas, tag count).
    #[error("{0}")]
    LimitExceeded(String),
    /// `MalformedPolicyDocument` with IAM's own text.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `InvalidInput` with IAM's own text.
    #[error("{0}")]
    InvalidInput(String),
    /// `UnmodifiableEntity`: AWS managed policies cannot be changed by an account.
    #[error("policy {0} is managed by AWS")]
    Unmodifiable(String),
    /// `ValidationError` with the full "N validation error(s) detected: …" text.
    #[error("{0}")]
    Validation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<policy::PolicyError> for IamError {
    fn from(e: policy::PolicyError) -> Self {
        match e {
            policy::PolicyError::MalformedPolicyDocument(m) => IamError::MalformedPolicyDocument(m),
            policy::PolicyError::LimitExceeded(m) => IamError::LimitExceeded(m),
        }
    }
}
