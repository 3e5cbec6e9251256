//! Domain tests against a real SQLite store: transactions, allocation under concurrency,
//! the default VPC, lookups for Lambda, service-managed ENIs, the NAT gateway lifecycle and
//! Elastic IP associations.

use std::collections::BTreeSet;
use std::thread;

use super::gateway::{self, NewAddress, NewAssociation, NewNatGateway};
use super::model::Address;
use super::network_interface::{self, NewAttachment, NewNetworkInterface};
use super::security_group::{
    self, Direction, GroupTarget, NewSecurityGroup, PermissionSpec, RangeSpec,
};
use super::subnet::{self, NewSubnet};
use super::vpc::{self, NewVpc};
use super::{account, lookup, Ec2Error, Page};
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
