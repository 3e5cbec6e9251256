//! Authentication failures in each service's own words. `sigv4` says *what* is wrong with
//! a signature; this module says how Lambda, EC2, IAM, STS, Logs and CloudWatch each report
//! it.

use sigv4::{SigError, SigErrorKind};
use wire::AwsError;

use crate::services::Service;

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// A failed signature check, as `service` reports it.
pub fn signature_error(service: Service, err: &SigError) -> AwsError {
    let message = err.to_string();
    match err.kind() {
        SigErrorKind::Missing => missing(service),
        SigErrorKind::Incomplete => match service {
            Service::Lambda | Service::Logs => {
                AwsError::new(400, "IncompleteSignatureException", message)
            }
            _ => AwsError::new(400, "IncompleteSignature", message),
        },
        SigErrorKind::Mismatch => mismatch(service, message),
        SigErrorKind::Clock => match service {
            Service::Ec2 => AwsError::new(400, "RequestExpired", "Request has expired."),
            _ => mismatch(service, message),
        },
    }
}

fn mismatch(service: Service, message: String) -> AwsError {
    match service {
        Service::Lambda => AwsError::new(403, "InvalidSignatureException", message),
        Service::Logs => AwsError::new(400, "InvalidSignatureException", message),
        Service::Ec2 | Service::Iam | Service::Sts | Service::Monitoring => {
            AwsError::new(403, "SignatureDoesNotMatch", message)
        }
    }
}

/// No authentication at all.
pub fn missing(service: Service) -> AwsError {
    match service {
        Service::Lambda | Service::Logs => {
            AwsError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        }
        _ => AwsError::new(
            403,
            "MissingAuthenticationToken",
            "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
        ),
    }
}

/// An access key no account owns.
pub fn unknown_key(service: Service) -> AwsError {
    match service {
        Service::Lambda => AwsError::new(403, "UnrecognizedClientException", INVALID_TOKEN),
        Service::Logs => AwsError::new(400, "UnrecognizedClientException", INVALID_TOKEN),
        Service::Ec2 => AwsError::new(
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        ),
        Service::Iam | Service::Sts | Service::Monitoring => {
            AwsError::new(403, "InvalidClientTokenId", INVALID_TOKEN)
        }
    }
}

/// Temporary credentials past their expiry.
pub fn expired_token(service: Service) -> AwsError {
    const EXPIRED: &str = "The security token included in the request is expired";
    match service {
        Service::Lambda => AwsError::new(403, "ExpiredTokenException", EXPIRED),
        Service::Logs => AwsError::new(400, "ExpiredTokenException", EXPIRED),
        Service::Ec2 => AwsError::new(400, "RequestExpired", "Request has expired."),
        Service::Iam | Service::Sts | Service::Monitoring => {
            AwsError::new(403, "ExpiredToken", EXPIRED)
        }
    }
}

/// A credential scope naming a region that does not exist.
pub fn bad_region(service: Service, region: &str) -> AwsError {
    mismatch(
        service,
        format!("Credential should be scoped to a valid region, not '{region}'. "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

    #[test]
    fn each_service_names_a_bad_signature_its_own_way() {
        let e = SigError::Mismatch;
        assert_eq!(
            signature_error(Service::Sts, &e).code,
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            signature_error(Service::Ec2, &e).code,
            "SignatureDoesNotMatch"
        );
        let l = signature_error(Service::Lambda, &e);
        assert_eq!(
            (l.code.as_str(), l.status.as_u16()),
            ("InvalidSignatureException", 403)
        );
        assert_eq!(l.message, MISMATCH);
    }

    #[test]
    fn unknown_keys() {
        assert_eq!(unknown_key(Service::Sts).code, "InvalidClientTokenId");
        assert_eq!(unknown_key(Service::Ec2).status.as_u16(), 401);
        assert_eq!(
            unknown_key(Service::Lambda).code,
            "UnrecognizedClientException"
        );
    }
}
