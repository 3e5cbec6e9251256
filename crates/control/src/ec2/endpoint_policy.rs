//! The decision of a VPC endpoint's policy on a request that came through the endpoint, for
//! the services that ask it alone (S3 asks it with its bucket policy in `s3::access`): the
//! caller as a resource policy sees principals, and a context holding `aws:SourceVpce`,
//! `aws:SourceVpc` and `aws:VpcSourceIp` — as on AWS, `aws:SourceIp` is not set through an
//! endpoint.

pub use policy::Decision;
use policy::{Caller, Context, Policy, PolicyKind, Request};

/// Who calls, and from where, through which endpoint.
#[derive(Clone, Debug)]
pub struct Requester<'a> {
    /// `arn:aws:iam::<account>:root` or a role session's assumed-role ARN.
    pub arn: &'a str,
    pub account: &'a str,
    /// For a role session: its role, which a policy may name instead of the session.
    pub role_arn: Option<&'a str>,
    pub endpoint: &'a str,
    pub vpc: &'a str,
    /// The private address the endpoint saw.
    pub source_ip: &'a str,
}

/// What the endpoint policy says of `action` on `resource` (an explicit deny and a mere
/// absence of allow are told in different words). A policy that no longer parses (they are
/// checked when written) is an explicit deny.
pub fn decide(policy: &str, who: &Requester, action: &str, resource: &str) -> Decision {
    let Ok(parsed) = Policy::parse(policy, PolicyKind::Resource) else {
        return Decision::ExplicitDeny;
    };
    let context = Context::new()
        .with("aws:PrincipalArn", [who.arn])
        .with("aws:PrincipalAccount", [who.account])
        .with("aws:SourceVpce", [who.endpoint])
        .with("aws:SourceVpc", [who.vpc])
        .with("aws:VpcSourceIp", [who.source_ip])
        .with("aws:SecureTransport", ["true"]);
    let caller = Caller::Aws {
        arn: who.arn,
        account: who.account,
        role_arn: who.role_arn,
    };
    policy::evaluate_resource(
        &[&parsed],
        &caller,
        &Request {
            action,
            resource,
            context: &context,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(source_ip: &str) -> Requester<'_> {
        Requester {
            arn: "arn:aws:sts::111111111111:assumed-role/r/f",
            account: "111111111111",
            role_arn: Some("arn:aws:iam::111111111111:role/r"),
            endpoint: "vpce-0123456789abcdef0",
            vpc: "vpc-1",
            source_ip,
        }
    }

    #[test]
    fn endpoint_policies_see_the_vpc_keys_and_the_role() {
        let deny_outside = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
             "Condition":{"NotIpAddress":{"aws:VpcSourceIp":"10.0.1.0/24"}}}]}"#;
        let invoke = "lambda:InvokeFunction";
        assert_eq!(
            decide(deny_outside, &who("10.0.1.5"), invoke, "*"),
            Decision::Allow
        );
        assert_eq!(
            decide(deny_outside, &who("10.0.2.5"), invoke, "*"),
            Decision::ExplicitDeny
        );

        let role_here = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/r"},
            "Action":"sts:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0123456789abcdef0"}}}]}"#;
        assert_eq!(
            decide(role_here, &who("10.0.1.5"), "sts:AssumeRole", "*"),
            Decision::Allow
        );
        assert_eq!(
            decide(role_here, &who("10.0.1.5"), invoke, "*"),
            Decision::ImplicitDeny
        );
        let root = Requester {
            arn: "arn:aws:iam::111111111111:root",
            role_arn: None,
            ..who("10.0.1.5")
        };
        assert_eq!(
            decide(role_here, &root, "sts:AssumeRole", "*"),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide("{", &root, "sts:AssumeRole", "*"),
            Decision::ExplicitDeny
        );
    }
}
