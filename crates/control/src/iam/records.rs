//! The stored shapes of IAM's records and how they are keyed, named and found. Roles and
//! customer policies are keyed by their lower-cased name because IAM names are unique in an
//! account regardless of case; a role's attachments and inline policies live in the role's
//! own record, so one read answers every question about a role.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{Scope, StoreError, Tx, TxExt};

pub(crate) const ROLE_KIND: &str = "iam.role";
pub(crate) const POLICY_KIND: &str = "iam.policy";

/// A role as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    /// The trust policy exactly as the caller sent it.
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub tags: Vec<Tag>,
    /// ARNs of attached managed policies, in attachment order.
    pub attached_policies: Vec<String>,
    /// Inline policies by name, documents exactly as sent.
    pub inline_policies: BTreeMap<String, String>,
}

/// A customer managed policy as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PolicyRecord {
    pub name: String,
    pub path: String,
    pub policy_id: String,
    pub arn: String,
    pub description: Option<String>,
    pub create_date: String,
    pub update_date: String,
    pub default_version_id: String,
    /// Oldest first.
    pub versions: Vec<VersionRecord>,
    /// The number the next version gets: IAM never reuses a deleted version's id.
    pub next_version: u32,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub version_id: String,
    pub document: String,
    pub create_date: String,
}

impl PolicyRecord {
    pub(crate) fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| v.document.as_str())
    }
}

/// A resource tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The store id of the entity named `name`.
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) fn load_role(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
) -> Result<Option<RoleRecord>, StoreError> {
    tx.get_json(ROLE_KIND, &Scope::global(account), &key(name))
}

pub(crate) fn save_role(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleRecord,
) -> Result<(), StoreError> {
    tx.put_json(ROLE_KIND, &Scope::global(account), &key(&role.name), role)
}

pub(crate) fn all_roles(tx: &mut dyn Tx, account: &str) -> Result<Vec<RoleRecord>, StoreError> {
    tx.list_json(ROLE_KIND, &Scope::global(account), "")
}

pub(crate) fn save_policy(
    tx: &mut dyn Tx,
    account: &str,
    policy: &PolicyRecord,
) -> Result<(), StoreError> {
    tx.put_json(
        POLICY_KIND,
        &Scope::global(account),
        &key(&policy.name),
        policy,
    )
}

pub(crate) fn all_policies(
    tx: &mut dyn Tx,
    account: &str,
) -> Result<Vec<PolicyRecord>, StoreError> {
    tx.list_json(POLICY_KIND, &Scope::global(account), "")
}

/// The customer policy with exactly this ARN in `account`.
pub(crate) fn load_policy_by_arn(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
) -> Result<Option<PolicyRecord>, StoreError> {
    let Some(name) = entity_name(arn, account, "policy") else {
        return Ok(None);
    };
    let found: Option<PolicyRecord> =
        tx.get_json(POLICY_KIND, &Scope::global(account), &key(name))?;
    Ok(found.filter(|p| p.arn == arn))
}

/// The name at the end of `arn:aws:iam::<account>:<resource><path><name>`, if `arn` has that
/// shape for this account and resource type.
pub(crate) fn entity_name<'a>(arn: &'a str, account: &str, resource: &str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let rest = rest.strip_prefix(account)?;
    let rest = rest.strip_prefix(':')?;
    let rest = rest.strip_prefix(resource)?;
    if !rest.starts_with('/') {
        return None;
    }
    rest.rsplit('/').next().filter(|name| !name.is_empty())
}

pub(crate) fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub(crate) fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// A unique id as IAM shapes them: a four-letter type prefix (`AROA` roles, `ANPA` policies)
/// and 17 upper-case alphanumerics.
pub(crate) fn unique_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    for _ in 0..17 {
        id.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
    }
    id
}

/// Now, in IAM's ISO 8601 form (`2026-11-26T15:00:00Z`).
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
