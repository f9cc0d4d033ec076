"""Reading ahead of the hasher, so one read stream never bounds it, in bounded memory.

`read_ahead` moves a chunk source onto a reader thread that keeps at most `depth` chunks ready.
`ordered_ranges` fetches an object's byte ranges `parallelism` at a time (S3 serves each ranged GET
on its own connection) and yields them in order, with at most `parallelism` ranges in flight or waiting.
Not responsible for storage: callers pass the chunk source or the function that fetches one range.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

#: Read-ahead for the hasher's reads: enough to cover a slow read, few enough to keep memory flat.
READ_AHEAD_DEPTH = 4
#: Ranged GETs in flight on S3: one GET stream gives roughly 90 MB/s, the hasher takes several times that.
RANGE_PARALLELISM = 8

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(chunks: Iterable[bytes], depth: int = READ_AHEAD_DEPTH) -> Generator[bytes]:
    """The same chunks, read on a thread of their own at most `depth` chunks ahead of the consumer.

    A read error is raised to the consumer at the point it happened; a consumer that stops early
    (or fails) stops the reader and closes the source."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Wait for room unless the consumer has gone; True if the item was queued."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        source = iter(chunks)
        try:
            for chunk in source:
                if not offer(chunk):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()
        reader.join()


def ordered_ranges(
    fetch: Callable[[int, int], bytes],
    start: int,
    end: int,
    *,
    range_size: int,
    parallelism: int = RANGE_PARALLELISM,
) -> Generator[bytes]:
    """The bytes [start, end) as `fetch(first, last)` ranges (inclusive, as HTTP's Range), fetched up to
    `parallelism` at a time and yielded in order. A failed fetch is raised in order; stopping early
    cancels what has not started."""
    offsets = iter(range(start, end, range_size))
    in_flight: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="ranged-get") as pool:

        def submit_next() -> None:
            offset = next(offsets, None)
            if offset is not None:
                in_flight.append(pool.submit(fetch, offset, min(offset + range_size, end) - 1))

        try:
            for _ in range(parallelism):
                submit_next()
            while in_flight:
                chunk = in_flight.popleft().result()
                submit_next()  # the consumer holds one range: at most `parallelism` others fetched or fetching
                yield chunk
        finally:
            for future in in_flight:
                future.cancel()
