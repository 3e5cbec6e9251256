//! Success envelopes: the IAM/STS query `<XResponse><XResult>…`, EC2's `<XResponse>` with
//! `<requestId>`, and JSON bodies. Services fill in the result; the envelope and the
//! request id header are added here, the same way for every operation.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::xml::XmlWriter;

/// EC2's response namespace.
pub const EC2_XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// `<{action}Response xmlns><{action}Result>…</…Result><ResponseMetadata>…` (IAM, STS).
pub fn query(
    action: &str,
    xmlns: &str,
    request_id: &str,
    result: impl FnOnce(&mut XmlWriter),
) -> Response<Bytes> {
    let mut w = XmlWriter::new();
    w.open_ns(&format!("{action}Response"), xmlns);
    w.open(&format!("{action}Result"));
    result(&mut w);
    w.close();
    w.open("ResponseMetadata");
    w.elem("RequestId", request_id);
    w.close();
    xml(w.finish(), request_id)
}

/// A query response without a result element (operations with no output).
pub fn query_empty(action: &str, xmlns: &str, request_id: &str) -> Response<Bytes> {
    let mut w = XmlWriter::new();
    w.open_ns(&format!("{action}Response"), xmlns);
    w.open("ResponseMetadata");
    w.elem("RequestId", request_id);
    w.close();
    xml(w.finish(), request_id)
}

/// `<{action}Response xmlns="…ec2…"><requestId/>…</…>` (EC2).
pub fn ec2(action: &str, request_id: &str, body: impl FnOnce(&mut XmlWriter)) -> Response<Bytes> {
    let mut w = XmlWriter::new();
    w.open_ns(&format!("{action}Response"), EC2_XMLNS);
    w.elem("requestId", request_id);
    body(&mut w);
    xml(w.finish(), request_id)
}

fn xml(doc: String, request_id: &str) -> Response<Bytes> {
    with_headers(
        Response::new(Bytes::from(doc)),
        StatusCode::OK,
        "text/xml",
        request_id,
    )
}

/// A JSON body with `status` (rest-json and JSON 1.1).
pub fn json(
    status: u16,
    value: &serde_json::Value,
    content_type: &'static str,
    request_id: &str,
) -> Response<Bytes> {
    with_headers(
        Response::new(Bytes::from(value.to_string())),
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        content_type,
        request_id,
    )
}

/// An empty body with `status` (204s).
pub fn empty(status: u16, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    set_request_id(&mut resp, request_id);
    resp
}

fn with_headers(
    mut resp: Response<Bytes>,
    status: StatusCode,
    content_type: &'static str,
    request_id: &str,
) -> Response<Bytes> {
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    set_request_id(&mut resp, request_id);
    resp
}

/// Sets `x-amzn-RequestId`, which botocore reads into `ResponseMetadata.RequestId`.
pub fn set_request_id(resp: &mut Response<Bytes>, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_envelope_wraps_result_and_metadata() {
        let r = query(
            "GetCallerIdentity",
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "rid",
            |w| {
                w.elem("Account", "000000000000");
            },
        );
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        assert!(body.contains("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"));
        assert_eq!(r.headers()["x-amzn-requestid"], "rid");
    }

    #[test]
    fn ec2_envelope_starts_with_request_id() {
        let r = ec2("DeleteVpc", "rid", |w| {
            w.bool_elem("return", true);
        });
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        assert!(body.ends_with("<DeleteVpcResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>rid</requestId><return>true</return></DeleteVpcResponse>"));
    }
}
