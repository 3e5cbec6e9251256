"""AWS's endpoints from inside function code (issue 18): an unmodified boto3 function (no
endpoint_url, no verify=False) reaches S3 and STS at their real names over HTTPS, trusting
the daemon's CA, by the routes its network gives it: directly without a VPC, through a NAT
gateway from a private subnet (arriving from the NAT's Elastic IP), not at all from a
private subnet without one. Each "cannot" has its positive control beside it."""

import json

import pytest

from conftest import ROOT
from fixtures.aws_calls import ENDPOINT_IP, S3_IP, Vpc, deploy, invoke, s3_role
from fixtures.lambda_world import BASIC, make_role


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def test_a_function_without_a_vpc_calls_s3_and_sts_by_their_names(execd):
    d = execd
    s3 = d.client("s3")
    s3.create_bucket(Bucket="from-lambda")
    role = s3_role(d, "public-s3", "from-lambda")
    deploy(d, "public", role)

    assert invoke(d, "public", op="resolve", name="from-lambda.s3.amazonaws.com") == \
        {"ok": True, "ip": S3_IP}
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
