//! Managed policies: the AWS managed catalogue every account sees (read-only, from the
//! `policy` crate), customer policies with their versions, and attaching either to roles.
//! Attachment counts are this account's own: AWS managed policies are shared, their
//! attachments are not.

use std::collections::HashMap;

use policy::{ManagedPolicy, Policy, PolicyKind};

use super::page::{ordinal, Page, PageRequest};
use super::records::{
    all_policies, all_roles, entity_name, key, load_policy_by_arn, now, policy_arn, save_policy,
    save_role, unique_id, PolicyRecord, RoleRecord, Tag, VersionRecord, POLICY_KIND,
};
use super::roles::existing as existing_role;
use super::validate::Violations;
use super::IamError;
use crate::store::{Scope, Tx};

const POLICY_NAME_MAX: usize = 128;
/// IAM keeps at most this many versions of a customer managed policy.
const MAX_VERSIONS: usize = 5;
/// IAM's default quota of managed policies attached to one role.
const MAX_ATTACHED_PER_ROLE: usize = 10;

/// A managed policy as GetPolicy reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicyInfo {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    pub description: Option<String>,
    pub default_version_id: String,
    pub create_date: String,
    pub update_date: String,
    /// Roles of this account the policy is attached to.
    pub attachment_count: usize,
    pub tags: Vec<Tag>,
}

/// One version of a managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersionInfo {
    pub version_id: String,
    /// The document exactly as stored.
    pub document: String,
    pub is_default: bool,
    pub create_date: String,
}

/// A policy attached to a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub name: String,
    pub arn: String,
}

/// A role a policy is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRole {
    pub name: String,
    pub role_id: String,
}

/// What CreatePolicy asks for.
#[derive(Clone, Debug, Default)]
pub struct NewPolicy {
    pub name: String,
    pub path: Option<String>,
    pub document: String,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

/// ListPolicies' `Scope`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyScope {
    #[default]
    All,
    Aws,
    Local,
}

/// ListPolicies' filters.
#[derive(Clone, Debug, Default)]
pub struct PolicyFilter {
    pub scope: PolicyScope,
    pub only_attached: bool,
    pub path_prefix: Option<String>,
}

/// A managed policy the caller named: one of AWS's or one of the account's.
enum Named {
    Aws(&'static ManagedPolicy),
    Customer(Box<PolicyRecord>),
}

pub fn create_policy(
    tx: &mut dyn Tx,
    account: &str,
    new: NewPolicy,
) -> Result<ManagedPolicyInfo, IamError> {
    let path = new.path.unwrap_or_else(|| "/".to_owned());
    let mut v = Violations::new();
    v.name("policyName", &new.name, POLICY_NAME_MAX)
        .policy_path("path", &path)
        .document("policyDocument", &new.document)
        .tags("tags", &new.tags);
    if let Some(d) = &new.description {
        v.policy_description("description", d);
    }
    v.finish()?;
    validate_document(&new.document)?;
    let scope = Scope::global(account);
    if tx.get(POLICY_KIND, &scope, &key(&new.name))?.is_some() {
        return Err(IamError::PolicyAlreadyExists(new.name));
    }
    let created = now();
    let record = PolicyRecord {
        arn: policy_arn(account, &path, &new.name),
        policy_id: unique_id("ANPA"),
        name: new.name,
        path,
        description: new.description,
        create_date: created.clone(),
        update_date: created.clone(),
        default_version_id: "v1".to_owned(),
        versions: vec![VersionRecord {
            version_id: "v1".to_owned(),
            document: new.document,
            create_date: created,
        }],
        next_version: 2,
        tags: new.tags,
    };
    save_policy(tx, account, &record)?;
    Ok(customer_info(record, 0))
}

pub fn get_policy(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
) -> Result<ManagedPolicyInfo, IamError> {
    let named = find(tx, account, arn)?;
    let count = attachment_counts(tx, account)?
        .get(arn)
        .copied()
        .unwrap_or(0);
    Ok(info(named, count))
}

pub fn get_policy_version(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    version_id: &str,
) -> Result<PolicyVersionInfo, IamError> {
    Violations::new()
        .arn("policyArn", arn)
        .version_id("versionId", version_id)
        .finish()?;
    versions(find(tx, account, arn)?)
        .into_iter()
        .find(|v| v.version_id == version_id)
        .ok_or_else(|| IamError::NoSuchPolicyVersion {
            arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        })
}

/// The policy's versions, newest first, as IAM lists them.
pub fn list_policy_versions(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    page: &PageRequest,
) -> Result<Page<PolicyVersionInfo>, IamError> {
    let all = versions(find(tx, account, arn)?);
    page.cut(
        all.into_iter()
            .rev()
            .enumerate()
            .map(|(i, v)| (ordinal(i), v))
            .collect(),
    )
}

pub fn create_policy_version(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    document: String,
    set_as_default: bool,
) -> Result<PolicyVersionInfo, IamError> {
    Violations::new()
        .arn("policyArn", arn)
        .document("policyDocument", &document)
        .finish()?;
    validate_document(&document)?;
    let mut record = customer(tx, account, arn)?;
    if record.versions.len() >= MAX_VERSIONS {
        return Err(IamError::TooManyVersions);
    }
    let version = VersionRecord {
        version_id: format!("v{}", record.next_version),
        document,
        create_date: now(),
    };
    record.next_version += 1;
    if set_as_default {
        record.default_version_id = version.version_id.clone();
        record.update_date = version.create_date.clone();
    }
    record.versions.push(version.clone());
    save_policy(tx, account, &record)?;
    Ok(PolicyVersionInfo {
        is_default: set_as_default,
        version_id: version.version_id,
        document: version.document,
        create_date: version.create_date,
    })
}

pub fn set_default_policy_version(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    version_id: &str,
) -> Result<(), IamError> {
    Violations::new()
        .arn("policyArn", arn)
        .version_id("versionId", version_id)
        .finish()?;
    let mut record = customer(tx, account, arn)?;
    if !record.versions.iter().any(|v| v.version_id == version_id) {
        return Err(IamError::NoSuchPolicyVersion {
            arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        });
    }
    record.default_version_id = version_id.to_owned();
    record.update_date = now();
    save_policy(tx, account, &record)?;
    Ok(())
}

pub fn delete_policy_version(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    version_id: &str,
) -> Result<(), IamError> {
    Violations::new()
        .arn("policyArn", arn)
        .version_id("versionId", version_id)
        .finish()?;
    let mut record = customer(tx, account, arn)?;
    if !record.versions.iter().any(|v| v.version_id == version_id) {
        return Err(IamError::NoSuchPolicyVersion {
            arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        });
    }
    if record.default_version_id == version_id {
        return Err(IamError::DefaultVersion);
    }
    record.versions.retain(|v| v.version_id != version_id);
    save_policy(tx, account, &record)?;
    Ok(())
}

/// Deletes a customer policy that is attached nowhere and has only its default version left.
pub fn delete_policy(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<(), IamError> {
    let record = customer(tx, account, arn)?;
    if attachment_counts(tx, account)?.contains_key(arn) {
        return Err(IamError::PolicyAttached);
    }
    if record.versions.len() > 1 {
        return Err(IamError::PolicyHasVersions);
    }
    tx.delete(POLICY_KIND, &Scope::global(account), &key(&record.name))?;
    Ok(())
}

/// AWS managed and this account's policies, ordered by ARN.
pub fn list_policies(
    tx: &mut dyn Tx,
    account: &str,
    filter: &PolicyFilter,
    page: &PageRequest,
) -> Result<Page<ManagedPolicyInfo>, IamError> {
    let prefix = filter.path_prefix.as_deref().unwrap_or("/");
    Violations::new()
        .policy_path("pathPrefix", prefix)
        .finish()?;
    let counts = attachment_counts(tx, account)?;
    let mut named: Vec<Named> = Vec::new();
    if filter.scope != PolicyScope::Local {
        named.extend(policy::aws_managed().iter().map(Named::Aws));
    }
    if filter.scope != PolicyScope::Aws {
        named.extend(
            all_policies(tx, account)?
                .into_iter()
                .map(|p| Named::Customer(Box::new(p))),
        );
    }
    let mut listed: Vec<(String, ManagedPolicyInfo)> = named
        .into_iter()
        .map(|n| {
            let count = counts.get(arn_of(&n)).copied().unwrap_or(0);
            info(n, count)
        })
        .filter(|p| p.path.starts_with(prefix))
        .filter(|p| !filter.only_attached || p.attachment_count > 0)
        .map(|p| (p.arn.clone(), p))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    page.cut(listed)
}

/// Attaches a managed policy to a role; attaching one already attached changes nothing.
pub fn attach_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    arn: &str,
) -> Result<(), IamError> {
    Violations::new().arn("policyArn", arn).finish()?;
    check_arn(arn)?;
    let mut role = existing_role(tx, account, role_name)?;
    if policy::aws_managed_by_arn(arn).is_none() && load_policy_by_arn(tx, account, arn)?.is_none()
    {
        return Err(IamError::PolicyNotAttachable(arn.to_owned()));
    }
    if role.attached_policies.iter().any(|a| a == arn) {
        return Ok(());
    }
    if role.attached_policies.len() >= MAX_ATTACHED_PER_ROLE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED_PER_ROLE}"
        )));
    }
    role.attached_policies.push(arn.to_owned());
    save_role(tx, account, &role)?;
    Ok(())
}

pub fn detach_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    arn: &str,
) -> Result<(), IamError> {
    Violations::new().arn("policyArn", arn).finish()?;
    check_arn(arn)?;
    let mut role = existing_role(tx, account, role_name)?;
    let before = role.attached_policies.len();
    role.attached_policies.retain(|a| a != arn);
    if role.attached_policies.len() == before {
        return Err(IamError::PolicyNotAttached(arn.to_owned()));
    }
    save_role(tx, account, &role)?;
    Ok(())
}

/// The managed policies attached to a role whose path starts with `path_prefix`, in
/// attachment order.
pub fn list_attached_role_policies(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    path_prefix: Option<&str>,
    page: &PageRequest,
) -> Result<Page<AttachedPolicy>, IamError> {
    let prefix = path_prefix.unwrap_or("/");
    Violations::new()
        .policy_path("pathPrefix", prefix)
        .finish()?;
    let role = existing_role(tx, account, role_name)?;
    let mut attached = Vec::with_capacity(role.attached_policies.len());
    for arn in role.attached_policies {
        let (name, path) = match policy::aws_managed_by_arn(&arn) {
            Some(m) => (m.name.to_owned(), m.path.to_owned()),
            None => match load_policy_by_arn(tx, account, &arn)? {
                Some(p) => (p.name, p.path),
                // Only reachable if a policy vanished under an attachment; the role still
                // reports what it holds.
                None => (
                    arn.rsplit('/').next().unwrap_or_default().to_owned(),
                    "/".to_owned(),
                ),
            },
        };
        if path.starts_with(prefix) {
            attached.push(AttachedPolicy { name, arn });
        }
    }
    page.cut(
        attached
            .into_iter()
            .enumerate()
            .map(|(i, a)| (ordinal(i), a))
            .collect(),
    )
}

/// The roles a policy is attached to whose path starts with `path_prefix`, ordered by name.
pub fn list_entities_for_policy(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    path_prefix: Option<&str>,
    page: &PageRequest,
) -> Result<Page<PolicyRole>, IamError> {
    let prefix = path_prefix.unwrap_or("/");
    Violations::new()
        .path_prefix("pathPrefix", prefix)
        .finish()?;
    find(tx, account, arn)?;
    let roles = all_roles(tx, account)?
        .into_iter()
        .filter(|r| r.path.starts_with(prefix) && r.attached_policies.iter().any(|a| a == arn))
        .map(|r: RoleRecord| {
            (
                key(&r.name),
                PolicyRole {
                    name: r.name,
                    role_id: r.role_id,
                },
            )
        })
        .collect();
    page.cut(roles)
}

/// The managed policy `arn` names, or `NoSuchEntity`.
fn find(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<Named, IamError> {
    Violations::new().arn("policyArn", arn).finish()?;
    check_arn(arn)?;
    if let Some(managed) = policy::aws_managed_by_arn(arn) {
        return Ok(Named::Aws(managed));
    }
    load_policy_by_arn(tx, account, arn)?
        .map(|p| Named::Customer(Box::new(p)))
        .ok_or_else(|| IamError::NoSuchPolicy(arn.to_owned()))
}

/// The customer policy `arn` names; AWS managed policies cannot be changed.
fn customer(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<PolicyRecord, IamError> {
    match find(tx, account, arn)? {
        Named::Aws(_) => Err(IamError::Unmodifiable(arn.to_owned())),
        Named::Customer(record) => Ok(*record),
    }
}

/// Refuses what is not an IAM policy ARN at all, as IAM does before looking anything up.
fn check_arn(arn: &str) -> Result<(), IamError> {
    let valid = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(owner, _)| entity_name(arn, owner, "policy"))
        .is_some();
    if valid {
        Ok(())
    } else {
        Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")))
    }
}

fn validate_document(document: &str) -> Result<(), IamError> {
    policy::check_managed_policy_size(document)?;
    Policy::parse(document, PolicyKind::Identity)?;
    Ok(())
}

/// How many of this account's roles each policy ARN is attached to.
fn attachment_counts(tx: &mut dyn Tx, account: &str) -> Result<HashMap<String, usize>, IamError> {
    let mut counts = HashMap::new();
    for role in all_roles(tx, account)? {
        for arn in role.attached_policies {
            *counts.entry(arn).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn arn_of(named: &Named) -> &str {
    match named {
        Named::Aws(m) => m.arn,
        Named::Customer(p) => &p.arn,
    }
}

fn info(named: Named, attachment_count: usize) -> ManagedPolicyInfo {
    match named {
        Named::Aws(m) => ManagedPolicyInfo {
            name: m.name.to_owned(),
            path: m.path.to_owned(),
            arn: m.arn.to_owned(),
            policy_id: m.policy_id.to_owned(),
            description: Some(m.description.to_owned()),
            default_version_id: m.default_version_id.to_owned(),
            create_date: m.create_date.to_owned(),
            update_date: m.update_date.to_owned(),
            attachment_count,
            tags: Vec::new(),
        },
        Named::Customer(p) => customer_info(*p, attachment_count),
    }
}

fn customer_info(p: PolicyRecord, attachment_count: usize) -> ManagedPolicyInfo {
    ManagedPolicyInfo {
        name: p.name,
        path: p.path,
        arn: p.arn,
        policy_id: p.policy_id,
        description: p.description,
        default_version_id: p.default_version_id,
        create_date: p.create_date,
        update_date: p.update_date,
        attachment_count,
        tags: p.tags,
    }
}

fn versions(named: Named) -> Vec<PolicyVersionInfo> {
    match named {
        Named::Aws(m) => m
            .versions
            .iter()
            .map(|v| PolicyVersionInfo {
                version_id: v.version_id.to_owned(),
                document: v.document.to_owned(),
                is_default: v.version_id == m.default_version_id,
                create_date: v.create_date.to_owned(),
            })
            .collect(),
        Named::Customer(p) => p
            .versions
            .into_iter()
            .map(|v| PolicyVersionInfo {
                is_default: v.version_id == p.default_version_id,
                version_id: v.version_id,
                document: v.document,
                create_date: v.create_date,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{create_role, NewRole};
    use crate::Store;

    const ACCOUNT: &str = "111111111111";
    const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn doc(action: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        )
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_sqlite(dir.path()).expect("store opens");
        (dir, store)
    }

    fn policy(store: &Store, name: &str, path: Option<&str>) -> ManagedPolicyInfo {
        store
            .write(|tx| {
                create_policy(
                    tx,
                    ACCOUNT,
                    NewPolicy {
                        name: name.into(),
                        path: path.map(Into::into),
                        document: doc("s3:GetObject"),
                        ..NewPolicy::default()
                    },
                )
            })
            .expect("policy created")
    }

    fn role(store: &Store, account: &str, name: &str) {
        store
            .write(|tx| {
                create_role(
                    tx,
                    account,
                    NewRole {
                        name: name.into(),
                        trust_policy: TRUST.into(),
                        ..NewRole::default()
                    },
                )
            })
            .expect("role created");
    }

    #[test]
    fn customer_policy_shape() {
        let (_dir, store) = store();
        let p = policy(&store, "Mine", Some("/team/"));
        assert_eq!(p.arn, "arn:aws:iam::111111111111:policy/team/Mine");
        assert!(p.policy_id.starts_with("ANPA") && p.policy_id.len() == 21);
        assert_eq!(p.default_version_id, "v1");
        assert_eq!(p.attachment_count, 0);
        let err = store
            .write(|tx| {
                create_policy(
                    tx,
                    ACCOUNT,
                    NewPolicy {
                        name: "mine".into(),
                        document: doc("s3:*"),
                        ..NewPolicy::default()
                    },
                )
            })
            .expect_err("names are unique without case");
        assert!(matches!(err, IamError::PolicyAlreadyExists(_)));
        let err = store
            .write(|tx| {
                create_policy(
                    tx,
                    ACCOUNT,
                    NewPolicy {
                        name: "trust".into(),
                        document: TRUST.into(),
                        ..NewPolicy::default()
                    },
                )
            })
            .expect_err("a trust policy is not an identity policy");
        assert!(matches!(err, IamError::MalformedPolicyDocument(_)));
    }

    #[test]
    fn versions_lifecycle() {
        let (_dir, store) = store();
        let arn = policy(&store, "v", None).arn;
        for n in 2..=5 {
            let v = store
                .write(|tx| create_policy_version(tx, ACCOUNT, &arn, doc("s3:PutObject"), n == 3))
                .expect("version created");
            assert_eq!(v.version_id, format!("v{n}"));
            assert_eq!(v.is_default, n == 3);
        }
        let sixth = store.write(|tx| create_policy_version(tx, ACCOUNT, &arn, doc("s3:*"), false));
        assert!(matches!(sixth, Err(IamError::TooManyVersions)));
        let got = store.read(|tx| get_policy(tx, ACCOUNT, &arn)).expect("got");
        assert_eq!(got.default_version_id, "v3");
        assert!(matches!(
            store.write(|tx| delete_policy_version(tx, ACCOUNT, &arn, "v3")),
            Err(IamError::DefaultVersion)
        ));
        store
            .write(|tx| delete_policy_version(tx, ACCOUNT, &arn, "v2"))
            .expect("deleted");
        let v6 = store
            .write(|tx| create_policy_version(tx, ACCOUNT, &arn, doc("s3:*"), false))
            .expect("room again");
        assert_eq!(v6.version_id, "v6", "ids are never reused");
        let listed = store
            .read(|tx| list_policy_versions(tx, ACCOUNT, &arn, &PageRequest::default()))
            .expect("listed");
        let ids: Vec<_> = listed.items.iter().map(|v| v.version_id.as_str()).collect();
        assert_eq!(ids, ["v6", "v5", "v4", "v3", "v1"]);
        assert!(matches!(
            store.read(|tx| get_policy_version(tx, ACCOUNT, &arn, "v2")),
            Err(IamError::NoSuchPolicyVersion { .. })
        ));
        assert!(matches!(
            store.write(|tx| delete_policy(tx, ACCOUNT, &arn)),
            Err(IamError::PolicyHasVersions)
        ));
        store
            .write(|tx| {
                for v in ["v1", "v4", "v5", "v6"] {
                    delete_policy_version(tx, ACCOUNT, &arn, v)?;
                }
                delete_policy(tx, ACCOUNT, &arn)
            })
            .expect("deleted");
        assert!(matches!(
            store.read(|tx| get_policy(tx, ACCOUNT, &arn)),
            Err(IamError::NoSuchPolicy(_))
        ));
    }

    #[test]
    fn aws_managed_policies_are_everywhere_and_read_only() {
        let (_dir, store) = store();
        let got = store
            .read(|tx| get_policy(tx, "999999999999", VPC_ACCESS))
            .expect("every account sees it");
        assert_eq!(got.default_version_id, "v3");
        assert_eq!(got.path, "/service-role/");
        let v = store
            .read(|tx| get_policy_version(tx, ACCOUNT, VPC_ACCESS, "v3"))
            .expect("version");
        assert!(v.is_default && v.document.contains("ec2:CreateNetworkInterface"));
        assert!(matches!(
            store.write(|tx| create_policy_version(tx, ACCOUNT, VPC_ACCESS, doc("s3:*"), true)),
            Err(IamError::Unmodifiable(_))
        ));
        assert!(matches!(
            store.write(|tx| delete_policy(tx, ACCOUNT, VPC_ACCESS)),
            Err(IamError::Unmodifiable(_))
        ));
        assert!(matches!(
            store.read(|tx| get_policy(tx, ACCOUNT, "not-an-arn-at-all-really")),
            Err(IamError::InvalidInput(_))
        ));
    }

    #[test]
    fn attachments_are_counted_per_account() {
        let (_dir, store) = store();
        role(&store, ACCOUNT, "r1");
        role(&store, ACCOUNT, "r2");
        role(&store, "222222222222", "r1");
        let mine = policy(&store, "mine", None).arn;
        store
            .write(|tx| {
                attach_role_policy(tx, ACCOUNT, "r1", VPC_ACCESS)?;
                attach_role_policy(tx, ACCOUNT, "r1", VPC_ACCESS)?;
                attach_role_policy(tx, ACCOUNT, "r2", VPC_ACCESS)?;
                attach_role_policy(tx, ACCOUNT, "r2", &mine)
            })
            .expect("attached");
        let count = |account: &str, arn: &str| {
            store
                .read(|tx| get_policy(tx, account, arn))
                .expect("got")
                .attachment_count
        };
        assert_eq!(count(ACCOUNT, VPC_ACCESS), 2);
        assert_eq!(count(ACCOUNT, &mine), 1);
        assert_eq!(count("222222222222", VPC_ACCESS), 0);
        assert!(matches!(
            store.write(|tx| attach_role_policy(tx, "222222222222", "r1", &mine)),
            Err(IamError::PolicyNotAttachable(_))
        ));
        assert!(matches!(
            store.write(|tx| attach_role_policy(tx, ACCOUNT, "r1", "arn:aws:iam::aws:policy/Nope")),
            Err(IamError::PolicyNotAttachable(_))
        ));
        assert!(matches!(
            store.write(|tx| detach_role_policy(tx, ACCOUNT, "r1", &mine)),
            Err(IamError::PolicyNotAttached(_))
        ));
        assert!(matches!(
            store.write(|tx| delete_policy(tx, ACCOUNT, &mine)),
            Err(IamError::PolicyAttached)
        ));
        let attached = store
            .read(|tx| {
                list_attached_role_policies(tx, ACCOUNT, "r2", None, &PageRequest::default())
            })
            .expect("listed");
        let names: Vec<_> = attached.items.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["AWSLambdaVPCAccessExecutionRole", "mine"]);
        let service_role_only = store
            .read(|tx| {
                list_attached_role_policies(
                    tx,
                    ACCOUNT,
                    "r2",
                    Some("/service-role/"),
                    &PageRequest::default(),
                )
            })
            .expect("listed");
        assert_eq!(service_role_only.items.len(), 1);
        let entities = store
            .read(|tx| {
                list_entities_for_policy(tx, ACCOUNT, VPC_ACCESS, None, &PageRequest::default())
            })
            .expect("listed");
        let roles: Vec<_> = entities.items.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(roles, ["r1", "r2"]);
    }

    #[test]
    fn list_policies_scopes() {
        let (_dir, store) = store();
        role(&store, ACCOUNT, "r");
        let mine = policy(&store, "mine", Some("/team/")).arn;
        let list = |filter: PolicyFilter| {
            store
                .read(|tx| list_policies(tx, ACCOUNT, &filter, &PageRequest::default()))
                .expect("listed")
                .items
                .into_iter()
                .map(|p| p.arn)
                .collect::<Vec<_>>()
        };
        let all = list(PolicyFilter::default());
        assert_eq!(all.len(), policy::aws_managed().len() + 1);
        assert!(all.contains(&mine));
        assert_eq!(
            list(PolicyFilter {
                scope: PolicyScope::Local,
                ..PolicyFilter::default()
            }),
            std::slice::from_ref(&mine)
        );
        assert!(!list(PolicyFilter {
            scope: PolicyScope::Aws,
            ..PolicyFilter::default()
        })
        .contains(&mine));
        assert!(list(PolicyFilter {
            only_attached: true,
            ..PolicyFilter::default()
        })
        .is_empty());
        store
            .write(|tx| attach_role_policy(tx, ACCOUNT, "r", VPC_ACCESS))
            .expect("attached");
        assert_eq!(
            list(PolicyFilter {
                only_attached: true,
                ..PolicyFilter::default()
            }),
            [VPC_ACCESS.to_string()]
        );
        assert_eq!(
            list(PolicyFilter {
                path_prefix: Some("/team/".into()),
                ..PolicyFilter::default()
            }),
            [mine]
        );
    }
}
