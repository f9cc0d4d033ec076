"""Analytics counters: integers per UTC day and owner space, each stream record added exactly once.

Not responsible for what the counters mean (see `lambdashare.domain.analytics`): a store adds,
reads and prunes named integers, and remembers which stream records it has added.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

#: The space of API-key (anonymous) files, whose owner is None; a signed-in user's space is their
#: owner id (Cognito `sub`, or an IAM ARN).
PUBLIC_SPACE = "#public"
#: Every space added together: what admins may ask for.
ALL_SPACES = "#all"

#: (day as "YYYY-MM-DD" in UTC, space) -> counter name -> amount to add.
Increments = Mapping[tuple[str, str], Mapping[str, int]]


class StatsStore(Protocol):
    def add_once(self, event_id: str, increments: Increments, *, marker_expires: int) -> bool:
        """Add every increment and remember `event_id` until `marker_expires` (epoch seconds), all in
        one transaction. If `event_id` is remembered already, change nothing and return False."""
        ...

    def counters(self, space: str, days: Collection[str]) -> dict[str, dict[str, int]]:
        """The counters of `space` on each of `days`; a day without any is absent."""
        ...

    def day_spaces(self, day: str) -> dict[str, dict[str, int]]:
        """Every space's counters on `day`, by space (ALL_SPACES included): what a rollup reads."""
        ...

    def put_summary(self, day: str, summary: Mapping[str, Any]) -> None:
        """Store (or replace) the rollup of `day`."""
        ...

    def summaries(self, days: Collection[str]) -> dict[str, dict[str, Any]]:
        """The rollups of those of `days` that have one."""
        ...

    def prune_before(self, day: str) -> int:
        """Delete every day's counters and summary before `day`; how many items went."""
        ...
