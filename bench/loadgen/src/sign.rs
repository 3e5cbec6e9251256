//! SigV4 signing of load requests with the AWS SDK for Rust's own signer, so the servers
//! verify exactly what real clients send. Knows credentials and the clock, not transport.

use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// Access key, secret and region every request of a run is signed with.
#[derive(Debug, Clone)]
pub struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    pub fn new(key: &str, secret: &str, region: &str) -> Self {
        let identity: Identity = Credentials::new(key, secret, None, None, "loadgen").into();
        Signer {
            identity,
            region: region.to_owned(),
        }
    }

    /// Signs `req` for `service` at the current time. `payload_sha256` is the hex SHA-256 of
    /// the body the request will carry; the caller computes it (see `ops::Template`).
    pub fn sign<B>(
        &self,
        service: &str,
        req: &mut http::Request<B>,
        payload_sha256: String,
    ) -> Result<()> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("SigV4 signing parameters")?
            .into();
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| Ok((k.as_str(), v.to_str()?)))
            .collect::<Result<Vec<_>, http::header::ToStrError>>()
            .context("request header is not visible ASCII")?;
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.uri().to_string(),
            headers.into_iter(),
            SignableBody::Precomputed(payload_sha256),
        )
        .context("signable request")?;
        let (instructions, _) = sign(signable, &params)
            .context("SigV4 signing")?
            .into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }
}
