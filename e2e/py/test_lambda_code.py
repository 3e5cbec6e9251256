"""Code packages are untrusted input: escaping entries, symlinks out of the package, zip bombs
and corrupt archives are refused with InvalidParameterValueException, and nothing is written
outside the content-addressed code store."""

import base64
import io
import os
import zipfile

import pytest
from botocore.exceptions import ClientError

from fixtures.lambda_world import create, error_of, make_role, package


def zip_of(entries):
    """entries: (name, data, mode) triples, written as given (no name cleaning)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb():
    """About 1 GB of zeros, deflated while streaming so the test never holds it inflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo("zeros")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                f.write(chunk)
    return buf.getvalue()


def files(root):
    """Every file under root but the store's database and the daemon's log, which change anyway."""
    return {
        os.path.relpath(os.path.join(d, f), root)
        for d, _, names in os.walk(root) for f in names
        if not f.startswith("vpclambda.db") and not f.endswith(".log")
    }


def refused_everywhere(daemon, tmp_path, zip_bytes):
    """Create and UpdateFunctionCode both refuse the package, and leave no trace."""
    role = make_role(daemon, "r")
    create(daemon, "victim", role)
    lam = daemon.client("lambda")
    before_cfg = lam.get_function_configuration(FunctionName="victim")
    before = files(tmp_path)
    with pytest.raises(ClientError) as created:
        lam.create_function(FunctionName="evil", Runtime="provided.al2023", Role=role, Handler="h",
                            Code={"ZipFile": zip_bytes})
    with pytest.raises(ClientError) as updated:
        lam.update_function_code(FunctionName="victim", ZipFile=zip_bytes)
    assert files(tmp_path) == before
    blob = base64.b64decode(before_cfg["CodeSha256"]).hex() + ".zip"
    assert {p.name for p in (daemon.data_dir / "code").iterdir()} - {".link-key"} == {blob}
    after_cfg = lam.get_function_configuration(FunctionName="victim")
    assert after_cfg["CodeSha256"] == before_cfg["CodeSha256"]
    assert after_cfg["RevisionId"] == before_cfg["RevisionId"]
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="evil")
    assert error_of(created) == error_of(updated)
    return error_of(created)


def test_parent_reference_is_refused(daemon, tmp_path):
    assert refused_everywhere(daemon, tmp_path, zip_of([("../evil", b"x", 0o100644)])) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file: entry '../evil' escapes the package root.", 400)


def test_absolute_path_is_refused(daemon, tmp_path):
    target = tmp_path / "abs-target"
    code, msg, status = refused_everywhere(daemon, tmp_path, zip_of([(str(target), b"x", 0o100644)]))
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg == f"Could not unzip uploaded file: entry '{target}' escapes the package root."
    assert not target.exists()


def test_symlink_out_of_the_package_is_refused(daemon, tmp_path):
    evil = zip_of([("bootstrap", b"#!/bin/sh\n", 0o100755), ("etc", b"/etc", 0o120777)])
    assert refused_everywhere(daemon, tmp_path, evil) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file: entry 'etc' is a symlink whose target escapes the package root.", 400)
    sneaky = zip_of([("up", b"../../..", 0o120777)])
    assert refused_everywhere_again(daemon, sneaky)[0] == "InvalidParameterValueException"


def refused_everywhere_again(daemon, zip_bytes):
    with pytest.raises(ClientError) as e:
        daemon.client("lambda").update_function_code(FunctionName="victim", ZipFile=zip_bytes)
    return error_of(e)


def test_zip_bomb_is_refused(daemon, tmp_path, bomb):
    assert len(bomb) < 52428800
    assert refused_everywhere(daemon, tmp_path, bomb) == (
        "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes", 400)


def test_corrupt_zip_is_refused(daemon, tmp_path):
    assert refused_everywhere(daemon, tmp_path, b"PK\x03\x04 this is not a zip") == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.", 400)


def test_safe_symlinks_and_shared_blobs(daemon):
    role = make_role(daemon, "r")
    ok = zip_of([("lib/real", b"x", 0o100644), ("link", b"lib/real", 0o120777)])
    create(daemon, "one", role, ok)
    create(daemon, "two", role, ok)
    blobs = list((daemon.data_dir / "code").glob("*.zip"))
    assert len(blobs) == 1, "identical packages share one blob"
    assert oct(blobs[0].stat().st_mode & 0o777) == "0o600"
    lam = daemon.client("lambda")
    lam.delete_function(FunctionName="one")
    assert blobs[0].exists(), "still used by 'two'"
    lam.delete_function(FunctionName="two")
    assert not blobs[0].exists()
    assert not [p for p in (daemon.data_dir / "code").iterdir() if p.name.startswith(".tmp")]


def test_package_is_stored_byte_for_byte(daemon):
    role = make_role(daemon, "r")
    pkg = package({"bootstrap": os.urandom(4096)})
    create(daemon, "exact", role, pkg)
    (blob,) = (daemon.data_dir / "code").glob("*.zip")
    assert blob.read_bytes() == pkg


def test_package_over_the_direct_upload_limit_is_too_large(daemon):
    role = make_role(daemon, "r")
    big = zip_of([("blob", os.urandom(52_428_800), 0o100644)])
    assert 52_428_800 < len(big) and len(base64.b64encode(big)) < 70_167_211
    with pytest.raises(ClientError) as e:
        daemon.client("lambda").create_function(FunctionName="big", Runtime="provided.al2023", Role=role,
                                                Handler="h", Code={"ZipFile": big})
    assert error_of(e) == ("RequestTooLargeException", "Zipped size must be smaller than 52428800 bytes", 413)
    assert not list((daemon.data_dir / "code").glob("*.zip"))
