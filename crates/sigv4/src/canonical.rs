//! Canonical-request pieces rebuilt from the raw request, the way AWS clients (botocore, the AWS
//! SDK for Rust) build them for non-S3 services.
//!
//! Pure string work on what arrived on the wire: this module must not decide whether a request
//! is valid, read clocks or touch secrets. Where clients disagree on a detail (path dot-segment
//! normalization, tabs in header values) it offers every variant a real client produces and the
//! verifier tries each.

use std::borrow::Cow;

use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything except RFC 3986 unreserved characters is encoded.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Paths keep their separators; every other byte outside unreserved is encoded, including `%`,
/// which is what makes the canonical path of an encoded request path double-encoded.
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// Canonical URI candidates for a raw request path, most common first: with dot segments and
/// repeated slashes removed (every SDK's default for non-S3 services), then as sent (clients
/// that switch normalization off). The second is only present when it differs.
pub(crate) fn uri_candidates(raw_path: &str) -> Vec<String> {
    let as_sent = if raw_path.is_empty() { "/" } else { raw_path };
    let normalized = encode_path(&normalize_path(as_sent));
    let literal = encode_path(as_sent);
    if normalized == literal {
        vec![normalized]
    } else {
        vec![normalized, literal]
    }
}

fn encode_path(path: &str) -> String {
    percent_encode(path.as_bytes(), PATH_SET).to_string()
}

/// RFC 3986 §5.2.4 dot-segment removal plus merging of empty segments, as the AWS SDKs do.
/// Operates on the still-encoded path, so `%2E%2E` is a name, not a parent reference.
fn normalize_path(path: &str) -> Cow<'_, str> {
    let absolute = if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    };
    if !(absolute.contains('.') || absolute.contains("//")) {
        return absolute;
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in absolute.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            name => kept.push(name),
        }
    }
    let mut out = String::with_capacity(absolute.len());
    for name in &kept {
        out.push('/');
        out.push_str(name);
    }
    let ends_in_directory = ["/", "/.", "/.."].iter().any(|s| absolute.ends_with(s));
    if out.is_empty() || ends_in_directory {
        out.push('/');
    }
    Cow::Owned(out)
}

/// One decoded query parameter; `+` is a space, as form decoding (and the SDK signers) read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Splits a raw query string into decoded parameters; empty pieces (`a=1&&b=2`) carry nothing.
pub(crate) fn query_params(raw_query: &str) -> Vec<QueryParam> {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            QueryParam {
                key: form_decode(key),
                value: form_decode(value),
            }
        })
        .collect()
}

fn form_decode(raw: &str) -> Vec<u8> {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes()).collect()
}

/// The canonical query string: every parameter except `skip` re-encoded per RFC 3986, sorted by
/// encoded key then value, parameters without a value written as `key=`.
pub(crate) fn canonical_query(params: &[QueryParam], skip: Option<&[u8]>) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|p| Some(p.key.as_slice()) != skip)
        .map(|p| {
            (
                percent_encode(&p.key, QUERY_SET).to_string(),
                percent_encode(&p.value, QUERY_SET).to_string(),
            )
        })
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (key, value)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// How runs of whitespace inside a header value are collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whitespace {
    /// Spaces and tabs (botocore and the Java SDK treat all whitespace alike).
    SpacesAndTabs,
    /// Spaces only (the AWS SDK for Rust, and the letter of the SigV4 spec).
    SpacesOnly,
}

impl Whitespace {
    fn is_blank(self, b: u8) -> bool {
        b == b' ' || (self == Whitespace::SpacesAndTabs && b == b'\t')
    }
}

/// Trims a header value and collapses each inner run of blanks to one space.
pub(crate) fn header_value(value: &[u8], ws: Whitespace) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut pending_space = false;
    for &b in value {
        if ws.is_blank(b) {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_path_is_double_encoded() {
        assert_eq!(
            uri_candidates("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af"),
            vec!["/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A1%253Afunction%253Af"]
        );
    }

    #[test]
    fn raw_reserved_bytes_in_path_are_encoded() {
        assert_eq!(uri_candidates("/a:b@c"), vec!["/a%3Ab%40c"]);
        assert_eq!(uri_candidates("/-._~"), vec!["/-._~"]);
    }

    #[test]
    fn empty_path_is_root() {
        assert_eq!(uri_candidates(""), vec!["/"]);
    }

    #[test]
    fn dot_segments_offer_both_forms() {
        assert_eq!(uri_candidates("/./"), vec!["/", "/./"]);
        assert_eq!(
            uri_candidates("//example//"),
            vec!["/example/", "//example//"]
        );
        assert_eq!(uri_candidates("/example/.."), vec!["/", "/example/.."]);
        assert_eq!(uri_candidates("/a/b/../c"), vec!["/a/c", "/a/b/../c"]);
        assert_eq!(uri_candidates("/a/b/."), vec!["/a/b/", "/a/b/."]);
        assert_eq!(uri_candidates("/../x"), vec!["/x", "/../x"]);
    }

    #[test]
    fn encoded_dots_are_names() {
        assert_eq!(uri_candidates("/a/%2E%2E/b"), vec!["/a/%252E%252E/b"]);
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        let params = query_params("b=2&a=%24LATEST&a=1&flag&c=x+y&d=%7e&&e=a%2Bb");
        assert_eq!(
            canonical_query(&params, None),
            "a=%24LATEST&a=1&b=2&c=x%20y&d=~&e=a%2Bb&flag="
        );
    }

    #[test]
    fn query_skips_the_named_parameter() {
        let params = query_params("X-Amz-Signature=abc&Action=Get");
        assert_eq!(
            canonical_query(&params, Some(b"X-Amz-Signature")),
            "Action=Get"
        );
    }

    #[test]
    fn query_sorts_by_encoded_form() {
        // Raw "ሴ" encodes to "%E1..." which sorts before ASCII letters.
        let params = query_params("Param=1&%E1%88%B4=2");
        assert_eq!(canonical_query(&params, None), "%E1%88%B4=2&Param=1");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let ws = Whitespace::SpacesAndTabs;
        assert_eq!(header_value(b"  a   b  c  ", ws), b"a b c");
        assert_eq!(header_value(b"\"a   b   c\"", ws), b"\"a b c\"");
        assert_eq!(header_value(b"a\t \tb", ws), b"a b");
        assert_eq!(header_value(b"a\t \tb", Whitespace::SpacesOnly), b"a\t \tb");
        assert_eq!(header_value(b"   ", ws), b"");
    }
}
