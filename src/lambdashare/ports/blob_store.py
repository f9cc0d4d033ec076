"""Object storage: presigned uploads (single or multipart) and downloads, streaming reads, deletes.

Not responsible for deciding who may upload: the resolver decides, the store only signs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """One HTTP request a client makes as given: `method` to `url` with exactly `headers`."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One part of a multipart upload as the store holds it (S3's ListParts): `etag` is quoted hex md5."""

    number: int
    etag: str
    size: int


class BlobStore(Protocol):
    bucket: str

    def presign_put(
        self, key: str, *, size: int, content_type: str | None, expires_in: int, sha256: str | None = None
    ) -> PresignedRequest:
        """A request that stores exactly `size` bytes of `content_type` at `key`.

        `sha256` (hex), when known, is a hint a store may enforce at upload time (S3 signs it as
        `x-amz-checksum-sha256` and rejects other content); a store may also ignore it, since the
        hasher verifies it in any case.
        """
        ...

    def presign_get(self, key: str, *, file_name: str, expires_in: int) -> str: ...

    def open_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        """Stream the object; `BlobNotFoundError` if it is not there."""
        ...

    def delete_blob(self, key: str) -> None: ...

    # --- multipart uploads (S3's rules: see domain/multipart.py) ---------------------------------
    def create_multipart(self, key: str, *, content_type: str | None) -> str:
        """Start a multipart upload of `key`; return its upload id."""
        ...

    def presign_part(self, key: str, upload_id: str, number: int, *, size: int, expires_in: int) -> PresignedRequest:
        """A request that stores part `number` (exactly `size` bytes); its answer's ETag header names the part."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts stored so far, by number; `NoSuchUpload` if the upload is gone."""
        ...

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> str:
        """Assemble `(number, etag)` parts into the object, write-once, and return its ETag.

        Raises S3's errors as domain errors: `NoSuchUpload`, `InvalidPart`, `InvalidPartOrder`,
        `EntityTooSmall`, `PreconditionFailed` (the key holds an object).
        """
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; `NoSuchUpload` if it is gone."""
        ...
