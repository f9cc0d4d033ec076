"""The file table: one item per file, keyed by id, with lookups by sha256 and newest-first listing.

Not responsible for business rules: callers say which states an update requires.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any, Protocol

#: Position in a newest-first listing: (createdAt, id) of the last item returned.
Cursor = tuple[str, str]


class AnyOwner(Enum):
    """A lookup over every owner's items (an owner of None is the anonymous space)."""

    ANY = "any"


ANY_OWNER = AnyOwner.ANY


class Table(Protocol):
    def put_item(self, item: Mapping[str, Any]) -> None:
        """Insert a new item; `ItemExistsError` if its id is taken."""
        ...

    def get_item(self, item_id: str) -> dict[str, Any] | None: ...

    def update_item(self, item_id: str, changes: Mapping[str, Any], *, status_in: Collection[str]) -> dict[str, Any]:
        """Apply `changes` only if the item exists and its status is one of `status_in`.

        Returns the new item; raises `ConditionFailedError` otherwise (nothing is written).
        """
        ...

    def delete_item(self, item_id: str) -> dict[str, Any] | None:
        """Remove the item; return it as it was, or None if it did not exist."""
        ...

    def query_by_sha256(
        self, sha256: str, limit: int, owner: str | AnyOwner | None = ANY_OWNER
    ) -> list[dict[str, Any]]:
        """Up to `limit` items with this content, oldest first: `owner`'s only, unless ANY_OWNER (the
        owner is filtered before the limit, so other owners' copies never crowd out the caller's)."""
        ...

    def list_items(self, owner: str | None, limit: int, after: Cursor | None) -> list[dict[str, Any]]:
        """Up to `limit` items of `owner`, newest first, strictly after `after`."""
        ...
