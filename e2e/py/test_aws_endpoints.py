"""AWS's endpoints from inside function code (issue 18): an unmodified boto3 function (no
endpoint_url, no verify=False) reaches S3 and STS at their real names over HTTPS, trusting
the daemon's CA, by the routes its network gives it: directly without a VPC, through a NAT
gateway from a private subnet (arriving from the NAT's Elastic IP), not at all from a
private subnet without one. Each "cannot" has its positive control beside it."""

import json

import pytest

from conftest import ROOT
from fixtures.lambda_world import BASIC, VPC_ACCESS, create, make_role, package, wait_until

ENDPOINT_IP = "203.0.113.100"

# The function: boto3 as any Lambda function uses it. A short connect timeout and no
# retries only make "cannot connect" quick; they change nothing about where it connects.
APP = '''
import json, os, socket
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

CFG = Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 1})

def handler(event, context):
    op = event["op"]
    try:
        if op == "put":
            s3 = boto3.client("s3", config=CFG)
            r = s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=event["body"].encode())
            return {"ok": True, "etag": r["ETag"]}
        if op == "whoami":
            sts = boto3.client("sts", config=CFG)
            return {"ok": True, "arn": sts.get_caller_identity()["Arn"]}
        if op == "resolve":
            return {"ok": True, "ip": socket.gethostbyname(event["name"])}
        if op == "read":
            with open(event["path"]) as f:
                return {"ok": True, "text": f.read()}
        if op == "env":
            return {"ok": True, "env": dict(os.environ)}
    except ClientError as e:
        return {"ok": False, "error": e.response["Error"]["Code"]}
    except (ConnectTimeoutError, EndpointConnectionError) as e:
        return {"ok": False, "error": type(e).__name__}
    except OSError as e:
        return {"ok": False, "error": type(e).__name__}
'''


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def s3_role(d, name, bucket):
    arn = make_role(d, name, policies=(BASIC, VPC_ACCESS))
    d.client("iam").put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }))
    return arn


def deploy(d, name, role, **kw):
    create(d, name, role, package({"app.py": APP}), Runtime="python3.11", Handler="app.handler",
           Timeout=30, **kw)


def invoke(d, function, **event):
    out = d.client("lambda", read_timeout=90).invoke(FunctionName=function, Payload=json.dumps(event))
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_a_function_without_a_vpc_calls_s3_and_sts_by_their_names(execd):
    d = execd
    s3 = d.client("s3")
    s3.create_bucket(Bucket="from-lambda")
    role = s3_role(d, "public-s3", "from-lambda")
    deploy(d, "public", role)

    assert invoke(d, "public", op="resolve", name="from-lambda.s3.amazonaws.com") == \
        {"ok": True, "ip": ENDPOINT_IP}
    assert invoke(d, "public", op="resolve", name="lambda.us-east-1.amazonaws.com")["ip"] == ENDPOINT_IP
    got = invoke(d, "public", op="put", bucket="from-lambda", key="hello.txt", body="written by a function")
    assert got["ok"], got
    assert s3.get_object(Bucket="from-lambda", Key="hello.txt")["Body"].read() == b"written by a function"
    who = invoke(d, "public", op="whoami")
    assert who == {"ok": True, "arn": "arn:aws:sts::000000000000:assumed-role/public-s3/public"}, who
    # The role's policy still decides: another bucket is refused.
    s3.create_bucket(Bucket="not-granted")
    assert invoke(d, "public", op="put", bucket="not-granted", key="k", body="x") == \
        {"ok": False, "error": "AccessDenied"}


def test_the_ca_is_trusted_and_its_key_stays_in_the_data_dir(execd):
    d = execd
    deploy(d, "trust", make_role(d, "trust", policies=(BASIC,)))
    ca = (d.data_dir / "ca" / "ca.pem").read_text()
    key = d.data_dir / "ca" / "ca.key"
    assert key.stat().st_mode & 0o777 == 0o600
    env = invoke(d, "trust", op="env")["env"]
    for var in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert env[var] == "/etc/ssl/certs/ca-certificates.crt", var
    store = invoke(d, "trust", op="read", path="/etc/ssl/certs/ca-certificates.crt")["text"]
    assert store.endswith(ca), "the system trust store holds the CA"
    assert "PRIVATE KEY" not in store
    assert "PRIVATE KEY" not in json.dumps(env)
    assert invoke(d, "trust", op="read", path=str(key))["ok"] is False, "the key is out of reach"


class Vpc:
    """A VPC with a private subnet (its own route table) and a public subnet routed to an
    internet gateway; the function's security group allows all egress (the default)."""

    def __init__(self, d):
        ec2 = self.ec2 = d.client("ec2")
        self.vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        self.private = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.40.1.0/24",
                                         AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        self.public = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.40.2.0/24",
                                        AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        self.private_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=self.private_rt, SubnetId=self.private)
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=self.vpc)
        public_rt = ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=self.public)
        self.sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=self.vpc)["GroupId"]

    def config(self):
        return {"SubnetIds": [self.private], "SecurityGroupIds": [self.sg]}

    def nat(self):
        """A NAT gateway in the public subnet, the private subnet's default route to it;
        returns its Elastic IP."""
        eip = self.ec2.allocate_address(Domain="vpc")
        nat_id = self.ec2.create_nat_gateway(SubnetId=self.public, AllocationId=eip["AllocationId"]
                                             )["NatGateway"]["NatGatewayId"]
        wait_until(lambda: self.ec2.describe_nat_gateways(NatGatewayIds=[nat_id])
                   ["NatGateways"][0]["State"] == "available", timeout=60)
        self.ec2.create_route(RouteTableId=self.private_rt, DestinationCidrBlock="0.0.0.0/0",
                              NatGatewayId=nat_id)
        return eip["PublicIp"]


def test_a_private_subnet_reaches_aws_only_through_a_nat_gateway(execd):
    d = execd
    s3 = d.client("s3")
    s3.create_bucket(Bucket="private-subnet")
    net = Vpc(d)
    deploy(d, "private", s3_role(d, "private-s3", "private-subnet"), VpcConfig=net.config())

    # The VPC resolver answers AWS's names; without a route out, nothing answers there.
    assert invoke(d, "private", op="resolve", name="sts.us-east-1.amazonaws.com")["ip"] == ENDPOINT_IP
    assert invoke(d, "private", op="put", bucket="private-subnet", key="k", body="x") == \
        {"ok": False, "error": "ConnectTimeoutError"}
    assert invoke(d, "private", op="whoami") == {"ok": False, "error": "ConnectTimeoutError"}

    eip = net.nat()
    # Only requests from the NAT gateway's address may write: the bucket policy proves where
    # the function's request came from.
    s3.put_bucket_policy(Bucket="private-subnet", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": "arn:aws:s3:::private-subnet/*",
                       "Condition": {"NotIpAddress": {"aws:SourceIp": f"{eip}/32"}}}],
    }))
    got = invoke(d, "private", op="put", bucket="private-subnet", key="via-nat", body="through NAT")
    assert got["ok"], got
    assert s3.get_object(Bucket="private-subnet", Key="via-nat")["Body"].read() == b"through NAT"
    assert invoke(d, "private", op="whoami")["arn"].endswith(":assumed-role/private-s3/private")

    # Positive control of the policy: from anywhere else (here the loopback listener) the
    # same write is denied.
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.put_object(Bucket="private-subnet", Key="from-host", Body=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
