//! Reading the client's signing claim (the `Authorization` header or the presigned `X-Amz-*`
//! query parameters) into a `Parsed` value, with AWS's texts for every malformed shape.
//!
//! Parsing checks structure only: it must not compute signatures, compare against the clock or
//! judge whether the access key, region or service is acceptable (that is the caller's routing).

use chrono::{DateTime, NaiveDateTime, Utc};
use http::header::{AUTHORIZATION, HOST};
use std::time::Duration;

use crate::canonical::{query_params, QueryParam};
use crate::error::{SigError, AMZ_DATE_FORMAT};
use crate::SignedRequest;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
/// AWS refuses presigned URLs valid for longer than a week.
const MAX_EXPIRES_SECS: u64 = 7 * 24 * 60 * 60;

pub(crate) const Q_ALGORITHM: &str = "X-Amz-Algorithm";
pub(crate) const Q_CREDENTIAL: &str = "X-Amz-Credential";
pub(crate) const Q_DATE: &str = "X-Amz-Date";
pub(crate) const Q_EXPIRES: &str = "X-Amz-Expires";
pub(crate) const Q_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub(crate) const Q_SIGNATURE: &str = "X-Amz-Signature";
pub(crate) const Q_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// The credential scope `<access key>/<yyyymmdd>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    /// `yyyymmdd`, already checked to equal the date of `X-Amz-Date`.
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Where the signature travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// `?X-Amz-Algorithm=…&X-Amz-Credential=…&…&X-Amz-Signature=…`.
    Presigned,
}

/// A structurally valid claim, not yet verified: route on `credential.service` and look up the
/// secret for `credential.access_key_id`, then call `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub credential: Credential,
    pub form: Form,
    /// SignedHeaders exactly as sent: the canonical request repeats it verbatim.
    pub(crate) signed_headers: String,
    pub(crate) signature: String,
    pub(crate) amz_date: String,
    pub(crate) request_time: DateTime<Utc>,
    /// Presigned lifetime; `None` in the header form.
    pub(crate) expires: Option<Duration>,
    pub(crate) security_token: Option<String>,
    /// The decoded query, kept so verification does not parse it again.
    pub(crate) query: Vec<QueryParam>,
}

impl Parsed {
    /// The session token of temporary credentials (`X-Amz-Security-Token` header or query
    /// parameter), which the caller must check belongs to the access key.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// The instant the client claims to have signed at (`X-Amz-Date`).
    pub fn request_time(&self) -> DateTime<Utc> {
        self.request_time
    }
}

/// Reads the signing claim of a request without verifying it.
pub fn parse(req: &SignedRequest) -> Result<Parsed, SigError> {
    let query = query_params(req.uri.query().unwrap_or(""));
    let presigned = query.iter().any(|p| {
        [Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE]
            .iter()
            .any(|name| p.key == name.as_bytes())
    });
    let mut authorizations = req.headers.get_all(AUTHORIZATION).iter();
    match (authorizations.next(), presigned) {
        (Some(_), true) => Err(SigError::Incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified"
                .into(),
        )),
        (Some(value), false) => {
            if authorizations.next().is_some() {
                return Err(SigError::Incomplete(
                    "Authorization header must be sent only once.".into(),
                ));
            }
            parse_header(req, value.as_bytes(), query)
        }
        (None, true) => parse_presigned(query),
        (None, false) => Err(SigError::Missing),
    }
}

fn parse_header(
    req: &SignedRequest,
    raw: &[u8],
    query: Vec<QueryParam>,
) -> Result<Parsed, SigError> {
    let value = String::from_utf8_lossy(raw);
    let amz_date = joined_header(req, X_AMZ_DATE);
    let (algorithm, rest) = value.split_once(' ').unwrap_or((&value, ""));
    if algorithm != ALGORITHM {
        if algorithm.starts_with("AWS4-") {
            return Err(SigError::UnsupportedAlgorithm(algorithm.to_string()));
        }
        return Err(requires(&value, true, true, true, amz_date.is_none()));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, val)) = part.split_once('=') else {
            return Err(SigError::Incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: '{value}'."
            )));
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert_with(|| val.trim().to_string());
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) = (
        credential.as_ref(),
        signed_headers.as_ref(),
        signature.as_ref(),
        amz_date.as_ref(),
    ) else {
        return Err(requires(
            &value,
            credential.is_none(),
            signature.is_none(),
            signed_headers.is_none(),
            amz_date.is_none(),
        ));
    };

    let credential = parse_credential(credential)?;
    check_signed_headers(signed_headers, true)?;
    let request_time = parse_amz_date(amz_date)?;
    check_scope_date(&credential, amz_date)?;
    let security_token = joined_header(req, X_AMZ_SECURITY_TOKEN);
    Ok(Parsed {
        credential,
        form: Form::Header,
        signed_headers: signed_headers.clone(),
        signature: signature.clone(),
        amz_date: amz_date.clone(),
        request_time,
        expires: None,
        security_token,
        query,
    })
}

/// AWS lists every missing piece in one message, then echoes the header.
fn requires(
    value: &str,
    credential: bool,
    signature: bool,
    signed_headers: bool,
    date: bool,
) -> SigError {
    let mut msg = String::new();
    for (missing, name) in [
        (credential, "Credential"),
        (signature, "Signature"),
        (signed_headers, "SignedHeaders"),
    ] {
        if missing {
            msg.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    msg.push_str(&format!("Authorization={value}"));
    SigError::Incomplete(msg)
}

fn parse_presigned(query: Vec<QueryParam>) -> Result<Parsed, SigError> {
    let get = |name: &str| {
        query
            .iter()
            .find(|p| p.key == name.as_bytes())
            .map(|p| String::from_utf8_lossy(&p.value).into_owned())
    };
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(amz_date),
        Some(signed_headers),
        Some(expires),
    ) = (
        get(Q_ALGORITHM),
        get(Q_CREDENTIAL),
        get(Q_SIGNATURE),
        get(Q_DATE),
        get(Q_SIGNED_HEADERS),
        get(Q_EXPIRES),
    )
    else {
        return Err(SigError::Incomplete(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters."
                .into(),
        ));
    };
    if algorithm != ALGORITHM {
        return Err(SigError::UnsupportedAlgorithm(algorithm));
    }
    let credential = parse_credential(&credential)?;
    // X-Amz-Date travels in the signed query here, so only `host` must be a signed header.
    check_signed_headers(&signed_headers, false)?;
    let request_time = parse_amz_date(&amz_date)?;
    check_scope_date(&credential, &amz_date)?;
    let expires = parse_expires(&expires)?;
    // The query token is the signed one; a header copy would be unsigned and is ignored.
    let security_token = get(Q_SECURITY_TOKEN);
    Ok(Parsed {
        credential,
        form: Form::Presigned,
        signed_headers,
        signature,
        amz_date,
        request_time,
        expires: Some(expires),
        security_token,
        query,
    })
}

fn parse_expires(raw: &str) -> Result<Duration, SigError> {
    let secs: i64 = raw
        .parse()
        .map_err(|_| SigError::Incomplete("X-Amz-Expires should be a number".into()))?;
    if secs < 0 {
        return Err(SigError::Incomplete(
            "X-Amz-Expires must be non-negative".into(),
        ));
    }
    let secs = secs.unsigned_abs();
    if secs > MAX_EXPIRES_SECS {
        return Err(SigError::Incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given \
             X-Amz-Expires must be less than {MAX_EXPIRES_SECS} seconds"
        )));
    }
    Ok(Duration::from_secs(secs))
}

fn parse_credential(raw: &str) -> Result<Credential, SigError> {
    let parts: Vec<&str> = raw.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(malformed_credential(raw));
    };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(malformed_credential(raw));
    }
    if *terminator != TERMINATOR {
        return Err(SigError::Incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not \
             '{terminator}'."
        )));
    }
    Ok(Credential {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

fn malformed_credential(raw: &str) -> SigError {
    SigError::Incomplete(format!(
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got '{raw}'"
    ))
}

/// Without `host` the signature would not bind the endpoint, without `x-amz-date` (in the header
/// form) not the time.
fn check_signed_headers(list: &str, date_header: bool) -> Result<(), SigError> {
    let signed = |name: &str| list.split(';').any(|h| h.eq_ignore_ascii_case(name));
    if !signed(HOST.as_str()) {
        return Err(SigError::HostNotSigned);
    }
    if date_header && !signed(X_AMZ_DATE) {
        return Err(SigError::DateNotSigned);
    }
    Ok(())
}

fn parse_amz_date(raw: &str) -> Result<DateTime<Utc>, SigError> {
    // chrono's parser tolerates signs and widths the basic format does not allow.
    let shape_ok = raw.len() == 16
        && raw.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(SigError::MalformedDate(raw.to_string()));
    }
    NaiveDateTime::parse_from_str(raw, AMZ_DATE_FORMAT)
        .map(|t| t.and_utc())
        .map_err(|_| SigError::MalformedDate(raw.to_string()))
}

fn check_scope_date(credential: &Credential, amz_date: &str) -> Result<(), SigError> {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    if credential.date != date {
        return Err(SigError::ScopeDateMismatch {
            scope: credential.date.clone(),
            date: date.to_string(),
            amz_date: amz_date.to_string(),
        });
    }
    Ok(())
}

/// All values of a header joined by `,`, or `None` when absent. Repeated `X-Amz-Date` headers
/// thereby fail the date format instead of one of them being silently chosen.
fn joined_header(req: &SignedRequest, name: &str) -> Option<String> {
    let mut values = req.headers.get_all(name).iter().peekable();
    values.peek()?;
    let joined: Vec<String> = values
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    Some(joined.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method, Uri};

    fn req_parts(uri: &str, headers: &[(&str, &str)]) -> (Method, Uri, HeaderMap) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        (Method::GET, uri.parse().unwrap(), map)
    }

    fn parse_with(uri: &str, headers: &[(&str, &str)]) -> Result<Parsed, SigError> {
        let (m, u, h) = req_parts(uri, headers);
        parse(&SignedRequest {
            method: &m,
            uri: &u,
            headers: &h,
            body: b"",
        })
    }

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, \
                        SignedHeaders=host;x-amz-date, Signature=abcd";

    #[test]
    fn parses_a_well_formed_header() {
        let p = parse_with(
            "/",
            &[
                ("authorization", GOOD),
                ("x-amz-date", "20150830T123600Z"),
                ("x-amz-security-token", "tok"),
            ],
        )
        .unwrap();
        assert_eq!(p.form, Form::Header);
        assert_eq!(
            p.credential,
            Credential {
                access_key_id: "AKID".into(),
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "lambda".into(),
            }
        );
        assert_eq!(p.security_token(), Some("tok"));
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert_eq!(p.signature, "abcd");
    }

    #[test]
    fn no_authentication_is_missing() {
        assert_eq!(parse_with("/?Action=X", &[]), Err(SigError::Missing));
    }

    #[test]
    fn non_sigv4_header_lists_everything_missing() {
        let err = parse_with("/", &[("authorization", "Bearer abc")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header \
             requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization header requires existence of either a 'X-Amz-Date' or a \
             'Date' header. Authorization=Bearer abc"
        );
    }

    #[test]
    fn missing_parts_are_listed() {
        let err = parse_with(
            "/",
            &[
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request",
                ),
                ("x-amz-date", "20150830T123600Z"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 \
             Credential=AKID/20150830/us-east-1/lambda/aws4_request"
        );
        assert_eq!(err.kind(), crate::SigErrorKind::Incomplete);
    }

    #[test]
    fn missing_date_header_is_incomplete() {
        let err = parse_with("/", &[("authorization", GOOD)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
                 header. Authorization={GOOD}"
            )
        );
    }

    #[test]
    fn pair_without_equals_is_reported() {
        let auth = "AWS4-HMAC-SHA256 Credential= AKID/20150830/us-east-1/lambda/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abcd";
        let broken = auth.replace("Credential= ", "Credential=x, ");
        let err = parse_with(
            "/",
            &[
                ("authorization", &broken),
                ("x-amz-date", "20150830T123600Z"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "'AKID/20150830/us-east-1/lambda/aws4_request' not a valid key=value pair \
                 (missing equal-sign) in Authorization header: '{broken}'."
            )
        );
    }

    #[test]
    fn unsupported_algorithm() {
        let auth = GOOD.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        let err = parse_with(
            "/",
            &[("authorization", &auth), ("x-amz-date", "20150830T123600Z")],
        )
        .unwrap_err();
        assert_eq!(
            err,
            SigError::UnsupportedAlgorithm("AWS4-ECDSA-P256-SHA256".into())
        );
        assert_eq!(err.kind(), crate::SigErrorKind::Incomplete);
    }

    #[test]
    fn credential_shape_is_checked() {
        for (cred, msg) in [
            (
                "AKID/20150830/us-east-1/lambda",
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got 'AKID/20150830/us-east-1/lambda'",
            ),
            (
                "AKID/20150830//lambda/aws4_request",
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got 'AKID/20150830//lambda/aws4_request'",
            ),
            (
                "AKID/20150830/us-east-1/lambda/aws5_request",
                "Credential should be scoped with a valid terminator: 'aws4_request', not \
                 'aws5_request'.",
            ),
        ] {
            let auth = GOOD.replace("AKID/20150830/us-east-1/lambda/aws4_request", cred);
            let err = parse_with(
                "/",
                &[("authorization", &auth), ("x-amz-date", "20150830T123600Z")],
            )
            .unwrap_err();
            assert_eq!(err.to_string(), msg);
        }
    }

    #[test]
    fn host_and_date_must_be_signed() {
        let date = ("x-amz-date", "20150830T123600Z");
        let no_host = GOOD.replace("host;x-amz-date", "x-amz-date");
        assert_eq!(
            parse_with("/", &[("authorization", &no_host), date]),
            Err(SigError::HostNotSigned)
        );
        let no_date = GOOD.replace("host;x-amz-date", "host");
        assert_eq!(
            parse_with("/", &[("authorization", &no_date), date]),
            Err(SigError::DateNotSigned)
        );
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "+0150830T123600Z",
            "20150830t123600Z",
        ] {
            let err = parse_with("/", &[("authorization", GOOD), ("x-amz-date", bad)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{bad}'. See \
                     http://en.wikipedia.org/wiki/ISO_8601"
                )
            );
        }
    }

    #[test]
    fn repeated_date_headers_are_malformed() {
        let err = parse_with(
            "/",
            &[
                ("authorization", GOOD),
                ("x-amz-date", "20150830T123600Z"),
                ("x-amz-date", "20150830T123601Z"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err,
            SigError::MalformedDate("20150830T123600Z,20150830T123601Z".into())
        );
    }

    #[test]
    fn scope_date_must_match() {
        let err = parse_with(
            "/",
            &[("authorization", GOOD), ("x-amz-date", "20150831T000000Z")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '20150830' != '20150831', from '20150831T000000Z'."
        );
        assert_eq!(err.kind(), crate::SigErrorKind::Mismatch);
    }

    #[test]
    fn duplicate_authorization_is_rejected() {
        let err = parse_with(
            "/",
            &[
                ("authorization", GOOD),
                ("authorization", GOOD),
                ("x-amz-date", "20150830T123600Z"),
            ],
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::SigErrorKind::Incomplete);
    }

    #[test]
    fn both_mechanisms_are_rejected() {
        let err = parse_with(
            "/?X-Amz-Signature=abc",
            &[("authorization", GOOD), ("x-amz-date", "20150830T123600Z")],
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::SigErrorKind::Incomplete);
    }

    const PRESIGNED: &str = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fsts%2Faws4_request\
        &X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
        &X-Amz-Security-Token=a%2Bb&X-Amz-Signature=abcd";

    #[test]
    fn parses_presigned_query() {
        let p = parse_with(PRESIGNED, &[]).unwrap();
        assert_eq!(p.form, Form::Presigned);
        assert_eq!(p.credential.service, "sts");
        assert_eq!(p.expires, Some(Duration::from_secs(60)));
        assert_eq!(p.signed_headers, "host");
        assert_eq!(p.security_token(), Some("a+b"));
    }

    #[test]
    fn presigned_requires_all_parameters() {
        let uri = PRESIGNED.replace("&X-Amz-Expires=60", "");
        let err = parse_with(&uri, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters."
        );
    }

    #[test]
    fn presigned_expires_is_bounded() {
        for (value, msg) in [
            ("abc", "X-Amz-Expires should be a number"),
            ("-1", "X-Amz-Expires must be non-negative"),
            (
                "604801",
                "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                 X-Amz-Expires must be less than 604800 seconds",
            ),
        ] {
            let uri = PRESIGNED.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={value}"));
            assert_eq!(parse_with(&uri, &[]).unwrap_err().to_string(), msg);
        }
        let week = PRESIGNED.replace("X-Amz-Expires=60", "X-Amz-Expires=604800");
        assert!(parse_with(&week, &[]).is_ok());
    }
}
