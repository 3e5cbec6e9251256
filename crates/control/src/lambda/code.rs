//! The code store: every accepted package, content-addressed as `<data_dir>/code/<sha256>.zip`,
//! shared by all functions, versions and accounts that upload the same bytes, and the
//! time-limited download links `GetFunction` hands out in place of S3 presigned URLs.
//!
//! A blob is written (temp file, fsync, rename, fsync of the directory) before any record
//! that names it commits, and removed only inside a write transaction that found no record
//! naming it (see [`super::functions`]), so a committed record never points at a missing
//! file. Knows nothing of HTTP: the router serves what [`CodeStore::download`] returns.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::LambdaError;

/// How long a download link works, as for Lambda's presigned URLs.
pub const LINK_LIFETIME_SECS: i64 = 600;
const KEY_FILE: &str = ".link-key";
const KEY_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The blob directory of one data dir.
#[derive(Clone, Debug)]
pub struct CodeStore {
    dir: PathBuf,
}

impl CodeStore {
    pub fn new(data_dir: &Path) -> Self {
        CodeStore {
            dir: data_dir.join("code"),
        }
    }

    /// Where the blob with this SHA-256 lives (whether or not it exists).
    pub fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(format!("{sha256_hex}.zip"))
    }

    /// Makes the blob durable under its name; a blob that is already there is kept, since
    /// its name is its content.
    pub fn put(&self, sha256_hex: &str, zip: &[u8]) -> Result<(), LambdaError> {
        let path = self.blob_path(sha256_hex);
        if self.has(sha256_hex, zip.len() as u64) {
            return Ok(());
        }
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let written = write_durably(&tmp, zip).and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(LambdaError::code_store(&path, e));
        }
        sync_dir(&self.dir).map_err(|e| LambdaError::code_store(&self.dir, e))
    }

    /// Whether a blob of this name and length is present.
    pub fn has(&self, sha256_hex: &str, len: u64) -> bool {
        fs::metadata(self.blob_path(sha256_hex)).is_ok_and(|m| m.is_file() && m.len() == len)
    }

    /// Removes a blob no record names any more; a missing one is fine.
    pub fn remove(&self, sha256_hex: &str) -> Result<(), LambdaError> {
        let path = self.blob_path(sha256_hex);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir).map_err(|e| LambdaError::code_store(&self.dir, e)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LambdaError::code_store(&path, e)),
        }
    }

    /// A token for [`CodeStore::download`] that works until `now + LINK_LIFETIME_SECS`.
    pub fn link_token(&self, sha256_hex: &str, now: i64) -> Result<String, LambdaError> {
        let payload = format!("{}:{sha256_hex}", now + LINK_LIFETIME_SECS);
        let mac = self.mac(payload.as_bytes())?;
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(mac)
        ))
    }

    /// The package a token names, if the token is genuine, unexpired, and the blob exists.
    /// Every refusal looks the same, so a caller learns nothing from guessing.
    pub fn download(&self, token: &str, now: i64) -> Option<Vec<u8>> {
        let (payload_b64, mac_b64) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac_b64).ok()?;
        let key = self.existing_key().ok().flatten()?;
        let mut m = HmacSha256::new_from_slice(&key).ok()?;
        m.update(&payload);
        let expected = m.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(&mac)) {
            return None;
        }
        let payload = String::from_utf8(payload).ok()?;
        let (expires, sha256_hex) = payload.split_once(':')?;
        if expires.parse::<i64>().ok()? < now || !is_sha256_hex(sha256_hex) {
            return None;
        }
        fs::read(self.blob_path(sha256_hex)).ok()
    }

    fn mac(&self, payload: &[u8]) -> Result<Vec<u8>, LambdaError> {
        let key = self.key()?;
        let mut m = HmacSha256::new_from_slice(&key).map_err(|e| {
            LambdaError::code_store(&self.dir, std::io::Error::new(ErrorKind::InvalidData, e))
        })?;
        m.update(payload);
        Ok(m.finalize().into_bytes().to_vec())
    }

    /// The link-signing key, created on first use and kept in the data dir so links stay
    /// valid across restarts, as presigned URLs do.
    fn key(&self) -> Result<Vec<u8>, LambdaError> {
        if let Some(key) = self.existing_key()? {
            return Ok(key);
        }
        self.ensure_dir()?;
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key)
            .map_err(|e| LambdaError::code_store(&self.dir, std::io::Error::other(e)))?;
        let path = self.dir.join(KEY_FILE);
        let tmp = self.dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let created = write_durably(&tmp, &key).and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match created {
            Ok(()) => {
                sync_dir(&self.dir).map_err(|e| LambdaError::code_store(&self.dir, e))?;
                Ok(key.to_vec())
            }
            // Another request created it first: use theirs, so both links verify.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => self
                .existing_key()?
                .ok_or_else(|| LambdaError::code_store(&path, e)),
            Err(e) => Err(LambdaError::code_store(&path, e)),
        }
    }

    fn existing_key(&self) -> Result<Option<Vec<u8>>, LambdaError> {
        let path = self.dir.join(KEY_FILE);
        let mut buf = Vec::with_capacity(KEY_LEN);
        match File::open(&path) {
            Ok(mut f) => f
                .read_to_end(&mut buf)
                .map_err(|e| LambdaError::code_store(&path, e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LambdaError::code_store(&path, e)),
        };
        if buf.len() != KEY_LEN {
            return Err(LambdaError::code_store(
                &path,
                std::io::Error::new(ErrorKind::InvalidData, "link key has the wrong length"),
            ));
        }
        Ok(Some(buf))
    }

    fn ensure_dir(&self) -> Result<(), LambdaError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| LambdaError::code_store(&self.dir, e))
    }
}

/// The blob name and `CodeSha256` of a package.
pub fn digests(zip: &[u8]) -> (String, String) {
    use sha2::Digest;
    let digest = Sha256::digest(zip);
    (hex::encode(digest), STANDARD.encode(digest))
}

/// Decodes a base64 blob member (`Code.ZipFile`, `ZipFile`).
pub fn decode_blob(member: &str, b64: &str) -> Result<Vec<u8>, LambdaError> {
    STANDARD.decode(b64.trim()).map_err(|e| {
        LambdaError::InvalidRequestContent(format!("{member} is not valid base64: {e}"))
    })
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_idempotent_and_durable_under_its_digest() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CodeStore::new(tmp.path());
        let (hex, b64) = digests(b"zip bytes");
        assert_eq!(hex.len(), 64);
        assert_eq!(STANDARD.decode(&b64).unwrap().len(), 32);
        store.put(&hex, b"zip bytes").unwrap();
        store.put(&hex, b"zip bytes").unwrap();
        assert_eq!(fs::read(store.blob_path(&hex)).unwrap(), b"zip bytes");
        let names: Vec<_> = fs::read_dir(tmp.path().join("code"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![format!("{hex}.zip")], "no temp files left");
        store.remove(&hex).unwrap();
        store.remove(&hex).unwrap();
        assert!(!store.has(&hex, 9));
    }

    #[test]
    fn links_expire_and_cannot_be_forged() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CodeStore::new(tmp.path());
        let (hex, _) = digests(b"pkg");
        store.put(&hex, b"pkg").unwrap();
        let token = store.link_token(&hex, 1000).unwrap();
        assert_eq!(store.download(&token, 1000).as_deref(), Some(&b"pkg"[..]));
        assert_eq!(
            store.download(&token, 1000 + LINK_LIFETIME_SECS).as_deref(),
            Some(&b"pkg"[..])
        );
        assert!(store.download(&token, 1001 + LINK_LIFETIME_SECS).is_none());

        let (payload, mac) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(format!("99999999999:{hex}"));
        assert!(store
            .download(&format!("{forged_payload}.{mac}"), 1000)
            .is_none());
        assert!(store.download(&format!("{payload}.AAAA"), 1000).is_none());
        assert!(store.download("garbage", 1000).is_none());

        // The key survives a new handle (a restart).
        let again = CodeStore::new(tmp.path());
        assert!(again.download(&token, 1000).is_some());
    }

    #[test]
    fn bad_base64_is_a_content_error() {
        assert!(matches!(
            decode_blob("ZipFile", "not base64!"),
            Err(LambdaError::InvalidRequestContent(_))
        ));
        assert_eq!(decode_blob("ZipFile", "aGk=").unwrap(), b"hi");
    }
}
