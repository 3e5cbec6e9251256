//! Elastic IP addresses and tags.

use bytes::Bytes;
use control::ec2::gateway::{self, NewAddress, NewAssociation};
use control::ec2::tags::{self, TagSelector};
use http::Response;
use wire::AwsError;

use super::{render, Req};

pub fn allocate_address(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewAddress {
        domain: req.get("Domain"),
        address: req.get("Address"),
        public_ipv4_pool: req.get("PublicIpv4Pool"),
        network_border_group: req.get("NetworkBorderGroup"),
        tag_specs: req.tag_specs(),
    };
    let a = req.write(|tx| gateway::allocate_address(tx, &req.scope, &new))?;
    req.respond(|w| {
        w.elem("publicIp", &a.public_ip);
        w.elem("allocationId", &a.allocation_id);
        w.elem("domain", &a.domain);
        w.elem("publicIpv4Pool", &a.public_ipv4_pool);
        w.elem("networkBorderGroup", &a.network_border_group);
    })
}

pub fn release_address(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (id, ip) = (req.get("AllocationId"), req.get("PublicIp"));
    req.write(|tx| gateway::release_address(tx, &req.scope, id.as_deref(), ip.as_deref()))?;
    req.ok()
}

pub fn associate_address(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewAssociation {
        allocation_id: req.get("AllocationId"),
        public_ip: req.get("PublicIp"),
        network_interface_id: req.get("NetworkInterfaceId"),
        instance_id: req.get("InstanceId"),
        private_ip_address: req.get("PrivateIpAddress"),
        allow_reassociation: req.params.bool("AllowReassociation")?.unwrap_or(false),
    };
    let id = req.write(|tx| gateway::associate_address(tx, &req.scope, &new))?;
    req.respond(|w| {
        w.elem("associationId", &id);
    })
}

pub fn disassociate_address(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (id, ip) = (req.get("AssociationId"), req.get("PublicIp"));
    req.write(|tx| gateway::disassociate_address(tx, &req.scope, id.as_deref(), ip.as_deref()))?;
    req.ok()
}

pub fn describe_addresses(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, ips, filters) = (
        req.list("AllocationId"),
        req.list("PublicIp"),
        req.filters(),
    );
    let addresses =
        req.read(|tx| gateway::describe_addresses(tx, &req.scope, &ids, &ips, &filters))?;
    req.respond(|w| {
        render::items(w, "addressesSet", &addresses, render::address);
    })
}

pub fn create_tags(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let resources = req.list("ResourceId");
    let new = super::tags(&req.params, "Tag");
    req.write(|tx| tags::create(tx, &req.scope, &resources, &new))?;
    req.ok()
}

pub fn delete_tags(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let resources = req.list("ResourceId");
    let selectors: Vec<TagSelector> = req
        .params
        .structs("Tag")
        .into_iter()
        .map(|t| TagSelector {
            key: t.get("Key").unwrap_or_default().to_string(),
            value: t.get("Value").map(str::to_string),
        })
        .collect();
    req.write(|tx| tags::delete(tx, &req.scope, &resources, &selectors))?;
    req.ok()
}

pub fn describe_tags(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (filters, page) = (req.filters(), req.page()?);
    let (rows, token) = req.read(|tx| tags::describe(tx, &req.scope, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "tagSet", &rows, |w, t| {
            w.elem("resourceId", &t.resource_id);
            w.elem("resourceType", t.resource_type);
            w.elem("key", &t.key);
            w.elem("value", &t.value);
        });
        render::next_token(w, token.as_deref());
    })
}
