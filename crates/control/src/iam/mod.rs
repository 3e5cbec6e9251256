//! IAM as records: roles, customer and AWS managed policies, attachments and inline
//! policies, and the questions other services ask of them ("may this role do X?").
//!
//! Everything IAM owns lives in the account's global scope ([`crate::Scope::global`]): IAM has
//! no regions. Policy documents are validated by the `policy` crate and stored exactly as the
//! caller sent them, because clients compare the text they get back. This module knows
//! nothing of the query protocol; it re-exports the `policy` crate's document encoding only so
//! the wire adapter uses the same one.

mod error;
pub mod lookup;
mod page;
mod policies;
mod records;
mod roles;
mod validate;

pub use error::IamError;
pub use page::{Page, PageRequest};
pub use policies::{
    attach_role_policy, create_policy, create_policy_version, delete_policy, delete_policy_version,
    detach_role_policy, get_policy, get_policy_version, list_attached_role_policies,
    list_entities_for_policy, list_policies, list_policy_versions, set_default_policy_version,
    AttachedPolicy, ManagedPolicyInfo, NewPolicy, PolicyFilter, PolicyRole, PolicyScope,
    PolicyVersionInfo,
};
pub use policy::url_encode_document;
pub use records::Tag;
pub use roles::{
    create_role, delete_role, delete_role_policy, get_role, get_role_policy, list_role_policies,
    list_role_tags, list_roles, put_role_policy, tag_role, untag_role, update_assume_role_policy,
    update_role, NewRole, RoleDetails, RoleUpdate,
};
