//! Function code packages (zips) treated as untrusted input: validate, measure, extract.
//!
//! Owns every decision about what an uploaded zip may contain and how it lands on disk:
//! Lambda's size limits (counted by inflating, never from headers), safe entry names,
//! symlinks that stay inside the package, fixed modes, and writes that cannot leave the
//! destination. Knows nothing of HTTP, the store or sandboxes: [`CodeError::class`] tells the
//! API layer which AWS error to send.
//!
//! `inspect` and `extract` apply the same checks; only `extract` writes, and only beneath its
//! destination.

mod archive;
mod error;
mod fsroot;
mod name;
mod summary;
mod tree;

use std::path::Path;

pub use archive::STREAM_BUFFER_BYTES;
pub use error::{printable, CodeError, EntryProblem, ErrorClass};
pub use summary::Summary;
pub use tree::EntryKind;

use archive::{Discard, Package};
use fsroot::Root;

/// What a package may weigh. `Default` gives Lambda's published quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted zip, in bytes (Lambda: 52,428,800 for a direct upload).
    pub max_zipped: u64,
    /// Largest accepted total of inflated bytes (Lambda: 262,144,000).
    pub max_unzipped: u64,
    /// Most entries in one archive; Lambda publishes none, this bounds inodes and memory.
    pub max_entries: usize,
    /// Longest entry name and symlink target, in bytes (`PATH_MAX`).
    pub max_path_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_zipped: 52_428_800,
            max_unzipped: 262_144_000,
            max_entries: 100_000,
            max_path_len: 4096,
        }
    }
}

/// Validates and measures `zip` completely — every entry is inflated and checksummed —
/// without writing anything.
pub fn inspect(zip: &[u8], limits: &Limits) -> Result<Summary, CodeError> {
    Package::open(zip, limits)?.stream(&mut Discard)
}

/// Validates `zip` and writes it beneath `dest`, which must be missing (its parent must
/// exist) or an empty directory, and not a symlink. Directories get 0755, files 0755 or 0644,
/// symlinks are made last. On error whatever was written is removed again (and `dest` too if
/// this call created it).
pub fn extract(zip: &[u8], dest: &Path, limits: &Limits) -> Result<Summary, CodeError> {
    let package = Package::open(zip, limits)?;
    let mut root = Root::prepare(dest)?;
    package.stream(&mut root).inspect_err(|_| root.discard())
}
