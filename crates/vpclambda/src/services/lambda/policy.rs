//! Resource-based policies on the wire — AddPermission, RemovePermission, GetPolicy — and
//! the cross-account gate of the operations a function's policy can open to other accounts
//! (Invoke, GetPolicy): a function named by an ARN of another account is looked up in that
//! account only once its policy allows the caller.

use std::sync::Arc;

use control::lambda::{
    Access, Caller, FunctionRef, Lambda, LambdaError, NameShape, PermissionSpec,
};
use control::Scope;
use serde::Deserialize;
use serde_json::json;
use wire::AwsError;

use super::shapes::parse;
use super::{answer, errors, Call, Outcome, Request};
use crate::server::AppState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AddPermissionInput {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
    revision_id: Option<String>,
}

/// Who signed the call: an account's key is its root, temporary credentials are a session
/// of an execution role.
pub(super) fn caller_of(call: &Call) -> Caller {
    match &call.session {
        Some(s) => Caller {
            arn: s.assumed_role_arn(),
            account: s.account.clone(),
            role_arn: Some(s.role_arn.clone()),
            org_id: None,
        },
        None => Caller::root(&call.account.account_id),
    }
}

pub(super) fn add_permission(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req
        .function(f, NameShape::Namespaced, "AddPermission")?
        .with_qualifier(req.param("Qualifier"))?;
    let input: AddPermissionInput = parse(&req.body)?;
    let statement = lambda.add_permission(
        &req.scope,
        &fref.name,
        fref.qualifier.as_deref(),
        PermissionSpec {
            statement_id: input.statement_id,
            action: input.action,
            principal: input.principal,
            source_arn: input.source_arn,
            source_account: input.source_account,
            event_source_token: input.event_source_token,
            principal_org_id: input.principal_org_id,
            function_url_auth_type: input.function_url_auth_type,
            invoked_via_function_url: input.invoked_via_function_url,
            revision_id: input.revision_id,
        },
    )?;
    answer(req.json(201, &json!({ "Statement": statement })))
}

pub(super) fn remove_permission(lambda: &Lambda, req: &Request, f: &str, sid: &str) -> Outcome {
    let fref = req
        .function(f, NameShape::Namespaced, "RemovePermission")?
        .with_qualifier(req.param("Qualifier"))?;
    lambda.remove_permission(
        &req.scope,
        &fref.name,
        fref.qualifier.as_deref(),
        sid,
        req.param("RevisionId"),
    )?;
    answer(req.empty(204))
}

pub(super) fn get_policy(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let (fref, owner) = owned_function(lambda, req, f, "lambda:GetPolicy")?;
    let policy = lambda.get_policy(&owner, &fref.name, fref.qualifier.as_deref())?;
    answer(req.json(
        200,
        &json!({ "Policy": policy.document, "RevisionId": policy.revision_id }),
    ))
}

/// The function `f` (with `?Qualifier=`) names and its owner's scope: the caller's own, or
/// another account's once that function's policy allows the caller `action`.
pub(super) fn owned_function(
    lambda: &Lambda,
    req: &Request,
    f: &str,
    action: &str,
) -> Result<(FunctionRef, Scope), LambdaError> {
    let (fref, owner) = FunctionRef::parse_with_owner(f, NameShape::Namespaced, &req.scope)?;
    let fref = fref.with_qualifier(req.param("Qualifier"))?;
    if owner != req.scope {
        lambda.authorize(&Access::new(
            &req.caller,
            action,
            &owner,
            &fref.name,
            fref.qualifier.as_deref(),
        ))?;
    }
    Ok((fref, owner))
}

/// Invoke's gate for a function of another account (`owner`): its policy must allow the
/// caller `lambda:InvokeFunction`. Same-account calls pass untouched, with no store read.
pub(super) async fn authorize_invoke(
    state: &Arc<AppState>,
    req: &Request,
    owner: &Scope,
    fref: &FunctionRef,
) -> Result<(), AwsError> {
    if *owner == req.scope {
        return Ok(());
    }
    let lambda = Lambda::new(state.store.clone(), &state.config.data_dir);
    let (caller, owner, fref) = (req.caller.clone(), owner.clone(), fref.clone());
    tokio::task::spawn_blocking(move || {
        lambda.authorize(&Access::new(
            &caller,
            "lambda:InvokeFunction",
            &owner,
            &fref.name,
            fref.qualifier.as_deref(),
        ))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "authorizing an invocation panicked");
        AwsError::internal()
    })?
    .map_err(errors::to_aws)
}
