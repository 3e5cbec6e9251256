//! Per-account, per-region EC2 state: the default VPC every account gets in every region
//! (created lazily and idempotently on the first EC2 call there), and the account
//! attributes tools probe.

use super::cidr::Cidr;
use super::error::Ec2Error;
use super::ids;
use super::model::{
    kind, AccountState, IgwAttachment, InternetGateway, Route, RouteTable, RouteTarget, Subnet,
};
use super::{load, save, subnet, vpc, zones};
use crate::store::{Scope, Tx, TxExt};

/// The single record id of [`AccountState`] in a scope.
const STATE_ID: &str = "state";

/// AWS's default VPC block and its per-zone /20 subnets.
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
pub const DEFAULT_SUBNET_CIDRS: [&str; 3] = ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"];

pub fn state(tx: &mut dyn Tx, scope: &Scope) -> Result<AccountState, Ec2Error> {
    Ok(tx
        .get_json(kind::ACCOUNT_STATE, scope, STATE_ID)?
        .unwrap_or_default())
}

pub(crate) fn save_state(
    tx: &mut dyn Tx,
    scope: &Scope,
    state: &AccountState,
) -> Result<(), Ec2Error> {
    tx.put_json(kind::ACCOUNT_STATE, scope, STATE_ID, state)?;
    Ok(())
}

/// Whether the scope's default VPC has been set up (cheap check before a write).
pub fn is_initialised(tx: &mut dyn Tx, scope: &Scope) -> Result<bool, Ec2Error> {
    Ok(state(tx, scope)?.default_vpc_created)
}

/// Creates the default VPC of the scope once: 172.31.0.0/16, one default subnet per zone
/// with public IPs on launch, an attached internet gateway, a main route table with
/// 0.0.0.0/0 to it, and the default security group. Later calls do nothing, also after
/// the user deleted the default VPC (AWS does not bring it back either).
pub fn ensure_default_vpc(tx: &mut dyn Tx, scope: &Scope) -> Result<(), Ec2Error> {
    let mut st = state(tx, scope)?;
    if st.default_vpc_created {
        return Ok(());
    }
    let cidr =
        Cidr::parse(DEFAULT_VPC_CIDR).ok_or_else(|| Ec2Error::VpcRange(DEFAULT_VPC_CIDR.into()))?;
    let vpc = vpc::build(tx, scope, cidr, "default", true, Vec::new())?;
    for (zone, block) in zones::zones(&scope.region).iter().zip(DEFAULT_SUBNET_CIDRS) {
        let mut s: Subnet = subnet::build(scope, &vpc.id, block, zone);
        s.default_for_az = true;
        s.map_public_ip_on_launch = true;
        save(tx, scope, ids::SUBNET, &s.id, &s)?;
    }
    let igw = InternetGateway {
        id: ids::INTERNET_GATEWAY.new_id(),
        owner_id: scope.account.clone(),
        attachments: vec![IgwAttachment {
            vpc_id: vpc.id.clone(),
            state: "available".into(),
        }],
        tags: Vec::new(),
    };
    save(tx, scope, ids::INTERNET_GATEWAY, &igw.id, &igw)?;
    let mut main: RouteTable = load(tx, scope, ids::ROUTE_TABLE, &vpc.main_route_table_id)?;
    main.routes.push(Route {
        destination_cidr_block: Some("0.0.0.0/0".into()),
        destination_ipv6_cidr_block: None,
        destination_prefix_list_id: None,
        target: RouteTarget::Gateway(igw.id.clone()),
        origin: "CreateRoute".into(),
        state: "active".into(),
    });
    save(tx, scope, ids::ROUTE_TABLE, &main.id, &main)?;
    st.default_vpc_created = true;
    st.default_vpc_id = Some(vpc.id);
    save_state(tx, scope, &st)
}

/// DescribeAccountAttributes: (name, values).
pub fn attributes(
    tx: &mut dyn Tx,
    scope: &Scope,
) -> Result<Vec<(&'static str, Vec<String>)>, Ec2Error> {
    let default_vpc = state(tx, scope)?
        .default_vpc_id
        .unwrap_or_else(|| "none".into());
    Ok(vec![
        ("supported-platforms", vec!["VPC".into()]),
        ("default-vpc", vec![default_vpc]),
        ("max-instances", vec!["20".into()]),
        (
            "vpc-max-security-groups-per-interface",
            vec![super::network_interface::MAX_GROUPS.to_string()],
        ),
        (
            "max-elastic-ips",
            vec![super::gateway::MAX_ADDRESSES.to_string()],
        ),
        (
            "vpc-max-elastic-ips",
            vec![super::gateway::MAX_ADDRESSES.to_string()],
        ),
    ])
}
