//! Read-only views of EC2 records for other domains (Lambda's VpcConfig validation and ENI
//! placement). They run inside the caller's own transaction, so a check and the write that
//! depends on it see the same state.

use super::model::{kind, SecurityGroup, Subnet, Vpc};
use crate::store::{Scope, StoreError, Tx, TxExt};

#[derive(Clone, Debug)]
pub struct VpcInfo {
    pub id: String,
    pub cidr_block: String,
    /// `default` or `dedicated`.
    pub instance_tenancy: String,
}

#[derive(Clone, Debug)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    pub availability_zone_id: String,
    pub available_ip_address_count: u32,
}

#[derive(Clone, Debug)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub vpc_id: String,
    pub name: String,
}

pub fn vpc(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<Option<VpcInfo>, StoreError> {
    Ok(tx.get_json::<Vpc>(kind::VPC, scope, id)?.map(|v| VpcInfo {
        id: v.id,
        cidr_block: v.cidr_block,
        instance_tenancy: v.instance_tenancy,
    }))
}

pub fn subnet(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<Option<SubnetInfo>, StoreError> {
    Ok(tx
        .get_json::<Subnet>(kind::SUBNET, scope, id)?
        .map(|s| SubnetInfo {
            available_ip_address_count: s.available_ip_address_count(),
            id: s.id,
            vpc_id: s.vpc_id,
            cidr_block: s.cidr_block,
            availability_zone: s.availability_zone,
            availability_zone_id: s.availability_zone_id,
        }))
}

pub fn security_group(
    tx: &mut dyn Tx,
    scope: &Scope,
    id: &str,
) -> Result<Option<SecurityGroupInfo>, StoreError> {
    Ok(tx
        .get_json::<SecurityGroup>(kind::SECURITY_GROUP, scope, id)?
        .map(|g| SecurityGroupInfo {
            id: g.id,
            vpc_id: g.vpc_id,
            name: g.name,
        }))
}
