//! The isolation helper: the daemon re-execs itself into [`init_main`] (a fresh,
//! single-threaded process) for every environment. It forms a three-process tree:
//!
//! * the **helper** reads the setup request, joins the environment's network namespace,
//!   unshares mount/pid/ipc/uts/cgroup namespaces, forks the init, then moves itself out of
//!   the environment's cgroups so that killing them never kills the process that reaps the
//!   init; it reports the init's death by signal and exits;
//! * the **init** (pid 1 of the new pid namespace) builds and pivots into the root, forks
//!   the function, drops its own capabilities and reaps every orphan; when the function's
//!   process exits it reports the status and exits, which makes the kernel kill whatever
//!   is left in the namespace;
//! * the **function** drops everything (capabilities, uid, no_new_privs, seccomp), closes
//!   inherited descriptors and execs the command.
//!
//! Must never run inside the daemon process itself (it forks and changes namespaces).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;

use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, dup2, execve, fork, sethostname, setsid, ForkResult, Pid};

use crate::harden;
use crate::mounts::{self, SetupResult};
use crate::protocol::{Report, SetupRequest, MAX_REQUEST_BYTES};

/// Entry point of the re-exec'd helper (`<daemon> sandbox-init`). Never returns. `args` are
/// the arguments after the subcommand; the helper takes its instructions from stdin only.
pub fn init_main(_args: Vec<String>) -> ! {
    // SAFETY: fd 0 is the socket the daemon passed as stdin; from here on it is owned here.
    let sock = unsafe { UnixStream::from_raw_fd(0) };
    let code = match helper(&sock) {
        Ok(code) => code,
        Err(msg) => {
            send(&sock, &Report::SetupFailed(msg));
            1
        }
    };
    std::process::exit(code)
}

fn send(sock: &UnixStream, report: &Report) {
    // The daemon may be gone; there is nobody else to tell.
    let _ = (&*sock).write_all(report.encode().as_bytes());
}

fn close_inherited_fds() -> SetupResult<()> {
    // SAFETY: close_range only closes descriptors; 0-2 (socket, log pipes) are kept.
    if unsafe { libc::close_range(3, u32::MAX, 0) } != 0 {
        return Err(format!("close_range: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn helper(sock: &UnixStream) -> SetupResult<i32> {
    close_inherited_fds()?;
    let mut raw = Vec::new();
    sock.take(MAX_REQUEST_BYTES)
        .read_to_end(&mut raw)
        .map_err(|e| format!("reading the setup request: {e}"))?;
    let req: SetupRequest =
        serde_json::from_slice(&raw).map_err(|e| format!("parsing the setup request: {e}"))?;
    let netns = File::open(&req.netns).map_err(|e| format!("open {}: {e}", req.netns.display()))?;
    setns(&netns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns net: {e}"))?;
    drop(netns);
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWCGROUP,
    )
    .map_err(|e| format!("unshare: {e}"))?;
    // SAFETY: this process is single-threaded (a fresh exec of the helper), so the child
    // may run arbitrary code after fork.
    match unsafe { fork() }.map_err(|e| format!("fork init: {e}"))? {
        ForkResult::Child => {
            let code = match init(&req, sock) {
                Ok(code) => code,
                Err(msg) => {
                    send(sock, &Report::SetupFailed(msg));
                    1
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            for procs in &req.leave_cgroups {
                // Best effort: staying in would only mean the helper dies with the
                // environment and the init is reaped by the host's init instead.
                let _ = OpenOptions::new()
                    .write(true)
                    .open(procs)
                    .and_then(|mut f| f.write_all(b"0"));
            }
            if let Some(sig) = wait_for(child) {
                send(sock, &Report::Signaled(sig));
            }
            Ok(0)
        }
    }
}

/// Waits for `pid`; returns the signal that killed it, if one did.
fn wait_for(pid: Pid) -> Option<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(..)) => return None,
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(sig as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Pid 1 of the environment.
fn init(req: &SetupRequest, sock: &UnixStream) -> SetupResult<i32> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; the parent is single-threaded, so
    // "parent thread exits" means the helper died.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(format!(
            "PR_SET_PDEATHSIG: {}",
            std::io::Error::last_os_error()
        ));
    }
    umask(Mode::empty());
    mounts::build_root(req)?;
    sethostname(&req.hostname).map_err(|e| format!("sethostname: {e}"))?;
    let filters = harden::seccomp_filters()?;
    let argv = cstrings(req.argv.iter().cloned())?;
    let envp = cstrings(req.env.iter().map(|(k, v)| format!("{k}={v}")))?;
    // SAFETY: single-threaded, as above.
    match unsafe { fork() }.map_err(|e| format!("fork function: {e}"))? {
        ForkResult::Child => {
            let Err(msg) = exec_function(req, sock, &filters, &argv, &envp);
            send(sock, &Report::SetupFailed(msg));
            std::process::exit(1)
        }
        ForkResult::Parent { child } => {
            harden::drop_bounding_set()?;
            harden::clear_capabilities()?;
            harden::set_no_new_privs()?;
            Ok(reap_until(child, sock))
        }
    }
}

/// Reaps every process reparented to pid 1 until `main` exits, then reports its status.
fn reap_until(main: Pid, sock: &UnixStream) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => {
                send(sock, &Report::Exited(code));
                return 0;
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                send(sock, &Report::Signaled(sig as i32));
                return 0;
            }
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 0,
        }
    }
}

fn cstrings(items: impl Iterator<Item = String>) -> SetupResult<Vec<CString>> {
    items
        .map(|s| CString::new(s).map_err(|_| "NUL byte in argv or environment".to_string()))
        .collect()
}

/// The function's process: strip privileges and exec. Returns only when setup fails; a
/// failing exec is the function's own failure (Lambda: "exit status 127"), so it goes to the
/// function's log and the exit code.
fn exec_function(
    req: &SetupRequest,
    sock: &UnixStream,
    filters: &[seccompiler::BpfProgram],
    argv: &[CString],
    envp: &[CString],
) -> SetupResult<std::convert::Infallible> {
    setsid().map_err(|e| format!("setsid: {e}"))?;
    umask(Mode::from_bits_truncate(0o022));
    chdir("/var/task").map_err(|e| format!("chdir /var/task: {e}"))?;
    harden::set_rlimits(req.nofile)?;
    // The daemon's socket must not survive exec: keep a close-on-exec copy for the Ready
    // report and put /dev/null on stdin.
    let report = sock.try_clone().map_err(|e| format!("dup socket: {e}"))?;
    let null = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
    dup2(null.as_raw_fd(), 0).map_err(|e| format!("dup2 stdin: {e}"))?;
    drop(null);
    // SAFETY: marks every descriptor from 3 up close-on-exec; touches no memory.
    if unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) } != 0 {
        return Err(format!("close_range: {}", std::io::Error::last_os_error()));
    }
    harden::drop_bounding_set()?;
    harden::become_user(req.uid, req.gid)?;
    harden::clear_capabilities()?;
    harden::set_no_new_privs()?;
    harden::install_seccomp(filters)?;
    send(&report, &Report::Ready);
    let path = argv.first().ok_or("empty argv")?;
    let Err(e) = execve(path, argv, envp);
    let _ = writeln!(
        std::io::stderr(),
        "sandbox: exec {}: {e}",
        path.to_string_lossy()
    );
    std::process::exit(127)
}
