//! The control plane's domain: accounts, AWS resources as records, their validation and
//! state machines, and the [`store`] they live in. It knows nothing of HTTP or of any wire
//! protocol (that is `wire` and the binary's routers), nor of kernel objects (`net`,
//! `sandbox`).

pub mod accounts;
pub mod ec2;
pub mod eni;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod metrics;
pub mod regions;
pub mod s3;
pub mod store;
pub mod sts;

pub use accounts::{Account, Accounts, CallerIdentity};
pub use store::{ScanRange, Scope, Store, StoreError, Tx, TxExt};
