//! The store: every control-plane record lives here, as JSON documents keyed by
//! `(account, region, kind, id)`, read and written in transactions. Domain code talks to
//! the [`Tx`] trait only; the backend ([`sqlite`] today, PostgreSQL later for many hosts)
//! is chosen once at start-up. The store never interprets documents.

pub mod sqlite;

use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

/// Where a record lives. Global services (IAM) use an empty region.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }

    /// The account-wide scope of global services such as IAM.
    pub fn global(account: impl Into<String>) -> Self {
        Scope::new(account, "")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: record {kind}/{id} is not valid JSON: {source}")]
    Corrupt {
        kind: String,
        id: String,
        source: serde_json::Error,
    },
    #[error("store: cannot encode record: {0}")]
    Encode(serde_json::Error),
    #[error("store: schema version {found} is newer than this binary understands ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("store: a previous writer panicked while holding the connection")]
    Poisoned,
    #[error("the OS random source failed: {0}")]
    Random(String),
}

/// Operations inside one transaction. Lists are ordered by id.
pub trait Tx {
    fn get(&mut self, kind: &str, scope: &Scope, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&mut self, kind: &str, scope: &Scope, id: &str, body: &[u8]) -> Result<(), StoreError>;
    /// Whether a record was there to delete.
    fn delete(&mut self, kind: &str, scope: &Scope, id: &str) -> Result<bool, StoreError>;
    /// Records of `kind` in `scope` whose id starts with `prefix`.
    fn list(
        &mut self,
        kind: &str,
        scope: &Scope,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// The first `limit` records of `kind` in `scope` with `from <= id < to` (byte order),
    /// ordered by id: a range read that uses the key's index (time-ordered ids such as
    /// metric minutes); background work pages through ranges with `limit`.
    fn list_range(
        &mut self,
        kind: &str,
        scope: &Scope,
        from: &str,
        to: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Records of `kind` in every scope: start-up reconciliation and background work.
    fn list_all(&mut self, kind: &str) -> Result<Vec<(Scope, String, Vec<u8>)>, StoreError>;
    /// The scope holding record `id` of `kind` (the first, should several), found through an
    /// index, for callers that have an id and no account (the admin socket).
    fn scope_of(&mut self, kind: &str, id: &str) -> Result<Option<Scope>, StoreError>;

    /// Appends an entry to the ordered stream `(kind, scope, stream)` (log events) and
    /// returns its sequence number, which grows within a stream.
    fn append(
        &mut self,
        kind: &str,
        scope: &Scope,
        stream: &str,
        body: &[u8],
    ) -> Result<u64, StoreError>;
    /// Up to `limit` entries of a stream in sequence order: after `after` going forward,
    /// or before `before` going backward (the newest first).
    fn scan(
        &mut self,
        kind: &str,
        scope: &Scope,
        stream: &str,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Drops every entry of a stream.
    fn drop_stream(&mut self, kind: &str, scope: &Scope, stream: &str) -> Result<(), StoreError>;
}

/// Which part of a stream [`Tx::scan`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanRange {
    /// Entries with a sequence number above this, oldest first.
    After(u64),
    /// Entries with a sequence number below this, newest first.
    Before(u64),
}

/// An open transaction of a backend; dropped without `commit`, it rolls back.
pub trait TxHandle: Tx {
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A storage engine.
pub trait Backend: Send + Sync {
    /// A transaction that may write; writers are serialised.
    fn begin_write(&self) -> Result<Box<dyn TxHandle + '_>, StoreError>;
    /// A transaction that sees one consistent snapshot.
    fn begin_read(&self) -> Result<Box<dyn TxHandle + '_>, StoreError>;
    /// Makes everything committed so far durable in the main file (used at shutdown).
    fn flush(&self) -> Result<(), StoreError>;
}

/// Typed access to JSON records.
pub trait TxExt {
    fn get_json<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<T>, StoreError>;
    fn put_json<T: Serialize>(
        &mut self,
        kind: &str,
        scope: &Scope,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError>;
    fn list_json<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        scope: &Scope,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError>;
}

impl<X: Tx + ?Sized> TxExt for X {
    fn get_json<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.get(kind, scope, id)? {
            None => Ok(None),
            Some(body) => decode(kind, id, &body).map(Some),
        }
    }

    fn put_json<T: Serialize>(
        &mut self,
        kind: &str,
        scope: &Scope,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_vec(value).map_err(StoreError::Encode)?;
        self.put(kind, scope, id, &body)
    }

    fn list_json<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        scope: &Scope,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.list(kind, scope, prefix)?
            .into_iter()
            .map(|(id, body)| decode(kind, &id, &body))
            .collect()
    }
}

fn decode<T: DeserializeOwned>(kind: &str, id: &str, body: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
        kind: kind.into(),
        id: id.into(),
        source,
    })
}

/// Told how long each commit took (the daemon's metrics); the store knows no metrics.
pub type CommitObserver = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

/// The handle the rest of the daemon holds.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    observer: Option<CommitObserver>,
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Store {
            backend,
            observer: None,
        }
    }

    /// This store, telling `observer` the duration of every commit from now on (clones
    /// made from the returned handle tell it too).
    pub fn observing_commits(mut self, observer: CommitObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The embedded default: SQLite in `data_dir/vpclambda.db`.
    pub fn open_sqlite(data_dir: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Store::new(Arc::new(sqlite::SqliteBackend::open(
            &data_dir.join("vpclambda.db"),
        )?)))
    }

    /// Runs `f` in a write transaction and commits when it returns `Ok`; an `Err` rolls
    /// everything back, so a failed request never leaves half a change behind.
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut tx = self.backend.begin_write()?;
        let out = f(&mut *tx)?;
        let started = std::time::Instant::now();
        tx.commit()?;
        if let Some(observe) = &self.observer {
            observe(started.elapsed());
        }
        Ok(out)
    }

    /// Runs `f` against one consistent snapshot.
    pub fn read<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut tx = self.backend.begin_read()?;
        f(&mut *tx)
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush()
    }
}
