"""The seed's other way out of a VPC: "you can configure a NAT instance inside your VPC or
you can use the Amazon VPC NAT gateway". A NAT instance is a process of our own on a real ENI
of the public subnet (`vpc-exec`) that forwards and masquerades in its namespace, with EC2's
source/destination check off and an Elastic IP associated with its interface; the private
subnet's default route points at that interface. A Python function in the private subnet
then reaches a host of the simulated internet, which sees the Elastic IP; without the route,
or with the check on, it does not. Also an Elastic IP on its own: AssociateAddress maps one
interface 1:1 to the internet (a vpc-exec server, a function's Lambda ENI), and
DisassociateAddress unmaps it. Every "reaches" has its "cannot" next to it."""

import subprocess
import sys

import pytest

from conftest import BIN, ROOT
from test_vpc_functions import INTERNET, connects, deploy, eventually, spawn, stop, vpc_probe

NAT_IP = "10.40.1.10"

# What a NAT instance's user data does (AWS's NAT AMI does the same): forward, send no ICMP
# redirects (the private subnet's traffic leaves through the interface it came in on), and
# masquerade what it forwards to its own address.
NAT_INSTANCE = f"""
set -e
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
nft -f - <<'EOF'
table ip nat_instance {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr != {NAT_IP} masquerade
  }}
}}
EOF
echo ready
exec sleep infinity
"""

# An internet host that prints the source address of every TCP connection it accepts.
SOURCES = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print("listening", flush=True)
while True:
    c, (peer, _) = s.accept()
    print(peer, flush=True)
    c.close()
"""

# A web server in the VPC (`socketserver`'s, not `http.server`'s: that one looks its own name
# up before it listens, and there is no resolver to answer).
WEB = """
import http.server, socketserver, sys
server = socketserver.TCPServer((sys.argv[1], 8000), http.server.SimpleHTTPRequestHandler)
print("listening", flush=True)
server.serve_forever()
"""

PROBE = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3).read()"


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


class PublicAndPrivate:
    """10.<n>.0.0/16 with an internet gateway: a public subnet 10.<n>.1.0/24 routed to it, a
    private subnet 10.<n>.2.0/24 with a route table of its own (no default route yet)."""

    def __init__(self, d, n):
        ec2 = self.ec2 = d.client("ec2")
        self.cidr = f"10.{n}.0.0/16"
        self.vpc = ec2.create_vpc(CidrBlock=self.cidr)["Vpc"]["VpcId"]

        def subnet(i):
            return ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.{n}.{i}.0/24",
                                     AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]

        self.public, self.private = subnet(1), subnet(2)
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=self.vpc)
        public_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=self.public)
        self.private_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=self.private_rt, SubnetId=self.private)

    def group(self, name, *ingress):
        g = self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"]
        if ingress:
            self.ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=list(ingress))
        return g

    def eni_at(self, ip):
        enis = self.ec2.describe_network_interfaces(Filters=[
            {"Name": "vpc-id", "Values": [self.vpc]},
            {"Name": "private-ip-address", "Values": [ip]}])["NetworkInterfaces"]
        assert len(enis) == 1, enis
        return enis[0]["NetworkInterfaceId"]


def vpc_exec(d, subnet, groups, ip, *command):
    return spawn("vpc-exec", "--data-dir", str(d.data_dir), "--subnet-id", subnet,
                 "--security-group-ids", ",".join(groups), "--private-ip", ip, "--", *command)


def internet_host(d, ip, port):
    return spawn("internet-exec", "--data-dir", str(d.data_dir), "--ip", ip, "--",
                 sys.executable, "-c", SOURCES, ip, str(port))


def started(proc, line):
    """Waits for `proc` to print `line` (it is ready then); fails with its stderr if it ends."""
    got = proc.stdout.readline().strip()
    if got != line:
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"expected {line!r}, got {got!r}: {err}")


def seen_sources(host):
    """The sources `host` (an `internet_host`) saw, once stopped."""
    host.terminate()
    out, _ = host.communicate(timeout=30)
    return set(out.split()) - {"listening"}


def stop_server(proc):
    """Stops a `vpc_exec` WEB server; its log (one line per request, client address first)."""
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    return err


def from_the_internet(d, url):
    """Whether a host of the simulated internet (203.0.113.20) fetches `url`."""
    p = subprocess.run([str(BIN), "internet-exec", "--data-dir", str(d.data_dir), "--ip", "203.0.113.20",
                        "--", sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=60)
    return p.returncode == 0


def test_a_nat_instance_gives_a_private_function_the_internet(execd):
    d = execd
    net = PublicAndPrivate(d, 40)
    # As AWS's NAT instance guide has it: the instance lets in what the VPC sends.
    nat_sg = net.group("nat", {"IpProtocol": "-1", "IpRanges": [{"CidrIp": net.cidr}]})
    fn_sg = net.group("fn")
    host = internet_host(d, INTERNET, 8080)
    nat = vpc_exec(d, net.public, [nat_sg], NAT_IP, "bash", "-c", NAT_INSTANCE)
    try:
        started(host, "listening")
        started(nat, "ready")
        eni = net.eni_at(NAT_IP)
        net.ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": False})
        assert net.ec2.describe_network_interfaces(
            NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["SourceDestCheck"] is False
        eip = net.ec2.allocate_address(Domain="vpc")
        net.ec2.associate_address(AllocationId=eip["AllocationId"], NetworkInterfaceId=eni)

        deploy(d, "behind-nat", VpcConfig={"SubnetIds": [net.private], "SecurityGroupIds": [fn_sg]})
        assert not connects(d, "behind-nat", f"{INTERNET}:8080"), "no default route, no internet"

        net.ec2.create_route(RouteTableId=net.private_rt, DestinationCidrBlock="0.0.0.0/0",
                             NetworkInterfaceId=eni)
        route = next(r for r in net.ec2.describe_route_tables(RouteTableIds=[net.private_rt])
                     ["RouteTables"][0]["Routes"] if r.get("NetworkInterfaceId"))
        assert route["NetworkInterfaceId"] == eni and route["State"] == "active", route
        eventually(lambda: connects(d, "behind-nat", f"{INTERNET}:8080"),
                   "the private function reaches the internet through the NAT instance")

        # The instance's security group applies to what it forwards: without an ingress
        # rule for the VPC, the private subnet's traffic does not get in.
        rule = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": net.cidr}]}
        net.ec2.revoke_security_group_ingress(GroupId=nat_sg, IpPermissions=[rule])
        eventually(lambda: not connects(d, "behind-nat", f"{INTERNET}:8080"),
                   "the NAT instance's group admits nothing from the VPC", attempts=3)
        net.ec2.authorize_security_group_ingress(GroupId=nat_sg, IpPermissions=[rule])
        eventually(lambda: connects(d, "behind-nat", f"{INTERNET}:8080"), "re-authorized, it does")

        # With the check on, the instance may send only from its own address: the
        # internet's replies it forwards to the function are dropped at its port.
        net.ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": True})
        eventually(lambda: not connects(d, "behind-nat", f"{INTERNET}:8080"),
                   "with the source/dest check on, the instance forwards nothing", attempts=3)
        net.ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": False})
        eventually(lambda: connects(d, "behind-nat", f"{INTERNET}:8080"), "with it off again, it does")

        net.ec2.delete_route(RouteTableId=net.private_rt, DestinationCidrBlock="0.0.0.0/0")
        eventually(lambda: not connects(d, "behind-nat", f"{INTERNET}:8080"),
                   "without the route the function is cut off again", attempts=3)
    finally:
        stop(nat)
        sources = seen_sources(host)
    assert sources == {eip["PublicIp"]}, f"the internet host sees the Elastic IP only: {sources}"


def test_an_elastic_ip_maps_an_interface_to_the_internet(privileged, daemon):
    d = daemon
    net = PublicAndPrivate(d, 41)
    web = net.group("web", {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    server = vpc_exec(d, net.public, [web], "10.41.1.10", sys.executable, "-c", WEB, "10.41.1.10")
    try:
        started(server, "listening")
        eventually(lambda: vpc_probe(d, net.public, [web], "10.41.1.10:8000"),
                   "positive control: the server answers inside its VPC")
        eni = net.eni_at("10.41.1.10")
        eip = net.ec2.allocate_address(Domain="vpc")
        url = f"http://{eip['PublicIp']}:8000/"
        assert not from_the_internet(d, url), "without an association nothing answers at the address"

        association = net.ec2.associate_address(AllocationId=eip["AllocationId"],
                                                NetworkInterfaceId=eni)["AssociationId"]
        eventually(lambda: from_the_internet(d, url), "the interface answers at its Elastic IP")
        assert not from_the_internet(d, "http://10.41.1.10:8000/"), "its private address stays private"

        net.ec2.disassociate_address(AssociationId=association)
        eventually(lambda: not from_the_internet(d, url), "disassociated, it is unreachable again",
                   attempts=3)
    finally:
        log = stop_server(server)
    assert '203.0.113.20 - - ' in log, "the server saw the internet host's own address"



def test_an_elastic_ip_on_a_lambda_eni_gives_its_function_the_internet(privileged, make_daemon):
    """AWS lets an account associate an Elastic IP with its function's Hyperplane ENI (a
    known way round a NAT gateway); the function in a public subnet then reaches the
    internet from that address, and loses it again with the association."""
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--eni-mode", "hyperplane").start()
    net = PublicAndPrivate(d, 42)
    fn_sg = net.group("fn")
    host = internet_host(d, INTERNET, 8080)
    try:
        started(host, "listening")
        deploy(d, "public-fn", VpcConfig={"SubnetIds": [net.public], "SecurityGroupIds": [fn_sg]})
        [eni] = net.ec2.describe_network_interfaces(Filters=[
            {"Name": "subnet-id", "Values": [net.public]},
            {"Name": "interface-type", "Values": ["lambda"]}])["NetworkInterfaces"]
        assert not connects(d, "public-fn", f"{INTERNET}:8080"), "a public subnet alone is not enough"

        eip = net.ec2.allocate_address(Domain="vpc")
        association = net.ec2.associate_address(AllocationId=eip["AllocationId"],
                                                NetworkInterfaceId=eni["NetworkInterfaceId"])["AssociationId"]
        eventually(lambda: connects(d, "public-fn", f"{INTERNET}:8080"),
                   "the function reaches the internet from its ENI's Elastic IP")
        net.ec2.disassociate_address(AssociationId=association)
        eventually(lambda: not connects(d, "public-fn", f"{INTERNET}:8080"),
                   "disassociated, the function is cut off again", attempts=3)
    finally:
        sources = seen_sources(host)
    assert sources == {eip["PublicIp"]}, f"the internet host sees the Elastic IP only: {sources}"
