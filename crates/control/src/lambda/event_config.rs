//! Asynchronous invocation settings (`EventInvokeConfig`) of a function, version or alias:
//! how often a failed Event invocation is retried, how old an event may get in the queue,
//! and which function receives the invocation record on success or failure. Stored beside
//! the function (`<function>:<qualifier>`) and removed with the function, version or alias
//! it belongs to. Also the refusal of dead-letter queues (they need SQS or SNS, which do not
//! exist here) and the checks a destination delivery makes.
//!
//! Owns the rules; must not run anything: the invoke side reads [`EventPolicy`] and carries
//! it out.

use serde::{Deserialize, Serialize};

use super::error::LambdaError;
use super::functions::{paginate, resolve, Lambda, Page};
use super::model::children_prefix;
use super::names::{function_arn, FunctionRef, NameShape, LATEST};
use super::validate::Violations;
use crate::iam::lookup as iam;
use crate::store::{Scope, Tx, TxExt};

/// Store kind of the settings, id = `<function>:<qualifier>`.
const KIND: &str = "lambda.event-invoke-config";
/// Lambda retries a failed Event invocation this often unless configured otherwise.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 2;
/// Lambda keeps an event this long (six hours) unless configured otherwise.
pub const DEFAULT_MAX_EVENT_AGE_SECS: u32 = 21_600;
const MAX_RETRY_ATTEMPTS: i64 = 2;
const MIN_EVENT_AGE_SECS: i64 = 60;
const DEFAULT_LIST_ITEMS: usize = 50;
const MAX_LIST_ITEMS: i64 = 50;
const MAX_DESTINATION_LEN: usize = 350;
const DESTINATION_ARN_PATTERN: &str = r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
const RESOURCE_ARN_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()";

/// The settings of one qualifier, as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub function_name: String,
    /// `$LATEST`, a version number or an alias name.
    pub qualifier: String,
    /// `None` when never set (Lambda then retries [`DEFAULT_RETRY_ATTEMPTS`] times).
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_secs: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
}

impl EventInvokeConfig {
    /// The qualified ARN Lambda reports the settings under.
    pub fn arn(&self, scope: &Scope) -> String {
        function_arn(scope, &self.function_name, Some(&self.qualifier))
    }
}

/// PutFunctionEventInvokeConfig's and UpdateFunctionEventInvokeConfig's input; `None` is a
/// member the request left out.
#[derive(Clone, Debug, Default)]
pub struct EventConfigChange {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_secs: Option<i64>,
    /// `DestinationConfig`, when the request has one.
    pub destinations: Option<DestinationsChange>,
}

/// `DestinationConfig`: each member the request has, with its `Destination` (`None` or an
/// empty string: no destination).
#[derive(Clone, Debug, Default)]
pub struct DestinationsChange {
    pub on_success: Option<Option<String>>,
    pub on_failure: Option<Option<String>>,
}

/// What the invoke side applies to an event of one qualifier: its settings, or Lambda's
/// defaults where there are none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_secs: u32,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

impl Default for EventPolicy {
    fn default() -> Self {
        EventPolicy {
            maximum_retry_attempts: DEFAULT_RETRY_ATTEMPTS,
            maximum_event_age_secs: DEFAULT_MAX_EVENT_AGE_SECS,
            on_success: None,
            on_failure: None,
        }
    }
}

impl Lambda {
    /// PutFunctionEventInvokeConfig: replaces the qualifier's settings as a whole.
    pub fn put_event_invoke_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        change: EventConfigChange,
    ) -> Result<EventInvokeConfig, LambdaError> {
        check_change(&change)?;
        self.store.write(|tx| {
            let (qualifier, role) = configurable(tx, scope, fref)?;
            let mut config = EventInvokeConfig {
                function_name: fref.name.clone(),
                qualifier,
                maximum_retry_attempts: None,
                maximum_event_age_secs: None,
                on_success: None,
                on_failure: None,
                last_modified_ms: 0,
            };
            apply(tx, scope, &role, &mut config, &change)?;
            save(tx, scope, &config)?;
            Ok(config)
        })
    }

    /// UpdateFunctionEventInvokeConfig: changes the members the request has, keeps the
    /// others (within `DestinationConfig`, each of `OnSuccess` and `OnFailure` alike).
    pub fn update_event_invoke_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        change: EventConfigChange,
    ) -> Result<EventInvokeConfig, LambdaError> {
        check_change(&change)?;
        self.store.write(|tx| {
            let (qualifier, role) = configurable(tx, scope, fref)?;
            let mut config = load(tx, scope, &fref.name, &qualifier)?
                .ok_or_else(|| no_config(scope, &fref.name, &qualifier))?;
            apply(tx, scope, &role, &mut config, &change)?;
            save(tx, scope, &config)?;
            Ok(config)
        })
    }

    /// GetFunctionEventInvokeConfig.
    pub fn get_event_invoke_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<EventInvokeConfig, LambdaError> {
        let qualifier = qualifier_of(fref);
        self.store.read(|tx| {
            load(tx, scope, &fref.name, &qualifier)?
                .ok_or_else(|| no_config(scope, &fref.name, &qualifier))
        })
    }

    /// DeleteFunctionEventInvokeConfig.
    pub fn delete_event_invoke_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<(), LambdaError> {
        let qualifier = qualifier_of(fref);
        self.store.write(|tx| {
            if tx.delete(KIND, scope, &key(&fref.name, &qualifier))? {
                Ok(())
            } else {
                Err(no_config(scope, &fref.name, &qualifier))
            }
        })
    }

    /// ListFunctionEventInvokeConfigs: every qualifier's settings, in qualifier order.
    pub fn list_event_invoke_configs(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<EventInvokeConfig>, LambdaError> {
        let function = fref.unqualified()?.to_string();
        let max = match max_items {
            None => DEFAULT_LIST_ITEMS,
            Some(n) => {
                let mut v = Violations::default();
                let n = v.range(n, "maxItems", 1, Some(MAX_LIST_ITEMS));
                v.finish()?;
                n.map_or(DEFAULT_LIST_ITEMS, |n| n as usize)
            }
        };
        let mut configs = self.store.read(|tx| {
            let unqualified = FunctionRef {
                name: function.clone(),
                qualifier: None,
            };
            resolve(tx, scope, &unqualified).map_err(not_exists)?;
            Ok::<_, LambdaError>(tx.list_json::<EventInvokeConfig>(
                KIND,
                scope,
                &children_prefix(&function),
            )?)
        })?;
        configs.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        // Keyed by qualifier; the pager's number slot is unused.
        let items = configs
            .into_iter()
            .map(|c| ((c.qualifier.clone(), 0), c))
            .collect();
        paginate(items, marker, max)
    }

    /// The settings an Event invocation of `fref` runs under (defaults where none are set).
    pub fn event_policy(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<EventPolicy, LambdaError> {
        let qualifier = qualifier_of(fref);
        let config = self
            .store
            .read(|tx| load(tx, scope, &fref.name, &qualifier))?;
        Ok(config.map_or_else(EventPolicy::default, |c| EventPolicy {
            maximum_retry_attempts: c.maximum_retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS),
            maximum_event_age_secs: c
                .maximum_event_age_secs
                .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECS),
            on_success: c.on_success,
            on_failure: c.on_failure,
        }))
    }

    /// Where a record about an event of `source` goes when its destination is `arn`: the
    /// function to invoke, if it still exists and `source`'s execution role may invoke it
    /// (the checks Lambda makes when it delivers).
    pub fn delivery_target(
        &self,
        scope: &Scope,
        source: &FunctionRef,
        arn: &str,
    ) -> Result<FunctionRef, LambdaError> {
        self.store.read(|tx| {
            let role = resolve(tx, scope, source)?.version.settings.role;
            check_destination(tx, scope, &source.name, &role, arn)
        })
    }
}

/// Refuses a `DeadLetterConfig.TargetArn`: its targets are SQS queues and SNS topics, which
/// this Lambda does not have. An empty target (how clients remove one) is accepted.
pub fn check_dead_letter(target_arn: Option<&str>) -> Result<(), LambdaError> {
    let Some(arn) = target_arn.filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    if !is_resource_arn(arn) {
        return Err(LambdaError::Validation(vec![LambdaError::violation(
            arn,
            "deadLetterConfig.targetArn",
            &format!("Member must satisfy regular expression pattern: {RESOURCE_ARN_PATTERN}"),
        )]));
    }
    Err(LambdaError::invalid(format!(
        "DeadLetterConfig is not supported here: its TargetArn ({arn}) must be an Amazon SQS queue or an Amazon SNS topic, and vpclambda does not have SQS or SNS yet. Use an OnFailure destination to a Lambda function (PutFunctionEventInvokeConfig) instead."
    )))
}

/// Removes the settings of `function` (all of them for `None`, else of that qualifier),
/// inside the transaction that removes the function, version or alias.
pub(crate) fn remove(
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

fn key(function: &str, qualifier: &str) -> String {
    format!("{}{qualifier}", children_prefix(function))
}

fn qualifier_of(fref: &FunctionRef) -> String {
    fref.qualifier.clone().unwrap_or_else(|| LATEST.to_string())
}

fn load(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    qualifier: &str,
) -> Result<Option<EventInvokeConfig>, LambdaError> {
    Ok(tx.get_json(KIND, scope, &key(function, qualifier))?)
}

fn save(tx: &mut dyn Tx, scope: &Scope, config: &EventInvokeConfig) -> Result<(), LambdaError> {
    tx.put_json(
        KIND,
        scope,
        &key(&config.function_name, &config.qualifier),
        config,
    )?;
    Ok(())
}

fn no_config(scope: &Scope, function: &str, qualifier: &str) -> LambdaError {
    LambdaError::ResourceNotFound(format!(
        "The function {} doesn't have an EventInvokeConfig",
        function_arn(scope, function, Some(qualifier))
    ))
}

/// Put, Update and List answer a function, version or alias that is not there this way.
fn not_exists(e: LambdaError) -> LambdaError {
    match e {
        LambdaError::FunctionNotFound { .. } | LambdaError::AliasNotFound { .. } => {
            LambdaError::ResourceNotFound("The function doesn't exist.".into())
        }
        other => other,
    }
}

/// The qualifier `fref` names, if that function, version or alias exists, and the
/// execution role of the version it names.
fn configurable(
    tx: &mut dyn Tx,
    scope: &Scope,
    fref: &FunctionRef,
) -> Result<(String, String), LambdaError> {
    let resolved = resolve(tx, scope, fref).map_err(not_exists)?;
    Ok((qualifier_of(fref), resolved.version.settings.role))
}

/// The model's member constraints, then Lambda's rule that a change sets something.
fn check_change(change: &EventConfigChange) -> Result<(), LambdaError> {
    let mut v = Violations::default();
    if let Some(n) = change.maximum_retry_attempts {
        v.range(n, "maximumRetryAttempts", 0, Some(MAX_RETRY_ATTEMPTS));
    }
    if let Some(n) = change.maximum_event_age_secs {
        v.range(
            n,
            "maximumEventAgeInSeconds",
            MIN_EVENT_AGE_SECS,
            Some(i64::from(DEFAULT_MAX_EVENT_AGE_SECS)),
        );
    }
    if let Some(d) = &change.destinations {
        for (member, dest) in [
            ("destinationConfig.onSuccess.destination", &d.on_success),
            ("destinationConfig.onFailure.destination", &d.on_failure),
        ] {
            if let Some(Some(arn)) = dest {
                if arn.len() > MAX_DESTINATION_LEN {
                    v.push(
                        arn,
                        member,
                        &format!(
                            "Member must have length less than or equal to {MAX_DESTINATION_LEN}"
                        ),
                    );
                } else if !is_destination_arn(arn) {
                    v.push(
                        arn,
                        member,
                        &format!(
                            "Member must satisfy regular expression pattern: {DESTINATION_ARN_PATTERN}"
                        ),
                    );
                }
            }
        }
    }
    v.finish()?;
    if change.maximum_retry_attempts.is_none()
        && change.maximum_event_age_secs.is_none()
        && change.destinations.is_none()
    {
        return Err(LambdaError::invalid(
            "You must specify at least one of error handling or destination setting.",
        ));
    }
    Ok(())
}

/// Applies a checked change to `config`, checking each destination it sets.
fn apply(
    tx: &mut dyn Tx,
    scope: &Scope,
    role: &str,
    config: &mut EventInvokeConfig,
    change: &EventConfigChange,
) -> Result<(), LambdaError> {
    if let Some(n) = change.maximum_retry_attempts {
        config.maximum_retry_attempts = u32::try_from(n).ok();
    }
    if let Some(n) = change.maximum_event_age_secs {
        config.maximum_event_age_secs = u32::try_from(n).ok();
    }
    if let Some(d) = &change.destinations {
        for (given, slot) in [
            (&d.on_success, &mut config.on_success),
            (&d.on_failure, &mut config.on_failure),
        ] {
            let Some(dest) = given else { continue };
            let dest = dest.clone().filter(|a| !a.is_empty());
            if let Some(arn) = &dest {
                check_destination(tx, scope, &config.function_name, role, arn)?;
            }
            *slot = dest;
        }
    }
    config.last_modified_ms = chrono::Utc::now().timestamp_millis();
    Ok(())
}

/// A destination Lambda can deliver to here: a function of this account and region other
/// than `function` itself, which `role` may invoke. Returns the function to invoke.
fn check_destination(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    role: &str,
    arn: &str,
) -> Result<FunctionRef, LambdaError> {
    let service = arn.split(':').nth(2).unwrap_or("");
    let unavailable = |what: &str, service: &str| {
        LambdaError::invalid(format!(
            "The destination {arn} is {what}, and vpclambda does not have {service} yet: only Lambda functions can be destinations here."
        ))
    };
    if arn.starts_with("kafka://") {
        return Err(unavailable("an Apache Kafka cluster", "Kafka"));
    }
    match service {
        "lambda" => {}
        "sqs" => return Err(unavailable("an Amazon SQS queue", "Amazon SQS")),
        "sns" => return Err(unavailable("an Amazon SNS topic", "Amazon SNS")),
        "events" => {
            return Err(unavailable(
                "an Amazon EventBridge event bus",
                "Amazon EventBridge",
            ))
        }
        "s3" => return Err(unavailable("an Amazon S3 bucket", "Amazon S3")),
        _ => {
            return Err(LambdaError::invalid(format!(
                "The destination ARN {arn} is invalid."
            )))
        }
    }
    let invalid = || LambdaError::invalid(format!("The destination ARN {arn} is invalid."));
    // A function ARN in full: arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>].
    let parts: Vec<&str> = arn.split(':').collect();
    if !(7..=8).contains(&parts.len()) || parts[5] != "function" {
        return Err(invalid());
    }
    let target = FunctionRef::parse(arn, NameShape::Namespaced, scope, "InvokeFunction")
        .map_err(|_| invalid())?;
    if target.name == function {
        return Err(LambdaError::invalid(
            "You can't specify the function as a destination for itself.",
        ));
    }
    resolve(tx, scope, &target).map_err(|e| match e {
        LambdaError::FunctionNotFound { .. } | LambdaError::AliasNotFound { .. } => invalid(),
        other => other,
    })?;
    let allowed = match iam::role_by_arn(tx, &scope.account, role)? {
        Some(info) => iam::is_allowed(tx, &scope.account, &info, "lambda:InvokeFunction", arn)?,
        None => false,
    };
    if !allowed {
        return Err(LambdaError::invalid(format!(
            "The function execution role does not have permissions to call InvokeFunction on {arn}"
        )));
    }
    Ok(target)
}

/// `DestinationArn`'s pattern (the model's regular expression, written out).
fn is_destination_arn(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if let Some(cluster) = s.strip_prefix("kafka://") {
        return !cluster.is_empty()
            && !cluster.starts_with('.')
            && cluster.len() <= 249
            && cluster
                .chars()
                .skip(1)
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, _rest] = parts.as_slice() else {
        return false;
    };
    *arn == "arn"
        && partition.starts_with("aws")
        && partition[3..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && (region.is_empty() || is_region(region))
        && (account.is_empty()
            || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
}

/// `[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    let digit = |p: &str| p.len() == 1 && p.chars().all(|c| c.is_ascii_digit());
    match parts.as_slice() {
        [cc, area, n] => cc.len() == 2 && lower(cc) && lower(area) && digit(n),
        [cc, special, area, n] => {
            cc.len() == 2
                && lower(cc)
                && (*special == "gov"
                    || (special.starts_with("iso")
                        && special.len() <= 4
                        && special.chars().all(|c| c.is_ascii_lowercase())))
                && lower(area)
                && digit(n)
        }
        _ => false,
    }
}

/// `ResourceArn`'s pattern, for `DeadLetterConfig.TargetArn`.
fn is_resource_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(4, ':').collect();
    let [arn, partition, service, _rest] = parts.as_slice() else {
        return false;
    };
    *arn == "arn"
        && (partition.is_empty()
            || (partition.starts_with("aws")
                && partition[3..]
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-')))
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_arns_follow_the_model_pattern() {
        for ok in [
            "",
            "arn:aws:lambda:us-east-1:123456789012:function:dest",
            "arn:aws:sqs:us-east-1:123456789012:queue",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "arn:aws:s3:::bucket",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic",
            "kafka://broker-1.example",
        ] {
            assert!(is_destination_arn(ok), "{ok}");
        }
        for bad in [
            "dest",
            "arn:aws:lambda:us-east-1:1234:function:dest",
            "arn:aws:lambda:useast1:123456789012:function:dest",
            "arn:aws:_-/!lambda:us-east-1:123456789012:function:dest",
            "arn:aws:lambda:us-east-1",
            "kafka://.broker",
        ] {
            assert!(!is_destination_arn(bad), "{bad}");
        }
    }

    #[test]
    fn a_change_must_set_something_and_stay_in_range() {
        let e = check_change(&EventConfigChange::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "You must specify at least one of error handling or destination setting."
        );
        let e = check_change(&EventConfigChange {
            maximum_retry_attempts: Some(3),
            maximum_event_age_secs: Some(59),
            destinations: None,
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
        );
        assert!(check_change(&EventConfigChange {
            maximum_event_age_secs: Some(21_601),
            ..EventConfigChange::default()
        })
        .is_err());
        let e = check_change(&EventConfigChange {
            destinations: Some(DestinationsChange {
                on_failure: Some(Some("nope".into())),
                on_success: None,
            }),
            ..EventConfigChange::default()
        })
        .unwrap_err();
        assert!(matches!(e, LambdaError::Validation(_)));
        assert!(e
            .to_string()
            .contains("Value 'nope' at 'destinationConfig.onFailure.destination'"));
        // An empty DestinationConfig is a setting (it removes the destinations).
        assert!(check_change(&EventConfigChange {
            destinations: Some(DestinationsChange::default()),
            ..EventConfigChange::default()
        })
        .is_ok());
    }

    #[test]
    fn dead_letter_targets_are_refused_but_clearing_is_fine() {
        assert!(check_dead_letter(None).is_ok());
        assert!(check_dead_letter(Some("")).is_ok());
        let e = check_dead_letter(Some("arn:aws:sqs:us-east-1:123456789012:dlq")).unwrap_err();
        assert!(matches!(e, LambdaError::InvalidParameter(_)));
        assert!(e.to_string().contains("does not have SQS or SNS"), "{e}");
        let e = check_dead_letter(Some("not-an-arn")).unwrap_err();
        assert!(matches!(e, LambdaError::Validation(_)));
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["us-east", "useast-1", "us-east-10", "US-east-1"] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    mod with_store {
        use super::super::super::tests::{named, spec, world, zip, World, ACCOUNT};
        use super::super::*;
        use crate::lambda::{AliasSpec, Outcome, PublishRequest};

        const DEST: &str = "arn:aws:lambda:us-east-1:123456789012:function:dest";

        fn ready(w: &World, name: &str) {
            let created = w
                .lambda
                .create(
                    &w.scope,
                    spec(name, &zip("bootstrap", name.as_bytes())),
                    "r",
                )
                .unwrap();
            w.lambda
                .finish(&created.job.unwrap(), &Outcome::Ready)
                .unwrap();
        }

        fn allow_invoke(w: &World) {
            w.lambda
                .store
                .write(|tx| {
                    crate::iam::put_role_policy(
                        tx,
                        ACCOUNT,
                        "exec",
                        "invoke",
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}"#.into(),
                    )
                })
                .unwrap();
        }

        fn on_failure(arn: &str) -> EventConfigChange {
            EventConfigChange {
                destinations: Some(DestinationsChange {
                    on_success: None,
                    on_failure: Some(Some(arn.into())),
                }),
                ..EventConfigChange::default()
            }
        }

        #[test]
        fn put_replaces_update_merges_and_delete_goes_with_the_function() {
            let w = world();
            ready(&w, "f");
            ready(&w, "dest");
            allow_invoke(&w);
            let l = &w.lambda;
            let put = l
                .put_event_invoke_config(
                    &w.scope,
                    &named("f"),
                    EventConfigChange {
                        maximum_retry_attempts: Some(0),
                        ..on_failure(DEST)
                    },
                )
                .unwrap();
            assert_eq!(put.qualifier, "$LATEST");
            assert_eq!(
                put.arn(&w.scope),
                format!("{}:$LATEST", DEST.replace("dest", "f"))
            );
            assert_eq!(put.on_failure.as_deref(), Some(DEST));
            let updated = l
                .update_event_invoke_config(
                    &w.scope,
                    &named("f"),
                    EventConfigChange {
                        maximum_event_age_secs: Some(60),
                        ..EventConfigChange::default()
                    },
                )
                .unwrap();
            assert_eq!(updated.maximum_retry_attempts, Some(0));
            assert_eq!(updated.maximum_event_age_secs, Some(60));
            assert_eq!(updated.on_failure.as_deref(), Some(DEST));
            let policy = l.event_policy(&w.scope, &named("f")).unwrap();
            assert_eq!(
                policy,
                EventPolicy {
                    maximum_retry_attempts: 0,
                    maximum_event_age_secs: 60,
                    on_success: None,
                    on_failure: Some(DEST.into()),
                }
            );
            // Put replaces: what it leaves out is back to the defaults.
            let replaced = l
                .put_event_invoke_config(
                    &w.scope,
                    &named("f"),
                    EventConfigChange {
                        maximum_event_age_secs: Some(120),
                        ..EventConfigChange::default()
                    },
                )
                .unwrap();
            assert_eq!(replaced.maximum_retry_attempts, None);
            assert_eq!(replaced.on_failure, None);
            assert_eq!(
                l.event_policy(&w.scope, &named("f"))
                    .unwrap()
                    .maximum_retry_attempts,
                DEFAULT_RETRY_ATTEMPTS
            );
            assert_eq!(
                l.event_policy(&w.scope, &named("dest")).unwrap(),
                EventPolicy::default()
            );
            l.delete(&w.scope, &named("f")).unwrap();
            ready(&w, "f");
            let e = l
                .get_event_invoke_config(&w.scope, &named("f"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "The function arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST doesn't have an EventInvokeConfig"
            );
        }

        #[test]
        fn qualifiers_have_their_own_settings_and_leave_with_them() {
            let w = world();
            ready(&w, "f");
            let l = &w.lambda;
            l.publish(&w.scope, &named("f"), PublishRequest::default())
                .unwrap();
            l.create_alias(
                &w.scope,
                &named("f"),
                AliasSpec {
                    name: "live".into(),
                    function_version: Some("1".into()),
                    ..AliasSpec::default()
                },
            )
            .unwrap();
            let q = |q: &str| FunctionRef {
                name: "f".into(),
                qualifier: Some(q.into()),
            };
            let retries = |n| EventConfigChange {
                maximum_retry_attempts: Some(n),
                ..EventConfigChange::default()
            };
            for (fref, n) in [(named("f"), 0), (q("1"), 1), (q("live"), 2)] {
                l.put_event_invoke_config(&w.scope, &fref, retries(n))
                    .unwrap();
            }
            let e = l
                .put_event_invoke_config(&w.scope, &q("7"), retries(1))
                .unwrap_err();
            assert_eq!(e.to_string(), "The function doesn't exist.");
            let page = l
                .list_event_invoke_configs(&w.scope, &named("f"), None, Some(2))
                .unwrap();
            assert_eq!(page.items.len(), 2);
            let rest = l
                .list_event_invoke_configs(&w.scope, &named("f"), page.next_marker.as_deref(), None)
                .unwrap();
            assert!(rest.next_marker.is_none());
            let mut all: Vec<String> = page
                .items
                .into_iter()
                .chain(rest.items)
                .map(|c| c.qualifier)
                .collect();
            all.sort();
            assert_eq!(all, ["$LATEST", "1", "live"]);
            assert_eq!(
                l.event_policy(&w.scope, &q("live"))
                    .unwrap()
                    .maximum_retry_attempts,
                2
            );
            l.delete_alias(&w.scope, &named("f"), "live").unwrap();
            assert!(l.get_event_invoke_config(&w.scope, &q("live")).is_err());
            l.delete(&w.scope, &q("1")).unwrap();
            assert!(l.get_event_invoke_config(&w.scope, &q("1")).is_err());
            assert!(l.get_event_invoke_config(&w.scope, &named("f")).is_ok());
            l.delete_event_invoke_config(&w.scope, &named("f")).unwrap();
            assert!(l.delete_event_invoke_config(&w.scope, &named("f")).is_err());
            let e = l
                .update_event_invoke_config(&w.scope, &named("f"), retries(1))
                .unwrap_err();
            assert!(matches!(e, LambdaError::ResourceNotFound(_)), "{e}");
        }

        #[test]
        fn destinations_are_checked() {
            let w = world();
            ready(&w, "f");
            let l = &w.lambda;
            let put = |arn: &str| {
                l.put_event_invoke_config(&w.scope, &named("f"), on_failure(arn))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            assert_eq!(
                put(DEST).unwrap_err(),
                format!("The destination ARN {DEST} is invalid.")
            );
            ready(&w, "dest");
            assert_eq!(
                put(DEST).unwrap_err(),
                format!("The function execution role does not have permissions to call InvokeFunction on {DEST}")
            );
            allow_invoke(&w);
            put(DEST).unwrap();
            put(&format!("{DEST}:$LATEST")).unwrap();
            assert_eq!(
                put(&DEST.replace("dest", "f")).unwrap_err(),
                "You can't specify the function as a destination for itself."
            );
            assert!(put("arn:aws:lambda:us-east-1:210987654321:function:dest")
                .unwrap_err()
                .ends_with("is invalid."));
            let sqs = put("arn:aws:sqs:us-east-1:123456789012:q").unwrap_err();
            assert!(
                sqs.contains("Amazon SQS queue") && sqs.contains("does not have Amazon SQS"),
                "{sqs}"
            );
            assert!(put("arn:aws:sns:us-east-1:123456789012:t")
                .unwrap_err()
                .contains("Amazon SNS"));
            assert!(
                put("arn:aws:events:us-east-1:123456789012:event-bus/default")
                    .unwrap_err()
                    .contains("EventBridge")
            );
            assert!(put("arn:aws:s3:::bucket")
                .unwrap_err()
                .contains("Amazon S3"));
            // A refused destination leaves the stored settings alone.
            let kept = l.get_event_invoke_config(&w.scope, &named("f")).unwrap();
            assert_eq!(
                kept.on_failure.as_deref(),
                Some(&*format!("{DEST}:$LATEST"))
            );
            assert_eq!(
                l.delivery_target(&w.scope, &named("f"), DEST).unwrap(),
                named("dest")
            );
            l.delete(&w.scope, &named("dest")).unwrap();
            assert!(l.delivery_target(&w.scope, &named("f"), DEST).is_err());
        }
    }
}
