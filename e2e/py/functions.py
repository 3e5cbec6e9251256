"""The real test functions of ``e2e/functions`` as deployment packages.

``zip_function(kind)`` returns the zip bytes for ``CreateFunction``'s ``ZipFile``;
``FUNCTIONS[kind]`` is the ``(runtime, handler)`` to create it with. The kinds and the
special events every function understands are in ``e2e/functions/README.md``. The Rust
function is the ``echo-rs`` workspace package: the newest of ``target/release/echo-rs``
and ``target/debug/echo-rs`` is used, and ``cargo build -p echo-rs`` runs when neither
exists or the newest is older than its sources (``VPCLAMBDA_ECHO_RS`` may name the binary
instead).
"""

import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "e2e" / "functions"

FUNCTIONS = {
    "rust": ("provided.al2023", "bootstrap"),
    "rust-go": ("go1.x", "echo"),
    "python": ("python3.11", "app.handler"),
    "node": ("nodejs20.x", "index.handler"),
    "node-callback": ("nodejs20.x", "index.callbackHandler"),
    "node-esm": ("nodejs20.x", "esm.handler"),
    "shell": ("provided.al2023", "bootstrap"),
}

_EXECUTABLE = 0o100755
_REGULAR = 0o100644


def echo_rs_binary() -> Path:
    """The built ``echo-rs`` executable, building it (debug) when missing or stale."""
    named = os.environ.get("VPCLAMBDA_ECHO_RS")
    if named:
        return Path(named)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates = [target / p / "echo-rs" for p in ("release", "debug")]
    built = [p for p in candidates if p.is_file()]
    src = FUNCTIONS_DIR / "echo-rs"
    newest_source = max(p.stat().st_mtime for p in (src / "src" / "main.rs", src / "Cargo.toml"))
    newest = max(built, key=lambda p: p.stat().st_mtime, default=None)
    if newest is None or newest.stat().st_mtime < newest_source:
        subprocess.run(["cargo", "build", "-q", "-p", "echo-rs"], cwd=ROOT, check=True)
        newest = candidates[1]
    return newest


def _stripped(binary: Path) -> bytes:
    """The binary without its debug info (a debug build's is most of its size), when
    binutils' ``strip`` is there; as it is otherwise."""
    strip = shutil.which("strip")
    if strip is None:
        return binary.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stripped"
        subprocess.run([strip, "-o", str(out), str(binary)], check=True)
        return out.read_bytes()


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _sources(subdir: str, names: list[str]) -> list[tuple[str, bytes, int]]:
    out = []
    for name in names:
        path = FUNCTIONS_DIR / subdir / name
        mode = _EXECUTABLE if os.access(path, os.X_OK) else _REGULAR
        out.append((name, path.read_bytes(), mode))
    return out


def zip_function(kind: str) -> bytes:
    """The deployment package of one kind of ``FUNCTIONS``."""
    if kind not in FUNCTIONS:
        raise ValueError(f"unknown function kind {kind!r}; one of {sorted(FUNCTIONS)}")
    if kind in ("rust", "rust-go"):
        _, handler = FUNCTIONS[kind]
        return _zip([(handler, _stripped(echo_rs_binary()), _EXECUTABLE)])
    if kind == "python":
        return _zip(_sources("python", ["app.py"]))
    if kind.startswith("node"):
        return _zip(_sources("node", ["index.js", "esm.mjs"]))
    return _zip(_sources("shell", ["bootstrap"]))
