//! Managed policy operations: AWS managed and customer policies, their versions, and
//! attaching them to roles.

use bytes::Bytes;
use control::iam::{
    self, ManagedPolicyInfo, NewPolicy, PolicyFilter, PolicyScope, PolicyVersionInfo,
};
use http::Response;
use wire::{AwsError, XmlWriter};

use super::{aws_error, document, write_tags, write_truncation, Req};

fn write_policy(w: &mut XmlWriter, p: &ManagedPolicyInfo, with_tags: bool) {
    w.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.policy_id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version_id)
        .elem("AttachmentCount", &p.attachment_count.to_string())
        .elem("PermissionsBoundaryUsageCount", "0")
        .bool_elem("IsAttachable", true)
        .opt_elem("Description", p.description.as_deref())
        .elem("CreateDate", &p.create_date)
        .elem("UpdateDate", &p.update_date);
    if with_tags && !p.tags.is_empty() {
        write_tags(w, &p.tags);
    }
}

/// A `PolicyVersion`; listings leave the document out, as IAM's do.
fn write_version(w: &mut XmlWriter, v: &PolicyVersionInfo, with_document: bool) {
    if with_document {
        w.elem("Document", &document(&v.document));
    }
    w.elem("VersionId", &v.version_id)
        .bool_elem("IsDefaultVersion", v.is_default)
        .elem("CreateDate", &v.create_date);
}

pub(super) fn create_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewPolicy {
        name: req.required("PolicyName")?,
        path: req.get("Path").map(str::to_owned),
        document: req.required("PolicyDocument")?,
        description: req.get("Description").map(str::to_owned),
        tags: req.tags()?,
    };
    let policy = req.write(|tx, account| iam::create_policy(tx, account, new))?;
    Ok(req.respond("CreatePolicy", |w| {
        w.open("Policy");
        write_policy(w, &policy, true);
        w.close();
    }))
}

pub(super) fn get_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let policy = req.read(|tx, account| iam::get_policy(tx, account, &arn))?;
    Ok(req.respond("GetPolicy", |w| {
        w.open("Policy");
        write_policy(w, &policy, true);
        w.close();
    }))
}

pub(super) fn delete_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    req.write(|tx, account| iam::delete_policy(tx, account, &arn))?;
    Ok(req.respond_empty("DeletePolicy"))
}

pub(super) fn list_policies(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let scope = match req.get("Scope") {
        None | Some("All") => PolicyScope::All,
        Some("AWS") => PolicyScope::Aws,
        Some("Local") => PolicyScope::Local,
        Some(other) => {
            return Err(aws_error(iam::IamError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'scope' failed to satisfy \
                 constraint: Member must satisfy enum value set: [All, AWS, Local]"
            ))))
        }
    };
    let filter = PolicyFilter {
        scope,
        only_attached: req.params.bool("OnlyAttached")?.unwrap_or(false),
        path_prefix: req.get("PathPrefix").map(str::to_owned),
    };
    let page = req.page()?;
    let policies = req.read(|tx, account| iam::list_policies(tx, account, &filter, &page))?;
    Ok(req.respond("ListPolicies", |w| {
        w.open("Policies");
        for p in &policies.items {
            w.open("member");
            write_policy(w, p, false);
            w.close();
        }
        w.close();
        write_truncation(w, policies.marker.as_deref());
    }))
}

pub(super) fn create_policy_version(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let doc = req.required("PolicyDocument")?;
    let set_default = req.params.bool("SetAsDefault")?.unwrap_or(false);
    let version =
        req.write(|tx, account| iam::create_policy_version(tx, account, &arn, doc, set_default))?;
    Ok(req.respond("CreatePolicyVersion", |w| {
        w.open("PolicyVersion");
        write_version(w, &version, false);
        w.close();
    }))
}

pub(super) fn get_policy_version(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let version_id = req.required("VersionId")?;
    let version =
        req.read(|tx, account| iam::get_policy_version(tx, account, &arn, &version_id))?;
    Ok(req.respond("GetPolicyVersion", |w| {
        w.open("PolicyVersion");
        write_version(w, &version, true);
        w.close();
    }))
}

pub(super) fn list_policy_versions(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let page = req.page()?;
    let versions = req.read(|tx, account| iam::list_policy_versions(tx, account, &arn, &page))?;
    Ok(req.respond("ListPolicyVersions", |w| {
        w.open("Versions");
        for v in &versions.items {
            w.open("member");
            write_version(w, v, false);
            w.close();
        }
        w.close();
        write_truncation(w, versions.marker.as_deref());
    }))
}

pub(super) fn set_default_policy_version(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let version_id = req.required("VersionId")?;
    req.write(|tx, account| iam::set_default_policy_version(tx, account, &arn, &version_id))?;
    Ok(req.respond_empty("SetDefaultPolicyVersion"))
}

pub(super) fn delete_policy_version(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let version_id = req.required("VersionId")?;
    req.write(|tx, account| iam::delete_policy_version(tx, account, &arn, &version_id))?;
    Ok(req.respond_empty("DeletePolicyVersion"))
}

pub(super) fn attach_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let arn = req.required("PolicyArn")?;
    req.write(|tx, account| iam::attach_role_policy(tx, account, &role, &arn))?;
    Ok(req.respond_empty("AttachRolePolicy"))
}

pub(super) fn detach_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let arn = req.required("PolicyArn")?;
    req.write(|tx, account| iam::detach_role_policy(tx, account, &role, &arn))?;
    Ok(req.respond_empty("DetachRolePolicy"))
}

pub(super) fn list_attached_role_policies(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let prefix = req.get("PathPrefix");
    let page = req.page()?;
    let attached = req
        .read(|tx, account| iam::list_attached_role_policies(tx, account, &role, prefix, &page))?;
    Ok(req.respond("ListAttachedRolePolicies", |w| {
        w.open("AttachedPolicies");
        for a in &attached.items {
            w.open("member")
                .elem("PolicyName", &a.name)
                .elem("PolicyArn", &a.arn)
                .close();
        }
        w.close();
        write_truncation(w, attached.marker.as_deref());
    }))
}

pub(super) fn list_entities_for_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let arn = req.required("PolicyArn")?;
    let prefix = req.get("PathPrefix");
    let page = req.page()?;
    // Only roles exist here: asking for users or groups finds none of them.
    let roles_wanted = matches!(req.get("EntityFilter"), None | Some("Role"));
    let roles =
        req.read(|tx, account| iam::list_entities_for_policy(tx, account, &arn, prefix, &page))?;
    Ok(req.respond("ListEntitiesForPolicy", |w| {
        w.open("PolicyGroups").close();
        w.open("PolicyUsers").close();
        w.open("PolicyRoles");
        if roles_wanted {
            for r in &roles.items {
                w.open("member")
                    .elem("RoleName", &r.name)
                    .elem("RoleId", &r.role_id)
                    .close();
            }
        }
        w.close();
        write_truncation(w, roles.marker.as_deref().filter(|_| roles_wanted));
    }))
}
