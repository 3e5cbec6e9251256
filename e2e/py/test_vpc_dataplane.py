"""The VPC dataplane end to end: a VPC built with the EC2 API becomes kernel objects in the
daemon's (private) namespace; `vpc-exec` runs real processes on real ENIs and
`internet-exec` runs a host of the simulated internet. Every "blocked" has a positive
control next to it."""

import subprocess
import time

import pytest

from conftest import BIN

pytestmark = pytest.mark.usefixtures("privileged")

PROBE = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3).read()"


def vpc_exec(daemon, subnet, groups, *command, private_ip=None, **kw):
    args = [str(BIN), "vpc-exec", "--data-dir", str(daemon.data_dir), "--subnet-id", subnet,
            "--security-group-ids", ",".join(groups)]
    if private_ip:
        args += ["--private-ip", private_ip]
    return subprocess.run([*args, "--", *command], capture_output=True, text=True, timeout=60, **kw)


def serve_in_vpc(daemon, subnet, groups, ip, port):
    args = [str(BIN), "vpc-exec", "--data-dir", str(daemon.data_dir), "--subnet-id", subnet,
            "--security-group-ids", ",".join(groups), "--private-ip", ip, "--",
            "python3", "-m", "http.server", str(port), "--bind", ip]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def reachable(daemon, subnet, groups, url):
    return vpc_exec(daemon, subnet, groups, "python3", "-c", PROBE, url).returncode == 0


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc):
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    return err


@pytest.fixture
def network(daemon):
    ec2 = daemon.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    private_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=private_rt, SubnetId=private)

    def group(name):
        return ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]

    client, other, web = group("client"), group("other"), group("web")
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
        "UserIdGroupPairs": [{"GroupId": client}]}])
    return dict(ec2=ec2, vpc=vpc, public=public, private=private, private_rt=private_rt,
                client=client, other=other, web=web)


def test_security_groups_between_vpc_exec_processes(daemon, network):
    n = network
    server = serve_in_vpc(daemon, n["public"], [n["web"]], "10.20.1.10", 8000)
    try:
        wait_for(lambda: reachable(daemon, n["private"], [n["client"]], "http://10.20.1.10:8000/"),
                 "the server to answer a member of the referenced group")
        enis = n["ec2"].describe_network_interfaces(
            Filters=[{"Name": "addresses.private-ip-address", "Values": ["10.20.1.10"]}])
        assert [e["SubnetId"] for e in enis["NetworkInterfaces"]] == [n["public"]]
        assert not reachable(daemon, n["private"], [n["other"]], "http://10.20.1.10:8000/")
        assert reachable(daemon, n["public"], [n["client"]], "http://10.20.1.10:8000/"), \
            "same subnet, positive control"
        assert not reachable(daemon, n["public"], [n["other"]], "http://10.20.1.10:8000/")

        # Revoking the rule blocks new connections; authorizing it again restores them.
        perm = {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                "UserIdGroupPairs": [{"GroupId": n["client"]}]}
        n["ec2"].revoke_security_group_ingress(GroupId=n["web"], IpPermissions=[perm])
        assert not reachable(daemon, n["private"], [n["client"]], "http://10.20.1.10:8000/")
        n["ec2"].authorize_security_group_ingress(GroupId=n["web"], IpPermissions=[perm])
        assert reachable(daemon, n["private"], [n["client"]], "http://10.20.1.10:8000/")
    finally:
        stop(server)
    # The ENI went with its command.
    left = n["ec2"].describe_network_interfaces(
        Filters=[{"Name": "addresses.private-ip-address", "Values": ["10.20.1.10"]}])
    assert left["NetworkInterfaces"] == []


def test_internet_only_through_a_nat_gateway(daemon, network):
    n = network
    host = subprocess.Popen(
        [str(BIN), "internet-exec", "--data-dir", str(daemon.data_dir), "--ip", "203.0.113.10", "--",
         "python3", "-m", "http.server", "8080", "--bind", "203.0.113.10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = "http://203.0.113.10:8080/"
    try:
        # No route: a private subnet has no internet; nor has a public subnet without a public IP.
        assert not reachable(daemon, n["private"], [n["client"]], url)
        assert not reachable(daemon, n["public"], [n["client"]], url)

        eip = n["ec2"].allocate_address(Domain="vpc")
        nat = n["ec2"].create_nat_gateway(SubnetId=n["public"], AllocationId=eip["AllocationId"])
        nat_id = nat["NatGateway"]["NatGatewayId"]
        wait_for(lambda: n["ec2"].describe_nat_gateways(NatGatewayIds=[nat_id])
                 ["NatGateways"][0]["State"] == "available", "the NAT gateway to be available")
        n["ec2"].create_route(RouteTableId=n["private_rt"], DestinationCidrBlock="0.0.0.0/0",
                              NatGatewayId=nat_id)
        assert reachable(daemon, n["private"], [n["client"]], url), "via the NAT gateway"
    finally:
        log = stop(host)
    assert f'{eip["PublicIp"]} - - ' in log, "the internet host sees the NAT gateway's EIP"


def test_measure_eni_and_group_change(daemon, network):
    """Prints (does not assert) how long `vpc-exec` takes end to end, for the benchmarks."""
    n = network
    start = time.monotonic()
    assert vpc_exec(daemon, n["private"], [n["client"]], "true").returncode == 0
    print(f"vpc-exec round trip (create ENI, run, delete ENI): {time.monotonic() - start:.3f}s")


def test_an_eni_sends_from_its_own_address_only(daemon, network):
    """Anti-spoofing: a vpc-exec process adds a second address to its ENI's interface;
    connecting from it is dropped at the router, from the ENI's own address it works."""
    n = network
    # The server lets the whole VPC in, so only the source check can stop the spoofed address.
    vpc_wide = n["ec2"].create_security_group(GroupName="vpc-wide", Description="vpc-wide",
                                              VpcId=n["vpc"])["GroupId"]
    n["ec2"].authorize_security_group_ingress(GroupId=vpc_wide, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
        "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}])
    server = serve_in_vpc(daemon, n["public"], [vpc_wide], "10.20.1.10", 8000)
    connect = ("import socket, sys; socket.create_connection(('10.20.1.10', 8000), timeout=3,"
               " source_address=(sys.argv[1], 0)).close()")
    script = 'ip addr add 10.20.2.200/24 dev eth0 && exec python3 -c "$0" "$1"'

    def from_address(source):
        return vpc_exec(daemon, n["private"], [n["client"]], "sh", "-c", script, connect, source,
                        private_ip="10.20.2.20").returncode == 0

    try:
        wait_for(lambda: from_address("10.20.2.20"), "the server to answer the ENI's own address")
        assert not from_address("10.20.2.200"), "a second, spoofed address is dropped"
    finally:
        stop(server)
