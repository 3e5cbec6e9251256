//! What the console shows of one account, read in one store snapshot: the account's EC2
//! records, its functions, and which ENIs serve which function. Only records of the
//! session's scope are ever read, so a page cannot show another account's.

use std::collections::{BTreeMap, BTreeSet};

use control::ec2::model::{
    kind as ec2_kind, InternetGateway, NatGateway, NetworkInterface, RouteTable, RouteTarget,
    SecurityGroup, Subnet, Vpc,
};
use control::eni::hyperplane::{SharedEni, SHARED_ENI};
use control::eni::LEGACY_ENI;
use control::lambda::{kind as lambda_kind, Function};
use control::{Scope, StoreError, Tx, TxExt};

pub struct Snapshot {
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub enis: Vec<NetworkInterface>,
    pub route_tables: Vec<RouteTable>,
    pub gateways: Vec<InternetGateway>,
    pub nat_gateways: Vec<NatGateway>,
    pub groups: Vec<SecurityGroup>,
    pub functions: Vec<Function>,
    /// ENI id → the functions using it (Lambda's ENIs, either ENI mode).
    pub eni_users: BTreeMap<String, BTreeSet<String>>,
}

pub fn load(tx: &mut dyn Tx, scope: &Scope) -> Result<Snapshot, StoreError> {
    let mut eni_users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for kind in [LEGACY_ENI, SHARED_ENI] {
        for e in tx.list_json::<SharedEni>(kind, scope, "")? {
            eni_users.entry(e.eni_id).or_default().extend(e.users);
        }
    }
    Ok(Snapshot {
        vpcs: tx.list_json(ec2_kind::VPC, scope, "")?,
        subnets: tx.list_json(ec2_kind::SUBNET, scope, "")?,
        enis: tx.list_json(ec2_kind::NETWORK_INTERFACE, scope, "")?,
        route_tables: tx.list_json(ec2_kind::ROUTE_TABLE, scope, "")?,
        gateways: tx.list_json(ec2_kind::INTERNET_GATEWAY, scope, "")?,
        nat_gateways: tx.list_json(ec2_kind::NAT_GATEWAY, scope, "")?,
        groups: tx.list_json(ec2_kind::SECURITY_GROUP, scope, "")?,
        functions: tx.list_json(lambda_kind::FUNCTION, scope, "")?,
        eni_users,
    })
}

impl Snapshot {
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.latest.function_name == name)
    }

    pub fn subnets_of<'a>(&'a self, vpc: &'a str) -> impl Iterator<Item = &'a Subnet> + 'a {
        self.subnets.iter().filter(move |s| s.vpc_id == vpc)
    }

    pub fn enis_in<'a>(&'a self, subnet: &'a str) -> impl Iterator<Item = &'a NetworkInterface> {
        self.enis.iter().filter(move |e| e.subnet_id == subnet)
    }

    pub fn eni(&self, id: &str) -> Option<&NetworkInterface> {
        self.enis.iter().find(|e| e.id == id)
    }

    /// The route table a subnet uses: its own association, else its VPC's main table.
    pub fn route_table_of(&self, subnet: &Subnet) -> Option<&RouteTable> {
        let in_vpc = || {
            self.route_tables
                .iter()
                .filter(|t| t.vpc_id == subnet.vpc_id)
        };
        in_vpc()
            .find(|t| {
                t.associations
                    .iter()
                    .any(|a| a.subnet_id.as_deref() == Some(subnet.id.as_str()))
            })
            .or_else(|| in_vpc().find(|t| t.associations.iter().any(|a| a.main)))
    }

    /// The internet gateways attached to `vpc`.
    pub fn gateways_of(&self, vpc: &str) -> Vec<&InternetGateway> {
        self.gateways
            .iter()
            .filter(|g| g.attachments.iter().any(|a| a.vpc_id == vpc))
            .collect()
    }

    /// The functions an ENI serves (empty for other ENIs).
    pub fn users_of(&self, eni: &str) -> Vec<&str> {
        self.eni_users
            .get(eni)
            .map(|u| u.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// "sg-1 (name), sg-2 (name)" for an ENI's groups.
    pub fn group_names(&self, ids: impl IntoIterator<Item = String>) -> String {
        ids.into_iter()
            .map(|id| match self.groups.iter().find(|g| g.id == id) {
                Some(g) => format!("{id} ({})", g.name),
                None => id,
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The Availability Zones the account's subnets are in.
    pub fn zones(&self) -> BTreeSet<&str> {
        self.subnets
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect()
    }
}

/// A route's target as EC2 names it.
pub fn target_name(target: &RouteTarget) -> &str {
    match target {
        RouteTarget::Local => "local",
        RouteTarget::Gateway(id)
        | RouteTarget::NatGateway(id)
        | RouteTarget::NetworkInterface(id)
        | RouteTarget::VpcEndpoint(id) => id,
    }
}
