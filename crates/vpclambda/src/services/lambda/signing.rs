//! The code signing operations on the wire: configurations under
//! `/2020-04-22/code-signing-configs` and a function's under
//! `/2020-06-30/functions/{FunctionName}/code-signing-config`.

use std::collections::BTreeMap;

use control::lambda::{CodeSigningConfig, LambdaError, NameShape, SigningSpec};
use control::Scope;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::parse;
use super::{answer, Outcome, Request};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigInput {
    description: Option<String>,
    allowed_publishers: Option<AllowedPublishers>,
    code_signing_policies: Option<Policies>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AllowedPublishers {
    signing_profile_version_arns: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Policies {
    untrusted_artifact_on_deployment: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct FunctionConfigInput {
    code_signing_config_arn: Option<String>,
}

impl From<ConfigInput> for SigningSpec {
    fn from(i: ConfigInput) -> Self {
        SigningSpec {
            description: i.description,
            signing_profile_version_arns: i
                .allowed_publishers
                .map(|p| p.signing_profile_version_arns),
            untrusted_artifact: i
                .code_signing_policies
                .map(|p| p.untrusted_artifact_on_deployment),
            tags: i.tags,
        }
    }
}

/// `CodeSigningConfig`.
fn config(c: &CodeSigningConfig, scope: &Scope) -> Value {
    json!({
        "CodeSigningConfigId": c.id,
        "CodeSigningConfigArn": c.arn(scope),
        "Description": c.description,
        "AllowedPublishers": { "SigningProfileVersionArns": c.signing_profile_version_arns },
        "CodeSigningPolicies": { "UntrustedArtifactOnDeployment": c.untrusted_artifact.as_str() },
        "LastModified": c.last_modified,
    })
}

/// `/2020-04-22/code-signing-configs`: create and list.
pub(super) fn configs(lambda: &control::lambda::Lambda, req: &Request) -> Outcome {
    if req.method == Method::POST {
        let input: ConfigInput = parse(&req.body)?;
        let created = lambda.create_signing_config(&req.scope, input.into())?;
        return answer(req.json(
            201,
            &json!({ "CodeSigningConfig": config(&created, &req.scope) }),
        ));
    }
    let page =
        lambda.list_signing_configs(&req.scope, req.param("Marker"), req.int_param("MaxItems")?)?;
    let items: Vec<Value> = page.items.iter().map(|c| config(c, &req.scope)).collect();
    let mut body = json!({ "CodeSigningConfigs": items });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

/// `/2020-04-22/code-signing-configs/{arn}`: get, update, delete.
pub(super) fn one_config(lambda: &control::lambda::Lambda, req: &Request, arn: &str) -> Outcome {
    match req.method {
        Method::GET => {
            let c = lambda.signing_config(&req.scope, arn)?;
            answer(req.json(200, &json!({ "CodeSigningConfig": config(&c, &req.scope) })))
        }
        Method::PUT => {
            let input: ConfigInput = parse(&req.body)?;
            // Tags are not a member of UpdateCodeSigningConfig: TagResource changes them.
            let spec = SigningSpec {
                tags: None,
                ..input.into()
            };
            let c = lambda.update_signing_config(&req.scope, arn, spec)?;
            answer(req.json(200, &json!({ "CodeSigningConfig": config(&c, &req.scope) })))
        }
        _ => {
            lambda.delete_signing_config(&req.scope, arn)?;
            answer(req.empty(204))
        }
    }
}

/// `/2020-04-22/code-signing-configs/{arn}/functions`.
pub(super) fn functions(lambda: &control::lambda::Lambda, req: &Request, arn: &str) -> Outcome {
    let page = lambda.functions_by_signing_config(
        &req.scope,
        arn,
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let mut body = json!({ "FunctionArns": page.items });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

/// `/2020-06-30/functions/{FunctionName}/code-signing-config`: put, get, delete.
pub(super) fn function_config(lambda: &control::lambda::Lambda, req: &Request, f: &str) -> Outcome {
    let action = match req.method {
        Method::PUT => "PutFunctionCodeSigningConfig",
        Method::GET => "GetFunctionCodeSigningConfig",
        _ => "DeleteFunctionCodeSigningConfig",
    };
    let fref = req.function(f, NameShape::Namespaced, action)?;
    match req.method {
        Method::PUT => {
            let input: FunctionConfigInput = parse(&req.body)?;
            let Some(arn) = input.code_signing_config_arn else {
                return Err(LambdaError::Validation(vec![
                    "Value null at 'codeSigningConfigArn' failed to satisfy constraint: Member must not be null".into(),
                ]));
            };
            let name = lambda.put_function_signing_config(&req.scope, &fref, &arn)?;
            answer(req.json(
                200,
                &json!({ "CodeSigningConfigArn": arn, "FunctionName": name }),
            ))
        }
        Method::GET => {
            let (name, arn) = lambda.function_signing_config(&req.scope, &fref)?;
            answer(req.json(
                200,
                &json!({ "CodeSigningConfigArn": arn, "FunctionName": name }),
            ))
        }
        _ => {
            lambda.delete_function_signing_config(&req.scope, &fref)?;
            answer(req.empty(204))
        }
    }
}
