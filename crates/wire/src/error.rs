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
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
}
