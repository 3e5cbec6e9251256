//! Internet gateways, Elastic IP addresses and NAT gateways. Elastic IPs come from the
//! simulated internet's public pool (198.51.100.0/24, then 203.0.113.128/25), unique across
//! every account and region of this host. A NAT gateway's private address is allocated in
//! its subnet through the same ENI path as every other interface.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::cidr::Cidr;
use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::idempotency::ClientToken;
use super::ids;
use super::model::{
    kind, Address, EniAssociation, IgwAttachment, InternetGateway, NatGateway, NatGatewayAddress,
    NetworkInterface, Subnet, Tag, Vpc,
};
use super::network_interface::{self, NewAttachment, NewNetworkInterface};
use super::tags::{self, TagSpec};
use super::{list, load, remove, route_table, save};
use crate::store::{Scope, Tx};

/// Elastic IPs per account and region (AWS's default quota).
pub const MAX_ADDRESSES: usize = 5;

/// The simulated internet's addresses handed out as Elastic IPs, in order.
pub const PUBLIC_POOLS: [&str; 2] = ["198.51.100.0/24", "203.0.113.128/25"];

/// Who AWS says owns the interfaces of managed gateways.
pub const AWS_OWNER: &str = "amazon-aws";

/// How long deleted NAT gateways stay visible, as on AWS ("about an hour").
const DELETED_NAT_VISIBLE_SECS: i64 = 3600;

// ---- internet gateways ----

/// CreateInternetGateway.
pub fn create_internet_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    tag_specs: &[TagSpec],
) -> Result<InternetGateway, Ec2Error> {
    let igw = InternetGateway {
        id: ids::INTERNET_GATEWAY.new_id(),
        owner_id: scope.account.clone(),
        attachments: Vec::new(),
        tags: tags::for_new(tag_specs, ids::INTERNET_GATEWAY)?,
    };
    save(tx, scope, ids::INTERNET_GATEWAY, &igw.id, &igw)?;
    Ok(igw)
}

/// AttachInternetGateway: one gateway per VPC and one VPC per gateway.
pub fn attach_internet_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    igw_id: &str,
    vpc_id: &str,
) -> Result<(), Ec2Error> {
    let mut igw: InternetGateway = load(tx, scope, ids::INTERNET_GATEWAY, igw_id)?;
    let _: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    if let Some(a) = igw.attachments.first() {
        return Err(Ec2Error::AlreadyAssociated(format!(
            "resource {igw_id} is already attached to network {}",
            a.vpc_id
        )));
    }
    let others: Vec<InternetGateway> = list(tx, scope, ids::INTERNET_GATEWAY)?;
    if others
        .iter()
        .any(|g| g.attachments.iter().any(|a| a.vpc_id == vpc_id))
    {
        return Err(Ec2Error::AlreadyAssociated(format!(
            "Network {vpc_id} already has an internet gateway attached"
        )));
    }
    igw.attachments.push(IgwAttachment {
        vpc_id: vpc_id.to_string(),
        state: "available".into(),
    });
    save(tx, scope, ids::INTERNET_GATEWAY, igw_id, &igw)?;
    route_table::reactivate_target(tx, scope, vpc_id, igw_id)
}

/// DetachInternetGateway: refused while the VPC has public addresses mapped through it.
pub fn detach_internet_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    igw_id: &str,
    vpc_id: &str,
) -> Result<(), Ec2Error> {
    let mut igw: InternetGateway = load(tx, scope, ids::INTERNET_GATEWAY, igw_id)?;
    let _: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    if !igw.attachments.iter().any(|a| a.vpc_id == vpc_id) {
        return Err(Ec2Error::GatewayNotAttached(format!(
            "resource {igw_id} is not attached to network {vpc_id}"
        )));
    }
    let enis: Vec<NetworkInterface> = list(tx, scope, ids::NETWORK_INTERFACE)?;
    if enis
        .iter()
        .any(|e| e.vpc_id == vpc_id && e.association.is_some())
    {
        return Err(Ec2Error::DependencyViolation(format!(
            "Network {vpc_id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
        )));
    }
    igw.attachments.retain(|a| a.vpc_id != vpc_id);
    save(tx, scope, ids::INTERNET_GATEWAY, igw_id, &igw)?;
    route_table::blackhole_target(tx, scope, vpc_id, igw_id)
}

/// DeleteInternetGateway: refused while attached.
pub fn delete_internet_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    igw_id: &str,
) -> Result<(), Ec2Error> {
    let igw: InternetGateway = load(tx, scope, ids::INTERNET_GATEWAY, igw_id)?;
    if !igw.attachments.is_empty() {
        return Err(Ec2Error::DependencyViolation(format!(
            "The internetGateway '{igw_id}' has dependencies and cannot be deleted."
        )));
    }
    remove(tx, scope, ids::INTERNET_GATEWAY, igw_id)
}

impl Filterable for InternetGateway {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "internet-gateway-id" => Some(vec![self.id.clone()]),
            "owner-id" => Some(vec![self.owner_id.clone()]),
            "attachment.vpc-id" => {
                Some(self.attachments.iter().map(|a| a.vpc_id.clone()).collect())
            }
            "attachment.state" => Some(self.attachments.iter().map(|a| a.state.clone()).collect()),
            _ => None,
        }
    }
}

/// DescribeInternetGateways.
pub fn describe_internet_gateways(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<InternetGateway>, Option<String>), Ec2Error> {
    let all = list(tx, scope, ids::INTERNET_GATEWAY)?;
    let selected = filter::select(all, ids::INTERNET_GATEWAY, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}

/// The internet gateway attached to `vpc_id`, if any.
pub fn internet_gateway_of(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
) -> Result<Option<InternetGateway>, Ec2Error> {
    Ok(list::<InternetGateway>(tx, scope, ids::INTERNET_GATEWAY)?
        .into_iter()
        .find(|g| g.attachments.iter().any(|a| a.vpc_id == vpc_id)))
}

// ---- Elastic IPs ----

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewAddress {
    pub domain: Option<String>,
    pub address: Option<String>,
    pub public_ipv4_pool: Option<String>,
    pub network_border_group: Option<String>,
    pub tag_specs: Vec<TagSpec>,
}

/// Every public address taken on this host, in any account or region.
fn public_ips_in_use(tx: &mut dyn Tx) -> Result<BTreeSet<Ipv4Addr>, Ec2Error> {
    let mut used = BTreeSet::new();
    for (_, _, body) in tx.list_all(kind::ADDRESS)? {
        if let Ok(a) = serde_json::from_slice::<Address>(&body) {
            if let Ok(ip) = a.public_ip.parse() {
                used.insert(ip);
            }
        }
    }
    Ok(used)
}

fn pool_addresses() -> impl Iterator<Item = Ipv4Addr> {
    PUBLIC_POOLS
        .iter()
        .filter_map(|p| Cidr::parse(p))
        .flat_map(|c| {
            let first = u32::from(c.network()) + 1;
            let last = u32::from(c.broadcast());
            (first..last).map(Ipv4Addr::from)
        })
}

/// AllocateAddress (`Domain=vpc`; `standard` is EC2-Classic and gets a VPC address too).
pub fn allocate_address(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewAddress,
) -> Result<Address, Ec2Error> {
    if let Some(d) = req.domain.as_deref() {
        if d != "vpc" && d != "standard" {
            return Err(Ec2Error::invalid_value("domain", d));
        }
    }
    if let Some(pool) = req.public_ipv4_pool.as_deref() {
        if pool != "amazon" {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The pool ID '{pool}' does not exist"
            )));
        }
    }
    if let Some(nbg) = req.network_border_group.as_deref() {
        if nbg != scope.region {
            return Err(Ec2Error::invalid_value("NetworkBorderGroup", nbg));
        }
    }
    let mine: Vec<Address> = list(tx, scope, ids::ADDRESS)?;
    if mine.len() >= MAX_ADDRESSES {
        return Err(Ec2Error::AddressLimitExceeded);
    }
    let used = public_ips_in_use(tx)?;
    let ip = match req.address.as_deref() {
        Some(text) => {
            let ip: Ipv4Addr = text
                .parse()
                .map_err(|_| Ec2Error::invalid_value("address", text))?;
            if !pool_addresses().any(|p| p == ip) || used.contains(&ip) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "The address {ip} is not available for allocation"
                )));
            }
            ip
        }
        None => pool_addresses()
            .find(|ip| !used.contains(ip))
            .ok_or(Ec2Error::AddressLimitExceeded)?,
    };
    let address = Address {
        allocation_id: ids::ADDRESS.new_id(),
        public_ip: ip.to_string(),
        domain: "vpc".into(),
        public_ipv4_pool: "amazon".into(),
        network_border_group: scope.region.clone(),
        association_id: None,
        network_interface_id: None,
        network_interface_owner_id: None,
        private_ip_address: None,
        tags: tags::for_new(&req.tag_specs, ids::ADDRESS)?,
    };
    save(tx, scope, ids::ADDRESS, &address.allocation_id, &address)?;
    Ok(address)
}

/// The address an allocation id or public IP names.
fn find_address(
    tx: &mut dyn Tx,
    scope: &Scope,
    allocation_id: Option<&str>,
    public_ip: Option<&str>,
) -> Result<Address, Ec2Error> {
    match (allocation_id, public_ip) {
        (Some(id), _) => load(tx, scope, ids::ADDRESS, id),
        (None, Some(ip)) => list::<Address>(tx, scope, ids::ADDRESS)?
            .into_iter()
            .find(|a| a.public_ip == ip)
            .ok_or_else(|| Ec2Error::NotFound {
                code: "InvalidAddress.NotFound",
                message: format!("Address '{ip}' not found."),
            }),
        (None, None) => Err(Ec2Error::MissingParameter("AllocationId".into())),
    }
}

/// ReleaseAddress: refused while associated.
pub fn release_address(
    tx: &mut dyn Tx,
    scope: &Scope,
    allocation_id: Option<&str>,
    public_ip: Option<&str>,
) -> Result<(), Ec2Error> {
    let a = find_address(tx, scope, allocation_id, public_ip)?;
    if a.association_id.is_some() || a.network_interface_id.is_some() {
        return Err(Ec2Error::AddressAssociated(a.public_ip));
    }
    remove(tx, scope, ids::ADDRESS, &a.allocation_id)
}

impl Filterable for Address {
    fn id(&self) -> &str {
        &self.allocation_id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let opt = |s: &Option<String>| Some(s.iter().cloned().collect());
        match name {
            "allocation-id" => Some(vec![self.allocation_id.clone()]),
            "public-ip" => Some(vec![self.public_ip.clone()]),
            "domain" => Some(vec![self.domain.clone()]),
            "network-border-group" => Some(vec![self.network_border_group.clone()]),
            "public-ipv4-pool" => Some(vec![self.public_ipv4_pool.clone()]),
            "association-id" => opt(&self.association_id),
            "network-interface-id" => opt(&self.network_interface_id),
            "network-interface-owner-id" => opt(&self.network_interface_owner_id),
            "private-ip-address" => opt(&self.private_ip_address),
            _ => None,
        }
    }
}

/// DescribeAddresses.
pub fn describe_addresses(
    tx: &mut dyn Tx,
    scope: &Scope,
    allocation_ids: &[String],
    public_ips: &[String],
    filters: &[Filter],
) -> Result<Vec<Address>, Ec2Error> {
    let all: Vec<Address> = list(tx, scope, ids::ADDRESS)?;
    for ip in public_ips {
        if !all.iter().any(|a| a.public_ip == *ip) {
            return Err(Ec2Error::NotFound {
                code: "InvalidAddress.NotFound",
                message: format!("Address '{ip}' not found."),
            });
        }
    }
    let by_ip: Vec<Address> = all
        .into_iter()
        .filter(|a| public_ips.is_empty() || public_ips.contains(&a.public_ip))
        .collect();
    filter::select(by_ip, ids::ADDRESS, allocation_ids, filters)
}

/// AssociateAddress: the address (by allocation id, or its public IP) and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewAssociation {
    pub allocation_id: Option<String>,
    pub public_ip: Option<String>,
    pub network_interface_id: Option<String>,
    pub instance_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub allow_reassociation: bool,
}

/// Whether AWS, not the account, manages `eni` (a NAT gateway's): its Elastic IP is the
/// service's to move.
fn is_service_managed(eni: &NetworkInterface) -> bool {
    eni.requester_managed && eni.requester_id.as_deref() == Some(AWS_OWNER)
}

/// The interface `address` is associated with, if any.
fn holder(
    tx: &mut dyn Tx,
    scope: &Scope,
    address: &Address,
) -> Result<Option<NetworkInterface>, Ec2Error> {
    address
        .network_interface_id
        .as_deref()
        .map(|id| load(tx, scope, ids::NETWORK_INTERFACE, id))
        .transpose()
}

/// AssociateAddress with a network interface (there are no instances here). An address
/// associated elsewhere moves only with `AllowReassociation`; an Elastic IP the interface
/// already had is disassociated, as on AWS. Asking again for the same association returns
/// it unchanged.
pub fn associate_address(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewAssociation,
) -> Result<String, Ec2Error> {
    if req.allocation_id.is_some() && req.public_ip.is_some() {
        return Err(Ec2Error::InvalidParameterCombination(
            "You may specify public IP or allocation id, but not both in the same call".into(),
        ));
    }
    let eni_id = match (&req.network_interface_id, &req.instance_id) {
        (Some(_), Some(_)) => {
            return Err(Ec2Error::InvalidParameterCombination(
                "You may specify either an instance ID or a network interface ID, but not both"
                    .into(),
            ))
        }
        (Some(eni), None) => eni,
        (None, Some(instance)) => {
            ids::INSTANCE.check(instance)?;
            return Err(ids::INSTANCE.not_found(instance));
        }
        (None, None) => return Err(Ec2Error::MissingParameter("networkInterfaceId".into())),
    };
    let mut address = find_address(
        tx,
        scope,
        req.allocation_id.as_deref(),
        req.public_ip.as_deref(),
    )?;
    let mut eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, eni_id)?;
    if is_service_managed(&eni) {
        return Err(Ec2Error::ServiceManaged);
    }
    if let Some(ip) = req.private_ip_address.as_deref() {
        if ip != eni.private_ip_address {
            if eni.secondary_private_ip_addresses.iter().any(|s| s == ip) {
                return Err(Ec2Error::UnsupportedOperation(format!(
                    "Elastic IP addresses are associated with the primary private address only; {ip} is a secondary address of {eni_id}."
                )));
            }
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The address {ip} does not belong to the network interface {eni_id}."
            )));
        }
    }
    if internet_gateway_of(tx, scope, &eni.vpc_id)?.is_none() {
        return Err(Ec2Error::GatewayNotAttached(format!(
            "Network {} is not attached to any internet gateway",
            eni.vpc_id
        )));
    }
    if let Some(mut current) = holder(tx, scope, &address)? {
        let association_id = address.association_id.clone().unwrap_or_default();
        if current.id == eni.id {
            return Ok(association_id);
        }
        if is_service_managed(&current) {
            return Err(Ec2Error::ServiceManaged);
        }
        if !req.allow_reassociation {
            return Err(Ec2Error::AlreadyAssociated(format!(
                "resource {} is already associated with associate-id {association_id}",
                address.allocation_id
            )));
        }
        current.association = None;
        save(tx, scope, ids::NETWORK_INTERFACE, &current.id, &current)?;
    }
    if let Some(previous) = eni.association.take() {
        let mut old: Address = load(tx, scope, ids::ADDRESS, &previous.allocation_id)?;
        clear_association(&mut old);
        save(tx, scope, ids::ADDRESS, &old.allocation_id, &old)?;
    }
    associate(tx, scope, &mut address, &mut eni)
}

/// DisassociateAddress by association id, or by public IP (an address that is not
/// associated is left as it is: the call is idempotent).
pub fn disassociate_address(
    tx: &mut dyn Tx,
    scope: &Scope,
    association_id: Option<&str>,
    public_ip: Option<&str>,
) -> Result<(), Ec2Error> {
    let mut address = match (association_id, public_ip) {
        (Some(id), _) => {
            ids::ADDRESS_ASSOCIATION.check(id)?;
            list::<Address>(tx, scope, ids::ADDRESS)?
                .into_iter()
                .find(|a| a.association_id.as_deref() == Some(id))
                .ok_or_else(|| ids::ADDRESS_ASSOCIATION.not_found(id))?
        }
        (None, Some(ip)) => find_address(tx, scope, None, Some(ip))?,
        (None, None) => return Err(Ec2Error::MissingParameter("AssociationId".into())),
    };
    if let Some(mut eni) = holder(tx, scope, &address)? {
        if is_service_managed(&eni) {
            return Err(Ec2Error::ServiceManaged);
        }
        eni.association = None;
        save(tx, scope, ids::NETWORK_INTERFACE, &eni.id, &eni)?;
    }
    if address.association_id.is_some() || address.network_interface_id.is_some() {
        clear_association(&mut address);
        save(tx, scope, ids::ADDRESS, &address.allocation_id, &address)?;
    }
    Ok(())
}

/// Forgets where `address` was associated; the caller updates the interface.
pub(crate) fn clear_association(address: &mut Address) {
    address.association_id = None;
    address.network_interface_id = None;
    address.network_interface_owner_id = None;
    address.private_ip_address = None;
}

/// Associates an Elastic IP with an interface's primary address.
fn associate(
    tx: &mut dyn Tx,
    scope: &Scope,
    address: &mut Address,
    eni: &mut NetworkInterface,
) -> Result<String, Ec2Error> {
    let association_id = ids::ADDRESS_ASSOCIATION.new_id();
    address.association_id = Some(association_id.clone());
    address.network_interface_id = Some(eni.id.clone());
    address.network_interface_owner_id = Some(eni.owner_id.clone());
    address.private_ip_address = Some(eni.private_ip_address.clone());
    eni.association = Some(EniAssociation {
        allocation_id: address.allocation_id.clone(),
        association_id: Some(association_id.clone()),
        public_ip: address.public_ip.clone(),
        ip_owner_id: scope.account.clone(),
    });
    save(tx, scope, ids::ADDRESS, &address.allocation_id, address)?;
    save(tx, scope, ids::NETWORK_INTERFACE, &eni.id, eni)?;
    Ok(association_id)
}

// ---- NAT gateways ----

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewNatGateway {
    pub subnet_id: Option<String>,
    pub allocation_id: Option<String>,
    /// `public` when absent.
    pub connectivity_type: Option<String>,
    pub private_ip_address: Option<String>,
    pub tag_specs: Vec<TagSpec>,
}

fn is_expired(nat: &NatGateway) -> bool {
    nat.state == "deleted"
        && nat
            .delete_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| {
                chrono::Utc::now().signed_duration_since(t).num_seconds() > DELETED_NAT_VISIBLE_SECS
            })
}

/// CreateNatGateway: the gateway starts `pending`; [`nat_gateway_available`] moves it on
/// once the dataplane has built it.
pub fn create_nat_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewNatGateway,
    token: Option<&ClientToken>,
) -> Result<NatGateway, Ec2Error> {
    if let Some(t) = token {
        if let Some(id) = t.recall(tx, scope)? {
            if let Ok(nat) = load::<NatGateway>(tx, scope, ids::NAT_GATEWAY, &id) {
                return Ok(nat);
            }
        }
    }
    for old in list::<NatGateway>(tx, scope, ids::NAT_GATEWAY)? {
        if is_expired(&old) {
            remove(tx, scope, ids::NAT_GATEWAY, &old.id)?;
        }
    }
    let subnet_id = req
        .subnet_id
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("SubnetId".into()))?;
    let subnet: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    let connectivity = req.connectivity_type.as_deref().unwrap_or("public");
    let mut address = match (connectivity, req.allocation_id.as_deref()) {
        ("public", Some(id)) => {
            let a: Address = load(tx, scope, ids::ADDRESS, id)?;
            if a.association_id.is_some() || a.network_interface_id.is_some() {
                return Err(Ec2Error::AlreadyAssociated(format!(
                    "Elastic IP address [{id}] is already associated"
                )));
            }
            Some(a)
        }
        ("public", None) => return Err(Ec2Error::MissingParameter("AllocationId".into())),
        ("private", None) => None,
        ("private", Some(_)) => {
            return Err(Ec2Error::InvalidParameterCombination(
                "A private NAT gateway cannot have an Elastic IP address.".into(),
            ))
        }
        (other, _) => return Err(Ec2Error::invalid_value("connectivityType", other)),
    };
    let tags = tags::for_new(&req.tag_specs, ids::NAT_GATEWAY)?;
    let id = ids::NAT_GATEWAY.new_id();
    let mut eni = network_interface::create(
        tx,
        scope,
        &NewNetworkInterface {
            subnet_id: Some(subnet.id.clone()),
            security_groups: Some(Vec::new()),
            description: Some(format!("Interface for NAT Gateway {id}")),
            private_ip_address: req.private_ip_address.clone(),
            interface_type: Some("nat_gateway".into()),
            requester_id: Some(AWS_OWNER.into()),
            requester_managed: true,
            attachment: Some(NewAttachment {
                id_prefix: "ela-attach".into(),
                instance_owner_id: AWS_OWNER.into(),
                instance_id: None,
                device_index: 1,
            }),
            ..NewNetworkInterface::default()
        },
        None,
    )?;
    let association_id = match address.as_mut() {
        Some(a) => Some(associate(tx, scope, a, &mut eni)?),
        None => None,
    };
    let nat = NatGateway {
        owner_id: scope.account.clone(),
        subnet_id: subnet.id,
        vpc_id: subnet.vpc_id,
        state: "pending".into(),
        connectivity_type: connectivity.to_string(),
        create_time: ids::now(),
        delete_time: None,
        failure_code: None,
        failure_message: None,
        addresses: vec![NatGatewayAddress {
            allocation_id: address.as_ref().map(|a| a.allocation_id.clone()),
            association_id,
            network_interface_id: eni.id.clone(),
            private_ip: eni.private_ip_address.clone(),
            public_ip: address.as_ref().map(|a| a.public_ip.clone()),
            is_primary: true,
            status: "associating".into(),
        }],
        tags,
        id,
    };
    save(tx, scope, ids::NAT_GATEWAY, &nat.id, &nat)?;
    if let Some(t) = token {
        t.remember(tx, scope, &nat.id)?;
    }
    Ok(nat)
}

/// `pending` → `available`: the dataplane calls this when the gateway forwards traffic.
pub fn nat_gateway_available(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<NatGateway, Ec2Error> {
    let mut nat: NatGateway = load(tx, scope, ids::NAT_GATEWAY, id)?;
    if nat.state == "pending" {
        nat.state = "available".into();
        for a in &mut nat.addresses {
            a.status = "succeeded".into();
        }
        save(tx, scope, ids::NAT_GATEWAY, id, &nat)?;
        route_table::reactivate_target(tx, scope, &nat.vpc_id, id)?;
    }
    Ok(nat)
}

/// `pending` → `failed` with AWS's failure code and message; its interface is released.
pub fn nat_gateway_failed(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
    code: &str,
    message: &str,
) -> Result<NatGateway, Ec2Error> {
    let mut nat: NatGateway = load(tx, scope, ids::NAT_GATEWAY, id)?;
    nat.failure_code = Some(code.to_string());
    nat.failure_message = Some(message.to_string());
    release_nat_resources(tx, scope, &mut nat)?;
    nat.state = "failed".into();
    save(tx, scope, ids::NAT_GATEWAY, id, &nat)?;
    Ok(nat)
}

/// DeleteNatGateway: the gateway goes to `deleting`; [`nat_gateway_deleted`] finishes.
pub fn delete_nat_gateway(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<NatGateway, Ec2Error> {
    let mut nat: NatGateway = load(tx, scope, ids::NAT_GATEWAY, id)?;
    if nat.state == "deleted" {
        return Err(ids::NAT_GATEWAY.not_found(id));
    }
    if nat.state != "deleting" {
        nat.state = "deleting".into();
        for a in &mut nat.addresses {
            a.status = "disassociating".into();
        }
        save(tx, scope, ids::NAT_GATEWAY, id, &nat)?;
    }
    Ok(nat)
}

fn release_nat_resources(
    tx: &mut dyn Tx,
    scope: &Scope,
    nat: &mut NatGateway,
) -> Result<(), Ec2Error> {
    for a in &mut nat.addresses {
        if load::<NetworkInterface>(tx, scope, ids::NETWORK_INTERFACE, &a.network_interface_id)
            .is_ok()
        {
            network_interface::delete_managed(tx, scope, &a.network_interface_id)?;
        }
        a.association_id = None;
    }
    route_table::blackhole_target(tx, scope, &nat.vpc_id, &nat.id)
}

/// `deleting` → `deleted`: the private address and the Elastic IP association are given
/// back; the record stays visible for an hour with its `deleteTime`.
pub fn nat_gateway_deleted(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<NatGateway, Ec2Error> {
    let mut nat: NatGateway = load(tx, scope, ids::NAT_GATEWAY, id)?;
    if nat.state == "deleted" {
        return Ok(nat);
    }
    release_nat_resources(tx, scope, &mut nat)?;
    for a in &mut nat.addresses {
        a.status = "succeeded".into();
    }
    nat.state = "deleted".into();
    nat.delete_time = Some(ids::now());
    save(tx, scope, ids::NAT_GATEWAY, id, &nat)?;
    Ok(nat)
}

impl Filterable for NatGateway {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "nat-gateway-id" => self.id.clone(),
            "state" => self.state.clone(),
            "subnet-id" => self.subnet_id.clone(),
            "vpc-id" => self.vpc_id.clone(),
            "connectivity-type" => self.connectivity_type.clone(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeNatGateways (deleted gateways stay visible for an hour).
pub fn describe_nat_gateways(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<NatGateway>, Option<String>), Ec2Error> {
    let all: Vec<NatGateway> = list::<NatGateway>(tx, scope, ids::NAT_GATEWAY)?
        .into_iter()
        .filter(|n| !is_expired(n))
        .collect();
    let selected = filter::select(all, ids::NAT_GATEWAY, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_order_and_size() {
        let all: Vec<Ipv4Addr> = pool_addresses().collect();
        assert_eq!(all[0], Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(all[253], Ipv4Addr::new(198, 51, 100, 254));
        assert_eq!(all[254], Ipv4Addr::new(203, 0, 113, 129));
        assert_eq!(all.len(), 254 + 126);
    }
}
