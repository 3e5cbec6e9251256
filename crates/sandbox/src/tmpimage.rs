//! `/tmp` images for [`TmpBacking::Ext4Image`](crate::TmpBacking::Ext4Image): one template
//! per size, made with `mkfs.ext4` when an environment first needs that size, and for each
//! environment a sparse copy of it. A copy writes only the template's data extents (≈ 0.3 MiB
//! of a 512 MiB image, ≈ 4 MiB of a 10 GiB one) and no `fsync`, where mkfs per environment
//! cost a process and an `fsync`; `copy_file_range` shares the blocks instead where the
//! filesystem can (XFS, Btrfs). Every copy is the same filesystem, UUID included (ext4
//! mounts such copies side by side), with a root directory owned by root: the helper gives
//! it to the function's uid once mounted, as mkfs's `root_owner` did. Owns
//! `<state_dir>/tmp-templates/`; must not mount anything.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::copy_file_range;
use nix::unistd::{lseek, Whence};
use tokio::process::Command;

use crate::SandboxError;

/// Below the state dir; without the `vl-env-` prefix, so never taken for an environment.
const TEMPLATE_DIR: &str = "tmp-templates";
/// Templates kept; a further size evicts the least recently used. Functions use few distinct
/// sizes, and a template takes only its data extents on disk (4.3 MiB at 10 GiB).
const MAX_TEMPLATES: usize = 8;

/// The templates of one sandbox, built on demand.
#[derive(Debug)]
pub(crate) struct Ext4Templates {
    mkfs: PathBuf,
    dir: PathBuf,
    /// Sizes in MiB whose template is on disk, least recently used first.
    recent: Mutex<Vec<u32>>,
    /// Held while a template is built, so environments that need a missing size at the same
    /// time build it once.
    building: tokio::sync::Mutex<()>,
}

impl Ext4Templates {
    pub(crate) fn new(mkfs: PathBuf, state_dir: &Path) -> Ext4Templates {
        Ext4Templates {
            mkfs,
            dir: state_dir.join(TEMPLATE_DIR),
            recent: Mutex::new(Vec::new()),
            building: tokio::sync::Mutex::new(()),
        }
    }

    fn template(&self, size_mb: u32) -> PathBuf {
        self.dir.join(format!("ext4-{size_mb}m"))
    }

    /// Creates `image`: a sparse file holding a new, empty ext4 filesystem of `size_mb` MiB
    /// whose root directory belongs to root.
    pub(crate) async fn create(&self, image: &Path, size_mb: u32) -> Result<(), SandboxError> {
        let path = self.template(size_mb);
        let template = match open_existing(&path)? {
            Some(t) => t,
            None => {
                let _building = self.building.lock().await;
                match open_existing(&path)? {
                    Some(t) => t,
                    None => self.build(size_mb, &path).await?,
                }
            }
        };
        for old in self.used(size_mb) {
            let old = self.template(old);
            if let Err(e) = remove_if_exists(&old) {
                tracing::warn!(template = %old.display(), error = %e, "evicting a /tmp template failed");
            }
        }
        let image = image.to_path_buf();
        tokio::task::spawn_blocking(move || {
            copy_sparse(&template, &image).map_err(SandboxError::io(format!(
                "copying the /tmp template to {}",
                image.display()
            )))
        })
        .await
        .map_err(|e| SandboxError::Setup(format!("blocking task failed: {e}")))?
    }

    /// Builds the template at `path` and returns it open: opened before it is renamed into
    /// place, so an eviction right after cannot take it from the environment that made it.
    async fn build(&self, size_mb: u32, path: &Path) -> Result<File, SandboxError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(SandboxError::io(format!("creating {}", self.dir.display())))?;
        let partial = self
            .dir
            .join(format!("ext4-{size_mb}m.{}.partial", std::process::id()));
        let built = match mkfs(&self.mkfs, &partial, size_mb).await {
            Ok(()) => File::open(&partial)
                .and_then(|f| fs::rename(&partial, path).map(|()| f))
                .map_err(SandboxError::io(format!("installing {}", path.display()))),
            Err(e) => Err(e),
        };
        if built.is_err() {
            if let Err(e) = remove_if_exists(&partial) {
                tracing::warn!(file = %partial.display(), error = %e, "removing a failed /tmp template");
            }
        }
        built
    }

    /// Marks `size_mb` as just used; returns the sizes beyond [`MAX_TEMPLATES`] whose
    /// templates are to go.
    fn used(&self, size_mb: u32) -> Vec<u32> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.retain(|&s| s != size_mb);
        recent.push(size_mb);
        let excess = recent.len().saturating_sub(MAX_TEMPLATES);
        recent.drain(..excess).collect()
    }

    /// Forgets every template; the files go with [`remove_templates`].
    pub(crate) fn forget(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Removes the templates below `state_dir`, this run's or an earlier one's (made perhaps by
/// another `mkfs`).
pub(crate) fn remove_templates(state_dir: &Path) -> Result<(), SandboxError> {
    let dir = state_dir.join(TEMPLATE_DIR);
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(SandboxError::io(format!("removing {}", dir.display()))(e))
        }
        _ => Ok(()),
    }
}

fn open_existing(path: &Path) -> Result<Option<File>, SandboxError> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SandboxError::io(format!("opening {}", path.display()))(e)),
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A sparse file with an ext4 filesystem whose root is root's. No journal: the contents
/// die with the environment anyway.
async fn mkfs(mkfs: &Path, image: &Path, size_mb: u32) -> Result<(), SandboxError> {
    let f =
        File::create(image).map_err(SandboxError::io(format!("creating {}", image.display())))?;
    f.set_len(u64::from(size_mb) << 20)
        .map_err(SandboxError::io(format!("sizing {}", image.display())))?;
    drop(f);
    let out = Command::new(mkfs)
        .args([
            "-q",
            "-F",
            "-O",
            "^has_journal",
            "-m",
            "0",
            "-b",
            "4096",
            "-E",
            "root_owner=0:0,lazy_itable_init=1,nodiscard",
        ])
        .arg(image)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(SandboxError::io(format!("running {}", mkfs.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SandboxError::TmpImage {
            path: image.to_path_buf(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Copies `template` into a new file `image` of the same length, only the template's data
/// extents, so the copy is as sparse as the template (holes read as zeros, which is what
/// mkfs left there).
fn copy_sparse(template: &File, image: &Path) -> io::Result<()> {
    let size = template.metadata()?.len();
    let len = i64::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "template too large"))?;
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(image)?;
    out.set_len(size)?;
    let mut pos = 0;
    while pos < len {
        let start = match lseek(template.as_raw_fd(), pos, Whence::SeekData) {
            Ok(start) => start,
            // Nothing but a hole from `pos` to the end.
            Err(Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let end = lseek(template.as_raw_fd(), start, Whence::SeekHole)?;
        let (mut from, mut to) = (start, start);
        while from < end {
            let want = usize::try_from(end - from).unwrap_or(usize::MAX);
            if copy_file_range(template, Some(&mut from), &out, Some(&mut to), want)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the template shrank while copied",
                ));
            }
        }
        pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::time::{Duration, Instant};

    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeVal;

    use super::*;

    const MKFS: &str = "/usr/sbin/mkfs.ext4";

    macro_rules! require_mkfs {
        () => {
            if !Path::new(MKFS).exists() {
                eprintln!("skipping: needs {MKFS}");
                return;
            }
        };
    }

    fn templates_in(state: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(state.join(TEMPLATE_DIR))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// `e2fsck -fn`: a clean filesystem, nothing changed.
    fn fsck_clean(image: &Path) -> bool {
        std::process::Command::new("/usr/sbin/e2fsck")
            .arg("-fn")
            .arg(image)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn images_are_sparse_copies_of_one_template() {
        require_mkfs!();
        let state = tempfile::tempdir().expect("state dir");
        let t = Ext4Templates::new(MKFS.into(), state.path());
        let (a, b) = (state.path().join("a"), state.path().join("b"));
        let (ra, rb) = tokio::join!(t.create(&a, 64), t.create(&b, 64));
        ra.expect("image a");
        rb.expect("image b");
        assert_eq!(templates_in(state.path()), ["ext4-64m"], "built once");
        let template = fs::read(state.path().join(TEMPLATE_DIR).join("ext4-64m")).expect("read");
        for image in [&a, &b] {
            let meta = fs::metadata(image).expect("image");
            assert_eq!(meta.len(), 64 << 20);
            assert!(
                meta.blocks() * 512 < 1 << 20,
                "sparse: {} blocks",
                meta.blocks()
            );
            assert!(
                fs::read(image).expect("read") == template,
                "a copy of the template"
            );
            assert!(fsck_clean(image), "{} is a clean ext4", image.display());
        }
        assert!(
            matches!(t.create(&a, 64).await, Err(SandboxError::Io { .. })),
            "an existing image is never overwritten"
        );
        remove_templates(state.path()).expect("remove");
        t.forget();
        assert!(!state.path().join(TEMPLATE_DIR).exists());
        t.create(&state.path().join("c"), 64)
            .await
            .expect("rebuilt after removal");
        assert_eq!(templates_in(state.path()), ["ext4-64m"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn least_recently_used_templates_are_evicted() {
        require_mkfs!();
        let state = tempfile::tempdir().expect("state dir");
        let t = Ext4Templates::new(MKFS.into(), state.path());
        let sizes: Vec<u32> = (0..=MAX_TEMPLATES as u32).map(|i| 8 + i).collect();
        for (i, &size) in sizes.iter().enumerate() {
            t.create(&state.path().join(format!("img{i}")), size)
                .await
                .expect("image");
            if i == MAX_TEMPLATES - 1 {
                // The first size is used again, so the second is the least recently used.
                t.create(&state.path().join("again"), sizes[0])
                    .await
                    .expect("image");
            }
        }
        let mut expected: Vec<String> = sizes
            .iter()
            .filter(|&&s| s != sizes[1])
            .map(|s| format!("ext4-{s}m"))
            .collect();
        expected.sort();
        assert_eq!(templates_in(state.path()), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_mkfs_leaves_no_template() {
        let state = tempfile::tempdir().expect("state dir");
        let t = Ext4Templates::new("/bin/false".into(), state.path());
        let err = t
            .create(&state.path().join("a"), 16)
            .await
            .expect_err("mkfs fails");
        assert!(matches!(err, SandboxError::TmpImage { .. }), "{err}");
        assert!(templates_in(state.path()).is_empty());
        assert!(!state.path().join("a").exists());
    }

    /// The process's CPU time, its reaped children's (mkfs) included.
    fn cpu_time() -> Duration {
        [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN]
            .into_iter()
            .map(|who| {
                let u = getrusage(who).expect("getrusage");
                let dur = |t: TimeVal| {
                    Duration::from_secs(t.tv_sec().unsigned_abs())
                        + Duration::from_micros(t.tv_usec().unsigned_abs())
                };
                dur(u.user_time()) + dur(u.system_time())
            })
            .sum()
    }

    /// Image creation before (mkfs per image, which is what building a template is) and
    /// after (a copy of the template), per image: wall and CPU time. A measurement, not a
    /// test: `cargo test -p sandbox --release --lib measure_tmp_image -- --ignored --nocapture`.
    #[tokio::test(flavor = "current_thread")]
    #[ignore = "measurement"]
    async fn measure_tmp_image_creation() {
        require_mkfs!();
        const N: u32 = 50;
        let state = tempfile::tempdir_in("/var/tmp").expect("state dir");
        let t = Ext4Templates::new(MKFS.into(), state.path());
        for size_mb in [512, 10240] {
            let mut results = Vec::new();
            for how in ["mkfs per image", "template copy"] {
                if how == "template copy" {
                    // Builds the template, once per size, outside the timing.
                    let warm = state.path().join("warm");
                    t.create(&warm, size_mb).await.expect("template");
                    fs::remove_file(&warm).expect("remove");
                }
                let (wall, cpu) = (Instant::now(), cpu_time());
                for i in 0..N {
                    let image = state.path().join(format!("img{i}"));
                    match how {
                        "mkfs per image" => mkfs(Path::new(MKFS), &image, size_mb).await,
                        _ => t.create(&image, size_mb).await,
                    }
                    .expect("image");
                    fs::remove_file(&image).expect("remove");
                }
                results.push(format!(
                    "{how}: {:.2} ms wall, {:.2} ms CPU",
                    wall.elapsed().as_secs_f64() * 1e3 / f64::from(N),
                    (cpu_time() - cpu).as_secs_f64() * 1e3 / f64::from(N)
                ));
            }
            println!("{size_mb} MiB, per image over {N}: {}", results.join("; "));
        }
    }
}
