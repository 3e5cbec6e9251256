//! Requests exactly as botocore (the aws CLI and boto3) signs them, captured by
//! `tests/fixtures/botocore_requests.py` with a fixed clock, must verify at that instant.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde_json::Value;
use sigv4::{parse, verify, Form, Parsed, Policy, SigError, SignedRequest};

#[derive(Clone)]
struct Fixture {
    name: String,
    service: String,
    region: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fixture {
    fn req(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn check(&self, secret: &str, now: DateTime<Utc>) -> Result<Parsed, SigError> {
        let parsed = parse(&self.req())?;
        verify(&parsed, &self.req(), secret, now, &Policy::default())?;
        Ok(parsed)
    }
}

struct Suite {
    secret: String,
    token: String,
    signed_at: DateTime<Utc>,
    fixtures: Vec<Fixture>,
}

fn suite() -> Suite {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/botocore_requests.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = |v: &Value| v.as_str().unwrap().to_string();
    let fixtures = doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut headers = HeaderMap::new();
            for pair in r["headers"].as_array().unwrap() {
                headers.append(
                    HeaderName::from_bytes(pair[0].as_str().unwrap().as_bytes()).unwrap(),
                    HeaderValue::from_str(pair[1].as_str().unwrap()).unwrap(),
                );
            }
            Fixture {
                name: text(&r["name"]),
                service: text(&r["service"]),
                region: text(&r["region"]),
                method: Method::from_bytes(r["method"].as_str().unwrap().as_bytes()).unwrap(),
                uri: r["target"].as_str().unwrap().parse().unwrap(),
                headers,
                body: text(&r["body"]).into_bytes(),
            }
        })
        .collect();
    let signed_at =
        NaiveDateTime::parse_from_str(doc["signed_at"].as_str().unwrap(), "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
    Suite {
        secret: text(&doc["secret_access_key"]),
        token: text(&doc["session_token"]),
        signed_at,
        fixtures,
    }
}

#[test]
fn every_botocore_request_verifies() {
    let s = suite();
    assert_eq!(s.fixtures.len(), 8);
    for f in &s.fixtures {
        for skew in [-299, 0, 299] {
            let now = s.signed_at + TimeDelta::seconds(skew);
            let parsed = f
                .check(&s.secret, now)
                .unwrap_or_else(|e| panic!("{} at {skew}s: {e}", f.name));
            assert_eq!(parsed.credential.service, f.service, "{}", f.name);
            assert_eq!(parsed.credential.region, f.region, "{}", f.name);
        }
    }
}

fn fixture<'a>(s: &'a Suite, name: &str) -> &'a Fixture {
    s.fixtures.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn lambda_arn_path_and_qualifier() {
    let s = suite();
    let f = fixture(&s, "lambda-get-function-arn-qualifier");
    assert_eq!(
        f.uri.path(),
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Amy-fn"
    );
    assert_eq!(f.uri.query(), Some("Qualifier=%24LATEST"));
    let canonical = sigv4::canonical_requests(&parse(&f.req()).unwrap(), &f.req()).unwrap();
    assert!(canonical[0].starts_with(
        "GET\n/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253A\
         function%253Amy-fn\nQualifier=%24LATEST\nhost:127.0.0.1:4566\n"
    ));
}

#[test]
fn invoke_signs_its_invocation_headers() {
    let s = suite();
    let f = fixture(&s, "lambda-invoke-event-tail");
    let mut forged = f.clone();
    forged.headers.insert(
        "x-amz-invocation-type",
        HeaderValue::from_static("RequestResponse"),
    );
    assert_eq!(
        forged.check(&s.secret, s.signed_at).unwrap_err(),
        SigError::Mismatch
    );
}

#[test]
fn temporary_credentials_expose_the_token() {
    let s = suite();
    let f = fixture(&s, "lambda-list-functions-temporary-credentials");
    let parsed = f.check(&s.secret, s.signed_at).unwrap();
    assert_eq!(parsed.security_token(), Some(s.token.as_str()));
}

#[test]
fn form_bodies_are_bound_by_the_payload_hash() {
    let s = suite();
    for name in [
        "sts-get-caller-identity-form",
        "iam-list-users-custom-region",
        "ec2-describe-network-interfaces-filters",
        "logs-filter-log-events-json",
    ] {
        let f = fixture(&s, name);
        let mut forged = f.clone();
        forged.body.push(b' ');
        assert_eq!(
            forged.check(&s.secret, s.signed_at).unwrap_err(),
            SigError::Mismatch,
            "{name}"
        );
    }
}

#[test]
fn presigned_sts_url() {
    let s = suite();
    let f = fixture(&s, "sts-presigned-get-caller-identity");
    let parsed = f
        .check(&s.secret, s.signed_at + TimeDelta::seconds(900))
        .unwrap();
    assert_eq!(parsed.form, Form::Presigned);
    assert_eq!(
        f.check(&s.secret, s.signed_at + TimeDelta::seconds(901))
            .unwrap_err(),
        SigError::PresignedExpired
    );
}

#[test]
fn outside_the_window_is_expired() {
    let s = suite();
    let f = fixture(&s, "sts-get-caller-identity-form");
    let err = f
        .check(&s.secret, s.signed_at + TimeDelta::seconds(301))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Signature expired: 20240517T093012Z is now earlier than 20240517T093013Z \
         (20240517T093513Z - 5 min.)"
    );
}
