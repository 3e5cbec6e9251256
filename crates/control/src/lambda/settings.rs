//! Per-function settings kept beside the function record: the runtime management mode of
//! each version (`lambda.runtime-management`, id `<function>:<version>`) and the recursive
//! loop setting of the function (`lambda.recursion`, id = function name). Both are removed
//! with what they belong to.
//!
//! Runtimes here have exactly one version each ([`runtime_version_arn`]), so `Manual` can
//! only pin the version the function already runs; the setting is kept and returned.
//! Recursive loop detection needs function code that calls AWS services back, which cannot
//! happen yet (no service here triggers a function); the setting is stored and returned.

use serde::{Deserialize, Serialize};

use super::code::digests;
use super::error::LambdaError;
use super::functions::{load_function, resolve, Lambda};
use super::names::{function_arn, is_version_number, FunctionRef, LATEST};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// Store kinds of this module.
pub mod kind {
    pub const RUNTIME_MANAGEMENT: &str = "lambda.runtime-management";
    pub const RECURSION: &str = "lambda.recursion";
}

const RUNTIME_VERSION_PATTERN: &str =
    r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}::runtime:.+";

/// The runtime version ARN of `runtime` in the scope's region: one stable version per
/// runtime, in the shape Lambda uses.
pub fn runtime_version_arn(scope: &Scope, runtime: &str) -> String {
    format!(
        "arn:aws:lambda:{}::runtime:{}",
        scope.region,
        digests(runtime.as_bytes()).0
    )
}

/// When a function's runtime is updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateRuntimeOn {
    Auto,
    FunctionUpdate,
    Manual,
}

impl UpdateRuntimeOn {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateRuntimeOn::Auto => "Auto",
            UpdateRuntimeOn::FunctionUpdate => "FunctionUpdate",
            UpdateRuntimeOn::Manual => "Manual",
        }
    }
}

/// One version's runtime management configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeManagement {
    pub update_runtime_on: UpdateRuntimeOn,
    /// Set with `Manual` only.
    pub runtime_version_arn: Option<String>,
}

impl Default for RuntimeManagement {
    fn default() -> Self {
        RuntimeManagement {
            update_runtime_on: UpdateRuntimeOn::Auto,
            runtime_version_arn: None,
        }
    }
}

/// A version's runtime management configuration with the ARN it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRuntime {
    pub function_arn: String,
    pub config: RuntimeManagement,
}

/// What a function does when it finds itself in a recursive loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecursiveLoop {
    Allow,
    Terminate,
}

impl RecursiveLoop {
    pub fn as_str(self) -> &'static str {
        match self {
            RecursiveLoop::Allow => "Allow",
            RecursiveLoop::Terminate => "Terminate",
        }
    }
}

fn runtime_key(name: &str, version: &str) -> String {
    format!("{name}:{version}")
}

/// Inside DeleteFunction's transaction: every setting of the function and its versions.
pub(crate) fn forget_function(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
) -> Result<(), LambdaError> {
    for (id, _) in tx.list(kind::RUNTIME_MANAGEMENT, scope, &format!("{name}:"))? {
        tx.delete(kind::RUNTIME_MANAGEMENT, scope, &id)?;
    }
    tx.delete(kind::RECURSION, scope, name)?;
    super::signing::forget_function(tx, scope, name)
}

/// Inside DeleteFunction's transaction for one published version.
pub(crate) fn forget_version(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    version: &str,
) -> Result<(), LambdaError> {
    tx.delete(kind::RUNTIME_MANAGEMENT, scope, &runtime_key(name, version))?;
    Ok(())
}

/// The version (`$LATEST` or a number) a runtime management request is about; aliases do
/// not have runtime settings of their own.
fn version_of(
    tx: &mut dyn Tx,
    scope: &Scope,
    fref: &FunctionRef,
) -> Result<(String, String), LambdaError> {
    let resolved = resolve(tx, scope, fref)?;
    let version = match fref.qualifier.as_deref() {
        None | Some(LATEST) => LATEST.to_string(),
        Some(q) if is_version_number(q) => q.to_string(),
        Some(q) => {
            return Err(LambdaError::FunctionNotFound {
                arn: function_arn(scope, &fref.name, Some(q)),
            })
        }
    };
    Ok((version, resolved.version.settings.runtime))
}

impl Lambda {
    /// GetRuntimeManagementConfig; `Auto` for a version never configured.
    pub fn runtime_management(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<VersionRuntime, LambdaError> {
        self.store.read(|tx| {
            let (version, _) = version_of(tx, scope, fref)?;
            let config = tx
                .get_json(
                    kind::RUNTIME_MANAGEMENT,
                    scope,
                    &runtime_key(&fref.name, &version),
                )?
                .unwrap_or_default();
            Ok(VersionRuntime {
                function_arn: function_arn(scope, &fref.name, Some(&version)),
                config,
            })
        })
    }

    /// PutRuntimeManagementConfig. `Manual` needs the ARN of a version of the function's
    /// own runtime; the other modes take none.
    pub fn put_runtime_management(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        update_runtime_on: Option<&str>,
        version_arn: Option<&str>,
    ) -> Result<VersionRuntime, LambdaError> {
        let mut v = Violations::default();
        let mode = match update_runtime_on {
            None => {
                v.null("updateRuntimeOn");
                None
            }
            Some("Auto") => Some(UpdateRuntimeOn::Auto),
            Some("FunctionUpdate") => Some(UpdateRuntimeOn::FunctionUpdate),
            Some("Manual") => Some(UpdateRuntimeOn::Manual),
            Some(other) => {
                v.push(
                    other,
                    "updateRuntimeOn",
                    "Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]",
                );
                None
            }
        };
        if let Some(arn) = version_arn {
            if arn.len() < 26 {
                v.push(
                    arn,
                    "runtimeVersionArn",
                    "Member must have length greater than or equal to 26",
                );
            } else if !is_runtime_version_arn(arn) {
                v.push(
                    arn,
                    "runtimeVersionArn",
                    &format!(
                        "Member must satisfy regular expression pattern: {RUNTIME_VERSION_PATTERN}"
                    ),
                );
            }
        }
        v.finish()?;
        let mode = mode.unwrap_or(UpdateRuntimeOn::Auto);
        self.store.write(|tx| {
            let (version, runtime) = version_of(tx, scope, fref)?;
            let config = match (mode, version_arn) {
                (UpdateRuntimeOn::Manual, None) => {
                    return Err(LambdaError::invalid(
                        "RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual.",
                    ))
                }
                (UpdateRuntimeOn::Manual, Some(arn)) => {
                    if arn != runtime_version_arn(scope, &runtime) {
                        return Err(LambdaError::invalid(format!(
                            "The runtime version {arn} is not a version of runtime {runtime}, the function's runtime."
                        )));
                    }
                    RuntimeManagement {
                        update_runtime_on: mode,
                        runtime_version_arn: Some(arn.to_string()),
                    }
                }
                (_, Some(_)) => {
                    return Err(LambdaError::invalid(format!(
                        "RuntimeVersionArn can only be specified when UpdateRuntimeOn is Manual, not {}.",
                        mode.as_str()
                    )))
                }
                (_, None) => RuntimeManagement {
                    update_runtime_on: mode,
                    runtime_version_arn: None,
                },
            };
            let key = runtime_key(&fref.name, &version);
            if config == RuntimeManagement::default() {
                tx.delete(kind::RUNTIME_MANAGEMENT, scope, &key)?;
            } else {
                tx.put_json(kind::RUNTIME_MANAGEMENT, scope, &key, &config)?;
            }
            Ok(VersionRuntime {
                function_arn: function_arn(scope, &fref.name, Some(&version)),
                config,
            })
        })
    }

    /// GetFunctionRecursionConfig; `Terminate` unless set otherwise.
    pub fn recursion(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<RecursiveLoop, LambdaError> {
        let name = unqualified_name(fref)?;
        self.store.read(|tx| {
            load_function(tx, scope, name)?;
            Ok(tx
                .get_json(kind::RECURSION, scope, name)?
                .unwrap_or(RecursiveLoop::Terminate))
        })
    }

    /// PutFunctionRecursionConfig.
    pub fn put_recursion(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        recursive_loop: Option<&str>,
    ) -> Result<RecursiveLoop, LambdaError> {
        let mut v = Violations::default();
        let setting = match recursive_loop {
            None => {
                v.null("recursiveLoop");
                None
            }
            Some("Allow") => Some(RecursiveLoop::Allow),
            Some("Terminate") => Some(RecursiveLoop::Terminate),
            Some(other) => {
                v.push(
                    other,
                    "recursiveLoop",
                    "Member must satisfy enum value set: [Allow, Terminate]",
                );
                None
            }
        };
        v.finish()?;
        let setting = setting.unwrap_or(RecursiveLoop::Terminate);
        let name = unqualified_name(fref)?;
        self.store.write(|tx| {
            load_function(tx, scope, name)?;
            if setting == RecursiveLoop::Terminate {
                tx.delete(kind::RECURSION, scope, name)?;
            } else {
                tx.put_json(kind::RECURSION, scope, name, &setting)?;
            }
            Ok(setting)
        })
    }
}

/// The recursion operations' `FunctionName` has no qualifier in its pattern.
fn unqualified_name(fref: &FunctionRef) -> Result<&str, LambdaError> {
    match &fref.qualifier {
        None => Ok(&fref.name),
        Some(q) => Err(LambdaError::Validation(vec![LambdaError::violation(
            format!("{}:{q}", fref.name),
            "functionName",
            r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)",
        )])),
    }
}

fn is_runtime_version_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", region, "", rest] => {
            partition.starts_with("aws")
                && super::names::is_partition(partition)
                && super::names::is_region(region)
                && rest.strip_prefix("runtime:").is_some_and(|v| !v.is_empty())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_version_arns() {
        let scope = Scope::new("123456789012", "us-east-1");
        let arn = runtime_version_arn(&scope, "python3.12");
        assert!(is_runtime_version_arn(&arn), "{arn}");
        assert_ne!(arn, runtime_version_arn(&scope, "python3.13"));
        assert!(!is_runtime_version_arn(
            "arn:aws:lambda:us-east-1:123456789012:runtime:x"
        ));
        assert!(!is_runtime_version_arn("arn:aws:lambda:us-east-1::layer:x"));
    }
}
