//! Role operations: roles, their tags and their inline policies.

use bytes::Bytes;
use control::iam::{self, NewRole, RoleDetails, RoleUpdate};
use http::Response;
use wire::{AwsError, XmlWriter};

use super::{aws_error, document, write_tags, write_truncation, Req};

/// Which optional parts of a `Role` an operation reports.
#[derive(Clone, Copy)]
struct RoleParts {
    tags: bool,
    last_used: bool,
}

fn write_role(w: &mut XmlWriter, role: &RoleDetails, parts: RoleParts) {
    w.elem("Path", &role.path)
        .elem("RoleName", &role.name)
        .elem("RoleId", &role.role_id)
        .elem("Arn", &role.arn)
        .elem("CreateDate", &role.create_date)
        .elem("AssumeRolePolicyDocument", &document(&role.trust_policy))
        .opt_elem("Description", role.description.as_deref())
        .elem("MaxSessionDuration", &role.max_session_duration.to_string());
    if parts.tags && !role.tags.is_empty() {
        write_tags(w, &role.tags);
    }
    if parts.last_used {
        // IAM reports an empty RoleLastUsed until the role is first used; vpclambda does
        // not track use.
        w.open("RoleLastUsed").close();
    }
}

pub(super) fn create_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewRole {
        name: req.required("RoleName")?,
        path: req.get("Path").map(str::to_owned),
        trust_policy: req.required("AssumeRolePolicyDocument")?,
        description: req.get("Description").map(str::to_owned),
        max_session_duration: req.params.int("MaxSessionDuration")?,
        tags: req.tags()?,
    };
    let role = req.write(|tx, account| iam::create_role(tx, account, new))?;
    Ok(req.respond("CreateRole", |w| {
        w.open("Role");
        write_role(
            w,
            &role,
            RoleParts {
                tags: true,
                last_used: false,
            },
        );
        w.close();
    }))
}

pub(super) fn get_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let role = req.read(|tx, account| iam::get_role(tx, account, &name))?;
    Ok(req.respond("GetRole", |w| {
        w.open("Role");
        write_role(
            w,
            &role,
            RoleParts {
                tags: true,
                last_used: true,
            },
        );
        w.close();
    }))
}

pub(super) fn list_roles(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let page = req.page()?;
    let prefix = req.get("PathPrefix");
    let roles = req.read(|tx, account| iam::list_roles(tx, account, prefix, &page))?;
    Ok(req.respond("ListRoles", |w| {
        w.open("Roles");
        for role in &roles.items {
            w.open("member");
            // ListRoles leaves out tags and last use, as IAM's does.
            write_role(
                w,
                role,
                RoleParts {
                    tags: false,
                    last_used: false,
                },
            );
            w.close();
        }
        w.close();
        write_truncation(w, roles.marker.as_deref());
    }))
}

pub(super) fn delete_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    req.write(|tx, account| iam::delete_role(tx, account, &name))?;
    Ok(req.respond_empty("DeleteRole"))
}

pub(super) fn update_assume_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let doc = req.required("PolicyDocument")?;
    req.write(|tx, account| iam::update_assume_role_policy(tx, account, &name, doc))?;
    Ok(req.respond_empty("UpdateAssumeRolePolicy"))
}

pub(super) fn update_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let update = RoleUpdate {
        description: req.get("Description").map(str::to_owned),
        max_session_duration: req.params.int("MaxSessionDuration")?,
    };
    req.write(|tx, account| iam::update_role(tx, account, &name, update))?;
    Ok(req.respond("UpdateRole", |_| {}))
}

pub(super) fn update_role_description(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let update = RoleUpdate {
        description: Some(req.required("Description")?),
        max_session_duration: None,
    };
    let role = req.write(|tx, account| {
        iam::update_role(tx, account, &name, update)?;
        iam::get_role(tx, account, &name)
    })?;
    Ok(req.respond("UpdateRoleDescription", |w| {
        w.open("Role");
        write_role(
            w,
            &role,
            RoleParts {
                tags: true,
                last_used: true,
            },
        );
        w.close();
    }))
}

pub(super) fn tag_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let tags = req.tags()?;
    if tags.is_empty() && req.get("Tags").is_none() {
        return Err(aws_error(iam::IamError::missing("tags")));
    }
    req.write(|tx, account| iam::tag_role(tx, account, &name, tags))?;
    Ok(req.respond_empty("TagRole"))
}

pub(super) fn untag_role(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let keys = req.params.member_list("TagKeys");
    if keys.is_empty() && req.get("TagKeys").is_none() {
        return Err(aws_error(iam::IamError::missing("tagKeys")));
    }
    req.write(|tx, account| iam::untag_role(tx, account, &name, &keys))?;
    Ok(req.respond_empty("UntagRole"))
}

pub(super) fn list_role_tags(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let name = req.required("RoleName")?;
    let page = req.page()?;
    let tags = req.read(|tx, account| iam::list_role_tags(tx, account, &name, &page))?;
    Ok(req.respond("ListRoleTags", |w| {
        write_tags(w, &tags.items);
        write_truncation(w, tags.marker.as_deref());
    }))
}

pub(super) fn put_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let name = req.required("PolicyName")?;
    let doc = req.required("PolicyDocument")?;
    req.write(|tx, account| iam::put_role_policy(tx, account, &role, &name, doc))?;
    Ok(req.respond_empty("PutRolePolicy"))
}

pub(super) fn get_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let name = req.required("PolicyName")?;
    let (role_name, doc) =
        req.read(|tx, account| iam::get_role_policy(tx, account, &role, &name))?;
    Ok(req.respond("GetRolePolicy", |w| {
        w.elem("RoleName", &role_name)
            .elem("PolicyName", &name)
            .elem("PolicyDocument", &document(&doc));
    }))
}

pub(super) fn delete_role_policy(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let name = req.required("PolicyName")?;
    req.write(|tx, account| iam::delete_role_policy(tx, account, &role, &name))?;
    Ok(req.respond_empty("DeleteRolePolicy"))
}

pub(super) fn list_role_policies(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let role = req.required("RoleName")?;
    let page = req.page()?;
    let names = req.read(|tx, account| iam::list_role_policies(tx, account, &role, &page))?;
    Ok(req.respond("ListRolePolicies", |w| {
        w.open("PolicyNames");
        for name in &names.items {
            w.elem("member", name);
        }
        w.close();
        write_truncation(w, names.marker.as_deref());
    }))
}
