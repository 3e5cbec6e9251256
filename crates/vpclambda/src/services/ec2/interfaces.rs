//! Network interfaces.

use bytes::Bytes;
use control::ec2::network_interface::{self, EniChange, NewNetworkInterface};
use control::ec2::ClientToken;
use http::Response;
use wire::AwsError;

use super::{errors, render, Req};

/// The interface types a caller may ask for (`lambda`, `nat_gateway`, … are made by
/// services, not by CreateNetworkInterface).
const USER_INTERFACE_TYPES: [&str; 4] = ["efa", "efa-only", "branch", "trunk"];

pub fn create_network_interface(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let interface_type = req.get("InterfaceType");
    if let Some(t) = interface_type.as_deref() {
        if !USER_INTERFACE_TYPES.contains(&t) {
            return Err(AwsError::new(
                400,
                "InvalidParameterValue",
                format!("Value ({t}) for parameter interfaceType is invalid."),
            ));
        }
    }
    let groups = req.list("SecurityGroupId");
    let new = NewNetworkInterface {
        subnet_id: req.get("SubnetId"),
        security_groups: (!groups.is_empty()).then_some(groups),
        description: req.get("Description"),
        private_ip_address: req.get("PrivateIpAddress"),
        secondary_private_ip_address_count: req.params.int("SecondaryPrivateIpAddressCount")?,
        interface_type,
        tag_specs: req.tag_specs(),
        ..NewNetworkInterface::default()
    };
    let token = req
        .get("ClientToken")
        .map(|t| ClientToken::new("CreateNetworkInterface", &t, &new))
        .transpose()
        .map_err(errors::to_aws)?;
    let eni = req.write(|tx| network_interface::create(tx, &req.scope, &new, token.as_ref()))?;
    let mut response = req.respond(|w| {
        w.open("networkInterface");
        render::network_interface(w, &eni, &req.scope.region, None);
        w.close();
        w.opt_elem("clientToken", token.as_ref().map(|t| t.token.as_str()));
    })?;
    // The dataplane applies this one interface instead of reconciling everything.
    response
        .extensions_mut()
        .insert(crate::dataplane::InterfaceCreated(eni.id));
    Ok(response)
}

pub fn describe_network_interfaces(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("NetworkInterfaceId"), req.filters(), req.page()?);
    let (enis, token, dns_names) = req.read(|tx| {
        let (enis, token) = network_interface::describe(tx, &req.scope, &ids, &filters, &page)?;
        let dns_names = network_interface::public_dns_names(tx, &req.scope, &enis)?;
        Ok((enis, token, dns_names))
    })?;
    req.respond(|w| {
        render::items(w, "networkInterfaceSet", &enis, |w, e| {
            let dns_name = dns_names.get(&e.id).map(String::as_str);
            render::network_interface(w, e, &req.scope.region, dns_name)
        });
        render::next_token(w, token.as_deref());
    })
}

pub fn delete_network_interface(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("NetworkInterfaceId")?;
    req.write(|tx| network_interface::delete(tx, &req.scope, &id))?;
    req.ok()
}

pub fn modify_network_interface_attribute(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("NetworkInterfaceId")?;
    let groups = req.list("SecurityGroupId");
    let mut changes = Vec::new();
    if !groups.is_empty() {
        changes.push(EniChange::SecurityGroups(groups));
    }
    if let Some(d) = req.get("Description.Value") {
        changes.push(EniChange::Description(d));
    }
    if let Some(b) = req.params.bool("SourceDestCheck.Value")? {
        changes.push(EniChange::SourceDestCheck(b));
    }
    let [change] = &changes[..] else {
        return Err(AwsError::new(
            400,
            "InvalidParameterCombination",
            "Fields for multiple attribute types specified: exactly one attribute may be modified per call.",
        ));
    };
    req.write(|tx| network_interface::modify(tx, &req.scope, &id, change))?;
    req.ok()
}

pub fn detach_network_interface(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("AttachmentId")?;
    req.write(|tx| network_interface::detach(tx, &req.scope, &id))?;
    req.ok()
}
