//! EC2 records as XML, element for element as the botocore model names them. Each function
//! writes the members of one shape into the element the caller opened (`<vpc>`, `<item>`).

use control::ec2::endpoint::{self, ServiceView};
use control::ec2::model::{
    Address, InternetGateway, NatGateway, NetworkInterface, RouteTable, RouteTarget, SecurityGroup,
    Subnet, Tag, Vpc, VpcEndpoint,
};
use control::ec2::model::{RulePeer, SecurityGroupRule};
use control::ec2::security_group::{permissions, IpPermission, RuleView};
use control::ec2::zones::Zone;
use wire::XmlWriter;

/// `<name><item>…</item>…</name>` with `each` writing one item's members.
pub fn items<T>(
    w: &mut XmlWriter,
    name: &str,
    list: &[T],
    mut each: impl FnMut(&mut XmlWriter, &T),
) {
    w.open(name);
    for x in list {
        w.open("item");
        each(w, x);
        w.close();
    }
    w.close();
}

pub fn tag_set(w: &mut XmlWriter, tags: &[Tag]) {
    items(w, "tagSet", tags, |w, t| {
        w.elem("key", &t.key);
        w.elem("value", &t.value);
    });
}

pub fn next_token(w: &mut XmlWriter, token: Option<&str>) {
    w.opt_elem("nextToken", token);
}

pub fn vpc(w: &mut XmlWriter, v: &Vpc) {
    w.elem("vpcId", &v.id);
    w.elem("ownerId", &v.owner_id);
    w.elem("state", &v.state);
    w.elem("cidrBlock", &v.cidr_block);
    w.open("cidrBlockAssociationSet");
    w.open("item");
    w.elem("associationId", &v.cidr_block_association_id);
    w.elem("cidrBlock", &v.cidr_block);
    w.open("cidrBlockState");
    w.elem("state", "associated");
    w.close();
    w.close();
    w.close();
    w.open("ipv6CidrBlockAssociationSet");
    w.close();
    w.elem("dhcpOptionsId", &v.dhcp_options_id);
    w.elem("instanceTenancy", &v.instance_tenancy);
    w.bool_elem("isDefault", v.is_default);
    w.open("blockPublicAccessStates");
    w.elem("internetGatewayBlockMode", "off");
    w.close();
    tag_set(w, &v.tags);
}

pub fn subnet(w: &mut XmlWriter, s: &Subnet) {
    w.elem("subnetId", &s.id);
    w.elem("subnetArn", &s.arn);
    w.elem("state", &s.state);
    w.elem("vpcId", &s.vpc_id);
    w.elem("ownerId", &s.owner_id);
    w.elem("cidrBlock", &s.cidr_block);
    w.elem(
        "availableIpAddressCount",
        &s.available_ip_address_count().to_string(),
    );
    w.elem("availabilityZone", &s.availability_zone);
    w.elem("availabilityZoneId", &s.availability_zone_id);
    w.bool_elem("defaultForAz", s.default_for_az);
    w.bool_elem("mapPublicIpOnLaunch", s.map_public_ip_on_launch);
    w.bool_elem("mapCustomerOwnedIpOnLaunch", false);
    w.bool_elem("assignIpv6AddressOnCreation", false);
    w.open("ipv6CidrBlockAssociationSet");
    w.close();
    w.bool_elem("enableDns64", false);
    w.bool_elem("ipv6Native", false);
    w.open("privateDnsNameOptionsOnLaunch");
    w.elem("hostnameType", "ip-name");
    w.bool_elem("enableResourceNameDnsARecord", false);
    w.bool_elem("enableResourceNameDnsAAAARecord", false);
    w.close();
    w.open("blockPublicAccessStates");
    w.elem("internetGatewayBlockMode", "off");
    w.close();
    tag_set(w, &s.tags);
}

fn ranges(w: &mut XmlWriter, set: &str, member: &str, list: &[(String, Option<String>)]) {
    items(w, set, list, |w, (value, description)| {
        w.elem(member, value);
        w.opt_elem("description", description.as_deref());
    });
}

pub fn ip_permissions(w: &mut XmlWriter, name: &str, perms: &[IpPermission]) {
    items(w, name, perms, |w, p| {
        w.elem("ipProtocol", &p.protocol);
        if let Some((from, to)) = p.ports {
            w.elem("fromPort", &from.to_string());
            w.elem("toPort", &to.to_string());
        }
        items(w, "groups", &p.groups, |w, (user, group, description)| {
            w.elem("userId", user);
            w.elem("groupId", group);
            w.opt_elem("description", description.as_deref());
        });
        ranges(w, "ipRanges", "cidrIp", &p.ip_ranges);
        ranges(w, "ipv6Ranges", "cidrIpv6", &p.ipv6_ranges);
        ranges(w, "prefixListIds", "prefixListId", &p.prefix_list_ids);
    });
}

pub fn security_group(w: &mut XmlWriter, g: &SecurityGroup) {
    w.elem("ownerId", &g.owner_id);
    w.elem("groupId", &g.id);
    w.elem("groupName", &g.name);
    w.elem("groupDescription", &g.description);
    w.elem("vpcId", &g.vpc_id);
    w.elem("securityGroupArn", &g.arn);
    ip_permissions(w, "ipPermissions", &permissions(&g.ingress));
    ip_permissions(w, "ipPermissionsEgress", &permissions(&g.egress));
    tag_set(w, &g.tags);
}

fn rule_fields(w: &mut XmlWriter, r: &SecurityGroupRule) {
    w.elem("ipProtocol", &r.protocol);
    w.elem("fromPort", &r.from_port.to_string());
    w.elem("toPort", &r.to_port.to_string());
    match &r.peer {
        RulePeer::Ipv4(c) => {
            w.elem("cidrIpv4", c);
        }
        RulePeer::Ipv6(c) => {
            w.elem("cidrIpv6", c);
        }
        RulePeer::PrefixList(p) => {
            w.elem("prefixListId", p);
        }
        RulePeer::Group { .. } => {}
    }
}

/// One `SecurityGroupRule` (Authorize*'s and DescribeSecurityGroupRules' items).
pub fn rule(w: &mut XmlWriter, v: &RuleView, region: &str) {
    w.elem("securityGroupRuleId", &v.rule.id);
    w.elem("groupId", &v.group_id);
    w.elem("groupOwnerId", &v.group_owner_id);
    w.bool_elem("isEgress", v.is_egress);
    rule_fields(w, &v.rule);
    if let RulePeer::Group { group_id, user_id } = &v.rule.peer {
        w.open("referencedGroupInfo");
        w.elem("groupId", group_id);
        w.elem("userId", user_id);
        w.close();
    }
    w.opt_elem("description", v.rule.description.as_deref());
    w.elem(
        "securityGroupRuleArn",
        &format!(
            "arn:aws:ec2:{region}:{}:security-group-rule/{}",
            v.group_owner_id, v.rule.id
        ),
    );
    tag_set(w, &[]);
}

/// One `RevokedSecurityGroupRule`.
pub fn revoked_rule(w: &mut XmlWriter, v: &RuleView) {
    w.elem("securityGroupRuleId", &v.rule.id);
    w.elem("groupId", &v.group_id);
    w.bool_elem("isEgress", v.is_egress);
    rule_fields(w, &v.rule);
    if let RulePeer::Group { group_id, .. } = &v.rule.peer {
        w.elem("referencedGroupId", group_id);
    }
    w.opt_elem("description", v.rule.description.as_deref());
}

/// One interface; `public_dns_name` is its Elastic IP's name, when its VPC gives one.
pub fn network_interface(
    w: &mut XmlWriter,
    e: &NetworkInterface,
    region: &str,
    public_dns_name: Option<&str>,
) {
    w.elem("networkInterfaceId", &e.id);
    w.elem("subnetId", &e.subnet_id);
    w.elem("vpcId", &e.vpc_id);
    w.elem("availabilityZone", &e.availability_zone);
    w.elem("description", &e.description);
    w.elem("ownerId", &e.owner_id);
    w.opt_elem("requesterId", e.requester_id.as_deref());
    w.bool_elem("requesterManaged", e.requester_managed);
    w.elem("status", &e.status);
    w.elem("macAddress", &e.mac_address);
    w.elem("privateIpAddress", &e.private_ip_address);
    w.elem("privateDnsName", &e.private_dns_name);
    w.bool_elem("sourceDestCheck", e.source_dest_check);
    w.elem("interfaceType", &e.interface_type);
    items(w, "groupSet", &e.groups, |w, g| {
        w.elem("groupId", &g.id);
        w.elem("groupName", &g.name);
    });
    if let Some(a) = &e.attachment {
        w.open("attachment");
        w.elem("attachmentId", &a.attachment_id);
        w.opt_elem("instanceId", a.instance_id.as_deref());
        w.elem("instanceOwnerId", &a.instance_owner_id);
        w.elem("deviceIndex", &a.device_index.to_string());
        w.elem("networkCardIndex", &a.network_card_index.to_string());
        w.elem("status", &a.status);
        w.elem("attachTime", &a.attach_time);
        w.bool_elem("deleteOnTermination", a.delete_on_termination);
        w.close();
    }
    let association = |w: &mut XmlWriter| {
        if let Some(a) = &e.association {
            w.open("association");
            w.elem("allocationId", &a.allocation_id);
            w.opt_elem("associationId", a.association_id.as_deref());
            w.elem("ipOwnerId", &a.ip_owner_id);
            w.elem("publicIp", &a.public_ip);
            w.elem("publicDnsName", public_dns_name.unwrap_or_default());
            w.close();
        }
    };
    association(w);
    w.open("privateIpAddressesSet");
    w.open("item");
    w.elem("privateIpAddress", &e.private_ip_address);
    w.elem("privateDnsName", &e.private_dns_name);
    w.bool_elem("primary", true);
    association(w);
    w.close();
    for ip in &e.secondary_private_ip_addresses {
        w.open("item");
        w.elem("privateIpAddress", ip);
        if let Ok(addr) = ip.parse() {
            w.elem(
                "privateDnsName",
                &control::ec2::ids::private_dns_name(region, addr),
            );
        }
        w.bool_elem("primary", false);
        w.close();
    }
    w.close();
    w.open("ipv6AddressesSet");
    w.close();
    tag_set(w, &e.tags);
}

pub fn internet_gateway(w: &mut XmlWriter, g: &InternetGateway) {
    w.elem("internetGatewayId", &g.id);
    w.elem("ownerId", &g.owner_id);
    items(w, "attachmentSet", &g.attachments, |w, a| {
        w.elem("vpcId", &a.vpc_id);
        w.elem("state", &a.state);
    });
    tag_set(w, &g.tags);
}

pub fn address(w: &mut XmlWriter, a: &Address) {
    w.elem("publicIp", &a.public_ip);
    w.elem("allocationId", &a.allocation_id);
    w.elem("domain", &a.domain);
    w.elem("publicIpv4Pool", &a.public_ipv4_pool);
    w.elem("networkBorderGroup", &a.network_border_group);
    w.opt_elem("associationId", a.association_id.as_deref());
    w.opt_elem("networkInterfaceId", a.network_interface_id.as_deref());
    w.opt_elem(
        "networkInterfaceOwnerId",
        a.network_interface_owner_id.as_deref(),
    );
    w.opt_elem("privateIpAddress", a.private_ip_address.as_deref());
    tag_set(w, &a.tags);
}

pub fn nat_gateway(w: &mut XmlWriter, n: &NatGateway) {
    w.elem("natGatewayId", &n.id);
    w.elem("subnetId", &n.subnet_id);
    w.elem("vpcId", &n.vpc_id);
    w.elem("state", &n.state);
    w.elem("connectivityType", &n.connectivity_type);
    w.elem("availabilityMode", "zonal");
    w.elem("createTime", &n.create_time);
    w.opt_elem("deleteTime", n.delete_time.as_deref());
    w.opt_elem("failureCode", n.failure_code.as_deref());
    w.opt_elem("failureMessage", n.failure_message.as_deref());
    items(w, "natGatewayAddressSet", &n.addresses, |w, a| {
        w.opt_elem("allocationId", a.allocation_id.as_deref());
        w.opt_elem("associationId", a.association_id.as_deref());
        w.elem("networkInterfaceId", &a.network_interface_id);
        w.elem("privateIp", &a.private_ip);
        w.opt_elem("publicIp", a.public_ip.as_deref());
        w.bool_elem("isPrimary", a.is_primary);
        w.elem("status", &a.status);
    });
    tag_set(w, &n.tags);
}

pub fn route_table(w: &mut XmlWriter, t: &RouteTable) {
    w.elem("routeTableId", &t.id);
    w.elem("vpcId", &t.vpc_id);
    w.elem("ownerId", &t.owner_id);
    items(w, "routeSet", &t.routes, |w, r| {
        w.opt_elem("destinationCidrBlock", r.destination_cidr_block.as_deref());
        w.opt_elem(
            "destinationIpv6CidrBlock",
            r.destination_ipv6_cidr_block.as_deref(),
        );
        w.opt_elem(
            "destinationPrefixListId",
            r.destination_prefix_list_id.as_deref(),
        );
        match &r.target {
            RouteTarget::Local => {
                w.elem("gatewayId", "local");
            }
            RouteTarget::Gateway(id) | RouteTarget::VpcEndpoint(id) => {
                w.elem("gatewayId", id);
            }
            RouteTarget::NatGateway(id) => {
                w.elem("natGatewayId", id);
            }
            RouteTarget::NetworkInterface(id) => {
                w.elem("networkInterfaceId", id);
            }
        }
        w.elem("state", &r.state);
        w.elem("origin", &r.origin);
    });
    items(w, "associationSet", &t.associations, |w, a| {
        w.elem("routeTableAssociationId", &a.id);
        w.elem("routeTableId", &t.id);
        w.opt_elem("subnetId", a.subnet_id.as_deref());
        w.bool_elem("main", a.main);
        w.open("associationState");
        w.elem("state", &a.state);
        w.close();
    });
    w.open("propagatingVgwSet");
    w.close();
    tag_set(w, &t.tags);
}

fn strings(w: &mut XmlWriter, name: &str, values: &[String]) {
    w.open(name);
    for v in values {
        w.elem("item", v);
    }
    w.close();
}

pub fn vpc_endpoint(w: &mut XmlWriter, e: &VpcEndpoint) {
    w.elem("vpcEndpointId", &e.id);
    w.elem("vpcEndpointType", &e.endpoint_type);
    w.elem("vpcId", &e.vpc_id);
    w.elem("serviceName", &e.service_name);
    w.elem("state", &e.state);
    w.elem("policyDocument", &e.policy_document);
    strings(w, "routeTableIdSet", &e.route_table_ids);
    strings(w, "subnetIdSet", &e.subnet_ids);
    items(w, "groupSet", &e.groups, |w, g| {
        w.elem("groupId", &g.id);
        w.elem("groupName", &g.name);
    });
    w.elem("ipAddressType", "ipv4");
    w.open("dnsOptions");
    w.elem("dnsRecordIpType", "ipv4");
    w.close();
    w.bool_elem("privateDnsEnabled", e.private_dns_enabled);
    w.bool_elem("requesterManaged", false);
    strings(w, "networkInterfaceIdSet", &e.network_interface_ids);
    items(w, "dnsEntrySet", &e.dns_entries, |w, d| {
        w.elem("dnsName", &d.dns_name);
        w.elem("hostedZoneId", &d.hosted_zone_id);
    });
    w.elem("creationTimestamp", &e.creation_timestamp);
    tag_set(w, &e.tags);
    w.elem("ownerId", &e.owner_id);
}

/// One `ServiceDetail` of DescribeVpcEndpointServices.
pub fn endpoint_service(w: &mut XmlWriter, s: &ServiceView, region: &str, zones: &[Zone]) {
    let short = s.service.short;
    w.elem("serviceName", &s.name);
    w.elem("serviceId", &format!("vpce-svc-{short}"));
    items(w, "serviceType", &s.types(), |w, t| {
        w.elem("serviceType", t);
    });
    w.elem("serviceRegion", region);
    strings(
        w,
        "availabilityZoneIdSet",
        &zones.iter().map(|z| z.id.clone()).collect::<Vec<_>>(),
    );
    strings(
        w,
        "availabilityZoneSet",
        &zones.iter().map(|z| z.name.clone()).collect::<Vec<_>>(),
    );
    w.elem("owner", "amazon");
    strings(
        w,
        "baseEndpointDnsNameSet",
        &[format!("{short}.{region}.vpce.amazonaws.com")],
    );
    let private = endpoint::private_dns_names(region, short);
    if s.service.interface {
        if let Some(first) = private.first() {
            w.elem("privateDnsName", first);
        }
        items(w, "privateDnsNameSet", &private, |w, n| {
            w.elem("privateDnsName", n);
        });
    }
    w.bool_elem("vpcEndpointPolicySupported", true);
    w.bool_elem("acceptanceRequired", false);
    w.bool_elem("managesVpcEndpoints", false);
    tag_set(w, &[]);
    w.elem("privateDnsNameVerificationState", "verified");
    strings(w, "supportedIpAddressTypeSet", &["ipv4".to_string()]);
}
