//! Lambda's JSON wire shapes: request bodies decoded into `control::lambda` inputs, and
//! `FunctionConfiguration`, `AliasConfiguration` and friends encoded from domain records,
//! with the member names and constant members the botocore model has.

use std::collections::BTreeMap;

use control::lambda::{
    decode_blob, function_arn, runtime_version_arn, Alias, CodeSource, FunctionVersion,
    LambdaError, LogFormat, LoggingRequest, OptionsRequest, VpcRequest, LATEST,
};
use control::Scope;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Parses a JSON body; an empty body is an empty object (botocore sends none for some
/// operations without members).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, LambdaError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| LambdaError::InvalidRequestContent(e.to_string()))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateFunctionInput {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: Option<FunctionCodeInput>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub publish: Option<bool>,
    pub vpc_config: Option<VpcConfigInput>,
    pub package_type: Option<String>,
    pub environment: Option<EnvironmentInput>,
    pub tags: Option<BTreeMap<String, String>>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    pub code_signing_config_arn: Option<String>,
    pub layers: Option<Vec<String>>,
    pub tracing_config: Option<TracingConfigInput>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub snap_start: Option<SnapStartInput>,
    pub logging_config: Option<LoggingConfigInput>,
    pub dead_letter_config: Option<DeadLetterConfigInput>,
}

impl CreateFunctionInput {
    pub fn dead_letter_target(&self) -> Option<&str> {
        self.dead_letter_config.as_ref()?.target_arn.as_deref()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeadLetterConfigInput {
    pub target_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct FunctionCodeInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
}

impl FunctionCodeInput {
    /// The package: decoded from `ZipFile`, or read from S3 for the caller.
    pub fn source(self, member: &str, s3: &CodeFromS3) -> Result<CodeSource, LambdaError> {
        if let Some(zip) = self.zip_file {
            return Ok(CodeSource::Zip(decode_blob(member, &zip)?));
        }
        if self.s3_bucket.is_some() || self.s3_key.is_some() {
            let (Some(bucket), Some(key)) = (self.s3_bucket, self.s3_key) else {
                return Err(LambdaError::InvalidParameter(
                    "Please provide both S3Bucket and S3Key for function code in S3.".into(),
                ));
            };
            return Ok(CodeSource::Zip(s3.read(
                &bucket,
                &key,
                self.s3_object_version.as_deref(),
            )?));
        }
        if self.image_uri.is_some() {
            return Ok(CodeSource::Image);
        }
        Ok(CodeSource::Empty)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcConfigInput {
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_ids: Option<Vec<String>>,
    pub ipv6_allowed_for_dual_stack: Option<bool>,
}

impl From<VpcConfigInput> for VpcRequest {
    fn from(v: VpcConfigInput) -> Self {
        VpcRequest {
            subnet_ids: v.subnet_ids.unwrap_or_default(),
            security_group_ids: v.security_group_ids.unwrap_or_default(),
            ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack.unwrap_or(false),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnvironmentInput {
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EphemeralStorageInput {
    pub size: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfigurationInput {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub vpc_config: Option<VpcConfigInput>,
    pub environment: Option<EnvironmentInput>,
    pub runtime: Option<String>,
    pub revision_id: Option<String>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    pub layers: Option<Vec<String>>,
    pub tracing_config: Option<TracingConfigInput>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub snap_start: Option<SnapStartInput>,
    pub logging_config: Option<LoggingConfigInput>,
    pub dead_letter_config: Option<DeadLetterConfigInput>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TracingConfigInput {
    pub mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct SnapStartInput {
    pub apply_on: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoggingConfigInput {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// The members of [`OptionsRequest`], which create and update share (not flattened into
/// one struct: serde's flatten would hide the members it drops from [`super::members`]).
pub fn options(
    tracing: Option<TracingConfigInput>,
    kms_key_arn: Option<String>,
    snap_start: Option<SnapStartInput>,
    logging: Option<LoggingConfigInput>,
) -> OptionsRequest {
    OptionsRequest {
        // Lambda's defaults for an object given without its member.
        tracing_mode: tracing.map(|t| t.mode.unwrap_or_else(|| "PassThrough".into())),
        kms_key_arn,
        snap_start: snap_start.map(|s| s.apply_on.unwrap_or_else(|| "None".into())),
        logging: logging.map(|l| LoggingRequest {
            log_format: l.log_format,
            application_log_level: l.application_log_level,
            system_log_level: l.system_log_level,
            log_group: l.log_group,
        }),
    }
}

impl UpdateConfigurationInput {
    pub fn dead_letter_target(&self) -> Option<&str> {
        self.dead_letter_config.as_ref()?.target_arn.as_deref()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateCodeInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublishVersionInput {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfigInput>,
    pub revision_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct RoutingConfigInput {
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConcurrencyInput {
    pub reserved_concurrent_executions: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagsInput {
    pub tags: Option<BTreeMap<String, String>>,
}

/// `FunctionConfiguration`. `arn_qualifier` is the qualifier the `FunctionArn` carries:
/// none where Lambda answers with the unqualified ARN.
pub fn configuration(v: &FunctionVersion, scope: &Scope, arn_qualifier: Option<&str>) -> Value {
    let s = &v.settings;
    let mut out = Map::new();
    let mut put = |k: &str, value: Value| {
        out.insert(k.to_string(), value);
    };
    put("FunctionName", json!(v.function_name));
    put(
        "FunctionArn",
        json!(function_arn(scope, &v.function_name, arn_qualifier)),
    );
    put("Runtime", json!(s.runtime));
    put("Role", json!(s.role));
    put("Handler", json!(s.handler));
    put("CodeSize", json!(v.code.code_size));
    put("Description", json!(s.description));
    put("Timeout", json!(s.timeout));
    put("MemorySize", json!(s.memory_size));
    put("LastModified", json!(v.last_modified));
    put("CodeSha256", json!(v.code.code_sha256));
    put("Version", json!(v.version));
    if let Some(vpc) = &s.vpc {
        put(
            "VpcConfig",
            json!({
                "SubnetIds": vpc.subnet_ids,
                "SecurityGroupIds": vpc.security_group_ids,
                "VpcId": vpc.vpc_id,
                "Ipv6AllowedForDualStack": vpc.ipv6_allowed_for_dual_stack,
            }),
        );
    }
    if let Some(env) = &s.environment {
        put("Environment", json!({ "Variables": env }));
    }
    if !s.layers.is_empty() {
        let layers: Vec<Value> = (s.layers.iter())
            .map(|l| json!({ "Arn": l.arn, "CodeSize": l.code.code_size }))
            .collect();
        put("Layers", json!(layers));
    }
    if let Some(key) = &s.kms_key_arn {
        put("KMSKeyArn", json!(key));
    }
    put("TracingConfig", json!({ "Mode": s.tracing.as_str() }));
    put("RevisionId", json!(v.revision_id));
    let status = &v.status;
    put("State", json!(status.state.as_str()));
    if let Some(r) = &status.state_reason {
        put("StateReason", json!(r.text));
        put("StateReasonCode", json!(r.code));
    }
    if let Some(u) = status.last_update {
        put("LastUpdateStatus", json!(u.as_str()));
    }
    if let Some(r) = &status.last_update_reason {
        put("LastUpdateStatusReason", json!(r.text));
        put("LastUpdateStatusReasonCode", json!(r.code));
    }
    put("PackageType", json!("Zip"));
    put("Architectures", json!([s.architecture]));
    put("EphemeralStorage", json!({ "Size": s.ephemeral_storage }));
    // Published versions of a SnapStart function are optimized; `$LATEST` never is.
    let optimized = s.snap_start && v.version != LATEST;
    put(
        "SnapStart",
        json!({
            "ApplyOn": if s.snap_start { "PublishedVersions" } else { "None" },
            "OptimizationStatus": if optimized { "On" } else { "Off" },
        }),
    );
    put(
        "RuntimeVersionConfig",
        json!({ "RuntimeVersionArn": runtime_version_arn(scope, &s.runtime) }),
    );
    let logging = &s.logging;
    let mut log_config = json!({
        "LogFormat": logging.format.as_str(),
        "LogGroup": logging.group(&v.function_name),
    });
    if logging.format == LogFormat::Json {
        log_config["ApplicationLogLevel"] = json!(logging.application_level);
        log_config["SystemLogLevel"] = json!(logging.system_level);
    }
    put("LoggingConfig", log_config);
    Value::Object(out)
}

/// `AliasConfiguration`.
pub fn alias(a: &Alias, scope: &Scope) -> Value {
    let mut out = json!({
        "AliasArn": a.arn(scope),
        "Name": a.name,
        "FunctionVersion": a.function_version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if !a.routing.is_empty() {
        out["RoutingConfig"] = json!({ "AdditionalVersionWeights": a.routing });
    }
    out
}

/// What reads a deployment package from S3 for the caller, as Lambda does with the
/// caller's permission: a missing object or a refusal is Lambda's
/// `InvalidParameterValueException` naming S3's error.
pub struct CodeFromS3 {
    pub store: control::Store,
    pub blobs: control::s3::BlobStore,
    pub principal: control::s3::Principal,
}

/// The largest package Lambda reads from S3: its unzipped limit.
const S3_PACKAGE_LIMIT: u64 = 262_144_000;

impl CodeFromS3 {
    fn read(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Vec<u8>, LambdaError> {
        crate::services::s3::read_object(
            &self.store,
            &self.blobs,
            &self.principal,
            bucket,
            key,
            version,
            S3_PACKAGE_LIMIT,
        )
        .map_err(|e| match e {
            control::s3::S3Error::Store(s) => LambdaError::Store(s),
            control::s3::S3Error::EntityTooLarge => LambdaError::InvalidParameter(format!(
                "Unzipped size must be smaller than {S3_PACKAGE_LIMIT} bytes"
            )),
            control::s3::S3Error::AccessDenied => LambdaError::InvalidParameter(format!(
                "Your access has been denied by S3, please make sure your request credentials have permission to GetObject for {bucket}/{key}. S3 Error Code: AccessDenied. S3 Error Message: Access Denied"
            )),
            other => LambdaError::InvalidParameter(format!(
                "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                other.code(),
                other
            )),
        })
    }
}
