//! Domain tests against a real SQLite store: transactions, allocation under concurrency,
//! the default VPC, lookups for Lambda, service-managed ENIs, the NAT gateway lifecycle and
//! Elastic IP associations, VPC endpoints and prefix lists.

use std::collections::BTreeSet;
use std::thread;

use super::endpoint::{self, EndpointChange, NewVpcEndpoint};
use super::gateway::{self, NewAddress, NewAssociation, NewNatGateway};
use super::model::{Address, Route, RouteTarget, Tag, VpcEndpoint};
use super::network_interface::{self, NewAttachment, NewNetworkInterface};
use super::route_table::{self, RouteSpec};
use super::security_group::{
    self, Direction, GroupTarget, NewSecurityGroup, PermissionSpec, RangeSpec,
};
use super::subnet::{self, NewSubnet};
use super::vpc::{self, NewVpc, VpcAttribute};
use super::{account, lookup, ClientToken, Ec2Error, Filter, Page, TagSpec};
use crate::store::{Scope, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).unwrap();
    (dir, store)
}

fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

/// A VPC with one subnet of `cidr`; returns (vpc id, subnet id).
fn network(store: &Store, cidr: &str) -> (String, String) {
    let s = scope();
    store
        .write(|tx| -> Result<_, Ec2Error> {
            let v = vpc::create(
                tx,
                &s,
                &NewVpc {
                    cidr_block: Some("10.0.0.0/16".into()),
                    ..NewVpc::default()
                },
            )?;
            let sn = subnet::create(
                tx,
                &s,
                &NewSubnet {
                    vpc_id: Some(v.id.clone()),
                    cidr_block: Some(cidr.into()),
                    ..NewSubnet::default()
                },
            )?;
            Ok((v.id, sn.id))
        })
        .unwrap()
}

fn eni(subnet_id: &str) -> NewNetworkInterface {
    NewNetworkInterface {
        subnet_id: Some(subnet_id.into()),
        ..NewNetworkInterface::default()
    }
}

#[test]
fn default_vpc_is_created_once() {
    let (_d, store) = store();
    let s = scope();
    for _ in 0..2 {
        store
            .write(|tx| account::ensure_default_vpc(tx, &s))
            .unwrap();
    }
    let (vpcs, _) = store
        .read(|tx| vpc::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap();
    assert_eq!(vpcs.len(), 1);
    assert!(vpcs[0].is_default);
    let (subnets, _) = store
        .read(|tx| subnet::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap();
    assert_eq!(subnets.len(), 3);
    assert!(subnets
        .iter()
        .all(|s| s.default_for_az && s.map_public_ip_on_launch));
    // Deleting it is allowed once its parts are gone, and it does not come back.
    let id = vpcs[0].id.clone();
    let err = store.write(|tx| vpc::delete(tx, &s, &id)).unwrap_err();
    assert_eq!(err.code(), "DependencyViolation");
    store
        .write(|tx| -> Result<(), Ec2Error> {
            for sn in &subnets {
                subnet::delete(tx, &s, &sn.id)?;
            }
            let igw = gateway::internet_gateway_of(tx, &s, &id)?.unwrap();
            gateway::detach_internet_gateway(tx, &s, &igw.id, &id)?;
            gateway::delete_internet_gateway(tx, &s, &igw.id)?;
            vpc::delete(tx, &s, &id)?;
            account::ensure_default_vpc(tx, &s)
        })
        .unwrap();
    let left = store.read(|tx| vpc::default_vpc(tx, &s)).unwrap();
    assert_eq!(left, None);
}

#[test]
fn concurrent_allocation_is_exact() {
    let (_d, store) = store();
    let (_, subnet_id) = network(&store, "10.0.0.0/24");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let subnet_id = subnet_id.clone();
            thread::spawn(move || {
                let s = scope();
                (0..20)
                    .map(|_| {
                        store
                            .write(|tx| network_interface::create(tx, &s, &eni(&subnet_id), None))
                            .unwrap()
                            .private_ip_address
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ips: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let unique: BTreeSet<&String> = ips.iter().collect();
    assert_eq!(ips.len(), 160);
    assert_eq!(unique.len(), 160);
    let info = store
        .read(|tx| lookup::subnet(tx, &scope(), &subnet_id).map_err(Ec2Error::from))
        .unwrap()
        .unwrap();
    assert_eq!(info.available_ip_address_count, 251 - 160);
}

/// A subnet record of the previous version, which listed every address handed out
/// (`allocated`), keeps its allocations: the free count is exact, taken addresses stay
/// taken, the lowest free one goes next, releasing works, and the record is written back
/// in the new shape.
#[test]
fn subnets_stored_by_the_previous_version_keep_their_allocations() {
    use super::model::{kind, Subnet};
    use crate::store::TxExt;

    let (_d, store) = store();
    let (_, subnet_id) = network(&store, "10.0.1.0/24");
    let s = scope();
    let legacy = store
        .write(|tx| -> Result<_, Ec2Error> {
            let mut record: serde_json::Value = tx.get_json(kind::SUBNET, &s, &subnet_id)?.unwrap();
            let object = record.as_object_mut().unwrap();
            object.remove("addresses");
            // As the previous version wrote it: in string order, not address order.
            object.insert(
                "allocated".into(),
                serde_json::json!({
                    "10.0.1.10": "eni-a",
                    "10.0.1.4": "eni-b",
                    "10.0.1.5": "eni-b",
                    "10.0.1.7": "eni-c",
                }),
            );
            tx.put_json(kind::SUBNET, &s, &subnet_id, &record)?;
            Ok(record)
        })
        .unwrap();
    assert!(legacy.get("addresses").is_none());
    let free = |store: &Store| {
        store
            .read(|tx| lookup::subnet(tx, &s, &subnet_id).map_err(Ec2Error::from))
            .unwrap()
            .unwrap()
            .available_ip_address_count
    };
    assert_eq!(free(&store), 251 - 4);
    let create = |ip: Option<&str>| {
        store.write(|tx| {
            let new = NewNetworkInterface {
                private_ip_address: ip.map(str::to_owned),
                ..eni(&subnet_id)
            };
            network_interface::create(tx, &s, &new, None)
        })
    };
    assert_eq!(
        create(Some("10.0.1.7")).unwrap_err().code(),
        "InvalidIPAddress.InUse"
    );
    let next: Vec<String> = (0..4)
        .map(|_| create(None).unwrap().private_ip_address)
        .collect();
    assert_eq!(next, ["10.0.1.6", "10.0.1.8", "10.0.1.9", "10.0.1.11"]);
    assert_eq!(free(&store), 251 - 8);
    let rewritten: serde_json::Value = store
        .read(|tx| tx.get_json(kind::SUBNET, &s, &subnet_id))
        .unwrap()
        .unwrap();
    assert!(rewritten.get("allocated").is_none(), "{rewritten}");
    assert!(rewritten.get("addresses").is_some(), "{rewritten}");
    let subnet: Subnet = serde_json::from_value(rewritten).unwrap();
    assert_eq!(subnet.available_ip_address_count(), 251 - 8);
    let eni = store
        .read(|tx| network_interface::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap()
        .0
        .into_iter()
        .find(|e| e.private_ip_address == "10.0.1.8")
        .unwrap();
    store
        .write(|tx| network_interface::delete(tx, &s, &eni.id))
        .unwrap();
    assert_eq!(free(&store), 251 - 7);
    assert_eq!(create(None).unwrap().private_ip_address, "10.0.1.8");
}

#[test]
fn failed_calls_leave_nothing_behind() {
    let (_d, store) = store();
    let s = scope();
    let (_, subnet_id) = network(&store, "10.0.1.0/28");
    store
        .write(|tx| network_interface::create(tx, &s, &eni(&subnet_id), None))
        .unwrap();
    // The NAT gateway's interface would take an address, then the EIP lookup fails: the
    // whole transaction rolls back.
    let err = store
        .write(|tx| {
            gateway::create_nat_gateway(
                tx,
                &s,
                &NewNatGateway {
                    subnet_id: Some(subnet_id.clone()),
                    allocation_id: Some("eipalloc-1".into()),
                    ..NewNatGateway::default()
                },
                None,
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidAllocationID.NotFound");
    let count = store
        .read(|tx| subnet::get(tx, &s, &subnet_id))
        .unwrap()
        .available_ip_address_count();
    assert_eq!(count, 10);
}

#[test]
fn lookups_for_lambda() {
    let (_d, store) = store();
    let s = scope();
    let (vpc_id, subnet_id) = network(&store, "10.0.2.0/24");
    let group = store
        .write(|tx| {
            security_group::create(
                tx,
                &s,
                &NewSecurityGroup {
                    name: Some("fn".into()),
                    description: Some("fn".into()),
                    vpc_id: Some(vpc_id.clone()),
                    ..NewSecurityGroup::default()
                },
            )
        })
        .unwrap();
    store
        .read(|tx| -> Result<(), Ec2Error> {
            let v = lookup::vpc(tx, &s, &vpc_id)?.unwrap();
            assert_eq!(
                (v.cidr_block.as_str(), v.instance_tenancy.as_str()),
                ("10.0.0.0/16", "default")
            );
            let sn = lookup::subnet(tx, &s, &subnet_id)?.unwrap();
            assert_eq!(sn.vpc_id, vpc_id);
            assert_eq!(sn.availability_zone, "us-east-1a");
            assert_eq!(sn.availability_zone_id, "use1-az1");
            assert_eq!(sn.available_ip_address_count, 251);
            let g = lookup::security_group(tx, &s, &group.id)?.unwrap();
            assert_eq!(
                (g.vpc_id.as_str(), g.name.as_str()),
                (vpc_id.as_str(), "fn")
            );
            assert!(lookup::vpc(tx, &s, "vpc-1")?.is_none());
            assert!(
                lookup::subnet(tx, &Scope::new("111111111111", "us-east-1"), &subnet_id)?.is_none()
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn service_managed_enis() {
    let (_d, store) = store();
    let s = scope();
    let (_, subnet_id) = network(&store, "10.0.3.0/24");
    let lambda_eni = NewNetworkInterface {
        description: Some("AWS Lambda VPC ENI-fn-1".into()),
        interface_type: Some("lambda".into()),
        requester_id: Some("AROAEXAMPLE:123456789012".into()),
        attachment: Some(NewAttachment {
            id_prefix: "ela-attach".into(),
            instance_owner_id: "amazon-aws".into(),
            instance_id: None,
            device_index: 1,
        }),
        ..eni(&subnet_id)
    };
    let e = store
        .write(|tx| network_interface::create(tx, &s, &lambda_eni, None))
        .unwrap();
    assert_eq!(e.status, "in-use");
    assert_eq!(e.interface_type, "lambda");
    let attachment = e.attachment.clone().unwrap();
    assert!(attachment.attachment_id.starts_with("ela-attach-"));
    let err = store
        .write(|tx| network_interface::delete(tx, &s, &e.id))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Network interface '{}' is currently in use.", e.id)
    );
    let err = store
        .write(|tx| network_interface::detach(tx, &s, &attachment.attachment_id))
        .unwrap_err();
    assert_eq!(err.code(), "OperationNotPermitted");
    let left = store
        .write(|tx| network_interface::detach_managed(tx, &s, &e.id))
        .unwrap();
    assert_eq!(left.status, "available");
    store
        .write(|tx| network_interface::delete_managed(tx, &s, &e.id))
        .unwrap();
    let count = store
        .read(|tx| subnet::get(tx, &s, &subnet_id))
        .unwrap()
        .available_ip_address_count();
    assert_eq!(count, 251);
}

#[test]
fn nat_gateway_lifecycle() {
    let (_d, store) = store();
    let s = scope();
    let (_, subnet_id) = network(&store, "10.0.4.0/24");
    let (nat, eip) = store
        .write(|tx| -> Result<_, Ec2Error> {
            let eip = gateway::allocate_address(tx, &s, &NewAddress::default())?;
            let nat = gateway::create_nat_gateway(
                tx,
                &s,
                &NewNatGateway {
                    subnet_id: Some(subnet_id.clone()),
                    allocation_id: Some(eip.allocation_id.clone()),
                    ..NewNatGateway::default()
                },
                None,
            )?;
            Ok((nat, eip))
        })
        .unwrap();
    assert_eq!(nat.state, "pending");
    assert_eq!(eip.public_ip, "198.51.100.1");
    let nat = store
        .write(|tx| gateway::nat_gateway_available(tx, &s, &nat.id))
        .unwrap();
    assert_eq!(nat.state, "available");
    let err = store
        .write(|tx| gateway::release_address(tx, &s, Some(&eip.allocation_id), None))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidIPAddress.InUse");
    let deleting = store
        .write(|tx| gateway::delete_nat_gateway(tx, &s, &nat.id))
        .unwrap();
    assert_eq!(deleting.state, "deleting");
    let deleted = store
        .write(|tx| gateway::nat_gateway_deleted(tx, &s, &nat.id))
        .unwrap();
    assert_eq!(deleted.state, "deleted");
    assert!(deleted.delete_time.is_some());
    store
        .write(|tx| -> Result<(), Ec2Error> {
            assert_eq!(
                subnet::get(tx, &s, &subnet_id)?.available_ip_address_count(),
                251
            );
            gateway::release_address(tx, &s, Some(&eip.allocation_id), None)
        })
        .unwrap();
}

#[test]
fn rule_changes_bump_the_revision() {
    let (_d, store) = store();
    let s = scope();
    let (vpc_id, _) = network(&store, "10.0.5.0/24");
    let g = store
        .write(|tx| {
            security_group::create(
                tx,
                &s,
                &NewSecurityGroup {
                    name: Some("r".into()),
                    description: Some("r".into()),
                    vpc_id: Some(vpc_id.clone()),
                    ..NewSecurityGroup::default()
                },
            )
        })
        .unwrap();
    let target = GroupTarget {
        id: Some(g.id.clone()),
        name: None,
    };
    let perm = PermissionSpec {
        protocol: Some("tcp".into()),
        from_port: Some(22),
        to_port: Some(22),
        ip_ranges: vec![RangeSpec {
            value: "0.0.0.0/0".into(),
            description: None,
        }],
        ..PermissionSpec::default()
    };
    let after = store
        .write(|tx| -> Result<_, Ec2Error> {
            security_group::authorize(
                tx,
                &s,
                &target,
                Direction::Ingress,
                std::slice::from_ref(&perm),
            )?;
            let dup = security_group::authorize(
                tx,
                &s,
                &target,
                Direction::Ingress,
                std::slice::from_ref(&perm),
            );
            assert_eq!(dup.unwrap_err().code(), "InvalidPermission.Duplicate");
            security_group::revoke(
                tx,
                &s,
                &target,
                Direction::Ingress,
                std::slice::from_ref(&perm),
                &[],
            )?;
            security_group::resolve(tx, &s, &target)
        })
        .unwrap();
    assert_eq!(after.revision, g.revision + 2);
    assert!(after.ingress.is_empty());
}

fn associate(
    store: &Store,
    allocation_id: &str,
    eni_id: &str,
    allow_reassociation: bool,
) -> Result<String, Ec2Error> {
    let s = scope();
    store.write(|tx| {
        gateway::associate_address(
            tx,
            &s,
            &NewAssociation {
                allocation_id: Some(allocation_id.into()),
                network_interface_id: Some(eni_id.into()),
                allow_reassociation,
                ..NewAssociation::default()
            },
        )
    })
}

fn address(store: &Store, allocation_id: &str) -> Address {
    let s = scope();
    store
        .read(|tx| gateway::describe_addresses(tx, &s, &[allocation_id.into()], &[], &[]))
        .unwrap()
        .remove(0)
}

fn public_ip_of(store: &Store, eni_id: &str) -> Option<String> {
    let s = scope();
    store
        .read(|tx| network_interface::get(tx, &s, eni_id))
        .unwrap()
        .association
        .map(|a| a.public_ip)
}

#[test]
fn elastic_ips_move_between_interfaces() {
    let (_d, store) = store();
    let s = scope();
    let (vpc_id, subnet_id) = network(&store, "10.0.6.0/24");
    let (one, two, eip, other) = store
        .write(|tx| -> Result<_, Ec2Error> {
            let one = network_interface::create(tx, &s, &eni(&subnet_id), None)?;
            let two = network_interface::create(tx, &s, &eni(&subnet_id), None)?;
            let eip = gateway::allocate_address(tx, &s, &NewAddress::default())?;
            let other = gateway::allocate_address(tx, &s, &NewAddress::default())?;
            Ok((one.id, two.id, eip, other))
        })
        .unwrap();

    let err = associate(&store, &eip.allocation_id, &one, false).unwrap_err();
    assert_eq!(err.code(), "Gateway.NotAttached");
    assert_eq!(
        err.to_string(),
        format!("Network {vpc_id} is not attached to any internet gateway")
    );
    store
        .write(|tx| -> Result<(), Ec2Error> {
            let igw = gateway::create_internet_gateway(tx, &s, &[])?;
            gateway::attach_internet_gateway(tx, &s, &igw.id, &vpc_id)
        })
        .unwrap();
    let err = associate(&store, "eipalloc-1", &one, false).unwrap_err();
    assert_eq!(err.code(), "InvalidAllocationID.NotFound");
    let err = associate(&store, &eip.allocation_id, "eni-1", false).unwrap_err();
    assert_eq!(err.code(), "InvalidNetworkInterfaceID.NotFound");

    let first = associate(&store, &eip.allocation_id, &one, false).unwrap();
    assert!(first.starts_with("eipassoc-"), "{first}");
    assert_eq!(
        associate(&store, &eip.allocation_id, &one, false).unwrap(),
        first,
        "the same association again changes nothing"
    );
    let a = address(&store, &eip.allocation_id);
    assert_eq!(a.association_id.as_deref(), Some(first.as_str()));
    assert_eq!(a.network_interface_id.as_deref(), Some(one.as_str()));
    assert_eq!(
        a.network_interface_owner_id.as_deref(),
        Some("000000000000")
    );
    assert_eq!(a.private_ip_address.as_deref(), Some("10.0.6.4"));
    assert_eq!(public_ip_of(&store, &one), Some(eip.public_ip.clone()));

    let err = associate(&store, &eip.allocation_id, &two, false).unwrap_err();
    assert_eq!(err.code(), "Resource.AlreadyAssociated");
    assert_eq!(
        err.to_string(),
        format!(
            "resource {} is already associated with associate-id {first}",
            eip.allocation_id
        )
    );
    let err = store
        .write(|tx| gateway::release_address(tx, &s, Some(&eip.allocation_id), None))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidIPAddress.InUse");

    let moved = associate(&store, &eip.allocation_id, &two, true).unwrap();
    assert_ne!(moved, first);
    assert_eq!(public_ip_of(&store, &one), None);
    assert_eq!(public_ip_of(&store, &two), Some(eip.public_ip.clone()));

    // A second address for the same interface takes the place of the first.
    associate(&store, &other.allocation_id, &two, false).unwrap();
    assert_eq!(public_ip_of(&store, &two), Some(other.public_ip.clone()));
    assert_eq!(address(&store, &eip.allocation_id).association_id, None);

    let err = store
        .write(|tx| gateway::disassociate_address(tx, &s, Some(&moved), None))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidAssociationID.NotFound");
    assert_eq!(
        err.to_string(),
        format!("The association ID '{moved}' does not exist")
    );
    let current = address(&store, &other.allocation_id)
        .association_id
        .unwrap();
    store
        .write(|tx| gateway::disassociate_address(tx, &s, Some(&current), None))
        .unwrap();
    assert_eq!(public_ip_of(&store, &two), None);
    assert_eq!(
        address(&store, &other.allocation_id).network_interface_id,
        None
    );
    store
        .write(|tx| gateway::disassociate_address(tx, &s, None, Some(&other.public_ip)))
        .unwrap();
    store
        .write(|tx| gateway::release_address(tx, &s, Some(&other.allocation_id), None))
        .unwrap();
}

#[test]
fn a_nat_gateways_address_is_not_the_accounts_to_move() {
    let (_d, store) = store();
    let s = scope();
    let (vpc_id, subnet_id) = network(&store, "10.0.7.0/24");
    let (nat, eni_id, spare) = store
        .write(|tx| -> Result<_, Ec2Error> {
            let igw = gateway::create_internet_gateway(tx, &s, &[])?;
            gateway::attach_internet_gateway(tx, &s, &igw.id, &vpc_id)?;
            let eip = gateway::allocate_address(tx, &s, &NewAddress::default())?;
            let nat = gateway::create_nat_gateway(
                tx,
                &s,
                &NewNatGateway {
                    subnet_id: Some(subnet_id.clone()),
                    allocation_id: Some(eip.allocation_id.clone()),
                    ..NewNatGateway::default()
                },
                None,
            )?;
            let eni = network_interface::create(tx, &s, &eni(&subnet_id), None)?;
            let spare = gateway::allocate_address(tx, &s, &NewAddress::default())?;
            Ok((nat, eni.id, spare))
        })
        .unwrap();
    let held = &nat.addresses[0];
    let allocation_id = held.allocation_id.clone().unwrap();
    let err = associate(&store, &allocation_id, &eni_id, true).unwrap_err();
    assert_eq!(err.code(), "AuthFailure");
    assert_eq!(
        err.to_string(),
        "You do not have permission to access the specified resource."
    );
    let err = associate(
        &store,
        &spare.allocation_id,
        &held.network_interface_id,
        true,
    )
    .unwrap_err();
    assert_eq!(err.code(), "AuthFailure");
    let association_id = held.association_id.clone().unwrap();
    let err = store
        .write(|tx| gateway::disassociate_address(tx, &s, Some(&association_id), None))
        .unwrap_err();
    assert_eq!(err.code(), "AuthFailure");
    assert_eq!(
        address(&store, &allocation_id)
            .network_interface_id
            .as_deref(),
        Some(held.network_interface_id.as_str())
    );
}

/// A VPC with subnets in us-east-1a, us-east-1b and a second one in us-east-1a, a custom
/// route table and a security group.
struct EndpointNet {
    vpc: String,
    a: String,
    b: String,
    a2: String,
    table: String,
    sg: String,
}

fn endpoint_net(store: &Store) -> EndpointNet {
    let s = scope();
    store
        .write(|tx| -> Result<_, Ec2Error> {
            let v = vpc::create(
                tx,
                &s,
                &NewVpc {
                    cidr_block: Some("10.1.0.0/16".into()),
                    ..NewVpc::default()
                },
            )?;
            let mut sub = |cidr: &str, az: &str| {
                subnet::create(
                    tx,
                    &s,
                    &NewSubnet {
                        vpc_id: Some(v.id.clone()),
                        cidr_block: Some(cidr.into()),
                        availability_zone: Some(az.into()),
                        ..NewSubnet::default()
                    },
                )
                .map(|sn| sn.id)
            };
            let a = sub("10.1.1.0/24", "us-east-1a")?;
            let b = sub("10.1.2.0/24", "us-east-1b")?;
            let a2 = sub("10.1.3.0/24", "us-east-1a")?;
            let table = route_table::create(tx, &s, &v.id, &[], None)?.id;
            let sg = security_group::create(
                tx,
                &s,
                &NewSecurityGroup {
                    name: Some("vpce".into()),
                    description: Some("vpce".into()),
                    vpc_id: Some(v.id.clone()),
                    ..NewSecurityGroup::default()
                },
            )?
            .id;
            Ok(EndpointNet {
                vpc: v.id,
                a,
                b,
                a2,
                table,
                sg,
            })
        })
        .unwrap()
}

fn s3_gateway(net: &EndpointNet) -> NewVpcEndpoint {
    NewVpcEndpoint {
        vpc_id: Some(net.vpc.clone()),
        service_name: Some("com.amazonaws.us-east-1.s3".into()),
        route_table_ids: vec![net.table.clone()],
        ..NewVpcEndpoint::default()
    }
}

fn sts_interface(net: &EndpointNet, subnets: &[&str]) -> NewVpcEndpoint {
    NewVpcEndpoint {
        endpoint_type: Some("Interface".into()),
        vpc_id: Some(net.vpc.clone()),
        service_name: Some("com.amazonaws.us-east-1.sts".into()),
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        security_group_ids: vec![net.sg.clone()],
        private_dns_enabled: Some(false),
        ..NewVpcEndpoint::default()
    }
}

fn enable_dns(store: &Store, vpc_id: &str) {
    let s = scope();
    store
        .write(|tx| -> Result<(), Ec2Error> {
            vpc::modify_attribute(tx, &s, vpc_id, VpcAttribute::EnableDnsHostnames, true)?;
            vpc::modify_attribute(tx, &s, vpc_id, VpcAttribute::EnableDnsSupport, true)?;
            Ok(())
        })
        .unwrap();
}

fn endpoint_routes(store: &Store, table_id: &str) -> Vec<Route> {
    let s = scope();
    let (tables, _) = store
        .read(|tx| route_table::describe(tx, &s, &[table_id.to_string()], &[], &Page::default()))
        .unwrap();
    tables[0]
        .routes
        .iter()
        .filter(|r| r.destination_prefix_list_id.is_some())
        .cloned()
        .collect()
}

fn create_endpoint(store: &Store, req: &NewVpcEndpoint) -> Result<VpcEndpoint, Ec2Error> {
    let s = scope();
    store.write(|tx| endpoint::create(tx, &s, req, None))
}

#[test]
fn gateway_endpoints_route_to_the_prefix_list() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let e = create_endpoint(&store, &s3_gateway(&net)).unwrap();
    assert!(e.id.starts_with("vpce-"));
    assert_eq!(e.endpoint_type, "Gateway");
    assert_eq!(e.state, "pending");
    assert_eq!(e.policy_document, endpoint::FULL_ACCESS_POLICY);
    assert_eq!(e.route_table_ids, [net.table.as_str()]);
    assert_eq!(
        endpoint_routes(&store, &net.table),
        [Route {
            destination_cidr_block: None,
            destination_ipv6_cidr_block: None,
            destination_prefix_list_id: Some("pl-63a5400a".into()),
            target: RouteTarget::VpcEndpoint(e.id.clone()),
            origin: "CreateRoute".into(),
            state: "active".into(),
        }]
    );
    // One endpoint route per prefix list in a table.
    let err = create_endpoint(&store, &s3_gateway(&net)).unwrap_err();
    assert_eq!(err.code(), "RouteAlreadyExists");
    // The user may not delete it; the endpoint manages it.
    let spec = RouteSpec {
        destination_prefix_list_id: Some("pl-63a5400a".into()),
        ..RouteSpec::default()
    };
    let err = store
        .write(|tx| route_table::delete_route(tx, &s, &net.table, &spec))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(err.to_string().contains(&e.id));
    // Nor route the AWS-managed list elsewhere, or a list that does not exist.
    let before = endpoint_routes(&store, &net.table);
    for (list, cidr, code) in [
        ("pl-63a5400a", None, "InvalidParameterValue"),
        ("pl-00000000", None, "InvalidPrefixListID.NotFound"),
        (
            "pl-63a5400a",
            Some("10.9.0.0/16"),
            "InvalidParameterCombination",
        ),
    ] {
        let spec = RouteSpec {
            destination_prefix_list_id: Some(list.into()),
            destination_cidr_block: cidr.map(str::to_owned),
            gateway_id: Some(e.id.clone()),
            ..RouteSpec::default()
        };
        for change in [route_table::create_route, route_table::replace_route] {
            let err = store
                .write(|tx| change(tx, &s, &net.table, &spec))
                .unwrap_err();
            assert_eq!(err.code(), code, "{list} {cidr:?}");
        }
    }
    assert_eq!(endpoint_routes(&store, &net.table), before);
    // Interface-only parameters are refused.
    for bad in [
        NewVpcEndpoint {
            subnet_ids: vec![net.a.clone()],
            ..s3_gateway(&net)
        },
        NewVpcEndpoint {
            security_group_ids: vec![net.sg.clone()],
            ..s3_gateway(&net)
        },
        NewVpcEndpoint {
            private_dns_enabled: Some(true),
            ..s3_gateway(&net)
        },
    ] {
        assert_eq!(
            create_endpoint(&store, &bad).unwrap_err().code(),
            "InvalidParameter"
        );
    }
    // Only s3 has a gateway; sts is interface only.
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.sts".into()),
            ..s3_gateway(&net)
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Endpoint type (Gateway) does not match available service types ([Interface])."
    );
    let available = store
        .write(|tx| endpoint::endpoint_available(tx, &s, &e.id))
        .unwrap();
    assert_eq!(available.state, "available");
    assert_eq!(
        store.read(|tx| endpoint::list_all(tx, &s)).unwrap(),
        [available]
    );
}

#[test]
fn unknown_services_and_dynamodb_are_refused() {
    let (_d, store) = store();
    let net = endpoint_net(&store);
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.dynamodb".into()),
            ..s3_gateway(&net)
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidServiceName");
    assert!(err
        .to_string()
        .contains("vpclambda does not serve DynamoDB"));
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.kinesis".into()),
            ..s3_gateway(&net)
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The Vpc Endpoint Service 'com.amazonaws.us-east-1.kinesis' does not exist"
    );
    // Nothing was written: the route table has no endpoint route.
    assert!(endpoint_routes(&store, &net.table).is_empty());
}

#[test]
fn interface_endpoints_make_one_managed_eni_per_subnet() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let e = create_endpoint(&store, &sts_interface(&net, &[&net.a, &net.b])).unwrap();
    assert_eq!(e.subnet_ids, [net.a.clone(), net.b.clone()]);
    assert_eq!(e.network_interface_ids.len(), 2);
    assert_eq!(e.groups.len(), 1);
    assert_eq!(e.groups[0].id, net.sg);
    for (subnet_id, eni_id) in e.subnet_ids.iter().zip(&e.network_interface_ids) {
        let eni = store
            .read(|tx| network_interface::get(tx, &s, eni_id))
            .unwrap();
        assert_eq!(eni.subnet_id, *subnet_id);
        assert_eq!(eni.interface_type, "vpc_endpoint");
        assert!(eni.requester_managed);
        assert_eq!(eni.requester_id.as_deref(), Some("amazon-aws"));
        assert_eq!(eni.description, format!("VPC Endpoint Interface {}", e.id));
        assert_eq!(eni.groups, e.groups);
    }
    let names: Vec<&str> = e.dns_entries.iter().map(|d| d.dns_name.as_str()).collect();
    assert_eq!(names.len(), 3);
    let label = names[0].split('.').next().unwrap();
    let random = label.strip_prefix(&format!("{}-", e.id)).unwrap();
    assert_eq!(random.len(), 8);
    assert_eq!(
        names[0],
        format!("{label}.sts.us-east-1.vpce.amazonaws.com")
    );
    assert_eq!(
        names[1],
        format!("{label}-us-east-1a.sts.us-east-1.vpce.amazonaws.com")
    );
    assert_eq!(
        names[2],
        format!("{label}-us-east-1b.sts.us-east-1.vpce.amazonaws.com")
    );
    assert!(e
        .dns_entries
        .iter()
        .all(|d| d.hosted_zone_id.starts_with('Z')));

    // Without groups: the VPC's default group.
    let dflt = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.logs".into()),
            security_group_ids: Vec::new(),
            ..sts_interface(&net, &[&net.a])
        },
    )
    .unwrap();
    assert_eq!(dflt.groups[0].name, "default");

    // One subnet per AZ.
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.lambda".into()),
            ..sts_interface(&net, &[&net.a, &net.a2])
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), "DuplicateSubnetsInSameZone");
    assert_eq!(
        err.to_string(),
        format!("Found another VPC endpoint subnet in the availability zone of {}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.", net.a2)
    );
    // Route tables are for gateways.
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            route_table_ids: vec![net.table.clone()],
            ..sts_interface(&net, &[&net.a])
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Route table IDs are only supported for Gateway type VPC Endpoint."
    );
    // Refused calls made no ENIs.
    let (enis, _) = store
        .read(|tx| network_interface::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap();
    assert_eq!(enis.len(), 3);
}

#[test]
fn private_dns_needs_the_vpc_dns_attributes() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let wanted = NewVpcEndpoint {
        private_dns_enabled: None,
        ..sts_interface(&net, &[&net.a])
    };
    let err = create_endpoint(&store, &wanted).unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");
    assert_eq!(
        err.to_string(),
        format!("Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {}", net.vpc)
    );
    let off = create_endpoint(&store, &sts_interface(&net, &[&net.a])).unwrap();
    let err = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &off.id,
                &EndpointChange {
                    private_dns_enabled: Some(true),
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");
    enable_dns(&store, &net.vpc);
    let on = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &off.id,
                &EndpointChange {
                    private_dns_enabled: Some(true),
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap();
    assert!(on.private_dns_enabled);
    assert_eq!(on.dns_entries.len(), 3);
    assert_eq!(on.dns_entries[0].dns_name, off.dns_entries[0].dns_name);
    assert_eq!(on.dns_entries[2].dns_name, "sts.us-east-1.amazonaws.com");
    let s3 = create_endpoint(
        &store,
        &NewVpcEndpoint {
            service_name: Some("com.amazonaws.us-east-1.s3".into()),
            private_dns_enabled: None,
            ..sts_interface(&net, &[&net.b])
        },
    )
    .unwrap();
    let names: Vec<&str> = s3.dns_entries[2..]
        .iter()
        .map(|d| d.dns_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["s3.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com"]
    );
}

#[test]
fn policies_are_validated() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let err = create_endpoint(
        &store,
        &NewVpcEndpoint {
            policy_document: Some("{\"Statement\": 1}".into()),
            ..s3_gateway(&net)
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidPolicyDocument");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*"}]}"#;
    let e = create_endpoint(
        &store,
        &NewVpcEndpoint {
            policy_document: Some(deny.into()),
            ..s3_gateway(&net)
        },
    )
    .unwrap();
    assert_eq!(e.policy_document, deny);
    let reset = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &e.id,
                &EndpointChange {
                    reset_policy: true,
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap();
    assert_eq!(reset.policy_document, endpoint::FULL_ACCESS_POLICY);
    let err = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &e.id,
                &EndpointChange {
                    policy_document: Some("nope".into()),
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidPolicyDocument");
}

#[test]
fn client_tokens_return_the_first_endpoint() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let req = s3_gateway(&net);
    let token = ClientToken::new("CreateVpcEndpoint", "t-1", &req).unwrap();
    let first = store
        .write(|tx| endpoint::create(tx, &s, &req, Some(&token)))
        .unwrap();
    let again = store
        .write(|tx| endpoint::create(tx, &s, &req, Some(&token)))
        .unwrap();
    assert_eq!(first, again);
    let other = NewVpcEndpoint {
        route_table_ids: Vec::new(),
        ..req
    };
    let mismatch = ClientToken::new("CreateVpcEndpoint", "t-1", &other).unwrap();
    let err = store
        .write(|tx| endpoint::create(tx, &s, &other, Some(&mismatch)))
        .unwrap_err();
    assert_eq!(err.code(), "IdempotentParameterMismatch");
}

#[test]
fn modify_moves_route_tables_subnets_and_groups() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let main = store
        .read(|tx| {
            vpc::describe(
                tx,
                &s,
                std::slice::from_ref(&net.vpc),
                &[],
                &Page::default(),
            )
        })
        .unwrap()
        .0[0]
        .main_route_table_id
        .clone();
    let gw = create_endpoint(&store, &s3_gateway(&net)).unwrap();
    let gw = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &gw.id,
                &EndpointChange {
                    add_route_table_ids: vec![main.clone()],
                    remove_route_table_ids: vec![net.table.clone()],
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap();
    assert_eq!(gw.route_table_ids, [main.as_str()]);
    assert!(endpoint_routes(&store, &net.table).is_empty());
    assert_eq!(endpoint_routes(&store, &main).len(), 1);
    let err = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &gw.id,
                &EndpointChange {
                    add_subnet_ids: vec![net.a.clone()],
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");

    let e = create_endpoint(&store, &sts_interface(&net, &[&net.a])).unwrap();
    let old_eni = e.network_interface_ids[0].clone();
    let err = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &e.id,
                &EndpointChange {
                    add_subnet_ids: vec![net.a2.clone()],
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "DuplicateSubnetsInSameZone");
    let default_sg = store
        .read(|tx| {
            vpc::describe(
                tx,
                &s,
                std::slice::from_ref(&net.vpc),
                &[],
                &Page::default(),
            )
        })
        .unwrap()
        .0[0]
        .default_security_group_id
        .clone();
    let moved = store
        .write(|tx| {
            endpoint::modify(
                tx,
                &s,
                &e.id,
                &EndpointChange {
                    remove_subnet_ids: vec![net.a.clone()],
                    add_subnet_ids: vec![net.a2.clone(), net.b.clone()],
                    add_security_group_ids: vec![default_sg.clone()],
                    remove_security_group_ids: vec![net.sg.clone()],
                    ..EndpointChange::default()
                },
            )
        })
        .unwrap();
    assert_eq!(moved.subnet_ids, [net.a2.clone(), net.b.clone()]);
    assert_eq!(moved.network_interface_ids.len(), 2);
    assert_eq!(moved.groups[0].id, default_sg);
    assert_eq!(moved.dns_entries.len(), 3);
    assert!(moved.dns_entries[1].dns_name.contains("-us-east-1a."));
    assert!(moved.dns_entries[2].dns_name.contains("-us-east-1b."));
    assert_eq!(
        moved.dns_entries[0].dns_name.split('.').next(),
        e.dns_entries[0].dns_name.split('.').next()
    );
    let gone = store.read(|tx| network_interface::get(tx, &s, &old_eni));
    assert!(gone.is_err());
    for eni_id in &moved.network_interface_ids {
        let eni = store
            .read(|tx| network_interface::get(tx, &s, eni_id))
            .unwrap();
        assert_eq!(eni.groups, moved.groups);
    }
}

#[test]
fn delete_removes_routes_enis_and_reports_unknown_ids() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let gw = create_endpoint(&store, &s3_gateway(&net)).unwrap();
    let e = create_endpoint(&store, &sts_interface(&net, &[&net.a, &net.b])).unwrap();
    let err = store.write(|tx| vpc::delete(tx, &s, &net.vpc)).unwrap_err();
    assert_eq!(err.code(), "DependencyViolation");
    let failed = store
        .write(|tx| {
            endpoint::delete(
                tx,
                &s,
                &[gw.id.clone(), e.id.clone(), "vpce-0123456789abcdef0".into()],
            )
        })
        .unwrap();
    assert_eq!(
        failed,
        [endpoint::Unsuccessful {
            resource_id: "vpce-0123456789abcdef0".into(),
            code: "InvalidVpcEndpoint.NotFound".into(),
            message: "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist".into(),
        }]
    );
    assert!(endpoint_routes(&store, &net.table).is_empty());
    let (enis, _) = store
        .read(|tx| network_interface::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap();
    assert!(enis.is_empty());
    assert_eq!(
        store
            .read(|tx| subnet::get(tx, &s, &net.a))
            .unwrap()
            .available_ip_address_count(),
        251
    );
    assert!(store
        .read(|tx| endpoint::list_all(tx, &s))
        .unwrap()
        .is_empty());
    let err = store
        .write(|tx| endpoint::delete(tx, &s, &["bogus".into()]))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidVpcEndpointId.Malformed");
}

#[test]
fn deleting_a_route_table_drops_it_from_its_endpoints() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let gw = create_endpoint(&store, &s3_gateway(&net)).unwrap();
    store
        .write(|tx| route_table::delete(tx, &s, &net.table))
        .unwrap();
    let (left, _) = store
        .read(|tx| endpoint::describe(tx, &s, std::slice::from_ref(&gw.id), &[], &Page::default()))
        .unwrap();
    assert!(left[0].route_table_ids.is_empty());
}

#[test]
fn describe_filters_endpoints() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let gw = create_endpoint(
        &store,
        &NewVpcEndpoint {
            tag_specs: vec![TagSpec {
                resource_type: "vpc-endpoint".into(),
                tags: vec![Tag {
                    key: "Name".into(),
                    value: "s3".into(),
                }],
            }],
            ..s3_gateway(&net)
        },
    )
    .unwrap();
    let e = create_endpoint(&store, &sts_interface(&net, &[&net.a])).unwrap();
    let find = |name: &str, value: &str| -> Vec<String> {
        let f = [Filter {
            name: name.into(),
            values: vec![value.into()],
        }];
        store
            .read(|tx| endpoint::describe(tx, &s, &[], &f, &Page::default()))
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(
        find("service-name", "com.amazonaws.us-east-1.s3"),
        [gw.id.as_str()]
    );
    assert_eq!(find("vpc-endpoint-type", "Interface"), [e.id.as_str()]);
    assert_eq!(find("vpc-endpoint-id", &e.id), [e.id.as_str()]);
    assert_eq!(find("vpc-endpoint-state", "pending").len(), 2);
    assert_eq!(find("vpc-id", &net.vpc).len(), 2);
    assert_eq!(find("tag:Name", "s3"), [gw.id.as_str()]);
    assert_eq!(find("tag-key", "Name"), [gw.id.as_str()]);
    let err = store
        .read(|tx| {
            endpoint::describe(
                tx,
                &s,
                &["vpce-0123456789abcdef0".into()],
                &[],
                &Page::default(),
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidVpcEndpointId.NotFound");
    let (page, token) = store
        .read(|tx| {
            endpoint::describe(
                tx,
                &s,
                &[],
                &[],
                &Page {
                    max_results: Some(5),
                    next_token: None,
                },
            )
        })
        .unwrap();
    assert_eq!((page.len(), token), (2, None));
}

#[test]
fn security_group_rules_name_existing_prefix_lists() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let target = GroupTarget {
        id: Some(net.sg.clone()),
        name: None,
    };
    let perm = |pl: &str| PermissionSpec {
        protocol: Some("tcp".into()),
        from_port: Some(443),
        to_port: Some(443),
        prefix_list_ids: vec![RangeSpec {
            value: pl.into(),
            description: None,
        }],
        ..PermissionSpec::default()
    };
    let err = store
        .write(|tx| {
            security_group::authorize(tx, &s, &target, Direction::Egress, &[perm("pl-0badbad0")])
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidPrefixListID.NotFound");
    let added = store
        .write(|tx| {
            security_group::authorize(tx, &s, &target, Direction::Egress, &[perm("pl-63a5400a")])
        })
        .unwrap();
    assert_eq!(added.len(), 1);
}

#[test]
fn deleted_endpoints_are_shown_deleted_for_a_while_and_to_describe_only() {
    let (_d, store) = store();
    let s = scope();
    let net = endpoint_net(&store);
    let gw = create_endpoint(&store, &s3_gateway(&net)).unwrap();
    let e = create_endpoint(&store, &sts_interface(&net, &[&net.a])).unwrap();
    let failed = store
        .write(|tx| endpoint::delete(tx, &s, &[gw.id.clone(), e.id.clone()]))
        .unwrap();
    assert!(failed.is_empty());
    let described = store
        .read(|tx| endpoint::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap()
        .0;
    assert_eq!(described.len(), 2);
    assert!(described.iter().all(|e| e.state == "deleted"
        && e.route_table_ids.is_empty()
        && e.network_interface_ids.is_empty()));
    assert!(endpoint_routes(&store, &net.table).is_empty());
    assert!(store
        .read(|tx| endpoint::list_all(tx, &s))
        .unwrap()
        .is_empty());
    // Deleted is gone for everything else: modify, a second delete, DeleteVpc.
    let err = store
        .write(|tx| endpoint::modify(tx, &s, &gw.id, &endpoint::EndpointChange::default()))
        .unwrap_err();
    assert_eq!(err.code(), "InvalidVpcEndpointId.NotFound");
    let again = store
        .write(|tx| endpoint::delete(tx, &s, std::slice::from_ref(&gw.id)))
        .unwrap();
    assert_eq!(again[0].code, "InvalidVpcEndpoint.NotFound");
    // Ten minutes on, the records are gone.
    let later = chrono::Utc::now().timestamp() + endpoint::DELETED_SHOWN_SECS;
    store
        .write(|tx| endpoint::forget_deleted(tx, &s, later))
        .unwrap();
    let left = store
        .read(|tx| endpoint::describe(tx, &s, &[], &[], &Page::default()))
        .unwrap()
        .0;
    assert!(left.is_empty());
}
