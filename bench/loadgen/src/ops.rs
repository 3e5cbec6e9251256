//! The operations the load generator speaks, put on the wire the way the AWS SDKs put them:
//! Lambda as rest-json (GET/POST under `/2015-03-31/functions`), EC2 and STS as form POSTs,
//! every request signed afresh with SigV4 at send time.
//!
//! A [`Template`] builds one operation's requests against one endpoint. Bodies that never
//! change have their SHA-256 computed once; CreateFunction bodies differ only in the function
//! name, which is placed last so the SHA-256 state of the constant prefix (up to 13 MiB of
//! base64) is computed once and only the short tail is hashed per request. The signature
//! itself is always computed per request, over the real payload hash, exactly as a client
//! that hashed the whole body would send it.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Uri};
use http_body_util::Full;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sign::Signer;
use crate::zip;

/// An operation the load generator can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// STS GetCallerIdentity (form POST): the cheapest signed call, a baseline.
    StsGetCallerIdentity,
    /// Lambda GetFunction of `--function`.
    LambdaGetFunction,
    /// Lambda ListFunctions with `MaxItems` = `--max-items`.
    LambdaListFunctions,
    /// Lambda CreateFunction of a new function per request, with a `--zip-bytes` package.
    LambdaCreateFunction,
    /// Lambda Invoke of `--function` with `--payload` (RequestResponse).
    LambdaInvoke,
    /// EC2 DescribeSubnets (form POST), no filters.
    Ec2DescribeSubnets,
}

impl Op {
    /// The SigV4 service name the request is signed for.
    pub fn service(self) -> &'static str {
        match self {
            Op::StsGetCallerIdentity => "sts",
            Op::Ec2DescribeSubnets => "ec2",
            Op::LambdaGetFunction
            | Op::LambdaListFunctions
            | Op::LambdaCreateFunction
            | Op::LambdaInvoke => "lambda",
        }
    }
}

/// What operations need beyond their name.
#[derive(Clone, Debug)]
pub struct OpParams {
    /// Function for GetFunction and Invoke: a plain name (it goes into the path as is).
    pub function: String,
    /// Execution role ARN for CreateFunction.
    pub role: String,
    /// Size of the CreateFunction zip, in bytes (a tiny zip when small).
    pub zip_bytes: usize,
    /// CreateFunction names are `{name_prefix}-{n}`, n counting from 0 per template.
    pub name_prefix: String,
    /// `MaxItems` for ListFunctions.
    pub max_items: u32,
    /// Invoke payload.
    pub payload: String,
}

impl Default for OpParams {
    fn default() -> Self {
        OpParams {
            function: "bench-fn-000".into(),
            role: "arn:aws:iam::000000000000:role/bench-exec".into(),
            zip_bytes: 0,
            name_prefix: "loadgen".into(),
            max_items: 100,
            payload: r#"{"hello":"world"}"#.into(),
        }
    }
}

enum Body {
    Fixed {
        bytes: Bytes,
        sha256: String,
    },
    NewFunction {
        prefix: Bytes,
        prefix_state: Sha256,
        name_prefix: String,
    },
}

/// Builds signed requests for one operation against one endpoint.
pub struct Template {
    op: Op,
    method: Method,
    uri: Uri,
    host: HeaderValue,
    content_type: Option<&'static str>,
    body: Body,
    seq: AtomicU64,
    signer: Signer,
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const JSON: &str = "application/json";

impl Template {
    /// `endpoint` is `http://host:port` (no path).
    pub fn new(op: Op, endpoint: &str, params: &OpParams, signer: Signer) -> Result<Self> {
        let base: Uri = endpoint
            .parse()
            .with_context(|| format!("endpoint {endpoint:?}"))?;
        let authority = match (base.scheme_str(), base.authority()) {
            (Some("http"), Some(a)) => a.clone(),
            _ => bail!("endpoint {endpoint:?} must be http://host:port"),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if matches!(op, Op::LambdaGetFunction | Op::LambdaInvoke) && !plain(&params.function) {
            bail!(
                "--function must be a plain function name, got {:?}",
                params.function
            );
        }
        let fixed = |s: &str| Body::Fixed {
            sha256: hex::encode(Sha256::digest(s.as_bytes())),
            bytes: Bytes::copy_from_slice(s.as_bytes()),
        };
        let f = &params.function;
        let (method, path, content_type, body) = match op {
            Op::StsGetCallerIdentity => (
                Method::POST,
                "/".to_owned(),
                Some(FORM),
                fixed("Action=GetCallerIdentity&Version=2011-06-15"),
            ),
            Op::Ec2DescribeSubnets => (
                Method::POST,
                "/".to_owned(),
                Some(FORM),
                fixed("Action=DescribeSubnets&Version=2016-11-15"),
            ),
            Op::LambdaGetFunction => (
                Method::GET,
                format!("/2015-03-31/functions/{f}"),
                None,
                fixed(""),
            ),
            Op::LambdaListFunctions => (
                Method::GET,
                format!("/2015-03-31/functions/?MaxItems={}", params.max_items),
                None,
                fixed(""),
            ),
            Op::LambdaInvoke => (
                Method::POST,
                format!("/2015-03-31/functions/{f}/invocations"),
                None,
                fixed(&params.payload),
            ),
            Op::LambdaCreateFunction => {
                if !plain(&params.name_prefix) {
                    bail!("--name-prefix must be letters, digits, - and _");
                }
                let zip = zip::package(params.zip_bytes);
                let code = base64::engine::general_purpose::STANDARD.encode(zip);
                let role = serde_json::to_string(&params.role)?;
                let prefix = format!(
                    r#"{{"Code":{{"ZipFile":"{code}"}},"Role":{role},"Runtime":"provided.al2023","Handler":"bootstrap","FunctionName":""#
                );
                let mut prefix_state = Sha256::new();
                prefix_state.update(prefix.as_bytes());
                (
                    Method::POST,
                    "/2015-03-31/functions".to_owned(),
                    Some(JSON),
                    Body::NewFunction {
                        prefix: Bytes::from(prefix),
                        prefix_state,
                        name_prefix: params.name_prefix.clone(),
                    },
                )
            }
        };
        let uri: Uri = format!("http://{authority}{path}")
            .parse()
            .context("request URI")?;
        Ok(Template {
            op,
            method,
            uri,
            host: HeaderValue::from_str(authority.as_str()).context("host header")?,
            content_type,
            body,
            seq: AtomicU64::new(0),
            signer,
        })
    }

    /// The next request, signed now.
    /// `host:port` of the endpoint.
    pub fn authority(&self) -> &str {
        self.host.to_str().unwrap_or_default()
    }

    pub fn request(&self) -> Result<http::Request<Full<Bytes>>> {
        let (body, sha256) = match &self.body {
            Body::Fixed { bytes, sha256 } => (bytes.clone(), sha256.clone()),
            Body::NewFunction {
                prefix,
                prefix_state,
                name_prefix,
            } => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed);
                let tail = format!(r#"{name_prefix}-{n}"}}"#);
                let mut state = prefix_state.clone();
                state.update(tail.as_bytes());
                let mut body = BytesMut::with_capacity(prefix.len() + tail.len());
                body.extend_from_slice(prefix);
                body.extend_from_slice(tail.as_bytes());
                (body.freeze(), hex::encode(state.finalize()))
            }
        };
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .header(HOST, self.host.clone());
        if let Some(ct) = self.content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        let mut req = builder.body(Full::new(body)).context("request")?;
        self.signer.sign(self.op.service(), &mut req, sha256)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn template(op: Op, params: &OpParams) -> Template {
        Template::new(
            op,
            "http://127.0.0.1:4566",
            params,
            Signer::new("test", "test", "us-east-1"),
        )
        .expect("template")
    }

    async fn body_of(req: http::Request<Full<Bytes>>) -> Bytes {
        req.into_body().collect().await.expect("body").to_bytes()
    }

    #[tokio::test]
    async fn create_function_bodies_name_a_new_function_each_and_hash_right() {
        let t = template(Op::LambdaCreateFunction, &OpParams::default());
        let first = t.request().expect("request");
        let second = t.request().expect("request");
        let auth = first.headers()["authorization"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(auth.contains("/us-east-1/lambda/aws4_request"), "{auth}");
        let a: serde_json::Value = serde_json::from_slice(&body_of(first).await).expect("json");
        let b: serde_json::Value = serde_json::from_slice(&body_of(second).await).expect("json");
        assert_eq!(a["FunctionName"], "loadgen-0");
        assert_eq!(b["FunctionName"], "loadgen-1");
        assert_eq!(a["Runtime"], "provided.al2023");
    }

    #[test]
    fn midstate_hash_equals_the_hash_of_the_whole_body() {
        let t = template(Op::LambdaCreateFunction, &OpParams::default());
        let Body::NewFunction {
            prefix,
            prefix_state,
            ..
        } = &t.body
        else {
            panic!("create builds a new-function body");
        };
        let mut state = prefix_state.clone();
        state.update(b"loadgen-7\"}");
        let mut whole = prefix.to_vec();
        whole.extend_from_slice(b"loadgen-7\"}");
        assert_eq!(state.finalize(), Sha256::digest(&whole));
    }

    #[test]
    fn form_operations_post_to_the_root_and_are_signed_for_their_service() {
        let t = template(Op::Ec2DescribeSubnets, &OpParams::default());
        let req = t.request().expect("request");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/");
        assert_eq!(req.headers()["content-type"], FORM);
        let auth = req.headers()["authorization"].to_str().expect("ascii");
        assert!(auth.contains("/us-east-1/ec2/aws4_request"), "{auth}");
    }

    #[test]
    fn function_names_that_need_encoding_are_refused() {
        let params = OpParams {
            function: "a/b".into(),
            ..OpParams::default()
        };
        let err = Template::new(
            Op::LambdaGetFunction,
            "http://127.0.0.1:1",
            &params,
            Signer::new("test", "test", "us-east-1"),
        );
        assert!(err.is_err());
    }
}
