//! Privileged tests of the dataplane primitives (L2): each runs in its own private test host
//! (the `testhost` crate), rebuilds real topologies with the crate's API and checks them with real
//! TCP connects, always with a positive control next to every "is blocked". Skip when not root.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use net::names::{ifname, mac, netns_name};
use net::{Error, Ipv4Cidr, Netlink, Netns, Nft, NftFamily, Route, Rule, Step, Teardown};
use testhost::in_test_host;
use testhost::{blocked, connects, serve};

/// Part of every namespace name these tests create (`vl-env-nt-fn1`, `vl-nt-race`).
const TEST_MARK: &str = "nt-";

fn cidr(text: &str) -> Ipv4Cidr {
    text.parse().unwrap()
}

fn at(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip), port)
}

/// Creates a named namespace with `lo` up and records it for teardown.
async fn namespace(teardown: &mut Teardown, kind: &str, id: &str) -> (String, Netns, Netlink) {
    let name = netns_name(kind, &format!("{TEST_MARK}{id}")).unwrap();
    teardown.push(Step::Netns { name: name.clone() });
    let netns = Netns::create(&name).unwrap();
    let netlink = Netlink::connect(&netns).await.unwrap();
    netlink.set_up("lo").await.unwrap();
    (name, netns, netlink)
}

/// What must be left in the test host after a teardown: no namespace, link or table of ours.
async fn assert_nothing_left(nft: &Nft) {
    assert_eq!(
        Netns::list_with_prefix("vl-").unwrap(),
        Vec::<String>::new()
    );
    let host = Netns::current().unwrap();
    let links = Netlink::connect(&host)
        .await
        .unwrap()
        .links()
        .await
        .unwrap();
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lo"], "the test host holds only its loopback");
    assert!(nft.tables(&host).await.unwrap().is_empty());
}

/// Appendix A of the reliability notes, built with the crate: two function namespaces on a
/// subnet bridge in a router namespace, a simulated internet behind masquerade, and a
/// bridge-family rule blocking one port between the functions.
#[test]
fn appendix_a_topology_connects_and_blocks() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (rt_name, rt, rt_nl) = namespace(&mut teardown, "rt", "a").await;
        let (_, inet, inet_nl) = namespace(&mut teardown, "pub", "a").await;
        let (_, fn1, fn1_nl) = namespace(&mut teardown, "env", "fn1").await;
        let (_, fn2, fn2_nl) = namespace(&mut teardown, "env", "fn2").await;

        let bridge = ifname("b", "subnet-a").unwrap();
        teardown.push(Step::Link {
            netns: rt_name.clone(),
            name: bridge.clone(),
        });
        rt_nl
            .add_bridge(&bridge, mac("b", "subnet-a"))
            .await
            .unwrap();
        rt_nl
            .add_address(&bridge, cidr("10.0.1.1/28"))
            .await
            .unwrap();
        rt_nl.set_up(&bridge).await.unwrap();

        for (id, env, env_nl, ip) in [
            ("fn1", &fn1, &fn1_nl, "10.0.1.4/28"),
            ("fn2", &fn2, &fn2_nl, "10.0.1.5/28"),
        ] {
            let host_end = ifname("h", id).unwrap();
            teardown.push(Step::Link {
                netns: rt_name.clone(),
                name: host_end.clone(),
            });
            rt_nl.add_veth(&host_end, env, "eth0").await.unwrap();
            rt_nl.set_master(&host_end, &bridge).await.unwrap();
            rt_nl.set_up(&host_end).await.unwrap();
            env_nl.add_address("eth0", cidr(ip)).await.unwrap();
            env_nl.set_up("eth0").await.unwrap();
            env_nl
                .add_route(&Route::default_via(Ipv4Addr::new(10, 0, 1, 1)))
                .await
                .unwrap();
        }

        let uplink = ifname("u", "igw-a").unwrap();
        let wan = ifname("w", "igw-a").unwrap();
        teardown.push(Step::Link {
            netns: rt_name.clone(),
            name: uplink.clone(),
        });
        rt_nl.add_veth(&uplink, &inet, &wan).await.unwrap();
        rt_nl
            .add_address(&uplink, cidr("198.51.100.2/24"))
            .await
            .unwrap();
        rt_nl.set_up(&uplink).await.unwrap();
        inet_nl
            .add_address(&wan, cidr("198.51.100.1/24"))
            .await
            .unwrap();
        inet_nl.set_up(&wan).await.unwrap();

        rt.sysctl_set("net.ipv4.ip_forward", "1").unwrap();
        rt.sysctl_set("net.bridge.bridge-nf-call-iptables", "1")
            .unwrap();
        teardown.push(Step::NftTable {
            netns: rt_name.clone(),
            family: NftFamily::Ip,
            table: "vl_nat".into(),
        });
        teardown.push(Step::NftTable {
            netns: rt_name.clone(),
            family: NftFamily::Bridge,
            table: "vl_sg".into(),
        });
        let batch = format!(
            r#"
table ip vl_nat {{
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{uplink}" ip saddr 10.0.1.0/28 masquerade
  }}
}}
table bridge vl_sg {{
  chain sg_forward {{
    type filter hook forward priority 0; policy accept;
    ip daddr 10.0.1.5 tcp dport 8080 counter drop comment "block-8080"
  }}
}}
"#
        );
        nft.apply(&rt, &batch).await.unwrap();

        let mut internet = serve(&inet, at([198, 51, 100, 1], 80)).await;
        let _blocked_port = serve(&fn2, at([10, 0, 1, 5], 8080)).await;
        let _open_port = serve(&fn2, at([10, 0, 1, 5], 9090)).await;

        // Through the router and masquerade: the internet sees the router's public address.
        assert!(connects(&fn1, at([198, 51, 100, 1], 80)).await);
        let peer = internet.recv().await.unwrap();
        assert_eq!(peer.ip(), Ipv4Addr::new(198, 51, 100, 2));

        // Same subnet, across the bridge: 9090 connects (positive control), 8080 is dropped.
        assert!(connects(&fn1, at([10, 0, 1, 5], 9090)).await);
        assert!(blocked(&fn1, at([10, 0, 1, 5], 8080)).await);
        let counters = nft
            .rule_counters(&rt, NftFamily::Bridge, "vl_sg")
            .await
            .unwrap();
        let rule = counters
            .iter()
            .find(|c| c.comment.as_deref() == Some("block-8080"))
            .unwrap();
        assert!(rule.packets >= 1, "{counters:?}");

        // Nothing in the simulated internet routes to the subnet.
        assert!(blocked(&inet, at([10, 0, 1, 5], 9090)).await);
        assert!(connects(&fn2, at([10, 0, 1, 5], 9090)).await);

        // Remove the rule: the same probe now connects, so it was the rule that blocked.
        nft.delete_table(&rt, NftFamily::Bridge, "vl_sg")
            .await
            .unwrap();
        assert!(connects(&fn1, at([10, 0, 1, 5], 8080)).await);

        // No interface of the topology ever existed in the test host (the daemon's place).
        let host = Netlink::connect(&Netns::current().unwrap()).await.unwrap();
        assert_eq!(host.links_with_prefix("vl-").await.unwrap(), vec![]);
        assert!(host.routes(net::MAIN_TABLE).await.unwrap().is_empty());
        drop(host);

        drop((rt, rt_nl, inet, inet_nl, fn1, fn1_nl, fn2, fn2_nl));
        teardown.run().await.unwrap();
        assert_nothing_left(&nft).await;
    });
}

/// Creating twice and deleting twice succeed and leave one object, then none.
#[test]
fn creates_and_deletes_are_idempotent() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (a_name, a, a_nl) = namespace(&mut teardown, "rt", "idem").await;
        let (b_name, b, b_nl) = namespace(&mut teardown, "env", "idem").await;
        assert_eq!(
            Netns::create(&a_name).unwrap().inode().unwrap(),
            a.inode().unwrap()
        );
        assert_eq!(
            Netns::open(&b_name).unwrap().inode().unwrap(),
            b.inode().unwrap()
        );

        let bridge = ifname("b", "idem").unwrap();
        let veth = ifname("h", "idem").unwrap();
        let peer = ifname("p", "idem").unwrap();
        teardown.push(Step::Link {
            netns: a_name.clone(),
            name: bridge.clone(),
        });
        teardown.push(Step::Link {
            netns: a_name.clone(),
            name: veth.clone(),
        });
        for _ in 0..2 {
            a_nl.add_bridge(&bridge, mac("b", "idem")).await.unwrap();
            a_nl.add_veth(&veth, &b, &peer).await.unwrap();
            a_nl.set_master(&veth, &bridge).await.unwrap();
            a_nl.set_up(&veth).await.unwrap();
            a_nl.set_up(&bridge).await.unwrap();
            a_nl.set_mtu(&veth, 1400).await.unwrap();
            a_nl.add_address(&bridge, cidr("10.9.0.1/24"))
                .await
                .unwrap();
            b_nl.add_address(&peer, cidr("10.9.0.2/24")).await.unwrap();
            b_nl.set_up(&peer).await.unwrap();
            b_nl.add_route(&Route::default_via(Ipv4Addr::new(10, 9, 0, 1)))
                .await
                .unwrap();
            a_nl.add_route(
                &Route::via(cidr("10.8.0.0/16"), Ipv4Addr::new(10, 9, 0, 2)).in_table(100),
            )
            .await
            .unwrap();
            a_nl.add_rule(&Rule {
                from: cidr("10.9.0.0/24"),
                table: 100,
                priority: 100,
            })
            .await
            .unwrap();
            nft.apply(&a, "add table inet vl_idem\nadd chain inet vl_idem c\n")
                .await
                .unwrap();
        }
        assert!(matches!(
            a_nl.add_bridge(&veth, mac("b", "idem")).await,
            Err(Error::LinkKindMismatch { .. })
        ));

        let links = a_nl.links_with_prefix("vl-").await.unwrap();
        assert_eq!(links.len(), 2, "{links:?}");
        let bridge_link = links.iter().find(|l| l.name == bridge).unwrap();
        let veth_link = links.iter().find(|l| l.name == veth).unwrap();
        assert_eq!(bridge_link.kind.as_deref(), Some("bridge"));
        assert_eq!(veth_link.kind.as_deref(), Some("veth"));
        assert_eq!(veth_link.master, Some(bridge_link.index));
        assert_eq!(veth_link.mtu, Some(1400));
        assert!(veth_link.up && bridge_link.up);
        assert_eq!(
            a_nl.addresses(&bridge).await.unwrap(),
            vec![cidr("10.9.0.1/24")]
        );
        // The kernel resolves the gateway to its device, which the dump then reports.
        assert_eq!(
            a_nl.routes(100).await.unwrap(),
            vec![Route {
                device: Some(bridge.clone()),
                ..Route::via(cidr("10.8.0.0/16"), Ipv4Addr::new(10, 9, 0, 2)).in_table(100)
            }]
        );
        let rule = Rule {
            from: cidr("10.9.0.0/24"),
            table: 100,
            priority: 100,
        };
        let rules = a_nl.rules().await.unwrap();
        assert_eq!(rules.iter().filter(|r| **r == rule).count(), 1, "{rules:?}");
        let tables = nft.tables(&a).await.unwrap();
        assert_eq!(tables.len(), 1, "{tables:?}");

        // A route replaced with another gateway moves instead of failing.
        b_nl.add_route(&Route::default_via(Ipv4Addr::new(10, 9, 0, 3)))
            .await
            .unwrap();
        assert_eq!(
            b_nl.routes(net::MAIN_TABLE)
                .await
                .unwrap()
                .iter()
                .filter(|r| r.destination == Ipv4Cidr::ANY)
                .map(|r| r.gateway)
                .collect::<Vec<_>>(),
            vec![Some(Ipv4Addr::new(10, 9, 0, 3))]
        );

        for _ in 0..2 {
            nft.delete_table(&a, NftFamily::Inet, "vl_idem")
                .await
                .unwrap();
            a_nl.delete_rule(&rule).await.unwrap();
            a_nl.delete_route(
                &Route::via(cidr("10.8.0.0/16"), Ipv4Addr::new(10, 9, 0, 2)).in_table(100),
            )
            .await
            .unwrap();
            a_nl.delete_address(&bridge, cidr("10.9.0.1/24"))
                .await
                .unwrap();
            a_nl.delete_link(&veth).await.unwrap();
        }
        assert!(nft.tables(&a).await.unwrap().is_empty());
        assert!(!a_nl.rules().await.unwrap().contains(&rule));
        assert!(a_nl.routes(100).await.unwrap().is_empty());
        assert!(a_nl.addresses(&bridge).await.unwrap().is_empty());
        assert!(a_nl.link(&veth).await.unwrap().is_none());
        assert!(
            b_nl.link(&peer).await.unwrap().is_none(),
            "deleting one end removes both"
        );

        drop((a, a_nl, b, b_nl));
        teardown.run().await.unwrap();
        teardown.run().await.unwrap();
        Netns::delete(&a_name).unwrap();
        assert!(matches!(Netns::open(&a_name), Err(Error::NetnsNotFound(_))));
        assert_nothing_left(&nft).await;
    });
}

/// A subnet bridge is its hosts' gateway, so its hardware address must not move: a bridge
/// left to itself takes its lowest port's address, and hosts keep sending to the old one
/// from their ARP caches until the entries expire. Ports come and go; the address stays.
#[test]
fn a_bridge_keeps_its_address_as_ports_come_and_go() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (name, router, nl) = namespace(&mut teardown, "rt", "mac").await;
        let (_, host, _host_nl) = namespace(&mut teardown, "env", "mac").await;
        let bridge = ifname("b", "mac").unwrap();
        teardown.push(Step::Link {
            netns: name.clone(),
            name: bridge.clone(),
        });
        let own = mac("b", "mac");
        let mac_of = |link: &str| {
            let (nl, link) = (&nl, link.to_owned());
            async move { nl.link(&link).await.unwrap().unwrap().mac }
        };
        nl.add_bridge(&bridge, own).await.unwrap();
        assert_eq!(mac_of(&bridge).await, Some(own));
        let details = std::process::Command::new("nsenter")
            .arg(format!("--net={}/{name}", net::NETNS_RUN_DIR))
            .args(["ip", "-d", "link", "show", &bridge])
            .output()
            .unwrap();
        let details = String::from_utf8_lossy(&details.stdout);
        assert!(details.contains("mcast_snooping 0"), "{details}");
        for i in 0..4 {
            let port = ifname("h", &format!("mac{i}")).unwrap();
            nl.add_veth(&port, &host, &format!("eth{i}")).await.unwrap();
            nl.set_master(&port, &bridge).await.unwrap();
            assert_ne!(mac_of(&port).await, Some(own));
            assert_eq!(mac_of(&bridge).await, Some(own), "port {i} joined");
        }
        for i in 0..4 {
            nl.delete_link(&ifname("h", &format!("mac{i}")).unwrap())
                .await
                .unwrap();
            assert_eq!(mac_of(&bridge).await, Some(own), "port {i} left");
        }
        // A bridge that exists with another address (made by an older version) gets its own.
        let other = mac("b", "other");
        nl.add_bridge(&bridge, other).await.unwrap();
        assert_eq!(mac_of(&bridge).await, Some(other));
        assert_eq!(mac("b", "mac"), own, "derived, so stable across restarts");
        assert_eq!(own[0] & 0x03, 0x02, "locally administered unicast");

        drop((router, nl, host));
        teardown.run().await.unwrap();
        assert_nothing_left(&nft).await;
    });
}

/// Teardown removes the rest when the environment's namespace vanished first (netavark#1451).
#[test]
fn teardown_survives_a_vanished_namespace() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (rt_name, rt, rt_nl) = namespace(&mut teardown, "rt", "gone").await;
        let (env_name, env, env_nl) = namespace(&mut teardown, "env", "gone").await;
        let host_end = ifname("h", "gone").unwrap();
        teardown.push(Step::Link {
            netns: rt_name.clone(),
            name: host_end.clone(),
        });
        rt_nl.add_veth(&host_end, &env, "eth0").await.unwrap();
        rt_nl
            .add_address(&host_end, cidr("10.7.0.1/30"))
            .await
            .unwrap();
        teardown.push(Step::Address {
            netns: rt_name.clone(),
            link: host_end.clone(),
            address: cidr("10.7.0.1/30"),
        });
        env_nl
            .add_address("eth0", cidr("10.7.0.2/30"))
            .await
            .unwrap();
        env_nl.set_up("eth0").await.unwrap();
        let env_route = Route::on_link(cidr("10.6.0.0/24"), "eth0");
        env_nl.add_route(&env_route).await.unwrap();
        teardown.push(Step::Route {
            netns: env_name.clone(),
            route: env_route,
        });
        let rule = Rule {
            from: cidr("10.7.0.0/30"),
            table: 1000,
            priority: 1000,
        };
        rt_nl.add_rule(&rule).await.unwrap();
        teardown.push(Step::Rule {
            netns: rt_name.clone(),
            rule,
        });
        nft.apply(&env, "add table ip vl_env\n").await.unwrap();
        teardown.push(Step::NftTable {
            netns: env_name.clone(),
            family: NftFamily::Ip,
            table: "vl_env".into(),
        });
        nft.apply(&rt, "add table bridge vl_rt\n").await.unwrap();
        teardown.push(Step::NftTable {
            netns: rt_name.clone(),
            family: NftFamily::Bridge,
            table: "vl_rt".into(),
        });

        drop((env, env_nl));
        Netns::delete(&env_name).unwrap();
        let rt_check = Netns::open(&rt_name).unwrap();
        teardown.run().await.unwrap();
        assert!(nft.tables(&rt_check).await.unwrap().is_empty());
        let check_nl = Netlink::connect(&rt_check).await.unwrap();
        assert!(check_nl.link(&host_end).await.unwrap().is_none());
        assert!(!check_nl.rules().await.unwrap().contains(&rule));
        drop((check_nl, rt_check, rt, rt_nl));
        assert_nothing_left(&nft).await;
    });
}

/// /proc/sys/net follows the namespace of the thread that opens it: a write from a worker in
/// one namespace changes only that namespace.
#[test]
fn sysctls_are_per_namespace() {
    in_test_host(TEST_MARK, || async {
        let mut teardown = Teardown::new();
        let (_, a, _a_nl) = namespace(&mut teardown, "rt", "sysctl").await;
        let (_, b, _b_nl) = namespace(&mut teardown, "env", "sysctl").await;
        let host = Netns::current().unwrap();
        let key = "net.ipv4.ip_forward";
        assert_eq!(a.sysctl_get(key).unwrap(), "0");
        a.sysctl_set(key, "1").unwrap();
        assert_eq!(a.sysctl_get(key).unwrap(), "1");
        assert_eq!(b.sysctl_get(key).unwrap(), "0");
        assert_eq!(host.sysctl_get(key).unwrap(), "0");

        let bridge_key = "net.bridge.bridge-nf-call-iptables";
        let b_before = b.sysctl_get(bridge_key).unwrap();
        let flipped = if b_before == "1" { "0" } else { "1" };
        a.sysctl_set(bridge_key, flipped).unwrap();
        assert_eq!(a.sysctl_get(bridge_key).unwrap(), flipped);
        assert_eq!(b.sysctl_get(bridge_key).unwrap(), b_before);

        assert!(matches!(
            a.sysctl_set("kernel.hostname", "x"),
            Err(Error::InvalidSysctl(_))
        ));
        drop((a, b, _a_nl, _b_nl));
        teardown.run().await.unwrap();
    });
}

/// Work runs inside the target namespace and the caller's thread never moves.
#[test]
fn run_leaves_the_callers_namespace_alone() {
    in_test_host(TEST_MARK, || async {
        let mut teardown = Teardown::new();
        let (_, target, _nl) = namespace(&mut teardown, "env", "run").await;
        let before = Netns::current().unwrap().inode().unwrap();
        let inside = target
            .run(|| Netns::current().and_then(|ns| ns.inode()))
            .unwrap()
            .unwrap();
        assert_eq!(inside, target.inode().unwrap());
        let inside_async = target
            .spawn(|| Netns::current().and_then(|ns| ns.inode()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(inside_async, inside);
        assert_ne!(before, inside);
        assert_eq!(Netns::current().unwrap().inode().unwrap(), before);
        drop((target, _nl));
        teardown.run().await.unwrap();
    });
}

/// A batch with an error anywhere applies nothing; a batch naming a foreign table never
/// reaches the kernel.
#[test]
fn nft_batches_are_atomic_and_confined_to_our_tables() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (_, ns, _nl) = namespace(&mut teardown, "rt", "nft").await;
        let failed = nft
            .apply(
                &ns,
                "add table ip vl_atomic\nadd chain ip vl_atomic c\nadd rule ip vl_atomic missing drop\n",
            )
            .await;
        assert!(matches!(failed, Err(Error::Nft(_))), "{failed:?}");
        assert!(nft.tables(&ns).await.unwrap().is_empty());

        let refused = nft.apply(&ns, "add table ip filter\n").await;
        assert!(matches!(refused, Err(Error::NftRefused(_))), "{refused:?}");
        assert!(matches!(
            nft.delete_table(&ns, NftFamily::Ip, "filter").await,
            Err(Error::InvalidName { .. })
        ));
        assert!(nft.tables(&ns).await.unwrap().is_empty());

        nft.apply(&ns, "add table ip vl_ok\nadd chain ip vl_ok c\nadd rule ip vl_ok c counter accept comment \"x\"\n")
            .await
            .unwrap();
        nft.flush_table(&ns, NftFamily::Ip, "vl_ok").await.unwrap();
        assert!(nft
            .rule_counters(&ns, NftFamily::Ip, "vl_ok")
            .await
            .unwrap()
            .is_empty());
        nft.delete_table(&ns, NftFamily::Ip, "vl_ok").await.unwrap();
        drop((ns, _nl));
        teardown.run().await.unwrap();
    });
}

fn summary(label: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    println!(
        "{label}: n={} median={:.2} ms mean={:.2} ms min={:.2} ms max={:.2} ms",
        samples.len(),
        samples[samples.len() / 2],
        mean,
        samples[0],
        samples[samples.len() - 1]
    );
}

fn rules_batch(count: usize) -> String {
    let mut batch = String::from("add table ip vl_bench\nadd chain ip vl_bench c { type filter hook forward priority 0; policy accept; }\n");
    for i in 0..count {
        batch.push_str(&format!(
            "add rule ip vl_bench c ip saddr 10.{}.{}.0/24 tcp dport {} counter drop\n",
            (i / 256) % 256,
            i % 256,
            1024 + i
        ));
    }
    batch
}

/// Prints setup and nft latencies for the benchmarks issue; measures, asserts nothing.
/// Run: `cargo test -p net --test dataplane -- --ignored --nocapture measure`
#[test]
#[ignore]
fn measure_setup_and_nft_latency() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let mut teardown = Teardown::new();
        let (rt_name, rt, rt_nl) = namespace(&mut teardown, "rt", "bench").await;
        let bridge = ifname("b", "bench").unwrap();
        teardown.push(Step::Link {
            netns: rt_name.clone(),
            name: bridge.clone(),
        });
        rt_nl.add_bridge(&bridge, mac("b", "bench")).await.unwrap();
        rt_nl
            .add_address(&bridge, cidr("10.0.0.1/16"))
            .await
            .unwrap();
        rt_nl.set_up(&bridge).await.unwrap();

        let mut setup = Vec::new();
        for i in 0..30u8 {
            let id = format!("bench-{i}");
            let start = Instant::now();
            let name = netns_name("env", &format!("{TEST_MARK}{id}")).unwrap();
            let env = Netns::create(&name).unwrap();
            let host_end = ifname("h", &id).unwrap();
            rt_nl.add_veth(&host_end, &env, "eth0").await.unwrap();
            rt_nl.set_master(&host_end, &bridge).await.unwrap();
            rt_nl.set_up(&host_end).await.unwrap();
            let env_nl = Netlink::connect(&env).await.unwrap();
            env_nl
                .add_address("eth0", cidr(&format!("10.0.1.{}/16", i + 10)))
                .await
                .unwrap();
            env_nl.set_up("eth0").await.unwrap();
            env_nl
                .add_route(&Route::default_via(Ipv4Addr::new(10, 0, 0, 1)))
                .await
                .unwrap();
            setup.push(start.elapsed().as_secs_f64() * 1e3);
            teardown.push(Step::Netns { name });
            teardown.push(Step::Link {
                netns: rt_name.clone(),
                name: host_end,
            });
        }
        summary("netns+veth+bridge port+address+default route", setup);

        for count in [10usize, 1000] {
            let batch = rules_batch(count);
            let mut samples = Vec::new();
            for _ in 0..10 {
                let start = Instant::now();
                nft.apply(&rt, &batch).await.unwrap();
                samples.push(start.elapsed().as_secs_f64() * 1e3);
                nft.delete_table(&rt, NftFamily::Ip, "vl_bench")
                    .await
                    .unwrap();
            }
            summary(&format!("nft apply, {count} rules in one batch"), samples);
        }

        let mut teardown_ms = Vec::new();
        drop((rt, rt_nl));
        let start = Instant::now();
        teardown.run().await.unwrap();
        teardown_ms.push(start.elapsed().as_secs_f64() * 1e3);
        summary("teardown of the 30 environments + router", teardown_ms);
        assert_nothing_left(&nft).await;
    });
}

/// A bare file left by a crash between "create the file" and "mount the namespace" is not
/// taken for a namespace, and the next create finishes the job; racing creates of one name
/// in this process end with one namespace.
#[test]
fn create_recovers_a_half_created_namespace_and_serialises_races() {
    in_test_host(TEST_MARK, || async {
        std::fs::create_dir_all(net::NETNS_RUN_DIR).unwrap();
        let stale = format!("{}/vl-nt-stale", net::NETNS_RUN_DIR);
        std::fs::write(&stale, b"").unwrap();
        assert!(matches!(
            Netns::open("vl-nt-stale"),
            Err(Error::NotANetns(_))
        ));
        let recovered = Netns::create("vl-nt-stale").unwrap();
        assert_eq!(
            Netns::open("vl-nt-stale").unwrap().inode().unwrap(),
            recovered.inode().unwrap()
        );

        let racers: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| Netns::create("vl-nt-race").unwrap().inode().unwrap()))
            .collect();
        let inodes: Vec<u64> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        assert!(inodes.iter().all(|i| *i == inodes[0]), "{inodes:?}");
        assert_eq!(
            Netns::list_with_prefix("vl-").unwrap(),
            ["vl-nt-race", "vl-nt-stale"]
        );

        drop(recovered);
        for name in ["vl-nt-race", "vl-nt-stale"] {
            Netns::delete(name).unwrap();
        }
        assert_nothing_left(&Nft::load().unwrap()).await;
    });
}

#[test]
fn a_session_applies_in_its_namespace_from_any_thread() {
    in_test_host(TEST_MARK, || async {
        let nft = Nft::load().unwrap();
        let netns = Netns::create("vl-nft-session").unwrap();
        let session = nft.session(&netns).await.unwrap();
        session.apply("add table ip vl_session\n").await.unwrap();
        session
            .apply("add chain ip vl_session c\nadd rule ip vl_session c accept\n")
            .await
            .unwrap();
        // Another writer in between: the session's cache follows the ruleset's generation.
        nft.apply(&netns, "add chain ip vl_session d\n")
            .await
            .unwrap();
        session
            .apply("flush chain ip vl_session d\nadd rule ip vl_session d jump c\n")
            .await
            .unwrap();
        assert!(session
            .apply("add rule ip vl_session nope accept\n")
            .await
            .is_err());
        session
            .apply("add rule ip vl_session c drop\n")
            .await
            .unwrap();
        assert!(
            session.apply("flush ruleset\n").await.is_err(),
            "refused like Nft::apply"
        );
        let ours = |tables: Vec<net::NftTable>| tables.iter().any(|t| t.name == "vl_session");
        assert!(ours(nft.tables(&netns).await.unwrap()));
        assert!(!ours(nft.tables(&Netns::current().unwrap()).await.unwrap()));
        drop(session);
        Netns::delete("vl-nft-session").unwrap();
    });
}
