//! What belongs to a function as a whole or to the account: reserved concurrency against the
//! account's pool, the account's limits and usage, and tags.

use std::collections::BTreeMap;

use super::error::LambdaError;
use super::functions::{code_usage, load_function, Lambda};
use super::model::{kind, Function};
use super::names::{FunctionRef, NameShape};
use crate::store::{Scope, TxExt};

/// Concurrent executions an account may run per region.
pub const CONCURRENT_EXECUTIONS: u32 = 1000;
/// What reservations must leave to functions without one.
pub const MIN_UNRESERVED: u32 = 100;
pub const CODE_SIZE_UNZIPPED: u64 = 262_144_000;
pub const CODE_SIZE_ZIPPED: u64 = 52_428_800;
const MAX_TAGS: usize = 50;

/// GetAccountSettings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSettings {
    pub total_code_size_limit: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
    pub total_code_size: u64,
    pub function_count: u64,
}

impl Lambda {
    /// PutFunctionConcurrency.
    pub fn put_concurrency(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        reserved: Option<i64>,
    ) -> Result<u32, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let mut v = super::validate::Violations::default();
        let reserved = match reserved {
            Some(n) => v.range(n, "reservedConcurrentExecutions", 0, None),
            None => {
                v.null("reservedConcurrentExecutions");
                None
            }
        };
        v.finish()?;
        let reserved = reserved.unwrap_or_default();
        self.store.write(|tx| {
            let mut function = load_function(tx, scope, &name)?;
            let others = super::provisioned::taken_elsewhere(tx, scope, &name)?;
            if others + u64::from(reserved) > u64::from(CONCURRENT_EXECUTIONS - MIN_UNRESERVED) {
                return Err(LambdaError::invalid(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                )));
            }
            function.reserved_concurrency = Some(reserved);
            tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            Ok(reserved)
        })
    }

    /// GetFunctionConcurrency.
    pub fn get_concurrency(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<Option<u32>, LambdaError> {
        let name = fref.unqualified()?.to_string();
        self.store
            .read(|tx| Ok(load_function(tx, scope, &name)?.reserved_concurrency))
    }

    /// DeleteFunctionConcurrency.
    pub fn delete_concurrency(&self, scope: &Scope, fref: &FunctionRef) -> Result<(), LambdaError> {
        let name = fref.unqualified()?.to_string();
        self.store.write(|tx| {
            let mut function = load_function(tx, scope, &name)?;
            if function.reserved_concurrency.take().is_some() {
                tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            }
            Ok(())
        })
    }

    /// GetAccountSettings for the account in this region.
    pub fn account_settings(&self, scope: &Scope) -> Result<AccountSettings, LambdaError> {
        self.store.read(|tx| {
            let functions = tx.list_json::<Function>(kind::FUNCTION, scope, "")?;
            // Provisioned concurrency of a function without a reservation comes out of the
            // unreserved pool too.
            let provisioned = super::provisioned::provisioned_by_function(tx, scope)?;
            let reserved: u32 = functions
                .iter()
                .map(|f| match f.reserved_concurrency {
                    Some(r) => r,
                    None => provisioned
                        .get(&f.latest.function_name)
                        .map_or(0, |&n| u32::try_from(n).unwrap_or(u32::MAX)),
                })
                .fold(0u32, u32::saturating_add);
            Ok(AccountSettings {
                total_code_size_limit: super::functions::TOTAL_CODE_SIZE_LIMIT,
                code_size_unzipped: CODE_SIZE_UNZIPPED,
                code_size_zipped: CODE_SIZE_ZIPPED,
                concurrent_executions: CONCURRENT_EXECUTIONS,
                unreserved_concurrent_executions: CONCURRENT_EXECUTIONS.saturating_sub(reserved),
                total_code_size: code_usage(tx, scope)?,
                function_count: functions.len() as u64,
            })
        })
    }

    /// TagResource: adds or overwrites tags.
    pub fn tag(
        &self,
        scope: &Scope,
        resource: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), LambdaError> {
        let target = tagged(scope, resource, "TagResource")?;
        self.store.write(|tx| match &target {
            Tagged::Function(name) => {
                let mut function = load_function(tx, scope, name)?;
                function.tags.extend(tags);
                check_tags(&function.tags)?;
                tx.put_json(kind::FUNCTION, scope, name, &function)?;
                Ok(())
            }
            Tagged::SigningConfig(arn) => super::signing::change_tags(tx, scope, arn, |t| {
                t.extend(tags);
                check_tags(t)
            }),
        })
    }

    /// UntagResource: removes the keys that are there.
    pub fn untag(&self, scope: &Scope, resource: &str, keys: &[String]) -> Result<(), LambdaError> {
        let target = tagged(scope, resource, "UntagResource")?;
        self.store.write(|tx| match &target {
            Tagged::Function(name) => {
                let mut function = load_function(tx, scope, name)?;
                for key in keys {
                    function.tags.remove(key);
                }
                tx.put_json(kind::FUNCTION, scope, name, &function)?;
                Ok(())
            }
            Tagged::SigningConfig(arn) => super::signing::change_tags(tx, scope, arn, |t| {
                for key in keys {
                    t.remove(key);
                }
                Ok(())
            }),
        })
    }

    /// ListTags.
    pub fn tags(
        &self,
        scope: &Scope,
        resource: &str,
    ) -> Result<BTreeMap<String, String>, LambdaError> {
        let target = tagged(scope, resource, "ListTags")?;
        self.store.read(|tx| match &target {
            Tagged::Function(name) => Ok(load_function(tx, scope, name)?.tags),
            Tagged::SigningConfig(arn) => super::signing::tags(tx, scope, arn),
        })
    }
}

/// Tags count and size limits.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    if tags.len() > MAX_TAGS {
        return Err(LambdaError::invalid(format!(
            "Number of tags exceeds resource tag limit of {MAX_TAGS}."
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(LambdaError::invalid(format!(
                "Tag key or value has an invalid length: {k}"
            )));
        }
    }
    Ok(())
}

/// A taggable resource.
enum Tagged {
    /// By name; tags live on functions, not on versions or aliases.
    Function(String),
    /// By ARN.
    SigningConfig(String),
}

/// The resource a taggable resource ARN names.
fn tagged(scope: &Scope, resource: &str, action: &str) -> Result<Tagged, LambdaError> {
    if !resource.starts_with("arn:") {
        return Err(LambdaError::Validation(vec![LambdaError::violation(
            resource,
            "resource",
            r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)",
        )]));
    }
    if resource.split(':').nth(5) == Some("code-signing-config") {
        super::signing::parse_arn(resource, "resource")?;
        return Ok(Tagged::SigningConfig(resource.to_string()));
    }
    let fref = FunctionRef::parse(resource, NameShape::Function, scope, action)?;
    if fref.qualifier.is_some() {
        return Err(LambdaError::invalid(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    Ok(Tagged::Function(fref.name))
}
