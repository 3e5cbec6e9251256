//! Extracted function code: each package is unpacked once, into
//! `<data-dir>/code-extracted/<sha256>`, and shared read-only by every environment that
//! runs it. Extraction writes a temporary directory and renames it into place, so a crash
//! mid-way never leaves a half package under the final name. Only cold starts come here.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// The extracted packages of one daemon.
pub struct CodeCache {
    root: PathBuf,
    /// One cell per package, so concurrent cold starts of one package extract it once.
    cells: Mutex<HashMap<String, Arc<OnceCell<PathBuf>>>>,
}

impl CodeCache {
    pub fn new(data_dir: &Path) -> CodeCache {
        CodeCache {
            root: data_dir.join("code-extracted"),
            cells: Mutex::new(HashMap::new()),
        }
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
}
