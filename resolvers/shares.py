"""Mutation.shareFile, Mutation.revokeShare, Query.sharedFile."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.domain import shares
from resolvers._context import caller, ports

router = Router()


@router.resolver(type_name="Mutation", field_name="shareFile")
def share_file(id: str, expiresIn: int | None = None) -> dict[str, Any]:
    return shares.share_file(ports().table, id, caller(router), expiresIn)


@router.resolver(type_name="Mutation", field_name="revokeShare")
def revoke_share(token: str) -> bool:
    return shares.revoke_share(ports().table, token, caller(router))


@router.resolver(type_name="Query", field_name="sharedFile")
def shared_file(token: str) -> dict[str, Any] | None:
    p = ports()
    return shares.shared_file(p.table, p.blobs, token, p.settings.download_expires)
