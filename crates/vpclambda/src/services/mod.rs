//! The AWS services on the one port, chosen by the SigV4 credential scope's service name,
//! and the dispatch of a verified call to its service. Each service module turns wire
//! requests into domain calls and domain results into wire responses; domain rules live in
//! `control`.

mod ec2;
mod iam;
pub(crate) mod lambda;
mod logs;
mod monitoring;
pub mod s3;
mod sts;

use std::sync::Arc;

use bytes::Bytes;
use control::Account;
use http::{HeaderMap, Method, Response, Uri};
use wire::{AwsError, Protocol, QueryParams};

use crate::dataplane::Ec2Change;
use crate::server::AppState;

pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Lambda's synchronous request payload limit, in bytes.
pub const INVOKE_PAYLOAD_LIMIT: usize = 6_291_456;
/// The largest CreateFunction/UpdateFunctionCode request: 50 MB of zip, base64-encoded, in JSON.
pub const LAMBDA_REQUEST_LIMIT: usize = 70_167_211;
/// Every other service's request limit.
pub const DEFAULT_REQUEST_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Lambda,
    Ec2,
    Iam,
    Sts,
    Logs,
    /// CloudWatch metrics.
    Monitoring,
}

impl Service {
    /// The name a credential scope gives the service.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Lambda => "lambda",
            Service::Ec2 => "ec2",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::Logs => "logs",
            Service::Monitoring => "monitoring",
        }
    }

    /// The service a credential scope names.
    pub fn from_signing_name(name: &str) -> Option<Service> {
        Some(match name {
            "lambda" => Service::Lambda,
            "ec2" => Service::Ec2,
            "iam" => Service::Iam,
            "sts" => Service::Sts,
            "logs" => Service::Logs,
            "monitoring" => Service::Monitoring,
            _ => return None,
        })
    }

    /// The protocol of a request with these headers and path: CloudWatch's clients choose
    /// between two, every other service has one.
    pub fn protocol_for(self, headers: &HeaderMap, path: &str) -> Protocol {
        match self {
            Service::Monitoring => monitoring::protocol_of(headers, path),
            _ => self.protocol(),
        }
    }

    /// The service's protocol (for CloudWatch, the query protocol of older clients).
    pub fn protocol(self) -> Protocol {
        match self {
            Service::Lambda => Protocol::RestJson,
            Service::Ec2 => Protocol::Ec2,
            Service::Iam => Protocol::Query { xmlns: IAM_XMLNS },
            Service::Sts => Protocol::Query { xmlns: STS_XMLNS },
            Service::Logs => Protocol::Json11,
            Service::Monitoring => Protocol::Query {
                xmlns: monitoring::XMLNS,
            },
        }
    }

    /// How large a request body may be, and the error when it is larger.
    pub fn body_limit(self, path: &str) -> (usize, AwsError) {
        match self {
            Service::Lambda if path.ends_with("/invocations") || path.ends_with("/invocations/") => (
                INVOKE_PAYLOAD_LIMIT,
                AwsError::new(
                    413,
                    "RequestTooLargeException",
                    format!("Request must be smaller than {INVOKE_PAYLOAD_LIMIT} bytes for the InvokeFunction operation"),
                ),
            ),
            Service::Lambda => (
                LAMBDA_REQUEST_LIMIT,
                AwsError::new(
                    413,
                    "RequestTooLargeException",
                    format!("Request must be smaller than {LAMBDA_REQUEST_LIMIT} bytes"),
                ),
            ),
            _ => (
                DEFAULT_REQUEST_LIMIT,
                AwsError::new(
                    413,
                    "RequestEntityTooLarge",
                    format!("Request body must be smaller than {DEFAULT_REQUEST_LIMIT} bytes"),
                ),
            ),
        }
    }
}

/// One authenticated request.
pub struct Call {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
    pub account: Account,
    /// Set when the request was signed with temporary credentials (an execution role's).
    pub session: Option<control::sts::Session>,
    pub region: String,
}

impl Call {
    /// The query-protocol parameters: the form body with the URL query's as fallback.
    pub fn query_params(&self) -> Result<QueryParams, AwsError> {
        let mut params = QueryParams::parse(&self.body)?;
        if let Some(q) = self.uri.query() {
            params.merge_missing(QueryParams::parse(q.as_bytes())?);
        }
        Ok(params)
    }
}

pub async fn dispatch(
    service: Service,
    state: &Arc<AppState>,
    call: Call,
) -> Result<Response<Bytes>, AwsError> {
    match service {
        Service::Sts => sts::handle(state, &call),
        Service::Iam => iam::handle(state, &call).await,
        Service::Ec2 => {
            let out = ec2::handle(state, &call).await;
            if let Ok(response) = &out {
                match crate::dataplane::ec2_change(&call, response) {
                    Ec2Change::None => {}
                    Ec2Change::GroupRules(id) => {
                        let scope = control::Scope::new(
                            call.account.account_id.clone(),
                            call.region.clone(),
                        );
                        state.dataplane.group_changed(scope, id);
                    }
                    Ec2Change::Interface(id) => {
                        let scope = control::Scope::new(
                            call.account.account_id.clone(),
                            call.region.clone(),
                        );
                        state.dataplane.interface_changed(scope, id);
                    }
                    Ec2Change::Other => {
                        state.dataplane.changed();
                    }
                }
            }
            out
        }
        Service::Lambda => lambda::handle(state, &call).await,
        Service::Logs => logs::handle(state, &call),
        Service::Monitoring => monitoring::handle(state, &call).await,
    }
}

/// The query protocols' error for a missing or unknown `Action`.
pub fn unknown_query_action(service: Service, params: &QueryParams) -> AwsError {
    let Some(action) = params.get("Action") else {
        return AwsError::new(
            400,
            "MissingAction",
            "The request must contain the parameter Action",
        );
    };
    match service {
        Service::Ec2 => AwsError::new(
            400,
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ),
        _ => AwsError::new(
            400,
            "InvalidAction",
            format!(
                "Could not find operation {action} for version {}",
                params.get("Version").unwrap_or("NO_VERSION_SPECIFIED")
            ),
        ),
    }
}

/// rest-json's error for a path/method no operation has.
pub fn unknown_rest_operation(call: &Call) -> AwsError {
    AwsError::new(
        404,
        "UnknownOperationException",
        format!("Unknown operation {} {}", call.method, call.uri.path()),
    )
}

/// JSON 1.1's error for an `X-Amz-Target` no operation has.
pub fn unknown_json_operation(call: &Call) -> AwsError {
    let target = call
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    AwsError::new(
        400,
        "UnknownOperationException",
        format!("Unknown operation {target}"),
    )
}
