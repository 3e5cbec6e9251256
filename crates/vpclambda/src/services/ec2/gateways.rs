//! Internet gateways and NAT gateways.

use bytes::Bytes;
use control::ec2::gateway::{self, NewNatGateway};
use control::ec2::ClientToken;
use http::Response;
use wire::AwsError;

use super::{errors, render, Req};

pub fn create_internet_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let specs = req.tag_specs();
    let igw = req.write(|tx| gateway::create_internet_gateway(tx, &req.scope, &specs))?;
    req.respond(|w| {
        w.open("internetGateway");
        render::internet_gateway(w, &igw);
        w.close();
    })
}

pub fn attach_internet_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (igw, vpc) = (req.required("InternetGatewayId")?, req.required("VpcId")?);
    req.write(|tx| gateway::attach_internet_gateway(tx, &req.scope, &igw, &vpc))?;
    req.ok()
}

pub fn detach_internet_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (igw, vpc) = (req.required("InternetGatewayId")?, req.required("VpcId")?);
    req.write(|tx| gateway::detach_internet_gateway(tx, &req.scope, &igw, &vpc))?;
    req.ok()
}

pub fn delete_internet_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let igw = req.required("InternetGatewayId")?;
    req.write(|tx| gateway::delete_internet_gateway(tx, &req.scope, &igw))?;
    req.ok()
}

pub fn describe_internet_gateways(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("InternetGatewayId"), req.filters(), req.page()?);
    let (igws, token) =
        req.read(|tx| gateway::describe_internet_gateways(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "internetGatewaySet", &igws, |w, g| {
            render::internet_gateway(w, g)
        });
        render::next_token(w, token.as_deref());
    })
}

pub fn create_nat_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewNatGateway {
        subnet_id: req.get("SubnetId"),
        allocation_id: req.get("AllocationId"),
        connectivity_type: req.get("ConnectivityType"),
        private_ip_address: req.get("PrivateIpAddress"),
        tag_specs: req.tag_specs(),
    };
    let token = req
        .get("ClientToken")
        .map(|t| ClientToken::new("CreateNatGateway", &t, &new))
        .transpose()
        .map_err(errors::to_aws)?;
    let nat = req.write(|tx| gateway::create_nat_gateway(tx, &req.scope, &new, token.as_ref()))?;
    // No dataplane builds NAT gateways yet, so a created gateway is ready at once; the
    // response still shows `pending`, as AWS's does.
    req.write(|tx| gateway::nat_gateway_available(tx, &req.scope, &nat.id))?;
    req.respond(|w| {
        w.opt_elem("clientToken", token.as_ref().map(|t| t.token.as_str()));
        w.open("natGateway");
        render::nat_gateway(w, &nat);
        w.close();
    })
}

pub fn delete_nat_gateway(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("NatGatewayId")?;
    let nat = req.write(|tx| gateway::delete_nat_gateway(tx, &req.scope, &id))?;
    // As with creation: without a dataplane, teardown completes at once.
    req.write(|tx| gateway::nat_gateway_deleted(tx, &req.scope, &nat.id))?;
    req.respond(|w| {
        w.elem("natGatewayId", &nat.id);
    })
}

pub fn describe_nat_gateways(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("NatGatewayId"), req.filters(), req.page()?);
    let (nats, token) =
        req.read(|tx| gateway::describe_nat_gateways(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "natGatewaySet", &nats, render::nat_gateway);
        render::next_token(w, token.as_deref());
    })
}
