//! One AWS error value and its rendering in each protocol's envelope. Domain layers build
//! an [`AwsError`]; only this module knows how rest-json, EC2 query, IAM/STS query and
//! JSON 1.1 put it on the wire.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::xml::XmlWriter;

/// The wire protocol of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Lambda: REST paths, JSON bodies, `x-amzn-ErrorType`.
    RestJson,
    /// EC2: form-encoded query, XML with `<Response><Errors>`.
    Ec2,
    /// IAM and STS: form-encoded query, XML with `<ErrorResponse>` in the given namespace.
    Query { xmlns: &'static str },
    /// CloudWatch Logs: `X-Amz-Target`, JSON `{"__type","message"}`.
    Json11,
    /// JSON 1.0 of a query-compatible service (CloudWatch, as botocore sends it): JSON
    /// `{"__type","message"}` plus `x-amzn-query-error: <query code>;Sender|Receiver`.
    Json10,
    /// Smithy RPC v2 CBOR of a query-compatible service (CloudWatch): CBOR
    /// `{"__type","message"}` plus `x-amzn-query-error: <query code>;Sender|Receiver`.
    RpcV2Cbor,
}

/// An error as AWS reports it: a code, a message, an HTTP status, and protocol extras.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: StatusCode,
    /// Extra members of the rest-json / JSON body (`Reason`, `EC2ErrorCode`, …).
    pub fields: Vec<(String, serde_json::Value)>,
    /// Extra response headers (`Retry-After`, …).
    pub headers: Vec<(String, String)>,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_field(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.push((name.to_string(), value.into()));
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// AWS's `InternalFailure`-style error for faults of ours; the detail goes to the log,
    /// not to the client.
    pub fn internal() -> Self {
        AwsError::new(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    fn is_client_fault(&self) -> bool {
        self.status.is_client_error()
    }

    /// `x-amzn-query-error`: the code a query-compatible service's clients look up.
    fn query_error(&self) -> String {
        let fault = if self.is_client_fault() {
            "Sender"
        } else {
            "Receiver"
        };
        format!("{};{fault}", self.code)
    }

    /// Renders the error in `protocol`'s envelope with the request id AWS clients read.
    pub fn into_response(self, protocol: Protocol, request_id: &str) -> Response<Bytes> {
        let (content_type, body) = match protocol {
            Protocol::RestJson | Protocol::Json11 => {
                let mut obj = serde_json::Map::new();
                if protocol == Protocol::Json11 {
                    obj.insert("__type".into(), self.code.clone().into());
                } else {
                    let kind = if self.is_client_fault() {
                        "User"
                    } else {
                        "Service"
                    };
                    obj.insert("Type".into(), kind.into());
                }
                obj.insert("message".into(), self.message.clone().into());
                for (k, v) in &self.fields {
                    obj.insert(k.clone(), v.clone());
                }
                let ct = if protocol == Protocol::Json11 {
                    "application/x-amz-json-1.1"
                } else {
                    "application/json"
                };
                (ct, serde_json::Value::Object(obj).to_string())
            }
            Protocol::Json10 => {
                let body = serde_json::json!({ "__type": self.code, "message": self.message });
                let mut resp = Response::new(Bytes::from(body.to_string()));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-amz-json-1.0"),
                );
                let query_error = self.query_error();
                return self.finish(resp, protocol, request_id, Some(query_error));
            }
            Protocol::RpcV2Cbor => {
                let doc = crate::Doc::Map(vec![
                    ("__type", crate::Doc::Str(self.code.clone())),
                    ("message", crate::Doc::Str(self.message.clone())),
                ]);
                let mut resp = Response::new(Bytes::from(doc.to_cbor()));
                crate::document::set_cbor_headers(&mut resp);
                let query_error = self.query_error();
                return self.finish(resp, protocol, request_id, Some(query_error));
            }
            Protocol::Ec2 => {
                let mut w = XmlWriter::new();
                w.open("Response");
                w.open("Errors");
                w.open("Error");
                w.elem("Code", &self.code);
                w.elem("Message", &self.message);
                w.close();
                w.close();
                w.elem("RequestID", request_id);
                w.close();
                ("text/xml;charset=UTF-8", w.finish())
            }
            Protocol::Query { xmlns } => {
                let mut w = XmlWriter::new();
                w.open_ns("ErrorResponse", xmlns);
                w.open("Error");
                w.elem(
                    "Type",
                    if self.is_client_fault() {
                        "Sender"
                    } else {
                        "Receiver"
                    },
                );
                w.elem("Code", &self.code);
                w.elem("Message", &self.message);
                w.close();
                w.elem("RequestId", request_id);
                w.close();
                ("text/xml", w.finish())
            }
        };
        let mut resp = Response::new(Bytes::from(body));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        self.finish(resp, protocol, request_id, None)
    }

    /// Status, request id and the extra headers, the same for every protocol.
    fn finish(
        self,
        mut resp: Response<Bytes>,
        protocol: Protocol,
        request_id: &str,
        query_error: Option<String>,
    ) -> Response<Bytes> {
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        if let Some(v) = query_error.and_then(|q| HeaderValue::from_str(&q).ok()) {
            h.insert("x-amzn-query-error", v);
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        if protocol == Protocol::RestJson {
            if let Ok(v) = HeaderValue::from_str(&self.code) {
                h.insert("x-amzn-errortype", v);
            }
        }
        for (k, v) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                h.insert(name, value);
            }
        }
        resp
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Bytes>) -> String {
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    #[test]
    fn rest_json_sets_error_type_header_and_type_member() {
        let e = AwsError::new(404, "ResourceNotFoundException", "Function not found: x");
        let r = e.into_response(Protocol::RestJson, "rid");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-amzn-errortype"], "ResourceNotFoundException");
        assert_eq!(r.headers()["x-amzn-requestid"], "rid");
        let v: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
        assert_eq!(v["Type"], "User");
        assert_eq!(v["message"], "Function not found: x");
    }

    #[test]
    fn ec2_envelope_uses_capitalised_request_id() {
        let e = AwsError::new(
            400,
            "InvalidVpcID.NotFound",
            "The vpc ID 'vpc-1' does not exist",
        );
        let r = e.into_response(Protocol::Ec2, "rid");
        assert_eq!(
            body(&r),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID &apos;vpc-1&apos; does not exist</Message></Error></Errors><RequestID>rid</RequestID></Response>"
        );
    }

    #[test]
    fn query_envelope_marks_sender_and_receiver() {
        let ns = "https://iam.amazonaws.com/doc/2010-05-08/";
        let r = AwsError::new(404, "NoSuchEntity", "gone")
            .into_response(Protocol::Query { xmlns: ns }, "r");
        assert!(body(&r).contains("<Type>Sender</Type>"));
        let r = AwsError::internal().into_response(Protocol::Query { xmlns: ns }, "r");
        assert!(body(&r).contains("<Type>Receiver</Type>"));
        assert_eq!(r.status(), 500);
    }

    #[test]
    fn json11_uses_dunder_type() {
        let r = AwsError::new(
            400,
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
        .into_response(Protocol::Json11, "r");
        let v: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
        assert_eq!(v["__type"], "ResourceNotFoundException");
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
    }

    #[test]
    fn json10_carries_type_and_query_error_header() {
        let r = AwsError::new(
            400,
            "MissingParameter",
            "The parameter Namespace is required.",
        )
        .into_response(Protocol::Json10, "r");
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        assert_eq!(r.headers()["x-amzn-query-error"], "MissingParameter;Sender");
        let v: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
        assert_eq!(v["__type"], "MissingParameter");
    }

    #[test]
    fn rpc_v2_cbor_carries_type_and_query_error_header() {
        let r = AwsError::new(
            400,
            "InvalidParameterValue",
            "The value AWS/Lambda for parameter Namespace is invalid.",
        )
        .into_response(Protocol::RpcV2Cbor, "r");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
        assert_eq!(r.headers()["content-type"], "application/cbor");
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "InvalidParameterValue;Sender"
        );
        assert_eq!(r.headers()["x-amzn-requestid"], "r");
        let v = crate::document::from_cbor(r.body()).unwrap();
        assert_eq!(v["__type"], "InvalidParameterValue");
        assert_eq!(
            v["message"],
            "The value AWS/Lambda for parameter Namespace is invalid."
        );
    }
}
