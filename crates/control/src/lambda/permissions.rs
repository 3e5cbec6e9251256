//! Resource-based policies of functions, published versions and aliases — AddPermission,
//! RemovePermission, GetPolicy — and their enforcement ([`Lambda::authorize`]).
//!
//! A policy belongs to one function and qualifier: the unqualified function (`$LATEST`), a
//! version, or an alias, each its own record (`lambda.policy`, id `<function>` or
//! `<function>:<qualifier>`), removed with what it belongs to. Statements are kept as
//! AddPermission gave them and rendered the way Lambda renders them; every change bumps the
//! revision id of the version or alias the policy belongs to, which is the policy's
//! `RevisionId` too. Evaluation goes through the IAM policy language of the `policy` crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::LambdaError;
use super::functions::{load_function, load_version, not_found, version_key_of, Lambda};
use super::model::{children_prefix, kind, new_revision_id, Alias};
use super::names::{function_arn, is_version_number, LATEST};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// Store kind of a policy record.
const POLICY: &str = "lambda.policy";
/// The largest policy document Lambda keeps, in bytes of its JSON.
pub const POLICY_SIZE_LIMIT: usize = 20_480;

const STATEMENT_ID_PATTERN: &str = "([a-zA-Z0-9-_]+)";
const NAMESPACED_STATEMENT_ID_PATTERN: &str = "([a-zA-Z0-9-_.]+)";
const ACTION_PATTERN: &str = "(lambda:[*]|lambda:[a-zA-Z]+|[*])";
const PRINCIPAL_PATTERN: &str = r"[^\s]+";
const SOURCE_ARN_PATTERN: &str =
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
const SOURCE_ACCOUNT_PATTERN: &str = r"\d{12}";
const EVENT_SOURCE_TOKEN_PATTERN: &str = r"[a-zA-Z0-9._\-]+";
const ORG_ID_PATTERN: &str = "o-[a-z0-9]{10,32}";

/// AddPermission's input, as the request gave it.
#[derive(Clone, Debug, Default)]
pub struct PermissionSpec {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
    pub revision_id: Option<String>,
}

/// GetPolicy's answer: the document as a JSON string, and the revision it is at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionPolicy {
    pub document: String,
    pub revision_id: String,
}

/// Who makes a request, for a resource policy: an account's root or a role session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `arn:aws:iam::<account>:root` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    pub account: String,
    /// A role session's role, which a policy may name instead of the session.
    pub role_arn: Option<String>,
    /// The caller's organization (`aws:PrincipalOrgID`), where it belongs to one.
    pub org_id: Option<String>,
}

impl Caller {
    /// The root of `account`, as a long-term access key of that account calls.
    pub fn root(account: &str) -> Caller {
        Caller {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_string(),
            role_arn: None,
            org_id: None,
        }
    }
}

/// One authorization question against a function's resource policy: may `caller` perform
/// `action` on the function, version or alias, in this context?
#[derive(Clone, Debug)]
pub struct Access<'a> {
    pub caller: &'a Caller,
    /// `lambda:InvokeFunction`, `lambda:GetFunction`, `lambda:InvokeFunctionUrl`, …
    pub action: &'a str,
    /// The function's account and region.
    pub owner: &'a Scope,
    pub function: &'a str,
    /// A version or alias; `None` and `$LATEST` are the unqualified function.
    pub qualifier: Option<&'a str>,
    /// `aws:SourceArn` / `aws:SourceAccount`: the resource and account a service acts for.
    pub source_arn: Option<&'a str>,
    pub source_account: Option<&'a str>,
    /// `lambda:EventSourceToken`.
    pub event_source_token: Option<&'a str>,
    /// `lambda:FunctionUrlAuthType`, for calls through a function URL.
    pub function_url_auth_type: Option<&'a str>,
    /// `lambda:InvokedViaFunctionUrl`.
    pub via_function_url: bool,
}

impl<'a> Access<'a> {
    /// A question without source, event source token or function URL context.
    pub fn new(
        caller: &'a Caller,
        action: &'a str,
        owner: &'a Scope,
        function: &'a str,
        qualifier: Option<&'a str>,
    ) -> Access<'a> {
        Access {
            caller,
            action,
            owner,
            function,
            qualifier,
            source_arn: None,
            source_account: None,
            event_source_token: None,
            function_url_auth_type: None,
            via_function_url: false,
        }
    }

    fn qualifier(&self) -> Option<&str> {
        self.qualifier.filter(|q| *q != LATEST)
    }

    /// The ARN the request acts on: qualified when a version or alias was named.
    pub fn resource(&self) -> String {
        function_arn(self.owner, self.function, self.qualifier())
    }

    fn context(&self) -> policy::Context {
        let mut ctx = policy::Context::new()
            .with("aws:PrincipalArn", [self.caller.arn.as_str()])
            .with("aws:PrincipalAccount", [self.caller.account.as_str()])
            .with(
                "lambda:InvokedViaFunctionUrl",
                [if self.via_function_url {
                    "true"
                } else {
                    "false"
                }],
            );
        let optional = [
            ("aws:PrincipalOrgID", self.caller.org_id.as_deref()),
            ("aws:SourceArn", self.source_arn),
            ("aws:SourceAccount", self.source_account),
            ("lambda:EventSourceToken", self.event_source_token),
            ("lambda:FunctionUrlAuthType", self.function_url_auth_type),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                ctx.insert(key, [v]);
            }
        }
        ctx
    }

    fn denied(&self) -> LambdaError {
        LambdaError::AccessDenied {
            caller: self.caller.arn.clone(),
            action: self
                .action
                .strip_prefix("lambda:")
                .unwrap_or(self.action)
                .to_string(),
            resource: self.resource(),
        }
    }
}

/// Who a statement grants to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Grantee {
    /// `"Principal": "*"`.
    Anyone,
    /// `{"AWS": <arn>}`; an account id is kept as its root's ARN.
    Aws(String),
    /// `{"Service": <name>}`.
    Service(String),
}

/// One statement as AddPermission made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Permission {
    sid: String,
    grantee: Grantee,
    action: String,
    resource: String,
    source_arn: Option<String>,
    source_account: Option<String>,
    principal_org_id: Option<String>,
    event_source_token: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
}

/// A policy record: its statements in the order they were added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredPolicy {
    statements: Vec<Permission>,
}

/// What a qualifier names, for the policy it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    Unqualified,
    Version(String),
    Alias(String),
}

impl Owner {
    fn of(qualifier: Option<&str>) -> Owner {
        match qualifier {
            None | Some(LATEST) => Owner::Unqualified,
            Some(q) if is_version_number(q) => Owner::Version(q.to_string()),
            Some(q) => Owner::Alias(q.to_string()),
        }
    }

    fn qualifier(&self) -> Option<&str> {
        match self {
            Owner::Unqualified => None,
            Owner::Version(q) | Owner::Alias(q) => Some(q),
        }
    }

    fn policy_id(&self, function: &str) -> String {
        match self.qualifier() {
            None => function.to_string(),
            Some(q) => format!("{}{q}", children_prefix(function)),
        }
    }
}

impl Lambda {
    /// AddPermission: appends a statement to the policy of the function, version or alias
    /// and returns the statement as Lambda renders it.
    pub fn add_permission(
        &self,
        scope: &Scope,
        function: &str,
        qualifier: Option<&str>,
        spec: PermissionSpec,
    ) -> Result<String, LambdaError> {
        let checked = check_spec(&spec)?;
        if qualifier == Some(LATEST) {
            return Err(LambdaError::invalid(
                "We currently do not support adding policies for $LATEST.",
            ));
        }
        let owner = Owner::of(qualifier);
        let permission = Permission {
            resource: function_arn(scope, function, owner.qualifier()),
            ..checked
        };
        self.store.write(|tx| {
            let revision = revision_of(tx, scope, function, &owner)?;
            if spec.revision_id.as_ref().is_some_and(|r| *r != revision) {
                return Err(LambdaError::RevisionMismatch);
            }
            let id = owner.policy_id(function);
            let mut policy: StoredPolicy = tx.get_json(POLICY, scope, &id)?.unwrap_or_default();
            if policy.statements.iter().any(|s| s.sid == permission.sid) {
                return Err(LambdaError::conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    permission.sid
                )));
            }
            policy.statements.push(permission.clone());
            let size = render(&policy).len();
            if size > POLICY_SIZE_LIMIT {
                return Err(LambdaError::PolicyLengthExceeded { size });
            }
            tx.put_json(POLICY, scope, &id, &policy)?;
            bump_revision(tx, scope, function, &owner)?;
            Ok(render_statement(&permission))
        })
    }

    /// RemovePermission: takes statement `sid` out of the policy; the last one removes the
    /// policy.
    pub fn remove_permission(
        &self,
        scope: &Scope,
        function: &str,
        qualifier: Option<&str>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), LambdaError> {
        let mut v = Violations::default();
        check_statement_id(&mut v, sid, NAMESPACED_STATEMENT_ID_PATTERN, '.');
        v.finish()?;
        let owner = Owner::of(qualifier);
        self.store.write(|tx| {
            let revision = revision_of(tx, scope, function, &owner)?;
            let id = owner.policy_id(function);
            let Some(mut policy) = tx.get_json::<StoredPolicy>(POLICY, scope, &id)? else {
                return Err(LambdaError::ResourceNotFound(
                    "No policy is associated with the given resource.".into(),
                ));
            };
            let Some(at) = policy.statements.iter().position(|s| s.sid == sid) else {
                return Err(LambdaError::ResourceNotFound(format!(
                    "Statement {sid} is not found in resource policy."
                )));
            };
            if revision_id.is_some_and(|r| r != revision) {
                return Err(LambdaError::RevisionMismatch);
            }
            policy.statements.remove(at);
            if policy.statements.is_empty() {
                tx.delete(POLICY, scope, &id)?;
            } else {
                tx.put_json(POLICY, scope, &id, &policy)?;
            }
            bump_revision(tx, scope, function, &owner)?;
            Ok(())
        })
    }

    /// GetPolicy: the policy of the function, version or alias.
    pub fn get_policy(
        &self,
        scope: &Scope,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionPolicy, LambdaError> {
        let owner = Owner::of(qualifier);
        self.store.read(|tx| {
            let revision_id = revision_of(tx, scope, function, &owner)?;
            let policy: Option<StoredPolicy> =
                tx.get_json(POLICY, scope, &owner.policy_id(function))?;
            match policy.filter(|p| !p.statements.is_empty()) {
                Some(policy) => Ok(FunctionPolicy {
                    document: render(&policy),
                    revision_id,
                }),
                None => Err(LambdaError::ResourceNotFound(
                    "The resource you requested does not exist.".into(),
                )),
            }
        })
    }

    /// Whether the function's resource policy allows `access`: the policy of the version or
    /// alias named and the unqualified function's are both asked, each statement for the
    /// resource it names. `AccessDenied`, in Lambda's words, unless some statement allows
    /// and none denies. A function that does not exist has no policy, so it is refused the
    /// same way.
    pub fn authorize(&self, access: &Access) -> Result<(), LambdaError> {
        self.store.read(|tx| authorize_in(tx, access))
    }
}

/// [`Lambda::authorize`] inside a transaction the caller holds.
pub(crate) fn authorize_in(tx: &mut dyn Tx, access: &Access) -> Result<(), LambdaError> {
    let mut stored = Vec::new();
    let mut owners = vec![Owner::Unqualified];
    if let Some(q) = access.qualifier() {
        owners.push(Owner::of(Some(q)));
    }
    for owner in owners {
        let id = owner.policy_id(access.function);
        if let Some(p) = tx.get_json::<StoredPolicy>(POLICY, access.owner, &id)? {
            stored.push(p);
        }
    }
    if decide(&stored, access)? {
        Ok(())
    } else {
        Err(access.denied())
    }
}

/// The decision itself, on policy records already read.
fn decide(stored: &[StoredPolicy], access: &Access) -> Result<bool, LambdaError> {
    let mut policies = Vec::with_capacity(stored.len());
    for p in stored.iter().filter(|p| !p.statements.is_empty()) {
        let parsed = policy::Policy::parse(&render(p), policy::PolicyKind::Resource)
            .map_err(|e| LambdaError::PolicyUnreadable(e.to_string()))?;
        policies.push(parsed);
    }
    let refs: Vec<&policy::Policy> = policies.iter().collect();
    let caller = policy::Caller::Aws {
        arn: &access.caller.arn,
        account: &access.caller.account,
        role_arn: access.caller.role_arn.as_deref(),
    };
    let resource = access.resource();
    let context = access.context();
    let decision = policy::evaluate_resource(
        &refs,
        &caller,
        &policy::Request {
            action: access.action,
            resource: &resource,
            context: &context,
        },
    );
    Ok(decision == policy::Decision::Allow)
}

/// Removes the policies that go with a function (`qualifier` `None`: all of them) or with
/// one of its versions or aliases, in the transaction that removes those.
pub(crate) fn delete_policies(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    qualifier: Option<&str>,
) -> Result<(), LambdaError> {
    match qualifier {
        Some(q) => {
            tx.delete(POLICY, scope, &Owner::of(Some(q)).policy_id(function))?;
        }
        None => {
            tx.delete(POLICY, scope, function)?;
            for (id, _) in tx.list(POLICY, scope, &children_prefix(function))? {
                tx.delete(POLICY, scope, &id)?;
            }
        }
    }
    Ok(())
}

/// The revision id of what `owner` names, which must exist.
fn revision_of(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    owner: &Owner,
) -> Result<String, LambdaError> {
    let latest = load_function(tx, scope, function)?;
    match owner {
        Owner::Unqualified => Ok(latest.latest.revision_id),
        Owner::Version(q) => load_version(tx, scope, function, q)?
            .map(|v| v.revision_id)
            .ok_or_else(|| not_found(scope, function, Some(q))),
        Owner::Alias(q) => load_alias(tx, scope, function, q).map(|a| a.revision_id),
    }
}

fn load_alias(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    name: &str,
) -> Result<Alias, LambdaError> {
    tx.get_json(
        kind::ALIAS,
        scope,
        &Owner::Alias(name.into()).policy_id(function),
    )?
    .ok_or_else(|| {
        // `$LATEST.PUBLISHED` and the like pass the qualifier pattern but name neither a
        // version nor an alias.
        if name.starts_with('$') {
            not_found(scope, function, Some(name))
        } else {
            LambdaError::AliasNotFound {
                arn: function_arn(scope, function, Some(name)),
            }
        }
    })
}

/// A policy change is a change of what owns the policy: it gets a new revision id.
fn bump_revision(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    owner: &Owner,
) -> Result<(), LambdaError> {
    match owner {
        Owner::Unqualified => {
            let mut f = load_function(tx, scope, function)?;
            f.latest.revision_id = new_revision_id();
            tx.put_json(kind::FUNCTION, scope, function, &f)?;
        }
        Owner::Version(q) => {
            let mut v = load_version(tx, scope, function, q)?
                .ok_or_else(|| not_found(scope, function, Some(q)))?;
            v.revision_id = new_revision_id();
            tx.put_json(kind::VERSION, scope, &version_key_of(&v)?, &v)?;
        }
        Owner::Alias(q) => {
            let mut a = load_alias(tx, scope, function, q)?;
            a.revision_id = new_revision_id();
            tx.put_json(kind::ALIAS, scope, &owner.policy_id(function), &a)?;
        }
    }
    Ok(())
}

/// Checks AddPermission's members as Lambda's validation layer does (every violation at
/// once), then the principal; returns the statement without its resource.
fn check_spec(spec: &PermissionSpec) -> Result<Permission, LambdaError> {
    let mut v = Violations::default();
    match &spec.statement_id {
        Some(sid) => check_statement_id(&mut v, sid, STATEMENT_ID_PATTERN, '_'),
        None => v.null("statementId"),
    }
    match &spec.action {
        Some(a) if !is_action(a) => v.push(
            a,
            "action",
            &format!("Member must satisfy regular expression pattern: {ACTION_PATTERN}"),
        ),
        Some(_) => {}
        None => v.null("action"),
    }
    match &spec.principal {
        Some(p) if p.is_empty() || p.chars().any(char::is_whitespace) => v.push(
            p,
            "principal",
            &format!("Member must satisfy regular expression pattern: {PRINCIPAL_PATTERN}"),
        ),
        Some(_) => {}
        None => v.null("principal"),
    }
    if let Some(arn) = &spec.source_arn {
        if !is_source_arn(arn) {
            v.push(
                arn,
                "sourceArn",
                &format!("Member must satisfy regular expression pattern: {SOURCE_ARN_PATTERN}"),
            );
        }
    }
    if let Some(account) = &spec.source_account {
        if account.len() > 12 {
            v.push(
                account,
                "sourceAccount",
                "Member must have length less than or equal to 12",
            );
        }
        if !is_account(account) {
            v.push(
                account,
                "sourceAccount",
                &format!(
                    "Member must satisfy regular expression pattern: {SOURCE_ACCOUNT_PATTERN}"
                ),
            );
        }
    }
    if let Some(token) = &spec.event_source_token {
        if token.len() > 256 {
            v.push(
                token,
                "eventSourceToken",
                "Member must have length less than or equal to 256",
            );
        }
        let ok = !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            v.push(
                token,
                "eventSourceToken",
                &format!(
                    "Member must satisfy regular expression pattern: {EVENT_SOURCE_TOKEN_PATTERN}"
                ),
            );
        }
    }
    if let Some(org) = &spec.principal_org_id {
        if org.len() < 12 {
            v.push(
                org,
                "principalOrgID",
                "Member must have length greater than or equal to 12",
            );
        }
        if org.len() > 34 {
            v.push(
                org,
                "principalOrgID",
                "Member must have length less than or equal to 34",
            );
        }
        if !is_org_id(org) {
            v.push(
                org,
                "principalOrgID",
                &format!("Member must satisfy regular expression pattern: {ORG_ID_PATTERN}"),
            );
        }
    }
    if let Some(auth) = &spec.function_url_auth_type {
        if auth != "NONE" && auth != "AWS_IAM" {
            v.push(
                auth,
                "functionUrlAuthType",
                "Member must satisfy enum value set: [NONE, AWS_IAM]",
            );
        }
    }
    v.finish()?;
    let principal = spec.principal.clone().unwrap_or_default();
    Ok(Permission {
        sid: spec.statement_id.clone().unwrap_or_default(),
        grantee: grantee(&principal)?,
        action: spec.action.clone().unwrap_or_default(),
        resource: String::new(),
        source_arn: spec.source_arn.clone(),
        source_account: spec.source_account.clone(),
        principal_org_id: spec.principal_org_id.clone(),
        event_source_token: spec.event_source_token.clone(),
        function_url_auth_type: spec.function_url_auth_type.clone(),
        invoked_via_function_url: spec.invoked_via_function_url,
    })
}

/// `([a-zA-Z0-9-_]+)`, or with `extra` (`.` for RemovePermission's namespaced ids).
fn check_statement_id(v: &mut Violations, sid: &str, pattern: &str, extra: char) {
    if sid.is_empty() {
        v.push(
            sid,
            "statementId",
            "Member must have length greater than or equal to 1",
        );
    }
    if sid.len() > 100 {
        v.push(
            sid,
            "statementId",
            "Member must have length less than or equal to 100",
        );
    }
    let ok = !sid.is_empty()
        && sid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == extra);
    if !ok {
        v.push(
            sid,
            "statementId",
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        );
    }
}

/// How Lambda reads `Principal`: everyone, an account, an IAM or STS ARN, or a service.
fn grantee(principal: &str) -> Result<Grantee, LambdaError> {
    if principal == "*" {
        return Ok(Grantee::Anyone);
    }
    if is_account(principal) {
        return Ok(Grantee::Aws(format!("arn:aws:iam::{principal}:root")));
    }
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    if let ["arn", partition, "iam" | "sts", "", account, rest] = parts.as_slice() {
        if partition.starts_with("aws") && is_account(account) && !rest.is_empty() {
            return Ok(Grantee::Aws(principal.to_string()));
        }
    }
    let service = principal.ends_with(".amazonaws.com")
        && principal.len() > ".amazonaws.com".len()
        && principal
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if service {
        return Ok(Grantee::Service(principal.to_string()));
    }
    Err(LambdaError::invalid(
        "The provided principal was invalid. Please check the principal and try again.",
    ))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `(lambda:[*]|lambda:[a-zA-Z]+|[*])`
fn is_action(a: &str) -> bool {
    a == "*"
        || a.strip_prefix("lambda:").is_some_and(|rest| {
            rest == "*" || (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic()))
        })
}

/// `o-[a-z0-9]{10,32}`
fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// [`SOURCE_ARN_PATTERN`]: partition, service, optional region and account, then anything.
fn is_source_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, _] = parts.as_slice() else {
        return false;
    };
    *prefix == "arn"
        && partition
            .strip_prefix("aws")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && (region.is_empty() || is_plain_region(region))
        && (account.is_empty() || is_account(account))
}

/// `[a-z]{2}(-gov)?-[a-z]+-\d{1}`
fn is_plain_region(s: &str) -> bool {
    let lower = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase());
    let parts: Vec<&str> = s.split('-').collect();
    let (country, name, digit) = match parts.as_slice() {
        [country, name, digit] => (*country, *name, *digit),
        [country, "gov", name, digit] => (*country, *name, *digit),
        _ => return false,
    };
    country.len() == 2
        && lower(country)
        && lower(name)
        && digit.len() == 1
        && digit.chars().all(|c| c.is_ascii_digit())
}

/// The statement in Lambda's member order: `Sid`, `Effect`, `Principal`, `Action`,
/// `Resource`, `Condition`.
#[derive(Serialize)]
struct StatementDoc<'a> {
    #[serde(rename = "Sid")]
    sid: &'a str,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Principal")]
    principal: PrincipalDoc<'a>,
    #[serde(rename = "Action")]
    action: &'a str,
    #[serde(rename = "Resource")]
    resource: &'a str,
    #[serde(rename = "Condition", skip_serializing_if = "ConditionDoc::is_empty")]
    condition: ConditionDoc<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PrincipalDoc<'a> {
    Anyone(&'static str),
    Aws {
        #[serde(rename = "AWS")]
        aws: &'a str,
    },
    Service {
        #[serde(rename = "Service")]
        service: &'a str,
    },
}

#[derive(Serialize, Default)]
struct ConditionDoc<'a> {
    #[serde(rename = "StringEquals", skip_serializing_if = "BTreeMap::is_empty")]
    string_equals: BTreeMap<&'static str, &'a str>,
    #[serde(rename = "ArnLike", skip_serializing_if = "BTreeMap::is_empty")]
    arn_like: BTreeMap<&'static str, &'a str>,
    #[serde(rename = "Bool", skip_serializing_if = "BTreeMap::is_empty")]
    bool: BTreeMap<&'static str, &'static str>,
}

impl ConditionDoc<'_> {
    fn is_empty(&self) -> bool {
        self.string_equals.is_empty() && self.arn_like.is_empty() && self.bool.is_empty()
    }
}

#[derive(Serialize)]
struct PolicyDoc<'a> {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Id")]
    id: &'static str,
    #[serde(rename = "Statement")]
    statement: Vec<StatementDoc<'a>>,
}

fn statement_doc(p: &Permission) -> StatementDoc<'_> {
    let mut condition = ConditionDoc::default();
    let equals = [
        ("AWS:SourceAccount", &p.source_account),
        ("aws:PrincipalOrgID", &p.principal_org_id),
        ("lambda:EventSourceToken", &p.event_source_token),
        ("lambda:FunctionUrlAuthType", &p.function_url_auth_type),
    ];
    for (key, value) in equals {
        if let Some(v) = value {
            condition.string_equals.insert(key, v);
        }
    }
    if let Some(arn) = &p.source_arn {
        condition.arn_like.insert("AWS:SourceArn", arn);
    }
    if let Some(via) = p.invoked_via_function_url {
        condition.bool.insert(
            "lambda:InvokedViaFunctionUrl",
            if via { "true" } else { "false" },
        );
    }
    StatementDoc {
        sid: &p.sid,
        effect: "Allow",
        principal: match &p.grantee {
            Grantee::Anyone => PrincipalDoc::Anyone("*"),
            Grantee::Aws(arn) => PrincipalDoc::Aws { aws: arn },
            Grantee::Service(s) => PrincipalDoc::Service { service: s },
        },
        action: &p.action,
        resource: &p.resource,
        condition,
    }
}

fn to_json(value: &impl Serialize) -> String {
    // These documents are strings and maps of strings: encoding them cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn render_statement(p: &Permission) -> String {
    to_json(&statement_doc(p))
}

/// The policy document as GetPolicy returns it (and as its size is counted).
fn render(policy: &StoredPolicy) -> String {
    to_json(&PolicyDoc {
        version: "2012-10-17",
        id: "default",
        statement: policy.statements.iter().map(statement_doc).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sid: &str, principal: &str) -> PermissionSpec {
        PermissionSpec {
            statement_id: Some(sid.into()),
            action: Some("lambda:InvokeFunction".into()),
            principal: Some(principal.into()),
            ..Default::default()
        }
    }

    fn permission(spec: &PermissionSpec, resource: &str) -> Permission {
        Permission {
            resource: resource.into(),
            ..check_spec(spec).unwrap()
        }
    }

    const F: &str = "arn:aws:lambda:us-east-1:111111111111:function:f";

    #[test]
    fn statements_render_as_lambda_renders_them() {
        let p = permission(&spec("s1", "222222222222"), F);
        assert_eq!(
            render_statement(&p),
            r#"{"Sid":"s1","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f"}"#
        );
        let s3 = PermissionSpec {
            source_arn: Some("arn:aws:s3:::bucket".into()),
            source_account: Some("111111111111".into()),
            ..spec("s3", "s3.amazonaws.com")
        };
        assert_eq!(
            render_statement(&permission(&s3, F)),
            r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f","Condition":{"StringEquals":{"AWS:SourceAccount":"111111111111"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}"#
        );
        let url = PermissionSpec {
            action: Some("lambda:InvokeFunctionUrl".into()),
            function_url_auth_type: Some("NONE".into()),
            principal_org_id: Some("o-abcdefghij".into()),
            event_source_token: Some("tok".into()),
            invoked_via_function_url: Some(true),
            ..spec("url", "*")
        };
        assert_eq!(
            render_statement(&permission(&url, F)),
            r#"{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij","lambda:EventSourceToken":"tok","lambda:FunctionUrlAuthType":"NONE"},"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}"#
        );
        let policy = StoredPolicy {
            statements: vec![p],
        };
        assert!(render(&policy)
            .starts_with(r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s1","#));
    }

    #[test]
    fn principals() {
        for (given, want) in [
            ("*", Grantee::Anyone),
            (
                "222222222222",
                Grantee::Aws("arn:aws:iam::222222222222:root".into()),
            ),
            (
                "arn:aws:iam::222222222222:role/r",
                Grantee::Aws("arn:aws:iam::222222222222:role/r".into()),
            ),
            (
                "arn:aws:sts::222222222222:assumed-role/r/s",
                Grantee::Aws("arn:aws:sts::222222222222:assumed-role/r/s".into()),
            ),
            (
                "s3.amazonaws.com",
                Grantee::Service("s3.amazonaws.com".into()),
            ),
        ] {
            assert_eq!(grantee(given).unwrap(), want, "{given}");
        }
        for bad in [
            "someone",
            "12345",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::12:root",
            ".amazonaws.com",
        ] {
            assert_eq!(
                grantee(bad).unwrap_err().to_string(),
                "The provided principal was invalid. Please check the principal and try again.",
                "{bad}"
            );
        }
    }

    #[test]
    fn members_are_validated_together() {
        let e = check_spec(&PermissionSpec::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "3 validation errors detected: Value null at 'statementId' failed to satisfy constraint: Member must not be null; Value null at 'action' failed to satisfy constraint: Member must not be null; Value null at 'principal' failed to satisfy constraint: Member must not be null"
        );
        let bad = PermissionSpec {
            action: Some("s3:GetObject".into()),
            source_arn: Some("not-an-arn".into()),
            source_account: Some("1234".into()),
            principal_org_id: Some("org".into()),
            function_url_auth_type: Some("OPEN".into()),
            event_source_token: Some("a b".into()),
            ..spec("bad id", "*")
        };
        let text = check_spec(&bad).unwrap_err().to_string();
        for part in [
            "8 validation errors detected",
            "Value 'bad id' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
            "Value 's3:GetObject' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
            "Value 'not-an-arn' at 'sourceArn'",
            r"Value '1234' at 'sourceAccount' failed to satisfy constraint: Member must satisfy regular expression pattern: \d{12}",
            "Value 'org' at 'principalOrgID' failed to satisfy constraint: Member must have length greater than or equal to 12",
            "Value 'OPEN' at 'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]",
            "Value 'a b' at 'eventSourceToken'",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        for ok in ["lambda:*", "*", "lambda:GetFunction"] {
            let s = PermissionSpec {
                action: Some(ok.into()),
                ..spec("ok", "*")
            };
            assert!(check_spec(&s).is_ok(), "{ok}");
        }
    }

    #[test]
    fn source_arns() {
        for ok in [
            "arn:aws:s3:::bucket",
            "arn:aws:execute-api:us-east-1:111111111111:api/*/GET/x",
            "arn:aws-us-gov:sns:us-gov-west-1:111111111111:topic",
            "arn:aws:events:us-east-1:111111111111:rule/a:b",
        ] {
            assert!(is_source_arn(ok), "{ok}");
        }
        for bad in [
            "arn:aws:s3::bucket",
            "arn:gcp:s3:::b",
            "arn:aws::us-east-1:111111111111:x",
            "arn:aws:sns:useast1:111111111111:t",
            "arn:aws:sns:us-east-1:1111:t",
        ] {
            assert!(!is_source_arn(bad), "{bad}");
        }
    }

    fn access<'a>(caller: &'a Caller, owner: &'a Scope, qualifier: Option<&'a str>) -> Access<'a> {
        Access::new(caller, "lambda:InvokeFunction", owner, "f", qualifier)
    }

    #[test]
    fn decisions_follow_principal_resource_and_conditions() {
        let owner = Scope::new("111111111111", "us-east-1");
        let b = Caller::root("222222222222");
        let c = Caller::root("333333333333");
        let unqualified = StoredPolicy {
            statements: vec![permission(&spec("b", "222222222222"), F)],
        };
        assert!(decide(
            std::slice::from_ref(&unqualified),
            &access(&b, &owner, None)
        )
        .unwrap());
        assert!(decide(
            std::slice::from_ref(&unqualified),
            &access(&b, &owner, Some(LATEST))
        )
        .unwrap());
        assert!(!decide(
            std::slice::from_ref(&unqualified),
            &access(&c, &owner, None)
        )
        .unwrap());
        // The unqualified function's statements name the unqualified ARN only.
        assert!(!decide(
            std::slice::from_ref(&unqualified),
            &access(&b, &owner, Some("prod"))
        )
        .unwrap());
        let alias = StoredPolicy {
            statements: vec![permission(&spec("b", "*"), &format!("{F}:prod"))],
        };
        assert!(decide(
            &[unqualified.clone(), alias],
            &access(&c, &owner, Some("prod"))
        )
        .unwrap());
        let conditional = StoredPolicy {
            statements: vec![permission(
                &PermissionSpec {
                    source_account: Some("444444444444".into()),
                    ..spec("s", "222222222222")
                },
                F,
            )],
        };
        assert!(!decide(
            std::slice::from_ref(&conditional),
            &access(&b, &owner, None)
        )
        .unwrap());
        let mut from_account = access(&b, &owner, None);
        from_account.source_account = Some("444444444444");
        assert!(decide(std::slice::from_ref(&conditional), &from_account).unwrap());
        let via_url = StoredPolicy {
            statements: vec![permission(
                &PermissionSpec {
                    invoked_via_function_url: Some(true),
                    ..spec("u", "*")
                },
                F,
            )],
        };
        assert!(!decide(std::slice::from_ref(&via_url), &access(&b, &owner, None)).unwrap());
        assert!(!decide(&[], &access(&b, &owner, None)).unwrap());
        assert_eq!(
            access(&b, &owner, Some("prod")).denied().to_string(),
            "User: arn:aws:iam::222222222222:root is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:f:prod because no resource-based policy allows the lambda:InvokeFunction action"
        );
    }

    mod stored {
        use super::super::super::tests::{spec as function, world, zip, World};
        use super::*;
        use crate::lambda::{AliasSpec, FunctionRef, Outcome, PublishRequest};

        fn named(name: &str) -> FunctionRef {
            FunctionRef {
                name: name.into(),
                qualifier: None,
            }
        }

        /// A world with an active function `f`, its version 1 and alias `prod`.
        fn with_function() -> World {
            let w = world();
            let created = w
                .lambda
                .create(&w.scope, function("f", &zip("bootstrap", b"hi")), "r")
                .unwrap();
            w.lambda
                .finish(&created.job.unwrap(), &Outcome::Ready)
                .unwrap();
            w.lambda
                .publish(&w.scope, &named("f"), PublishRequest::default())
                .unwrap();
            w.lambda
                .create_alias(
                    &w.scope,
                    &named("f"),
                    AliasSpec {
                        name: "prod".into(),
                        function_version: Some("1".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
            w
        }

        fn revision(w: &World, qualifier: Option<&str>) -> String {
            let fref = FunctionRef {
                name: "f".into(),
                qualifier: qualifier.map(Into::into),
            };
            match qualifier {
                Some("prod") => {
                    w.lambda
                        .get_alias(&w.scope, &named("f"), "prod")
                        .unwrap()
                        .revision_id
                }
                _ => w.lambda.get(&w.scope, &fref).unwrap().version.revision_id,
            }
        }

        #[test]
        fn policies_per_qualifier_with_revisions() {
            let w = with_function();
            for q in [None, Some("1"), Some("prod")] {
                let before = revision(&w, q);
                let statement = w
                    .lambda
                    .add_permission(&w.scope, "f", q, spec("s", "222222222222"))
                    .unwrap();
                let arn = function_arn(&w.scope, "f", q);
                assert!(
                    statement.contains(&format!(r#""Resource":"{arn}""#)),
                    "{statement}"
                );
                let after = revision(&w, q);
                assert_ne!(before, after, "{q:?}");
                let got = w.lambda.get_policy(&w.scope, "f", q).unwrap();
                assert_eq!(got.revision_id, after);
                assert_eq!(
                    got.document,
                    format!(
                        r#"{{"Version":"2012-10-17","Id":"default","Statement":[{statement}]}}"#
                    )
                );
            }
            // Same sid again: refused, nothing changes.
            let e = w
                .lambda
                .add_permission(&w.scope, "f", Some("1"), spec("s", "*"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "The statement id (s) provided already exists. Please provide a new statement id, or remove the existing statement."
            );
            // Stale revision: refused.
            let stale = PermissionSpec {
                revision_id: Some("stale".into()),
                ..spec("t", "*")
            };
            assert!(matches!(
                w.lambda.add_permission(&w.scope, "f", None, stale),
                Err(LambdaError::RevisionMismatch)
            ));
            assert!(matches!(
                w.lambda
                    .remove_permission(&w.scope, "f", None, "s", Some("stale")),
                Err(LambdaError::RevisionMismatch)
            ));
            let current = revision(&w, None);
            w.lambda
                .remove_permission(&w.scope, "f", None, "s", Some(&current))
                .unwrap();
            assert_eq!(
                w.lambda
                    .get_policy(&w.scope, "f", None)
                    .unwrap_err()
                    .to_string(),
                "The resource you requested does not exist."
            );
            assert_eq!(
                w.lambda
                    .remove_permission(&w.scope, "f", None, "s", None)
                    .unwrap_err()
                    .to_string(),
                "No policy is associated with the given resource."
            );
            assert_eq!(
                w.lambda
                    .remove_permission(&w.scope, "f", Some("1"), "x", None)
                    .unwrap_err()
                    .to_string(),
                "Statement x is not found in resource policy."
            );
            // The version's and alias's policies are untouched.
            assert!(w.lambda.get_policy(&w.scope, "f", Some("1")).is_ok());
            assert!(w.lambda.get_policy(&w.scope, "f", Some("prod")).is_ok());
        }

        #[test]
        fn missing_targets_and_latest() {
            let w = with_function();
            let e = w
                .lambda
                .add_permission(&w.scope, "f", Some(LATEST), spec("s", "*"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "We currently do not support adding policies for $LATEST."
            );
            let e = w
                .lambda
                .add_permission(&w.scope, "f", Some("7"), spec("s", "*"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:7"
            );
            let e = w
                .lambda
                .add_permission(&w.scope, "f", Some("beta"), spec("s", "*"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:f:beta"
            );
            let e = w
                .lambda
                .add_permission(&w.scope, "g", None, spec("s", "*"))
                .unwrap_err();
            assert!(matches!(e, LambdaError::FunctionNotFound { .. }), "{e}");
            let e = w
                .lambda
                .add_permission(&w.scope, "f", None, spec("s", "nobody"))
                .unwrap_err();
            assert!(matches!(e, LambdaError::InvalidParameter(_)), "{e}");
            assert!(
                w.lambda.get_policy(&w.scope, "f", None).is_err(),
                "nothing stored"
            );
        }

        #[test]
        fn the_size_limit_is_the_whole_document() {
            let w = with_function();
            let long_arn = format!("arn:aws:s3:::{}", "b".repeat(900));
            let mut added = 0;
            let err = loop {
                let s = PermissionSpec {
                    source_arn: Some(long_arn.clone()),
                    ..spec(&format!("s{added}"), "s3.amazonaws.com")
                };
                match w.lambda.add_permission(&w.scope, "f", None, s) {
                    Ok(_) => added += 1,
                    Err(e) => break e,
                }
            };
            let document = w.lambda.get_policy(&w.scope, "f", None).unwrap().document;
            assert!(document.len() <= POLICY_SIZE_LIMIT);
            let LambdaError::PolicyLengthExceeded { size } = err else {
                panic!("{err}");
            };
            assert!(size > POLICY_SIZE_LIMIT);
            assert_eq!(
                err.to_string(),
                format!("The final policy size ({size}) is bigger than the limit (20480).")
            );
            assert_eq!(document.matches("\"Sid\"").count(), added);
        }

        #[test]
        fn policies_go_with_what_they_belong_to() {
            let w = with_function();
            let b = Caller::root("222222222222");
            let ask = |q: Option<&'static str>| {
                let scope = w.scope.clone();
                let access = Access::new(&b, "lambda:InvokeFunction", &scope, "f", q);
                w.lambda.authorize(&access).is_ok()
            };
            assert!(!ask(None));
            w.lambda
                .add_permission(&w.scope, "f", Some("prod"), spec("b", "222222222222"))
                .unwrap();
            assert!(ask(Some("prod")));
            assert!(!ask(None));
            assert!(!ask(Some("1")));
            w.lambda
                .delete_alias(&w.scope, &named("f"), "prod")
                .unwrap();
            assert!(!ask(Some("prod")));
            w.lambda
                .create_alias(
                    &w.scope,
                    &named("f"),
                    AliasSpec {
                        name: "prod".into(),
                        function_version: Some("1".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
            assert!(
                !ask(Some("prod")),
                "a new alias starts without the old one's policy"
            );
            w.lambda
                .add_permission(&w.scope, "f", None, spec("b", "222222222222"))
                .unwrap();
            assert!(ask(None));
            w.lambda.delete(&w.scope, &named("f")).unwrap();
            let created = w
                .lambda
                .create(&w.scope, function("f", &zip("bootstrap", b"hi")), "r")
                .unwrap();
            w.lambda
                .finish(&created.job.unwrap(), &Outcome::Ready)
                .unwrap();
            assert!(
                !ask(None),
                "a new function starts without the old one's policy"
            );
        }
    }
}
