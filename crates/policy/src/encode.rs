//! Percent-encoding of policy documents for IAM responses. Owns only the byte mapping; it must
//! not reformat or re-serialise the JSON, because clients compare the text they get back.

/// Percent-encodes `doc` exactly as Python's `urllib.parse.quote(doc, safe='')` does, which is
/// the inverse of the `unquote` botocore applies to every IAM policy document it receives.
pub fn url_encode_document(doc: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(doc.len() * 3);
    for byte in doc.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::url_encode_document;

    #[test]
    fn matches_python_quote_with_no_safe_characters() {
        let cases = [
            ("", ""),
            ("abcXYZ019_.-~", "abcXYZ019_.-~"),
            (
                r#"{"Version": "2012-10-17"}"#,
                "%7B%22Version%22%3A%20%222012-10-17%22%7D",
            ),
            ("a/b:c*d?e", "a%2Fb%3Ac%2Ad%3Fe"),
            ("\n\t+%", "%0A%09%2B%25"),
            ("é", "%C3%A9"),
        ];
        for (input, want) in cases {
            assert_eq!(url_encode_document(input), want, "input {input:?}");
        }
    }

    fn percent_decode(encoded: &str) -> Vec<u8> {
        let bytes = encoded.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn decoding_gives_back_the_document(doc in "\\PC{0,64}") {
            let encoded = url_encode_document(&doc);
            proptest::prop_assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-~%".contains(&b)));
            proptest::prop_assert_eq!(percent_decode(&encoded), doc.as_bytes());
        }
    }
}
