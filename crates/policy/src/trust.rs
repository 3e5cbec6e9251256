//! Whether a role's trust policy lets an AWS service assume the role, the check Lambda makes
//! before it uses an execution role. Owns only principal and action matching for
//! `sts:AssumeRole`; identity-policy decisions live in `eval`.

use crate::matching::glob;
use crate::parse::{Effect, Policy, Principal};

impl Policy {
    /// Whether this trust policy lets `service` (e.g. `lambda.amazonaws.com`) call
    /// `sts:AssumeRole`: some `Allow` statement covers the action and names the service
    /// (`{"Service": ...}`, alone or in a list), everyone (`"*"`) or any AWS principal
    /// (`{"AWS": "*"}`), and no `Deny` statement does the same.
    ///
    /// The service's assume-role request context is not modelled, so conditions are not
    /// evaluated: an `Allow` counts whatever its conditions, a `Deny` only when it has none.
    /// An identity policy (no principals) never allows.
    pub fn allows_service_assume(&self, service: &str) -> bool {
        let mut allowed = false;
        for statement in &self.statements {
            let names_service = statement
                .principal
                .as_ref()
                .is_some_and(|p| principal_names_service(p, service));
            let covers_assume = statement
                .actions
                .covers("sts:AssumeRole", |pattern, action| {
                    glob(pattern, action, true)
                });
            if !names_service || !covers_assume {
                continue;
            }
            match statement.effect {
                Effect::Deny if statement.conditions.is_empty() => return false,
                Effect::Deny => {}
                Effect::Allow => allowed = true,
            }
        }
        allowed
    }
}

fn principal_names_service(principal: &Principal, service: &str) -> bool {
    match principal {
        Principal::Anyone => true,
        Principal::Typed(entries) => entries.iter().any(|(kind, values)| match kind.as_str() {
            "Service" => values.iter().any(|v| v.eq_ignore_ascii_case(service)),
            "AWS" => values.iter().any(|v| v == "*"),
            _ => false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Policy, PolicyKind};
    use serde_json::json;

    const LAMBDA: &str = "lambda.amazonaws.com";

    fn trust(statements: serde_json::Value) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        Policy::parse(&doc, PolicyKind::Trust).expect("trust policy parses")
    }

    #[test]
    fn service_assume_table() {
        let allow = |principal: serde_json::Value, action: serde_json::Value| json!({"Effect": "Allow", "Principal": principal, "Action": action});
        let cases = [
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole"))]),
                true,
            ),
            (
                json!(allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole"))),
                true,
            ),
            (
                json!([allow(
                    json!({"Service": "ec2.amazonaws.com"}),
                    json!("sts:AssumeRole")
                )]),
                false,
            ),
            (
                json!([allow(
                    json!({"Service": ["ec2.amazonaws.com", LAMBDA]}),
                    json!("sts:AssumeRole")
                )]),
                true,
            ),
            (json!([allow(json!("*"), json!("sts:AssumeRole"))]), true),
            (
                json!([allow(json!({"AWS": "*"}), json!("sts:AssumeRole"))]),
                true,
            ),
            (
                json!([allow(
                    json!({"AWS": "arn:aws:iam::123456789012:root"}),
                    json!("sts:AssumeRole")
                )]),
                false,
            ),
            (
                json!([allow(
                    json!({"Federated": "cognito-identity.amazonaws.com"}),
                    json!("sts:AssumeRoleWithWebIdentity")
                )]),
                false,
            ),
            (
                json!([allow(
                    json!({"Service": LAMBDA}),
                    json!("sts:AssumeRoleWithWebIdentity")
                )]),
                false,
            ),
            (
                json!([allow(
                    json!({"Service": LAMBDA}),
                    json!(["sts:TagSession", "sts:AssumeRole"])
                )]),
                true,
            ),
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:*"))]),
                true,
            ),
            (
                json!([allow(json!({"Service": LAMBDA}), json!("STS:assumerole"))]),
                true,
            ),
            (
                json!([{"Effect": "Allow", "Principal": {"Service": LAMBDA}, "NotAction": "sts:TagSession"}]),
                true,
            ),
            (
                json!([{"Effect": "Allow", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole",
                     "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]),
                true,
            ),
            // An explicit deny wins, but only an unconditional one.
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole")),
                    {"Effect": "Deny", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole"}]),
                false,
            ),
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole")),
                    {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}]),
                false,
            ),
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole")),
                    {"Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
                true,
            ),
            (
                json!([allow(json!({"Service": LAMBDA}), json!("sts:AssumeRole")),
                    {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
                true,
            ),
            (
                json!([{"Effect": "Deny", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole"}]),
                false,
            ),
        ];
        for (statements, want) in cases {
            let policy = trust(statements.clone());
            assert_eq!(policy.allows_service_assume(LAMBDA), want, "{statements}");
        }
    }

    #[test]
    fn identity_policies_never_allow_assume() {
        let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}).to_string();
        let policy = Policy::parse(&doc, PolicyKind::Identity).expect("parses");
        assert!(!policy.allows_service_assume(LAMBDA));
    }
}
