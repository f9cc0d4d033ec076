"""What every router needs: the ports (built once per cold start) and the caller's owner id."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.domain.identity import owner_of
from lambdashare.wiring import Ports, ports_from_env


def ports() -> Ports:
    return ports_from_env()


def caller(router: Router) -> str | None:
    event = router.current_event
    assert event is not None
    return owner_of(event.get("identity"))


def selects(router: Router, field: str) -> bool:
    event = router.current_event
    assert event is not None
    return field in event.info.selection_set_list
