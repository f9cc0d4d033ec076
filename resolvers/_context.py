"""What every router needs: the ports (built once per cold start) and who is calling."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.backends import Ports, ports_from_env
from lambdashare.domain.identity import Principal, principal_of


def ports() -> Ports:
    return ports_from_env()


def caller(router: Router) -> Principal:
    event = router.current_event
    assert event is not None
    return principal_of(event.get("identity"))


def selects(router: Router, field: str) -> bool:
    event = router.current_event
    assert event is not None
    return field in event.info.selection_set_list
