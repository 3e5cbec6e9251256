//! The embedded SQLite backend: one database file in the data dir, WAL journal, schema
//! migrations compiled into the binary and applied at open.
//!
//! Durability decision: `synchronous=FULL`, so a transaction that returned is on disk —
//! it survives `kill -9` of the daemon and a power loss alike. Writers are serialised by
//! one connection behind a mutex; `BEGIN IMMEDIATE` makes read-modify-write sequences
//! (IP allocation, quotas) atomic.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use super::{Backend, ScanRange, Scope, StoreError, Tx, TxHandle};

/// Schema migrations, applied in order; the database's `user_version` is how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE objects (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (kind, account, region, id)
    ) WITHOUT ROWID;",
    "CREATE TABLE streams (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        stream TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (kind, account, region, stream, seq)
    ) WITHOUT ROWID;",
    "CREATE INDEX objects_by_id ON objects (kind, id);",
];

pub struct SqliteBackend {
    conn: Mutex<Connection>,
}

impl SqliteBackend {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&conn)?;
        Ok(SqliteBackend {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn begin_write(&self) -> Result<Box<dyn TxHandle + '_>, StoreError> {
        let conn = self.lock()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn begin_read(&self) -> Result<Box<dyn TxHandle + '_>, StoreError> {
        let conn = self.lock()?;
        conn.execute_batch("BEGIN DEFERRED")?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn flush(&self) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rollback failed");
            }
        }
    }
}

impl TxHandle for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.open = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // A failed COMMIT leaves the transaction open: roll it back so the connection
            // is usable by the next request.
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }
}

impl Tx for SqliteTx<'_> {
    fn get(&mut self, kind: &str, scope: &Scope, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM objects WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id = ?4",
        )?;
        Ok(stmt
            .query_row(params![kind, scope.account, scope.region, id], |r| r.get(0))
            .optional()?)
    }

    fn put(&mut self, kind: &str, scope: &Scope, id: &str, body: &[u8]) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO objects (kind, account, region, id, body) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, account, region, id) DO UPDATE SET body = excluded.body",
        )?;
        stmt.execute(params![kind, scope.account, scope.region, id, body])?;
        Ok(())
    }

    fn delete(&mut self, kind: &str, scope: &Scope, id: &str) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM objects WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id = ?4",
        )?;
        Ok(stmt.execute(params![kind, scope.account, scope.region, id])? > 0)
    }

    fn list(
        &mut self,
        kind: &str,
        scope: &Scope,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, body FROM objects
             WHERE kind = ?1 AND account = ?2 AND region = ?3 AND substr(id, 1, length(?4)) = ?4
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![kind, scope.account, scope.region, prefix], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_range(
        &mut self,
        kind: &str,
        scope: &Scope,
        from: &str,
        to: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, body FROM objects
             WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id >= ?4 AND id < ?5
             ORDER BY id LIMIT ?6",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![kind, scope.account, scope.region, from, to, limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_all(&mut self, kind: &str) -> Result<Vec<(Scope, String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account, region, id, body FROM objects WHERE kind = ?1 ORDER BY account, region, id",
        )?;
        let rows = stmt.query_map(params![kind], |r| {
            Ok((
                Scope::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get(2)?,
                r.get(3)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn scope_of(&mut self, kind: &str, id: &str) -> Result<Option<Scope>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account, region FROM objects WHERE kind = ?1 AND id = ?2
             ORDER BY account, region LIMIT 1",
        )?;
        Ok(stmt
            .query_row(params![kind, id], |r| {
                Ok(Scope::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?)
    }

    fn append(
        &mut self,
        kind: &str,
        scope: &Scope,
        stream: &str,
        body: &[u8],
    ) -> Result<u64, StoreError> {
        let seq = self.last_seq(kind, scope, stream)? + 1;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO streams (kind, account, region, stream, seq, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        stmt.execute(params![
            kind,
            scope.account,
            scope.region,
            stream,
            seq as i64,
            body
        ])?;
        Ok(seq)
    }

    fn scan(
        &mut self,
        kind: &str,
        scope: &Scope,
        stream: &str,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let (sql, bound) = match range {
            ScanRange::After(n) => (
                "SELECT seq, body FROM streams
                 WHERE kind = ?1 AND account = ?2 AND region = ?3 AND stream = ?4 AND seq > ?5
                 ORDER BY seq ASC LIMIT ?6",
                n,
            ),
            ScanRange::Before(n) => (
                "SELECT seq, body FROM streams
                 WHERE kind = ?1 AND account = ?2 AND region = ?3 AND stream = ?4 AND seq < ?5
                 ORDER BY seq DESC LIMIT ?6",
                n,
            ),
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let bound = i64::try_from(bound).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![kind, scope.account, scope.region, stream, bound, limit],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_stream(&mut self, kind: &str, scope: &Scope, stream: &str) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM streams WHERE kind = ?1 AND account = ?2 AND region = ?3 AND stream = ?4",
        )?;
        stmt.execute(params![kind, scope.account, scope.region, stream])?;
        Ok(())
    }
}

impl SqliteTx<'_> {
    fn last_seq(&mut self, kind: &str, scope: &Scope, stream: &str) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(MAX(seq), 0) FROM streams
             WHERE kind = ?1 AND account = ?2 AND region = ?3 AND stream = ?4",
        )?;
        let last: i64 = stmt
            .query_row(params![kind, scope.account, scope.region, stream], |r| {
                r.get(0)
            })?;
        Ok(last as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{Store, TxExt};
    use super::*;

    fn scope(a: &str) -> Scope {
        Scope::new(a, "us-east-1")
    }

    #[test]
    fn commits_are_observed_and_rollbacks_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        let store = Store::open_sqlite(dir.path())
            .unwrap()
            .observing_commits(Arc::new(move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }));
        let clone = store.clone();
        clone
            .write(|tx| tx.put_json("fn", &scope("111111111111"), "a", &1))
            .unwrap();
        let failed: Result<(), StoreError> = store.write(|_| Err(StoreError::Poisoned));
        assert!(failed.is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn write_read_list_delete_are_scoped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.put_json("fn", &scope("111111111111"), "a", &1)?;
                tx.put_json("fn", &scope("111111111111"), "b", &2)?;
                tx.put_json("fn", &scope("222222222222"), "a", &3)
            })
            .unwrap();
        let got: Vec<i32> = store
            .read(|tx| tx.list_json("fn", &scope("111111111111"), ""))
            .unwrap();
        assert_eq!(got, vec![1, 2]);
        let other: Option<i32> = store
            .read(|tx| tx.get_json("fn", &scope("222222222222"), "b"))
            .unwrap();
        assert_eq!(other, None);
        assert!(store
            .write(|tx| tx.delete("fn", &scope("111111111111"), "a"))
            .unwrap());
        assert_eq!(store.read(|tx| tx.list_all("fn")).unwrap().len(), 2);
    }

    #[test]
    fn range_reads_are_half_open_and_scoped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                for id in ["m:01", "m:02", "m:03", "n:02"] {
                    tx.put_json("k", &scope("111111111111"), id, &id)?;
                }
                tx.put_json("k", &scope("222222222222"), "m:02", &"other")
            })
            .unwrap();
        let ids = |limit| -> Vec<String> {
            store
                .read(|tx| tx.list_range("k", &scope("111111111111"), "m:02", "m:04", limit))
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        };
        assert_eq!(ids(usize::MAX), vec!["m:02", "m:03"]);
        assert_eq!(ids(1), vec!["m:02"]);
    }

    #[test]
    fn failed_closure_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let r: Result<(), StoreError> = store.write(|tx| {
            tx.put("k", &scope("1"), "x", b"1")?;
            Err(StoreError::Poisoned)
        });
        assert!(r.is_err());
        assert_eq!(
            store.read(|tx| tx.get("k", &scope("1"), "x")).unwrap(),
            None
        );
    }

    #[test]
    fn scope_of_finds_a_record_by_id_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.put_json("fn", &scope("222222222222"), "a", &1)?;
                tx.put_json("fn", &scope("111111111111"), "b", &2)?;
                tx.put_json("other", &scope("111111111111"), "c", &3)
            })
            .unwrap();
        let found = |kind: &str, id: &str| store.read(|tx| tx.scope_of(kind, id)).unwrap();
        assert_eq!(found("fn", "a"), Some(scope("222222222222")));
        assert_eq!(found("fn", "b"), Some(scope("111111111111")));
        assert_eq!(found("fn", "c"), None);
        let plan: String = {
            let backend = SqliteBackend::open(&dir.path().join("vpclambda.db")).unwrap();
            let conn = backend.lock().unwrap();
            conn.query_row(
                "EXPLAIN QUERY PLAN SELECT account, region FROM objects WHERE kind = 'fn' AND id = 'a'",
                [],
                |r| r.get(3),
            )
            .unwrap()
        };
        assert!(plan.contains("objects_by_id"), "{plan}");
    }

    /// A database made by the previous schema (objects and streams only) opens with its
    /// records, and gets the index.
    #[test]
    fn an_older_schema_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vpclambda.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "{}; {}; PRAGMA user_version = 2;",
                MIGRATIONS[0], MIGRATIONS[1]
            ))
            .unwrap();
            conn.execute(
                "INSERT INTO objects (kind, account, region, id, body) VALUES ('k', '1', 'us-east-1', 'x', ?1)",
                [b"\"v\"".as_slice()],
            )
            .unwrap();
        }
        let store = Store::open_sqlite(dir.path()).unwrap();
        let v: Option<String> = store.read(|tx| tx.get_json("k", &scope("1"), "x")).unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        assert_eq!(
            store.read(|tx| tx.scope_of("k", "x")).unwrap(),
            Some(scope("1"))
        );
        let version: i64 = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn reopen_keeps_data_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_sqlite(dir.path()).unwrap();
            store
                .write(|tx| tx.put("k", &scope("1"), "x", b"\"v\""))
                .unwrap();
        }
        let store = Store::open_sqlite(dir.path()).unwrap();
        let v: Option<String> = store.read(|tx| tx.get_json("k", &scope("1"), "x")).unwrap();
        assert_eq!(v.as_deref(), Some("v"));
    }

    #[test]
    fn streams_append_in_order_and_scan_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let s = scope("1");
        let seqs: Vec<u64> = store
            .write(|tx| -> Result<_, StoreError> {
                (0..5).map(|i| tx.append("ev", &s, "a", &[i])).collect()
            })
            .unwrap();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        let fwd = store
            .read(|tx| tx.scan("ev", &s, "a", ScanRange::After(2), 2))
            .unwrap();
        assert_eq!(fwd, vec![(3, vec![2]), (4, vec![3])]);
        let back = store
            .read(|tx| tx.scan("ev", &s, "a", ScanRange::Before(u64::MAX), 2))
            .unwrap();
        assert_eq!(back, vec![(5, vec![4]), (4, vec![3])]);
        store.write(|tx| tx.drop_stream("ev", &s, "a")).unwrap();
        assert!(store
            .read(|tx| tx.scan("ev", &s, "a", ScanRange::After(0), 10))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vpclambda.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(matches!(
            SqliteBackend::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn concurrent_writers_never_lose_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        store
                            .write(|tx| -> Result<(), StoreError> {
                                let n: i64 = tx.get_json("c", &scope("1"), "n")?.unwrap_or(0);
                                tx.put_json("c", &scope("1"), "n", &(n + 1))
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n: Option<i64> = store.read(|tx| tx.get_json("c", &scope("1"), "n")).unwrap();
        assert_eq!(n, Some(400));
    }
}
