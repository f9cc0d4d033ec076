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
        self, key: str, *, size: int, content_type: str | None, expires_in: int
    ) -> PresignedRequest: ...

    def presign_get(self, key: str, *, file_name: str, expires_in: int) -> str: ...

    def open_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        """Stream the object; `BlobNotFoundError` if it is not there."""
        ...

    def delete_blob(self, key: str) -> None: ...
