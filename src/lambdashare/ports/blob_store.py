"""Object storage: presigned uploads and downloads, streaming reads, deletes.

Not responsible for deciding who may upload: the resolver decides, the store only signs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """One HTTP request a client makes as given: `method` to `url` with exactly `headers`."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


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
