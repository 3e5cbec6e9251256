//! The desired state the dataplane realizes: plain values with no knowledge of the EC2 wire
//! or of the store (the daemon builds them from its records), and the checks that make a
//! VPC's desired state buildable before any kernel object is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use net::Ipv4Cidr;

use crate::dns::{valid_name, Names};
use crate::{Error, Result};

/// Everything that should exist: one entry per VPC. VPCs absent here are torn down.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub vpcs: Vec<DesiredVpc>,
}

/// One VPC: its router namespace, subnets, gateways, interfaces and security groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredVpc {
    pub id: String,
    pub cidr: Ipv4Cidr,
    pub subnets: Vec<DesiredSubnet>,
    /// The attached internet gateway, if any.
    pub igw: Option<DesiredIgw>,
    pub nat_gateways: Vec<DesiredNat>,
    /// Every interface that gets a namespace of its own (not the NAT gateways' interfaces:
    /// the NAT gateway namespace holds that address).
    pub enis: Vec<DesiredEni>,
    pub security_groups: Vec<DesiredSecurityGroup>,
    /// What the VPC resolver (base + 2) answers: host names (lower case, no trailing dot;
    /// `*.<suffix>` for every name below it) and their addresses, all inside the VPC. Then
    /// the public services' names; every other name is NXDOMAIN.
    pub names: Names,
    /// The services the router itself serves (gateway endpoints): a subnet whose routes send
    /// one of these addresses to [`RouteTarget::Endpoint`] has its connections to the port
    /// delivered to the router's own socket there, after its security groups' egress rules.
    pub served: Vec<SocketAddrV4>,
}

/// A subnet and the routes of the route table associated with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSubnet {
    pub id: String,
    pub cidr: Ipv4Cidr,
    pub routes: Vec<DesiredRoute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRoute {
    pub destination: Ipv4Cidr,
    pub target: RouteTarget,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteTarget {
    /// The VPC's local route: every subnet is always reachable, whatever the table says.
    Local,
    /// The VPC's internet gateway.
    Igw,
    /// A NAT gateway of the VPC, by id.
    Nat(String),
    /// A network interface of the VPC, by id.
    Eni(String),
    /// A gateway endpoint, by id: the destination is delivered to the router (see
    /// [`DesiredVpc::served`]), never routed on.
    Endpoint(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredIgw {
    pub id: String,
}

/// A NAT gateway: its private address in `subnet`, and the Elastic IP the internet gateway
/// maps it to (none for a private NAT gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredNat {
    pub id: String,
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    pub public_ip: Option<Ipv4Addr>,
}

/// A network interface: its primary address, its security groups, and the public address
/// (Elastic IP) the internet gateway maps it to 1:1, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredEni {
    pub id: String,
    pub subnet: String,
    pub ip: Ipv4Addr,
    pub security_groups: Vec<String>,
    pub public_ip: Option<Ipv4Addr>,
    /// EC2's source/destination check: when set, whatever the interface sends with another
    /// source address than `ip` is dropped at its bridge port (anti-spoofing). Off for an
    /// interface that forwards for others (a NAT instance, say).
    pub source_dest_check: bool,
}

/// One interface's change in a VPC: what [`crate::Dataplane::apply_eni`] applies without
/// looking at the VPC's other interfaces. The caller computes the names from the same
/// records as the VPC's [`DesiredVpc::names`], so that applying the delta leaves the VPC as
/// applying the whole desired VPC would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EniDelta {
    pub vpc: String,
    pub id: String,
    /// The interface as it should be now (its `id` is `id`); `None` when it is gone.
    pub eni: Option<DesiredEni>,
    /// The resolver's names that change with it: the new address, or `None` for a name no
    /// longer answered.
    pub names: Vec<(String, Option<Ipv4Addr>)>,
}

/// A security group: allow-only rules, evaluated statefully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSecurityGroup {
    pub id: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgRule {
    pub protocol: Protocol,
    /// The remote side: where traffic comes from (ingress) or goes to (egress).
    pub peer: Peer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    All,
    /// TCP to the given destination ports; `None` means every port.
    Tcp(Option<PortRange>),
    Udp(Option<PortRange>),
    /// ICMP of one type (and one code of it), or every ICMP message.
    Icmp {
        icmp_type: Option<u8>,
        code: Option<u8>,
    },
    /// Any other IP protocol, by number.
    Number(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    Cidr(Ipv4Cidr),
    /// Members of a security group of the same VPC, by id.
    Group(String),
}

/// The subnet router's address: base + 1, as in AWS.
pub fn gateway_of(subnet: Ipv4Cidr) -> Ipv4Addr {
    nth(subnet, 1)
}

/// The VPC resolver's address: VPC base + 2, as in AWS.
pub fn resolver_of(vpc: Ipv4Cidr) -> Ipv4Addr {
    nth(vpc, 2)
}

/// `/etc/resolv.conf` for anything running in the VPC: only the VPC resolver.
pub fn resolv_conf(vpc: Ipv4Cidr) -> String {
    format!(
        "nameserver {}\noptions timeout:1 attempts:2\n",
        resolver_of(vpc)
    )
}

fn nth(cidr: Ipv4Cidr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network().addr()).wrapping_add(n))
}

pub(crate) fn contains(cidr: Ipv4Cidr, ip: Ipv4Addr) -> bool {
    Ipv4Cidr::new(ip, cidr.prefix()).is_ok_and(|c| c.network() == cidr.network())
}

fn inside(outer: Ipv4Cidr, inner: Ipv4Cidr) -> bool {
    inner.prefix() >= outer.prefix() && contains(outer, inner.network().addr())
}

/// Whether an interface may have `ip` in `subnet`: inside it, neither one of the four
/// addresses AWS reserves at the bottom nor the broadcast address.
pub(crate) fn usable(subnet: Ipv4Cidr, ip: Ipv4Addr) -> bool {
    let offset = u32::from(ip).wrapping_sub(u32::from(subnet.network().addr()));
    let last = (1u64 << (32 - subnet.prefix())) - 1;
    contains(subnet, ip) && offset >= 4 && u64::from(offset) != last
}

/// Checks that an id can name kernel objects: non-empty `[A-Za-z0-9-]`, at most 64 bytes.
pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::BadId(id.to_owned()));
    }
    Ok(())
}

impl DesiredVpc {
    /// Checks everything the builder relies on: ids usable as names, subnets inside the
    /// VPC and disjoint, interfaces and NAT gateways inside their subnets on distinct
    /// addresses, distinct public addresses, route targets that exist, groups that exist.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: String| Error::invalid(&self.id, reason);
        check_id(&self.id)?;
        // Start-up reconciliation finds namespaces by these prefixes.
        let kinds = self
            .enis
            .iter()
            .map(|e| (e.id.as_str(), "eni-"))
            .chain(self.nat_gateways.iter().map(|n| (n.id.as_str(), "nat-")))
            .chain([(self.id.as_str(), "vpc-")]);
        for (id, prefix) in kinds {
            if !id.starts_with(prefix) {
                return Err(bad(format!("{id} does not start with {prefix}")));
            }
        }
        let mut subnets: BTreeMap<&str, Ipv4Cidr> = BTreeMap::new();
        for s in &self.subnets {
            check_id(&s.id)?;
            if !inside(self.cidr, s.cidr) || s.cidr.prefix() > 28 {
                return Err(bad(format!(
                    "subnet {} {} is not a /28 or larger inside {}",
                    s.id, s.cidr, self.cidr
                )));
            }
            if subnets
                .values()
                .any(|o| inside(*o, s.cidr) || inside(s.cidr, *o))
            {
                return Err(bad(format!("subnet {} overlaps another subnet", s.id)));
            }
            if subnets.insert(&s.id, s.cidr.network()).is_some() {
                return Err(bad(format!("subnet {} appears twice", s.id)));
            }
        }
        let groups: BTreeSet<&str> = self.security_groups.iter().map(|g| g.id.as_str()).collect();
        if groups.len() != self.security_groups.len() {
            return Err(bad("a security group appears twice".into()));
        }
        for g in &self.security_groups {
            check_id(&g.id)?;
            for rule in g.ingress.iter().chain(&g.egress) {
                if let Peer::Group(peer) = &rule.peer {
                    check_id(peer)?;
                }
            }
        }
        let mut private = BTreeSet::new();
        let mut public = BTreeSet::new();
        let mut place = |id: &str, subnet: &str, ip: Ipv4Addr, public_ip: Option<Ipv4Addr>| {
            check_id(id)?;
            let cidr = subnets
                .get(subnet)
                .ok_or_else(|| bad(format!("{id} is in unknown subnet {subnet}")))?;
            if !usable(*cidr, ip) {
                return Err(bad(format!(
                    "{id}: {ip} is not a usable address of {subnet}"
                )));
            }
            if !private.insert(ip) {
                return Err(bad(format!("{id}: {ip} is used twice")));
            }
            if let Some(p) = public_ip {
                if !public.insert(p) {
                    return Err(bad(format!("{id}: public address {p} is used twice")));
                }
            }
            Ok(())
        };
        let mut enis = BTreeSet::new();
        for e in &self.enis {
            place(&e.id, &e.subnet, e.ip, e.public_ip)?;
            if !enis.insert(e.id.as_str()) {
                return Err(bad(format!("{} appears twice", e.id)));
            }
            if let Some(g) = e
                .security_groups
                .iter()
                .find(|g| !groups.contains(g.as_str()))
            {
                return Err(bad(format!("{} has unknown security group {g}", e.id)));
            }
        }
        let mut nats = BTreeSet::new();
        for n in &self.nat_gateways {
            place(&n.id, &n.subnet, n.private_ip, n.public_ip)?;
            if !nats.insert(n.id.as_str()) {
                return Err(bad(format!("{} appears twice", n.id)));
            }
        }
        if let Some(igw) = &self.igw {
            check_id(&igw.id)?;
        }
        for (name, ip) in &self.names {
            let host = name.strip_prefix("*.").unwrap_or(name);
            if !valid_name(host) || !contains(self.cidr, *ip) {
                return Err(bad(format!("name {name:?} for {ip} cannot be resolved")));
            }
        }
        for s in &self.subnets {
            for r in &s.routes {
                let known = match &r.target {
                    RouteTarget::Local => true,
                    RouteTarget::Igw => self.igw.is_some(),
                    RouteTarget::Nat(id) => nats.contains(id.as_str()),
                    RouteTarget::Eni(id) => enis.contains(id.as_str()),
                    RouteTarget::Endpoint(id) => check_id(id).is_ok(),
                };
                if !known {
                    return Err(bad(format!(
                        "route {} in {} has a target that is not there",
                        r.destination, s.id
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().unwrap()
    }

    fn vpc() -> DesiredVpc {
        DesiredVpc {
            id: "vpc-1".into(),
            cidr: cidr("10.0.0.0/16"),
            subnets: vec![DesiredSubnet {
                id: "subnet-1".into(),
                cidr: cidr("10.0.1.0/24"),
                routes: vec![DesiredRoute {
                    destination: Ipv4Cidr::ANY,
                    target: RouteTarget::Nat("nat-1".into()),
                }],
            }],
            igw: None,
            nat_gateways: vec![DesiredNat {
                id: "nat-1".into(),
                subnet: "subnet-1".into(),
                private_ip: Ipv4Addr::new(10, 0, 1, 5),
                public_ip: Some(Ipv4Addr::new(198, 51, 100, 7)),
            }],
            enis: vec![DesiredEni {
                id: "eni-1".into(),
                subnet: "subnet-1".into(),
                ip: Ipv4Addr::new(10, 0, 1, 4),
                security_groups: vec!["sg-1".into()],
                public_ip: None,
                source_dest_check: true,
            }],
            security_groups: vec![DesiredSecurityGroup {
                id: "sg-1".into(),
                ingress: vec![],
                egress: vec![],
            }],
            names: [("db.internal".into(), Ipv4Addr::new(10, 0, 1, 4))].into(),
            served: Vec::new(),
        }
    }

    #[test]
    fn addresses_of_the_vpc_router_and_resolver() {
        assert_eq!(
            gateway_of(cidr("10.0.1.16/28")),
            Ipv4Addr::new(10, 0, 1, 17)
        );
        assert_eq!(resolver_of(cidr("10.0.0.0/16")), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            resolv_conf(cidr("172.31.0.0/16")),
            "nameserver 172.31.0.2\noptions timeout:1 attempts:2\n"
        );
    }

    #[test]
    fn a_consistent_vpc_passes() {
        vpc().check().unwrap();
    }

    #[test]
    fn inconsistent_vpcs_are_refused() {
        let mut cases: Vec<DesiredVpc> = Vec::new();
        let mut v = vpc();
        v.enis[0].ip = Ipv4Addr::new(10, 0, 2, 4);
        cases.push(v);
        let mut v = vpc();
        v.enis[0].ip = Ipv4Addr::new(10, 0, 1, 1);
        cases.push(v);
        let mut v = vpc();
        v.enis[0].ip = Ipv4Addr::new(10, 0, 1, 255);
        cases.push(v);
        let mut v = vpc();
        v.enis[0].ip = v.nat_gateways[0].private_ip;
        cases.push(v);
        let mut v = vpc();
        v.enis[0].public_ip = v.nat_gateways[0].public_ip;
        cases.push(v);
        let mut v = vpc();
        v.nat_gateways.clear();
        cases.push(v);
        let mut v = vpc();
        v.subnets[0].cidr = cidr("10.1.0.0/24");
        cases.push(v);
        let mut v = vpc();
        v.enis[0].security_groups.push("sg-2".into());
        cases.push(v);
        let mut v = vpc();
        v.enis[0].id = "eni 1".into();
        cases.push(v);
        let mut v = vpc();
        v.subnets[0].routes[0].target = RouteTarget::Igw;
        cases.push(v);
        let mut v = vpc();
        v.names
            .insert("Upper.case".into(), Ipv4Addr::new(10, 0, 1, 4));
        cases.push(v);
        let mut v = vpc();
        v.names.insert("outside".into(), Ipv4Addr::new(10, 1, 1, 4));
        cases.push(v);
        for (i, case) in cases.iter().enumerate() {
            assert!(case.check().is_err(), "case {i}");
        }
    }
}
