"""Foundation: one port, SigV4, accounts, STS, durability, shutdown (issue 2)."""

import datetime
import signal
import subprocess
import unittest.mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import KEY, SECRET, REGION


def test_cli_with_endpoint_flag(daemon):
    out = daemon.aws("sts", "get-caller-identity")
    assert out["Account"] == "000000000000"
    assert out["Arn"] == "arn:aws:iam::000000000000:root"


def test_cli_with_endpoint_env(daemon):
    out = daemon.aws("sts", "get-caller-identity", use_flag=False,
                     env=daemon.aws_env(AWS_ENDPOINT_URL=daemon.endpoint))
    assert out["Account"] == "000000000000"


def test_boto3(daemon):
    assert daemon.client("sts").get_caller_identity()["Account"] == "000000000000"


def test_banner_says_how_to_connect(daemon):
    text = "\n".join(daemon.banner)
    assert "AWS_ACCESS_KEY_ID=test" in text
    assert f"aws --endpoint-url {daemon.endpoint}" in text


def test_health(daemon):
    assert requests.get(daemon.endpoint + "/_vpclambda/health", timeout=5).status_code == 200


def test_wrong_secret(daemon):
    with pytest.raises(ClientError) as e:
        daemon.client("sts", secret="wrong").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key(daemon):
    with pytest.raises(ClientError) as e:
        daemon.client("sts", key="AKIDNOBODY").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def signed(daemon, body: bytes, when: datetime.datetime, service="sts", headers=None):
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=daemon.endpoint + "/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
    creds = botocore.credentials.Credentials(KEY, SECRET)
    auth = botocore.auth.SigV4Auth(creds, service, REGION)
    with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        auth.add_auth(req)
    return req.prepare()


def send(p):
    return requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=10)


def test_old_signature_is_rejected_with_clock_message(daemon):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    r = send(signed(daemon, b"Action=GetCallerIdentity&Version=2011-06-15", old))
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert "Signature expired" in r.text
    assert "Date" in r.headers


def test_fresh_signature_is_accepted(daemon):
    now = datetime.datetime.now(datetime.timezone.utc)
    r = send(signed(daemon, b"Action=GetCallerIdentity&Version=2011-06-15", now))
    assert r.status_code == 200, r.text
    assert "<Account>000000000000</Account>" in r.text


def test_tampered_body_is_rejected(daemon):
    now = datetime.datetime.now(datetime.timezone.utc)
    p = signed(daemon, b"Action=GetCallerIdentity&Version=2011-06-15", now)
    p.body = b"Action=GetCallerIdentity&Version=2011-06-16"
    r = send(p)
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text


def test_unsigned_request_gets_missing_token(daemon):
    r = requests.post(daemon.endpoint + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 403
    assert "MissingAuthenticationToken" in r.text


def test_unknown_operations_get_protocol_errors(daemon):
    with pytest.raises(ClientError) as e:
        daemon.client("sts").get_session_token()
    assert e.value.response["Error"]["Code"] == "InvalidAction"
    assert e.value.response["ResponseMetadata"]["RequestId"]


def test_unknown_service_is_refused_not_hung(daemon):
    now = datetime.datetime.now(datetime.timezone.utc)
    r = send(signed(daemon, b"Action=ListQueues", now, service="sqs"))
    assert r.status_code == 400
    assert "UnknownServiceException" in r.text


def test_too_large_body_is_refused(daemon):
    r = requests.post(daemon.endpoint + "/", data=b"x" * (2 << 20), timeout=10,
                      headers={"Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20260101/{REGION}/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
                               "X-Amz-Date": "20260101T000000Z"})
    assert r.status_code == 413


def test_two_accounts_are_isolated_identities(make_daemon):
    cfg = """
[[accounts]]
access_key_id = "AKIAONE"
secret_access_key = "one"
account_id = "111111111111"
[[accounts]]
access_key_id = "AKIATWO"
secret_access_key = "two"
account_id = "222222222222"
"""
    d = make_daemon(config=cfg).start()
    assert d.client("sts", key="AKIAONE", secret="one").get_caller_identity()["Account"] == "111111111111"
    assert d.client("sts", key="AKIATWO", secret="two").get_caller_identity()["Account"] == "222222222222"
    with pytest.raises(ClientError):
        d.client("sts").get_caller_identity()


def test_refuses_default_key_off_loopback(tmp_path):
    from conftest import BIN
    p = subprocess.run([str(BIN), "serve", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "refusing to listen" in p.stderr


def test_second_daemon_on_same_data_dir_is_refused(daemon, make_daemon):
    from conftest import Daemon
    other = Daemon(daemon.data_dir)
    with pytest.raises(RuntimeError, match="already serving"):
        other.start()


def test_sigterm_exits_zero(make_daemon):
    d = make_daemon().start()
    assert d.stop(signal.SIGTERM) == 0
    assert not (d.data_dir / "admin.sock").exists()


def test_admin_socket_is_private(daemon):
    import os
    import stat
    st = os.stat(daemon.data_dir / "admin.sock")
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_kill9_keeps_every_acknowledged_write(daemon):
    logs = daemon.client("logs")
    for i in range(20):
        logs.create_log_group(logGroupName=f"/durable/{i:02d}")
    daemon.kill9()
    daemon.start()
    names = [g["logGroupName"] for g in daemon.client("logs").describe_log_groups(logGroupNamePrefix="/durable/")["logGroups"]]
    assert names == [f"/durable/{i:02d}" for i in range(20)]
