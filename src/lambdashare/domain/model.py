"""The file record and its life cycle.

Not responsible for storage: adapters persist `FileRecord.to_item()` and rebuild it with `from_item`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")


class FileStatus(StrEnum):
    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    HASHING = "HASHING"
    HASHED = "HASHED"
    FAILED = "FAILED"


#: States the hasher may (re)start from: a crash mid-hash leaves HASHING behind, and it must resume.
HASHABLE = frozenset({FileStatus.PENDING, FileStatus.UPLOADED, FileStatus.HASHING})
FINAL = frozenset({FileStatus.HASHED, FileStatus.FAILED})


def aws_datetime(moment: datetime | None = None) -> str:
    """AWSDateTime to the millisecond, always with `Z` (AppSync insists on an offset)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclasses.dataclass(slots=True)
class FileRecord:
    id: str
    name: str
    size: int
    key: str
    created_at: str
    status: FileStatus = FileStatus.PENDING
    content_type: str | None = None
    owner: str | None = None
    expected_sha256: str | None = None
    hashes: dict[str, str] | None = None
    error: str | None = None
    uploaded_at: str | None = None
    hashed_at: str | None = None
    published: bool = False
    upload_id: str | None = None  # a multipart upload's id in the store, until it completes or aborts
    part_size: int | None = None

    @property
    def sha256(self) -> str | None:
        return self.hashes["sha256"] if self.hashes else None

    def to_item(self) -> dict[str, Any]:
        """Plain JSON-able dict, the form every Table adapter stores."""
        item = dataclasses.asdict(self)
        item["status"] = self.status.value
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FileRecord:
        fields = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in item.items() if k in fields}
        known["status"] = FileStatus(known["status"])
        known["size"] = int(known["size"])
        return cls(**known)

    def to_graphql(self) -> dict[str, Any]:
        """The `File` type as AppSync expects it back from a direct Lambda resolver."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "contentType": self.content_type,
            "owner": self.owner,
            "status": self.status.value,
            "hashes": dict(self.hashes) if self.hashes else None,
            "error": self.error,
            "createdAt": self.created_at,
            "uploadedAt": self.uploaded_at,
            "hashedAt": self.hashed_at,
        }
