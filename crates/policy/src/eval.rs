//! Evaluation of a request against the identity policies of a principal: explicit deny wins,
//! then any allow, otherwise the implicit deny. Owns only that decision; it must not parse
//! documents and does not look at principals (trust policies are asked through
//! `Policy::allows_service_assume`; resource policies, which do, through
//! `crate::evaluate_resource`). Permission boundaries and SCPs are not modelled: callers pass
//! every identity policy that applies.

use crate::condition::Context;
use crate::matching::{arn_like, glob};
use crate::parse::{Effect, Policy, Statement};

/// One authorisation question: may the principal call `action` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `service:Action`, e.g. `ec2:CreateNetworkInterface`; matched case-insensitively.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions that take no resource; matched case-sensitively.
    pub resource: &'a str,
    /// Condition keys and their values for this request.
    pub context: &'a Context,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows the request and none denies it.
    Allow,
    /// A `Deny` statement applies; nothing can override it.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

/// Decides `request` against `policies` the way IAM does for identity-based policies.
pub fn evaluate(policies: &[&Policy], request: &Request) -> Decision {
    let mut allowed = false;
    for statement in policies.iter().flat_map(|p| &p.statements) {
        if !applies(statement, request) {
            continue;
        }
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether a statement's actions, resources and conditions cover `request` (principals are
/// the caller's concern).
pub(crate) fn applies(statement: &Statement, request: &Request) -> bool {
    statement.actions.covers(request.action, |pattern, action| {
        glob(pattern, action, true)
    }) && statement
        .resources
        .as_ref()
        .is_none_or(|resources| resources.covers(request.resource, arn_like))
        && statement
            .conditions
            .iter()
            .all(|c| c.holds(request.context))
}

#[cfg(test)]
mod tests {
    use super::{evaluate, Decision, Request};
    use crate::{aws_managed_by_arn, Context, Policy, PolicyKind};
    use serde_json::json;

    const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
    const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    const SUBNET: &str = "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0abc";
    const SG: &str = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc";

    fn managed(arn: &str) -> Policy {
        let managed = aws_managed_by_arn(arn).expect("managed policy exists");
        let version = managed.default_version().expect("default version exists");
        Policy::parse(version.document, PolicyKind::Identity).expect("managed policy parses")
    }

    fn inline(statements: serde_json::Value) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        Policy::parse(&doc, PolicyKind::Identity).expect("inline policy parses")
    }

    fn decide(policies: &[&Policy], action: &str, resource: &str, context: &Context) -> Decision {
        evaluate(
            policies,
            &Request {
                action,
                resource,
                context,
            },
        )
    }

    #[test]
    fn vpc_access_role_may_manage_enis() {
        let vpc = managed(VPC_ACCESS);
        let ctx = Context::new();
        for action in [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
            "ec2:DescribeSubnets",
            "logs:PutLogEvents",
        ] {
            assert_eq!(
                decide(&[&vpc], action, "*", &ctx),
                Decision::Allow,
                "{action}"
            );
        }
        assert_eq!(
            decide(&[&vpc], "ec2:CreateNetworkInterface", SUBNET, &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&vpc], "ec2:CreateNetworkInterface", SG, &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&vpc], "ec2:DescribeVpcs", "*", &ctx),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn basic_execution_role_may_not_manage_enis() {
        let basic = managed(BASIC);
        let ctx = Context::new();
        for action in [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface",
        ] {
            assert_eq!(
                decide(&[&basic], action, "*", &ctx),
                Decision::ImplicitDeny,
                "{action}"
            );
        }
        assert_eq!(
            decide(&[&basic], "logs:CreateLogGroup", "*", &ctx),
            Decision::Allow
        );
    }

    #[test]
    fn inline_deny_beats_managed_allow() {
        let vpc = managed(VPC_ACCESS);
        let ctx = Context::new();
        for denied in ["ec2:CreateNetworkInterface", "ec2:*", "EC2:create*", "*"] {
            let deny = inline(json!([{"Effect": "Deny", "Action": denied, "Resource": "*"}]));
            assert_eq!(
                decide(&[&vpc, &deny], "ec2:CreateNetworkInterface", "*", &ctx),
                Decision::ExplicitDeny,
                "{denied}"
            );
            assert_eq!(
                decide(&[&deny, &vpc], "ec2:CreateNetworkInterface", SUBNET, &ctx),
                Decision::ExplicitDeny,
                "{denied}"
            );
        }
        let deny_delete = inline(
            json!({"Effect": "Deny", "Action": "ec2:DeleteNetworkInterface", "Resource": "*"}),
        );
        assert_eq!(
            decide(
                &[&vpc, &deny_delete],
                "ec2:CreateNetworkInterface",
                "*",
                &ctx
            ),
            Decision::Allow
        );
    }

    #[test]
    fn evaluation_table() {
        let ctx = Context::new()
            .with("aws:SourceIp", ["10.0.0.5"])
            .with("ec2:Vpc", ["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"]);
        let cases = [
            // Actions: case-insensitive, wildcards.
            (
                json!({"Effect": "Allow", "Action": "ec2:createnetworkinterface", "Resource": "*"}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "EC2:*Network*", "Resource": "*"}),
                "ec2:DeleteNetworkInterface",
                "*",
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:Describe?ubnets", "Resource": "*"}),
                "ec2:DescribeSubnets",
                "*",
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                "sts:GetCallerIdentity",
                "*",
                Decision::Allow,
            ),
            // Resources: case-sensitive ARNs with wildcards.
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:subnet/*"}),
                "ec2:CreateNetworkInterface",
                SUBNET,
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:subnet/*"}),
                "ec2:CreateNetworkInterface",
                SG,
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:subnet/*"}),
                "ec2:DescribeNetworkInterfaces",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:SUBNET/*"}),
                "ec2:CreateNetworkInterface",
                SUBNET,
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:security-group/*"]}),
                "ec2:CreateNetworkInterface",
                SG,
                Decision::Allow,
            ),
            // NotAction / NotResource.
            (
                json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
                "iam:PassRole",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::ExplicitDeny,
            ),
            (
                json!({"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}),
                "ec2:DescribeSubnets",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:security-group/*"}),
                "ec2:CreateNetworkInterface",
                SUBNET,
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:security-group/*"}),
                "ec2:CreateNetworkInterface",
                SG,
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:security-group/*"}),
                "ec2:DescribeSubnets",
                "*",
                Decision::Allow,
            ),
            // Conditions gate statements.
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}),
                "ec2:DescribeSubnets",
                "*",
                Decision::Allow,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}}),
                "ec2:DescribeSubnets",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Deny", "Action": "ec2:*", "Resource": "*", "Condition": {"ArnNotEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"}}}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Deny", "Action": "ec2:*", "Resource": "*", "Condition": {"ArnNotEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-2"}}}),
                "ec2:CreateNetworkInterface",
                "*",
                Decision::ExplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}),
                "ec2:DescribeSubnets",
                "*",
                Decision::ImplicitDeny,
            ),
            (
                json!({"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:RequestedRegion": "us-east-1"}}}),
                "ec2:DescribeSubnets",
                "*",
                Decision::Allow,
            ),
        ];
        for (statement, action, resource, want) in cases {
            let policy = inline(statement.clone());
            assert_eq!(
                decide(&[&policy], action, resource, &ctx),
                want,
                "{statement} {action} {resource}"
            );
        }
    }

    #[test]
    fn no_policies_is_implicit_deny() {
        assert_eq!(
            decide(&[], "ec2:CreateNetworkInterface", "*", &Context::new()),
            Decision::ImplicitDeny
        );
    }
}
