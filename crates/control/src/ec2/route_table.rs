//! Route tables: the main table of each VPC with its `local` route, custom tables, subnet
//! associations (at most one explicit table per subnet), routes to internet gateways, NAT
//! gateways and interfaces (gateway VPC endpoints add and remove their own prefix-list
//! routes through `endpoint`), and the `blackhole` state of routes whose target went away.

use serde::Serialize;

use super::cidr::is_ipv6_cidr;
use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::idempotency::ClientToken;
use super::ids;
use super::model::{
    InternetGateway, NatGateway, NetworkInterface, Route, RouteTable, RouteTableAssociation,
    RouteTarget, Subnet, Tag, Vpc,
};
use super::tags::{self, TagSpec};
use super::vpc::parse_cidr;
use super::{flag, list, load, remove, save};
use crate::store::{Scope, Tx};

fn local_route(cidr: &str) -> Route {
    Route {
        destination_cidr_block: Some(cidr.to_string()),
        destination_ipv6_cidr_block: None,
        destination_prefix_list_id: None,
        target: RouteTarget::Local,
        origin: "CreateRouteTable".into(),
        state: "active".into(),
    }
}

fn new_association_id() -> String {
    ids::ROUTE_TABLE_ASSOCIATION.new_id()
}

fn new_table(scope: &Scope, vpc_id: &str, cidr: &str) -> RouteTable {
    RouteTable {
        id: ids::ROUTE_TABLE.new_id(),
        owner_id: scope.account.clone(),
        vpc_id: vpc_id.to_string(),
        routes: vec![local_route(cidr)],
        associations: Vec::new(),
        tags: Vec::new(),
    }
}

/// The main route table CreateVpc makes; the caller saves it.
pub(crate) fn new_main(scope: &Scope, vpc_id: &str, cidr: &str) -> RouteTable {
    let mut t = new_table(scope, vpc_id, cidr);
    t.associations.push(RouteTableAssociation {
        id: new_association_id(),
        main: true,
        subnet_id: None,
        state: "associated".into(),
    });
    t
}

/// CreateRouteTable.
pub fn create(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    tag_specs: &[TagSpec],
    token: Option<&ClientToken>,
) -> Result<RouteTable, Ec2Error> {
    if let Some(t) = token {
        if let Some(id) = t.recall(tx, scope)? {
            if let Ok(table) = load::<RouteTable>(tx, scope, ids::ROUTE_TABLE, &id) {
                return Ok(table);
            }
        }
    }
    let vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    let mut table = new_table(scope, vpc_id, &vpc.cidr_block);
    table.tags = tags::for_new(tag_specs, ids::ROUTE_TABLE)?;
    save(tx, scope, ids::ROUTE_TABLE, &table.id, &table)?;
    if let Some(t) = token {
        t.remember(tx, scope, &table.id)?;
    }
    Ok(table)
}

/// DeleteRouteTable: refused for the main table and while subnets are associated. Gateway
/// endpoints routing through the table let go of it.
pub fn delete(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    let table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, id)?;
    if !table.associations.is_empty() {
        return Err(Ec2Error::DependencyViolation(format!(
            "The routeTable '{id}' has dependencies and cannot be deleted."
        )));
    }
    remove(tx, scope, ids::ROUTE_TABLE, id)?;
    super::endpoint::forget_route_table(tx, scope, id)
}

/// The table that routes `subnet_id`: its explicit association, else its VPC's main table.
pub fn for_subnet(tx: &mut dyn Tx, scope: &Scope, subnet_id: &str) -> Result<RouteTable, Ec2Error> {
    let subnet: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    let tables: Vec<RouteTable> = list::<RouteTable>(tx, scope, ids::ROUTE_TABLE)?
        .into_iter()
        .filter(|t| t.vpc_id == subnet.vpc_id)
        .collect();
    let explicit = tables.iter().find(|t| {
        t.associations
            .iter()
            .any(|a| a.subnet_id.as_deref() == Some(subnet_id))
    });
    explicit
        .or_else(|| tables.iter().find(|t| t.is_main()))
        .cloned()
        .ok_or_else(|| {
            ids::ROUTE_TABLE.not_found(&format!("main route table of {}", subnet.vpc_id))
        })
}

/// AssociateRouteTable: returns the new association id.
pub fn associate(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
    subnet_id: &str,
) -> Result<String, Ec2Error> {
    let mut table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    let subnet: Subnet = load(tx, scope, ids::SUBNET, subnet_id)?;
    if subnet.vpc_id != table.vpc_id {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Route table {table_id} and subnet {subnet_id} belong to different networks"
        )));
    }
    let tables: Vec<RouteTable> = list(tx, scope, ids::ROUTE_TABLE)?;
    if let Some(other) = tables.iter().find(|t| {
        t.associations
            .iter()
            .any(|a| a.subnet_id.as_deref() == Some(subnet_id))
    }) {
        return Err(Ec2Error::AlreadyAssociated(format!(
            "the specified association for route table {} conflicts with an existing association",
            other.id
        )));
    }
    let id = new_association_id();
    table.associations.push(RouteTableAssociation {
        id: id.clone(),
        main: false,
        subnet_id: Some(subnet_id.to_string()),
        state: "associated".into(),
    });
    save(tx, scope, ids::ROUTE_TABLE, table_id, &table)?;
    Ok(id)
}

/// The table holding association `association_id`.
fn table_of_association(
    tx: &mut dyn Tx,
    scope: &Scope,
    association_id: &str,
) -> Result<RouteTable, Ec2Error> {
    ids::ROUTE_TABLE_ASSOCIATION.check(association_id)?;
    list::<RouteTable>(tx, scope, ids::ROUTE_TABLE)?
        .into_iter()
        .find(|t| t.associations.iter().any(|a| a.id == association_id))
        .ok_or_else(|| ids::ROUTE_TABLE_ASSOCIATION.not_found(association_id))
}

/// DisassociateRouteTable: the subnet falls back to the main table.
pub fn disassociate(tx: &mut dyn Tx, scope: &Scope, association_id: &str) -> Result<(), Ec2Error> {
    let mut table = table_of_association(tx, scope, association_id)?;
    if table
        .associations
        .iter()
        .any(|a| a.id == association_id && a.main)
    {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "cannot disassociate the main route table association {association_id}"
        )));
    }
    table.associations.retain(|a| a.id != association_id);
    save(tx, scope, ids::ROUTE_TABLE, &table.id.clone(), &table)
}

/// ReplaceRouteTableAssociation: moves a subnet association, or the VPC's main
/// association, to `table_id`. Returns the new association id.
pub fn replace_association(
    tx: &mut dyn Tx,
    scope: &Scope,
    association_id: &str,
    table_id: &str,
) -> Result<String, Ec2Error> {
    let mut old = table_of_association(tx, scope, association_id)?;
    let mut new: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    if new.vpc_id != old.vpc_id {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Route table {table_id} and association {association_id} belong to different networks"
        )));
    }
    let Some(pos) = old.associations.iter().position(|a| a.id == association_id) else {
        return Err(ids::ROUTE_TABLE_ASSOCIATION.not_found(association_id));
    };
    let moved = old.associations.remove(pos);
    let id = new_association_id();
    let association = RouteTableAssociation {
        id: id.clone(),
        ..moved
    };
    if old.id == new.id {
        new.associations.retain(|a| a.id != association_id);
    } else {
        save(tx, scope, ids::ROUTE_TABLE, &old.id.clone(), &old)?;
    }
    new.associations.push(association);
    save(tx, scope, ids::ROUTE_TABLE, table_id, &new)?;
    Ok(id)
}

/// The destination and target of CreateRoute/ReplaceRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteSpec {
    pub destination_cidr_block: Option<String>,
    pub destination_ipv6_cidr_block: Option<String>,
    pub gateway_id: Option<String>,
    pub nat_gateway_id: Option<String>,
    pub network_interface_id: Option<String>,
    /// A prefix-list destination: DeleteRoute takes a gateway endpoint's (refused: they are
    /// the endpoint's); CreateRoute and ReplaceRoute refuse every one, as the only prefix
    /// lists here are AWS-managed, which AWS does not let route tables reference.
    pub destination_prefix_list_id: Option<String>,
}

/// The normalised destination of a route spec: (IPv4, IPv6).
fn destination(spec: &RouteSpec) -> Result<(Option<String>, Option<String>), Ec2Error> {
    match (&spec.destination_cidr_block, &spec.destination_ipv6_cidr_block) {
        (Some(v4), None) => Ok((Some(parse_cidr("destinationCidrBlock", v4)?.to_string()), None)),
        (None, Some(v6)) if is_ipv6_cidr(v6) => Ok((None, Some(v6.clone()))),
        (None, Some(v6)) => Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({v6}) for parameter destinationIpv6CidrBlock is invalid. This is not a valid IPv6 CIDR block."
        ))),
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
            "Only one of destinationCidrBlock or destinationIpv6CidrBlock may be specified.".into(),
        )),
        (None, None) => Err(Ec2Error::MissingParameter("DestinationCidrBlock".into())),
    }
}

/// CreateRoute and ReplaceRoute with a prefix-list destination: one that does not exist is
/// not found; the ones that do are AWS-managed, which no route table may reference.
fn refuse_prefix_list(scope: &Scope, spec: &RouteSpec) -> Result<(), Ec2Error> {
    let Some(pl) = spec.destination_prefix_list_id.as_deref() else {
        return Ok(());
    };
    if spec.destination_cidr_block.is_some() || spec.destination_ipv6_cidr_block.is_some() {
        return Err(Ec2Error::InvalidParameterCombination(
            "Only one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId may be specified.".into(),
        ));
    }
    super::endpoint::existing_prefix_list(&scope.region, pl)?;
    Err(Ec2Error::InvalidParameterValue(format!(
        "The prefix list {pl} is an AWS-managed prefix list, which a route table cannot reference; a gateway VPC endpoint routes it."
    )))
}

fn dest_text(dest: &(Option<String>, Option<String>)) -> String {
    dest.0
        .clone()
        .or_else(|| dest.1.clone())
        .unwrap_or_default()
}

/// The validated target of a route spec in `table`'s VPC.
fn target(
    tx: &mut dyn Tx,
    scope: &Scope,
    table: &RouteTable,
    spec: &RouteSpec,
) -> Result<RouteTarget, Ec2Error> {
    let other_network = |what: &str| {
        Ec2Error::InvalidParameterValue(format!(
            "route table {} and network gateway {what} belong to different networks",
            table.id
        ))
    };
    match (
        &spec.gateway_id,
        &spec.nat_gateway_id,
        &spec.network_interface_id,
    ) {
        (Some(gw), None, None) => {
            if gw == "local" {
                return Ok(RouteTarget::Local);
            }
            let gateway_not_found = || Ec2Error::NotFound {
                code: "InvalidGatewayID.NotFound",
                message: format!("The gateway ID '{gw}' does not exist"),
            };
            if !gw.starts_with("igw-") {
                return Err(gateway_not_found());
            }
            let igw: InternetGateway = match load(tx, scope, ids::INTERNET_GATEWAY, gw) {
                Ok(igw) => igw,
                Err(Ec2Error::NotFound { .. }) => return Err(gateway_not_found()),
                Err(e) => return Err(e),
            };
            if !igw.attachments.iter().any(|a| a.vpc_id == table.vpc_id) {
                return Err(other_network(gw));
            }
            Ok(RouteTarget::Gateway(igw.id))
        }
        (None, Some(nat_id), None) => {
            let nat: NatGateway = load(tx, scope, ids::NAT_GATEWAY, nat_id)?;
            if matches!(nat.state.as_str(), "deleted" | "deleting" | "failed") {
                return Err(ids::NAT_GATEWAY.not_found(nat_id));
            }
            if nat.vpc_id != table.vpc_id {
                return Err(other_network(nat_id));
            }
            Ok(RouteTarget::NatGateway(nat.id))
        }
        (None, None, Some(eni_id)) => {
            let eni: NetworkInterface = load(tx, scope, ids::NETWORK_INTERFACE, eni_id)?;
            if eni.vpc_id != table.vpc_id {
                return Err(other_network(eni_id));
            }
            Ok(RouteTarget::NetworkInterface(eni.id))
        }
        (None, None, None) => Err(Ec2Error::MissingParameter(
            "GatewayId, NatGatewayId or NetworkInterfaceId".into(),
        )),
        _ => Err(Ec2Error::InvalidParameterCombination(
            "Only one route target may be specified.".into(),
        )),
    }
}

fn same_destination(r: &Route, dest: &(Option<String>, Option<String>)) -> bool {
    r.destination_cidr_block == dest.0 && r.destination_ipv6_cidr_block == dest.1
}

/// CreateRoute.
pub fn create_route(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
    spec: &RouteSpec,
) -> Result<(), Ec2Error> {
    let mut table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    refuse_prefix_list(scope, spec)?;
    let dest = destination(spec)?;
    let target = target(tx, scope, &table, spec)?;
    if table.routes.iter().any(|r| same_destination(r, &dest)) {
        return Err(Ec2Error::RouteAlreadyExists(dest_text(&dest)));
    }
    if target == RouteTarget::Local {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Route target 'local' is only valid for the VPC's own CIDR in route table {table_id}"
        )));
    }
    table.routes.push(Route {
        destination_cidr_block: dest.0,
        destination_ipv6_cidr_block: dest.1,
        destination_prefix_list_id: None,
        target,
        origin: "CreateRoute".into(),
        state: "active".into(),
    });
    save(tx, scope, ids::ROUTE_TABLE, table_id, &table)
}

/// ReplaceRoute: the route must exist.
pub fn replace_route(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
    spec: &RouteSpec,
) -> Result<(), Ec2Error> {
    let mut table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    refuse_prefix_list(scope, spec)?;
    let dest = destination(spec)?;
    let target = target(tx, scope, &table, spec)?;
    let Some(route) = table.routes.iter_mut().find(|r| same_destination(r, &dest)) else {
        return Err(Ec2Error::RouteNotFound(format!(
            "There is no route defined for '{}' in the route table. Use CreateRoute instead.",
            dest_text(&dest)
        )));
    };
    if (route.target == RouteTarget::Local) != (target == RouteTarget::Local) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The local route {} cannot be replaced with a non-local target",
            dest_text(&dest)
        )));
    }
    route.target = target;
    route.state = "active".into();
    save(tx, scope, ids::ROUTE_TABLE, table_id, &table)
}

/// DeleteRoute: the local route stays.
pub fn delete_route(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
    spec: &RouteSpec,
) -> Result<(), Ec2Error> {
    let mut table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    if let Some(pl) = spec.destination_prefix_list_id.as_deref() {
        return delete_prefix_list_route(tx, scope, table, pl);
    }
    let dest = destination(spec)?;
    let Some(pos) = table.routes.iter().position(|r| same_destination(r, &dest)) else {
        return Err(Ec2Error::RouteNotFound(format!(
            "There is no route defined for '{}' in the route table.",
            dest_text(&dest)
        )));
    };
    if table.routes[pos].target == RouteTarget::Local {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "cannot remove local route {} in route table {table_id}",
            dest_text(&dest)
        )));
    }
    table.routes.remove(pos);
    save(tx, scope, ids::ROUTE_TABLE, table_id, &table)
}

/// DeleteRoute of a prefix-list route: a gateway endpoint's routes are the endpoint's to
/// manage (ModifyVpcEndpoint), as on AWS.
fn delete_prefix_list_route(
    tx: &mut dyn Tx,
    scope: &Scope,
    mut table: RouteTable,
    pl: &str,
) -> Result<(), Ec2Error> {
    ids::PREFIX_LIST.check(pl)?;
    let Some(pos) = table
        .routes
        .iter()
        .position(|r| r.destination_prefix_list_id.as_deref() == Some(pl))
    else {
        return Err(Ec2Error::RouteNotFound(format!(
            "There is no route defined for '{pl}' in the route table."
        )));
    };
    if let RouteTarget::VpcEndpoint(endpoint) = &table.routes[pos].target {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The route to {pl} in route table {} is managed by VPC endpoint {endpoint} and cannot be deleted. Use ModifyVpcEndpoint to remove the route table from the endpoint.",
            table.id
        )));
    }
    table.routes.remove(pos);
    save(tx, scope, ids::ROUTE_TABLE, &table.id.clone(), &table)
}

fn target_id(t: &RouteTarget) -> Option<&str> {
    match t {
        RouteTarget::Local => None,
        RouteTarget::Gateway(id)
        | RouteTarget::NatGateway(id)
        | RouteTarget::NetworkInterface(id)
        | RouteTarget::VpcEndpoint(id) => Some(id),
    }
}

fn set_target_state(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    target: &str,
    state: &str,
) -> Result<(), Ec2Error> {
    for mut table in list::<RouteTable>(tx, scope, ids::ROUTE_TABLE)? {
        if table.vpc_id != vpc_id {
            continue;
        }
        let mut changed = false;
        for r in &mut table.routes {
            if target_id(&r.target) == Some(target) && r.state != state {
                r.state = state.to_string();
                changed = true;
            }
        }
        if changed {
            save(tx, scope, ids::ROUTE_TABLE, &table.id.clone(), &table)?;
        }
    }
    Ok(())
}

/// Marks routes to `target` in the VPC's tables `blackhole` (the target went away).
pub fn blackhole_target(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    target: &str,
) -> Result<(), Ec2Error> {
    set_target_state(tx, scope, vpc_id, target, "blackhole")
}

/// Marks routes to `target` `active` again (a gateway was re-attached or came up).
pub fn reactivate_target(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    target: &str,
) -> Result<(), Ec2Error> {
    set_target_state(tx, scope, vpc_id, target, "active")
}

impl Filterable for RouteTable {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let assoc = self.associations.iter();
        let routes = self.routes.iter();
        let v: Vec<String> = match name {
            "route-table-id" => vec![self.id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "owner-id" => vec![self.owner_id.clone()],
            "association.route-table-association-id" => assoc.map(|a| a.id.clone()).collect(),
            "association.route-table-id" => assoc.map(|_| self.id.clone()).collect(),
            "association.subnet-id" => assoc.filter_map(|a| a.subnet_id.clone()).collect(),
            // A table with no associations is not main: AWS matches `false` only on tables
            // that have a non-main association, so do the same.
            "association.main" => assoc.map(|a| flag(a.main)).collect(),
            "route.destination-cidr-block" => routes
                .filter_map(|r| r.destination_cidr_block.clone())
                .collect(),
            "route.destination-ipv6-cidr-block" => routes
                .filter_map(|r| r.destination_ipv6_cidr_block.clone())
                .collect(),
            "route.gateway-id" => routes
                .filter_map(|r| match &r.target {
                    RouteTarget::Local => Some("local".to_string()),
                    RouteTarget::Gateway(id) | RouteTarget::VpcEndpoint(id) => Some(id.clone()),
                    _ => None,
                })
                .collect(),
            "route.nat-gateway-id" => routes
                .filter_map(|r| match &r.target {
                    RouteTarget::NatGateway(id) => Some(id.clone()),
                    _ => None,
                })
                .collect(),
            "route.network-interface-id" => routes
                .filter_map(|r| match &r.target {
                    RouteTarget::NetworkInterface(id) => Some(id.clone()),
                    _ => None,
                })
                .collect(),
            "route.origin" => routes.map(|r| r.origin.clone()).collect(),
            "route.state" => routes.map(|r| r.state.clone()).collect(),
            _ => return None,
        };
        Some(v)
    }
}

/// DescribeRouteTables.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<RouteTable>, Option<String>), Ec2Error> {
    let all = list(tx, scope, ids::ROUTE_TABLE)?;
    let selected = filter::select(all, ids::ROUTE_TABLE, ids_wanted, filters)?;
    page.apply(selected, (5, 100))
}
