//! The [`s3s::S3`] implementation: each operation resolves the caller, checks it may act
//! (`control::s3::authorize`: identity policies and the bucket's policy), streams bytes with
//! `blob_io`, and records the result in one store transaction. Blobs a transaction let go of
//! are removed after it committed; blobs written for a request that then failed are removed
//! before the error goes out. Operations not implemented here are refused by `s3s` with
//! `NotImplemented`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use control::s3::{
    self as domain, BlobStore, Checksums, Deleted, Freed, ListRequest, NewVersion, ObjectMeta,
    Part as DomainPart, Principal, S3Error, Segment, Version, VersionListRequest, Versioning,
};
use control::{Accounts, Store};
use s3s::checksum::ChecksumHasher;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};

use super::blob_io::{self, Written};
use super::{blocking, to_s3};

pub struct Backend {
    pub store: Store,
    pub accounts: Accounts,
    pub blobs: BlobStore,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn etag(quoted: &str) -> ETag {
    ETag::Strong(quoted.trim_matches('"').to_string())
}

fn owner(account: &str) -> Owner {
    Owner {
        display_name: Some(account.to_string()),
        id: Some(account.to_string()),
    }
}

/// An execution role's temporary credentials, unexpired.
pub async fn session(store: &Store, key: &str) -> S3Result<control::sts::Session> {
    if !key.starts_with("ASIA") {
        return Err(s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        ));
    }
    let store = store.clone();
    let key = key.to_string();
    let found = blocking(move || Ok(store.read(|tx| control::sts::session(tx, &key))?)).await?;
    let Some(session) = found else {
        return Err(s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        ));
    };
    if session.expires_at <= now_ms() {
        return Err(s3_error!(ExpiredToken, "The provided token has expired."));
    }
    Ok(session)
}

fn security_token<T>(req: &S3Request<T>) -> Option<String> {
    if let Some(v) = req.headers.get("x-amz-security-token") {
        return v.to_str().ok().map(str::to_owned);
    }
    let query = req.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.into_owned())
}

impl Backend {
    /// Who signed the request. S3 here serves signed requests only.
    async fn principal<T>(&self, req: &S3Request<T>) -> S3Result<Principal> {
        let mut who = self.identity(req).await?;
        if let Some(peer) = crate::endpoints::peer_of(&req.extensions) {
            who.network = control::s3::Network {
                source_ip: Some(peer.ip.to_string()),
                secure: peer.secure,
                endpoint: peer.via.map(|via| control::s3::Endpoint {
                    id: via.endpoint.clone(),
                    vpc: via.vpc.clone(),
                    policy: via.policy.clone(),
                }),
            };
        }
        Ok(who)
    }

    async fn identity<T>(&self, req: &S3Request<T>) -> S3Result<Principal> {
        let Some(creds) = &req.credentials else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        if let Some(account) = self.accounts.lookup(&creds.access_key) {
            return Ok(Principal::root(&account.account_id));
        }
        let session = session(&self.store, &creds.access_key).await?;
        if security_token(req).as_deref() != Some(session.session_token.as_str()) {
            return Err(s3_error!(
                InvalidToken,
                "The provided token is malformed or otherwise invalid."
            ));
        }
        Ok(super::session_principal(&session))
    }

    /// Runs `f` in a write transaction after `who` was allowed `action` on the bucket (or
    /// the key in it); removes what the transaction freed once it committed.
    async fn bucket_op<R: Send + 'static>(
        &self,
        who: Principal,
        bucket: &str,
        key: Option<&str>,
        action: &'static str,
        f: impl FnOnce(&mut dyn control::Tx) -> Result<(R, Freed), S3Error> + Send + 'static,
    ) -> S3Result<R> {
        let store = self.store.clone();
        let blobs = self.blobs.clone();
        let bucket = bucket.to_string();
        let key = key.map(str::to_owned);
        blocking(move || {
            let (out, freed) = store.write(|tx| {
                let b = domain::bucket(tx, &bucket)?;
                let arn = domain::resource_arn(&bucket, key.as_deref());
                domain::authorize(tx, &who, Some(&b), action, &arn)?;
                f(tx)
            })?;
            blobs.remove(freed.0.iter().map(String::as_str));
            Ok(out)
        })
        .await
    }

    /// Checks `who` may do `action` before bytes are streamed.
    async fn allowed(
        &self,
        who: &Principal,
        bucket: &str,
        key: Option<&str>,
        action: &'static str,
    ) -> S3Result<()> {
        self.bucket_op(who.clone(), bucket, key, action, |_| {
            Ok(((), Freed::default()))
        })
        .await
    }

    fn remove_blob(&self, id: String) {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || blobs.remove([id.as_str()]));
    }

    /// Reads the version a GET, HEAD or copy names, after the access check.
    async fn readable(
        &self,
        who: Principal,
        bucket: &str,
        key: &str,
        version_id: Option<String>,
    ) -> S3Result<Version> {
        let action = if version_id.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        let (b, k) = (bucket.to_string(), key.to_string());
        self.bucket_op(who, bucket, Some(key), action, move |tx| {
            Ok((
                domain::get_version(tx, &b, &k, version_id.as_deref())?,
                Freed::default(),
            ))
        })
        .await
    }

    /// Writes `written` as a new version, or removes it if that fails.
    async fn record(
        &self,
        who: Principal,
        bucket: &str,
        key: &str,
        new: NewVersion,
        written: Option<String>,
    ) -> S3Result<Version> {
        let (b, k) = (bucket.to_string(), key.to_string());
        let out = self
            .bucket_op(who, bucket, Some(key), "s3:PutObject", move |tx| {
                domain::put_version(tx, &b, &k, new, now_ms())
            })
            .await;
        if out.is_err() {
            if let Some(id) = written {
                self.remove_blob(id);
            }
        }
        out
    }
}

/// Which checksums an upload asked for: named by algorithm, sent as a header value, or
/// announced as a trailer. With none, S3 computes CRC64NVME, as it does since 2025.
fn hasher_for(
    headers: &http::HeaderMap,
    algorithm: Option<&ChecksumAlgorithm>,
    declared: &Checksum,
) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    let trailer = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let alg = algorithm.map(|a| a.as_str().to_ascii_uppercase());
    let wants = |name: &str, declared: bool| {
        declared
            || alg.as_deref() == Some(name)
            || trailer == format!("x-amz-checksum-{}", name.to_ascii_lowercase())
    };
    if wants("CRC32", declared.checksum_crc32.is_some()) {
        h.crc32 = Some(Default::default());
    }
    if wants("CRC32C", declared.checksum_crc32c.is_some()) {
        h.crc32c = Some(Default::default());
    }
    if wants("SHA1", declared.checksum_sha1.is_some()) {
        h.sha1 = Some(Default::default());
    }
    if wants("SHA256", declared.checksum_sha256.is_some()) {
        h.sha256 = Some(Default::default());
    }
    if wants("CRC64NVME", declared.checksum_crc64nvme.is_some())
        || (h.crc32.is_none() && h.crc32c.is_none() && h.sha1.is_none() && h.sha256.is_none())
    {
        h.crc64nvme = Some(Default::default());
    }
    h
}

/// Adds the checksums that arrived as trailers to those declared in headers.
fn with_trailers(mut declared: Checksum, trailers: Option<&s3s::TrailingHeaders>) -> Checksum {
    let Some(map) = trailers.and_then(|t| t.take()) else {
        return declared;
    };
    let get = |name: &str| {
        map.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    declared.checksum_crc32 = declared.checksum_crc32.or(get("x-amz-checksum-crc32"));
    declared.checksum_crc32c = declared.checksum_crc32c.or(get("x-amz-checksum-crc32c"));
    declared.checksum_sha1 = declared.checksum_sha1.or(get("x-amz-checksum-sha1"));
    declared.checksum_sha256 = declared.checksum_sha256.or(get("x-amz-checksum-sha256"));
    declared.checksum_crc64nvme = declared
        .checksum_crc64nvme
        .or(get("x-amz-checksum-crc64nvme"));
    declared
}

/// Compares what was declared (Content-MD5, checksums) with what arrived.
fn verify(
    written: &Written,
    content_md5: Option<&str>,
    declared: &Checksum,
) -> Result<(), S3Error> {
    if let Some(md5) = content_md5 {
        use base64::Engine;
        let sent = base64::engine::general_purpose::STANDARD
            .decode(md5)
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or(S3Error::InvalidDigest)?;
        if sent != written.md5 {
            return Err(S3Error::BadDigest);
        }
    }
    let got = &written.checksum;
    for (name, sent, computed) in [
        ("CRC32", &declared.checksum_crc32, &got.checksum_crc32),
        ("CRC32C", &declared.checksum_crc32c, &got.checksum_crc32c),
        ("SHA1", &declared.checksum_sha1, &got.checksum_sha1),
        ("SHA256", &declared.checksum_sha256, &got.checksum_sha256),
        (
            "CRC64NVME",
            &declared.checksum_crc64nvme,
            &got.checksum_crc64nvme,
        ),
    ] {
        if sent.is_some() && sent != computed {
            return Err(S3Error::ChecksumMismatch { algorithm: name });
        }
    }
    Ok(())
}

fn checksums_of(c: &Checksum) -> Checksums {
    Checksums {
        crc32: c.checksum_crc32.clone(),
        crc32c: c.checksum_crc32c.clone(),
        crc64nvme: c.checksum_crc64nvme.clone(),
        sha1: c.checksum_sha1.clone(),
        sha256: c.checksum_sha256.clone(),
    }
}

fn declared_of(
    crc32: &Option<String>,
    crc32c: &Option<String>,
    sha1: &Option<String>,
    sha256: &Option<String>,
    crc64nvme: &Option<String>,
) -> Checksum {
    Checksum {
        checksum_crc32: crc32.clone(),
        checksum_crc32c: crc32c.clone(),
        checksum_sha1: sha1.clone(),
        checksum_sha256: sha256.clone(),
        checksum_crc64nvme: crc64nvme.clone(),
        checksum_type: None,
    }
}

fn http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn parse_tags(header: Option<&str>) -> Vec<(String, String)> {
    header
        .map(|h| {
            form_urlencoded::parse(h.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn tags_of(tagging: Tagging) -> Vec<(String, String)> {
    tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

struct Headers {
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    content_type: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
    storage_class: Option<StorageClass>,
    tagging: Option<String>,
}

fn meta_of(h: Headers) -> Result<ObjectMeta, S3Error> {
    let tags = parse_tags(h.tagging.as_deref());
    if tags.len() > 10 {
        return Err(S3Error::InvalidTag(
            "Object tags cannot be greater than 10".into(),
        ));
    }
    Ok(ObjectMeta {
        content_type: h.content_type,
        content_encoding: h.content_encoding,
        content_disposition: h.content_disposition,
        content_language: h.content_language,
        cache_control: h.cache_control,
        expires: h.expires.as_ref().and_then(http_date),
        user: h.metadata.unwrap_or_default().into_iter().collect(),
        storage_class: h
            .storage_class
            .map(|s| s.as_str().to_string())
            .filter(|s| s != "STANDARD"),
        tags,
    })
}

fn check_storage_class(class: Option<&StorageClass>) -> S3Result<()> {
    const KNOWN: [&str; 9] = [
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "GLACIER_IR",
        "EXPRESS_ONEZONE",
    ];
    match class {
        Some(c) if !KNOWN.contains(&c.as_str()) => Err(s3_error!(
            InvalidStorageClass,
            "The storage class you specified is not valid"
        )),
        _ => Ok(()),
    }
}

/// GET/HEAD preconditions, in S3's order.
fn preconditions(
    v: &Version,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let current = etag(&v.etag);
    // HTTP dates have whole seconds.
    let modified = ts(v.last_modified / 1000 * 1000);
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == current.value(),
    };
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    } else if let Some(t) = if_unmodified_since {
        if modified > *t {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(not_modified());
        }
    } else if let Some(t) = if_modified_since {
        if modified <= *t {
            return Err(not_modified());
        }
    }
    Ok(())
}

fn not_modified() -> s3s::S3Error {
    let mut e = s3_error!(NotModified, "Not Modified");
    e.set_status_code(http::StatusCode::NOT_MODIFIED);
    e
}

/// The byte range of `v` a GET/HEAD reads: all, a `Range`, or a part.
fn span(
    v: &Version,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<Option<std::ops::Range<u64>>> {
    if let Some(n) = part_number {
        let sizes: Vec<u64> = if v.parts.is_empty() {
            vec![v.size]
        } else {
            v.parts.clone()
        };
        let idx = usize::try_from(n - 1)
            .ok()
            .filter(|i| *i < sizes.len())
            .ok_or_else(|| {
                let mut e = s3s::S3Error::with_message(
                    s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
                    "The requested partnumber is not satisfiable",
                );
                e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
                e
            })?;
        let start: u64 = sizes[..idx].iter().sum();
        return Ok(Some(start..start + sizes[idx]));
    }
    match range {
        None => Ok(None),
        Some(r) => r
            .check(v.size)
            .map(Some)
            .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable")),
    }
}

fn user_metadata(v: &Version) -> Option<Metadata> {
    (!v.meta.user.is_empty()).then(|| v.meta.user.clone().into_iter().collect::<HashMap<_, _>>())
}

fn expires_of(v: &Version) -> Option<Timestamp> {
    v.meta
        .expires
        .as_deref()
        .and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, s).ok())
}

fn version_header(v: &Version) -> Option<String> {
    (v.version_id != domain::NULL_VERSION).then(|| v.version_id.clone())
}

/// The list's `MaxKeys`: 1,000 unless fewer were asked for.
fn max_keys(n: Option<i32>) -> S3Result<usize> {
    match n {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "Provided max-keys not an integer or within integer range"
        )),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

fn encode_token(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn decode_token(token: &str) -> S3Result<String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

fn object_entry(key: String, v: &Version, owner_account: Option<&str>) -> Object {
    Object {
        checksum_algorithm: None,
        checksum_type: None,
        e_tag: Some(etag(&v.etag)),
        key: Some(key),
        last_modified: Some(ts(v.last_modified)),
        owner: owner_account.map(owner),
        restore_status: None,
        size: Some(v.size as i64),
        storage_class: Some(ObjectStorageClass::from(
            v.meta
                .storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".into()),
        )),
    }
}

fn common(prefixes: Vec<String>) -> Option<CommonPrefixList> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix { prefix: Some(p) })
            .collect()
    })
}

#[async_trait::async_trait]
impl S3 for Backend {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let who = self.principal(&req).await?;
        let region = req
            .region
            .as_ref()
            .map(|r| r.as_str().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let name = req.input.bucket.clone();
        let constraint = req
            .input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|c| c.as_str().to_string());
        let store = self.store.clone();
        let n = name.clone();
        blocking(move || {
            store.write(|tx| {
                domain::authorize(
                    tx,
                    &who,
                    None,
                    "s3:CreateBucket",
                    &domain::resource_arn(&n, None),
                )?;
                domain::create_bucket(
                    tx,
                    &who.account,
                    &region,
                    &n,
                    constraint.as_deref(),
                    now_ms(),
                )
            })
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        self.bucket_op(who, &req.input.bucket, None, "s3:DeleteBucket", move |tx| {
            Ok(((), Freed(domain::delete_bucket(tx, &name)?)))
        })
        .await?;
        Ok(S3Response::with_status(
            DeleteBucketOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let b = self
            .bucket_op(who, &req.input.bucket, None, "s3:ListBucket", move |tx| {
                Ok((domain::bucket(tx, &name)?, Freed::default()))
            })
            .await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(b.region),
            ..Default::default()
        }))
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let who = self.principal(&req).await?;
        let store = self.store.clone();
        let account = who.account.clone();
        let buckets = blocking(move || {
            store.read(|tx| {
                domain::authorize(tx, &who, None, "s3:ListAllMyBuckets", "*")?;
                domain::list_buckets(tx, &who.account)
            })
        })
        .await?;
        let prefix = req.input.prefix.unwrap_or_default();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .filter(|b| b.name.starts_with(&prefix))
                    .map(|b| Bucket {
                        bucket_region: Some(b.region),
                        creation_date: Some(ts(b.created)),
                        name: Some(b.name),
                    })
                    .collect(),
            ),
            owner: Some(owner(&account)),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let b = self
            .bucket_op(
                who,
                &req.input.bucket,
                None,
                "s3:GetBucketLocation",
                move |tx| Ok((domain::bucket(tx, &name)?, Freed::default())),
            )
            .await?;
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: (b.region != "us-east-1")
                .then(|| BucketLocationConstraint::from(b.region)),
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let who = self.principal(&req).await?;
        let status = match req
            .input
            .versioning_configuration
            .status
            .as_ref()
            .map(|s| s.as_str())
        {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => return Err(to_s3(S3Error::MalformedXml)),
        };
        let name = req.input.bucket.clone();
        self.bucket_op(
            who,
            &req.input.bucket,
            None,
            "s3:PutBucketVersioning",
            move |tx| {
                domain::put_versioning(tx, &name, status)?;
                Ok(((), Freed::default()))
            },
        )
        .await?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let b = self
            .bucket_op(
                who,
                &req.input.bucket,
                None,
                "s3:GetBucketVersioning",
                move |tx| Ok((domain::bucket(tx, &name)?, Freed::default())),
            )
            .await?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            mfa_delete: None,
            status: match b.versioning {
                Versioning::Unversioned => None,
                Versioning::Enabled => Some(BucketVersioningStatus::from_static("Enabled")),
                Versioning::Suspended => Some(BucketVersioningStatus::from_static("Suspended")),
            },
        }))
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let document = req.input.policy.clone();
        self.bucket_op(
            who,
            &req.input.bucket,
            None,
            "s3:PutBucketPolicy",
            move |tx| {
                domain::put_policy(tx, &name, &document)?;
                Ok(((), Freed::default()))
            },
        )
        .await?;
        Ok(S3Response::with_status(
            PutBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let policy = self
            .bucket_op(
                who,
                &req.input.bucket,
                None,
                "s3:GetBucketPolicy",
                move |tx| Ok((domain::get_policy(tx, &name)?, Freed::default())),
            )
            .await?;
        Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(policy),
        }))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        self.bucket_op(
            who,
            &req.input.bucket,
            None,
            "s3:DeleteBucketPolicy",
            move |tx| {
                domain::delete_policy(tx, &name)?;
                Ok(((), Freed::default()))
            },
        )
        .await?;
        Ok(S3Response::with_status(
            DeleteBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let tags = tags_of(req.input.tagging);
        self.bucket_op(who, &name.clone(), None, "s3:PutBucketTagging", move |tx| {
            domain::put_tags(tx, &name, tags)?;
            Ok(((), Freed::default()))
        })
        .await?;
        Ok(S3Response::with_status(
            PutBucketTaggingOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        let tags = self
            .bucket_op(
                who,
                &req.input.bucket,
                None,
                "s3:GetBucketTagging",
                move |tx| Ok((domain::get_tags(tx, &name)?, Freed::default())),
            )
            .await?;
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tag_set(&tags),
        }))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let who = self.principal(&req).await?;
        let name = req.input.bucket.clone();
        self.bucket_op(
            who,
            &req.input.bucket,
            None,
            "s3:PutBucketTagging",
            move |tx| {
                domain::delete_tags(tx, &name)?;
                Ok(((), Freed::default()))
            },
        )
        .await?;
        Ok(S3Response::with_status(
            DeleteBucketTaggingOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        domain::check_key(&input.key).map_err(to_s3)?;
        check_storage_class(input.storage_class.as_ref())?;
        self.allowed(&who, &input.bucket, Some(&input.key), "s3:PutObject")
            .await?;
        if let Some(cond) = &input.if_none_match {
            if cond.is_any() {
                let current = self
                    .readable(who.clone(), &input.bucket, &input.key, None)
                    .await;
                if current.is_ok() {
                    return Err(s3_error!(
                        PreconditionFailed,
                        "At least one of the pre-conditions you specified did not hold"
                    ));
                }
            }
        }
        let declared = declared_of(
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_sha1,
            &input.checksum_sha256,
            &input.checksum_crc64nvme,
        );
        let hasher = hasher_for(&req.headers, input.checksum_algorithm.as_ref(), &declared);
        let body = input.body.unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
        });
        let written = blob_io::write(&self.blobs, body, hasher).await?;
        let declared = with_trailers(declared, req.trailing_headers.as_ref());
        if let Err(e) = verify(&written, input.content_md5.as_deref(), &declared) {
            self.remove_blob(written.blob);
            return Err(to_s3(e));
        }
        let meta = match meta_of(Headers {
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            content_type: input.content_type,
            expires: input.expires,
            metadata: input.metadata,
            storage_class: input.storage_class,
            tagging: input.tagging,
        }) {
            Ok(m) => m,
            Err(e) => {
                self.remove_blob(written.blob);
                return Err(to_s3(e));
            }
        };
        let new = NewVersion {
            segments: if written.size == 0 {
                Vec::new()
            } else {
                vec![Segment {
                    blob: written.blob.clone(),
                    len: written.size,
                }]
            },
            size: written.size,
            etag: format!("\"{}\"", hex::encode(written.md5)),
            meta,
            checksums: checksums_of(&written.checksum),
            parts: Vec::new(),
        };
        if written.size == 0 {
            self.remove_blob(written.blob.clone());
        }
        let blob = (written.size > 0).then(|| written.blob.clone());
        let v = self
            .record(who, &input.bucket, &input.key, new, blob)
            .await?;
        let c = written.checksum;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&v.etag)),
            version_id: version_header(&v),
            checksum_crc32: c.checksum_crc32,
            checksum_crc32c: c.checksum_crc32c,
            checksum_crc64nvme: c.checksum_crc64nvme,
            checksum_sha1: c.checksum_sha1,
            checksum_sha256: c.checksum_sha256,
            checksum_type: Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT)),
            size: Some(v.size as i64),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let v = self
            .readable(who, &input.bucket, &input.key, input.version_id.clone())
            .await?;
        preconditions(
            &v,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let part = span(&v, input.range.as_ref(), input.part_number)?;
        let whole = part.is_none();
        let range = part.clone().unwrap_or(0..v.size);
        let with_checksums = whole
            && input
                .checksum_mode
                .as_ref()
                .is_some_and(|m| m.as_str() == "ENABLED");
        let body = blob_io::read(self.blobs.clone(), v.segments.clone(), range.clone());
        let out = GetObjectOutput {
            accept_ranges: Some("bytes".into()),
            body: Some(body),
            cache_control: input
                .response_cache_control
                .or(v.meta.cache_control.clone()),
            content_disposition: input
                .response_content_disposition
                .or(v.meta.content_disposition.clone()),
            content_encoding: input
                .response_content_encoding
                .or(v.meta.content_encoding.clone()),
            content_language: input
                .response_content_language
                .or(v.meta.content_language.clone()),
            content_length: Some((range.end - range.start) as i64),
            content_range: part
                .as_ref()
                .map(|r| format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), v.size)),
            content_type: input.response_content_type.or(v
                .meta
                .content_type
                .clone()
                .or_else(|| Some("binary/octet-stream".into()))),
            e_tag: Some(etag(&v.etag)),
            expires: input.response_expires.or_else(|| expires_of(&v)),
            last_modified: Some(ts(v.last_modified)),
            metadata: user_metadata(&v),
            parts_count: (input.part_number.is_some() && !v.parts.is_empty())
                .then_some(v.parts.len() as i32),
            storage_class: v.meta.storage_class.clone().map(StorageClass::from),
            tag_count: (!v.meta.tags.is_empty()).then_some(v.meta.tags.len() as i32),
            version_id: version_header(&v),
            checksum_crc32: with_checksums.then(|| v.checksums.crc32.clone()).flatten(),
            checksum_crc32c: with_checksums.then(|| v.checksums.crc32c.clone()).flatten(),
            checksum_crc64nvme: with_checksums
                .then(|| v.checksums.crc64nvme.clone())
                .flatten(),
            checksum_sha1: with_checksums.then(|| v.checksums.sha1.clone()).flatten(),
            checksum_sha256: with_checksums.then(|| v.checksums.sha256.clone()).flatten(),
            ..Default::default()
        };
        if whole {
            Ok(S3Response::new(out))
        } else {
            Ok(S3Response::with_status(
                out,
                http::StatusCode::PARTIAL_CONTENT,
            ))
        }
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let v = self
            .readable(who, &input.bucket, &input.key, input.version_id.clone())
            .await?;
        preconditions(
            &v,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let part = span(&v, input.range.as_ref(), input.part_number)?;
        let with_checksums = part.is_none()
            && input
                .checksum_mode
                .as_ref()
                .is_some_and(|m| m.as_str() == "ENABLED");
        let len = part.as_ref().map_or(v.size, |r| r.end - r.start);
        let out = HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            cache_control: v.meta.cache_control.clone(),
            content_disposition: v.meta.content_disposition.clone(),
            content_encoding: v.meta.content_encoding.clone(),
            content_language: v.meta.content_language.clone(),
            content_length: Some(len as i64),
            content_range: part
                .as_ref()
                .map(|r| format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), v.size)),
            content_type: v
                .meta
                .content_type
                .clone()
                .or_else(|| Some("binary/octet-stream".into())),
            e_tag: Some(etag(&v.etag)),
            expires: expires_of(&v),
            last_modified: Some(ts(v.last_modified)),
            metadata: user_metadata(&v),
            parts_count: (input.part_number.is_some() && !v.parts.is_empty())
                .then_some(v.parts.len() as i32),
            storage_class: v.meta.storage_class.clone().map(StorageClass::from),
            version_id: version_header(&v),
            checksum_crc32: with_checksums.then(|| v.checksums.crc32.clone()).flatten(),
            checksum_crc32c: with_checksums.then(|| v.checksums.crc32c.clone()).flatten(),
            checksum_crc64nvme: with_checksums
                .then(|| v.checksums.crc64nvme.clone())
                .flatten(),
            checksum_sha1: with_checksums.then(|| v.checksums.sha1.clone()).flatten(),
            checksum_sha256: with_checksums.then(|| v.checksums.sha256.clone()).flatten(),
            checksum_type: with_checksums
                .then(|| ChecksumType::from_static(ChecksumType::FULL_OBJECT)),
            ..Default::default()
        };
        if part.is_some() && input.range.is_some() {
            Ok(S3Response::with_status(
                out,
                http::StatusCode::PARTIAL_CONTENT,
            ))
        } else {
            Ok(S3Response::new(out))
        }
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let action = if input.version_id.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let (b, k, vid) = (
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
        );
        let deleted: Deleted = self
            .bucket_op(who, &input.bucket, Some(&input.key), action, move |tx| {
                domain::delete_object(tx, &b, &k, vid.as_deref(), now_ms())
            })
            .await?;
        Ok(S3Response::with_status(
            DeleteObjectOutput {
                delete_marker: deleted.delete_marker.then_some(true),
                version_id: deleted.version_id,
                ..Default::default()
            },
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(to_s3(S3Error::MalformedXml));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in input.delete.objects {
            let action = if obj.version_id.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            let (b, k, vid) = (
                input.bucket.clone(),
                obj.key.clone(),
                obj.version_id.clone(),
            );
            let out = self
                .bucket_op(
                    who.clone(),
                    &input.bucket,
                    Some(&obj.key),
                    action,
                    move |tx| domain::delete_object(tx, &b, &k, vid.as_deref(), now_ms()),
                )
                .await;
            match out {
                Ok(d) => {
                    if !quiet {
                        let marker = d.delete_marker;
                        deleted.push(DeletedObject {
                            delete_marker: marker.then_some(true),
                            delete_marker_version_id: if marker && obj.version_id.is_none() {
                                d.version_id.clone()
                            } else {
                                None
                            },
                            key: Some(obj.key),
                            version_id: obj.version_id,
                        });
                    }
                }
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(obj.key),
                    message: e.message().map(str::to_owned),
                    version_id: obj.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let CopySource::Bucket {
            bucket: src_bucket,
            key: src_key,
            version_id: src_version,
        } = &input.copy_source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Copying from an access point is not supported here"
            ));
        };
        domain::check_key(&input.key).map_err(to_s3)?;
        check_storage_class(input.storage_class.as_ref())?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == "REPLACE");
        if **src_bucket == *input.bucket
            && **src_key == *input.key
            && src_version.is_none()
            && !replace
            && input.storage_class.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let src = self
            .readable(
                who.clone(),
                src_bucket,
                src_key,
                src_version.as_ref().map(|v| v.to_string()),
            )
            .await?;
        preconditions(
            &src,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )
        .map_err(|e| {
            if *e.code() == s3s::S3ErrorCode::NotModified {
                s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                )
            } else {
                e
            }
        })?;
        self.allowed(&who, &input.bucket, Some(&input.key), "s3:PutObject")
            .await?;
        let hasher = ChecksumHasher {
            crc64nvme: Some(Default::default()),
            ..Default::default()
        };
        let stream = blob_io::read(self.blobs.clone(), src.segments.clone(), 0..src.size);
        let written = blob_io::write(&self.blobs, stream, hasher).await?;
        let meta = if replace {
            meta_of(Headers {
                cache_control: input.cache_control,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                content_type: input.content_type,
                expires: input.expires,
                metadata: input.metadata,
                storage_class: input.storage_class,
                tagging: input.tagging,
            })
            .map_err(to_s3)?
        } else {
            let mut m = src.meta.clone();
            if let Some(class) = input.storage_class {
                m.storage_class = Some(class.as_str().to_string()).filter(|s| s != "STANDARD");
            }
            if input
                .tagging_directive
                .as_ref()
                .is_some_and(|d| d.as_str() == "REPLACE")
            {
                m.tags = parse_tags(input.tagging.as_deref());
            }
            m
        };
        let new = NewVersion {
            segments: if written.size == 0 {
                Vec::new()
            } else {
                vec![Segment {
                    blob: written.blob.clone(),
                    len: written.size,
                }]
            },
            size: written.size,
            etag: format!("\"{}\"", hex::encode(written.md5)),
            meta,
            checksums: Checksums {
                crc64nvme: written.checksum.checksum_crc64nvme.clone(),
                ..src.checksums.clone()
            },
            parts: Vec::new(),
        };
        let blob = (written.size > 0).then(|| written.blob.clone());
        if written.size == 0 {
            self.remove_blob(written.blob.clone());
        }
        let v = self
            .record(who, &input.bucket, &input.key, new, blob)
            .await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&v.etag)),
                last_modified: Some(ts(v.last_modified)),
                ..Default::default()
            }),
            copy_source_version_id: version_header(&src),
            version_id: version_header(&v),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let after = match &input.continuation_token {
            Some(t) => Some(decode_token(t)?),
            None => input.start_after.clone(),
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone();
        let b = input.bucket.clone();
        let (p, d, a) = (prefix.clone(), delimiter.clone(), after.clone());
        let (listing, bucket_owner) = self
            .bucket_op(who, &input.bucket, None, "s3:ListBucket", move |tx| {
                let l = domain::list_objects(
                    tx,
                    &b,
                    &ListRequest {
                        prefix: &p,
                        delimiter: d.as_deref(),
                        after: a.as_deref(),
                        max_keys: max,
                    },
                )?;
                Ok(((l, domain::bucket(tx, &b)?.owner), Freed::default()))
            })
            .await?;
        let owner_account = input
            .fetch_owner
            .unwrap_or(false)
            .then_some(bucket_owner.as_str());
        let count = listing.objects.len() + listing.common_prefixes.len();
        let contents: Vec<Object> = listing
            .objects
            .into_iter()
            .map(|(k, v)| object_entry(k, &v, owner_account))
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            max_keys: Some(max as i32),
            key_count: Some(count as i32),
            continuation_token: input.continuation_token,
            is_truncated: Some(listing.truncated),
            next_continuation_token: listing
                .truncated
                .then(|| listing.last.as_deref().map(encode_token))
                .flatten(),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: common(listing.common_prefixes),
            delimiter,
            encoding_type: input.encoding_type,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone();
        let b = input.bucket.clone();
        let (p, d, a) = (prefix.clone(), delimiter.clone(), input.marker.clone());
        let listing = self
            .bucket_op(who, &input.bucket, None, "s3:ListBucket", move |tx| {
                let l = domain::list_objects(
                    tx,
                    &b,
                    &ListRequest {
                        prefix: &p,
                        delimiter: d.as_deref(),
                        after: a.as_deref(),
                        max_keys: max,
                    },
                )?;
                Ok((l, Freed::default()))
            })
            .await?;
        let contents: Vec<Object> = listing
            .objects
            .into_iter()
            .map(|(k, v)| object_entry(k, &v, None))
            .collect();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            marker: Some(input.marker.unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(listing.truncated),
            next_marker: (listing.truncated && delimiter.is_some())
                .then_some(listing.last)
                .flatten(),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: common(listing.common_prefixes),
            delimiter,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let b = input.bucket.clone();
        let (p, d, km, vm) = (
            prefix.clone(),
            input.delimiter.clone(),
            input.key_marker.clone(),
            input.version_id_marker.clone(),
        );
        let listing = self
            .bucket_op(
                who,
                &input.bucket,
                None,
                "s3:ListBucketVersions",
                move |tx| {
                    let l = domain::list_versions(
                        tx,
                        &b,
                        &VersionListRequest {
                            prefix: &p,
                            delimiter: d.as_deref(),
                            key_marker: km.as_deref(),
                            version_id_marker: vm.as_deref(),
                            max_keys: max,
                        },
                    )?;
                    Ok((l, Freed::default()))
                },
            )
            .await?;
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (key, v, latest) in listing.versions {
            if v.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(latest),
                    key: Some(key),
                    last_modified: Some(ts(v.last_modified)),
                    owner: None,
                    version_id: Some(v.version_id.clone()),
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: Some(etag(&v.etag)),
                    is_latest: Some(latest),
                    key: Some(key),
                    last_modified: Some(ts(v.last_modified)),
                    size: Some(v.size as i64),
                    storage_class: Some(ObjectVersionStorageClass::from_static("STANDARD")),
                    version_id: Some(v.version_id.clone()),
                    ..Default::default()
                });
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            max_keys: Some(max as i32),
            is_truncated: Some(listing.truncated),
            key_marker: Some(input.key_marker.unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            next_key_marker: listing
                .truncated
                .then_some(listing.next_key_marker)
                .flatten(),
            next_version_id_marker: listing
                .truncated
                .then_some(listing.next_version_id_marker)
                .flatten(),
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: common(listing.common_prefixes),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        check_storage_class(input.storage_class.as_ref())?;
        let meta = meta_of(Headers {
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            content_type: input.content_type,
            expires: input.expires,
            metadata: input.metadata,
            storage_class: input.storage_class,
            tagging: input.tagging,
        })
        .map_err(to_s3)?;
        let algorithm = input.checksum_algorithm.clone();
        let (b, k, initiator) = (input.bucket.clone(), input.key.clone(), who.arn.clone());
        let alg = algorithm.as_ref().map(|a| a.as_str().to_string());
        let upload = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:PutObject",
                move |tx| {
                    Ok((
                        domain::create_upload(tx, &b, &k, meta, alg, &initiator, now_ms())?,
                        Freed::default(),
                    ))
                },
            )
            .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload.upload_id),
            checksum_algorithm: algorithm,
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let number = domain::check_part_number(input.part_number).map_err(to_s3)?;
        if input
            .content_length
            .is_some_and(|n| n as u64 > 5 * 1024 * 1024 * 1024)
        {
            return Err(to_s3(S3Error::EntityTooLarge));
        }
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        self.bucket_op(
            who.clone(),
            &input.bucket,
            Some(&input.key),
            "s3:PutObject",
            move |tx| {
                Ok((
                    domain::get_upload(tx, &b, &k, &u).map(|_| ())?,
                    Freed::default(),
                ))
            },
        )
        .await?;
        let declared = declared_of(
            &input.checksum_crc32,
            &input.checksum_crc32c,
            &input.checksum_sha1,
            &input.checksum_sha256,
            &input.checksum_crc64nvme,
        );
        let hasher = hasher_for(&req.headers, input.checksum_algorithm.as_ref(), &declared);
        let body = input.body.unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
        });
        let written = blob_io::write(&self.blobs, body, hasher).await?;
        let declared = with_trailers(declared, req.trailing_headers.as_ref());
        if let Err(e) = verify(&written, input.content_md5.as_deref(), &declared) {
            self.remove_blob(written.blob);
            return Err(to_s3(e));
        }
        let e_tag = format!("\"{}\"", hex::encode(written.md5));
        let part = DomainPart {
            blob: written.blob.clone(),
            size: written.size,
            etag: e_tag.clone(),
            last_modified: now_ms(),
            checksums: checksums_of(&written.checksum),
        };
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let out = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:PutObject",
                move |tx| Ok(((), domain::put_part(tx, &b, &k, &u, number, part)?)),
            )
            .await;
        if let Err(e) = out {
            self.remove_blob(written.blob);
            return Err(e);
        }
        let c = written.checksum;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&e_tag)),
            checksum_crc32: c.checksum_crc32,
            checksum_crc32c: c.checksum_crc32c,
            checksum_sha1: c.checksum_sha1,
            checksum_sha256: c.checksum_sha256,
            checksum_crc64nvme: declared.checksum_crc64nvme.and(c.checksum_crc64nvme),
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let number = domain::check_part_number(input.part_number).map_err(to_s3)?;
        let CopySource::Bucket {
            bucket: src_bucket,
            key: src_key,
            version_id: src_version,
        } = &input.copy_source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Copying from an access point is not supported here"
            ));
        };
        let src = self
            .readable(
                who.clone(),
                src_bucket,
                src_key,
                src_version.as_ref().map(|v| v.to_string()),
            )
            .await?;
        let range = match input.copy_source_range.as_deref() {
            None => 0..src.size,
            Some(r) => {
                let parsed = Range::parse(r).map_err(|_| {
                    s3_error!(InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
                })?;
                parsed.check(src.size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?
            }
        };
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        self.bucket_op(
            who.clone(),
            &input.bucket,
            Some(&input.key),
            "s3:PutObject",
            move |tx| {
                Ok((
                    domain::get_upload(tx, &b, &k, &u).map(|_| ())?,
                    Freed::default(),
                ))
            },
        )
        .await?;
        let stream = blob_io::read(self.blobs.clone(), src.segments.clone(), range);
        let written = blob_io::write(&self.blobs, stream, ChecksumHasher::default()).await?;
        let e_tag = format!("\"{}\"", hex::encode(written.md5));
        let now = now_ms();
        let part = DomainPart {
            blob: written.blob.clone(),
            size: written.size,
            etag: e_tag.clone(),
            last_modified: now,
            checksums: Checksums::default(),
        };
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let out = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:PutObject",
                move |tx| Ok(((), domain::put_part(tx, &b, &k, &u, number, part)?)),
            )
            .await;
        if let Err(e) = out {
            self.remove_blob(written.blob);
            return Err(e);
        }
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&e_tag)),
                last_modified: Some(ts(now)),
                ..Default::default()
            }),
            copy_source_version_id: version_header(&src),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let mut listed = Vec::new();
        for p in input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
        {
            let n = p.part_number.ok_or_else(|| to_s3(S3Error::MalformedXml))?;
            let number = domain::check_part_number(n).map_err(to_s3)?;
            let tag = p.e_tag.map(|e| e.value().to_string()).unwrap_or_default();
            listed.push((number, tag));
        }
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let v = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:PutObject",
                move |tx| domain::complete(tx, &b, &k, &u, &listed, now_ms()),
            )
            .await?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&v.etag)),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            version_id: version_header(&v),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        self.bucket_op(
            who,
            &input.bucket,
            Some(&input.key),
            "s3:AbortMultipartUpload",
            move |tx| Ok(((), domain::abort(tx, &b, &k, &u)?)),
        )
        .await?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let upload = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:ListMultipartUploadParts",
                move |tx| Ok((domain::get_upload(tx, &b, &k, &u)?, Freed::default())),
            )
            .await?;
        let max = input.max_parts.map_or(1000, |n| n.clamp(0, 1000) as usize);
        let marker = input
            .part_number_marker
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        let after: Vec<_> = upload.parts.range(marker + 1..).collect();
        let truncated = after.len() > max;
        let page: Vec<Part> = after
            .iter()
            .take(max)
            .map(|(n, p)| Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified)),
                part_number: Some(**n as i32),
                size: Some(p.size as i64),
                checksum_crc32: p.checksums.crc32.clone(),
                checksum_crc32c: p.checksums.crc32c.clone(),
                checksum_sha1: p.checksums.sha1.clone(),
                checksum_sha256: p.checksums.sha256.clone(),
                checksum_crc64nvme: None,
            })
            .collect();
        let next = page.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: truncated.then_some(next).flatten(),
            parts: (!page.is_empty()).then_some(page),
            storage_class: Some(StorageClass::from_static("STANDARD")),
            checksum_algorithm: upload.checksum_algorithm.map(ChecksumAlgorithm::from),
            initiator: Some(Initiator {
                display_name: Some(upload.initiator.clone()),
                id: Some(upload.initiator),
            }),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let (b, p) = (input.bucket.clone(), prefix.clone());
        let uploads = self
            .bucket_op(
                who,
                &input.bucket,
                None,
                "s3:ListBucketMultipartUploads",
                move |tx| Ok((domain::list_uploads(tx, &b, &p)?, Freed::default())),
            )
            .await?;
        let max = input
            .max_uploads
            .map_or(1000, |n| n.clamp(0, 1000) as usize);
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.upload_id_marker.clone();
        let after: Vec<_> = uploads
            .into_iter()
            .filter(|u| match &id_marker {
                _ if key_marker.is_empty() => true,
                Some(id) => u.key > key_marker || (u.key == key_marker && u.upload_id > *id),
                None => u.key > key_marker,
            })
            .collect();
        let truncated = after.len() > max;
        let page: Vec<_> = after.into_iter().take(max).collect();
        let next_key = page.last().map(|u| u.key.clone());
        let next_id = page.last().map(|u| u.upload_id.clone());
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(prefix),
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: truncated.then_some(next_key).flatten(),
            next_upload_id_marker: truncated.then_some(next_id).flatten(),
            uploads: Some(
                page.into_iter()
                    .map(|u| MultipartUpload {
                        initiated: Some(ts(u.initiated)),
                        initiator: Some(Initiator {
                            display_name: Some(u.initiator.clone()),
                            id: Some(u.initiator),
                        }),
                        key: Some(u.key),
                        storage_class: Some(StorageClass::from_static("STANDARD")),
                        upload_id: Some(u.upload_id),
                        checksum_algorithm: u.checksum_algorithm.map(ChecksumAlgorithm::from),
                        ..Default::default()
                    })
                    .collect(),
            ),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let tags = tags_of(input.tagging);
        let (b, k, vid) = (
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
        );
        let id = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:PutObjectTagging",
                move |tx| {
                    Ok((
                        domain::set_object_tags(tx, &b, &k, vid.as_deref(), tags)?,
                        Freed::default(),
                    ))
                },
            )
            .await?;
        Ok(S3Response::new(PutObjectTaggingOutput {
            version_id: (id != domain::NULL_VERSION).then_some(id),
        }))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let (b, k, vid) = (
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
        );
        let v = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:GetObjectTagging",
                move |tx| {
                    Ok((
                        domain::get_version(tx, &b, &k, vid.as_deref())?,
                        Freed::default(),
                    ))
                },
            )
            .await?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tag_set(&v.meta.tags),
            version_id: version_header(&v),
        }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let who = self.principal(&req).await?;
        let input = req.input;
        let (b, k, vid) = (
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
        );
        let id = self
            .bucket_op(
                who,
                &input.bucket,
                Some(&input.key),
                "s3:DeleteObjectTagging",
                move |tx| {
                    Ok((
                        domain::set_object_tags(tx, &b, &k, vid.as_deref(), Vec::new())?,
                        Freed::default(),
                    ))
                },
            )
            .await?;
        Ok(S3Response::with_status(
            DeleteObjectTaggingOutput {
                version_id: (id != domain::NULL_VERSION).then_some(id),
            },
            http::StatusCode::NO_CONTENT,
        ))
    }
}

/// A Lambda deployment package in S3, read for `who` (who must be allowed
/// `s3:GetObject`/`s3:GetObjectVersion` on it), on a blocking thread. At most `limit` bytes.
pub fn read_object(
    store: &Store,
    blobs: &BlobStore,
    who: &Principal,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, S3Error> {
    let v = store.read(|tx| {
        let b = domain::bucket(tx, bucket)?;
        let action = if version.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        domain::authorize(
            tx,
            who,
            Some(&b),
            action,
            &domain::resource_arn(bucket, Some(key)),
        )?;
        domain::get_version(tx, bucket, key, version)
    })?;
    if v.size > limit {
        return Err(S3Error::EntityTooLarge);
    }
    let mut out = Vec::with_capacity(v.size as usize);
    for seg in &v.segments {
        use std::io::Read;
        std::fs::File::open(blobs.path(&seg.blob))?.read_to_end(&mut out)?;
    }
    Ok(out)
}
