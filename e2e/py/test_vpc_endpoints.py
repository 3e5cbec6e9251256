"""VPC endpoints from inside function code (issue 18): a function in a private subnet (no
NAT gateway, no route out) reaches S3 through a gateway endpoint and STS through an
interface endpoint, each only as the endpoint's routes, security groups and policy allow,
with an unmodified boto3 (no endpoint_url, no verify=False). Every "cannot" has its
positive control beside it."""

import json
import subprocess
import time

import pytest

from conftest import BIN, ROOT
from fixtures.aws_calls import ENDPOINT_IP, S3_IP, As, Vpc, deploy, invoke, s3_role
from fixtures.lambda_world import wait_until

S3_SERVICE = "com.amazonaws.us-east-1.s3"
STS_SERVICE = "com.amazonaws.us-east-1.sts"
LAMBDA_SERVICE = "com.amazonaws.us-east-1.lambda"
TIMED_OUT = {"ok": False, "error": "ConnectTimeoutError"}


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def available(ec2, endpoint):
    wait_until(lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])
               ["VpcEndpoints"][0]["State"] == "available", timeout=60)


def eventually(check, timeout=30):
    """`check()` once it holds: a change of an endpoint applies after the call returns."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def policy(effect, action, resource="*", condition=None):
    statement = {"Effect": effect, "Principal": "*", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_gateway_endpoint_carries_s3_under_its_policy_and_nothing_else(execd):
    d = execd
    ec2, s3 = d.client("ec2"), d.client("s3")
    s3.create_bucket(Bucket="through-gateway")
    net = Vpc(d)
    deploy(d, "gw", s3_role(d, "gw-s3", "through-gateway"), VpcConfig=net.config())
    put = lambda key: invoke(d, "gw", op="put", bucket="through-gateway", key=key, body=key)

    assert invoke(d, "gw", op="resolve", name="through-gateway.s3.amazonaws.com")["ip"] == S3_IP
    assert put("before") == TIMED_OUT, "a private subnet has no way to S3 yet"

    endpoint = ec2.create_vpc_endpoint(VpcId=net.vpc, ServiceName=S3_SERVICE,
                                       RouteTableIds=[net.private_rt])["VpcEndpoint"]["VpcEndpointId"]
    available(ec2, endpoint)
    assert put("via-gateway")["ok"]
    assert s3.get_object(Bucket="through-gateway", Key="via-gateway")["Body"].read() == b"via-gateway"
    assert invoke(d, "gw", op="whoami") == TIMED_OUT, "the gateway endpoint carries S3 only"

    # aws:SourceVpce: the bucket takes writes through this endpoint only.
    s3.put_bucket_policy(Bucket="through-gateway", Policy=policy(
        "Deny", "s3:PutObject", "arn:aws:s3:::through-gateway/*",
        {"StringNotEquals": {"aws:SourceVpce": endpoint}}))
    assert put("only-via-endpoint")["ok"]
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.put_object(Bucket="through-gateway", Key="from-host", Body=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket="through-gateway")

    # The endpoint's own policy is evaluated on every request through it.
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=policy("Deny", "s3:PutObject"))
    assert eventually(lambda: put("denied") == {"ok": False, "error": "AccessDenied"})
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, ResetPolicy=True)
    assert eventually(lambda: put("allowed-again")["ok"])

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    assert eventually(lambda: put("after") == TIMED_OUT), "no endpoint, no route"


def interface_endpoint(ec2, net, groups, service=STS_SERVICE, **kw):
    created = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=net.vpc,
                                      ServiceName=service, SubnetIds=[net.private],
                                      SecurityGroupIds=groups, PrivateDnsEnabled=True,
                                      **kw)["VpcEndpoint"]
    available(ec2, created["VpcEndpointId"])
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=created["NetworkInterfaceIds"]
                                          )["NetworkInterfaces"][0]
    return created, eni["PrivateIpAddress"]


def dig(d, net, name):
    """What the VPC's resolver answers for `name`, asked by dig from an ENI of the subnet."""
    out = subprocess.run([str(BIN), "vpc-exec", "--data-dir", str(d.data_dir), "--subnet-id",
                          net.private, "--security-group-ids", net.sg, "--",
                          "dig", "+short", "+time=2", "+tries=1", name],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_an_interface_endpoint_with_private_dns_serves_sts_behind_its_security_group(execd):
    d = execd
    ec2 = d.client("ec2")
    net = Vpc(d)
    ec2.modify_vpc_attribute(VpcId=net.vpc, EnableDnsHostnames={"Value": True})
    guard = ec2.create_security_group(GroupName="sts-endpoint", Description="443 from the subnet",
                                      VpcId=net.vpc)["GroupId"]
    https_from_subnet = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                          "IpRanges": [{"CidrIp": "10.40.1.0/24"}]}]
    ec2.authorize_security_group_ingress(GroupId=guard, IpPermissions=https_from_subnet)
    endpoint, ip = interface_endpoint(ec2, net, [guard])
    deploy(d, "iface", s3_role(d, "iface-role", "unused"), VpcConfig=net.config())

    # Private DNS: the service's own name is the endpoint's interface inside this VPC.
    assert invoke(d, "iface", op="resolve", name="sts.us-east-1.amazonaws.com")["ip"] == ip
    assert dig(d, net, "sts.us-east-1.amazonaws.com") == [ip]
    regional = endpoint["DnsEntries"][0]["DnsName"]
    assert regional.startswith(endpoint["VpcEndpointId"] + "-")
    assert dig(d, net, regional) == [ip]

    who = invoke(d, "iface", op="whoami")
    assert who == {"ok": True, "arn": "arn:aws:sts::000000000000:assumed-role/iface-role/iface"}, who
    assert invoke(d, "iface", op="put", bucket="unused", key="k", body="x") == TIMED_OUT, \
        "an STS endpoint is no way to S3"

    # The endpoint's security group decides who reaches it.
    ec2.revoke_security_group_ingress(GroupId=guard, IpPermissions=https_from_subnet)
    assert eventually(lambda: invoke(d, "iface", op="whoami") == TIMED_OUT)
    ec2.authorize_security_group_ingress(GroupId=guard, IpPermissions=https_from_subnet)
    assert eventually(lambda: invoke(d, "iface", op="whoami")["ok"])


def test_an_interface_endpoint_whose_group_admits_another_subnet_blocks_the_function(execd):
    d = execd
    ec2 = d.client("ec2")
    net = Vpc(d)
    ec2.modify_vpc_attribute(VpcId=net.vpc, EnableDnsHostnames={"Value": True})
    guard = ec2.create_security_group(GroupName="public-only", Description="443 from public",
                                      VpcId=net.vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=guard, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.40.2.0/24"}]}])
    interface_endpoint(ec2, net, [guard])
    deploy(d, "blocked", s3_role(d, "blocked-role", "unused"), VpcConfig=net.config())
    assert invoke(d, "blocked", op="whoami") == TIMED_OUT


def test_interface_endpoint_policies_decide_for_every_service(execd):
    d = execd
    ec2 = d.client("ec2")
    net = Vpc(d)
    ec2.modify_vpc_attribute(VpcId=net.vpc, EnableDnsHostnames={"Value": True})
    guard = ec2.create_security_group(GroupName="endpoints", Description="443 from the subnet",
                                      VpcId=net.vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=guard, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.40.1.0/24"}]}])
    open_arn = "arn:aws:lambda:us-east-1:000000000000:function:open"
    lam, _ = interface_endpoint(ec2, net, [guard], LAMBDA_SERVICE,
                                PolicyDocument=policy("Allow", "lambda:GetFunction", open_arn))
    # No endpoint policy can deny sts:GetCallerIdentity, as on AWS.
    interface_endpoint(ec2, net, [guard], PolicyDocument=policy("Deny", "*"))
    deploy(d, "caller", s3_role(d, "caller-role", "unused"), VpcConfig=net.config())
    deploy(d, "open", s3_role(d, "open-role", "unused"))
    deploy(d, "closed", s3_role(d, "closed-role", "unused"))
    get = lambda name: invoke(d, "caller", op="get_function", name=name)

    assert get("open") == {"ok": True, "name": "open"}
    assert get("closed") == {"ok": False, "error": "AccessDeniedException"}, \
        "the endpoint policy names one function"
    assert invoke(d, "caller", op="whoami")["ok"]

    # The policy may test where the request came from: aws:VpcSourceIp is the ENI's.
    ec2.modify_vpc_endpoint(VpcEndpointId=lam["VpcEndpointId"], PolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": "*",
                       "Condition": {"IpAddress": {"aws:VpcSourceIp": "10.40.2.0/24"}}}]}))
    assert eventually(lambda: get("open") == {"ok": False, "error": "AccessDeniedException"})
    ec2.modify_vpc_endpoint(VpcEndpointId=lam["VpcEndpointId"], ResetPolicy=True)
    assert eventually(lambda: get("closed") == {"ok": True, "name": "closed"})
    # Outside the VPC no endpoint policy applies.
    assert d.client("lambda").get_function(FunctionName="closed")["Configuration"]["FunctionName"] \
        == "closed"


OTHER = "222222222222"
TWO_ACCOUNTS = f"""
[[accounts]]
access_key_id = "test"
secret_access_key = "test"
account_id = "000000000000"
[[accounts]]
access_key_id = "AKIATWO"
secret_access_key = "two"
account_id = "{OTHER}"
"""


def test_another_accounts_functions_neither_reach_nor_impersonate_an_endpoint(privileged, make_daemon):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), config=TWO_ACCOUNTS).start()
    other = As(d, "AKIATWO", "two")
    ec2 = d.client("ec2")
    net = Vpc(d)
    ec2.modify_vpc_attribute(VpcId=net.vpc, EnableDnsHostnames={"Value": True})
    guard = ec2.create_security_group(GroupName="sts-endpoint", Description="443 from anywhere",
                                      VpcId=net.vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=guard, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    _, ip = interface_endpoint(ec2, net, [guard])
    deploy(d, "mine", s3_role(d, "mine-role", "unused"), VpcConfig=net.config())
    assert invoke(d, "mine", op="whoami")["ok"], "the owner's function uses its endpoint"

    # The other account's VPC has the very same CIDR: the endpoint's address there is
    # nobody, and the service's name is the public one.
    theirs = Vpc(other)
    other.client("ec2").modify_vpc_attribute(VpcId=theirs.vpc, EnableDnsHostnames={"Value": True})
    deploy(other, "theirs", s3_role(other, "theirs-role", "unused"), VpcConfig=theirs.config())
    assert invoke(other, "theirs", op="resolve", name="sts.us-east-1.amazonaws.com")["ip"] == ENDPOINT_IP
    assert invoke(other, "theirs", op="connect", ip=ip, port=443) == {"ok": False, "error": "TimeoutError"}
    assert invoke(other, "theirs", op="whoami") == TIMED_OUT

    # Without a VPC it reaches the public endpoint as itself, and cannot put forged frames
    # on any network to pose as an endpoint (no raw or packet sockets).
    deploy(other, "public", s3_role(other, "public-role", "unused"))
    assert invoke(other, "public", op="whoami") == \
        {"ok": True, "arn": f"arn:aws:sts::{OTHER}:assumed-role/public-role/public"}
    assert invoke(other, "public", op="packet") == {"ok": False, "error": "PermissionError"}
