//! Aliases: names for a version of a function, optionally splitting traffic with one
//! additional version by weight. Stored beside the function (`<function>:<alias>`) and
//! removed with it.

use std::collections::BTreeMap;

use super::error::LambdaError;
use super::functions::{load_function, load_version, not_found, paginate, Lambda, Page};
use super::model::{children_prefix, kind, new_revision_id, Alias};
use super::names::{check_alias_name, is_version_number, FunctionRef, LATEST};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// CreateAlias's input, and UpdateAlias's (where `None` leaves a member unchanged).
#[derive(Clone, Debug, Default)]
pub struct AliasSpec {
    pub name: String,
    pub function_version: Option<String>,
    pub description: Option<String>,
    /// `Some` replaces the weights; an empty map removes them.
    pub routing: Option<BTreeMap<String, f64>>,
    pub revision_id: Option<String>,
}

impl Lambda {
    pub fn create_alias(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        spec: AliasSpec,
    ) -> Result<Alias, LambdaError> {
        let function = fref.unqualified()?.to_string();
        check_alias_name(&spec.name, "name")?;
        let mut v = Violations::default();
        let version = match &spec.function_version {
            Some(version) => version.clone(),
            None => {
                v.null("functionVersion");
                String::new()
            }
        };
        check_members(&mut v, &version, spec.description.as_deref());
        v.finish()?;
        self.store.write(|tx| {
            load_function(tx, scope, &function)?;
            let key = alias_key(&function, &spec.name);
            if let Some(existing) = tx.get_json::<Alias>(kind::ALIAS, scope, &key)? {
                return Err(LambdaError::conflict(format!(
                    "Alias already exists: {}",
                    existing.arn(scope)
                )));
            }
            check_target(tx, scope, &function, &version)?;
            let routing = spec.routing.clone().unwrap_or_default();
            check_routing(tx, scope, &function, &version, &routing)?;
            let alias = Alias {
                function_name: function.clone(),
                name: spec.name.clone(),
                function_version: version.clone(),
                description: spec.description.clone().unwrap_or_default(),
                routing,
                revision_id: new_revision_id(),
            };
            tx.put_json(kind::ALIAS, scope, &key, &alias)?;
            Ok(alias)
        })
    }

    pub fn get_alias(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        name: &str,
    ) -> Result<Alias, LambdaError> {
        let function = fref.unqualified()?.to_string();
        check_alias_name(name, "name")?;
        self.store.read(|tx| {
            load_function(tx, scope, &function)?;
            load_alias(tx, scope, &function, name)
        })
    }

    pub fn list_aliases(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        function_version: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<Alias>, LambdaError> {
        let function = fref.unqualified()?.to_string();
        let max = match max_items {
            None => 50,
            Some(n) => {
                let mut v = Violations::default();
                let n = v.range(n, "maxItems", 1, Some(10_000));
                v.finish()?;
                n.map_or(50, |n| n as usize)
            }
        };
        let aliases = self.store.read(|tx| {
            load_function(tx, scope, &function)?;
            Ok::<_, LambdaError>(tx.list_json::<Alias>(
                kind::ALIAS,
                scope,
                &children_prefix(&function),
            )?)
        })?;
        // Aliases are keyed by name; the pager's version slot is unused.
        let items = aliases
            .into_iter()
            .filter(|a| function_version.is_none_or(|v| a.function_version == v))
            .map(|a| ((a.name.clone(), 0), a))
            .collect();
        paginate(items, marker, max)
    }

    pub fn update_alias(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        spec: AliasSpec,
    ) -> Result<Alias, LambdaError> {
        let function = fref.unqualified()?.to_string();
        check_alias_name(&spec.name, "name")?;
        let mut v = Violations::default();
        if let Some(version) = &spec.function_version {
            check_members(&mut v, version, None);
        }
        if let Some(d) = &spec.description {
            v.description(d, "description");
        }
        v.finish()?;
        self.store.write(|tx| {
            load_function(tx, scope, &function)?;
            let mut alias = load_alias(tx, scope, &function, &spec.name)?;
            if spec
                .revision_id
                .as_deref()
                .is_some_and(|r| r != alias.revision_id)
            {
                return Err(LambdaError::RevisionMismatch);
            }
            if let Some(version) = &spec.function_version {
                check_target(tx, scope, &function, version)?;
                alias.function_version = version.clone();
            }
            if let Some(d) = &spec.description {
                alias.description = d.clone();
            }
            if let Some(routing) = &spec.routing {
                alias.routing = routing.clone();
            }
            check_routing(
                tx,
                scope,
                &function,
                &alias.function_version,
                &alias.routing,
            )?;
            alias.revision_id = new_revision_id();
            tx.put_json(
                kind::ALIAS,
                scope,
                &alias_key(&function, &alias.name),
                &alias,
            )?;
            Ok(alias)
        })
    }

    /// DeleteAlias. Deleting an alias that is not there succeeds, as deleting an absent
    /// version does.
    pub fn delete_alias(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        name: &str,
    ) -> Result<(), LambdaError> {
        let function = fref.unqualified()?.to_string();
        check_alias_name(name, "name")?;
        self.store.write(|tx| {
            load_function(tx, scope, &function)?;
            tx.delete(kind::ALIAS, scope, &alias_key(&function, name))?;
            super::event_config::remove(tx, scope, &function, Some(name))?;
            super::permissions::delete_policies(tx, scope, &function, Some(name))?;
            Ok(())
        })
    }
}

fn alias_key(function: &str, alias: &str) -> String {
    format!("{}{alias}", children_prefix(function))
}

fn load_alias(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    name: &str,
) -> Result<Alias, LambdaError> {
    tx.get_json(kind::ALIAS, scope, &alias_key(function, name))?
        .ok_or_else(|| LambdaError::AliasNotFound {
            arn: super::names::function_arn(scope, function, Some(name)),
        })
}

fn check_members(v: &mut Violations, version: &str, description: Option<&str>) {
    if version != LATEST && !is_version_number(version) {
        v.push(
            version,
            "functionVersion",
            r"Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)",
        );
    }
    if let Some(d) = description {
        v.description(d, "description");
    }
}

/// The version an alias points at must exist.
fn check_target(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    version: &str,
) -> Result<(), LambdaError> {
    if version == LATEST {
        return Ok(());
    }
    load_version(tx, scope, function, version)?
        .map(|_| ())
        .ok_or_else(|| not_found(scope, function, Some(version)))
}

fn check_routing(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    primary: &str,
    routing: &BTreeMap<String, f64>,
) -> Result<(), LambdaError> {
    if routing.is_empty() {
        return Ok(());
    }
    if routing.len() > 1 {
        return Err(LambdaError::invalid(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    for (version, weight) in routing {
        if !(0.0..=1.0).contains(weight) {
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                format!("{{{version}={weight}}}"),
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]",
            )]));
        }
        if !is_version_number(version) {
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                format!("{{{version}={weight}}}"),
                "routingConfig.additionalVersionWeights",
                "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]",
            )]));
        }
        if version == primary {
            return Err(LambdaError::invalid(format!(
                "Invalid function version {primary}. Function version {primary} is already included in routing configuration."
            )));
        }
        if primary == LATEST {
            return Err(LambdaError::invalid(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            ));
        }
        check_target(tx, scope, function, version)?;
    }
    Ok(())
}
