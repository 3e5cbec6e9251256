//! Subnets: creation inside their VPC's block without overlap, zone choice, deletion rules,
//! attributes, and DescribeSubnets' filters. The subnet record also holds the addresses
//! handed out in it (see `network_interface` for allocation).

use serde::Serialize;

use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::ids;
use super::model::{NatGateway, NetworkInterface, RouteTable, Subnet, Tag, Vpc};
use super::pool::AddressPool;
use super::tags::{self, TagSpec};
use super::vpc::{parse_cidr, MAX_PREFIX, MIN_PREFIX};
use super::zones::{self, Zone};
use super::{flag, list, load, remove, save};
use crate::store::{Scope, Tx};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewSubnet {
    pub vpc_id: Option<String>,
    pub cidr_block: Option<String>,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    pub tag_specs: Vec<TagSpec>,
}

/// A subnet record with AWS's defaults; the caller saves it.
pub(crate) fn build(scope: &Scope, vpc_id: &str, cidr_block: &str, zone: &Zone) -> Subnet {
    let id = ids::SUBNET.new_id();
    Subnet {
        arn: format!("arn:aws:ec2:{}:{}:subnet/{id}", scope.region, scope.account),
        owner_id: scope.account.clone(),
        vpc_id: vpc_id.to_string(),
        cidr_block: cidr_block.to_string(),
        availability_zone: zone.name.clone(),
        availability_zone_id: zone.id.clone(),
        state: "available".into(),
        default_for_az: false,
        map_public_ip_on_launch: false,
        tags: Vec::new(),
        addresses: AddressPool::default(),
        id,
    }
}

/// CreateSubnet.
pub fn create(tx: &mut dyn Tx, scope: &Scope, req: &NewSubnet) -> Result<Subnet, Ec2Error> {
    let vpc_id = req
        .vpc_id
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("VpcId".into()))?;
    let cidr_text = req
        .cidr_block
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("CidrBlock".into()))?;
    let vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    let cidr = parse_cidr("cidrBlock", cidr_text)?;
    let vpc_cidr = parse_cidr("cidrBlock", &vpc.cidr_block)?;
    if !(MIN_PREFIX..=MAX_PREFIX).contains(&cidr.prefix()) || !vpc_cidr.contains(&cidr) {
        return Err(Ec2Error::SubnetRange(cidr_text.to_string()));
    }
    let siblings: Vec<Subnet> = list::<Subnet>(tx, scope, ids::SUBNET)?
        .into_iter()
        .filter(|s| s.vpc_id == vpc_id)
        .collect();
    if siblings
        .iter()
        .any(|s| super::cidr::Cidr::parse(&s.cidr_block).is_some_and(|other| other.overlaps(&cidr)))
    {
        return Err(Ec2Error::SubnetConflict(cidr_text.to_string()));
    }
    let zone = choose_zone(scope, req, &siblings)?;
    let mut subnet = build(scope, vpc_id, &cidr.to_string(), &zone);
    subnet.tags = tags::for_new(&req.tag_specs, ids::SUBNET)?;
    save(tx, scope, ids::SUBNET, &subnet.id, &subnet)?;
    Ok(subnet)
}

/// The named zone, or (as AWS does when none is given) the zone the VPC uses least.
fn choose_zone(scope: &Scope, req: &NewSubnet, siblings: &[Subnet]) -> Result<Zone, Ec2Error> {
    let all = zones::zones(&scope.region);
    let refuse = |param: &str, value: &str, listed: Vec<String>| {
        Ec2Error::InvalidParameterValue(format!(
            "Value ({value}) for parameter {param} is invalid. Subnets can currently only be created in the following availability zones: {}.",
            listed.join(", ")
        ))
    };
    match (&req.availability_zone, &req.availability_zone_id) {
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
            "Only one of availabilityZone or availabilityZoneId may be specified.".into(),
        )),
        (Some(name), None) => all
            .iter()
            .find(|z| z.name == *name)
            .cloned()
            .ok_or_else(|| {
                refuse(
                    "availabilityZone",
                    name,
                    all.iter().map(|z| z.name.clone()).collect(),
                )
            }),
        (None, Some(id)) => all.iter().find(|z| z.id == *id).cloned().ok_or_else(|| {
            refuse(
                "availabilityZoneId",
                id,
                all.iter().map(|z| z.id.clone()).collect(),
            )
        }),
        (None, None) => all
            .iter()
            .min_by_key(|z| {
                siblings
                    .iter()
                    .filter(|s| s.availability_zone == z.name)
                    .count()
            })
            .cloned()
            .ok_or_else(|| Ec2Error::InvalidParameterValue("The region has no zones.".into())),
    }
}

/// DeleteSubnet: refused while ENIs or NAT gateways use it; its explicit route table
/// association goes with it, as on AWS.
pub fn delete(tx: &mut dyn Tx, scope: &Scope, subnet_id: &str) -> Result<(), Ec2Error> {
    let _: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    let in_use = list::<NetworkInterface>(tx, scope, ids::NETWORK_INTERFACE)?
        .iter()
        .any(|e| e.subnet_id == subnet_id)
        || list::<NatGateway>(tx, scope, ids::NAT_GATEWAY)?
            .iter()
            .any(|n| n.subnet_id == subnet_id && n.state != "deleted");
    if in_use {
        return Err(Ec2Error::DependencyViolation(format!(
            "The subnet '{subnet_id}' has dependencies and cannot be deleted."
        )));
    }
    for mut t in list::<RouteTable>(tx, scope, ids::ROUTE_TABLE)? {
        let before = t.associations.len();
        t.associations
            .retain(|a| a.subnet_id.as_deref() != Some(subnet_id));
        if t.associations.len() != before {
            save(tx, scope, ids::ROUTE_TABLE, &t.id.clone(), &t)?;
        }
    }
    remove(tx, scope, ids::SUBNET, subnet_id)
}

/// The subnet `id`.
pub fn get(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<Subnet, Ec2Error> {
    load(tx, scope, ids::SUBNET, id)
}

/// ModifySubnetAttribute (`MapPublicIpOnLaunch`).
pub fn set_map_public_ip_on_launch(
    tx: &mut dyn Tx,
    scope: &Scope,
    subnet_id: &str,
    value: bool,
) -> Result<Subnet, Ec2Error> {
    let mut s: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    s.map_public_ip_on_launch = value;
    save(tx, scope, ids::SUBNET, subnet_id, &s)?;
    Ok(s)
}

impl Filterable for Subnet {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "subnet-id" => self.id.clone(),
            "vpc-id" => self.vpc_id.clone(),
            "availability-zone" | "availabilityZone" => self.availability_zone.clone(),
            "availability-zone-id" | "availabilityZoneId" => self.availability_zone_id.clone(),
            "available-ip-address-count" => self.available_ip_address_count().to_string(),
            "cidr-block" | "cidr" | "cidrBlock" => self.cidr_block.clone(),
            "default-for-az" | "defaultForAz" => flag(self.default_for_az),
            "map-public-ip-on-launch" => flag(self.map_public_ip_on_launch),
            "state" => self.state.clone(),
            "owner-id" => self.owner_id.clone(),
            "subnet-arn" => self.arn.clone(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeSubnets.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<Subnet>, Option<String>), Ec2Error> {
    let all = list(tx, scope, ids::SUBNET)?;
    let selected = filter::select(all, ids::SUBNET, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}
