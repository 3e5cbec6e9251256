//! Multipart uploads: an upload record holds its parts (each a blob, written and flushed
//! before the part is recorded); completing one turns the listed parts into the segments of
//! a new version in one transaction and lets go of the parts it did not list.

use md5::{Digest, Md5};

use super::buckets::bucket;
use super::error::S3Error;
use super::model::{upload_id, ObjectMeta, Part, Segment, Upload, UPLOAD};
use super::names::check_key;
use super::objects::{put_version, Freed, NewVersion};
use super::{account_scope, Version};
use crate::store::{Tx, TxExt};

/// The smallest part but the last, as S3 enforces it at completion.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_NUMBER: u32 = 10_000;

pub fn create_upload(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    meta: ObjectMeta,
    checksum_algorithm: Option<String>,
    initiator: &str,
    now: i64,
) -> Result<Upload, S3Error> {
    check_key(key)?;
    let bucket = bucket(tx, bucket_name)?;
    let upload = Upload {
        upload_id: uuid::Uuid::new_v4().simple().to_string(),
        bucket: bucket.name.clone(),
        key: key.into(),
        initiated: now,
        initiator: initiator.into(),
        meta,
        checksum_algorithm,
        parts: Default::default(),
    };
    tx.put_json(
        UPLOAD,
        &account_scope(&bucket.owner),
        &upload_id(&bucket.name, &upload.upload_id),
        &upload,
    )?;
    Ok(upload)
}

/// The upload `id` of `key` in `bucket_name`.
pub fn get_upload(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    id: &str,
) -> Result<Upload, S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    tx.get_json::<Upload>(
        UPLOAD,
        &account_scope(&bucket.owner),
        &upload_id(&bucket.name, id),
    )?
    .filter(|u| u.key == key)
    .ok_or_else(|| S3Error::NoSuchUpload { upload: id.into() })
}

fn save(tx: &mut dyn Tx, owner: &str, upload: &Upload) -> Result<(), S3Error> {
    tx.put_json(
        UPLOAD,
        &account_scope(owner),
        &upload_id(&upload.bucket, &upload.upload_id),
        upload,
    )?;
    Ok(())
}

pub fn check_part_number(n: i32) -> Result<u32, S3Error> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            )
        })
}

/// Records an uploaded part (replacing one with the same number).
pub fn put_part(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    id: &str,
    number: u32,
    part: Part,
) -> Result<Freed, S3Error> {
    let owner = bucket(tx, bucket_name)?.owner;
    let mut upload = get_upload(tx, bucket_name, key, id)?;
    let mut freed = Freed::default();
    if let Some(old) = upload.parts.insert(number, part) {
        freed.0.push(old.blob);
    }
    save(tx, &owner, &upload)?;
    Ok(freed)
}

/// Completes an upload from the parts listed (number and ETag), in ascending order.
pub fn complete(
    tx: &mut dyn Tx,
    bucket_name: &str,
    key: &str,
    id: &str,
    listed: &[(u32, String)],
    now: i64,
) -> Result<(Version, Freed), S3Error> {
    let owner = bucket(tx, bucket_name)?.owner;
    let mut upload = get_upload(tx, bucket_name, key, id)?;
    if listed.is_empty() {
        return Err(S3Error::MalformedXml);
    }
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::InvalidPartOrder);
    }
    let mut md5s = Md5::new();
    let mut segments = Vec::with_capacity(listed.len());
    let mut sizes = Vec::with_capacity(listed.len());
    for (i, (number, etag)) in listed.iter().enumerate() {
        let part = upload.parts.get(number).ok_or(S3Error::InvalidPart)?;
        if part.etag.trim_matches('"') != etag.trim_matches('"') {
            return Err(S3Error::InvalidPart);
        }
        if i + 1 < listed.len() && part.size < MIN_PART_SIZE {
            return Err(S3Error::EntityTooSmall);
        }
        let digest = hex::decode(part.etag.trim_matches('"')).map_err(|_| S3Error::InvalidPart)?;
        md5s.update(&digest);
        segments.push(Segment {
            blob: part.blob.clone(),
            len: part.size,
        });
        sizes.push(part.size);
    }
    let mut freed = Freed::default();
    for (number, part) in std::mem::take(&mut upload.parts) {
        if !listed.iter().any(|(n, _)| *n == number) {
            freed.0.push(part.blob);
        }
    }
    tx.delete(
        UPLOAD,
        &account_scope(&owner),
        &upload_id(&upload.bucket, id),
    )?;
    let new = NewVersion {
        size: sizes.iter().sum(),
        etag: format!("\"{}-{}\"", hex::encode(md5s.finalize()), listed.len()),
        segments,
        meta: upload.meta,
        checksums: Default::default(),
        parts: sizes,
    };
    let (version, more) = put_version(tx, bucket_name, key, new, now)?;
    freed.0.extend(more.0);
    Ok((version, freed))
}

/// Aborts an upload; its parts' blobs are the caller's to remove.
pub fn abort(tx: &mut dyn Tx, bucket_name: &str, key: &str, id: &str) -> Result<Freed, S3Error> {
    let owner = bucket(tx, bucket_name)?.owner;
    let upload = get_upload(tx, bucket_name, key, id)?;
    tx.delete(
        UPLOAD,
        &account_scope(&owner),
        &upload_id(&upload.bucket, id),
    )?;
    Ok(Freed(upload.parts.into_values().map(|p| p.blob).collect()))
}

/// The bucket's uploads in progress under `prefix`, by key then initiation.
pub fn list_uploads(
    tx: &mut dyn Tx,
    bucket_name: &str,
    prefix: &str,
) -> Result<Vec<Upload>, S3Error> {
    let bucket = bucket(tx, bucket_name)?;
    let mut uploads: Vec<Upload> = tx
        .list_json::<Upload>(
            UPLOAD,
            &account_scope(&bucket.owner),
            &format!("{}/", bucket.name),
        )?
        .into_iter()
        .filter(|u| u.key.starts_with(prefix))
        .collect();
    uploads.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
    Ok(uploads)
}

/// Every blob some upload's part holds (for the start-up sweep).
pub(crate) fn referenced_blobs(
    tx: &mut dyn Tx,
    into: &mut std::collections::HashSet<String>,
) -> Result<(), S3Error> {
    for (_, id, body) in tx.list_all(UPLOAD)? {
        let upload: Upload =
            serde_json::from_slice(&body).map_err(|source| crate::StoreError::Corrupt {
                kind: UPLOAD.into(),
                id,
                source,
            })?;
        into.extend(upload.parts.into_values().map(|p| p.blob));
    }
    Ok(())
}
