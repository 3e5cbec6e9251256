//! Server-side verification of AWS Signature Version 4 (header and presigned-query forms) for the
//! non-S3 services vpclambda serves (lambda, ec2, iam, sts, logs).
//!
//! The crate owns parsing the client's claim (`parse`), rebuilding the canonical request from the
//! raw request exactly as AWS clients do, the clock window and the constant-time comparison
//! (`verify`). It must not look up access keys, know about accounts, render protocol error
//! envelopes or do I/O: the caller routes on the parsed credential scope, finds the secret, calls
//! `verify`, and maps `SigError::kind` to its protocol's error code.

mod canonical;
mod error;
mod parse;
mod verify;

pub use error::{SigError, SigErrorKind};
pub use parse::{parse, Credential, Form, Parsed};
pub use verify::{canonical_requests, verify};

use std::time::Duration;

/// What the server needs from one HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a http::Method,
    /// The request target exactly as received: raw, percent-encoded path and query.
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// Borrows the pieces of a received request whose body has already been collected.
    pub fn new(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body,
        }
    }
}

/// Server-side knobs of verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How far `X-Amz-Date` may lie from the server clock, in either direction.
    pub clock_window: Duration,
}

impl Default for Policy {
    /// Five minutes, as Lambda and most query services enforce it.
    fn default() -> Self {
        Self {
            clock_window: Duration::from_secs(5 * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_received_parts() {
        let (parts, body) = http::Request::post("/2015-03-31/functions")
            .header("host", "127.0.0.1:4566")
            .body(b"{}".to_vec())
            .unwrap()
            .into_parts();
        let req = SignedRequest::new(&parts, &body);
        assert_eq!(req.uri.path(), "/2015-03-31/functions");
        assert_eq!(req.body, b"{}");
        assert_eq!(parse(&req), Err(SigError::Missing));
    }

    #[test]
    fn default_window_is_five_minutes() {
        assert_eq!(Policy::default().clock_window, Duration::from_secs(300));
    }
}
