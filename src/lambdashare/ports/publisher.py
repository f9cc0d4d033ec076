"""Tells AppSync a file reached a final state, or how far its hash has got, so it fans it out to subscribers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Publisher(Protocol):
    def publish(self, file: Mapping[str, Any]) -> None:
        """Run the `publishFileHashed` mutation with the file's GraphQL fields."""
        ...

    def publish_progress(self, progress: Mapping[str, Any]) -> None:
        """Run the `publishFileProgress` mutation (`id`, `hashedBytes`, `size`, `owner`); one attempt."""
        ...
