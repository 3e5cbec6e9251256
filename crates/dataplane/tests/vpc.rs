//! Privileged tests of the VPC dataplane (L2): each applies a desired state in its own
//! private test host (the `testhost` crate) and checks it with real TCP connects between the
//! namespaces, always with a positive control next to every "is blocked". Skip when not root.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use dataplane::{
    namespace_of, Dataplane, Desired, DesiredEni, DesiredIgw, DesiredNat, DesiredRoute,
    DesiredSecurityGroup, DesiredSubnet, DesiredVpc, EniDelta, Ipv4Cidr, Peer, PortRange, Protocol,
    RouteTarget, SgRule, Uplink,
};
use net::{Netlink, Netns, Nft};
use testhost::{blocked, connects, in_test_host, serve};

/// Part of the id of every VPC these tests make, so of their routers' namespace names.
const MARK: &str = "dpt";

fn cidr(text: &str) -> Ipv4Cidr {
    text.parse().unwrap()
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn at(text: &str, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip(text), port)
}

fn ns(id: &str) -> Netns {
    Netns::open(&namespace_of(id).unwrap()).unwrap()
}

fn tcp(port: u16, peer: Peer) -> SgRule {
    SgRule {
        protocol: Protocol::Tcp(Some(PortRange {
            from: port,
            to: port,
        })),
        peer,
    }
}

fn all_out() -> Vec<SgRule> {
    vec![SgRule {
        protocol: Protocol::All,
        peer: Peer::Cidr(Ipv4Cidr::ANY),
    }]
}

fn group(id: &str, ingress: Vec<SgRule>) -> DesiredSecurityGroup {
    DesiredSecurityGroup {
        id: id.into(),
        ingress,
        egress: all_out(),
    }
}

fn eni(id: &str, subnet: &str, address: &str, groups: &[&str]) -> DesiredEni {
    DesiredEni {
        id: id.into(),
        subnet: subnet.into(),
        ip: ip(address),
        security_groups: groups.iter().map(|g| g.to_string()).collect(),
        public_ip: None,
        source_dest_check: true,
    }
}

fn subnet(id: &str, block: &str, routes: Vec<DesiredRoute>) -> DesiredSubnet {
    DesiredSubnet {
        id: id.into(),
        cidr: cidr(block),
        routes,
    }
}

fn default_to(target: RouteTarget) -> DesiredRoute {
    DesiredRoute {
        destination: Ipv4Cidr::ANY,
        target,
    }
}

fn vpc(id: &str, block: &str) -> DesiredVpc {
    DesiredVpc {
        id: id.into(),
        cidr: cidr(block),
        subnets: vec![],
        igw: None,
        nat_gateways: vec![],
        enis: vec![],
        security_groups: vec![],
        names: Default::default(),
        served: Vec::new(),
    }
}

async fn apply(dataplane: &Dataplane, desired: &Desired) -> usize {
    let report = dataplane.apply(desired).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report.nft_statements
}

/// [`apply`] of a desired state holding `vpc` alone.
async fn apply_vpc(dataplane: &Dataplane, vpc: &DesiredVpc) -> usize {
    apply(
        dataplane,
        &Desired {
            vpcs: vec![vpc.clone()],
        },
    )
    .await
}

/// Two subnets; a web server allowing tcp/80 from the VPC and tcp/81 from members of the
/// `sg-client` group; clients in both subnets.
fn two_subnets() -> DesiredVpc {
    let mut v = vpc("vpc-dpt1", "10.0.0.0/16");
    v.subnets = vec![
        subnet("subnet-a", "10.0.1.0/24", vec![]),
        subnet("subnet-b", "10.0.2.0/24", vec![]),
    ];
    v.security_groups = vec![
        group(
            "sg-web",
            vec![
                tcp(80, Peer::Cidr(cidr("10.0.0.0/16"))),
                tcp(81, Peer::Group("sg-client".into())),
            ],
        ),
        group("sg-client", vec![]),
        group("sg-other", vec![]),
    ];
    v.enis = vec![
        eni("eni-srv", "subnet-a", "10.0.1.10", &["sg-web"]),
        eni("eni-c1", "subnet-a", "10.0.1.11", &["sg-client"]),
        eni("eni-c2", "subnet-b", "10.0.2.10", &["sg-client"]),
        eni("eni-o", "subnet-b", "10.0.2.11", &["sg-other"]),
    ];
    v
}

#[test]
fn security_groups_govern_same_and_cross_subnet_traffic() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = two_subnets();
        let mut desired = Desired {
            vpcs: vec![v.clone()],
        };
        apply(&dataplane, &desired).await;
        let srv = ns("eni-srv");
        let _web = serve(&srv, at("10.0.1.10", 80)).await;
        let _ref = serve(&srv, at("10.0.1.10", 81)).await;
        let _closed = serve(&srv, at("10.0.1.10", 82)).await;
        let (c1, c2, other) = (ns("eni-c1"), ns("eni-c2"), ns("eni-o"));

        assert!(
            connects(&c1, at("10.0.1.10", 80)).await,
            "same subnet, allowed port"
        );
        assert!(
            connects(&c2, at("10.0.1.10", 80)).await,
            "cross subnet, allowed port"
        );
        assert!(
            blocked(&c1, at("10.0.1.10", 82)).await,
            "same subnet, no rule"
        );
        assert!(
            blocked(&c2, at("10.0.1.10", 82)).await,
            "cross subnet, no rule"
        );
        assert!(
            connects(&c2, at("10.0.1.10", 81)).await,
            "member of the referenced group"
        );
        assert!(blocked(&other, at("10.0.1.10", 81)).await, "not a member");
        assert!(
            connects(&other, at("10.0.1.10", 80)).await,
            "positive control for eni-o"
        );

        // Group membership follows interfaces: a new client in sg-client is let in. Its port
        // leaves the subnet's gateway address as it was: the others' ARP caches stay right
        // (a bridge left to itself takes its lowest port's address, which failed the "other
        // rules stay" check below about one run in five).
        let gateway_mac = || async {
            let router = Netlink::connect(&ns("vpc-dpt1")).await.unwrap();
            let bridge = net::names::ifname("b", "subnet-b").unwrap();
            router.link(&bridge).await.unwrap().unwrap().mac
        };
        let before = gateway_mac().await;
        v.enis
            .push(eni("eni-c3", "subnet-b", "10.0.2.12", &["sg-client"]));
        desired.vpcs = vec![v.clone()];
        apply(&dataplane, &desired).await;
        assert!(connects(&ns("eni-c3"), at("10.0.1.10", 81)).await);
        assert_eq!(gateway_mac().await, before);

        // Revoke tcp/80: new connections are blocked after apply; re-authorize restores.
        let revoked = v.security_groups[0].ingress.remove(0);
        desired.vpcs = vec![v.clone()];
        let statements = apply(&dataplane, &desired).await;
        assert!(
            statements <= 3,
            "a revoke is a small batch, was {statements}"
        );
        assert!(blocked(&c2, at("10.0.1.10", 80)).await, "revoked");
        assert!(connects(&c2, at("10.0.1.10", 81)).await, "other rules stay");
        v.security_groups[0].ingress.push(revoked);
        desired.vpcs = vec![v.clone()];
        apply(&dataplane, &desired).await;
        assert!(connects(&c2, at("10.0.1.10", 80)).await, "re-authorized");

        // The same through the one-group fast path.
        let mut web = v.security_groups[0].clone();
        web.ingress
            .retain(|r| *r != tcp(80, Peer::Cidr(cidr("10.0.0.0/16"))));
        assert!(dataplane.apply_group("vpc-dpt1", &web).await.unwrap());
        assert!(blocked(&c2, at("10.0.1.10", 80)).await, "revoked alone");
        assert!(connects(&c2, at("10.0.1.10", 81)).await, "other rules stay");
        assert!(dataplane
            .apply_group("vpc-dpt1", &v.security_groups[0])
            .await
            .unwrap());
        assert!(
            connects(&c2, at("10.0.1.10", 80)).await,
            "re-authorized alone"
        );
        assert_eq!(apply(&dataplane, &desired).await, 0, "the full pass agrees");
        let mut unknown = web.clone();
        unknown.id = "sg-nope".into();
        assert!(!dataplane.apply_group("vpc-dpt1", &unknown).await.unwrap());
        assert!(!dataplane.apply_group("vpc-nope", &web).await.unwrap());

        // Applying the same state again changes nothing in the kernel.
        let router = Netlink::connect(&ns("vpc-dpt1")).await.unwrap();
        let links = router.links().await.unwrap();
        let inode = ns("eni-c1").inode().unwrap();
        assert_eq!(apply(&dataplane, &desired).await, 0);
        assert_eq!(router.links().await.unwrap(), links);
        assert_eq!(ns("eni-c1").inode().unwrap(), inode);
        drop(router);
        dataplane.remove_all().await.unwrap();
    });
}

/// Lowest-free allocation hands a deleted interface's address to the next one at once. Hosts
/// that talked to the old holder keep its hardware address in their ARP caches (the
/// router for routed traffic, the subnet's hosts for bridged); the new holder must be
/// reachable all the same, from both, before those entries would expire.
#[test]
fn a_reused_address_is_reachable_at_once() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = two_subnets();
        apply_vpc(&dataplane, &v).await;
        let (c1, c2) = (ns("eni-c1"), ns("eni-c2"));
        let _old = serve(&ns("eni-srv"), at("10.0.1.10", 80)).await;
        assert!(connects(&c1, at("10.0.1.10", 80)).await, "same subnet");
        assert!(
            connects(&c2, at("10.0.1.10", 80)).await,
            "through the router"
        );

        v.enis.retain(|e| e.id != "eni-srv");
        apply_vpc(&dataplane, &v).await;
        v.enis
            .push(eni("eni-srv2", "subnet-a", "10.0.1.10", &["sg-web"]));
        apply_vpc(&dataplane, &v).await;
        let _new = serve(&ns("eni-srv2"), at("10.0.1.10", 80)).await;
        assert!(
            connects(&c2, at("10.0.1.10", 80)).await,
            "the new holder, through the router"
        );
        assert!(
            connects(&c1, at("10.0.1.10", 80)).await,
            "the new holder, same subnet"
        );
        dataplane.remove_all().await.unwrap();
    });
}

#[test]
fn vpcs_cannot_reach_each_other() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let open = || group("sg-open", vec![tcp(80, Peer::Cidr(Ipv4Cidr::ANY))]);
        let mut a = vpc("vpc-dpta", "10.1.0.0/16");
        a.subnets = vec![subnet("subnet-a1", "10.1.1.0/24", vec![])];
        a.security_groups = vec![open()];
        a.enis = vec![
            eni("eni-a1", "subnet-a1", "10.1.1.10", &["sg-open"]),
            eni("eni-a2", "subnet-a1", "10.1.1.11", &["sg-open"]),
        ];
        let mut b = vpc("vpc-dptb", "10.2.0.0/16");
        b.subnets = vec![subnet("subnet-b1", "10.2.1.0/24", vec![])];
        b.security_groups = vec![open()];
        b.enis = vec![eni("eni-b1", "subnet-b1", "10.2.1.10", &["sg-open"])];
        apply(&dataplane, &Desired { vpcs: vec![a, b] }).await;
        let _a = serve(&ns("eni-a1"), at("10.1.1.10", 80)).await;
        let _b = serve(&ns("eni-b1"), at("10.2.1.10", 80)).await;
        assert!(
            connects(&ns("eni-a2"), at("10.1.1.10", 80)).await,
            "positive control"
        );
        assert!(blocked(&ns("eni-a2"), at("10.2.1.10", 80)).await, "A to B");
        assert!(blocked(&ns("eni-b1"), at("10.1.1.10", 80)).await, "B to A");
        // Routers are IPv4 only: no IPv6 routing table to walk when a port goes.
        if std::path::Path::new("/proc/sys/net/ipv6").exists() {
            let router = ns("vpc-dpta");
            for key in ["all", "default"] {
                let key = format!("net.ipv6.conf.{key}.disable_ipv6");
                assert_eq!(router.sysctl_get(&key).unwrap(), "1", "{key}");
            }
            // Nor is an interface's eth0 (no IPv6 address of its own): nothing it sends as
            // it comes up is flooded to the subnet's other ports.
            let eni = ns("eni-a1");
            let key = "net.ipv6.conf.eth0.addr_gen_mode";
            assert_eq!(eni.sysctl_get(key).unwrap(), "1", "{key}");
            let addresses = eni
                .spawn(|| std::fs::read_to_string("/proc/thread-self/net/if_inet6"))
                .await
                .unwrap()
                .unwrap();
            assert!(!addresses.contains("eth0"), "{addresses}");
        }
        dataplane.remove_all().await.unwrap();
    });
}

/// Public subnet (default route to the IGW) with a NAT gateway, an ENI without and one with
/// a public IP; private subnet (default route to the NAT gateway) with one ENI.
fn internet_vpc() -> DesiredVpc {
    let mut v = vpc("vpc-dpti", "10.3.0.0/16");
    v.igw = Some(DesiredIgw {
        id: "igw-dpt".into(),
    });
    v.subnets = vec![
        subnet(
            "subnet-pub",
            "10.3.0.0/24",
            vec![default_to(RouteTarget::Igw)],
        ),
        subnet(
            "subnet-priv",
            "10.3.1.0/24",
            vec![default_to(RouteTarget::Nat("nat-dpt".into()))],
        ),
    ];
    v.nat_gateways = vec![DesiredNat {
        id: "nat-dpt".into(),
        subnet: "subnet-pub".into(),
        private_ip: ip("10.3.0.5"),
        public_ip: Some(ip("198.51.100.20")),
    }];
    v.security_groups = vec![group("sg-web", vec![tcp(80, Peer::Cidr(Ipv4Cidr::ANY))])];
    let mut with_eip = eni("eni-eip", "subnet-pub", "10.3.0.11", &["sg-web"]);
    with_eip.public_ip = Some(ip("198.51.100.21"));
    v.enis = vec![
        eni("eni-pub", "subnet-pub", "10.3.0.10", &["sg-web"]),
        with_eip,
        eni("eni-priv", "subnet-priv", "10.3.1.10", &["sg-web"]),
    ];
    v
}

async fn source_seen(
    peers: &mut tokio::sync::mpsc::UnboundedReceiver<SocketAddr>,
) -> Option<std::net::IpAddr> {
    tokio::time::timeout(Duration::from_secs(2), peers.recv())
        .await
        .ok()
        .flatten()
        .map(|peer| peer.ip())
}

#[test]
fn internet_only_through_nat_gateways_and_public_ips() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = internet_vpc();
        apply_vpc(&dataplane, &v).await;
        let host = Netns::open(
            dataplane
                .add_public_host(ip("203.0.113.10"))
                .await
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap(),
        )
        .unwrap();
        let mut seen = serve(&host, at("203.0.113.10", 80)).await;
        let internet = at("203.0.113.10", 80);

        assert!(
            connects(&ns("eni-priv"), internet).await,
            "private subnet via NAT"
        );
        let source = source_seen(&mut seen).await;
        assert_eq!(
            source,
            Some(ip("198.51.100.20").into()),
            "the host sees the NAT's EIP"
        );

        assert!(
            blocked(&ns("eni-pub"), internet).await,
            "IGW route but no public IP"
        );
        assert!(
            connects(&ns("eni-eip"), internet).await,
            "positive control: with an EIP"
        );
        let source = source_seen(&mut seen).await;
        assert_eq!(
            source,
            Some(ip("198.51.100.21").into()),
            "1:1 NAT to the EIP"
        );
        assert_eq!(
            source_seen(&mut seen).await,
            None,
            "the blocked connect never arrived"
        );

        // Inbound: only to the public IP, only what the group allows.
        let _web = serve(&ns("eni-eip"), at("10.3.0.11", 80)).await;
        let _other = serve(&ns("eni-eip"), at("10.3.0.11", 81)).await;
        assert!(
            connects(&host, at("198.51.100.21", 80)).await,
            "EIP inbound, allowed"
        );
        assert!(
            blocked(&host, at("198.51.100.21", 81)).await,
            "EIP inbound, no rule"
        );
        assert!(
            blocked(&host, at("10.3.0.11", 80)).await,
            "no route to a VPC address"
        );

        // Without its NAT route the private subnet has no internet.
        v.subnets[1].routes.clear();
        apply_vpc(&dataplane, &v).await;
        assert!(blocked(&ns("eni-priv"), internet).await, "no NAT route");
        v.subnets[1].routes = vec![default_to(RouteTarget::Nat("nat-dpt".into()))];
        apply(&dataplane, &Desired { vpcs: vec![v] }).await;
        assert!(connects(&ns("eni-priv"), internet).await, "route back");

        // vl-pub holds no route toward the VPC's range.
        let public = Netlink::connect(&Netns::open("vl-pub").unwrap())
            .await
            .unwrap();
        for route in public.routes(net::MAIN_TABLE).await.unwrap() {
            assert!(
                !route.destination.addr().to_string().starts_with("10."),
                "{route:?}"
            );
        }
        drop(public);
        dataplane.remove_all().await.unwrap();
    });
}

#[test]
fn environments_go_out_through_their_eni_and_accept_nothing() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let v = two_subnets();
        apply(&dataplane, &Desired { vpcs: vec![v] }).await;
        let mut seen = serve(&ns("eni-srv"), at("10.0.1.10", 81)).await;
        let path = dataplane
            .attach_environment("eni-c2", "dpt-env1")
            .await
            .unwrap();
        assert_eq!(path.to_str(), Some("/run/netns/vl-env-dpt-env1"));
        let env = Netns::open("vl-env-dpt-env1").unwrap();
        let second = dataplane
            .attach_environment("eni-c2", "dpt-env2")
            .await
            .unwrap();
        let env2 = Netns::open(second.file_name().unwrap().to_str().unwrap()).unwrap();

        assert!(
            connects(&env, at("10.0.1.10", 81)).await,
            "through the ENI's groups"
        );
        assert_eq!(
            source_seen(&mut seen).await,
            Some(ip("10.0.2.10").into()),
            "masqueraded"
        );
        let _env_listener = serve(&env, at("100.64.0.2", 9000)).await;
        assert!(
            connects(&env, at("100.64.0.2", 9000)).await,
            "positive control: env itself"
        );
        assert!(
            blocked(&env2, at("100.64.0.2", 9000)).await,
            "environment to environment"
        );
        assert!(
            blocked(&ns("eni-c2"), at("100.64.0.2", 9000)).await,
            "ENI to environment"
        );
        assert!(
            blocked(&ns("eni-srv"), at("100.64.0.2", 9000)).await,
            "VPC to environment"
        );

        dataplane.detach_environment("dpt-env1").await.unwrap();
        dataplane.detach_environment("dpt-env1").await.unwrap();
        assert!(Netns::open("vl-env-dpt-env1").is_err());
        drop((env, env2));
        dataplane.remove_all().await.unwrap();
    });
}

#[test]
fn public_environments_reach_the_internet_and_nothing_else() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        apply(
            &dataplane,
            &Desired {
                vpcs: vec![two_subnets()],
            },
        )
        .await;
        let host_path = dataplane.add_public_host(ip("203.0.113.10")).await.unwrap();
        let host = Netns::open(host_path.file_name().unwrap().to_str().unwrap()).unwrap();
        let mut seen = serve(&host, at("203.0.113.10", 80)).await;
        let _vpc_server = serve(&ns("eni-srv"), at("10.0.1.10", 80)).await;

        let path = dataplane
            .attach_public_environment("dpt-penv1")
            .await
            .unwrap();
        assert_eq!(path.to_str(), Some("/run/netns/vl-env-dpt-penv1"));
        assert_eq!(
            dataplane
                .attach_public_environment("dpt-penv1")
                .await
                .unwrap(),
            path
        );
        let env = Netns::open("vl-env-dpt-penv1").unwrap();
        let env2 = Netns::open(
            dataplane
                .attach_public_environment("dpt-penv2")
                .await
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap(),
        )
        .unwrap();

        assert!(
            connects(&env, at("203.0.113.10", 80)).await,
            "the simulated internet"
        );
        let source = source_seen(&mut seen).await.unwrap();
        assert!(
            !source.to_string().starts_with("100."),
            "masqueraded, saw {source}"
        );
        assert!(
            connects(&ns("eni-c1"), at("10.0.1.10", 80)).await,
            "positive control: the VPC server answers inside its VPC"
        );
        assert!(
            blocked(&env, at("10.0.1.10", 80)).await,
            "no route into a VPC"
        );
        assert!(
            blocked(&env, at("169.254.0.1", 80)).await,
            "nothing served by vl-pub itself"
        );
        let _env_listener = serve(&env, at("100.64.0.2", 9000)).await;
        assert!(
            connects(&env, at("100.64.0.2", 9000)).await,
            "positive control: env itself"
        );
        assert!(
            blocked(&env2, at("100.64.0.2", 9000)).await,
            "environment to environment"
        );
        assert!(
            blocked(&host, at("100.64.0.2", 9000)).await,
            "internet to environment"
        );
        assert!(
            dataplane
                .attach_environment("eni-c2", "dpt-penv1")
                .await
                .is_err(),
            "one attachment per environment"
        );

        dataplane.detach_environment("dpt-penv1").await.unwrap();
        dataplane.detach_environment("dpt-penv1").await.unwrap();
        assert!(Netns::open("vl-env-dpt-penv1").is_err());
        assert!(
            blocked(&env, at("203.0.113.10", 80)).await,
            "a detached environment is cut off"
        );
        drop((env, env2, host));
        dataplane.remove_all().await.unwrap();
    });
}

#[test]
fn restart_converges_and_teardown_leaves_nothing() {
    in_test_host(MARK, || async {
        let first = Dataplane::start(Uplink::None).await.unwrap();
        let v = internet_vpc();
        apply(
            &first,
            &Desired {
                vpcs: vec![v.clone(), two_subnets()],
            },
        )
        .await;
        first
            .attach_environment("eni-priv", "dpt-env")
            .await
            .unwrap();
        drop(first);

        // A new process: one VPC and one interface were deleted meanwhile; a stray
        // namespace of ours is lying around.
        Netns::create("vl-eni-stray").unwrap();
        let mut smaller = v.clone();
        smaller.enis.retain(|e| e.id != "eni-pub");
        let second = Dataplane::start(Uplink::None).await.unwrap();
        apply_vpc(&second, &smaller).await;
        let names = Netns::list_with_prefix("vl-").unwrap();
        assert!(
            !names
                .iter()
                .any(|n| n == "vl-eni-stray" || n == "vl-eni-pub"),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n == "vl-vpc-dpt1"), "{names:?}");
        let host = second.add_public_host(ip("203.0.113.11")).await.unwrap();
        let host = Netns::open(host.file_name().unwrap().to_str().unwrap()).unwrap();
        let _seen = serve(&host, at("203.0.113.11", 80)).await;
        assert!(
            connects(&ns("eni-priv"), at("203.0.113.11", 80)).await,
            "still works"
        );
        assert_eq!(
            apply(
                &second,
                &Desired {
                    vpcs: vec![smaller]
                }
            )
            .await,
            0
        );

        drop(host);
        second.remove_all().await.unwrap();
        assert_eq!(
            Netns::list_with_prefix("vl-").unwrap(),
            Vec::<String>::new()
        );
        let here = Netns::current().unwrap();
        let links = Netlink::connect(&here)
            .await
            .unwrap()
            .links()
            .await
            .unwrap();
        assert_eq!(
            links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["lo"]
        );
        assert!(Nft::load().unwrap().tables(&here).await.unwrap().is_empty());
    });
}

/// Prints (does not assert) how long ENI creation and a security-group change take at 10
/// and 100 interfaces, for BENCHMARKS.md.
#[test]
fn measure_eni_creation_and_group_changes() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = vpc("vpc-dptm", "10.9.0.0/16");
        v.subnets = vec![subnet("subnet-m", "10.9.0.0/20", vec![])];
        v.security_groups = vec![group(
            "sg-m",
            vec![tcp(80, Peer::Cidr(cidr("10.9.0.0/16")))],
        )];
        for target in [10usize, 100, 300] {
            let start = Instant::now();
            let before = v.enis.len();
            while v.enis.len() < target {
                let n = v.enis.len() + 10;
                let address = Ipv4Addr::from(u32::from(ip("10.9.0.0")) + n as u32);
                v.enis.push(eni(
                    &format!("eni-m{n}"),
                    "subnet-m",
                    &address.to_string(),
                    &["sg-m"],
                ));
                apply_vpc(&dataplane, &v).await;
            }
            let per_eni = start.elapsed() / (target - before) as u32;
            v.security_groups[0]
                .ingress
                .push(tcp(443, Peer::Cidr(Ipv4Cidr::ANY)));
            let start = Instant::now();
            let statements = apply_vpc(&dataplane, &v).await;
            let change = start.elapsed();
            v.security_groups[0].ingress.pop();
            // The median of 21 one-group changes, alternately adding and removing a rule.
            let mut samples = Vec::new();
            for i in 0..21 {
                let mut group = v.security_groups[0].clone();
                if i % 2 == 0 {
                    group.ingress.push(tcp(8443, Peer::Cidr(Ipv4Cidr::ANY)));
                }
                let start = Instant::now();
                assert!(dataplane.apply_group("vpc-dptm", &group).await.unwrap());
                samples.push(start.elapsed());
            }
            samples.sort();
            let alone = samples[samples.len() / 2];
            apply_vpc(&dataplane, &v).await;
            println!(
                "dataplane: {target} ENIs: create {per_eni:?} per ENI (incl. apply); \
                 SG change {change:?} ({statements} nft statements); \
                 one group alone {alone:?} (median of 21)"
            );
        }
        dataplane.remove_all().await.unwrap();
    });
}

/// The checks after interfaces of `v` (vpc-dpt1 with eni-c4, eni-c5 and db.internal added,
/// eni-c1 removed) were applied one at a time: they work, a full pass finds nothing to
/// change, and a new process rebuilding the firewall from scratch gets the same. Returns
/// that new process's dataplane.
async fn as_a_full_pass_would_leave_it(dataplane: Dataplane, v: &DesiredVpc) -> Dataplane {
    assert!(
        connects(&ns("eni-c5"), at("10.0.1.10", 81)).await,
        "a new member of the referenced group is let in"
    );
    assert!(connects(&ns("eni-c4"), at("10.0.1.10", 81)).await);
    assert_eq!(
        resolve(&ns("eni-c4"), "10.0.0.2", "db.internal").await,
        Some(Some(ip("10.0.1.20")))
    );
    assert!(Netns::open(&namespace_of("eni-c1").unwrap()).is_err());
    let desired = Desired {
        vpcs: vec![v.clone()],
    };
    assert_eq!(
        apply(&dataplane, &desired).await,
        0,
        "a full pass finds nothing to change"
    );
    let applied_alone = firewall("vpc-dpt1");
    assert!(
        applied_alone.0.iter().any(|o| o.contains("\"10.0.2.20\"")),
        "the new interface's elements are listed: {applied_alone:?}"
    );
    drop(dataplane);
    let rebuilt = Dataplane::start(Uplink::None).await.unwrap();
    apply(&rebuilt, &desired).await;
    assert_eq!(firewall("vpc-dpt1"), applied_alone);
    rebuilt
}

/// The firewall of a router namespace as a comparable value: every table, chain, set and
/// map with its elements in order-independent form, and each chain's rules in order;
/// handles (which differ between builds) left out.
fn firewall(vpc_id: &str) -> (BTreeSet<String>, BTreeMap<String, Vec<String>>) {
    let out = std::process::Command::new("nsenter")
        .arg(format!(
            "--net=/run/netns/{}",
            namespace_of(vpc_id).unwrap()
        ))
        .args(["nft", "-j", "list", "ruleset"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    fn normalize(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("handle");
                for (key, v) in map.iter_mut() {
                    normalize(v);
                    if key == "elem" {
                        if let serde_json::Value::Array(items) = v {
                            items.sort_by_key(|i| i.to_string());
                        }
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(normalize),
            _ => {}
        }
    }
    let (mut objects, mut rules) = (BTreeSet::new(), BTreeMap::<String, Vec<String>>::new());
    for mut item in json["nftables"].as_array().unwrap().clone() {
        normalize(&mut item);
        if let Some(rule) = item.get("rule") {
            let chain = format!("{} {} {}", rule["family"], rule["table"], rule["chain"]);
            rules.entry(chain).or_default().push(rule.to_string());
        } else if item.get("metainfo").is_none() {
            objects.insert(item.to_string());
        }
    }
    (objects, rules)
}

#[test]
fn interfaces_applied_alone_leave_what_a_full_pass_would() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = two_subnets();
        apply_vpc(&dataplane, &v).await;
        let srv = ns("eni-srv");
        let _ref = serve(&srv, at("10.0.1.10", 81)).await;

        // A new group set (new chains) with a resolver name, one sharing the chains of
        // others, then two deletes, one of them the last user of its group set.
        v.enis.push(eni(
            "eni-c4",
            "subnet-a",
            "10.0.1.20",
            &["sg-client", "sg-other"],
        ));
        v.names.insert("db.internal".into(), ip("10.0.1.20"));
        assert!(dataplane.apply_realized(&v).await.unwrap().is_some());
        v.enis
            .push(eni("eni-c5", "subnet-b", "10.0.2.20", &["sg-client"]));
        assert!(dataplane.apply_realized(&v).await.unwrap().is_some());
        v.enis.retain(|e| e.id != "eni-c1" && e.id != "eni-o");
        assert!(dataplane.apply_realized(&v).await.unwrap().is_some());

        assert!(Netns::open(&namespace_of("eni-o").unwrap()).is_err());
        let rebuilt = as_a_full_pass_would_leave_it(dataplane, &v).await;

        // A VPC this process has not realized is left to a full pass.
        let mut other = vpc("vpc-dpt9", "10.9.0.0/16");
        other.subnets = vec![subnet("subnet-z", "10.9.1.0/24", vec![])];
        assert!(rebuilt.apply_realized(&other).await.unwrap().is_none());
        rebuilt.remove_all().await.unwrap();
    });
}

#[test]
fn one_interface_applied_alone_leaves_what_a_full_pass_would() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = two_subnets();
        v.subnets[1].routes = vec![default_to(RouteTarget::Eni("eni-o".into()))];
        apply_vpc(&dataplane, &v).await;
        let srv = ns("eni-srv");
        let _ref = serve(&srv, at("10.0.1.10", 81)).await;
        // Applies one interface's change to the dataplane and to `v`, as the daemon does.
        async fn change(
            dataplane: &Dataplane,
            v: &mut DesiredVpc,
            id: &str,
            now: Option<DesiredEni>,
            names: Vec<(String, Option<Ipv4Addr>)>,
        ) -> bool {
            let delta = EniDelta {
                vpc: v.id.clone(),
                id: id.into(),
                eni: now.clone(),
                names: names.clone(),
            };
            if dataplane.apply_eni(&delta).await.unwrap().is_none() {
                return false;
            }
            v.enis.retain(|e| e.id != id);
            v.enis.extend(now);
            for (name, ip) in names {
                match ip {
                    Some(ip) => v.names.insert(name, ip),
                    None => v.names.remove(&name),
                };
            }
            true
        }

        // A new group set (new chains) with a resolver name, one sharing the chains of
        // others, a change of groups, then two deletes, one the last user of its group set.
        let c4 = eni(
            "eni-c4",
            "subnet-a",
            "10.0.1.20",
            &["sg-client", "sg-other"],
        );
        let name = vec![("db.internal".to_owned(), Some(ip("10.0.1.20")))];
        assert!(change(&dataplane, &mut v, "eni-c4", Some(c4), name).await);
        let c5 = eni("eni-c5", "subnet-b", "10.0.2.20", &["sg-other"]);
        assert!(change(&dataplane, &mut v, "eni-c5", Some(c5.clone()), vec![]).await);
        assert!(
            blocked(&ns("eni-c5"), at("10.0.1.10", 81)).await,
            "not yet a member of the referenced group"
        );
        let c5 = DesiredEni {
            security_groups: vec!["sg-client".into()],
            ..c5
        };
        assert!(change(&dataplane, &mut v, "eni-c5", Some(c5), vec![]).await);
        assert!(change(&dataplane, &mut v, "eni-c1", None, vec![]).await);

        // Changes that reach beyond the interface are declined, and change nothing.
        let declined = [
            ("eni-o", None),
            (
                "eni-c6",
                Some(DesiredEni {
                    public_ip: Some(ip("198.51.100.5")),
                    ..eni("eni-c6", "subnet-a", "10.0.1.30", &["sg-client"])
                }),
            ),
            (
                "eni-c6",
                Some(eni("eni-c6", "subnet-a", "10.0.1.10", &["sg-client"])),
            ),
            (
                "eni-c6",
                Some(eni("eni-c6", "subnet-a", "10.0.1.30", &["sg-gone"])),
            ),
            ("eni-c6", Some(eni("eni-c6", "subnet-z", "10.0.1.30", &[]))),
        ];
        for (id, now) in declined {
            assert!(!change(&dataplane, &mut v, id, now, vec![]).await, "{id}");
        }
        assert!(Netns::open(&namespace_of("eni-c6").unwrap()).is_err());

        let rebuilt = as_a_full_pass_would_leave_it(dataplane, &v).await;
        rebuilt.remove_all().await.unwrap();
    });
}

/// Asks the DNS server at `server`:53 from inside `netns` for the A record of `name`:
/// `None` without an answer within a second, `Some(None)` for NXDOMAIN.
async fn resolve(netns: &Netns, server: &str, name: &str) -> Option<Option<Ipv4Addr>> {
    let server = at(server, 53);
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    netns
        .spawn(move || {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            socket.send_to(&query, server).ok()?;
            let mut reply = [0u8; 512];
            let len = socket.recv(&mut reply).ok()?;
            let reply = &reply[..len];
            assert_eq!(&reply[..2], &[0x12, 0x34]);
            match (reply[3] & 0x0f, reply[7]) {
                (3, _) => Some(None),
                (0, 1) => Some(Some(Ipv4Addr::new(
                    reply[len - 4],
                    reply[len - 3],
                    reply[len - 2],
                    reply[len - 1],
                ))),
                other => panic!("unexpected reply {other:?}"),
            }
        })
        .await
        .unwrap()
}

#[test]
fn the_vpc_resolver_answers_its_names_in_every_subnet_and_nothing_else() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut a = two_subnets();
        // No egress rule at all: security groups do not filter the resolver.
        a.security_groups[2].egress.clear();
        a.names = [
            ("db.internal".to_owned(), ip("10.0.1.10")),
            ("ip-10-0-2-10.ec2.internal".to_owned(), ip("10.0.2.10")),
        ]
        .into();
        let mut b = vpc("vpc-dptb", "10.2.0.0/16");
        b.subnets = vec![subnet("subnet-b1", "10.2.1.0/24", vec![])];
        b.security_groups = vec![group("sg-b", vec![])];
        b.enis = vec![eni("eni-b1", "subnet-b1", "10.2.1.10", &["sg-b"])];
        let mut desired = Desired {
            vpcs: vec![a.clone(), b],
        };
        apply(&dataplane, &desired).await;
        let (c1, other, b1) = (ns("eni-c1"), ns("eni-o"), ns("eni-b1"));

        let db = Some(Some(ip("10.0.1.10")));
        assert_eq!(resolve(&c1, "10.0.0.2", "db.internal").await, db);
        assert_eq!(resolve(&other, "10.0.0.2", "DB.internal").await, db);
        assert_eq!(
            resolve(&other, "10.0.0.2", "ip-10-0-2-10.ec2.internal").await,
            Some(Some(ip("10.0.2.10")))
        );
        assert_eq!(resolve(&c1, "10.0.0.2", "example.com").await, Some(None));
        assert_eq!(
            resolve(&b1, "10.2.0.2", "db.internal").await,
            Some(None),
            "VPC B's resolver has its own names"
        );
        assert_eq!(
            resolve(&b1, "10.0.0.2", "db.internal").await,
            None,
            "VPC A's resolver is not reachable from VPC B"
        );

        // Names change without touching the firewall.
        a.names.insert("cache.internal".into(), ip("10.0.2.11"));
        desired.vpcs[0] = a.clone();
        assert_eq!(apply(&dataplane, &desired).await, 0);
        assert_eq!(
            resolve(&c1, "10.0.0.2", "cache.internal").await,
            Some(Some(ip("10.0.2.11")))
        );
        dataplane.remove_all().await.unwrap();
        assert!(Netns::list_with_prefix("vl-").unwrap().is_empty());
    });
}

/// Whether a TCP connect from inside `netns`, from source address `from`, to `to`
/// completes within 1.5 s.
async fn connects_from(netns: &Netns, from: &str, to: SocketAddrV4) -> bool {
    let from = at(from, 0);
    let socket = netns
        .spawn(move || {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(from.into())?;
            Ok::<_, std::io::Error>(socket)
        })
        .await
        .unwrap()
        .unwrap();
    matches!(
        tokio::time::timeout(Duration::from_millis(1500), socket.connect(to.into())).await,
        Ok(Ok(_))
    )
}

#[test]
fn an_interface_sends_from_its_own_address_only() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let mut v = two_subnets();
        // eni-o forwards for others (a NAT instance): no source check.
        v.enis[3].source_dest_check = false;
        let mut desired = Desired {
            vpcs: vec![v.clone()],
        };
        apply(&dataplane, &desired).await;
        let _web = serve(&ns("eni-srv"), at("10.0.1.10", 80)).await;
        let (c1, c2, other) = (ns("eni-c1"), ns("eni-c2"), ns("eni-o"));
        for (netns, spoofed) in [
            (&c1, "10.0.1.200/24"),
            (&c2, "10.0.2.200/24"),
            (&other, "10.0.2.201/24"),
        ] {
            Netlink::connect(netns)
                .await
                .unwrap()
                .add_address("eth0", cidr(spoofed))
                .await
                .unwrap();
        }

        assert!(
            connects_from(&c1, "10.0.1.11", at("10.0.1.10", 80)).await,
            "own address, same subnet"
        );
        assert!(
            !connects_from(&c1, "10.0.1.200", at("10.0.1.10", 80)).await,
            "spoofed, same subnet"
        );
        assert!(
            connects_from(&c2, "10.0.2.10", at("10.0.1.10", 80)).await,
            "own address, routed"
        );
        assert!(
            !connects_from(&c2, "10.0.2.200", at("10.0.1.10", 80)).await,
            "spoofed, routed"
        );
        assert!(
            connects_from(&other, "10.0.2.201", at("10.0.1.10", 80)).await,
            "no check without the source/dest check"
        );

        // Turning the check on is an incremental change that takes effect.
        v.enis[3].source_dest_check = true;
        desired.vpcs = vec![v.clone()];
        apply(&dataplane, &desired).await;
        assert!(
            !connects_from(&other, "10.0.2.201", at("10.0.1.10", 80)).await,
            "checked now"
        );
        assert!(
            connects_from(&other, "10.0.2.11", at("10.0.1.10", 80)).await,
            "own address"
        );
        dataplane.remove_all().await.unwrap();
    });
}

/// A gateway endpoint: the subnet whose routes send the service's prefix to it connects to
/// the router's own socket there, as its security groups' egress allows; a subnet without
/// the route gets nowhere (no NAT, no internet gateway), and neither does an interface
/// whose groups allow no egress to the prefix.
#[test]
fn gateway_endpoints_deliver_to_the_router_for_routed_subnets_only() {
    in_test_host(MARK, || async {
        let dataplane = Dataplane::start(Uplink::None).await.unwrap();
        let service = at("203.0.113.101", 443);
        let mut v = vpc("vpc-dptgw", "10.6.0.0/16");
        v.subnets = vec![
            subnet(
                "subnet-gw",
                "10.6.1.0/24",
                vec![DesiredRoute {
                    destination: cidr("203.0.113.101/32"),
                    target: RouteTarget::Endpoint("vpce-1".into()),
                }],
            ),
            subnet("subnet-nogw", "10.6.2.0/24", vec![]),
        ];
        let mut closed = group("sg-closed", vec![]);
        closed.egress = vec![SgRule {
            protocol: Protocol::All,
            peer: Peer::Cidr(cidr("10.0.0.0/8")),
        }];
        v.security_groups = vec![group("sg-open", vec![]), closed];
        v.enis = vec![
            eni("eni-gw1", "subnet-gw", "10.6.1.10", &["sg-open"]),
            eni("eni-gw2", "subnet-gw", "10.6.1.11", &["sg-closed"]),
            eni("eni-nogw", "subnet-nogw", "10.6.2.10", &["sg-open"]),
        ];
        v.served = vec![service];
        apply_vpc(&dataplane, &v).await;
        let listener = dataplane
            .serve_in_router("vpc-dptgw", service)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((_stream, peer)) = listener.accept().await {
                let _ = tx.send(peer);
            }
        });
        assert!(connects(&ns("eni-gw1"), service).await, "routed subnet");
        assert_eq!(
            accepted.recv().await.unwrap().ip(),
            std::net::IpAddr::V4(ip("10.6.1.10")),
            "the source is the interface's own address"
        );
        assert!(blocked(&ns("eni-nogw"), service).await, "no route");
        assert!(blocked(&ns("eni-gw2"), service).await, "egress rules");
        assert!(
            blocked(&ns("eni-gw1"), at("203.0.113.101", 80)).await,
            "only the served port"
        );
        // Removing the route takes the path away again.
        v.subnets[0].routes.clear();
        apply_vpc(&dataplane, &v).await;
        assert!(blocked(&ns("eni-gw1"), service).await, "route removed");
        dataplane.remove_all().await.unwrap();
    });
}
