"""Who owns what: the owner id of the caller AppSync describes in a resolver event's `identity`.

API-key callers share one public space (owner None); a Cognito user owns by `sub`; an IAM
principal by its ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def owner_of(identity: Mapping[str, Any] | None) -> str | None:
    if not identity:
        return None
    if identity.get("sub"):
        return str(identity["sub"])
    if identity.get("userArn"):
        return str(identity["userArn"])
    return None
