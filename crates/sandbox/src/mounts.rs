//! The environment's filesystem, built by the helper inside its private mount namespace:
//! a small read-only tmpfs root holding read-only binds of selected host directories,
//! `/var/task` (code, read-only), `/opt`, `/var/runtime`, a size-limited writable `/tmp`,
//! a fresh `/proc` with the kernel knobs read-only or masked, a minimal `/dev`, then
//! `pivot_root`. Runs only in the helper (single-threaded, root, before the function
//! exists); must never touch the daemon's mount namespace, which is why the first step
//! makes every mount private.

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chdir, chown, pivot_root, Gid, Uid};

use crate::protocol::{SetupRequest, TmpMount};

/// Errors here end the helper; the message is reported to the daemon verbatim.
pub(crate) type SetupResult<T> = Result<T, String>;

fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// `path` below `root` (host paths are absolute).
fn under(root: &Path, path: &Path) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in path.components() {
        if let Component::Normal(n) = c {
            p.push(n);
        }
    }
    p
}

fn mkdirs(p: &Path) -> SetupResult<()> {
    fs::create_dir_all(p).map_err(ctx(format!("mkdir {}", p.display())))
}

fn mount_fs(src: &str, target: &Path, fstype: &str, flags: MsFlags, data: &str) -> SetupResult<()> {
    mount(Some(src), target, Some(fstype), flags, Some(data))
        .map_err(ctx(format!("mount {fstype} on {}", target.display())))
}

/// Binds `src` on `target` and makes the bind read-only, nosuid, nodev.
fn bind_ro(src: &Path, target: &Path, extra: MsFlags) -> SetupResult<()> {
    mount(
        Some(src),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(ctx(format!(
        "bind {} on {}",
        src.display(),
        target.display()
    )))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | extra;
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(ctx(format!("remount {} read-only", target.display())))
}

/// Builds the root at `req.root` and pivots into it. On return the process's `/` is the
/// environment's root and the host's is unreachable.
pub(crate) fn build_root(req: &SetupRequest) -> SetupResult<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(ctx("making / private"))?;
    let root = req.root.as_path();
    mount_fs(
        "tmpfs",
        root,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "size=1m,nr_inodes=4096,mode=0755",
    )?;
    for host in &req.host_ro_dirs {
        show_host_path(root, host)?;
    }
    for d in ["var/task", "opt", "tmp", "proc", "dev", "etc"] {
        mkdirs(&root.join(d))?;
    }
    bind_ro(&req.code_dir, &root.join("var/task"), MsFlags::empty())?;
    if let Some(opt) = &req.opt_dir {
        bind_ro(opt, &root.join("opt"), MsFlags::empty())?;
    }
    if let Some(rt) = &req.runtime_dir {
        mkdirs(&root.join("var/runtime"))?;
        bind_ro(rt, &root.join("var/runtime"), MsFlags::empty())?;
    }
    mount_tmp(req, &root.join("tmp"))?;
    mount_dev(&root.join("dev"), req.shm_mb)?;
    mount_proc(&root.join("proc"), &root.join("dev/null"))?;
    for (src, name) in [
        (&req.resolv_conf, "resolv.conf"),
        (&req.hosts, "hosts"),
        (&req.ca_bundle, "ssl/certs/ca-certificates.crt"),
    ] {
        if let Some(src) = src {
            bind_file(src, &root.join("etc").join(name))?;
        }
    }
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(ctx("remount root read-only"))?;
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no
    // path back to the host filesystem.
    chdir(root).map_err(ctx("chdir new root"))?;
    pivot_root(".", ".").map_err(ctx("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(ctx("detaching the old root"))?;
    chdir("/").map_err(ctx("chdir /"))
}

/// Mirrors a host path into the root: symlinks as symlinks (merged-/usr hosts have
/// `/bin -> usr/bin`), directories as read-only binds; absent paths are skipped.
fn show_host_path(root: &Path, host: &Path) -> SetupResult<()> {
    let Ok(meta) = fs::symlink_metadata(host) else {
        return Ok(());
    };
    let target = under(root, host);
    if let Some(parent) = target.parent() {
        mkdirs(parent)?;
    }
    if meta.file_type().is_symlink() {
        let link = fs::read_link(host).map_err(ctx(format!("readlink {}", host.display())))?;
        symlink(&link, &target).map_err(ctx(format!("symlink {}", target.display())))
    } else if meta.is_dir() {
        mkdirs(&target)?;
        bind_ro(host, &target, MsFlags::empty())
    } else {
        Ok(())
    }
}

/// Binds a host file over a file of the root. The target must be a regular file (or not
/// exist yet in a directory the sandbox owns): following a symlink here would mount over
/// a path the host chose.
fn bind_file(src: &Path, target: &Path) -> SetupResult<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_file() => {}
        Ok(_) => {
            return Err(format!(
                "{} is not a regular file in the environment's root",
                target.display()
            ))
        }
        Err(_) => {
            File::create(target).map_err(ctx(format!("creating {}", target.display())))?;
        }
    }
    bind_ro(src, target, MsFlags::MS_NOEXEC)
}

fn mount_tmp(req: &SetupRequest, target: &Path) -> SetupResult<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match &req.tmp {
        TmpMount::Tmpfs { size_mb } => mount_fs(
            "tmpfs",
            target,
            "tmpfs",
            flags,
            &format!("size={size_mb}m,mode=0755,uid={},gid={}", req.uid, req.gid),
        ),
        TmpMount::Ext4Image { image } => {
            let dev = crate::loopdev::attach_autoclear(image)?;
            // The image is sparse and freshly made, so unwritten inode tables already read as
            // zeros: no need for the kernel to write them out in the background.
            mount_fs(
                &dev.path().to_string_lossy(),
                target,
                "ext4",
                flags,
                "noinit_itable",
            )?;
            // Images are copies of one template per size, made with a root directory of
            // root's: the function's uid gets its own here, as with a tmpfs `/tmp`.
            chown(
                target,
                Some(Uid::from_raw(req.uid)),
                Some(Gid::from_raw(req.gid)),
            )
            .map_err(ctx(format!("chown {}", target.display())))
        }
    }
}

/// Device nodes the function may use: (name, major, minor).
const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn mount_dev(dev: &Path, shm_mb: u32) -> SetupResult<()> {
    mount_fs(
        "tmpfs",
        dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "size=64k,nr_inodes=64,mode=0755",
    )?;
    for (name, major, minor) in DEVICES {
        let p = dev.join(name);
        mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(ctx(format!("mknod {}", p.display())))?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(name)).map_err(ctx(format!("symlink /dev/{name}")))?;
    }
    let shm = dev.join("shm");
    mkdirs(&shm)?;
    mount_fs(
        "tmpfs",
        &shm,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        &format!("size={shm_mb}m,mode=1777"),
    )?;
    mount(
        None::<&str>,
        dev,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(ctx("remount /dev read-only"))
}

/// Kernel knobs under /proc that stay readable but never writable, and files hidden behind
/// /dev/null (the same lists container runtimes use).
const PROC_READ_ONLY: [&str; 5] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];
const PROC_MASKED: [&str; 5] = ["kcore", "keys", "timer_list", "sched_debug", "kallsyms"];

fn mount_proc(proc_dir: &Path, dev_null: &Path) -> SetupResult<()> {
    mount_fs(
        "proc",
        proc_dir,
        "proc",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        "",
    )?;
    for name in PROC_READ_ONLY {
        let p = proc_dir.join(name);
        if p.exists() {
            bind_ro(&p, &p, MsFlags::MS_NOEXEC)?;
        }
    }
    for name in PROC_MASKED {
        let p = proc_dir.join(name);
        if p.exists() {
            mount(
                Some(dev_null),
                &p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(ctx(format!("masking {}", p.display())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_land_under_the_root() {
        assert_eq!(
            under(Path::new("/r"), Path::new("/usr")),
            PathBuf::from("/r/usr")
        );
        assert_eq!(
            under(Path::new("/r"), Path::new("/usr/local/../lib")),
            PathBuf::from("/r/usr/local/lib")
        );
    }
}
