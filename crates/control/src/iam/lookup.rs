//! The questions other services ask IAM about a role: which role an ARN names, whether its
//! trust policy lets a service assume it, and whether its policies allow an action. Callers
//! run these inside their own transaction so the answer and their write see one snapshot.
//! Must not change any record.

use policy::{Context, Decision, Policy, PolicyKind, Request};

use super::records::{entity_name, load_policy_by_arn, load_role, RoleRecord};
use crate::store::{StoreError, Tx};

/// A role as other services see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInfo {
    pub arn: String,
    pub role_id: String,
    pub name: String,
    pub path: String,
}

/// The role a Lambda `Role` ARN names, in `account` (None if it does not exist).
pub fn role_by_arn(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
) -> Result<Option<RoleInfo>, StoreError> {
    let Some(name) = entity_name(arn, account, "role") else {
        return Ok(None);
    };
    Ok(load_role(tx, account, name)?
        .filter(|role| role.arn == arn)
        .map(|role| RoleInfo {
            arn: role.arn,
            role_id: role.role_id,
            name: role.name,
            path: role.path,
        }))
}

/// Whether the role's trust policy lets `service` (e.g. "lambda.amazonaws.com") assume it.
pub fn trusts_service(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleInfo,
    service: &str,
) -> Result<bool, StoreError> {
    let Some(record) = current(tx, account, role)? else {
        return Ok(false);
    };
    Ok(
        match Policy::parse(&record.trust_policy, PolicyKind::Trust) {
            Ok(trust) => trust.allows_service_assume(service),
            Err(e) => {
                // Stored documents were valid when written; a stricter parser since then must
                // fail closed rather than grant.
                tracing::warn!(role = %record.arn, error = %e, "stored trust policy no longer parses");
                false
            }
        },
    )
}

/// Whether the role's attached managed and inline policies allow `action` on `resource`
/// (explicit deny wins).
pub fn is_allowed(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleInfo,
    action: &str,
    resource: &str,
) -> Result<bool, StoreError> {
    Ok(decision(tx, account, role, action, resource)? == Decision::Allow)
}

/// What the role's policies say of `action` on `resource`: for services that combine it
/// with a resource policy, where an explicit deny and a mere absence of allow differ.
/// A role that is gone, or a policy that no longer parses, is an explicit deny.
pub fn decision(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleInfo,
    action: &str,
    resource: &str,
) -> Result<Decision, StoreError> {
    let Some(record) = current(tx, account, role)? else {
        return Ok(Decision::ExplicitDeny);
    };
    let mut documents: Vec<String> = Vec::new();
    for arn in &record.attached_policies {
        if let Some(managed) = policy::aws_managed_by_arn(arn) {
            if let Some(version) = managed.default_version() {
                documents.push(version.document.to_owned());
            }
        } else if let Some(customer) = load_policy_by_arn(tx, account, arn)? {
            if let Some(document) = customer.default_document() {
                documents.push(document.to_owned());
            }
        }
    }
    documents.extend(record.inline_policies.values().cloned());

    let mut policies = Vec::with_capacity(documents.len());
    for document in &documents {
        match Policy::parse(document, PolicyKind::Identity) {
            Ok(p) => policies.push(p),
            Err(e) => {
                // An unreadable policy might have held a Deny: refuse rather than guess.
                tracing::warn!(role = %record.arn, error = %e, "stored policy no longer parses");
                return Ok(Decision::ExplicitDeny);
            }
        }
    }
    let refs: Vec<&Policy> = policies.iter().collect();
    let context = Context::new();
    Ok(policy::evaluate(
        &refs,
        &Request {
            action,
            resource,
            context: &context,
        },
    ))
}

/// The role's record now, if it is still the same role (a role deleted and re-created under
/// the same name has a new id and is not the role the caller resolved).
fn current(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleInfo,
) -> Result<Option<RoleRecord>, StoreError> {
    Ok(load_role(tx, account, &role.name)?.filter(|r| r.role_id == role.role_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{
        attach_role_policy, create_policy, create_policy_version, create_role, delete_role,
        detach_role_policy, put_role_policy, set_default_policy_version, NewPolicy, NewRole,
    };
    use crate::Store;

    const ACCOUNT: &str = "111111111111";
    const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
    const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    const SUBNET: &str = "arn:aws:ec2:us-east-1:111111111111:subnet/subnet-0abc";

    fn trust(service: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_sqlite(dir.path()).expect("store opens");
        (dir, store)
    }

    fn role(store: &Store, name: &str, path: &str, service: &str) -> RoleInfo {
        store
            .write(|tx| {
                let created = create_role(
                    tx,
                    ACCOUNT,
                    NewRole {
                        name: name.into(),
                        path: Some(path.into()),
                        trust_policy: trust(service),
                        ..NewRole::default()
                    },
                )?;
                Ok::<_, crate::iam::IamError>(
                    role_by_arn(tx, ACCOUNT, &created.arn)?.expect("role found by its ARN"),
                )
            })
            .expect("role created")
    }

    fn attach(store: &Store, role: &RoleInfo, arn: &str) {
        store
            .write(|tx| attach_role_policy(tx, ACCOUNT, &role.name, arn))
            .expect("attached");
    }

    fn allowed(store: &Store, role: &RoleInfo, action: &str, resource: &str) -> bool {
        store
            .read(|tx| is_allowed(tx, ACCOUNT, role, action, resource))
            .expect("store reads")
    }

    #[test]
    fn vpc_access_allows_eni_management() {
        let (_dir, store) = store();
        let r = role(&store, "fn-role", "/", "lambda.amazonaws.com");
        assert!(!allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        attach(&store, &r, VPC_ACCESS);
        for action in [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface",
        ] {
            assert!(allowed(&store, &r, action, "*"), "{action}");
        }
        assert!(allowed(&store, &r, "ec2:CreateNetworkInterface", SUBNET));
        assert!(!allowed(&store, &r, "ec2:DescribeVpcs", "*"));
    }

    #[test]
    fn basic_execution_alone_is_denied_eni_creation() {
        let (_dir, store) = store();
        let r = role(&store, "basic", "/", "lambda.amazonaws.com");
        attach(&store, &r, BASIC);
        assert!(!allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        assert!(allowed(&store, &r, "logs:PutLogEvents", "*"));
    }

    #[test]
    fn inline_deny_overrides_managed_allow() {
        let (_dir, store) = store();
        let r = role(&store, "denied", "/", "lambda.amazonaws.com");
        attach(&store, &r, VPC_ACCESS);
        store
            .write(|tx| {
                put_role_policy(
                    tx,
                    ACCOUNT,
                    "denied",
                    "no-enis",
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:CreateNetworkInterface","Resource":"*"}]}"#.into(),
                )
            })
            .expect("inline policy put");
        assert!(!allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        assert!(allowed(&store, &r, "ec2:DeleteNetworkInterface", "*"));
    }

    #[test]
    fn customer_policy_default_version_decides() {
        let (_dir, store) = store();
        let r = role(&store, "custom", "/", "lambda.amazonaws.com");
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*NetworkInterface*","Resource":"*"}]}"#;
        let describe_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
        let arn = store
            .write(|tx| {
                let p = create_policy(
                    tx,
                    ACCOUNT,
                    NewPolicy {
                        name: "enis".into(),
                        document: allow.into(),
                        ..NewPolicy::default()
                    },
                )?;
                attach_role_policy(tx, ACCOUNT, "custom", &p.arn)?;
                Ok::<_, crate::iam::IamError>(p.arn)
            })
            .expect("policy attached");
        assert!(allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        store
            .write(|tx| create_policy_version(tx, ACCOUNT, &arn, describe_only.into(), true))
            .expect("version created");
        assert!(!allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        assert!(allowed(&store, &r, "ec2:DescribeNetworkInterfaces", "*"));
        store
            .write(|tx| set_default_policy_version(tx, ACCOUNT, &arn, "v1"))
            .expect("default set");
        assert!(allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
        store
            .write(|tx| detach_role_policy(tx, ACCOUNT, "custom", &arn))
            .expect("detached");
        assert!(!allowed(&store, &r, "ec2:CreateNetworkInterface", "*"));
    }

    #[test]
    fn trust_names_the_service() {
        let (_dir, store) = store();
        let lambda = role(&store, "for-lambda", "/", "lambda.amazonaws.com");
        let ec2 = role(&store, "for-ec2", "/", "ec2.amazonaws.com");
        let trusts = |r: &RoleInfo, service: &str| {
            store
                .read(|tx| trusts_service(tx, ACCOUNT, r, service))
                .expect("store reads")
        };
        assert!(trusts(&lambda, "lambda.amazonaws.com"));
        assert!(!trusts(&ec2, "lambda.amazonaws.com"));
        assert!(trusts(&ec2, "ec2.amazonaws.com"));
    }

    #[test]
    fn role_by_arn_matches_the_whole_arn() {
        let (_dir, store) = store();
        let r = role(&store, "svc", "/service-role/", "lambda.amazonaws.com");
        assert_eq!(r.arn, "arn:aws:iam::111111111111:role/service-role/svc");
        assert!(r.role_id.starts_with("AROA") && r.role_id.len() == 21);
        assert_eq!(r.path, "/service-role/");
        let find = |account: &str, arn: &str| {
            store
                .read(|tx| role_by_arn(tx, account, arn))
                .expect("store reads")
        };
        assert_eq!(find(ACCOUNT, &r.arn), Some(r.clone()));
        assert_eq!(find(ACCOUNT, "arn:aws:iam::111111111111:role/svc"), None);
        assert_eq!(find("222222222222", &r.arn), None);
        assert_eq!(
            find(
                "222222222222",
                "arn:aws:iam::222222222222:role/service-role/svc"
            ),
            None
        );
        assert_eq!(find(ACCOUNT, "not-an-arn"), None);
        assert_eq!(find(ACCOUNT, "arn:aws:iam::111111111111:role/"), None);
    }

    #[test]
    fn a_recreated_role_is_a_different_role() {
        let (_dir, store) = store();
        let old = role(&store, "again", "/", "lambda.amazonaws.com");
        attach(&store, &old, VPC_ACCESS);
        store
            .write(|tx| {
                detach_role_policy(tx, ACCOUNT, "again", VPC_ACCESS)?;
                delete_role(tx, ACCOUNT, "again")
            })
            .expect("deleted");
        let new = role(&store, "again", "/", "lambda.amazonaws.com");
        attach(&store, &new, VPC_ACCESS);
        assert!(allowed(&store, &new, "ec2:CreateNetworkInterface", "*"));
        assert!(!allowed(&store, &old, "ec2:CreateNetworkInterface", "*"));
        let trusted = store
            .read(|tx| trusts_service(tx, ACCOUNT, &old, "lambda.amazonaws.com"))
            .expect("store reads");
        assert!(!trusted);
    }
}
