//! The ec2 wire adapter (EC2 query protocol, XML): decodes requests, runs `control::ec2` in
//! a store transaction, and renders records in the shapes of the botocore model (camelCase
//! `locationName`s, `<item>` list members). Domain rules live in `control::ec2`; the one
//! mapping from [`Ec2Error`] to AWS's codes and statuses is [`errors::to_aws`].
//!
//! Before any action runs, the caller's default VPC for the region is created if this is
//! the first EC2 call of that account there.

mod addressing;
mod endpoints;
mod errors;
mod gateways;
mod groups;
mod interfaces;
mod networks;
mod render;
mod routes;

use std::sync::Arc;

use bytes::Bytes;
use control::ec2::model::Tag;
use control::ec2::{account, Ec2Error, Filter, Page, TagSpec};
use control::{Scope, Store, Tx};
use http::Response;
use wire::{AwsError, QueryParams, XmlWriter};

use super::{Call, Service};
use crate::server::AppState;

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let params = call.query_params()?;
    let req = Req {
        store: state.store.clone(),
        scope: Scope::new(call.account.account_id.clone(), call.region.clone()),
        request_id: call.request_id.clone(),
        params,
    };
    // SQLite calls block, and a writer may wait for the store's lock; keep them off the
    // async workers.
    tokio::task::spawn_blocking(move || dispatch(&req))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "ec2 handler panicked");
            AwsError::internal()
        })?
}

/// One decoded EC2 request, owned so it can move to a blocking thread.
pub(super) struct Req {
    store: Store,
    scope: Scope,
    request_id: String,
    params: QueryParams,
}

type Handler = fn(&Req) -> Result<Response<Bytes>, AwsError>;

/// Every action this adapter serves.
fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateVpc" => networks::create_vpc,
        "DescribeVpcs" => networks::describe_vpcs,
        "DeleteVpc" => networks::delete_vpc,
        "ModifyVpcAttribute" => networks::modify_vpc_attribute,
        "DescribeVpcAttribute" => networks::describe_vpc_attribute,
        "CreateSubnet" => networks::create_subnet,
        "DescribeSubnets" => networks::describe_subnets,
        "DeleteSubnet" => networks::delete_subnet,
        "ModifySubnetAttribute" => networks::modify_subnet_attribute,
        "DescribeAvailabilityZones" => networks::describe_availability_zones,
        "DescribeRegions" => networks::describe_regions,
        "DescribeAccountAttributes" => networks::describe_account_attributes,
        "CreateSecurityGroup" => groups::create_security_group,
        "DescribeSecurityGroups" => groups::describe_security_groups,
        "DeleteSecurityGroup" => groups::delete_security_group,
        "AuthorizeSecurityGroupIngress" => groups::authorize_ingress,
        "AuthorizeSecurityGroupEgress" => groups::authorize_egress,
        "RevokeSecurityGroupIngress" => groups::revoke_ingress,
        "RevokeSecurityGroupEgress" => groups::revoke_egress,
        "DescribeSecurityGroupRules" => groups::describe_security_group_rules,
        "CreateNetworkInterface" => interfaces::create_network_interface,
        "DescribeNetworkInterfaces" => interfaces::describe_network_interfaces,
        "DeleteNetworkInterface" => interfaces::delete_network_interface,
        "ModifyNetworkInterfaceAttribute" => interfaces::modify_network_interface_attribute,
        "DetachNetworkInterface" => interfaces::detach_network_interface,
        "CreateInternetGateway" => gateways::create_internet_gateway,
        "AttachInternetGateway" => gateways::attach_internet_gateway,
        "DetachInternetGateway" => gateways::detach_internet_gateway,
        "DeleteInternetGateway" => gateways::delete_internet_gateway,
        "DescribeInternetGateways" => gateways::describe_internet_gateways,
        "CreateNatGateway" => gateways::create_nat_gateway,
        "DeleteNatGateway" => gateways::delete_nat_gateway,
        "DescribeNatGateways" => gateways::describe_nat_gateways,
        "AllocateAddress" => addressing::allocate_address,
        "ReleaseAddress" => addressing::release_address,
        "DescribeAddresses" => addressing::describe_addresses,
        "AssociateAddress" => addressing::associate_address,
        "DisassociateAddress" => addressing::disassociate_address,
        "CreateTags" => addressing::create_tags,
        "DeleteTags" => addressing::delete_tags,
        "DescribeTags" => addressing::describe_tags,
        "CreateRouteTable" => routes::create_route_table,
        "DeleteRouteTable" => routes::delete_route_table,
        "DescribeRouteTables" => routes::describe_route_tables,
        "AssociateRouteTable" => routes::associate_route_table,
        "DisassociateRouteTable" => routes::disassociate_route_table,
        "ReplaceRouteTableAssociation" => routes::replace_route_table_association,
        "CreateRoute" => routes::create_route,
        "ReplaceRoute" => routes::replace_route,
        "DeleteRoute" => routes::delete_route,
        "CreateVpcEndpoint" => endpoints::create_vpc_endpoint,
        "ModifyVpcEndpoint" => endpoints::modify_vpc_endpoint,
        "DeleteVpcEndpoints" => endpoints::delete_vpc_endpoints,
        "DescribeVpcEndpoints" => endpoints::describe_vpc_endpoints,
        "DescribeVpcEndpointServices" => endpoints::describe_vpc_endpoint_services,
        "DescribePrefixLists" => endpoints::describe_prefix_lists,
        "DescribeManagedPrefixLists" => endpoints::describe_managed_prefix_lists,
        "GetManagedPrefixListEntries" => endpoints::get_managed_prefix_list_entries,
        _ => return None,
    })
}

fn dispatch(req: &Req) -> Result<Response<Bytes>, AwsError> {
    let action = req.params.get("Action").unwrap_or_default();
    let Some(run) = handler(action) else {
        return Err(super::unknown_query_action(Service::Ec2, &req.params));
    };
    if req.params.bool("DryRun")? == Some(true) {
        return Err(AwsError::new(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    req.ensure_default_vpc()?;
    run(req)
}

impl Req {
    /// The first EC2 call of an account in a region creates its default VPC. A read first
    /// keeps the common case off the write lock.
    fn ensure_default_vpc(&self) -> Result<(), AwsError> {
        let scope = &self.scope;
        if self.read(|tx| account::is_initialised(tx, scope))? {
            return Ok(());
        }
        self.write(|tx| account::ensure_default_vpc(tx, scope))
    }

    /// Runs `f` in a write transaction; an error rolls it back.
    fn write<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R, Ec2Error>) -> Result<R, AwsError> {
        self.store.write(f).map_err(errors::to_aws)
    }

    /// Runs `f` on one consistent snapshot.
    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R, Ec2Error>) -> Result<R, AwsError> {
        self.store.read(f).map_err(errors::to_aws)
    }

    fn action(&self) -> &str {
        self.params.get("Action").unwrap_or_default()
    }

    /// The response envelope of this request's action.
    fn respond(&self, body: impl FnOnce(&mut XmlWriter)) -> Result<Response<Bytes>, AwsError> {
        Ok(wire::response::ec2(self.action(), &self.request_id, body))
    }

    /// `<return>true</return>`, the body of actions without output.
    fn ok(&self) -> Result<Response<Bytes>, AwsError> {
        self.respond(|w| {
            w.bool_elem("return", true);
        })
    }

    fn get(&self, name: &str) -> Option<String> {
        self.params.get(name).map(str::to_string)
    }

    fn required(&self, name: &str) -> Result<String, AwsError> {
        self.params.required(name).map(str::to_string)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.params.list(name)
    }

    fn filters(&self) -> Vec<Filter> {
        filters(&self.params)
    }

    fn tag_specs(&self) -> Vec<TagSpec> {
        self.params
            .structs("TagSpecification")
            .into_iter()
            .map(|s| TagSpec {
                resource_type: s.get("ResourceType").unwrap_or_default().to_string(),
                tags: tags(&s, "Tag"),
            })
            .collect()
    }

    fn page(&self) -> Result<Page, AwsError> {
        Ok(Page {
            max_results: self.params.int("MaxResults")?,
            next_token: self.get("NextToken"),
        })
    }
}

fn filters(params: &QueryParams) -> Vec<Filter> {
    params
        .structs("Filter")
        .into_iter()
        .map(|f| Filter {
            name: f.get("Name").unwrap_or_default().to_string(),
            values: f.list("Value"),
        })
        .collect()
}

/// `prefix.N.Key` / `prefix.N.Value` pairs (a missing value is the empty string).
fn tags(params: &QueryParams, prefix: &str) -> Vec<Tag> {
    params
        .structs(prefix)
        .into_iter()
        .map(|t| Tag {
            key: t.get("Key").unwrap_or_default().to_string(),
            value: t.get("Value").unwrap_or_default().to_string(),
        })
        .collect()
}
