//! Route tables, associations and routes.

use bytes::Bytes;
use control::ec2::route_table::{self, RouteSpec};
use control::ec2::ClientToken;
use http::Response;
use wire::AwsError;

use super::{errors, render, Req};

pub fn create_route_table(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let vpc_id = req.required("VpcId")?;
    let specs = req.tag_specs();
    let token = req
        .get("ClientToken")
        .map(|t| ClientToken::new("CreateRouteTable", &t, &(&vpc_id, &specs)))
        .transpose()
        .map_err(errors::to_aws)?;
    let table =
        req.write(|tx| route_table::create(tx, &req.scope, &vpc_id, &specs, token.as_ref()))?;
    req.respond(|w| {
        w.open("routeTable");
        render::route_table(w, &table);
        w.close();
        w.opt_elem("clientToken", token.as_ref().map(|t| t.token.as_str()));
    })
}

pub fn delete_route_table(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("RouteTableId")?;
    req.write(|tx| route_table::delete(tx, &req.scope, &id))?;
    req.ok()
}

pub fn describe_route_tables(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("RouteTableId"), req.filters(), req.page()?);
    let (tables, token) =
        req.read(|tx| route_table::describe(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "routeTableSet", &tables, |w, t| {
            render::route_table(w, t)
        });
        render::next_token(w, token.as_deref());
    })
}

fn association_state(w: &mut wire::XmlWriter) {
    w.open("associationState");
    w.elem("state", "associated");
    w.close();
}

pub fn associate_route_table(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let table = req.required("RouteTableId")?;
    let subnet = req.required("SubnetId")?;
    let id = req.write(|tx| route_table::associate(tx, &req.scope, &table, &subnet))?;
    req.respond(|w| {
        w.elem("associationId", &id);
        association_state(w);
    })
}

pub fn disassociate_route_table(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("AssociationId")?;
    req.write(|tx| route_table::disassociate(tx, &req.scope, &id))?;
    req.ok()
}

pub fn replace_route_table_association(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let association = req.required("AssociationId")?;
    let table = req.required("RouteTableId")?;
    let id =
        req.write(|tx| route_table::replace_association(tx, &req.scope, &association, &table))?;
    req.respond(|w| {
        w.elem("newAssociationId", &id);
        association_state(w);
    })
}

fn route_spec(req: &Req) -> RouteSpec {
    RouteSpec {
        destination_cidr_block: req.get("DestinationCidrBlock"),
        destination_ipv6_cidr_block: req.get("DestinationIpv6CidrBlock"),
        gateway_id: req.get("GatewayId"),
        nat_gateway_id: req.get("NatGatewayId"),
        network_interface_id: req.get("NetworkInterfaceId"),
        destination_prefix_list_id: req.get("DestinationPrefixListId"),
    }
}

pub fn create_route(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let table = req.required("RouteTableId")?;
    let spec = route_spec(req);
    req.write(|tx| route_table::create_route(tx, &req.scope, &table, &spec))?;
    req.ok()
}

pub fn replace_route(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let table = req.required("RouteTableId")?;
    let spec = route_spec(req);
    req.write(|tx| route_table::replace_route(tx, &req.scope, &table, &spec))?;
    req.ok()
}

pub fn delete_route(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let table = req.required("RouteTableId")?;
    let spec = route_spec(req);
    req.write(|tx| route_table::delete_route(tx, &req.scope, &table, &spec))?;
    req.ok()
}
