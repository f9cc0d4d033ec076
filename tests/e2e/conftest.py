"""The emulator as a subprocess on a free port, and clients for it (gql, httpx)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Emulator:
    """A running `lambdashare serve`, restartable on the same data dir and port."""

    data_dir: Path
    port: int
    api_key: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, **env: str) -> None:
        self.log_path = self.data_dir.parent / f"emulator-{self.port}-{time.monotonic_ns()}.log"
        environ = {**os.environ, "LAMBDASHARE_KA_INTERVAL": "2", **env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lambdashare.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--api-key",
                    self.api_key,
                    *self.serve_args(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited early:\n{self.logs()}")
            if self.healthy():
                return
            time.sleep(0.1)
        raise RuntimeError(f"emulator did not become healthy:\n{self.logs()}")

    def serve_args(self) -> list[str]:
        """Options for `lambdashare serve` beyond port, data dir and key."""
        return []

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Emulator]:
    emulator = Emulator(data_dir=tmp_path_factory.mktemp(name) / "data", port=free_port(), api_key=f"da2-test{name}key")
    emulator.start(**env)
    try:
        yield emulator
    finally:
        emulator.stop()
        if os.environ.get("LAMBDASHARE_E2E_SHOW_LOGS"):
            print(emulator.logs(), file=sys.stderr)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator shared by the session's tests (they never assume an empty table)."""
    yield from _start(tmp_path_factory, "shared")


def start_with_template(tmp_path_factory: pytest.TempPathFactory, name: str, template: str) -> Iterator[Emulator]:
    """An emulator wired by `template` (a variant of template.yaml's text) instead of template.yaml."""
    path = tmp_path_factory.mktemp(f"{name}-template") / "template.yaml"
    path.write_text(template, encoding="utf-8")
    yield from _start(tmp_path_factory, name, LAMBDASHARE_TEMPLATE=str(path))


@pytest.fixture
def private_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator of the test's own, for tests that restart or kill it."""
    yield from _start(tmp_path_factory, "private")
