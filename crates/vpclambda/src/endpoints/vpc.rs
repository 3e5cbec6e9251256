//! VPC endpoints' listeners: the daemon's router served inside the VPC, by the paths a VPC
//! endpoint opens.
//!
//! - A *gateway* endpoint (S3) is a route in some route tables: the router of a VPC with
//!   one listens on S3's own address ([`super::S3_IP`]) inside its namespace
//!   ([`dataplane::Dataplane::serve_in_router`]), and the subnets whose table routes S3's
//!   prefix list there connect to it without NAT, keeping their private source address.
//!   Which endpoint a connection came through follows from the subnet of its source.
//! - An *interface* endpoint is one ENI per subnet: a listener on port 443 of each, inside
//!   the interface's own namespace, so its security groups (enforced at the router like any
//!   interface's) decide who reaches it.
//!
//! Every request through an endpoint carries its [`Via`]: the endpoint, its VPC and its
//! policy, which the services evaluate (`aws:SourceVpce`, `aws:SourceVpc`,
//! `aws:VpcSourceIp`). The reconcile loop calls [`Listeners::sync`] after each pass with
//! what the records want; it returns the endpoints whose listeners are all up.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, RwLock};

use axum::Router;
use dataplane::{Dataplane, Ipv4Cidr};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::{accept, Route, HTTPS};

/// The VPC endpoint a request came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub endpoint: String,
    pub vpc: String,
    /// The endpoint policy (JSON).
    pub policy: String,
}

/// What the records want served.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// By VPC: each subnet that a gateway endpoint routes S3 for, and that endpoint.
    pub gateways: BTreeMap<String, GatewayRoutes>,
    /// By interface id: its address and its endpoint.
    pub interfaces: BTreeMap<String, (Ipv4Addr, Arc<Via>)>,
}

type Shared<T> = Arc<RwLock<T>>;
/// A gateway endpoint's subnets, each with the endpoint routing it.
type GatewayRoutes = Vec<(Ipv4Cidr, Arc<Via>)>;

struct Running<T> {
    task: JoinHandle<()>,
    route: Shared<T>,
}

impl<T> Drop for Running<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct State {
    gateways: HashMap<String, Running<GatewayRoutes>>,
    interfaces: HashMap<String, (Ipv4Addr, Running<Arc<Via>>)>,
}

/// The listeners of every VPC endpoint.
pub struct Listeners {
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    state: Mutex<State>,
}

impl Listeners {
    pub(super) fn new(acceptor: tokio_rustls::TlsAcceptor, app: Router) -> Listeners {
        Listeners {
            acceptor,
            app,
            state: Mutex::new(State::default()),
        }
    }

    /// Makes the listeners what `wanted` says (after the dataplane applied the same
    /// records, so routers and interfaces exist); returns the endpoints served. A listener
    /// that cannot be opened is retried at the next pass.
    pub async fn sync(&self, dataplane: &Dataplane, wanted: &Wanted) -> BTreeSet<String> {
        let mut state = self.state.lock().await;
        let mut served = BTreeSet::new();
        state
            .gateways
            .retain(|vpc, _| wanted.gateways.contains_key(vpc));
        for (vpc, routes) in &wanted.gateways {
            if let Some(running) = state.gateways.get(vpc) {
                *running.route.write().unwrap_or_else(|p| p.into_inner()) = routes.clone();
            } else {
                let address = SocketAddrV4::new(super::S3_IP, HTTPS);
                let listener = match dataplane.serve_in_router(vpc, address).await {
                    Ok(l) => l,
                    Err(error) => {
                        tracing::warn!(%vpc, %error, "gateway endpoint not served yet");
                        continue;
                    }
                };
                let route: Shared<_> = Arc::new(RwLock::new(routes.clone()));
                match self.spawn(listener, gateway_route(route.clone())) {
                    Ok(task) => {
                        state.gateways.insert(vpc.clone(), Running { task, route });
                    }
                    Err(error) => {
                        tracing::warn!(%vpc, %error, "gateway endpoint not served yet");
                        continue;
                    }
                }
            }
            served.extend(routes.iter().map(|(_, via)| via.endpoint.clone()));
        }
        state
            .interfaces
            .retain(|id, (ip, _)| wanted.interfaces.get(id).is_some_and(|(w, _)| w == ip));
        let mut failed = BTreeSet::new();
        for (id, (ip, via)) in &wanted.interfaces {
            if let Some((_, running)) = state.interfaces.get(id) {
                *running.route.write().unwrap_or_else(|p| p.into_inner()) = via.clone();
                continue;
            }
            let address = SocketAddrV4::new(*ip, HTTPS);
            match dataplane.serve_in_interface(id, address).await {
                Ok(listener) => {
                    let route: Shared<_> = Arc::new(RwLock::new(via.clone()));
                    let shared = route.clone();
                    let choose: Route = Arc::new(move |_| {
                        Some(Some(
                            shared.read().unwrap_or_else(|p| p.into_inner()).clone(),
                        ))
                    });
                    match self.spawn(listener, choose) {
                        Ok(task) => {
                            state
                                .interfaces
                                .insert(id.clone(), (*ip, Running { task, route }));
                        }
                        Err(error) => {
                            tracing::warn!(eni = %id, %error, "interface endpoint not served yet");
                            failed.insert(via.endpoint.clone());
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(eni = %id, %error, "interface endpoint not served yet");
                    failed.insert(via.endpoint.clone());
                }
            }
        }
        for (_, via) in wanted.interfaces.values() {
            if !failed.contains(&via.endpoint) {
                served.insert(via.endpoint.clone());
            }
        }
        served
    }

    fn spawn(
        &self,
        listener: std::net::TcpListener,
        route: Route,
    ) -> std::io::Result<JoinHandle<()>> {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        Ok(tokio::spawn(accept(
            listener,
            self.acceptor.clone(),
            self.app.clone(),
            route,
        )))
    }
}

/// A gateway endpoint's connections: the endpoint routing the source's subnet, or refused
/// (a subnet whose route went away since it connected).
fn gateway_route(routes: Shared<GatewayRoutes>) -> Route {
    Arc::new(move |from: IpAddr| {
        let IpAddr::V4(from) = from else {
            return None;
        };
        let routes = routes.read().unwrap_or_else(|p| p.into_inner());
        routes
            .iter()
            .find(|(subnet, _)| subnet_contains(subnet, from))
            .map(|(_, via)| Some(via.clone()))
    })
}

fn subnet_contains(subnet: &Ipv4Cidr, ip: Ipv4Addr) -> bool {
    let bits = u32::from(subnet.prefix());
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(subnet.addr()) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_connections_are_matched_to_their_subnet() {
        let via = |id: &str| {
            Arc::new(Via {
                endpoint: id.into(),
                vpc: "vpc-1".into(),
                policy: "{}".into(),
            })
        };
        let routes = Arc::new(RwLock::new(vec![
            ("10.0.1.0/24".parse().unwrap(), via("vpce-a")),
            ("10.0.2.0/24".parse().unwrap(), via("vpce-b")),
        ]));
        let route = gateway_route(routes);
        let ip = |s: &str| IpAddr::V4(s.parse().unwrap());
        assert_eq!(route(ip("10.0.1.9")), Some(Some(via("vpce-a"))));
        assert_eq!(route(ip("10.0.2.200")), Some(Some(via("vpce-b"))));
        assert_eq!(route(ip("10.0.3.1")), None);
    }
}
