#!/usr/bin/env python3
"""S3 benchmarks: object throughput against moto_server, and the daemon's memory while a
large object streams through it.

  s3_bench.py throughput --target NAME=URL [--target NAME=URL ...] --out-dir DIR [--quick]
  s3_bench.py memory --endpoint URL --daemon-pid PID --out-dir DIR [--gib N]

`throughput` runs the same boto3 workload against every target, one after the other: PUT then
GET of 1 MiB and 64 MiB objects from 8 threads (MiB/s), and PUT/GET/HEAD/DELETE of 1 KiB
objects from 8 threads (ops/s). The first target is the one the ratios are about; the second
its reference. `memory` uploads one object of N GiB as a multipart upload (64 MiB parts, 4 in
flight) and downloads it again, sampling the daemon's resident set from /proc every 100 ms.
`bench/run s3` runs both and writes s3.md and s3.json.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import boto3
import botocore.config

MIB = 1024 * 1024
THREADS = 8
# MinIO's published NVMe benchmark (blog.min.io/nvme_benchmark, MinIO RELEASE.2021-12-29):
# 32 i3en.24xlarge nodes, 100 GbE, EC:4, aggregate PUT 165 GiB/s and GET 325 GiB/s.
MINIO_NODES, MINIO_PUT_GIBS, MINIO_GET_GIBS = 32, 165, 325


def client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(
            max_pool_connections=THREADS * 2,
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
        ),
    )


def timed_pool(fn, items) -> float:
    """Runs fn over items on THREADS threads; returns the wall time in seconds."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(fn, i) for i in items]:
            f.result()
    return time.perf_counter() - start


def large(c, bucket: str, size: int, count: int) -> dict:
    # One random buffer per worker slot: the client spends its time sending, not hashing
    # fresh randomness, and every object still differs from the next in its first bytes.
    base = os.urandom(size)
    bodies = [i.to_bytes(8, "big") + base[8:] for i in range(count)]
    digests = [hashlib.md5(b).hexdigest() for b in bodies]

    def put(i):
        c.put_object(Bucket=bucket, Key=f"large-{size}/{i}", Body=bodies[i])

    def get(i):
        got = c.get_object(Bucket=bucket, Key=f"large-{size}/{i}")["Body"].read()
        if hashlib.md5(got).hexdigest() != digests[i]:
            raise SystemExit(f"s3_bench: object {i} of {size} bytes read back different")

    put_s = timed_pool(put, range(count))
    get_s = timed_pool(get, range(count))
    mib = size * count / MIB
    return {"objects": count, "size": size, "put_mibs": mib / put_s, "get_mibs": mib / get_s}


def small(c, bucket: str, count: int) -> dict:
    body = os.urandom(1024)
    out = {"objects": count}
    for op, fn in (
        ("put", lambda i: c.put_object(Bucket=bucket, Key=f"small/{i}", Body=body)),
        ("get", lambda i: c.get_object(Bucket=bucket, Key=f"small/{i}")["Body"].read()),
        ("head", lambda i: c.head_object(Bucket=bucket, Key=f"small/{i}")),
        ("delete", lambda i: c.delete_object(Bucket=bucket, Key=f"small/{i}")),
    ):
        out[f"{op}_ops"] = count / timed_pool(fn, range(count))
    return out


def throughput(args) -> int:
    counts = (
        {"1mib": 64, "64mib": 4, "small": 500}
        if args.quick
        else {"1mib": 256, "64mib": 16, "small": 2000}
    )
    results = {}
    for spec in args.target:
        name, endpoint = spec.split("=", 1)
        c = client(endpoint)
        bucket = "bench-s3"
        c.create_bucket(Bucket=bucket)
        c.put_object(Bucket=bucket, Key="warm", Body=b"x")
        print(f"== s3 throughput: {name}", flush=True)
        results[name] = {
            "1mib": large(c, bucket, MIB, counts["1mib"]),
            "64mib": large(c, bucket, 64 * MIB, counts["64mib"]),
            "small": small(c, bucket, counts["small"]),
        }
    out = Path(args.out_dir)
    (out / "s3-throughput.json").write_text(json.dumps(results, indent=2))
    return 0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"s3_bench: no VmRSS for pid {pid}")


class Sampler:
    """Samples a process's RSS every 100 ms until stopped."""

    def __init__(self, pid: int):
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_kib(self.pid))
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def memory(args) -> int:
    c = client(args.endpoint)
    bucket, key, part = "bench-s3-stream", "big.bin", 64 * MIB
    parts = int(args.gib * 1024 * MIB // part)
    c.create_bucket(Bucket=bucket)
    block = os.urandom(part)
    before = rss_kib(args.daemon_pid)
    print(f"== s3 memory: {args.gib} GiB through one multipart upload", flush=True)
    upload = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def put(n):
        body = n.to_bytes(8, "big") + block[8:]
        etag = c.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=body
        )["ETag"]
        return {"PartNumber": n, "ETag": etag}

    with Sampler(args.daemon_pid) as up:
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            done = list(pool.map(put, range(1, parts + 1)))
        c.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
        )
        up_s = time.perf_counter() - start
    with Sampler(args.daemon_pid) as down:
        start = time.perf_counter()
        body = c.get_object(Bucket=bucket, Key=key)["Body"]
        size = 0
        for chunk in body.iter_chunks(chunk_size=MIB):
            size += len(chunk)
        down_s = time.perf_counter() - start
    if size != parts * part:
        raise SystemExit(f"s3_bench: read back {size} bytes of {parts * part}")
    c.delete_object(Bucket=bucket, Key=key)
    result = {
        "gib": parts * part / (1024 * MIB),
        "rss_before_mib": before / 1024,
        "rss_peak_upload_mib": max(up.samples) / 1024,
        "rss_peak_download_mib": max(down.samples) / 1024,
        "rss_after_mib": rss_kib(args.daemon_pid) / 1024,
        "upload_mibs": parts * part / MIB / up_s,
        "download_mibs": parts * part / MIB / down_s,
    }
    (Path(args.out_dir) / "s3-memory.json").write_text(json.dumps(result, indent=2))
    return 0


def report(args) -> int:
    out = Path(args.out_dir)
    tp = json.loads((out / "s3-throughput.json").read_text())
    mem_path = out / "s3-memory.json"
    mem = json.loads(mem_path.read_text()) if mem_path.exists() else None
    names = list(tp)
    ours, ref = names[0], names[1] if len(names) > 1 else None
    rows = [
        ("PUT 1 MiB objects, MiB/s", "1mib", "put_mibs"),
        ("GET 1 MiB objects, MiB/s", "1mib", "get_mibs"),
        ("PUT 64 MiB objects, MiB/s", "64mib", "put_mibs"),
        ("GET 64 MiB objects, MiB/s", "64mib", "get_mibs"),
        ("PUT 1 KiB objects, ops/s", "small", "put_ops"),
        ("GET 1 KiB objects, ops/s", "small", "get_ops"),
        ("HEAD 1 KiB objects, ops/s", "small", "head_ops"),
        ("DELETE 1 KiB objects, ops/s", "small", "delete_ops"),
    ]
    lines = [
        "## S3",
        "",
        f"boto3 from {THREADS} threads, path-style, default checksums (CRC32 trailer on PUT);",
        f"{ours} acknowledges a PUT only after the bytes and the metadata are fsync'd.",
        "",
    ]
    head = f"| workload | {ours} |" + (f" {ref} | {ours} / {ref} |" if ref else "")
    lines += [head, "|---|---:|" + ("---:|---:|" if ref else "")]
    for label, group, field in rows:
        a = tp[ours][group][field]
        row = f"| {label} | {a:,.1f} |"
        if ref:
            b = tp[ref][group][field]
            row += f" {b:,.1f} | {a / b:.2f}× |"
        lines.append(row)
    per_node_put = MINIO_PUT_GIBS * 1024 / MINIO_NODES
    per_node_get = MINIO_GET_GIBS * 1024 / MINIO_NODES
    lines += [
        "",
        f"Context, not a ratio: MinIO's published NVMe figures are {MINIO_PUT_GIBS} GiB/s PUT and "
        f"{MINIO_GET_GIBS} GiB/s GET across {MINIO_NODES} bare-metal nodes with 100 GbE, about "
        f"{per_node_put:,.0f} and {per_node_get:,.0f} MiB/s per node, with many clients; this "
        "run is one loopback client on the same CPUs as the server.",
    ]
    if mem:
        lines += [
            "",
            f"Memory while {mem['gib']:.0f} GiB streams through (multipart upload of 64 MiB parts, "
            "4 in flight, then one GET):",
            "",
            "| daemon RSS | MiB |",
            "|---|---:|",
            f"| before | {mem['rss_before_mib']:.1f} |",
            f"| peak during upload | {mem['rss_peak_upload_mib']:.1f} |",
            f"| peak during download | {mem['rss_peak_download_mib']:.1f} |",
            f"| after | {mem['rss_after_mib']:.1f} |",
            "",
            f"Upload {mem['upload_mibs']:,.0f} MiB/s, download {mem['download_mibs']:,.0f} MiB/s.",
        ]
    (out / "s3.md").write_text("\n".join(lines) + "\n")
    (out / "s3.json").write_text(json.dumps({"throughput": tp, "memory": mem}, indent=2))
    print("\n".join(lines))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--target", action="append", required=True, help="NAME=URL")
    t.add_argument("--out-dir", required=True)
    t.add_argument("--quick", action="store_true")
    m = sub.add_parser("memory")
    m.add_argument("--endpoint", required=True)
    m.add_argument("--daemon-pid", type=int, required=True)
    m.add_argument("--out-dir", required=True)
    m.add_argument("--gib", type=float, default=5)
    r = sub.add_parser("report")
    r.add_argument("--out-dir", required=True)
    args = p.parse_args()
    return {"throughput": throughput, "memory": memory, "report": report}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
