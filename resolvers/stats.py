"""Query.stats."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.domain.stats import read_stats
from resolvers._context import caller, ports

router = Router()


@router.resolver(type_name="Query", field_name="stats")
def stats(days: int | None = None, everyone: bool | None = None) -> dict[str, Any]:
    return read_stats(ports().stats, caller(router), days=days, everyone=everyone)
