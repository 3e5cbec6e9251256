//! Routes and wire shapes of the per-function settings (runtime management, recursion),
//! code signing (see [`super::signing`]) and event source mappings, which the main router
//! hands every path it does not know itself.

use control::lambda::{Lambda, MappingRequest, NameShape, VersionRuntime};
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::parse;
use super::signing;
use super::{answer, Outcome, Request};

/// The operation for these path segments and method, run; `None` if this module has none.
pub(super) fn route(lambda: &Lambda, req: &Request, segs: &[&str]) -> Option<Outcome> {
    let m = &req.method;
    Some(match (segs, m) {
        (["2020-04-22", "code-signing-configs"], &Method::POST | &Method::GET) => {
            signing::configs(lambda, req)
        }
        (
            ["2020-04-22", "code-signing-configs", arn],
            &Method::GET | &Method::PUT | &Method::DELETE,
        ) => signing::one_config(lambda, req, arn),
        (["2020-04-22", "code-signing-configs", arn, "functions"], &Method::GET) => {
            signing::functions(lambda, req, arn)
        }
        (
            ["2020-06-30", "functions", f, "code-signing-config"],
            &Method::GET | &Method::PUT | &Method::DELETE,
        ) => signing::function_config(lambda, req, f),
        (
            ["2021-07-20", "functions", f, "runtime-management-config"],
            &Method::GET | &Method::PUT,
        ) => runtime_management(lambda, req, f),
        (["2024-08-31", "functions", f, "recursion-config"], &Method::GET | &Method::PUT) => {
            recursion(lambda, req, f)
        }
        (["2015-03-31", "event-source-mappings"], &Method::POST) => create_mapping(lambda, req),
        (["2015-03-31", "event-source-mappings"], &Method::GET) => list_mappings(lambda, req),
        (
            ["2015-03-31", "event-source-mappings", uuid],
            &Method::GET | &Method::PUT | &Method::DELETE,
        ) => mapping(lambda, req, uuid),
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RuntimeManagementInput {
    update_runtime_on: Option<String>,
    runtime_version_arn: Option<String>,
}

fn runtime_body(r: &VersionRuntime) -> Value {
    let mut body = json!({
        "UpdateRuntimeOn": r.config.update_runtime_on.as_str(),
        "FunctionArn": r.function_arn,
    });
    if let Some(arn) = &r.config.runtime_version_arn {
        body["RuntimeVersionArn"] = json!(arn);
    }
    body
}

fn runtime_management(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let action = if req.method == Method::PUT {
        "PutRuntimeManagementConfig"
    } else {
        "GetRuntimeManagementConfig"
    };
    let fref = req
        .function(f, NameShape::Namespaced, action)?
        .with_qualifier(req.param("Qualifier"))?;
    let result = if req.method == Method::PUT {
        let input: RuntimeManagementInput = parse(&req.body)?;
        lambda.put_runtime_management(
            &req.scope,
            &fref,
            input.update_runtime_on.as_deref(),
            input.runtime_version_arn.as_deref(),
        )?
    } else {
        lambda.runtime_management(&req.scope, &fref)?
    };
    answer(req.json(200, &runtime_body(&result)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RecursionInput {
    recursive_loop: Option<String>,
}

fn recursion(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let action = if req.method == Method::PUT {
        "PutFunctionRecursionConfig"
    } else {
        "GetFunctionRecursionConfig"
    };
    let fref = req.function(f, NameShape::Function, action)?;
    let setting = if req.method == Method::PUT {
        let input: RecursionInput = parse(&req.body)?;
        lambda.put_recursion(&req.scope, &fref, input.recursive_loop.as_deref())?
    } else {
        lambda.recursion(&req.scope, &fref)?
    };
    answer(req.json(200, &json!({ "RecursiveLoop": setting.as_str() })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct MappingInput {
    function_name: Option<String>,
    event_source_arn: Option<String>,
    self_managed_event_source: Option<Value>,
}

fn create_mapping(lambda: &Lambda, req: &Request) -> Outcome {
    let input: MappingInput = parse(&req.body)?;
    match lambda.create_event_source_mapping(
        &req.scope,
        MappingRequest {
            function_name: input.function_name,
            event_source_arn: input.event_source_arn,
            self_managed: input.self_managed_event_source.is_some(),
        },
    )? {}
}

fn list_mappings(lambda: &Lambda, req: &Request) -> Outcome {
    lambda.list_event_source_mappings(
        &req.scope,
        req.param("FunctionName"),
        req.param("EventSourceArn"),
        req.int_param("MaxItems")?,
    )?;
    answer(req.json(200, &json!({ "EventSourceMappings": [] })))
}

fn mapping(lambda: &Lambda, req: &Request, uuid: &str) -> Outcome {
    if req.method == Method::PUT {
        let _: Value = parse(&req.body)?;
    }
    match lambda.event_source_mapping(uuid)? {}
}
