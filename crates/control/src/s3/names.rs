//! S3's naming rules for general purpose buckets and object keys.

use super::error::S3Error;

const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// A general purpose bucket name: 3–63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit, no `..`, not an IPv4 address, none of the
/// reserved prefixes and suffixes.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !PREFIXES.iter().any(|p| name.starts_with(p))
        && !SUFFIXES.iter().any(|s| name.ends_with(s));
    if valid {
        Ok(())
    } else {
        Err(S3Error::InvalidBucketName {
            bucket: name.into(),
        })
    }
}

/// An object key: 1 to 1,024 bytes of UTF-8.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::InvalidArgument(
            "A key must be at least one character long.".into(),
        ));
    }
    if key.len() > 1024 {
        return Err(S3Error::KeyTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["abc", "my-bucket.logs", "a1-2-3", &"a".repeat(63)] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "-start",
            "end-",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "my-s3alias",
            "under_score",
            "sthree-x",
        ] {
            let e = check_bucket_name(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidBucketName", "{bad}");
        }
    }

    #[test]
    fn keys_are_one_to_1024_bytes() {
        assert!(check_key("a").is_ok());
        assert!(check_key(&"é".repeat(512)).is_ok());
        assert_eq!(
            check_key(&"a".repeat(1025)).unwrap_err().code(),
            "KeyTooLongError"
        );
        assert_eq!(check_key("").unwrap_err().code(), "InvalidArgument");
    }
}
