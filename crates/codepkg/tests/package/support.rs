//! Hand-built zips, so tests can state exactly what hostile headers say: names no writer
//! would produce, sizes that lie, entries that share bytes, flags and methods we refuse.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::DeflateEncoder;
use flate2::Compression;

pub const UNIX: u16 = (3 << 8) | 20;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFLNK: u32 = 0o120_000;

/// One entry, written identically into its local header and the central directory.
#[derive(Clone)]
pub struct Raw {
    pub name: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    /// The bytes as stored (already compressed for method 8).
    pub data: Vec<u8>,
    pub crc: u32,
    pub compressed_size: u32,
    pub uncompressed_size: u32,
    pub made_by: u16,
    pub external_attr: u32,
    /// The central entry points at that earlier entry's local header instead of its own.
    pub alias_of: Option<usize>,
}

impl Raw {
    pub fn stored(name: &str, content: &[u8], mode: u32) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            method: 0,
            flags: 0,
            data: content.to_vec(),
            crc: crc32fast::hash(content),
            compressed_size: len32(content),
            uncompressed_size: len32(content),
            made_by: UNIX,
            external_attr: mode << 16,
            alias_of: None,
        }
    }

    pub fn file(name: &str, content: &[u8], perm: u32) -> Self {
        Self::stored(name, content, S_IFREG | perm)
    }

    pub fn deflated(name: &str, content: &[u8], perm: u32) -> Self {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(content).unwrap();
        let data = enc.finish().unwrap();
        Self {
            method: 8,
            compressed_size: len32(&data),
            data,
            ..Self::file(name, content, perm)
        }
    }

    pub fn dir(name: &str) -> Self {
        Self::stored(name, b"", S_IFDIR | 0o755)
    }

    pub fn symlink(name: &str, target: &str) -> Self {
        Self::stored(name, target.as_bytes(), S_IFLNK | 0o777)
    }

    pub fn with_name(mut self, name: &[u8]) -> Self {
        self.name = name.to_vec();
        self
    }
}

fn len32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap()
}

/// 1980-01-01 00:00, the DOS epoch: a valid timestamp that never changes.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

pub fn build(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        if let Some(i) = e.alias_of {
            offsets.push(offsets[i]);
            continue;
        }
        offsets.push(u32::try_from(out.len()).unwrap());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20, e.flags, e.method, DOS_TIME, DOS_DATE] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.crc, e.compressed_size, e.uncompressed_size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&u16::try_from(e.name.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
    }
    let cd_start = u32::try_from(out.len()).unwrap();
    for (e, offset) in entries.iter().zip(&offsets) {
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [e.made_by, 20, e.flags, e.method, DOS_TIME, DOS_DATE] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.crc, e.compressed_size, e.uncompressed_size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&u16::try_from(e.name.len()).unwrap().to_le_bytes());
        for v in [0u16, 0, 0, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&e.external_attr.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&e.name);
    }
    let cd_size = u32::try_from(out.len()).unwrap() - cd_start;
    let n = u16::try_from(entries.len()).unwrap();
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, n, n] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A scratch directory holding `dest` (not created) next to a canary file, for checking that
/// nothing lands outside `dest`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

pub const CANARY: &[u8] = b"canary";

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("canary"), CANARY).unwrap();
        Self { dir }
    }

    pub fn dest(&self) -> PathBuf {
        self.dir.path().join("dest")
    }

    /// Everything in the sandbox outside `dest` is exactly the canary, untouched.
    pub fn assert_nothing_outside_dest(&self) {
        let names: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "dest")
            .collect();
        assert_eq!(names, ["canary"]);
        assert_eq!(fs::read(self.dir.path().join("canary")).unwrap(), CANARY);
    }

    /// `dest` is gone or empty.
    pub fn assert_dest_clean(&self) {
        let dest = self.dest();
        if dest.exists() {
            assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
        }
    }
}

/// Every symlink under `dest` points at a place inside it, judged by walking the real
/// filesystem lexically (intermediate links are followed through `canonicalize`).
pub fn assert_links_stay_inside(dest: &Path) {
    let root = fs::canonicalize(dest).unwrap();
    let mut stack = vec![dest.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                assert!(target.is_relative(), "{path:?} -> {target:?}");
                if let Ok(real) = fs::canonicalize(&path) {
                    assert!(real.starts_with(&root), "{path:?} -> {real:?}");
                }
            }
        }
    }
}
