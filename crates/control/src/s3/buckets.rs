//! Buckets: the partition-wide name registry, creation with S3's location rules, deletion
//! of empty buckets, and the bucket's own settings (versioning, policy, tags).

use policy::{Policy, PolicyKind};

use super::error::S3Error;
use super::model::{Bucket, NameEntry, Versioning, BUCKET, BUCKET_NAME, OBJECT, UPLOAD};
use super::names::check_bucket_name;
use super::{account_scope, registry, Upload};
use crate::store::{Tx, TxExt};

/// The largest bucket policy S3 accepts, in bytes.
pub const BUCKET_POLICY_MAX: usize = 20 * 1024;

/// What creating a bucket did: `false` when the caller already owned it in us-east-1, where
/// S3 answers a repeated create with success and changes nothing.
pub fn create_bucket(
    tx: &mut dyn Tx,
    account: &str,
    endpoint_region: &str,
    name: &str,
    location_constraint: Option<&str>,
    now: i64,
) -> Result<bool, S3Error> {
    check_bucket_name(name)?;
    let region = match location_constraint.filter(|c| !c.is_empty()) {
        Some("us-east-1") => return Err(S3Error::InvalidLocationConstraint),
        Some("EU") => "eu-west-1".to_string(),
        Some(c) if !crate::regions::is_known(c) => return Err(S3Error::InvalidLocationConstraint),
        Some(c) if endpoint_region != "us-east-1" && c != endpoint_region => {
            return Err(S3Error::IllegalLocationConstraint { region: c.into() })
        }
        Some(c) => c.to_string(),
        None if endpoint_region != "us-east-1" => {
            return Err(S3Error::IllegalLocationConstraint {
                region: "unspecified".into(),
            })
        }
        None => "us-east-1".to_string(),
    };
    if let Some(entry) = tx.get_json::<NameEntry>(BUCKET_NAME, &registry(), name)? {
        if entry.account != account {
            return Err(S3Error::BucketAlreadyExists {
                bucket: name.into(),
            });
        }
        let existing = load(tx, account, name)?;
        if existing.region == "us-east-1" && region == "us-east-1" {
            return Ok(false);
        }
        return Err(S3Error::BucketAlreadyOwnedByYou {
            bucket: name.into(),
        });
    }
    tx.put_json(
        BUCKET_NAME,
        &registry(),
        name,
        &NameEntry {
            account: account.into(),
        },
    )?;
    let bucket = Bucket {
        name: name.into(),
        owner: account.into(),
        region,
        created: now,
        versioning: Versioning::Unversioned,
        policy: None,
        tags: Vec::new(),
    };
    tx.put_json(BUCKET, &account_scope(account), name, &bucket)?;
    Ok(true)
}

/// The bucket called `name`, whichever account owns it.
pub fn bucket(tx: &mut dyn Tx, name: &str) -> Result<Bucket, S3Error> {
    let Some(entry) = tx.get_json::<NameEntry>(BUCKET_NAME, &registry(), name)? else {
        return Err(S3Error::NoSuchBucket {
            bucket: name.into(),
        });
    };
    load(tx, &entry.account, name)
}

fn load(tx: &mut dyn Tx, account: &str, name: &str) -> Result<Bucket, S3Error> {
    tx.get_json::<Bucket>(BUCKET, &account_scope(account), name)?
        .ok_or_else(|| S3Error::NoSuchBucket {
            bucket: name.into(),
        })
}

fn save(tx: &mut dyn Tx, bucket: &Bucket) -> Result<(), S3Error> {
    tx.put_json(BUCKET, &account_scope(&bucket.owner), &bucket.name, bucket)?;
    Ok(())
}

/// The account's buckets, by name.
pub fn list_buckets(tx: &mut dyn Tx, account: &str) -> Result<Vec<Bucket>, S3Error> {
    Ok(tx.list_json(BUCKET, &account_scope(account), "")?)
}

/// Deletes an empty bucket; in-progress multipart uploads go with it. Returns the blobs
/// those uploads held, to remove once the transaction committed.
pub fn delete_bucket(tx: &mut dyn Tx, name: &str) -> Result<Vec<String>, S3Error> {
    let bucket = bucket(tx, name)?;
    let scope = account_scope(&bucket.owner);
    let (from, to) = super::objects::key_range(name, "");
    if !tx.list_range(OBJECT, &scope, &from, &to, 1)?.is_empty() {
        return Err(S3Error::BucketNotEmpty {
            bucket: name.into(),
        });
    }
    let mut freed = Vec::new();
    for (id, _) in tx.list(UPLOAD, &scope, &format!("{name}/"))? {
        if let Some(upload) = tx.get_json::<Upload>(UPLOAD, &scope, &id)? {
            freed.extend(upload.parts.values().map(|p| p.blob.clone()));
        }
        tx.delete(UPLOAD, &scope, &id)?;
    }
    tx.delete(BUCKET, &scope, name)?;
    tx.delete(BUCKET_NAME, &registry(), name)?;
    Ok(freed)
}

pub fn put_versioning(tx: &mut dyn Tx, name: &str, status: Versioning) -> Result<(), S3Error> {
    let mut bucket = bucket(tx, name)?;
    bucket.versioning = match (bucket.versioning, status) {
        // A bucket once versioned can only be suspended, never unversioned again.
        (Versioning::Unversioned, Versioning::Suspended) => Versioning::Suspended,
        (_, Versioning::Unversioned) => {
            return Err(S3Error::MalformedXml);
        }
        (_, s) => s,
    };
    save(tx, &bucket)
}

/// Stores a bucket policy after checking it is a valid resource policy of at most 20 KB.
pub fn put_policy(tx: &mut dyn Tx, name: &str, document: &str) -> Result<(), S3Error> {
    let mut bucket = bucket(tx, name)?;
    if document.len() > BUCKET_POLICY_MAX {
        return Err(S3Error::MalformedPolicy(format!(
            "Policies cannot exceed {BUCKET_POLICY_MAX} bytes"
        )));
    }
    Policy::parse(document, PolicyKind::Resource)
        .map_err(|e| S3Error::MalformedPolicy(e.to_string()))?;
    check_policy_resources(document, name)?;
    bucket.policy = Some(document.into());
    save(tx, &bucket)
}

/// Every `Resource` of a bucket policy must be the bucket or objects in it.
fn check_policy_resources(document: &str, bucket: &str) -> Result<(), S3Error> {
    let invalid = || S3Error::MalformedPolicy("Policy has invalid resource".into());
    let doc: serde_json::Value = serde_json::from_str(document).map_err(|_| invalid())?;
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let own = format!("arn:aws:s3:::{bucket}");
    for statement in &statements {
        let resources = match &statement["Resource"] {
            serde_json::Value::String(r) => vec![r.clone()],
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        for r in resources {
            let ok = r
                .strip_prefix(&own)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest == "*");
            if !ok {
                return Err(invalid());
            }
        }
    }
    Ok(())
}

pub fn get_policy(tx: &mut dyn Tx, name: &str) -> Result<String, S3Error> {
    bucket(tx, name)?
        .policy
        .ok_or_else(|| S3Error::NoSuchBucketPolicy {
            bucket: name.into(),
        })
}

pub fn delete_policy(tx: &mut dyn Tx, name: &str) -> Result<(), S3Error> {
    let mut bucket = bucket(tx, name)?;
    bucket.policy = None;
    save(tx, &bucket)
}

pub fn put_tags(tx: &mut dyn Tx, name: &str, tags: Vec<(String, String)>) -> Result<(), S3Error> {
    super::objects::check_tags(&tags, 50)?;
    let mut bucket = bucket(tx, name)?;
    bucket.tags = tags;
    save(tx, &bucket)
}

pub fn get_tags(tx: &mut dyn Tx, name: &str) -> Result<Vec<(String, String)>, S3Error> {
    let tags = bucket(tx, name)?.tags;
    if tags.is_empty() {
        return Err(S3Error::NoSuchTagSet);
    }
    Ok(tags)
}

pub fn delete_tags(tx: &mut dyn Tx, name: &str) -> Result<(), S3Error> {
    let mut bucket = bucket(tx, name)?;
    bucket.tags.clear();
    save(tx, &bucket)
}
