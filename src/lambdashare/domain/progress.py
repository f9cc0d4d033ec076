"""The hasher's progress for one file, told to subscribers at a bounded rate through `publishFileProgress`.

Every `step` bytes at most, and never more often than once per `min_interval_s`, so a fast hash of a
small file sends little and a slow hash of a large one still shows life. Publishing runs on its own
thread, so a slow or failing publish never slows or fails the hash; only the newest value waits to be
sent. Not responsible for the final state: `hash_file` publishes that (after `close`, so no progress
event follows it).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from lambdashare.ports.publisher import Publisher

logger = logging.getLogger(__name__)

PROGRESS_STEP = 64 * 1024 * 1024
MIN_INTERVAL_S = 0.25


class ProgressThrottle:
    """Says when a running byte count is worth publishing: `step` bytes on, and `min_interval_s` later."""

    def __init__(
        self, step: int, min_interval_s: float = MIN_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._step = step
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._next_bytes = step
        self._not_before = -math.inf

    def due(self, done: int) -> bool:
        if done < self._next_bytes:
            return False
        now = self._clock()
        if now < self._not_before:
            return False
        self._next_bytes = done + self._step
        self._not_before = now + self._min_interval_s
        return True


class ProgressReporter:
    """Call it with the bytes hashed so far; it publishes the due ones from a background thread."""

    def __init__(
        self, publisher: Publisher, file_id: str, size: int, owner: str | None, throttle: ProgressThrottle
    ) -> None:
        self._publisher = publisher
        self._fields = {"id": file_id, "size": size, "owner": owner}
        self._throttle = throttle
        self._pending: int | None = None
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"progress-{file_id}", daemon=True)
        self._thread.start()

    def __call__(self, hashed_bytes: int) -> None:
        if self._throttle.due(hashed_bytes):
            with self._wake:
                self._pending = hashed_bytes
                self._wake.notify()

    def close(self) -> None:
        """Drop what is not sent yet and wait for a publish in flight."""
        with self._wake:
            self._closed = True
            self._pending = None
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                hashed_bytes, self._pending = self._pending, None
            try:
                self._publisher.publish_progress({**self._fields, "hashedBytes": hashed_bytes})
            except Exception:  # progress is best effort: the hash goes on, and its final state is what counts
                logger.warning("publishFileProgress failed", extra={"file_id": self._fields["id"]}, exc_info=True)
