"""Hash one stream with md5, sha1, sha256 and sha512 at once, in constant memory.

Each algorithm runs in its own thread (hashlib releases the GIL on large updates) and is fed the
same chunk objects through a small bounded queue, so at most `QUEUE_DEPTH + 2` chunks are alive.
Not responsible for reading storage: callers pass any iterable of byte chunks.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lambdashare.domain.model import ALGORITHMS

CHUNK_SIZE = 4 * 1024 * 1024
QUEUE_DEPTH = 4
_END = b""


@dataclass(frozen=True, slots=True)
class Digests:
    size: int
    hexdigests: dict[str, str]


class _Worker(threading.Thread):
    def __init__(self, algorithm: str) -> None:
        super().__init__(name=f"hash-{algorithm}", daemon=True)
        self.hash = hashlib.new(algorithm)
        self.chunks: queue.Queue[bytes] = queue.Queue(maxsize=QUEUE_DEPTH)

    def run(self) -> None:
        update, get = self.hash.update, self.chunks.get
        while chunk := get():
            update(chunk)


def hash_chunks(
    chunks: Iterable[bytes],
    algorithms: tuple[str, ...] = ALGORITHMS,
    on_progress: Callable[[int], None] | None = None,
) -> Digests:
    """Feed every chunk to every algorithm in parallel; return the hex digests and byte count.

    `on_progress` gets the bytes handed to the hashers so far after each chunk (at most `QUEUE_DEPTH`
    chunks ahead of the slowest hash)."""
    workers = [_Worker(name) for name in algorithms]
    for worker in workers:
        worker.start()
    size = 0
    try:
        for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            for worker in workers:
                worker.chunks.put(chunk)
            if on_progress is not None:
                on_progress(size)
    finally:
        for worker in workers:
            worker.chunks.put(_END)
        for worker in workers:
            worker.join()
    return Digests(size=size, hexdigests={w.hash.name: w.hash.hexdigest() for w in workers})


def read_chunks(path: str, chunk_size: int = CHUNK_SIZE) -> Iterable[bytes]:
    """Chunks of a local file, for the file blob store and the benchmark."""
    with open(path, "rb", buffering=0) as stream:
        while chunk := stream.read(chunk_size):
            yield chunk
