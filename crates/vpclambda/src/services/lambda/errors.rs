//! The one mapping from Lambda domain errors to AWS errors: code, HTTP status, and the
//! `Message` member the model gives some shapes (wire always writes `message`). A function,
//! not a `From` impl: both types are foreign to this crate.

use control::lambda::LambdaError;
use wire::AwsError;

use crate::invoke::{InvokeError, Throttle};

pub fn to_aws(e: LambdaError) -> AwsError {
    let message = e.to_string();
    match &e {
        LambdaError::Validation(_) => AwsError::new(400, "ValidationException", message),
        LambdaError::InvalidParameter(_) => {
            AwsError::new(400, "InvalidParameterValueException", message)
        }
        LambdaError::InvalidRequestContent(_) => {
            AwsError::new(400, "InvalidRequestContentException", message)
        }
        LambdaError::FunctionNotFound { .. }
        | LambdaError::AliasNotFound { .. }
        | LambdaError::OtherRegion { .. }
        | LambdaError::ResourceNotFound(_) => {
            with_capital_message(AwsError::new(404, "ResourceNotFoundException", message))
        }
        LambdaError::AccessDenied { .. } => {
            with_capital_message(AwsError::new(403, "AccessDeniedException", message))
        }
        LambdaError::ProvisionedConfigNotFound => AwsError::new(
            404,
            "ProvisionedConcurrencyConfigNotFoundException",
            message,
        ),
        LambdaError::Conflict(_) => AwsError::new(409, "ResourceConflictException", message),
        LambdaError::RevisionMismatch | LambdaError::Precondition(_) => {
            AwsError::new(412, "PreconditionFailedException", message)
        }
        LambdaError::PolicyLengthExceeded { .. } => {
            AwsError::new(400, "PolicyLengthExceededException", message)
        }
        LambdaError::CodeStorageExceeded => {
            AwsError::new(400, "CodeStorageExceededException", message)
        }
        LambdaError::PackageTooLarge(_) => AwsError::new(413, "RequestTooLargeException", message),
        LambdaError::CodeSigningConfigNotFound { .. } => with_capital_message(AwsError::new(
            404,
            "CodeSigningConfigNotFoundException",
            message,
        )),
        LambdaError::CodeVerificationFailed(_) => with_capital_message(AwsError::new(
            400,
            "CodeVerificationFailedException",
            message,
        )),
        LambdaError::PackageIo(_)
        | LambdaError::CodeStore { .. }
        | LambdaError::Store(_)
        | LambdaError::Logs(_)
        | LambdaError::PolicyUnreadable(_) => service_error(&e),
    }
}

/// Invoke's refusals: the domain errors as above, and those of running functions.
pub fn invoke_to_aws(e: InvokeError) -> AwsError {
    let message = e.to_string();
    match e {
        InvokeError::Lambda(e) => to_aws(e),
        InvokeError::Throttled(limit) => AwsError::new(429, "TooManyRequestsException", message)
            .with_field(
                "Reason",
                match limit {
                    Throttle::Reserved => "ReservedFunctionConcurrentInvocationLimitExceeded",
                    Throttle::Account => "ConcurrentInvocationLimitExceeded",
                    // Arrivals beyond what the host runs: a rate, not a configured limit, so
                    // raising a concurrency setting would not help the caller.
                    Throttle::Host => "FunctionInvocationRateLimitExceeded",
                },
            )
            .with_header("Retry-After", "1"),
        InvokeError::NotInvocable(_) => AwsError::new(409, "ResourceConflictException", message),
        InvokeError::Inactive => AwsError::new(502, "ResourceNotReadyException", message),
        InvokeError::NetworkFailed { code, .. } => {
            with_capital_message(AwsError::new(502, code, message))
        }
        InvokeError::ExecutionUnavailable(_) => {
            with_capital_message(AwsError::new(500, "ServiceException", message))
        }
        InvokeError::InvalidRuntime(_) => AwsError::new(502, "InvalidRuntimeException", message),
        InvokeError::InvalidRequest(_) => {
            AwsError::new(400, "InvalidRequestContentException", message)
        }
        InvokeError::PayloadTooLarge(_) => AwsError::new(413, "RequestTooLargeException", message),
        InvokeError::Host(detail) => {
            tracing::error!(error = %detail, "invocation failed");
            with_capital_message(AwsError::new(
                500,
                "ServiceException",
                "The Lambda service encountered an internal error.",
            ))
        }
    }
}

/// Faults of ours: the detail goes to the log, the client gets Lambda's generic text.
fn service_error(e: &LambdaError) -> AwsError {
    tracing::error!(error = %e, "lambda request failed");
    with_capital_message(AwsError::new(
        500,
        "ServiceException",
        "The Lambda service encountered an internal error.",
    ))
}

/// Shapes whose model member is `Message` get it in that spelling too.
fn with_capital_message(e: AwsError) -> AwsError {
    let message = e.message.clone();
    e.with_field("Message", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: Vec<(LambdaError, u16, &str)> = vec![
            (
                LambdaError::Validation(vec!["x".into()]),
                400,
                "ValidationException",
            ),
            (
                LambdaError::FunctionNotFound { arn: "a".into() },
                404,
                "ResourceNotFoundException",
            ),
            (
                LambdaError::Conflict("c".into()),
                409,
                "ResourceConflictException",
            ),
            (
                LambdaError::RevisionMismatch,
                412,
                "PreconditionFailedException",
            ),
        ];
        for (e, status, code) in cases {
            let a = to_aws(e);
            assert_eq!(a.status.as_u16(), status);
            assert_eq!(a.code, code);
        }
        let throttled = invoke_to_aws(InvokeError::Throttled(Throttle::Reserved));
        assert_eq!(throttled.status.as_u16(), 429);
        assert_eq!(throttled.message, "Rate Exceeded.");
        assert_eq!(
            throttled.fields,
            vec![(
                "Reason".to_string(),
                "ReservedFunctionConcurrentInvocationLimitExceeded".into()
            )]
        );
        assert_eq!(
            throttled.headers,
            vec![("Retry-After".to_string(), "1".to_string())]
        );
        let host = invoke_to_aws(InvokeError::Throttled(Throttle::Host));
        assert_eq!(
            (host.status.as_u16(), host.code.as_str()),
            (429, "TooManyRequestsException")
        );
        assert_eq!(
            host.fields,
            vec![(
                "Reason".to_string(),
                "FunctionInvocationRateLimitExceeded".into()
            )]
        );
        assert_eq!(host.headers, throttled.headers);
        let pending = invoke_to_aws(InvokeError::NotInvocable("Pending"));
        assert_eq!(
            (pending.status.as_u16(), pending.message.as_str()),
            (409, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
        );
        let nf = to_aws(LambdaError::FunctionNotFound { arn: "arn".into() });
        assert_eq!(
            nf.fields,
            vec![("Message".to_string(), "Function not found: arn".into())]
        );
    }
}
