//! Differential tests against the AWS SDK for Rust's own signer (`aws-sigv4`): requests it signs
//! must verify, and any change to what the signature covers must not.
//!
//! Also the clock window at its edges, signed by the same signer at a chosen instant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;
use sigv4::{parse, verify, Form, Policy, SigError, SigErrorKind, SignedRequest};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "127.0.0.1:4566";

/// How a Smithy client encodes a label or query value: everything but unreserved characters.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request as the client builds it before signing.
#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    token: Option<String>,
    service: &'static str,
    region: &'static str,
    time: SystemTime,
    presign: Option<Duration>,
}

/// The request as the server receives it: origin-form target, headers, body.
#[derive(Debug, Clone)]
struct Wire {
    method: Method,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Wire {
    fn check(&self, secret: &str, now: DateTime<Utc>, policy: &Policy) -> Result<(), SigError> {
        let uri: Uri = self.target.parse().expect("target stays a valid URI");
        let req = SignedRequest {
            method: &self.method,
            uri: &uri,
            headers: &self.headers,
            body: &self.body,
        };
        let parsed = parse(&req)?;
        verify(&parsed, &req, secret, now, policy)
    }

    fn form(&self) -> Form {
        let uri: Uri = self.target.parse().expect("target stays a valid URI");
        let req = SignedRequest {
            method: &self.method,
            uri: &uri,
            headers: &self.headers,
            body: &self.body,
        };
        parse(&req).expect("signed request parses").form
    }
}

fn signed(spec: &Spec) -> Wire {
    let identity: Identity =
        Credentials::new(AKID, SECRET, spec.token.clone(), None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = spec.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(spec.region)
        .name(spec.service)
        .time(spec.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();

    let target = if spec.query.is_empty() {
        spec.path.clone()
    } else {
        format!("{}?{}", spec.path, spec.query)
    };
    let mut headers: Vec<(&str, &str)> = vec![("host", HOST)];
    headers.extend(spec.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let signable = SignableRequest::new(
        spec.method,
        format!("http://{HOST}{target}"),
        headers.iter().copied(),
        SignableBody::Bytes(&spec.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();

    let mut request = http::Request::builder()
        .method(spec.method)
        .uri(format!("http://{HOST}{target}"));
    for (k, v) in &headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let (parts, ()) = request.into_parts();
    Wire {
        method: parts.method,
        target: parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap(),
        headers: parts.headers,
        body: spec.body.clone(),
    }
}

fn utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        // A label the way botocore and the Rust SDK encode it (ARNs become `arn%3Aaws%3A…`).
        "[a-zA-Z0-9 :/@!$&'()*+,;=%?#~._\u{e9}\u{1234}-]{1,16}"
            .prop_map(|s| utf8_percent_encode(&s, LABEL).to_string()),
        Just("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn".to_string()),
        // Characters a URI path may carry unencoded.
        "[a-zA-Z0-9:@!$'()*+,;=._~-]{1,12}",
        Just(".".to_string()),
        Just("..".to_string()),
        Just(String::new()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 0..6), any::<bool>()).prop_map(|(segments, slash)| {
        let mut p = format!("/{}", segments.join("/"));
        if slash && !p.ends_with('/') {
            p.push('/');
        }
        p
    })
}

fn query_pair() -> impl Strategy<Value = String> {
    let key = "[a-zA-Z][a-zA-Z0-9 ._~:/$+&=-]{0,8}"
        .prop_filter("auth parameters are not user parameters", |k| {
            !k.to_ascii_lowercase().starts_with("x-amz-")
        });
    let value = "[a-zA-Z0-9 ._~:/$+&=%\u{e9}-]{0,12}";
    (key, value, 0..3u8).prop_map(|(k, v, style)| {
        let k = utf8_percent_encode(&k, LABEL).to_string();
        match style {
            0 => k,
            1 => format!("{k}={}", utf8_percent_encode(&v, LABEL)),
            // Form style: spaces as `+`, as HTML forms and some clients write them.
            _ => format!(
                "{k}={}",
                utf8_percent_encode(&v, LABEL)
                    .to_string()
                    .replace("%20", "+")
            ),
        }
    })
}

fn header() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        ("x-t-[a-z0-9]{1,6}", "[ -~]{0,24}"),
        (
            Just("content-type".to_string()),
            Just("application/json".to_string())
        ),
        (
            Just("x-amz-invocation-type".to_string()),
            prop::sample::select(vec!["Event".to_string(), "RequestResponse".to_string()])
        ),
        (Just("x-amz-log-type".to_string()), Just("Tail".to_string())),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
        path(),
        prop::collection::vec(query_pair(), 0..5).prop_map(|q| q.join("&")),
        prop::collection::vec(header(), 0..5),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::option::of("[A-Za-z0-9/+=]{8,40}"),
        prop::sample::select(vec!["lambda", "ec2", "iam", "sts", "logs"]),
        prop::sample::select(vec!["us-east-1", "eu-west-1", "ap-southeast-2"]),
        // 2015-01-01 .. 2035-01-01
        1_420_070_400u64..2_051_222_400u64,
        prop::option::of(1u64..=604_800),
    )
        .prop_map(
            |(method, path, query, headers, body, token, service, region, secs, presign)| Spec {
                method,
                path,
                query,
                headers,
                body,
                token,
                service,
                region,
                time: UNIX_EPOCH + Duration::from_secs(secs),
                presign: presign.map(Duration::from_secs),
            },
        )
}

/// The target with its first query parameter changed (a `z` appended to it), or `None`.
fn first_param_changed(target: &str) -> Option<String> {
    let (path, query) = target.split_once('?')?;
    let first_end = query.find('&').unwrap_or(query.len());
    Some(format!(
        "{path}?{}z{}",
        &query[..first_end],
        &query[first_end..]
    ))
}

fn param_added(target: &str) -> String {
    if target.contains('?') {
        format!("{target}&zz=1")
    } else {
        format!("{target}?zz=1")
    }
}

fn path_changed(target: &str) -> String {
    match target.split_once('?') {
        Some((path, query)) => format!("{path}z?{query}"),
        None => format!("{target}z"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sdk_signed_requests_verify(spec in spec()) {
        let wire = signed(&spec);
        let expected_form = if spec.presign.is_some() { Form::Presigned } else { Form::Header };
        prop_assert_eq!(wire.form(), expected_form);
        prop_assert_eq!(wire.check(SECRET, utc(spec.time), &Policy::default()), Ok(()));
    }

    #[test]
    fn any_change_to_signed_content_fails(spec in spec(), pick in any::<prop::sample::Index>()) {
        let wire = signed(&spec);
        let now = utc(spec.time);
        let policy = Policy::default();
        let mismatch = |w: &Wire| w.check(SECRET, now, &policy).map_err(|e| e.kind());

        let mut body = wire.clone();
        if body.body.is_empty() {
            body.body.push(0);
        } else {
            let i = pick.index(body.body.len());
            body.body[i] ^= 0x01;
        }
        prop_assert_eq!(mismatch(&body), Err(SigErrorKind::Mismatch), "body");

        let signed_extra: Vec<&(String, String)> =
            spec.headers.iter().filter(|(k, _)| k.starts_with("x-t-")).collect();
        if !signed_extra.is_empty() {
            let (name, value) = signed_extra[pick.index(signed_extra.len())];
            let mut header = wire.clone();
            header.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(&format!("{value}x")).unwrap(),
            );
            prop_assert_eq!(mismatch(&header), Err(SigErrorKind::Mismatch), "header {}", name);
        }

        let mut path = wire.clone();
        path.target = path_changed(&wire.target);
        prop_assert_eq!(mismatch(&path), Err(SigErrorKind::Mismatch), "path");

        let mut added = wire.clone();
        added.target = param_added(&wire.target);
        prop_assert_eq!(mismatch(&added), Err(SigErrorKind::Mismatch), "query param added");

        // The signer appends its X-Amz-* parameters after the user's, so the first parameter is
        // a user parameter whenever there is one.
        if let Some(changed) = first_param_changed(&wire.target).filter(|_| !spec.query.is_empty()) {
            let mut query = wire.clone();
            query.target = changed;
            prop_assert_eq!(mismatch(&query), Err(SigErrorKind::Mismatch), "query param changed");
        }

        let mut method = wire.clone();
        method.method = if wire.method == Method::GET { Method::POST } else { Method::GET };
        prop_assert_eq!(mismatch(&method), Err(SigErrorKind::Mismatch), "method");

        prop_assert_eq!(
            wire.check("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEX", now, &policy),
            Err(SigError::Mismatch)
        );
    }

    #[test]
    fn unsigned_headers_may_change(spec in spec(), value in "[ -~]{0,16}") {
        let mut wire = signed(&spec);
        wire.headers.insert("user-agent", HeaderValue::from_str(&value).unwrap());
        prop_assert_eq!(wire.check(SECRET, utc(spec.time), &Policy::default()), Ok(()));
    }
}

fn at(secs: i64) -> (SystemTime, DateTime<Utc>) {
    let t =
        Utc.with_ymd_and_hms(2017, 10, 26, 16, 54, 25).unwrap() + chrono::TimeDelta::seconds(secs);
    (SystemTime::from(t), t)
}

fn lambda_get(time: SystemTime, presign: Option<Duration>) -> Wire {
    signed(&Spec {
        method: "GET",
        path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af"
            .into(),
        query: "Qualifier=%24LATEST".into(),
        headers: vec![],
        body: vec![],
        token: None,
        service: "lambda",
        region: "us-east-1",
        time,
        presign,
    })
}

#[test]
fn clock_window_edges_in_both_directions() {
    for window_secs in [300i64, 900] {
        let policy = Policy {
            clock_window: Duration::from_secs(window_secs.unsigned_abs()),
        };
        let (signed_at, _) = at(0);
        let wire = lambda_get(signed_at, None);
        for skew in [window_secs - 1, window_secs] {
            assert_eq!(
                wire.check(SECRET, at(skew).1, &policy),
                Ok(()),
                "now = +{skew}s"
            );
            assert_eq!(
                wire.check(SECRET, at(-skew).1, &policy),
                Ok(()),
                "now = -{skew}s"
            );
        }
        let minutes = window_secs / 60;

        let late = wire
            .check(SECRET, at(window_secs + 1).1, &policy)
            .unwrap_err();
        assert_eq!(late.kind(), SigErrorKind::Clock);
        let (earliest, now) = (at(1).1, at(window_secs + 1).1);
        assert_eq!(
            late.to_string(),
            format!(
                "Signature expired: 20171026T165425Z is now earlier than {} ({} - {minutes} min.)",
                earliest.format("%Y%m%dT%H%M%SZ"),
                now.format("%Y%m%dT%H%M%SZ"),
            )
        );

        let early = wire
            .check(SECRET, at(-window_secs - 1).1, &policy)
            .unwrap_err();
        assert_eq!(early.kind(), SigErrorKind::Clock);
        let (latest, now) = (at(-1).1, at(-window_secs - 1).1);
        assert_eq!(
            early.to_string(),
            format!(
                "Signature not yet current: 20171026T165425Z is still later than {} ({} + {minutes} min.)",
                latest.format("%Y%m%dT%H%M%SZ"),
                now.format("%Y%m%dT%H%M%SZ"),
            )
        );
    }
}

#[test]
fn documented_expired_message_is_reproduced() {
    // The real Lambda response quoted in the contract: signed at 16:54:25, received at 17:00:54.
    let (signed_at, _) = at(0);
    let wire = lambda_get(signed_at, None);
    let err = wire
        .check(SECRET, at(389).1, &Policy::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Signature expired: 20171026T165425Z is now earlier than 20171026T165554Z \
         (20171026T170054Z - 5 min.)"
    );
}

#[test]
fn presigned_lifetime_and_future_window() {
    let policy = Policy::default();
    let (signed_at, _) = at(0);
    let wire = lambda_get(signed_at, Some(Duration::from_secs(3600)));
    assert_eq!(wire.form(), Form::Presigned);
    // Unlike the header form, a presigned URL stays valid long after the clock window.
    assert_eq!(wire.check(SECRET, at(3600).1, &policy), Ok(()));
    assert_eq!(
        wire.check(SECRET, at(3601).1, &policy),
        Err(SigError::PresignedExpired)
    );
    assert_eq!(wire.check(SECRET, at(-299).1, &policy), Ok(()));
    assert_eq!(
        wire.check(SECRET, at(-301).1, &policy)
            .map_err(|e| e.kind()),
        Err(SigErrorKind::Clock)
    );
}

#[test]
fn scope_fields_are_bound_by_the_signature() {
    let (signed_at, now) = at(0);
    let wire = lambda_get(signed_at, None);
    let auth = wire.headers["authorization"].to_str().unwrap().to_string();
    for (from, to) in [("/us-east-1/", "/eu-west-1/"), ("/lambda/", "/iam/")] {
        let mut forged = wire.clone();
        forged.headers.insert(
            "authorization",
            HeaderValue::from_str(&auth.replace(from, to)).unwrap(),
        );
        assert_eq!(
            forged.check(SECRET, now, &Policy::default()),
            Err(SigError::Mismatch),
            "{from} -> {to}"
        );
    }
    let mut redated = wire.clone();
    redated.headers.insert(
        "authorization",
        HeaderValue::from_str(&auth.replace("/20171026/", "/20171027/")).unwrap(),
    );
    assert_eq!(
        redated
            .check(SECRET, now, &Policy::default())
            .map_err(|e| e.kind()),
        Err(SigErrorKind::Mismatch)
    );
}
