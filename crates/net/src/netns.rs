//! Named network namespaces under `/run/netns` (the layout `ip netns` uses: one nsfs bind
//! mount per name, in a shared mount point) and running work inside one namespace.
//!
//! Owns every `unshare`, `setns` and mount this crate does. Must never move a caller's thread
//! into another namespace: each switch happens on a fresh thread that ends with its work, so
//! the caller (a tokio worker, say) stays where it was whatever the work does or returns.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::future::Future;
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::thread;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::{fstatfs, NSFS_MAGIC};

use crate::names::validate_netns_name;
use crate::{Error, Result};

/// Where named namespaces live, as for `ip netns`; tools such as `ip netns exec` see ours.
pub const RUN_DIR: &str = "/run/netns";

const WORKER_NAME: &str = "vl-netns";

/// Serialises create and delete within this process, so two callers creating one name cannot
/// stack two namespaces on one file. Cross-process exclusion is the daemon's job (one owner).
static DIR_LOCK: Mutex<()> = Mutex::new(());

fn dir_lock() -> MutexGuard<'static, ()> {
    // The guarded data is (); a panic while holding the lock leaves nothing inconsistent.
    DIR_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open network namespace. Holding it keeps the namespace alive even after
/// [`Netns::delete`] removed its name, as an open file outlives its unlink; drop it (and any
/// [`crate::Netlink`] connected to it) to let the kernel free the namespace.
#[derive(Debug)]
pub struct Netns {
    name: Option<String>,
    file: File,
}

impl Netns {
    /// Creates the named namespace, or opens it if it already exists (idempotent). The name
    /// must carry the `vl-` prefix. A bare file left by an interrupted create is reused.
    pub fn create(name: &str) -> Result<Netns> {
        validate_netns_name(name)?;
        let _guard = dir_lock();
        let path = path_of(name);
        match open_path(name, &path) {
            Ok(netns) => return Ok(netns),
            Err(Error::NetnsNotFound(_) | Error::NotANetns(_)) => {}
            Err(e) => return Err(e),
        }
        prepare_run_dir()?;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o000)
            .open(&path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        if let Err(e) = bind_new_netns(&path) {
            // Best effort: a leftover empty file is harmless and reused by the next create.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        tracing::debug!(netns = name, "created network namespace");
        open_path(name, &path)
    }

    /// Opens an existing named namespace (any name, not only ours: opening changes nothing).
    pub fn open(name: &str) -> Result<Netns> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::invalid_name(name, "not a namespace file name"));
        }
        open_path(name, &path_of(name))
    }

    /// The namespace of the calling thread (the daemon's own, or a test host's).
    pub fn current() -> Result<Netns> {
        let file = File::open("/proc/thread-self/ns/net")
            .map_err(|e| Error::io("open /proc/thread-self/ns/net", e))?;
        Ok(Netns { name: None, file })
    }

    /// Removes the name; the kernel frees the namespace, and the links inside it, once no
    /// process, socket or open [`Netns`] refers to it. A missing name is success.
    pub fn delete(name: &str) -> Result<()> {
        validate_netns_name(name)?;
        let _guard = dir_lock();
        let path = path_of(name);
        // Loop because a racing `ip netns add` of the same name can stack a second mount.
        for _ in 0..16 {
            match umount2(&path, MntFlags::MNT_DETACH) {
                Ok(()) => continue,
                Err(Errno::EINVAL | Errno::ENOENT) => break,
                Err(e) => return Err(Error::io(format!("umount {}", path.display()), e)),
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::debug!(netns = name, "deleted network namespace");
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", path.display()), e)),
        }
    }

    /// Names under [`RUN_DIR`] starting with `prefix`, sorted; empty when the directory is absent.
    pub fn list_with_prefix(prefix: &str) -> Result<Vec<String>> {
        let entries = match fs::read_dir(RUN_DIR) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("read {RUN_DIR}"), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("read {RUN_DIR}"), e))?;
            if let Some(name) = entry.file_name().to_str() {
                if name.starts_with(prefix) {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// The name under [`RUN_DIR`]; `None` for [`Netns::current`].
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The nsfs inode: equal inodes mean the same namespace.
    pub fn inode(&self) -> Result<u64> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat namespace", e))?;
        Ok(meta.ino())
    }

    /// Runs `work` on a fresh thread inside this namespace and waits for it. Sockets the work
    /// creates stay bound to this namespace wherever they are used afterwards. Blocks the
    /// calling thread; in async code use [`Netns::spawn`].
    pub fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let fd = self.file.as_fd();
        thread::scope(|scope| {
            let worker = thread::Builder::new()
                .name(WORKER_NAME.into())
                .spawn_scoped(scope, move || enter(fd).map(|()| work()))
                .map_err(|e| Error::io("spawn namespace worker", e))?;
            worker.join().map_err(|_| Error::Worker)?
        })
    }

    /// Like [`Netns::run`], but the returned future waits without blocking an executor thread.
    /// The work starts at once, whether or not the future is polled.
    pub fn spawn<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let started = self
            .file
            .try_clone()
            .map_err(|e| Error::io("dup namespace fd", e))
            .and_then(|file| {
                thread::Builder::new()
                    .name(WORKER_NAME.into())
                    .spawn(move || {
                        let result = enter(file.as_fd()).map(|()| work());
                        drop(file);
                        // The caller may have stopped waiting; the result is then of no use.
                        let _ = tx.send(result);
                    })
                    .map_err(|e| Error::io("spawn namespace worker", e))
            });
        async move {
            started?;
            rx.await.map_err(|_| Error::Worker)?
        }
    }

    /// Writes a sysctl of this namespace, e.g. `("net.ipv4.ip_forward", "1")`. Only `net.*`
    /// keys are accepted: other sysctls are host-wide and must not change from here.
    pub fn sysctl_set(&self, key: &str, value: &str) -> Result<()> {
        let path = sysctl_path(key)?;
        let op = format!("write {}", path.display());
        let value = value.to_owned();
        self.run(move || fs::write(&path, value.as_bytes()))?
            .map_err(|e| Error::io(op, e))
    }

    /// Reads a sysctl of this namespace, trimmed.
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        let path = sysctl_path(key)?;
        let op = format!("read {}", path.display());
        let text = self
            .run(move || fs::read_to_string(&path))?
            .map_err(|e| Error::io(op, e))?;
        Ok(text.trim().to_owned())
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn path_of(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

fn open_path(name: &str, path: &Path) -> Result<Netns> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::NetnsNotFound(name.to_owned()))
        }
        Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
    };
    let stat = fstatfs(&file).map_err(|e| Error::io(format!("statfs {}", path.display()), e))?;
    // nsfs, not a bare file: tells a mounted namespace from the leftover of a crashed create.
    if stat.filesystem_type() != NSFS_MAGIC {
        return Err(Error::NotANetns(path.to_owned()));
    }
    Ok(Netns {
        name: Some(name.to_owned()),
        file,
    })
}

/// Makes [`RUN_DIR`] a shared mount point, as `ip netns add` does, so namespace mounts made
/// here propagate into mount namespaces created later (`ip netns exec`, sandboxes).
fn prepare_run_dir() -> Result<()> {
    match DirBuilder::new().mode(0o755).create(RUN_DIR) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(format!("mkdir {RUN_DIR}"), e)),
    }
    let mut bound = false;
    loop {
        let shared = mount(
            None::<&str>,
            RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        );
        match shared {
            Ok(()) => return Ok(()),
            // EINVAL: not a mount point yet; bind it onto itself once and retry.
            Err(Errno::EINVAL) if !bound => {
                mount(
                    Some(RUN_DIR),
                    RUN_DIR,
                    Some("none"),
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| Error::io(format!("bind-mount {RUN_DIR}"), e))?;
                bound = true;
            }
            Err(e) => return Err(Error::io(format!("make {RUN_DIR} shared"), e)),
        }
    }
}

/// Creates a namespace on a throwaway thread and pins it by bind-mounting that thread's nsfs
/// file onto `path`. `/proc/thread-self`, not `/proc/self`: the latter names the main thread.
fn bind_new_netns(path: &Path) -> Result<()> {
    thread::scope(|scope| {
        let worker = thread::Builder::new()
            .name(WORKER_NAME.into())
            .spawn_scoped(scope, || {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::io("unshare(CLONE_NEWNET)", e))?;
                mount(
                    Some("/proc/thread-self/ns/net"),
                    path,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| Error::io(format!("bind-mount netns on {}", path.display()), e))
            })
            .map_err(|e| Error::io("spawn namespace worker", e))?;
        worker.join().map_err(|_| Error::Worker)?
    })
}

fn enter(fd: BorrowedFd<'_>) -> Result<()> {
    setns(fd, CloneFlags::CLONE_NEWNET).map_err(|e| Error::io("setns(CLONE_NEWNET)", e))
}

/// Maps `net.ipv4.ip_forward` to `/proc/sys/net/ipv4/ip_forward`. /proc/sys/net resolves
/// against the network namespace of the thread that opens the file, which is why the file
/// is opened by a worker inside the target namespace (verified by the privileged tests).
fn sysctl_path(key: &str) -> Result<PathBuf> {
    let mut parts = key.split('.');
    if parts.next() != Some("net") {
        return Err(Error::InvalidSysctl(key.to_owned()));
    }
    let mut path = PathBuf::from("/proc/sys/net");
    let mut depth = 0;
    for part in parts {
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::InvalidSysctl(key.to_owned()));
        }
        path.push(part);
        depth += 1;
    }
    if depth == 0 {
        return Err(Error::InvalidSysctl(key.to_owned()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_proc_sys_net_only() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.vl-h0123.rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/vl-h0123/rp_filter")
        );
        for bad in [
            "kernel.pid_max",
            "net",
            "net.",
            "net..ipv4",
            "net.ipv4/../../kernel",
            "net.ipv4.a b",
            "vm.swappiness",
        ] {
            assert!(sysctl_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_and_delete_refuse_foreign_names() {
        assert!(matches!(
            Netns::create("cni-1"),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            Netns::delete("cni-1"),
            Err(Error::InvalidName { .. })
        ));
        assert!(Netns::open("../etc").is_err());
    }
}
