//! The benchmark load generator behind `bench/run`: SigV4-signed HTTP/1.1 load against
//! loopback servers, open loop (fixed rate) or closed loop (fixed connections), measured in
//! HDR histograms; the minimal echo server and relay that make the two-hop HTTP floor; and the
//! suites that compare vpclambda with its peers and with that floor in one run.
//!
//! Layering: [`ops`] knows the wire shape of each AWS operation and signs it with [`sign`];
//! [`load`] only sends what a [`ops::Template`] builds and measures; [`suite`] decides what to
//! compare and renders the tables. Nothing here knows how the servers were started — that is
//! `bench/run`'s job.

pub mod floor;
pub mod load;
pub mod ops;
pub mod report;
pub mod sign;
pub mod suite;
pub mod zip;
