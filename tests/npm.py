"""The npm projects under tests/ (the Amplify JS client, AppSync's ESLint rules), each installed once
from its lock file with `npm ci` into its own node_modules."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NPM_TIMEOUT_S = 600  # a cold `npm ci` fetches ~100 packages
MARKER = ".lambdashare-installed"


def installed_node(project: Path, purpose: str) -> str:
    """The `node` executable, once `project`'s node_modules match its package-lock.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"Node.js and npm are not on PATH (`node`, `npm`): {purpose} needs both")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.fail(f"{purpose} needs Node.js >= 18; found {version}")
    marker = project / "node_modules" / MARKER
    wanted = hashlib.sha256((project / "package-lock.json").read_bytes() + (project / "package.json").read_bytes())
    # one installer at a time, should several pytest processes share the checkout
    checkout = hashlib.sha256(bytes(project)).hexdigest()[:16]
    lock_file = Path(tempfile.gettempdir()) / f"lambdashare-npm-{checkout}.lock"
    with open(lock_file, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not (marker.exists() and marker.read_text() == wanted.hexdigest()):
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=project,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
            )
            if result.returncode != 0:
                output = f"{result.stdout}\n{result.stderr}"
                pytest.fail(f"`npm ci` in {project} failed ({result.returncode}):\n{output}")
            marker.write_text(wanted.hexdigest())  # npm ci wipes node_modules, marker included
    return node
