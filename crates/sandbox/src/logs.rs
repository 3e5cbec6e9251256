//! The function's stdout and stderr: pipes read line by line into timestamped [`LogLine`]s.
//! Owns the bounds: lines are split at [`MAX_LINE_BYTES`], and when the consumer falls
//! behind lines are dropped and counted rather than letting a full pipe stall the
//! function. Must not interpret the lines (START/END/REPORT framing is the daemon's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// Longest line forwarded in one piece; Lambda records at most 256 KB of an error object.
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// Lines buffered per environment before new ones are dropped.
pub(crate) const LOG_BUFFER_LINES: usize = 4096;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line the function wrote, without its newline, decoded lossily as UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the daemon read it.
    pub at: SystemTime,
    pub stream: LogStream,
    pub line: String,
}

/// Forwards lines until end of file. Keeps reading when the receiver is full or gone, so
/// the function never blocks on its own output.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    stream: LogStream,
    tx: mpsc::Sender<LogLine>,
    lost: Arc<AtomicU64>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    let emit = |line: &mut Vec<u8>| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let l = LogLine {
            at: SystemTime::now(),
            stream,
            line: String::from_utf8_lossy(line).into_owned(),
        };
        line.clear();
        if tx.try_send(l).is_err() {
            lost.fetch_add(1, Ordering::Relaxed);
        }
    };
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let room = MAX_LINE_BYTES - line.len();
        match chunk.iter().take(room).position(|b| *b == b'\n') {
            Some(pos) => {
                line.extend_from_slice(&chunk[..pos]);
                reader.consume(pos + 1);
                emit(&mut line);
            }
            None => {
                let take = chunk.len().min(room);
                line.extend_from_slice(&chunk[..take]);
                reader.consume(take);
                if line.len() == MAX_LINE_BYTES {
                    emit(&mut line);
                }
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(input: Vec<u8>, capacity: usize) -> (Vec<String>, u64) {
        let (tx, mut rx) = mpsc::channel(capacity);
        let lost = Arc::new(AtomicU64::new(0));
        pump(&input[..], LogStream::Stderr, tx, lost.clone()).await;
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            assert_eq!(l.stream, LogStream::Stderr);
            lines.push(l.line);
        }
        (lines, lost.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_a_final_partial_line() {
        let (lines, lost) = collect(b"a\r\nb\n\nlast".to_vec(), 16).await;
        assert_eq!(lines, ["a", "b", "", "last"]);
        assert_eq!(lost, 0);
    }

    #[tokio::test]
    async fn splits_overlong_lines() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.push(b'\n');
        let (lines, _) = collect(input, 16).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[1].len(), 10);
    }

    #[tokio::test]
    async fn counts_lines_dropped_when_the_reader_lags() {
        let (lines, lost) = collect(b"1\n2\n3\n4\n".to_vec(), 2).await;
        assert_eq!(lines, ["1", "2"]);
        assert_eq!(lost, 2);
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced() {
        let (lines, _) = collect(vec![b'o', 0xff, b'k', b'\n'], 4).await;
        assert_eq!(lines, ["o\u{fffd}k"]);
    }
}
