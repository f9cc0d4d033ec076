"""The BlobStore port's contract, held by FileBlobStore and by S3BlobStore on moto and on SeaweedFS.

Write-once is part of it: SeaweedFS (4.x) and moto (5.x) honour `If-None-Match: *` on PUT as S3 does.
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from lambdashare.domain.errors import BlobNotFoundError
from lambdashare.domain.files import object_key
from tests.contract.conftest import Blobs


def new_key() -> str:
    return object_key(str(uuid.uuid4()))


def test_presigned_put_then_open_chunks_returns_the_bytes(blobs: Blobs) -> None:
    # GIVEN a presigned upload pinned to a size and a content type
    body = os.urandom(10_000)
    key = new_key()
    request = blobs.store.presign_put(key, size=len(body), content_type="application/pdf", expires_in=60)
    # WHEN the client sends exactly that request
    blobs.put(request, body)
    # THEN the object streams back in chunks of at most the asked size
    chunks = list(blobs.store.open_chunks(key, 4096))
    assert b"".join(chunks) == body
    assert max(len(c) for c in chunks) <= 4096
    # AND the request told the client which headers to send
    assert request.method == "PUT"
    assert request.headers.get("content-type") == "application/pdf"


def test_an_object_of_many_chunks_streams_back_in_order(blobs: Blobs) -> None:
    # GIVEN an object of more chunks than the S3 store fetches at a time
    body = os.urandom(40 * 16 * 1024 + 7)
    key = new_key()
    blobs.put(blobs.store.presign_put(key, size=len(body), content_type=None, expires_in=60), body)
    # WHEN it is read in 16 KiB chunks THEN every byte comes back, in order, in chunks of at most that
    chunks = list(blobs.store.open_chunks(key, 16 * 1024))
    assert b"".join(chunks) == body
    assert max(len(c) for c in chunks) <= 16 * 1024
    # AND a reader may stop after the first chunk
    stream = blobs.store.open_chunks(key, 16 * 1024)
    assert next(iter(stream)) == body[: 16 * 1024]
    stream.close()  # type: ignore[attr-defined]


def test_an_empty_object_can_be_uploaded(blobs: Blobs) -> None:
    key = new_key()
    blobs.put(blobs.store.presign_put(key, size=0, content_type=None, expires_in=60), b"")
    assert b"".join(blobs.store.open_chunks(key, 1024)) == b""


def test_open_chunks_of_a_missing_key_raises_at_once(blobs: Blobs) -> None:
    with pytest.raises(BlobNotFoundError):
        blobs.store.open_chunks(new_key(), 1024)


def test_delete_blob_removes_the_object_and_is_idempotent(blobs: Blobs) -> None:
    # GIVEN a stored object
    key = new_key()
    blobs.put(blobs.store.presign_put(key, size=3, content_type=None, expires_in=60), b"abc")
    # WHEN it is deleted twice
    blobs.store.delete_blob(key)
    blobs.store.delete_blob(key)
    # THEN it is gone
    with pytest.raises(BlobNotFoundError):
        blobs.store.open_chunks(key, 1024)


def test_presigned_get_downloads_under_the_file_name(blobs: Blobs) -> None:
    # GIVEN a stored object
    key = new_key()
    blobs.put(blobs.store.presign_put(key, size=5, content_type="text/plain", expires_in=60), b"hello")
    # WHEN its presigned download URL is fetched
    body, disposition = blobs.get(blobs.store.presign_get(key, file_name='Résumé 2025;".txt', expires_in=60))
    # THEN it returns the bytes as an attachment named with RFC 5987's filename*
    assert body == b"hello"
    assert disposition == "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%202025%3B%22.txt"


def test_an_upload_is_write_once(blobs: Blobs) -> None:
    # GIVEN a stored object and the presigned request that stored it
    key = new_key()
    request = blobs.store.presign_put(key, size=5, content_type="text/plain", expires_in=60)
    assert request.headers["if-none-match"] == "*"  # the client is told to send the signed condition
    blobs.put(request, b"first")
    # WHEN the same request is sent again with other bytes of the same size
    status = blobs.send(request, b"other")
    # THEN it is refused as S3 refuses `If-None-Match: *` on an existing key, and the bytes are the first
    assert status == 412
    assert b"".join(blobs.store.open_chunks(key, 1024)) == b"first"


def test_of_concurrent_uploads_to_one_key_exactly_one_is_stored(blobs: Blobs) -> None:
    # GIVEN one presigned request, and four different bodies of its size
    key = new_key()
    size = 256 * 1024
    request = blobs.store.presign_put(key, size=size, content_type=None, expires_in=60)
    bodies = [os.urandom(size) for _ in range(4)]
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> int:
        start.wait()
        return blobs.send(request, body)

    # WHEN they are sent at the same time
    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(send, bodies))
    # THEN exactly one is accepted, the others get 412, and the object is the winner's bytes, whole
    assert sorted(statuses) == [200, 412, 412, 412]
    assert b"".join(blobs.store.open_chunks(key, 64 * 1024)) == bodies[statuses.index(200)]
