//! The private contract between the daemon side ([`crate::Sandbox`]) and the re-exec'd
//! isolation helper ([`crate::init_main`]): the setup request sent once over the helper's
//! stdin socket, and the one-line reports sent back. Must not carry anything the function
//! could influence: the helper trusts this channel completely.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Upper bound on the setup request the helper will read.
pub(crate) const MAX_REQUEST_BYTES: u64 = 1 << 20;

/// Everything the helper needs to build the environment and exec the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SetupRequest {
    /// Network namespace file to join.
    pub netns: PathBuf,
    /// Empty directory the new root is built on.
    pub root: PathBuf,
    /// Host directories shown read-only at the same path (symlinks are recreated as symlinks).
    pub host_ro_dirs: Vec<PathBuf>,
    /// Bound read-only at `/var/task`.
    pub code_dir: PathBuf,
    /// Bound read-only at `/opt`; an empty read-only directory when absent.
    pub opt_dir: Option<PathBuf>,
    /// Bound read-only at `/var/runtime` when present.
    pub runtime_dir: Option<PathBuf>,
    /// What backs `/tmp`.
    pub tmp: TmpMount,
    /// Size of `/dev/shm` in MiB (memory, charged to the function like any memory).
    pub shm_mb: u32,
    /// Host files bound read-only over `/etc/resolv.conf` and `/etc/hosts`.
    pub resolv_conf: Option<PathBuf>,
    pub hosts: Option<PathBuf>,
    /// Host file bound read-only over the system trust store,
    /// `/etc/ssl/certs/ca-certificates.crt`.
    pub ca_bundle: Option<PathBuf>,
    pub hostname: String,
    /// `cgroup.procs` files the helper moves itself into once the environment's init exists,
    /// so that killing the environment's cgroups never kills the process that reaps it.
    pub leave_cgroups: Vec<PathBuf>,
    pub uid: u32,
    pub gid: u32,
    /// argv; `argv[0]` is an absolute path inside the environment.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// RLIMIT_NOFILE for the function (Lambda: 1,024).
    pub nofile: u64,
}

/// The filesystem mounted at `/tmp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum TmpMount {
    /// An ext4 image file, attached to a loop device that detaches itself when the
    /// environment's mount namespace goes away; its root directory is root's until the
    /// helper gives it to the function's uid.
    Ext4Image { image: PathBuf },
    /// A tmpfs of this many MiB owned by the function's uid.
    Tmpfs { size_mb: u32 },
}

/// One line from the helper to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// Isolation is in place; the command is about to be exec'd.
    Ready,
    /// Setup failed before the command ran.
    SetupFailed(String),
    /// The environment's main process exited with this code.
    Exited(i32),
    /// The environment's main process was killed by this signal.
    Signaled(i32),
}

impl Report {
    /// One line, newline-terminated; messages are flattened to a single line.
    pub(crate) fn encode(&self) -> String {
        match self {
            Report::Ready => "R\n".to_string(),
            Report::SetupFailed(msg) => format!("E {}\n", msg.replace(['\n', '\r'], " ")),
            Report::Exited(code) => format!("X {code}\n"),
            Report::Signaled(sig) => format!("S {sig}\n"),
        }
    }

    pub(crate) fn parse(line: &str) -> Option<Report> {
        let line = line.trim_end_matches(['\n', '\r']);
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "R" => Some(Report::Ready),
            "E" => Some(Report::SetupFailed(rest.to_string())),
            "X" => rest.parse().ok().map(Report::Exited),
            "S" => rest.parse().ok().map(Report::Signaled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        for r in [
            Report::Ready,
            Report::SetupFailed("mount /tmp: EPERM".into()),
            Report::Exited(127),
            Report::Signaled(9),
        ] {
            assert_eq!(Report::parse(&r.encode()), Some(r));
        }
    }

    #[test]
    fn multi_line_messages_stay_one_line() {
        let line = Report::SetupFailed("a\nb".into()).encode();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            Report::parse(&line),
            Some(Report::SetupFailed("a b".into()))
        );
    }

    #[test]
    fn garbage_is_not_a_report() {
        assert_eq!(Report::parse("X notanumber"), None);
        assert_eq!(Report::parse("hello"), None);
        assert_eq!(Report::parse(""), None);
    }

    #[test]
    fn request_survives_json() {
        let req = SetupRequest {
            netns: "/run/netns/vl-env-a".into(),
            root: "/s/root".into(),
            host_ro_dirs: vec!["/usr".into()],
            code_dir: "/c".into(),
            opt_dir: None,
            runtime_dir: Some("/r".into()),
            tmp: TmpMount::Tmpfs { size_mb: 512 },
            shm_mb: 64,
            resolv_conf: None,
            ca_bundle: None,
            hosts: Some("/s/hosts".into()),
            hostname: "localhost".into(),
            leave_cgroups: vec!["/sys/fs/cgroup/pids/vl-x/cgroup.procs".into()],
            uid: 993,
            gid: 990,
            argv: vec!["/var/task/bootstrap".into()],
            env: vec![("A".into(), "b c".into())],
            nofile: 1024,
        };
        let json = serde_json::to_vec(&req).expect("serialize");
        let back: SetupRequest = serde_json::from_slice(&json).expect("deserialize");
        assert_eq!(back, req);
    }
}
