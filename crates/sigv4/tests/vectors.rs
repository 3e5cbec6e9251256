//! The AWS SigV4 test suite (shipped in the `aws-sigv4` crate, copied to `tests/vectors/v4`):
//! every signed request, received as a server receives it, must verify and rebuild the suite's
//! canonical request. Cases that do not apply to a non-S3 server are listed in
//! `tests/vectors/README.md` and checked for the behaviour documented there.

use std::fs;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use sigv4::{canonical_requests, parse, verify, Form, Parsed, Policy, SigError, SignedRequest};

const SUITE_TEST_SECRET: &str = "notrealrnrELgWzOk3IfjzDKtFBhDby";

struct Received {
    method: Method,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn uri(&self) -> Result<Uri, http::uri::InvalidUri> {
        self.target.parse()
    }
}

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/v4")
}

fn read(case: &str, file: &str) -> String {
    fs::read_to_string(suite().join(case).join(file)).unwrap()
}

/// Parses a suite request file the way an HTTP/1.1 server would, unfolding obs-fold lines to a
/// single space (RFC 9112 §5.2) because `http::HeaderValue` cannot hold line breaks.
fn received(text: &str) -> Received {
    let (head, body) = match text.split_once("\n\n") {
        Some((head, body)) => (head, body),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut parts = request_line.split(' ');
    let method = Method::from_bytes(parts.next().unwrap().as_bytes()).unwrap();
    let mut rest: Vec<&str> = parts.collect();
    // The target may itself hold a space (get-space-unnormalized); some files omit the version.
    if rest.last().is_some_and(|v| v.starts_with("HTTP/")) {
        rest.pop();
    }
    let target = rest.join(" ");

    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = fields.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').unwrap();
            fields.push((name.to_string(), value.trim().to_string()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    Received {
        method,
        target,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

struct Context {
    access_key_id: String,
    secret: String,
    region: String,
    service: String,
    timestamp: String,
    normalize: bool,
}

fn context(case: &str) -> Context {
    let v: serde_json::Value = serde_json::from_str(&read(case, "context.json")).unwrap();
    let s = |ptr: &str| v.pointer(ptr).unwrap().as_str().unwrap().to_string();
    Context {
        access_key_id: s("/credentials/access_key_id"),
        secret: s("/credentials/secret_access_key"),
        region: s("/region"),
        service: s("/service"),
        timestamp: s("/timestamp"),
        normalize: v["normalize"].as_bool().unwrap(),
    }
}

/// A parsed signed request file: the verification result and every canonical request tried.
struct Checked {
    parsed: Parsed,
    verified: Result<(), SigError>,
    canonical: Vec<String>,
}

/// `None` when `http::Uri` refuses the request target.
fn check(r: &Received, secret: &str) -> Option<Checked> {
    let Ok(uri) = r.uri() else {
        return None;
    };
    let req = SignedRequest {
        method: &r.method,
        uri: &uri,
        headers: &r.headers,
        body: &r.body,
    };
    let parsed = parse(&req).unwrap();
    let verified = verify(
        &parsed,
        &req,
        secret,
        parsed.request_time(),
        &Policy::default(),
    );
    let canonical = canonical_requests(&parsed, &req).unwrap();
    Some(Checked {
        parsed,
        verified,
        canonical,
    })
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(suite())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

const NO_CONTEXT: &[&str] = &["double-encode-path", "double-url-encode"];
const SINGLE_ENCODED: &[&str] = &["get-space-normalized"];
const INVALID_TARGET: &[&str] = &["get-space-unnormalized"];

#[test]
fn every_applicable_vector_verifies_in_both_forms() {
    let mut checked = 0;
    for case in cases() {
        if NO_CONTEXT.contains(&case.as_str())
            || SINGLE_ENCODED.contains(&case.as_str())
            || INVALID_TARGET.contains(&case.as_str())
        {
            continue;
        }
        let ctx = context(&case);
        for (prefix, form) in [("header", Form::Header), ("query", Form::Presigned)] {
            if case == "post-sts-header-after" && form == Form::Presigned {
                continue;
            }
            let signed = received(&read(&case, &format!("{prefix}-signed-request.txt")));
            let Some(Checked {
                parsed,
                verified,
                canonical,
            }) = check(&signed, &ctx.secret)
            else {
                panic!("{case}/{prefix}: request target refused");
            };
            assert_eq!(parsed.form, form, "{case}/{prefix}");
            assert_eq!(parsed.credential.access_key_id, ctx.access_key_id);
            assert_eq!(parsed.credential.region, ctx.region);
            assert_eq!(parsed.credential.service, ctx.service);
            assert_eq!(
                parsed
                    .request_time()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ctx.timestamp,
                "{case}/{prefix}"
            );
            assert_eq!(verified, Ok(()), "{case}/{prefix}");

            let expected = read(&case, &format!("{prefix}-canonical-request.txt"));
            if ctx.normalize {
                assert_eq!(canonical[0], expected, "{case}/{prefix}");
            } else {
                assert!(
                    canonical.contains(&expected),
                    "{case}/{prefix}: {canonical:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        2 * 36 - 1,
        "every applicable case and form is checked"
    );
}

#[test]
fn any_signature_byte_changed_fails() {
    let ctx = context("get-vanilla-query");
    let signed = read("get-vanilla-query", "header-signed-request.txt");
    let sig_at = signed.find("Signature=").unwrap() + "Signature=".len();
    for i in 0..64 {
        let mut bytes = signed.clone().into_bytes();
        bytes[sig_at + i] = if bytes[sig_at + i] == b'0' {
            b'1'
        } else {
            b'0'
        };
        let r = received(&String::from_utf8(bytes).unwrap());
        let Some(Checked { verified, .. }) = check(&r, &ctx.secret) else {
            panic!("target refused");
        };
        assert_eq!(verified, Err(SigError::Mismatch), "byte {i}");
    }
}

#[test]
fn single_encoded_path_vector_is_rejected_for_non_s3() {
    for case in SINGLE_ENCODED {
        let ctx = context(case);
        for prefix in ["header", "query"] {
            // The signed files print the decoded path; the wire carries request.txt's `%20`.
            let mut r = received(&read(case, &format!("{prefix}-signed-request.txt")));
            let wire_path = received(&read(case, "request.txt")).target;
            r.target = r.target.replacen("/example space/", &wire_path, 1);
            let Some(Checked {
                verified,
                canonical,
                ..
            }) = check(&r, &ctx.secret)
            else {
                panic!("{case}/{prefix}: target refused");
            };
            assert_eq!(verified, Err(SigError::Mismatch), "{case}/{prefix}");
            let path_line = canonical[0].lines().nth(1).unwrap();
            assert_eq!(path_line, "/example%2520space/");
        }
    }
}

#[test]
fn invalid_request_targets_never_reach_the_verifier() {
    for case in INVALID_TARGET {
        for prefix in ["header", "query"] {
            let r = received(&read(case, &format!("{prefix}-signed-request.txt")));
            assert!(check(&r, "unused").is_none(), "{case}/{prefix}");
        }
    }
}

#[test]
fn token_added_to_the_query_after_signing_is_rejected() {
    let ctx = context("post-sts-header-after");
    let r = received(&read("post-sts-header-after", "query-signed-request.txt"));
    let Some(Checked {
        parsed, verified, ..
    }) = check(&r, &ctx.secret)
    else {
        panic!("target refused");
    };
    assert!(parsed.security_token().is_some());
    assert_eq!(verified, Err(SigError::Mismatch));
}

#[test]
fn double_encode_path_vector() {
    let r = received(&read("double-encode-path", "header-signed-request.txt"));
    let Some(Checked {
        parsed,
        verified,
        canonical,
    }) = check(&r, SUITE_TEST_SECRET)
    else {
        panic!("target refused");
    };
    assert_eq!(parsed.credential.access_key_id, "ANOTREAL");
    assert_eq!(verified, Ok(()));
    let expected = read("double-encode-path", "header-canonical-request.txt");
    assert_eq!(canonical[0].lines().nth(1), expected.lines().nth(1));
    assert_eq!(
        canonical[0].lines().nth(1),
        Some("/test/%40connections/JBDvjfGEIAMCERw%253D")
    );
}

#[test]
fn double_url_encode_vector() {
    let r = received(&read("double-url-encode", "header-signed-request.txt"));
    let Some(Checked {
        parsed, canonical, ..
    }) = check(&r, "unused")
    else {
        panic!("target refused");
    };
    let expected = read("double-url-encode", "header-canonical-request.txt");
    assert_eq!(canonical[0], expected);
    let string_to_sign = read("double-url-encode", "header-string-to-sign.txt");
    let mut lines = string_to_sign.lines();
    assert_eq!(lines.next(), Some("AWS4-HMAC-SHA256"));
    assert_eq!(lines.next(), Some("20210511T154045Z"));
    let c = &parsed.credential;
    assert_eq!(
        lines.next().map(str::to_string),
        Some(format!(
            "{}/{}/{}/aws4_request",
            c.date, c.region, c.service
        ))
    );
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(expected.as_bytes()));
    assert_eq!(lines.next(), Some(hash.as_str()));
}
