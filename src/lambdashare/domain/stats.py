"""The `stats` query: which space's figures a caller may read, and over how many days.

Not responsible for the figures themselves (see `lambdashare.domain.analytics`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from lambdashare.domain.analytics import space_of, window_stats
from lambdashare.domain.errors import Unauthorized, ValidationError
from lambdashare.domain.identity import Principal
from lambdashare.ports.stats_store import ALL_SPACES, StatsStore

DEFAULT_DAYS = 30
MAX_DAYS = 366


def space_for(caller: Principal, *, everyone: bool) -> str:
    """A signed-in caller's own space, the anonymous space for an API key, every space for an admin
    who asks for it."""
    if everyone:
        if not caller.admin:
            raise Unauthorized("Only members of the admins group may read everyone's stats.")
        return ALL_SPACES
    return space_of(caller.owner)


def read_stats(
    store: StatsStore, caller: Principal, *, days: int | None, everyone: bool | None, today: date | None = None
) -> dict[str, Any]:
    window = DEFAULT_DAYS if days is None else days
    if not 1 <= window <= MAX_DAYS:
        raise ValidationError(f"days must be between 1 and {MAX_DAYS}, not {window}.")
    space = space_for(caller, everyone=bool(everyone))
    return window_stats(store, space, window, today or datetime.now(UTC).date())
