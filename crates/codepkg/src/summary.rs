//! What a validated package measured and contains, as the control plane needs it
//! (`CodeSha256`, `CodeSize`, handler/bootstrap checks).
//!
//! Read-only view over the tree; must not reach the filesystem, so it answers the same after
//! `inspect` as after `extract`.

use crate::tree::{EntryKind, Tree};

#[derive(Debug, Clone)]
pub struct Summary {
    /// base64(SHA-256(zip bytes)): Lambda's `CodeSha256`.
    pub code_sha256: String,
    /// Length of the zip: Lambda's `CodeSize`.
    pub code_size: u64,
    /// Bytes actually inflated (files and symlink targets), never the headers' claim.
    pub unzipped_size: u64,
    /// Entries in the archive, not counting directories it only implies.
    pub entries: usize,
    pub(crate) tree: Tree,
}

impl Summary {
    /// The entry at `path` (package-relative, `/`-separated) without following a symlink
    /// there. Parent directories the archive only implies are reported as [`EntryKind::Dir`].
    pub fn entry(&self, path: &str) -> Option<&EntryKind> {
        let parts: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.contains(&"..") {
            return None;
        }
        self.tree.get(&parts.join("/"))
    }

    /// What `path` finally refers to once symlinks in the package are followed, as a
    /// process inside the environment would see it; `None` if it is missing or dangling.
    pub fn follow(&self, path: &str) -> Option<&EntryKind> {
        let resolved = self.tree.resolve("", path).ok()?;
        self.tree.get(&resolved)
    }

    /// Whether `path` (following symlinks) is a regular file that will be extracted
    /// executable — the check for a `provided` runtime's `bootstrap`.
    pub fn is_executable_file(&self, path: &str) -> bool {
        matches!(
            self.follow(path),
            Some(EntryKind::File {
                executable: true,
                ..
            })
        )
    }

    /// Every path in the package, implied directories included, in byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EntryKind)> {
        self.tree.iter()
    }
}
