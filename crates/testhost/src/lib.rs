//! Test host for the privileged tests of the dataplane crates, after netavark's pattern:
//! each test body runs on a fresh thread that has unshared its network and mount namespaces,
//! with a private tmpfs on /run (so /run/netns is its own), and drives the crate under test
//! from a current-thread tokio runtime. Every thread the crate spawns inherits that test
//! host, so nothing reaches the real host: no uplink, no routes out, and the whole namespace
//! graph dies with the thread's last reference even if a test panics halfway. Also: TCP
//! probes, and a snapshot of the root namespace that must be identical before and after
//! every test.
//!
//! The snapshot compares links, routes, rules, ip_forward and nft tables in full, but only
//! the namespace names carrying the caller's mark: on a shared development machine other
//! programs (and other tests of the same run, which start daemons) may add and remove
//! namespaces of their own in the root while a test runs.
//!
//! A dev-dependency only: nothing outside tests may use it.

use std::future::Future;
use std::net::{SocketAddr, SocketAddrV4};
use std::process::Command;
use std::time::Duration;

use net::{Netns, Nft};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `body` inside a private test host; prints `skipping: needs root` when not root.
/// `mark` is part of every namespace name the caller's tests create.
pub fn in_test_host<F, Fut>(mark: &'static str, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    if !is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let before = RootSnapshot::take(mark);
    let outcome = std::thread::spawn(move || {
        enter_private_test_host();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body());
    })
    .join();
    let after = RootSnapshot::take(mark);
    assert_eq!(before, after, "the root namespace changed during the test");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn enter_private_test_host() {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).unwrap();
    // Private propagation first, so the tmpfs below never appears in the host's mount table.
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
}

/// What the root namespace looks like to `ip` and to us; must not change across a test.
#[derive(Debug, PartialEq, Eq)]
struct RootSnapshot {
    netns: Vec<String>,
    run_netns: Vec<String>,
    links: Vec<String>,
    routes: String,
    rules: String,
    ip_forward: String,
    nft_tables: Vec<String>,
}

fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(output.status.success(), "ip {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

impl RootSnapshot {
    fn take(mark: &str) -> RootSnapshot {
        let links = ip(&["-o", "link", "show"])
            .lines()
            .filter_map(|line| line.split(": ").nth(1).map(str::to_owned))
            .collect();
        let nft_tables = match Nft::load() {
            Ok(nft) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let current = Netns::current().unwrap();
                let mut tables: Vec<String> = runtime
                    .block_on(nft.tables(&current))
                    .unwrap()
                    .into_iter()
                    .map(|t| format!("{} {}", t.family, t.name))
                    .collect();
                tables.sort();
                tables
            }
            Err(_) => Vec::new(),
        };
        RootSnapshot {
            netns: ip(&["netns", "list"])
                .lines()
                .filter(|line| line.contains(mark))
                .map(str::to_owned)
                .collect(),
            run_netns: Netns::list_with_prefix("")
                .unwrap()
                .into_iter()
                .filter(|name| name.contains(mark))
                .collect(),
            links,
            routes: ip(&["route", "show", "table", "all"]),
            rules: ip(&["rule", "show"]),
            ip_forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            nft_tables,
        }
    }
}

/// Binds a TCP listener inside `netns` and accepts on the test's runtime; every accepted
/// peer address is sent on the returned channel.
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
