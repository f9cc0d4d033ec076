"""Who is asking, from the `identity` AppSync puts in a resolver event, and what they may see.

API-key callers share one public space (owner None); a Cognito user owns by `sub`; an IAM
principal by its ARN. Members of the `admins` Cognito group may see every file.
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
        return self.admin or owner == self.owner


def principal_of(identity: Mapping[str, Any] | None) -> Principal:
    if not identity:
        return Principal(None)
    if identity.get("sub"):
        groups = identity.get("groups") or identity.get("claims", {}).get("cognito:groups") or []
        return Principal(str(identity["sub"]), admin=ADMINS_GROUP in groups)
    if identity.get("userArn"):
        return Principal(str(identity["userArn"]))
    return Principal(None)
