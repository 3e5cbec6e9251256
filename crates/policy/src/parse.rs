//! Parsing and validation of policy documents into [`Policy`]. Owns the policy grammar and the
//! `MalformedPolicyDocument` texts IAM returns for it, in the order IAM checks them. Must not
//! evaluate requests or check size quotas (see `size`), and keeps no copy of the source text.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::{parse_conditions, parse_date, Condition};
use crate::error::PolicyError;

pub(crate) const SYNTAX_ERRORS: &str = "Syntax errors in policy.";
const FAILED_LEGACY_PARSING: &str = "The policy failed legacy parsing";
pub(crate) const DUPLICATE_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
const SID_NOT_ALPHANUMERIC: &str = "Statement IDs (SID) must be alpha-numeric. \
     Check that your input satisfies the regular expression [0-9A-Za-z]*";
const MISSING_ACTIONS: &str = "Policy statement must contain actions.";
const MISSING_RESOURCES: &str = "Policy statement must contain resources.";
const PRINCIPAL_NOT_ALLOWED: &str = "Policy document should not specify a principal.";
const MISSING_VENDOR: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const ONE_COLON_ONLY: &str = "Actions/Condition can contain only one colon.";
const RESOURCE_VENDOR: &str = "Resource vendor must be fully qualified and cannot contain regexes.";
const IAM_PATH_PREFIXES: [&str; 13] = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];
const TRUST_INVALID_JSON: &str = "This policy contains invalid Json";
const TRUST_MISSING_EFFECT: &str = "Missing required field Effect";
const TRUST_MISSING_PRINCIPAL: &str = "Missing required field Principal";
const TRUST_MISSING_ACTION: &str = "Missing required field Action";
const TRUST_ONLY_STS: &str = "AssumeRole policy may only specify STS AssumeRole actions.";

/// Which grammar a document must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A managed or inline policy attached to a role: names actions and resources, never a
    /// principal.
    Identity,
    /// A role's assume-role (trust) policy: names principals and `sts:` actions, never
    /// resources.
    Trust,
    /// A resource-based policy (a Lambda function's): names principals, actions and
    /// resources. Evaluated with [`crate::evaluate_resource`].
    Resource,
}

/// The policy language version a document declares. A document without `Version` is
/// 2008-10-17, as IAM documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `"2008-10-17"`, or no `Version` element.
    V2008_10_17,
    /// `"2012-10-17"`.
    V2012_10_17,
}

/// A validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) version: PolicyVersion,
    pub(crate) statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// `Action`/`Resource` (positive) or `NotAction`/`NotResource` (negated) patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patterns {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<String>,
}

impl Patterns {
    /// Whether the element covers `value`: a positive list names it, a negated list does not.
    pub(crate) fn covers(&self, value: &str, matches: impl Fn(&str, &str) -> bool) -> bool {
        let named = self.patterns.iter().any(|p| matches(p, value));
        named != self.negated
    }
}

/// A trust statement's `Principal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// `"Principal": "*"`.
    Anyone,
    /// `"Principal": {"Service": [...], "AWS": [...], ...}`, keyed by type.
    Typed(Vec<(String, Vec<String>)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) principal: Option<Principal>,
    pub(crate) actions: Patterns,
    /// `None` in trust policies, which name no resources.
    pub(crate) resources: Option<Patterns>,
    pub(crate) conditions: Vec<Condition>,
}

impl Policy {
    /// Parses and validates `doc` as a policy of `kind`, returning IAM's
    /// `MalformedPolicyDocument` text for the first problem IAM would report.
    ///
    /// Size quotas depend on where the document goes and are checked separately with
    /// [`crate::check_managed_policy_size`], [`crate::check_trust_policy_size`] and
    /// [`crate::check_role_inline_policies_size`].
    pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        match kind {
            PolicyKind::Identity => parse_identity(doc),
            PolicyKind::Trust => parse_trust(doc),
            PolicyKind::Resource => crate::resource::parse_resource(doc),
        }
    }

    /// The language version the document declared.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }
}

pub(crate) fn malformed(message: &str) -> PolicyError {
    PolicyError::malformed(message)
}

/// What the syntax pass learns of one identity statement; later passes need the raw facts
/// (exact-case effect, empty lists) that a finished [`Statement`] no longer shows.
struct IdentityDraft {
    sid: Option<String>,
    effect: Effect,
    effect_exact_case: bool,
    actions: Option<Patterns>,
    resources: Option<Patterns>,
    conditions: Vec<Condition>,
}

fn parse_identity(doc: &str) -> Result<Policy, PolicyError> {
    let root: Value = serde_json::from_str(doc).map_err(|_| malformed(SYNTAX_ERRORS))?;
    let root = root.as_object().ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let version = top_level(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let objects = statement_objects(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let drafts = objects
        .iter()
        .map(|statement| identity_syntax(statement))
        .collect::<Result<Vec<_>, _>>()?;

    // IAM's "legacy parser" runs next: exact-case Effect, parseable dates, and ARN shapes.
    for draft in &drafts {
        let dates_ok = draft
            .conditions
            .iter()
            .filter(|c| c.operator.is_date())
            .flat_map(|c| c.entries.iter().flat_map(|(_, values)| values))
            .all(|value| parse_date(value).is_some());
        if !draft.effect_exact_case || !dates_ok {
            return Err(malformed(FAILED_LEGACY_PARSING));
        }
    }
    let resource_error = check_resource_formats(&drafts)?;

    let mut sids = HashSet::new();
    for sid in drafts.iter().filter_map(|d| d.sid.as_deref()) {
        if !sid.is_empty() && !sids.insert(sid) {
            return Err(malformed(DUPLICATE_SID));
        }
    }
    if sids
        .iter()
        .any(|sid| !sid.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(malformed(SID_NOT_ALPHANUMERIC));
    }
    if drafts
        .iter()
        .any(|d| d.actions.as_ref().is_none_or(|a| a.patterns.is_empty()))
    {
        return Err(malformed(MISSING_ACTIONS));
    }
    if drafts
        .iter()
        .any(|d| d.resources.as_ref().is_none_or(|r| r.patterns.is_empty()))
    {
        return Err(malformed(MISSING_RESOURCES));
    }
    if let Some(message) = resource_error {
        return Err(PolicyError::malformed(message));
    }
    // IAM checks every `Action` before any `NotAction`.
    for negated in [false, true] {
        for actions in drafts.iter().filter_map(|d| d.actions.as_ref()) {
            if actions.negated == negated {
                for action in &actions.patterns {
                    check_action_vendor(action)?;
                }
            }
        }
    }

    let statements = drafts
        .into_iter()
        .filter_map(|draft| {
            Some(Statement {
                effect: draft.effect,
                principal: None,
                actions: draft.actions?,
                resources: draft.resources,
                conditions: draft.conditions,
            })
        })
        .collect();
    Ok(Policy {
        version,
        statements,
    })
}

/// Checks the top-level keys and returns the declared version; `None` is a syntax error.
pub(crate) fn top_level(root: &Map<String, Value>) -> Option<PolicyVersion> {
    if root
        .keys()
        .any(|key| !matches!(key.as_str(), "Version" | "Id" | "Statement"))
    {
        return None;
    }
    if root.get("Id").is_some_and(|id| !id.is_string()) {
        return None;
    }
    match root.get("Version") {
        None => Some(PolicyVersion::V2008_10_17),
        Some(Value::String(v)) if v == "2008-10-17" => Some(PolicyVersion::V2008_10_17),
        Some(Value::String(v)) if v == "2012-10-17" => Some(PolicyVersion::V2012_10_17),
        Some(_) => None,
    }
}

/// `Statement` as a list of objects: a single object, or a non-empty array of objects.
pub(crate) fn statement_objects(root: &Map<String, Value>) -> Option<Vec<&Map<String, Value>>> {
    match root.get("Statement")? {
        Value::Object(statement) => Some(vec![statement]),
        Value::Array(items) if !items.is_empty() => items.iter().map(Value::as_object).collect(),
        _ => None,
    }
}

/// A string or a list of strings; `None` for anything else.
fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// Reads `positive` or `negated` (never both) as patterns. `Err` is a syntax error.
pub(crate) fn patterns(
    statement: &Map<String, Value>,
    positive: &str,
    negated: &str,
) -> Result<Option<Patterns>, ()> {
    let (value, negated) = match (statement.get(positive), statement.get(negated)) {
        (Some(_), Some(_)) => return Err(()),
        (Some(value), None) => (value, false),
        (None, Some(value)) => (value, true),
        (None, None) => return Ok(None),
    };
    string_list(value)
        .map(|patterns| Some(Patterns { negated, patterns }))
        .ok_or(())
}

fn identity_syntax(statement: &Map<String, Value>) -> Result<IdentityDraft, PolicyError> {
    let syntax = || malformed(SYNTAX_ERRORS);
    for key in statement.keys() {
        match key.as_str() {
            "Principal" | "NotPrincipal" => return Err(malformed(PRINCIPAL_NOT_ALLOWED)),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            _ => return Err(syntax()),
        }
    }
    let effect_text = statement
        .get("Effect")
        .and_then(Value::as_str)
        .ok_or_else(syntax)?;
    let effect = if effect_text.eq_ignore_ascii_case("allow") {
        Effect::Allow
    } else if effect_text.eq_ignore_ascii_case("deny") {
        Effect::Deny
    } else {
        return Err(syntax());
    };
    let actions = patterns(statement, "Action", "NotAction").map_err(|()| syntax())?;
    let resources = patterns(statement, "Resource", "NotResource").map_err(|()| syntax())?;
    let conditions = match statement.get("Condition") {
        Some(element) => parse_conditions(element).ok_or_else(syntax)?,
        None => Vec::new(),
    };
    let sid = match statement.get("Sid") {
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(syntax()),
        None => None,
    };
    Ok(IdentityDraft {
        sid,
        effect,
        effect_exact_case: matches!(effect_text, "Allow" | "Deny"),
        actions,
        resources,
        conditions,
    })
}

/// IAM's resource checks: a malformed ARN is remembered (the last one found wins, as in IAM)
/// and reported only after the SID/action/resource presence checks, while an ARN that only
/// the legacy parser rejects fails at once.
fn check_resource_formats(drafts: &[IdentityDraft]) -> Result<Option<String>, PolicyError> {
    let mut resource_error = None;
    for negated in [false, true] {
        for resources in drafts.iter().filter_map(|d| d.resources.as_ref()) {
            if resources.negated != negated {
                continue;
            }
            let mut sorted: Vec<&String> = resources.patterns.iter().collect();
            sorted.sort_by(|a, b| b.cmp(a));
            for resource in sorted {
                if let Some(message) = resource_format_error(resource) {
                    resource_error = Some(message);
                }
            }
            if resource_error.is_none() && !resources.patterns.iter().all(|r| passes_legacy_arn(r))
            {
                return Err(malformed(FAILED_LEGACY_PARSING));
            }
        }
    }
    Ok(resource_error)
}

fn resource_format_error(resource: &str) -> Option<String> {
    if resource == "*" {
        return None;
    }
    let Some((_, after_prefix)) = resource.split_once(':') else {
        return Some(format!(
            "Resource {resource} must be in ARN format or \"*\"."
        ));
    };
    let (partition, after_partition) = match after_prefix.split_once(':') {
        Some((partition, rest)) => (partition, Some(rest)),
        None => (after_prefix, None),
    };
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        let parts: Vec<&str> = after_partition.unwrap_or("").split(':').collect();
        let part = |i: usize| parts.get(i).copied().unwrap_or("*");
        let first = if parts.len() == 1 && parts[0].is_empty() {
            "*"
        } else {
            parts[0]
        };
        let rest = if parts.len() > 3 {
            parts[3..].join(":")
        } else {
            "*".to_owned()
        };
        return Some(format!(
            "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{first}:{}:{}:{rest}\".",
            part(1),
            part(2),
        ));
    }
    let Some(after_partition) = after_partition else {
        return Some(RESOURCE_VENDOR.to_owned());
    };
    let (service, after_service) = after_partition
        .split_once(':')
        .unwrap_or((after_partition, ""));
    if !after_service.starts_with(':') {
        match service {
            "iam" => {
                return Some(format!(
                    "IAM resource {resource} cannot contain region information."
                ))
            }
            "s3" => {
                return Some(format!(
                    "Resource {resource} can not contain region information."
                ))
            }
            _ => {}
        }
    }
    if service == "iam" {
        let path = after_service
            .split_once(':')
            .and_then(|(_, after_region)| after_region.split_once(':'))
            .map_or("", |(_, path)| path);
        if path != "*" && !IAM_PATH_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Some(format!(
                "IAM resource path must either be \"*\" or start with {}.",
                IAM_PATH_PREFIXES.join(", ")
            ));
        }
    }
    None
}

/// The legacy parser wants a non-empty service and no `::` in an ARN of fewer than six parts.
fn passes_legacy_arn(resource: &str) -> bool {
    if resource == "*" {
        return true;
    }
    let colons = resource.matches(':').count();
    let service_present = resource.split(':').nth(2).is_some_and(|s| !s.is_empty());
    (colons >= 5 || !resource.contains("::")) && service_present
}

fn check_action_vendor(action: &str) -> Result<(), PolicyError> {
    let parts: Vec<&str> = action.split(':').collect();
    if parts.len() == 1 && parts[0] != "*" {
        return Err(malformed(MISSING_VENDOR));
    }
    if parts.len() > 2 {
        return Err(malformed(ONE_COLON_ONLY));
    }
    let vendor = parts[0];
    let vendor_ok = vendor
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if vendor != "*" && !vendor_ok {
        return Err(PolicyError::malformed(format!(
            "Vendor {vendor} is not valid"
        )));
    }
    Ok(())
}

fn parse_trust(doc: &str) -> Result<Policy, PolicyError> {
    let root: Value = serde_json::from_str(doc).map_err(|_| malformed(TRUST_INVALID_JSON))?;
    let root = root.as_object().ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let version = top_level(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let objects = statement_objects(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let mut sids = HashSet::new();
    let mut statements = Vec::with_capacity(objects.len());
    for statement in objects {
        if let Some(sid) = statement.get("Sid") {
            let sid = sid.as_str().ok_or_else(|| malformed(SYNTAX_ERRORS))?;
            if !sid.is_empty() && !sids.insert(sid) {
                return Err(malformed(DUPLICATE_SID));
            }
        }
        statements.push(trust_statement(statement)?);
    }
    Ok(Policy {
        version,
        statements,
    })
}

fn trust_statement(statement: &Map<String, Value>) -> Result<Statement, PolicyError> {
    let syntax = || malformed(SYNTAX_ERRORS);
    for key in statement.keys() {
        match key.as_str() {
            "Resource" => return Err(malformed("Has prohibited field Resource")),
            "NotResource" => return Err(malformed("Has prohibited field NotResource")),
            "NotPrincipal" => return Err(malformed("Has prohibited field NotPrincipal")),
            "Sid" | "Effect" | "Principal" | "Action" | "NotAction" | "Condition" => {}
            _ => return Err(syntax()),
        }
    }
    let effect = match statement.get("Effect") {
        None => return Err(malformed(TRUST_MISSING_EFFECT)),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err(syntax()),
    };
    let principal = match statement.get("Principal") {
        None => return Err(malformed(TRUST_MISSING_PRINCIPAL)),
        Some(value) => trust_principal(value)?,
    };
    let actions = patterns(statement, "Action", "NotAction")
        .map_err(|()| syntax())?
        .filter(|a| !a.patterns.is_empty())
        .ok_or_else(|| malformed(TRUST_MISSING_ACTION))?;
    let sts_only = actions
        .patterns
        .iter()
        .all(|a| a.len() > 4 && a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sts:")));
    if !sts_only {
        return Err(malformed(TRUST_ONLY_STS));
    }
    let conditions = match statement.get("Condition") {
        Some(element) => parse_conditions(element).ok_or_else(syntax)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principal: Some(principal),
        actions,
        resources: None,
        conditions,
    })
}

pub(crate) fn trust_principal(value: &Value) -> Result<Principal, PolicyError> {
    let typed = match value {
        Value::String(s) if s == "*" => return Ok(Principal::Anyone),
        Value::Object(typed) => typed,
        _ => return Err(malformed(SYNTAX_ERRORS)),
    };
    if typed.is_empty() {
        return Err(malformed(TRUST_MISSING_PRINCIPAL));
    }
    let mut entries = Vec::with_capacity(typed.len());
    for (kind, values) in typed {
        let values = string_list(values).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
        let valid: fn(&str) -> bool = match kind.as_str() {
            "AWS" => valid_aws_principal,
            "Service" => valid_service_principal,
            "Federated" | "CanonicalUser" => |v: &str| !v.trim().is_empty(),
            _ => {
                return Err(PolicyError::malformed(format!(
                    "Invalid principal in policy: \"{}\"",
                    kind.to_ascii_uppercase()
                )))
            }
        };
        if let Some(bad) = values.iter().find(|v| !valid(v)) {
            return Err(PolicyError::malformed(format!(
                "Invalid principal in policy: \"{}\":\"{bad}\"",
                kind.to_ascii_uppercase()
            )));
        }
        entries.push((kind.clone(), values));
    }
    Ok(Principal::Typed(entries))
}

/// `*`, a 12-digit account id, or an IAM/STS ARN. IAM also resolves ARNs to existing
/// principals, which needs the store and is left to the caller.
fn valid_aws_principal(value: &str) -> bool {
    let account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    if value == "*" || account(value) {
        return true;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[2], "iam" | "sts")
        && account(parts[4])
        && !parts[5].is_empty()
}

/// Service principals are DNS-like names such as `lambda.amazonaws.com`.
fn valid_service_principal(value: &str) -> bool {
    value.contains('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::{Policy, PolicyKind, PolicyVersion};
    use crate::PolicyError;
    use serde_json::json;

    fn identity_error(doc: &str) -> Option<String> {
        match Policy::parse(doc, PolicyKind::Identity) {
            Ok(_) => None,
            Err(PolicyError::MalformedPolicyDocument(m)) => Some(m),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn trust_error(doc: &str) -> Option<String> {
        match Policy::parse(doc, PolicyKind::Trust) {
            Ok(_) => None,
            Err(PolicyError::MalformedPolicyDocument(m)) => Some(m),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn allow(extra: serde_json::Value) -> String {
        let mut statement = json!({
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::example_bucket",
        });
        if let (Some(s), Some(e)) = (statement.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    s.remove(k);
                } else {
                    s.insert(k.clone(), v.clone());
                }
            }
        }
        json!({"Version": "2012-10-17", "Statement": statement}).to_string()
    }

    #[test]
    fn identity_errors_table() {
        let syntax = "Syntax errors in policy.";
        let legacy = "The policy failed legacy parsing";
        let vendor = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
        let cases: Vec<(String, Option<&str>)> = vec![
            ("This is not a json document".into(), Some(syntax)),
            ("[]".into(), Some(syntax)),
            (json!({"Version": "2012-10-17"}).to_string(), Some(syntax)),
            (json!({"Version": "2013-10-17", "Statement": {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}}).to_string(), Some(syntax)),
            (json!({"Version": "2012-10-17", "Statement": []}).to_string(), Some(syntax)),
            (json!({"Version": "2012-10-17", "Statement": ["afd"]}).to_string(), Some(syntax)),
            (json!({"Version": "2012-10-17", "Id": [], "Statement": {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}}).to_string(), Some(syntax)),
            (json!({"Version": "2012-10-17", "Extra": 1, "Statement": {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}}).to_string(), Some(syntax)),
            (allow(json!({"Extra field": "value"})), Some(syntax)),
            (allow(json!({"Effect": "invalid"})), Some(syntax)),
            (allow(json!({"Effect": null})), Some(syntax)),
            (allow(json!({"Resource": {"a": "b"}})), Some(syntax)),
            (allow(json!({"Resource": ["adfdf", {}]})), Some(syntax)),
            (allow(json!({"NotResource": []})), Some(syntax)),
            (allow(json!({"Action": [[]]})), Some(syntax)),
            (allow(json!({"NotAction": "s3:x"})), Some(syntax)),
            (allow(json!({"Condition": []})), Some(syntax)),
            (allow(json!({"Condition": {"x": {"a": "1"}}})), Some(syntax)),
            (allow(json!({"Condition": {"DateGreaterThan": {"a": {}}}})), Some(syntax)),
            (allow(json!({"Sid": {}})), Some(syntax)),
            (allow(json!({"Principal": "*"})), Some("Policy document should not specify a principal.")),
            (allow(json!({"NotPrincipal": {"AWS": "*"}})), Some("Policy document should not specify a principal.")),
            (allow(json!({"Effect": "denY"})), Some(legacy)),
            (allow(json!({"Condition": {"DateGreaterThan": {"a": "sdfdsf"}}})), Some(legacy)),
            (allow(json!({"Resource": "arn:aws:s3::example_bucket"})), Some(legacy)),
            (allow(json!({"Resource": "arn:aws::fdsasf"})), Some(legacy)),
            (allow(json!({"Action": "invalid"})), Some(vendor)),
            (allow(json!({"Action": null, "NotAction": ""})), Some(vendor)),
            (allow(json!({"Action": "a a:ListBucket"})), Some("Vendor a a is not valid")),
            (allow(json!({"Action": "s3:List:Bucket"})), Some("Actions/Condition can contain only one colon.")),
            (allow(json!({"Action": null})), Some("Policy statement must contain actions.")),
            (allow(json!({"Action": []})), Some("Policy statement must contain actions.")),
            (allow(json!({"Resource": null})), Some("Policy statement must contain resources.")),
            (allow(json!({"Resource": []})), Some("Policy statement must contain resources.")),
            (allow(json!({"Resource": "invalid resource"})), Some("Resource invalid resource must be in ARN format or \"*\".")),
            (allow(json!({"Resource": ""})), Some("Resource  must be in ARN format or \"*\".")),
            (allow(json!({"Resource": "a:bsdfdsafsad"})), Some("Partition \"bsdfdsafsad\" is not valid for resource \"arn:bsdfdsafsad:*:*:*:*\".")),
            (allow(json!({"Resource": "a:b:cadfsdf"})), Some("Partition \"b\" is not valid for resource \"arn:b:cadfsdf:*:*:*\".")),
            (allow(json!({"Resource": "a:b:c:d:e:f:g:h"})), Some("Partition \"b\" is not valid for resource \"arn:b:c:d:e:f:g:h\".")),
            (allow(json!({"Resource": "aws:s3:::example_bucket"})), Some("Partition \"s3\" is not valid for resource \"arn:s3:::example_bucket:*\".")),
            (allow(json!({"Resource": ["arn:error:s3:::example_bucket", "arn:error:s3::example_bucket"]})), Some("Partition \"error\" is not valid for resource \"arn:error:s3:::example_bucket\".")),
            (allow(json!({"Resource": "arn:aws"})), Some("Resource vendor must be fully qualified and cannot contain regexes.")),
            (allow(json!({"Resource": "arn:aws:iam:us-east-1::example_bucket"})), Some("IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information.")),
            (allow(json!({"Resource": "arn:aws:s3:us-east-1::example_bucket"})), Some("Resource arn:aws:s3:us-east-1::example_bucket can not contain region information.")),
            (allow(json!({"Resource": "arn:aws:iam:::example_bucket"})), Some("IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.")),
            (allow(json!({"Sid": "has-dash"})), Some("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")),
            (json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "sdf", "Effect": "Allow", "Action": "s3:x", "Resource": "*"},
                {"Sid": "sdf", "Effect": "Allow"}]}).to_string(),
             Some("Statement IDs (SID) in a single policy must be unique.")),
            (json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny"},
                {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}]}).to_string(),
             Some("Policy statement must contain actions.")),
            // Accepted documents.
            (allow(json!({})), None),
            (allow(json!({"Action": "*", "Resource": "*"})), None),
            (allow(json!({"Action": "iam: asdf safdsf af "})), None),
            (allow(json!({"Action": "EC2:*NetworkInterface*", "Effect": "Deny"})), None),
            (allow(json!({"Resource": ["arn:aws:s3:::example_bucket", "*"]})), None),
            (allow(json!({"Resource": "arn:aws:iam:::user/example_bucket"})), None),
            (allow(json!({"Resource": "arn:aws:fdsasf"})), None),
            (allow(json!({"Resource": "arn:aws:ec2:us-east-1::example_bucket"})), None),
            (allow(json!({"NotResource": "arn:aws:ec2:*:*:subnet/*", "Resource": null})), None),
            (allow(json!({"Condition": {}})), None),
            (allow(json!({"Condition": {"a": {}}})), None),
            (allow(json!({"Condition": {"DateGreaterThan": {"a": []}}})), None),
            (allow(json!({"Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "Department"}}})), None),
            (allow(json!({"Condition": {"Bool": {"aws:SecureTransport": false}, "NumericLessThan": {"s3:max-keys": 10}}})), None),
            (allow(json!({"Condition": {"DateGreaterThan": {"aws:CurrentTime": "2017-07-01T00:00:00Z"}}})), None),
            (allow(json!({"Sid": "AWSLambdaVPCAccessExecutionPermissions"})), None),
            (allow(json!({"Sid": ""})), None),
            (json!({"Statement": {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}}).to_string(), None),
            (json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:x"], "Resource": "*"}]}).to_string(), None),
        ];
        for (doc, want) in cases {
            assert_eq!(identity_error(&doc).as_deref(), want, "{doc}");
        }
    }

    #[test]
    fn trust_errors_table() {
        let lambda = json!({"Service": "lambda.amazonaws.com"});
        let with = |extra: serde_json::Value| {
            let mut statement =
                json!({"Effect": "Allow", "Principal": lambda, "Action": "sts:AssumeRole"});
            if let (Some(s), Some(e)) = (statement.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    if v.is_null() {
                        s.remove(k);
                    } else {
                        s.insert(k.clone(), v.clone());
                    }
                }
            }
            json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
        };
        let cases: Vec<(String, Option<&str>)> = vec![
            ("{nope".into(), Some("This policy contains invalid Json")),
            (json!({"Version": "2012-10-17", "Statement": []}).to_string(), Some("Syntax errors in policy.")),
            (with(json!({"Principal": null})), Some("Missing required field Principal")),
            (with(json!({"Principal": {}})), Some("Missing required field Principal")),
            (with(json!({"Effect": null})), Some("Missing required field Effect")),
            (with(json!({"Action": null})), Some("Missing required field Action")),
            (with(json!({"Action": []})), Some("Missing required field Action")),
            (with(json!({"Resource": "*"})), Some("Has prohibited field Resource")),
            (with(json!({"NotResource": "*"})), Some("Has prohibited field NotResource")),
            (with(json!({"NotPrincipal": {"AWS": "*"}})), Some("Has prohibited field NotPrincipal")),
            (with(json!({"Action": "*"})), Some("AssumeRole policy may only specify STS AssumeRole actions.")),
            (with(json!({"Action": "st\u{20ac}xx"})), Some("AssumeRole policy may only specify STS AssumeRole actions.")),
            (with(json!({"Action": ["sts:AssumeRole", "lambda:InvokeFunction"]})), Some("AssumeRole policy may only specify STS AssumeRole actions.")),
            (with(json!({"Principal": {"Service": "lambda.amazonaws.com junk"}})), Some("Invalid principal in policy: \"SERVICE\":\"lambda.amazonaws.com junk\"")),
            (with(json!({"Principal": {"AWS": "not-an-arn"}})), Some("Invalid principal in policy: \"AWS\":\"not-an-arn\"")),
            (with(json!({"Principal": {"Services": "lambda.amazonaws.com"}})), Some("Invalid principal in policy: \"SERVICES\"")),
            (with(json!({"Principal": "lambda.amazonaws.com"})), Some("Syntax errors in policy.")),
            (with(json!({"Effect": "Maybe"})), Some("Syntax errors in policy.")),
            (with(json!({"Bogus": 1})), Some("Syntax errors in policy.")),
            (with(json!({"Condition": {"Nope": {"a": "b"}}})), Some("Syntax errors in policy.")),
            (json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "a", "Effect": "Allow", "Principal": lambda, "Action": "sts:AssumeRole"},
                {"Sid": "a", "Effect": "Allow", "Principal": lambda, "Action": "sts:AssumeRole"}]}).to_string(),
             Some("Statement IDs (SID) in a single policy must be unique.")),
            // Accepted documents.
            (with(json!({})), None),
            (with(json!({"Sid": "any text is fine here"})), None),
            (with(json!({"Principal": "*"})), None),
            (with(json!({"Principal": {"AWS": ["*", "123456789012", "arn:aws:iam::123456789012:root"]}})), None),
            (with(json!({"Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity"})), None),
            (with(json!({"Action": ["sts:AssumeRole", "sts:TagSession"]})), None),
            (with(json!({"Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}})), None),
            (json!({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": lambda, "Action": "sts:AssumeRole"}}).to_string(), None),
        ];
        for (doc, want) in cases {
            assert_eq!(trust_error(&doc).as_deref(), want, "{doc}");
        }
    }

    #[test]
    fn version_is_reported() {
        let doc = |v: serde_json::Value| {
            let mut root =
                json!({"Statement": {"Effect": "Allow", "Action": "s3:x", "Resource": "*"}});
            if let (Some(r), false) = (root.as_object_mut(), v.is_null()) {
                r.insert("Version".into(), v);
            }
            Policy::parse(&root.to_string(), PolicyKind::Identity).map(|p| p.version())
        };
        assert_eq!(doc(json!("2012-10-17")), Ok(PolicyVersion::V2012_10_17));
        assert_eq!(doc(json!("2008-10-17")), Ok(PolicyVersion::V2008_10_17));
        assert_eq!(doc(serde_json::Value::Null), Ok(PolicyVersion::V2008_10_17));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_on_any_text(doc in "\\PC{0,200}") {
            let _ = Policy::parse(&doc, PolicyKind::Identity);
            let _ = Policy::parse(&doc, PolicyKind::Trust);
        }

        #[test]
        fn parse_never_panics_on_policy_shaped_documents(
            effect in "(Allow|Deny|allow|)",
            action in "\\PC{0,12}",
            resource in "[a-z0-9:*/?é€-]{0,24}",
            principal in "[a-z0-9.*:€-]{0,24}",
            operator in "(ForAnyValue:|ForAllValues:|)(StringLike|DateEquals|Null|IpAddress|Nope)(IfExists|)",
            value in "\\PC{0,16}",
        ) {
            let statement = json!({
                "Effect": effect,
                "Action": [action],
                "Resource": resource,
                "Condition": {operator: {"k:x": value}},
            });
            let identity = json!({"Version": "2012-10-17", "Statement": statement}).to_string();
            let _ = Policy::parse(&identity, PolicyKind::Identity);
            let trust = json!({"Statement": [{
                "Effect": effect,
                "Principal": {"Service": principal, "AWS": resource},
                "Action": action,
            }]})
            .to_string();
            let _ = Policy::parse(&trust, PolicyKind::Trust);
        }
    }

    #[test]
    fn principal_kind_is_enforced_both_ways() {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        .to_string();
        assert!(Policy::parse(&trust, PolicyKind::Trust).is_ok());
        assert_eq!(
            Policy::parse(&trust, PolicyKind::Identity),
            Err(PolicyError::MalformedPolicyDocument(
                "Policy document should not specify a principal.".into()
            ))
        );
    }
}
