"""The BlobStore port's multipart contract: S3's rules, held by FileBlobStore and by S3BlobStore on
moto and on SeaweedFS (2 parts of 5 MiB + 1 byte: the smallest upload S3's rules allow)."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass

import pytest

from lambdashare.domain.errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
    PreconditionFailed,
)
from lambdashare.domain.files import object_key
from lambdashare.domain.multipart import MIN_PART
from tests.contract.conftest import Blobs


@dataclass
class Upload:
    key: str
    upload_id: str


def start(blobs: Blobs) -> Upload:
    key = object_key(str(uuid.uuid4()))
    return Upload(key, blobs.store.create_multipart(key, content_type="application/octet-stream"))


def send_part(blobs: Blobs, upload: Upload, number: int, body: bytes) -> str:
    request = blobs.store.presign_part(upload.key, upload.upload_id, number, size=len(body), expires_in=60)
    status, etag = blobs.send_part(request, body)
    assert status == 200 and etag is not None, status
    return etag


def test_parts_are_listed_and_assembled_with_s3s_multipart_etag(blobs: Blobs) -> None:
    # GIVEN two parts sent out of order: 5 MiB and 1 byte
    upload = start(blobs)
    first, last = os.urandom(MIN_PART), b"z"
    last_etag = send_part(blobs, upload, 2, last)
    first_etag = send_part(blobs, upload, 1, first)
    # THEN each part's ETag is its quoted hex md5, and ListParts shows both by number
    assert first_etag == f'"{hashlib.md5(first).hexdigest()}"'
    assert last_etag == f'"{hashlib.md5(last).hexdigest()}"'
    listed = blobs.store.list_parts(upload.key, upload.upload_id)
    assert [(p.number, p.etag, p.size) for p in listed] == [(1, first_etag, MIN_PART), (2, last_etag, 1)]
    # WHEN the upload is completed
    etag = blobs.complete(upload.key, upload.upload_id, [(1, first_etag), (2, last_etag)])
    # THEN the object holds the parts in order, and its ETag is md5 of the binary part md5s, then "-2"
    digests = hashlib.md5(first).digest() + hashlib.md5(last).digest()
    assert etag == f'"{hashlib.md5(digests).hexdigest()}-2"'
    assert b"".join(blobs.store.open_chunks(upload.key, 1 << 20)) == first + last


def test_a_part_sent_again_replaces_the_earlier_copy(blobs: Blobs) -> None:
    if blobs.kind == "seaweedfs":
        pytest.skip("SeaweedFS 4.x lists both copies of a part sent twice, in no fixed order")
    upload = start(blobs)
    send_part(blobs, upload, 1, b"old")
    etag = send_part(blobs, upload, 1, b"new")
    assert [(p.number, p.etag) for p in blobs.store.list_parts(upload.key, upload.upload_id)] == [(1, etag)]
    blobs.complete(upload.key, upload.upload_id, [(1, etag)])
    assert b"".join(blobs.store.open_chunks(upload.key, 1024)) == b"new"


@pytest.fixture
def two_parts(blobs: Blobs) -> tuple[Upload, str, str]:
    upload = start(blobs)
    # both at the minimum, so no server can answer EntityTooSmall first (moto and SeaweedFS check it first)
    return upload, send_part(blobs, upload, 1, os.urandom(MIN_PART)), send_part(blobs, upload, 2, os.urandom(MIN_PART))


def test_a_wrong_etag_is_invalid_part(blobs: Blobs, two_parts: tuple[Upload, str, str]) -> None:
    upload, first, _ = two_parts
    with pytest.raises(InvalidPart):
        blobs.complete(upload.key, upload.upload_id, [(1, first), (2, f'"{"0" * 32}"')])


def test_a_missing_part_is_invalid_part(blobs: Blobs, two_parts: tuple[Upload, str, str]) -> None:
    upload, first, second = two_parts
    with pytest.raises(InvalidPart):
        blobs.complete(upload.key, upload.upload_id, [(1, first), (2, second), (3, second)])


def test_parts_out_of_order_are_invalid_part_order(blobs: Blobs, two_parts: tuple[Upload, str, str]) -> None:
    if blobs.kind == "moto":
        pytest.skip("moto 5 does not check the order of parts")
    upload, first, second = two_parts
    with pytest.raises(InvalidPartOrder):
        blobs.complete(upload.key, upload.upload_id, [(2, second), (1, first)])


def test_a_small_part_before_the_last_is_entity_too_small(blobs: Blobs) -> None:
    # GIVEN a first part one byte short of 5 MiB
    upload = start(blobs)
    first = send_part(blobs, upload, 1, os.urandom(MIN_PART - 1))
    second = send_part(blobs, upload, 2, b"tail")
    # THEN it cannot be completed, and nothing is stored
    with pytest.raises(EntityTooSmall):
        blobs.complete(upload.key, upload.upload_id, [(1, first), (2, second)])
    assert len(blobs.store.list_parts(upload.key, upload.upload_id)) == 2  # the upload is still there


def test_a_completed_upload_cannot_complete_again(blobs: Blobs) -> None:
    """S3 answers NoSuchUpload (or, with If-None-Match: *, PreconditionFailed as SeaweedFS does); the
    API answers NoSuchUpload in every home, from the file record (domain/multipart.py)."""
    if blobs.kind == "moto":
        pytest.skip("moto 5 completes a completed upload again")
    upload = start(blobs)
    etag = send_part(blobs, upload, 1, b"once")
    blobs.complete(upload.key, upload.upload_id, [(1, etag)])
    with pytest.raises((NoSuchUpload, PreconditionFailed)):
        blobs.complete(upload.key, upload.upload_id, [(1, etag)])


def test_after_abort_parts_are_refused_and_listing_is_no_such_upload(blobs: Blobs) -> None:
    if blobs.kind == "moto":
        pytest.skip("moto 5 answers 500 to a part of an aborted upload")
    # GIVEN an upload with one part, and the URL of another
    upload = start(blobs)
    send_part(blobs, upload, 1, b"first")
    later = blobs.store.presign_part(upload.key, upload.upload_id, 2, size=5, expires_in=60)
    # WHEN it is aborted
    blobs.store.abort_multipart(upload.key, upload.upload_id)
    # THEN a part PUT is refused with 404 (NoSuchUpload), and the upload is gone
    assert blobs.send_part(later, b"later")[0] == 404
    with pytest.raises(NoSuchUpload):
        blobs.store.list_parts(upload.key, upload.upload_id)


def test_completion_cannot_replace_an_existing_object(blobs: Blobs) -> None:
    # GIVEN an object at the key, and a multipart upload to the same key
    upload = start(blobs)
    blobs.put(blobs.store.presign_put(upload.key, size=5, content_type=None, expires_in=60), b"first")
    etag = send_part(blobs, upload, 1, b"second")
    # THEN completion is refused (write-once), and the first bytes stay
    with pytest.raises(PreconditionFailed):
        blobs.complete(upload.key, upload.upload_id, [(1, etag)])
    assert b"".join(blobs.store.open_chunks(upload.key, 1024)) == b"first"
