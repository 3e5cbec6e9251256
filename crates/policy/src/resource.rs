//! Resource-based policies (a Lambda function's): parsing into [`Policy`] and evaluating a
//! request of a given [`Caller`] against them. A statement applies when its `Principal` names
//! the caller and its actions, resources and conditions cover the request; then, as for
//! identity policies, an explicit deny wins over any allow. Owns principal matching; the
//! action/resource/condition test is `eval`'s.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::parse_conditions;
use crate::error::PolicyError;
use crate::eval::{applies, Decision, Request};
use crate::parse::{
    malformed, patterns, statement_objects, top_level, trust_principal, Effect, Policy, Principal,
    Statement, DUPLICATE_SID, SYNTAX_ERRORS,
};

/// Who makes a request, as a resource policy's `Principal` element sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// An IAM identity: an account's root, a user, or a role session.
    Aws {
        /// `arn:aws:iam::111122223333:root`, `…:user/name`, or
        /// `arn:aws:sts::111122223333:assumed-role/role/session`.
        arn: &'a str,
        /// The account the identity belongs to.
        account: &'a str,
        /// For a role session, its role's ARN: a policy that names the role covers its
        /// sessions.
        role_arn: Option<&'a str>,
    },
    /// An AWS service acting on its own behalf, e.g. `s3.amazonaws.com`.
    Service(&'a str),
}

/// Decides `request` by `caller` against resource policies: explicit deny, then any allow,
/// otherwise the implicit deny. Statements whose principal does not name the caller do not
/// apply.
pub fn evaluate_resource(policies: &[&Policy], caller: &Caller, request: &Request) -> Decision {
    let mut allowed = false;
    for statement in policies.iter().flat_map(|p| &p.statements) {
        let names_caller = statement
            .principal
            .as_ref()
            .is_some_and(|p| principal_names(p, caller));
        if !names_caller || !applies(statement, request) {
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

fn principal_names(principal: &Principal, caller: &Caller) -> bool {
    let Principal::Typed(entries) = principal else {
        return true;
    };
    entries
        .iter()
        .any(|(kind, values)| match (kind.as_str(), caller) {
            (
                "AWS",
                Caller::Aws {
                    arn,
                    account,
                    role_arn,
                },
            ) => values.iter().any(|v| {
                v == "*"
                    || v == account
                    || *v == format!("arn:aws:iam::{account}:root")
                    || v == arn
                    || role_arn.is_some_and(|r| v == r)
            }),
            ("Service", Caller::Service(service)) => {
                values.iter().any(|v| v.eq_ignore_ascii_case(service))
            }
            _ => false,
        })
}

pub(crate) fn parse_resource(doc: &str) -> Result<Policy, PolicyError> {
    let root: Value = serde_json::from_str(doc).map_err(|_| malformed(SYNTAX_ERRORS))?;
    let root = root.as_object().ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let version = top_level(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let objects = statement_objects(root).ok_or_else(|| malformed(SYNTAX_ERRORS))?;
    let mut sids = HashSet::new();
    let mut statements = Vec::with_capacity(objects.len());
    for statement in objects {
        if let Some(sid) = statement.get("Sid") {
            let sid = sid.as_str().ok_or_else(|| malformed(SYNTAX_ERRORS))?;
            if !sid.is_empty() && !sids.insert(sid) {
                return Err(malformed(DUPLICATE_SID));
            }
        }
        statements.push(resource_statement(statement)?);
    }
    Ok(Policy {
        version,
        statements,
    })
}

fn resource_statement(statement: &Map<String, Value>) -> Result<Statement, PolicyError> {
    let syntax = || malformed(SYNTAX_ERRORS);
    for key in statement.keys() {
        match key.as_str() {
            "NotPrincipal" => return Err(malformed("Has prohibited field NotPrincipal")),
            "Sid" | "Effect" | "Principal" | "Action" | "NotAction" | "Resource"
            | "NotResource" | "Condition" => {}
            _ => return Err(syntax()),
        }
    }
    let effect = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(syntax()),
    };
    let principal = trust_principal(statement.get("Principal").ok_or_else(syntax)?)?;
    let actions = patterns(statement, "Action", "NotAction")
        .map_err(|()| syntax())?
        .filter(|a| !a.patterns.is_empty())
        .ok_or_else(syntax)?;
    let resources = patterns(statement, "Resource", "NotResource")
        .map_err(|()| syntax())?
        .filter(|r| !r.patterns.is_empty())
        .ok_or_else(syntax)?;
    let conditions = match statement.get("Condition") {
        Some(element) => parse_conditions(element).ok_or_else(syntax)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principal: Some(principal),
        actions,
        resources: Some(resources),
        conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, PolicyKind};
    use serde_json::json;

    const F: &str = "arn:aws:lambda:us-east-1:111111111111:function:f";

    fn policy(statements: serde_json::Value) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Id": "default", "Statement": statements});
        Policy::parse(&doc.to_string(), PolicyKind::Resource).expect("resource policy parses")
    }

    fn root(account: &str) -> String {
        format!("arn:aws:iam::{account}:root")
    }

    fn decide(
        p: &Policy,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &Context,
    ) -> Decision {
        evaluate_resource(
            &[p],
            caller,
            &Request {
                action,
                resource,
                context: ctx,
            },
        )
    }

    #[test]
    fn principals_name_accounts_identities_and_services() {
        let ctx = Context::new();
        let b_root = root("222222222222");
        let b = Caller::Aws {
            arn: &b_root,
            account: "222222222222",
            role_arn: None,
        };
        let session = Caller::Aws {
            arn: "arn:aws:sts::222222222222:assumed-role/r/s",
            account: "222222222222",
            role_arn: Some("arn:aws:iam::222222222222:role/r"),
        };
        let c_root = root("333333333333");
        let c = Caller::Aws {
            arn: &c_root,
            account: "333333333333",
            role_arn: None,
        };
        let s3 = Caller::Service("s3.amazonaws.com");
        let allow = |principal: serde_json::Value| {
            policy(
                json!([{"Sid": "a", "Effect": "Allow", "Principal": principal,
                "Action": "lambda:InvokeFunction", "Resource": F}]),
            )
        };
        let cases = [
            (json!({"AWS": b_root}), [true, true, false, false]),
            (json!({"AWS": "222222222222"}), [true, true, false, false]),
            (
                json!({"AWS": "arn:aws:iam::222222222222:role/r"}),
                [false, true, false, false],
            ),
            (
                json!({"AWS": "arn:aws:sts::222222222222:assumed-role/r/s"}),
                [false, true, false, false],
            ),
            (json!({"AWS": "*"}), [true, true, true, false]),
            (json!("*"), [true, true, true, true]),
            (
                json!({"Service": "s3.amazonaws.com"}),
                [false, false, false, true],
            ),
        ];
        for (principal, want) in cases {
            let p = allow(principal.clone());
            for (caller, want) in [b, session, c, s3].iter().zip(want) {
                let got = decide(&p, caller, "lambda:InvokeFunction", F, &ctx) == Decision::Allow;
                assert_eq!(got, want, "{principal} {caller:?}");
            }
        }
    }

    #[test]
    fn actions_resources_and_conditions_still_apply() {
        let b_root = root("222222222222");
        let b = Caller::Aws {
            arn: &b_root,
            account: "222222222222",
            role_arn: None,
        };
        let p = policy(json!([
            {"Sid": "any", "Effect": "Allow", "Principal": {"AWS": "222222222222"},
             "Action": "lambda:*", "Resource": F,
             "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket-*"}}},
        ]));
        let ctx = Context::new().with("aws:SourceArn", ["arn:aws:s3:::bucket-1"]);
        assert_eq!(
            decide(&p, &b, "lambda:InvokeFunction", F, &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, &b, "lambda:InvokeFunction", &format!("{F}:prod"), &ctx),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&p, &b, "lambda:InvokeFunction", F, &Context::new()),
            Decision::ImplicitDeny
        );
        let deny = policy(json!([
            {"Sid": "a", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": F},
            {"Sid": "d", "Effect": "Deny", "Principal": {"AWS": "222222222222"},
             "Action": "lambda:InvokeFunction", "Resource": F},
        ]));
        assert_eq!(
            decide(&deny, &b, "lambda:InvokeFunction", F, &ctx),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&deny, &b, "lambda:GetFunction", F, &ctx),
            Decision::Allow
        );
    }

    #[test]
    fn malformed_resource_policies_are_refused() {
        let parse = |statement: serde_json::Value| {
            let doc = json!({"Version": "2012-10-17", "Statement": statement}).to_string();
            Policy::parse(&doc, PolicyKind::Resource)
        };
        let ok = json!({"Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": F});
        assert!(parse(ok).is_ok());
        for broken in [
            json!({"Effect": "Allow", "Action": "lambda:*", "Resource": F}),
            json!({"Effect": "Allow", "Principal": "*", "Resource": F}),
            json!({"Effect": "Allow", "Principal": "*", "Action": "lambda:*"}),
            json!({"Effect": "allow", "Principal": "*", "Action": "lambda:*", "Resource": F}),
            json!({"Effect": "Allow", "NotPrincipal": "*", "Action": "lambda:*", "Resource": F}),
            json!([
                {"Sid": "same", "Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": F},
                {"Sid": "same", "Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": F},
            ]),
        ] {
            assert!(parse(broken.clone()).is_err(), "{broken}");
        }
    }
}
