//! Network namespaces as the sandbox sees them: creating a loopback-only namespace for an
//! `Isolated` environment, binding the Runtime API listener *inside* an environment's
//! namespace, and deleting namespaces the sandbox created. Every namespace switch happens
//! on a dedicated short-lived thread, so no tokio worker ever changes namespace. Must not
//! create interfaces other than `lo`, routes, or anything in the daemon's own namespace.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::SandboxError;

/// Where the Runtime API listens inside every environment (what Lambda and the RIE use).
pub(crate) const RUNTIME_API_PORT: u16 = 9001;

/// Creates the namespace file `dir/name` for a new namespace holding only `lo` (up), and
/// returns it with the Runtime API listener already bound inside it.
pub(crate) fn create_isolated(
    dir: &Path,
    name: &str,
) -> Result<(PathBuf, TcpListener), SandboxError> {
    fs::create_dir_all(dir).map_err(SandboxError::io(format!("creating {}", dir.display())))?;
    let path = dir.join(name);
    File::create_new(&path).map_err(SandboxError::io(format!("creating {}", path.display())))?;
    let target = path.clone();
    let made = on_thread(move || {
        unshare(CloneFlags::CLONE_NEWNET).map_err(SandboxError::sys("unshare(CLONE_NEWNET)"))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(SandboxError::sys(format!(
            "binding netns to {}",
            target.display()
        )))?;
        bring_lo_up()?;
        bind_runtime_api()
    });
    match made {
        Ok(listener) => Ok((path, listener)),
        Err(e) => {
            let _ = delete(&path);
            Err(e)
        }
    }
}

/// Binds the Runtime API listener inside an existing namespace (bringing `lo` up, which a
/// fresh namespace does not have).
pub(crate) fn listen_in(netns: &Path) -> Result<TcpListener, SandboxError> {
    let ns = File::open(netns).map_err(SandboxError::io(format!("opening {}", netns.display())))?;
    on_thread(move || {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(SandboxError::sys("setns(CLONE_NEWNET)"))?;
        bring_lo_up()?;
        bind_runtime_api()
    })
}

/// Unmounts and removes a namespace file; a file that is already gone is fine.
pub(crate) fn delete(path: &Path) -> Result<(), SandboxError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => {
            return Err(SandboxError::sys(format!("unmounting {}", path.display()))(
                e,
            ))
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SandboxError::io(format!("removing {}", path.display()))(e)),
    }
}

/// Runs `f` on a fresh thread; namespace changes die with the thread.
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SandboxError> + Send + 'static,
) -> Result<T, SandboxError> {
    std::thread::Builder::new()
        .name("vl-netns".into())
        .spawn(f)
        .map_err(SandboxError::io("spawning the netns thread"))?
        .join()
        .map_err(|_| SandboxError::Setup("the netns thread panicked".into()))?
}

fn bind_runtime_api() -> Result<TcpListener, SandboxError> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, RUNTIME_API_PORT);
    let l = TcpListener::bind(addr).map_err(SandboxError::io(format!("binding {addr}")))?;
    l.set_nonblocking(true).map_err(SandboxError::io(
        "making the Runtime API listener non-blocking",
    ))?;
    Ok(l)
}

/// Sets IFF_UP on `lo` of the calling thread's namespace with the classic ioctls, which
/// avoids a netlink dependency for this one flag.
fn bring_lo_up() -> Result<(), SandboxError> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(SandboxError::io("socket for SIOCSIFFLAGS")(
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a freshly created socket that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq naming "lo"; SIOCGIFFLAGS only writes ifru_flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(SandboxError::io("SIOCGIFFLAGS lo")(
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union, so reading it is defined.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: req is a valid ifreq; SIOCSIFFLAGS only reads it.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(SandboxError::io("SIOCSIFFLAGS lo up")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
