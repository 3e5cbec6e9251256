//! S3's records as the store keeps them. Every record of an account's S3 lives in the
//! account's global scope (S3 has one namespace of buckets per partition): a bucket record
//! per bucket, an object record per key holding its versions newest first, an upload record
//! per multipart upload; and one registry entry per bucket name in the partition's scope,
//! which is what makes bucket names unique across accounts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) const BUCKET: &str = "s3-bucket";
pub(crate) const BUCKET_NAME: &str = "s3-bucket-name";
pub(crate) const OBJECT: &str = "s3-object";
pub(crate) const UPLOAD: &str = "s3-upload";

/// The version id of an object written while versioning was never enabled or suspended.
pub const NULL_VERSION: &str = "null";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub owner: String,
    pub region: String,
    /// Epoch milliseconds.
    pub created: i64,
    #[serde(default)]
    pub versioning: Versioning,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: GetBucketVersioning answers with no status.
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// Where the registry says a bucket name belongs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct NameEntry {
    pub account: String,
}

/// One stored byte range of an object: a whole blob file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    pub blob: String,
    pub len: u64,
}

/// The checksums an object or part was stored with (base64, as S3 shows them).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What a PUT says about an object besides its bytes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// The `Expires` header as sent (an HTTP date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// One version of a key: its bytes or a delete marker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Version {
    pub version_id: String,
    /// Epoch milliseconds.
    pub last_modified: i64,
    #[serde(default)]
    pub delete_marker: bool,
    /// Quoted, as S3 sends it: `"<md5 hex>"` or `"<md5 of part md5s>-<parts>"`.
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub segments: Vec<Segment>,
    #[serde(default)]
    pub meta: ObjectMeta,
    #[serde(default)]
    pub checksums: Checksums,
    /// For a multipart object: the size of each part, for `partNumber` reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
}

impl Version {
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.blob.as_str())
    }
}

/// A key's versions, the current one first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    pub versions: Vec<Version>,
}

impl ObjectRecord {
    /// The current version, unless the key is absent or its current version a delete marker.
    pub fn current(&self) -> Option<&Version> {
        self.versions.first().filter(|v| !v.delete_marker)
    }
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Part {
    pub blob: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: i64,
    #[serde(default)]
    pub checksums: Checksums,
}

/// A multipart upload in progress.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: i64,
    pub initiator: String,
    #[serde(default)]
    pub meta: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(default)]
    pub parts: BTreeMap<u32, Part>,
}

pub(crate) fn object_id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

pub(crate) fn upload_id(bucket: &str, upload: &str) -> String {
    format!("{bucket}/{upload}")
}
