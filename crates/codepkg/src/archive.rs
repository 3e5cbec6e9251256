//! Reading an untrusted zip: structural checks, the per-entry plan, and streaming inflated
//! bytes through one fixed buffer while counting them.
//!
//! Owns every limit that depends on what the archive contains. Must not write anything
//! itself (a [`Sink`] does) and must not trust a size, count or type the headers declare
//! where it can measure instead.

use std::cell::Cell;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::rc::Rc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use crate::error::{CodeError, EntryProblem};
use crate::name;
use crate::summary::Summary;
use crate::tree::{Declared, EntryKind, Tree};
use crate::Limits;

/// Size of the one buffer every entry is inflated through; inflation stops at most this far
/// past [`Limits::max_unzipped`].
pub const STREAM_BUFFER_BYTES: usize = 64 * 1024;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Where the package's content goes once it has been validated.
pub(crate) trait Sink {
    type File;
    fn dir(&mut self, path: &str) -> Result<(), CodeError>;
    fn create_file(&mut self, path: &str) -> Result<Self::File, CodeError>;
    fn write(&mut self, path: &str, file: &mut Self::File, chunk: &[u8]) -> Result<(), CodeError>;
    fn finish_file(&mut self, path: &str, file: Self::File, mode: u32) -> Result<(), CodeError>;
    fn symlink(&mut self, path: &str, target: &str) -> Result<(), CodeError>;
}

/// The sink of `inspect`: everything is inflated and counted, nothing is kept.
pub(crate) struct Discard;

impl Sink for Discard {
    type File = ();
    fn dir(&mut self, _: &str) -> Result<(), CodeError> {
        Ok(())
    }
    fn create_file(&mut self, _: &str) -> Result<(), CodeError> {
        Ok(())
    }
    fn write(&mut self, _: &str, _: &mut (), _: &[u8]) -> Result<(), CodeError> {
        Ok(())
    }
    fn finish_file(&mut self, _: &str, _: (), _: u32) -> Result<(), CodeError> {
        Ok(())
    }
    fn symlink(&mut self, _: &str, _: &str) -> Result<(), CodeError> {
        Ok(())
    }
}

struct Planned {
    index: usize,
    raw: String,
    path: String,
    kind: EntryKind,
}

/// A zip whose structure, names, types and symlinks have been validated; only the content
/// of regular files is still unread.
pub(crate) struct Package<'z> {
    archive: ZipArchive<HeaderBudget<'z>>,
    planned: Vec<Planned>,
    tree: Tree,
    meter: Meter,
    code_sha256: String,
    code_size: u64,
}

impl<'z> Package<'z> {
    pub(crate) fn open(zip: &'z [u8], limits: &Limits) -> Result<Self, CodeError> {
        let code_size = u64::try_from(zip.len()).unwrap_or(u64::MAX);
        if code_size > limits.max_zipped {
            return Err(CodeError::ZippedTooLarge {
                limit: limits.max_zipped,
                size: code_size,
            });
        }
        let code_sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip));

        let mut archive = open_archive(zip, limits.max_entries)?;
        if archive.len() > limits.max_entries {
            return Err(CodeError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        if archive.has_duplicate_names() {
            return Err(CodeError::DuplicateNames);
        }
        if archive
            .has_overlapping_entries()
            .map_err(CodeError::Corrupt)?
        {
            return Err(CodeError::OverlappingEntries);
        }

        let mut planned = (0..archive.len())
            .map(|index| plan(&archive, index, limits))
            .collect::<Result<Vec<_>, _>>()?;

        // Symlink targets are read now so the whole tree, links included, is judged before
        // the first byte is written.
        let mut meter = Meter {
            limit: limits.max_unzipped,
            total: 0,
        };
        let mut buf = vec![0; STREAM_BUFFER_BYTES];
        for p in &mut planned {
            if matches!(p.kind, EntryKind::Symlink { .. }) {
                let target = read_symlink_target(&mut archive, p, &mut meter, &mut buf, limits)?;
                p.kind = EntryKind::Symlink { target };
            }
        }
        let declared: Vec<Declared<'_>> = planned
            .iter()
            .map(|p| Declared {
                raw: &p.raw,
                path: &p.path,
                kind: p.kind.clone(),
            })
            .collect();
        let tree = Tree::build(&declared)?;

        Ok(Self {
            archive,
            planned,
            tree,
            meter,
            code_sha256,
            code_size,
        })
    }

    /// Inflates every regular file into `sink` in archive order, then makes the symlinks, so
    /// no link exists while anything else is being written.
    pub(crate) fn stream<S: Sink>(mut self, sink: &mut S) -> Result<Summary, CodeError> {
        let mut buf = vec![0; STREAM_BUFFER_BYTES];
        for p in &self.planned {
            match &p.kind {
                EntryKind::Dir => sink.dir(&p.path)?,
                EntryKind::File { .. } => {
                    let mut file = sink.create_file(&p.path)?;
                    let size = pump(
                        &mut self.archive,
                        p.index,
                        &mut self.meter,
                        &mut buf,
                        |chunk| sink.write(&p.path, &mut file, chunk),
                    )?;
                    let mode = p.kind.mode().unwrap_or(0o644);
                    sink.finish_file(&p.path, file, mode)?;
                    self.tree.set_file_size(&p.path, size);
                }
                EntryKind::Symlink { .. } => {}
            }
        }
        for p in &self.planned {
            if let EntryKind::Symlink { target } = &p.kind {
                sink.symlink(&p.path, target)?;
            }
        }
        Ok(Summary {
            code_sha256: self.code_sha256,
            code_size: self.code_size,
            unzipped_size: self.meter.total,
            entries: self.planned.len(),
            tree: self.tree,
        })
    }
}

/// Running total of inflated bytes; fails the moment it passes the limit.
struct Meter {
    limit: u64,
    total: u64,
}

impl Meter {
    fn add(&mut self, n: usize) -> Result<(), CodeError> {
        self.total = self
            .total
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.total > self.limit {
            return Err(CodeError::UnzippedTooLarge {
                limit: self.limit,
                inflated: self.total,
            });
        }
        Ok(())
    }
}

fn open_archive(zip: &[u8], max_entries: usize) -> Result<ZipArchive<HeaderBudget<'_>>, CodeError> {
    let budget = Rc::new(Budget {
        left: Cell::new(max_entries.saturating_add(HEADER_READ_SLACK)),
        exhausted: Cell::new(false),
    });
    let reader = HeaderBudget {
        inner: Cursor::new(zip),
        budget: Rc::clone(&budget),
    };
    match ZipArchive::new(reader) {
        Ok(archive) => {
            budget.left.set(usize::MAX);
            Ok(archive)
        }
        Err(_) if budget.exhausted.get() => Err(CodeError::TooManyEntries { limit: max_entries }),
        Err(e) => Err(CodeError::Corrupt(e)),
    }
}

fn plan<R: Read + Seek>(
    archive: &ZipArchive<R>,
    index: usize,
    limits: &Limits,
) -> Result<Planned, CodeError> {
    let entry = archive.by_index_data(index).map_err(CodeError::Corrupt)?;
    let raw = entry.name().map_err(CodeError::Corrupt)?.into_owned();
    let bad = |problem| CodeError::bad_entry(&raw, problem);
    let name = name::normalise(&raw, limits.max_path_len).map_err(bad)?;
    if entry.encrypted() {
        return Err(bad(EntryProblem::Encrypted));
    }
    if !matches!(
        entry.compression(),
        CompressionMethod::Stored | CompressionMethod::Deflated
    ) {
        return Err(bad(EntryProblem::UnsupportedCompression));
    }
    let kind = classify(entry.unix_mode(), name.dir_syntax).map_err(bad)?;
    Ok(Planned {
        index,
        raw,
        path: name.path,
        kind,
    })
}

/// The entry's type from its unix mode and name. No mode (a DOS archive) means a regular
/// file or, with a trailing `/`, a directory; only the execute bits of the mode survive.
fn classify(mode: Option<u32>, dir_syntax: bool) -> Result<EntryKind, EntryProblem> {
    let file_type = mode.map_or(0, |m| m & S_IFMT);
    match (file_type, dir_syntax) {
        (0 | S_IFDIR, true) | (S_IFDIR, false) => Ok(EntryKind::Dir),
        (0 | S_IFREG, false) => Ok(EntryKind::File {
            size: 0,
            executable: mode.is_some_and(|m| m & 0o111 != 0),
        }),
        (S_IFLNK, false) => Ok(EntryKind::Symlink {
            target: String::new(),
        }),
        _ => Err(EntryProblem::UnsupportedType),
    }
}

fn read_symlink_target<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    p: &Planned,
    meter: &mut Meter,
    buf: &mut [u8],
    limits: &Limits,
) -> Result<String, CodeError> {
    let bad = || CodeError::bad_entry(&p.raw, EntryProblem::BadSymlinkTarget);
    let mut target = Vec::new();
    pump(archive, p.index, meter, buf, |chunk| {
        if target.len() + chunk.len() > limits.max_path_len {
            return Err(bad());
        }
        target.extend_from_slice(chunk);
        Ok(())
    })?;
    let target = String::from_utf8(target).map_err(|_| bad())?;
    name::check_symlink_target(&target, limits.max_path_len).map_err(|_| bad())?;
    Ok(target)
}

/// Inflates entry `index` through `buf`, metering every chunk before `each` sees it, and
/// returns its measured size. The zip reader also checks the CRC and refuses output beyond
/// the declared size, which turns lying headers into [`CodeError::Corrupt`].
fn pump<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    meter: &mut Meter,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<(), CodeError>,
) -> Result<u64, CodeError> {
    let mut reader = archive.by_index(index).map_err(CodeError::Corrupt)?;
    let mut size = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CodeError::Corrupt(ZipError::Io(e))),
        };
        meter.add(n)?;
        size = size.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        each(&buf[..n])?;
    }
}

/// Reads that begin on a central-header signature are allowed this far past
/// `max_entries`: the zip reader's signature scans may start on one without parsing it.
const HEADER_READ_SLACK: usize = 16;

const CENTRAL_HEADER_SIGNATURE: &[u8] = b"PK\x01\x02";

struct Budget {
    left: Cell<usize>,
    exhausted: Cell<bool>,
}

/// Bounds the central-directory headers the zip reader may parse while opening the archive.
///
/// A ZIP64 directory may claim any number of entries, and the reader materialises each one
/// before we could count them, so a 50 MB upload of tiny headers would cost a million
/// records of memory. The reader parses a header with one read starting on its signature,
/// so refusing such reads past the budget stops it at `max_entries` (+ slack) records.
struct HeaderBudget<'z> {
    inner: Cursor<&'z [u8]>,
    budget: Rc<Budget>,
}

impl Read for HeaderBudget<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = usize::try_from(self.inner.position()).unwrap_or(usize::MAX);
        let data = self.inner.get_ref();
        if data
            .get(at..)
            .is_some_and(|rest| rest.starts_with(CENTRAL_HEADER_SIGNATURE))
        {
            let left = self.budget.left.get();
            if left == 0 {
                self.budget.exhausted.set(true);
                return Err(io::Error::other("too many central directory headers"));
            }
            self.budget.left.set(left - 1);
        }
        self.inner.read(buf)
    }
}

impl Seek for HeaderBudget<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_unix_modes() {
        assert_eq!(classify(None, true), Ok(EntryKind::Dir));
        assert_eq!(classify(Some(S_IFDIR | 0o700), false), Ok(EntryKind::Dir));
        assert_eq!(
            classify(None, false),
            Ok(EntryKind::File {
                size: 0,
                executable: false
            })
        );
        assert_eq!(
            classify(Some(S_IFREG | 0o700), false),
            Ok(EntryKind::File {
                size: 0,
                executable: true
            })
        );
        assert_eq!(
            classify(Some(0o001), false),
            Ok(EntryKind::File {
                size: 0,
                executable: true
            })
        );
        assert!(matches!(
            classify(Some(S_IFLNK | 0o777), false),
            Ok(EntryKind::Symlink { .. })
        ));
        for odd in [0o010_000, 0o020_000, 0o060_000, 0o140_000] {
            assert_eq!(
                classify(Some(odd | 0o644), false),
                Err(EntryProblem::UnsupportedType)
            );
        }
        assert_eq!(
            classify(Some(S_IFLNK | 0o777), true),
            Err(EntryProblem::UnsupportedType)
        );
        assert_eq!(
            classify(Some(S_IFREG | 0o644), true),
            Err(EntryProblem::UnsupportedType)
        );
    }

    fn zip_of(entries: usize) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..entries {
            w.start_file(format!("f{i}"), zip::write::SimpleFileOptions::default())
                .unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn header_budget_stops_the_reader_at_the_entry_cap() {
        // The reader makes one extra read on the first header; the slack absorbs it.
        let zip = zip_of(40);
        assert_eq!(open_archive(&zip, 40).unwrap().len(), 40);
        assert!(matches!(
            open_archive(&zip, 10),
            Err(CodeError::TooManyEntries { limit: 10 })
        ));
    }

    #[test]
    fn meter_stops_just_past_the_limit() {
        let mut m = Meter {
            limit: 10,
            total: 0,
        };
        assert!(m.add(10).is_ok());
        assert!(matches!(
            m.add(1),
            Err(CodeError::UnzippedTooLarge {
                limit: 10,
                inflated: 11
            })
        ));
    }
}
