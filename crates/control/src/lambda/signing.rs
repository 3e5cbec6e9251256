//! Code signing configurations and the check every code deployment passes through.
//!
//! There is no AWS Signer here, so no package is ever signed: a deployment to a function
//! with a configuration whose `UntrustedArtifactOnDeployment` is `Enforce` is refused with
//! Lambda's `CodeVerificationFailedException` before anything is stored, and one with `Warn`
//! goes ahead and leaves a warning line in the function's log group, in the transaction that
//! stores the deployment. Which configuration a function uses is a record of its own
//! (`lambda.function-csc`), removed with the function.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::LambdaError;
use super::functions::{load_function, paginate, Lambda, Page};
use super::model::timestamp_now;
use super::names::{function_arn, is_partition, is_region, FunctionRef};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// Store kinds of this module.
pub mod kind {
    /// One per configuration, id = `csc-…`.
    pub const CONFIG: &str = "lambda.csc";
    /// One per function that has a configuration, id = function name, body = the config id.
    pub const FUNCTION_CONFIG: &str = "lambda.function-csc";
}

const ARN_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:code-signing-config:csc-[a-z0-9]{17}";
const PROFILE_ARN_PATTERN: &str =
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
const MAX_PUBLISHERS: usize = 20;
const DEFAULT_PAGE: usize = 50;

/// What happens to a deployment whose package is not signed by an allowed publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UntrustedArtifact {
    Warn,
    Enforce,
}

impl UntrustedArtifact {
    pub fn as_str(self) -> &'static str {
        match self {
            UntrustedArtifact::Warn => "Warn",
            UntrustedArtifact::Enforce => "Enforce",
        }
    }
}

/// A code signing configuration as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSigningConfig {
    /// `csc-` and 17 hex digits.
    pub id: String,
    pub description: String,
    pub signing_profile_version_arns: Vec<String>,
    pub untrusted_artifact: UntrustedArtifact,
    pub last_modified: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl CodeSigningConfig {
    pub fn arn(&self, scope: &Scope) -> String {
        config_arn(scope, &self.id)
    }
}

/// CreateCodeSigningConfig's and UpdateCodeSigningConfig's input; `None` leaves a member
/// as it is on update (AllowedPublishers is required on create).
#[derive(Clone, Debug, Default)]
pub struct SigningSpec {
    pub description: Option<String>,
    /// `Some(None)`: the AllowedPublishers member without its list.
    pub signing_profile_version_arns: Option<Option<Vec<String>>>,
    /// `Some(None)`: the CodeSigningPolicies member without its policy.
    pub untrusted_artifact: Option<Option<String>>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// `arn:aws:lambda:<region>:<account>:code-signing-config:<id>`.
pub fn config_arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:code-signing-config:{id}",
        scope.region, scope.account
    )
}

/// The configuration id a configuration ARN names, if the ARN has the model's shape;
/// otherwise the ValidationException for `member`.
pub(crate) fn parse_arn(arn: &str, member: &str) -> Result<ParsedArn, LambdaError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let parsed = match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "code-signing-config", id]
            if (partition.is_empty() || is_partition(partition))
                && is_region(region)
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && is_config_id(id) =>
        {
            Some(ParsedArn {
                region: region.to_string(),
                account: account.to_string(),
                id: id.to_string(),
            })
        }
        _ => None,
    };
    match parsed {
        Some(p) if arn.len() <= 200 => Ok(p),
        Some(_) => Err(LambdaError::Validation(vec![LambdaError::violation(
            arn,
            member,
            "Member must have length less than or equal to 200",
        )])),
        None => Err(LambdaError::Validation(vec![LambdaError::violation(
            arn,
            member,
            &format!("Member must satisfy regular expression pattern: {ARN_PATTERN}"),
        )])),
    }
}

/// The parts of a configuration ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedArn {
    pub region: String,
    pub account: String,
    pub id: String,
}

impl ParsedArn {
    /// The id, if the ARN is of the caller's own account and region: configurations of
    /// others are not found, as they are on Lambda.
    fn id_in(&self, scope: &Scope) -> Option<&str> {
        (self.region == scope.region && self.account == scope.account).then_some(&self.id)
    }
}

fn is_config_id(id: &str) -> bool {
    id.strip_prefix("csc-").is_some_and(|hex| {
        hex.len() == 17
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

fn new_config_id() -> String {
    let hex: String = (0..17)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!("csc-{hex}")
}

fn not_found(arn: &str) -> LambdaError {
    LambdaError::ResourceNotFound(format!(
        "The Lambda code signing configuration {arn} can not be found."
    ))
}

/// Loads the configuration an ARN names, or Lambda's not-found answer for it.
fn load_config(
    tx: &mut dyn Tx,
    scope: &Scope,
    arn: &str,
    parsed: &ParsedArn,
) -> Result<CodeSigningConfig, LambdaError> {
    let Some(id) = parsed.id_in(scope) else {
        return Err(not_found(arn));
    };
    tx.get_json(kind::CONFIG, scope, id)?
        .ok_or_else(|| not_found(arn))
}

fn check_spec(spec: &SigningSpec, create: bool) -> Result<(), LambdaError> {
    let mut v = Violations::default();
    if let Some(d) = &spec.description {
        v.description(d, "description");
    }
    match &spec.signing_profile_version_arns {
        None if create => v.null("allowedPublishers"),
        None => {}
        Some(None) => v.null("allowedPublishers.signingProfileVersionArns"),
        Some(Some(arns)) => {
            let member = "allowedPublishers.signingProfileVersionArns";
            if arns.is_empty() {
                v.push(
                    "[]",
                    member,
                    "Member must have length greater than or equal to 1",
                );
            } else if arns.len() > MAX_PUBLISHERS {
                v.push(
                    format!("[{}]", arns.join(", ")),
                    member,
                    &format!("Member must have length less than or equal to {MAX_PUBLISHERS}"),
                );
            }
            if arns.iter().any(|a| !is_profile_arn(a)) {
                v.push(
                    format!("[{}]", arns.join(", ")),
                    member,
                    &format!(
                        "Member must satisfy constraint: [Member must satisfy regular expression pattern: {PROFILE_ARN_PATTERN}]"
                    ),
                );
            }
        }
    }
    if let Some(Some(policy)) = &spec.untrusted_artifact {
        if policy_of(policy).is_none() {
            v.push(
                policy,
                "codeSigningPolicies.untrustedArtifactOnDeployment",
                "Member must satisfy enum value set: [Enforce, Warn]",
            );
        }
    }
    v.finish()?;
    if let Some(tags) = &spec.tags {
        super::account::check_tags(tags)?;
    }
    Ok(())
}

fn policy_of(policy: &str) -> Option<UntrustedArtifact> {
    match policy {
        "Warn" => Some(UntrustedArtifact::Warn),
        "Enforce" => Some(UntrustedArtifact::Enforce),
        _ => None,
    }
}

/// `arn:<partition>:<service>:<region>?:<account>?:<resource>`, the model's `Arn`.
fn is_profile_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, _resource] = parts.as_slice() else {
        return false;
    };
    *arn_ == "arn"
        && partition.starts_with("aws")
        && partition[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (region.is_empty() || is_region(region))
        && (account.is_empty()
            || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
}

/// The configuration a deployment of `name` is checked against, if any.
pub(crate) enum Deploy<'a> {
    /// CreateFunction, with the configuration ARN its request named.
    Create(Option<&'a ParsedArn>, Option<&'a str>),
    /// UpdateFunctionCode: the configuration the function has.
    Update,
}

/// Checks a deployment of unsigned code to `name`: refused under `Enforce`; under `Warn`
/// the configuration is returned, for [`record_deploy`].
pub(crate) fn check_deploy(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    deploy: Deploy<'_>,
) -> Result<Option<CodeSigningConfig>, LambdaError> {
    let config = match deploy {
        Deploy::Create(None, _) | Deploy::Create(_, None) => None,
        Deploy::Create(Some(parsed), Some(arn)) => {
            let found = match parsed.id_in(scope) {
                Some(id) => tx.get_json::<CodeSigningConfig>(kind::CONFIG, scope, id)?,
                None => None,
            };
            Some(found.ok_or_else(|| LambdaError::CodeSigningConfigNotFound {
                arn: arn.to_string(),
            })?)
        }
        Deploy::Update => match tx.get_json::<String>(kind::FUNCTION_CONFIG, scope, name)? {
            Some(id) => tx.get_json::<CodeSigningConfig>(kind::CONFIG, scope, &id)?,
            None => None,
        },
    };
    match config {
        Some(c) if c.untrusted_artifact == UntrustedArtifact::Enforce => {
            Err(LambdaError::CodeVerificationFailed(format!(
                "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept. Check the provided signature for {name}."
            )))
        }
        other => Ok(other),
    }
}

/// Inside the deployment's transaction: attaches the configuration on create, and writes
/// the warning for the unsigned package into the function's log group.
pub(crate) fn record_deploy(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    config: &CodeSigningConfig,
    attach: bool,
) -> Result<(), LambdaError> {
    if attach {
        tx.put_json(kind::FUNCTION_CONFIG, scope, name, &config.id)?;
    }
    let now = chrono::Utc::now();
    let ms = now.timestamp_millis();
    let stream = format!("{}/[$LATEST]code-signing", now.format("%Y/%m/%d"));
    let line = format!(
        "WARNING: code signature validation failed for the deployment of {}: the package is not signed by any of the allowed publishers of code signing configuration {} (no package is signed here: there is no AWS Signer). The deployment went ahead because the configuration's UntrustedArtifactOnDeployment policy is Warn.",
        function_arn(scope, name, None),
        config.arn(scope)
    );
    crate::logs::append_lines(
        tx,
        scope,
        &format!("/aws/lambda/{name}"),
        &stream,
        &[(ms, line)],
        ms,
    )?;
    Ok(())
}

/// TagResource and UntagResource of a configuration: `change` edits its tags.
pub(crate) fn change_tags(
    tx: &mut dyn Tx,
    scope: &Scope,
    arn: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), LambdaError>,
) -> Result<(), LambdaError> {
    let parsed = parse_arn(arn, "resource")?;
    let mut config = load_config(tx, scope, arn, &parsed)?;
    change(&mut config.tags)?;
    tx.put_json(kind::CONFIG, scope, &config.id, &config)?;
    Ok(())
}

/// ListTags of a configuration.
pub(crate) fn tags(
    tx: &mut dyn Tx,
    scope: &Scope,
    arn: &str,
) -> Result<BTreeMap<String, String>, LambdaError> {
    let parsed = parse_arn(arn, "resource")?;
    Ok(load_config(tx, scope, arn, &parsed)?.tags)
}

/// Inside DeleteFunction's transaction.
pub(crate) fn forget_function(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
) -> Result<(), LambdaError> {
    tx.delete(kind::FUNCTION_CONFIG, scope, name)?;
    Ok(())
}

/// The names of the functions that use configuration `id`, in name order.
fn users(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<Vec<String>, LambdaError> {
    let mut names = Vec::new();
    for (name, body) in tx.list(kind::FUNCTION_CONFIG, scope, "")? {
        if serde_json::from_slice::<String>(&body).is_ok_and(|c| c == id) {
            names.push(name);
        }
    }
    Ok(names)
}

fn page_size(max_items: Option<i64>) -> Result<usize, LambdaError> {
    let Some(n) = max_items else {
        return Ok(DEFAULT_PAGE);
    };
    let mut v = Violations::default();
    let n = v.range(n, "maxItems", 1, Some(10_000));
    v.finish()?;
    Ok(n.map_or(DEFAULT_PAGE, |n| n as usize))
}

impl Lambda {
    /// CreateCodeSigningConfig.
    pub fn create_signing_config(
        &self,
        scope: &Scope,
        spec: SigningSpec,
    ) -> Result<CodeSigningConfig, LambdaError> {
        check_spec(&spec, true)?;
        let config = CodeSigningConfig {
            id: new_config_id(),
            description: spec.description.unwrap_or_default(),
            signing_profile_version_arns: spec
                .signing_profile_version_arns
                .flatten()
                .unwrap_or_default(),
            untrusted_artifact: spec
                .untrusted_artifact
                .flatten()
                .and_then(|p| policy_of(&p))
                .unwrap_or(UntrustedArtifact::Warn),
            last_modified: timestamp_now(),
            tags: spec.tags.unwrap_or_default(),
        };
        self.store.write(|tx| {
            tx.put_json(kind::CONFIG, scope, &config.id, &config)?;
            Ok(config.clone())
        })
    }

    /// GetCodeSigningConfig.
    pub fn signing_config(
        &self,
        scope: &Scope,
        arn: &str,
    ) -> Result<CodeSigningConfig, LambdaError> {
        let parsed = parse_arn(arn, "codeSigningConfigArn")?;
        self.store.read(|tx| load_config(tx, scope, arn, &parsed))
    }

    /// UpdateCodeSigningConfig: members the request leaves out stay as they are.
    pub fn update_signing_config(
        &self,
        scope: &Scope,
        arn: &str,
        spec: SigningSpec,
    ) -> Result<CodeSigningConfig, LambdaError> {
        let parsed = parse_arn(arn, "codeSigningConfigArn")?;
        check_spec(&spec, false)?;
        self.store.write(|tx| {
            let mut config = load_config(tx, scope, arn, &parsed)?;
            if let Some(d) = spec.description {
                config.description = d;
            }
            if let Some(Some(arns)) = spec.signing_profile_version_arns {
                config.signing_profile_version_arns = arns;
            }
            if let Some(Some(policy)) = spec.untrusted_artifact.as_ref().map(|p| p.as_deref()) {
                if let Some(p) = policy_of(policy) {
                    config.untrusted_artifact = p;
                }
            }
            config.last_modified = timestamp_now();
            tx.put_json(kind::CONFIG, scope, &config.id, &config)?;
            Ok(config)
        })
    }

    /// DeleteCodeSigningConfig: refused while a function uses the configuration.
    pub fn delete_signing_config(&self, scope: &Scope, arn: &str) -> Result<(), LambdaError> {
        let parsed = parse_arn(arn, "codeSigningConfigArn")?;
        self.store.write(|tx| {
            let config = load_config(tx, scope, arn, &parsed)?;
            if !users(tx, scope, &config.id)?.is_empty() {
                return Err(LambdaError::conflict(format!(
                    "The code signing configuration {arn} cannot be deleted because it is used by one or more functions. Remove it from the functions with DeleteFunctionCodeSigningConfig first."
                )));
            }
            tx.delete(kind::CONFIG, scope, &config.id)?;
            Ok(())
        })
    }

    /// ListCodeSigningConfigs, in id order.
    pub fn list_signing_configs(
        &self,
        scope: &Scope,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<CodeSigningConfig>, LambdaError> {
        let max = page_size(max_items)?;
        let items = self.store.read(|tx| {
            Ok::<_, LambdaError>(
                tx.list_json::<CodeSigningConfig>(kind::CONFIG, scope, "")?
                    .into_iter()
                    .map(|c| ((c.id.clone(), 0), c))
                    .collect(),
            )
        })?;
        paginate(items, marker, max)
    }

    /// ListFunctionsByCodeSigningConfig: the unqualified ARNs of the functions using it.
    pub fn functions_by_signing_config(
        &self,
        scope: &Scope,
        arn: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<String>, LambdaError> {
        let parsed = parse_arn(arn, "codeSigningConfigArn")?;
        let max = page_size(max_items)?;
        let items = self.store.read(|tx| {
            let config = load_config(tx, scope, arn, &parsed)?;
            Ok::<_, LambdaError>(
                users(tx, scope, &config.id)?
                    .into_iter()
                    .map(|name| ((name.clone(), 0), function_arn(scope, &name, None)))
                    .collect(),
            )
        })?;
        paginate(items, marker, max)
    }

    /// PutFunctionCodeSigningConfig: takes effect at the function's next deployment.
    pub fn put_function_signing_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        arn: &str,
    ) -> Result<String, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let parsed = parse_arn(arn, "codeSigningConfigArn")?;
        self.store.write(|tx| {
            let found = match parsed.id_in(scope) {
                Some(id) => tx.get_json::<CodeSigningConfig>(kind::CONFIG, scope, id)?,
                None => None,
            };
            let config = found.ok_or_else(|| LambdaError::CodeSigningConfigNotFound {
                arn: arn.to_string(),
            })?;
            load_function(tx, scope, &name)?;
            tx.put_json(kind::FUNCTION_CONFIG, scope, &name, &config.id)?;
            Ok(name.clone())
        })
    }

    /// GetFunctionCodeSigningConfig: the ARN, or an empty one for a function without a
    /// configuration (as Lambda answers, and what Terraform's refresh expects).
    pub fn function_signing_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<(String, String), LambdaError> {
        let name = fref.unqualified()?.to_string();
        self.store.read(|tx| {
            load_function(tx, scope, &name)?;
            let arn = tx
                .get_json::<String>(kind::FUNCTION_CONFIG, scope, &name)?
                .map(|id| config_arn(scope, &id))
                .unwrap_or_default();
            Ok((name.clone(), arn))
        })
    }

    /// DeleteFunctionCodeSigningConfig.
    pub fn delete_function_signing_config(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<(), LambdaError> {
        let name = fref.unqualified()?.to_string();
        self.store.write(|tx| {
            load_function(tx, scope, &name)?;
            forget_function(tx, scope, &name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_ids() {
        let scope = Scope::new("123456789012", "us-east-1");
        let id = new_config_id();
        assert!(is_config_id(&id), "{id}");
        let arn = config_arn(&scope, &id);
        let parsed = parse_arn(&arn, "codeSigningConfigArn").unwrap();
        assert_eq!(parsed.id_in(&scope), Some(id.as_str()));
        let other = Scope::new("123456789012", "eu-west-1");
        assert_eq!(parsed.id_in(&other), None);
        let e = parse_arn("csc-1", "codeSigningConfigArn").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "1 validation error detected: Value 'csc-1' at 'codeSigningConfigArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:"
            ),
            "{e}"
        );
        assert!(parse_arn(
            "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789ABCDEF0",
            "codeSigningConfigArn"
        )
        .is_err());
    }

    #[test]
    fn profile_arns() {
        assert!(is_profile_arn(
            "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/abcdef"
        ));
        assert!(is_profile_arn("arn:aws:signer:::x"));
        assert!(!is_profile_arn("signer"));
        assert!(!is_profile_arn("arn:gcp:signer:::x"));
    }
}
