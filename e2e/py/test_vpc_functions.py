"""Functions on the network, end to end: real functions in real execution environments,
attached to the simulated internet (no VpcConfig) or to ENIs of their VPC, checked with real
TCP connects from inside the function (`{"connect": "ip:port"}`), always with a positive
control next to every "cannot". Then the seed's legacy ENI scaling: ENIs per function
follow peak concurrency × memory / 3 GB, and a scale-out that needs an ENI a full subnet
cannot give fails with Lambda's 502 while the running environments keep serving."""

import hashlib
import json
import operator
import os
import socket
import subprocess
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import BIN, ROOT
from fixtures.lambda_world import BASIC, VPC_ACCESS, create, error_of, make_role, wait_until
from functions import FUNCTIONS, zip_function

INTERNET = "203.0.113.10"
PYTHON = FUNCTIONS["python"]
SHELL = FUNCTIONS["shell"]


@pytest.fixture
def execd(privileged, make_daemon):
    """A daemon that runs functions (legacy ENIs, the default)."""
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def deploy(d, name, kind="python", role=None, **kw):
    runtime, handler = FUNCTIONS[kind]
    role = role or make_role(d, f"role-{name}", policies=(BASIC, VPC_ACCESS))
    create(d, name, role, zip_function(kind), Runtime=runtime, Handler=handler,
           Timeout=kw.pop("Timeout", 20), **kw)
    return role


def invoke(d, name, event):
    out = d.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def connects(d, name, address):
    """Whether function `name` opens a TCP connection to `address` (3 s timeout)."""
    return invoke(d, name, {"connect": address})["ok"]


def spawn(*command):
    return subprocess.Popen([str(BIN), *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(proc):
    proc.terminate()
    proc.communicate(timeout=30)


def http_server(d, subnet, groups, ip, port, hostname=None):
    """A `vpc-exec` HTTP server at ip:port on an ENI of its own, registered with the VPC's
    resolver as `hostname` when given."""
    named = ["--hostname", hostname] if hostname else []
    return spawn("vpc-exec", "--data-dir", str(d.data_dir), "--subnet-id", subnet,
                 "--security-group-ids", ",".join(groups), "--private-ip", ip, *named, "--",
                 "python3", "-m", "http.server", str(port), "--bind", ip)


def internet_host(d, ip, port):
    return spawn("internet-exec", "--data-dir", str(d.data_dir), "--ip", ip, "--",
                 "python3", "-m", "http.server", str(port), "--bind", ip)


def vpc_probe(d, subnet, groups, address):
    """Whether a `vpc-exec` process in `subnet` connects to `address` (a positive control
    that does not involve a function)."""
    host, port = address.split(":")
    code = f"import socket; socket.create_connection(('{host}', {port}), timeout=3).close()"
    p = subprocess.run([str(BIN), "vpc-exec", "--data-dir", str(d.data_dir), "--subnet-id", subnet,
                        "--security-group-ids", ",".join(groups), "--", "python3", "-c", code],
                       capture_output=True, text=True, timeout=60)
    return p.returncode == 0


def eventually(check, what, attempts=20):
    """Retries `check` a bounded number of times (each attempt takes its own time: an
    invocation, a connect timeout); fails with `what`."""
    for _ in range(attempts):
        if check():
            return
    raise AssertionError(f"never: {what}")


class Vpc:
    """10.<n>.0.0/16 with private subnets a (us-east-1a) and b (us-east-1b) sharing one route
    table, a public subnet routed to an internet gateway, the function's group `fn` and the
    group `web` that lets `fn` in on tcp/8000."""

    def __init__(self, d, n):
        ec2 = self.ec2 = d.client("ec2")
        self.vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]

        def subnet(i, zone):
            return ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.{n}.{i}.0/24",
                                     AvailabilityZone=zone)["Subnet"]["SubnetId"]

        self.a, self.b, self.public = subnet(1, "us-east-1a"), subnet(2, "us-east-1b"), subnet(3, "us-east-1a")
        self.private_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        for s in (self.a, self.b):
            ec2.associate_route_table(RouteTableId=self.private_rt, SubnetId=s)
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=self.vpc)
        public_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=self.public)

        def group(name):
            return ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"]

        self.fn, self.web = group("fn"), group("web")
        self.web_rule = {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                         "UserIdGroupPairs": [{"GroupId": self.fn}]}
        ec2.authorize_security_group_ingress(GroupId=self.web, IpPermissions=[self.web_rule])

    def config(self, *subnets):
        return {"SubnetIds": list(subnets), "SecurityGroupIds": [self.fn]}

    def nat_route(self):
        """A NAT gateway in the public subnet and the private subnets' default route to it."""
        eip = self.ec2.allocate_address(Domain="vpc")
        nat = self.ec2.create_nat_gateway(SubnetId=self.public, AllocationId=eip["AllocationId"])
        nat_id = nat["NatGateway"]["NatGatewayId"]
        wait_until(lambda: self.ec2.describe_nat_gateways(NatGatewayIds=[nat_id])
                   ["NatGateways"][0]["State"] == "available", timeout=60)
        self.ec2.create_route(RouteTableId=self.private_rt, DestinationCidrBlock="0.0.0.0/0",
                              NatGatewayId=nat_id)


def test_vpc_function_reaches_its_vpc_and_the_internet_only_through_nat(execd):
    d = execd
    net = Vpc(d, 0)
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000)
    host = internet_host(d, INTERNET, 8080)
    try:
        deploy(d, "in-vpc", VpcConfig=net.config(net.b))
        deploy(d, "no-vpc")
        eventually(lambda: connects(d, "in-vpc", "10.0.1.10:8000"),
                   "the VPC function reaches the server in the other subnet")
        eventually(lambda: connects(d, "no-vpc", f"{INTERNET}:8080"),
                   "the function without a VPC reaches the internet host")

        assert not connects(d, "no-vpc", "10.0.1.10:8000"), "no path into a VPC without VpcConfig"
        assert not connects(d, "in-vpc", f"{INTERNET}:8080"), "no internet without a NAT route"

        # Neither reaches the daemon: not its default address, not the one it listens on.
        endpoint = d.endpoint.removeprefix("http://")
        for name in ("in-vpc", "no-vpc"):
            assert not connects(d, name, "127.0.0.1:4566")
            assert not connects(d, name, endpoint)

        net.nat_route()
        eventually(lambda: connects(d, "in-vpc", f"{INTERNET}:8080"),
                   "the VPC function reaches the internet through the NAT gateway")
        assert connects(d, "in-vpc", "10.0.1.10:8000"), "and still its VPC"
    finally:
        stop(host)
        stop(server)


def test_a_function_in_a_public_subnet_has_no_internet(execd):
    """The seed's warning: a function's ENI has no public IP, so attaching the function to a
    subnet routed to an internet gateway gives it no internet; a NAT route does."""
    d = execd
    net = Vpc(d, 0)
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000)
    host = internet_host(d, INTERNET, 8080)
    try:
        deploy(d, "in-public", VpcConfig=net.config(net.public))
        deploy(d, "in-private", VpcConfig=net.config(net.b))
        net.nat_route()
        eventually(lambda: connects(d, "in-private", f"{INTERNET}:8080"),
                   "positive control: the private subnet's function goes out through the NAT gateway")
        eventually(lambda: connects(d, "in-public", "10.0.1.10:8000"),
                   "positive control: the public subnet's function reaches its VPC")
        assert not connects(d, "in-public", f"{INTERNET}:8080"), "no public IP, no internet"
    finally:
        stop(host)
        stop(server)


@pytest.fixture
def metadata_address():
    """169.254.169.254:80 answering in the daemon's own (private test) namespace, where an
    instance metadata service would be; removed afterwards."""
    ip = "169.254.169.254"
    subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
    server = subprocess.Popen(["python3", "-m", "http.server", "80", "--bind", ip],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _tcp_open(ip, 80), timeout=10)
        yield f"{ip}:80"
    finally:
        server.terminate()
        server.wait(timeout=10)
        subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], check=True)


def _tcp_open(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def test_no_environment_reaches_the_metadata_address(execd, metadata_address):
    d = execd
    net = Vpc(d, 0)
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000)
    host = internet_host(d, INTERNET, 8080)
    try:
        deploy(d, "in-vpc", VpcConfig=net.config(net.b))
        deploy(d, "no-vpc")
        net.nat_route()
        eventually(lambda: connects(d, "in-vpc", "10.0.1.10:8000"), "positive control in the VPC")
        eventually(lambda: connects(d, "in-vpc", f"{INTERNET}:8080"), "positive control via NAT")
        eventually(lambda: connects(d, "no-vpc", f"{INTERNET}:8080"), "positive control without VPC")
        assert _tcp_open("169.254.169.254", 80), "it answers where it runs"
        for name in ("in-vpc", "no-vpc"):
            assert not connects(d, name, metadata_address), name
    finally:
        stop(host)
        stop(server)


def test_security_group_changes_and_other_vpcs(execd):
    d = execd
    net, other = Vpc(d, 0), Vpc(d, 1)
    open_web = other.ec2.create_security_group(GroupName="open", Description="open",
                                               VpcId=other.vpc)["GroupId"]
    other.ec2.authorize_security_group_ingress(GroupId=open_web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000)
    elsewhere = http_server(d, other.a, [open_web], "10.1.1.10", 8000)
    try:
        deploy(d, "in-vpc", VpcConfig=net.config(net.b))
        eventually(lambda: connects(d, "in-vpc", "10.0.1.10:8000"), "the server answers the function")

        eventually(lambda: vpc_probe(d, other.b, [other.fn], "10.1.1.10:8000"),
                   "positive control: the server of VPC B answers inside VPC B")
        assert not connects(d, "in-vpc", "10.1.1.10:8000"), "VPC A cannot reach VPC B"

        net.ec2.revoke_security_group_ingress(GroupId=net.web, IpPermissions=[net.web_rule])
        eventually(lambda: not connects(d, "in-vpc", "10.0.1.10:8000"),
                   "revoking the rule blocks the function", attempts=3)
        net.ec2.authorize_security_group_ingress(GroupId=net.web, IpPermissions=[net.web_rule])
        eventually(lambda: connects(d, "in-vpc", "10.0.1.10:8000"), "authorizing it again restores it",
                   attempts=3)
    finally:
        stop(elsewhere)
        stop(server)


def test_vpc_functions_resolve_vpc_exec_hostnames_and_nothing_else(execd):
    d = execd
    net = Vpc(d, 0)
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000, hostname="web.internal")
    try:
        deploy(d, "in-vpc", VpcConfig=net.config(net.b))
        eventually(lambda: invoke(d, "in-vpc", {"fetch": "http://web.internal:8000/"})["ok"],
                   "the VPC function fetches the server by its vpc-exec hostname")
        assert invoke(d, "in-vpc", {"resolve": "WEB.internal"})["address"] == "10.0.1.10"
        assert invoke(d, "in-vpc", {"resolve": "ip-10-0-1-10.ec2.internal"})["address"] == "10.0.1.10", \
            "the ENI's private DNS name"
        for unknown in ("db.internal", "example.com", "ip-10-9-9-9.ec2.internal"):
            assert invoke(d, "in-vpc", {"resolve": unknown})["address"] is None, unknown
        with pytest.raises(subprocess.CalledProcessError):
            # A second ENI cannot take a name the VPC has.
            subprocess.run([str(BIN), "vpc-exec", "--data-dir", str(d.data_dir), "--subnet-id", net.a,
                            "--hostname", "web.internal", "--", "true"],
                           check=True, capture_output=True, timeout=60)
    finally:
        stop(server)
    assert invoke(d, "in-vpc", {"resolve": "web.internal"})["address"] is None, \
        "the name went with its ENI"


def function_enis(d, name):
    enis = d.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "requester-id", "Values": [f"*:{name}"]}])["NetworkInterfaces"]
    return enis


def concurrently(d, name, event, n):
    """Starts `n` invocations of `event` at once; returns the threads and their results."""
    results = [None] * n

    def run(i):
        try:
            out = d.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
            results[i] = (out["StatusCode"], json.loads(out["Payload"].read()))
        except ClientError as e:
            results[i] = error_of_response(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def error_of_response(e):
    err = e.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def test_legacy_enis_follow_the_seeds_formula(execd):
    d = execd
    net = Vpc(d, 0)
    role = deploy(d, "scaled", kind="shell", MemorySize=1024, VpcConfig=net.config(net.a, net.b))
    threads, results = concurrently(d, "scaled", {"sleep": 6}, 9)
    for t in threads:
        t.join()
    assert results == [(200, {"slept": 6})] * 9, results

    # 9 environments × 1 GB / 3 GB per ENI.
    enis = function_enis(d, "scaled")
    assert len(enis) == 3, enis
    by_description = d.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "description", "Values": ["AWS Lambda VPC ENI: *"]}])["NetworkInterfaces"]
    assert sorted(e["NetworkInterfaceId"] for e in by_description) == sorted(
        e["NetworkInterfaceId"] for e in enis)
    role_id = d.client("iam").get_role(RoleName=role.split("/")[-1])["Role"]["RoleId"]
    for e in enis:
        assert e["InterfaceType"] == "interface" and e["RequesterManaged"] is True, e
        assert e["RequesterId"] == f"{role_id}:scaled", e
        assert e["Attachment"]["InstanceOwnerId"] == "aws-lambda", e
        assert e["Status"] == "in-use" and e["Groups"][0]["GroupId"] == net.fn, e
    zones = sorted(e["AvailabilityZone"] for e in enis)
    assert zones in (["us-east-1a", "us-east-1a", "us-east-1b"],
                     ["us-east-1a", "us-east-1b", "us-east-1b"]), "spread over both zones"

    # Warm environments need no new ENI.
    assert invoke(d, "scaled", {"hello": 1}) == {"hello": 1}
    assert len(function_enis(d, "scaled")) == 3


def test_a_full_subnet_refuses_scale_out_and_running_environments_keep_serving(execd):
    d = execd
    ec2 = d.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # A /28 has 16 addresses; AWS keeps 5, which leaves 11 for ENIs.
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/28")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    deploy(d, "big", kind="shell", MemorySize=3008, Timeout=60,
           VpcConfig={"SubnetIds": [small], "SecurityGroupIds": [sg]})

    threads, results = concurrently(d, "big", {"sleep": 10}, 11)
    try:
        wait_until(lambda: len(function_enis(d, "big")) == 11, timeout=60)
        with pytest.raises(ClientError) as refused:
            d.client("lambda").invoke(FunctionName="big", Payload=json.dumps({"sleep": 1}))
        code, message, status = error_of(refused)
        assert (status, code) == (502, "SubnetIPAddressLimitReachedException")
        assert message == ("Lambda couldn't set up VPC access for the Lambda function because one or "
                           "more configured subnets has no available IP addresses.")
    finally:
        for t in threads:
            t.join()
    assert results == [(200, {"slept": 10})] * 11, results
    assert ec2.describe_subnets(SubnetIds=[small])["Subnets"][0]["AvailableIpAddressCount"] == 0
    # The environments that exist keep answering.
    for i in range(3):
        assert invoke(d, "big", {"n": i}) == {"n": i}
    # A second subnet in another Availability Zone: scaling resumes there.
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24",
                              AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    d.client("lambda").update_function_configuration(
        FunctionName="big", VpcConfig={"SubnetIds": [small, other], "SecurityGroupIds": [sg]})
    wait_until(lambda: d.client("lambda").get_function(FunctionName="big")["Configuration"]
               .get("LastUpdateStatus") == "Successful")
    threads, results = concurrently(d, "big", {"sleep": 3}, 12)
    for t in threads:
        t.join()
    assert results == [(200, {"slept": 3})] * 12, results
    zones = {e["AvailabilityZone"] for e in function_enis(d, "big")}
    assert "us-east-1b" in zones, zones


def test_hyperplane_functions_share_the_eni_made_at_create_time(privileged, make_daemon):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--eni-mode", "hyperplane").start()
    net = Vpc(d, 0)
    server = http_server(d, net.a, [net.web], "10.0.1.10", 8000)
    try:
        deploy(d, "one", VpcConfig=net.config(net.b))
        deploy(d, "two", kind="shell", VpcConfig=net.config(net.b))
        shared = d.client("ec2").describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [net.b]}])["NetworkInterfaces"]
        assert len(shared) == 1 and shared[0]["InterfaceType"] == "lambda", shared
        eventually(lambda: connects(d, "one", "10.0.1.10:8000"), "the server answers the function")
        assert invoke(d, "two", {"hello": 2}) == {"hello": 2}
        assert len(d.client("ec2").describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [net.b]}])["NetworkInterfaces"]) == 1, \
            "invoking creates no ENI"
    finally:
        stop(server)


def ifname(role, store_id):
    """The kernel name of object `store_id` in `role`, as `net::names::ifname` derives it."""
    return f"vl-{role}" + hashlib.sha256(store_id.encode()).hexdigest()[:15 - 3 - len(role)]


def our_namespaces():
    return sorted(n for n in os.listdir("/run/netns") if n.startswith("vl-"))


def router_links(vpc):
    out = subprocess.run(["ip", "-n", f"vl-{vpc}", "-o", "link", "show"], capture_output=True,
                         text=True, check=True).stdout
    names = (line.split(": ")[1].split("@")[0] for line in out.splitlines())
    return sorted(n for n in names if n.startswith("vl-"))


def kernel_and_store(d, net):
    """The `vl-` namespaces (of every VPC, the default VPC's included) and the links of
    `net`'s router there are, and those the records call for."""
    ec2 = d.client("ec2")
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"]
            if n["State"] in ("pending", "available")]
    interfaces = [e["NetworkInterfaceId"] for e in enis if e["InterfaceType"] != "nat_gateway"]
    gateways = [n["NatGatewayId"] for n in nats]
    # vl-pub and the host of AWS's endpoints on it are the daemon's own.
    namespaces = ["vl-pub", "vl-host-203-0-113-100", "vl-host-203-0-113-101"] + [f"vl-{i}" for i in vpcs + interfaces + gateways]
    kernel = {"namespaces": our_namespaces()}
    store = {"namespaces": sorted(namespaces)}
    if net.vpc in vpcs:
        in_vpc = [{"Name": "vpc-id", "Values": [net.vpc]}]
        subnets = ec2.describe_subnets(Filters=in_vpc)["Subnets"]
        igws = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [net.vpc]}])["InternetGateways"]
        ours = [e["NetworkInterfaceId"] for e in enis
                if e["VpcId"] == net.vpc and e["InterfaceType"] != "nat_gateway"]
        kernel["links"] = router_links(net.vpc)
        store["links"] = sorted([ifname("e", i) for i in ours] + [ifname("n", n) for n in gateways]
                                + [ifname("b", s["SubnetId"]) for s in subnets]
                                + [ifname("g", g["InternetGatewayId"]) for g in igws])
    return kernel, store


def wait_for_kernel_to_match_store(d, net, timeout=30):
    """Every record has its kernel objects and no `vl-` namespace or router link lacks one."""
    try:
        wait_until(lambda: operator.eq(*kernel_and_store(d, net)), timeout=timeout)
    except AssertionError:
        kernel, store = kernel_and_store(d, net)
        for what in kernel:
            have, want = set(kernel[what]), set(store[what])
            assert have == want, f"{what}: no record for {have - want}, missing {want - have}"


def test_kill9_while_creating_enis_and_a_nat_gateway_then_delete_everything(privileged, make_daemon):
    """The issue's crash line: SIGKILL in the middle of ENI and NAT gateway creation (three
    clients creating 60 ENIs, one a NAT gateway), then
    the kernel matches the store after restart, a VPC function invokes, and deleting every
    resource leaves no `vl-` object."""
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--eni-reclaim-delay", "0").start()
    net = Vpc(d, 0)
    deploy(d, "in-vpc", kind="shell", VpcConfig=net.config(net.b))
    assert invoke(d, "in-vpc", {"hello": 1}) == {"hello": 1}

    def create_enis(subnet):
        ec2 = d.client("ec2")
        try:
            for _ in range(20):
                ec2.create_network_interface(SubnetId=subnet, Groups=[net.web])
        except Exception:  # noqa: BLE001 - the daemon is killed under it
            pass

    def create_nat():
        try:
            eip = net.ec2.allocate_address(Domain="vpc")
            net.ec2.create_nat_gateway(SubnetId=net.public, AllocationId=eip["AllocationId"])
        except Exception:  # noqa: BLE001 - the daemon is killed under it
            pass

    workers = [threading.Thread(target=create_enis, args=(s,)) for s in (net.a, net.b, net.a)]
    workers.append(threading.Thread(target=create_nat))
    for w in workers:
        w.start()
    wait_until(lambda: len(net.ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [""]}])["NetworkInterfaces"]) >= 4, timeout=30)
    d.kill9()
    for w in workers:
        w.join()

    d.start()
    net.ec2 = d.client("ec2")
    wait_for_kernel_to_match_store(d, net)
    created = [e["NetworkInterfaceId"] for e in net.ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [""]}])["NetworkInterfaces"]]
    assert 4 <= len(created) < 60, "the kill landed in the middle"
    assert invoke(d, "in-vpc", {"hello": 2}) == {"hello": 2}

    # Delete everything, in the order AWS requires.
    d.client("lambda").delete_function(FunctionName="in-vpc")
    for eni in created:
        net.ec2.delete_network_interface(NetworkInterfaceId=eni)
    for nat in net.ec2.describe_nat_gateways()["NatGateways"]:
        if nat["State"] in ("pending", "available"):
            net.ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    wait_until(lambda: all(n["State"] == "deleted"
                           for n in net.ec2.describe_nat_gateways()["NatGateways"]), timeout=30)
    for address in net.ec2.describe_addresses()["Addresses"]:
        net.ec2.release_address(AllocationId=address["AllocationId"])
    wait_until(lambda: net.ec2.describe_network_interfaces(
        Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["NetworkInterfaces"] == [], timeout=60)
    for igw in net.ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [net.vpc]}])["InternetGateways"]:
        net.ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=net.vpc)
        net.ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    for subnet in (net.a, net.b, net.public):
        net.ec2.delete_subnet(SubnetId=subnet)
    for table in net.ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["RouteTables"]:
        if not any(a.get("Main") for a in table["Associations"]):
            net.ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    for group in (net.web, net.fn):
        net.ec2.delete_security_group(GroupId=group)
    net.ec2.delete_vpc(VpcId=net.vpc)
    wait_for_kernel_to_match_store(d, net)
    default_vpc = net.ec2.describe_vpcs()["Vpcs"]
    assert our_namespaces() == sorted(["vl-pub", "vl-host-203-0-113-100", "vl-host-203-0-113-101"] + [f"vl-{v['VpcId']}" for v in default_vpc])
    d.stop()
    assert our_namespaces() == [], "a stopped daemon leaves nothing of ours"


def _ip(*args):
    subprocess.run(["ip", *args], check=True)


def _ours_in_this_namespace():
    """`vl-` links and `vl_` nft tables in the test's own namespace (the daemon's)."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                            check=True).stdout
    return ([line.split(": ")[1].split("@")[0] for line in links.splitlines()
             if line.split(": ")[1].startswith("vl-") and not line.split(": ")[1].startswith("vl-test")]
            + [t for t in tables.split() if t.startswith("vl_")])


@pytest.fixture
def fake_uplink(privileged):
    """"The host's network", built inside the private test namespace: a veth to the
    namespace `vl-test-remote` holding 192.0.2.1 (TEST-NET-1) with an HTTP server on
    :8080, and this namespace's default route to it. All of it is removed afterwards."""
    remote = "vl-test-remote"
    _ip("netns", "add", remote)
    try:
        _ip("link", "add", "vl-test-up", "type", "veth", "peer", "name", "eth0", "netns", remote)
        _ip("addr", "add", "192.0.2.254/24", "dev", "vl-test-up")
        _ip("link", "set", "vl-test-up", "up")
        _ip("-n", remote, "addr", "add", "192.0.2.1/24", "dev", "eth0")
        _ip("-n", remote, "link", "set", "eth0", "up")
        _ip("-n", remote, "link", "set", "lo", "up")
        _ip("route", "add", "default", "via", "192.0.2.1")
        server = subprocess.Popen(["ip", "netns", "exec", remote, "python3", "-m", "http.server",
                                   "8080", "--bind", "192.0.2.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _tcp_open("192.0.2.1", 8080), timeout=10)
            yield "192.0.2.1:8080"
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        subprocess.run(["ip", "route", "del", "default", "via", "192.0.2.1"])
        subprocess.run(["ip", "link", "del", "vl-test-up"])
        subprocess.run(["ip", "netns", "del", remote])


def test_uplink_host_reaches_the_hosts_network_and_none_does_not(privileged, make_daemon,
                                                                 fake_uplink):
    remote = fake_uplink
    forwarding = open("/proc/sys/net/ipv4/ip_forward").read()
    sealed = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), name="sealed").start()
    host = internet_host(sealed, INTERNET, 8080)
    try:
        assert _ours_in_this_namespace() == [], "--uplink none creates nothing in the daemon's namespace"
        deploy(sealed, "out")
        eventually(lambda: connects(sealed, "out", f"{INTERNET}:8080"),
                   "positive control: the simulated internet")
        assert not connects(sealed, "out", remote), "sealed by default"
    finally:
        stop(host)
        sealed.stop()

    # Something listening on every address of the daemon's namespace, the uplink's included.
    service = socket.create_server(("0.0.0.0", 0))
    port = service.getsockname()[1]
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--uplink", "host",
                    name="uplinked").start()
    try:
        deploy(d, "out")
        eventually(lambda: connects(d, "out", remote), "the host's network through the uplink")
        net = Vpc(d, 0)
        deploy(d, "in-vpc", VpcConfig=net.config(net.b))
        assert not connects(d, "in-vpc", remote), "a VPC without a NAT route has no way out"
        net.nat_route()
        eventually(lambda: connects(d, "in-vpc", remote), "a VPC function through its NAT gateway")
        assert _tcp_open("192.0.2.254", port), "positive control: the daemon's namespace serves"
        for address in (f"192.0.2.254:{port}", f"169.254.0.2:{port}", d.endpoint.removeprefix("http://")):
            assert not connects(d, "out", address), f"the daemon's namespace is not reachable: {address}"
    finally:
        d.stop()
        service.close()
    assert _ours_in_this_namespace() == [], "stopping removes the uplink"
    assert open("/proc/sys/net/ipv4/ip_forward").read() == forwarding
