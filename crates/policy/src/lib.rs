//! The IAM policy language as vpclambda needs it: parse and validate policy documents
//! (identity, trust and resource-based), evaluate a request against a set of identity policies
//! or, for a given caller, resource policies, decide whether
//! a trust policy lets an AWS service assume the role, check IAM's size quotas, and serve the
//! AWS managed policies that execution roles attach.
//!
//! Pure and synchronous: this crate owns no state, does no I/O and knows nothing of HTTP or of
//! IAM's wire protocol. Callers map [`PolicyError`] to IAM error responses.

mod condition;
mod encode;
mod error;
mod eval;
mod managed;
mod matching;
mod parse;
mod resource;
mod size;
mod trust;

pub use condition::Context;
pub use encode::url_encode_document;
pub use error::PolicyError;
pub use eval::{evaluate, Decision, Request};
pub use managed::{aws_managed, aws_managed_by_arn, ManagedPolicy, ManagedPolicyVersion};
pub use parse::{Policy, PolicyKind, PolicyVersion};
pub use resource::{evaluate_resource, Caller};
pub use size::{
    check_managed_policy_size, check_role_inline_policies_size, check_trust_policy_size,
    policy_size, MANAGED_POLICY_MAX_SIZE, ROLE_INLINE_POLICIES_MAX_SIZE, TRUST_POLICY_MAX_SIZE,
};
