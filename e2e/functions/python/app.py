"""The end-to-end tests' Python function (python3.x, handler ``app.handler``).

Echoes the event, or does what one of the special events of ``e2e/functions/README.md``
asks; answers have the same shapes as the Rust and Node functions'.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request

MARKER = "/tmp/echo-marker"
FILL = "/tmp/echo-fill"
# Bounds the fork bomb when nothing else does, so it always ends.
MAX_CHILDREN = 4096
MIB = 1 << 20


class EchoError(Exception):
    """What ``{"error": message}`` raises."""


def _attempt(action):
    try:
        action()
        return {"ok": True, "error": None}
    except OSError as e:
        return {"ok": False, "error": str(e)}


def _read(path):
    with open(path, "rb") as f:
        f.read()


def _write(path):
    with open(path, "wb") as f:
        f.write(b"x")


def _connect(addr):
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=3):
        pass


def _fetch(url):
    with urllib.request.urlopen(url, timeout=3) as response:
        response.read()


def _resolve(name):
    try:
        return {"address": socket.gethostbyname(name), "error": None}
    except OSError as e:
        return {"address": None, "error": str(e)}


def _write_tmp(mb):
    block = b"\x07" * MIB
    written = 0
    error = None
    try:
        with open(FILL, "wb") as f:
            while written < mb:
                f.write(block)
                f.flush()
                written += 1
            # Delayed allocation can report a full disk only here.
            os.fsync(f.fileno())
    except OSError as e:
        error = str(e)
    finally:
        # The next invocation starts with the same free space.
        try:
            os.remove(FILL)
        except OSError:
            pass
    return {"written_mb": written, "error": error}


def _fork_bomb():
    children = []
    error = None
    while len(children) < MAX_CHILDREN:
        try:
            children.append(subprocess.Popen(["/bin/sleep", "300"]))
        except OSError as e:
            error = str(e)
            break
    for c in children:
        c.kill()
        c.wait()
    return {"spawned": len(children), "error": error}


def _tmp_marker():
    existed = os.path.exists(MARKER)
    if not existed:
        with open(MARKER, "w") as f:
            f.write("x")
    return {"existed": existed, "pid": os.getpid()}


def handler(event, context):
    if not isinstance(event, dict):
        return event
    field = event.get
    if field("sleep") is not None:
        time.sleep(max(float(field("sleep")), 0.0))
        return {"slept": field("sleep")}
    if field("alloc_mb") is not None:
        # Non-zero contents, so every page is really touched.
        block = bytearray(b"\x01" * (int(field("alloc_mb")) * MIB))
        del block
        return {"allocated_mb": field("alloc_mb")}
    if field("write_tmp_mb") is not None:
        return _write_tmp(int(field("write_tmp_mb")))
    if field("fork_bomb") is True:
        return _fork_bomb()
    if field("read") is not None:
        return _attempt(lambda: _read(field("read")))
    if field("write") is not None:
        return _attempt(lambda: _write(field("write")))
    if field("connect") is not None:
        return _attempt(lambda: _connect(field("connect")))
    if field("fetch") is not None:
        return _attempt(lambda: _fetch(field("fetch")))
    if field("resolve") is not None:
        return _resolve(field("resolve"))
    if field("tmp_marker") is True:
        return _tmp_marker()
    if field("env") is True:
        return dict(os.environ)
    if field("context") is True:
        remaining = context.get_remaining_time_in_millis()
        return {
            "request_id": context.aws_request_id,
            "function_arn": context.invoked_function_arn,
            "deadline_ms": int(time.time() * 1000) + remaining,
        }
    if field("log") is not None:
        print(field("log"))
        print(field("log"), file=sys.stderr)
        return {"logged": field("log")}
    if field("error") is not None:
        raise EchoError(field("error"))
    if field("exit") is not None:
        os._exit(int(field("exit")))
    return event

