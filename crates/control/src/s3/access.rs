//! Who may do what to a bucket: the caller's identity policies (none for an account's root,
//! which may do anything in its account) combined with the bucket's policy the way S3
//! combines them — an explicit deny in either wins; within the owner's account either one
//! allowing is enough; from another account both must allow. A request that came through a
//! VPC endpoint must also be allowed by the endpoint's policy.

use policy::{Caller, Context, Decision, Policy, PolicyKind, Request};

use super::error::S3Error;
use super::model::Bucket;
use crate::iam::lookup::{decision, RoleInfo};
use crate::store::Tx;

/// The identity behind a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account: String,
    /// `arn:aws:iam::<account>:root` or a role session's assumed-role ARN.
    pub arn: String,
    /// For a role session: its role, whose policies apply.
    pub role: Option<RoleInfo>,
    /// Where the request came from, for the `aws:SourceIp` and `aws:SecureTransport` keys.
    pub network: Network,
}

/// The network facts of a request a policy may test.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// The source address the daemon saw (a NAT gateway's Elastic IP for a function in a
    /// private subnet behind one; the private address for one through a VPC endpoint);
    /// unknown for calls made on a caller's behalf.
    pub source_ip: Option<String>,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// The VPC endpoint the request came through.
    pub endpoint: Option<Endpoint>,
}

/// A VPC endpoint a request came through.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub vpc: String,
    /// The endpoint policy (JSON).
    pub policy: String,
}

impl Principal {
    pub fn root(account: &str) -> Principal {
        Principal {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:root"),
            role: None,
            network: Network::default(),
        }
    }
}

/// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
pub fn resource_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// Allows `action` (`s3:GetObject`, …) on `resource` for `who`, or refuses with S3's
/// `AccessDenied`. `bucket` is `None` for calls on no bucket (ListBuckets, CreateBucket).
pub fn authorize(
    tx: &mut dyn Tx,
    who: &Principal,
    bucket: Option<&Bucket>,
    action: &str,
    resource: &str,
) -> Result<(), S3Error> {
    let identity = match &who.role {
        None => Decision::Allow,
        Some(role) => decision(tx, &who.account, role, action, resource)?,
    };
    let mut context = Context::new();
    context.insert("aws:PrincipalAccount", [who.account.as_str()]);
    context.insert("aws:PrincipalArn", [who.arn.as_str()]);
    context.insert(
        "aws:SecureTransport",
        [if who.network.secure { "true" } else { "false" }],
    );
    match (&who.network.endpoint, &who.network.source_ip) {
        // As on AWS: through an endpoint the private address is `aws:VpcSourceIp`, and
        // `aws:SourceIp` is not set.
        (Some(endpoint), ip) => {
            context.insert("aws:SourceVpce", [endpoint.id.as_str()]);
            context.insert("aws:SourceVpc", [endpoint.vpc.as_str()]);
            if let Some(ip) = ip {
                context.insert("aws:VpcSourceIp", [ip.as_str()]);
            }
        }
        (None, Some(ip)) => context.insert("aws:SourceIp", [ip.as_str()]),
        (None, None) => {}
    }
    let request = Request {
        action,
        resource,
        context: &context,
    };
    let caller = Caller::Aws {
        arn: &who.arn,
        account: &who.account,
        role_arn: who.role.as_ref().map(|r| r.arn.as_str()),
    };
    if let Some(endpoint) = &who.network.endpoint {
        // Checked when the endpoint was made or modified; one that no longer parses denies.
        let Ok(parsed) = Policy::parse(&endpoint.policy, PolicyKind::Resource) else {
            return Err(S3Error::AccessDenied);
        };
        if policy::evaluate_resource(&[&parsed], &caller, &request) != Decision::Allow {
            return Err(S3Error::AccessDenied);
        }
    }
    let from_bucket = match bucket.and_then(|b| b.policy.as_deref()) {
        None => Decision::ImplicitDeny,
        Some(doc) => {
            // Stored policies parsed when written; one that no longer does denies.
            let Ok(parsed) = Policy::parse(doc, PolicyKind::Resource) else {
                return Err(S3Error::AccessDenied);
            };
            policy::evaluate_resource(&[&parsed], &caller, &request)
        }
    };
    if identity == Decision::ExplicitDeny || from_bucket == Decision::ExplicitDeny {
        return Err(S3Error::AccessDenied);
    }
    let same_account = bucket.is_none_or(|b| b.owner == who.account);
    let allowed = if same_account {
        identity == Decision::Allow || from_bucket == Decision::Allow
    } else {
        identity == Decision::Allow && from_bucket == Decision::Allow
    };
    if allowed {
        Ok(())
    } else {
        Err(S3Error::AccessDenied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::model::Versioning;
    use crate::store::Store;

    fn bucket(policy: Option<&str>) -> Bucket {
        Bucket {
            name: "b".into(),
            owner: "111111111111".into(),
            region: "us-east-1".into(),
            created: 0,
            versioning: Versioning::Unversioned,
            policy: policy.map(str::to_owned),
            tags: Vec::new(),
        }
    }

    fn check(b: &Bucket, who: &Principal, action: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        store
            .read(|tx| {
                Ok::<_, crate::StoreError>(
                    authorize(tx, who, Some(b), action, &resource_arn("b", Some("k"))).is_ok(),
                )
            })
            .unwrap()
    }

    #[test]
    fn owner_yes_stranger_only_by_policy_deny_wins() {
        let owner = Principal::root("111111111111");
        let other = Principal::root("222222222222");
        let plain = bucket(None);
        assert!(check(&plain, &owner, "s3:GetObject"));
        assert!(!check(&plain, &other, "s3:GetObject"));

        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let opened = bucket(Some(allow));
        assert!(check(&opened, &other, "s3:GetObject"));
        assert!(!check(&opened, &other, "s3:PutObject"));

        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let denied = bucket(Some(deny));
        assert!(!check(&denied, &other, "s3:GetObject"));
        assert!(check(&denied, &other, "s3:PutObject"));
        assert!(check(&denied, &owner, "s3:GetObject"));
    }
}
