"""Lambda layers end to end, driven by boto3: publishing, reading, listing (filters,
paging), deleting and sharing layer versions with AWS's answers and error texts; `Layers`
on functions (order kept, limits, other accounts, the 250 MB limit, nothing stored on a
refusal); and real functions whose layers are merged at a read-only `/opt` — a Python
module and a Node package from layers, a later layer's files winning."""

import base64
import hashlib
import io
import json
import zipfile

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, create, error_of, make_role, package, trust, wait_updated
from wire_check import checked

ACCOUNT = "000000000000"


def zip_files(files):
    """A zip of name -> bytes/str, regular files (0644, or 0755 for names under bin/)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if name.startswith("bin/") else 0o100644) << 16
            z.writestr(info, data)
    return buf.getvalue()


def zeros_zip(name, size):
    """One file of `size` zero bytes, deflated while streaming (a few hundred KB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o100644 << 16
        with z.open(info, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            left = size
            while left:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
    return buf.getvalue()


def lam(daemon, **kw):
    return checked(daemon.client("lambda", **kw))


def err(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return error_of(e)


def test_publish_get_list_and_delete(daemon):
    c = lam(daemon)
    z = zip_files({"python/m.py": "X = 1\n"})
    v1 = c.publish_layer_version(LayerName="lib", Description="first", Content={"ZipFile": z},
                                 CompatibleRuntimes=["python3.12", "python3.11"],
                                 CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:lib"
    assert v1["LayerArn"] == arn and v1["LayerVersionArn"] == f"{arn}:1" and v1["Version"] == 1
    assert v1["Description"] == "first" and v1["LicenseInfo"] == "MIT"
    assert v1["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert v1["CompatibleArchitectures"] == ["x86_64"]
    assert v1["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(z).digest()).decode()
    assert v1["Content"]["CodeSize"] == len(z)
    assert requests.get(v1["Content"]["Location"], timeout=10).content == z
    assert v1["CreatedDate"].endswith("+0000")

    got = c.get_layer_version(LayerName="lib", VersionNumber=1)
    by_arn = c.get_layer_version_by_arn(Arn=f"{arn}:1")
    by_layer_arn = c.get_layer_version(LayerName=arn, VersionNumber=1)
    for g in (got, by_arn, by_layer_arn):
        g.pop("ResponseMetadata")
        g["Content"].pop("Location")
    v1.pop("ResponseMetadata")
    v1["Content"].pop("Location")
    assert got == v1 and by_arn == v1 and by_layer_arn == v1

    v2 = c.publish_layer_version(LayerName="lib", Content={"ZipFile": zip_files({"python/m.py": "X = 2\n"})},
                                 CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])
    assert v2["Version"] == 2 and "LicenseInfo" not in v2 and v2["Description"] == ""
    c.publish_layer_version(LayerName="other", Content={"ZipFile": z})

    layers = c.list_layers()["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in layers] == [("lib", 2), ("other", 1)]
    assert layers[0]["LayerArn"] == arn
    assert "Content" not in layers[0]["LatestMatchingVersion"]
    py = c.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in py] == [("lib", 1)]
    assert c.list_layers(CompatibleArchitecture="arm64")["Layers"][0]["LatestMatchingVersion"]["Version"] == 2
    assert c.list_layers(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64")["Layers"] == []

    versions = c.list_layer_versions(LayerName="lib")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert versions[1]["LayerVersionArn"] == f"{arn}:1" and versions[1]["LicenseInfo"] == "MIT"
    assert [v["Version"] for v in c.list_layer_versions(LayerName="lib", CompatibleRuntime="python3.11")["LayerVersions"]] == [1]
    page = c.list_layer_versions(LayerName="lib", MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    rest = c.list_layer_versions(LayerName="lib", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest
    first = c.list_layers(MaxItems=1)
    assert [l["LayerName"] for l in first["Layers"]] == ["lib"]
    assert [l["LayerName"] for l in c.list_layers(Marker=first["NextMarker"])["Layers"]] == ["other"]
    assert c.list_layer_versions(LayerName="never")["LayerVersions"] == []
    paginated = [v["Version"] for p in c.get_paginator("list_layer_versions").paginate(
        LayerName="lib", PaginationConfig={"PageSize": 1}) for v in p["LayerVersions"]]
    assert paginated == [2, 1]

    c.delete_layer_version(LayerName="lib", VersionNumber=2)
    c.delete_layer_version(LayerName="lib", VersionNumber=2)
    c.delete_layer_version(LayerName="lib", VersionNumber=77)
    assert err(c.get_layer_version, LayerName="lib", VersionNumber=2) == (
        "ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert err(c.get_layer_version_by_arn, Arn=f"{arn}:2")[0] == "ResourceNotFoundException"
    v3 = c.publish_layer_version(LayerName="lib", Content={"ZipFile": z})
    assert v3["Version"] == 3, "version numbers are never reused"
    c.delete_layer_version(LayerName="other", VersionNumber=1)
    assert [l["LayerName"] for l in c.list_layers()["Layers"]] == ["lib"]

    cli = daemon.aws("lambda", "list-layer-versions", "--layer-name", "lib")
    assert [v["Version"] for v in cli["LayerVersions"]] == [3, 1]

    daemon.restart()
    c = lam(daemon)
    assert [v["Version"] for v in c.list_layer_versions(LayerName="lib")["LayerVersions"]] == [3, 1]
    again = c.get_layer_version(LayerName="lib", VersionNumber=1)
    assert requests.get(again["Content"]["Location"], timeout=10).content == z
    assert c.publish_layer_version(LayerName="lib", Content={"ZipFile": z})["Version"] == 4


def test_request_validation(daemon):
    c = lam(daemon)
    z = zip_files({"a": "a"})
    assert err(c.publish_layer_version, LayerName="bad.name", Content={"ZipFile": z}) == (
        "ValidationException",
        "1 validation error detected: Value 'bad.name' at 'layerName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
        "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+", 400)
    code, msg, status = err(c.publish_layer_version, LayerName="l", Content={"ZipFile": z},
                            CompatibleRuntimes=["cobol"], CompatibleArchitectures=["sparc"])
    assert (code, status) == ("ValidationException", 400)
    assert msg.startswith("2 validation errors detected: Value '[cobol]' at 'compatibleRuntimes' failed to "
                          "satisfy constraint: Member must satisfy enum value set: [nodejs, "), msg
    assert msg.endswith("Value '[sparc]' at 'compatibleArchitectures' failed to satisfy constraint: Member must "
                        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]"), msg
    assert err(c.publish_layer_version, LayerName="l", Content={}) == (
        "InvalidParameterValueException", "Please provide a source for function code.", 400)
    s3 = err(c.publish_layer_version, LayerName="l", Content={"S3Bucket": "bucket", "S3Key": "k.zip"})
    assert s3[0] == "InvalidParameterValueException" and "S3" in s3[1]
    assert err(c.publish_layer_version, LayerName="l", Content={"ZipFile": b"not a zip"}) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.", 400)
    assert err(c.publish_layer_version, LayerName="l",
               Content={"ZipFile": zip_files({"../escape": "x"})})[0] == "InvalidParameterValueException"
    assert c.list_layers()["Layers"] == [], "nothing was stored"
    assert err(c.get_layer_version, LayerName="l", VersionNumber=0) == (
        "InvalidParameterValueException", "Layer Version Cannot be less than 1", 400)
    assert err(c.get_layer_version_by_arn, Arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:l") == (
        "ValidationException",
        f"1 validation error detected: Value 'arn:aws:lambda:us-east-1:{ACCOUNT}:layer:l' at 'arn' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+", 400)
    assert err(c.list_layers, CompatibleRuntime="cobol", MaxItems=51)[1].startswith("2 validation errors detected")
    assert err(c.list_layer_versions, LayerName="l", CompatibleArchitecture="sparc") == (
        "ValidationException",
        "1 validation error detected: Value 'sparc' at 'compatibleArchitecture' failed to satisfy constraint: "
        "Member must satisfy enum value set: [x86_64, arm64]", 400)


def test_layer_version_permissions(daemon):
    c = lam(daemon)
    c.publish_layer_version(LayerName="shared", Content={"ZipFile": zip_files({"a": "a"})})
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:shared:1"
    assert err(c.get_layer_version_policy, LayerName="shared", VersionNumber=1) == (
        "ResourceNotFoundException", "No policy is associated with the given resource.", 404)
    added = c.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="xaccount",
                                           Action="lambda:GetLayerVersion", Principal="210987654321")
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "xaccount", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "lambda:GetLayerVersion", "Resource": arn}
    org = c.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="org",
                                         Action="lambda:GetLayerVersion", Principal="*",
                                         OrganizationId="o-abcdefghij", RevisionId=added["RevisionId"])
    assert json.loads(org["Statement"])["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert org["RevisionId"] != added["RevisionId"]
    assert err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="xaccount",
               Action="lambda:GetLayerVersion", Principal="*") == (
        "ResourceConflictException",
        "The statement id (xaccount) provided already exists. Please provide a new statement id, or remove the "
        "existing statement.", 409)
    assert err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="s",
               Action="lambda:GetLayerVersion", Principal="*", RevisionId=added["RevisionId"]) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to "
        "retrieve the latest Revision Id", 412)
    assert err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="s",
               Action="lambda:InvokeFunction", Principal="*") == (
        "ValidationException",
        "1 validation error detected: Value 'lambda:InvokeFunction' at 'action' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: lambda:GetLayerVersion", 400)
    assert err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="s",
               Action="lambda:GetLayerVersion", Principal="someone") == (
        "ValidationException",
        "1 validation error detected: Value 'someone' at 'principal' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: \\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root", 400)
    assert err(c.add_layer_version_permission, LayerName="shared", VersionNumber=9, StatementId="s",
               Action="lambda:GetLayerVersion", Principal="*") == (
        "ResourceNotFoundException",
        f"Layer version arn:aws:lambda:us-east-1:{ACCOUNT}:layer:shared:9 does not exist.", 404)

    policy = c.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"]
    doc = json.loads(policy["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert [s["Sid"] for s in doc["Statement"]] == ["xaccount", "org"]

    sid = 0
    while True:
        sid += 1
        try:
            c.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId=f"s{sid:03}",
                                           Action="lambda:GetLayerVersion", Principal="123456789012")
        except ClientError as e:
            refused = e.response
            break
    code, msg = refused["Error"]["Code"], refused["Error"]["Message"]
    assert code == "PolicyLengthExceededException" and sid > 50, (code, sid)
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert msg.startswith("The final policy size (") and msg.endswith(") is bigger than the limit (20480)."), msg
    for n in range(1, sid):
        c.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId=f"s{n:03}")
    org["RevisionId"] = c.get_layer_version_policy(LayerName="shared", VersionNumber=1)["RevisionId"]
    assert err(c.remove_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="nope") == (
        "ResourceNotFoundException", "Statement nope is not found in resource policy.", 404)
    assert err(c.remove_layer_version_permission, LayerName="shared", VersionNumber=1, StatementId="org",
               RevisionId="stale")[0] == "PreconditionFailedException"
    c.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="org",
                                      RevisionId=org["RevisionId"])
    c.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="xaccount")
    assert err(c.get_layer_version_policy, LayerName="shared", VersionNumber=1)[1] == (
        "No policy is associated with the given resource.")


def test_function_layers_configuration(daemon):
    c = lam(daemon)
    role = make_role(daemon, "r")
    a = c.publish_layer_version(LayerName="a", Content={"ZipFile": zip_files({"a": "a"})})
    b = c.publish_layer_version(LayerName="b", Content={"ZipFile": zip_files({"b": "bb"})})
    a2 = c.publish_layer_version(LayerName="a", Content={"ZipFile": zip_files({"a": "a2"})})
    order = [b["LayerVersionArn"], a["LayerVersionArn"]]
    created = create(daemon, "f", role, Layers=order)
    assert created["Layers"] == [{"Arn": b["LayerVersionArn"], "CodeSize": b["Content"]["CodeSize"]},
                                 {"Arn": a["LayerVersionArn"], "CodeSize": a["Content"]["CodeSize"]}]
    cfg = c.get_function_configuration(FunctionName="f")
    assert [l["Arn"] for l in cfg["Layers"]] == order
    v1 = c.publish_version(FunctionName="f")
    assert [l["Arn"] for l in v1["Layers"]] == order

    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:a:9"
    for layers, expected in [
        ([missing], ("InvalidParameterValueException", f"Layer version {missing} does not exist.", 400)),
        ([a["LayerVersionArn"]] * 6, ("InvalidParameterValueException", "Cannot reference more than 5 layers.", 400)),
        ([a["LayerVersionArn"], a2["LayerVersionArn"]], (
            "InvalidParameterValueException",
            "Two different versions of the same layer are not allowed to be referenced in the same function. "
            f"{a['LayerVersionArn']} and {a2['LayerVersionArn']} are versions of the same layer.", 400)),
        ([f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:a:1"], (
            "InvalidParameterValueException",
            "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.", 400)),
    ]:
        before = c.get_function_configuration(FunctionName="f")
        assert err(c.update_function_configuration, FunctionName="f", Layers=layers, Timeout=30) == expected
        after = c.get_function_configuration(FunctionName="f")
        assert after["RevisionId"] == before["RevisionId"] and after["Timeout"] == before["Timeout"]
        assert err(c.create_function, FunctionName="g", Runtime="provided.al2023", Role=role,
                   Handler="bootstrap", Code={"ZipFile": package()}, Layers=layers) == expected
    code, msg, _ = err(c.update_function_configuration, FunctionName="f", Layers=["not-an-arn"])
    assert code == "ValidationException" and "at 'layers' failed to satisfy constraint" in msg, msg
    assert err(c.get_function, FunctionName="g")[0] == "ResourceNotFoundException", "nothing stored"

    # Deleting a layer version changes no function that uses it.
    c.delete_layer_version(LayerName="b", VersionNumber=1)
    assert [l["Arn"] for l in c.get_function_configuration(FunctionName="f")["Layers"]] == order
    assert [l["Arn"] for l in c.get_function_configuration(FunctionName="f", Qualifier="1")["Layers"]] == order

    out = c.update_function_configuration(FunctionName="f", Layers=[a2["LayerVersionArn"]])
    assert [l["Arn"] for l in out["Layers"]] == [a2["LayerVersionArn"]]
    wait_updated(daemon, "f")
    out = c.update_function_configuration(FunctionName="f", Layers=[])
    assert "Layers" not in out
    wait_updated(daemon, "f")
    assert [l["Arn"] for l in c.get_function_configuration(FunctionName="f", Qualifier="1")["Layers"]] == order


def test_function_and_layers_within_250_mb(daemon):
    c = lam(daemon)
    role = make_role(daemon, "r")
    layer = c.publish_layer_version(LayerName="big", Content={"ZipFile": zeros_zip("zeros", 100_000_000)})
    too_big = zeros_zip("bootstrap", 162_144_001)
    assert err(c.create_function, FunctionName="f", Runtime="provided.al2023", Role=role, Handler="bootstrap",
               Code={"ZipFile": too_big}, Layers=[layer["LayerVersionArn"]]) == (
        "InvalidParameterValueException",
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        "The actual size is 262144001 bytes.", 400)
    assert c.list_functions()["Functions"] == []
    fits = zeros_zip("bootstrap", 162_144_000)
    create(daemon, "f", role, fits, Layers=[layer["LayerVersionArn"]])
    before = c.get_function_configuration(FunctionName="f")
    for dry_run in (True, False):
        assert err(c.update_function_code, FunctionName="f", ZipFile=too_big, DryRun=dry_run)[1].endswith(
            "The actual size is 262144001 bytes.")
    create(daemon, "g", role, too_big)
    assert err(c.update_function_configuration, FunctionName="g", Layers=[layer["LayerVersionArn"]])[1].endswith(
        "The actual size is 262144001 bytes.")
    after = c.get_function_configuration(FunctionName="f")
    assert after["CodeSha256"] == before["CodeSha256"] and after["RevisionId"] == before["RevisionId"]
    assert "Layers" not in c.get_function_configuration(FunctionName="g")


TWO_ACCOUNTS = """
[[accounts]]
access_key_id = "AKIAOWNER"
secret_access_key = "owner"
account_id = "111111111111"
[[accounts]]
access_key_id = "AKIAUSER"
secret_access_key = "user"
account_id = "222222222222"
"""


def test_another_accounts_layer_needs_its_permission(make_daemon):
    d = make_daemon(config=TWO_ACCOUNTS).start()
    owner = lam(d, key="AKIAOWNER", secret="owner")
    user = lam(d, key="AKIAUSER", secret="user")
    lv = owner.publish_layer_version(LayerName="shared", Content={"ZipFile": zip_files({"a": "a"})})
    arn = lv["LayerVersionArn"]
    assert arn == "arn:aws:lambda:us-east-1:111111111111:layer:shared:1"
    denied = ("AccessDeniedException",
              f"User: arn:aws:iam::222222222222:root is not authorized to perform: lambda:GetLayerVersion on "
              f"resource: {arn} because no resource-based policy allows the lambda:GetLayerVersion action", 403)
    assert err(user.get_layer_version_by_arn, Arn=arn) == denied
    missing = arn[:-1] + "7"
    assert err(user.get_layer_version_by_arn, Arn=missing) == (denied[0], denied[1].replace(arn, missing), 403)
    iam = d.client("iam", key="AKIAUSER", secret="user")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    fn = dict(FunctionName="f", Runtime="provided.al2023", Role=role, Handler="bootstrap",
              Code={"ZipFile": package()}, Layers=[arn])
    assert err(user.create_function, **fn) == denied
    # An organization-only grant does not reach an account outside organizations.
    owner.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="org",
                                       Action="lambda:GetLayerVersion", Principal="*",
                                       OrganizationId="o-abcdefghij")
    assert err(user.create_function, **fn) == denied
    owner.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="user",
                                       Action="lambda:GetLayerVersion", Principal="222222222222")
    got = user.get_layer_version_by_arn(Arn=arn)
    assert got["LayerVersionArn"] == arn and got["Content"]["CodeSize"] == lv["Content"]["CodeSize"]
    assert user.get_layer_version(LayerName=arn.rsplit(":", 1)[0], VersionNumber=1)["Version"] == 1
    created = user.create_function(**fn)
    assert created["Layers"] == [{"Arn": arn, "CodeSize": lv["Content"]["CodeSize"]}]
    assert user.list_layers()["Layers"] == [], "listings show the caller's own layers"
    assert err(user.delete_layer_version, LayerName=arn.rsplit(":", 1)[0], VersionNumber=1)[0] == (
        "AccessDeniedException")


# ---- layers at run time ----

@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


PY_HANDLER = """
import os
import greeting


def handler(event, context):
    try:
        open("/opt/written", "w").write("x")
        opt_writable = True
    except OSError:
        opt_writable = False
    return {"greeting": greeting.hello(), "file": greeting.__file__, "opt_writable": opt_writable,
            "extra": __import__("extra").VALUE if event.get("extra") else None}
"""


def invoke(c, name, event=None):
    out = c.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_python_function_imports_modules_from_its_layers_in_order(execd):
    c = lam(execd)
    role = make_role(execd, "r", policies=(BASIC,))
    first = c.publish_layer_version(LayerName="greeting", Content={"ZipFile": zip_files({
        "python/greeting.py": "def hello():\n    return 'from the first layer'\n",
    })})["LayerVersionArn"]
    second = c.publish_layer_version(LayerName="override", Content={"ZipFile": zip_files({
        "python/greeting.py": "def hello():\n    return 'from the second layer'\n",
        "python/lib/python3.11/site-packages/extra.py": "VALUE = 'site-packages'\n",
    })})["LayerVersionArn"]
    create(execd, "py", role, zip_files({"app.py": PY_HANDLER}), Runtime="python3.11", Handler="app.handler",
           Layers=[first])
    body = invoke(c, "py")
    assert body == {"greeting": "from the first layer", "file": "/opt/python/greeting.py",
                    "opt_writable": False, "extra": None}

    c.update_function_configuration(FunctionName="py", Layers=[first, second])
    wait_updated(execd, "py")
    body = invoke(c, "py", {"extra": True})
    assert body["greeting"] == "from the second layer", "a later layer's files win"
    assert body["extra"] == "site-packages"

    c.update_function_configuration(FunctionName="py", Layers=[second, first])
    wait_updated(execd, "py")
    assert invoke(c, "py", {"extra": True})["greeting"] == "from the first layer"

    # Deleting the layer versions breaks nothing: the function keeps their content.
    c.delete_layer_version(LayerName="greeting", VersionNumber=1)
    c.delete_layer_version(LayerName="override", VersionNumber=1)
    c.update_function_configuration(FunctionName="py", Timeout=10)
    wait_updated(execd, "py")
    assert invoke(c, "py", {"extra": True})["greeting"] == "from the first layer"


NODE_HANDLER = """
const greet = require('greet');
exports.handler = async () => ({ greeting: greet(), path: require.resolve('greet') });
"""


def test_node_function_requires_a_package_from_its_layer(execd):
    c = lam(execd)
    role = make_role(execd, "r", policies=(BASIC,))
    arn = c.publish_layer_version(LayerName="greet", CompatibleRuntimes=["nodejs20.x"], Content={"ZipFile": zip_files({
        "nodejs/node_modules/greet/index.js": "module.exports = () => 'from a node layer';\n",
    })})["LayerVersionArn"]
    create(execd, "node", role, zip_files({"index.js": NODE_HANDLER}), Runtime="nodejs20.x",
           Handler="index.handler", Layers=[arn])
    assert invoke(c, "node") == {"greeting": "from a node layer",
                                 "path": "/opt/nodejs/node_modules/greet/index.js"}


def test_custom_runtime_from_a_layer(execd):
    """A layer's top-level `bootstrap` is the custom runtime when the code has none."""
    c = lam(execd)
    role = make_role(execd, "r", policies=(BASIC,))
    runtime = (ROOT / "e2e" / "functions" / "shell" / "bootstrap").read_text()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        z.writestr(info, runtime)
    arn = c.publish_layer_version(LayerName="shell-runtime", Content={"ZipFile": buf.getvalue()})["LayerVersionArn"]
    create(execd, "custom", role, zip_files({"README": "code without a bootstrap"}), Layers=[arn])
    assert invoke(c, "custom", {"hello": "layer"}) == {"hello": "layer"}
