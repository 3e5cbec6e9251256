//! The operator's socket: `admin.sock` in the data dir, mode 0600, so only the daemon's
//! user can reach it. Operator commands (AZ impairment, ENI planning, …) are served here,
//! never on the AWS port.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const SOCKET_NAME: &str = "admin.sock";

/// Binds the socket (replacing a stale one) and serves it until `stop` turns true.
pub async fn spawn(
    data_dir: &Path,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let path = data_dir.join(SOCKET_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing stale {}", path.display())),
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let app = Router::new().route("/health", get(|| async { "ok\n" }));
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin socket failed");
        }
        let _ = std::fs::remove_file(&path);
    }))
}
