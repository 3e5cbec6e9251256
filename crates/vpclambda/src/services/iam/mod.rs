//! The iam wire adapter (query protocol, XML): decodes requests, runs `control::iam` in a
//! store transaction, encodes responses, and maps [`IamError`] to IAM's codes, texts and HTTP
//! statuses in one place. Policy documents go out percent-encoded, as IAM sends them and
//! botocore expects. Domain rules live in `control::iam`, not here.

mod policies;
mod roles;

use std::sync::Arc;

use bytes::Bytes;
use control::iam::{IamError, PageRequest, Tag};
use control::Store;
use http::Response;
use wire::{AwsError, QueryParams, XmlWriter};

use super::{Call, Service, IAM_XMLNS};
use crate::server::AppState;

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let params = call.query_params()?;
    let req = Req {
        store: state.store.clone(),
        account: call.account.account_id.clone(),
        request_id: call.request_id.clone(),
        params,
    };
    // SQLite calls block, and a writer may wait for the store's lock; keep them off the
    // async workers.
    tokio::task::spawn_blocking(move || dispatch(&req))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "iam handler panicked");
            AwsError::internal()
        })?
}

/// One decoded IAM request, owned so it can move to a blocking thread.
struct Req {
    store: Store,
    account: String,
    request_id: String,
    params: QueryParams,
}

fn dispatch(req: &Req) -> Result<Response<Bytes>, AwsError> {
    match req.params.get("Action").unwrap_or_default() {
        "CreateRole" => roles::create_role(req),
        "GetRole" => roles::get_role(req),
        "ListRoles" => roles::list_roles(req),
        "DeleteRole" => roles::delete_role(req),
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(req),
        "UpdateRole" => roles::update_role(req),
        "UpdateRoleDescription" => roles::update_role_description(req),
        "TagRole" => roles::tag_role(req),
        "UntagRole" => roles::untag_role(req),
        "ListRoleTags" => roles::list_role_tags(req),
        "PutRolePolicy" => roles::put_role_policy(req),
        "GetRolePolicy" => roles::get_role_policy(req),
        "DeleteRolePolicy" => roles::delete_role_policy(req),
        "ListRolePolicies" => roles::list_role_policies(req),
        "CreatePolicy" => policies::create_policy(req),
        "GetPolicy" => policies::get_policy(req),
        "DeletePolicy" => policies::delete_policy(req),
        "ListPolicies" => policies::list_policies(req),
        "CreatePolicyVersion" => policies::create_policy_version(req),
        "GetPolicyVersion" => policies::get_policy_version(req),
        "ListPolicyVersions" => policies::list_policy_versions(req),
        "SetDefaultPolicyVersion" => policies::set_default_policy_version(req),
        "DeletePolicyVersion" => policies::delete_policy_version(req),
        "AttachRolePolicy" => policies::attach_role_policy(req),
        "DetachRolePolicy" => policies::detach_role_policy(req),
        "ListAttachedRolePolicies" => policies::list_attached_role_policies(req),
        "ListEntitiesForPolicy" => policies::list_entities_for_policy(req),
        _ => Err(super::unknown_query_action(Service::Iam, &req.params)),
    }
}

impl Req {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// A required parameter, or IAM's `ValidationError` naming the model member.
    fn required(&self, name: &str) -> Result<String, AwsError> {
        self.params
            .get(name)
            .map(str::to_owned)
            .ok_or_else(|| aws_error(IamError::missing(&member_name(name))))
    }

    fn page(&self) -> Result<PageRequest, AwsError> {
        Ok(PageRequest {
            marker: self.get("Marker").map(str::to_owned),
            max_items: self.params.int("MaxItems")?,
        })
    }

    /// `Tags.member.N.Key` / `.Value`.
    fn tags(&self) -> Result<Vec<Tag>, AwsError> {
        self.params
            .structs("Tags.member")
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let key = t.get("Key").ok_or_else(|| {
                    aws_error(IamError::missing(&format!("tags.{}.member.key", i + 1)))
                })?;
                Ok(Tag {
                    key: key.to_owned(),
                    value: t.get("Value").unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }

    fn write<R>(
        &self,
        f: impl FnOnce(&mut dyn control::Tx, &str) -> Result<R, IamError>,
    ) -> Result<R, AwsError> {
        self.store
            .write(|tx| f(tx, &self.account))
            .map_err(aws_error)
    }

    fn read<R>(
        &self,
        f: impl FnOnce(&mut dyn control::Tx, &str) -> Result<R, IamError>,
    ) -> Result<R, AwsError> {
        self.store
            .read(|tx| f(tx, &self.account))
            .map_err(aws_error)
    }

    fn respond(&self, action: &str, result: impl FnOnce(&mut XmlWriter)) -> Response<Bytes> {
        wire::response::query(action, IAM_XMLNS, &self.request_id, result)
    }

    fn respond_empty(&self, action: &str) -> Response<Bytes> {
        wire::response::query_empty(action, IAM_XMLNS, &self.request_id)
    }
}

/// The model's member name as IAM's validation messages spell it: `RoleName` → `roleName`.
fn member_name(param: &str) -> String {
    let mut chars = param.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A policy document as IAM puts it on the wire.
fn document(doc: &str) -> String {
    control::iam::url_encode_document(doc)
}

fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.open("Tags");
    for t in tags {
        w.open("member")
            .elem("Key", &t.key)
            .elem("Value", &t.value)
            .close();
    }
    w.close();
}

/// `IsTruncated` and, when truncated, `Marker`.
fn write_truncation(w: &mut XmlWriter, marker: Option<&str>) {
    w.bool_elem("IsTruncated", marker.is_some());
    w.opt_elem("Marker", marker);
}

/// The one mapping of IAM's domain errors to IAM's wire errors (a function, not `From`,
/// because neither type belongs to this crate).
fn aws_error(e: IamError) -> AwsError {
    match e {
        IamError::NoSuchRole(name) => {
            no_such_entity(format!("The role with name {name} cannot be found."))
        }
        IamError::NoSuchRolePolicy(name) => {
            no_such_entity(format!("The role policy with name {name} cannot be found."))
        }
        IamError::NoSuchPolicy(arn) => no_such_entity(format!("Policy {arn} was not found.")),
        IamError::NoSuchPolicyVersion { arn, version_id } => no_such_entity(format!(
            "Policy {arn} version {version_id} does not exist or is not attachable."
        )),
        IamError::PolicyNotAttachable(arn) => {
            no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
        }
        IamError::PolicyNotAttached(arn) => no_such_entity(format!("Policy {arn} was not found.")),
        IamError::RoleAlreadyExists(name) => AwsError::new(
            409,
            "EntityAlreadyExists",
            format!("Role with name {name} already exists."),
        ),
        IamError::PolicyAlreadyExists(name) => AwsError::new(
            409,
            "EntityAlreadyExists",
            format!("A policy called {name} already exists. Duplicate names are not allowed."),
        ),
        IamError::RoleHasAttachedPolicies => {
            delete_conflict("Cannot delete entity, must detach all policies first.")
        }
        IamError::RoleHasInlinePolicies => {
            delete_conflict("Cannot delete entity, must delete policies first.")
        }
        IamError::PolicyAttached => delete_conflict("Cannot delete a policy attached to entities."),
        IamError::PolicyHasVersions => delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must \
                 delete the policy's versions. The default version is deleted with the policy.",
        ),
        IamError::DefaultVersion => {
            delete_conflict("Cannot delete the default version of a policy.")
        }
        IamError::TooManyVersions => AwsError::new(
            409,
            "LimitExceeded",
            "A managed policy can have up to 5 versions. Before you create a new version, \
                 you must delete an existing version.",
        ),
        IamError::LimitExceeded(message) => AwsError::new(409, "LimitExceeded", message),
        IamError::MalformedPolicyDocument(message) => {
            AwsError::new(400, "MalformedPolicyDocument", message)
        }
        IamError::InvalidInput(message) => AwsError::new(400, "InvalidInput", message),
        IamError::Unmodifiable(arn) => AwsError::new(
            400,
            "UnmodifiableEntity",
            format!("Policy {arn} is an AWS managed policy and cannot be modified."),
        ),
        IamError::Validation(message) => AwsError::new(400, "ValidationError", message),
        IamError::Store(e) => {
            tracing::error!(error = %e, "iam store failure");
            AwsError::new(
                500,
                "ServiceFailure",
                "The request processing has failed because of an unknown error, exception \
                     or failure.",
            )
        }
    }
}

fn no_such_entity(message: String) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

fn delete_conflict(message: &str) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}
