"""The hasher's read-ahead: a reader thread a bounded number of chunks ahead, and ranged fetches run in
parallel but delivered in order, with a bounded number in flight."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from lambdashare.domain.read_ahead import ordered_ranges, read_ahead

CHUNKS = [bytes([i]) * (100 + i) for i in range(40)]


class CountingSource:
    """Chunks handed out and consumed, so a test can see how far ahead the reader got."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.lock = threading.Lock()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for index, chunk in enumerate(self.chunks):
                if index == self.fail_at:
                    raise OSError("disk on fire")
                with self.lock:
                    self.produced += 1
                yield chunk
        finally:
            self.closed = True


def test_read_ahead_gives_every_chunk_in_order_and_stays_within_depth() -> None:
    # GIVEN a source and a slow consumer, reading ahead 3 chunks
    source = CountingSource(CHUNKS)
    seen, ahead = [], []
    # WHEN every chunk is consumed
    for consumed, chunk in enumerate(read_ahead(source, depth=3), start=1):
        time.sleep(0.002)  # the reader has time to run ahead as far as it may
        with source.lock:
            ahead.append(source.produced - consumed)
        seen.append(chunk)
    # THEN the chunks are the source's, in order, and the reader was never more than depth (+1 being put) ahead
    assert seen == CHUNKS
    assert max(ahead) <= 3 + 1
    assert max(ahead) >= 2  # it did read ahead
    assert source.closed


def test_read_ahead_raises_a_read_error_where_it_happened() -> None:
    # GIVEN a source that fails at its sixth chunk
    source = CountingSource(CHUNKS, fail_at=5)
    seen = []
    # WHEN it is consumed THEN the five chunks before come through, then the error
    with pytest.raises(OSError, match="disk on fire"):
        for chunk in read_ahead(source, depth=2):
            seen.append(chunk)
    assert seen == CHUNKS[:5]


def test_a_consumer_that_stops_early_stops_the_reader_and_closes_the_source() -> None:
    # GIVEN a reader of a long source
    source = CountingSource(CHUNKS * 10)
    stream = read_ahead(source, depth=2)
    # WHEN the consumer takes two chunks and closes the stream
    assert [next(stream), next(stream)] == CHUNKS[:2]
    stream.close()
    # THEN the reader stopped where it was and closed the source
    assert source.closed
    assert source.produced <= 2 + 2 + 1
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]


class FakeRanges:
    """A ranged-GET server over `data` with random latency, counting concurrent and outstanding fetches."""

    def __init__(self, data: bytes, fail_from: int | None = None) -> None:
        self.data = data
        self.fail_from = fail_from
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.fetched = 0

    def fetch(self, first: int, last: int) -> bytes:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(random.uniform(0, 0.004))  # later ranges often finish first
            if self.fail_from is not None and first >= self.fail_from:
                raise ConnectionError(f"range {first}-{last} failed")
            return self.data[first : last + 1]
        finally:
            with self.lock:
                self.running -= 1
                self.fetched += 1


def test_ordered_ranges_are_fetched_in_parallel_and_delivered_in_order() -> None:
    # GIVEN an object of 50 ranges of 1000 bytes (the last one short), from byte 1000 on
    data = random.randbytes(50 * 1000 - 123)
    server = FakeRanges(data)
    outstanding = []
    # WHEN it is read 4 ranges at a time
    chunks = []
    for consumed, chunk in enumerate(ordered_ranges(server.fetch, 1000, len(data), range_size=1000, parallelism=4)):
        with server.lock:
            outstanding.append(server.fetched - consumed)
        chunks.append(chunk)
    # THEN the bytes are the object's from byte 1000, in order, in ranges of at most 1000 bytes
    assert b"".join(chunks) == data[1000:]
    assert [len(c) for c in chunks[:-1]] == [1000] * 48 and len(chunks[-1]) == 1000 - 123
    # AND several fetches ran at once, never more than 4, and never more than 4 were fetched ahead of the reader
    assert 1 < server.max_running <= 4
    assert max(outstanding) <= 4 + 1


def test_a_failed_range_is_raised_in_order() -> None:
    # GIVEN a server that fails every range from byte 5000 on
    data = random.randbytes(20_000)
    chunks = []
    # WHEN it is read THEN the ranges before come through in order, then the error
    with pytest.raises(ConnectionError, match="range 5000-5999"):
        for chunk in ordered_ranges(FakeRanges(data, fail_from=5000).fetch, 0, len(data), range_size=1000):
            chunks.append(chunk)
    assert b"".join(chunks) == data[:5000]


def test_an_empty_span_fetches_nothing() -> None:
    server = FakeRanges(b"abc")
    assert list(ordered_ranges(server.fetch, 3, 3, range_size=1000)) == []
    assert server.fetched == 0
