//! The lambda wire adapter: decodes rest-json requests (path, query, JSON body), calls
//! `control::lambda`, encodes responses. Domain work is synchronous store and file work, so
//! each request runs on a blocking thread; state transitions it starts run afterwards.

mod errors;
mod event_config;
mod invoke;
mod jobs;
mod layers;
mod members;
mod policy;
mod provisioned;
mod settings;
mod shapes;
mod signing;

use std::sync::Arc;

use bytes::Bytes;
use control::lambda::{
    AliasSpec, CodeChange, ConfigChange, FunctionRef, FunctionSpec, Lambda, LambdaError, NameShape,
    ProvisionJob, PublishRequest, Resolved,
};
use control::Scope;
use http::{Method, Response};
use serde_json::{json, Value};
use wire::AwsError;

use super::Call;
use crate::server::AppState;
use shapes::parse;

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let req = Request::from_call(state, call);
    if let ([v, "functions", f, "invocations"], &Method::POST) = (
        req.segments
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        &req.method,
    ) {
        if *v == "2015-03-31" {
            return invoke::invoke(state, &req, f).await;
        }
    }
    if let (["2014-11-13", "functions", f, "invoke-async"], &Method::POST) = (
        req.segments
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        &req.method,
    ) {
        return invoke::invoke_async(state, &req, f).await;
    }
    let changes = req.method != Method::GET;
    let lambda = Lambda::new(state.store.clone(), &state.config.data_dir);
    let worker = lambda.clone();
    let span =
        tracing::debug_span!("lambda", request_id = %call.request_id, path = %call.uri.path());
    let routed = tokio::task::spawn_blocking(move || span.in_scope(|| route(&worker, &req)))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "lambda request panicked");
            AwsError::internal()
        })?;
    let routed = routed.ok_or_else(|| super::unknown_rest_operation(call))?;
    // Whatever a change did (or a failed one might have done), Invoke re-reads it.
    if changes || routed.as_ref().is_ok_and(|(_, jobs)| !jobs.is_empty()) {
        state.invoke.control_plane_changed();
        // A deleted function or a removed VPC configuration lets go of ENIs: their reclaim
        // delay starts now.
        state.reclaim_now.notify_one();
    }
    let (resp, jobs) = routed?;
    for job in jobs {
        jobs::spawn(
            lambda.clone(),
            job,
            state.invoke.clone(),
            state.provisioner.clone(),
        );
    }
    Ok(resp)
}

/// What a handler needs of the call, owned so it can move to a blocking thread.
struct Request {
    method: Method,
    /// Path segments, percent-decoded, without empty ones (so a trailing slash is ignored).
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: http::HeaderMap,
    body: Bytes,
    scope: Scope,
    /// Who signed it, for resource policies.
    caller: control::lambda::Caller,
    request_id: String,
    host: String,
    /// Reads code packages from S3 as the caller.
    s3: shapes::CodeFromS3,
}

impl Request {
    fn from_call(state: &AppState, call: &Call) -> Request {
        Request {
            method: call.method.clone(),
            segments: call
                .uri
                .path()
                .split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect(),
            query: call.uri.query().map(query_pairs).unwrap_or_default(),
            headers: call.headers.clone(),
            body: call.body.clone(),
            scope: Scope::new(call.account.account_id.clone(), call.region.clone()),
            caller: policy::caller_of(call),
            request_id: call.request_id.clone(),
            host: call
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_string(),
            s3: shapes::CodeFromS3 {
                store: state.store.clone(),
                blobs: state.blobs.clone(),
                principal: crate::services::s3::principal_of(call),
            },
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn int_param(&self, name: &str) -> Result<Option<i64>, LambdaError> {
        self.param(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    LambdaError::InvalidRequestContent(format!("{name} is not an integer: {v}"))
                })
            })
            .transpose()
    }

    fn function(
        &self,
        raw: &str,
        shape: NameShape,
        action: &str,
    ) -> Result<FunctionRef, LambdaError> {
        FunctionRef::parse(raw, shape, &self.scope, action)
    }

    fn json(&self, status: u16, value: &Value) -> Response<Bytes> {
        wire::response::json(status, value, "application/json", &self.request_id)
    }

    fn empty(&self, status: u16) -> Response<Bytes> {
        wire::response::empty(status, &self.request_id)
    }
}

type Handled = Result<(Response<Bytes>, Vec<ProvisionJob>), AwsError>;

/// The operation for the method and path, run; `None` if there is no such operation.
fn route(lambda: &Lambda, req: &Request) -> Option<Handled> {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    let result = match (segs.as_slice(), m) {
        (["2015-03-31", "functions"], &Method::POST) => create_function(lambda, req),
        (["2015-03-31", "functions"], &Method::GET) => list_functions(lambda, req),
        (["2015-03-31", "functions", f], &Method::GET) => get_function(lambda, req, f),
        (["2015-03-31", "functions", f], &Method::DELETE) => delete_function(lambda, req, f),
        (["2015-03-31", "functions", f, "configuration"], &Method::GET) => {
            get_configuration(lambda, req, f)
        }
        (["2015-03-31", "functions", f, "configuration"], &Method::PUT) => {
            update_configuration(lambda, req, f)
        }
        (["2015-03-31", "functions", f, "code"], &Method::PUT) => update_code(lambda, req, f),
        (["2015-03-31", "functions", f, "versions"], &Method::POST) => {
            publish_version(lambda, req, f)
        }
        (["2015-03-31", "functions", f, "versions"], &Method::GET) => list_versions(lambda, req, f),
        (["2015-03-31", "functions", f, "aliases"], &Method::POST) => create_alias(lambda, req, f),
        (["2015-03-31", "functions", f, "aliases"], &Method::GET) => list_aliases(lambda, req, f),
        (["2015-03-31", "functions", f, "aliases", a], _) => alias(lambda, req, f, a),
        (["2015-03-31", "functions", f, "policy"], &Method::POST) => {
            policy::add_permission(lambda, req, f)
        }
        (["2015-03-31", "functions", f, "policy"], &Method::GET) => {
            policy::get_policy(lambda, req, f)
        }
        (["2015-03-31", "functions", f, "policy", sid], &Method::DELETE) => {
            policy::remove_permission(lambda, req, f, sid)
        }
        (["2017-10-31", "functions", f, "concurrency"], &Method::PUT) => {
            put_concurrency(lambda, req, f)
        }
        (["2017-10-31", "functions", f, "concurrency"], &Method::DELETE) => {
            delete_concurrency(lambda, req, f)
        }
        (["2019-09-30", "functions", f, "concurrency"], &Method::GET) => {
            get_concurrency(lambda, req, f)
        }
        (["2019-09-25", "functions", f, "event-invoke-config"], _) => {
            event_config::handle(lambda, req, f)
        }
        (["2019-09-25", "functions", f, "event-invoke-config", "list"], &Method::GET) => {
            event_config::list(lambda, req, f)
        }
        (["2019-09-30", "functions", f, "provisioned-concurrency"], _) => {
            provisioned::route(lambda, req, f)
        }
        (["2016-08-19", "account-settings"], &Method::GET) => account_settings(lambda, req),
        (["2017-03-31", "tags", arn], _) => tags(lambda, req, arn),
        (["2018-10-31", "layers", rest @ ..], _) => layers::route(lambda, req, rest)?,
        _ => settings::route(lambda, req, segs.as_slice())?,
    };
    Some(result.map_err(errors::to_aws))
}

type Outcome = Result<(Response<Bytes>, Vec<ProvisionJob>), LambdaError>;

fn answer(resp: Response<Bytes>) -> Outcome {
    Ok((resp, Vec::new()))
}

fn create_function(lambda: &Lambda, req: &Request) -> Outcome {
    let input: shapes::CreateFunctionInput = members::parse_input(&req.body, "CreateFunction")?;
    control::lambda::check_dead_letter(input.dead_letter_target())?;
    let spec = FunctionSpec {
        function_name: input.function_name,
        runtime: input.runtime,
        role: input.role,
        handler: input.handler,
        description: input.description,
        timeout: input.timeout,
        memory_size: input.memory_size,
        environment: input.environment.map(|e| e.variables.unwrap_or_default()),
        ephemeral_storage: input.ephemeral_storage.and_then(|e| e.size),
        architectures: input.architectures,
        vpc: input.vpc_config.map(Into::into),
        package_type: input.package_type,
        tags: input.tags.unwrap_or_default(),
        publish: input.publish.unwrap_or(false),
        layers: input.layers,
        code: match input.code {
            Some(code) => code.source("Code.ZipFile", &req.s3)?,
            None => control::lambda::CodeSource::Absent,
        },
        code_signing_config_arn: input.code_signing_config_arn,
        options: shapes::options(
            input.tracing_config,
            input.kms_key_arn,
            input.snap_start,
            input.logging_config,
        ),
    };
    let changed = lambda.create(&req.scope, spec, jobs::runner_id())?;
    let body = shapes::configuration(&changed.version, &req.scope, None);
    Ok((req.json(201, &body), changed.job.into_iter().collect()))
}

fn list_functions(lambda: &Lambda, req: &Request) -> Outcome {
    let all = match req.param("FunctionVersion") {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(LambdaError::Validation(vec![format!(
                "Value '{other}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            )]))
        }
    };
    let page = lambda.list(
        &req.scope,
        all,
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let functions: Vec<Value> = page
        .items
        .iter()
        .map(|v| shapes::configuration(v, &req.scope, all.then_some(v.version.as_str())))
        .collect();
    let mut body = json!({ "Functions": functions });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

/// Resolves `f` with `?Qualifier=` (another account's function if its policy allows the
/// caller `action`) to the version and its owner's scope, and adopts a transition a previous
/// daemon left behind.
fn resolve(
    lambda: &Lambda,
    req: &Request,
    f: &str,
    action: &str,
) -> Result<(Resolved, Option<String>, Scope, Vec<ProvisionJob>), LambdaError> {
    let (fref, owner) = policy::owned_function(lambda, req, f, &format!("lambda:{action}"))?;
    let resolved = lambda.get(&owner, &fref)?;
    let orphaned = resolved
        .function
        .provisioning
        .as_ref()
        .is_some_and(|p| p.runner != jobs::runner_id());
    let mut adopted = Vec::new();
    if orphaned {
        adopted.extend(lambda.adopt_orphan(&owner, &fref.name, jobs::runner_id())?);
    }
    Ok((resolved, fref.qualifier, owner, adopted))
}

fn get_function(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let (resolved, qualifier, owner, adopted) = resolve(lambda, req, f, "GetFunction")?;
    let token = lambda.code_store().link_token(
        &resolved.version.code.sha256_hex,
        chrono::Utc::now().timestamp(),
    )?;
    let mut body = json!({
        "Configuration": shapes::configuration(&resolved.version, &owner, qualifier.as_deref()),
        "Code": {
            "RepositoryType": "S3",
            "Location": format!("http://{}/_vpclambda/code/{token}", req.host),
        },
    });
    if !resolved.function.tags.is_empty() {
        body["Tags"] = json!(resolved.function.tags);
    }
    if let Some(n) = resolved.function.reserved_concurrency {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok((req.json(200, &body), adopted))
}

fn get_configuration(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let (resolved, qualifier, owner, adopted) =
        resolve(lambda, req, f, "GetFunctionConfiguration")?;
    let body = shapes::configuration(&resolved.version, &owner, qualifier.as_deref());
    Ok((req.json(200, &body), adopted))
}

fn delete_function(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req
        .function(f, NameShape::Namespaced, "DeleteFunction")?
        .with_qualifier(req.param("Qualifier"))?;
    lambda.delete(&req.scope, &fref)?;
    answer(req.empty(204))
}

fn update_configuration(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "UpdateFunctionConfiguration")?;
    let input: shapes::UpdateConfigurationInput =
        members::parse_input(&req.body, "UpdateFunctionConfiguration")?;
    control::lambda::check_dead_letter(input.dead_letter_target())?;
    let change = ConfigChange {
        role: input.role,
        handler: input.handler,
        description: input.description,
        timeout: input.timeout,
        memory_size: input.memory_size,
        environment: input.environment.map(|e| e.variables.unwrap_or_default()),
        runtime: input.runtime,
        ephemeral_storage: input.ephemeral_storage.and_then(|e| e.size),
        vpc: input.vpc_config.map(Into::into),
        revision_id: input.revision_id,
        layers: input.layers,
        options: shapes::options(
            input.tracing_config,
            input.kms_key_arn,
            input.snap_start,
            input.logging_config,
        ),
    };
    let changed = lambda.update_configuration(&req.scope, &fref, change, jobs::runner_id())?;
    let body = shapes::configuration(&changed.version, &req.scope, None);
    Ok((req.json(200, &body), changed.job.into_iter().collect()))
}

fn update_code(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "UpdateFunctionCode")?;
    let input: shapes::UpdateCodeInput = members::parse_input(&req.body, "UpdateFunctionCode")?;
    let publish = input.publish.unwrap_or(false);
    let code = shapes::FunctionCodeInput {
        zip_file: input.zip_file,
        s3_bucket: input.s3_bucket,
        s3_key: input.s3_key,
        s3_object_version: input.s3_object_version,
        image_uri: input.image_uri,
    }
    .source("ZipFile", &req.s3)?;
    let change = CodeChange {
        code,
        architectures: input.architectures,
        publish,
        dry_run: input.dry_run.unwrap_or(false),
        revision_id: input.revision_id,
    };
    let changed = lambda.update_code(&req.scope, &fref, change, jobs::runner_id())?;
    let qualifier = publish.then_some(changed.version.version.as_str());
    let body = shapes::configuration(&changed.version, &req.scope, qualifier);
    Ok((req.json(200, &body), changed.job.into_iter().collect()))
}

fn publish_version(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "PublishVersion")?;
    let input: shapes::PublishVersionInput = members::parse_input(&req.body, "PublishVersion")?;
    let version = lambda.publish(
        &req.scope,
        &fref,
        PublishRequest {
            code_sha256: input.code_sha256,
            description: input.description,
            revision_id: input.revision_id,
        },
    )?;
    let body = shapes::configuration(&version, &req.scope, Some(&version.version));
    answer(req.json(201, &body))
}

fn list_versions(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Namespaced, "ListVersionsByFunction")?;
    let name = fref.unqualified()?;
    let page = lambda.versions(
        &req.scope,
        name,
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let versions: Vec<Value> = page
        .items
        .iter()
        .map(|v| shapes::configuration(v, &req.scope, Some(&v.version)))
        .collect();
    let mut body = json!({ "Versions": versions });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

fn create_alias(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "CreateAlias")?;
    let input: shapes::AliasInput = members::parse_input(&req.body, "CreateAlias")?;
    let Some(name) = input.name else {
        return Err(LambdaError::Validation(vec![
            "Value null at 'name' failed to satisfy constraint: Member must not be null".into(),
        ]));
    };
    let alias = lambda.create_alias(
        &req.scope,
        &fref,
        AliasSpec {
            name,
            function_version: input.function_version,
            description: input.description,
            routing: input
                .routing_config
                .map(|r| r.additional_version_weights.unwrap_or_default()),
            revision_id: None,
        },
    )?;
    answer(req.json(201, &shapes::alias(&alias, &req.scope)))
}

fn list_aliases(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "ListAliases")?;
    let page = lambda.list_aliases(
        &req.scope,
        &fref,
        req.param("FunctionVersion"),
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let aliases: Vec<Value> = page
        .items
        .iter()
        .map(|a| shapes::alias(a, &req.scope))
        .collect();
    let mut body = json!({ "Aliases": aliases });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

fn alias(lambda: &Lambda, req: &Request, f: &str, name: &str) -> Outcome {
    let action = match req.method {
        Method::GET => "GetAlias",
        Method::PUT => "UpdateAlias",
        _ => "DeleteAlias",
    };
    let fref = req.function(f, NameShape::Function, action)?;
    match req.method {
        Method::GET => {
            let alias = lambda.get_alias(&req.scope, &fref, name)?;
            answer(req.json(200, &shapes::alias(&alias, &req.scope)))
        }
        Method::PUT => {
            let input: shapes::AliasInput = members::parse_input(&req.body, "UpdateAlias")?;
            let alias = lambda.update_alias(
                &req.scope,
                &fref,
                AliasSpec {
                    name: name.to_string(),
                    function_version: input.function_version,
                    description: input.description,
                    routing: input
                        .routing_config
                        .map(|r| r.additional_version_weights.unwrap_or_default()),
                    revision_id: input.revision_id,
                },
            )?;
            answer(req.json(200, &shapes::alias(&alias, &req.scope)))
        }
        Method::DELETE => {
            lambda.delete_alias(&req.scope, &fref, name)?;
            answer(req.empty(204))
        }
        _ => Err(LambdaError::InvalidRequestContent(format!(
            "{} is not an alias operation",
            req.method
        ))),
    }
}

fn put_concurrency(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "PutFunctionConcurrency")?;
    let input: shapes::ConcurrencyInput = parse(&req.body)?;
    let n = lambda.put_concurrency(&req.scope, &fref, input.reserved_concurrent_executions)?;
    answer(req.json(200, &json!({ "ReservedConcurrentExecutions": n })))
}

fn get_concurrency(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "GetFunctionConcurrency")?;
    let body = match lambda.get_concurrency(&req.scope, &fref)? {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    answer(req.json(200, &body))
}

fn delete_concurrency(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Function, "DeleteFunctionConcurrency")?;
    lambda.delete_concurrency(&req.scope, &fref)?;
    answer(req.empty(204))
}

fn account_settings(lambda: &Lambda, req: &Request) -> Outcome {
    let s = lambda.account_settings(&req.scope)?;
    answer(req.json(
        200,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": s.total_code_size_limit,
                "CodeSizeUnzipped": s.code_size_unzipped,
                "CodeSizeZipped": s.code_size_zipped,
                "ConcurrentExecutions": s.concurrent_executions,
                "UnreservedConcurrentExecutions": s.unreserved_concurrent_executions,
            },
            "AccountUsage": {
                "TotalCodeSize": s.total_code_size,
                "FunctionCount": s.function_count,
            },
        }),
    ))
}

fn tags(lambda: &Lambda, req: &Request, arn: &str) -> Outcome {
    match req.method {
        Method::GET => {
            let tags = lambda.tags(&req.scope, arn)?;
            answer(req.json(200, &json!({ "Tags": tags })))
        }
        Method::POST => {
            let input: shapes::TagsInput = parse(&req.body)?;
            let Some(tags) = input.tags else {
                return Err(LambdaError::Validation(vec![
                    "Value null at 'tags' failed to satisfy constraint: Member must not be null"
                        .into(),
                ]));
            };
            lambda.tag(&req.scope, arn, tags)?;
            answer(req.empty(204))
        }
        Method::DELETE => {
            lambda.untag(&req.scope, arn, &req.params("tagKeys"))?;
            answer(req.empty(204))
        }
        _ => Err(LambdaError::InvalidRequestContent(format!(
            "{} is not a tagging operation",
            req.method
        ))),
    }
}

/// `%XX` escapes decoded; anything else kept. Invalid UTF-8 becomes U+FFFD, which no name
/// pattern accepts.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL query string's pairs in order, repeated keys kept (`tagKeys=a&tagKeys=b`).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            query_pairs("tagKeys=a&tagKeys=b%20c&Qualifier=%24LATEST"),
            vec![
                ("tagKeys".into(), "a".into()),
                ("tagKeys".into(), "b c".into()),
                ("Qualifier".into(), "$LATEST".into()),
            ]
        );
    }
}
