//! The Lambda records as they are stored: a function with its `$LATEST` configuration,
//! published versions, aliases. Everything the execution side needs to run a version (code
//! blob, runtime, handler, environment, limits, VPC attachment) is here, in serde types that
//! must stay readable by later binaries (new fields get `#[serde(default)]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layers::FunctionLayer;
use super::names::function_arn;
use super::options::{Logging, TracingMode};
use crate::store::Scope;

/// Store kinds of the Lambda records.
pub mod kind {
    /// One per function, id = name.
    pub const FUNCTION: &str = "lambda.function";
    /// One per published version, id = [`super::version_key`].
    pub const VERSION: &str = "lambda.version";
    /// One per alias, id = `<function>:<alias>`.
    pub const ALIAS: &str = "lambda.alias";
    /// One per layer name ever published, id = name.
    pub const LAYER: &str = "lambda.layer";
    /// One per layer version, id = `<layer>:<version, 10 digits>`.
    pub const LAYER_VERSION: &str = "lambda.layer-version";
}

/// Store id of published version `number` of `function`: zero-padded so that ids sort in
/// version order.
pub fn version_key(function: &str, number: u64) -> String {
    format!("{function}:{number:010}")
}

/// The prefix of every version or alias id of `function` (names cannot contain `:`).
pub fn children_prefix(function: &str) -> String {
    format!("{function}:")
}

/// What the user configures, and what a published version freezes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub description: String,
    /// Seconds.
    pub timeout: u32,
    /// MB.
    pub memory_size: u32,
    /// `None` when never set; replaced as a whole by an update.
    pub environment: Option<BTreeMap<String, String>>,
    /// MB of `/tmp`.
    pub ephemeral_storage: u32,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// `None` when never configured; detached functions keep empty lists and an empty VPC id.
    pub vpc: Option<VpcConfig>,
    /// Layer versions merged at `/opt`, in order (a later one's files win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<FunctionLayer>,
    /// `TracingConfig.Mode`.
    #[serde(default)]
    pub tracing: TracingMode,
    /// `KMSKeyArn`: `None` when never set, or removed with `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// `SnapStart.ApplyOn` is `PublishedVersions`.
    #[serde(default)]
    pub snap_start: bool,
    /// `LoggingConfig`.
    #[serde(default)]
    pub logging: Logging,
}

impl Settings {
    /// The VPC the function's environments must be attached to, if any.
    pub fn attached_vpc(&self) -> Option<&VpcConfig> {
        self.vpc.as_ref().filter(|v| v.is_attached())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcConfig {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// Derived from the subnets; empty when detached.
    pub vpc_id: String,
    pub ipv6_allowed_for_dual_stack: bool,
}

impl VpcConfig {
    pub fn detached() -> Self {
        VpcConfig {
            subnet_ids: Vec::new(),
            security_group_ids: Vec::new(),
            vpc_id: String::new(),
            ipv6_allowed_for_dual_stack: false,
        }
    }

    pub fn is_attached(&self) -> bool {
        !self.subnet_ids.is_empty()
    }
}

/// A code package in the content-addressed code store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// Lowercase hex SHA-256 of the zip: its file name in the code store.
    pub sha256_hex: String,
    /// base64(SHA-256): Lambda's `CodeSha256`.
    pub code_sha256: String,
    /// Zip length in bytes: Lambda's `CodeSize`.
    pub code_size: u64,
    /// Bytes the package inflates to.
    pub unzipped_size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Pending,
    Active,
    Inactive,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::Active => "Active",
            State::Inactive => "Inactive",
            State::Failed => "Failed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStatus {
    Successful,
    Failed,
    InProgress,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Successful => "Successful",
            UpdateStatus::Failed => "Failed",
            UpdateStatus::InProgress => "InProgress",
        }
    }
}

/// A state or update status with its reason, as `FunctionConfiguration` reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub text: String,
    pub code: String,
}

impl Reason {
    pub fn new(text: impl Into<String>, code: impl Into<String>) -> Self {
        Reason {
            text: text.into(),
            code: code.into(),
        }
    }

    /// What AWS says while a function or an update is being set up (for updates too).
    pub fn creating() -> Self {
        Reason::new("The function is being created.", "Creating")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub state_reason: Option<Reason>,
    /// `None` until the first create completes, and always on published versions.
    pub last_update: Option<UpdateStatus>,
    pub last_update_reason: Option<Reason>,
}

impl Status {
    pub fn creating() -> Self {
        Status {
            state: State::Pending,
            state_reason: Some(Reason::creating()),
            last_update: None,
            last_update_reason: None,
        }
    }

    pub fn updating(&self) -> Self {
        Status {
            state: self.state,
            state_reason: self.state_reason.clone(),
            last_update: Some(UpdateStatus::InProgress),
            last_update_reason: Some(Reason::creating()),
        }
    }
}

/// One version's complete configuration: `$LATEST` or a published, immutable number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionVersion {
    pub function_name: String,
    /// `$LATEST` or `1`, `2`, …
    pub version: String,
    pub settings: Settings,
    pub code: Code,
    /// `2020-04-10T19:06:32.563+0000`.
    pub last_modified: String,
    pub revision_id: String,
    pub status: Status,
}

/// A function: its `$LATEST`, and what belongs to the function as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub latest: FunctionVersion,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    /// The highest version number ever published; numbers are never reused.
    pub last_published: u64,
    /// The transition in flight, if any, and who is driving it.
    pub provisioning: Option<Provisioning>,
    /// What invocations of `$LATEST` run while a configuration update is in progress, or
    /// after it failed: the last configuration that was ready (Lambda keeps the old
    /// configuration serving until the new one's network interfaces exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<FunctionVersion>,
}

/// Marks a create or update whose completion a provisioner owes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioning {
    /// New for every transition, so a late answer for an earlier one cannot apply.
    pub job_id: String,
    /// The daemon process that runs the job; another process adopts jobs whose runner is
    /// gone (see [`super::provision`]).
    pub runner: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub function_name: String,
    pub name: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    pub description: String,
    /// Additional version → share of the traffic (0.0–1.0).
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

impl Alias {
    pub fn arn(&self, scope: &Scope) -> String {
        function_arn(scope, &self.function_name, Some(&self.name))
    }

    /// Whether invoking the alias may run `version`.
    pub fn references(&self, version: &str) -> bool {
        self.function_version == version || self.routing.contains_key(version)
    }
}

/// A fresh revision id: AWS's are UUIDs.
pub fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Lambda's timestamp format, in UTC with milliseconds.
pub fn timestamp_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_sort_numerically() {
        assert!(version_key("f", 9) < version_key("f", 10));
        assert!(version_key("f", 1).starts_with(&children_prefix("f")));
    }

    #[test]
    fn timestamps_look_like_lambdas() {
        let t = timestamp_now();
        assert_eq!(t.len(), "2020-04-10T19:06:32.563+0000".len(), "{t}");
        assert!(t.ends_with("+0000"));
    }
}
