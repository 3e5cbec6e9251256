//! Bodies to and from blob files, streamed: an upload is written chunk by chunk to a
//! temporary file while its MD5 and the checksums it declared are computed, flushed, and
//! moved into place as a blob ([`write`]); a download reads the segments of a range through
//! a small bounded channel ([`read`]), so memory stays flat whatever the object's size.

use std::io::SeekFrom;
use std::ops::Range;

use bytes::Bytes;
use control::s3::{BlobStore, Segment};
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, StreamingBlob};
use s3s::{s3_error, S3Result};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const CHUNK: usize = 256 * 1024;

/// A body written as a blob.
pub struct Written {
    pub blob: String,
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Checksum,
}

/// Streams `body` into a new blob, computing what `hasher` was set up for.
pub async fn write<S, E>(
    blobs: &BlobStore,
    mut body: S,
    mut hasher: ChecksumHasher,
) -> S3Result<Written>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let temp = blobs.temp_path();
    let result = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        let mut md5 = Md5::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            md5.update(&chunk);
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok::<_, std::io::Error>((size, md5.finalize().into()))
    }
    .await;
    let (size, md5) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(if e.kind() == std::io::ErrorKind::InvalidData {
                body_error(&e.to_string())
            } else {
                tracing::error!(error = %e, "writing an object's bytes");
                s3_error!(
                    InternalError,
                    "We encountered an internal error. Please try again."
                )
            });
        }
    };
    let committer = blobs.clone();
    let blob = tokio::task::spawn_blocking(move || {
        let id = committer.commit(&temp);
        if id.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        id
    })
    .await
    .map_err(|e| s3_error!(InternalError, "{e}"))?
    .map_err(|e| {
        tracing::error!(error = %e, "storing an object's bytes");
        s3_error!(
            InternalError,
            "We encountered an internal error. Please try again."
        )
    })?;
    Ok(Written {
        blob,
        size,
        md5,
        checksum: hasher.finalize(),
    })
}

/// A body that failed while read, as S3 reports it: s3s's streams fail with a chunk
/// signature or payload hash mismatch, named in their error text.
fn body_error(text: &str) -> s3s::S3Error {
    if text.contains("SignatureMismatch") {
        let mut e = s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        );
        e.set_status_code(http::StatusCode::FORBIDDEN);
        e
    } else if text.contains("Sha256Mismatch") {
        let mut e = s3s::S3Error::with_message(
            s3s::S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        e
    } else {
        s3_error!(IncompleteBody, "The request body could not be read: {text}")
    }
}

/// The bytes `range` of an object made of `segments`, as a stream.
pub fn read(blobs: BlobStore, segments: Vec<Segment>, range: Range<u64>) -> StreamingBlob {
    let (mut tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(e) = pump(&blobs, &segments, range, &mut tx).await {
            tracing::warn!(error = %e, "reading an object's bytes");
            let _ = tx.send(Err(e)).await;
        }
    });
    StreamingBlob::wrap(rx)
}

async fn pump(
    blobs: &BlobStore,
    segments: &[Segment],
    range: Range<u64>,
    tx: &mut mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> std::io::Result<()> {
    let mut offset = 0u64;
    for seg in segments {
        let (start, end) = (offset, offset + seg.len);
        offset = end;
        if end <= range.start || start >= range.end {
            continue;
        }
        let from = range.start.max(start) - start;
        let to = range.end.min(end) - start;
        let mut file = tokio::fs::File::open(blobs.path(&seg.blob)).await?;
        file.seek(SeekFrom::Start(from)).await?;
        let mut left = to - from;
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            let mut buf = vec![0u8; want];
            file.read_exact(&mut buf).await?;
            left -= want as u64;
            if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
