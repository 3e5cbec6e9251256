//! Writing the package beneath one destination directory through directory file
//! descriptors.
//!
//! Every component is opened with `O_NOFOLLOW` relative to its parent's descriptor and every
//! file is created with `O_EXCL`, so even a symlink that appeared behind our back could not
//! redirect a write outside the destination. Must not resolve a path string below the
//! destination itself and must not decide what is safe to write: `name` and `tree` did that.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, mkdirat, Mode};
use nix::unistd::symlinkat;

use crate::archive::Sink;
use crate::error::CodeError;

const DIR_MODE: u32 = 0o755;
/// Files stay private to us until their content and final mode are in place.
const FILE_CREATE_MODE: u32 = 0o600;

pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// We made the destination, so cleaning up after a failure removes it too.
    created: bool,
}

impl Root {
    /// Opens `dest` as the root, creating it (its parent must exist) when it is missing.
    /// An existing destination must be an empty directory and not a symlink.
    pub(crate) fn prepare(dest: &Path) -> Result<Self, CodeError> {
        let io_err = |source| CodeError::Io {
            path: dest.to_owned(),
            source,
        };
        let created = match fs::create_dir(dest) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(io_err(e)),
        };
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
            .open(dest)
            .map_err(io_err)?;
        if created {
            dir.set_permissions(Permissions::from_mode(DIR_MODE))
                .map_err(io_err)?;
        } else if fs::read_dir(dest).map_err(io_err)?.next().is_some() {
            return Err(CodeError::DestinationNotEmpty {
                path: dest.to_owned(),
            });
        }
        Ok(Self {
            fd: OwnedFd::from(dir),
            path: dest.to_owned(),
            created,
        })
    }

    /// Removes what this extraction wrote, best effort: the error that got us here is the
    /// one worth reporting, and anything left over is inside the caller's destination.
    pub(crate) fn discard(self) {
        if self.created {
            let _ = fs::remove_dir_all(&self.path);
            return;
        }
        let Ok(children) = fs::read_dir(&self.path) else {
            return;
        };
        for child in children.flatten() {
            // `DirEntry::file_type` does not follow symlinks, and `remove_dir_all` never
            // follows one either, so a planted link cannot widen the removal.
            let _ = match child.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(child.path()),
                _ => fs::remove_file(child.path()),
            };
        }
    }

    fn in_parent<T>(
        &self,
        rel: &str,
        op: impl FnOnce(RawFd, &str) -> nix::Result<T>,
    ) -> Result<T, CodeError> {
        let parts: Vec<&str> = rel.split('/').collect();
        let Some((name, parents)) = parts.split_last() else {
            return Err(self.io_error(rel, Errno::EINVAL));
        };
        let run = || {
            let parent = self.open_dirs(parents)?;
            op(
                parent
                    .as_ref()
                    .map_or(self.fd.as_raw_fd(), AsRawFd::as_raw_fd),
                name,
            )
        };
        run().map_err(|e| self.io_error(rel, e))
    }

    /// Walks `parts` from the root one component at a time, making missing directories;
    /// `None` stands for the root itself.
    fn open_dirs(&self, parts: &[&str]) -> nix::Result<Option<OwnedFd>> {
        let mut current: Option<OwnedFd> = None;
        for part in parts {
            let parent = current
                .as_ref()
                .map_or(self.fd.as_raw_fd(), AsRawFd::as_raw_fd);
            current = Some(ensure_dir(parent, part)?);
        }
        Ok(current)
    }

    fn io_error(&self, rel: &str, e: impl Into<io::Error>) -> CodeError {
        CodeError::Io {
            path: self.path.join(rel),
            source: e.into(),
        }
    }
}

impl Sink for Root {
    type File = File;

    /// Makes directory `rel` and any missing parents, all 0755.
    fn dir(&mut self, rel: &str) -> Result<(), CodeError> {
        let parts: Vec<&str> = rel.split('/').collect();
        self.open_dirs(&parts)
            .map(drop)
            .map_err(|e| self.io_error(rel, e))
    }

    /// Creates the regular file `rel` (parents as needed); it must not exist yet.
    fn create_file(&mut self, rel: &str) -> Result<File, CodeError> {
        self.in_parent(rel, |parent, name| {
            let raw = openat(
                Some(parent),
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(FILE_CREATE_MODE),
            )?;
            // SAFETY: `openat` just returned this descriptor and nothing else owns it.
            Ok(File::from(unsafe { OwnedFd::from_raw_fd(raw) }))
        })
    }

    fn write(&mut self, rel: &str, file: &mut File, chunk: &[u8]) -> Result<(), CodeError> {
        file.write_all(chunk).map_err(|e| self.io_error(rel, e))
    }

    fn finish_file(&mut self, rel: &str, file: File, mode: u32) -> Result<(), CodeError> {
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| self.io_error(rel, e))
    }

    /// Creates the symlink `rel` pointing at `target` (parents as needed); it must not exist.
    fn symlink(&mut self, rel: &str, target: &str) -> Result<(), CodeError> {
        self.in_parent(rel, |parent, name| symlinkat(target, Some(parent), name))
    }
}

fn ensure_dir(parent: RawFd, name: &str) -> nix::Result<OwnedFd> {
    let created = match mkdirat(Some(parent), name, Mode::from_bits_truncate(DIR_MODE)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => return Err(e),
    };
    // O_NOFOLLOW: an existing symlink here fails with ELOOP instead of being entered.
    let raw = openat(
        Some(parent),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `openat` just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if created {
        // mkdirat's mode went through the umask.
        fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(DIR_MODE))?;
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_files_dirs_and_links_with_fixed_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("code");
        let mut root = Root::prepare(&dest).unwrap();
        root.dir("a/b").unwrap();
        let mut f = root.create_file("a/b/c.txt").unwrap();
        f.write_all(b"hi").unwrap();
        root.finish_file("a/b/c.txt", f, 0o644).unwrap();
        root.symlink("a/link", "b/c.txt").unwrap();
        assert_eq!(fs::read(dest.join("a/link")).unwrap(), b"hi");
        assert_eq!(mode_of(&dest), 0o755);
        assert_eq!(mode_of(&dest.join("a/b")), 0o755);
        assert_eq!(mode_of(&dest.join("a/b/c.txt")), 0o644);
    }

    #[test]
    fn never_writes_through_a_planted_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let dest = tmp.path().join("code");
        let mut root = Root::prepare(&dest).unwrap();
        // Simulates a symlink swapped in behind the extractor's back.
        symlink(&outside, dest.join("a")).unwrap();
        symlink(outside.join("f"), dest.join("f")).unwrap();

        assert!(root.create_file("a/x").is_err());
        assert!(root.dir("a/sub").is_err());
        assert!(root.symlink("a/l", "x").is_err());
        assert!(root.create_file("f").is_err());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn existing_files_are_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let mut root = Root::prepare(&tmp.path().join("code")).unwrap();
        let f = root.create_file("x").unwrap();
        root.finish_file("x", f, 0o644).unwrap();
        assert!(root.create_file("x").is_err());
        assert!(root.symlink("x", "y").is_err());
    }

    #[test]
    fn destination_must_be_an_empty_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        assert!(Root::prepare(&empty).is_ok());

        let full = tmp.path().join("full");
        fs::create_dir(&full).unwrap();
        fs::write(full.join("x"), b"").unwrap();
        assert!(matches!(
            Root::prepare(&full),
            Err(CodeError::DestinationNotEmpty { .. })
        ));

        let link = tmp.path().join("link");
        symlink(&empty, &link).unwrap();
        assert!(matches!(Root::prepare(&link), Err(CodeError::Io { .. })));

        let orphan = tmp.path().join("missing/code");
        assert!(matches!(Root::prepare(&orphan), Err(CodeError::Io { .. })));
    }

    #[test]
    fn discard_removes_only_what_was_written() {
        let tmp = tempfile::tempdir().unwrap();
        let made = tmp.path().join("made");
        let mut root = Root::prepare(&made).unwrap();
        root.dir("a/b").unwrap();
        root.discard();
        assert!(!made.exists());

        let given = tmp.path().join("given");
        fs::create_dir(&given).unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"keep").unwrap();
        let mut root = Root::prepare(&given).unwrap();
        root.dir("a/b").unwrap();
        root.symlink("l", "../outside").unwrap();
        symlink(&outside, given.join("planted")).unwrap();
        root.discard();
        assert!(given.is_dir());
        assert_eq!(fs::read_dir(&given).unwrap().count(), 0);
        assert_eq!(fs::read(outside.join("keep")).unwrap(), b"keep");
    }
}
