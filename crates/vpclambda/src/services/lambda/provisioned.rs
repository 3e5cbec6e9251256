//! Provisioned concurrency on the wire: `/2019-09-30/functions/{FunctionName}/provisioned-concurrency`
//! with `?Qualifier=` (Put, Get, Delete) or `?List=ALL` (List). The environments themselves
//! are the invoke side's (`invoke::provisioned`), which the router wakes after every change.

use control::lambda::{FunctionRef, Lambda, LambdaError, NameShape, ProvisionedConfig};
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::parse;
use super::{answer, Outcome, Request};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PutInput {
    provisioned_concurrent_executions: Option<i64>,
}

pub(super) fn route(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    match (&req.method, req.param("List")) {
        (&Method::GET, Some(list)) => list_configs(lambda, req, f, list),
        (&Method::PUT, _) => {
            let fref = qualified(req, f, "PutProvisionedConcurrencyConfig")?;
            let input: PutInput = parse(&req.body)?;
            let config = lambda.put_provisioned(
                &req.scope,
                &fref,
                input.provisioned_concurrent_executions,
            )?;
            answer(req.json(202, &shape(&config)))
        }
        (&Method::GET, None) => {
            let fref = qualified(req, f, "GetProvisionedConcurrencyConfig")?;
            let config = lambda.get_provisioned(&req.scope, &fref)?;
            answer(req.json(200, &shape(&config)))
        }
        (&Method::DELETE, _) => {
            let fref = qualified(req, f, "DeleteProvisionedConcurrencyConfig")?;
            lambda.delete_provisioned(&req.scope, &fref)?;
            answer(req.empty(204))
        }
        _ => Err(LambdaError::InvalidRequestContent(format!(
            "{} is not a provisioned concurrency operation",
            req.method
        ))),
    }
}

/// The function with `?Qualifier=`, which the model requires.
fn qualified(req: &Request, f: &str, action: &str) -> Result<FunctionRef, LambdaError> {
    if req.param("Qualifier").is_none() {
        return Err(LambdaError::Validation(vec![
            "Value null at 'qualifier' failed to satisfy constraint: Member must not be null"
                .into(),
        ]));
    }
    req.function(f, NameShape::Namespaced, action)?
        .with_qualifier(req.param("Qualifier"))
}

fn list_configs(lambda: &Lambda, req: &Request, f: &str, list: &str) -> Outcome {
    if list != "ALL" {
        return Err(LambdaError::Validation(vec![format!(
            "Value '{list}' at 'list' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
        )]));
    }
    let fref = req.function(f, NameShape::Function, "ListProvisionedConcurrencyConfigs")?;
    let page = lambda.list_provisioned(
        &req.scope,
        &fref,
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let configs: Vec<Value> = page
        .items
        .iter()
        .map(|c| {
            let mut item = shape(c);
            item["FunctionArn"] = json!(control::lambda::function_arn(
                &req.scope,
                &c.function_name,
                Some(&c.qualifier)
            ));
            item
        })
        .collect();
    let mut body = json!({ "ProvisionedConcurrencyConfigs": configs });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

fn shape(c: &ProvisionedConfig) -> Value {
    let mut v = json!({
        "RequestedProvisionedConcurrentExecutions": c.requested,
        "AvailableProvisionedConcurrentExecutions": c.allocated,
        "AllocatedProvisionedConcurrentExecutions": c.allocated,
        "Status": c.status.as_str(),
        "LastModified": c.last_modified,
    });
    if let Some(reason) = &c.status_reason {
        v["StatusReason"] = json!(reason);
    }
    v
}
