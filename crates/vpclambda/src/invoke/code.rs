//! Extracted function code: each package is unpacked once, into
//! `<data-dir>/code-extracted/<sha256>`, and shared read-only by every environment that
//! runs it. Extraction writes a temporary directory and renames it into place, so a crash
//! mid-way never leaves a half package under the final name. Only cold starts come here.
//!
//! A function's layers are shown at `/opt` as one directory: a single layer's extraction
//! itself, several merged once per ordered set into `<data-dir>/layers-merged/<digest>`
//! (hard links to the extracted files; a later layer's entry replaces an earlier one's at
//! the same path, as Lambda extracts layers in order into one directory), built the same
//! way under a temporary name.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// The extracted packages of one daemon.
pub struct CodeCache {
    root: PathBuf,
    /// One cell per package, so concurrent cold starts of one package extract it once.
    cells: Mutex<HashMap<String, Arc<OnceCell<PathBuf>>>>,
    merged_root: PathBuf,
    /// One cell per ordered set of layers, likewise.
    merged: Mutex<HashMap<String, Arc<OnceCell<PathBuf>>>>,
}

impl CodeCache {
    pub fn new(data_dir: &Path) -> CodeCache {
        CodeCache {
            root: data_dir.join("code-extracted"),
            cells: Mutex::new(HashMap::new()),
            merged_root: data_dir.join("layers-merged"),
            merged: Mutex::new(HashMap::new()),
        }
    }

    /// The directory to show at `/opt` for these layers (digest and zip each, in the
    /// function's order); `None` without layers.
    pub async fn layers(&self, layers: &[(String, PathBuf)]) -> Result<Option<PathBuf>, String> {
        let mut dirs = Vec::with_capacity(layers.len());
        for (sha, zip) in layers {
            dirs.push(self.extracted(sha, zip).await?);
        }
        if dirs.len() <= 1 {
            return Ok(dirs.pop());
        }
        let shas: Vec<&str> = layers.iter().map(|(sha, _)| sha.as_str()).collect();
        let key = control::lambda::digests(shas.join(":").as_bytes()).0;
        let cell = {
            let mut cells = self.merged.lock().map_err(|_| "layer cache poisoned")?;
            cells.entry(key.clone()).or_default().clone()
        };
        let root = self.merged_root.clone();
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || merge_once(&root, &key, &dirs))
                .await
                .map_err(|e| format!("merging layers failed: {e}"))?
        })
        .await
        .cloned()
        .map(Some)
    }

    /// The directory holding the package `sha256_hex` whose zip is at `zip`.
    pub async fn extracted(&self, sha256_hex: &str, zip: &Path) -> Result<PathBuf, String> {
        let cell = {
            let mut cells = self.cells.lock().map_err(|_| "code cache poisoned")?;
            cells.entry(sha256_hex.to_string()).or_default().clone()
        };
        let root = self.root.clone();
        let sha = sha256_hex.to_string();
        let zip = zip.to_path_buf();
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || extract_once(&root, &sha, &zip))
                .await
                .map_err(|e| format!("extraction task failed: {e}"))?
        })
        .await
        .cloned()
    }
}

fn extract_once(root: &Path, sha: &str, zip: &Path) -> Result<PathBuf, String> {
    let dest = root.join(sha);
    if dest.is_dir() {
        return Ok(dest);
    }
    // The data dir is private; the bind mount only needs the package dir itself readable.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| format!("creating {}: {e}", root.display()))?;
    let bytes = std::fs::read(zip).map_err(|e| format!("reading {}: {e}", zip.display()))?;
    let tmp = root.join(format!(".{sha}.{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| format!("removing {}: {e}", tmp.display()))?;
    }
    codepkg::extract(&bytes, &tmp, &codepkg::Limits::default())
        .map_err(|e| format!("extracting {}: {e}", zip.display()))?;
    std::fs::rename(&tmp, &dest).map_err(|e| format!("renaming into {}: {e}", dest.display()))?;
    Ok(dest)
}

fn merge_once(root: &Path, key: &str, layers: &[PathBuf]) -> Result<PathBuf, String> {
    let dest = root.join(key);
    if dest.is_dir() {
        return Ok(dest);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| format!("creating {}: {e}", root.display()))?;
    let tmp = root.join(format!(".{key}.{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| format!("removing {}: {e}", tmp.display()))?;
    }
    fs::DirBuilder::new()
        .mode(0o755)
        .create(&tmp)
        .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    for layer in layers {
        overlay(layer, &tmp).map_err(|e| format!("merging {}: {e}", layer.display()))?;
    }
    fs::rename(&tmp, &dest).map_err(|e| format!("renaming into {}: {e}", dest.display()))?;
    Ok(dest)
}

/// Puts the tree `src` over `dest`: directories present in both are merged, anything else
/// of `src` replaces what `dest` has at that path. Never follows a symlink of either tree
/// (a link is an entry like a file), so nothing is written outside `dest`.
fn overlay(src: &Path, dest: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry.file_type()?;
        let existing = fs::symlink_metadata(&to).ok();
        if kind.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                None => fs::create_dir(&to)?,
            }
            let mode = entry.metadata()?.permissions().mode();
            fs::set_permissions(&to, fs::Permissions::from_mode(mode))?;
            overlay(&from, &to)?;
            continue;
        }
        match existing {
            Some(m) if m.is_dir() => fs::remove_dir_all(&to)?,
            Some(_) => fs::remove_file(&to)?,
            None => {}
        }
        if kind.is_symlink() {
            symlink(fs::read_link(&from)?, &to)?;
        } else if fs::hard_link(&from, &to).is_err() {
            // Another filesystem: a copy keeps the mode too.
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored zip holding `bootstrap` = "hi".
    const ZIP_HEX: &str = "504b030414000000000000002150ac2a93d8020000000200000009000000626f6f7473747261706869504b0102140314000000000000002150ac2a93d80200000002000000090000000000000000000000ed8100000000626f6f747374726170504b0506000000000100010037000000290000000000";

    fn zip_bytes() -> Vec<u8> {
        (0..ZIP_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&ZIP_HEX[i..i + 2], 16).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn extracts_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("a.zip");
        std::fs::write(&zip, zip_bytes()).unwrap();
        let cache = CodeCache::new(dir.path());
        let first = cache.extracted("abc", &zip).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(first.join("bootstrap")).unwrap(),
            "hi"
        );
        std::fs::remove_file(&zip).unwrap();
        assert_eq!(cache.extracted("abc", &zip).await.unwrap(), first);
        // A new daemon finds the directory the previous one made.
        let again = CodeCache::new(dir.path());
        assert_eq!(again.extracted("abc", &zip).await.unwrap(), first);
    }

    #[test]
    fn later_layers_win_and_directories_merge() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for (root, files) in [
            (
                &a,
                &[
                    ("python/m.py", "a"),
                    ("python/only_a.py", "a"),
                    ("bin", "file"),
                ][..],
            ),
            (&b, &[("python/m.py", "b"), ("bin/tool", "b")][..]),
        ] {
            for (path, text) in files {
                let p = root.join(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, text).unwrap();
            }
        }
        symlink("python/m.py", a.join("link")).unwrap();
        let merged = merge_once(&dir.path().join("m"), "k", &[a, b]).unwrap();
        let read = |p: &str| fs::read_to_string(merged.join(p)).unwrap();
        assert_eq!(read("python/m.py"), "b");
        assert_eq!(read("python/only_a.py"), "a");
        assert_eq!(read("bin/tool"), "b", "a directory replaces a file");
        assert_eq!(
            fs::read_link(merged.join("link")).unwrap(),
            Path::new("python/m.py")
        );
        assert_eq!(merge_once(&dir.path().join("m"), "k", &[]).unwrap(), merged);
    }
}
