//! The protocols of a query-compatible service that clients pick between (CloudWatch: JSON
//! 1.0 for botocore, Smithy RPC v2 CBOR for other current SDKs, the query form for older
//! ones). A request, whichever protocol carried it, is decoded into one JSON tree
//! (timestamps as epoch seconds, query lists `X.member.N` as arrays); a response is one
//! [`Doc`], rendered as JSON, CBOR or query XML.
//! Knows nothing of the operations: shapes are the service adapter's.

use bytes::Bytes;
use ciborium::Value as Cbor;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{Map, Number, Value};

use crate::xml::XmlWriter;
use crate::{AwsError, QueryParams};

/// The `smithy-protocol` header value of RPC v2 CBOR requests and responses.
pub const RPC_V2_CBOR: &str = "rpc-v2-cbor";
/// CBOR's content type.
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";

/// A response document: what an operation returns, before a protocol spells it.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    /// A structure; members in the order given.
    Map(Vec<(&'static str, Doc)>),
    List(Vec<Doc>),
    Str(String),
    Int(i64),
    Float(f64),
    /// A timestamp, in seconds since the epoch.
    Time(f64),
}

impl Doc {
    /// CBOR, timestamps as tag 1 (epoch seconds).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = ciborium::into_writer(&self.cbor_value(), &mut out);
        out
    }

    /// JSON, timestamps as epoch seconds.
    pub fn to_json(&self) -> Value {
        match self {
            Doc::Map(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), v.to_json()))
                    .collect(),
            ),
            Doc::List(items) => Value::Array(items.iter().map(Doc::to_json).collect()),
            Doc::Str(s) => Value::String(s.clone()),
            Doc::Int(i) => Value::from(*i),
            Doc::Float(f) | Doc::Time(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        }
    }

    fn cbor_value(&self) -> Cbor {
        match self {
            Doc::Map(members) => Cbor::Map(
                members
                    .iter()
                    .map(|(k, v)| (Cbor::Text((*k).to_string()), v.cbor_value()))
                    .collect(),
            ),
            Doc::List(items) => Cbor::Array(items.iter().map(Doc::cbor_value).collect()),
            Doc::Str(s) => Cbor::Text(s.clone()),
            Doc::Int(i) => Cbor::Integer((*i).into()),
            Doc::Float(f) => Cbor::Float(*f),
            Doc::Time(t) => Cbor::Tag(1, Box::new(Cbor::Float(*t))),
        }
    }

    /// The members of a structure as query XML elements: lists as `<member>`s, timestamps
    /// in ISO 8601.
    pub fn write_xml(&self, w: &mut XmlWriter) {
        if let Doc::Map(members) = self {
            for (name, value) in members {
                write_xml_value(w, name, value);
            }
        }
    }
}

fn write_xml_value(w: &mut XmlWriter, tag: &str, value: &Doc) {
    match value {
        Doc::Map(_) => {
            w.open(tag);
            value.write_xml(w);
            w.close();
        }
        Doc::List(items) => {
            w.open(tag);
            for item in items {
                write_xml_value(w, "member", item);
            }
            w.close();
        }
        Doc::Str(s) => {
            w.elem(tag, s);
        }
        Doc::Int(i) => {
            w.elem(tag, &i.to_string());
        }
        Doc::Float(f) => {
            w.elem(tag, &f.to_string());
        }
        Doc::Time(t) => {
            w.elem(tag, &iso8601(*t));
        }
    }
}

fn iso8601(secs: f64) -> String {
    let millis = (secs * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// An RPC v2 CBOR success response.
pub fn cbor_response(doc: &Doc, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(doc.to_cbor()));
    *resp.status_mut() = StatusCode::OK;
    set_cbor_headers(&mut resp);
    crate::response::set_request_id(&mut resp, request_id);
    resp
}

pub(crate) fn set_cbor_headers(resp: &mut Response<Bytes>) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CBOR_CONTENT_TYPE),
    );
    h.insert("smithy-protocol", HeaderValue::from_static(RPC_V2_CBOR));
}

/// The request body as the operation sees it: botocore gzips large bodies of operations
/// with request compression (`Content-Encoding: gzip`, PutMetricData); inflated, at most
/// `limit` bytes.
pub fn decoded_body(
    headers: &http::HeaderMap,
    body: &Bytes,
    limit: usize,
) -> Result<Bytes, AwsError> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("gzip")));
    if !gzip {
        return Ok(body.clone());
    }
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| serialization(format!("the gzip body could not be inflated: {e}")))?;
    if out.len() > limit {
        return Err(AwsError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request body must be smaller than {limit} bytes"),
        ));
    }
    Ok(Bytes::from(out))
}

/// A CBOR request body as a JSON tree; an empty body is an empty structure.
pub fn from_cbor(body: &[u8]) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Cbor = ciborium::from_reader(body).map_err(|e| serialization(e.to_string()))?;
    to_json(value)
}

fn to_json(value: Cbor) -> Result<Value, AwsError> {
    Ok(match value {
        Cbor::Integer(i) => {
            let i = i128::from(i);
            if let Ok(n) = i64::try_from(i) {
                Value::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                Value::from(n)
            } else {
                return Err(serialization(format!("integer {i} is out of range")));
            }
        }
        Cbor::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| serialization(format!("{f} is not a finite number")))?,
        Cbor::Text(s) => Value::String(s),
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Null => Value::Null,
        Cbor::Tag(_, inner) => to_json(*inner)?,
        Cbor::Array(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err(serialization("map keys must be text strings"));
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Cbor::Bytes(_) => return Err(serialization("byte strings are not expected here")),
        _ => return Err(serialization("unsupported CBOR item")),
    })
}

fn serialization(detail: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        400,
        "SerializationException",
        format!("Could not parse the request body: {detail}"),
    )
}

/// The query form as a JSON tree: `A.B=v` nests, `X.member.N` becomes the N-th item of
/// array `X` (in index order), values stay strings.
pub fn from_query(params: &QueryParams) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in params.iter() {
        let segments: Vec<&str> = key.split('.').collect();
        insert(&mut root, &segments, value);
    }
    compact(root)
}

/// Arrays are built as objects keyed by the member index first, so they can be filled in
/// any order; [`compact`] turns them into arrays sorted by index.
fn insert(node: &mut Value, segments: &[&str], value: &str) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let Value::Object(map) = node else { return };
    let (key, rest) = match (rest.first(), rest.get(1)) {
        (Some(&"member"), Some(index)) if index.parse::<u64>().is_ok() => {
            let list = map
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(list_marker()));
            return insert(list, &[&[*index], &rest[2..]].concat(), value);
        }
        _ => (*first, rest),
    };
    if rest.is_empty() {
        map.insert(key.to_string(), Value::String(value.to_string()));
    } else {
        let child = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        insert(child, rest, value);
    }
}

const LIST_MARKER: &str = "\u{0}list";

fn list_marker() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(LIST_MARKER.into(), Value::Null);
    m
}

fn compact(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            if map.remove(LIST_MARKER).is_some() {
                let mut items: Vec<(u64, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, compact(v))))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, compact(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cbor_requests_decode_with_timestamps_as_seconds() {
        let request = Cbor::Map(vec![
            (
                Cbor::Text("Namespace".into()),
                Cbor::Text("AWS/Lambda".into()),
            ),
            (
                Cbor::Text("StartTime".into()),
                Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000.into()))),
            ),
            (Cbor::Text("Period".into()), Cbor::Integer(60.into())),
            (
                Cbor::Text("Statistics".into()),
                Cbor::Array(vec![Cbor::Text("Sum".into())]),
            ),
            (Cbor::Text("Value".into()), Cbor::Float(1.5)),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&request, &mut body).unwrap();
        assert_eq!(
            from_cbor(&body).unwrap(),
            json!({"Namespace": "AWS/Lambda", "StartTime": 1_700_000_000, "Period": 60,
                   "Statistics": ["Sum"], "Value": 1.5})
        );
        assert_eq!(from_cbor(b"").unwrap(), json!({}));
        assert_eq!(
            from_cbor(&[0xff, 0x00]).unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn gzip_bodies_are_inflated_within_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[b'x'; 100]).unwrap();
        let body = Bytes::from(gz.finish().unwrap());
        let mut headers = http::HeaderMap::new();
        assert_eq!(decoded_body(&headers, &body, 100).unwrap(), body);
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(
            decoded_body(&headers, &body, 100).unwrap(),
            &[b'x'; 100][..]
        );
        assert_eq!(decoded_body(&headers, &body, 99).unwrap_err().status, 413);
        let junk = Bytes::from_static(b"not gzip");
        assert_eq!(
            decoded_body(&headers, &junk, 100).unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn query_lists_become_arrays_in_index_order() {
        let q = QueryParams::parse(
            b"Action=GetMetricStatistics&Namespace=N&Dimensions.member.2.Name=b&Dimensions.member.1.Name=a&Dimensions.member.1.Value=x&Statistics.member.10=Sum&Statistics.member.2=Maximum&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name=FunctionName",
        )
        .unwrap();
        let tree = from_query(&q);
        assert_eq!(tree["Namespace"], "N");
        assert_eq!(
            tree["Dimensions"],
            json!([{"Name": "a", "Value": "x"}, {"Name": "b"}])
        );
        assert_eq!(tree["Statistics"], json!(["Maximum", "Sum"]));
        assert_eq!(
            tree["MetricDataQueries"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Name"],
            "FunctionName"
        );
    }

    #[test]
    fn documents_render_as_cbor_and_xml() {
        let doc = Doc::Map(vec![
            ("Label", Doc::Str("Invocations".into())),
            (
                "Datapoints",
                Doc::List(vec![Doc::Map(vec![
                    ("Timestamp", Doc::Time(1_700_000_040.0)),
                    ("Sum", Doc::Float(3.0)),
                ])]),
            ),
        ]);
        let back: Cbor = ciborium::from_reader(&doc.to_cbor()[..]).unwrap();
        let Cbor::Map(members) = back else { panic!() };
        assert_eq!(members[0].1, Cbor::Text("Invocations".into()));
        let Cbor::Array(points) = &members[1].1 else {
            panic!()
        };
        let Cbor::Map(point) = &points[0] else {
            panic!()
        };
        assert_eq!(
            point[0].1,
            Cbor::Tag(1, Box::new(Cbor::Float(1_700_000_040.0)))
        );
        assert_eq!(
            doc.to_json(),
            serde_json::json!({"Label": "Invocations",
                "Datapoints": [{"Timestamp": 1_700_000_040.0, "Sum": 3.0}]})
        );
        let mut w = XmlWriter::new();
        doc.write_xml(&mut w);
        assert!(w.finish().ends_with("<Label>Invocations</Label><Datapoints><member><Timestamp>2023-11-14T22:14:00.000Z</Timestamp><Sum>3</Sum></member></Datapoints>"));
    }
}
