//! Provisioned concurrency configurations: how many environments of a published version
//! (named directly or through an alias) are kept initialized ahead of invocations.
//!
//! The record is the intent (`Requested…`) plus the progress the execution side reports
//! (`Allocated…`, `Status`): the invoke side's provisioner reads every record
//! ([`Lambda::provisioned_plan`]), starts or stops environments, and writes what it reached
//! ([`Lambda::report_provisioned`]). Each Put gets a fresh `put_id`, so a report about an
//! earlier Put never lands on a later one. Stored beside the function
//! (`<function>:<qualifier>`) and removed with the function, the version or the alias.
//!
//! Concurrency: a function with reserved concurrency provisions out of its reservation; one
//! without takes it out of the account's unreserved pool, which must keep
//! [`MIN_UNRESERVED`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::account::{CONCURRENT_EXECUTIONS, MIN_UNRESERVED};
use super::error::LambdaError;
use super::functions::{load_function, load_version, not_found, paginate, Lambda, Page};
use super::model::{children_prefix, kind, new_revision_id, timestamp_now, Alias, Function};
use super::names::{is_version_number, FunctionRef, LATEST};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// Store kind: one per configured version or alias, id = `<function>:<qualifier>`.
pub const KIND: &str = "lambda.provisioned";
const DEFAULT_PAGE: usize = 50;
/// Lambda's StatusReason when an environment's init failed.
pub const INIT_FAILURE: &str = "FUNCTION_ERROR_INIT_FAILURE";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvisionedStatus {
    InProgress,
    Ready,
    Failed,
}

impl ProvisionedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionedStatus::InProgress => "IN_PROGRESS",
            ProvisionedStatus::Ready => "READY",
            ProvisionedStatus::Failed => "FAILED",
        }
    }
}

/// One provisioned concurrency configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    pub function_name: String,
    /// A version number or an alias name.
    pub qualifier: String,
    pub requested: u32,
    /// Environments initialized and kept for it (at most `requested`).
    pub allocated: u32,
    pub status: ProvisionedStatus,
    pub status_reason: Option<String>,
    pub last_modified: String,
    /// New for every Put.
    pub put_id: String,
}

/// A configuration as the provisioner works on it: the version its environments run.
#[derive(Clone, Debug)]
pub struct PlannedConfig {
    pub scope: Scope,
    pub config: ProvisionedConfig,
    /// The published version the qualifier names now (an alias's primary version); `None`
    /// when it names none (an alias moved to `$LATEST`).
    pub version: Option<String>,
}

/// What the provisioner reached for one configuration.
#[derive(Clone, Debug)]
pub struct ProvisionedReport {
    pub scope: Scope,
    pub function_name: String,
    pub qualifier: String,
    pub put_id: String,
    /// Initialized environments serving it now.
    pub allocated: u32,
    /// Why provisioning gave up, if it did.
    pub failure: Option<String>,
}

impl Lambda {
    /// PutProvisionedConcurrencyConfig.
    pub fn put_provisioned(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        requested: Option<i64>,
    ) -> Result<ProvisionedConfig, LambdaError> {
        let mut v = Violations::default();
        let requested = match requested {
            Some(n) => v.range(n, "provisionedConcurrentExecutions", 1, None),
            None => {
                v.null("provisionedConcurrentExecutions");
                None
            }
        };
        v.finish()?;
        let requested = requested.unwrap_or(1);
        let qualifier = published_qualifier(
            fref,
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        )?;
        let name = fref.name.clone();
        self.store.write(|tx| {
            let function = load_function(tx, scope, &name)?;
            let aliases = tx.list_json::<Alias>(kind::ALIAS, scope, &children_prefix(&name))?;
            check_target(tx, scope, &name, qualifier, &aliases)?;
            let configs = configs_of(tx, scope, &name)?;
            check_overlap(qualifier, &aliases, &configs)?;
            let others: u64 = configs
                .iter()
                .filter(|c| c.qualifier != qualifier)
                .map(|c| u64::from(c.requested))
                .sum();
            match function.reserved_concurrency {
                Some(reserved) => {
                    if others + u64::from(requested) > u64::from(reserved) {
                        return Err(LambdaError::invalid(
                            "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function",
                        ));
                    }
                }
                None => {
                    let taken = taken_elsewhere(tx, scope, &name)? + others;
                    let unreserved = u64::from(CONCURRENT_EXECUTIONS).saturating_sub(taken);
                    if unreserved.saturating_sub(u64::from(requested)) < u64::from(MIN_UNRESERVED)
                    {
                        return Err(LambdaError::invalid(format!(
                            "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                        )));
                    }
                }
            }
            let previous = configs.iter().find(|c| c.qualifier == qualifier);
            let config = ProvisionedConfig {
                function_name: name.clone(),
                qualifier: qualifier.to_string(),
                requested,
                allocated: previous.map_or(0, |p| p.allocated.min(requested)),
                status: ProvisionedStatus::InProgress,
                status_reason: None,
                last_modified: timestamp_now(),
                put_id: new_revision_id(),
            };
            tx.put_json(KIND, scope, &key(&name, qualifier), &config)?;
            Ok(config)
        })
    }

    /// GetProvisionedConcurrencyConfig.
    pub fn get_provisioned(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<ProvisionedConfig, LambdaError> {
        let qualifier = published_qualifier(
            fref,
            "The function resource provided must be an alias or a published version.",
        )?;
        self.store.read(|tx| {
            load_function(tx, scope, &fref.name)?;
            let aliases =
                tx.list_json::<Alias>(kind::ALIAS, scope, &children_prefix(&fref.name))?;
            check_target(tx, scope, &fref.name, qualifier, &aliases)?;
            tx.get_json::<ProvisionedConfig>(KIND, scope, &key(&fref.name, qualifier))?
                .ok_or(LambdaError::ProvisionedConfigNotFound)
        })
    }

    /// DeleteProvisionedConcurrencyConfig; deleting one that is not there succeeds.
    pub fn delete_provisioned(&self, scope: &Scope, fref: &FunctionRef) -> Result<(), LambdaError> {
        let qualifier = published_qualifier(
            fref,
            "The function resource provided must be an alias or a published version.",
        )?;
        self.store.write(|tx| {
            load_function(tx, scope, &fref.name)?;
            let aliases =
                tx.list_json::<Alias>(kind::ALIAS, scope, &children_prefix(&fref.name))?;
            check_target(tx, scope, &fref.name, qualifier, &aliases)?;
            tx.delete(KIND, scope, &key(&fref.name, qualifier))?;
            Ok(())
        })
    }

    /// ListProvisionedConcurrencyConfigs, in qualifier order.
    pub fn list_provisioned(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<ProvisionedConfig>, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let max = match max_items {
            None => DEFAULT_PAGE,
            Some(n) => {
                let mut v = Violations::default();
                let n = v.range(n, "maxItems", 1, Some(50));
                v.finish()?;
                n.map_or(DEFAULT_PAGE, |n| n as usize)
            }
        };
        let configs = self.store.read(|tx| {
            load_function(tx, scope, &name)?;
            configs_of(tx, scope, &name)
        })?;
        // Keyed by qualifier; the pager's number slot is unused.
        let items = configs
            .into_iter()
            .map(|c| ((c.qualifier.clone(), 0), c))
            .collect();
        paginate(items, marker, max)
    }

    /// Every configuration of every account, each with the version it runs now.
    pub fn provisioned_plan(&self) -> Result<Vec<PlannedConfig>, LambdaError> {
        self.store.read(|tx| {
            let mut plan = Vec::new();
            for (scope, id, body) in tx.list_all(KIND)? {
                let config: ProvisionedConfig = serde_json::from_slice(&body).map_err(|e| {
                    crate::store::StoreError::Corrupt {
                        kind: KIND.into(),
                        id,
                        source: e,
                    }
                })?;
                let version = if is_version_number(&config.qualifier) {
                    Some(config.qualifier.clone())
                } else {
                    tx.get_json::<Alias>(
                        kind::ALIAS,
                        &scope,
                        &key(&config.function_name, &config.qualifier),
                    )?
                    .map(|a| a.function_version)
                    .filter(|v| v != LATEST)
                };
                plan.push(PlannedConfig {
                    scope,
                    config,
                    version,
                });
            }
            Ok(plan)
        })
    }

    /// Writes the provisioner's progress, in one transaction; reports about a configuration
    /// since deleted or put again are dropped.
    pub fn report_provisioned(&self, reports: &[ProvisionedReport]) -> Result<(), LambdaError> {
        if reports.is_empty() {
            return Ok(());
        }
        self.store.write(|tx| {
            for r in reports {
                let id = key(&r.function_name, &r.qualifier);
                let Some(mut config) = tx.get_json::<ProvisionedConfig>(KIND, &r.scope, &id)?
                else {
                    continue;
                };
                if config.put_id != r.put_id {
                    continue;
                }
                let before = config.clone();
                apply_report(&mut config, r);
                if config != before {
                    tx.put_json(KIND, &r.scope, &id, &config)?;
                }
            }
            Ok(())
        })
    }

    /// A restarted daemon has no environments: every configuration is provisioned again.
    pub fn restart_provisioned(&self) -> Result<(), LambdaError> {
        self.store.write(|tx| {
            for (scope, id, body) in tx.list_all(KIND)? {
                let Ok(mut config) = serde_json::from_slice::<ProvisionedConfig>(&body) else {
                    continue;
                };
                config.allocated = 0;
                config.status = ProvisionedStatus::InProgress;
                config.status_reason = None;
                tx.put_json(KIND, &scope, &id, &config)?;
            }
            Ok(())
        })
    }
}

/// The new allocation and status of `config` after report `r`.
fn apply_report(config: &mut ProvisionedConfig, r: &ProvisionedReport) {
    config.allocated = r.allocated.min(config.requested);
    if let Some(reason) = &r.failure {
        config.status = ProvisionedStatus::Failed;
        config.status_reason = Some(reason.clone());
    } else if config.status != ProvisionedStatus::Failed {
        config.status = if config.allocated == config.requested {
            ProvisionedStatus::Ready
        } else {
            ProvisionedStatus::InProgress
        };
    }
}

/// Removes the configurations `qualifier` names (every one of the function with `None`),
/// for deletes of a function, version or alias.
pub(crate) fn delete_configs(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    qualifier: Option<&str>,
) -> Result<(), LambdaError> {
    match qualifier {
        Some(q) => {
            tx.delete(KIND, scope, &key(function, q))?;
        }
        None => {
            for (id, _) in tx.list(KIND, scope, &children_prefix(function))? {
                tx.delete(KIND, scope, &id)?;
            }
        }
    }
    Ok(())
}

/// Concurrency the account's other functions take out of the unreserved pool:
/// reservations, and provisioned concurrency of functions without one.
pub(crate) fn taken_elsewhere(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
) -> Result<u64, LambdaError> {
    let provisioned = provisioned_by_function(tx, scope)?;
    let mut taken = 0u64;
    for f in tx.list_json::<Function>(kind::FUNCTION, scope, "")? {
        let name = &f.latest.function_name;
        if name == function {
            continue;
        }
        taken += match f.reserved_concurrency {
            Some(r) => u64::from(r),
            None => provisioned.get(name).copied().unwrap_or(0),
        };
    }
    Ok(taken)
}

/// Requested provisioned concurrency per function of the account.
pub(crate) fn provisioned_by_function(
    tx: &mut dyn Tx,
    scope: &Scope,
) -> Result<HashMap<String, u64>, LambdaError> {
    let mut sums = HashMap::new();
    for c in tx.list_json::<ProvisionedConfig>(KIND, scope, "")? {
        *sums.entry(c.function_name).or_default() += u64::from(c.requested);
    }
    Ok(sums)
}

fn key(function: &str, qualifier: &str) -> String {
    format!("{}{qualifier}", children_prefix(function))
}

fn configs_of(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
) -> Result<Vec<ProvisionedConfig>, LambdaError> {
    Ok(tx.list_json(KIND, scope, &children_prefix(function))?)
}

/// The qualifier of a published version or alias; `$LATEST` and none are refused with
/// `refusal`.
fn published_qualifier<'a>(fref: &'a FunctionRef, refusal: &str) -> Result<&'a str, LambdaError> {
    match fref.qualifier.as_deref() {
        None | Some(LATEST) | Some("") => Err(LambdaError::invalid(refusal)),
        Some(q) => Ok(q),
    }
}

/// The version or alias must exist; an alias must point at one published version.
fn check_target(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    qualifier: &str,
    aliases: &[Alias],
) -> Result<(), LambdaError> {
    if is_version_number(qualifier) {
        return load_version(tx, scope, function, qualifier)?
            .map(|_| ())
            .ok_or_else(|| not_found(scope, function, Some(qualifier)));
    }
    if aliases.iter().any(|a| a.name == qualifier) {
        Ok(())
    } else {
        Err(LambdaError::AliasNotFound {
            arn: super::names::function_arn(scope, function, Some(qualifier)),
        })
    }
}

/// An alias and the version it points at never both have a configuration; an alias that
/// splits traffic between versions is not provisioned here.
fn check_overlap(
    qualifier: &str,
    aliases: &[Alias],
    configs: &[ProvisionedConfig],
) -> Result<(), LambdaError> {
    let configured = |q: &str| configs.iter().any(|c| c.qualifier == q);
    if is_version_number(qualifier) {
        let pointing = aliases
            .iter()
            .any(|a| a.function_version == qualifier && configured(&a.name));
        if pointing {
            return Err(LambdaError::conflict(
                "Version is pointed by a Provisioned Concurrency alias",
            ));
        }
        return Ok(());
    }
    let Some(alias) = aliases.iter().find(|a| a.name == qualifier) else {
        return Ok(());
    };
    if alias.function_version == LATEST {
        return Err(LambdaError::invalid(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        ));
    }
    if !alias.routing.is_empty() {
        return Err(LambdaError::invalid(
            "Provisioned concurrency on an alias with additional version weights is not supported here.",
        ));
    }
    if configured(&alias.function_version) {
        return Err(LambdaError::conflict(
            "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(requested: u32) -> ProvisionedConfig {
        ProvisionedConfig {
            function_name: "f".into(),
            qualifier: "1".into(),
            requested,
            allocated: 0,
            status: ProvisionedStatus::InProgress,
            status_reason: None,
            last_modified: timestamp_now(),
            put_id: "p".into(),
        }
    }

    fn report(allocated: u32, failure: Option<&str>) -> ProvisionedReport {
        ProvisionedReport {
            scope: Scope::new("123456789012", "us-east-1"),
            function_name: "f".into(),
            qualifier: "1".into(),
            put_id: "p".into(),
            allocated,
            failure: failure.map(Into::into),
        }
    }

    #[test]
    fn progress_counts_up_to_ready_and_a_failure_sticks() {
        let mut c = config(2);
        apply_report(&mut c, &report(1, None));
        assert_eq!((c.allocated, c.status), (1, ProvisionedStatus::InProgress));
        apply_report(&mut c, &report(3, None));
        assert_eq!((c.allocated, c.status), (2, ProvisionedStatus::Ready));
        apply_report(&mut c, &report(1, Some(INIT_FAILURE)));
        assert_eq!(c.status, ProvisionedStatus::Failed);
        assert_eq!(c.status_reason.as_deref(), Some(INIT_FAILURE));
        apply_report(&mut c, &report(2, None));
        assert_eq!(c.status, ProvisionedStatus::Failed, "until the next Put");
    }

    fn alias(name: &str, version: &str) -> Alias {
        Alias {
            function_name: "f".into(),
            name: name.into(),
            function_version: version.into(),
            description: String::new(),
            routing: Default::default(),
            revision_id: "r".into(),
        }
    }

    #[test]
    fn an_alias_and_its_version_are_never_both_configured() {
        let aliases = [alias("live", "1"), alias("edge", LATEST)];
        let mut on_alias = config(1);
        on_alias.qualifier = "live".into();
        let e = check_overlap("1", &aliases, &[on_alias]).unwrap_err();
        assert!(matches!(e, LambdaError::Conflict(_)));
        assert_eq!(
            e.to_string(),
            "Version is pointed by a Provisioned Concurrency alias"
        );
        let e = check_overlap("live", &aliases, &[config(1)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
        );
        assert!(check_overlap("2", &aliases, &[config(1)]).is_ok());
        assert!(check_overlap("live", &aliases, &[]).is_ok());
        let e = check_overlap("edge", &aliases, &[]).unwrap_err();
        assert!(matches!(e, LambdaError::InvalidParameter(_)));
    }

    #[test]
    fn latest_and_unqualified_are_refused() {
        for q in [None, Some(LATEST.to_string())] {
            let fref = FunctionRef {
                name: "f".into(),
                qualifier: q,
            };
            let e = published_qualifier(&fref, "no").unwrap_err();
            assert!(matches!(e, LambdaError::InvalidParameter(m) if m == "no"));
        }
    }
}
