"""No user pays a cold start: when `serve` answers /healthz, every worker process of every function is
already running and has imported its handler with the handler's heavy imports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Emulator, free_port

HASH_WORKERS = 3


def _children(pid: int) -> list[int]:
    return [
        int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and _parent(int(entry.name)) == pid
    ]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _name(pid: int) -> str:
    """The process name: a worker is named for its function (15 bytes at most)."""
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _has_loaded(pid: int, library: str) -> bool:
    return library in Path(f"/proc/{pid}/maps").read_text()


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(data_dir=tmp_path / "data", port=free_port(), api_key="da2-testwarmstartkey")
    emulator.start(LAMBDASHARE_HASH_WORKERS=str(HASH_WORKERS))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads worker processes from /proc")
def test_workers_are_running_with_their_handlers_imported_when_serve_is_ready(fresh_emulator: Emulator) -> None:
    # GIVEN an emulator that has just answered /healthz, and no request yet
    assert fresh_emulator.process is not None
    # WHEN we look at its worker processes
    workers = [pid for pid in _children(fresh_emulator.process.pid) if _is_worker(pid)]
    # THEN the hasher's pool is full, and the analytics consumer has its workers too
    names = [_name(pid) for pid in workers]
    assert names.count("HasherFunction") == HASH_WORKERS, (names, fresh_emulator.logs())
    assert names.count("AnalyticsFuncti") >= 1, names
    # AND each has imported its handler and the backends it builds its ports from (sqlite3's C module)
    assert all(_has_loaded(pid, "_sqlite3") for pid in workers)
