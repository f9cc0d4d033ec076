"""Objects in S3: presigned PUTs pinned to size, content type and (optionally) sha256; streaming reads.

Not responsible for who may upload (the resolver decides) nor for S3 events (S3 sends them).
Spec: https://docs.aws.amazon.com/AmazonS3/latest/userguide/PresignedUrlUploadObject.html

Every `Params` entry that maps to a header is signed, so the client must send it with the same
value: `ContentLength` pins the size exactly, `ContentType` the media type, `IfNoneMatch="*"` makes
the object write-once (S3 answers 412 PreconditionFailed when the key holds an object, so a replayed
or concurrent PUT cannot replace bytes that were hashed), and `ChecksumSHA256` (base64 of the raw
digest) makes S3 reject a body with other content (400 BadDigest). `PresignedRequest.headers` lists
exactly those headers. Multipart uploads send `IfNoneMatch="*"` with CompleteMultipartUpload
(`WRITE_ONCE`) for the same guarantee; each part's presigned UploadPart pins its size.
Conditional writes need botocore >= 1.35.2 (pyproject.toml; the Lambda artifact bundles it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdashare.domain.errors import S3_ERRORS, BlobNotFoundError
from lambdashare.domain.read_ahead import ordered_ranges
from lambdashare.ports.blob_store import PresignedRequest, StoredPart

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

#: Error codes S3 (and S3-compatible servers) use for a missing object: GetObject says NoSuchKey,
#: a HEAD or a ranged request may only say 404.
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_RETRIES: Any = {"mode": "standard", "max_attempts": 8}
#: The condition that makes a write create-only: a PUT's (or CompleteMultipartUpload's) `IfNoneMatch`.
WRITE_ONCE = "*"


def new_client(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
) -> S3Client:
    """An S3 client that signs with SigV4; path-style addressing when talking to a custom endpoint.

    On AWS, URLs name the bucket's regional virtual host (`https://<bucket>.s3.<region>.amazonaws.com`):
    botocore's default, the global `s3.amazonaws.com`, answers 307 outside us-east-1, and a browser
    does not follow a redirect of a CORS preflight. (Our bucket names have no dots, so the host's
    certificate matches.)
    """
    s3_config: Any = (
        {"addressing_style": "path"}
        if endpoint_url
        else {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}
    )
    config = Config(signature_version="s3v4", retries=_RETRIES, s3=s3_config)
    factory = session or boto3.session.Session()
    client: S3Client = factory.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
    return client


def content_disposition(file_name: str) -> str:
    """`attachment` with the RFC 5987 `filename*`, so any file name survives the header."""
    return f"attachment; filename*=UTF-8''{quote(file_name, safe='')}"


def checksum_sha256(sha256_hex: str) -> str:
    """S3's `x-amz-checksum-sha256` value: base64 of the raw digest, not the hex string."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        *,
        client: S3Client | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._client = client or new_client(region=region, endpoint_url=endpoint_url)

    def presign_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str | None,
        expires_in: int,
        sha256: str | None = None,
    ) -> PresignedRequest:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentLength": size, "IfNoneMatch": WRITE_ONCE}
        headers = {"content-length": str(size), "if-none-match": WRITE_ONCE}
        if content_type is not None:
            params["ContentType"] = headers["content-type"] = content_type
        if sha256 is not None:
            params["ChecksumSHA256"] = headers["x-amz-checksum-sha256"] = checksum_sha256(sha256)
        url = self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
        return PresignedRequest(method="PUT", url=url, headers=headers)

    def presign_get(self, key: str, *, file_name: str, expires_in: int) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(file_name),
        }
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def open_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        """Stream the object in `chunk_size` ranges, several ranged GETs at a time delivered in order (one
        GET stream is slower than the hasher); `BlobNotFoundError` at once if it is not there."""
        try:
            first = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{chunk_size - 1}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _MISSING_CODES:
                raise BlobNotFoundError(f"No object at key {key!r}.") from exc
            if code == "InvalidRange":  # an empty object has no byte 0
                return iter(())
            raise
        size = int(first["ContentRange"].rsplit("/", 1)[1]) if "ContentRange" in first else first["ContentLength"]
        etag = first["ETag"]

        def fetch(start: int, last: int) -> bytes:
            # IfMatch: every range comes from the object the first one did
            answer = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{last}", IfMatch=etag)
            body = answer["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data

        return _chunks(
            first["Body"], chunk_size, ordered_ranges(fetch, first["ContentLength"], size, range_size=chunk_size)
        )

    def delete_blob(self, key: str) -> None:
        """Idempotent, as S3's DeleteObject: deleting a missing key is not an error."""
        self._client.delete_object(Bucket=self.bucket, Key=key)

    # --- multipart uploads -------------------------------------------------------------------
    def create_multipart(self, key: str, *, content_type: str | None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type is not None:
            params["ContentType"] = content_type
        return self._client.create_multipart_upload(**params)["UploadId"]

    def presign_part(self, key: str, upload_id: str, number: int, *, size: int, expires_in: int) -> PresignedRequest:
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": size,
        }
        url = self._client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)
        return PresignedRequest(method="PUT", url=url, headers={"content-length": str(size)})

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        pages = self._client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
        with _s3_errors():
            return [
                StoredPart(part["PartNumber"], part["ETag"], part["Size"])
                for page in pages
                for part in page.get("Parts", [])
            ]

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> str:
        with _s3_errors():
            answer = self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
                IfNoneMatch=WRITE_ONCE,
            )
        return answer["ETag"]

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with _s3_errors():
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)


@contextmanager
def _s3_errors() -> Iterator[None]:
    """S3's multipart error codes become the domain errors of the same name; others pass through."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code in S3_ERRORS:
            raise S3_ERRORS[code](error.get("Message", code)) from exc
        raise


def _chunks(body: Any, chunk_size: int, rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first GET's body, then the other ranges."""
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
    yield from rest
