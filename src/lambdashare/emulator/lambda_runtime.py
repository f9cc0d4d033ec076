"""Runs our Lambda handlers as Lambda does: one event at a time per instance, JSON in and out.

The resolver runs in this process on one dedicated thread (Powertools keeps the current event on
the class, so it must never run concurrently in one process); event-driven functions run in a
pool of worker processes, each taking one event at a time. Both are warmed before the emulator
reports ready: every worker is started and has imported its handler module (Lambda's init phase), so
no user's request pays a cold start. Not responsible for queueing or retries: `dispatcher` does that
for asynchronous invocations.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from typing import Any, Protocol

logger = logging.getLogger(__name__)

REGION_ACCOUNT = "us-east-1:000000000000"


class LambdaError(Exception):
    """The handler raised: Lambda reports `errorType` (the exception's class name) and `errorMessage`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class Function(Protocol):
    """What invokes a function: an in-process instance or a pool of worker processes."""

    name: str

    async def invoke(self, event: Any) -> Any: ...


@dataclass
class LambdaContext:
    """The `context` object Lambda passes to a Python handler."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_s: float = 30
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION_ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{os.getpid()}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


#: How long warming may take: a spawned worker importing boto3 and Powertools on a busy machine.
WARM_TIMEOUT_S = 120


def _load(handler_path: str) -> Callable[[Any, Any], Any]:
    module, _, name = handler_path.rpartition(".")
    handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module), name)
    return handler


def warm_handler(handler_path: str) -> bool:
    """Lambda's init phase: import the handler's module (and its heavy imports) before any event.

    A handler that cannot be imported is not an error here: each invocation reports it, as Lambda does."""
    try:
        _load(handler_path)
    except Exception as exc:
        logger.warning("cannot warm %s: %s", handler_path, exc)
        return False
    return True


def run_handler(function_name: str, handler_path: str, event: Any, timeout_s: float) -> Any:
    """Invoke once, as the Lambda runtime does: JSON event in, JSON result out, errors by class name."""
    try:
        handler = _load(handler_path)
    except (ImportError, AttributeError) as exc:
        raise LambdaError("Runtime.ImportModuleError", f"Unable to import module '{handler_path}': {exc}") from None
    context = LambdaContext(function_name=function_name, timeout_s=timeout_s)
    try:
        result = handler(json.loads(json.dumps(event)), context)
        return json.loads(json.dumps(result))
    except Exception as exc:
        logger.debug("%s failed", function_name, exc_info=True)
        raise LambdaError(type(exc).__name__, str(exc)) from None


class InProcessFunction:
    """A function whose single instance lives in this process (the AppSync resolver)."""

    def __init__(self, name: str, handler_path: str, *, timeout_s: float = 30) -> None:
        self.name = name
        self._handler_path = handler_path
        self._timeout_s = timeout_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{name}")

    async def invoke(self, event: Any) -> Any:
        """Run the handler; past AppSync's 30 s limit the caller gets ExecutionTimeout.

        A thread cannot be killed: a late handler finishes on its thread and its result is dropped,
        and the next event waits for it (one event at a time, as in one Lambda instance).
        """
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._thread, run_handler, self.name, self._handler_path, event, self._timeout_s)
        try:
            return await asyncio.wait_for(call, self._timeout_s)
        except TimeoutError:
            logger.error("%s did not answer within %.0f s", self.name, self._timeout_s)
            raise LambdaError("ExecutionTimeout", "Execution timed out.") from None

    async def warm(self) -> None:
        """Import the handler on the thread that will run it."""
        await asyncio.get_running_loop().run_in_executor(self._thread, warm_handler, self._handler_path)

    def close(self, *, finish_queued: bool = False) -> None:
        """Stop taking events; those already handed over are cancelled, or with `finish_queued` (a reload)
        still run."""
        self._thread.shutdown(wait=False, cancel_futures=not finish_queued)


def _die_with_parent(function_name: str) -> None:
    """Linux: a worker gets SIGKILL when the emulator dies, so no orphan keeps working; and it is named
    for its function (the process name `ps` and /proc/<pid>/comm show, 15 bytes at most)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        libc.prctl(15, function_name.encode()[:15])  # PR_SET_NAME


#: The barrier every worker of this process's pool meets at while warming (set by `_init_worker`).
_warm_barrier: Barrier | None = None


def _init_worker(function_name: str, environ: Mapping[str, str], barrier: Barrier) -> None:
    global _warm_barrier
    _die_with_parent(function_name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the emulator, which shuts us down
    os.environ.update(environ)
    _warm_barrier = barrier


def _warm_worker(handler_path: str) -> tuple[int, bool]:
    """Import the handler, then wait for every other worker of the pool to have done so: a worker busy
    here takes no other warm-up task, so one task per worker reaches every worker. Returns the pid."""
    imported = warm_handler(handler_path)
    assert _warm_barrier is not None
    _warm_barrier.wait(WARM_TIMEOUT_S)
    return os.getpid(), imported


def _run_in_worker(function_name: str, handler_path: str, event: Any, timeout_s: float) -> tuple[str, Any]:
    try:
        return "ok", run_handler(function_name, handler_path, event, timeout_s)
    except LambdaError as exc:
        return "error", (exc.error_type, exc.message)


class WorkerPoolFunction:
    """A function run by a pool of worker processes (Lambda's concurrent instances)."""

    def __init__(
        self,
        name: str,
        handler_path: str,
        *,
        environ: Mapping[str, str],
        workers: int,
        timeout_s: float = 900,
    ) -> None:
        self.name = name
        self._handler_path = handler_path
        self._environ = dict(environ)
        self._workers = workers
        self._timeout_s = timeout_s
        self._warming: asyncio.Future[list[int]] | None = None
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.name, self._environ, context.Barrier(self._workers)),
        )

    def _start_warming(self) -> asyncio.Future[list[tuple[int, bool]]]:
        """Submit one warm-up task per worker now (so anything submitted after queues behind them).

        ProcessPoolExecutor starts a worker per submitted task while none is idle, and each warm-up
        task holds its worker until all have arrived, so every worker is started and warmed."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        return asyncio.gather(
            *(loop.run_in_executor(pool, _warm_worker, self._handler_path) for _ in range(self._workers))
        )

    def warm(self) -> asyncio.Future[list[int]]:
        """Start every worker of the pool and have each import the handler; the workers' pids.

        The warm-up tasks are submitted before this returns: an invocation submitted after runs on a
        warm worker."""
        return asyncio.ensure_future(self._warmed(self._start_warming()))

    async def _warmed(self, warming: asyncio.Future[list[tuple[int, bool]]]) -> list[int]:
        try:
            warmed = await warming
        except (BrokenProcessPool, threading.BrokenBarrierError) as exc:
            logger.error("%s workers could not be warmed: %r", self.name, exc)
            return []
        return [pid for pid, _ in warmed]

    async def invoke(self, event: Any) -> Any:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            status, value = await loop.run_in_executor(
                pool, _run_in_worker, self.name, self._handler_path, event, self._timeout_s
            )
        except BrokenProcessPool:
            if self._pool is pool:
                logger.error("a %s worker died; starting a new pool", self.name)
                self._pool = self._new_pool()
                self._warming = self.warm()  # the retry queues behind the warm-up
            raise LambdaError("Runtime.ExitError", "The worker process exited before completing the request.") from None
        if status == "error":
            raise LambdaError(*value)
        return value

    def close(self, *, finish_queued: bool = False) -> None:
        """As `InProcessFunction.close`; the workers exit once their events are done."""
        if self._warming is not None:
            self._warming.cancel()
        self._pool.shutdown(wait=False, cancel_futures=not finish_queued)
