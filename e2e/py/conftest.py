"""Harness for end-to-end tests: start the real daemon, talk to it with real AWS clients.

Every test gets a fresh daemon on a free loopback port with its own data dir (`daemon`
fixture). Tests that need root and namespaces use the `privileged` fixture: they skip with a
message when not root, and refuse to run in the host's network namespace (./scripts/test runs
the whole suite inside a private one, so nothing a test creates can leak to the host).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import botocore.config
import pytest

import wire_check

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VPCLAMBDA_BIN", ROOT / "target" / "debug" / "vpclambda"))
REGION = "us-east-1"
KEY, SECRET = "test", "test"


def in_private_netns() -> bool:
    """Whether this process runs in a network namespace of its own rather than the host's.

    ./scripts/test says so explicitly; otherwise compare with pid 1's namespace, which some
    hosts do not let even root read (then assume the host's, and skip)."""
    if os.environ.get("VPCLAMBDA_PRIVATE_NETNS") == "1":
        return True
    try:
        return os.readlink("/proc/self/ns/net") != os.readlink("/proc/1/ns/net")
    except OSError:
        return False


class Daemon:
    """One `vpclambda serve` process; stopped (SIGTERM, then SIGKILL) at teardown."""

    def __init__(self, data_dir: Path, *args: str, config: str | None = None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""
        self.banner: list[str] = []

    def start(self, listen: str = "127.0.0.1:0") -> "Daemon":
        cmd = [str(BIN), "serve", "--listen", listen, "--data-dir", str(self.data_dir), *self.args]
        if self.config is not None:
            cfg = self.data_dir.parent / f"{self.data_dir.name}.toml"
            cfg.write_text(self.config)
            cmd += ["--config", str(cfg)]
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.monotonic() + 60
        self.banner = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"daemon exited with {self.proc.wait()}: {self.read_log()}")
            self.banner.append(line.rstrip("\n"))
            if line.startswith("vpclambda listening on "):
                self.endpoint = line.split()[-1]
                break
        # Drain the rest of the banner so the daemon never blocks on a full pipe.
        for _ in range(8):
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if "sts get-caller-identity" in line:
                break
        return self

    def read_log(self) -> str:
        p = self.data_dir.parent / f"{self.data_dir.name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return rc

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> "Daemon":
        self.stop()
        return self.start()

    def client(self, service: str, region: str = REGION, key: str = KEY, secret: str = SECRET, **kw):
        """A boto3 client of the daemon; for JSON protocols every successful response is
        checked against botocore's output shape (`wire_check`)."""
        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=botocore.config.Config(retries={"max_attempts": 1}, **kw),
        )
        if client.meta.service_model.protocol in ("rest-json", "json"):
            wire_check.checked(client)
        return client

    def aws_env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=KEY,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_DEFAULT_REGION=REGION,
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        env.update(extra)
        return env

    def aws(self, *args: str, check: bool = True, env: dict | None = None, use_flag: bool = True):
        """Runs the real `aws` CLI against the daemon; returns parsed JSON output (or the
        CompletedProcess when check=False)."""
        cmd = ["aws", *(["--endpoint-url", self.endpoint] if use_flag else []), "--output", "json", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env or self.aws_env(), timeout=120)
        if not check:
            return p
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    d.stop()


@pytest.fixture
def make_daemon(tmp_path):
    """Factory for tests that need their own flags, config, or several daemons."""
    made: list[Daemon] = []

    def make(*args: str, config: str | None = None, name: str = "data") -> Daemon:
        d = Daemon(tmp_path / name, *args, config=config)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


@pytest.fixture
def privileged():
    """For tests that create kernel objects: root, inside a private network namespace."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, nftables, cgroups); CI runs as root")
    if not in_private_netns():
        pytest.skip("needs a private network namespace: run through ./scripts/test")
