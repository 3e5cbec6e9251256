//! Lambda functions as records: configuration, code, versions, aliases, concurrency
//! settings, resource-based policies, code signing, runtime management and recursion
//! settings, and the function state machine; event source mappings are validated and
//! refused (no event source exists).
//!
//! [`Lambda`] is the control plane of one daemon: every operation takes the caller's
//! [`Scope`](crate::Scope) and domain inputs, validates them with Lambda's own rules and texts
//! ([`LambdaError`]), and changes records in one store transaction. Code packages live in the
//! content-addressed [`CodeStore`]. State transitions that need work outside the request
//! (network interfaces) are [`ProvisionJob`]s for a [`FunctionProvisioner`].
//!
//! For the execution side: [`Lambda::runnable`] resolves a name and qualifier to the
//! [`FunctionVersion`] to run and the path of its zip.
//!
//! Knows nothing of HTTP or JSON wire shapes; the binary's lambda router maps them.

mod account;
mod aliases;
mod code;
mod error;
mod event_config;
mod event_sources;
mod functions;
mod layers;
mod model;
mod names;
mod options;
mod permissions;
mod provision;
mod provisioned;
mod settings;
mod signing;
mod validate;
mod vpc;

pub use account::{AccountSettings, CODE_SIZE_UNZIPPED, CODE_SIZE_ZIPPED, CONCURRENT_EXECUTIONS};
pub use aliases::AliasSpec;
pub use code::{decode_blob, digests, CodeStore, LINK_LIFETIME_SECS};
pub use error::LambdaError;
pub use event_config::{
    check_dead_letter, DestinationsChange, EventConfigChange, EventInvokeConfig, EventPolicy,
};
pub use event_sources::MappingRequest;
pub use functions::{
    Changed, CodeChange, CodeSource, ConfigChange, FunctionSpec, Lambda, Page, PublishRequest,
    Resolved, Runnable, TOTAL_CODE_SIZE_LIMIT,
};
pub use layers::{
    FunctionLayer, LayerPermission, LayerSpec, LayerStatement, LayerSummary, LayerVersion,
};
pub use model::{
    kind, Alias, Code, Function, FunctionVersion, Reason, Settings, State, Status, UpdateStatus,
    VpcConfig,
};
pub use names::{check_qualifier, function_arn, FunctionRef, NameShape, LATEST};
pub use options::{LogFormat, Logging, LoggingRequest, OptionsRequest, TracingMode};
pub use permissions::{Access, Caller, FunctionPolicy, PermissionSpec, POLICY_SIZE_LIMIT};
pub use provision::{FunctionProvisioner, ImmediateProvisioner, JobKind, Outcome, ProvisionJob};
pub use provisioned::{
    PlannedConfig, ProvisionedConfig, ProvisionedReport, ProvisionedStatus, INIT_FAILURE,
};
pub use settings::{
    runtime_version_arn, RecursiveLoop, RuntimeManagement, UpdateRuntimeOn, VersionRuntime,
};
pub use signing::{config_arn, CodeSigningConfig, SigningSpec, UntrustedArtifact};
pub use validate::RUNTIMES;
pub use vpc::VpcRequest;

#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;
