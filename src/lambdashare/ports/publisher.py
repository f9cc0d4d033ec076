"""Tells AppSync a file reached a final state, so it fans the change out to subscribers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Publisher(Protocol):
    def publish(self, file: Mapping[str, Any]) -> None:
        """Run the `publishFileHashed` mutation with the file's GraphQL fields."""
        ...
