//! No member of a function's configuration is dropped: CreateFunction,
//! UpdateFunctionConfiguration, UpdateFunctionCode, PublishVersion, CreateAlias and
//! UpdateAlias bodies are decoded so that every member the input struct does not take is
//! seen, and one that botocore's model has is refused with `InvalidParameterValueException`
//! naming it. Members outside the model are
//! ignored, as Lambda ignores them.
//!
//! The model's member trees are `input_members.json`, written by
//! `scripts/lambda-input-members` from botocore; the tests below walk every member of them.

use std::sync::LazyLock;

use control::lambda::LambdaError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `{"botocore": version, "operations": {operation: tree}}`.
const MODEL: &str = include_str!("input_members.json");

static TREES: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str::<Value>(MODEL)
        .ok()
        .and_then(|v| v.get("operations").cloned())
        .unwrap_or(Value::Null)
});

/// Why a member the model has cannot be honored here, where there is more to say than that.
const REASONS: &[(&str, &str)] = &[
    ("FileSystemConfigs", "there is no Amazon EFS here"),
    ("ImageConfig", "functions run .zip file archives only"),
    (
        "CapacityProviderConfig",
        "functions run on Lambda's own execution environments only",
    ),
    ("PublishTo", "there are no capacity providers here"),
    ("DurableConfig", "there are no durable functions here"),
    ("TenancyConfig", "there is no tenant isolation here"),
    ("SourceKMSKeyArn", "there is no AWS KMS here"),
    ("Code.SourceKMSKeyArn", "there is no AWS KMS here"),
];

/// One step of the path to a member the struct did not take.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index,
}

/// Decodes `body` (empty means `{}`) as `operation`'s input; refuses a model member `T`
/// does not take.
pub fn parse_input<T: DeserializeOwned>(body: &[u8], operation: &str) -> Result<T, LambdaError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut ignored: Vec<Vec<Step>> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_ignored::deserialize(&mut de, |path| ignored.push(steps(&path)))
        .map_err(|e| LambdaError::InvalidRequestContent(e.to_string()))?;
    de.end()
        .map_err(|e| LambdaError::InvalidRequestContent(e.to_string()))?;
    let tree = TREES.get(operation).unwrap_or(&Value::Null);
    for path in &ignored {
        if let Some(member) = model_member(tree, path) {
            return Err(unsupported(&member));
        }
    }
    Ok(value)
}

/// The refusal of a model member this daemon does not honor.
pub fn unsupported(member: &str) -> LambdaError {
    match REASONS.iter().find(|(m, _)| *m == member) {
        Some((_, why)) => {
            LambdaError::InvalidParameter(format!("{member} is not supported by vpclambda: {why}."))
        }
        None => LambdaError::InvalidParameter(format!("{member} is not supported by vpclambda.")),
    }
}

fn steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    use serde_ignored::Path;
    let mut out = Vec::new();
    let mut at = path;
    loop {
        match at {
            Path::Root => break,
            Path::Seq { parent, .. } => {
                out.push(Step::Index);
                at = parent;
            }
            Path::Map { parent, key } => {
                out.push(Step::Key(key.clone()));
                at = parent;
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => at = parent,
        }
    }
    out.reverse();
    out
}

/// The dotted member name (`VpcConfig.Ipv6AllowedForDualStack`) if `path` is in the model.
fn model_member(tree: &Value, path: &[Step]) -> Option<String> {
    let mut node = tree;
    let mut names = Vec::new();
    for step in path {
        node = match (step, node) {
            (Step::Key(k), Value::Object(members)) => match members.get(k) {
                Some(child) if !members.contains_key("*") => {
                    names.push(k.clone());
                    child
                }
                // A map's keys are data, not members.
                _ => members.get("*")?,
            },
            (Step::Index, Value::Array(element)) => element.first()?,
            _ => return None,
        };
    }
    (!names.is_empty()).then(|| names.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::lambda::shapes::{
        AliasInput, CreateFunctionInput, PublishVersionInput, UpdateCodeInput,
        UpdateConfigurationInput,
    };

    /// A value of the member's type.
    fn sample(node: &Value) -> Value {
        match node {
            Value::String(t) => match t.as_str() {
                "string" => Value::from("x"),
                "blob" => Value::from("eA=="),
                "boolean" => Value::from(true),
                "integer" | "long" => Value::from(1),
                "float" | "double" => Value::from(1.5),
                "timestamp" => Value::from(0),
                other => panic!("no sample for type {other}"),
            },
            Value::Array(e) => Value::Array(vec![sample(&e[0])]),
            Value::Object(m) if m.contains_key("*") => serde_json::json!({ "k": sample(&m["*"]) }),
            Value::Object(_) => serde_json::json!({}),
            other => panic!("unexpected tree node {other}"),
        }
    }

    /// Every member path of `tree`, each with a body that sets it alone.
    fn bodies(tree: &Value) -> Vec<(String, Value)> {
        fn walk(
            node: &Value,
            prefix: &[String],
            wrap: &dyn Fn(Value) -> Value,
            out: &mut Vec<(String, Value)>,
        ) {
            let Value::Object(members) = node else { return };
            if members.contains_key("*") {
                return;
            }
            for (name, child) in members {
                let mut path = prefix.to_vec();
                path.push(name.clone());
                let value = sample(child);
                out.push((
                    path.join("."),
                    wrap(serde_json::json!({ name.clone(): value })),
                ));
                let inner = match child {
                    Value::Array(e) => &e[0],
                    other => other,
                };
                let listed = matches!(child, Value::Array(_));
                let name = name.clone();
                let nested = move |v: Value| {
                    let v = if listed { Value::Array(vec![v]) } else { v };
                    wrap(serde_json::json!({ name.clone(): v }))
                };
                walk(inner, &path, &nested, out);
            }
        }
        let mut out = Vec::new();
        walk(tree, &[], &|v| v, &mut out);
        out
    }

    /// Every member of the operation is taken by its input struct or refused by name.
    fn every_member_is_honored_or_refused<T: DeserializeOwned>(operation: &str) -> Vec<String> {
        let tree = &TREES[operation];
        assert!(tree.is_object(), "{operation} is not in input_members.json");
        let mut refused = Vec::new();
        for (member, body) in bodies(tree) {
            let bytes = serde_json::to_vec(&body).unwrap();
            match parse_input::<T>(&bytes, operation) {
                Ok(_) => {}
                Err(e) => {
                    let text = e.to_string();
                    let named = text
                        .strip_prefix(&member)
                        .is_some_and(|r| r.starts_with(" is not supported by vpclambda"));
                    // A member inside a refused one is refused with its parent's name.
                    let parent = refused.iter().any(|p: &String| {
                        member.starts_with(&format!("{p}."))
                            && text.starts_with(&format!("{p} is not supported by vpclambda"))
                    });
                    assert!(named || parent, "{operation}: {member} → {text}");
                    if named {
                        refused.push(member);
                    }
                }
            }
        }
        refused
    }

    #[test]
    fn create_function_members() {
        let refused = every_member_is_honored_or_refused::<CreateFunctionInput>("CreateFunction");
        for m in [
            "FileSystemConfigs",
            "ImageConfig",
            "CapacityProviderConfig",
            "DurableConfig",
        ] {
            assert!(
                refused.contains(&m.to_string()),
                "{m} should be refused: {refused:?}"
            );
        }
    }

    #[test]
    fn update_configuration_members() {
        let refused = every_member_is_honored_or_refused::<UpdateConfigurationInput>(
            "UpdateFunctionConfiguration",
        );
        assert!(
            refused.contains(&"FileSystemConfigs".to_string()),
            "{refused:?}"
        );
    }

    #[test]
    fn update_code_members() {
        let refused = every_member_is_honored_or_refused::<UpdateCodeInput>("UpdateFunctionCode");
        assert!(
            refused.contains(&"SourceKMSKeyArn".to_string()),
            "{refused:?}"
        );
    }

    #[test]
    fn version_and_alias_members() {
        let refused = every_member_is_honored_or_refused::<PublishVersionInput>("PublishVersion");
        assert_eq!(refused, ["PublishTo"]);
        assert!(every_member_is_honored_or_refused::<AliasInput>("CreateAlias").is_empty());
        assert!(every_member_is_honored_or_refused::<AliasInput>("UpdateAlias").is_empty());
    }

    #[test]
    fn members_outside_the_model_are_ignored() {
        let input: CreateFunctionInput = parse_input(
            br#"{"FunctionName":"f","NoSuchMember":{"a":1}}"#,
            "CreateFunction",
        )
        .unwrap();
        assert_eq!(input.function_name.as_deref(), Some("f"));
        let Err(e) = parse_input::<CreateFunctionInput>(
            br#"{"FileSystemConfigs":[{"Arn":"a","LocalMountPath":"/mnt/x"}]}"#,
            "CreateFunction",
        ) else {
            panic!("FileSystemConfigs was taken");
        };
        assert_eq!(
            e.to_string(),
            "FileSystemConfigs is not supported by vpclambda: there is no Amazon EFS here."
        );
        // Map keys are the caller's data.
        parse_input::<CreateFunctionInput>(
            br#"{"Environment":{"Variables":{"FileSystemConfigs":"1"}}}"#,
            "CreateFunction",
        )
        .unwrap();
        assert!(parse_input::<CreateFunctionInput>(b"{} x", "CreateFunction").is_err());
    }
}
