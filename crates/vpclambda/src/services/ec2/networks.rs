//! VPCs, subnets, availability zones, regions and account attributes.

use bytes::Bytes;
use control::ec2::filter::{self, Filterable};
use control::ec2::model::Tag;
use control::ec2::subnet::NewSubnet;
use control::ec2::vpc::{NewVpc, VpcAttribute};
use control::ec2::{account, subnet, vpc, zones};
use http::Response;
use wire::AwsError;

use super::{errors, render, Req};

pub fn create_vpc(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewVpc {
        cidr_block: req.get("CidrBlock"),
        instance_tenancy: req.get("InstanceTenancy"),
        tag_specs: req.tag_specs(),
    };
    let v = req.write(|tx| vpc::create(tx, &req.scope, &new))?;
    req.respond(|w| {
        w.open("vpc");
        render::vpc(w, &v);
        w.close();
    })
}

pub fn describe_vpcs(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("VpcId"), req.filters(), req.page()?);
    let (vpcs, token) = req.read(|tx| vpc::describe(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "vpcSet", &vpcs, render::vpc);
        render::next_token(w, token.as_deref());
    })
}

pub fn delete_vpc(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("VpcId")?;
    req.write(|tx| vpc::delete(tx, &req.scope, &id))?;
    req.ok()
}

/// `X.Value` of ModifyVpcAttribute / ModifySubnetAttribute.
fn attribute_value(req: &Req, name: &str) -> Result<Option<bool>, AwsError> {
    req.params.bool(&format!("{name}.Value"))
}

pub fn modify_vpc_attribute(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("VpcId")?;
    let mut changes = Vec::new();
    for (param, attr) in [
        ("EnableDnsSupport", VpcAttribute::EnableDnsSupport),
        ("EnableDnsHostnames", VpcAttribute::EnableDnsHostnames),
        (
            "EnableNetworkAddressUsageMetrics",
            VpcAttribute::EnableNetworkAddressUsageMetrics,
        ),
    ] {
        if let Some(v) = attribute_value(req, param)? {
            changes.push((attr, v));
        }
    }
    let [(attr, value)] = changes[..] else {
        return Err(AwsError::new(
            400,
            "InvalidParameterCombination",
            "Fields for multiple attribute types specified: exactly one attribute may be modified per call.",
        ));
    };
    req.write(|tx| vpc::modify_attribute(tx, &req.scope, &id, attr, value))?;
    req.ok()
}

pub fn describe_vpc_attribute(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("VpcId")?;
    let name = req.required("Attribute")?;
    let attr = VpcAttribute::parse(&name).map_err(errors::to_aws)?;
    let value = req.read(|tx| vpc::attribute(tx, &req.scope, &id, attr))?;
    req.respond(|w| {
        w.elem("vpcId", &id);
        w.open(&name);
        w.bool_elem("value", value);
        w.close();
    })
}

pub fn create_subnet(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewSubnet {
        vpc_id: req.get("VpcId"),
        cidr_block: req.get("CidrBlock"),
        availability_zone: req.get("AvailabilityZone"),
        availability_zone_id: req.get("AvailabilityZoneId"),
        tag_specs: req.tag_specs(),
    };
    let s = req.write(|tx| subnet::create(tx, &req.scope, &new))?;
    req.respond(|w| {
        w.open("subnet");
        render::subnet(w, &s);
        w.close();
    })
}

pub fn describe_subnets(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("SubnetId"), req.filters(), req.page()?);
    let (subnets, token) =
        req.read(|tx| subnet::describe(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "subnetSet", &subnets, render::subnet);
        render::next_token(w, token.as_deref());
    })
}

pub fn delete_subnet(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("SubnetId")?;
    req.write(|tx| subnet::delete(tx, &req.scope, &id))?;
    req.ok()
}

pub fn modify_subnet_attribute(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("SubnetId")?;
    match attribute_value(req, "MapPublicIpOnLaunch")? {
        Some(v) => {
            req.write(|tx| subnet::set_map_public_ip_on_launch(tx, &req.scope, &id, v))?;
        }
        // Attributes of features vpclambda does not model (IPv6, customer-owned IPs, DNS64)
        // may only be switched off, which they are.
        None => {
            for other in [
                "AssignIpv6AddressOnCreation",
                "MapCustomerOwnedIpOnLaunch",
                "EnableDns64",
                "EnableResourceNameDnsARecordOnLaunch",
                "EnableResourceNameDnsAAAARecordOnLaunch",
            ] {
                if attribute_value(req, other)? == Some(true) {
                    return Err(AwsError::new(
                        400,
                        "InvalidParameterValue",
                        format!("The attribute {other} is not supported by vpclambda."),
                    ));
                }
            }
            req.read(|tx| subnet::get(tx, &req.scope, &id))?;
        }
    }
    req.ok()
}

/// One availability zone as a filterable row.
struct ZoneRow(zones::Zone);

impl Filterable for ZoneRow {
    fn id(&self) -> &str {
        &self.0.id
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let z = &self.0;
        let v = match name {
            "zone-name" => z.name.clone(),
            "zone-id" => z.id.clone(),
            "state" => "available".into(),
            "region-name" | "group-name" | "network-border-group" => z.region.clone(),
            "zone-type" => "availability-zone".into(),
            "opt-in-status" => "opt-in-not-required".into(),
            _ => return None,
        };
        Some(vec![v])
    }
}

pub fn describe_availability_zones(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let names = req.list("ZoneName");
    let zone_ids = req.list("ZoneId");
    let all = zones::zones(&req.scope.region);
    for wanted in names.iter().chain(&zone_ids) {
        if !all.iter().any(|z| z.name == *wanted || z.id == *wanted) {
            return Err(AwsError::new(
                400,
                "InvalidParameterValue",
                format!("Invalid availability zone: [{wanted}]"),
            ));
        }
    }
    let rows: Vec<ZoneRow> = all
        .into_iter()
        .filter(|z| {
            names.is_empty() && zone_ids.is_empty()
                || names.contains(&z.name)
                || zone_ids.contains(&z.id)
        })
        .map(ZoneRow)
        .collect();
    let rows = filter::retain(rows, &req.filters()).map_err(errors::to_aws)?;
    req.respond(|w| {
        render::items(w, "availabilityZoneInfo", &rows, |w, ZoneRow(z)| {
            w.elem("zoneName", &z.name);
            w.elem("zoneId", &z.id);
            w.elem("zoneState", "available");
            w.elem("regionName", &z.region);
            w.elem("groupName", &z.region);
            w.elem("networkBorderGroup", &z.region);
            w.elem("zoneType", "availability-zone");
            w.elem("optInStatus", "opt-in-not-required");
            w.open("messageSet");
            w.close();
        });
    })
}

struct RegionRow(&'static str);

impl Filterable for RegionRow {
    fn id(&self) -> &str {
        self.0
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "region-name" => self.0.to_string(),
            "endpoint" => zones::endpoint(self.0),
            "opt-in-status" => "opt-in-not-required".into(),
            _ => return None,
        };
        Some(vec![v])
    }
}

pub fn describe_regions(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let names = req.list("RegionName");
    for n in &names {
        if !zones::regions().contains(&n.as_str()) {
            return Err(AwsError::new(
                400,
                "InvalidParameterValue",
                format!("Invalid region: {n}"),
            ));
        }
    }
    let rows: Vec<RegionRow> = zones::regions()
        .iter()
        .filter(|r| names.is_empty() || names.iter().any(|n| n == *r))
        .map(|r| RegionRow(r))
        .collect();
    let rows = filter::retain(rows, &req.filters()).map_err(errors::to_aws)?;
    req.respond(|w| {
        render::items(w, "regionInfo", &rows, |w, RegionRow(r)| {
            w.elem("regionName", r);
            w.elem("regionEndpoint", &zones::endpoint(r));
            w.elem("optInStatus", "opt-in-not-required");
        });
    })
}

pub fn describe_account_attributes(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let wanted = req.list("AttributeName");
    let attrs = req.read(|tx| account::attributes(tx, &req.scope))?;
    let attrs: Vec<_> = attrs
        .into_iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.iter().any(|w| w == name))
        .collect();
    req.respond(|w| {
        render::items(w, "accountAttributeSet", &attrs, |w, (name, values)| {
            w.elem("attributeName", name);
            render::items(w, "attributeValueSet", values, |w, v| {
                w.elem("attributeValue", v);
            });
        });
    })
}
