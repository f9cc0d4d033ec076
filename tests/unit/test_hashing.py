"""Unit tests for `lambdashare.domain.hashing`: digests match hashlib's, and failures stop every thread."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdashare.domain.hashing import hash_chunks, read_chunks
from lambdashare.domain.model import ALGORITHMS

MIB = 1024 * 1024


def _expected(data: bytes) -> dict[str, str]:
    return {algorithm: hashlib.new(algorithm, data).hexdigest() for algorithm in ALGORITHMS}


def _random_bytes(size: int) -> bytes:
    return random.Random(1234).randbytes(size)


def _split_unevenly(data: bytes) -> list[bytes]:
    # around hashlib's 2047-byte GIL threshold, an empty chunk, and chunks bigger than CHUNK_SIZE
    sizes = [1, 2047, 2048, 0, 3, 65_537, 5 * MIB + 7, 999_999]
    chunks, offset, i = [], 0, 0
    while offset < len(data):
        size = sizes[i % len(sizes)]
        chunks.append(data[offset : offset + size])
        offset += size
        i += 1
    return chunks


def _hashing_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("hash-")]


def test_empty_input_gives_the_digests_of_no_bytes() -> None:
    # GIVEN no chunks at all
    chunks: list[bytes] = []

    # WHEN they are hashed
    digests = hash_chunks(chunks)

    # THEN the size is zero and every digest is hashlib's digest of b""
    assert digests.size == 0
    assert digests.hexdigests == _expected(b"")


def test_one_byte_input_matches_hashlib() -> None:
    # GIVEN a single one-byte chunk
    data = b"\x00"

    # WHEN it is hashed
    digests = hash_chunks([data])

    # THEN every digest is hashlib's
    assert digests.size == 1
    assert digests.hexdigests == _expected(data)


def test_several_mib_in_uneven_chunks_match_hashlib() -> None:
    # GIVEN several MiB of random bytes split into chunks of uneven sizes, one of them empty
    data = _random_bytes(13 * MIB + 321)
    chunks = _split_unevenly(data)
    assert b"".join(chunks) == data and b"" in chunks

    # WHEN the chunks are hashed
    digests = hash_chunks(iter(chunks))

    # THEN the size and every digest match hashlib over the whole data
    assert digests.size == len(data)
    assert digests.hexdigests == _expected(data)


def test_file_read_in_odd_sized_chunks_matches_hashlib(tmp_path: Path) -> None:
    # GIVEN a file of random bytes whose size is not a multiple of the chunk size
    data = _random_bytes(6 * MIB + 5)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)

    # WHEN it is read in odd-sized chunks and hashed
    digests = hash_chunks(read_chunks(str(path), chunk_size=1_000_003))

    # THEN the size and every digest match hashlib's
    assert digests.size == len(data)
    assert digests.hexdigests == _expected(data)


def test_error_from_the_chunk_iterator_propagates_and_stops_every_thread() -> None:
    # GIVEN a chunk source that fails midway, after enough chunks to fill the workers' queues
    class SourceError(Exception):
        pass

    def failing_chunks() -> Iterator[bytes]:
        for _ in range(32):
            yield _random_bytes(256 * 1024)
        raise SourceError("storage went away")

    before = set(threading.enumerate())

    # WHEN the chunks are hashed
    with pytest.raises(SourceError, match="storage went away"):
        hash_chunks(failing_chunks())

    # THEN no hashing thread is left alive
    assert _hashing_threads() == []
    assert set(threading.enumerate()) <= before
