//! Network interfaces and the subnet IP allocation behind them. Allocation happens in the
//! same transaction as the ENI record: the subnet record's address pool and the ENI are
//! written together, so an address is never handed out twice, the free count is always
//! exact, and a failed call leaves nothing behind. The lowest free address goes first.
//!
//! One code path serves CreateNetworkInterface and every service that creates ENIs on a
//! user's behalf (Lambda, NAT gateways): they differ only in the fields of
//! [`NewNetworkInterface`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::cidr::{parse_ipv4, Cidr};
use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::idempotency::ClientToken;
use super::ids;
use super::model::{
    Address, EniAttachment, GroupRef, NetworkInterface, SecurityGroup, Subnet, Tag, Vpc,
};
use super::pool::Refused;
use super::tags::{self, TagSpec};
use super::{flag, list, load, remove, route_table, save};
use crate::store::{Scope, Tx};

/// Security groups one interface may carry.
pub const MAX_GROUPS: usize = 5;

/// How a service attaches the ENIs it creates. `ela-attach` attachments (Lambda's
/// Hyperplane ENIs, NAT gateways) cannot be detached by the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewAttachment {
    /// `ela-attach` or `eni-attach`.
    pub id_prefix: String,
    pub instance_owner_id: String,
    pub instance_id: Option<String>,
    pub device_index: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewNetworkInterface {
    pub subnet_id: Option<String>,
    /// `None`: the default group of the subnet's VPC; `Some(vec![])`: no groups (NAT).
    pub security_groups: Option<Vec<String>>,
    pub description: Option<String>,
    pub private_ip_address: Option<String>,
    pub secondary_private_ip_address_count: Option<i64>,
    /// `interface` when absent.
    pub interface_type: Option<String>,
    pub requester_id: Option<String>,
    pub requester_managed: bool,
    pub attachment: Option<NewAttachment>,
    pub tag_specs: Vec<TagSpec>,
}

/// The security groups an interface in `vpc` gets: validated, deduplicated, in order.
fn resolve_groups(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc: &Vpc,
    subnet_id: &str,
    wanted: Option<&[String]>,
) -> Result<Vec<GroupRef>, Ec2Error> {
    let default = [vpc.default_security_group_id.clone()];
    let wanted = wanted.unwrap_or(&default);
    let mut out: Vec<GroupRef> = Vec::new();
    for id in wanted {
        if out.iter().any(|g| g.id == *id) {
            continue;
        }
        let g: SecurityGroup = load(tx, scope, ids::SECURITY_GROUP, id)?;
        if g.vpc_id != vpc.id {
            return Err(Ec2Error::InvalidParameter(format!(
                "Security group {id} and subnet {subnet_id} belong to different networks."
            )));
        }
        out.push(GroupRef {
            id: g.id,
            name: g.name,
        });
    }
    if out.len() > MAX_GROUPS {
        return Err(Ec2Error::SecurityGroupsPerInterfaceLimitExceeded);
    }
    Ok(out)
}

/// Takes `ip` (or the lowest free address) in `subnet`. The caller saves the subnet in the
/// same transaction as the record holding the address.
pub(crate) fn allocate(subnet: &mut Subnet, requested: Option<&str>) -> Result<Ipv4Addr, Ec2Error> {
    let cidr = Cidr::parse(&subnet.cidr_block)
        .ok_or_else(|| Ec2Error::SubnetRange(subnet.cidr_block.clone()))?;
    match requested {
        Some(text) => {
            let ip = parse_ipv4(text)
                .ok_or_else(|| Ec2Error::invalid_value("privateIpAddress", text))?;
            if !cidr.contains_addr(ip) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Address {ip} does not fall within the subnet's address range"
                )));
            }
            if cidr.is_reserved(ip) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Address {ip} is in subnet's reserved address range"
                )));
            }
            match subnet.addresses.take(&cidr, ip) {
                Ok(()) => Ok(ip),
                Err(Refused::InUse) => Err(Ec2Error::AddressInUse),
                Err(Refused::Unusable) => Err(Ec2Error::invalid_value("privateIpAddress", text)),
            }
        }
        None => subnet
            .addresses
            .take_lowest(&cidr)
            .ok_or_else(|| Ec2Error::InsufficientFreeAddresses(subnet.id.clone())),
    }
}

/// Gives back the addresses of `eni` in its subnet.
pub(crate) fn release(
    tx: &mut dyn Tx,
    scope: &Scope,
    eni: &NetworkInterface,
) -> Result<(), Ec2Error> {
    let mut subnet: Subnet = load(tx, scope, ids::SUBNET, &eni.subnet_id)?;
    let cidr = Cidr::parse(&subnet.cidr_block)
        .ok_or_else(|| Ec2Error::SubnetRange(subnet.cidr_block.clone()))?;
    let addresses = std::iter::once(&eni.private_ip_address)
        .chain(&eni.secondary_private_ip_addresses)
        .filter_map(|ip| parse_ipv4(ip));
    for ip in addresses {
        subnet.addresses.release(&cidr, ip);
    }
    save(tx, scope, ids::SUBNET, &eni.subnet_id, &subnet)
}

/// Creates an ENI: CreateNetworkInterface, and the ENIs Lambda and NAT gateways make for a
/// user. With a client token, a retry returns the interface the first call made.
pub fn create(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewNetworkInterface,
    token: Option<&ClientToken>,
) -> Result<NetworkInterface, Ec2Error> {
    if let Some(t) = token {
        if let Some(id) = t.recall(tx, scope)? {
            if let Some(eni) = find(tx, scope, &id)? {
                return Ok(eni);
            }
        }
    }
    let subnet_id = req
        .subnet_id
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("SubnetId".into()))?;
    let mut subnet: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    let vpc: Vpc = load(tx, scope, ids::VPC, &subnet.vpc_id)?;
    let groups = resolve_groups(tx, scope, &vpc, subnet_id, req.security_groups.as_deref())?;
    let description = req.description.clone().unwrap_or_default();
    if description.chars().count() > 255 {
        return Err(Ec2Error::invalid_value("description", &description));
    }
    let secondaries = req.secondary_private_ip_address_count.unwrap_or(0);
    if !(0..=49).contains(&secondaries) {
        return Err(Ec2Error::invalid_value(
            "secondaryPrivateIpAddressCount",
            &secondaries.to_string(),
        ));
    }
    let tags = tags::for_new(&req.tag_specs, ids::NETWORK_INTERFACE)?;
    let id = ids::NETWORK_INTERFACE.new_id();
    let primary = allocate(&mut subnet, req.private_ip_address.as_deref())?;
    let mut secondary = Vec::new();
    for _ in 0..secondaries {
        secondary.push(allocate(&mut subnet, None)?.to_string());
    }
    let attachment = req.attachment.as_ref().map(|a| EniAttachment {
        attachment_id: format!("{}-{}", a.id_prefix, ids::random_hex17()),
        instance_id: a.instance_id.clone(),
        instance_owner_id: a.instance_owner_id.clone(),
        device_index: a.device_index,
        network_card_index: 0,
        status: "attached".into(),
        attach_time: ids::now(),
        delete_on_termination: false,
    });
    let eni = NetworkInterface {
        owner_id: scope.account.clone(),
        subnet_id: subnet.id.clone(),
        vpc_id: vpc.id.clone(),
        availability_zone: subnet.availability_zone.clone(),
        description,
        interface_type: req
            .interface_type
            .clone()
            .unwrap_or_else(|| "interface".into()),
        requester_id: req.requester_id.clone(),
        requester_managed: req.requester_managed,
        status: if attachment.is_some() {
            "in-use"
        } else {
            "available"
        }
        .into(),
        mac_address: ids::mac_from_id(&id),
        private_ip_address: primary.to_string(),
        secondary_private_ip_addresses: secondary,
        private_dns_name: ids::private_dns_name(&scope.region, primary),
        groups,
        attachment,
        source_dest_check: true,
        association: None,
        tags,
        id,
    };
    save(tx, scope, ids::SUBNET, &subnet.id, &subnet)?;
    save(tx, scope, ids::NETWORK_INTERFACE, &eni.id, &eni)?;
    if let Some(t) = token {
        t.remember(tx, scope, &eni.id)?;
    }
    Ok(eni)
}

fn find(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<Option<NetworkInterface>, Ec2Error> {
    match load(tx, scope, ids::NETWORK_INTERFACE, id) {
        Ok(eni) => Ok(Some(eni)),
        Err(Ec2Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The interface `id`.
pub fn get(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<NetworkInterface, Ec2Error> {
    load(tx, scope, ids::NETWORK_INTERFACE, id)
}

/// DeleteNetworkInterface: refused while attached; frees its addresses in the same write.
pub fn delete(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    let eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, id)?;
    if eni.status == "in-use" || eni.attachment.is_some() {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Network interface '{id}' is currently in use."
        )));
    }
    destroy(tx, scope, &eni)
}

/// Removes an interface whatever its state: addresses, EIP association, routes to it.
fn destroy(tx: &mut dyn Tx, scope: &Scope, eni: &NetworkInterface) -> Result<(), Ec2Error> {
    release(tx, scope, eni)?;
    for mut a in list::<Address>(tx, scope, ids::ADDRESS)? {
        if a.network_interface_id.as_deref() == Some(eni.id.as_str()) {
            super::gateway::clear_association(&mut a);
            save(tx, scope, ids::ADDRESS, &a.allocation_id.clone(), &a)?;
        }
    }
    route_table::blackhole_target(tx, scope, &eni.vpc_id, &eni.id)?;
    remove(tx, scope, ids::NETWORK_INTERFACE, &eni.id)
}

/// Detaches and deletes an interface a service created (a NAT gateway's, a Lambda ENI at
/// reclaim time): the path the owning service takes, not the user's.
pub fn delete_managed(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    let eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, id)?;
    destroy(tx, scope, &eni)
}

/// Drops the attachment of a service-created interface and leaves it `available` — what a
/// Lambda ENI becomes when its function lets go of it but cannot delete it.
pub fn detach_managed(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<NetworkInterface, Ec2Error> {
    let mut eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, id)?;
    eni.attachment = None;
    eni.status = "available".into();
    save(tx, scope, ids::NETWORK_INTERFACE, id, &eni)?;
    Ok(eni)
}

/// DetachNetworkInterface: only `eni-attach` attachments are the user's to manage.
pub fn detach(tx: &mut dyn Tx, scope: &Scope, attachment_id: &str) -> Result<(), Ec2Error> {
    if attachment_id.starts_with("ela-attach-") {
        return Err(Ec2Error::OperationNotPermitted(
            "You are not allowed to manage 'ela-attach' attachments.".into(),
        ));
    }
    ids::ATTACHMENT.check(attachment_id)?;
    let mut eni = list::<NetworkInterface>(tx, scope, ids::NETWORK_INTERFACE)?
        .into_iter()
        .find(|e| {
            e.attachment
                .as_ref()
                .is_some_and(|a| a.attachment_id == attachment_id)
        })
        .ok_or_else(|| ids::ATTACHMENT.not_found(attachment_id))?;
    eni.attachment = None;
    eni.status = "available".into();
    save(tx, scope, ids::NETWORK_INTERFACE, &eni.id.clone(), &eni)
}

/// ModifyNetworkInterfaceAttribute: one of these per call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EniChange {
    SecurityGroups(Vec<String>),
    Description(String),
    SourceDestCheck(bool),
}

pub fn modify(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
    change: &EniChange,
) -> Result<NetworkInterface, Ec2Error> {
    let mut eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, id)?;
    match change {
        EniChange::SecurityGroups(groups) => {
            if groups.is_empty() {
                return Err(Ec2Error::MissingParameter("SecurityGroupId".into()));
            }
            let vpc: Vpc = load(tx, scope, ids::VPC, &eni.vpc_id)?;
            eni.groups = resolve_groups(tx, scope, &vpc, &eni.subnet_id, Some(groups))?;
        }
        EniChange::Description(d) => {
            if d.chars().count() > 255 {
                return Err(Ec2Error::invalid_value("description", d));
            }
            eni.description = d.clone();
        }
        EniChange::SourceDestCheck(b) => eni.source_dest_check = *b,
    }
    save(tx, scope, ids::NETWORK_INTERFACE, id, &eni)?;
    Ok(eni)
}

impl Filterable for NetworkInterface {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        let opt = |s: Option<&String>| Some(s.into_iter().cloned().collect());
        let att = self.attachment.as_ref();
        match name {
            "network-interface-id" => one(&self.id),
            "description" => one(&self.description),
            "group-id" => Some(self.groups.iter().map(|g| g.id.clone()).collect()),
            "group-name" => Some(self.groups.iter().map(|g| g.name.clone()).collect()),
            "subnet-id" => one(&self.subnet_id),
            "vpc-id" => one(&self.vpc_id),
            "status" => one(&self.status),
            "requester-id" => opt(self.requester_id.as_ref()),
            "requester-managed" => Some(vec![flag(self.requester_managed)]),
            "interface-type" => one(&self.interface_type),
            "owner-id" => one(&self.owner_id),
            "mac-address" => one(&self.mac_address),
            "source-dest-check" => Some(vec![flag(self.source_dest_check)]),
            "availability-zone" => one(&self.availability_zone),
            "private-dns-name" => one(&self.private_dns_name),
            "private-ip-address" | "addresses.private-ip-address" => Some(
                std::iter::once(self.private_ip_address.clone())
                    .chain(self.secondary_private_ip_addresses.iter().cloned())
                    .collect(),
            ),
            "addresses.primary" => Some(vec!["true".into()]),
            "attachment.attachment-id" => opt(att.map(|a| &a.attachment_id)),
            "attachment.instance-id" => opt(att.and_then(|a| a.instance_id.as_ref())),
            "attachment.instance-owner-id" => opt(att.map(|a| &a.instance_owner_id)),
            "attachment.status" => opt(att.map(|a| &a.status)),
            "attachment.device-index" => Some(
                att.map(|a| a.device_index.to_string())
                    .into_iter()
                    .collect(),
            ),
            "attachment.delete-on-termination" => Some(
                att.map(|a| flag(a.delete_on_termination))
                    .into_iter()
                    .collect(),
            ),
            "association.public-ip" | "addresses.association.public-ip" => {
                opt(self.association.as_ref().map(|a| &a.public_ip))
            }
            "association.allocation-id" => opt(self.association.as_ref().map(|a| &a.allocation_id)),
            "association.association-id" => Some(
                self.association
                    .as_ref()
                    .and_then(|a| a.association_id.clone())
                    .into_iter()
                    .collect(),
            ),
            "association.ip-owner-id" | "addresses.association.owner-id" => {
                opt(self.association.as_ref().map(|a| &a.ip_owner_id))
            }
            _ => None,
        }
    }
}

/// DescribeNetworkInterfaces.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<NetworkInterface>, Option<String>), Ec2Error> {
    let all = list(tx, scope, ids::NETWORK_INTERFACE)?;
    let selected = filter::select(all, ids::NETWORK_INTERFACE, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}

/// The public DNS names of the Elastic IPs of `enis`, by interface id: AWS names a public
/// address only in a VPC with DNS hostnames enabled.
pub fn public_dns_names(
    tx: &mut dyn Tx,
    scope: &Scope,
    enis: &[NetworkInterface],
) -> Result<BTreeMap<String, String>, Ec2Error> {
    let mut hostnames: BTreeMap<String, bool> = BTreeMap::new();
    let mut names = BTreeMap::new();
    for eni in enis {
        let Some(ip) = eni
            .association
            .as_ref()
            .and_then(|a| a.public_ip.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let enabled = match hostnames.get(&eni.vpc_id) {
            Some(enabled) => *enabled,
            None => {
                let vpc: Vpc = load(tx, scope, ids::VPC, &eni.vpc_id)?;
                hostnames.insert(vpc.id, vpc.enable_dns_hostnames);
                vpc.enable_dns_hostnames
            }
        };
        if enabled {
            names.insert(eni.id.clone(), ids::public_dns_name(&scope.region, ip));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::pool::AddressPool;

    fn subnet(cidr: &str) -> Subnet {
        Subnet {
            id: "subnet-1".into(),
            owner_id: "1".into(),
            vpc_id: "vpc-1".into(),
            cidr_block: cidr.into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: "use1-az1".into(),
            state: "available".into(),
            default_for_az: false,
            map_public_ip_on_launch: false,
            arn: String::new(),
            tags: Vec::new(),
            addresses: AddressPool::default(),
        }
    }

    #[test]
    fn a_slash_28_has_eleven_addresses_lowest_first() {
        let mut s = subnet("10.0.0.0/28");
        assert_eq!(s.available_ip_address_count(), 11);
        let mut got = Vec::new();
        for i in 0..11 {
            got.push(allocate(&mut s, None).unwrap());
            assert_eq!(s.available_ip_address_count(), 10 - i);
        }
        assert_eq!(got[0], Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(got[10], Ipv4Addr::new(10, 0, 0, 14));
        assert_eq!(
            allocate(&mut s, None).unwrap_err().code(),
            "InsufficientFreeAddressesInSubnet"
        );
        let cidr = Cidr::parse("10.0.0.0/28").unwrap();
        s.addresses.release(&cidr, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(s.available_ip_address_count(), 1);
        assert_eq!(allocate(&mut s, None).unwrap(), Ipv4Addr::new(10, 0, 0, 9));
    }

    #[test]
    fn requested_addresses_are_checked() {
        let mut s = subnet("10.0.1.0/24");
        assert_eq!(
            allocate(&mut s, Some("10.0.1.50")).unwrap().to_string(),
            "10.0.1.50"
        );
        assert_eq!(
            allocate(&mut s, Some("10.0.1.50")).unwrap_err().code(),
            "InvalidIPAddress.InUse"
        );
        for reserved in ["10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.255"] {
            assert_eq!(
                allocate(&mut s, Some(reserved)).unwrap_err().code(),
                "InvalidParameterValue"
            );
        }
        assert_eq!(
            allocate(&mut s, Some("10.0.2.5")).unwrap_err().code(),
            "InvalidParameterValue"
        );
        assert_eq!(
            allocate(&mut s, Some("bogus")).unwrap_err().code(),
            "InvalidParameterValue"
        );
        assert_eq!(allocate(&mut s, None).unwrap().to_string(), "10.0.1.4");
    }
}
