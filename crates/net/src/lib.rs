//! Dataplane primitives for vpclambda: named network namespaces, veth pairs, bridges, IPv4
//! addresses, routes and policy rules (rtnetlink, in-process), per-namespace sysctls, and
//! nftables batches applied atomically through the system's libnftables.
//!
//! Every operation names the namespace it acts in; sockets and nft contexts are opened on a
//! short-lived thread that has `setns`-ed there, so no caller thread ever changes namespace.
//! Creates are idempotent ("exists and matches" is success) and deletes of missing objects
//! succeed, so [`Teardown`] can run in reverse order when half of the objects are already gone.
//!
//! This crate knows nothing of AWS, VPCs or the store: it owns kernel objects only, and every
//! object it creates carries the `vl-` prefix (`vl_` for nft tables, see [`names`]).

mod cidr;
mod error;
pub mod names;
mod netlink;
mod netns;
mod nft;
mod socket;
mod teardown;

pub use cidr::Ipv4Cidr;
pub use error::{Error, Result};
pub use netlink::{Link, Netlink, Route, Rule, MAIN_TABLE};
pub use netns::{Netns, RUN_DIR as NETNS_RUN_DIR};
pub use nft::{Nft, NftFamily, NftSession, NftTable, RuleCounter};
pub use socket::transparent_listener;
pub use teardown::{Step, Teardown, TeardownFailure};
