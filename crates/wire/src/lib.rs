//! AWS wire protocols as vpclambda speaks them: the error envelope of each protocol, the
//! query/EC2 form decoding, the documents of query-compatible services (RPC v2 CBOR or
//! query), and a small XML writer. This crate knows nothing of the domain:
//! it never decides *what* an error is, only how each protocol spells it.

pub mod document;
pub mod error;
pub mod query;
pub mod response;
pub mod xml;

pub use document::Doc;
pub use error::{AwsError, Protocol};
pub use query::QueryParams;
pub use xml::XmlWriter;

/// A fresh request id, as AWS returns in `x-amzn-RequestId` / `<requestId>`.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
