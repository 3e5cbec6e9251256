//! The layer operations of the lambda adapter (`/2018-10-31/layers…`): their request
//! shapes decoded into `control::lambda` inputs, and `LayerVersion`, `LayersListItem` and
//! the policy answers encoded with the botocore model's member names.

use control::lambda::{Lambda, LambdaError, LayerPermission, LayerSpec, LayerVersion};
use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::shapes::{parse, FunctionCodeInput};
use super::{answer, Outcome, Request};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PublishInput {
    description: Option<String>,
    content: Option<ContentInput>,
    compatible_runtimes: Option<Vec<String>>,
    license_info: Option<String>,
    compatible_architectures: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ContentInput {
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    s3_object_version: Option<String>,
    zip_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PermissionInput {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    organization_id: Option<String>,
}

/// The layer operation for the path below `/2018-10-31/layers`; `None` if there is none.
pub(super) fn route(lambda: &Lambda, req: &Request, rest: &[&str]) -> Option<Outcome> {
    let m = &req.method;
    Some(match (rest, m) {
        ([], &Method::GET) if req.param("find") == Some("LayerVersion") => get_by_arn(lambda, req),
        ([], &Method::GET) => list_layers(lambda, req),
        ([name, "versions"], &Method::POST) => publish(lambda, req, name),
        ([name, "versions"], &Method::GET) => list_versions(lambda, req, name),
        ([name, "versions", n], &Method::GET) => {
            let lv = lambda.get_layer_version(&req.scope, name, n);
            lv.and_then(|lv| answer(req.json(200, &layer_version(lambda, req, &lv)?)))
        }
        ([name, "versions", n], &Method::DELETE) => lambda
            .delete_layer_version(&req.scope, name, n)
            .and_then(|()| answer(req.empty(204))),
        ([name, "versions", n, "policy"], &Method::POST) => add_permission(lambda, req, name, n),
        ([name, "versions", n, "policy"], &Method::GET) => {
            let (policy, revision) = match lambda.get_layer_version_policy(&req.scope, name, n) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            answer(req.json(200, &json!({ "Policy": policy, "RevisionId": revision })))
        }
        ([name, "versions", n, "policy", sid], &Method::DELETE) => lambda
            .remove_layer_version_permission(&req.scope, name, n, sid, req.param("RevisionId"))
            .and_then(|()| answer(req.empty(204))),
        _ => return None,
    })
}

fn publish(lambda: &Lambda, req: &Request, name: &str) -> Outcome {
    let input: PublishInput = parse(&req.body)?;
    let content = match input.content {
        Some(c) => Some(
            FunctionCodeInput {
                zip_file: c.zip_file,
                s3_bucket: c.s3_bucket,
                s3_key: c.s3_key,
                s3_object_version: c.s3_object_version,
                image_uri: None,
            }
            .source("Content.ZipFile", &req.s3)?,
        ),
        None => None,
    };
    let lv = lambda.publish_layer_version(
        &req.scope,
        LayerSpec {
            layer_name: name.to_string(),
            description: input.description,
            content,
            compatible_runtimes: input.compatible_runtimes,
            compatible_architectures: input.compatible_architectures,
            license_info: input.license_info,
        },
    )?;
    answer(req.json(201, &layer_version(lambda, req, &lv)?))
}

fn get_by_arn(lambda: &Lambda, req: &Request) -> Outcome {
    let lv = lambda.get_layer_version_by_arn(&req.scope, req.param("Arn"))?;
    answer(req.json(200, &layer_version(lambda, req, &lv)?))
}

fn list_layers(lambda: &Lambda, req: &Request) -> Outcome {
    let page = lambda.list_layers(
        &req.scope,
        req.param("CompatibleRuntime"),
        req.param("CompatibleArchitecture"),
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let layers: Vec<Value> = page
        .items
        .iter()
        .map(|l| {
            json!({
                "LayerName": l.layer_name,
                "LayerArn": l.layer_arn,
                "LatestMatchingVersion": list_item(&l.latest),
            })
        })
        .collect();
    let mut body = json!({ "Layers": layers });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

fn list_versions(lambda: &Lambda, req: &Request, name: &str) -> Outcome {
    let page = lambda.list_layer_versions(
        &req.scope,
        name,
        req.param("CompatibleRuntime"),
        req.param("CompatibleArchitecture"),
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let versions: Vec<Value> = page.items.iter().map(list_item).collect();
    let mut body = json!({ "LayerVersions": versions });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

fn add_permission(lambda: &Lambda, req: &Request, name: &str, n: &str) -> Outcome {
    let input: PermissionInput = parse(&req.body)?;
    let (statement, revision) = lambda.add_layer_version_permission(
        &req.scope,
        name,
        n,
        LayerPermission {
            statement_id: input.statement_id,
            action: input.action,
            principal: input.principal,
            organization_id: input.organization_id,
            revision_id: req.param("RevisionId").map(str::to_string),
        },
    )?;
    answer(req.json(
        201,
        &json!({ "Statement": statement, "RevisionId": revision }),
    ))
}

/// The members a `LayerVersionsListItem` and a full layer version share.
fn common(lv: &LayerVersion) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("LayerVersionArn".into(), json!(lv.arn()));
    out.insert("Version".into(), json!(lv.version));
    out.insert("Description".into(), json!(lv.description));
    out.insert("CreatedDate".into(), json!(lv.created_date));
    if !lv.compatible_runtimes.is_empty() {
        out.insert("CompatibleRuntimes".into(), json!(lv.compatible_runtimes));
    }
    if let Some(l) = &lv.license_info {
        out.insert("LicenseInfo".into(), json!(l));
    }
    if !lv.compatible_architectures.is_empty() {
        out.insert(
            "CompatibleArchitectures".into(),
            json!(lv.compatible_architectures),
        );
    }
    out
}

fn list_item(lv: &LayerVersion) -> Value {
    Value::Object(common(lv))
}

/// PublishLayerVersion's, GetLayerVersion's answer: with `LayerArn` and `Content`, whose
/// `Location` is a time-limited download link like GetFunction's `Code.Location`.
fn layer_version(lambda: &Lambda, req: &Request, lv: &LayerVersion) -> Result<Value, LambdaError> {
    let token = lambda
        .code_store()
        .link_token(&lv.code.sha256_hex, chrono::Utc::now().timestamp())?;
    let mut out = common(lv);
    out.insert("LayerArn".into(), json!(lv.layer_arn()));
    out.insert(
        "Content".into(),
        json!({
            "Location": format!("http://{}/_vpclambda/code/{token}", req.host),
            "CodeSha256": lv.code.code_sha256,
            "CodeSize": lv.code.code_size,
        }),
    );
    Ok(Value::Object(out))
}
