"""Everything one emulator process holds: the schema, the functions, the broker, the queue.

Built once at start-up from `EmulatorConfig`; the HTTP and WebSocket endpoints reach it through
`app.state.runtime`. Not responsible for wire formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.http.ides import get_graphql_ide_html

from lambdashare.adapters.local.event_queue import SqliteEventQueue
from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.api.schema import AppSyncSchema, schema
from lambdashare.emulator.auth import API_KEY, Authenticator, Caller
from lambdashare.emulator.config import EmulatorConfig
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.dispatcher import Dispatcher
from lambdashare.emulator.identity_provider import UserPool
from lambdashare.emulator.lambda_runtime import InProcessFunction, WorkerPoolFunction
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.schema_export import appsync_sdl

if TYPE_CHECKING:
    from lambdashare.emulator.transport_ws import GraphQLTransportWsView

RESOLVER = "ResolverFunction"
HASHER = "HasherFunction"
#: The API's default auth mode; other modes must be named by directives.
DEFAULT_AUTH_MODE = API_KEY


class Runtime:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        environ = config.function_environ()
        os.environ.update(environ)  # the in-process resolver reads its settings at cold start, as in Lambda
        self.schema: AppSyncSchema = schema
        self.rules = SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)
        self.user_pool = UserPool.load_or_create(config.data_dir, config.region)
        self.authenticator = Authenticator(
            api_key=config.api_key,
            access_key_id=config.access_key_id,
            secret_access_key=config.secret_access_key,
            region=config.region,
            user_pool=self.user_pool,
            api_key_expires=config.api_key_expires,
        )
        self.broker = Broker()
        self.blobs = FileBlobStore(
            config.data_dir, bucket="local", public_url=config.public_url, secret=config.secret
        )
        self.resolver = InProcessFunction(RESOLVER, "resolvers.app.handler")
        self.hasher = WorkerPoolFunction(
            HASHER, "functions.hasher.app.handler", environ=environ, workers=config.hash_workers
        )
        self.dispatcher = Dispatcher(SqliteEventQueue(config.data_dir), {HASHER: self.hasher})

    @cached_property
    def transport_ws(self) -> GraphQLTransportWsView:
        from lambdashare.emulator.transport_ws import GraphQLTransportWsView

        return GraphQLTransportWsView(self)

    def request_context(self, caller: Caller, headers: Mapping[str, str]) -> RequestContext:
        return RequestContext(
            caller=caller, headers=headers, resolver=self.resolver, broker=self.broker, rules=self.rules
        )

    @cached_property
    def _explorer_template(self) -> str:
        return get_graphql_ide_html("graphiql")

    def explorer_html(self, *, with_api_key: bool) -> str:
        """GraphiQL, pre-filled with the API key for callers on this machine (HTTP and subscriptions)."""
        headers = json.dumps({"x-api-key": self.config.api_key} if with_api_key else {})
        return self._explorer_template.replace(
            "const defaultHeaders = {};", f"const defaultHeaders = {headers};"
        ).replace(
            "subscriptionUrl,\n", "subscriptionUrl,\n        wsConnectionParams: defaultHeaders,\n"
        ).replace(
            "const [headers, setHeaders] = React.useState(parameters.headers);",
            "const [headers, setHeaders] = React.useState(parameters.headers || JSON.stringify(defaultHeaders));",
        )

    async def start(self) -> None:
        await self.dispatcher.resume()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        self.hasher.close()
        self.resolver.close()
