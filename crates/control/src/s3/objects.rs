//! Objects: writing a version (after its bytes are durable), reading one, deleting with
//! S3's versioning rules (delete markers, the `null` version), tags, and the listings
//! (ListObjectsV2/ListObjects with prefix, delimiter and resumption; ListObjectVersions).

use super::buckets::bucket;
use super::error::S3Error;
use super::model::{
    object_id, Checksums, ObjectMeta, ObjectRecord, Segment, Version, Versioning, NULL_VERSION,
    OBJECT,
};
use super::names::check_key;
use super::{account_scope, Bucket};
use crate::store::{Tx, TxExt};

/// The largest byte above every character of a key: a scan bound.
const MAX_CHAR: char = char::MAX;
const PAGE: usize = 1000;

/// A version about to be written: its bytes are already in blobs.
#[derive(Clone, Debug, Default)]
pub struct NewVersion {
    pub segments: Vec<Segment>,
    pub size: u64,
    pub etag: String,
    pub meta: ObjectMeta,
    pub checksums: Checksums,
    pub parts: Vec<u64>,
}

/// What a write or delete left for the caller: blobs to remove after commit.
#[derive(Debug, Default)]
pub struct Freed(pub Vec<String>);

/// The record ids `[from, to)` of the keys of `bucket` starting with `prefix`.
pub(crate) fn key_range(bucket: &str, prefix: &str) -> (String, String) {
    (
        object_id(bucket, prefix),
        format!("{}{MAX_CHAR}", object_id(bucket, prefix)),
    )
}

fn new_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn load_record(
    tx: &mut dyn Tx,
    bucket: &Bucket,
    key: &str,
) -> Result<Option<ObjectRecord>, S3Error> {
    Ok(tx.get_json(
        OBJECT,
        &account_scope(&bucket.owner),
        &object_id(&bucket.name, key),
    )?)
}

fn save_record(
    tx: &mut dyn Tx,
    bucket: &Bucket,
    key: &str,
    record: &ObjectRecord,
) -> Result<(), S3Error> {
    let scope = account_scope(&bucket.owner);
    let id = object_id(&bucket.name, key);
    if record.versions.is_empty() {
        tx.delete(OBJECT, &scope, &id)?;
    } else {
        tx.put_json(OBJECT, &scope, &id, record)?;
    }
    Ok(())
}

/// Takes the `null` version out of `record` (an unversioned or suspended bucket keeps one).
fn take_null(record: &mut ObjectRecord, freed: &mut Freed) {
    record.versions.retain(|v| {
        let null = v.version_id == NULL_VERSION;
        if null {
            freed.0.extend(v.blobs().map(str::to_owned));
        }
        !null
    });
}

/// Writes `new` as the current version of `key`.
pub fn put_version(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    new: NewVersion,
    now: i64,
) -> Result<(Version, Freed), S3Error> {
    check_key(key)?;
    let bucket = bucket(tx, bucket_name)?;
    let mut record = load_record(tx, &bucket, key)?.unwrap_or_default();
    let mut freed = Freed::default();
    let version_id = match bucket.versioning {
        Versioning::Enabled => new_version_id(),
        Versioning::Unversioned | Versioning::Suspended => {
            take_null(&mut record, &mut freed);
            NULL_VERSION.to_string()
        }
    };
    let version = Version {
        version_id,
        last_modified: now,
        delete_marker: false,
        etag: new.etag,
        size: new.size,
        segments: new.segments,
        meta: new.meta,
        checksums: new.checksums,
        parts: new.parts,
    };
    record.versions.insert(0, version.clone());
    save_record(tx, &bucket, key, &record)?;
    Ok((version, freed))
}

/// The version a GET or HEAD reads: the current one, or the one named.
pub fn get_version(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Version, S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    let record = load_record(tx, &bucket, key)?.unwrap_or_default();
    match version_id {
        None => record.current().cloned().ok_or_else(|| S3Error::NoSuchKey {
            key: key.into(),
            marker: record.versions.first().map(|v| v.version_id.clone()),
        }),
        Some(id) => {
            check_version_id(id)?;
            let version = record
                .versions
                .into_iter()
                .find(|v| v.version_id == id)
                .ok_or_else(|| S3Error::NoSuchVersion {
                    key: key.into(),
                    version: id.into(),
                })?;
            if version.delete_marker {
                return Err(S3Error::MethodNotAllowed {
                    marker: version.version_id,
                });
            }
            Ok(version)
        }
    }
}

fn check_version_id(id: &str) -> Result<(), S3Error> {
    if id == NULL_VERSION || (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(S3Error::InvalidArgument(
            "Invalid version id specified".into(),
        ))
    }
}

/// What a DeleteObject did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed, or the delete marker created.
    pub version_id: Option<String>,
    /// Whether a delete marker was created, or the version removed was one.
    pub delete_marker: bool,
}

/// Deletes `key` (a delete marker where versioning is on) or one version of it.
pub fn delete_object(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    version_id: Option<&str>,
    now: i64,
) -> Result<(Deleted, Freed), S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    let mut record = load_record(tx, &bucket, key)?.unwrap_or_default();
    let mut freed = Freed::default();
    let deleted = match version_id {
        Some(id) => {
            check_version_id(id)?;
            let Some(pos) = record.versions.iter().position(|v| v.version_id == id) else {
                return Ok((
                    Deleted {
                        version_id: Some(id.into()),
                        delete_marker: false,
                    },
                    freed,
                ));
            };
            let removed = record.versions.remove(pos);
            freed.0.extend(removed.blobs().map(str::to_owned));
            Deleted {
                version_id: Some(id.into()),
                delete_marker: removed.delete_marker,
            }
        }
        None => match bucket.versioning {
            Versioning::Unversioned => {
                take_null(&mut record, &mut freed);
                Deleted::default()
            }
            status => {
                let marker_id = if status == Versioning::Enabled {
                    new_version_id()
                } else {
                    take_null(&mut record, &mut freed);
                    NULL_VERSION.to_string()
                };
                record.versions.insert(
                    0,
                    Version {
                        version_id: marker_id.clone(),
                        last_modified: now,
                        delete_marker: true,
                        etag: String::new(),
                        size: 0,
                        segments: Vec::new(),
                        meta: ObjectMeta::default(),
                        checksums: Checksums::default(),
                        parts: Vec::new(),
                    },
                );
                Deleted {
                    version_id: Some(marker_id),
                    delete_marker: true,
                }
            }
        },
    };
    save_record(tx, &bucket, key, &record)?;
    Ok((deleted, freed))
}

/// S3's tag limits: 128-character keys, 256-character values, unique keys, at most `max`.
pub(crate) fn check_tags(tags: &[(String, String)], max: usize) -> Result<(), S3Error> {
    if tags.len() > max {
        return Err(S3Error::InvalidTag(format!(
            "Object tags cannot be greater than {max}"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(S3Error::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if v.chars().count() > 256 {
            return Err(S3Error::InvalidTag(
                "The TagValue you have provided is invalid".into(),
            ));
        }
        if !seen.insert(k) {
            return Err(S3Error::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

/// Replaces (`Some`) or clears (`None`) the tags of a version; returns its id.
pub fn set_object_tags(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    version_id: Option<&str>,
    tags: Vec<(String, String)>,
) -> Result<String, S3Error> {
    check_tags(&tags, 10)?;
    let bucket = bucket(tx, bucket_name)?;
    let mut record = load_record(tx, &bucket, key)?.unwrap_or_default();
    let version = match version_id {
        None => record.versions.first_mut().filter(|v| !v.delete_marker),
        Some(id) => record.versions.iter_mut().find(|v| v.version_id == id),
    };
    let Some(version) = version else {
        return Err(match version_id {
            None => S3Error::NoSuchKey {
                key: key.into(),
                marker: None,
            },
            Some(id) => S3Error::NoSuchVersion {
                key: key.into(),
                version: id.into(),
            },
        });
    };
    if version.delete_marker {
        return Err(S3Error::MethodNotAllowed {
            marker: version.version_id.clone(),
        });
    }
    version.meta.tags = tags;
    let id = version.version_id.clone();
    save_record(tx, &bucket, key, &record)?;
    Ok(id)
}

/// A ListObjects/ListObjectsV2 request.
#[derive(Clone, Debug, Default)]
pub struct ListRequest<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// List keys after this one (exclusive): `StartAfter`, `Marker`, or where a
    /// continuation token left off.
    pub after: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub objects: Vec<(String, Version)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

/// One page of current objects under `prefix`, rolled up at `delimiter`.
pub fn list_objects(
    tx: &mut dyn Tx,
    bucket_name: &str,
    req: &ListRequest,
) -> Result<Listing, S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    let scope = account_scope(&bucket.owner);
    let (start, to) = key_range(&bucket.name, req.prefix);
    let id_prefix_len = bucket.name.len() + 1;
    let mut from = match req.after {
        Some(after) if object_id(&bucket.name, after) >= start => {
            resume_after(&bucket.name, after, req.prefix, req.delimiter)
        }
        _ => start,
    };
    let mut out = Listing::default();
    let delimiter = req.delimiter.filter(|d| !d.is_empty());
    loop {
        let page = tx.list_range(OBJECT, &scope, &from, &to, PAGE)?;
        let exhausted = page.len() < PAGE;
        let mut next_from = None;
        for (id, body) in page {
            let key = &id[id_prefix_len..];
            if let Some(d) = delimiter {
                if let Some(pos) = key[req.prefix.len()..].find(d) {
                    let common = &key[..req.prefix.len() + pos + d.len()];
                    if out.objects.len() + out.common_prefixes.len() == req.max_keys {
                        out.truncated = true;
                        return Ok(out);
                    }
                    out.common_prefixes.push(common.to_string());
                    out.last = Some(common.to_string());
                    next_from = Some(format!("{}{MAX_CHAR}", object_id(&bucket.name, common)));
                    break;
                }
            }
            let record: ObjectRecord =
                serde_json::from_slice(&body).map_err(|source| crate::StoreError::Corrupt {
                    kind: OBJECT.into(),
                    id: id.clone(),
                    source,
                })?;
            let Some(current) = record.current() else {
                next_from = Some(format!("{id}\0"));
                continue;
            };
            if out.objects.len() + out.common_prefixes.len() == req.max_keys {
                out.truncated = true;
                return Ok(out);
            }
            out.objects.push((key.to_string(), current.clone()));
            out.last = Some(key.to_string());
            next_from = Some(format!("{id}\0"));
        }
        match next_from {
            Some(n) if !(exhausted && n.ends_with('\0')) => from = n,
            _ => return Ok(out),
        }
    }
}

/// Where a listing resumes after `key`: past every key under it when it was a common prefix.
fn resume_after(bucket: &str, key: &str, prefix: &str, delimiter: Option<&str>) -> String {
    let id = object_id(bucket, key);
    let rolled_up = delimiter
        .filter(|d| !d.is_empty())
        .is_some_and(|d| key.get(prefix.len()..).is_some_and(|rest| rest.contains(d)));
    if rolled_up {
        format!("{id}{MAX_CHAR}")
    } else {
        format!("{id}\0")
    }
}

/// A ListObjectVersions request.
#[derive(Clone, Debug, Default)]
pub struct VersionListRequest<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub version_id_marker: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Clone, Debug, Default)]
pub struct VersionListing {
    /// Key, version, and whether it is the key's current (latest) version.
    pub versions: Vec<(String, Version, bool)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// One page of every version (and delete marker) under `prefix`, keys in order, each key's
/// versions newest first.
pub fn list_versions(
    tx: &mut dyn Tx,
    bucket_name: &str,
    req: &VersionListRequest,
) -> Result<VersionListing, S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    let scope = account_scope(&bucket.owner);
    let (start, to) = key_range(&bucket.name, req.prefix);
    let id_prefix_len = bucket.name.len() + 1;
    let delimiter = req.delimiter.filter(|d| !d.is_empty());
    // With a version id marker, the marker's key is listed again from after that version.
    let mut from = match req.key_marker {
        Some(k) if req.version_id_marker.is_some() => object_id(&bucket.name, k).max(start),
        Some(k) => resume_after(&bucket.name, k, req.prefix, req.delimiter).max(start),
        None => start,
    };
    let mut out = VersionListing::default();
    let mut count = 0;
    loop {
        let page = tx.list_range(OBJECT, &scope, &from, &to, PAGE)?;
        let exhausted = page.len() < PAGE;
        let mut next_from = None;
        for (id, body) in page {
            let key = id[id_prefix_len..].to_string();
            if let Some(d) = delimiter {
                if let Some(pos) = key[req.prefix.len()..].find(d) {
                    let common = key[..req.prefix.len() + pos + d.len()].to_string();
                    if count == req.max_keys {
                        out.truncated = true;
                        return Ok(out);
                    }
                    count += 1;
                    next_from = Some(format!("{}{MAX_CHAR}", object_id(&bucket.name, &common)));
                    out.next_key_marker = Some(common.clone());
                    out.next_version_id_marker = None;
                    out.common_prefixes.push(common);
                    break;
                }
            }
            let record: ObjectRecord =
                serde_json::from_slice(&body).map_err(|source| crate::StoreError::Corrupt {
                    kind: OBJECT.into(),
                    id: id.clone(),
                    source,
                })?;
            let mut skip = match (req.key_marker, req.version_id_marker) {
                (Some(k), Some(v)) if k == key => record
                    .versions
                    .iter()
                    .position(|x| x.version_id == v)
                    .map_or(0, |p| p + 1),
                _ => 0,
            };
            for (i, v) in record.versions.iter().enumerate() {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if count == req.max_keys {
                    out.truncated = true;
                    return Ok(out);
                }
                count += 1;
                out.next_key_marker = Some(key.clone());
                out.next_version_id_marker = Some(v.version_id.clone());
                out.versions.push((key.clone(), v.clone(), i == 0));
            }
            next_from = Some(format!("{id}\0"));
        }
        match next_from {
            Some(n) if !(exhausted && n.ends_with('\0')) => from = n,
            _ => return Ok(out),
        }
    }
}

/// Every blob some object version names (for the start-up sweep).
pub(crate) fn referenced_blobs(
    tx: &mut dyn Tx,
    into: &mut std::collections::HashSet<String>,
) -> Result<(), S3Error> {
    for (_, id, body) in tx.list_all(OBJECT)? {
        let record: ObjectRecord =
            serde_json::from_slice(&body).map_err(|source| crate::StoreError::Corrupt {
                kind: OBJECT.into(),
                id,
                source,
            })?;
        for v in &record.versions {
            into.extend(v.blobs().map(str::to_owned));
        }
    }
    Ok(())
}
