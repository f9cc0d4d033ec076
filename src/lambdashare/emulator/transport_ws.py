"""The standard `graphql-transport-ws` protocol, for GraphiQL and generic GraphQL clients.

strawberry speaks the protocol; this only authenticates `connection_init`, whose payload carries
the same headers AppSync takes (`{"x-api-key": …}`, `{"Authorization": …}`, or SigV4 headers
signed like AppSync's connect request); without them, the upgrade request's own headers count.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from json import JSONDecodeError
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types.unset import UnsetType

from lambdashare.api.schema import AppSyncSchema
from lambdashare.emulator.auth import Caller, RequestUnauthorizedError
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.errors import UNAUTHORIZED_MESSAGE, field_error
from lambdashare.emulator.reload import request_errors
from lambdashare.emulator.runtime import Runtime

#: Until connection_init is authenticated, no auth mode is allowed on any field.
NOT_AUTHENTICATED = Caller("NONE", None)


class TransportWsContext(RequestContext):
    """A field's failure travels as a GraphQLError whose extensions are AppSync's error fields, which
    the handler then puts where AppSync puts them (strawberry formats errors itself on this protocol)."""

    connection_params: dict[str, Any] | None = None
    upgrade_headers: dict[str, str]

    async def resolve(self, info: strawberry.Info) -> Any:
        try:
            return await super().resolve(info)
        except Exception as exc:
            raise _appsync_error(exc) from exc

    async def subscribe(self, info: strawberry.Info) -> AsyncIterator[Any]:
        try:
            return await super().subscribe(info)
        except Exception as exc:
            raise _appsync_error(exc) from exc


def _appsync_error(exc: Exception) -> GraphQLError:
    fields = field_error(exc)
    return GraphQLError(fields["message"], original_error=exc, extensions={_APPSYNC: fields})


#: The extensions key that carries AppSync's error fields from the context to the handler.
_APPSYNC = "appsync"


def _in_appsync_shape(error: Any) -> Any:
    """`{message, locations, path, extensions: {appsync: {...}}}` -> AppSync's `{path, data, errorType, ...}`."""
    fields = error.get("extensions", {}).get(_APPSYNC) if isinstance(error, dict) else None
    if fields is None:
        return error
    return {"path": error.get("path"), **fields, "locations": error.get("locations", [])}


class _TransportWsHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle(self) -> None:
        runtime: Runtime = self.view.runtime  # type: ignore[attr-defined]
        runtime.reload_listeners.add(self.recheck_operations)
        try:
            await super().handle()
        finally:
            runtime.reload_listeners.discard(self.recheck_operations)

    async def recheck_operations(self) -> None:
        """After a reload: this connection's next operations run the new schema, and a subscription it no
        longer allows ends with an `error` message naming why (as its `subscribe` would now get one)."""
        schema: AppSyncSchema = self.view.runtime.schema  # type: ignore[attr-defined]
        self.schema = schema
        for operation in list(self.operations.values()):
            request = {"query": operation.query, "variables": operation.variables}
            errors = request_errors(schema, {**request, "operationName": operation.operation_name})
            if errors:
                task = operation.task
                await operation.send_initial_errors(errors)  # forgets the id: no result follows
                if task is not None:
                    task.cancel()  # which unsubscribes

    async def send_message(self, message: Any) -> None:
        """Field errors in AppSync's shape (see TransportWsContext)."""
        payload = message.get("payload")
        if message.get("type") == "error" and isinstance(payload, list):
            message = {**message, "payload": [_in_appsync_shape(e) for e in payload]}
        elif message.get("type") == "next" and isinstance(payload, dict) and payload.get("errors"):
            errors = [_in_appsync_shape(e) for e in payload["errors"]]
            message = {**message, "payload": {**payload, "errors": errors}}
        await super().send_message(message)

    async def handle_message(self, message: Any) -> None:
        """strawberry trusts a message's shape: anything it would crash on is an invalid message (close
        4400), not a dropped connection."""
        if not _well_formed(message):
            await self.handle_invalid_message("Failed to parse message")
            return
        await super().handle_message(message)


def _well_formed(message: Any) -> bool:
    """An object whose type is encodable text; for subscribe/complete a string id; for subscribe a
    payload object with a string query."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    try:
        message["type"].encode()
    except UnicodeEncodeError:  # a lone surrogate: not text a close reason can carry
        return False
    if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return False
    if message["type"] == "subscribe":
        payload = message.get("payload")
        return isinstance(payload, dict) and isinstance(payload.get("query"), str)
    return True


class GraphQLTransportWsView(GraphQL[TransportWsContext, None]):
    graphql_transport_ws_handler_class = _TransportWsHandler

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            runtime.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.runtime = runtime
        runtime.reload_listeners.add(self._serve_reloaded_schema)

    async def _serve_reloaded_schema(self) -> None:
        """Connections opened after a reload run the new schema."""
        self.schema = self.runtime.schema

    def decode_json(self, data: str | bytes) -> object:
        """JSON nested too deep to parse is not JSON either (strawberry then closes with 4400)."""
        try:
            return super().decode_json(data)
        except RecursionError:
            raise JSONDecodeError("nested too deeply", data if isinstance(data, str) else "", 0) from None

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> TransportWsContext:
        context = self.runtime.request_context(NOT_AUTHENTICATED, {}, TransportWsContext)
        context.upgrade_headers = {k.lower(): v for k, v in request.headers.items()}
        return context

    async def on_ws_connect(self, context: TransportWsContext) -> UnsetType | dict[str, object] | None:
        params = {str(k).lower(): str(v) for k, v in (context.connection_params or {}).items()}
        headers = params if {"x-api-key", "authorization"} & params.keys() else context.upgrade_headers
        host = headers.get("host") or context.upgrade_headers.get("host", "localhost")
        try:
            context.caller = self.runtime.authenticator.authenticate(
                headers, method="POST", url=f"https://{host}/graphql/connect", body=b"{}", source_ip=None
            )
        except RequestUnauthorizedError:
            raise ConnectionRejectionError(
                {"errorType": "UnauthorizedException", "message": UNAUTHORIZED_MESSAGE}
            ) from None
        return None
