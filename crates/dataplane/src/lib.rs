//! The VPC dataplane: turns a desired state of VPCs, subnets, route tables, security groups,
//! internet and NAT gateways and network interfaces into kernel objects, and attaches
//! execution environments and simulated-internet hosts to them.
//!
//! Independent of the EC2 wire and of the store: callers describe what should exist with
//! the plain types of [`model`] and call [`Dataplane::apply`], which reconciles. Built on
//! the `net` crate's primitives (netlink and libnftables in-process, no `ip`/`nft` binary).
//!
//! Topology (DESIGN.md): `vl-pub` is the simulated internet; each VPC has a router namespace
//! `vl-<vpc-id>` with one bridge per subnet (gateway base+1), a routing table and policy rule
//! per subnet, security groups in its `ip vl_vpc` table, and a veth to `vl-pub` when an
//! internet gateway is attached, doing 1:1 NAT for addresses that have a public IP only.
//! NAT gateways (`vl-<nat-id>`) and ENIs (`vl-<eni-id>`) are namespaces on their subnet's
//! bridge. `vl-pub` is sealed unless `Uplink::Host` masquerades it to the caller's
//! network (the only objects ever made in the caller's namespace). The VPC resolver (base + 2, on the router's `lo`) is a socket the daemon binds
//! inside the router namespace; it answers the names of the desired state and nothing
//! else. Nothing in `vl-pub` routes to a VPC CIDR, and nothing is created in the caller's
//! own namespace.

mod dns;
mod error;
pub mod model;
mod plane;
mod render;
mod uplink;

pub use dns::{lookup, valid_name, Names};
pub use error::{Error, Result};
pub use model::{
    gateway_of, resolv_conf, resolver_of, Desired, DesiredEni, DesiredIgw, DesiredNat,
    DesiredRoute, DesiredSecurityGroup, DesiredSubnet, DesiredVpc, EniDelta, Peer, PortRange,
    Protocol, RouteTarget, SgRule,
};
pub use net::{Ipv4Cidr, NETNS_RUN_DIR};
pub use plane::{namespace_of, ApplyReport, Dataplane, PUBLIC_NETNS};
pub use uplink::Uplink;
