//! IAM's input constraints from its service model, reported the way IAM's front end does:
//! every violation of a request in one `ValidationError`, "N validation error(s) detected:
//! Value 'x' at 'field' failed to satisfy constraint: …". The model's regular expressions are
//! written out as character tests because they are few and small.

use super::records::Tag;
use super::IamError;

/// Role, policy and inline policy names.
pub(crate) const NAME_PATTERN: &str = r"[\w+=,.@-]+";
const ROLE_PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
const PATH_PREFIX_PATTERN: &str = r"\u002F[\u0021-\u007F]*";
const POLICY_PATH_PATTERN: &str = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
const DOCUMENT_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
const DESCRIPTION_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";
const VERSION_ID_PATTERN: &str = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";
const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
const TAG_VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";
const MARKER_PATTERN: &str = r"[\u0020-\u00FF]+";

/// The longest policy document any IAM operation accepts, in characters.
const DOCUMENT_MAX_LENGTH: usize = 131_072;
/// The most tags one request may carry.
pub(crate) const MAX_TAGS: usize = 50;

/// The violations found so far in one request.
#[derive(Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, field: &str, value: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.push(
                field,
                value,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.push(
                field,
                value,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    fn pattern(&mut self, field: &str, value: &str, matches: bool, pattern: &str) {
        if !matches {
            self.push(
                field,
                value,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// A role, managed policy or inline policy name of at most `max` characters.
    pub(crate) fn name(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        self.length(field, value, 1, max);
        self.pattern(field, value, is_name(value), NAME_PATTERN);
        self
    }

    /// A role's `Path`.
    pub(crate) fn role_path(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 1, 512);
        let matches = value == "/"
            || (value.len() >= 3
                && value.starts_with('/')
                && value.ends_with('/')
                && value.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
        self.pattern(field, value, matches, ROLE_PATH_PATTERN);
        self
    }

    /// A managed policy's `Path`.
    pub(crate) fn policy_path(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 1, 512);
        let matches = value.starts_with('/')
            && value.ends_with('/')
            && !value.contains("//")
            && value.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '/' | '.' | ',' | '+' | '@' | '=' | '_' | '-')
            });
        self.pattern(field, value, matches, POLICY_PATH_PATTERN);
        self
    }

    /// A `PathPrefix` of the role and entity listings.
    pub(crate) fn path_prefix(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 1, 512);
        let matches =
            value.starts_with('/') && value.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c));
        self.pattern(field, value, matches, PATH_PREFIX_PATTERN);
        self
    }

    /// A policy document (trust, managed or inline).
    pub(crate) fn document(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 1, DOCUMENT_MAX_LENGTH);
        let matches = !value.is_empty()
            && value
                .chars()
                .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'));
        self.pattern(field, value, matches, DOCUMENT_PATTERN);
        self
    }

    /// A role's `Description`.
    pub(crate) fn role_description(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 0, 1000);
        let matches = value
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'));
        self.pattern(field, value, matches, DESCRIPTION_PATTERN);
        self
    }

    /// A managed policy's `Description`.
    pub(crate) fn policy_description(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 0, 1000);
        self
    }

    /// A role's `MaxSessionDuration`, in seconds.
    pub(crate) fn max_session_duration(&mut self, field: &str, value: i64) -> &mut Self {
        let shown = value.to_string();
        if value < 3600 {
            self.push(
                field,
                &shown,
                "Member must have value greater than or equal to 3600",
            );
        }
        if value > 43200 {
            self.push(
                field,
                &shown,
                "Member must have value less than or equal to 43200",
            );
        }
        self
    }

    /// A policy `VersionId`.
    pub(crate) fn version_id(&mut self, field: &str, value: &str) -> &mut Self {
        self.pattern(field, value, is_version_id(value), VERSION_ID_PATTERN);
        self
    }

    /// A policy ARN parameter.
    pub(crate) fn arn(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 20, 2048);
        self
    }

    /// A `Tags` list (`field` is `tags`).
    pub(crate) fn tags(&mut self, field: &str, tags: &[Tag]) -> &mut Self {
        if tags.len() > MAX_TAGS {
            self.0.push(format!(
                "Value '[{}]' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}",
                tags.iter()
                    .map(|t| format!("Tag(Key={}, Value={})", t.key, t.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            self.tag_key(&format!("{field}.{}.member.key", i + 1), &tag.key);
            let value_field = format!("{field}.{}.member.value", i + 1);
            self.length(&value_field, &tag.value, 0, 256);
            self.pattern(
                &value_field,
                &tag.value,
                tag.value.chars().all(is_tag_char),
                TAG_VALUE_PATTERN,
            );
        }
        self
    }

    /// One tag key.
    pub(crate) fn tag_key(&mut self, field: &str, key: &str) -> &mut Self {
        self.length(field, key, 1, 128);
        self.pattern(
            field,
            key,
            !key.is_empty() && key.chars().all(is_tag_char),
            TAG_KEY_PATTERN,
        );
        self
    }

    /// A pagination `Marker`.
    pub(crate) fn marker(&mut self, field: &str, value: &str) -> &mut Self {
        self.length(field, value, 1, 320);
        let matches = value.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c));
        self.pattern(field, value, matches, MARKER_PATTERN);
        self
    }

    /// A pagination `MaxItems`.
    pub(crate) fn max_items(&mut self, field: &str, value: i64) -> &mut Self {
        let shown = value.to_string();
        if value < 1 {
            self.push(
                field,
                &shown,
                "Member must have value greater than or equal to 1",
            );
        }
        if value > 1000 {
            self.push(
                field,
                &shown,
                "Member must have value less than or equal to 1000",
            );
        }
        self
    }

    /// `Ok` when nothing was violated, else the one `ValidationError` listing everything.
    pub(crate) fn finish(&mut self) -> Result<(), IamError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(IamError::Validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(IamError::Validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

impl IamError {
    /// The `ValidationError` for a required parameter the request left out; `field` is the
    /// model's member name in lower camel case (`roleName`).
    pub fn missing(field: &str) -> IamError {
        IamError::Validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    }
}

/// `[\w+=,.@-]+` with Java's ASCII-only `\w`.
fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        })
}

fn is_version_id(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('v') else {
        return false;
    };
    let (number, suffix) = match rest.split_once('.') {
        Some((number, suffix)) => (number, Some(suffix)),
        None => (rest, None),
    };
    number.starts_with(|c: char| ('1'..='9').contains(&c))
        && number.chars().all(|c| c.is_ascii_digit())
        && suffix.is_none_or(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl FnOnce(&mut Violations)) -> Result<(), String> {
        let mut v = Violations::new();
        f(&mut v);
        v.finish().map_err(|e| e.to_string())
    }

    #[test]
    fn names() {
        assert!(check(|v| {
            v.name("roleName", "a-Z_0.9+=,@", 64);
        })
        .is_ok());
        assert_eq!(
            check(|v| {
                v.name("roleName", "bad name", 64);
            }),
            Err(r"1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+".into())
        );
        let long = "a".repeat(65);
        assert_eq!(
            check(|v| {
                v.name("roleName", &long, 64);
            }),
            Err(format!("1 validation error detected: Value '{long}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64"))
        );
        let both = check(|v| {
            v.name("roleName", "", 64);
        })
        .unwrap_err();
        assert!(both.starts_with("2 validation errors detected: "), "{both}");
    }

    #[test]
    fn paths() {
        for ok in ["/", "/a/", "/service-role/", "/a/b/"] {
            assert!(
                check(|v| {
                    v.role_path("path", ok);
                })
                .is_ok(),
                "{ok}"
            );
        }
        for bad in ["", "a", "/a", "a/", "//x y/"] {
            assert!(
                check(|v| {
                    v.role_path("path", bad);
                })
                .is_err(),
                "{bad}"
            );
        }
        assert!(check(|v| {
            v.policy_path("path", "/team/a/");
        })
        .is_ok());
        assert!(check(|v| {
            v.policy_path("path", "/te*am/");
        })
        .is_err());
    }

    #[test]
    fn version_ids_and_numbers() {
        for ok in ["v1", "v12", "v1.x-y"] {
            assert!(is_version_id(ok), "{ok}");
        }
        for bad in ["", "v", "v0", "1", "v1.!"] {
            assert!(!is_version_id(bad), "{bad}");
        }
        assert!(check(|v| {
            v.max_session_duration("maxSessionDuration", 3599);
        })
        .is_err());
        assert!(check(|v| {
            v.max_session_duration("maxSessionDuration", 43200);
        })
        .is_ok());
    }
}
