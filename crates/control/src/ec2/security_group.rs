//! Security groups and their rules: creation (with AWS's default egress), the reserved
//! `default` group of each VPC, authorize/revoke in both the `IpPermissions` and rule-id
//! forms, deletion rules, and the Describe views. Every rule change bumps the group's
//! `revision`, which the dataplane compares with what it has applied.

use serde::Serialize;

use super::cidr::{is_ipv6_cidr, Cidr};
use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::ids;
use super::model::{NetworkInterface, RulePeer, SecurityGroup, SecurityGroupRule, Tag, Vpc};
use super::tags::{self, TagSpec};
use super::{flag, list, load, remove, save, vpc};
use crate::store::{Scope, Tx};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewSecurityGroup {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The default VPC when absent.
    pub vpc_id: Option<String>,
    pub tag_specs: Vec<TagSpec>,
}

/// A CIDR, prefix list id, or the like, with its optional description.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RangeSpec {
    pub value: String,
    pub description: Option<String>,
}

/// One `UserIdGroupPair` of a request: the group by id, or by name in the same VPC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupPairSpec {
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    pub user_id: Option<String>,
    pub description: Option<String>,
}

/// One `IpPermission` of an authorize/revoke request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PermissionSpec {
    pub protocol: Option<String>,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    pub ip_ranges: Vec<RangeSpec>,
    pub ipv6_ranges: Vec<RangeSpec>,
    pub groups: Vec<GroupPairSpec>,
    pub prefix_list_ids: Vec<RangeSpec>,
}

/// Which group a rule call targets: by id, or by name in the default VPC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupTarget {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// A rule together with the group that holds it, as DescribeSecurityGroupRules shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleView {
    pub group_id: String,
    pub group_owner_id: String,
    pub is_egress: bool,
    pub rule: SecurityGroupRule,
}

/// The grouped `IpPermission` view of rules sharing protocol and ports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpPermission {
    pub protocol: String,
    /// Absent for protocols without ports (`-1`, numbered protocols).
    pub ports: Option<(i32, i32)>,
    pub ip_ranges: Vec<(String, Option<String>)>,
    pub ipv6_ranges: Vec<(String, Option<String>)>,
    /// (user id, group id, description)
    pub groups: Vec<(String, String, Option<String>)>,
    pub prefix_list_ids: Vec<(String, Option<String>)>,
}

fn arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:aws:ec2:{}:{}:security-group/{id}",
        scope.region, scope.account
    )
}

fn allow_all_egress() -> SecurityGroupRule {
    SecurityGroupRule {
        id: ids::SECURITY_GROUP_RULE.new_id(),
        protocol: "-1".into(),
        from_port: -1,
        to_port: -1,
        peer: RulePeer::Ipv4("0.0.0.0/0".into()),
        description: None,
    }
}

/// The `default` group CreateVpc makes: all traffic in from members of the group itself,
/// all traffic out. The caller saves it.
pub(crate) fn new_default(scope: &Scope, vpc_id: &str) -> SecurityGroup {
    let id = ids::SECURITY_GROUP.new_id();
    SecurityGroup {
        owner_id: scope.account.clone(),
        vpc_id: vpc_id.to_string(),
        name: "default".into(),
        description: "default VPC security group".into(),
        arn: arn(scope, &id),
        ingress: vec![SecurityGroupRule {
            id: ids::SECURITY_GROUP_RULE.new_id(),
            protocol: "-1".into(),
            from_port: -1,
            to_port: -1,
            peer: RulePeer::Group {
                group_id: id.clone(),
                user_id: scope.account.clone(),
            },
            description: None,
        }],
        egress: vec![allow_all_egress()],
        revision: 1,
        tags: Vec::new(),
        id,
    }
}

/// The VPC a call means: the given one, or the default VPC.
fn vpc_or_default(tx: &mut dyn Tx, scope: &Scope, vpc_id: Option<&str>) -> Result<Vpc, Ec2Error> {
    match vpc_id {
        Some(id) => load(tx, scope, ids::VPC, id),
        None => vpc::default_vpc(tx, scope)?.ok_or(Ec2Error::NoDefaultVpc),
    }
}

/// CreateSecurityGroup.
pub fn create(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewSecurityGroup,
) -> Result<SecurityGroup, Ec2Error> {
    let name = req
        .name
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("GroupName".into()))?;
    let description = req
        .description
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("GroupDescription".into()))?;
    if name.is_empty() || name.chars().count() > 255 {
        return Err(Ec2Error::invalid_value("groupName", name));
    }
    if name.eq_ignore_ascii_case("default") {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Cannot use reserved security group name: {name}"
        )));
    }
    if name.starts_with("sg-") {
        return Err(Ec2Error::InvalidParameterValue(
            "Group names may not be in the format sg-*.".into(),
        ));
    }
    if description.chars().count() > 255 {
        return Err(Ec2Error::invalid_value("groupDescription", description));
    }
    let vpc = vpc_or_default(tx, scope, req.vpc_id.as_deref())?;
    let groups: Vec<SecurityGroup> = list(tx, scope, ids::SECURITY_GROUP)?;
    if groups.iter().any(|g| g.vpc_id == vpc.id && g.name == name) {
        return Err(Ec2Error::GroupDuplicate {
            name: name.to_string(),
            vpc_id: vpc.id,
        });
    }
    let id = ids::SECURITY_GROUP.new_id();
    let group = SecurityGroup {
        owner_id: scope.account.clone(),
        vpc_id: vpc.id,
        name: name.to_string(),
        description: description.to_string(),
        arn: arn(scope, &id),
        ingress: Vec::new(),
        egress: vec![allow_all_egress()],
        revision: 1,
        tags: tags::for_new(&req.tag_specs, ids::SECURITY_GROUP)?,
        id,
    };
    save(tx, scope, ids::SECURITY_GROUP, &group.id, &group)?;
    Ok(group)
}

/// The group a target names.
pub fn resolve(
    tx: &mut dyn Tx,
    scope: &Scope,
    target: &GroupTarget,
) -> Result<SecurityGroup, Ec2Error> {
    if let Some(id) = &target.id {
        return load(tx, scope, ids::SECURITY_GROUP, id);
    }
    let name = target
        .name
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("GroupId".into()))?;
    let vpc = vpc::default_vpc(tx, scope)?.ok_or(Ec2Error::NoDefaultVpc)?;
    by_name(tx, scope, &vpc.id, name)?.ok_or_else(|| Ec2Error::NotFound {
        code: ids::SECURITY_GROUP.not_found_code,
        message: format!(
            "The security group '{name}' does not exist in default VPC '{}'",
            vpc.id
        ),
    })
}

fn by_name(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    name: &str,
) -> Result<Option<SecurityGroup>, Ec2Error> {
    Ok(list::<SecurityGroup>(tx, scope, ids::SECURITY_GROUP)?
        .into_iter()
        .find(|g| g.vpc_id == vpc_id && g.name == name))
}

/// DeleteSecurityGroup: refused for the default group, and while an ENI uses the group or
/// another group's rule refers to it. Returns the deleted group's id.
pub fn delete(tx: &mut dyn Tx, scope: &Scope, target: &GroupTarget) -> Result<String, Ec2Error> {
    let group = resolve(tx, scope, target)?;
    if group.name == "default" {
        return Err(Ec2Error::CannotDelete {
            id: group.id,
            name: group.name,
        });
    }
    let dependent =
        || Ec2Error::DependencyViolation(format!("resource {} has a dependent object", group.id));
    let enis: Vec<NetworkInterface> = list(tx, scope, ids::NETWORK_INTERFACE)?;
    if enis
        .iter()
        .any(|e| e.groups.iter().any(|g| g.id == group.id))
    {
        return Err(dependent());
    }
    let others: Vec<SecurityGroup> = list(tx, scope, ids::SECURITY_GROUP)?;
    let referenced = others.iter().filter(|g| g.id != group.id).any(|g| {
        g.ingress
            .iter()
            .chain(&g.egress)
            .any(|r| matches!(&r.peer, RulePeer::Group { group_id, .. } if *group_id == group.id))
    });
    if referenced {
        return Err(dependent());
    }
    remove(tx, scope, ids::SECURITY_GROUP, &group.id)?;
    Ok(group.id)
}

/// EC2's protocol names: `tcp`/`udp`/`icmp`/`icmpv6` for their names and numbers, `-1`
/// for all, other protocols by number.
pub fn normalize_protocol(p: &str) -> Result<String, Ec2Error> {
    let lower = p.to_ascii_lowercase();
    let named = match lower.as_str() {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "icmpv6" | "58" => "icmpv6",
        "-1" | "all" => "-1",
        other => {
            return match other.parse::<u8>() {
                Ok(n) => Ok(n.to_string()),
                Err(_) => Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{p}' for IP protocol. Unknown protocol."
                ))),
            }
        }
    };
    Ok(named.to_string())
}

/// The (from, to) a rule stores for `protocol`: ports for TCP/UDP, type/code for ICMP,
/// `-1` otherwise.
fn ports(protocol: &str, from: Option<i64>, to: Option<i64>) -> Result<(i32, i32), Ec2Error> {
    match protocol {
        "tcp" | "udp" => {
            let (Some(from), Some(to)) = (from, to) else {
                return Err(Ec2Error::InvalidParameterValue(
                    "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange"
                        .into(),
                ));
            };
            // AWS reads -1/-1 on TCP/UDP as the whole port range.
            if from == -1 && to == -1 {
                return Ok((0, 65535));
            }
            if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{from}-{to}' for portRange. Ports must be between 0 and 65535 and the from port may not exceed the to port."
                )));
            }
            Ok((from as i32, to as i32))
        }
        "icmp" | "icmpv6" => {
            let t = from.unwrap_or(-1);
            let c = to.unwrap_or(-1);
            if !(-1..=255).contains(&t) || !(-1..=255).contains(&c) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{t}' for icmp type or '{c}' for icmp code."
                )));
            }
            Ok((t as i32, c as i32))
        }
        _ => Ok((-1, -1)),
    }
}

/// AWS's text for a rule in duplicate-rule errors.
pub fn describe_rule(rule: &SecurityGroupRule) -> String {
    let peer = match &rule.peer {
        RulePeer::Ipv4(c) | RulePeer::Ipv6(c) | RulePeer::PrefixList(c) => c.clone(),
        RulePeer::Group { group_id, .. } => group_id.clone(),
    };
    match rule.protocol.as_str() {
        "-1" => format!("peer: {peer}, ALL, ALLOW"),
        "tcp" | "udp" => format!(
            "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
            rule.protocol.to_ascii_uppercase(),
            rule.from_port,
            rule.to_port
        ),
        "icmp" | "icmpv6" => format!(
            "peer: {peer}, {}, type: {}, code: {}, ALLOW",
            rule.protocol.to_ascii_uppercase(),
            rule.from_port,
            rule.to_port
        ),
        n => format!("peer: {peer}, {n}, ALLOW"),
    }
}

fn same_rule(a: &SecurityGroupRule, b: &SecurityGroupRule) -> bool {
    a.protocol == b.protocol
        && a.from_port == b.from_port
        && a.to_port == b.to_port
        && a.peer == b.peer
}

/// The rules a list of permissions expands to (one per peer), validated against `group`'s
/// VPC. New rule ids are assigned; callers comparing with existing rules ignore them.
fn expand(
    tx: &mut dyn Tx,
    scope: &Scope,
    group: &SecurityGroup,
    perms: &[PermissionSpec],
) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = normalize_protocol(
            p.protocol
                .as_deref()
                .ok_or_else(|| Ec2Error::MissingParameter("IpPermissions.IpProtocol".into()))?,
        )?;
        let (from_port, to_port) = ports(&protocol, p.from_port, p.to_port)?;
        let mut peers: Vec<(RulePeer, Option<String>)> = Vec::new();
        for r in &p.ip_ranges {
            if Cidr::parse(&r.value).is_none() {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "CIDR block {} is malformed",
                    r.value
                )));
            }
            peers.push((RulePeer::Ipv4(r.value.clone()), r.description.clone()));
        }
        for r in &p.ipv6_ranges {
            if !is_ipv6_cidr(&r.value) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "CIDR block {} is malformed",
                    r.value
                )));
            }
            peers.push((RulePeer::Ipv6(r.value.clone()), r.description.clone()));
        }
        for r in &p.prefix_list_ids {
            if !r.value.starts_with("pl-") {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid prefix list id: {}",
                    r.value
                )));
            }
            super::endpoint::existing_prefix_list(&scope.region, &r.value)?;
            peers.push((RulePeer::PrefixList(r.value.clone()), r.description.clone()));
        }
        for g in &p.groups {
            let other = match (&g.group_id, &g.group_name) {
                (Some(id), _) if *id == group.id => group.clone(),
                (Some(id), _) => load::<SecurityGroup>(tx, scope, ids::SECURITY_GROUP, id)?,
                (None, Some(name)) => {
                    by_name(tx, scope, &group.vpc_id, name)?.ok_or_else(|| Ec2Error::NotFound {
                        code: ids::SECURITY_GROUP.not_found_code,
                        message: format!(
                            "The security group '{name}' does not exist in VPC '{}'",
                            group.vpc_id
                        ),
                    })?
                }
                (None, None) => {
                    return Err(Ec2Error::MissingParameter("Groups.GroupId".into()));
                }
            };
            if other.vpc_id != group.vpc_id {
                return Err(Ec2Error::NotFound {
                    code: ids::SECURITY_GROUP.not_found_code,
                    message: format!(
                        "The security group '{}' does not exist in VPC '{}'",
                        other.id, group.vpc_id
                    ),
                });
            }
            peers.push((
                RulePeer::Group {
                    group_id: other.id,
                    user_id: g.user_id.clone().unwrap_or_else(|| scope.account.clone()),
                },
                g.description.clone(),
            ));
        }
        if peers.is_empty() {
            return Err(Ec2Error::MissingParameter(
                "IpPermissions: a CIDR range, prefix list or security group".into(),
            ));
        }
        for (peer, description) in peers {
            if description
                .as_ref()
                .is_some_and(|d| d.chars().count() > 255)
            {
                return Err(Ec2Error::invalid_value(
                    "description",
                    description.as_deref().unwrap_or(""),
                ));
            }
            out.push(SecurityGroupRule {
                id: ids::SECURITY_GROUP_RULE.new_id(),
                protocol: protocol.clone(),
                from_port,
                to_port,
                peer,
                description,
            });
        }
    }
    Ok(out)
}

fn rules_mut(group: &mut SecurityGroup, dir: Direction) -> &mut Vec<SecurityGroupRule> {
    match dir {
        Direction::Ingress => &mut group.ingress,
        Direction::Egress => &mut group.egress,
    }
}

fn view(group: &SecurityGroup, dir: Direction, rule: SecurityGroupRule) -> RuleView {
    RuleView {
        group_id: group.id.clone(),
        group_owner_id: group.owner_id.clone(),
        is_egress: dir == Direction::Egress,
        rule,
    }
}

/// AuthorizeSecurityGroupIngress/Egress: all rules or none; an existing rule (or one
/// given twice) is `InvalidPermission.Duplicate`. Returns the new rules.
pub fn authorize(
    tx: &mut dyn Tx,
    scope: &Scope,
    target: &GroupTarget,
    dir: Direction,
    perms: &[PermissionSpec],
) -> Result<Vec<RuleView>, Ec2Error> {
    let mut group = resolve(tx, scope, target)?;
    let new = expand(tx, scope, &group, perms)?;
    if new.is_empty() {
        return Err(Ec2Error::MissingParameter("IpPermissions".into()));
    }
    let rules = rules_mut(&mut group, dir);
    for (i, r) in new.iter().enumerate() {
        if rules.iter().chain(&new[..i]).any(|have| same_rule(have, r)) {
            return Err(Ec2Error::PermissionDuplicate(describe_rule(r)));
        }
    }
    rules.extend(new.iter().cloned());
    group.revision += 1;
    save(tx, scope, ids::SECURITY_GROUP, &group.id, &group)?;
    Ok(new.into_iter().map(|r| view(&group, dir, r)).collect())
}

/// What RevokeSecurityGroupIngress/Egress did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    pub revoked: Vec<RuleView>,
    /// Rules asked for that the group did not have (reported only for default VPCs).
    pub unknown: Vec<SecurityGroupRule>,
}

/// RevokeSecurityGroupIngress/Egress by rule ids or by permissions. In a non-default VPC a
/// rule that does not exist fails the whole call with `InvalidPermission.NotFound`; in the
/// default VPC it is reported back as unknown, as AWS does.
pub fn revoke(
    tx: &mut dyn Tx,
    scope: &Scope,
    target: &GroupTarget,
    dir: Direction,
    perms: &[PermissionSpec],
    rule_ids: &[String],
) -> Result<Revoked, Ec2Error> {
    let mut group = resolve(tx, scope, target)?;
    let wanted = expand(tx, scope, &group, perms)?;
    if wanted.is_empty() && rule_ids.is_empty() {
        return Err(Ec2Error::MissingParameter("IpPermissions".into()));
    }
    let vpc: Vpc = load(tx, scope, ids::VPC, &group.vpc_id)?;
    let rules = rules_mut(&mut group, dir);
    let mut out = Revoked::default();
    let mut taken = Vec::new();
    for id in rule_ids {
        ids::SECURITY_GROUP_RULE.check(id)?;
        match rules.iter().position(|r| r.id == *id) {
            Some(i) => taken.push(rules.remove(i)),
            None => return Err(ids::SECURITY_GROUP_RULE.not_found(id)),
        }
    }
    for w in wanted {
        match rules.iter().position(|r| same_rule(r, &w)) {
            Some(i) => taken.push(rules.remove(i)),
            None if vpc.is_default => out.unknown.push(w),
            None => return Err(Ec2Error::PermissionNotFound),
        }
    }
    if !taken.is_empty() {
        group.revision += 1;
        save(tx, scope, ids::SECURITY_GROUP, &group.id, &group)?;
    }
    out.revoked = taken.into_iter().map(|r| view(&group, dir, r)).collect();
    Ok(out)
}

/// Rules grouped into `IpPermission`s by protocol and ports, in first-seen order.
pub fn permissions(rules: &[SecurityGroupRule]) -> Vec<IpPermission> {
    let mut out: Vec<IpPermission> = Vec::new();
    for r in rules {
        let ports = matches!(r.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6")
            .then_some((r.from_port, r.to_port));
        let idx = match out
            .iter()
            .position(|p| p.protocol == r.protocol && p.ports == ports)
        {
            Some(i) => i,
            None => {
                out.push(IpPermission {
                    protocol: r.protocol.clone(),
                    ports,
                    ..IpPermission::default()
                });
                out.len() - 1
            }
        };
        let p = &mut out[idx];
        match &r.peer {
            RulePeer::Ipv4(c) => p.ip_ranges.push((c.clone(), r.description.clone())),
            RulePeer::Ipv6(c) => p.ipv6_ranges.push((c.clone(), r.description.clone())),
            RulePeer::PrefixList(c) => p.prefix_list_ids.push((c.clone(), r.description.clone())),
            RulePeer::Group { group_id, user_id } => {
                p.groups
                    .push((user_id.clone(), group_id.clone(), r.description.clone()))
            }
        }
    }
    out
}

fn rule_filter_values(rules: &[SecurityGroupRule], field: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for r in rules {
        let has_ports = matches!(r.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6");
        match (field, &r.peer) {
            ("protocol", _) => out.push(r.protocol.clone()),
            ("from-port", _) if has_ports => out.push(r.from_port.to_string()),
            ("to-port", _) if has_ports => out.push(r.to_port.to_string()),
            ("from-port" | "to-port", _) => {}
            ("cidr", RulePeer::Ipv4(c)) | ("ipv6-cidr", RulePeer::Ipv6(c)) => out.push(c.clone()),
            ("prefix-list-id", RulePeer::PrefixList(c)) => out.push(c.clone()),
            ("group-id", RulePeer::Group { group_id, .. }) => out.push(group_id.clone()),
            ("user-id", RulePeer::Group { user_id, .. }) => out.push(user_id.clone()),
            (
                "cidr" | "ipv6-cidr" | "prefix-list-id" | "group-id" | "user-id" | "group-name",
                _,
            ) => {}
            _ => return None,
        }
    }
    Some(out)
}

impl Filterable for SecurityGroup {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        if let Some(field) = name.strip_prefix("egress.ip-permission.") {
            return rule_filter_values(&self.egress, field);
        }
        if let Some(field) = name.strip_prefix("ip-permission.") {
            return rule_filter_values(&self.ingress, field);
        }
        let v = match name {
            "group-id" => self.id.clone(),
            "group-name" => self.name.clone(),
            "vpc-id" => self.vpc_id.clone(),
            "description" => self.description.clone(),
            "owner-id" => self.owner_id.clone(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeSecurityGroups. Names are looked up in the default VPC, as on AWS (other VPCs'
/// groups are found by the `group-name` filter).
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    names: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<SecurityGroup>, Option<String>), Ec2Error> {
    let all: Vec<SecurityGroup> = list(tx, scope, ids::SECURITY_GROUP)?;
    let mut wanted = ids_wanted.to_vec();
    if !names.is_empty() {
        let default_vpc = vpc::default_vpc(tx, scope)?;
        for name in names {
            let found = default_vpc.as_ref().and_then(|v| {
                all.iter()
                    .find(|g| g.vpc_id == v.id && g.name == *name)
                    .map(|g| g.id.clone())
            });
            match found {
                Some(id) => wanted.push(id),
                None => {
                    return Err(Ec2Error::NotFound {
                        code: ids::SECURITY_GROUP.not_found_code,
                        message: match &default_vpc {
                            Some(v) => format!(
                                "The security group '{name}' does not exist in default VPC '{}'",
                                v.id
                            ),
                            None => format!("The security group '{name}' does not exist"),
                        },
                    })
                }
            }
        }
    }
    let selected = filter::select(all, ids::SECURITY_GROUP, &wanted, filters)?;
    page.apply(selected, (5, 1000))
}

impl Filterable for RuleView {
    fn id(&self) -> &str {
        &self.rule.id
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "group-id" => self.group_id.clone(),
            "security-group-rule-id" => self.rule.id.clone(),
            "is-egress" => flag(self.is_egress),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeSecurityGroupRules.
pub fn describe_rules(
    tx: &mut dyn Tx,
    scope: &Scope,
    rule_ids: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<RuleView>, Option<String>), Ec2Error> {
    let mut all = Vec::new();
    for g in list::<SecurityGroup>(tx, scope, ids::SECURITY_GROUP)? {
        for r in &g.ingress {
            all.push(view(&g, Direction::Ingress, r.clone()));
        }
        for r in &g.egress {
            all.push(view(&g, Direction::Egress, r.clone()));
        }
    }
    all.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
    let selected = filter::select(all, ids::SECURITY_GROUP_RULE, rule_ids, filters)?;
    page.apply(selected, (5, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_normalise() {
        assert_eq!(normalize_protocol("TCP").unwrap(), "tcp");
        assert_eq!(normalize_protocol("6").unwrap(), "tcp");
        assert_eq!(normalize_protocol("17").unwrap(), "udp");
        assert_eq!(normalize_protocol("1").unwrap(), "icmp");
        assert_eq!(normalize_protocol("all").unwrap(), "-1");
        assert_eq!(normalize_protocol("50").unwrap(), "50");
        assert!(normalize_protocol("bogus").is_err());
        assert!(normalize_protocol("256").is_err());
    }

    #[test]
    fn port_rules() {
        assert_eq!(ports("tcp", Some(22), Some(22)).unwrap(), (22, 22));
        assert_eq!(ports("tcp", Some(-1), Some(-1)).unwrap(), (0, 65535));
        assert!(ports("tcp", Some(22), None).is_err());
        assert!(ports("udp", Some(100), Some(99)).is_err());
        assert_eq!(ports("icmp", None, None).unwrap(), (-1, -1));
        assert_eq!(ports("-1", Some(5), Some(6)).unwrap(), (-1, -1));
    }

    #[test]
    fn duplicate_text_matches_aws() {
        let r = SecurityGroupRule {
            id: "sgr-1".into(),
            protocol: "tcp".into(),
            from_port: 22,
            to_port: 22,
            peer: RulePeer::Ipv4("0.0.0.0/0".into()),
            description: None,
        };
        assert_eq!(
            describe_rule(&r),
            "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW"
        );
    }

    #[test]
    fn permissions_group_by_protocol_and_ports() {
        let rule = |proto: &str, from, to, peer: RulePeer| SecurityGroupRule {
            id: "sgr-1".into(),
            protocol: proto.into(),
            from_port: from,
            to_port: to,
            peer,
            description: None,
        };
        let rules = vec![
            rule("tcp", 22, 22, RulePeer::Ipv4("10.0.0.0/8".into())),
            rule("-1", -1, -1, RulePeer::Ipv4("0.0.0.0/0".into())),
            rule(
                "tcp",
                22,
                22,
                RulePeer::Group {
                    group_id: "sg-1".into(),
                    user_id: "1".into(),
                },
            ),
        ];
        let p = permissions(&rules);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].ports, Some((22, 22)));
        assert_eq!(p[0].ip_ranges.len(), 1);
        assert_eq!(p[0].groups.len(), 1);
        assert_eq!(p[1].ports, None);
    }
}
