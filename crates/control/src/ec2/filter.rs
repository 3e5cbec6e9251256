//! Describe-call selection shared by every resource: explicit ids (each must exist), EC2
//! filters with `*`/`?` wildcards and the `tag:` family, and `MaxResults`/`NextToken` pages.

use serde::{Deserialize, Serialize};

use super::error::Ec2Error;
use super::ids::ResourceType;
use super::model::Tag;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// What a record shows to filters.
pub trait Filterable {
    fn id(&self) -> &str;
    fn tags(&self) -> &[Tag];
    /// The record's values for filter `name`; `None` when this resource has no such filter.
    fn filter_values(&self, name: &str) -> Option<Vec<String>>;
}

/// Whether the record passes every filter (values of one filter are alternatives).
pub fn matches(record: &impl Filterable, filters: &[Filter]) -> Result<bool, Ec2Error> {
    for f in filters {
        let have = tag_values(record.tags(), &f.name)
            .or_else(|| record.filter_values(&f.name))
            .ok_or_else(|| {
                Ec2Error::InvalidParameterValue(format!("The filter '{}' is invalid", f.name))
            })?;
        let hit = f
            .values
            .iter()
            .any(|pattern| have.iter().any(|v| wildcard(pattern, v)));
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

fn tag_values(tags: &[Tag], name: &str) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(
            tags.iter()
                .filter(|t| t.key == key)
                .map(|t| t.value.clone())
                .collect(),
        );
    }
    match name {
        "tag-key" => Some(tags.iter().map(|t| t.key.clone()).collect()),
        "tag-value" => Some(tags.iter().map(|t| t.value.clone()).collect()),
        _ => None,
    }
}

/// EC2's filter wildcards: `*` any run, `?` any one character, `\` escapes either.
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '\\' => Token::Lit(chars.next().unwrap_or('\\')),
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Lit(c),
        });
    }
    let value: Vec<char> = value.chars().collect();
    // Iterative glob match with backtracking to the last star: linear in practice, and
    // never exponential on hostile patterns.
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match tokens.get(p) {
            Some(Token::Star) => {
                star = Some((p, v));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                v += 1;
            }
            Some(Token::Lit(c)) if *c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| *t == Token::Star)
}

#[derive(PartialEq)]
enum Token {
    Lit(char),
    Star,
    One,
}

/// The records with the given ids (all must exist) that pass the filters, in id order.
pub fn select<T: Filterable>(
    all: Vec<T>,
    rtype: ResourceType,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<T>, Ec2Error> {
    for id in ids {
        rtype.check(id)?;
    }
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !all.iter().any(|r| r.id() == id.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(rtype.not_found_many(&missing));
    }
    let wanted = all
        .into_iter()
        .filter(|r| ids.is_empty() || ids.iter().any(|id| id == r.id()))
        .collect();
    retain(wanted, filters)
}

/// The records that pass every filter.
pub fn retain<T: Filterable>(all: Vec<T>, filters: &[Filter]) -> Result<Vec<T>, Ec2Error> {
    let mut out = Vec::new();
    for r in all {
        if matches(&r, filters)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// `MaxResults` / `NextToken` of a Describe call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

impl Page {
    /// One page of `items` (in id order) and the token for the next, if any. `bounds` is
    /// the operation's allowed `MaxResults` range.
    pub fn apply<T: Filterable>(
        &self,
        items: Vec<T>,
        bounds: (i64, i64),
    ) -> Result<(Vec<T>, Option<String>), Ec2Error> {
        let limit = match self.max_results {
            None => usize::MAX,
            Some(n) if n < bounds.0 || n > bounds.1 => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Parameter must be between {} and {}.",
                    bounds.0, bounds.1
                )))
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let after = match &self.next_token {
            None => None,
            Some(t) => Some(decode_token(t).ok_or_else(|| Ec2Error::InvalidNextToken(t.clone()))?),
        };
        let mut rest: Vec<T> = items
            .into_iter()
            .filter(|r| after.as_deref().is_none_or(|a| r.id() > a))
            .collect();
        if rest.len() <= limit {
            return Ok((rest, None));
        }
        rest.truncate(limit);
        let token = rest.last().map(|r| encode_token(r.id()));
        Ok((rest, token))
    }
}

/// Tokens are the last id of the previous page, hex-encoded so clients treat them as opaque.
fn encode_token(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::ids::VPC;

    struct R {
        id: String,
        desc: String,
        tags: Vec<Tag>,
    }

    impl Filterable for R {
        fn id(&self) -> &str {
            &self.id
        }
        fn tags(&self) -> &[Tag] {
            &self.tags
        }
        fn filter_values(&self, name: &str) -> Option<Vec<String>> {
            match name {
                "description" => Some(vec![self.desc.clone()]),
                _ => None,
            }
        }
    }

    fn r(id: &str, desc: &str) -> R {
        R {
            id: id.into(),
            desc: desc.into(),
            tags: vec![Tag {
                key: "Name".into(),
                value: format!("n-{id}"),
            }],
        }
    }

    fn f(name: &str, values: &[&str]) -> Filter {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("AWS Lambda VPC ENI*", "AWS Lambda VPC ENI-fn-123"));
        assert!(wildcard("*:awslambda_*", "AROA123:awslambda_847_2023"));
        assert!(!wildcard("*:awslambda_*", "AROA123:749678902839"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "a-x-b-y-c"));
        assert!(!wildcard("a*b*c", "a-x-b-y-d"));
        assert!(wildcard(r"a\*", "a*"));
        assert!(!wildcard(r"a\*", "ab"));
        assert!(wildcard("exact", "exact"));
        assert!(!wildcard("exact", "exactly"));
        assert!(!wildcard(&"*a".repeat(30), &"a".repeat(29)));
    }

    #[test]
    fn filters_and_tags() {
        let x = r("vpc-1", "hello world");
        assert!(matches(&x, &[f("description", &["nope", "hello*"])]).unwrap());
        assert!(!matches(&x, &[f("description", &["nope"])]).unwrap());
        assert!(matches(&x, &[f("tag:Name", &["n-vpc-1"])]).unwrap());
        assert!(!matches(&x, &[f("tag:Other", &["*"])]).unwrap());
        assert!(matches(&x, &[f("tag-key", &["Name"])]).unwrap());
        let err = matches(&x, &[f("bogus", &["x"])]).unwrap_err();
        assert_eq!(err.to_string(), "The filter 'bogus' is invalid");
    }

    #[test]
    fn select_by_id_and_page() {
        let all = || vec![r("vpc-1", "a"), r("vpc-2", "b"), r("vpc-3", "c")];
        let got = select(all(), VPC, &["vpc-2".into()], &[]).unwrap();
        assert_eq!(got.len(), 1);
        let err = select(all(), VPC, &["vpc-9".into()], &[]).err().unwrap();
        assert_eq!(err.code(), "InvalidVpcID.NotFound");
        assert_eq!(
            select(all(), VPC, &["x".into()], &[]).err().unwrap().code(),
            "InvalidVpcID.Malformed"
        );

        let page = Page {
            max_results: Some(2),
            next_token: None,
        };
        let (first, token) = page.apply(all(), (1, 1000)).unwrap();
        assert_eq!(first.len(), 2);
        let page = Page {
            max_results: Some(2),
            next_token: token,
        };
        let (second, token) = page.apply(all(), (1, 1000)).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].id, "vpc-3");
        assert_eq!(token, None);
        let bad = Page {
            max_results: Some(2),
            next_token: None,
        };
        assert!(bad.apply(all(), (5, 1000)).is_err());
        let bad = Page {
            max_results: None,
            next_token: Some("zz".into()),
        };
        assert_eq!(
            bad.apply(all(), (5, 1000)).err().unwrap().code(),
            "InvalidNextToken"
        );
    }
}
