//! VPC endpoints and the AWS-managed prefix lists behind them: the catalog of services the
//! daemon speaks (and so may be reached through an endpoint), S3's prefix list, and the
//! endpoint records. A gateway endpoint is routes to its service's prefix list in the
//! route tables it names; an interface endpoint is one requester-managed ENI per subnet
//! (made through [`network_interface::create`], as NAT gateways make theirs), its security
//! groups on them, and DNS names for them.
//!
//! Only records live here: listeners and DNS answers belong to the dataplane, which lists
//! endpoints with [`list_all`] and reports them ready with [`endpoint_available`]; the
//! policy's decision is [`super::endpoint_policy`]'s.

use std::net::Ipv4Addr;

use policy::{Policy, PolicyKind};
use serde::Serialize;

use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::gateway::AWS_OWNER;
use super::idempotency::ClientToken;
use super::ids;
use super::model::{
    DnsEntry, GroupRef, Route, RouteTable, RouteTarget, SecurityGroup, Subnet, Tag, Vpc,
    VpcEndpoint,
};
use super::network_interface::{self, EniChange, NewNetworkInterface, MAX_GROUPS};
use super::tags::{self, TagSpec};
use super::{flag, list, load, remove, save};
use crate::store::{Scope, Tx};

/// A service reachable through VPC endpoints: `com.amazonaws.<region>.<short>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    pub short: &'static str,
    pub gateway: bool,
    pub interface: bool,
}

const SERVICES: &[Service] = &[
    Service {
        short: "ec2",
        gateway: false,
        interface: true,
    },
    Service {
        short: "lambda",
        gateway: false,
        interface: true,
    },
    Service {
        short: "logs",
        gateway: false,
        interface: true,
    },
    Service {
        short: "monitoring",
        gateway: false,
        interface: true,
    },
    Service {
        short: "s3",
        gateway: true,
        interface: true,
    },
    Service {
        short: "sts",
        gateway: false,
        interface: true,
    },
];

/// The services the daemon speaks, in name order.
pub fn services() -> &'static [Service] {
    SERVICES
}

/// `com.amazonaws.<region>.<short>`.
pub fn service_name(region: &str, short: &str) -> String {
    format!("com.amazonaws.{region}.{short}")
}

/// The service `service_name` names in `region`, if the daemon speaks it.
pub fn service_of(region: &str, service_name: &str) -> Option<&'static Service> {
    let short = service_name
        .strip_prefix("com.amazonaws.")?
        .strip_prefix(region)?
        .strip_prefix('.')?;
    SERVICES.iter().find(|s| s.short == short)
}

/// The service of a request, or AWS's `InvalidServiceName`.
fn resolve_service(region: &str, name: &str) -> Result<&'static Service, Ec2Error> {
    if let Some(s) = service_of(region, name) {
        return Ok(s);
    }
    if name == service_name(region, "dynamodb") {
        return Err(Ec2Error::InvalidServiceName(format!(
            "The Vpc Endpoint Service '{name}' is not available here: vpclambda does not serve DynamoDB"
        )));
    }
    Err(Ec2Error::InvalidServiceName(format!(
        "The Vpc Endpoint Service '{name}' does not exist"
    )))
}

/// The public names of a service, which private DNS answers with an interface endpoint's
/// addresses inside its VPC.
pub fn private_dns_names(region: &str, short: &str) -> Vec<String> {
    let mut names = vec![format!("{short}.{region}.amazonaws.com")];
    if short == "s3" {
        names.push(format!("*.s3.{region}.amazonaws.com"));
    }
    names
}

/// Where the daemon serves S3 on the simulated internet: the one address of S3's prefix list.
pub const S3_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 101);

/// The endpoint policy of an endpoint created without one.
pub const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// Entries an AWS-managed prefix list may hold (what DescribeManagedPrefixLists reports).
pub const PREFIX_LIST_MAX_ENTRIES: u32 = 1;

/// An AWS-managed prefix list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixList {
    pub id: String,
    pub name: String,
    pub cidrs: Vec<String>,
}

/// FNV-1a: a stable hash for ids and hosted zone ids derived from names.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The AWS-managed prefix lists of `region`: S3's (AWS's own id in us-east-1, one derived
/// from the region's name elsewhere).
pub fn prefix_lists(region: &str) -> Vec<PrefixList> {
    let id = if region == "us-east-1" {
        "pl-63a5400a".to_string()
    } else {
        format!("pl-{:08x}", stable_hash(region) as u32)
    };
    vec![PrefixList {
        id,
        name: service_name(region, "s3"),
        cidrs: vec![format!("{S3_ADDRESS}/32")],
    }]
}

/// The prefix list `id` of `region`.
pub fn prefix_list(region: &str, id: &str) -> Option<PrefixList> {
    prefix_lists(region).into_iter().find(|p| p.id == id)
}

/// The prefix list `id` of `region`, or AWS's Malformed/NotFound error.
pub(crate) fn existing_prefix_list(region: &str, id: &str) -> Result<PrefixList, Ec2Error> {
    ids::PREFIX_LIST.check(id)?;
    prefix_list(region, id).ok_or_else(|| ids::PREFIX_LIST.not_found(id))
}

/// The prefix list of a gateway endpoint's service.
fn prefix_list_of(region: &str, short: &str) -> Result<PrefixList, Ec2Error> {
    let name = service_name(region, short);
    prefix_lists(region)
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Ec2Error::InvalidServiceName(format!("{name} has no prefix list")))
}

impl Filterable for PrefixList {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "prefix-list-id" => self.id.clone(),
            "prefix-list-name" => self.name.clone(),
            "owner-id" => "AWS".to_string(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribePrefixLists and DescribeManagedPrefixLists (AWS-managed lists only).
pub fn describe_prefix_lists(
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
    bounds: (i64, i64),
) -> Result<(Vec<PrefixList>, Option<String>), Ec2Error> {
    let selected = filter::select(
        prefix_lists(&scope.region),
        ids::PREFIX_LIST,
        ids_wanted,
        filters,
    )?;
    page.apply(selected, bounds)
}

/// A service as DescribeVpcEndpointServices filters it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceView {
    pub name: String,
    pub service: &'static Service,
}

impl ServiceView {
    /// `Gateway`, `Interface`, or both, as the service offers them.
    pub fn types(&self) -> Vec<&'static str> {
        let mut t = Vec::new();
        if self.service.interface {
            t.push("Interface");
        }
        if self.service.gateway {
            t.push("Gateway");
        }
        t
    }
}

impl Filterable for ServiceView {
    fn id(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "service-name" => Some(vec![self.name.clone()]),
            "service-type" => Some(self.types().into_iter().map(String::from).collect()),
            "owner" => Some(vec!["amazon".into()]),
            _ => None,
        }
    }
}

/// DescribeVpcEndpointServices: the services of `region`, each name asked for must exist.
pub fn describe_services(
    scope: &Scope,
    names: &[String],
    filters: &[Filter],
) -> Result<Vec<ServiceView>, Ec2Error> {
    for name in names {
        resolve_service(&scope.region, name)?;
    }
    let all = SERVICES
        .iter()
        .map(|s| ServiceView {
            name: service_name(&scope.region, s.short),
            service: s,
        })
        .filter(|v| names.is_empty() || names.contains(&v.name))
        .collect();
    filter::retain(all, filters)
}

/// CreateVpcEndpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewVpcEndpoint {
    /// `Gateway` when absent.
    pub endpoint_type: Option<String>,
    pub vpc_id: Option<String>,
    pub service_name: Option<String>,
    pub policy_document: Option<String>,
    pub route_table_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// Interface endpoints: `true` when absent.
    pub private_dns_enabled: Option<bool>,
    pub tag_specs: Vec<TagSpec>,
}

const GATEWAY: &str = "Gateway";
const INTERFACE: &str = "Interface";

fn subnets_refused() -> Ec2Error {
    Ec2Error::InvalidParameter(
        "Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints."
            .into(),
    )
}

fn groups_refused() -> Ec2Error {
    Ec2Error::InvalidParameter(
        "Security group IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints."
            .into(),
    )
}

fn route_tables_refused() -> Ec2Error {
    Ec2Error::InvalidParameter(
        "Route table IDs are only supported for Gateway type VPC Endpoint.".into(),
    )
}

fn private_dns_refused() -> Ec2Error {
    Ec2Error::InvalidParameter(
        "Private DNS can only be enabled for Interface type VPC Endpoints.".into(),
    )
}

/// A policy document checked as IAM checks a resource-based policy.
fn checked_policy(doc: &str) -> Result<String, Ec2Error> {
    Policy::parse(doc, PolicyKind::Resource)
        .map_err(|e| Ec2Error::InvalidPolicyDocument(e.to_string()))?;
    Ok(doc.to_string())
}

/// Private DNS needs both DNS attributes of the VPC.
fn check_private_dns(vpc: &Vpc) -> Result<(), Ec2Error> {
    if vpc.enable_dns_support && vpc.enable_dns_hostnames {
        Ok(())
    } else {
        Err(Ec2Error::InvalidParameter(format!(
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {}",
            vpc.id
        )))
    }
}

/// The ids in order, each once.
fn unique(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// 8 random lowercase letters and digits: the part of an endpoint's DNS names after its id.
fn random_label() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 8];
    // As for ids: a time-seeded fallback beats failing the request.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A stable Route 53-style hosted zone id for `name`.
fn hosted_zone_id(name: &str) -> String {
    format!("Z{:013X}", stable_hash(name) & 0x000f_ffff_ffff_ffff)
}

/// The short service name of an endpoint (`s3` of `com.amazonaws.us-east-1.s3`).
fn short_of(e: &VpcEndpoint) -> &str {
    e.service_name.rsplit('.').next().unwrap_or_default()
}

/// The label shared by an endpoint's names: `<vpce-id>-<8 random>`.
fn label_of(e: &VpcEndpoint) -> Option<String> {
    e.dns_entries
        .first()
        .and_then(|d| d.dns_name.split('.').next())
        .map(str::to_string)
}

/// An interface endpoint's DNS entries: regional, one zonal per subnet, then the private
/// names when enabled.
fn dns_entries(scope: &Scope, e: &VpcEndpoint, label: &str, zones: &[String]) -> Vec<DnsEntry> {
    let region = &scope.region;
    let short = short_of(e);
    let base = format!("{short}.{region}.vpce.amazonaws.com");
    let vpce_zone = hosted_zone_id(&format!("vpce.{region}"));
    let mut out = vec![DnsEntry {
        dns_name: format!("{label}.{base}"),
        hosted_zone_id: vpce_zone.clone(),
    }];
    out.extend(zones.iter().map(|az| DnsEntry {
        dns_name: format!("{label}-{az}.{base}"),
        hosted_zone_id: vpce_zone.clone(),
    }));
    if e.private_dns_enabled {
        let private_zone = hosted_zone_id(&format!("{}.{short}", e.vpc_id));
        out.extend(
            private_dns_names(region, short)
                .into_iter()
                .map(|n| DnsEntry {
                    dns_name: n,
                    hosted_zone_id: private_zone.clone(),
                }),
        );
    }
    out
}

/// Recomputes an interface endpoint's DNS entries from its subnets, keeping its label.
fn refresh_dns(tx: &mut dyn Tx, scope: &Scope, e: &mut VpcEndpoint) -> Result<(), Ec2Error> {
    let label = label_of(e).unwrap_or_else(|| format!("{}-{}", e.id, random_label()));
    let mut zones = Vec::new();
    for id in &e.subnet_ids {
        let s: Subnet = load(tx, scope, ids::SUBNET, id)?;
        zones.push(s.availability_zone);
    }
    e.dns_entries = dns_entries(scope, e, &label, &zones);
    Ok(())
}

/// The security groups named, validated against the endpoint's VPC.
fn resolve_groups(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc: &Vpc,
    wanted: &[String],
) -> Result<Vec<GroupRef>, Ec2Error> {
    let mut out = Vec::new();
    for id in unique(wanted) {
        let g: SecurityGroup = load(tx, scope, ids::SECURITY_GROUP, &id)?;
        if g.vpc_id != vpc.id {
            return Err(Ec2Error::InvalidParameter(format!(
                "Security group {id} and VPC {} belong to different networks.",
                vpc.id
            )));
        }
        out.push(GroupRef {
            id: g.id,
            name: g.name,
        });
    }
    if out.len() > MAX_GROUPS {
        return Err(Ec2Error::SecurityGroupsPerInterfaceLimitExceeded);
    }
    Ok(out)
}

/// A subnet of the endpoint's VPC.
fn subnet_in(tx: &mut dyn Tx, scope: &Scope, vpc: &Vpc, id: &str) -> Result<Subnet, Ec2Error> {
    let s: Subnet = load(tx, scope, ids::SUBNET, id)?;
    if s.vpc_id != vpc.id {
        return Err(Ec2Error::InvalidParameter(format!(
            "The subnet ID '{id}' does not belong to VPC '{}'",
            vpc.id
        )));
    }
    Ok(s)
}

/// Adds the endpoint's ENI in `subnet` (its AZ must be new to the endpoint).
fn add_subnet(
    tx: &mut dyn Tx,
    scope: &Scope,
    e: &mut VpcEndpoint,
    subnet: &Subnet,
    zones: &mut Vec<String>,
) -> Result<(), Ec2Error> {
    if zones.contains(&subnet.availability_zone) {
        return Err(Ec2Error::DuplicateSubnetsInSameZone(subnet.id.clone()));
    }
    let eni = network_interface::create(
        tx,
        scope,
        &NewNetworkInterface {
            subnet_id: Some(subnet.id.clone()),
            security_groups: Some(e.groups.iter().map(|g| g.id.clone()).collect()),
            description: Some(format!("VPC Endpoint Interface {}", e.id)),
            interface_type: Some("vpc_endpoint".into()),
            requester_id: Some(AWS_OWNER.into()),
            requester_managed: true,
            ..NewNetworkInterface::default()
        },
        None,
    )?;
    zones.push(subnet.availability_zone.clone());
    e.subnet_ids.push(subnet.id.clone());
    e.network_interface_ids.push(eni.id);
    Ok(())
}

/// A route table of the endpoint's VPC.
fn table_in(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc_id: &str,
    id: &str,
) -> Result<RouteTable, Ec2Error> {
    let t: RouteTable = load(tx, scope, ids::ROUTE_TABLE, id)?;
    if t.vpc_id != vpc_id {
        return Err(Ec2Error::InvalidParameter(format!(
            "Route table {id} and VPC {vpc_id} belong to different networks."
        )));
    }
    Ok(t)
}

/// Adds the endpoint's prefix-list route to `table`: one endpoint route per prefix list.
fn add_route(
    tx: &mut dyn Tx,
    scope: &Scope,
    mut table: RouteTable,
    endpoint_id: &str,
    pl: &str,
) -> Result<(), Ec2Error> {
    if table
        .routes
        .iter()
        .any(|r| r.destination_prefix_list_id.as_deref() == Some(pl))
    {
        return Err(Ec2Error::RouteAlreadyExists(format!(
            "{pl} in route table {}",
            table.id
        )));
    }
    table.routes.push(Route {
        destination_cidr_block: None,
        destination_ipv6_cidr_block: None,
        destination_prefix_list_id: Some(pl.to_string()),
        target: RouteTarget::VpcEndpoint(endpoint_id.to_string()),
        origin: "CreateRoute".into(),
        state: "active".into(),
    });
    save(tx, scope, ids::ROUTE_TABLE, &table.id.clone(), &table)
}

/// Removes the routes to `endpoint_id` from `table` (if it has any).
fn drop_routes(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
    endpoint_id: &str,
) -> Result<(), Ec2Error> {
    let mut table: RouteTable = load(tx, scope, ids::ROUTE_TABLE, table_id)?;
    let before = table.routes.len();
    table
        .routes
        .retain(|r| r.target != RouteTarget::VpcEndpoint(endpoint_id.to_string()));
    if table.routes.len() != before {
        save(tx, scope, ids::ROUTE_TABLE, table_id, &table)?;
    }
    Ok(())
}

/// CreateVpcEndpoint: the endpoint starts `pending`; [`endpoint_available`] moves it on
/// once the dataplane serves it.
pub fn create(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &NewVpcEndpoint,
    token: Option<&ClientToken>,
) -> Result<VpcEndpoint, Ec2Error> {
    if let Some(t) = token {
        if let Some(id) = t.recall(tx, scope)? {
            if let Ok(e) = load::<VpcEndpoint>(tx, scope, ids::VPC_ENDPOINT, &id) {
                return Ok(e);
            }
        }
    }
    let vpc_id = req
        .vpc_id
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("VpcId".into()))?;
    let name = req
        .service_name
        .as_deref()
        .ok_or_else(|| Ec2Error::MissingParameter("ServiceName".into()))?;
    let vpc: Vpc = load(tx, scope, ids::VPC, vpc_id)?;
    let endpoint_type = req.endpoint_type.as_deref().unwrap_or(GATEWAY);
    if endpoint_type != GATEWAY && endpoint_type != INTERFACE {
        return Err(Ec2Error::invalid_value("VpcEndpointType", endpoint_type));
    }
    let service = resolve_service(&scope.region, name)?;
    let offered = |gateway: bool| if gateway { GATEWAY } else { INTERFACE };
    if (endpoint_type == GATEWAY && !service.gateway)
        || (endpoint_type == INTERFACE && !service.interface)
    {
        return Err(Ec2Error::InvalidParameter(format!(
            "Endpoint type ({endpoint_type}) does not match available service types ([{}]).",
            offered(service.gateway)
        )));
    }
    let policy_document = match req.policy_document.as_deref() {
        Some(doc) => checked_policy(doc)?,
        None => FULL_ACCESS_POLICY.to_string(),
    };
    let tags = tags::for_new(&req.tag_specs, ids::VPC_ENDPOINT)?;
    let mut e = VpcEndpoint {
        id: ids::VPC_ENDPOINT.new_id(),
        owner_id: scope.account.clone(),
        vpc_id: vpc.id.clone(),
        service_name: name.to_string(),
        endpoint_type: endpoint_type.to_string(),
        state: "pending".into(),
        policy_document,
        route_table_ids: Vec::new(),
        subnet_ids: Vec::new(),
        network_interface_ids: Vec::new(),
        groups: Vec::new(),
        private_dns_enabled: false,
        dns_entries: Vec::new(),
        creation_timestamp: ids::now(),
        tags,
        deleted_at: None,
    };
    if endpoint_type == GATEWAY {
        if !req.subnet_ids.is_empty() {
            return Err(subnets_refused());
        }
        if !req.security_group_ids.is_empty() {
            return Err(groups_refused());
        }
        if req.private_dns_enabled == Some(true) {
            return Err(private_dns_refused());
        }
        let pl = prefix_list_of(&scope.region, service.short)?;
        for id in unique(&req.route_table_ids) {
            let table = table_in(tx, scope, &vpc.id, &id)?;
            add_route(tx, scope, table, &e.id, &pl.id)?;
            e.route_table_ids.push(id);
        }
    } else {
        if !req.route_table_ids.is_empty() {
            return Err(route_tables_refused());
        }
        e.private_dns_enabled = req.private_dns_enabled.unwrap_or(true);
        if e.private_dns_enabled {
            check_private_dns(&vpc)?;
        }
        let groups = if req.security_group_ids.is_empty() {
            vec![vpc.default_security_group_id.clone()]
        } else {
            req.security_group_ids.clone()
        };
        e.groups = resolve_groups(tx, scope, &vpc, &groups)?;
        let mut subnets = Vec::new();
        for id in unique(&req.subnet_ids) {
            subnets.push(subnet_in(tx, scope, &vpc, &id)?);
        }
        let mut zones = Vec::new();
        for s in &subnets {
            if zones.contains(&s.availability_zone) {
                return Err(Ec2Error::DuplicateSubnetsInSameZone(s.id.clone()));
            }
            zones.push(s.availability_zone.clone());
        }
        zones.clear();
        for s in &subnets {
            add_subnet(tx, scope, &mut e, s, &mut zones)?;
        }
        let label = format!("{}-{}", e.id, random_label());
        e.dns_entries = dns_entries(scope, &e, &label, &zones);
    }
    save(tx, scope, ids::VPC_ENDPOINT, &e.id, &e)?;
    if let Some(t) = token {
        t.remember(tx, scope, &e.id)?;
    }
    Ok(e)
}

/// ModifyVpcEndpoint: what one call changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointChange {
    pub reset_policy: bool,
    pub policy_document: Option<String>,
    pub add_route_table_ids: Vec<String>,
    pub remove_route_table_ids: Vec<String>,
    pub add_subnet_ids: Vec<String>,
    pub remove_subnet_ids: Vec<String>,
    pub add_security_group_ids: Vec<String>,
    pub remove_security_group_ids: Vec<String>,
    pub private_dns_enabled: Option<bool>,
}

/// ModifyVpcEndpoint: all changes or none.
pub fn modify(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
    change: &EndpointChange,
) -> Result<VpcEndpoint, Ec2Error> {
    let mut e = live(tx, scope, id)?;
    let vpc: Vpc = load(tx, scope, ids::VPC, &e.vpc_id)?;
    let gateway = e.endpoint_type == GATEWAY;
    if change.reset_policy && change.policy_document.is_some() {
        return Err(Ec2Error::InvalidParameterCombination(
            "ResetPolicy and PolicyDocument cannot both be specified.".into(),
        ));
    }
    if change.reset_policy {
        e.policy_document = FULL_ACCESS_POLICY.to_string();
    }
    if let Some(doc) = change.policy_document.as_deref() {
        e.policy_document = checked_policy(doc)?;
    }
    let routes_changed =
        !change.add_route_table_ids.is_empty() || !change.remove_route_table_ids.is_empty();
    let subnets_changed = !change.add_subnet_ids.is_empty() || !change.remove_subnet_ids.is_empty();
    let groups_changed =
        !change.add_security_group_ids.is_empty() || !change.remove_security_group_ids.is_empty();
    if gateway {
        if subnets_changed {
            return Err(subnets_refused());
        }
        if groups_changed {
            return Err(groups_refused());
        }
        if change.private_dns_enabled == Some(true) {
            return Err(private_dns_refused());
        }
    } else if routes_changed {
        return Err(route_tables_refused());
    }
    if gateway && routes_changed {
        let short = short_of(&e).to_string();
        let pl = prefix_list_of(&scope.region, &short)?;
        for table_id in unique(&change.remove_route_table_ids) {
            table_in(tx, scope, &e.vpc_id, &table_id)?;
            if e.route_table_ids.contains(&table_id) {
                drop_routes(tx, scope, &table_id, &e.id)?;
                e.route_table_ids.retain(|t| *t != table_id);
            }
        }
        for table_id in unique(&change.add_route_table_ids) {
            let table = table_in(tx, scope, &e.vpc_id, &table_id)?;
            if !e.route_table_ids.contains(&table_id) {
                add_route(tx, scope, table, &e.id, &pl.id)?;
                e.route_table_ids.push(table_id);
            }
        }
    }
    if groups_changed {
        let mut wanted: Vec<String> = e
            .groups
            .iter()
            .map(|g| g.id.clone())
            .filter(|g| !change.remove_security_group_ids.contains(g))
            .collect();
        wanted.extend(change.add_security_group_ids.iter().cloned());
        if wanted.is_empty() {
            return Err(Ec2Error::InvalidParameter(format!(
                "The VPC endpoint {} must keep at least one security group.",
                e.id
            )));
        }
        e.groups = resolve_groups(tx, scope, &vpc, &wanted)?;
        let group_ids: Vec<String> = e.groups.iter().map(|g| g.id.clone()).collect();
        for eni in &e.network_interface_ids {
            network_interface::modify(
                tx,
                scope,
                eni,
                &EniChange::SecurityGroups(group_ids.clone()),
            )?;
        }
    }
    if subnets_changed {
        for subnet_id in unique(&change.remove_subnet_ids) {
            ids::SUBNET.check(&subnet_id)?;
            let Some(pos) = e.subnet_ids.iter().position(|s| *s == subnet_id) else {
                return Err(Ec2Error::InvalidParameter(format!(
                    "The subnet ID '{subnet_id}' is not associated with VPC endpoint {}",
                    e.id
                )));
            };
            let eni = e.network_interface_ids.remove(pos);
            e.subnet_ids.remove(pos);
            network_interface::delete_managed(tx, scope, &eni)?;
        }
        let mut zones = Vec::new();
        for s in &e.subnet_ids {
            let subnet: Subnet = load(tx, scope, ids::SUBNET, s)?;
            zones.push(subnet.availability_zone);
        }
        for subnet_id in unique(&change.add_subnet_ids) {
            if e.subnet_ids.contains(&subnet_id) {
                continue;
            }
            let subnet = subnet_in(tx, scope, &vpc, &subnet_id)?;
            add_subnet(tx, scope, &mut e, &subnet, &mut zones)?;
        }
    }
    if let Some(enabled) = change.private_dns_enabled {
        if enabled {
            check_private_dns(&vpc)?;
        }
        e.private_dns_enabled = enabled;
    }
    if !gateway {
        refresh_dns(tx, scope, &mut e)?;
    }
    save(tx, scope, ids::VPC_ENDPOINT, &e.id, &e)?;
    Ok(e)
}

/// One endpoint DeleteVpcEndpoints could not delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsuccessful {
    pub resource_id: String,
    pub code: String,
    pub message: String,
}

/// DeleteVpcEndpoints: each endpoint's routes and ENIs go with it and it is `deleted`, shown
/// so by DescribeVpcEndpoints for [`DELETED_SHOWN_SECS`] and by nothing else; ids that do
/// not exist (or are deleted already) are reported back, as AWS does, and the others are
/// deleted.
pub fn delete(
    tx: &mut dyn Tx,
    scope: &Scope,
    endpoint_ids: &[String],
) -> Result<Vec<Unsuccessful>, Ec2Error> {
    if endpoint_ids.is_empty() {
        return Err(Ec2Error::MissingParameter("VpcEndpointId".into()));
    }
    let mut failed = Vec::new();
    for id in unique(endpoint_ids) {
        ids::VPC_ENDPOINT.check(&id)?;
        let mut e = match live(tx, scope, &id) {
            Ok(e) => e,
            Err(Ec2Error::NotFound { message, .. }) => {
                failed.push(Unsuccessful {
                    resource_id: id.clone(),
                    code: "InvalidVpcEndpoint.NotFound".into(),
                    message,
                });
                continue;
            }
            Err(other) => return Err(other),
        };
        for table_id in &e.route_table_ids {
            drop_routes(tx, scope, table_id, &e.id)?;
        }
        for eni in &e.network_interface_ids {
            network_interface::delete_managed(tx, scope, eni)?;
        }
        let now = chrono::Utc::now().timestamp();
        e.state = "deleted".into();
        e.deleted_at = Some(now);
        e.route_table_ids.clear();
        e.network_interface_ids.clear();
        e.dns_entries.clear();
        save(tx, scope, ids::VPC_ENDPOINT, &e.id.clone(), &e)?;
    }
    forget_deleted(tx, scope, chrono::Utc::now().timestamp())?;
    Ok(failed)
}

/// How long a deleted endpoint stays visible to DescribeVpcEndpoints.
pub const DELETED_SHOWN_SECS: i64 = 600;

fn shown(e: &VpcEndpoint, now: i64) -> bool {
    e.deleted_at.is_none_or(|at| now - at < DELETED_SHOWN_SECS)
}

/// Removes the records of endpoints deleted longer ago than they are shown.
pub(crate) fn forget_deleted(tx: &mut dyn Tx, scope: &Scope, now: i64) -> Result<(), Ec2Error> {
    let all: Vec<VpcEndpoint> = list(tx, scope, ids::VPC_ENDPOINT)?;
    for e in all.iter().filter(|e| !shown(e, now)) {
        remove(tx, scope, ids::VPC_ENDPOINT, &e.id)?;
    }
    Ok(())
}

/// An endpoint that is not deleted; a deleted one is not found, as on EC2.
fn live(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<VpcEndpoint, Ec2Error> {
    let e: VpcEndpoint = load(tx, scope, ids::VPC_ENDPOINT, id)?;
    if e.deleted_at.is_some() {
        return Err(ids::VPC_ENDPOINT.not_found(id));
    }
    Ok(e)
}

impl Filterable for VpcEndpoint {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "service-name" => self.service_name.clone(),
            "vpc-id" => self.vpc_id.clone(),
            "vpc-endpoint-id" => self.id.clone(),
            "vpc-endpoint-state" => self.state.clone(),
            "vpc-endpoint-type" => self.endpoint_type.clone(),
            "ip-address-type" => "ipv4".into(),
            "private-dns-enabled" => flag(self.private_dns_enabled),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeVpcEndpoints.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    ids_wanted: &[String],
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<VpcEndpoint>, Option<String>), Ec2Error> {
    let now = chrono::Utc::now().timestamp();
    let all: Vec<VpcEndpoint> = list(tx, scope, ids::VPC_ENDPOINT)?;
    let all = all.into_iter().filter(|e| shown(e, now)).collect();
    let selected = filter::select(all, ids::VPC_ENDPOINT, ids_wanted, filters)?;
    page.apply(selected, (5, 1000))
}

/// `pending` → `available`: the dataplane calls this once it serves the endpoint.
pub fn endpoint_available(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<VpcEndpoint, Ec2Error> {
    let mut e = live(tx, scope, id)?;
    if e.state == "pending" {
        e.state = "available".into();
        save(tx, scope, ids::VPC_ENDPOINT, id, &e)?;
    }
    Ok(e)
}

/// Every endpoint of the scope that is not deleted, in id order.
pub fn list_all(tx: &mut dyn Tx, scope: &Scope) -> Result<Vec<VpcEndpoint>, Ec2Error> {
    let all: Vec<VpcEndpoint> = list(tx, scope, ids::VPC_ENDPOINT)?;
    Ok(all.into_iter().filter(|e| e.deleted_at.is_none()).collect())
}

/// Whether any endpoint lives in `vpc_id` (DeleteVpc refuses then).
pub(crate) fn any_in_vpc(tx: &mut dyn Tx, scope: &Scope, vpc_id: &str) -> Result<bool, Ec2Error> {
    Ok(list_all(tx, scope)?.iter().any(|e| e.vpc_id == vpc_id))
}

/// A deleted route table leaves the endpoints that routed through it.
pub(crate) fn forget_route_table(
    tx: &mut dyn Tx,
    scope: &Scope,
    table_id: &str,
) -> Result<(), Ec2Error> {
    for mut e in list_all(tx, scope)? {
        if e.route_table_ids.iter().any(|t| t == table_id) {
            e.route_table_ids.retain(|t| t != table_id);
            save(tx, scope, ids::VPC_ENDPOINT, &e.id.clone(), &e)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_and_names() {
        assert_eq!(
            service_of("us-east-1", "com.amazonaws.us-east-1.s3").map(|s| s.gateway),
            Some(true)
        );
        assert_eq!(service_of("us-east-1", "com.amazonaws.eu-west-1.s3"), None);
        assert_eq!(
            service_of("us-east-1", "com.amazonaws.us-east-1.dynamodb"),
            None
        );
        assert!(services().iter().all(|s| s.interface));
        assert_eq!(
            private_dns_names("eu-west-1", "s3"),
            ["s3.eu-west-1.amazonaws.com", "*.s3.eu-west-1.amazonaws.com"]
        );
        assert_eq!(
            private_dns_names("us-east-1", "sts"),
            ["sts.us-east-1.amazonaws.com"]
        );
        let err = resolve_service("us-east-1", "com.amazonaws.us-east-1.dynamodb").unwrap_err();
        assert_eq!(err.code(), "InvalidServiceName");
        assert!(err.to_string().contains("does not serve DynamoDB"));
        assert_eq!(
            resolve_service("us-east-1", "com.amazonaws.us-east-1.sqs")
                .unwrap_err()
                .to_string(),
            "The Vpc Endpoint Service 'com.amazonaws.us-east-1.sqs' does not exist"
        );
    }

    #[test]
    fn prefix_list_ids_are_stable() {
        let us = prefix_lists("us-east-1");
        assert_eq!(us[0].id, "pl-63a5400a");
        assert_eq!(us[0].name, "com.amazonaws.us-east-1.s3");
        assert_eq!(us[0].cidrs, ["203.0.113.101/32"]);
        let eu = prefix_lists("eu-west-1");
        assert_eq!(eu, prefix_lists("eu-west-1"));
        assert_ne!(eu[0].id, us[0].id);
        assert!(ids::PREFIX_LIST.check(&eu[0].id).is_ok());
        assert_eq!(prefix_list("eu-west-1", &eu[0].id), Some(eu[0].clone()));
        assert_eq!(prefix_list("eu-west-1", "pl-63a5400a"), None);
    }

    #[test]
    fn labels_and_zones() {
        let l = random_label();
        assert_eq!(l.len(), 8);
        assert!(l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let z = hosted_zone_id("vpce.us-east-1");
        assert_eq!(z, hosted_zone_id("vpce.us-east-1"));
        assert!(z.starts_with('Z') && z.len() == 14);
    }

    #[test]
    fn the_default_policy_is_a_valid_resource_policy() {
        assert!(checked_policy(FULL_ACCESS_POLICY).is_ok());
        assert_eq!(
            checked_policy("{").unwrap_err().code(),
            "InvalidPolicyDocument"
        );
    }
}
