//! Resource ids and the facts that hang off an id: every EC2 resource type's prefix, store
//! kind, tag resource type and NotFound/Malformed codes, plus fresh random ids, MACs, and
//! timestamps. Kernel object names (`vl-eni-<id>`, …) are derived from these ids.

use std::net::Ipv4Addr;

use super::error::Ec2Error;
use super::model::kind;

/// One EC2 resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub prefix: &'static str,
    /// The store kind, for types that are records of their own.
    pub kind: Option<&'static str>,
    /// `resourceType` in tag specifications and DescribeTags.
    pub tag_type: &'static str,
    pub not_found_code: &'static str,
    /// The noun in AWS's NotFound message (`The vpc ID 'vpc-1' does not exist`).
    pub noun: &'static str,
    pub malformed_code: &'static str,
}

pub const VPC: ResourceType = ResourceType {
    prefix: "vpc",
    kind: Some(kind::VPC),
    tag_type: "vpc",
    not_found_code: "InvalidVpcID.NotFound",
    noun: "vpc ID",
    malformed_code: "InvalidVpcID.Malformed",
};
pub const SUBNET: ResourceType = ResourceType {
    prefix: "subnet",
    kind: Some(kind::SUBNET),
    tag_type: "subnet",
    not_found_code: "InvalidSubnetID.NotFound",
    noun: "subnet ID",
    malformed_code: "InvalidSubnetID.Malformed",
};
pub const SECURITY_GROUP: ResourceType = ResourceType {
    prefix: "sg",
    kind: Some(kind::SECURITY_GROUP),
    tag_type: "security-group",
    not_found_code: "InvalidGroup.NotFound",
    noun: "security group",
    malformed_code: "InvalidGroupId.Malformed",
};
pub const NETWORK_INTERFACE: ResourceType = ResourceType {
    prefix: "eni",
    kind: Some(kind::NETWORK_INTERFACE),
    tag_type: "network-interface",
    not_found_code: "InvalidNetworkInterfaceID.NotFound",
    noun: "networkInterface ID",
    malformed_code: "InvalidNetworkInterfaceID.Malformed",
};
pub const INTERNET_GATEWAY: ResourceType = ResourceType {
    prefix: "igw",
    kind: Some(kind::INTERNET_GATEWAY),
    tag_type: "internet-gateway",
    not_found_code: "InvalidInternetGatewayID.NotFound",
    noun: "internetGateway ID",
    malformed_code: "InvalidInternetGatewayID.Malformed",
};
pub const ADDRESS: ResourceType = ResourceType {
    prefix: "eipalloc",
    kind: Some(kind::ADDRESS),
    tag_type: "elastic-ip",
    not_found_code: "InvalidAllocationID.NotFound",
    noun: "allocation ID",
    malformed_code: "InvalidAllocationID.Malformed",
};
pub const NAT_GATEWAY: ResourceType = ResourceType {
    prefix: "nat",
    kind: Some(kind::NAT_GATEWAY),
    tag_type: "natgateway",
    not_found_code: "NatGatewayNotFound",
    noun: "Nat Gateway",
    malformed_code: "NatGatewayMalformed",
};
pub const ROUTE_TABLE: ResourceType = ResourceType {
    prefix: "rtb",
    kind: Some(kind::ROUTE_TABLE),
    tag_type: "route-table",
    not_found_code: "InvalidRouteTableID.NotFound",
    noun: "routeTable ID",
    malformed_code: "InvalidRouteTableID.Malformed",
};
pub const SECURITY_GROUP_RULE: ResourceType = ResourceType {
    prefix: "sgr",
    kind: None,
    tag_type: "security-group-rule",
    not_found_code: "InvalidSecurityGroupRuleId.NotFound",
    noun: "security group rule ID",
    malformed_code: "InvalidSecurityGroupRuleId.Malformed",
};
pub const ROUTE_TABLE_ASSOCIATION: ResourceType = ResourceType {
    prefix: "rtbassoc",
    kind: None,
    tag_type: "route-table-association",
    not_found_code: "InvalidAssociationID.NotFound",
    noun: "association ID",
    malformed_code: "InvalidAssociationID.Malformed",
};
pub const ADDRESS_ASSOCIATION: ResourceType = ResourceType {
    prefix: "eipassoc",
    kind: None,
    tag_type: "elastic-ip-association",
    not_found_code: "InvalidAssociationID.NotFound",
    noun: "association ID",
    malformed_code: "InvalidAssociationID.Malformed",
};
pub const VPC_ENDPOINT: ResourceType = ResourceType {
    prefix: "vpce",
    kind: Some(kind::VPC_ENDPOINT),
    tag_type: "vpc-endpoint",
    not_found_code: "InvalidVpcEndpointId.NotFound",
    noun: "Vpc Endpoint Id",
    malformed_code: "InvalidVpcEndpointId.Malformed",
};
/// AWS-managed prefix lists: not records, they derive from the region.
pub const PREFIX_LIST: ResourceType = ResourceType {
    prefix: "pl",
    kind: None,
    tag_type: "prefix-list",
    not_found_code: "InvalidPrefixListID.NotFound",
    noun: "prefix list ID",
    malformed_code: "InvalidPrefixListID.Malformed",
};
/// Instances: there are none here, but AssociateAddress names them.
pub const INSTANCE: ResourceType = ResourceType {
    prefix: "i",
    kind: None,
    tag_type: "instance",
    not_found_code: "InvalidInstanceID.NotFound",
    noun: "instance ID",
    malformed_code: "InvalidInstanceID.Malformed",
};
pub const ATTACHMENT: ResourceType = ResourceType {
    prefix: "eni-attach",
    kind: None,
    tag_type: "network-interface-attachment",
    not_found_code: "InvalidAttachmentID.NotFound",
    noun: "attachment ID",
    malformed_code: "InvalidAttachmentID.Malformed",
};

/// Types that carry tags, for CreateTags/DeleteTags/DescribeTags.
pub const TAGGABLE: &[ResourceType] = &[
    VPC,
    SUBNET,
    SECURITY_GROUP,
    NETWORK_INTERFACE,
    INTERNET_GATEWAY,
    ADDRESS,
    NAT_GATEWAY,
    ROUTE_TABLE,
    VPC_ENDPOINT,
];

impl ResourceType {
    /// A fresh id: the prefix and 17 random lowercase hex digits, as AWS issues them now.
    pub fn new_id(&self) -> String {
        format!("{}-{}", self.prefix, random_hex17())
    }

    /// `Malformed` unless `id` has this type's shape. Short ids (`vpc-1`) are well-formed,
    /// as on AWS, and simply do not exist.
    pub fn check(&self, id: &str) -> Result<(), Ec2Error> {
        let well_formed = id
            .strip_prefix(self.prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|hex| {
                !hex.is_empty()
                    && hex.len() <= 17
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if well_formed {
            Ok(())
        } else {
            Err(Ec2Error::Malformed {
                code: self.malformed_code,
                id: id.to_string(),
                prefix: self.prefix,
            })
        }
    }

    /// AWS's NotFound error for one id.
    pub fn not_found(&self, id: &str) -> Ec2Error {
        let message = if *self == NAT_GATEWAY {
            format!("The Nat Gateway {id} was not found")
        } else {
            format!("The {} '{id}' does not exist", self.noun)
        };
        Ec2Error::NotFound {
            code: self.not_found_code,
            message,
        }
    }

    /// AWS's NotFound error for several ids at once.
    pub fn not_found_many(&self, ids: &[String]) -> Ec2Error {
        match ids {
            [one] => self.not_found(one),
            _ if *self == NAT_GATEWAY => Ec2Error::NotFound {
                code: self.not_found_code,
                message: format!("The Nat Gateways {} were not found", ids.join(", ")),
            },
            _ => Ec2Error::NotFound {
                code: self.not_found_code,
                message: format!("The {}s '{}' do not exist", self.noun, ids.join(", ")),
            },
        }
    }

    /// The taggable type an id belongs to, by its prefix.
    pub fn of_id(id: &str) -> Option<ResourceType> {
        let prefix = id.rsplit_once('-')?.0;
        TAGGABLE.iter().copied().find(|t| t.prefix == prefix)
    }
}

/// 17 random lowercase hex digits, the suffix of every new id.
pub fn random_hex17() -> String {
    let mut bytes = [0u8; 9];
    // The OS random source only fails on exotic platforms; a time-seeded fallback still
    // yields unique-enough ids there, which beats failing the request.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..9]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex[..17].to_string()
}

/// A locally administered unicast MAC derived from a resource id, so the dataplane can
/// recompute it and two interfaces never share one.
pub fn mac_from_id(id: &str) -> String {
    let hex = id.rsplit_once('-').map_or(id, |(_, h)| h);
    let mut digits: Vec<u8> = hex
        .bytes()
        .filter_map(|b| (b as char).to_digit(16).map(|d| d as u8))
        .collect();
    while digits.len() < 10 {
        digits.insert(0, 0);
    }
    let tail = &digits[digits.len().saturating_sub(10)..];
    let mut mac = String::from("02");
    for pair in tail.chunks(2) {
        mac.push_str(&format!(":{:x}{:x}", pair[0], pair[1]));
    }
    mac
}

/// The private DNS name AWS gives an address in `region`.
pub fn private_dns_name(region: &str, ip: Ipv4Addr) -> String {
    let o = ip.octets();
    let host = format!("ip-{}-{}-{}-{}", o[0], o[1], o[2], o[3]);
    if region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{region}.compute.internal")
    }
}

/// The public DNS name AWS gives a public address in `region`.
pub fn public_dns_name(region: &str, ip: Ipv4Addr) -> String {
    let o = ip.octets();
    let host = format!("ec2-{}-{}-{}-{}", o[0], o[1], o[2], o[3]);
    if region == "us-east-1" {
        format!("{host}.compute-1.amazonaws.com")
    } else {
        format!("{host}.{region}.compute.amazonaws.com")
    }
}

/// Now, in EC2's timestamp format.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shape() {
        let id = VPC.new_id();
        assert_eq!(id.len(), 4 + 17);
        assert!(VPC.check(&id).is_ok());
        assert_ne!(id, VPC.new_id());
        assert!(VPC.check("vpc-1").is_ok());
        let err = VPC.check("x").unwrap_err();
        assert_eq!(err.code(), "InvalidVpcID.Malformed");
        assert_eq!(err.to_string(), "Invalid id: \"x\" (expecting \"vpc-...\")");
        assert!(VPC.check("vpc-").is_err());
        assert!(VPC.check("vpc-0A").is_err());
        assert!(SUBNET.check("vpc-0a").is_err());
    }

    #[test]
    fn not_found_messages() {
        assert_eq!(
            VPC.not_found("vpc-1").to_string(),
            "The vpc ID 'vpc-1' does not exist"
        );
        assert_eq!(
            SECURITY_GROUP.not_found("sg-1").to_string(),
            "The security group 'sg-1' does not exist"
        );
        assert_eq!(
            SUBNET
                .not_found_many(&["subnet-1".into(), "subnet-2".into()])
                .to_string(),
            "The subnet IDs 'subnet-1, subnet-2' do not exist"
        );
    }

    #[test]
    fn type_of_id() {
        assert_eq!(ResourceType::of_id("eipalloc-0a"), Some(ADDRESS));
        assert_eq!(ResourceType::of_id("sg-0a"), Some(SECURITY_GROUP));
        assert_eq!(ResourceType::of_id("bogus"), None);
        assert_eq!(ResourceType::of_id("ami-1"), None);
    }

    #[test]
    fn macs_are_local_and_stable() {
        let mac = mac_from_id("eni-0123456789abcdef0");
        assert_eq!(mac, "02:78:9a:bc:de:f0");
        assert_eq!(mac, mac_from_id("eni-0123456789abcdef0"));
        assert_eq!(mac_from_id("eni-1"), "02:00:00:00:00:01");
    }

    #[test]
    fn dns_names() {
        let ip = Ipv4Addr::new(10, 0, 1, 5);
        assert_eq!(
            private_dns_name("us-east-1", ip),
            "ip-10-0-1-5.ec2.internal"
        );
        assert_eq!(
            private_dns_name("eu-west-1", ip),
            "ip-10-0-1-5.eu-west-1.compute.internal"
        );
        let public = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(
            public_dns_name("us-east-1", public),
            "ec2-198-51-100-7.compute-1.amazonaws.com"
        );
        assert_eq!(
            public_dns_name("eu-west-1", public),
            "ec2-198-51-100-7.eu-west-1.compute.amazonaws.com"
        );
    }
}
