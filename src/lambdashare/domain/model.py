"""The file record and its life cycle.

Not responsible for storage: adapters persist `FileRecord.to_item()` and rebuild it with `from_item`.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")

#: The fields of the GraphQL `File` that a file record fills, in the schema's names: what `to_graphql` gives,
#: and what the hasher selects when it publishes (AppSync sends subscribers only the fields the mutation
#: selected). Every `File` field but `downloadUrl`, which depends on who asks.
FILE_FIELDS = (
    "id",
    "name",
    "size",
    "contentType",
    "owner",
    "status",
    "hashes",
    "error",
    "createdAt",
    "uploadedAt",
    "hashedAt",
)
#: `FILE_FIELDS` as a GraphQL selection set.
FILE_SELECTION = " ".join(f"hashes {{ {' '.join(ALGORITHMS)} }}" if f == "hashes" else f for f in FILE_FIELDS)


class FileStatus(StrEnum):
    PENDING = "PENDING"
    HASHING = "HASHING"
    HASHED = "HASHED"
    FAILED = "FAILED"


#: States the hasher may (re)start from: a crash mid-hash leaves HASHING behind, and it must resume.
HASHABLE = frozenset({FileStatus.PENDING, FileStatus.HASHING})
FINAL = frozenset({FileStatus.HASHED, FileStatus.FAILED})


_SNAKE = re.compile(r"[A-Z]")


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
    #: Epoch seconds after which a file still PENDING is deleted (DynamoDB TTL on AWS, the sweeper
    #: locally); None once its bytes have arrived.
    ttl: int | None = None
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
        if known.get("ttl") is not None:
            known["ttl"] = int(known["ttl"])
        return cls(**known)

    def to_graphql(self) -> dict[str, Any]:
        """The `File` type's `FILE_FIELDS` as AppSync expects them back from a direct Lambda resolver."""
        return {name: self._graphql_value(name) for name in FILE_FIELDS}

    def _graphql_value(self, name: str) -> Any:
        value = getattr(self, _SNAKE.sub(lambda m: "_" + m.group(0).lower(), name))
        if isinstance(value, FileStatus):
            return value.value
        if isinstance(value, dict):
            return dict(value)
        return value
