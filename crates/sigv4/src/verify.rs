//! Verification of a parsed claim: clock window, payload hash, canonical request, signing key
//! derivation and the constant-time signature comparison.
//!
//! It must not read the system clock (the caller passes `now`, so tests and skew handling stay
//! deterministic) and must not return early on the first differing signature byte.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::header::HOST;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::canonical::{canonical_query, header_value, uri_candidates, Whitespace};
use crate::error::SigError;
use crate::parse::{Form, Parsed, Q_SIGNATURE};
use crate::{Policy, SignedRequest};

const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Checks that `req` carries a valid signature for `parsed` made with `secret_access_key`,
/// within `policy`'s clock window around `now`.
pub fn verify(
    parsed: &Parsed,
    req: &SignedRequest,
    secret_access_key: &str,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(), SigError> {
    check_clock(parsed, now, policy)?;
    let mut matched = Choice::from(0);
    let key = signing_key(secret_access_key, parsed)?;
    for creq in canonical_request_variants(parsed, req)? {
        let signature = hex::encode(hmac(&key, &string_to_sign(parsed, &creq))?);
        // Every candidate is computed and compared so the time taken does not say which
        // variant, or which byte, differed.
        matched |= signature.as_bytes().ct_eq(parsed.signature.as_bytes());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SigError::Mismatch)
    }
}

/// Every canonical request `verify` tries, the most common client behaviour first, for debug
/// logs when a client's signature does not match. Non-UTF-8 header bytes are shown lossily.
pub fn canonical_requests(parsed: &Parsed, req: &SignedRequest) -> Result<Vec<String>, SigError> {
    Ok(canonical_request_variants(parsed, req)?
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect())
}

fn check_clock(parsed: &Parsed, now: DateTime<Utc>, policy: &Policy) -> Result<(), SigError> {
    let window = TimeDelta::from_std(policy.clock_window).unwrap_or(TimeDelta::MAX);
    let request = parsed.request_time;
    let latest = now
        .checked_add_signed(window)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if request > latest {
        return Err(SigError::NotYetCurrent {
            request,
            latest,
            now,
            window: policy.clock_window,
        });
    }
    match parsed.expires {
        // A presigned URL is meant to be used after it was signed, up to its own lifetime.
        Some(lifetime) => {
            let lifetime = TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX);
            let end = request
                .checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            if now > end {
                return Err(SigError::PresignedExpired);
            }
        }
        None => {
            let earliest = now
                .checked_sub_signed(window)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if request < earliest {
                return Err(SigError::Expired {
                    request,
                    earliest,
                    now,
                    window: policy.clock_window,
                });
            }
        }
    }
    Ok(())
}

/// Every canonical request a real client could have signed for this request, the most common
/// first (see `canonical` for the variants).
fn canonical_request_variants(
    parsed: &Parsed,
    req: &SignedRequest,
) -> Result<Vec<Vec<u8>>, SigError> {
    let payload_hash = payload_hash(req)?;
    let header_blocks = canonical_header_blocks(parsed, req)?;
    let skip = match parsed.form {
        Form::Presigned => Some(Q_SIGNATURE.as_bytes()),
        Form::Header => None,
    };
    let query = canonical_query(&parsed.query, skip);
    let mut out = Vec::new();
    for uri in uri_candidates(req.uri.path()) {
        for headers in &header_blocks {
            let mut creq = Vec::with_capacity(256 + headers.len());
            for line in [req.method.as_str(), &uri, &query] {
                creq.extend_from_slice(line.as_bytes());
                creq.push(b'\n');
            }
            creq.extend_from_slice(headers);
            creq.push(b'\n');
            creq.extend_from_slice(parsed.signed_headers.as_bytes());
            creq.push(b'\n');
            creq.extend_from_slice(payload_hash.as_bytes());
            out.push(creq);
        }
    }
    Ok(out)
}

/// The server hashes the body itself; a client-supplied hash may only repeat it, which also
/// rules out S3's `UNSIGNED-PAYLOAD`.
fn payload_hash(req: &SignedRequest) -> Result<String, SigError> {
    let computed = hex::encode(Sha256::digest(req.body));
    if req
        .headers
        .get_all(X_AMZ_CONTENT_SHA256)
        .iter()
        .any(|claimed| claimed.as_bytes() != computed.as_bytes())
    {
        return Err(SigError::PayloadHashMismatch);
    }
    Ok(computed)
}

/// Canonical header blocks (`name:value\n` per signed header, in the client's order); a second
/// block is offered only when a tab makes whitespace collapsing ambiguous.
fn canonical_header_blocks(parsed: &Parsed, req: &SignedRequest) -> Result<Vec<Vec<u8>>, SigError> {
    let mut signed: Vec<(String, Vec<&[u8]>)> = Vec::new();
    for name in parsed.signed_headers.split(';') {
        let name = name.to_ascii_lowercase();
        let mut values: Vec<&[u8]> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        // HTTP/2 carries the host as `:authority`, which arrives in the URI, not as a header.
        if values.is_empty() && name == HOST.as_str() {
            if let Some(authority) = req.uri.authority() {
                values.push(authority.as_str().as_bytes());
            }
        }
        if values.is_empty() {
            return Err(SigError::SignedHeaderMissing(name));
        }
        signed.push((name, values));
    }
    let has_tab = signed
        .iter()
        .any(|(_, values)| values.iter().any(|v| v.contains(&b'\t')));
    let styles: &[Whitespace] = if has_tab {
        &[Whitespace::SpacesAndTabs, Whitespace::SpacesOnly]
    } else {
        &[Whitespace::SpacesAndTabs]
    };
    Ok(styles
        .iter()
        .map(|&ws| {
            let mut block = Vec::new();
            for (name, values) in &signed {
                block.extend_from_slice(name.as_bytes());
                block.push(b':');
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        block.push(b',');
                    }
                    block.extend_from_slice(&header_value(value, ws));
                }
                block.push(b'\n');
            }
            block
        })
        .collect())
}

fn string_to_sign(parsed: &Parsed, creq: &[u8]) -> Vec<u8> {
    let c = &parsed.credential;
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}/{}/{}/aws4_request\n{}",
        parsed.amz_date,
        c.date,
        c.region,
        c.service,
        hex::encode(Sha256::digest(creq))
    )
    .into_bytes()
}

fn signing_key(secret: &str, parsed: &Parsed) -> Result<[u8; 32], SigError> {
    let c = &parsed.credential;
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), c.date.as_bytes())?;
    let k_region = hmac(&k_date, c.region.as_bytes())?;
    let k_service = hmac(&k_region, c.service.as_bytes())?;
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32], SigError> {
    // HMAC takes keys of any length, so this cannot fail; if it ever did, fail closed.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SigError::Mismatch)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use chrono::TimeZone;
    use http::{HeaderMap, HeaderValue, Method, Uri};
    use std::time::Duration;

    /// The AWS documentation example (IAM ListUsers, GET, header form), with its published
    /// signature.
    struct Doc {
        method: Method,
        uri: Uri,
        headers: HeaderMap,
    }

    const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn doc() -> Doc {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        );
        Doc {
            method: Method::GET,
            uri: "/?Action=ListUsers&Version=2010-05-08".parse().unwrap(),
            headers,
        }
    }

    impl Doc {
        fn req(&self) -> SignedRequest<'_> {
            SignedRequest {
                method: &self.method,
                uri: &self.uri,
                headers: &self.headers,
                body: b"",
            }
        }
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 8, 30, h, m, s).unwrap()
    }

    #[test]
    fn aws_documentation_example_verifies() {
        let d = doc();
        let p = parse(&d.req()).unwrap();
        assert_eq!(
            canonical_requests(&p, &d.req()).unwrap(),
            ["GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
        );
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 36, 0), &Policy::default()),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let d = doc();
        let p = parse(&d.req()).unwrap();
        assert_eq!(
            verify(&p, &d.req(), "wrong", at(12, 36, 0), &Policy::default()),
            Err(SigError::Mismatch)
        );
    }

    #[test]
    fn content_sha256_must_match_the_body() {
        let mut d = doc();
        d.headers.insert(
            X_AMZ_CONTENT_SHA256,
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let p = parse(&d.req()).unwrap();
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 36, 0), &Policy::default()),
            Err(SigError::PayloadHashMismatch)
        );
    }

    #[test]
    fn signed_header_absent_from_request() {
        let mut d = doc();
        d.headers.remove("content-type");
        let p = parse(&d.req()).unwrap();
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 36, 0), &Policy::default()),
            Err(SigError::SignedHeaderMissing("content-type".into()))
        );
    }

    #[test]
    fn host_falls_back_to_the_authority() {
        let mut d = doc();
        d.headers.remove("host");
        d.uri = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
            .parse()
            .unwrap();
        let p = parse(&d.req()).unwrap();
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 36, 0), &Policy::default()),
            Ok(())
        );
    }

    #[test]
    fn clock_window_is_inclusive() {
        let d = doc();
        let p = parse(&d.req()).unwrap();
        let policy = Policy::default();
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 41, 0), &policy),
            Ok(())
        );
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 31, 0), &policy),
            Ok(())
        );
        let narrow = Policy {
            clock_window: Duration::from_secs(90),
        };
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 38, 0), &narrow)
                .unwrap_err()
                .to_string(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123630Z \
             (20150830T123800Z - 90 sec.)"
        );
    }

    #[test]
    fn clock_is_checked_before_the_signature() {
        let d = doc();
        let p = parse(&d.req()).unwrap();
        let err = verify(&p, &d.req(), "wrong", at(13, 0, 0), &Policy::default()).unwrap_err();
        assert_eq!(err.kind(), crate::SigErrorKind::Clock);
    }

    #[test]
    fn huge_windows_do_not_overflow() {
        let d = doc();
        let p = parse(&d.req()).unwrap();
        let policy = Policy {
            clock_window: Duration::from_secs(u64::MAX),
        };
        assert_eq!(
            verify(&p, &d.req(), DOC_SECRET, at(12, 36, 0), &policy),
            Ok(())
        );
    }
}
