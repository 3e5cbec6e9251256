//! S3's errors, with the codes, statuses and texts S3 answers with. The service adapter
//! renders them; it never invents one of its own for a domain rule.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("The specified bucket does not exist")]
    NoSuchBucket { bucket: String },
    /// `marker`: the delete marker that hides the key, if one does.
    #[error("The specified key does not exist.")]
    NoSuchKey { key: String, marker: Option<String> },
    #[error("The specified version does not exist.")]
    NoSuchVersion { key: String, version: String },
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload { upload: String },
    #[error("The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")]
    BucketAlreadyExists { bucket: String },
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou { bucket: String },
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty { bucket: String },
    #[error("The specified bucket is not valid.")]
    InvalidBucketName { bucket: String },
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy { bucket: String },
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("The specified location-constraint is not valid")]
    InvalidLocationConstraint,
    #[error("The {region} location constraint is incompatible for the region specific endpoint this request was sent to.")]
    IllegalLocationConstraint { region: String },
    #[error("The request signature we calculated does not match the signature you provided. Check your key and signing method.")]
    SignatureDoesNotMatch,
    #[error("Access Denied")]
    AccessDenied,
    /// A delete marker named by its version id.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed { marker: String },
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    #[error("The {algorithm} you specified did not match the calculated checksum.")]
    ChecksumMismatch { algorithm: &'static str },
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object storage: {0}")]
    Io(#[from] std::io::Error),
}

impl S3Error {
    /// S3's error code.
    pub fn code(&self) -> &'static str {
        match self {
            S3Error::NoSuchBucket { .. } => "NoSuchBucket",
            S3Error::NoSuchKey { .. } => "NoSuchKey",
            S3Error::NoSuchVersion { .. } => "NoSuchVersion",
            S3Error::NoSuchUpload { .. } => "NoSuchUpload",
            S3Error::BucketAlreadyExists { .. } => "BucketAlreadyExists",
            S3Error::BucketAlreadyOwnedByYou { .. } => "BucketAlreadyOwnedByYou",
            S3Error::BucketNotEmpty { .. } => "BucketNotEmpty",
            S3Error::InvalidBucketName { .. } => "InvalidBucketName",
            S3Error::KeyTooLong => "KeyTooLongError",
            S3Error::InvalidArgument(_) => "InvalidArgument",
            S3Error::InvalidRequest(_) => "InvalidRequest",
            S3Error::InvalidPart => "InvalidPart",
            S3Error::InvalidPartOrder => "InvalidPartOrder",
            S3Error::EntityTooSmall => "EntityTooSmall",
            S3Error::EntityTooLarge => "EntityTooLarge",
            S3Error::NoSuchBucketPolicy { .. } => "NoSuchBucketPolicy",
            S3Error::NoSuchTagSet => "NoSuchTagSet",
            S3Error::MalformedPolicy(_) => "MalformedPolicy",
            S3Error::InvalidTag(_) => "InvalidTag",
            S3Error::InvalidLocationConstraint => "InvalidLocationConstraint",
            S3Error::IllegalLocationConstraint { .. } => "IllegalLocationConstraintException",
            S3Error::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            S3Error::AccessDenied => "AccessDenied",
            S3Error::MethodNotAllowed { .. } => "MethodNotAllowed",
            S3Error::PreconditionFailed => "PreconditionFailed",
            S3Error::BadDigest => "BadDigest",
            S3Error::InvalidDigest => "InvalidDigest",
            S3Error::ChecksumMismatch { .. } => "BadDigest",
            S3Error::MalformedXml => "MalformedXML",
            S3Error::Store(_) | S3Error::Io(_) => "InternalError",
        }
    }

    /// The elements S3's error document carries besides code and message.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        match self {
            S3Error::NoSuchBucket { bucket }
            | S3Error::BucketAlreadyExists { bucket }
            | S3Error::BucketAlreadyOwnedByYou { bucket }
            | S3Error::BucketNotEmpty { bucket }
            | S3Error::NoSuchBucketPolicy { bucket }
            | S3Error::InvalidBucketName { bucket } => vec![("BucketName", bucket.clone())],
            S3Error::NoSuchKey { key, .. } => vec![("Key", key.clone())],
            S3Error::NoSuchVersion { key, version } => {
                vec![("Key", key.clone()), ("VersionId", version.clone())]
            }
            S3Error::NoSuchUpload { upload } => vec![("UploadId", upload.clone())],
            S3Error::IllegalLocationConstraint { region } => {
                vec![("LocationConstraint", region.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// The delete marker an error is about: S3 names it in `x-amz-delete-marker` and
    /// `x-amz-version-id` headers.
    pub fn delete_marker(&self) -> Option<&str> {
        match self {
            S3Error::NoSuchKey {
                marker: Some(m), ..
            } => Some(m),
            S3Error::MethodNotAllowed { marker } => Some(marker),
            _ => None,
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            S3Error::NoSuchBucket { .. }
            | S3Error::NoSuchKey { .. }
            | S3Error::NoSuchVersion { .. }
            | S3Error::NoSuchUpload { .. }
            | S3Error::NoSuchBucketPolicy { .. }
            | S3Error::NoSuchTagSet => 404,
            S3Error::BucketAlreadyExists { .. }
            | S3Error::BucketAlreadyOwnedByYou { .. }
            | S3Error::BucketNotEmpty { .. } => 409,
            S3Error::AccessDenied | S3Error::SignatureDoesNotMatch => 403,
            S3Error::MethodNotAllowed { .. } => 405,
            S3Error::PreconditionFailed => 412,
            S3Error::Store(_) | S3Error::Io(_) => 500,
            _ => 400,
        }
    }
}
