//! EC2's VPC subset as records: VPCs, subnets, security groups, network interfaces, gateways,
//! route tables, VPC endpoints and prefix lists, addresses, tags, and the IP allocation that ties ENIs to subnets.
//!
//! Every operation is a function over one store transaction (`&mut dyn Tx`) and the caller's
//! [`Scope`]; validation, allocation and the records it touches commit or roll back together.
//! This module knows nothing of the wire: the binary's `services::ec2` decodes requests into
//! the request structs here and renders the records back. Kernel objects are a later layer
//! that reads these records; nothing here touches the host.
//!
//! Other domains read through [`lookup`] inside their own transactions, make and remove the
//! ENIs they own with [`network_interface::create`], [`network_interface::detach_managed`]
//! and [`network_interface::delete_managed`] (the same path as CreateNetworkInterface), and
//! may call [`account::ensure_default_vpc`]. The dataplane reads the [`model`] records and
//! moves NAT gateways through their states with [`gateway::nat_gateway_available`],
//! [`gateway::nat_gateway_failed`] and [`gateway::nat_gateway_deleted`], lists VPC endpoints
//! with [`endpoint::list_all`] and marks them ready with [`endpoint::endpoint_available`].

pub mod account;
pub mod cidr;
pub mod endpoint;
pub mod endpoint_policy;
pub mod error;
pub mod filter;
pub mod gateway;
pub mod idempotency;
pub mod ids;
pub mod lookup;
pub mod model;
pub mod network_interface;
pub mod pool;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod tags;
pub mod vpc;
pub mod zones;

pub use error::Ec2Error;
pub use filter::{Filter, Page};
pub use idempotency::ClientToken;
pub use tags::TagSpec;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::store::{Scope, Tx, TxExt};
use ids::ResourceType;

/// The record `id` of `rtype`, or AWS's Malformed/NotFound error for it.
pub(crate) fn load<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    scope: &Scope,
    rtype: ResourceType,
    id: &str,
) -> Result<T, Ec2Error> {
    rtype.check(id)?;
    let kind = rtype
        .kind
        .ok_or_else(|| Ec2Error::InvalidId(id.to_string()))?;
    tx.get_json(kind, scope, id)?
        .ok_or_else(|| rtype.not_found(id))
}

pub(crate) fn save<T: Serialize>(
    tx: &mut dyn Tx,
    scope: &Scope,
    rtype: ResourceType,
    id: &str,
    record: &T,
) -> Result<(), Ec2Error> {
    let kind = rtype
        .kind
        .ok_or_else(|| Ec2Error::InvalidId(id.to_string()))?;
    tx.put_json(kind, scope, id, record)?;
    Ok(())
}

pub(crate) fn remove(
    tx: &mut dyn Tx,
    scope: &Scope,
    rtype: ResourceType,
    id: &str,
) -> Result<(), Ec2Error> {
    let kind = rtype
        .kind
        .ok_or_else(|| Ec2Error::InvalidId(id.to_string()))?;
    tx.delete(kind, scope, id)?;
    Ok(())
}

/// Every record of `rtype` in the scope, in id order.
pub(crate) fn list<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    scope: &Scope,
    rtype: ResourceType,
) -> Result<Vec<T>, Ec2Error> {
    let Some(kind) = rtype.kind else {
        return Ok(Vec::new());
    };
    Ok(tx.list_json(kind, scope, "")?)
}

/// `true`/`false` as filter values.
pub(crate) fn flag(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

#[cfg(test)]
mod tests;
