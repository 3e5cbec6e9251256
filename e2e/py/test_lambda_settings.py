"""Code signing configurations, runtime management, recursion, account settings and event
source mappings through boto3 against the real daemon: every operation's happy path and
AWS's error codes and texts. No package is signed here (there is no AWS Signer), so a
`Warn` configuration lets a deployment through with a warning in the function's log group,
and an `Enforce` one refuses it and stores nothing."""

import pytest
from botocore.exceptions import ClientError

from fixtures.lambda_world import create, make_role, package, wait_updated

PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/prof/abcdefghij"


def error(e):
    err = e.value.response["Error"]
    return err["Code"], err["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def new_config(lam, policy=None, **kw):
    policies = {"CodeSigningPolicies": {"UntrustedArtifactOnDeployment": policy}} if policy else {}
    return lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, **policies, **kw
    )["CodeSigningConfig"]


def blobs(daemon):
    return {p.name for p in (daemon.data_dir / "code").glob("*.zip")}


def log_messages(daemon, name):
    logs = daemon.client("logs")
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise


def test_code_signing_config_lifecycle(daemon):
    lam = daemon.client("lambda")
    c = new_config(lam, Description="first")
    assert c["CodeSigningConfigId"].startswith("csc-") and len(c["CodeSigningConfigId"]) == 21
    assert c["CodeSigningConfigArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:code-signing-config:{c['CodeSigningConfigId']}")
    assert c["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert c["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    assert c["Description"] == "first" and c["LastModified"]
    arn = c["CodeSigningConfigArn"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == c

    u = lam.update_code_signing_config(
        CodeSigningConfigArn=arn, Description="second",
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})["CodeSigningConfig"]
    assert u["Description"] == "second"
    assert u["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Enforce"
    assert u["AllowedPublishers"] == c["AllowedPublishers"]

    other = new_config(lam)
    listed = lam.list_code_signing_configs()["CodeSigningConfigs"]
    assert sorted(x["CodeSigningConfigArn"] for x in listed) == sorted([arn, other["CodeSigningConfigArn"]])
    page = lam.list_code_signing_configs(MaxItems=1)
    assert len(page["CodeSigningConfigs"]) == 1 and page["NextMarker"]
    rest = lam.list_code_signing_configs(Marker=page["NextMarker"])
    assert len(rest["CodeSigningConfigs"]) == 1 and "NextMarker" not in rest

    lam.tag_resource(Resource=arn, Tags={"team": "a"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}

    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert error(e) == ("ResourceNotFoundException",
                        f"The Lambda code signing configuration {arn} can not be found.", 404)
    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error(e)[0] == "ResourceNotFoundException"


def test_code_signing_config_validation(daemon):
    lam = daemon.client("lambda", parameter_validation=False)
    with pytest.raises(ClientError) as e:
        lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": []})
    assert error(e) == (
        "ValidationException",
        "1 validation error detected: Value '[]' at 'allowedPublishers.signingProfileVersionArns' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1", 400)
    with pytest.raises(ClientError) as e:
        lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                                       CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Maybe"})
    assert error(e) == (
        "ValidationException",
        "1 validation error detected: Value 'Maybe' at 'codeSigningPolicies.untrustedArtifactOnDeployment' "
        "failed to satisfy constraint: Member must satisfy enum value set: [Enforce, Warn]", 400)
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn="csc-nope")
    code, message, status = error(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'csc-nope' at 'codeSigningConfigArn' "
                              "failed to satisfy constraint: Member must satisfy regular expression pattern: arn:")


def test_warn_deploys_and_logs_a_warning(daemon):
    role = make_role(daemon, "r")
    lam = daemon.client("lambda")
    csc = new_config(lam, "Warn")["CodeSigningConfigArn"]
    create(daemon, "w", role, CodeSigningConfigArn=csc)
    out = lam.get_function_code_signing_config(FunctionName="w")
    assert (out["CodeSigningConfigArn"], out["FunctionName"]) == (csc, "w")
    warnings = log_messages(daemon, "w")
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: code signature validation failed"), warnings
    assert csc in warnings[0]

    lam.update_function_code(FunctionName="w", ZipFile=package({"bootstrap": "#!/bin/sh\necho 2\n"}))
    wait_updated(daemon, "w")
    assert len(log_messages(daemon, "w")) == 2
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=csc)["FunctionArns"] == [
        "arn:aws:lambda:us-east-1:000000000000:function:w"]

    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=csc)
    code, message, status = error(e)
    assert (code, status) == ("ResourceConflictException", 409)
    assert csc in message
    lam.delete_function_code_signing_config(FunctionName="w")
    assert lam.get_function_code_signing_config(FunctionName="w")["CodeSigningConfigArn"] == ""
    lam.delete_code_signing_config(CodeSigningConfigArn=csc)


def test_enforce_refuses_and_stores_nothing(daemon):
    role = make_role(daemon, "r")
    lam = daemon.client("lambda")
    csc = new_config(lam, "Enforce")["CodeSigningConfigArn"]
    before = blobs(daemon)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="e", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                            Code={"ZipFile": package({"bootstrap": "#!/bin/sh\necho e\n"})},
                            CodeSigningConfigArn=csc)
    assert error(e) == (
        "CodeVerificationFailedException",
        "Lambda cannot deploy the function. The function or layer might be signed using a signature that "
        "the client is not configured to accept. Check the provided signature for e.", 400)
    assert blobs(daemon) == before
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="e")
    assert error(e)[0] == "ResourceNotFoundException"
    assert log_messages(daemon, "e") == []

    # Attached to a function that exists, Enforce refuses its next deployment.
    create(daemon, "f", role)
    code = lam.get_function(FunctionName="f")["Configuration"]["CodeSha256"]
    out = lam.put_function_code_signing_config(FunctionName="f", CodeSigningConfigArn=csc)
    assert (out["CodeSigningConfigArn"], out["FunctionName"]) == (csc, "f")
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="f", ZipFile=package({"bootstrap": "#!/bin/sh\necho new\n"}))
    assert error(e)[0] == "CodeVerificationFailedException"
    assert lam.get_function(FunctionName="f")["Configuration"]["CodeSha256"] == code

    gone = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-" + "0" * 17
    with pytest.raises(ClientError) as e:
        lam.put_function_code_signing_config(FunctionName="f", CodeSigningConfigArn=gone)
    assert error(e) == (
        "CodeSigningConfigNotFoundException",
        f"The code signing configuration cannot be found. Check that the provided configuration is not deleted: {gone}.",
        404)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="g", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                            Code={"ZipFile": package()}, CodeSigningConfigArn=gone)
    assert error(e)[0] == "CodeSigningConfigNotFoundException"

    # Deleting the function lets go of its configuration.
    lam.delete_function(FunctionName="f")
    lam.delete_code_signing_config(CodeSigningConfigArn=csc)


def test_terraform_refresh_of_a_function_without_a_config(daemon):
    role = make_role(daemon, "r")
    create(daemon, "f", role)
    lam = daemon.client("lambda")
    assert lam.get_function(FunctionName="f")["Configuration"]["PackageType"] == "Zip"
    out = lam.get_function_code_signing_config(FunctionName="f")
    assert {k: out[k] for k in ("CodeSigningConfigArn", "FunctionName")} == {
        "CodeSigningConfigArn": "", "FunctionName": "f"}
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="f")["Versions"]] == ["$LATEST"]
    # Terraform then asks for the resource policy; a function without one is not found.
    # (GetPolicy comes with the permissions work: before it is merged the route is unknown.)
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="f")
    assert error(e)[0] in ("ResourceNotFoundException", "UnknownOperationException")
    with pytest.raises(ClientError) as e:
        lam.get_function_code_signing_config(FunctionName="nope")
    assert error(e) == ("ResourceNotFoundException",
                        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope", 404)


def test_runtime_management(daemon):
    role = make_role(daemon, "r")
    create(daemon, "f", role)
    lam = daemon.client("lambda")
    got = lam.get_runtime_management_config(FunctionName="f")
    assert got["UpdateRuntimeOn"] == "Auto"
    assert got["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
    assert "RuntimeVersionArn" not in got

    runtime_arn = lam.get_function(FunctionName="f")["Configuration"]["RuntimeVersionConfig"]["RuntimeVersionArn"]
    put = lam.put_runtime_management_config(FunctionName="f", UpdateRuntimeOn="Manual",
                                            RuntimeVersionArn=runtime_arn)
    assert (put["UpdateRuntimeOn"], put["RuntimeVersionArn"]) == ("Manual", runtime_arn)
    got = lam.get_runtime_management_config(FunctionName="f", Qualifier="$LATEST")
    assert (got["UpdateRuntimeOn"], got["RuntimeVersionArn"]) == ("Manual", runtime_arn)

    with pytest.raises(ClientError) as e:
        lam.put_runtime_management_config(FunctionName="f", UpdateRuntimeOn="Manual")
    assert error(e)[0] == "InvalidParameterValueException"
    other = runtime_arn.rsplit(":", 1)[0] + ":" + "0" * 64
    with pytest.raises(ClientError) as e:
        lam.put_runtime_management_config(FunctionName="f", UpdateRuntimeOn="Manual", RuntimeVersionArn=other)
    assert error(e)[0] == "InvalidParameterValueException"

    v = lam.publish_version(FunctionName="f")["Version"]
    lam.put_runtime_management_config(FunctionName="f", Qualifier=v, UpdateRuntimeOn="FunctionUpdate")
    got = lam.get_runtime_management_config(FunctionName="f", Qualifier=v)
    assert got["UpdateRuntimeOn"] == "FunctionUpdate"
    assert got["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:f:{v}"
    with pytest.raises(ClientError) as e:
        lam.get_runtime_management_config(FunctionName="f", Qualifier="42")
    assert error(e) == ("ResourceNotFoundException",
                        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:42", 404)


def test_recursion_config(daemon):
    role = make_role(daemon, "r")
    create(daemon, "f", role)
    lam = daemon.client("lambda")
    assert lam.get_function_recursion_config(FunctionName="f")["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName="f", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName="f")["RecursiveLoop"] == "Allow"
    raw = daemon.client("lambda", parameter_validation=False)
    with pytest.raises(ClientError) as e:
        raw.put_function_recursion_config(FunctionName="f", RecursiveLoop="Sometimes")
    assert error(e) == ("ValidationException",
                        "1 validation error detected: Value 'Sometimes' at 'recursiveLoop' failed to satisfy "
                        "constraint: Member must satisfy enum value set: [Allow, Terminate]", 400)
    with pytest.raises(ClientError) as e:
        lam.get_function_recursion_config(FunctionName="nope")
    assert error(e)[0] == "ResourceNotFoundException"
    lam.delete_function(FunctionName="f")
    create(daemon, "f", role)
    assert lam.get_function_recursion_config(FunctionName="f")["RecursiveLoop"] == "Terminate"


def test_account_settings_count_real_usage(daemon):
    role = make_role(daemon, "r")
    lam = daemon.client("lambda")
    s = lam.get_account_settings()
    assert s["AccountLimit"] == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}
    assert s["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    a = create(daemon, "a", role, package({"bootstrap": "#!/bin/sh\necho a\n"}))["CodeSize"]
    b = create(daemon, "b", role, package({"bootstrap": "#!/bin/sh\necho bb\n"}))["CodeSize"]
    lam.publish_version(FunctionName="a")
    lam.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=10)
    s = lam.get_account_settings()
    assert s["AccountUsage"] == {"TotalCodeSize": 2 * a + b, "FunctionCount": 2}
    assert s["AccountLimit"]["UnreservedConcurrentExecutions"] == 990


def test_event_source_mappings_have_no_sources(daemon):
    role = make_role(daemon, "r")
    create(daemon, "f", role)
    lam = daemon.client("lambda")
    sources = {
        "arn:aws:sqs:us-east-1:000000000000:q": "Amazon SQS",
        "arn:aws:kinesis:us-east-1:000000000000:stream/s": "Amazon Kinesis",
        "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000": "Amazon DynamoDB Streams",
        "arn:aws:kafka:us-east-1:000000000000:cluster/c/1": "Amazon MSK",
        "arn:aws:mq:us-east-1:000000000000:broker:b:b-1": "Amazon MQ",
        "arn:aws:rds:us-east-1:000000000000:cluster:docdb": "Amazon DocumentDB",
    }
    for arn, service in sources.items():
        with pytest.raises(ClientError) as e:
            lam.create_event_source_mapping(FunctionName="f", EventSourceArn=arn)
        code, message, status = error(e)
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert service in message and arn in message, message
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName="nope", EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q")
    assert error(e)[0] == "ResourceNotFoundException"

    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"] == []
    with pytest.raises(ClientError) as e:
        lam.list_event_source_mappings(FunctionName="bad name")
    assert error(e)[0] == "ValidationException"

    uuid = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"
    for call in (lambda: lam.get_event_source_mapping(UUID=uuid),
                 lambda: lam.update_event_source_mapping(UUID=uuid, Enabled=False),
                 lambda: lam.delete_event_source_mapping(UUID=uuid)):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
