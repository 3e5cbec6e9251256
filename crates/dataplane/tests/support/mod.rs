//! Test host for the privileged tests, after netavark's pattern (as in the `net` crate):
//! each test body runs on a fresh thread that has unshared its network and mount
//! namespaces, with a private tmpfs on /run (so /run/netns is its own), driven by a
//! current-thread tokio runtime. No uplink, no route out, nothing visible to the host; the
//! root namespace's links, routes and rules must be identical before and after.

use std::future::Future;
use std::net::{SocketAddr, SocketAddrV4};
use std::process::Command;
use std::time::Duration;

use net::Netns;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `body` inside a private test host; prints `skipping: needs root` when not root.
pub fn in_test_host<F, Fut>(body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    if !is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let before = snapshot();
    let outcome = std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).unwrap();
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        mount(
            Some("tmpfs"),
            "/run",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body());
    })
    .join();
    assert_eq!(
        before,
        snapshot(),
        "the root namespace changed during the test"
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn snapshot() -> Vec<String> {
    let ip = |args: &[&str]| {
        let output = Command::new("ip").args(args).output().unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    vec![
        ip(&["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1).map(str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        ip(&["route", "show", "table", "all"]),
        ip(&["rule", "show"]),
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
    ]
}

/// A TCP listener inside `netns`; every accepted peer address arrives on the channel.
pub async fn serve(
    netns: &Netns,
    address: SocketAddrV4,
) -> tokio::sync::mpsc::UnboundedReceiver<SocketAddr> {
    let listener = netns
        .spawn(move || {
            let listener = std::net::TcpListener::bind(address)?;
            listener.set_nonblocking(true)?;
            Ok::<_, std::io::Error>(listener)
        })
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((_stream, peer)) = listener.accept().await {
            if tx.send(peer).is_err() {
                break;
            }
        }
    });
    rx
}

/// Whether a TCP connect from inside `netns` to `address` completes. For checks that
/// expect a connection: the timeout is long, so a busy machine does not fail them.
pub async fn connects(netns: &Netns, address: SocketAddrV4) -> bool {
    connect_within(netns, address, Duration::from_secs(10)).await
}

/// Whether a TCP connect from inside `netns` to `address` fails to complete within 1.5 s
/// (a dropped SYN never completes; an allowed one on an idle path takes microseconds).
pub async fn blocked(netns: &Netns, address: SocketAddrV4) -> bool {
    !connect_within(netns, address, Duration::from_millis(1500)).await
}

async fn connect_within(netns: &Netns, address: SocketAddrV4, timeout: Duration) -> bool {
    netns
        .spawn(move || std::net::TcpStream::connect_timeout(&address.into(), timeout).is_ok())
        .await
        .unwrap()
}
