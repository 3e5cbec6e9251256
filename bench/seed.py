#!/usr/bin/env python3
"""Seeds the servers a benchmark compares with the same data, through boto3 as a user would:
an execution role, N functions (bench-fn-000 …) with a tiny provided-runtime zip, and one VPC
with four subnets. Subnets a server starts with (moto's default VPC) are deleted, so
DescribeSubnets returns the same four everywhere.

Seeding never fails the benchmark: whatever a server does not implement yet is recorded under
"problems" and the suite then reports the affected operations as not available.

    bench/seed.py --target vpclambda=http://127.0.0.1:4566 --target moto=http://127.0.0.1:5000 \
                  --functions 100 --out seed.json
"""

import argparse
import io
import json
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})
ROLE = "bench-exec"
SUBNETS = 4


def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        z.writestr(info, "#!/bin/sh\necho hello\n")
    return buf.getvalue()


def client(endpoint: str, service: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=8),
    )


def short(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


def seed(endpoint: str, functions: int) -> dict:
    out = {"role": "", "function": "bench-fn-000", "functions": 0, "subnets": 0, "problems": []}
    try:
        account = client(endpoint, "sts").get_caller_identity()["Account"]
        out["role"] = f"arn:aws:iam::{account}:role/{ROLE}"
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        out["problems"].append(f"sts get-caller-identity: {short(e)}")
    try:
        out["role"] = client(endpoint, "iam").create_role(
            RoleName=ROLE, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    except Exception as e:  # noqa: BLE001
        out["problems"].append(f"iam create-role: {short(e)}")

    lam = client(endpoint, "lambda")
    code = tiny_zip()

    def create(i: int):
        try:
            lam.create_function(FunctionName=f"bench-fn-{i:03d}", Runtime="provided.al2023",
                                Role=out["role"], Handler="bootstrap", Code={"ZipFile": code})
            return None
        except Exception as e:  # noqa: BLE001
            return short(e)

    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = [e for e in pool.map(create, range(functions)) if e]
    out["functions"] = functions - len(errors)
    if errors:
        out["problems"].append(f"lambda create-function failed {len(errors)} times: {errors[0]}")

    ec2 = client(endpoint, "ec2")
    try:
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
        for i in range(SUBNETS):
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i + 1}.0/24", AvailabilityZone=zones[i % 3])
        for s in ec2.describe_subnets()["Subnets"]:
            if s["VpcId"] != vpc:
                ec2.delete_subnet(SubnetId=s["SubnetId"])
        out["subnets"] = len(ec2.describe_subnets()["Subnets"])
    except Exception as e:  # noqa: BLE001
        out["problems"].append(f"ec2: {short(e)}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", action="append", required=True, help="NAME=ENDPOINT")
    p.add_argument("--functions", type=int, default=100)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    result = {}
    for t in args.target:
        name, endpoint = t.split("=", 1)
        result[name] = seed(endpoint, args.functions)
        print(f"seeded {name}: {result[name]['functions']} functions, {result[name]['subnets']} subnets"
              + "".join(f"\n  problem: {p}" for p in result[name]["problems"]), file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
