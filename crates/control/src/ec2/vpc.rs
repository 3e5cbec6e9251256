//! VPCs: creation with their main route table and default security group, the dependency
//! rules of deletion, the DNS attributes, and DescribeVpcs' filters.

use serde::Serialize;

use super::cidr::Cidr;
use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::ids;
use super::model::{
    AccountState, InternetGateway, NatGateway, NetworkInterface, RouteTable, SecurityGroup, Subnet,
    Tag, Vpc,
};
use super::tags::{self, TagSpec};
use super::{flag, list, load, remove, route_table, save, security_group};
use crate::store::{Scope, Tx};

/// The smallest and largest VPC (and subnet) blocks AWS allows.
pub const MIN_PREFIX: u8 = 16;
pub const MAX_PREFIX: u8 = 28;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewVpc {
    pub cidr_block: Option<String>,
    pub instance_tenancy: Option<String>,
    pub tag_specs: Vec<TagSpec>,
}

/// A CIDR parameter, or AWS's "not a valid CIDR block" error naming it.
pub(crate) fn parse_cidr(param: &str, value: &str) -> Result<Cidr, Ec2Error> {
    Cidr::parse(value).ok_or_else(|| {
        Ec2Error::InvalidParameterValue(format!(
            "Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
        ))
    })
}

/// CreateVpc.
pub fn create(tx: &mut dyn Tx, scope: &Scope, req: &NewVpc) -> Result<Vpc, Ec2Error> {
    let cidr_text = req.cidr_block.as_deref().ok_or_else(|| {
        Ec2Error::MissingParameter(
            "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.".into(),
        )
    })?;
    let cidr = parse_cidr("cidrBlock", cidr_text)?;
    if !(MIN_PREFIX..=MAX_PREFIX).contains(&cidr.prefix()) {
        return Err(Ec2Error::VpcRange(cidr_text.to_string()));
    }
    let tenancy = req.instance_tenancy.as_deref().unwrap_or("default");
    if tenancy != "default" && tenancy != "dedicated" {
        return Err(Ec2Error::invalid_value("instanceTenancy", tenancy));
    }
    let tags = tags::for_new(&req.tag_specs, ids::VPC)?;
    build(tx, scope, cidr, tenancy, false, tags)
}

/// Writes a VPC with its main route table and default security group.
pub(crate) fn build(
    tx: &mut dyn Tx,
    scope: &Scope,
    cidr: Cidr,
    tenancy: &str,
    is_default: bool,
    tags: Vec<Tag>,
) -> Result<Vpc, Ec2Error> {
    let id = ids::VPC.new_id();
    let rtb = route_table::new_main(scope, &id, &cidr.to_string());
    let sg = security_group::new_default(scope, &id);
    let vpc = Vpc {
        owner_id: scope.account.clone(),
        cidr_block: cidr.to_string(),
        cidr_block_association_id: format!("vpc-cidr-assoc-{}", ids::random_hex17()),
        state: "available".into(),
        instance_tenancy: tenancy.to_string(),
        is_default,
        dhcp_options_id: "default".into(),
        // AWS turns DNS hostnames on only in default VPCs.
        enable_dns_support: true,
        enable_dns_hostnames: is_default,
        main_route_table_id: rtb.id.clone(),
        default_security_group_id: sg.id.clone(),
        tags,
        id,
    };
    save(tx, scope, ids::ROUTE_TABLE, &rtb.id, &rtb)?;
    save(tx, scope, ids::SECURITY_GROUP, &sg.id, &sg)?;
    save(tx, scope, ids::VPC, &vpc.id, &vpc)?;
    Ok(vpc)
}

/// DeleteVpc: refused while anything but the main route table and default group remains.
pub fn delete(tx: &mut dyn Tx, scope: &Scope, vpc_id: &str) -> Result<(), Ec2Error> {
    let vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    let busy = || {
        Ec2Error::DependencyViolation(format!(
            "The vpc '{vpc_id}' has dependencies and cannot be deleted."
        ))
    };
    if list::<Subnet>(tx, scope, ids::SUBNET)?
        .iter()
        .any(|s| s.vpc_id == vpc_id)
        || list::<NetworkInterface>(tx, scope, ids::NETWORK_INTERFACE)?
            .iter()
            .any(|e| e.vpc_id == vpc_id)
        || list::<NatGateway>(tx, scope, ids::NAT_GATEWAY)?
            .iter()
            .any(|n| n.vpc_id == vpc_id && n.state != "deleted")
        || list::<InternetGateway>(tx, scope, ids::INTERNET_GATEWAY)?
            .iter()
            .any(|g| g.attachments.iter().any(|a| a.vpc_id == vpc_id))
        || super::endpoint::any_in_vpc(tx, scope, vpc_id)?
    {
        return Err(busy());
    }
    let groups: Vec<SecurityGroup> = list(tx, scope, ids::SECURITY_GROUP)?;
    if groups
        .iter()
        .any(|g| g.vpc_id == vpc_id && g.id != vpc.default_security_group_id)
    {
        return Err(busy());
    }
    let tables: Vec<RouteTable> = list(tx, scope, ids::ROUTE_TABLE)?;
    if tables
        .iter()
        .any(|t| t.vpc_id == vpc_id && t.id != vpc.main_route_table_id)
    {
        return Err(busy());
    }
    for t in tables.iter().filter(|t| t.vpc_id == vpc_id) {
        remove(tx, scope, ids::ROUTE_TABLE, &t.id)?;
    }
    for g in groups.iter().filter(|g| g.vpc_id == vpc_id) {
        remove(tx, scope, ids::SECURITY_GROUP, &g.id)?;
    }
    remove(tx, scope, ids::VPC, vpc_id)?;
    if vpc.is_default {
        let mut state = super::account::state(tx, scope)?;
        state.default_vpc_id = None;
        super::account::save_state(tx, scope, &state)?;
    }
    Ok(())
}

impl Filterable for Vpc {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "vpc-id" => self.id.clone(),
            "cidr" | "cidr-block-association.cidr-block" => self.cidr_block.clone(),
            "cidr-block-association.association-id" => self.cidr_block_association_id.clone(),
            "cidr-block-association.state" | "state" => self.state.clone(),
            "is-default" => flag(self.is_default),
            "owner-id" => self.owner_id.clone(),
            "instance-tenancy" => self.instance_tenancy.clone(),
            "dhcp-options-id" => self.dhcp_options_id.clone(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeVpcs.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<Vpc>, Option<String>), Ec2Error> {
    let all = list(tx, scope, ids::VPC)?;
    let selected = filter::select(all, ids::VPC, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}

/// The attributes of ModifyVpcAttribute / DescribeVpcAttribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VpcAttribute {
    EnableDnsSupport,
    EnableDnsHostnames,
    EnableNetworkAddressUsageMetrics,
}

impl VpcAttribute {
    pub fn parse(name: &str) -> Result<VpcAttribute, Ec2Error> {
        match name {
            "enableDnsSupport" => Ok(VpcAttribute::EnableDnsSupport),
            "enableDnsHostnames" => Ok(VpcAttribute::EnableDnsHostnames),
            "enableNetworkAddressUsageMetrics" => {
                Ok(VpcAttribute::EnableNetworkAddressUsageMetrics)
            }
            other => Err(Ec2Error::InvalidParameterValue(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            ))),
        }
    }
}

/// DescribeVpcAttribute: the VPC and the attribute's value.
pub fn attribute(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    attr: VpcAttribute,
) -> Result<bool, Ec2Error> {
    let vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    Ok(match attr {
        VpcAttribute::EnableDnsSupport => vpc.enable_dns_support,
        VpcAttribute::EnableDnsHostnames => vpc.enable_dns_hostnames,
        VpcAttribute::EnableNetworkAddressUsageMetrics => false,
    })
}

/// ModifyVpcAttribute: exactly one attribute per call, as on AWS.
pub fn modify_attribute(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    attr: VpcAttribute,
    value: bool,
) -> Result<Vpc, Ec2Error> {
    let mut vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    match attr {
        VpcAttribute::EnableDnsSupport => vpc.enable_dns_support = value,
        VpcAttribute::EnableDnsHostnames => vpc.enable_dns_hostnames = value,
        VpcAttribute::EnableNetworkAddressUsageMetrics if value => {
            return Err(Ec2Error::OperationNotPermitted(
                "Network address usage metrics are not supported.".into(),
            ))
        }
        VpcAttribute::EnableNetworkAddressUsageMetrics => {}
    }
    save(tx, scope, ids::VPC, vpc_id, &vpc)?;
    Ok(vpc)
}

/// The account's default VPC in this scope, if it has one.
pub fn default_vpc(tx: &mut dyn Tx, scope: &Scope) -> Result<Option<Vpc>, Ec2Error> {
    let AccountState { default_vpc_id, .. } = super::account::state(tx, scope)?;
    match default_vpc_id {
        Some(id) => Ok(Some(load(tx, scope, ids::VPC, &id)?)),
        None => Ok(None),
    }
}
