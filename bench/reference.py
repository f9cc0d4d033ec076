"""The Node reference emulator (bench/reference_emulator.mjs, Amplify's AppSync simulator) for the benchmarks.

Installs bench/package.json's pinned packages from package-lock.json on first use (`npm ci`), starts the
reference on a free port and stops it afterwards. Not responsible for what is measured.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MARKER = BENCH / "node_modules" / ".lambdashare-installed"
READY_TIMEOUT_S = 60


def _installed() -> str:
    """The `node` executable, once node_modules matches package-lock.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("the reference needs Node.js (>= 18) and npm on PATH")
    wanted = hashlib.sha256((BENCH / "package-lock.json").read_bytes()).hexdigest()
    if not (MARKER.exists() and MARKER.read_text() == wanted):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=BENCH, check=True)
        MARKER.write_text(wanted)
    return node


@contextmanager
def reference(api_key: str) -> Iterator[str]:
    """The reference, listening; its base URL (GraphQL at /graphql, real-time at /graphql/realtime)."""
    node = _installed()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [node, "--no-warnings", str(BENCH / "reference_emulator.mjs"), str(port), api_key],
        cwd=BENCH,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"the reference did not start: {line!r}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
