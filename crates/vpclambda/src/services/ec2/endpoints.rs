//! VPC endpoints, the endpoint services behind them, and AWS-managed prefix lists.

use bytes::Bytes;
use control::ec2::endpoint::{self, EndpointChange, NewVpcEndpoint, PREFIX_LIST_MAX_ENTRIES};
use control::ec2::zones;
use control::ec2::{ClientToken, Page};
use http::Response;
use wire::AwsError;

use super::{errors, render, Req};

pub fn create_vpc_endpoint(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let new = NewVpcEndpoint {
        endpoint_type: req.get("VpcEndpointType"),
        vpc_id: req.get("VpcId"),
        service_name: req.get("ServiceName"),
        policy_document: req.get("PolicyDocument"),
        route_table_ids: req.list("RouteTableId"),
        subnet_ids: req.list("SubnetId"),
        security_group_ids: req.list("SecurityGroupId"),
        private_dns_enabled: req.params.bool("PrivateDnsEnabled")?,
        tag_specs: req.tag_specs(),
    };
    let token = req
        .get("ClientToken")
        .map(|t| ClientToken::new("CreateVpcEndpoint", &t, &new))
        .transpose()
        .map_err(errors::to_aws)?;
    let e = req.write(|tx| endpoint::create(tx, &req.scope, &new, token.as_ref()))?;
    req.respond(|w| {
        w.open("vpcEndpoint");
        render::vpc_endpoint(w, &e);
        w.close();
        w.opt_elem("clientToken", token.as_ref().map(|t| t.token.as_str()));
    })
}

pub fn modify_vpc_endpoint(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("VpcEndpointId")?;
    let change = EndpointChange {
        reset_policy: req.params.bool("ResetPolicy")? == Some(true),
        policy_document: req.get("PolicyDocument"),
        add_route_table_ids: req.list("AddRouteTableId"),
        remove_route_table_ids: req.list("RemoveRouteTableId"),
        add_subnet_ids: req.list("AddSubnetId"),
        remove_subnet_ids: req.list("RemoveSubnetId"),
        add_security_group_ids: req.list("AddSecurityGroupId"),
        remove_security_group_ids: req.list("RemoveSecurityGroupId"),
        private_dns_enabled: req.params.bool("PrivateDnsEnabled")?,
    };
    req.write(|tx| endpoint::modify(tx, &req.scope, &id, &change))?;
    req.ok()
}

pub fn delete_vpc_endpoints(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let ids = req.list("VpcEndpointId");
    let failed = req.write(|tx| endpoint::delete(tx, &req.scope, &ids))?;
    req.respond(|w| {
        render::items(w, "unsuccessful", &failed, |w, f| {
            w.open("error");
            w.elem("code", &f.code);
            w.elem("message", &f.message);
            w.close();
            w.elem("resourceId", &f.resource_id);
        });
    })
}

pub fn describe_vpc_endpoints(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("VpcEndpointId"), req.filters(), req.page()?);
    let (endpoints, token) =
        req.read(|tx| endpoint::describe(tx, &req.scope, &ids, &filters, &page))?;
    req.respond(|w| {
        render::items(w, "vpcEndpointSet", &endpoints, render::vpc_endpoint);
        render::next_token(w, token.as_deref());
    })
}

pub fn describe_vpc_endpoint_services(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (names, filters) = (req.list("ServiceName"), req.filters());
    let region = &req.scope.region;
    let services =
        endpoint::describe_services(&req.scope, &names, &filters).map_err(errors::to_aws)?;
    let zones = zones::zones(region);
    req.respond(|w| {
        w.open("serviceNameSet");
        for s in &services {
            w.elem("item", &s.name);
        }
        w.close();
        render::items(w, "serviceDetailSet", &services, |w, s| {
            render::endpoint_service(w, s, region, &zones);
        });
    })
}

pub fn describe_prefix_lists(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("PrefixListId"), req.filters(), req.page()?);
    let (lists, token) =
        endpoint::describe_prefix_lists(&req.scope, &ids, &filters, &page, (5, 1000))
            .map_err(errors::to_aws)?;
    req.respond(|w| {
        render::items(w, "prefixListSet", &lists, |w, p| {
            w.elem("prefixListId", &p.id);
            w.elem("prefixListName", &p.name);
            w.open("cidrSet");
            for c in &p.cidrs {
                w.elem("item", c);
            }
            w.close();
        });
        render::next_token(w, token.as_deref());
    })
}

pub fn describe_managed_prefix_lists(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let (ids, filters, page) = (req.list("PrefixListId"), req.filters(), req.page()?);
    let region = &req.scope.region;
    let (lists, token) =
        endpoint::describe_prefix_lists(&req.scope, &ids, &filters, &page, (1, 100))
            .map_err(errors::to_aws)?;
    req.respond(|w| {
        render::items(w, "prefixListSet", &lists, |w, p| {
            w.elem("prefixListId", &p.id);
            w.elem("addressFamily", "IPv4");
            w.elem("state", "create-complete");
            w.elem(
                "prefixListArn",
                &format!("arn:aws:ec2:{region}:aws:prefix-list/{}", p.id),
            );
            w.elem("prefixListName", &p.name);
            w.elem("maxEntries", &PREFIX_LIST_MAX_ENTRIES.to_string());
            w.elem("version", "1");
            render::tag_set(w, &[]);
            w.elem("ownerId", "AWS");
        });
        render::next_token(w, token.as_deref());
    })
}

pub fn get_managed_prefix_list_entries(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let id = req.required("PrefixListId")?;
    let page = Page {
        max_results: req.params.int("MaxResults")?,
        next_token: None,
    };
    let (lists, _) = endpoint::describe_prefix_lists(
        &req.scope,
        std::slice::from_ref(&id),
        &[],
        &page,
        (1, 100),
    )
    .map_err(errors::to_aws)?;
    req.respond(|w| {
        w.open("entrySet");
        for c in lists.iter().flat_map(|p| &p.cidrs) {
            w.open("item");
            w.elem("cidr", c);
            w.close();
        }
        w.close();
    })
}
