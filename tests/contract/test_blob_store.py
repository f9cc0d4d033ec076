"""The BlobStore port's contract, held by FileBlobStore and by S3BlobStore on moto and on SeaweedFS."""

from __future__ import annotations

import os
import uuid

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
