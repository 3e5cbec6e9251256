//! How a request names a function, a version or an alias: plain names, `name:qualifier`,
//! partial ARNs (`123456789012:function:name`) and full ARNs, checked against Lambda's
//! patterns and resolved to a name in the caller's own account and region (or, for the
//! operations a resource-based policy can open to others, in the account the ARN names).
//! Owns the ARN spellings the rest of the domain prints. Takes already percent-decoded text.

use super::error::LambdaError;
use crate::store::Scope;

/// The version every function has: its unpublished, editable configuration.
pub const LATEST: &str = "$LATEST";

const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
const NAMESPACED_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";
const QUALIFIER_PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";
const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
/// Plain function names are shorter than the member's length limit, which counts ARNs.
const MAX_PLAIN_NAME: usize = 64;

/// Which of the model's two function-name shapes a member has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameShape {
    /// `FunctionName`: create, update, publish, aliases, concurrency (≤ 140 characters).
    Function,
    /// `NamespacedFunctionName`: get, delete, list versions, invoke (≤ 256, dots allowed).
    Namespaced,
}

impl NameShape {
    fn max_len(self) -> usize {
        match self {
            NameShape::Function => 140,
            NameShape::Namespaced => 256,
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            NameShape::Function => FUNCTION_NAME_PATTERN,
            NameShape::Namespaced => NAMESPACED_NAME_PATTERN,
        }
    }
}

/// A function name as the request gave it, resolved to the caller's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    /// The qualifier written into the name (`name:1`, `…:function:name:prod`).
    pub qualifier: Option<String>,
}

impl FunctionRef {
    /// Parses `input` as the member `functionName` of an operation called `action`
    /// (for the access-denied text), refusing ARNs of other accounts and regions.
    pub fn parse(
        input: &str,
        shape: NameShape,
        scope: &Scope,
        action: &str,
    ) -> Result<FunctionRef, LambdaError> {
        let (fref, owner) = FunctionRef::parse_with_owner(input, shape, scope)?;
        if owner.account != scope.account {
            return Err(LambdaError::AccessDenied {
                caller: format!("arn:aws:iam::{}:root", scope.account),
                action: action.to_string(),
                resource: function_arn(&owner, &fref.name, fref.qualifier.as_deref()),
            });
        }
        Ok(fref)
    }

    /// Parses `input` like [`FunctionRef::parse`], but an ARN with another account's id
    /// names that account's function: returns it with its owner's scope (the caller's when
    /// the name has no account). For the operations a resource-based policy can open to
    /// other accounts; the caller must be authorized before anything is done in that scope.
    pub fn parse_with_owner(
        input: &str,
        shape: NameShape,
        scope: &Scope,
    ) -> Result<(FunctionRef, Scope), LambdaError> {
        if input.is_empty() {
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                input,
                "functionName",
                "Member must have length greater than or equal to 1",
            )]));
        }
        if input.len() > shape.max_len() {
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                input,
                "functionName",
                &format!(
                    "Member must have length less than or equal to {}",
                    shape.max_len()
                ),
            )]));
        }
        let pattern_error = || {
            LambdaError::Validation(vec![LambdaError::violation(
                input,
                "functionName",
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    shape.pattern()
                ),
            )])
        };
        let parts: Vec<&str> = input.split(':').collect();
        let mut rest = &parts[..];
        let mut from_arn = false;
        if rest.first() == Some(&"arn") {
            match rest {
                [_, partition, "lambda", tail @ ..] if is_partition(partition) => {
                    rest = tail;
                    from_arn = true;
                }
                _ => return Err(pattern_error()),
            }
        }
        // Each optional prefix is taken only when something follows it, as the pattern's
        // backtracking would: a function may well be called `us-east-1` or `function`.
        let mut region = None;
        if rest.len() > 1 && is_region(rest[0]) {
            region = Some(rest[0]);
            rest = &rest[1..];
        }
        let mut account = None;
        if rest.len() > 1 && is_account_id(rest[0]) {
            account = Some(rest[0]);
            rest = &rest[1..];
        }
        if rest.len() > 1 && rest[0] == "function" {
            rest = &rest[1..];
        }
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, qualifier] => (*name, Some(*qualifier)),
            _ => return Err(pattern_error()),
        };
        let name_ok = !name.is_empty()
            && name.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || c == '-'
                    || c == '_'
                    || (c == '.' && shape == NameShape::Namespaced)
            });
        let qualifier_ok = qualifier.is_none_or(|q| {
            q == LATEST
                || (q == "$LATEST.PUBLISHED" && shape == NameShape::Namespaced)
                || (!q.is_empty() && q.chars().all(is_word_char))
        });
        if !name_ok || !qualifier_ok || (from_arn && region.is_none() && account.is_none()) {
            return Err(pattern_error());
        }
        if let Some(arn_region) = region {
            if arn_region != scope.region {
                return Err(LambdaError::OtherRegion {
                    arn_region: arn_region.to_string(),
                    region: scope.region.clone(),
                });
            }
        }
        let owner = Scope::new(account.unwrap_or(&scope.account), scope.region.clone());
        Ok((
            FunctionRef {
                name: name.to_string(),
                qualifier: qualifier.map(str::to_string),
            },
            owner,
        ))
    }

    /// The qualifier to use when the request may also carry `?Qualifier=`: both must agree.
    pub fn with_qualifier(mut self, param: Option<&str>) -> Result<FunctionRef, LambdaError> {
        let Some(param) = param else {
            return Ok(self);
        };
        check_qualifier(param)?;
        match &self.qualifier {
            Some(derived) if derived != param => Err(LambdaError::invalid(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )),
            _ => {
                if !param.is_empty() {
                    self.qualifier = Some(param.to_string());
                }
                Ok(self)
            }
        }
    }

    /// For operations that only act on `$LATEST` (updates, publishing, aliases).
    pub fn unqualified(&self) -> Result<&str, LambdaError> {
        match self.qualifier.as_deref() {
            None | Some(LATEST) => Ok(&self.name),
            Some(_) => Err(LambdaError::invalid(
                "Current operation does not support versions other than $LATEST. Please set version to $LATEST or do not set a version in your request.",
            )),
        }
    }

    /// A name for CreateFunction: no qualifier, and at most 64 characters.
    pub fn for_create(&self, input: &str) -> Result<&str, LambdaError> {
        if self.qualifier.is_some() {
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                input,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
            )]));
        }
        if self.name.len() > MAX_PLAIN_NAME {
            return Err(LambdaError::invalid(format!(
                "1 validation error detected: {}",
                LambdaError::violation(
                    &self.name,
                    "functionName",
                    &format!("Member must have length less than or equal to {MAX_PLAIN_NAME}"),
                )
            )));
        }
        Ok(&self.name)
    }
}

/// `?Qualifier=` as the model constrains it.
pub fn check_qualifier(q: &str) -> Result<(), LambdaError> {
    let ok = q.len() <= 128 && q.chars().all(|c| is_word_char(c) || c == '$');
    if ok {
        Ok(())
    } else {
        Err(LambdaError::Validation(vec![LambdaError::violation(
            q,
            "qualifier",
            &format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
        )]))
    }
}

/// An alias name: word characters, not all digits (that would read as a version).
pub fn check_alias_name(name: &str, member: &str) -> Result<(), LambdaError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(is_word_char)
        && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LambdaError::Validation(vec![LambdaError::violation(
            name,
            member,
            &format!("Member must satisfy regular expression pattern: {ALIAS_PATTERN}"),
        )]))
    }
}

/// Whether a qualifier names a published version (as opposed to `$LATEST` or an alias).
pub fn is_version_number(q: &str) -> bool {
    !q.is_empty() && q.len() <= 10 && q.chars().all(|c| c.is_ascii_digit())
}

/// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
pub fn function_arn(scope: &Scope, name: &str, qualifier: Option<&str>) -> String {
    let base = format!(
        "arn:aws:lambda:{}:{}:function:{name}",
        scope.region, scope.account
    );
    match qualifier {
        Some(q) => format!("{base}:{q}"),
        None => base,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `(aws[a-zA-Z-]*)?`
fn is_partition(s: &str) -> bool {
    s.is_empty() || (s.starts_with("aws") && s.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// `[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`
fn is_region(s: &str) -> bool {
    let lower = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase());
    let parts: Vec<&str> = s.split('-').collect();
    let (country, middle, digit) = match parts.as_slice() {
        [country, name, digit] => (*country, vec![*name], *digit),
        [country, special, name, digit] => (*country, vec![*special, *name], *digit),
        _ => return false,
    };
    let special_ok = match middle.as_slice() {
        [name] => lower(name),
        [special, name] => {
            let iso = special.strip_prefix("iso").is_some_and(|rest| {
                rest.len() <= 1 && rest.chars().all(|c| c.is_ascii_lowercase())
            });
            (*special == "gov" || iso) && lower(name)
        }
        _ => false,
    };
    country.len() == 2
        && lower(country)
        && special_ok
        && digit.len() == 1
        && digit.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("123456789012", "us-east-1")
    }

    fn parse(s: &str) -> Result<FunctionRef, LambdaError> {
        FunctionRef::parse(s, NameShape::Namespaced, &scope(), "GetFunction")
    }

    fn named(name: &str, qualifier: Option<&str>) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            qualifier: qualifier.map(Into::into),
        }
    }

    #[test]
    fn every_spelling_names_the_same_function() {
        for s in [
            "f",
            "123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "us-east-1:123456789012:function:f",
        ] {
            assert_eq!(parse(s).unwrap(), named("f", None), "{s}");
        }
        assert_eq!(parse("f:1").unwrap(), named("f", Some("1")));
        assert_eq!(parse("f:$LATEST").unwrap(), named("f", Some("$LATEST")));
        assert_eq!(
            parse("arn:aws:lambda:us-east-1:123456789012:function:f:prod").unwrap(),
            named("f", Some("prod"))
        );
        assert_eq!(
            parse("123456789012:function:f:prod").unwrap(),
            named("f", Some("prod"))
        );
    }

    #[test]
    fn prefixes_are_only_prefixes_when_something_follows() {
        assert_eq!(parse("us-east-1").unwrap(), named("us-east-1", None));
        assert_eq!(parse("function").unwrap(), named("function", None));
        assert_eq!(parse("123456789012").unwrap(), named("123456789012", None));
    }

    #[test]
    fn other_region_and_account_are_refused() {
        let e = parse("arn:aws:lambda:us-west-2:123456789012:function:f").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"
        );
        let e = parse("arn:aws:lambda:us-east-1:999999999999:function:f").unwrap_err();
        assert!(matches!(e, LambdaError::AccessDenied { .. }), "{e}");
        assert!(e.to_string().contains(
            "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:999999999999:function:f"
        ));
    }

    #[test]
    fn other_accounts_functions_have_their_owner() {
        let (fref, owner) = FunctionRef::parse_with_owner(
            "arn:aws:lambda:us-east-1:999999999999:function:f:prod",
            NameShape::Namespaced,
            &scope(),
        )
        .unwrap();
        assert_eq!(fref, named("f", Some("prod")));
        assert_eq!(owner, Scope::new("999999999999", "us-east-1"));
        let (_, own) = FunctionRef::parse_with_owner("f", NameShape::Namespaced, &scope()).unwrap();
        assert_eq!(own, scope());
        assert!(FunctionRef::parse_with_owner(
            "arn:aws:lambda:us-west-2:999999999999:function:f",
            NameShape::Namespaced,
            &scope()
        )
        .is_err());
    }

    #[test]
    fn malformed_names_break_the_pattern() {
        for s in [
            "f/x",
            "a:b:c:d:e:f",
            "arn:aws:s3:::bucket",
            "f:",
            "arn:aws:lambda:f",
        ] {
            let e = parse(s).unwrap_err();
            assert!(
                e.to_string()
                    .contains("Member must satisfy regular expression pattern"),
                "{s}: {e}"
            );
        }
        let dotted = FunctionRef::parse("a.b", NameShape::Function, &scope(), "UpdateFunctionCode");
        assert!(dotted.is_err());
        assert!(parse("a.b").is_ok());
    }

    #[test]
    fn qualifiers_must_agree() {
        let r = parse("f:1").unwrap();
        assert_eq!(
            r.clone().with_qualifier(Some("1")).unwrap(),
            named("f", Some("1"))
        );
        assert!(r.with_qualifier(Some("2")).is_err());
        assert_eq!(
            parse("f").unwrap().with_qualifier(Some("prod")).unwrap(),
            named("f", Some("prod"))
        );
        assert!(parse("f").unwrap().with_qualifier(Some("a/b")).is_err());
    }

    #[test]
    fn create_refuses_long_and_qualified_names() {
        let long = "x".repeat(65);
        let r = parse(&long).unwrap();
        assert!(matches!(
            r.for_create(&long),
            Err(LambdaError::InvalidParameter(_))
        ));
        let r = parse("f:1").unwrap();
        assert!(matches!(
            r.for_create("f:1"),
            Err(LambdaError::Validation(_))
        ));
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "us-east",
            "useast-1",
            "us-east-12",
            "US-east-1",
            "us-foo-east-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn alias_names_cannot_be_numbers() {
        assert!(check_alias_name("prod", "name").is_ok());
        assert!(check_alias_name("1", "name").is_err());
        assert!(check_alias_name("a b", "name").is_err());
    }
}
