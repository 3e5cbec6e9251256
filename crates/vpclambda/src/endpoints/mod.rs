//! AWS's public endpoints on the simulated internet: the daemon's APIs served over HTTPS on
//! port 443 of one host of `vl-pub` under their real names (`lambda.<region>.amazonaws.com`,
//! `<bucket>.s3.<region>.amazonaws.com`, `sts.amazonaws.com`, …), so unmodified SDKs inside
//! function code reach them by the routes a VPC gives them: directly from a function
//! without a VPC, through a NAT gateway or an internet gateway from a VPC, not at all from
//! a private subnet.
//!
//! Every resolver answers `*.amazonaws.com` with the host's address (the VPC resolver after
//! the VPC's own names; functions without a VPC use the host itself, which also runs the
//! simulated internet's resolver). The certificates come from the daemon's own CA
//! ([`ca::Authority`]), which every environment trusts.

pub mod access;
pub mod ca;
pub mod vpc;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The address of AWS's endpoints on the simulated internet (a host of `vl-pub`; outside
/// the Elastic IP pool, which starts at 203.0.113.129).
pub const ENDPOINT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 100);
/// S3's own address, the one block of its prefix list: a gateway endpoint routes it (and
/// only it) to the VPC's router.
pub const S3_IP: Ipv4Addr = control::ec2::endpoint::S3_ADDRESS;
/// The port every endpoint serves.
const HTTPS: u16 = 443;
/// Where the trust store is inside an environment: the system's, so SDKs, OpenSSL and
/// `curl` trust the CA without being told, and the variables below point at it too.
pub const ENV_BUNDLE: &str = ca::SYSTEM_BUNDLE;
/// The variables AWS SDKs, Python's `requests`/`ssl`, and Node read for extra CAs.
pub const BUNDLE_VARS: [&str; 4] = [
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
];

/// Who sent a request: its source address as the daemon's listener saw it, whether it
/// came over TLS, and the VPC endpoint it came through. Set on every request by the
/// endpoints' listeners; the loopback listener's requests carry axum's `ConnectInfo`
/// instead (see [`peer_of`]).
#[derive(Debug, Clone)]
pub struct Peer {
    pub ip: IpAddr,
    pub secure: bool,
    pub via: Option<Arc<vpc::Via>>,
}

/// The peer of a request, from either listener.
pub fn peer_of(extensions: &http::Extensions) -> Option<Peer> {
    if let Some(peer) = extensions.get::<Peer>() {
        return Some(peer.clone());
    }
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| Peer {
            ip: c.0.ip(),
            secure: false,
            via: None,
        })
}

/// What environments are given so they reach and trust the endpoints.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The host file bound over the environment's system trust store.
    pub bundle: PathBuf,
    /// The resolver of functions without a VPC.
    pub public_resolver: Ipv4Addr,
}

/// The names every resolver answers with [`ENDPOINT_IP`]: every service but S3.
pub fn dns_names() -> dataplane::Names {
    [("*.amazonaws.com".to_owned(), ENDPOINT_IP)].into()
}

/// The names every resolver answers with [`S3_IP`]: S3's, regional and global, with
/// virtual-hosted buckets.
pub fn s3_dns_names(region: &str) -> dataplane::Names {
    [
        format!("s3.{region}.amazonaws.com"),
        format!("*.s3.{region}.amazonaws.com"),
        "s3.amazonaws.com".into(),
        "*.s3.amazonaws.com".into(),
    ]
    .into_iter()
    .map(|name| (name, S3_IP))
    .collect()
}

/// What each VPC's router serves itself: S3 over HTTPS, to the subnets a gateway endpoint
/// routes it for.
pub fn served() -> Vec<SocketAddrV4> {
    vec![SocketAddrV4::new(S3_IP, HTTPS)]
}

/// The names the endpoints' certificate covers: the region's service names, virtual-hosted
/// buckets, the global names of S3, STS and IAM, and every interface endpoint's names
/// (`vpce-….<service>.<region>.vpce.amazonaws.com`, zonal ones included).
pub fn certificate_names(region: &str) -> Vec<String> {
    let mut names = vec![
        format!("*.{region}.amazonaws.com"),
        format!("*.s3.{region}.amazonaws.com"),
        "s3.amazonaws.com".into(),
        "*.s3.amazonaws.com".into(),
        "sts.amazonaws.com".into(),
        "iam.amazonaws.com".into(),
    ];
    for service in control::ec2::endpoint::services() {
        names.push(format!("*.{}.{region}.vpce.amazonaws.com", service.short));
    }
    names
}

/// The running endpoints: their trust, the VPC endpoints' listeners, and the tasks
/// accepting connections on the simulated internet.
pub struct Endpoints {
    pub trust: Trust,
    pub vpc: Arc<vpc::Listeners>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the endpoints when the dataplane runs: the CA (made on first start), the host on
/// the simulated internet with its names, and the HTTPS listener serving `app`.
pub async fn start(
    data_dir: &std::path::Path,
    region: &str,
    dataplane: &dataplane::Dataplane,
    app: Router,
) -> anyhow::Result<Endpoints> {
    let authority = ca::Authority::load_or_create(data_dir)?;
    let issued = authority.issue(&certificate_names(region))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(issued.chain, issued.key)
        .context("the endpoints' certificate")?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    let mut tasks = Vec::new();
    for (ip, names) in [(ENDPOINT_IP, dns_names()), (S3_IP, s3_dns_names(region))] {
        let host = dataplane
            .add_public_service(ip, names)
            .await
            .context("adding AWS's endpoints to the simulated internet")?;
        let address = SocketAddrV4::new(ip, HTTPS);
        let listener = host
            .spawn(move || {
                let l = std::net::TcpListener::bind(address)?;
                l.set_nonblocking(true)?;
                Ok::<_, std::io::Error>(l)
            })
            .await
            .context("entering the endpoints' namespace")?
            .and_then(tokio::net::TcpListener::from_std)
            .with_context(|| format!("binding {address}"))?;
        tasks.push(tokio::spawn(accept(
            listener,
            acceptor.clone(),
            app.clone(),
            Arc::new(|_| Some(None)),
        )));
    }
    let public_resolver = dataplane
        .public_resolver()
        .await
        .context("the simulated internet has no resolver")?;
    tracing::info!(address = %ENDPOINT_IP, s3 = %S3_IP, "AWS endpoints serving HTTPS on the simulated internet");
    Ok(Endpoints {
        trust: Trust {
            bundle: authority.bundle,
            public_resolver,
        },
        vpc: Arc::new(vpc::Listeners::new(acceptor, app)),
        tasks,
    })
}

/// Which VPC endpoint a connection from an address came through: `None` to refuse it,
/// `Some(None)` for none (the simulated internet).
pub(crate) type Route = Arc<dyn Fn(IpAddr) -> Option<Option<Arc<vpc::Via>>> + Send + Sync>;

pub(crate) async fn accept(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    route: Route,
) {
    loop {
        let (tcp, from) = match listener.accept().await {
            Ok(c) => c,
            Err(error) => {
                tracing::debug!(%error, "endpoints: accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Some(via) = route(from.ip()) else {
            tracing::debug!(%from, "endpoints: no endpoint serves this source; closed");
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(error) => {
                    tracing::debug!(%error, %from, "endpoints: TLS handshake failed");
                    return;
                }
            };
            let peer = Peer {
                ip: from.ip(),
                secure: true,
                via,
            };
            let service =
                hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer.clone());
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
            if let Err(error) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%error, %from, "endpoints: connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_name_resolves_and_is_covered() {
        let names = dns_names();
        for name in [
            "lambda.us-east-1.amazonaws.com",
            "s3.us-east-1.amazonaws.com",
            "my-bucket.s3.us-east-1.amazonaws.com",
            "sts.amazonaws.com",
            "sts.us-east-1.amazonaws.com",
        ] {
            assert_eq!(dataplane::lookup(&names, name), Some(ENDPOINT_IP), "{name}");
        }
        let s3 = s3_dns_names("us-east-1");
        for name in [
            "s3.us-east-1.amazonaws.com",
            "my-bucket.s3.us-east-1.amazonaws.com",
            "s3.amazonaws.com",
            "my-bucket.s3.amazonaws.com",
        ] {
            assert_eq!(dataplane::lookup(&s3, name), Some(S3_IP), "{name}");
        }
        assert_eq!(dataplane::lookup(&s3, "sts.us-east-1.amazonaws.com"), None);
        assert_eq!(dataplane::lookup(&names, "example.com"), None);
        let sans = certificate_names("us-east-1");
        assert!(sans.contains(&"*.s3.us-east-1.amazonaws.com".to_owned()));
        assert!(sans.contains(&"sts.amazonaws.com".to_owned()));
    }
}
