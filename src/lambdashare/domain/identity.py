"""Who is asking, from the `identity` AppSync puts in a resolver event, and what they may see.

API-key callers share one anonymous space (owner None) in which a file id is the capability: whoever
holds an id may use that file, but nothing lists or reveals the space's ids. A Cognito user owns by
`sub`; an IAM principal by its ARN. Members of the `admins` Cognito group may see every file, but
change (delete, share, complete, resume, abort) only their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ADMINS_GROUP = "admins"


@dataclass(frozen=True, slots=True)
class Principal:
    owner: str | None
    admin: bool = False

    def may_see(self, owner: str | None) -> bool:
        """May use a file of `owner` whose id it holds."""
        return self.admin or owner == self.owner

    def may_change(self, owner: str | None) -> bool:
        """May delete, share or finish uploading a file of `owner` whose id it holds: only the owner
        (in the API-key space, whoever holds the id), never an admin who merely reads it."""
        return owner == self.owner

    @property
    def anonymous(self) -> bool:
        """An API-key caller: may use the anonymous space's files by id, but never list or find them."""
        return self.owner is None and not self.admin


def principal_of(identity: Mapping[str, Any] | None) -> Principal:
    if not identity:
        return Principal(None)
    if identity.get("sub"):
        groups = identity.get("groups") or identity.get("claims", {}).get("cognito:groups") or []
        return Principal(str(identity["sub"]), admin=ADMINS_GROUP in groups)
    if identity.get("userArn"):
        return Principal(str(identity["userArn"]))
    return Principal(None)
