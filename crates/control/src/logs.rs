//! CloudWatch Logs as records: log groups, log streams, and their events (an append-only
//! stream per log stream in the store). Functions' output is written here by the invoke
//! path (`append_lines`), and read back through the Logs API.

use serde::{Deserialize, Serialize};

use crate::store::{ScanRange, Scope, StoreError, Tx, TxExt};

const GROUP: &str = "log-group";
const STREAM: &str = "log-stream";
const EVENT: &str = "log-event";

/// The most events one read returns (AWS's cap for GetLogEvents and FilterLogEvents).
pub const MAX_EVENTS: usize = 10_000;
/// The most events one PutLogEvents call may carry.
pub const MAX_PUT_EVENTS: usize = 10_000;
/// The largest event message, in bytes (AWS: 256 KB minus 26 bytes of overhead).
pub const MAX_EVENT_BYTES: usize = 262_144 - 26;

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("The specified log group does not exist.")]
    GroupNotFound,
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
    #[error("The specified log group already exists")]
    GroupExists,
    #[error("The specified log stream already exists")]
    StreamExists,
    #[error("{0}")]
    InvalidParameter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogGroup {
    pub name: String,
    pub creation_time: i64,
    pub retention_in_days: Option<u32>,
    pub stored_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogStream {
    pub group: String,
    pub name: String,
    pub creation_time: i64,
    pub first_event_timestamp: Option<i64>,
    pub last_event_timestamp: Option<i64>,
    pub last_ingestion_time: Option<i64>,
    pub stored_bytes: u64,
}

/// One event as stored: `t` timestamp, `i` ingestion time, `m` message (epoch ms).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct StoredEvent {
    t: i64,
    i: i64,
    m: String,
}

/// An event read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub stream: String,
    pub seq: u64,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
}

fn decode_event(stream_id: &str, body: &[u8]) -> Result<StoredEvent, StoreError> {
    serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
        kind: EVENT.into(),
        id: stream_id.into(),
        source,
    })
}

fn stream_id(group: &str, stream: &str) -> String {
    // ':' is not allowed in group or stream names, so it separates them unambiguously.
    format!("{group}:{stream}")
}

/// Group names: 1–512 of `[.\-_/#A-Za-z0-9]`.
pub fn check_group_name(name: &str) -> Result<(), LogsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )))
    }
}

/// Stream names: 1–512 characters, no `:` or `*`.
pub fn check_stream_name(name: &str) -> Result<(), LogsError> {
    if !name.is_empty() && name.len() <= 512 && !name.contains([':', '*']) {
        Ok(())
    } else {
        Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
        )))
    }
}

pub fn create_group(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    now: i64,
) -> Result<LogGroup, LogsError> {
    check_group_name(name)?;
    if tx.get(GROUP, scope, name)?.is_some() {
        return Err(LogsError::GroupExists);
    }
    let group = LogGroup {
        name: name.to_string(),
        creation_time: now,
        retention_in_days: None,
        stored_bytes: 0,
    };
    tx.put_json(GROUP, scope, name, &group)?;
    Ok(group)
}

pub fn group(tx: &mut dyn Tx, scope: &Scope, name: &str) -> Result<LogGroup, LogsError> {
    tx.get_json(GROUP, scope, name)?
        .ok_or(LogsError::GroupNotFound)
}

pub fn delete_group(tx: &mut dyn Tx, scope: &Scope, name: &str) -> Result<(), LogsError> {
    group(tx, scope, name)?;
    for s in tx.list_json::<LogStream>(STREAM, scope, &stream_id(name, ""))? {
        tx.drop_stream(EVENT, scope, &stream_id(name, &s.name))?;
        tx.delete(STREAM, scope, &stream_id(name, &s.name))?;
    }
    tx.delete(GROUP, scope, name)?;
    Ok(())
}

pub fn put_retention(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    days: Option<u32>,
) -> Result<(), LogsError> {
    let mut g = group(tx, scope, name)?;
    g.retention_in_days = days;
    tx.put_json(GROUP, scope, name, &g)?;
    Ok(())
}

/// Groups whose name starts with `prefix`, or contains `pattern`, sorted by name.
pub fn list_groups(
    tx: &mut dyn Tx,
    scope: &Scope,
    prefix: Option<&str>,
    pattern: Option<&str>,
) -> Result<Vec<LogGroup>, LogsError> {
    let mut groups: Vec<LogGroup> = tx.list_json(GROUP, scope, prefix.unwrap_or(""))?;
    if let Some(p) = pattern {
        let p = p.to_ascii_lowercase();
        groups.retain(|g| g.name.to_ascii_lowercase().contains(&p));
    }
    Ok(groups)
}

pub fn create_stream(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    name: &str,
    now: i64,
) -> Result<LogStream, LogsError> {
    check_stream_name(name)?;
    group(tx, scope, group_name)?;
    let id = stream_id(group_name, name);
    if tx.get(STREAM, scope, &id)?.is_some() {
        return Err(LogsError::StreamExists);
    }
    let stream = LogStream {
        group: group_name.to_string(),
        name: name.to_string(),
        creation_time: now,
        first_event_timestamp: None,
        last_event_timestamp: None,
        last_ingestion_time: None,
        stored_bytes: 0,
    };
    tx.put_json(STREAM, scope, &id, &stream)?;
    Ok(stream)
}

pub fn stream(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    name: &str,
) -> Result<LogStream, LogsError> {
    group(tx, scope, group_name)?;
    tx.get_json(STREAM, scope, &stream_id(group_name, name))?
        .ok_or(LogsError::StreamNotFound)
}

pub fn delete_stream(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    name: &str,
) -> Result<(), LogsError> {
    stream(tx, scope, group_name, name)?;
    let id = stream_id(group_name, name);
    tx.drop_stream(EVENT, scope, &id)?;
    tx.delete(STREAM, scope, &id)?;
    Ok(())
}

/// Streams of a group whose name starts with `prefix`, sorted by name.
pub fn list_streams(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    prefix: &str,
) -> Result<Vec<LogStream>, LogsError> {
    group(tx, scope, group_name)?;
    Ok(tx.list_json(STREAM, scope, &stream_id(group_name, prefix))?)
}

/// Appends events (timestamp, message) to an existing stream.
pub fn put_events(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    stream_name: &str,
    events: &[(i64, String)],
    now: i64,
) -> Result<(), LogsError> {
    if events.is_empty() || events.len() > MAX_PUT_EVENTS {
        return Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and {MAX_PUT_EVENTS}"
        )));
    }
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(LogsError::InvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        ));
    }
    let mut s = stream(tx, scope, group_name, stream_name)?;
    let mut g = group(tx, scope, group_name)?;
    let id = stream_id(group_name, stream_name);
    for (timestamp, message) in events {
        let mut m = message.clone();
        truncate_utf8(&mut m, MAX_EVENT_BYTES);
        let bytes = m.len() as u64;
        let body = serde_json::to_vec(&StoredEvent {
            t: *timestamp,
            i: now,
            m,
        })
        .map_err(StoreError::Encode)?;
        tx.append(EVENT, scope, &id, &body)?;
        s.stored_bytes += bytes;
        g.stored_bytes += bytes;
        s.first_event_timestamp = Some(
            s.first_event_timestamp
                .map_or(*timestamp, |f| f.min(*timestamp)),
        );
        s.last_event_timestamp = Some(
            s.last_event_timestamp
                .map_or(*timestamp, |l| l.max(*timestamp)),
        );
    }
    s.last_ingestion_time = Some(now);
    tx.put_json(STREAM, scope, &id, &s)?;
    tx.put_json(GROUP, scope, group_name, &g)?;
    Ok(())
}

/// Writes a function's output lines, creating the group and stream on first use, as
/// Lambda does with the execution role's `logs:*` permissions.
pub fn append_lines(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    stream_name: &str,
    lines: &[(i64, String)],
    now: i64,
) -> Result<(), LogsError> {
    if lines.is_empty() {
        return Ok(());
    }
    match create_group(tx, scope, group_name, now) {
        Ok(_) | Err(LogsError::GroupExists) => {}
        Err(e) => return Err(e),
    }
    match create_stream(tx, scope, group_name, stream_name, now) {
        Ok(_) | Err(LogsError::StreamExists) => {}
        Err(e) => return Err(e),
    }
    for chunk in lines.chunks(MAX_PUT_EVENTS) {
        put_events(tx, scope, group_name, stream_name, chunk, now)?;
    }
    Ok(())
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Event timestamps to keep: `start` inclusive, `end` exclusive for GetLogEvents and
/// inclusive for FilterLogEvents, as AWS defines them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// A page of GetLogEvents.
#[derive(Debug, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_forward: String,
    pub next_backward: String,
}

/// Where a GetLogEvents read starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    Head,
    Tail,
    Forward(u64),
    Backward(u64),
}

impl Cursor {
    /// Parses a `f/N` or `b/N` token.
    pub fn from_token(token: &str) -> Result<Cursor, LogsError> {
        let bad = || LogsError::InvalidParameter("The specified nextToken is invalid.".into());
        let (dir, n) = token.split_once('/').ok_or_else(bad)?;
        let n: u64 = n.parse().map_err(|_| bad())?;
        match dir {
            "f" => Ok(Cursor::Forward(n)),
            "b" => Ok(Cursor::Backward(n)),
            _ => Err(bad()),
        }
    }
}

/// GetLogEvents: events of one stream in time order, within `[start, end)`.
pub fn get_events(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    stream_name: &str,
    cursor: Cursor,
    window: TimeWindow,
    limit: usize,
) -> Result<EventPage, LogsError> {
    stream(tx, scope, group_name, stream_name)?;
    let id = stream_id(group_name, stream_name);
    let limit = limit.clamp(1, MAX_EVENTS);
    let in_window = |e: &StoredEvent| {
        window.start.is_none_or(|s| e.t >= s) && window.end.is_none_or(|x| e.t < x)
    };
    let (mut range, forward) = match cursor {
        Cursor::Head => (ScanRange::After(0), true),
        Cursor::Forward(n) => (ScanRange::After(n), true),
        Cursor::Tail => (ScanRange::Before(u64::MAX), false),
        Cursor::Backward(n) => (ScanRange::Before(n), false),
    };
    let mut picked: Vec<Event> = Vec::new();
    loop {
        let batch = tx.scan(EVENT, scope, &id, range, limit)?;
        let Some(&(last_seq, _)) = batch.last() else {
            break;
        };
        for (seq, body) in batch {
            let e = decode_event(&id, &body)?;
            if in_window(&e) && picked.len() < limit {
                picked.push(Event {
                    stream: stream_name.to_string(),
                    seq,
                    timestamp: e.t,
                    ingestion_time: e.i,
                    message: e.m,
                });
            }
        }
        if picked.len() >= limit {
            break;
        }
        range = if forward {
            ScanRange::After(last_seq)
        } else {
            ScanRange::Before(last_seq)
        };
    }
    if !forward {
        picked.reverse();
    }
    let (first, last) = match (picked.first(), picked.last()) {
        (Some(f), Some(l)) => (f.seq, l.seq),
        _ => match cursor {
            // Nothing new: hand the same position back, which is how clients know to stop.
            Cursor::Forward(n) | Cursor::Backward(n) => (n, n),
            Cursor::Head | Cursor::Tail => (0, 0),
        },
    };
    let next_forward = match (&cursor, picked.is_empty()) {
        (Cursor::Tail, true) | (Cursor::Head, true) => "f/0".to_string(),
        _ => format!("f/{last}"),
    };
    Ok(EventPage {
        events: picked,
        next_forward,
        next_backward: format!("b/{first}"),
    })
}

/// A FilterLogEvents pattern: AWS's unstructured term syntax (`ERROR`, `"exact phrase"`,
/// `?A ?B` for any-of, `-term` to exclude). JSON and space-delimited patterns are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterPattern {
    all: Vec<String>,
    any: Vec<String>,
    none: Vec<String>,
}

impl FilterPattern {
    pub fn parse(pattern: &str) -> Result<FilterPattern, LogsError> {
        let p = pattern.trim();
        if p.starts_with('{') || p.starts_with('[') {
            return Err(LogsError::InvalidParameter(
                "Invalid filter pattern: JSON and space-delimited filter patterns are not supported by vpclambda".into(),
            ));
        }
        let mut out = FilterPattern::default();
        let mut rest = p;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (sign, body) = match rest.as_bytes()[0] {
                b'?' => (Some('?'), &rest[1..]),
                b'-' => (Some('-'), &rest[1..]),
                _ => (None, rest),
            };
            let (term, after) = if let Some(quoted) = body.strip_prefix('"') {
                match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => {
                        return Err(LogsError::InvalidParameter(
                            "Invalid filter pattern: unterminated quote".into(),
                        ))
                    }
                }
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], &body[end..])
            };
            if !term.is_empty() {
                match sign {
                    Some('?') => out.any.push(term.to_string()),
                    Some('-') => out.none.push(term.to_string()),
                    _ => out.all.push(term.to_string()),
                }
            }
            rest = after;
        }
        Ok(out)
    }

    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

/// A page of FilterLogEvents.
#[derive(Debug, PartialEq)]
pub struct FilterPage {
    pub events: Vec<Event>,
    pub searched: Vec<String>,
    /// How many matching events came before this page plus this page's; the next token.
    pub next_offset: Option<usize>,
}

/// What FilterLogEvents asks for.
#[derive(Clone, Debug, Default)]
pub struct FilterQuery {
    /// Only these streams (all when empty).
    pub stream_names: Vec<String>,
    pub stream_prefix: Option<String>,
    pub window: TimeWindow,
    pub pattern: FilterPattern,
    /// Matching events to skip: the page token.
    pub offset: usize,
    pub limit: usize,
}

/// FilterLogEvents: events of a group's streams within the window, matching the pattern,
/// ordered by time, paginated by offset.
pub fn filter_events(
    tx: &mut dyn Tx,
    scope: &Scope,
    group_name: &str,
    q: &FilterQuery,
) -> Result<FilterPage, LogsError> {
    let (start, end, pattern, offset) = (q.window.start, q.window.end, &q.pattern, q.offset);
    let stream_names = &q.stream_names;
    let stream_prefix = q.stream_prefix.as_deref();
    let limit = q.limit;
    let mut streams = list_streams(tx, scope, group_name, stream_prefix.unwrap_or(""))?;
    if !stream_names.is_empty() {
        streams.retain(|s| stream_names.contains(&s.name));
    }
    let limit = limit.clamp(1, MAX_EVENTS);
    let mut matched: Vec<Event> = Vec::new();
    for s in &streams {
        let id = stream_id(group_name, &s.name);
        let mut after = 0;
        loop {
            let batch = tx.scan(EVENT, scope, &id, ScanRange::After(after), 1000)?;
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            for (seq, body) in batch {
                let e = decode_event(&id, &body)?;
                if start.is_none_or(|x| e.t >= x)
                    && end.is_none_or(|x| e.t <= x)
                    && pattern.matches(&e.m)
                {
                    matched.push(Event {
                        stream: s.name.clone(),
                        seq,
                        timestamp: e.t,
                        ingestion_time: e.i,
                        message: e.m,
                    });
                }
            }
            after = last;
        }
    }
    matched.sort_by(|a, b| (a.timestamp, &a.stream, a.seq).cmp(&(b.timestamp, &b.stream, b.seq)));
    let total = matched.len();
    let events: Vec<Event> = matched.into_iter().skip(offset).take(limit).collect();
    let next = offset + events.len();
    Ok(FilterPage {
        events,
        searched: streams.into_iter().map(|s| s.name).collect(),
        next_offset: (next < total).then_some(next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn setup() -> (Store, tempfile::TempDir, Scope) {
        let dir = tempfile::tempdir().unwrap();
        (
            Store::open_sqlite(dir.path()).unwrap(),
            dir,
            Scope::new("000000000000", "us-east-1"),
        )
    }

    #[test]
    fn groups_streams_and_events_round_trip() {
        let (store, _d, s) = setup();
        store
            .write(|tx| -> Result<(), LogsError> {
                let lines: Vec<(i64, String)> =
                    (0..5).map(|i| (1000 + i, format!("line {i}"))).collect();
                append_lines(
                    tx,
                    &s,
                    "/aws/lambda/f",
                    "2026/11/26/[$LATEST]abc",
                    &lines,
                    2000,
                )
            })
            .unwrap();
        let page = store
            .read(|tx| {
                get_events(
                    tx,
                    &s,
                    "/aws/lambda/f",
                    "2026/11/26/[$LATEST]abc",
                    Cursor::Head,
                    TimeWindow::default(),
                    2,
                )
            })
            .unwrap();
        assert_eq!(
            page.events
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["line 0", "line 1"]
        );
        let next = Cursor::from_token(&page.next_forward).unwrap();
        let page2 = store
            .read(|tx| {
                get_events(
                    tx,
                    &s,
                    "/aws/lambda/f",
                    "2026/11/26/[$LATEST]abc",
                    next.clone(),
                    TimeWindow::default(),
                    10,
                )
            })
            .unwrap();
        assert_eq!(page2.events.len(), 3);
        let end = Cursor::from_token(&page2.next_forward).unwrap();
        let page3 = store
            .read(|tx| {
                get_events(
                    tx,
                    &s,
                    "/aws/lambda/f",
                    "2026/11/26/[$LATEST]abc",
                    end,
                    TimeWindow::default(),
                    10,
                )
            })
            .unwrap();
        assert!(page3.events.is_empty());
        assert_eq!(
            page3.next_forward, page2.next_forward,
            "same token back means the end"
        );
        let tail = store
            .read(|tx| {
                get_events(
                    tx,
                    &s,
                    "/aws/lambda/f",
                    "2026/11/26/[$LATEST]abc",
                    Cursor::Tail,
                    TimeWindow::default(),
                    2,
                )
            })
            .unwrap();
        assert_eq!(
            tail.events
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["line 3", "line 4"]
        );
        let g = store.read(|tx| group(tx, &s, "/aws/lambda/f")).unwrap();
        assert_eq!(g.stored_bytes, 30);
    }

    #[test]
    fn filter_patterns() {
        let p = FilterPattern::parse(r#"ERROR "disk full" -ignored"#).unwrap();
        assert!(p.matches("ERROR: disk full now"));
        assert!(!p.matches("ERROR: disk is full"));
        assert!(!p.matches("ERROR disk full ignored"));
        let any = FilterPattern::parse("?START ?END").unwrap();
        assert!(any.matches("END RequestId: x"));
        assert!(!any.matches("REPORT"));
        assert!(FilterPattern::parse("").unwrap().matches("anything"));
        assert!(FilterPattern::parse("{ $.a = 1 }").is_err());
    }

    #[test]
    fn filter_across_streams_in_time_order_with_pages() {
        let (store, _d, s) = setup();
        store
            .write(|tx| -> Result<(), LogsError> {
                append_lines(tx, &s, "g", "a", &[(1, "x 1".into()), (3, "x 3".into())], 9)?;
                append_lines(tx, &s, "g", "b", &[(2, "x 2".into()), (4, "y 4".into())], 9)
            })
            .unwrap();
        let pat = FilterPattern::parse("x").unwrap();
        let p = store
            .read(|tx| {
                filter_events(
                    tx,
                    &s,
                    "g",
                    &FilterQuery {
                        pattern: pat.clone(),
                        limit: 2,
                        ..FilterQuery::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(
            p.events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(p.next_offset, Some(2));
        let p2 = store
            .read(|tx| {
                filter_events(
                    tx,
                    &s,
                    "g",
                    &FilterQuery {
                        pattern: pat.clone(),
                        offset: 2,
                        limit: 2,
                        ..FilterQuery::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(
            p2.events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
            [3]
        );
        assert_eq!(p2.next_offset, None);
    }

    #[test]
    fn errors() {
        let (store, _d, s) = setup();
        assert!(matches!(
            store.read(|tx| group(tx, &s, "nope")),
            Err(LogsError::GroupNotFound)
        ));
        store.write(|tx| create_group(tx, &s, "g", 1)).unwrap();
        assert!(matches!(
            store.write(|tx| create_group(tx, &s, "g", 1)),
            Err(LogsError::GroupExists)
        ));
        assert!(matches!(
            store.write(|tx| create_group(tx, &s, "bad name", 1)),
            Err(LogsError::InvalidParameter(_))
        ));
        assert!(matches!(
            store.write(|tx| put_events(tx, &s, "g", "missing", &[(1, "m".into())], 1)),
            Err(LogsError::StreamNotFound)
        ));
        store
            .write(|tx| create_stream(tx, &s, "g", "st", 1))
            .unwrap();
        assert!(matches!(
            store.write(|tx| put_events(tx, &s, "g", "st", &[(2, "b".into()), (1, "a".into())], 1)),
            Err(LogsError::InvalidParameter(_))
        ));
        store.write(|tx| delete_group(tx, &s, "g")).unwrap();
        assert!(matches!(
            store.read(|tx| group(tx, &s, "g")),
            Err(LogsError::GroupNotFound)
        ));
    }
}
