"""Asynchronous invocations (S3 notifications, schedules) delivered at least once, with Lambda's retries.

Every event is in the durable queue before the request that caused it is acknowledged; it leaves
the queue when its handler returns, or is kept as a dead letter after the last attempt. Pending
events are delivered again after a restart. An S3 notification is staged before its object is
published and released after (see the event queue), so a crash between the two cannot lose it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from anyio import from_thread
from starlette.concurrency import run_in_threadpool

from lambdashare.adapters.local.event_queue import Invocation, SqliteEventQueue
from lambdashare.emulator.lambda_runtime import Function, LambdaError

logger = logging.getLogger(__name__)

#: Lambda tries an asynchronous event three times in all; we wait less between tries than AWS.
MAX_ATTEMPTS = 3
RETRY_DELAYS_S = (1.0, 2.0)


class Dispatcher:
    def __init__(self, queue: SqliteEventQueue, functions: Mapping[str, Function]) -> None:
        self._queue = queue
        self._functions = functions
        self._tasks: set[asyncio.Task[None]] = set()

    async def resume(self) -> int:
        """Deliver what a previous run left undelivered."""
        pending = await run_in_threadpool(self._queue.pending)
        for invocation in pending:
            self._start(invocation)
        if pending:
            logger.info("resuming %d queued invocations", len(pending))
        return len(pending)

    async def invoke_async(self, function: str, event: dict[str, Any]) -> None:
        """Invoke `function` asynchronously (as EventBridge Scheduler does): queued durably, then delivered."""
        self._start(await run_in_threadpool(self._queue.put, function, event))

    def stage(self, functions: Iterable[str], event: dict[str, Any], awaits_key: str) -> list[int]:
        """Persist `event` for `functions`, not delivered until `release` (blocking: call it in a thread)."""
        return self._queue.stage(functions, event, awaits_key)

    async def release(self, staged: list[int]) -> None:
        """The object is published: deliver its staged records."""
        for invocation in await run_in_threadpool(self._queue.release, staged):
            self._start(invocation)

    async def discard(self, staged: list[int]) -> None:
        await run_in_threadpool(self._queue.discard, staged)

    def settle_staged(self, exists: Callable[[str], bool]) -> int:
        """Deliver the staged records of objects a dead request published; drop those of objects it
        did not. Called in a worker thread (the sweeper's); returns how many records it settled."""
        ready, dropped = self._queue.settle(exists)
        for invocation in ready:
            logger.info("delivering a notification staged by an interrupted request: %s", invocation.function)
            from_thread.run_sync(self._start, invocation)
        return len(ready) + dropped

    def _start(self, invocation: Invocation) -> None:
        task = asyncio.create_task(self._deliver(invocation), name=f"invoke-{invocation.seq}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, invocation: Invocation) -> None:
        attempt = invocation.attempts
        while True:
            function = self._functions[invocation.function]  # each attempt runs the current version (a reload)
            try:
                await function.invoke(invocation.event)
            except LambdaError as exc:
                attempt += 1
                dead = attempt >= MAX_ATTEMPTS
                logger.warning(
                    "%s attempt %d failed: %s: %s%s",
                    function.name,
                    attempt,
                    exc.error_type,
                    exc.message,
                    " (kept as a dead letter)" if dead else "",
                )
                await run_in_threadpool(
                    self._queue.failed, invocation.seq, f"{exc.error_type}: {exc.message}", dead=dead
                )
                if dead:
                    return
                await asyncio.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1])
            else:
                await run_in_threadpool(self._queue.done, invocation.seq)
                return

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
