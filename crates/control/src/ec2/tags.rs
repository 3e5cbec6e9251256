//! Tags on every taggable resource: `TagSpecifications` at create time, and
//! CreateTags/DeleteTags/DescribeTags across resource types. Every record stores its tags
//! in a `tags` field, so these work on the JSON documents without knowing each record type.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::Ec2Error;
use super::filter::{self, Filter, Filterable, Page};
use super::ids::{ResourceType, TAGGABLE};
use super::model::Tag;
use crate::store::{Scope, Tx, TxExt};

/// Tags a resource may carry.
pub const MAX_TAGS: usize = 50;

/// One `TagSpecification`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSpec {
    pub resource_type: String,
    pub tags: Vec<Tag>,
}

/// The tags that `specs` give a new resource of `rtype`. A spec naming another type is an
/// error, as on AWS.
pub fn for_new(specs: &[TagSpec], rtype: ResourceType) -> Result<Vec<Tag>, Ec2Error> {
    let mut tags: Vec<Tag> = Vec::new();
    for spec in specs {
        if spec.resource_type != rtype.tag_type {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "'{}' is not a valid taggable resource type for this operation.",
                spec.resource_type
            )));
        }
        for t in &spec.tags {
            upsert(&mut tags, t.clone())?;
        }
    }
    Ok(tags)
}

fn validate(tag: &Tag) -> Result<(), Ec2Error> {
    if tag.key.is_empty() || tag.key.chars().count() > 128 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag key must be between 1 and 128 characters: '{}'",
            tag.key
        )));
    }
    if tag.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::InvalidParameterValue(
            "Tag keys starting with 'aws:' are reserved for internal use".into(),
        ));
    }
    if tag.value.chars().count() > 256 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag value exceeds the maximum length of 256 characters for key '{}'",
            tag.key
        )));
    }
    Ok(())
}

fn upsert(tags: &mut Vec<Tag>, tag: Tag) -> Result<(), Ec2Error> {
    validate(&tag)?;
    let full = tags.len() >= MAX_TAGS;
    match tags.iter_mut().find(|t| t.key == tag.key) {
        Some(t) => t.value = tag.value,
        None if full => return Err(Ec2Error::TagLimitExceeded),
        None => tags.push(tag),
    }
    Ok(())
}

fn load(tx: &mut dyn Tx, scope: &Scope, id: &str) -> Result<(&'static str, Value), Ec2Error> {
    let rtype = ResourceType::of_id(id).ok_or_else(|| Ec2Error::InvalidId(id.to_string()))?;
    rtype.check(id)?;
    let kind = rtype
        .kind
        .ok_or_else(|| Ec2Error::InvalidId(id.to_string()))?;
    let doc = tx
        .get_json::<Value>(kind, scope, id)?
        .ok_or_else(|| rtype.not_found(id))?;
    Ok((kind, doc))
}

fn tags_of(doc: &Value) -> Vec<Tag> {
    doc.get("tags")
        .cloned()
        .and_then(|t| serde_json::from_value(t).ok())
        .unwrap_or_default()
}

fn store_tags(doc: &mut Value, tags: &[Tag]) -> Result<(), Ec2Error> {
    let value = serde_json::to_value(tags).map_err(crate::store::StoreError::Encode)?;
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("tags".into(), value);
    }
    Ok(())
}

/// CreateTags: adds or overwrites `tags` on every resource. All resources must exist.
pub fn create(
    tx: &mut dyn Tx,
    scope: &Scope,
    resource_ids: &[String],
    tags: &[Tag],
) -> Result<(), Ec2Error> {
    if resource_ids.is_empty() {
        return Err(Ec2Error::MissingParameter("ResourceId".into()));
    }
    for id in resource_ids {
        let (kind, mut doc) = load(tx, scope, id)?;
        let mut have = tags_of(&doc);
        for t in tags {
            upsert(&mut have, t.clone())?;
        }
        store_tags(&mut doc, &have)?;
        tx.put_json(kind, scope, id, &doc)?;
    }
    Ok(())
}

/// Which tags DeleteTags removes: by key, or by key only when the value matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagSelector {
    pub key: String,
    pub value: Option<String>,
}

/// DeleteTags: with no selectors, every tag goes.
pub fn delete(
    tx: &mut dyn Tx,
    scope: &Scope,
    resource_ids: &[String],
    selectors: &[TagSelector],
) -> Result<(), Ec2Error> {
    if resource_ids.is_empty() {
        return Err(Ec2Error::MissingParameter("ResourceId".into()));
    }
    for id in resource_ids {
        let (kind, mut doc) = load(tx, scope, id)?;
        let mut have = tags_of(&doc);
        have.retain(|t| {
            !selectors.is_empty()
                && !selectors
                    .iter()
                    .any(|s| s.key == t.key && s.value.as_ref().is_none_or(|v| *v == t.value))
        });
        store_tags(&mut doc, &have)?;
        tx.put_json(kind, scope, id, &doc)?;
    }
    Ok(())
}

/// One row of DescribeTags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagDescription {
    pub resource_id: String,
    pub resource_type: &'static str,
    pub key: String,
    pub value: String,
    /// Rows are paged by this: resource id and key.
    sort_key: String,
}

impl Filterable for TagDescription {
    fn id(&self) -> &str {
        &self.sort_key
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "resource-id" => self.resource_id.clone(),
            "resource-type" => self.resource_type.to_string(),
            "key" => self.key.clone(),
            "value" => self.value.clone(),
            _ => return None,
        };
        Some(vec![v])
    }
}

/// DescribeTags over every taggable resource of the scope.
pub fn describe(
    tx: &mut dyn Tx,
    scope: &Scope,
    filters: &[Filter],
    page: &Page,
) -> Result<(Vec<TagDescription>, Option<String>), Ec2Error> {
    let mut rows = Vec::new();
    for rtype in TAGGABLE {
        let Some(kind) = rtype.kind else { continue };
        for (id, body) in tx.list(kind, scope, "")? {
            let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            for t in tags_of(&doc) {
                rows.push(TagDescription {
                    sort_key: format!("{id}\u{0}{}", t.key),
                    resource_id: id.clone(),
                    resource_type: rtype.tag_type,
                    key: t.key,
                    value: t.value,
                });
            }
        }
    }
    let mut rows = filter::retain(rows, filters)?;
    rows.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
    page.apply(rows, (5, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::ids::{SUBNET, VPC};

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn specs_must_name_the_created_type() {
        let specs = vec![TagSpec {
            resource_type: "vpc".into(),
            tags: vec![tag("Name", "a"), tag("Name", "b")],
        }];
        assert_eq!(for_new(&specs, VPC).unwrap(), vec![tag("Name", "b")]);
        assert_eq!(
            for_new(&specs, SUBNET).unwrap_err().code(),
            "InvalidParameterValue"
        );
    }

    #[test]
    fn tag_rules() {
        let mut tags = Vec::new();
        assert!(upsert(&mut tags, tag("aws:x", "1")).is_err());
        assert!(upsert(&mut tags, tag("", "1")).is_err());
        for i in 0..MAX_TAGS {
            upsert(&mut tags, tag(&format!("k{i}"), "v")).unwrap();
        }
        assert_eq!(
            upsert(&mut tags, tag("one-more", "v")).unwrap_err().code(),
            "TagLimitExceeded"
        );
        upsert(&mut tags, tag("k0", "new")).unwrap();
        assert_eq!(tags[0].value, "new");
    }
}
