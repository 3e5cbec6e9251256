"""S3 on the daemon's port (issue 15), driven by the unmodified aws CLI, boto3 and raw signed
requests: buckets, objects, listing, conditional and range GETs, checksums, multipart
uploads, versioning, tagging, bucket policies across accounts, virtual-hosted addressing,
every payload form the SDKs send (signed, UNSIGNED-PAYLOAD, aws-chunked with chunk
signatures, aws-chunked with an unsigned trailer), presigned URLs, durability across
`kill -9`, and Lambda code and layers from S3.

Error codes and messages are AWS's (botocore's model names the codes; the messages are what
S3 sends). The suite was first run against moto_server; where moto differs from AWS, AWS is
what is asserted and a comment says so.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import random
import subprocess
import threading
import time
import urllib.parse
import zlib
from pathlib import Path
from xml.etree import ElementTree

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import KEY, REGION, ROOT, SECRET
from fixtures.lambda_world import BASIC, error_of, package, trust, wait_until
from functions import zip_function

OWNER = "000000000000"
OTHER = "222222222222"
OTHER_KEY, OTHER_SECRET = "AKIATWO", "two"
# The default key keeps serving the owner's account; a second account signs as AKIATWO.
TWO_ACCOUNTS = f"""
[[accounts]]
access_key_id = "{KEY}"
secret_access_key = "{SECRET}"
account_id = "{OWNER}"
[[accounts]]
access_key_id = "{OTHER_KEY}"
secret_access_key = "{OTHER_SECRET}"
account_id = "{OTHER}"
"""
MIB = 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

NO_SUCH_BUCKET = ("NoSuchBucket", "The specified bucket does not exist", 404)
NO_SUCH_KEY = ("NoSuchKey", "The specified key does not exist.", 404)
ACCESS_DENIED = ("AccessDenied", 403)


# ---- helpers ----

def s3(d, key=KEY, secret=SECRET, region=REGION, **kw):
    """A path-style boto3 S3 client of the daemon (extra Config members in kw)."""
    kw["s3"] = {"addressing_style": "path", **kw.get("s3", {})}
    return d.client("s3", region=region, key=key, secret=secret, **kw)


def refused(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return error_of(e)


def code_status(call, **kw):
    code, _, status = refused(call, **kw)
    return code, status


def cli(d, *args, env=None) -> str:
    """Runs the aws CLI (text commands such as `aws s3 cp`); returns stdout."""
    p = d.aws(*args, check=False, env=env)
    assert p.returncode == 0, f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}"
    return p.stdout


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


_CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _CRC32C_TABLE.append(_c)


def crc32c_b64(data: bytes) -> str:
    """CRC32C (Castagnoli) in pure Python: botocore needs awscrt for it, not installed here."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return b64((crc ^ 0xFFFFFFFF).to_bytes(4, "big"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(MIB, left)
            f.write(os.urandom(n))
            left -= n


def fetch(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    r = requests.get(url, headers=headers or {}, timeout=30)
    return r.status_code, r.content


def xml_code(body: bytes) -> str:
    text = body.decode(errors="replace")
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


def xml_field(body: bytes, name: str) -> str | None:
    """One child of an S3 error document, XML entities decoded."""
    return ElementTree.fromstring(body).findtext(name)


def sent_payload_forms(client) -> list[str]:
    """Records the x-amz-content-sha256 of every request the client sends."""
    seen: list[str] = []

    def record(request, **_):
        v = request.headers.get("X-Amz-Content-SHA256")
        seen.append(v.decode() if isinstance(v, bytes) else v)

    client.meta.events.register("before-send.s3.*", record)
    return seen


class FixedPayloadSigner(botocore.auth.S3SigV4Auth):
    """botocore's S3 SigV4 signer with the x-amz-content-sha256 value chosen by the caller."""

    def __init__(self, payload: str, key=KEY, secret=SECRET, region=REGION):
        super().__init__(botocore.credentials.Credentials(key, secret), "s3", region)
        self._fixed = payload

    def payload(self, request):
        return self._fixed


def raw_put(d, path: str, body: bytes, payload: str, headers: dict | None = None, key=KEY, secret=SECRET):
    """A PUT signed with x-amz-content-sha256 = `payload`, the body sent as given."""
    req = botocore.awsrequest.AWSRequest(method="PUT", url=d.endpoint + path, data=b"",
                                         headers={"Content-Length": str(len(body)), **(headers or {})})
    FixedPayloadSigner(payload, key, secret).add_auth(req)
    p = req.prepare()
    return requests.put(p.url, data=body, headers=dict(p.headers), timeout=30)


def chunk_signed_put(d, path: str, data: bytes, chunk: int = 64 * 1024, tamper: bool = False):
    """PUT with `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed and
    chained to the seed signature of the headers (what the Java and Rust SDKs send)."""
    sizes = [len(data[i:i + chunk]) for i in range(0, len(data), chunk)] + [0]
    sig_len = 64
    encoded_len = sum(len(f"{n:x}") + len(";chunk-signature=") + sig_len + 2 + n + 2 for n in sizes)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(encoded_len),
    }
    req = botocore.awsrequest.AWSRequest(method="PUT", url=d.endpoint + path, data=b"", headers=headers)
    signer = FixedPayloadSigner("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    signer.add_auth(req)
    timestamp = req.context["timestamp"]
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    previous = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = bytearray()
    offset = 0
    for i, n in enumerate(sizes):
        piece = data[offset:offset + n]
        offset += n
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous, EMPTY_SHA256,
                             hashlib.sha256(piece).hexdigest()])
        sig = signer.signature(to_sign, req)
        if tamper and i == 1:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        body += f"{n:x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
        previous = sig
    assert len(body) == encoded_len
    p = req.prepare()
    return requests.put(p.url, data=bytes(body), headers=dict(p.headers), timeout=30)


def trailer_put(d, path: str, data: bytes, checksum: str, chunk: int = 64 * 1024):
    """PUT with `STREAMING-UNSIGNED-PAYLOAD-TRAILER` and an x-amz-checksum-crc32 trailer,
    framed as botocore's AwsChunkedWrapper frames it."""
    body = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        body += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    body += b"0\r\n" + f"x-amz-checksum-crc32:{checksum}\r\n".encode() + b"\r\n"
    return raw_put(d, path, bytes(body), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    })


def virtual_client(d, **config):
    """boto3 in virtual-hosted style with endpoint http://s3.localhost:PORT: requests go to
    `<bucket>.s3.localhost:PORT`, sent to 127.0.0.1 with that Host header (nothing here
    resolves *.localhost)."""
    port = urllib.parse.urlsplit(d.endpoint).port
    c = boto3.client("s3", endpoint_url=f"http://s3.localhost:{port}", region_name=REGION,
                     aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                     config=botocore.config.Config(retries={"max_attempts": 1},
                                                   s3={"addressing_style": "virtual"}, **config))
    hosts: list[str] = []

    def to_loopback(request, **_):
        parts = urllib.parse.urlsplit(request.url)
        hosts.append(parts.netloc)
        request.headers["Host"] = parts.netloc
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))

    c.meta.events.register("before-send.s3.*", to_loopback)
    return c, hosts


def via_host(url: str) -> tuple[str, dict]:
    """A URL for <anything>.localhost rewritten to 127.0.0.1, with the original Host header."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}")), {"Host": parts.netloc}


def all_keys(c, bucket) -> list[str]:
    keys = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


# ---- the aws CLI: mb, cp (multipart), sync, presign ----

def test_cli_mb_and_multipart_cp_of_100_mib(daemon, tmp_path):
    cli(daemon, "s3", "mb", "s3://big-files")
    assert "big-files" in cli(daemon, "s3", "ls")
    src = tmp_path / "big.bin"
    write_random(src, 100 * MIB)
    out = cli(daemon, "s3", "cp", str(src), "s3://big-files/nested/big.bin")
    assert "upload:" in out
    # The CLI splits above 8 MiB into 8 MiB parts: 13 parts, and S3's multipart ETag.
    head = s3(daemon).head_object(Bucket="big-files", Key="nested/big.bin")
    assert head["ContentLength"] == 100 * MIB
    with open(src, "rb") as f:
        parts = list(iter(lambda: f.read(8 * MIB), b""))
    assert head["ETag"] == multipart_etag(parts)
    del parts
    back = tmp_path / "back.bin"
    cli(daemon, "s3", "cp", "s3://big-files/nested/big.bin", str(back))
    assert sha256_file(back) == sha256_file(src)
    listing = cli(daemon, "s3", "ls", "s3://big-files/nested/")
    assert f"{100 * MIB} big.bin" in listing
    cli(daemon, "s3", "rm", "s3://big-files/nested/big.bin")
    cli(daemon, "s3", "rb", "s3://big-files")
    assert "big-files" not in cli(daemon, "s3", "ls")


def test_cli_sync_up_and_down(daemon, tmp_path):
    src = tmp_path / "site"
    files = {
        "index.html": b"<h1>hi</h1>",
        "css/site.css": b"body{}",
        "img/logo.png": os.urandom(70_000),
        "deep/a/b/c/note.txt": b"deep",
        "with space.txt": b"spaced",
        "empty.txt": b"",
    }
    old = time.time() - 3600
    for name, data in files.items():
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (old, old))
    cli(daemon, "s3", "mb", "s3://sync-target")
    out = cli(daemon, "s3", "sync", str(src), "s3://sync-target/www")
    assert out.count("upload:") == len(files)
    c = s3(daemon)
    assert sorted(all_keys(c, "sync-target")) == sorted(f"www/{n}" for n in files)
    # Nothing changed: nothing to upload.
    assert "upload:" not in cli(daemon, "s3", "sync", str(src), "s3://sync-target/www")
    # One file changed: only it goes up.
    (src / "css/site.css").write_bytes(b"body{color:red}")
    out = cli(daemon, "s3", "sync", str(src), "s3://sync-target/www")
    assert out.count("upload:") == 1 and "css/site.css" in out
    files["css/site.css"] = b"body{color:red}"

    dst = tmp_path / "down"
    out = cli(daemon, "s3", "sync", "s3://sync-target/www", str(dst))
    assert out.count("download:") == len(files)
    for name, data in files.items():
        assert (dst / name).read_bytes() == data, name
    assert "download:" not in cli(daemon, "s3", "sync", "s3://sync-target/www", str(dst))

    copy = tmp_path / "copy"
    cli(daemon, "s3", "cp", "--recursive", "s3://sync-target/www", str(copy))
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()) == sorted(files)
    # --delete removes what is gone locally.
    (src / "index.html").unlink()
    out = cli(daemon, "s3", "sync", "--delete", str(src), "s3://sync-target/www")
    assert "delete: s3://sync-target/www/index.html" in out
    assert "www/index.html" not in all_keys(c, "sync-target")


def test_cli_presign_fetched_with_curl_and_expiry(daemon, tmp_path):
    c = s3(daemon)
    c.create_bucket(Bucket="links")
    c.put_object(Bucket="links", Key="dir/file name.txt", Body=b"shared bytes")

    def curl(url, *extra):
        out = tmp_path / "curl.out"
        p = subprocess.run(["curl", "-s", "-o", str(out), "-w", "%{http_code}", *extra, url],
                           capture_output=True, text=True, timeout=30)
        return int(p.stdout), out.read_bytes() if out.exists() else b""

    # The CLI's default against a custom endpoint (aws-cli v1 here): a SigV2 query string
    # (AWSAccessKeyId, Signature, Expires). AWS still honours those.
    url = cli(daemon, "s3", "presign", "s3://links/dir/file name.txt", "--expires-in", "300").strip()
    assert curl(url) == (200, b"shared bytes")
    # With signature_version = s3v4 configured: a SigV4 query string.
    config = tmp_path / "aws-config"
    config.write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    v4_env = daemon.aws_env(AWS_CONFIG_FILE=str(config))
    url4 = cli(daemon, "s3", "presign", "s3://links/dir/file name.txt", "--expires-in", "300", env=v4_env).strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url4 and "X-Amz-Expires=300" in url4
    assert curl(url4) == (200, b"shared bytes")

    # A changed signature, or another key, is refused.
    status, body = fetch(url4[:-1] + ("0" if url4[-1] != "0" else "1"))
    assert (status, xml_code(body)) == (403, "SignatureDoesNotMatch")  # moto: checks no signature
    status, body = fetch(url4.replace("file%20name.txt", "other.txt"))
    assert (status, xml_code(body)) == (403, "SignatureDoesNotMatch")  # moto: checks no signature

    # Expired: 403 AccessDenied, "Request has expired", for both signature versions.
    short = cli(daemon, "s3", "presign", "s3://links/dir/file name.txt", "--expires-in", "1").strip()
    short4 = cli(daemon, "s3", "presign", "s3://links/dir/file name.txt", "--expires-in", "1", env=v4_env).strip()
    time.sleep(2.2)
    for u in (short, short4):
        status, body = curl(u)
        assert status == 403 and xml_code(body) == "AccessDenied", body
        assert b"<Message>Request has expired</Message>" in body

    # A presigned PUT uploads.
    signer = s3(daemon, signature_version="s3v4")
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": "links", "Key": "up.txt"}, ExpiresIn=60)
    assert requests.put(put_url, data=b"uploaded via presign", timeout=30).status_code == 200
    assert c.get_object(Bucket="links", Key="up.txt")["Body"].read() == b"uploaded via presign"


# ---- buckets ----

def test_bucket_create_list_locate_delete(daemon):
    c = s3(daemon)
    out = c.create_bucket(Bucket="alpha-bucket")
    assert out["Location"] == "/alpha-bucket"
    # us-east-1 keeps its legacy answer: re-creating your own bucket there is a 200.
    c.create_bucket(Bucket="alpha-bucket")
    eu = s3(daemon, region="eu-west-1")
    out = eu.create_bucket(Bucket="beta-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert "beta-bucket" in out["Location"]  # AWS: http://beta-bucket.s3.amazonaws.com/
    # Anywhere else it is BucketAlreadyOwnedByYou.
    assert refused(eu.create_bucket, Bucket="beta-bucket",
                   CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}) == (
        "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.",
        409)
    # A region endpoint needs its constraint; us-east-1 is never a constraint.
    assert code_status(eu.create_bucket, Bucket="gamma-bucket") == ("IllegalLocationConstraintException", 400)
    assert refused(c.create_bucket, Bucket="gamma-bucket",
                   CreateBucketConfiguration={"LocationConstraint": "us-east-1"}) == (
        "InvalidLocationConstraint", "The specified location-constraint is not valid", 400)
    assert c.get_bucket_location(Bucket="alpha-bucket")["LocationConstraint"] is None
    assert eu.get_bucket_location(Bucket="beta-bucket")["LocationConstraint"] == "eu-west-1"

    listed = c.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == ["alpha-bucket", "beta-bucket"]
    assert all("CreationDate" in b for b in listed["Buckets"])
    assert listed["Owner"]["ID"]
    assert c.head_bucket(Bucket="alpha-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert c.head_bucket(Bucket="beta-bucket")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"

    c.put_object(Bucket="alpha-bucket", Key="k", Body=b"x")
    assert refused(c.delete_bucket, Bucket="alpha-bucket") == (
        "BucketNotEmpty", "The bucket you tried to delete is not empty", 409)
    c.delete_object(Bucket="alpha-bucket", Key="k")
    assert c.delete_bucket(Bucket="alpha-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert refused(c.delete_bucket, Bucket="alpha-bucket") == NO_SUCH_BUCKET
    assert refused(c.head_bucket, Bucket="alpha-bucket") == ("404", "Not Found", 404)
    assert refused(c.get_object, Bucket="alpha-bucket", Key="k") == NO_SUCH_BUCKET
    assert refused(c.put_object, Bucket="alpha-bucket", Key="k", Body=b"x") == NO_SUCH_BUCKET
    assert refused(c.list_objects_v2, Bucket="alpha-bucket") == NO_SUCH_BUCKET
    with pytest.raises(ClientError) as e:
        c.list_objects_v2(Bucket="no-such-bucket-here")
    assert e.value.response["Error"]["BucketName"] == "no-such-bucket-here"
    assert [b["Name"] for b in c.list_buckets()["Buckets"]] == ["beta-bucket"]


@pytest.mark.parametrize("name", [
    "ab",                 # shorter than 3
    "a" * 64,             # longer than 63
    "Upper-Case",         # upper case
    "under_score",        # underscore
    "-leading-dash",      # must start with a letter or digit
    "trailing-dash-",     # and end with one
    "two..dots",          # adjacent periods
    "192.168.5.4",        # formatted as an IP address
    "xn--punycode",       # reserved prefix
    "sthree-reserved",    # reserved prefix
    "name-s3alias",       # reserved suffix
    "name--ol-s3",        # reserved suffix
])
def test_invalid_bucket_names(daemon, name):
    # moto accepts most of these; AWS refuses every one.
    c = s3(daemon)
    with pytest.raises(ClientError) as e:
        c.create_bucket(Bucket=name)
    assert error_of(e) == ("InvalidBucketName", "The specified bucket is not valid.", 400)
    assert e.value.response["Error"]["BucketName"] == name  # moto: no BucketName element


# ---- objects ----

def test_put_get_head_metadata_and_etag(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="objects")
    data = os.urandom(10_000)
    out = c.put_object(Bucket="objects", Key="file.bin", Body=data, ContentType="application/x-thing",
                       Metadata={"a": "b", "Mixed-Case": "Value"}, CacheControl="max-age=60",
                       ContentDisposition='attachment; filename="f.bin"', ContentLanguage="en")
    assert out["ETag"] == md5_etag(data)
    head = c.head_object(Bucket="objects", Key="file.bin")
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/x-thing"
    assert head["ETag"] == md5_etag(data)
    # User metadata names are lower-cased on the wire (x-amz-meta-*), values kept.
    assert head["Metadata"] == {"a": "b", "mixed-case": "Value"}
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="f.bin"'
    assert head["ContentLanguage"] == "en"
    assert head["AcceptRanges"] == "bytes"
    got = c.get_object(Bucket="objects", Key="file.bin")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"a": "b", "mixed-case": "Value"}
    assert got["ContentType"] == "application/x-thing"
    assert got["LastModified"] == head["LastModified"]
    # The default content type.
    c.put_object(Bucket="objects", Key="plain", Body=b"p")
    assert c.head_object(Bucket="objects", Key="plain")["ContentType"] == "binary/octet-stream"
    # Keys are any UTF-8: spaces, plus signs, reserved characters, other scripts, slashes.
    for key in ("dir/with space+plus&=?.txt", "ключ/ü€.bin", "a//double/slash", "~tilde!*'()", "%41literal"):
        c.put_object(Bucket="objects", Key=key, Body=key.encode())
        assert c.get_object(Bucket="objects", Key=key)["Body"].read() == key.encode(), key
    assert "ключ/ü€.bin" in all_keys(c, "objects")
    assert refused(c.get_object, Bucket="objects", Key="missing") == NO_SUCH_KEY
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="objects", Key="missing")
    assert e.value.response["Error"]["Key"] == "missing"
    assert refused(c.head_object, Bucket="objects", Key="missing") == ("404", "Not Found", 404)
    # Overwrite replaces everything, metadata included.
    c.put_object(Bucket="objects", Key="file.bin", Body=b"new")
    head = c.head_object(Bucket="objects", Key="file.bin")
    assert head["Metadata"] == {} and head["ContentLength"] == 3
    # Deleting a missing key is a 204 too.
    assert c.delete_object(Bucket="objects", Key="never-was")["ResponseMetadata"]["HTTPStatusCode"] == 204
    # Zero-length objects.
    c.put_object(Bucket="objects", Key="empty", Body=b"")
    assert c.get_object(Bucket="objects", Key="empty")["Body"].read() == b""
    assert c.head_object(Bucket="objects", Key="empty")["ETag"] == md5_etag(b"")


def test_range_and_conditional_gets(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="ranges")
    data = bytes(range(256)) * 4
    etag = c.put_object(Bucket="ranges", Key="k", Body=data)["ETag"]
    got = c.get_object(Bucket="ranges", Key="k", Range="bytes=0-9")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 0-9/{len(data)}"
    assert got["ContentLength"] == 10
    assert got["Body"].read() == data[:10]
    got = c.get_object(Bucket="ranges", Key="k", Range="bytes=1000-")
    assert (got["ContentRange"], got["Body"].read()) == (f"bytes 1000-1023/{len(data)}", data[1000:])
    got = c.get_object(Bucket="ranges", Key="k", Range="bytes=-5")
    assert (got["ContentRange"], got["Body"].read()) == (f"bytes 1019-1023/{len(data)}", data[-5:])
    # A last byte past the end is clipped to the end.
    got = c.get_object(Bucket="ranges", Key="k", Range="bytes=1020-5000")
    assert got["Body"].read() == data[1020:]
    assert refused(c.get_object, Bucket="ranges", Key="k", Range="bytes=5000-6000") == (
        "InvalidRange", "The requested range is not satisfiable", 416)

    assert c.get_object(Bucket="ranges", Key="k", IfMatch=etag)["Body"].read() == data
    assert refused(c.get_object, Bucket="ranges", Key="k", IfNoneMatch=etag)[2] == 304
    assert refused(c.head_object, Bucket="ranges", Key="k", IfNoneMatch=etag)[2] == 304
    assert refused(c.get_object, Bucket="ranges", Key="k", IfMatch='"0000"') == (
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    assert refused(c.head_object, Bucket="ranges", Key="k", IfMatch='"0000"')[2] == 412
    modified = c.head_object(Bucket="ranges", Key="k")["LastModified"]
    assert refused(c.get_object, Bucket="ranges", Key="k", IfModifiedSince=modified)[2] == 304
    past = modified.replace(year=modified.year - 1)
    assert c.get_object(Bucket="ranges", Key="k", IfModifiedSince=past)["Body"].read() == data
    assert refused(c.get_object, Bucket="ranges", Key="k", IfUnmodifiedSince=past)[2] == 412
    assert c.get_object(Bucket="ranges", Key="k", IfNoneMatch='"other"')["Body"].read() == data
    # Conditional PUT: If-None-Match: * refuses to overwrite.
    assert code_status(c.put_object, Bucket="ranges", Key="k", Body=b"x", IfNoneMatch="*") == (
        "PreconditionFailed", 412)
    c.put_object(Bucket="ranges", Key="new", Body=b"x", IfNoneMatch="*")


def test_delete_objects_and_copy(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="src-bucket")
    c.create_bucket(Bucket="dst-bucket")
    for k in ("k1", "k2", "k3"):
        c.put_object(Bucket="src-bucket", Key=k, Body=k.encode())
    out = c.delete_objects(Bucket="src-bucket", Delete={"Objects": [{"Key": "k1"}, {"Key": "k2"}, {"Key": "nope"}]})
    # Deleting a missing key counts as deleted, as on AWS.
    assert sorted(d["Key"] for d in out["Deleted"]) == ["k1", "k2", "nope"]
    assert not out.get("Errors")
    assert all_keys(c, "src-bucket") == ["k3"]
    out = c.delete_objects(Bucket="src-bucket", Delete={"Objects": [{"Key": "k3"}], "Quiet": True})
    assert not out.get("Deleted") and not out.get("Errors")  # moto: lists Deleted in quiet mode too
    assert all_keys(c, "src-bucket") == []

    data = os.urandom(5000)
    etag = c.put_object(Bucket="src-bucket", Key="orig", Body=data, ContentType="text/x-src",
                        Metadata={"m": "1"})["ETag"]
    out = c.copy_object(Bucket="dst-bucket", Key="copy", CopySource={"Bucket": "src-bucket", "Key": "orig"})
    assert out["CopyObjectResult"]["ETag"] == etag
    got = c.get_object(Bucket="dst-bucket", Key="copy")
    assert got["Body"].read() == data
    assert (got["ContentType"], got["Metadata"]) == ("text/x-src", {"m": "1"})
    c.copy_object(Bucket="src-bucket", Key="replaced", CopySource="src-bucket/orig", MetadataDirective="REPLACE",
                  Metadata={"m": "2"}, ContentType="text/x-new")
    head = c.head_object(Bucket="src-bucket", Key="replaced")
    assert (head["Metadata"], head["ContentType"]) == ({"m": "2"}, "text/x-new")
    # Onto itself with nothing changed: refused; with new metadata: fine.
    code, msg, status = refused(c.copy_object, Bucket="src-bucket", Key="orig", CopySource="src-bucket/orig")
    assert (code, status) == ("InvalidRequest", 400)
    assert msg.startswith("This copy request is illegal because it is trying to copy an object to itself")
    c.copy_object(Bucket="src-bucket", Key="orig", CopySource="src-bucket/orig", MetadataDirective="REPLACE",
                  Metadata={"m": "3"})
    assert c.head_object(Bucket="src-bucket", Key="orig")["Metadata"] == {"m": "3"}
    assert refused(c.copy_object, Bucket="dst-bucket", Key="x", CopySource="src-bucket/missing") == NO_SUCH_KEY
    # Conditional copy.
    assert code_status(c.copy_object, Bucket="dst-bucket", Key="x", CopySource="src-bucket/orig",
                       CopySourceIfMatch='"0000"') == ("PreconditionFailed", 412)


def test_list_objects_v2_and_v1(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="listing")
    keys = ["a/1", "a/2", "b/1", "c", "d"]
    for k in keys:
        c.put_object(Bucket="listing", Key=k, Body=b"x" * len(k))
    out = c.list_objects_v2(Bucket="listing")
    assert [o["Key"] for o in out["Contents"]] == keys
    assert out["KeyCount"] == 5 and out["MaxKeys"] == 1000 and out["IsTruncated"] is False
    assert out["Contents"][0]["Size"] == 3 and out["Contents"][0]["StorageClass"] == "STANDARD"
    assert out["Contents"][0]["ETag"] == md5_etag(b"xxx")

    out = c.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in out["Contents"]] == ["c", "d"]
    assert out["KeyCount"] == 4 and out["Delimiter"] == "/"
    out = c.list_objects_v2(Bucket="listing", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"] and "CommonPrefixes" not in out
    assert out["Prefix"] == "a/"
    out = c.list_objects_v2(Bucket="listing", Prefix="zzz")
    assert out["KeyCount"] == 0 and "Contents" not in out
    assert [o["Key"] for o in c.list_objects_v2(Bucket="listing", StartAfter="b/1")["Contents"]] == ["c", "d"]

    # Pagination: MaxKeys=2 across the five keys.
    pages, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        out = c.list_objects_v2(Bucket="listing", MaxKeys=2, **kw)
        pages.append([o["Key"] for o in out.get("Contents", [])])
        assert out["KeyCount"] == len(pages[-1])
        if not out["IsTruncated"]:
            assert "NextContinuationToken" not in out
            break
        token = out["NextContinuationToken"]
        assert len(pages) < 10
    assert pages == [["a/1", "a/2"], ["b/1", "c"], ["d"]]
    # Common prefixes count towards MaxKeys and are never repeated across pages.
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        out = c.list_objects_v2(Bucket="listing", MaxKeys=1, Delimiter="/", **kw)
        seen += [p["Prefix"] for p in out.get("CommonPrefixes", [])] + [o["Key"] for o in out.get("Contents", [])]
        if not out["IsTruncated"]:
            break
        token = out["NextContinuationToken"]
        assert len(seen) < 10
    assert seen == ["a/", "b/", "c", "d"]
    assert code_status(c.list_objects_v2, Bucket="listing",  # moto: a 500
                       ContinuationToken="garbage!") == ("InvalidArgument", 400)

    # ListObjects (v1): Marker; NextMarker only comes with a delimiter (moto sends it always).
    out = c.list_objects(Bucket="listing", MaxKeys=2)
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"] and out["IsTruncated"] is True
    assert "NextMarker" not in out
    out = c.list_objects(Bucket="listing", Marker="a/2")
    assert [o["Key"] for o in out["Contents"]] == ["b/1", "c", "d"] and out["IsTruncated"] is False
    assert out["Marker"] == "a/2"
    out = c.list_objects(Bucket="listing", Delimiter="/", MaxKeys=3)
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in out["Contents"]] == ["c"]
    assert out["IsTruncated"] is True and out["NextMarker"] == "c"
    assert [o["Key"] for o in c.list_objects(Bucket="listing", Marker="c")["Contents"]] == ["d"]


def test_multipart_upload_api(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="multi")
    upload = c.create_multipart_upload(Bucket="multi", Key="assembled", ContentType="video/x-test",
                                       Metadata={"kind": "parts"})
    uid = upload["UploadId"]
    # Two parts of 5 MiB (the minimum), then a short last one.
    part1, part2, part3 = os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)
    e3 = c.upload_part(Bucket="multi", Key="assembled", UploadId=uid, PartNumber=3, Body=part3)["ETag"]
    e1 = c.upload_part(Bucket="multi", Key="assembled", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    e2 = c.upload_part(Bucket="multi", Key="assembled", UploadId=uid, PartNumber=2, Body=part2)["ETag"]
    assert (e1, e2, e3) == (md5_etag(part1), md5_etag(part2), md5_etag(part3))
    listed = c.list_multipart_uploads(Bucket="multi")
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [("assembled", uid)]
    parts = c.list_parts(Bucket="multi", Key="assembled", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, e1, len(part1)), (2, e2, len(part2)), (3, e3, len(part3))]
    # Not visible before completion.
    assert refused(c.head_object, Bucket="multi", Key="assembled")[2] == 404
    code, msg, status = refused(c.complete_multipart_upload, Bucket="multi", Key="assembled", UploadId=uid,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'},
                                                           {"PartNumber": 2, "ETag": e2}]})
    assert (code, status) == ("InvalidPart", 400)
    assert code_status(c.complete_multipart_upload, Bucket="multi", Key="assembled", UploadId=uid,
                       MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2},
                                                  {"PartNumber": 1, "ETag": e1}]}) == ("InvalidPartOrder", 400)
    every = {"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]}
    out = c.complete_multipart_upload(Bucket="multi", Key="assembled", UploadId=uid, MultipartUpload=every)
    assert out["ETag"] == multipart_etag([part1, part2, part3])
    got = c.get_object(Bucket="multi", Key="assembled")
    assert got["Body"].read() == part1 + part2 + part3
    assert (got["ContentType"], got["Metadata"], got["ETag"]) == ("video/x-test", {"kind": "parts"}, out["ETag"])
    # A ranged GET across the part boundary.
    got = c.get_object(Bucket="multi", Key="assembled", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert got["Body"].read() == (part1 + part2)[5 * MIB - 3:5 * MIB + 3]
    # PartNumber=N GETs that part.
    got = c.get_object(Bucket="multi", Key="assembled", PartNumber=3)
    assert got["Body"].read() == part3 and got["PartsCount"] == 3
    assert c.list_multipart_uploads(Bucket="multi").get("Uploads", []) == []
    assert refused(c.upload_part, Bucket="multi", Key="assembled", UploadId=uid, PartNumber=3, Body=b"x") == (
        "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.", 404)

    # Every part but the last must be at least 5 MiB.
    uid = c.create_multipart_upload(Bucket="multi", Key="small")["UploadId"]
    s1 = c.upload_part(Bucket="multi", Key="small", UploadId=uid, PartNumber=1, Body=b"a" * 100)["ETag"]
    s2 = c.upload_part(Bucket="multi", Key="small", UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
    assert refused(c.complete_multipart_upload, Bucket="multi", Key="small", UploadId=uid,
                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": s1}, {"PartNumber": 2, "ETag": s2}]}) == (
        "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400)
    # UploadPartCopy from an existing object, then abort.
    copied = c.upload_part_copy(Bucket="multi", Key="small", UploadId=uid, PartNumber=3,
                                CopySource={"Bucket": "multi", "Key": "assembled"}, CopySourceRange="bytes=0-99")
    assert copied["CopyPartResult"]["ETag"] == md5_etag(part1[:100])
    assert c.abort_multipart_upload(Bucket="multi", Key="small", UploadId=uid)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert refused(c.list_parts, Bucket="multi", Key="small", UploadId=uid)[0] == "NoSuchUpload"
    assert refused(c.head_object, Bucket="multi", Key="small")[2] == 404


def test_checksums_and_content_md5(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="sums")
    data = b"checksummed bytes " * 1000
    expected = {
        "SHA256": b64(hashlib.sha256(data).digest()),
        "SHA1": b64(hashlib.sha1(data).digest()),
        "CRC32": crc32_b64(data),
    }
    for alg, value in expected.items():
        out = c.put_object(Bucket="sums", Key=alg, Body=data, ChecksumAlgorithm=alg)
        assert out[f"Checksum{alg}"] == value, alg
        head = c.head_object(Bucket="sums", Key=alg, ChecksumMode="ENABLED")
        assert head[f"Checksum{alg}"] == value, alg
        got = c.get_object(Bucket="sums", Key=alg, ChecksumMode="ENABLED")  # boto3 verifies it too
        assert got[f"Checksum{alg}"] == value and got["Body"].read() == data
    # CRC32C given by the caller (botocore computes it only with awscrt).
    c.put_object(Bucket="sums", Key="CRC32C", Body=data, ChecksumCRC32C=crc32c_b64(data))
    head = c.head_object(Bucket="sums", Key="CRC32C", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == crc32c_b64(data)  # moto: does not return a CRC32C it was given
    assert crc32c_b64(b"123456789") == b64(bytes.fromhex("e3069283"))  # the check value of CRC-32C
    # Without ChecksumMode the checksum is not returned.
    assert "ChecksumSHA256" not in c.head_object(Bucket="sums", Key="SHA256")

    # A checksum that does not match the body.
    code, msg, status = refused(c.put_object, Bucket="sums", Key="bad", Body=data,
                                ChecksumSHA256=b64(hashlib.sha256(b"other").digest()))
    assert (code, status) == ("BadDigest", 400)
    assert "SHA256" in msg and "did not match" in msg
    code, _, status = refused(c.put_object, Bucket="sums", Key="bad", Body=data, ChecksumCRC32=crc32_b64(b"other"))
    assert (code, status) == ("BadDigest", 400)
    # Content-MD5: right, wrong, malformed.
    c.put_object(Bucket="sums", Key="md5", Body=data, ContentMD5=b64(hashlib.md5(data).digest()))
    assert refused(c.put_object, Bucket="sums", Key="bad", Body=data, ContentMD5=b64(hashlib.md5(b"other").digest())) == (
        "BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
    assert refused(c.put_object, Bucket="sums", Key="bad", Body=data, ContentMD5="not-an-md5") == (
        "InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    assert refused(c.head_object, Bucket="sums", Key="bad")[2] == 404


def test_payload_forms(daemon):
    """Every way an SDK sends a PUT body reaches the same bytes."""
    c = s3(daemon)
    c.create_bucket(Bucket="payloads")
    data = os.urandom(200_003)  # several 64 KiB chunks and a ragged end

    # boto3's default over http: a signed payload plus an x-amz-checksum-crc32 header.
    default = s3(daemon)
    forms = sent_payload_forms(default)
    default.put_object(Bucket="payloads", Key="signed", Body=data)
    assert forms == [hashlib.sha256(data).hexdigest()]
    assert c.head_object(Bucket="payloads", Key="signed", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32_b64(data)
    # Checksums only when required: a bare signed payload.
    bare = s3(daemon, request_checksum_calculation="when_required")
    bare.put_object(Bucket="payloads", Key="bare", Body=data)
    # UNSIGNED-PAYLOAD.
    unsigned = s3(daemon, s3={"payload_signing_enabled": False})
    forms = sent_payload_forms(unsigned)
    unsigned.put_object(Bucket="payloads", Key="unsigned", Body=data)
    assert forms == ["UNSIGNED-PAYLOAD"]
    # STREAMING-UNSIGNED-PAYLOAD-TRAILER: what boto3 sends by default over https, forced
    # here over http (botocore only turns it on for TLS).
    trailer = s3(daemon)
    forms = sent_payload_forms(trailer)

    def force_trailer(params, **_):
        algorithm = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"

    trailer.meta.events.register("before-call.s3.PutObject", force_trailer)
    trailer.put_object(Bucket="payloads", Key="trailer", Body=data)
    assert forms == ["STREAMING-UNSIGNED-PAYLOAD-TRAILER"]
    assert c.head_object(Bucket="payloads", Key="trailer", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32_b64(data)
    # The same, framed by hand.
    r = trailer_put(daemon, "/payloads/trailer-raw", data, crc32_b64(data))
    assert r.status_code == 200, r.text
    assert r.headers["x-amz-checksum-crc32"] == crc32_b64(data)  # moto: no checksum header in the response
    # STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signed.
    r = chunk_signed_put(daemon, "/payloads/chunked", data)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == md5_etag(data)

    for key in ("signed", "bare", "unsigned", "trailer", "trailer-raw", "chunked"):
        got = c.get_object(Bucket="payloads", Key=key)
        assert got["Body"].read() == data, key
        assert got["ETag"] == md5_etag(data), key
        assert got["ContentLength"] == len(data), key


def test_payload_integrity_is_checked(daemon):
    # moto checks none of these: it verifies no signatures, hashes or trailers.
    c = s3(daemon)
    c.create_bucket(Bucket="integrity")
    data = os.urandom(150_000)
    # A chunk signature that does not chain.
    r = chunk_signed_put(daemon, "/integrity/chunked", data, tamper=True)
    assert (r.status_code, xml_code(r.content)) == (403, "SignatureDoesNotMatch")
    # A trailer checksum that does not match.
    r = trailer_put(daemon, "/integrity/trailer", data, crc32_b64(b"other"))
    assert (r.status_code, xml_code(r.content)) == (400, "BadDigest")
    # A signed payload hash that is not the body's.
    r = raw_put(daemon, "/integrity/signed", data, hashlib.sha256(b"other").hexdigest())
    assert (r.status_code, xml_code(r.content)) == (400, "XAmzContentSHA256Mismatch")
    assert xml_field(r.content, "Message") == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )
    # Wrong secret; unknown key.
    r = raw_put(daemon, "/integrity/signed", data, hashlib.sha256(data).hexdigest(), secret="wrong")
    assert (r.status_code, xml_code(r.content)) == (403, "SignatureDoesNotMatch")
    r = raw_put(daemon, "/integrity/signed", data, hashlib.sha256(data).hexdigest(), key="AKIANOBODY")
    assert (r.status_code, xml_code(r.content)) == (403, "InvalidAccessKeyId")
    # Unsigned requests are anonymous: refused on a private bucket.
    r = requests.get(f"{daemon.endpoint}/integrity/anything", timeout=10)
    assert (r.status_code, xml_code(r.content)) == (403, "AccessDenied")
    # None of them left an object behind.
    assert all_keys(c, "integrity") == []


def test_virtual_hosted_style(daemon):
    c, hosts = virtual_client(daemon)
    c.create_bucket(Bucket="vhost-bucket")
    c.put_object(Bucket="vhost-bucket", Key="dir/obj.txt", Body=b"virtual")
    assert c.get_object(Bucket="vhost-bucket", Key="dir/obj.txt")["Body"].read() == b"virtual"
    assert all_keys(c, "vhost-bucket") == ["dir/obj.txt"]
    port = urllib.parse.urlsplit(daemon.endpoint).port
    assert set(hosts) == {f"vhost-bucket.s3.localhost:{port}"}
    # The same bucket path-style.
    assert s3(daemon).get_object(Bucket="vhost-bucket", Key="dir/obj.txt")["Body"].read() == b"virtual"
    # Presigned virtual-hosted URLs (the host is signed), SigV2 (botocore's default) and SigV4.
    for config in ({}, {"signature_version": "s3v4"}):
        signer, _ = virtual_client(daemon, **config)
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "vhost-bucket", "Key": "dir/obj.txt"},
                                            ExpiresIn=60)
        assert url.startswith(f"http://vhost-bucket.s3.localhost:{port}/dir/obj.txt?")
        loopback, host = via_host(url)
        assert fetch(loopback, host) == (200, b"virtual")
        if config:
            # Another host than the one signed: refused.
            status, body = fetch(loopback, {"Host": f"other-bucket.s3.localhost:{port}"})
            assert status in (403, 404), body


def test_versioning(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="versions")
    assert "Status" not in c.get_bucket_versioning(Bucket="versions")
    plain = c.put_object(Bucket="versions", Key="k", Body=b"before versioning")
    assert "VersionId" not in plain
    daemon.aws("s3api", "put-bucket-versioning", "--bucket", "versions",
               "--versioning-configuration", "Status=Enabled")
    assert daemon.aws("s3api", "get-bucket-versioning", "--bucket", "versions")["Status"] == "Enabled"
    v1 = c.put_object(Bucket="versions", Key="k", Body=b"one")["VersionId"]
    v2 = c.put_object(Bucket="versions", Key="k", Body=b"two")["VersionId"]
    assert v1 and v2 and v1 != v2 and v1 != "null"
    assert c.get_object(Bucket="versions", Key="k")["Body"].read() == b"two"
    got = c.get_object(Bucket="versions", Key="k", VersionId=v1)
    assert (got["Body"].read(), got["VersionId"]) == (b"one", v1)
    # The object from before versioning is the "null" version.
    assert c.get_object(Bucket="versions", Key="k", VersionId="null")["Body"].read() == b"before versioning"
    out = daemon.aws("s3api", "get-object", "--bucket", "versions", "--key", "k", "--version-id", v1,
                     str(daemon.data_dir.parent / "old-version"))
    assert out["VersionId"] == v1
    assert (daemon.data_dir.parent / "old-version").read_bytes() == b"one"

    listed = c.list_object_versions(Bucket="versions")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("k", v2, True), ("k", v1, False), ("k", "null", False)]
    assert "DeleteMarkers" not in listed

    deleted = c.delete_object(Bucket="versions", Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="versions", Key="k")
    assert error_of(e) == NO_SUCH_KEY
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"  # moto: omits it
    assert all_keys(c, "versions") == []
    assert c.get_object(Bucket="versions", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert c.get_object(Bucket="versions", Key="k", VersionId=v2)["Body"].read() == b"two"
    assert refused(c.get_object, Bucket="versions", Key="k", VersionId=marker) == (
        "MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    listed = c.list_object_versions(Bucket="versions")
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("k", marker, True)]
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1, "null"]
    assert not any(v["IsLatest"] for v in listed["Versions"])
    # A versioned bucket with only old versions is still not empty.
    assert refused(c.delete_bucket, Bucket="versions")[0] == "BucketNotEmpty"

    # Deleting the marker brings the latest version back; deleting a version removes it.
    out = c.delete_object(Bucket="versions", Key="k", VersionId=marker)
    assert out["DeleteMarker"] is True and out["VersionId"] == marker
    assert c.get_object(Bucket="versions", Key="k")["Body"].read() == b"two"
    assert c.delete_object(Bucket="versions", Key="k", VersionId=v2)["VersionId"] == v2
    assert c.get_object(Bucket="versions", Key="k")["Body"].read() == b"one"
    assert [v["VersionId"] for v in c.list_object_versions(Bucket="versions")["Versions"]] == [v1, "null"]
    assert code_status(c.get_object, Bucket="versions", Key="k", VersionId=v2)[1] in (400, 404)

    # Suspended: new writes are the null version again.
    c.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Suspended"})
    assert c.get_bucket_versioning(Bucket="versions")["Status"] == "Suspended"
    assert c.put_object(Bucket="versions", Key="k", Body=b"suspended").get("VersionId", "null") == "null"
    assert c.get_object(Bucket="versions", Key="k", VersionId="null")["Body"].read() == b"suspended"
    assert c.get_object(Bucket="versions", Key="k", VersionId=v1)["Body"].read() == b"one"


def test_tagging(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="tags")
    c.put_object(Bucket="tags", Key="k", Body=b"x", Tagging="team=net&env=dev")
    assert c.get_object(Bucket="tags", Key="k")["TagCount"] == 2
    tags = c.get_object_tagging(Bucket="tags", Key="k")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "net")]
    c.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert c.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == [{"Key": "only", "Value": "one"}]
    assert c.delete_object_tagging(Bucket="tags", Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []
    assert refused(c.get_object_tagging, Bucket="tags", Key="missing") == NO_SUCH_KEY
    # Bucket tags.
    assert refused(c.get_bucket_tagging, Bucket="tags") == ("NoSuchTagSet", "The TagSet does not exist", 404)
    c.put_bucket_tagging(Bucket="tags", Tagging={"TagSet": [{"Key": "cost", "Value": "center"}]})
    assert c.get_bucket_tagging(Bucket="tags")["TagSet"] == [{"Key": "cost", "Value": "center"}]
    c.delete_bucket_tagging(Bucket="tags")
    assert refused(c.get_bucket_tagging, Bucket="tags")[0] == "NoSuchTagSet"


# ---- accounts and bucket policies ----

@pytest.fixture
def two(make_daemon):
    d = make_daemon(config=TWO_ACCOUNTS).start()
    return d, s3(d), s3(d, key=OTHER_KEY, secret=OTHER_SECRET)


def test_bucket_names_are_global_and_objects_private(two):
    # moto_server neither separates accounts by key nor enforces bucket policies: AWS's
    # behaviour is asserted here, unchecked against moto.
    d, owner, other = two
    owner.create_bucket(Bucket="shared-data")
    owner.put_object(Bucket="shared-data", Key="report.csv", Body=b"a,b\n1,2\n")
    taken = ("BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared "
             "by all users of the system. Please select a different name and try again.", 409)
    assert refused(other.create_bucket, Bucket="shared-data") == taken
    other_eu = s3(d, key=OTHER_KEY, secret=OTHER_SECRET, region="eu-west-1")
    assert refused(other_eu.create_bucket, Bucket="shared-data",
                   CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}) == taken
    assert code_status(other.get_object, Bucket="shared-data", Key="report.csv") == ACCESS_DENIED
    assert code_status(other.list_objects_v2, Bucket="shared-data") == ACCESS_DENIED
    assert code_status(other.put_object, Bucket="shared-data", Key="x", Body=b"x") == ACCESS_DENIED
    assert code_status(other.delete_object, Bucket="shared-data", Key="report.csv") == ACCESS_DENIED
    assert code_status(other.delete_bucket, Bucket="shared-data") == ACCESS_DENIED
    assert refused(other.head_bucket, Bucket="shared-data") == ("403", "Forbidden", 403)
    # A missing object is AccessDenied too without s3:ListBucket (no existence leak).
    assert code_status(other.get_object, Bucket="shared-data", Key="missing") == ACCESS_DENIED
    # Each account lists only its own buckets.
    other.create_bucket(Bucket="others-bucket")
    assert [b["Name"] for b in other.list_buckets()["Buckets"]] == ["others-bucket"]
    assert [b["Name"] for b in owner.list_buckets()["Buckets"]] == ["shared-data"]
    assert code_status(owner.list_objects_v2, Bucket="others-bucket") == ACCESS_DENIED


def test_bucket_policy_allows_and_denies_another_account(two):
    d, owner, other = two
    owner.create_bucket(Bucket="policy-bucket")
    owner.put_object(Bucket="policy-bucket", Key="data/obj", Body=b"for the other account")
    assert refused(owner.get_bucket_policy, Bucket="policy-bucket") == (
        "NoSuchBucketPolicy", "The bucket policy does not exist", 404)
    allow = {"Sid": "OtherReads", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::policy-bucket/*"}
    policy = {"Version": "2012-10-17", "Statement": [allow]}
    assert owner.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(policy))[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert json.loads(owner.get_bucket_policy(Bucket="policy-bucket")["Policy"]) == policy
    assert json.loads(d.aws("s3api", "get-bucket-policy", "--bucket", "policy-bucket")["Policy"]) == policy
    assert other.get_object(Bucket="policy-bucket", Key="data/obj")["Body"].read() == b"for the other account"
    # Only what the policy grants.
    assert code_status(other.put_object, Bucket="policy-bucket", Key="x", Body=b"x") == ACCESS_DENIED
    assert code_status(other.list_objects_v2, Bucket="policy-bucket") == ACCESS_DENIED
    assert code_status(other.get_bucket_policy, Bucket="policy-bucket") == ACCESS_DENIED
    assert code_status(other.put_bucket_policy, Bucket="policy-bucket", Policy=json.dumps(policy)) == ACCESS_DENIED

    # An explicit Deny beats the Allow.
    deny = {"Sid": "ButNotThis", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::policy-bucket/data/*"}
    owner.put_bucket_policy(Bucket="policy-bucket",
                            Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]}))
    assert code_status(other.get_object, Bucket="policy-bucket", Key="data/obj") == ACCESS_DENIED
    owner.put_object(Bucket="policy-bucket", Key="public/obj", Body=b"outside the deny")
    assert other.get_object(Bucket="policy-bucket", Key="public/obj")["Body"].read() == b"outside the deny"
    # A Deny in a bucket policy binds the owner's account too.
    no_delete = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::policy-bucket/*"}]}
    owner.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(no_delete))
    assert code_status(owner.delete_object, Bucket="policy-bucket", Key="data/obj") == ACCESS_DENIED

    assert owner.delete_bucket_policy(Bucket="policy-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 204  # moto: 200
    assert refused(owner.get_bucket_policy, Bucket="policy-bucket")[0] == "NoSuchBucketPolicy"
    assert code_status(other.get_object, Bucket="policy-bucket", Key="public/obj") == ACCESS_DENIED
    owner.delete_object(Bucket="policy-bucket", Key="data/obj")
    # Malformed policies.
    assert code_status(owner.put_bucket_policy, Bucket="policy-bucket", Policy="not json") == ("MalformedPolicy", 400)
    wrong_resource = {"Version": "2012-10-17", "Statement": [{**allow, "Resource": "arn:aws:s3:::another-bucket/*"}]}
    code, msg, status = refused(owner.put_bucket_policy, Bucket="policy-bucket", Policy=json.dumps(wrong_resource))
    assert (code, msg, status) == ("MalformedPolicy", "Policy has invalid resource", 400)


# ---- durability ----

def test_kill9_during_put_burst_loses_nothing_acknowledged(daemon):
    c = s3(daemon, max_pool_connections=16)
    c.create_bucket(Bucket="burst")
    rng = random.Random(15)
    bodies = {f"obj-{i:03d}": rng.randbytes(rng.randint(4 * 1024, 64 * 1024)) for i in range(200)}
    acked: set[str] = set()
    lock = threading.Lock()

    def put(key):
        try:
            c.put_object(Bucket="burst", Key=key, Body=bodies[key])
        except Exception:  # noqa: BLE001 - the daemon dies mid-request
            return
        with lock:
            acked.add(key)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(put, k) for k in bodies]
        wait_until(lambda: len(acked) >= 40, timeout=60)
        daemon.kill9()
        concurrent.futures.wait(futures, timeout=60)
    assert 40 <= len(acked) < len(bodies), "the kill did not land mid-burst"

    daemon.start()
    c = s3(daemon)
    listed = all_keys(c, "burst")
    assert acked <= set(listed), f"acknowledged but lost: {sorted(acked - set(listed))}"
    # Every visible object, acknowledged or not, is whole.
    for key in listed:
        assert c.get_object(Bucket="burst", Key=key)["Body"].read() == bodies[key], key
    # No orphans: one blob per object, nothing left in tmp.
    s3_dir = daemon.data_dir / "s3"

    def files(sub):
        p = s3_dir / sub
        return [f for f in p.rglob("*") if f.is_file()] if p.exists() else []

    wait_until(lambda: len(files("blobs")) == len(listed) and not files("tmp"), timeout=10)
    # And it takes writes again.
    c.put_object(Bucket="burst", Key="after", Body=b"after")
    assert c.get_object(Bucket="burst", Key="after")["Body"].read() == b"after"


class _SlowBody:
    """A file-like body that stalls halfway, for killing the daemon mid-request."""

    def __init__(self, data: bytes, halfway: threading.Event):
        self.data, self.pos, self.halfway = data, 0, halfway

    def __len__(self):
        return len(self.data)

    def read(self, n=-1):
        if self.pos >= len(self.data) // 2 and not self.halfway.is_set():
            self.halfway.set()
            time.sleep(30)  # the daemon is killed meanwhile
        n = 64 * 1024 if n is None or n < 0 else min(n, 64 * 1024)
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def test_kill9_mid_upload_leaves_no_partial_object(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="partial")
    signer = s3(daemon, signature_version="s3v4")
    data = os.urandom(8 * MIB)
    uid = c.create_multipart_upload(Bucket="partial", Key="mp")["UploadId"]
    part1 = os.urandom(5 * MIB)
    e1 = c.upload_part(Bucket="partial", Key="mp", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    halfway = [threading.Event(), threading.Event()]
    urls = [
        signer.generate_presigned_url("put_object", Params={"Bucket": "partial", "Key": "single"}, ExpiresIn=300),
        signer.generate_presigned_url("upload_part", Params={"Bucket": "partial", "Key": "mp", "UploadId": uid,
                                                             "PartNumber": 2}, ExpiresIn=300),
    ]

    def send(i):
        try:
            requests.put(urls[i], data=_SlowBody(data, halfway[i]), headers={"Content-Length": str(len(data))},
                         timeout=60)
        except requests.RequestException:
            pass

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for h in halfway:
        assert h.wait(30)
    time.sleep(0.5)  # let the daemon take in what was sent
    daemon.kill9()
    daemon.start()
    c = s3(daemon)
    assert refused(c.head_object, Bucket="partial", Key="single")[2] == 404
    assert all_keys(c, "partial") == []
    # The acknowledged part survived; the interrupted one is not there.
    parts = c.list_parts(Bucket="partial", Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1)]
    tmp = daemon.data_dir / "s3" / "tmp"
    wait_until(lambda: not tmp.exists() or not any(f.is_file() for f in tmp.rglob("*")), timeout=10)
    c.complete_multipart_upload(Bucket="partial", Key="mp", UploadId=uid,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert c.get_object(Bucket="partial", Key="mp")["Body"].read() == part1


# ---- Lambda code and layers from S3 ----

def _role(d, name="s3-exec", key=KEY, secret=SECRET):
    iam = d.client("iam", key=key, secret=secret)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)
    return arn


def _sha(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


PY_APP = (ROOT / "e2e" / "functions" / "python" / "app.py").read_bytes()


def _wait_state(lam, name, field, want):
    wait_until(lambda: lam.get_function(FunctionName=name)["Configuration"].get(field) == want, timeout=30)


def test_function_and_layer_code_from_s3(daemon):
    c = s3(daemon)
    c.create_bucket(Bucket="code-bucket")
    c.put_bucket_versioning(Bucket="code-bucket", VersioningConfiguration={"Status": "Enabled"})
    z1 = package({"app.py": PY_APP, "VERSION": "1"})
    z2 = package({"app.py": PY_APP, "VERSION": "2"})
    v1 = c.put_object(Bucket="code-bucket", Key="fn.zip", Body=z1)["VersionId"]
    v2 = c.put_object(Bucket="code-bucket", Key="fn.zip", Body=z2)["VersionId"]
    role = _role(daemon)
    lam = daemon.client("lambda")
    out = lam.create_function(FunctionName="from-s3", Runtime="python3.11", Handler="app.handler", Role=role,
                              Code={"S3Bucket": "code-bucket", "S3Key": "fn.zip", "S3ObjectVersion": v1})
    assert (out["CodeSha256"], out["CodeSize"]) == (_sha(z1), len(z1))
    _wait_state(lam, "from-s3", "State", "Active")
    got = lam.get_function(FunctionName="from-s3")
    assert got["Code"]["RepositoryType"] == "S3"
    assert requests.get(got["Code"]["Location"], timeout=10).content == z1
    # Code.Location is a presigned URL: curl downloads it as it is.
    p = subprocess.run(["curl", "-sf", got["Code"]["Location"]], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == z1

    # The latest version when none is named; a named one when it is.
    out = lam.update_function_code(FunctionName="from-s3", S3Bucket="code-bucket", S3Key="fn.zip")
    assert out["CodeSha256"] == _sha(z2)
    _wait_state(lam, "from-s3", "LastUpdateStatus", "Successful")
    out = lam.update_function_code(FunctionName="from-s3", S3Bucket="code-bucket", S3Key="fn.zip", S3ObjectVersion=v1)
    assert out["CodeSha256"] == _sha(z1)
    _wait_state(lam, "from-s3", "LastUpdateStatus", "Successful")
    assert requests.get(lam.get_function(FunctionName="from-s3")["Code"]["Location"], timeout=10).content == z1
    assert v2

    # A missing key or bucket: AWS's error, and nothing stored.
    for code_arg, s3_code in (({"S3Bucket": "code-bucket", "S3Key": "nope.zip"}, "NoSuchKey"),
                              ({"S3Bucket": "no-such-code-bucket", "S3Key": "fn.zip"}, "NoSuchBucket")):
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName="broken", Runtime="python3.11", Handler="app.handler", Role=role,
                                Code=code_arg)
        code, msg, status = error_of(e)
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert msg.startswith(f"Error occurred while GetObject. S3 Error Code: {s3_code}"), msg
    assert msg == ("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                   "S3 Error Message: The specified bucket does not exist")
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["from-s3"]
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="from-s3", S3Bucket="code-bucket", S3Key="nope.zip")
    assert error_of(e)[1].startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey")
    assert lam.get_function(FunctionName="from-s3")["Configuration"]["CodeSha256"] == _sha(z1)

    # Layers.
    layer_zip = package({"python/greeting.py": "def hello():\n    return 'from an s3 layer'\n"})
    c.put_object(Bucket="code-bucket", Key="layer.zip", Body=layer_zip)
    layer = lam.publish_layer_version(LayerName="greeting",
                                      Content={"S3Bucket": "code-bucket", "S3Key": "layer.zip"})
    assert layer["Version"] == 1
    assert (layer["Content"]["CodeSha256"], layer["Content"]["CodeSize"]) == (_sha(layer_zip), len(layer_zip))
    assert requests.get(layer["Content"]["Location"], timeout=10).content == layer_zip
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName="greeting", Content={"S3Bucket": "code-bucket", "S3Key": "nope.zip"})
    code, msg, status = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg.startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey")
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="greeting")["LayerVersions"]] == [1]


def test_code_from_another_accounts_bucket_needs_its_permission(two):
    d, owner, _ = two
    owner.create_bucket(Bucket="owner-code")
    z = package({"app.py": PY_APP})
    owner.put_object(Bucket="owner-code", Key="fn.zip", Body=z)
    role = _role(d, key=OTHER_KEY, secret=OTHER_SECRET)
    lam = d.client("lambda", key=OTHER_KEY, secret=OTHER_SECRET)
    kw = dict(FunctionName="theirs", Runtime="python3.11", Handler="app.handler", Role=role,
              Code={"S3Bucket": "owner-code", "S3Key": "fn.zip"})
    with pytest.raises(ClientError) as e:
        lam.create_function(**kw)
    code, msg, status = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg.startswith("Your access has been denied by S3, please make sure your request credentials have "
                          "permission to GetObject for owner-code/fn.zip. S3 Error Code: AccessDenied."), msg
    assert lam.list_functions()["Functions"] == []
    owner.put_bucket_policy(Bucket="owner-code", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::owner-code/*"}]}))
    assert lam.create_function(**kw)["CodeSha256"] == _sha(z)


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def test_function_and_layer_from_s3_run(execd):
    c = s3(execd)
    c.create_bucket(Bucket="run-code")
    c.put_object(Bucket="run-code", Key="echo.zip", Body=zip_function("python"))
    c.put_object(Bucket="run-code", Key="layer.zip", Body=package({
        "python/greeting.py": "def hello():\n    return 'from an s3 layer'\n"}))
    c.put_object(Bucket="run-code", Key="uses-layer.zip", Body=package({
        "app.py": "import greeting\n\n\ndef handler(event, context):\n    return {'greeting': greeting.hello()}\n"}))
    role = _role(execd)
    lam = execd.client("lambda")
    lam.create_function(FunctionName="echo", Runtime="python3.11", Handler="app.handler", Role=role,
                        Code={"S3Bucket": "run-code", "S3Key": "echo.zip"})
    layer = lam.publish_layer_version(LayerName="greeting", Content={"S3Bucket": "run-code", "S3Key": "layer.zip"})
    lam.create_function(FunctionName="layered", Runtime="python3.11", Handler="app.handler", Role=role,
                        Code={"S3Bucket": "run-code", "S3Key": "uses-layer.zip"}, Layers=[layer["LayerVersionArn"]])
    for name in ("echo", "layered"):
        _wait_state(lam, name, "State", "Active")

    def invoke(name, event):
        out = lam.invoke(FunctionName=name, Payload=json.dumps(event))
        body = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, body
        return body

    assert invoke("echo", {"hello": "from s3"}) == {"hello": "from s3"}
    assert invoke("layered", {}) == {"greeting": "from an s3 layer"}
