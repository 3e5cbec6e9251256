//! Harness for end-to-end tests in Rust: starts the real `vpclambda serve` on a free
//! loopback port with its own data dir, and builds AWS SDK configurations pointed at it.
//! The daemon is stopped when the [`Daemon`] is dropped, also when a test panics.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running daemon.
pub struct Daemon {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

/// The daemon binary: `VPCLAMBDA_BIN` (set by ./scripts/test), else the workspace's debug build.
pub fn binary() -> PathBuf {
    std::env::var_os("VPCLAMBDA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/vpclambda")
        })
}

impl Daemon {
    /// Starts a daemon and waits until it announces its address.
    pub fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary().display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("daemon exited before announcing its address")
                .expect("reading daemon output");
            if let Some(url) = line.strip_prefix("vpclambda listening on ") {
                break url.to_string();
            }
        };
        // Keep draining the banner so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Daemon {
            child,
            endpoint,
            _dir: dir,
        }
    }

    /// An SDK configuration for this daemon with the default test account's key.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "e2e",
            ))
            .load()
            .await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
