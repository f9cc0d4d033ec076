"""The standard `graphql-transport-ws` protocol, for GraphiQL and generic GraphQL clients.

strawberry speaks the protocol; this only authenticates `connection_init`, whose payload carries
the same headers AppSync takes (`{"x-api-key": …}`, `{"Authorization": …}`, or SigV4 headers
signed like AppSync's connect request); without them, the upgrade request's own headers count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from lambdashare.emulator.auth import Caller, UnauthorizedError
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.errors import UNAUTHORIZED_MESSAGE
from lambdashare.emulator.runtime import Runtime

#: Until connection_init is authenticated, no auth mode is allowed on any field.
NOT_AUTHENTICATED = Caller("NONE", None)


class TransportWsContext(RequestContext):
    connection_params: dict[str, Any] | None = None
    upgrade_headers: dict[str, str]


class GraphQLTransportWsView(GraphQL):  # type: ignore[type-arg]
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            runtime.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.runtime = runtime

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> TransportWsContext:
        context = TransportWsContext(
            caller=NOT_AUTHENTICATED, headers={}, resolver=self.runtime.resolver,
            broker=self.runtime.broker, rules=self.runtime.rules,
        )
        context.upgrade_headers = {k.lower(): v for k, v in request.headers.items()}
        return context

    async def on_ws_connect(self, context: TransportWsContext) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        params = {str(k).lower(): str(v) for k, v in (context.connection_params or {}).items()}
        headers = params if {"x-api-key", "authorization"} & params.keys() else context.upgrade_headers
        host = headers.get("host") or context.upgrade_headers.get("host", "localhost")
        try:
            context.caller = self.runtime.authenticator.authenticate(
                headers, method="POST", url=f"https://{host}/graphql/connect", body=b"{}", source_ip=None
            )
        except UnauthorizedError:
            raise ConnectionRejectionError(
                {"errorType": "UnauthorizedException", "message": UNAUTHORIZED_MESSAGE}
            ) from None
        return None
