//! The EC2 records as the store keeps them. Each record carries the full AWS state of its
//! resource (everything its Describe shape reports), so the dataplane and later issues build
//! on these documents without reshaping them; kernel object names derive from the ids.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cidr::{parse_ipv4, Cidr};
use super::pool::AddressPool;

/// Store kinds, one per resource type.
pub mod kind {
    pub const VPC: &str = "ec2.vpc";
    pub const SUBNET: &str = "ec2.subnet";
    pub const SECURITY_GROUP: &str = "ec2.security-group";
    pub const NETWORK_INTERFACE: &str = "ec2.network-interface";
    pub const INTERNET_GATEWAY: &str = "ec2.internet-gateway";
    pub const ADDRESS: &str = "ec2.address";
    pub const NAT_GATEWAY: &str = "ec2.nat-gateway";
    pub const ROUTE_TABLE: &str = "ec2.route-table";
    pub const VPC_ENDPOINT: &str = "ec2.vpc-endpoint";
    /// One per (account, region): whether the default VPC has been created.
    pub const ACCOUNT_STATE: &str = "ec2.account-state";
    /// Remembered `ClientToken`s, keyed `<operation>/<token>`.
    pub const CLIENT_TOKEN: &str = "ec2.client-token";
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub owner_id: String,
    pub cidr_block: String,
    pub cidr_block_association_id: String,
    pub state: String,
    pub instance_tenancy: String,
    pub is_default: bool,
    pub dhcp_options_id: String,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    pub main_route_table_id: String,
    pub default_security_group_id: String,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredSubnet")]
pub struct Subnet {
    pub id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    pub availability_zone_id: String,
    pub state: String,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    pub arn: String,
    pub tags: Vec<Tag>,
    /// Addresses handed out in this subnet. Kept in the subnet record so that allocation
    /// and the free count change in the same write as the holder's record; its size grows
    /// with the holes releases leave, not with the addresses handed out.
    pub addresses: AddressPool,
}

/// A subnet record as stored by this version or an earlier one, which kept every address
/// handed out in `allocated` (dotted quad → holder): read, such a record becomes a pool
/// with the same addresses taken, and is written back in the new shape.
#[derive(Deserialize)]
struct StoredSubnet {
    id: String,
    owner_id: String,
    vpc_id: String,
    cidr_block: String,
    availability_zone: String,
    availability_zone_id: String,
    state: String,
    default_for_az: bool,
    map_public_ip_on_launch: bool,
    arn: String,
    tags: Vec<Tag>,
    #[serde(default)]
    addresses: AddressPool,
    #[serde(default)]
    allocated: BTreeMap<String, String>,
}

impl From<StoredSubnet> for Subnet {
    fn from(s: StoredSubnet) -> Subnet {
        let mut addresses = s.addresses;
        if let Some(cidr) = Cidr::parse(&s.cidr_block) {
            for ip in s.allocated.keys().filter_map(|ip| parse_ipv4(ip)) {
                // Taken twice or unusable: nothing to carry over.
                let _ = addresses.take(&cidr, ip);
            }
        }
        Subnet {
            id: s.id,
            owner_id: s.owner_id,
            vpc_id: s.vpc_id,
            cidr_block: s.cidr_block,
            availability_zone: s.availability_zone,
            availability_zone_id: s.availability_zone_id,
            state: s.state,
            default_for_az: s.default_for_az,
            map_public_ip_on_launch: s.map_public_ip_on_launch,
            arn: s.arn,
            tags: s.tags,
            addresses,
        }
    }
}

/// One rule of a security group, as `DescribeSecurityGroupRules` reports it; the grouped
/// `IpPermission` view of `DescribeSecurityGroups` is derived from these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    /// `-1`, `tcp`, `udp`, `icmp`, `icmpv6`, or a protocol number.
    pub protocol: String,
    /// `-1` when the protocol has no ports (all traffic, or every ICMP type).
    pub from_port: i32,
    pub to_port: i32,
    pub peer: RulePeer,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RulePeer {
    Ipv4(String),
    Ipv6(String),
    Group { group_id: String, user_id: String },
    PrefixList(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub name: String,
    pub description: String,
    pub arn: String,
    pub ingress: Vec<SecurityGroupRule>,
    pub egress: Vec<SecurityGroupRule>,
    /// Bumped by every change to the rules, so the dataplane can tell what it has applied.
    pub revision: u64,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniAttachment {
    pub attachment_id: String,
    pub instance_id: Option<String>,
    pub instance_owner_id: String,
    pub device_index: i32,
    pub network_card_index: i32,
    pub status: String,
    pub attach_time: String,
    pub delete_on_termination: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub id: String,
    pub owner_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub description: String,
    /// `interface`, `lambda`, `nat_gateway`, …
    pub interface_type: String,
    pub requester_id: Option<String>,
    pub requester_managed: bool,
    /// `available` or `in-use`.
    pub status: String,
    pub mac_address: String,
    /// The primary private address.
    pub private_ip_address: String,
    /// Further private addresses from the same subnet.
    pub secondary_private_ip_addresses: Vec<String>,
    pub private_dns_name: String,
    pub groups: Vec<GroupRef>,
    pub attachment: Option<EniAttachment>,
    pub source_dest_check: bool,
    /// The Elastic IP associated with the primary address, if any.
    pub association: Option<EniAssociation>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniAssociation {
    pub allocation_id: String,
    pub association_id: Option<String>,
    pub public_ip: String,
    pub ip_owner_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgwAttachment {
    pub vpc_id: String,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    pub id: String,
    pub owner_id: String,
    pub attachments: Vec<IgwAttachment>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub domain: String,
    pub public_ipv4_pool: String,
    pub network_border_group: String,
    pub association_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub network_interface_owner_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGatewayAddress {
    pub allocation_id: Option<String>,
    pub association_id: Option<String>,
    pub network_interface_id: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub is_primary: bool,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGateway {
    pub id: String,
    pub owner_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    /// `pending`, `available`, `failed`, `deleting`, `deleted`.
    pub state: String,
    /// `public` or `private`.
    pub connectivity_type: String,
    pub create_time: String,
    pub delete_time: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub addresses: Vec<NatGatewayAddress>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination_cidr_block: Option<String>,
    pub destination_ipv6_cidr_block: Option<String>,
    /// A gateway endpoint's route: the service's prefix list (`pl-…`), target the endpoint.
    #[serde(default)]
    pub destination_prefix_list_id: Option<String>,
    pub target: RouteTarget,
    /// `CreateRouteTable` (the local route) or `CreateRoute`.
    pub origin: String,
    /// `active`, or `blackhole` when the target is gone.
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    Local,
    Gateway(String),
    NatGateway(String),
    NetworkInterface(String),
    /// A gateway VPC endpoint (`vpce-…`), reported as `GatewayId` as AWS does.
    VpcEndpoint(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableAssociation {
    pub id: String,
    pub main: bool,
    pub subnet_id: Option<String>,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    pub id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub routes: Vec<Route>,
    pub associations: Vec<RouteTableAssociation>,
    pub tags: Vec<Tag>,
}

impl RouteTable {
    pub fn is_main(&self) -> bool {
        self.associations.iter().any(|a| a.main)
    }
}

/// A VPC endpoint: a gateway endpoint (routes to the service's prefix list in its route
/// tables) or an interface endpoint (one requester-managed ENI per subnet, its security
/// groups on them, DNS names for them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcEndpoint {
    pub id: String,
    pub owner_id: String,
    pub vpc_id: String,
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    /// `Gateway` or `Interface`.
    pub endpoint_type: String,
    /// `pending`, `available`, `deleting`, `deleted`, `failed` (lower case, as EC2 reports).
    pub state: String,
    /// The endpoint policy (JSON text); the full-access policy unless one was given.
    pub policy_document: String,
    /// Gateway endpoints: the route tables holding the prefix-list route.
    pub route_table_ids: Vec<String>,
    /// Interface endpoints: one subnet per Availability Zone, and its ENI, in the same order.
    pub subnet_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
    pub groups: Vec<GroupRef>,
    pub private_dns_enabled: bool,
    /// Regional name first, then one zonal name per subnet (`-<az>` after the id part), then
    /// the service's own names when private DNS is enabled.
    pub dns_entries: Vec<DnsEntry>,
    pub creation_timestamp: String,
    pub tags: Vec<Tag>,
    /// When DeleteVpcEndpoints made it `deleted` (Unix seconds): DescribeVpcEndpoints shows
    /// it so for a while, as EC2 does; nothing else sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub default_vpc_id: Option<String>,
    pub default_vpc_created: bool,
}

impl Subnet {
    /// AWS's `availableIpAddressCount`: the block minus the five reserved addresses minus
    /// what is handed out.
    pub fn available_ip_address_count(&self) -> u32 {
        let usable = Cidr::parse(&self.cidr_block).map_or(0, |c| c.usable());
        u32::try_from(usable.saturating_sub(self.addresses.taken())).unwrap_or(u32::MAX)
    }
}
