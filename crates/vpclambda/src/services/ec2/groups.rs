//! Security groups and their rules.

use bytes::Bytes;
use control::ec2::security_group::{
    self, Direction, GroupPairSpec, GroupTarget, NewSecurityGroup, PermissionSpec, RangeSpec,
};
use http::Response;
use wire::{AwsError, QueryParams};

use super::{render, Req};

pub fn create_security_group(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewSecurityGroup {
        name: req.get("GroupName"),
        description: req.get("GroupDescription"),
        vpc_id: req.get("VpcId"),
        tag_specs: req.tag_specs(),
    };
    let g = req.write(|tx| security_group::create(tx, &req.scope, &new))?;
    req.respond(|w| {
        w.elem("groupId", &g.id);
        w.elem("securityGroupArn", &g.arn);
        render::tag_set(w, &g.tags);
    })
}

pub fn describe_security_groups(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, names) = (req.list("GroupId"), req.list("GroupName"));
    let (filters, page) = (req.filters(), req.page()?);
    let (groups, token) =
        req.read(|tx| security_group::describe(tx, &req.scope, &ids, &names, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "securityGroupInfo", &groups, |w, g| {
            render::security_group(w, g)
        });
        render::next_token(w, token.as_deref());
    })
}

fn target(req: &Req) -> GroupTarget {
    GroupTarget {
        id: req.get("GroupId"),
        name: req.get("GroupName"),
    }
}

pub fn delete_security_group(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let target = target(req);
    if target.id.is_none() && target.name.is_none() {
        return Err(AwsError::new(
            400,
            "MissingParameter",
            "The request must contain the parameter GroupId or GroupName",
        ));
    }
    let id = req.write(|tx| security_group::delete(tx, &req.scope, &target))?;
    req.respond(|w| {
        w.bool_elem("return", true);
        w.elem("groupId", &id);
    })
}

fn ranges(p: &QueryParams, list: &str, member: &str) -> Vec<RangeSpec> {
    p.structs(list)
        .into_iter()
        .map(|r| RangeSpec {
            value: r.get(member).unwrap_or_default().to_string(),
            description: r.get("Description").map(str::to_string),
        })
        .collect()
}

/// `IpPermissions.N…`, or the legacy flat `IpProtocol/FromPort/ToPort/CidrIp/
/// SourceSecurityGroupName` form.
fn permissions(req: &Req) -> Result<Vec<PermissionSpec>, AwsError> {
    let mut out = Vec::new();
    for p in req.params.structs("IpPermissions") {
        out.push(PermissionSpec {
            protocol: p.get("IpProtocol").map(str::to_string),
            from_port: p.int("FromPort")?,
            to_port: p.int("ToPort")?,
            ip_ranges: ranges(&p, "IpRanges", "CidrIp"),
            ipv6_ranges: ranges(&p, "Ipv6Ranges", "CidrIpv6"),
            prefix_list_ids: ranges(&p, "PrefixListIds", "PrefixListId"),
            groups: p
                .structs("Groups")
                .into_iter()
                .map(|g| GroupPairSpec {
                    group_id: g.get("GroupId").map(str::to_string),
                    group_name: g.get("GroupName").map(str::to_string),
                    user_id: g.get("UserId").map(str::to_string),
                    description: g.get("Description").map(str::to_string),
                })
                .collect(),
        });
    }
    let cidr = req.get("CidrIp");
    let source = req.get("SourceSecurityGroupName");
    if cidr.is_some() || source.is_some() {
        out.push(PermissionSpec {
            // A source group without a protocol means all traffic from it.
            protocol: req
                .get("IpProtocol")
                .or_else(|| source.as_ref().map(|_| "-1".into())),
            from_port: req.params.int("FromPort")?,
            to_port: req.params.int("ToPort")?,
            ip_ranges: cidr
                .map(|c| RangeSpec {
                    value: c,
                    description: None,
                })
                .into_iter()
                .collect(),
            groups: source
                .map(|name| GroupPairSpec {
                    group_name: Some(name),
                    user_id: req.get("SourceSecurityGroupOwnerId"),
                    ..GroupPairSpec::default()
                })
                .into_iter()
                .collect(),
            ..PermissionSpec::default()
        });
    }
    Ok(out)
}

fn authorize(req: &Req, dir: Direction) -> Result<Response<Bytes>, AwsError> {
    let target = target(req);
    if dir == Direction::Egress && target.id.is_none() {
        req.required("GroupId")?;
    }
    let perms = permissions(req)?;
    let rules = req.write(|tx| security_group::authorize(tx, &req.scope, &target, dir, &perms))?;
    req.respond(|w| {
        w.bool_elem("return", true);
        render::items(w, "securityGroupRuleSet", &rules, |w, r| {
            render::rule(w, r, &req.scope.region)
        });
    })
}

fn revoke(req: &Req, dir: Direction) -> Result<Response<Bytes>, AwsError> {
    let target = target(req);
    if dir == Direction::Egress && target.id.is_none() {
        req.required("GroupId")?;
    }
    let perms = permissions(req)?;
    let rule_ids = req.list("SecurityGroupRuleId");
    let out =
        req.write(|tx| security_group::revoke(tx, &req.scope, &target, dir, &perms, &rule_ids))?;
    req.respond(|w| {
        w.bool_elem("return", true);
        if !out.unknown.is_empty() {
            render::ip_permissions(
                w,
                "unknownIpPermissionSet",
                &security_group::permissions(&out.unknown),
            );
        }
        render::items(w, "revokedSecurityGroupRuleSet", &out.revoked, |w, r| {
            render::revoked_rule(w, r)
        });
    })
}

pub fn authorize_ingress(req: &Req) -> Result<Response<Bytes>, AwsError> {
    authorize(req, Direction::Ingress)
}

pub fn authorize_egress(req: &Req) -> Result<Response<Bytes>, AwsError> {
    authorize(req, Direction::Egress)
}

pub fn revoke_ingress(req: &Req) -> Result<Response<Bytes>, AwsError> {
    revoke(req, Direction::Ingress)
}

pub fn revoke_egress(req: &Req) -> Result<Response<Bytes>, AwsError> {
    revoke(req, Direction::Egress)
}

pub fn describe_security_group_rules(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("SecurityGroupRuleId"), req.filters(), req.page()?);
    let (rules, token) =
        req.read(|tx| security_group::describe_rules(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "securityGroupRuleSet", &rules, |w, r| {
            render::rule(w, r, &req.scope.region)
        });
        render::next_token(w, token.as_deref());
    })
}
