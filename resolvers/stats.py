"""Query.stats."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.backends import stats_store_from_env
from lambdashare.domain.stats import read_stats
from resolvers._context import caller

router = Router()


@router.resolver(type_name="Query", field_name="stats")
def stats(days: int | None = None, everyone: bool | None = None) -> dict[str, Any]:
    return read_stats(stats_store_from_env(), caller(router), days=days, everyone=everyone)
