//! Amazon S3's domain: buckets with a partition-wide name registry, objects and their
//! versions, multipart uploads, tags, bucket policies and the access decision, and the
//! files that hold object bytes. No HTTP here: the service adapter streams bodies into
//! blobs ([`BlobStore`]) and then records them in one transaction; whatever a transaction
//! lets go of ([`Freed`]) is removed only after it committed.

mod access;
mod blobs;
mod buckets;
mod error;
mod model;
mod multipart;
mod names;
mod objects;

#[cfg(test)]
mod tests;

use std::collections::HashSet;

pub use access::{authorize, resource_arn, Endpoint, Network, Principal};
pub use blobs::BlobStore;
pub use buckets::{
    bucket, create_bucket, delete_bucket, delete_policy, delete_tags, get_policy, get_tags,
    list_buckets, put_policy, put_tags, put_versioning, BUCKET_POLICY_MAX,
};
pub use error::S3Error;
pub use model::{
    Bucket, Checksums, ObjectMeta, ObjectRecord, Part, Segment, Upload, Version, Versioning,
    NULL_VERSION,
};
pub use multipart::{
    abort, check_part_number, complete, create_upload, get_upload, list_uploads, put_part,
    MAX_PART_NUMBER, MIN_PART_SIZE,
};
pub use names::{check_bucket_name, check_key};
pub use objects::{
    delete_object, get_version, list_objects, list_versions, put_version, set_object_tags, Deleted,
    Freed, ListRequest, Listing, NewVersion, VersionListRequest, VersionListing,
};

use crate::store::{Scope, Store};

/// The scope of an account's S3 records (S3 is global within a partition).
fn account_scope(account: &str) -> Scope {
    Scope::global(account)
}

/// The scope of the bucket name registry, shared by every account.
fn registry() -> Scope {
    Scope::global("partition:aws")
}

/// Removes the blobs no record names: what a crash between writing bytes and recording
/// them, or between a commit and the removal it allowed, left behind. Run at start-up,
/// before S3 serves; returns how many went.
pub fn sweep(store: &Store, blobs: &BlobStore) -> Result<usize, S3Error> {
    let referenced = store.read(|tx| {
        let mut referenced = HashSet::new();
        objects::referenced_blobs(tx, &mut referenced)?;
        multipart::referenced_blobs(tx, &mut referenced)?;
        Ok::<_, S3Error>(referenced)
    })?;
    Ok(blobs.sweep(&referenced)?)
}
