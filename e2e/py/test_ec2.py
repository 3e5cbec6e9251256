"""EC2 VPC control plane (issue "EC2 VPC control plane and IAM", EC2 half): VPCs, subnets,
security groups, ENIs and their IP allocation, gateways, route tables, tags, errors, and
persistence, driven by boto3 and the aws CLI against the real daemon."""

import ipaddress
import subprocess
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import REGION

HERE = Path(__file__).resolve().parent
CLI_SCRIPT = HERE.parent / "ec2-cli.sh"


def err(call, *args, **kw):
    """The ClientError a call raises, as (code, message, status)."""
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def tags(name):
    return lambda rtype: [{"ResourceType": rtype, "Tags": [{"Key": "Name", "Value": name}]}]


def build_topology(ec2):
    """The acceptance topology: a VPC with public and private subnets in two AZs, an IGW, a
    NAT gateway with an EIP, route tables, security groups referencing each other, ENIs."""
    t = tags("acc")
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16", TagSpecifications=t("vpc"))["Vpc"]
    vpc_id = vpc["VpcId"]
    ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id], WaiterConfig={"Delay": 1})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets = {}
    for name, cidr, az in [
        ("public-a", "10.10.0.0/24", "us-east-1a"),
        ("public-b", "10.10.1.0/24", "us-east-1b"),
        ("private-a", "10.10.10.0/24", "us-east-1a"),
        ("private-b", "10.10.11.0/24", "us-east-1b"),
    ]:
        s = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az,
                              TagSpecifications=[{"ResourceType": "subnet",
                                                  "Tags": [{"Key": "Name", "Value": name}]}])["Subnet"]
        subnets[name] = s
    for name in ("public-a", "public-b"):
        ec2.modify_subnet_attribute(SubnetId=subnets[name]["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway(TagSpecifications=t("internet-gateway"))["InternetGateway"]
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=t("elastic-ip"))
    nat = ec2.create_nat_gateway(SubnetId=subnets["public-a"]["SubnetId"], AllocationId=eip["AllocationId"],
                                 TagSpecifications=t("natgateway"))["NatGateway"]
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nat["NatGatewayId"]], WaiterConfig={"Delay": 1})
    public_rt = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=t("route-table"))["RouteTable"]
    ec2.create_route(RouteTableId=public_rt["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=igw["InternetGatewayId"])
    private_rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]
    ec2.create_route(RouteTableId=private_rt["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                     NatGatewayId=nat["NatGatewayId"])
    assoc = {}
    for name in ("public-a", "public-b"):
        assoc[name] = ec2.associate_route_table(RouteTableId=public_rt["RouteTableId"],
                                                SubnetId=subnets[name]["SubnetId"])["AssociationId"]
    for name in ("private-a", "private-b"):
        assoc[name] = ec2.associate_route_table(RouteTableId=private_rt["RouteTableId"],
                                                SubnetId=subnets[name]["SubnetId"])["AssociationId"]
    web = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    db = ec2.create_security_group(GroupName="db", Description="db tier", VpcId=vpc_id,
                                   TagSpecifications=t("security-group"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}]}])
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}])
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": db}]}])
    enis = [
        ec2.create_network_interface(SubnetId=subnets["private-a"]["SubnetId"], Groups=[web],
                                     Description="web eni", TagSpecifications=t("network-interface"))
        ["NetworkInterface"],
        ec2.create_network_interface(SubnetId=subnets["private-b"]["SubnetId"], Groups=[db, web],
                                     Description="db eni", PrivateIpAddress="10.10.11.50")["NetworkInterface"],
    ]
    return dict(vpc=vpc, subnets=subnets, igw=igw, eip=eip, nat=nat, public_rt=public_rt,
                private_rt=private_rt, assoc=assoc, web=web, db=db, enis=enis)


def snapshot(ec2, vpc_id):
    """Every describe of the VPC's resources, normalised for comparison."""
    f = [{"Name": "vpc-id", "Values": [vpc_id]}]
    by = lambda key: (lambda items: sorted(items, key=lambda x: x[key]))
    return {
        "vpcs": ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"],
        "subnets": by("SubnetId")(ec2.describe_subnets(Filters=f)["Subnets"]),
        "groups": by("GroupId")(ec2.describe_security_groups(Filters=f)["SecurityGroups"]),
        "enis": by("NetworkInterfaceId")(ec2.describe_network_interfaces(Filters=f)["NetworkInterfaces"]),
        "rts": by("RouteTableId")(ec2.describe_route_tables(Filters=f)["RouteTables"]),
        "igws": ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"],
        "nats": ec2.describe_nat_gateways(Filters=f)["NatGateways"],
        "eips": ec2.describe_addresses()["Addresses"],
        "tags": ec2.describe_tags()["Tags"],
        "rules": by("SecurityGroupRuleId")(ec2.describe_security_group_rules()["SecurityGroupRules"]),
    }


# ---- (1) the acceptance topology with boto3 ----

def test_boto3_topology_describes_what_was_created(daemon):
    ec2 = daemon.client("ec2")
    t = build_topology(ec2)
    vpc_id = t["vpc"]["VpcId"]

    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.10.0.0/16" and vpc["State"] == "available"
    assert vpc["IsDefault"] is False and vpc["InstanceTenancy"] == "default"
    assert vpc["OwnerId"] == "000000000000" and vpc["DhcpOptionsId"]
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.10.0.0/16"
    assert vpc["Tags"] == [{"Key": "Name", "Value": "acc"}]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"] == {"Value": True}
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")[
        "EnableDnsSupport"] == {"Value": True}

    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert len(subnets) == 4
    by_name = {next(x["Value"] for x in s["Tags"] if x["Key"] == "Name"): s for s in subnets}
    pa = by_name["public-a"]
    assert pa["CidrBlock"] == "10.10.0.0/24" and pa["AvailabilityZone"] == "us-east-1a"
    assert pa["AvailabilityZoneId"] == "use1-az1" and pa["MapPublicIpOnLaunch"] is True
    assert pa["SubnetArn"] == f"arn:aws:ec2:{REGION}:000000000000:subnet/{pa['SubnetId']}"
    assert pa["DefaultForAz"] is False and pa["State"] == "available"
    # The NAT gateway holds one address of public-a; the ENIs one each of the private ones.
    assert pa["AvailableIpAddressCount"] == 251 - 1
    assert by_name["public-b"]["AvailableIpAddressCount"] == 251
    assert by_name["private-a"]["AvailableIpAddressCount"] == 250
    assert by_name["private-b"]["AvailabilityZone"] == "us-east-1b"

    igws = ec2.describe_internet_gateways(InternetGatewayIds=[t["igw"]["InternetGatewayId"]])["InternetGateways"]
    assert igws[0]["Attachments"] == [{"State": "available", "VpcId": vpc_id}]

    eip = ec2.describe_addresses(AllocationIds=[t["eip"]["AllocationId"]])["Addresses"][0]
    assert eip["Domain"] == "vpc" and eip["PublicIpv4Pool"] == "amazon"
    assert eip["NetworkBorderGroup"] == REGION
    assert ipaddress.ip_address(eip["PublicIp"]) in ipaddress.ip_network("198.51.100.0/24")

    nat = ec2.describe_nat_gateways(NatGatewayIds=[t["nat"]["NatGatewayId"]])["NatGateways"][0]
    assert t["nat"]["State"] == "pending" and nat["State"] == "available"
    assert nat["ConnectivityType"] == "public" and nat["VpcId"] == vpc_id
    addr = nat["NatGatewayAddresses"][0]
    assert addr["AllocationId"] == eip["AllocationId"] and addr["PublicIp"] == eip["PublicIp"]
    assert addr["PrivateIp"] == "10.10.0.4" and addr["IsPrimary"] is True
    assert eip["NetworkInterfaceId"] == addr["NetworkInterfaceId"]
    assert eip["PrivateIpAddress"] == "10.10.0.4" and eip["AssociationId"].startswith("eipassoc-")
    nat_eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[addr["NetworkInterfaceId"]])[
        "NetworkInterfaces"][0]
    assert nat_eni["InterfaceType"] == "nat_gateway" and nat_eni["RequesterManaged"] is True
    assert nat_eni["Status"] == "in-use" and nat_eni["Groups"] == []
    assert nat_eni["Association"]["PublicIp"] == eip["PublicIp"]

    rts = {r["RouteTableId"]: r for r in ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]}
    assert len(rts) == 3
    main = [r for r in rts.values() if any(a["Main"] for a in r["Associations"])]
    assert len(main) == 1 and main[0]["Routes"] == [
        {"DestinationCidrBlock": "10.10.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}]
    pub = rts[t["public_rt"]["RouteTableId"]]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": t["igw"]["InternetGatewayId"],
            "Origin": "CreateRoute", "State": "active"} in pub["Routes"]
    assert sorted(a["SubnetId"] for a in pub["Associations"]) == sorted(
        [t["subnets"]["public-a"]["SubnetId"], t["subnets"]["public-b"]["SubnetId"]])
    priv = rts[t["private_rt"]["RouteTableId"]]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": t["nat"]["NatGatewayId"],
            "Origin": "CreateRoute", "State": "active"} in priv["Routes"]
    assert all(a["AssociationState"] == {"State": "associated"} and a["Main"] is False
               for a in priv["Associations"])
    got = ec2.describe_route_tables(Filters=[
        {"Name": "association.subnet-id", "Values": [t["subnets"]["private-b"]["SubnetId"]]}])["RouteTables"]
    assert [r["RouteTableId"] for r in got] == [t["private_rt"]["RouteTableId"]]
    got = ec2.describe_route_tables(Filters=[
        {"Name": "route.nat-gateway-id", "Values": [t["nat"]["NatGatewayId"]]}])["RouteTables"]
    assert [r["RouteTableId"] for r in got] == [t["private_rt"]["RouteTableId"]]

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]}
    assert set(groups) == {"default", "web", "db"}
    default = groups["default"]
    assert default["IpPermissions"] == [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                         "UserIdGroupPairs": [{"GroupId": default["GroupId"],
                                                               "UserId": "000000000000"}]}]
    assert default["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                               "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    web = groups["web"]
    assert web["Description"] == "web tier"
    assert web["IpPermissions"] == [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                     "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
                                     "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [],
            "PrefixListIds": [], "UserIdGroupPairs": [{"GroupId": t["db"], "UserId": "000000000000"}]
            } in web["IpPermissionsEgress"]
    assert groups["db"]["IpPermissions"][0]["UserIdGroupPairs"] == [{"GroupId": t["web"], "UserId": "000000000000"}]
    assert groups["db"]["SecurityGroupArn"] == f"arn:aws:ec2:{REGION}:000000000000:security-group/{t['db']}"
    referencing = ec2.describe_security_groups(Filters=[
        {"Name": "ip-permission.group-id", "Values": [t["web"]]}])["SecurityGroups"]
    assert [g["GroupId"] for g in referencing] == [t["db"]]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [t["db"]]}])[
        "SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert ingress[0]["ReferencedGroupInfo"]["GroupId"] == t["web"]
    assert ingress[0]["SecurityGroupRuleId"].startswith("sgr-") and ingress[0]["FromPort"] == 5432

    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "interface-type", "Values": ["interface"]}])[
        "NetworkInterfaces"]
    assert len(enis) == 2
    web_eni = next(e for e in enis if e["Description"] == "web eni")
    assert web_eni["PrivateIpAddress"] == "10.10.10.4" and web_eni["Status"] == "available"
    assert web_eni["Groups"] == [{"GroupId": t["web"], "GroupName": "web"}]
    assert web_eni["PrivateIpAddresses"] == [{"Primary": True, "PrivateIpAddress": "10.10.10.4",
                                              "PrivateDnsName": "ip-10-10-10-4.ec2.internal"}]
    assert web_eni["MacAddress"].startswith("02:") and web_eni["SourceDestCheck"] is True
    assert web_eni["OwnerId"] == "000000000000" and web_eni["RequesterManaged"] is False
    assert web_eni["TagSet"] == [{"Key": "Name", "Value": "acc"}]
    db_eni = next(e for e in enis if e["Description"] == "db eni")
    assert db_eni["PrivateIpAddress"] == "10.10.11.50" and db_eni["AvailabilityZone"] == "us-east-1b"
    assert [g["GroupId"] for g in db_eni["Groups"]] == [t["db"], t["web"]]

    tagged = {(x["ResourceType"], x["ResourceId"]) for x in ec2.describe_tags(
        Filters=[{"Name": "key", "Values": ["Name"]}, {"Name": "value", "Values": ["acc"]}])["Tags"]}
    assert ("vpc", vpc_id) in tagged and ("natgateway", t["nat"]["NatGatewayId"]) in tagged
    assert ("elastic-ip", t["eip"]["AllocationId"]) in tagged and ("security-group", t["db"]) in tagged


def test_teardown_in_dependency_order(daemon):
    ec2 = daemon.client("ec2")
    t = build_topology(ec2)
    vpc_id = t["vpc"]["VpcId"]
    for e in t["enis"]:
        ec2.delete_network_interface(NetworkInterfaceId=e["NetworkInterfaceId"])
    ec2.delete_nat_gateway(NatGatewayId=t["nat"]["NatGatewayId"])
    ec2.get_waiter("nat_gateway_deleted").wait(NatGatewayIds=[t["nat"]["NatGatewayId"]], WaiterConfig={"Delay": 1})
    nat = ec2.describe_nat_gateways(NatGatewayIds=[t["nat"]["NatGatewayId"]])["NatGateways"][0]
    assert nat["State"] == "deleted" and "DeleteTime" in nat
    # The NAT's address is back, its ENI gone, and the route to it a blackhole.
    pa = ec2.describe_subnets(SubnetIds=[t["subnets"]["public-a"]["SubnetId"]])["Subnets"][0]
    assert pa["AvailableIpAddressCount"] == 251
    priv = ec2.describe_route_tables(RouteTableIds=[t["private_rt"]["RouteTableId"]])["RouteTables"][0]
    assert next(r for r in priv["Routes"] if r.get("NatGatewayId"))["State"] == "blackhole"
    ec2.release_address(AllocationId=t["eip"]["AllocationId"])
    code, msg, _ = err(ec2.delete_security_group, GroupId=t["web"])
    assert (code, msg) == ("DependencyViolation", f"resource {t['web']} has a dependent object")
    ec2.revoke_security_group_egress(GroupId=t["web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": t["db"]}]}])
    ec2.delete_security_group(GroupId=t["db"])
    ec2.delete_security_group(GroupId=t["web"])
    for a in t["assoc"].values():
        ec2.disassociate_route_table(AssociationId=a)
    ec2.delete_route_table(RouteTableId=t["public_rt"]["RouteTableId"])
    ec2.delete_route_table(RouteTableId=t["private_rt"]["RouteTableId"])
    for s in t["subnets"].values():
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    code, _, _ = err(ec2.delete_vpc, VpcId=vpc_id)
    assert code == "DependencyViolation"
    code, _, _ = err(ec2.delete_internet_gateway, InternetGatewayId=t["igw"]["InternetGatewayId"])
    assert code == "DependencyViolation"
    ec2.detach_internet_gateway(InternetGatewayId=t["igw"]["InternetGatewayId"], VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=t["igw"]["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)
    assert err(ec2.describe_vpcs, VpcIds=[vpc_id])[0] == "InvalidVpcID.NotFound"
    # The main route table and default group went with the VPC.
    assert ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"] == []
    assert ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"] == []


# ---- (2) the same flow with the aws CLI ----

def test_cli_script(daemon):
    p = subprocess.run(["bash", str(CLI_SCRIPT)], capture_output=True, text=True, timeout=600,
                       env=daemon.aws_env(AWS_ENDPOINT_URL=daemon.endpoint))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ec2-cli: ok" in p.stdout


# ---- (3) a /28 fills up ----

def test_slash_28_holds_eleven_enis(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.16/28")["Subnet"]["SubnetId"]
    count = lambda: ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"]
    assert count() == 11
    made = []
    while True:
        try:
            made.append(ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"])
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InsufficientFreeAddressesInSubnet"
            assert e.response["Error"]["Message"] == (
                f"There are not enough free addresses in subnet '{subnet_id}' to satisfy the requested "
                "number of instances.")
            break
        assert count() == 11 - len(made)
        assert len(made) <= 11
    assert len(made) == 11 and count() == 0
    ips = [e["PrivateIpAddress"] for e in made]
    assert ips == [f"10.1.0.{n}" for n in range(20, 31)]  # .16-.19 and .31 are reserved
    ec2.delete_network_interface(NetworkInterfaceId=made[5]["NetworkInterfaceId"])
    assert count() == 1
    again = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    assert again["PrivateIpAddress"] == made[5]["PrivateIpAddress"] and count() == 0


def test_requested_addresses(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.2.0.0/24")["Subnet"]["SubnetId"]
    ec2.create_network_interface(SubnetId=subnet_id, PrivateIpAddress="10.2.0.9")
    assert err(ec2.create_network_interface, SubnetId=subnet_id, PrivateIpAddress="10.2.0.9")[:2] == (
        "InvalidIPAddress.InUse", "The specified address is already in use.")
    for reserved in ("10.2.0.0", "10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.255", "10.3.0.9"):
        assert err(ec2.create_network_interface, SubnetId=subnet_id, PrivateIpAddress=reserved)[0] == \
            "InvalidParameterValue"
    two = ec2.create_network_interface(SubnetId=subnet_id, SecondaryPrivateIpAddressCount=2)["NetworkInterface"]
    assert [a["PrivateIpAddress"] for a in two["PrivateIpAddresses"]] == ["10.2.0.4", "10.2.0.5", "10.2.0.6"]
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"] == 251 - 4


# ---- (4) concurrency ----

def test_concurrent_enis_never_share_an_address(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.4.0.0/24")["Subnet"]["SubnetId"]
    threads, per_thread = 8, 20
    results, errors = [], []
    lock = threading.Lock()

    def work():
        client = daemon.client("ec2")
        for _ in range(per_thread):
            try:
                e = client.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
                with lock:
                    results.append(e)
            except Exception as ex:  # noqa: BLE001 - every failure is a test failure
                with lock:
                    errors.append(ex)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert errors == []
    ips = [e["PrivateIpAddress"] for e in results]
    assert len(ips) == threads * per_thread == len(set(ips))
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.4.0.0/24") for ip in ips)
    assert sorted(ipaddress.ip_address(ip) for ip in ips) == [
        ipaddress.ip_address(f"10.4.0.{n}") for n in range(4, 4 + threads * per_thread)]
    subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    assert subnet["AvailableIpAddressCount"] == 251 - threads * per_thread
    listed = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "subnet-id", "Values": [subnet_id]}], PaginationConfig={"PageSize": 50})
    assert sum(len(p["NetworkInterfaces"]) for p in listed) == threads * per_thread


# ---- (5) errors ----

def test_vpc_and_subnet_errors(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.5.1.0/24", AvailabilityZoneId="use1-az2")
    assert err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.5.1.128/25") == (
        "InvalidSubnet.Conflict", "The CIDR '10.5.1.128/25' conflicts with another subnet", 400)
    assert err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.6.0.0/24") == (
        "InvalidSubnet.Range", "The CIDR '10.6.0.0/24' is invalid.", 400)
    assert err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.5.2.0/29")[0] == "InvalidSubnet.Range"
    code, msg, _ = err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.5.3.0/24", AvailabilityZone="us-east-1z")
    assert code == "InvalidParameterValue"
    assert msg == ("Value (us-east-1z) for parameter availabilityZone is invalid. Subnets can currently only be "
                   "created in the following availability zones: us-east-1a, us-east-1b, us-east-1c.")
    assert err(ec2.create_vpc, CidrBlock="10.0.0.0/8")[:2] == ("InvalidVpc.Range", "The CIDR '10.0.0.0/8' is invalid.")
    assert err(ec2.create_vpc, CidrBlock="10.0.0.0/29")[0] == "InvalidVpc.Range"
    assert err(ec2.create_vpc, CidrBlock="bogus")[0] == "InvalidParameterValue"
    assert err(ec2.create_vpc, CidrBlock="10.0.0.0/16", InstanceTenancy="host")[0] == "InvalidParameterValue"
    assert err(ec2.delete_vpc, VpcId=vpc_id) == (
        "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.", 400)


def test_unknown_and_malformed_ids(daemon):
    ec2 = daemon.client("ec2")
    cases = [
        (ec2.describe_vpcs, {"VpcIds": ["vpc-1"]}, "InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"),
        (ec2.describe_vpcs, {"VpcIds": ["x"]}, "InvalidVpcID.Malformed", 'Invalid id: "x" (expecting "vpc-...")'),
        (ec2.delete_vpc, {"VpcId": "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound",
         "The vpc ID 'vpc-0123456789abcdef0' does not exist"),
        (ec2.describe_subnets, {"SubnetIds": ["subnet-1"]}, "InvalidSubnetID.NotFound",
         "The subnet ID 'subnet-1' does not exist"),
        (ec2.create_network_interface, {"SubnetId": "subnet-1"}, "InvalidSubnetID.NotFound",
         "The subnet ID 'subnet-1' does not exist"),
        (ec2.describe_security_groups, {"GroupIds": ["sg-1"]}, "InvalidGroup.NotFound",
         "The security group 'sg-1' does not exist"),
        (ec2.describe_security_groups, {"GroupIds": ["nope"]}, "InvalidGroupId.Malformed",
         'Invalid id: "nope" (expecting "sg-...")'),
        (ec2.describe_network_interfaces, {"NetworkInterfaceIds": ["eni-1"]}, "InvalidNetworkInterfaceID.NotFound",
         "The networkInterface ID 'eni-1' does not exist"),
        (ec2.describe_route_tables, {"RouteTableIds": ["rtb-1"]}, "InvalidRouteTableID.NotFound",
         "The routeTable ID 'rtb-1' does not exist"),
        (ec2.describe_internet_gateways, {"InternetGatewayIds": ["igw-1"]}, "InvalidInternetGatewayID.NotFound",
         "The internetGateway ID 'igw-1' does not exist"),
        (ec2.release_address, {"AllocationId": "eipalloc-1"}, "InvalidAllocationID.NotFound",
         "The allocation ID 'eipalloc-1' does not exist"),
        (ec2.delete_nat_gateway, {"NatGatewayId": "nat-1"}, "NatGatewayNotFound", "The Nat Gateway nat-1 was not found"),
        (ec2.create_tags, {"Resources": ["vpc-1"], "Tags": [{"Key": "a", "Value": "b"}]}, "InvalidVpcID.NotFound",
         "The vpc ID 'vpc-1' does not exist"),
    ]
    for call, kw, code, msg in cases:
        assert err(call, **kw) == (code, msg, 400), (call, kw)
    code, msg, _ = err(ec2.describe_vpcs, VpcIds=["vpc-1", "vpc-2"])
    assert (code, msg) == ("InvalidVpcID.NotFound", "The vpc IDs 'vpc-1, vpc-2' do not exist")
    assert err(ec2.describe_vpcs, Filters=[{"Name": "bogus", "Values": ["x"]}])[:2] == (
        "InvalidParameterValue", "The filter 'bogus' is invalid")


def test_dry_run(daemon):
    ec2 = daemon.client("ec2")
    for call, kw in [(ec2.create_vpc, {"CidrBlock": "10.0.0.0/16"}), (ec2.describe_vpcs, {}),
                     (ec2.describe_network_interfaces, {})]:
        assert err(call, DryRun=True, **kw) == (
            "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.0.0.0/16"] == []


def test_security_group_rules_and_errors(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc_id)
    assert sg["GroupId"].startswith("sg-") and sg["SecurityGroupArn"].endswith(sg["GroupId"])
    sg = sg["GroupId"]
    assert err(ec2.create_security_group, GroupName="app", Description="again", VpcId=vpc_id)[:2] == (
        "InvalidGroup.Duplicate", f"The security group 'app' already exists for VPC '{vpc_id}'")
    assert err(ec2.create_security_group, GroupName="default", Description="x", VpcId=vpc_id)[0] == \
        "InvalidParameterValue"
    ec2.create_security_group(GroupName="app", Description="same name, other VPC", VpcId=other_vpc)
    foreign = ec2.create_security_group(GroupName="foreign", Description="x", VpcId=other_vpc)["GroupId"]

    out = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    assert out["Return"] is True and len(out["SecurityGroupRules"]) == 3
    assert out["SecurityGroupRules"][0]["IpProtocol"] == "tcp"
    assert err(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[:2] == (
        "InvalidPermission.Duplicate",
        'the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" already exists')
    # The legacy flat form.
    ec2.authorize_security_group_ingress(GroupId=sg, IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="1.2.3.0/24")
    assert err(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": foreign}]}])[0] == \
        "InvalidGroup.NotFound"
    assert err(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidParameterValue"
    assert err(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidParameterValue"

    g = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    protos = sorted((p["IpProtocol"], p.get("FromPort")) for p in g["IpPermissions"])
    assert protos == [("icmp", -1), ("tcp", 22), ("tcp", 80), ("udp", 53)]
    assert ec2.describe_security_groups(Filters=[{"Name": "ip-permission.cidr", "Values": ["1.2.3.0/24"]}])[
        "SecurityGroups"][0]["GroupId"] == sg
    assert ec2.describe_security_groups(Filters=[{"Name": "ip-permission.from-port", "Values": ["53"]},
                                                 {"Name": "group-name", "Values": ["app"]}])[
        "SecurityGroups"][0]["GroupId"] == sg

    # Non-default VPC: revoking a rule that is not there is an error and changes nothing.
    assert err(ec2.revoke_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 23, "ToPort": 23, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == \
        "InvalidPermission.NotFound"
    out = ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert out["Return"] is True and out["RevokedSecurityGroupRules"][0]["FromPort"] == 22
    rule_id = next(r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"] if r.get("CidrIpv4") == "1.2.3.0/24")
    ec2.revoke_security_group_ingress(GroupId=sg, SecurityGroupRuleIds=[rule_id])
    assert err(ec2.describe_security_group_rules, SecurityGroupRuleIds=[rule_id])[0] == \
        "InvalidSecurityGroupRuleId.NotFound"

    # Default VPC: unknown rules come back in UnknownIpPermissions, as on AWS.
    dsg = ec2.create_security_group(GroupName="in-default", Description="x")["GroupId"]
    out = ec2.revoke_security_group_ingress(GroupId=dsg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert out["Return"] is True and out["UnknownIpPermissions"][0]["FromPort"] == 1
    assert ec2.describe_security_groups(GroupNames=["in-default"])["SecurityGroups"][0]["GroupId"] == dsg
    ec2.delete_security_group(GroupName="in-default")

    # In use by an ENI, referenced by another group, the default group.
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.0.0/24")["Subnet"]["SubnetId"]
    user = ec2.create_security_group(GroupName="user", Description="x", VpcId=vpc_id)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet_id, Groups=[user])["NetworkInterface"]
    assert err(ec2.delete_security_group, GroupId=user)[:2] == (
        "DependencyViolation", f"resource {user} has a dependent object")
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni["NetworkInterfaceId"], Groups=[sg])
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": user}]}])
    assert err(ec2.delete_security_group, GroupId=user)[0] == "DependencyViolation"
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": user}]}])
    ec2.delete_security_group(GroupId=user)
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                       {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]
    assert err(ec2.delete_security_group, GroupId=default_sg)[0] == "CannotDelete"
    assert err(ec2.create_network_interface, SubnetId=subnet_id, Groups=[foreign])[0] == "InvalidParameter"


def test_eni_filters_attributes_and_idempotency(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    a = ec2.create_network_interface(SubnetId=subnet_id, Description="AWS Lambda VPC ENI-fn-1234",
                                     ClientToken="tok-1")
    assert a["ClientToken"] == "tok-1"
    again = ec2.create_network_interface(SubnetId=subnet_id, Description="AWS Lambda VPC ENI-fn-1234",
                                         ClientToken="tok-1")
    assert again["NetworkInterface"]["NetworkInterfaceId"] == a["NetworkInterface"]["NetworkInterfaceId"]
    assert err(ec2.create_network_interface, SubnetId=subnet_id, Description="other", ClientToken="tok-1")[0] == \
        "IdempotentParameterMismatch"
    ec2.create_network_interface(SubnetId=subnet_id, Description="something else")
    eni_id = a["NetworkInterface"]["NetworkInterfaceId"]
    f = lambda name, *v: ec2.describe_network_interfaces(Filters=[{"Name": name, "Values": list(v)}])[
        "NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in f("description", "AWS Lambda VPC ENI*")] == [eni_id]
    assert [e["NetworkInterfaceId"] for e in f("description", "AWS Lambda VPC ENI-fn-????")] == [eni_id]
    assert len(f("subnet-id", subnet_id)) == 2 and len(f("status", "available")) >= 2
    assert f("private-ip-address", "10.9.0.4")[0]["NetworkInterfaceId"] == eni_id
    assert f("addresses.private-ip-address", "10.9.0.4")[0]["NetworkInterfaceId"] == eni_id
    assert len(f("requester-managed", "false")) == 2 and f("requester-managed", "true") == []
    assert len(f("availability-zone", "us-east-1a")) == 2 and f("availability-zone", "us-east-1b") == []
    assert f("attachment.instance-owner-id", "amazon-aws") == []
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, Description={"Value": "renamed"})
    ec2.create_tags(Resources=[eni_id], Tags=[{"Key": "team", "Value": "net"}])
    e = f("tag:team", "net")[0]
    assert e["Description"] == "renamed" and e["TagSet"] == [{"Key": "team", "Value": "net"}]
    assert f("tag-key", "team")[0]["NetworkInterfaceId"] == eni_id
    ec2.delete_tags(Resources=[eni_id], Tags=[{"Key": "team"}])
    assert f("tag-key", "team") == []
    assert err(ec2.detach_network_interface, AttachmentId="ela-attach-0123456789abcdef0")[:2] == (
        "OperationNotPermitted", "You are not allowed to manage 'ela-attach' attachments.")
    page = ec2.describe_network_interfaces(MaxResults=5, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert len(page["NetworkInterfaces"]) == 2 and "NextToken" not in page


def test_elastic_ip_association(daemon):
    """AssociateAddress/DisassociateAddress on network interfaces (what a NAT instance needs),
    the errors AWS gives, and what DescribeAddresses/DescribeNetworkInterfaces then show."""
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.14.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.14.0.0/24")["Subnet"]["SubnetId"]
    one, two = (ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
                for _ in range(2))
    eip = ec2.allocate_address(Domain="vpc")
    alloc = eip["AllocationId"]
    assert err(ec2.associate_address, AllocationId=alloc, NetworkInterfaceId=one) == (
        "Gateway.NotAttached", f"Network {vpc_id} is not attached to any internet gateway", 400)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)

    assert err(ec2.associate_address, AllocationId="eipalloc-1", NetworkInterfaceId=one) == (
        "InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-1' does not exist", 400)
    assert err(ec2.associate_address, AllocationId=alloc, NetworkInterfaceId="eni-1") == (
        "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-1' does not exist", 400)
    assert err(ec2.associate_address, AllocationId=alloc, InstanceId="i-1")[:2] == (
        "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist")
    assert err(ec2.associate_address, AllocationId=alloc, PublicIp=eip["PublicIp"],
               NetworkInterfaceId=one)[0] == "InvalidParameterCombination"

    first = ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=one)["AssociationId"]
    assert first.startswith("eipassoc-")
    a = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
    assert a["AssociationId"] == first and a["NetworkInterfaceId"] == one, a
    assert a["PrivateIpAddress"] == "10.14.0.4" and a["NetworkInterfaceOwnerId"] == "000000000000", a
    by_filter = ec2.describe_addresses(Filters=[{"Name": "association-id", "Values": [first]}])["Addresses"]
    assert [x["AllocationId"] for x in by_filter] == [alloc]
    e = ec2.describe_network_interfaces(NetworkInterfaceIds=[one])["NetworkInterfaces"][0]
    assert e["Association"] == {"AllocationId": alloc, "AssociationId": first, "IpOwnerId": "000000000000",
                                 "PublicIp": eip["PublicIp"], "PublicDnsName": ""}, e
    assert e["PrivateIpAddresses"][0]["Association"]["PublicIp"] == eip["PublicIp"]
    # A public DNS name only where the VPC gives DNS hostnames, as on AWS.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    e = ec2.describe_network_interfaces(NetworkInterfaceIds=[one])["NetworkInterfaces"][0]
    dashed = eip["PublicIp"].replace(".", "-")
    assert e["Association"]["PublicDnsName"] == f"ec2-{dashed}.compute-1.amazonaws.com", e

    code, message, _ = err(ec2.associate_address, AllocationId=alloc, NetworkInterfaceId=two)
    assert (code, message) == ("Resource.AlreadyAssociated",
                               f"resource {alloc} is already associated with associate-id {first}")
    assert err(ec2.release_address, AllocationId=alloc)[:2] == (
        "InvalidIPAddress.InUse", f"Address {eip['PublicIp']} is in use.")
    code, _, _ = err(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=vpc_id)
    assert code == "DependencyViolation", "mapped public addresses keep the gateway attached"

    moved = ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=two,
                                  AllowReassociation=True)["AssociationId"]
    assert moved != first
    assert "Association" not in ec2.describe_network_interfaces(NetworkInterfaceIds=[one])["NetworkInterfaces"][0]
    assert err(ec2.disassociate_address, AssociationId=first) == (
        "InvalidAssociationID.NotFound", f"The association ID '{first}' does not exist", 400)

    # The aws CLI, by public IP: associate again (the same association), disassociate twice.
    same = daemon.aws("ec2", "associate-address", "--public-ip", eip["PublicIp"], "--network-interface-id", two)
    assert same == {"AssociationId": moved}
    daemon.aws("ec2", "disassociate-address", "--association-id", moved)
    daemon.aws("ec2", "disassociate-address", "--public-ip", eip["PublicIp"])
    a = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
    assert "AssociationId" not in a and "NetworkInterfaceId" not in a, a
    assert "Association" not in ec2.describe_network_interfaces(NetworkInterfaceIds=[two])["NetworkInterfaces"][0]
    ec2.release_address(AllocationId=alloc)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)


def test_a_nat_gateways_address_stays_with_it(daemon):
    ec2 = daemon.client("ec2")
    t = build_topology(ec2)
    nat_address = t["nat"]["NatGatewayAddresses"][0]
    web_eni = t["enis"][0]["NetworkInterfaceId"]
    denied = ("AuthFailure", "You do not have permission to access the specified resource.", 400)
    assert err(ec2.associate_address, AllocationId=t["eip"]["AllocationId"], NetworkInterfaceId=web_eni,
               AllowReassociation=True) == denied
    assert err(ec2.disassociate_address, AssociationId=nat_address["AssociationId"]) == denied
    spare = ec2.allocate_address(Domain="vpc")["AllocationId"]
    assert err(ec2.associate_address, AllocationId=spare,
               NetworkInterfaceId=nat_address["NetworkInterfaceId"]) == denied
    nat = ec2.describe_nat_gateways(NatGatewayIds=[t["nat"]["NatGatewayId"]])["NatGateways"][0]
    assert nat["NatGatewayAddresses"][0]["PublicIp"] == t["eip"]["PublicIp"]


def test_route_table_rules(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.11.0.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assert err(ec2.create_route, RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)[0] == \
        "InvalidParameterValue"  # not attached to this VPC
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    other = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert err(ec2.attach_internet_gateway, InternetGatewayId=other, VpcId=vpc_id)[0] == \
        "Resource.AlreadyAssociated"
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert err(ec2.create_route, RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)[:2] == (
        "RouteAlreadyExists", "The route identified by 0.0.0.0/0 already exists.")
    assert err(ec2.create_route, RouteTableId=rt, DestinationCidrBlock="1.0.0.0/8", NatGatewayId="nat-1")[0] == \
        "NatGatewayNotFound"
    assert err(ec2.create_route, RouteTableId=rt, DestinationCidrBlock="1.0.0.0/8",
               NetworkInterfaceId="eni-1")[0] == "InvalidNetworkInterfaceID.NotFound"
    assert err(ec2.create_route, RouteTableId=rt, DestinationCidrBlock="1.0.0.0/8", GatewayId="igw-1")[0] == \
        "InvalidGatewayID.NotFound"
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId=eni)
    assert err(ec2.replace_route, RouteTableId=rt, DestinationCidrBlock="8.8.8.8/32", GatewayId=igw)[0] == \
        "InvalidRoute.NotFound"
    assert err(ec2.delete_route, RouteTableId=rt, DestinationCidrBlock="10.11.0.0/16")[0] == "InvalidParameterValue"
    assoc = ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet_id)
    assert assoc["AssociationId"].startswith("rtbassoc-") and assoc["AssociationState"]["State"] == "associated"
    assert err(ec2.associate_route_table, RouteTableId=rt, SubnetId=subnet_id)[0] == "Resource.AlreadyAssociated"
    assert err(ec2.delete_route_table, RouteTableId=rt)[0] == "DependencyViolation"
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    assert err(ec2.delete_route_table, RouteTableId=main["RouteTableId"])[0] == "DependencyViolation"
    new_assoc = ec2.replace_route_table_association(AssociationId=assoc["AssociationId"],
                                                    RouteTableId=main["RouteTableId"])["NewAssociationId"]
    ec2.disassociate_route_table(AssociationId=new_assoc)
    # Making the custom table the VPC's main one.
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    ec2.replace_route_table_association(AssociationId=main_assoc, RouteTableId=rt)
    now_main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                  {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert [t["RouteTableId"] for t in now_main] == [rt]
    ec2.delete_route_table(RouteTableId=main["RouteTableId"])
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    got = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]
    assert next(r for r in got["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0")["State"] == "blackhole"


def test_default_vpc_and_zones(daemon):
    ec2 = daemon.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["CidrBlock"] == "172.31.0.0/16"
    vpc_id = vpcs[0]["VpcId"]
    subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"],
                     key=lambda s: s["AvailabilityZone"])
    assert [(s["AvailabilityZone"], s["CidrBlock"], s["MapPublicIpOnLaunch"]) for s in subnets] == [
        ("us-east-1a", "172.31.0.0/20", True), ("us-east-1b", "172.31.16.0/20", True),
        ("us-east-1c", "172.31.32.0/20", True)]
    assert all(s["AvailableIpAddressCount"] == 4091 and s["VpcId"] == vpc_id for s in subnets)
    igw = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
        "InternetGateways"]
    assert len(igw) == 1
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw[0]["InternetGatewayId"], "Origin": "CreateRoute",
            "State": "active"} in main[0]["Routes"]
    assert ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["VpcId"] == vpc_id
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    # Idempotent: later calls (and other threads) never make a second one; another region
    # and another call get their own.
    assert len(ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]) == 1
    west = daemon.client("ec2", region="eu-west-1")
    wsub = west.describe_subnets()["Subnets"]
    assert sorted(s["AvailabilityZoneId"] for s in wsub) == ["euw1-az1", "euw1-az2", "euw1-az3"]
    assert west.describe_vpcs()["Vpcs"][0]["VpcId"] != vpc_id

    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"], z["State"]) for z in zones] == [
        ("us-east-1a", "use1-az1", "available"), ("us-east-1b", "use1-az2", "available"),
        ("us-east-1c", "use1-az3", "available")]
    assert zones[0]["RegionName"] == REGION and zones[0]["ZoneType"] == "availability-zone"
    assert [z["ZoneName"] for z in daemon.client("ec2", region="ap-southeast-2").describe_availability_zones(
        Filters=[{"Name": "zone-id", "Values": ["apse2-az2"]}])["AvailabilityZones"]] == ["ap-southeast-2b"]
    regions = ec2.describe_regions()["Regions"]
    assert len(regions) >= 30
    east = next(r for r in regions if r["RegionName"] == "us-east-1")
    assert east == {"RegionName": "us-east-1", "Endpoint": "ec2.us-east-1.amazonaws.com",
                    "OptInStatus": "opt-in-not-required"}
    assert [r["RegionName"] for r in ec2.describe_regions(RegionNames=["eu-west-1"])["Regions"]] == ["eu-west-1"]
    attrs = {a["AttributeName"]: a["AttributeValues"] for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attrs["default-vpc"] == [{"AttributeValue": vpc_id}]


def test_accounts_do_not_see_each_other(make_daemon):
    cfg = """
[[accounts]]
access_key_id = "AKIAONE"
secret_access_key = "one"
account_id = "222222222222"
[[accounts]]
access_key_id = "AKIATWO"
secret_access_key = "two"
account_id = "111111111111"
"""
    d = make_daemon(config=cfg).start()
    mine = d.client("ec2", key="AKIAONE", secret="one")
    theirs = d.client("ec2", key="AKIATWO", secret="two")
    vpc_id = mine.create_vpc(CidrBlock="10.12.0.0/16")["Vpc"]["VpcId"]
    assert err(theirs.describe_vpcs, VpcIds=[vpc_id])[0] == "InvalidVpcID.NotFound"
    assert all(v["OwnerId"] == "111111111111" for v in theirs.describe_vpcs()["Vpcs"])


# ---- (6) restart ----

def test_everything_survives_a_restart(daemon):
    ec2 = daemon.client("ec2")
    t = build_topology(ec2)
    vpc_id = t["vpc"]["VpcId"]
    before = snapshot(ec2, vpc_id)
    default_before = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    daemon.restart()
    ec2 = daemon.client("ec2")
    assert snapshot(ec2, vpc_id) == before
    assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == default_before
    # Allocation continues where it was: the next address in private-a is the one after.
    e = ec2.create_network_interface(SubnetId=t["subnets"]["private-a"]["SubnetId"])["NetworkInterface"]
    assert e["PrivateIpAddress"] == "10.10.10.5"


def test_kill9_keeps_committed_allocations(daemon):
    ec2 = daemon.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.13.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.13.0.0/28")["Subnet"]["SubnetId"]
    ips = [ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["PrivateIpAddress"] for _ in range(3)]
    daemon.kill9()
    daemon.start()
    ec2 = daemon.client("ec2")
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"] == 8
    got = {e["PrivateIpAddress"] for e in ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])["NetworkInterfaces"]}
    assert got == set(ips)
