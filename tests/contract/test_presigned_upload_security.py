"""Presigned uploads from S3BlobStore are refused by a real S3 implementation when misused.

SeaweedFS only: moto accepts tampered, expired and mismatched presigned requests alike.
The statuses and codes asserted are what SeaweedFS 4.x answers (and what S3 documents):
a broken signature, another key, another Content-Type, another Content-Length or a missing
signed header (`If-None-Match: *` included) is 403 SignatureDoesNotMatch; an expired URL is 403
AccessDenied "Request has expired"; a body that does not match the signed sha256 is 400 BadDigest;
a PUT to a key that holds an object is 412 PreconditionFailed (write-once).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace

import httpx
import pytest

from lambdashare.adapters.aws.s3_blob_store import S3BlobStore
from lambdashare.domain.errors import BlobNotFoundError
from lambdashare.domain.files import object_key
from lambdashare.ports.blob_store import PresignedRequest
from tests.contract._servers import Server
from tests.contract.conftest import http_put, new_s3_store

BODY = b"the exact bytes the upload was signed for"


@pytest.fixture
def store(seaweedfs: Server) -> S3BlobStore:
    return new_s3_store(seaweedfs)


@pytest.fixture
def key() -> str:
    return object_key(str(uuid.uuid4()))


def presign(store: S3BlobStore, key: str, *, expires_in: int = 60, sha256: str | None = None) -> PresignedRequest:
    """BODY as text/plain, valid for `expires_in` seconds."""
    return store.presign_put(key, size=len(BODY), content_type="text/plain", expires_in=expires_in, sha256=sha256)


def error_code(answer: httpx.Response) -> tuple[int, str, str]:
    root = ET.fromstring(answer.content)
    return answer.status_code, root.findtext("Code") or "", root.findtext("Message") or ""


def assert_not_stored(store: S3BlobStore, key: str) -> None:
    with pytest.raises(BlobNotFoundError):
        store.open_chunks(key, 1024)


def test_the_untampered_request_is_accepted(store: S3BlobStore, key: str) -> None:
    answer = http_put(presign(store, key), BODY)
    assert answer.status_code == 200, answer.text
    assert b"".join(store.open_chunks(key, 1024)) == BODY


def test_a_tampered_signature_is_refused(store: S3BlobStore, key: str) -> None:
    # GIVEN a presigned upload whose signature has one character changed
    request = presign(store, key)
    signature = request.url.rsplit("X-Amz-Signature=", 1)[1][:64]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    # WHEN it is sent
    answer = http_put(replace(request, url=request.url.replace(signature, flipped)), BODY)
    # THEN SeaweedFS refuses it and stores nothing
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert_not_stored(store, key)


def test_a_url_moved_to_another_key_is_refused(store: S3BlobStore, key: str) -> None:
    other = object_key(str(uuid.uuid4()))
    answer = http_put(replace(presign(store, key), url=presign(store, key).url.replace(key, other)), BODY)
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert_not_stored(store, other)


def test_an_expired_url_is_refused(store: S3BlobStore, key: str) -> None:
    # GIVEN a presigned upload valid for one second
    request = presign(store, key, expires_in=1)
    # WHEN it is sent after it expired (X-Amz-Date has whole seconds: wait past the next one)
    time.sleep(2.1)
    answer = http_put(request, BODY)
    # THEN it is refused as expired
    assert error_code(answer) == (403, "AccessDenied", "Request has expired")
    assert_not_stored(store, key)


def test_another_content_type_is_refused(store: S3BlobStore, key: str) -> None:
    request = presign(store, key)
    answer = http_put(replace(request, headers={**request.headers, "content-type": "text/html"}), BODY)
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert_not_stored(store, key)


@pytest.mark.parametrize("body", [BODY + b"!", BODY[:-1], b""], ids=["larger", "smaller", "empty"])
def test_another_size_is_refused(store: S3BlobStore, key: str, body: bytes) -> None:
    # GIVEN an upload signed for len(BODY) bytes
    request = presign(store, key)
    # WHEN a body of another size is sent with its honest Content-Length
    answer = http_put(replace(request, headers={**request.headers, "content-length": str(len(body))}), body)
    # THEN the signed Content-Length does not match
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert_not_stored(store, key)


def test_other_content_with_a_signed_sha256_is_refused(store: S3BlobStore, key: str) -> None:
    # GIVEN an upload signed with the sha256 of BODY
    request = presign(store, key, sha256=hashlib.sha256(BODY).hexdigest())
    assert set(request.headers) == {"content-length", "content-type", "if-none-match", "x-amz-checksum-sha256"}
    # WHEN a body of the same size but other content is sent
    answer = http_put(request, os.urandom(len(BODY)))
    # THEN the checksum does not match and nothing is stored
    assert error_code(answer)[:2] == (400, "BadDigest")
    assert_not_stored(store, key)
    # AND the right content is accepted with the same request
    assert http_put(request, BODY).status_code == 200
    assert b"".join(store.open_chunks(key, 1024)) == BODY


def test_leaving_out_the_signed_checksum_header_is_refused(store: S3BlobStore, key: str) -> None:
    request = presign(store, key, sha256=hashlib.sha256(BODY).hexdigest())
    headers = {k: v for k, v in request.headers.items() if k != "x-amz-checksum-sha256"}
    answer = http_put(replace(request, headers=headers), BODY)
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert_not_stored(store, key)


def test_leaving_out_the_signed_write_once_header_is_refused(store: S3BlobStore, key: str) -> None:
    # GIVEN a stored object and its presigned request, sent again without `If-None-Match: *`
    request = presign(store, key)
    assert http_put(request, BODY).status_code == 200
    headers = {k: v for k, v in request.headers.items() if k != "if-none-match"}
    # WHEN it is sent, hoping to overwrite the object unconditionally
    answer = http_put(replace(request, headers=headers), BODY[::-1])
    # THEN the signature does not match (the condition is signed in) and the object is unchanged
    assert error_code(answer)[:2] == (403, "SignatureDoesNotMatch")
    assert b"".join(store.open_chunks(key, 1024)) == BODY


def test_a_replayed_upload_is_412_precondition_failed(store: S3BlobStore, key: str) -> None:
    # GIVEN a stored object
    request = presign(store, key)
    assert http_put(request, BODY).status_code == 200
    # WHEN its request is replayed with other bytes
    answer = http_put(request, BODY[::-1])
    # THEN SeaweedFS answers as S3 does, and the object is unchanged
    assert error_code(answer) == (
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
    )
    assert b"".join(store.open_chunks(key, 1024)) == BODY
