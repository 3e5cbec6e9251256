//! The `Condition` element: the request context it is evaluated against, the operators IAM
//! defines (with the `ForAnyValue:`/`ForAllValues:` set qualifiers and the `IfExists` suffix),
//! their parsing out of a policy document, and their evaluation. Must not decide statement
//! effects or produce IAM error texts; parse failures are reported as `None` and worded by
//! the caller.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::matching::{arn_like, glob};

/// The request context: condition keys (case-insensitive, e.g. `aws:SourceIp`) and their
/// values. A key with several values is a multivalued key such as `aws:TagKeys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context: every condition key is absent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `values`, replacing what it had.
    pub fn insert<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.values.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Builder form of [`Context::insert`].
    pub fn with<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insert(key, values);
        self
    }

    /// The values of `key`, if the request carries it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// The base condition operators IAM accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Operator {
    const ALL: [(&'static str, Operator); 27] = [
        ("StringEquals", Operator::StringEquals),
        ("StringNotEquals", Operator::StringNotEquals),
        ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
        (
            "StringNotEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase,
        ),
        ("StringLike", Operator::StringLike),
        ("StringNotLike", Operator::StringNotLike),
        ("NumericEquals", Operator::NumericEquals),
        ("NumericNotEquals", Operator::NumericNotEquals),
        ("NumericLessThan", Operator::NumericLessThan),
        ("NumericLessThanEquals", Operator::NumericLessThanEquals),
        ("NumericGreaterThan", Operator::NumericGreaterThan),
        (
            "NumericGreaterThanEquals",
            Operator::NumericGreaterThanEquals,
        ),
        ("DateEquals", Operator::DateEquals),
        ("DateNotEquals", Operator::DateNotEquals),
        ("DateLessThan", Operator::DateLessThan),
        ("DateLessThanEquals", Operator::DateLessThanEquals),
        ("DateGreaterThan", Operator::DateGreaterThan),
        ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
        ("Bool", Operator::Bool),
        ("BinaryEquals", Operator::BinaryEquals),
        ("IpAddress", Operator::IpAddress),
        ("NotIpAddress", Operator::NotIpAddress),
        ("ArnEquals", Operator::ArnEquals),
        ("ArnLike", Operator::ArnLike),
        ("ArnNotEquals", Operator::ArnNotEquals),
        ("ArnNotLike", Operator::ArnNotLike),
        ("Null", Operator::Null),
    ];

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, op)| *op)
    }

    /// Negated operators succeed when the context value matches none of the policy values,
    /// and when the key is absent altogether (IAM documents both).
    fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }

    pub(crate) fn is_date(self) -> bool {
        matches!(
            self,
            Operator::DateEquals
                | Operator::DateNotEquals
                | Operator::DateLessThan
                | Operator::DateLessThanEquals
                | Operator::DateGreaterThan
                | Operator::DateGreaterThanEquals
        )
    }

    /// Whether one context value matches one policy value, before negation.
    fn matches(self, context: &str, policy: &str) -> bool {
        use Operator::*;
        match self {
            StringEquals | StringNotEquals | BinaryEquals => context == policy,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                context.to_lowercase() == policy.to_lowercase()
            }
            StringLike | StringNotLike => glob(policy, context, false),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => arn_like(policy, context),
            NumericEquals | NumericNotEquals => compare_numbers(context, policy, |a, b| a == b),
            NumericLessThan => compare_numbers(context, policy, |a, b| a < b),
            NumericLessThanEquals => compare_numbers(context, policy, |a, b| a <= b),
            NumericGreaterThan => compare_numbers(context, policy, |a, b| a > b),
            NumericGreaterThanEquals => compare_numbers(context, policy, |a, b| a >= b),
            DateEquals | DateNotEquals => compare_dates(context, policy, |a, b| a == b),
            DateLessThan => compare_dates(context, policy, |a, b| a < b),
            DateLessThanEquals => compare_dates(context, policy, |a, b| a <= b),
            DateGreaterThan => compare_dates(context, policy, |a, b| a > b),
            DateGreaterThanEquals => compare_dates(context, policy, |a, b| a >= b),
            Bool => context.eq_ignore_ascii_case(policy),
            IpAddress | NotIpAddress => ip_in_network(context, policy),
            // Null is about presence, not values; `Condition::holds` handles it first.
            Null => false,
        }
    }
}

/// How a multivalued context key is compared with the policy values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    /// No qualifier: the key is treated as single-valued.
    Single,
    /// `ForAnyValue:` — at least one context value must satisfy the operator.
    AnyValue,
    /// `ForAllValues:` — every context value must satisfy it (true when there are none).
    AllValues,
}

/// One operator of a `Condition` block with all its keys, e.g.
/// `"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["env*"]}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) operator: Operator,
    qualifier: SetQualifier,
    if_exists: bool,
    /// Condition keys, lower-cased, each with the policy values it is compared against.
    pub(crate) entries: Vec<(String, Vec<String>)>,
}

impl Condition {
    /// Whether the condition holds for `context`. Keys are ANDed, values of one key ORed
    /// (NORed for negated operators), as IAM documents.
    pub(crate) fn holds(&self, context: &Context) -> bool {
        self.entries
            .iter()
            .all(|(key, policy_values)| self.key_holds(context.get(key), policy_values))
    }

    fn key_holds(&self, context_values: Option<&[String]>, policy_values: &[String]) -> bool {
        let present = context_values.filter(|values| !values.is_empty());
        if self.operator == Operator::Null {
            return policy_values.iter().any(|v| {
                if v.eq_ignore_ascii_case("true") {
                    present.is_none()
                } else if v.eq_ignore_ascii_case("false") {
                    present.is_some()
                } else {
                    false
                }
            });
        }
        let negated = self.operator.is_negated();
        let value_ok = |context: &String| {
            let matched = policy_values
                .iter()
                .any(|policy| self.operator.matches(context, policy));
            matched != negated
        };
        match (present, self.qualifier) {
            (None, _) if self.if_exists => true,
            (None, SetQualifier::Single) => negated,
            (None, SetQualifier::AnyValue) => false,
            (None, SetQualifier::AllValues) => true,
            (Some(values), SetQualifier::Single) if negated => values.iter().all(value_ok),
            (Some(values), SetQualifier::Single) => values.iter().any(value_ok),
            (Some(values), SetQualifier::AnyValue) => values.iter().any(value_ok),
            (Some(values), SetQualifier::AllValues) => values.iter().all(value_ok),
        }
    }
}

/// Parses a statement's `Condition` element. `None` means a syntax error: not an object of
/// objects, a value that is not a scalar or list of scalars, or an unknown operator with keys
/// (IAM accepts an unknown operator whose block is empty, and so do we, ignoring it).
pub(crate) fn parse_conditions(element: &Value) -> Option<Vec<Condition>> {
    let mut conditions = Vec::new();
    for (name, block) in element.as_object()? {
        let block = block.as_object()?;
        let mut entries = Vec::with_capacity(block.len());
        for (key, values) in block {
            entries.push((key.to_ascii_lowercase(), condition_values(values)?));
        }
        match parse_operator_name(name) {
            Some((operator, qualifier, if_exists)) => conditions.push(Condition {
                operator,
                qualifier,
                if_exists,
                entries,
            }),
            None if entries.is_empty() => {}
            None => return None,
        }
    }
    Some(conditions)
}

fn parse_operator_name(name: &str) -> Option<(Operator, SetQualifier, bool)> {
    let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::AnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::AllValues, rest)
    } else {
        (SetQualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    Operator::from_name(base).map(|op| (op, qualifier, if_exists))
}

/// Policy values may be written as JSON strings, numbers or booleans, alone or in a list.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn compare_numbers(context: &str, policy: &str, cmp: fn(f64, f64) -> bool) -> bool {
    match (context.trim().parse::<f64>(), policy.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => cmp(a, b),
        _ => false,
    }
}

fn compare_dates(context: &str, policy: &str, cmp: fn(i64, i64) -> bool) -> bool {
    match (parse_date(context), parse_date(policy)) {
        (Some(a), Some(b)) => cmp(a, b),
        _ => false,
    }
}

/// Parses the date forms IAM accepts into milliseconds since the Unix epoch: a plain number of
/// epoch seconds, or ISO 8601 `YYYY[-MM[-DD]][Thh[:mm[:ss[.fff]]]][Z|±hh[:mm]]`.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let lower = text.to_ascii_lowercase();
    let (date, time) = match lower.split_once('t') {
        Some((date, time)) => (date, Some(time)),
        None => (lower.as_str(), None),
    };
    let mut date_parts = date.split('-');
    let year: i64 = number_in(date_parts.next()?, 0, 9999)?;
    let month = date_parts.next().map_or(Some(1), |m| number_in(m, 1, 12))?;
    let day = date_parts.next().map_or(Some(1), |d| number_in(d, 1, 31))?;
    if date_parts.next().is_some() {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if let Some(time) = time {
        millis += parse_time_of_day(time)?;
    }
    Some(millis)
}

/// `hh[:mm[:ss[.fff]]]` with an optional zone, as milliseconds after midnight UTC.
fn parse_time_of_day(time: &str) -> Option<i64> {
    let (clock, offset_minutes) = if let Some(clock) = time.strip_suffix('z') {
        (clock, 0)
    } else if let Some(at) = time.find(['+', '-']) {
        let sign = if time[at..].starts_with('-') { -1 } else { 1 };
        let zone = &time[at + 1..];
        let (hours, minutes) = zone.split_once(':').unwrap_or((zone, "00"));
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let offset = number_in(hours, 0, 23)? * 60 + number_in(minutes, 0, 59)?;
        (&time[..at], sign * offset)
    } else {
        (time, 0)
    };
    let mut parts = clock.split(':');
    let hours = number_in(parts.next()?, 0, 23)?;
    let minutes = parts.next().map_or(Some(0), |m| number_in(m, 0, 59))?;
    let seconds_millis = match parts.next() {
        None => 0,
        Some(seconds) => {
            let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
            let whole = number_in(whole, 0, 59)?;
            if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
                return None;
            }
            let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
            whole * 1000 + millis
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some(hours * 3_600_000 + minutes * 60_000 + seconds_millis - offset_minutes * 60_000)
}

fn number_in(text: &str, min: i64, max: i64) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Whether the address `context` lies in `network` (`a.b.c.d/n`, an IPv6 CIDR, or a single
/// address meaning a full-length prefix).
fn ip_in_network(context: &str, network: &str) -> bool {
    let Ok(address) = context.trim().parse::<IpAddr>() else {
        return false;
    };
    let (base, prefix) = match network.trim().split_once('/') {
        Some((base, prefix)) => (base, prefix.parse::<u32>().ok()),
        None => (network.trim(), None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    match (address, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let prefix = prefix.unwrap_or(32);
            prefix <= 32
                && masked(u128::from(u32::from(a)), 32, prefix)
                    == masked(u128::from(u32::from(b)), 32, prefix)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let prefix = prefix.unwrap_or(128);
            prefix <= 128
                && masked(u128::from(a), 128, prefix) == masked(u128::from(b), 128, prefix)
        }
        _ => false,
    }
}

fn masked(address: u128, bits: u32, prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        address >> (bits - prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_conditions, parse_date, Context};
    use serde_json::json;

    fn holds(condition: serde_json::Value, context: &Context) -> bool {
        let conditions = parse_conditions(&condition).expect("condition parses");
        conditions.iter().all(|c| c.holds(context))
    }

    #[test]
    fn context_keys_are_case_insensitive() {
        let ctx = Context::new().with("aws:SourceIp", ["10.0.0.1"]);
        assert_eq!(ctx.get("AWS:SOURCEIP"), Some(&["10.0.0.1".to_string()][..]));
        assert_eq!(ctx.get("aws:other"), None);
    }

    #[test]
    fn operator_table() {
        let ctx = Context::new()
            .with("k:str", ["Value-1"])
            .with("k:num", ["10"])
            .with("k:bool", ["true"])
            .with("k:ip", ["10.1.2.3"])
            .with("k:ip6", ["2001:db8::1"])
            .with(
                "k:arn",
                ["arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1"],
            )
            .with("k:date", ["2024-01-05T22:38:26Z"])
            .with("k:tags", ["env", "team"]);
        let cases = [
            (json!({"StringEquals": {"k:str": "Value-1"}}), true),
            (json!({"StringEquals": {"k:str": "value-1"}}), false),
            (json!({"StringEquals": {"K:STR": ["x", "Value-1"]}}), true),
            (json!({"StringNotEquals": {"k:str": "Value-1"}}), false),
            (json!({"StringNotEquals": {"k:str": ["a", "b"]}}), true),
            (
                json!({"StringEqualsIgnoreCase": {"k:str": "VALUE-1"}}),
                true,
            ),
            (
                json!({"StringNotEqualsIgnoreCase": {"k:str": "VALUE-1"}}),
                false,
            ),
            (json!({"StringLike": {"k:str": "Val*-?"}}), true),
            (json!({"StringLike": {"k:str": "val*"}}), false),
            (json!({"StringNotLike": {"k:str": "x*"}}), true),
            (json!({"NumericEquals": {"k:num": 10}}), true),
            (json!({"NumericEquals": {"k:num": "10.0"}}), true),
            (json!({"NumericNotEquals": {"k:num": "10"}}), false),
            (json!({"NumericLessThan": {"k:num": "11"}}), true),
            (json!({"NumericLessThan": {"k:num": "10"}}), false),
            (json!({"NumericLessThanEquals": {"k:num": "10"}}), true),
            (json!({"NumericGreaterThan": {"k:num": "9.5"}}), true),
            (json!({"NumericGreaterThanEquals": {"k:num": "11"}}), false),
            (json!({"NumericEquals": {"k:str": "10"}}), false),
            (json!({"Bool": {"k:bool": true}}), true),
            (json!({"Bool": {"k:bool": "TRUE"}}), true),
            (json!({"Bool": {"k:bool": "false"}}), false),
            (json!({"IpAddress": {"k:ip": "10.1.0.0/16"}}), true),
            (json!({"IpAddress": {"k:ip": "10.2.0.0/16"}}), false),
            (json!({"IpAddress": {"k:ip": "10.1.2.3"}}), true),
            (json!({"IpAddress": {"k:ip": "0.0.0.0/0"}}), true),
            (json!({"IpAddress": {"k:ip6": "2001:db8::/32"}}), true),
            (json!({"IpAddress": {"k:ip6": "10.0.0.0/8"}}), false),
            (
                json!({"NotIpAddress": {"k:ip": ["192.168.0.0/16", "172.16.0.0/12"]}}),
                true,
            ),
            (json!({"NotIpAddress": {"k:ip": "10.0.0.0/8"}}), false),
            (
                json!({"ArnEquals": {"k:arn": "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1"}}),
                true,
            ),
            (
                json!({"ArnLike": {"k:arn": "arn:aws:ec2:*:*:subnet/*"}}),
                true,
            ),
            (
                json!({"ArnLike": {"k:arn": "arn:aws:ec2:*:*:security-group/*"}}),
                false,
            ),
            (
                json!({"ArnNotEquals": {"k:arn": "arn:aws:ec2:*:*:subnet/other"}}),
                true,
            ),
            (
                json!({"ArnNotLike": {"k:arn": "arn:aws:ec2:*:*:subnet/*"}}),
                false,
            ),
            (
                json!({"DateGreaterThan": {"k:date": "2024-01-01T00:00:00Z"}}),
                true,
            ),
            (json!({"DateLessThan": {"k:date": "2024-01-01"}}), false),
            (
                json!({"DateEquals": {"k:date": "2024-01-05T23:38:26+01:00"}}),
                true,
            ),
            (json!({"DateNotEquals": {"k:date": "1704494306"}}), false),
            (
                json!({"DateLessThanEquals": {"k:date": "1704494306"}}),
                true,
            ),
            (
                json!({"DateGreaterThanEquals": {"k:date": "2025-01-01"}}),
                false,
            ),
            (json!({"BinaryEquals": {"k:str": "Value-1"}}), true),
            (json!({"Null": {"k:missing": "true"}}), true),
            (json!({"Null": {"k:str": "true"}}), false),
            (json!({"Null": {"k:str": "false"}}), true),
            (json!({"Null": {"k:missing": false}}), false),
            // An absent key fails positive operators and satisfies negated ones.
            (json!({"StringEquals": {"k:missing": "x"}}), false),
            (json!({"StringNotEquals": {"k:missing": "x"}}), true),
            (json!({"ArnNotLike": {"k:missing": "arn:*"}}), true),
            (json!({"StringEqualsIfExists": {"k:missing": "x"}}), true),
            (json!({"StringEqualsIfExists": {"k:str": "x"}}), false),
            (json!({"StringEqualsIfExists": {"k:str": "Value-1"}}), true),
            (json!({"NumericLessThanIfExists": {"k:missing": "1"}}), true),
            // Set qualifiers over the multivalued key.
            (
                json!({"ForAnyValue:StringEquals": {"k:tags": ["team", "x"]}}),
                true,
            ),
            (
                json!({"ForAnyValue:StringEquals": {"k:tags": ["x"]}}),
                false,
            ),
            (
                json!({"ForAnyValue:StringEquals": {"k:missing": ["x"]}}),
                false,
            ),
            (
                json!({"ForAllValues:StringEquals": {"k:tags": ["env", "team", "x"]}}),
                true,
            ),
            (
                json!({"ForAllValues:StringEquals": {"k:tags": ["env"]}}),
                false,
            ),
            (
                json!({"ForAllValues:StringEquals": {"k:missing": ["env"]}}),
                true,
            ),
            (
                json!({"ForAllValues:StringLike": {"k:tags": ["e*", "t*"]}}),
                true,
            ),
            (
                json!({"ForAnyValue:StringNotEquals": {"k:tags": ["env"]}}),
                true,
            ),
            (
                json!({"ForAllValues:StringNotEquals": {"k:tags": ["env"]}}),
                false,
            ),
            (
                json!({"ForAnyValue:StringEqualsIfExists": {"k:missing": ["x"]}}),
                true,
            ),
            // Several keys and several operators are ANDed.
            (
                json!({"StringEquals": {"k:str": "Value-1", "k:num": "10"}}),
                true,
            ),
            (
                json!({"StringEquals": {"k:str": "Value-1", "k:num": "11"}}),
                false,
            ),
            (
                json!({"StringEquals": {"k:str": "Value-1"}, "Bool": {"k:bool": "false"}}),
                false,
            ),
            (json!({}), true),
            (json!({"UnknownOperator": {}}), true),
        ];
        for (condition, want) in cases {
            assert_eq!(holds(condition.clone(), &ctx), want, "{condition}");
        }
    }

    #[test]
    fn syntax_errors_are_rejected() {
        let bad = [
            json!([]),
            json!("x"),
            json!({"StringEquals": "x"}),
            json!({"StringEquals": {"k": {}}}),
            json!({"StringEquals": {"k": [[]]}}),
            json!({"StringEquals": {"k": null}}),
            json!({"x": {"a": "1"}}),
            json!({"ForAnyValue::StringEqualsIfExists": {"a": "asf"}}),
            json!({"stringequals": {"a": "b"}}),
        ];
        for condition in bad {
            assert!(parse_conditions(&condition).is_none(), "{condition}");
        }
    }

    #[test]
    fn dates() {
        let cases = [
            ("0", Some(0)),
            ("1704494306", Some(1_704_494_306_000)),
            ("1970-01-01", Some(0)),
            ("1970-01-02T00:00:00Z", Some(86_400_000)),
            ("2024-01-05T22:38:26Z", Some(1_704_494_306_000)),
            ("2024-01-05t22:38:26.5z", Some(1_704_494_306_500)),
            ("2024-01-05T23:38:26+01:00", Some(1_704_494_306_000)),
            ("2024-01-05T21:38:26-01", Some(1_704_494_306_000)),
            ("2000-02-29", Some(951_782_400_000)),
            ("2017-07", Some(1_498_867_200_000)),
            ("sdfdsf", None),
            ("234-13", None),
            ("2016-12-13t25:00:00", None),
            ("2016-12-13t2:00:00.593194+1", None),
            ("2016-12-13t2:00:00.1999999999+10:59", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(text), want, "{text}");
        }
    }
}
