//! The endpoint policy of a VPC endpoint, asked of every request (but S3's, which asks it
//! with the bucket policy in `control::s3::access`) that arrived through the endpoint: the
//! action is the operation's IAM name, the resource the Lambda function a call names (`*`
//! for everything else, as these services' endpoint policies are written), the caller the
//! request's identity, and the context carries `aws:SourceVpce`, `aws:SourceVpc` and
//! `aws:VpcSourceIp`. A refusal is the service's own access-denied error, in the words AWS
//! uses for an endpoint policy.

use std::net::IpAddr;

use control::ec2::endpoint_policy::{self, Decision, Requester};
use wire::AwsError;

use super::vpc::Via;
use crate::services::{Call, Service};

/// The question a request puts to an endpoint policy.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    /// `lambda:InvokeFunction`, `sts:AssumeRole`, `cloudwatch:PutMetricData`, …
    pub action: String,
    pub resource: String,
}

impl Question {
    /// What `call` to `service` asks, its operation named `operation` (the gateway's
    /// telemetry name). `None` for what every endpoint policy allows:
    /// `sts:GetCallerIdentity`, which no policy can deny on AWS either.
    pub fn of(service: Service, operation: &str, call: &Call) -> Option<Question> {
        let prefix = match service {
            Service::Monitoring => "cloudwatch",
            other => other.signing_name(),
        };
        let action = match (service, operation) {
            (Service::Sts, "GetCallerIdentity") => return None,
            (Service::Lambda, "Invoke") => "InvokeFunction",
            _ => operation,
        };
        let resource = match service {
            Service::Lambda => function_arn(call).unwrap_or_else(|| "*".into()),
            _ => "*".into(),
        };
        Some(Question {
            action: format!("{prefix}:{action}"),
            resource,
        })
    }
}

/// The function a Lambda call's path names (`/2015-03-31/functions/<name>/…`), as the ARN
/// the endpoint policy's `Resource` is matched against: qualified when the name or the
/// `Qualifier` parameter names a version or alias.
fn function_arn(call: &Call) -> Option<String> {
    let mut segments = call.uri.path().split('/').filter(|s| !s.is_empty());
    let _version = segments.next()?;
    if segments.next()? != "functions" {
        return None;
    }
    let name = crate::services::lambda::percent_decode(segments.next()?);
    let base = if name.starts_with("arn:") {
        name
    } else {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            call.region, call.account.account_id
        )
    };
    let qualifier = call.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "Qualifier")
            .map(|(_, v)| v.into_owned())
    });
    Some(match qualifier {
        Some(q) if !q.is_empty() && base.matches(':').count() == 6 => format!("{base}:{q}"),
        _ => base,
    })
}

/// Whether the endpoint's policy allows `question` for the caller of `call`, who reached
/// the endpoint from `source`; the service's access-denied error otherwise.
pub fn check(
    via: &Via,
    source: IpAddr,
    service: Service,
    question: &Question,
    call: &Call,
) -> Result<(), AwsError> {
    let (arn, role_arn) = match &call.session {
        Some(s) => (s.assumed_role_arn(), Some(s.role_arn.as_str())),
        None => (
            format!("arn:aws:iam::{}:root", call.account.account_id),
            None,
        ),
    };
    let source = source.to_string();
    let who = Requester {
        arn: &arn,
        account: &call.account.account_id,
        role_arn,
        endpoint: &via.endpoint,
        vpc: &via.vpc,
        source_ip: &source,
    };
    let why = match endpoint_policy::decide(&via.policy, &who, &question.action, &question.resource)
    {
        Decision::Allow => return Ok(()),
        Decision::ExplicitDeny => "with an explicit deny in a VPC endpoint policy".to_string(),
        Decision::ImplicitDeny => format!(
            "because no VPC endpoint policy allows the {} action",
            question.action
        ),
    };
    let on = if question.resource == "*" {
        String::new()
    } else {
        format!(" on resource: {}", question.resource)
    };
    let message = format!(
        "User: {arn} is not authorized to perform: {}{on} {why}",
        question.action
    );
    Err(denied(service, message))
}

/// Each service's own access-denied error.
fn denied(service: Service, message: String) -> AwsError {
    match service {
        Service::Lambda => AwsError::new(403, "AccessDeniedException", message),
        Service::Logs => AwsError::new(400, "AccessDeniedException", message),
        Service::Ec2 => AwsError::new(403, "UnauthorizedOperation", message),
        Service::Iam | Service::Sts | Service::Monitoring => {
            AwsError::new(403, "AccessDenied", message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, uri: &str, session: bool) -> Call {
        Call {
            method: method.parse().unwrap(),
            uri: uri.parse().unwrap(),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::new(),
            request_id: "r".into(),
            account: control::Account {
                access_key_id: "AKIA".into(),
                secret_access_key: "s".into(),
                account_id: "111111111111".into(),
            },
            session: session.then(|| control::sts::Session {
                access_key_id: "ASIA".into(),
                secret_access_key: "s".into(),
                session_token: "t".into(),
                account: "111111111111".into(),
                role_arn: "arn:aws:iam::111111111111:role/r".into(),
                role_id: "AROA".into(),
                role_name: "r".into(),
                session_name: "f".into(),
                expires_at: 0,
            }),
            region: "us-east-1".into(),
        }
    }

    fn via(policy: &str) -> Via {
        Via {
            endpoint: "vpce-0123456789abcdef0".into(),
            vpc: "vpc-1".into(),
            policy: policy.into(),
        }
    }

    const FULL: &str =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn questions_name_the_iam_action_and_the_function() {
        let c = call(
            "POST",
            "/2015-03-31/functions/f/invocations?Qualifier=live",
            false,
        );
        assert_eq!(
            Question::of(Service::Lambda, "Invoke", &c),
            Some(Question {
                action: "lambda:InvokeFunction".into(),
                resource: "arn:aws:lambda:us-east-1:111111111111:function:f:live".into(),
            })
        );
        let arn = call(
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A222222222222%3Afunction%3Ag%3A3",
            false,
        );
        assert_eq!(
            Question::of(Service::Lambda, "GetFunction", &arn)
                .unwrap()
                .resource,
            "arn:aws:lambda:us-east-1:222222222222:function:g:3"
        );
        let put = call("POST", "/", false);
        let q = Question::of(Service::Monitoring, "PutMetricData", &put).unwrap();
        assert_eq!(
            (q.action.as_str(), q.resource.as_str()),
            ("cloudwatch:PutMetricData", "*")
        );
        assert_eq!(Question::of(Service::Sts, "GetCallerIdentity", &put), None);
    }

    #[test]
    fn endpoint_policies_decide_with_the_vpc_context() {
        let c = call("POST", "/2015-03-31/functions/f/invocations", true);
        let q = Question::of(Service::Lambda, "Invoke", &c).unwrap();
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        assert!(check(&via(FULL), ip, Service::Lambda, &q, &c).is_ok());

        let other = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:GetFunction","Resource":"*"}]}"#;
        let e = check(&via(other), ip, Service::Lambda, &q, &c).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_str()),
            (403, "AccessDeniedException")
        );
        assert_eq!(
            e.message,
            "User: arn:aws:sts::111111111111:assumed-role/r/f is not authorized to perform: \
             lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:f \
             because no VPC endpoint policy allows the lambda:InvokeFunction action"
        );

        let deny = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
             "Condition":{"NotIpAddress":{"aws:VpcSourceIp":"10.0.1.0/24"}}}]}"#;
        assert!(check(&via(deny), ip, Service::Lambda, &q, &c).is_ok());
        let outside: IpAddr = "10.0.2.5".parse().unwrap();
        let e = check(&via(deny), outside, Service::Lambda, &q, &c).unwrap_err();
        assert!(e
            .message
            .ends_with("with an explicit deny in a VPC endpoint policy"));

        let only_role = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/r"},"Action":"sts:*","Resource":"*",
            "Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0123456789abcdef0"}}}]}"#;
        let sts = call("POST", "/", true);
        let assume = Question::of(Service::Sts, "AssumeRole", &sts).unwrap();
        assert!(check(&via(only_role), ip, Service::Sts, &assume, &sts).is_ok());
        let root = call("POST", "/", false);
        let e = check(&via(only_role), ip, Service::Sts, &assume, &root).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (403, "AccessDenied"));
    }
}
