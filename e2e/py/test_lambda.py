"""Lambda control plane (rest-json): functions, versions, aliases, concurrency, account
settings, tags, names in every spelling, and AWS's errors, through boto3, the aws CLI and raw
signed requests."""

import base64
import hashlib
import json
import urllib.parse

import pytest
import requests
from botocore.exceptions import ClientError

from fixtures.lambda_world import create, error_of, make_role, package, signed, wait_updated

ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"


@pytest.fixture
def role(daemon):
    return make_role(daemon, "lambda-exec")


def test_create_get_list_delete(daemon, role):
    lam = daemon.client("lambda")
    zip_bytes = package()
    out = create(daemon, "hello", role, zip_bytes, wait=False, Description="says hi",
                 Environment={"Variables": {"GREETING": "hi"}}, EphemeralStorage={"Size": 1024},
                 Architectures=["arm64"], Tags={"team": "net"}, Timeout=30, MemorySize=256)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert out["CodeSize"] == len(zip_bytes)
    assert out["Version"] == "$LATEST"
    assert out["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert out["EphemeralStorage"] == {"Size": 1024}
    assert out["Architectures"] == ["arm64"]
    assert out["TracingConfig"] == {"Mode": "PassThrough"}
    assert out["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert out["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"}
    assert out["PackageType"] == "Zip"
    assert out["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")
    assert len(out["LastModified"]) == len("2020-04-10T19:06:32.563+0000") and out["LastModified"].endswith("+0000")

    lam.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 1})
    got = lam.get_function(FunctionName="hello")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["RevisionId"] != out["RevisionId"]
    assert got["Tags"] == {"team": "net"}
    assert got["Code"]["RepositoryType"] == "S3"
    assert requests.get(got["Code"]["Location"], timeout=10).content == zip_bytes

    assert lam.get_function_configuration(FunctionName="hello")["Description"] == "says hi"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["hello"]

    with pytest.raises(ClientError) as e:
        create(daemon, "hello", role)
    assert error_of(e) == ("ResourceConflictException", "Function already exist: hello", 409)

    assert lam.delete_function(FunctionName="hello")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="hello")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:hello", 404)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="hello")
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert list((daemon.data_dir / "code").glob("*.zip")) == []


def test_names_in_every_spelling(daemon, role):
    create(daemon, "spell", role)
    lam = daemon.client("lambda")
    for name in ["spell", f"{ACCOUNT}:function:spell", f"{ARN}:spell", "spell:$LATEST"]:
        assert lam.get_function_configuration(FunctionName=name)["FunctionName"] == "spell", name
    # An ARN arrives percent-encoded in the path; a raw request shows it is decoded.
    r = signed(daemon, "GET", f"/2015-03-31/functions/{urllib.parse.quote(ARN + ':spell', safe='')}/configuration")
    assert r.status_code == 200 and r.json()["FunctionName"] == "spell"
    # Trailing slashes are tolerated.
    assert signed(daemon, "GET", "/2015-03-31/functions/spell/").status_code == 200
    assert signed(daemon, "GET", "/2015-03-31/functions/").json()["Functions"][0]["FunctionName"] == "spell"

    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="arn:aws:lambda:us-west-2:000000000000:function:spell")
    assert error_of(e) == ("ResourceNotFoundException",
                           "Functions from 'us-west-2' are not reachable in this region ('us-east-1')", 404)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="arn:aws:lambda:us-east-1:111111111111:function:spell")
    code, msg, status = error_of(e)
    assert (code, status) == ("AccessDeniedException", 403)
    assert "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:spell" in msg
    r = signed(daemon, "GET", "/2015-03-31/functions/a%2Fb")
    assert r.status_code == 400 and r.headers["x-amzn-ErrorType"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="spell:1", Qualifier="2")
    assert error_of(e)[0] == "InvalidParameterValueException"


def test_constraint_violations(daemon, role):
    # botocore would refuse some of these itself; the server must too.
    lam = daemon.client("lambda", parameter_validation=False)

    def refused(**kw):
        args = dict(FunctionName="v", Runtime="provided.al2023", Role=role, Handler="h", Code={"ZipFile": package()})
        args.update(kw)
        with pytest.raises(ClientError) as e:
            lam.create_function(**args)
        return error_of(e)

    assert refused(MemorySize=99999) == (
        "ValidationException",
        "1 validation error detected: Value '99999' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240", 400)
    assert refused(Timeout=901)[1].endswith("at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")
    assert refused(EphemeralStorage={"Size": 100})[1].endswith("Member must have value greater than or equal to 512")
    two = refused(MemorySize=1, Timeout=0)
    assert two[0] == "ValidationException" and two[1].startswith("2 validation errors detected: ")
    assert refused(Architectures=["x86_64", "arm64"])[0] == "ValidationException"
    code, msg, _ = refused(Role="not-a-role")
    assert code == "ValidationException" and "at 'role' failed to satisfy constraint" in msg
    code, msg, status = refused(Runtime="cobol")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg.startswith("Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [")
    assert "go1.x" in msg and msg.endswith("] or be a valid ARN")
    assert refused(Runtime="python2.7")[1].startswith("The runtime parameter of python2.7 is no longer supported")
    code, msg, _ = refused(Environment={"Variables": {"BIG": "x" * 4100}})
    assert code == "InvalidParameterValueException"
    assert msg.startswith("Lambda was unable to configure your environment variables because the environment "
                          "variables you have provided exceeded the 4KB limit. String measured: {\"BIG\":\"xxx")
    assert refused(Environment={"Variables": {"AWS_REGION": "x"}})[1].endswith(
        "Reserved keys used in this request: AWS_REGION")
    assert refused(PackageType="Image", Code={"ImageUri": "x"})[0] == "InvalidParameterValueException"
    assert refused(Code={"S3Bucket": "b", "S3Key": "k"})[0] == "InvalidParameterValueException"
    assert refused(FunctionName="x" * 65)[0] == "InvalidParameterValueException"

    r = signed(daemon, "POST", "/2015-03-31/functions", b'{"FunctionName": ')
    assert r.status_code == 400
    assert r.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert r.json()["message"].startswith("Could not parse request body into json: ")
    r = signed(daemon, "POST", "/2015-03-31/functions", b'{"Runtime": "go1.x"}')
    assert r.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "Value null at 'functionName' failed to satisfy constraint: Member must not be null" in r.json()["message"]
    r = signed(daemon, "GET", "/2015-03-31/functions/none")
    assert r.json() == {"Type": "User", "message": f"Function not found: {ARN}:none",
                        "Message": f"Function not found: {ARN}:none"}
    r = signed(daemon, "PATCH", "/2015-03-31/functions/none")
    assert r.status_code == 404 and r.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_updates_revisions_and_waiters(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "upd", role, Environment={"Variables": {"ONE": "1", "TWO": "2"}})
    before = lam.get_function_configuration(FunctionName="upd")

    out = lam.update_function_configuration(FunctionName="upd", MemorySize=512, Handler="main",
                                            Environment={"Variables": {"THREE": "3"}}, RevisionId=before["RevisionId"])
    assert out["LastUpdateStatus"] == "InProgress"
    assert out["LastUpdateStatusReasonCode"] == "Creating"
    assert out["Environment"] == {"Variables": {"THREE": "3"}}
    assert out["RevisionId"] != before["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="upd", WaiterConfig={"Delay": 1})

    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd", Timeout=10, RevisionId=before["RevisionId"])
    assert error_of(e) == ("PreconditionFailedException",
                           "The Revision Id provided does not match the latest Revision Id. Call the "
                           "GetFunction/GetAlias API to retrieve the latest Revision Id", 412)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd:1", Timeout=10)
    assert error_of(e)[0] == "InvalidParameterValueException"

    new_zip = package({"bootstrap": "#!/bin/sh\necho v2\n"})
    dry = lam.update_function_code(FunctionName="upd", ZipFile=new_zip, DryRun=True)
    assert dry["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert lam.get_function_configuration(FunctionName="upd")["CodeSha256"] == before["CodeSha256"]
    code = lam.update_function_code(FunctionName="upd", ZipFile=new_zip)
    assert code["LastUpdateStatus"] == "InProgress"
    assert code["CodeSha256"] == dry["CodeSha256"]
    daemon.aws("lambda", "wait", "function-updated-v2", "--function-name", "upd")
    got = lam.get_function(FunctionName="upd")
    assert requests.get(got["Code"]["Location"], timeout=10).content == new_zip
    # The old package is no longer referenced, so it is gone from the code store.
    blobs = sorted(p.name for p in (daemon.data_dir / "code").glob("*.zip"))
    assert blobs == [hashlib.sha256(new_zip).hexdigest() + ".zip"]

    cfg = lam.update_function_configuration(FunctionName="upd", Environment={})
    assert "Environment" not in cfg
    wait_updated(daemon, "upd")
    assert lam.get_function_configuration(FunctionName="upd")["MemorySize"] == 512


def test_versions_and_aliases(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "ver", role)
    v1 = lam.publish_version(FunctionName="ver", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["FunctionArn"] == f"{ARN}:ver:1" and v1["Description"] == "first"
    assert v1["State"] == "Active"
    # Nothing changed since: the same version again.
    assert lam.publish_version(FunctionName="ver")["Version"] == "1"
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="ver", CodeSha256="nope")
    assert error_of(e)[0] == "InvalidParameterValueException"

    lam.update_function_configuration(FunctionName="ver", MemorySize=256)
    wait_updated(daemon, "ver")
    v2 = lam.publish_version(FunctionName="ver")
    assert v2["Version"] == "2" and v2["MemorySize"] == 256
    assert lam.get_function(FunctionName="ver", Qualifier="1")["Configuration"]["MemorySize"] == 128
    assert lam.get_function_configuration(FunctionName="ver:2")["FunctionArn"] == f"{ARN}:ver:2"
    versions = lam.list_versions_by_function(FunctionName="ver")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"] == f"{ARN}:ver:$LATEST"
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["FunctionArn"] for f in every] == [f"{ARN}:ver:$LATEST", f"{ARN}:ver:1", f"{ARN}:ver:2"]

    alias = lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"{ARN}:ver:live"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    assert error_of(e) == ("ResourceConflictException", f"Alias already exists: {ARN}:ver:live", 409)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="ver", Name="bad", FunctionVersion="9")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:ver:9", 404)
    assert lam.get_function(FunctionName="ver", Qualifier="live")["Configuration"]["FunctionArn"] == f"{ARN}:ver:live"
    assert lam.get_function(FunctionName="ver:live")["Configuration"]["Version"] == "1"

    for version in ("1", "2"):
        with pytest.raises(ClientError) as e:
            lam.delete_function(FunctionName="ver", Qualifier=version)
        assert error_of(e) == ("ResourceConflictException",
                               "Unable to delete version because the following aliases reference it: [live]", 409)
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2", RevisionId="stale")
    assert error_of(e)[0] == "PreconditionFailedException"
    updated = lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert updated["RevisionId"] != alias["RevisionId"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="ver")["Aliases"]] == ["live"]
    assert lam.list_aliases(FunctionName="ver", FunctionVersion="1")["Aliases"] == []

    assert lam.delete_function(FunctionName="ver", Qualifier="1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]] == ["$LATEST", "2"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="ver", Qualifier="$LATEST")
    assert error_of(e) == ("InvalidParameterValueException",
                           "$LATEST version cannot be deleted without deleting the function.", 400)
    assert lam.delete_alias(FunctionName="ver", Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName="ver", Name="live")
    assert error_of(e) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}:ver:live", 404)
    # Version numbers are not reused.
    lam.update_function_configuration(FunctionName="ver", MemorySize=1024)
    wait_updated(daemon, "ver")
    assert lam.publish_version(FunctionName="ver")["Version"] == "3"

    lam.delete_function(FunctionName="ver")
    with pytest.raises(ClientError):
        lam.list_versions_by_function(FunctionName="ver")


def test_publish_on_create_and_update(daemon, role):
    lam = daemon.client("lambda")
    out = lam.create_function(FunctionName="pub", Runtime="go1.x", Role=role, Handler="app",
                              Code={"ZipFile": package()}, Publish=True)
    assert out["Version"] == "1"
    lam.get_waiter("function_active_v2").wait(FunctionName="pub", WaiterConfig={"Delay": 1})
    lam.get_waiter("published_version_active").wait(FunctionName="pub", Qualifier="1", WaiterConfig={"Delay": 1})
    out = lam.update_function_code(FunctionName="pub", ZipFile=package({"bootstrap": "v2"}), Publish=True)
    assert out["Version"] == "2" and out["FunctionArn"] == f"{ARN}:pub:2"
    wait_updated(daemon, "pub")
    assert lam.get_function_configuration(FunctionName="pub", Qualifier="2")["State"] == "Active"


def test_pagination(daemon, role):
    lam = daemon.client("lambda")
    for i in range(7):
        create(daemon, f"page-{i}", role, wait=False)
    seen = []
    marker = None
    while True:
        kw = {"MaxItems": 3}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        assert len(page["Functions"]) <= 3
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == [f"page-{i}" for i in range(7)]
    paged = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
             for f in p["Functions"]]
    assert paged == seen
    cli = daemon.aws("lambda", "list-functions", "--max-items", "4")
    assert len(cli["Functions"]) == 4 and cli["NextToken"]
    with pytest.raises(ClientError) as e:
        daemon.client("lambda", parameter_validation=False).list_functions(MaxItems=0)
    assert error_of(e)[0] == "ValidationException"


def test_concurrency_and_account_settings(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "c1", role, package({"a": "1" * 1000}))
    create(daemon, "c2", role, package({"b": "2"}))
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                        "CodeSizeZipped": 52428800, "ConcurrentExecutions": 1000,
                                        "UnreservedConcurrentExecutions": 1000}
    sizes = [lam.get_function_configuration(FunctionName=n)["CodeSize"] for n in ("c1", "c2")]
    assert settings["AccountUsage"] == {"TotalCodeSize": sum(sizes), "FunctionCount": 2}

    assert lam.get_function_concurrency(FunctionName="c1").get("ReservedConcurrentExecutions") is None
    assert lam.put_function_concurrency(FunctionName="c1", ReservedConcurrentExecutions=800)["ReservedConcurrentExecutions"] == 800
    assert lam.get_function_concurrency(FunctionName="c1")["ReservedConcurrentExecutions"] == 800
    assert lam.get_function(FunctionName="c1")["Concurrency"] == {"ReservedConcurrentExecutions": 800}
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="c2", ReservedConcurrentExecutions=101)
    assert error_of(e) == ("InvalidParameterValueException",
                           "Specified ReservedConcurrentExecutions for function decreases account's "
                           "UnreservedConcurrentExecution below its minimum value of [100].", 400)
    lam.put_function_concurrency(FunctionName="c2", ReservedConcurrentExecutions=100)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert lam.delete_function_concurrency(FunctionName="c1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 900
    cli = daemon.aws("lambda", "get-account-settings")
    assert cli["AccountUsage"]["FunctionCount"] == 2


def test_tags(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "tagged", role, Tags={"a": "1"})
    arn = f"{ARN}:tagged"
    lam.tag_resource(Resource=arn, Tags={"b": "2", "a": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "3", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a", "missing"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        lam.list_tags(Resource=f"{arn}:1")
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.list_tags(Resource=f"{ARN}:nothing")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_code_location_is_a_bearer_link(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "dl", role)
    location = lam.get_function(FunctionName="dl")["Code"]["Location"]
    assert location.startswith(daemon.endpoint + "/_vpclambda/code/")
    token = location.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    assert requests.get(location, timeout=10).status_code == 200
    forged = location.replace(mac, "A" * len(mac))
    assert requests.get(forged, timeout=10).status_code == 403
    assert requests.get(daemon.endpoint + "/_vpclambda/code/../../vpclambda.db", timeout=10).status_code in (403, 404)
    assert requests.get(daemon.endpoint + "/_vpclambda/code/nothing", timeout=10).status_code == 403


def test_cli_round_trip(daemon, role, tmp_path):
    z = tmp_path / "f.zip"
    z.write_bytes(package())
    out = daemon.aws("lambda", "create-function", "--function-name", "cli", "--runtime", "python3.12",
                     "--role", role, "--handler", "app.handler", "--zip-file", f"fileb://{z}",
                     "--environment", json.dumps({"Variables": {"KEY": "V"}}), "--tags", "team=net")
    assert out["State"] == "Pending"
    daemon.aws("lambda", "wait", "function-active-v2", "--function-name", "cli")
    daemon.aws("lambda", "wait", "function-exists", "--function-name", "cli")
    listed = daemon.aws("lambda", "list-functions")["Functions"]
    assert [f["FunctionName"] for f in listed] == ["cli"]
    daemon.aws("lambda", "delete-function", "--function-name", f"{ARN}:cli")
    p = daemon.aws("lambda", "get-function", "--function-name", "cli", check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
