"""Warming a worker pool: every worker is started and has imported its handler before any event."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from lambdashare.emulator.lambda_runtime import InProcessFunction, LambdaError, WorkerPoolFunction

HANDLER = "tests.handlers.init_marker.handler"
WORKERS = 3


def _imported(sink: Path) -> set[int]:
    return {int(marker.name.removeprefix("imported-")) for marker in sink.glob("imported-*")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def pool(tmp_path: Path):
    function = WorkerPoolFunction(
        "Marker", HANDLER, environ={"LAMBDASHARE_TEST_SINK": str(tmp_path)}, workers=WORKERS, timeout_s=60
    )
    yield function
    function.close()


def test_warm_starts_every_worker_with_its_handler_imported(pool: WorkerPoolFunction, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], set[int]]:
        # WHEN the pool is warmed, before any event
        warmed = await pool.warm()
        # THEN as many events at once run on those very workers
        answers = await asyncio.gather(*(pool.invoke({}) for _ in range(WORKERS)))
        return warmed, {answer["pid"] for answer in answers}

    warmed, answered_by = asyncio.run(scenario())
    # THEN every worker is a distinct live process that imported the handler while warming
    assert len(set(warmed)) == WORKERS
    assert all(_alive(pid) for pid in warmed)
    assert _imported(tmp_path) == set(warmed)
    assert answered_by <= set(warmed)


def test_a_pool_replaced_after_a_worker_died_is_warmed(pool: WorkerPoolFunction, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], dict[str, int]]:
        first = await pool.warm()
        # GIVEN the workers killed, which breaks the pool
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(LambdaError) as failed:
            await pool.invoke({})
        assert failed.value.error_type == "Runtime.ExitError"
        # WHEN the next event comes
        answer = await pool.invoke({})
        return first, answer

    first, answer = asyncio.run(scenario())
    # THEN the new pool's workers were all started and had imported the handler before it ran
    replacements = _imported(tmp_path) - set(first)
    assert len(replacements) == WORKERS
    assert answer["pid"] in replacements


def test_the_in_process_function_imports_its_handler_when_warmed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAMBDASHARE_TEST_SINK", str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "tests.handlers.init_marker", raising=False)
    function = InProcessFunction("Marker", HANDLER)
    try:
        asyncio.run(function.warm())
    finally:
        function.close()
    assert _imported(tmp_path) == {os.getpid()}
