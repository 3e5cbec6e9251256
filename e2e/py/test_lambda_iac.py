"""The call sequences infrastructure-as-code tools make, replayed with boto3.

Each test follows what Terraform's AWS provider does for one resource type — create, the
waits after it, every Get/List a refresh makes, update, delete and the wait for it to be
gone — with a client whose every response is checked against botocore's output shape
(`wire_check`), so a member a stricter SDK would choke on fails here. A refresh is made
twice (plan, then apply) as Terraform does; the second must read the same state.
"""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from functions import zip_function
from fixtures.lambda_world import make_role, package, wait_until
from wire_check import checked

ACCOUNT = "000000000000"


@pytest.fixture
def lam(daemon):
    return checked(daemon.client("lambda"))


XRAY_WRITE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}]})
# What an aws_lambda_function_event_invoke_config with a Lambda destination needs.
INVOKE_DESTINATIONS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]})


@pytest.fixture
def role(daemon):
    """An execution role as a Terraform module makes one for a traced function."""
    return exec_role(daemon)


def exec_role(d):
    arn = make_role(d, "iac-exec")
    iam = d.client("iam")
    iam.put_role_policy(RoleName="iac-exec", PolicyName="xray", PolicyDocument=XRAY_WRITE)
    iam.put_role_policy(RoleName="iac-exec", PolicyName="destinations", PolicyDocument=INVOKE_DESTINATIONS)
    return arn


@pytest.fixture
def execd(privileged, make_daemon):
    """A daemon that runs code: provisioned concurrency initializes real environments."""
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def not_found(call, code="ResourceNotFoundException", **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"] == code
    return False


def make_function(lam, role, name, code=None, **kw):
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                        Handler="bootstrap", Code={"ZipFile": code or package()}, **kw)
    wait_until(lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active")


def refresh_function(lam, name):
    """aws_lambda_function's Read: GetFunction, the latest version, the signing config."""
    got = lam.get_function(FunctionName=name)
    versions = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        versions.extend(page["Versions"])
    signing = lam.get_function_code_signing_config(FunctionName=name)
    assert signing["FunctionName"] == name
    return got, versions[-1], signing.get("CodeSigningConfigArn", "")


def test_aws_lambda_function(lam, role):
    make_function(lam, role, "iac-fn", Publish=True, TracingConfig={"Mode": "Active"},
                  Description="v1", Timeout=10, MemorySize=256,
                  Environment={"Variables": {"STAGE": "dev"}}, Tags={"owner": "iac"})
    lam.put_function_concurrency(FunctionName="iac-fn", ReservedConcurrentExecutions=5)
    for _ in range(2):
        got, latest, signing = refresh_function(lam, "iac-fn")
        cfg = got["Configuration"]
        assert cfg["TracingConfig"] == {"Mode": "Active"}
        assert got["Concurrency"] == {"ReservedConcurrentExecutions": 5}
        assert got["Tags"] == {"owner": "iac"}
        assert latest["Version"] == "1"
        assert signing == ""

    lam.update_function_configuration(FunctionName="iac-fn", Description="v2", Timeout=20)
    wait_until(lambda: lam.get_function(FunctionName="iac-fn")["Configuration"]["LastUpdateStatus"] == "Successful")
    lam.update_function_code(FunctionName="iac-fn", ZipFile=package({"bootstrap": "#!/bin/sh\necho v2\n"}))
    wait_until(lambda: lam.get_function(FunctionName="iac-fn")["Configuration"]["LastUpdateStatus"] == "Successful")
    published = lam.publish_version(FunctionName="iac-fn")
    lam.get_function_configuration(FunctionName=published["FunctionArn"], Qualifier=published["Version"])
    lam.delete_function_concurrency(FunctionName="iac-fn")
    got, latest, _ = refresh_function(lam, "iac-fn")
    assert got["Configuration"]["Description"] == "v2" and got["Configuration"]["Timeout"] == 20
    assert latest["Version"] == "2"
    assert "Concurrency" not in got

    lam.delete_function(FunctionName="iac-fn")
    wait_until(lambda: not_found(lam.get_function, FunctionName="iac-fn"))


def test_aws_lambda_permission(lam, role):
    make_function(lam, role, "iac-perm", Publish=True)
    lam.add_permission(FunctionName="iac-perm", StatementId="AllowS3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::some-bucket",
                       SourceAccount=ACCOUNT, Qualifier="1")
    for _ in range(2):
        policy = json.loads(lam.get_policy(FunctionName="iac-perm", Qualifier="1")["Policy"])
        (stmt,) = [s for s in policy["Statement"] if s["Sid"] == "AllowS3"]
        assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}
        assert stmt["Resource"].endswith(":function:iac-perm:1")
    lam.remove_permission(FunctionName="iac-perm", StatementId="AllowS3", Qualifier="1")
    assert not_found(lam.get_policy, FunctionName="iac-perm", Qualifier="1")
    lam.delete_function(FunctionName="iac-perm")


def test_aws_lambda_layer_version(lam):
    out = lam.publish_layer_version(LayerName="iac-layer", Description="shared code",
                                    Content={"ZipFile": package({"python/shared.py": "X = 1\n"})},
                                    CompatibleRuntimes=["python3.11"],
                                    CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    for _ in range(2):
        got = lam.get_layer_version(LayerName="iac-layer", VersionNumber=out["Version"])
        assert got["LayerVersionArn"] == out["LayerVersionArn"]
        assert got["CompatibleRuntimes"] == ["python3.11"]
        by_arn = lam.get_layer_version_by_arn(Arn=out["LayerVersionArn"])
        assert by_arn["Version"] == out["Version"]
    lam.delete_layer_version(LayerName="iac-layer", VersionNumber=out["Version"])
    assert not_found(lam.get_layer_version, LayerName="iac-layer", VersionNumber=out["Version"])


def test_aws_lambda_alias(lam, role):
    make_function(lam, role, "iac-alias", Publish=True)
    lam.update_function_code(FunctionName="iac-alias", ZipFile=package({"bootstrap": "#!/bin/sh\necho 2\n"}))
    wait_until(lambda: lam.get_function(FunctionName="iac-alias")["Configuration"]["LastUpdateStatus"] == "Successful")
    v2 = lam.publish_version(FunctionName="iac-alias")
    lam.create_alias(FunctionName="iac-alias", Name="live", FunctionVersion="1", Description="prod")
    for _ in range(2):
        got = lam.get_alias(FunctionName="iac-alias", Name="live")
        assert got["FunctionVersion"] == "1"
    lam.update_alias(FunctionName="iac-alias", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {v2["Version"]: 0.25}})
    got = lam.get_alias(FunctionName="iac-alias", Name="live")
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    lam.delete_alias(FunctionName="iac-alias", Name="live")
    assert not_found(lam.get_alias, FunctionName="iac-alias", Name="live")
    lam.delete_function(FunctionName="iac-alias")


def test_aws_lambda_function_event_invoke_config(lam, role):
    make_function(lam, role, "iac-async")
    make_function(lam, role, "iac-async-dest")
    dest = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iac-async-dest"
    lam.put_function_event_invoke_config(FunctionName="iac-async", MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": dest}})
    for _ in range(2):
        got = lam.get_function_event_invoke_config(FunctionName="iac-async")
        assert got["MaximumRetryAttempts"] == 1
        assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest
    lam.update_function_event_invoke_config(FunctionName="iac-async", MaximumEventAgeInSeconds=120)
    got = lam.get_function_event_invoke_config(FunctionName="iac-async")
    assert got["MaximumEventAgeInSeconds"] == 120 and got["MaximumRetryAttempts"] == 1
    lam.delete_function_event_invoke_config(FunctionName="iac-async")
    assert not_found(lam.get_function_event_invoke_config, FunctionName="iac-async")


def test_aws_lambda_provisioned_concurrency_config(execd):
    lam, role = checked(execd.client("lambda")), exec_role(execd)
    make_function(lam, role, "iac-pc", code=zip_function("shell"), Publish=True)
    lam.put_provisioned_concurrency_config(FunctionName="iac-pc", Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    wait_until(lambda: lam.get_provisioned_concurrency_config(
        FunctionName="iac-pc", Qualifier="1")["Status"] == "READY", timeout=60)
    for _ in range(2):
        got = lam.get_provisioned_concurrency_config(FunctionName="iac-pc", Qualifier="1")
        assert got["RequestedProvisionedConcurrentExecutions"] == 1
        assert got["AllocatedProvisionedConcurrentExecutions"] == 1
    lam.delete_provisioned_concurrency_config(FunctionName="iac-pc", Qualifier="1")
    assert not_found(lam.get_provisioned_concurrency_config, "ProvisionedConcurrencyConfigNotFoundException",
                     FunctionName="iac-pc", Qualifier="1")
    lam.delete_function(FunctionName="iac-pc")


def test_aws_lambda_code_signing_config(lam, role):
    profile = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/iac/abcdefghij"
    out = lam.create_code_signing_config(
        Description="iac", AllowedPublishers={"SigningProfileVersionArns": [profile]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"})["CodeSigningConfig"]
    arn = out["CodeSigningConfigArn"]
    for _ in range(2):
        got = lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
        assert got["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    lam.update_code_signing_config(CodeSigningConfigArn=arn,
                                   CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})
    got = lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert got["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    make_function(lam, role, "iac-signed")
    lam.put_function_code_signing_config(FunctionName="iac-signed", CodeSigningConfigArn=arn)
    _, _, signing = refresh_function(lam, "iac-signed")
    assert signing == arn
    lam.delete_function_code_signing_config(FunctionName="iac-signed")
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert not_found(lam.get_code_signing_config, CodeSigningConfigArn=arn)
