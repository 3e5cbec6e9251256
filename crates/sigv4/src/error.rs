//! The verification failures and their AWS message texts.
//!
//! Each variant's `Display` is the text AWS puts in the error message, so the caller can render
//! it unchanged; `kind` groups variants into the few classes that protocols map to error codes.
//! This module must not decide HTTP statuses or protocol codes: those differ per service.

use std::time::Duration;

use chrono::{DateTime, Utc};

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
provided. Check your AWS Secret Access Key and signing method. Consult the service documentation \
for details.";

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Missing Authentication Token")]
    Missing,
    /// Malformed or incomplete `Authorization` header or presigned parameters; carries AWS's text.
    #[error("{0}")]
    Incomplete(String),
    /// A signing algorithm other than `AWS4-HMAC-SHA256` (e.g. SigV4a).
    #[error("Unsupported AWS 'algorithm': '{0}'")]
    UnsupportedAlgorithm(String),
    /// `host` is not in SignedHeaders, so the signature does not bind the endpoint.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// `x-amz-date` is not in SignedHeaders, so the signature does not bind the time.
    #[error("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")]
    DateNotSigned,
    /// A header named in SignedHeaders is absent from the request.
    #[error("{MISMATCH}")]
    SignedHeaderMissing(String),
    /// The credential scope's date is not the date part of `X-Amz-Date`.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope}' != '{date}', from '{amz_date}'."
    )]
    ScopeDateMismatch {
        scope: String,
        date: String,
        amz_date: String,
    },
    /// `X-Amz-Date` is not `yyyymmddThhmmssZ`.
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    MalformedDate(String),
    /// `X-Amz-Date` is older than the clock window allows.
    #[error(
        "Signature expired: {} is now earlier than {} ({} - {}.)",
        amz(request),
        amz(earliest),
        amz(now),
        window_text(window)
    )]
    Expired {
        request: DateTime<Utc>,
        earliest: DateTime<Utc>,
        now: DateTime<Utc>,
        window: Duration,
    },
    /// `X-Amz-Date` is further in the future than the clock window allows.
    #[error(
        "Signature not yet current: {} is still later than {} ({} + {}.)",
        amz(request),
        amz(latest),
        amz(now),
        window_text(window)
    )]
    NotYetCurrent {
        request: DateTime<Utc>,
        latest: DateTime<Utc>,
        now: DateTime<Utc>,
        window: Duration,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired.")]
    PresignedExpired,
    /// `x-amz-content-sha256` differs from the hash of the received body (or is `UNSIGNED-PAYLOAD`,
    /// which only S3 allows).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    /// The signature the client sent is not the one computed with the secret.
    #[error("{MISMATCH}")]
    Mismatch,
}

/// The classes protocols map to codes: `Missing` → `MissingAuthenticationToken`, `Incomplete` →
/// `IncompleteSignature`, `Mismatch` → `SignatureDoesNotMatch` / `InvalidSignatureException`,
/// `Clock` → `RequestExpired` (EC2) / `InvalidSignatureException` (Lambda) /
/// `SignatureDoesNotMatch` (IAM, STS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigErrorKind {
    Missing,
    Incomplete,
    Mismatch,
    Clock,
}

impl SigError {
    pub fn kind(&self) -> SigErrorKind {
        match self {
            SigError::Missing => SigErrorKind::Missing,
            SigError::Incomplete(_)
            | SigError::UnsupportedAlgorithm(_)
            | SigError::HostNotSigned
            | SigError::DateNotSigned
            | SigError::MalformedDate(_) => SigErrorKind::Incomplete,
            SigError::SignedHeaderMissing(_)
            | SigError::ScopeDateMismatch { .. }
            | SigError::PayloadHashMismatch
            | SigError::Mismatch => SigErrorKind::Mismatch,
            SigError::Expired { .. }
            | SigError::NotYetCurrent { .. }
            | SigError::PresignedExpired => SigErrorKind::Clock,
        }
    }
}

/// `X-Amz-Date` format, which AWS also uses for the times in clock messages.
pub(crate) const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn amz(t: &DateTime<Utc>) -> String {
    t.format(AMZ_DATE_FORMAT).to_string()
}

/// AWS prints the window as "5 min."; windows that are not whole minutes keep their seconds.
fn window_text(window: &Duration) -> String {
    let secs = window.as_secs();
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expired_message_matches_aws() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2017, 10, 26, h, m, s).unwrap();
        let e = SigError::Expired {
            request: at(16, 54, 25),
            earliest: at(16, 55, 54),
            now: at(17, 0, 54),
            window: Duration::from_secs(300),
        };
        assert_eq!(
            e.to_string(),
            "Signature expired: 20171026T165425Z is now earlier than 20171026T165554Z \
             (20171026T170054Z - 5 min.)"
        );
        assert_eq!(e.kind(), SigErrorKind::Clock);
    }

    #[test]
    fn window_in_seconds_when_not_whole_minutes() {
        assert_eq!(window_text(&Duration::from_secs(90)), "90 sec");
        assert_eq!(window_text(&Duration::from_secs(900)), "15 min");
    }

    #[test]
    fn mismatch_message_matches_aws() {
        assert_eq!(
            SigError::Mismatch.to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
        );
        assert_eq!(
            SigError::SignedHeaderMissing("x-a".into()).to_string(),
            SigError::Mismatch.to_string()
        );
    }
}
