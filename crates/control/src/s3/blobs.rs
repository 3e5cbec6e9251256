//! Object bytes on disk: one file per blob under `<data dir>/s3/blobs/<2 hex>/<32 hex>`,
//! written under `<data dir>/s3/tmp/` first, flushed, then renamed into place, its directory
//! flushed, and only then referenced by a record. A crash leaves either a temporary file
//! (removed at start-up) or a blob no record names (removed by [`BlobStore::sweep`]); never
//! a record naming bytes that are not there.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the blob directories under `data_dir` and removes what a crash left
    /// half-written.
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("s3");
        let store = BlobStore {
            blobs: root.join("blobs"),
            tmp: root.join("tmp"),
        };
        fs::create_dir_all(&store.blobs)?;
        if store.tmp.exists() {
            fs::remove_dir_all(&store.tmp)?;
        }
        fs::create_dir_all(&store.tmp)?;
        Ok(store)
    }

    /// A fresh path to write an incoming body to.
    pub fn temp_path(&self) -> PathBuf {
        self.tmp.join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Moves a written and flushed temporary file into place as a new blob, durably, and
    /// returns its id.
    pub fn commit(&self, temp: &Path) -> io::Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.blobs.join(&id[..2]);
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
            File::open(&self.blobs)?.sync_all()?;
        }
        fs::rename(temp, dir.join(&id))?;
        File::open(&dir)?.sync_all()?;
        Ok(id)
    }

    pub fn path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.blobs.join(shard).join(id)
    }

    /// Removes blobs no record names any more (after the transaction that let go of them
    /// committed). Missing files are not an error: a sweep may have been first.
    pub fn remove<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            if let Err(e) = fs::remove_file(self.path(id)) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(blob = id, error = %e, "removing an object's bytes");
                }
            }
        }
    }

    /// Removes every blob not in `referenced`; returns how many went.
    pub fn sweep(&self, referenced: &HashSet<String>) -> io::Result<usize> {
        let mut removed = 0;
        for shard in fs::read_dir(&self.blobs)? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&shard)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !referenced.contains(&name) {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_sweep_and_crash_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let t = store.temp_path();
        fs::write(&t, b"hello").unwrap();
        let kept = store.commit(&t).unwrap();
        let t2 = store.temp_path();
        fs::write(&t2, b"orphan").unwrap();
        let orphan = store.commit(&t2).unwrap();
        fs::write(store.temp_path(), b"half").unwrap();

        let store = BlobStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("s3/tmp")).unwrap().count(), 0);
        let removed = store.sweep(&HashSet::from([kept.clone()])).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(fs::read(store.path(&kept)).unwrap(), b"hello");
        assert!(!store.path(&orphan).exists());
        store.remove([kept.as_str(), "ffmissing"]);
        assert!(!store.path(&kept).exists());
    }
}
