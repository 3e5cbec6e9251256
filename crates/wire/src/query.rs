//! Decoding of the AWS query and EC2 protocols' form parameters (`Action=…&Filter.1.Name=…`)
//! into a flat map with accessors for their list and structure encodings. Bounded: a
//! request with more than [`MAX_PARAMS`] parameters is refused before anything is built.

use std::collections::BTreeMap;

use crate::AwsError;

/// The most parameters one request may carry; AWS's own request size limits keep real
/// clients far below this.
pub const MAX_PARAMS: usize = 10_000;

/// Form parameters of one query-protocol request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryParams {
    map: BTreeMap<String, String>,
}

impl QueryParams {
    /// Parses `application/x-www-form-urlencoded` bytes (a body or a URL query string).
    pub fn parse(raw: &[u8]) -> Result<Self, AwsError> {
        let mut map = BTreeMap::new();
        for (i, (k, v)) in form_urlencoded::parse(raw).enumerate() {
            if i >= MAX_PARAMS {
                return Err(AwsError::new(
                    400,
                    "MalformedQueryString",
                    format!("The request has more than {MAX_PARAMS} parameters."),
                ));
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(QueryParams { map })
    }

    /// Adds the parameters of `other` that this one does not have (URL query + body).
    pub fn merge_missing(&mut self, other: QueryParams) {
        for (k, v) in other.map {
            self.map.entry(k).or_insert(v);
        }
    }

    /// Every parameter, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// The parameter, or AWS's `MissingParameter` error naming it.
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::new(
                400,
                "MissingParameter",
                format!("The request must contain the parameter {name}"),
            )
        })
    }

    /// A boolean parameter (`true`/`false`, case-insensitive), or `InvalidParameterValue`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(invalid_value(name, v)),
        }
    }

    /// An integer parameter, or `InvalidParameterValue`.
    pub fn int(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| invalid_value(name, v)),
        }
    }

    /// Values of a flattened list `prefix.1`, `prefix.2`, … in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.indexed(prefix)
            .into_iter()
            .filter(|(_, rest, _)| rest.is_empty())
            .map(|(_, _, v)| v.to_string())
            .collect()
    }

    /// Values of an IAM-style list `prefix.member.1`, … in index order.
    pub fn member_list(&self, prefix: &str) -> Vec<String> {
        self.list(&format!("{prefix}.member"))
    }

    /// Structures of a flattened list: `prefix.N.field…` becomes one `QueryParams` per N
    /// holding `field…`, in index order.
    pub fn structs(&self, prefix: &str) -> Vec<QueryParams> {
        let mut by_index: BTreeMap<u64, QueryParams> = BTreeMap::new();
        for (i, rest, v) in self.indexed(prefix) {
            if let Some(field) = rest.strip_prefix('.') {
                by_index
                    .entry(i)
                    .or_default()
                    .map
                    .insert(field.to_string(), v.to_string());
            }
        }
        by_index.into_values().collect()
    }

    /// `(index, remainder, value)` of every key `prefix.<index><remainder>`.
    fn indexed<'a>(&'a self, prefix: &str) -> Vec<(u64, &'a str, &'a str)> {
        let dotted = format!("{prefix}.");
        let mut out: Vec<(u64, &str, &str)> = self
            .map
            .range(dotted.clone()..)
            .take_while(|(k, _)| k.starts_with(&dotted))
            .filter_map(|(k, v)| {
                let tail = &k[dotted.len()..];
                let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
                let index = tail[..digits].parse().ok()?;
                Some((index, &tail[digits..], v.as_str()))
            })
            .collect();
        out.sort_by_key(|(i, _, _)| *i);
        out
    }
}

fn invalid_value(name: &str, value: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterValue",
        format!("Value ({value}) for parameter {name} is invalid."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_filters_and_lists_in_index_order() {
        let q = QueryParams::parse(
            b"Action=DescribeNetworkInterfaces&Filter.1.Name=group-id&Filter.1.Value.2=sg-2&Filter.1.Value.1=sg-1&Filter.10.Name=z&Filter.2.Name=vpc-id&NetworkInterfaceId.1=eni-1",
        )
        .unwrap();
        assert_eq!(q.get("Action"), Some("DescribeNetworkInterfaces"));
        let filters = q.structs("Filter");
        assert_eq!(filters.len(), 3);
        assert_eq!(filters[0].get("Name"), Some("group-id"));
        assert_eq!(filters[0].list("Value"), vec!["sg-1", "sg-2"]);
        assert_eq!(filters[1].get("Name"), Some("vpc-id"));
        assert_eq!(filters[2].get("Name"), Some("z"));
        assert_eq!(q.list("NetworkInterfaceId"), vec!["eni-1"]);
    }

    #[test]
    fn member_lists_and_required() {
        let q = QueryParams::parse(b"Tags.member.2.Key=b&Tags.member.1.Key=a&X=%2F").unwrap();
        let tags = q.structs("Tags.member");
        assert_eq!(tags[0].get("Key"), Some("a"));
        assert_eq!(q.required("X").unwrap(), "/");
        assert_eq!(q.required("Y").unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn bounded_parameter_count() {
        let raw: String = (0..MAX_PARAMS + 1).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(
            QueryParams::parse(raw.as_bytes()).unwrap_err().code,
            "MalformedQueryString"
        );
    }

    #[test]
    fn typed_accessors() {
        let q = QueryParams::parse(b"A=true&B=7&C=x").unwrap();
        assert_eq!(q.bool("A").unwrap(), Some(true));
        assert_eq!(q.int("B").unwrap(), Some(7));
        assert_eq!(q.int("C").unwrap_err().code, "InvalidParameterValue");
    }
}
