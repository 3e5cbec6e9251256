//! Wildcard matching shared by the `Action`/`Resource` elements and the `String*Like`/`Arn*`
//! condition operators. Owns only the string algorithms; it must not know about statements,
//! effects or request contexts.

/// Matches `value` against `pattern`, where `*` stands for any run of characters (including
/// none) and `?` for exactly one. `fold_case` compares letters case-insensitively, as IAM does
/// for action names.
pub(crate) fn glob(pattern: &str, value: &str, fold_case: bool) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    let same = |a: char, b: char| {
        if fold_case {
            a == b || a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut p, mut v) = (0, 0);
    // The most recent `*` and the value position it is currently made to cover up to; on a
    // mismatch we let that star swallow one more character instead of exploring every split.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, v));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == '?' || same(pattern[p], value[v])) {
            p += 1;
            v += 1;
        } else if let Some((star_p, star_v)) = star {
            p = star_p + 1;
            v = star_v + 1;
            star = Some((star_p, star_v + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches an ARN against an ARN pattern the way IAM does for `Resource` and `ArnLike`: each of
/// the six colon-separated parts is matched on its own, so a wildcard in the region cannot eat
/// into the account. The sixth part keeps any further colons (`log-group:/aws/x:*`).
/// Anything that is not a six-part ARN on both sides is matched as one plain string.
pub(crate) fn arn_like(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    if pattern_parts.len() == 6 && value_parts.len() == 6 {
        pattern_parts
            .iter()
            .zip(&value_parts)
            .all(|(p, v)| glob(p, v, false))
    } else {
        glob(pattern, value, false)
    }
}

#[cfg(test)]
mod tests {
    use super::{arn_like, glob};

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", false, true),
            ("*", "anything", false, true),
            ("", "", false, true),
            ("", "a", false, false),
            ("abc", "abc", false, true),
            ("abc", "abd", false, false),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("a*c", "ac", false, true),
            ("a*c", "abbbc", false, true),
            ("a*c", "abbbd", false, false),
            ("*Network*", "CreateNetworkInterface", false, true),
            ("ec2:Describe*", "ec2:DescribeSubnets", false, true),
            ("ec2:Describe*", "ec2:describesubnets", false, false),
            ("ec2:Describe*", "ec2:describesubnets", true, true),
            (
                "EC2:CREATENETWORKINTERFACE",
                "ec2:CreateNetworkInterface",
                true,
                true,
            ),
            ("a*b*c", "aXbYbZc", false, true),
            ("a*b*c", "aXbYbZ", false, false),
            ("**", "x", false, true),
            ("?*", "", false, false),
        ];
        for (pattern, value, fold, want) in cases {
            assert_eq!(glob(pattern, value, fold), want, "{pattern} vs {value}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_literal_pattern_matches_only_itself(value in "[^*?]{0,24}", other in "[^*?]{0,24}") {
            proptest::prop_assert!(glob(&value, &value, false));
            proptest::prop_assert_eq!(glob(&value, &other, false), value == other);
            proptest::prop_assert!(glob("*", &value, false));
        }

        #[test]
        fn star_suffix_matches_every_extension(prefix in "[^*?]{0,12}", rest in "\\PC{0,12}") {
            let pattern = format!("{prefix}*");
            let value = format!("{prefix}{rest}");
            proptest::prop_assert!(glob(&pattern, &value, false));
        }
    }

    #[test]
    fn arn_like_table() {
        let cases = [
            ("*", "*", true),
            (
                "*",
                "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1",
                true,
            ),
            (
                "arn:aws:logs:*:*:*",
                "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*",
                true,
            ),
            ("arn:aws:logs:*:*:*", "*", false),
            (
                "arn:aws:ec2:*:*:subnet/*",
                "arn:aws:ec2:eu-west-1:1:subnet/subnet-9",
                true,
            ),
            (
                "arn:aws:ec2:*:*:subnet/*",
                "arn:aws:ec2:eu-west-1:1:security-group/sg-1",
                false,
            ),
            // A region wildcard stays within the region part.
            (
                "arn:aws:ec2:us-*:1:subnet/*",
                "arn:aws:ec2:us-east-1:1:subnet/s",
                true,
            ),
            (
                "arn:aws:s3:::bucket/*",
                "arn:aws:s3:::bucket/key/with:colon",
                true,
            ),
            ("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(arn_like(pattern, value), want, "{pattern} vs {value}");
        }
    }
}
