"""AppSync real-time WebSocket protocol for the local emulator.

Wire format only: subscription state lives in the broker, auth in the authenticator. A publication is
rendered (executed against the subscription's document, then JSON-encoded) once for all subscriptions
with the same document and variables, so fan-out to N subscribers costs about N socket writes.
Spec: https://docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Hashable, Mapping
from typing import Any
from urllib.parse import unquote

from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from lambdashare.emulator.auth import Caller, RequestUnauthorizedError
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.errors import UNAUTHORIZED_MESSAGE, to_appsync_error
from lambdashare.emulator.pubsub import Publication, Subscriber
from lambdashare.emulator.realtime_messages import ErrorEntry, Message, StartMessage
from lambdashare.emulator.reload import request_errors
from lambdashare.emulator.runtime import Runtime

logger = logging.getLogger(__name__)

SUBPROTOCOL = "graphql-ws"
CONNECTION_TIMEOUT_MS = 300_000
MAX_SUBSCRIPTIONS = 100
WS_1000_NORMAL = 1000
#: AppSync's limit on one subscription message.
MAX_PAYLOAD_BYTES = 240 * 1024
#: How long a refused connection waits for the client's first message before it answers anyway.
REFUSAL_WAIT_S = 5


_INVALID = object()


def _json(text: str | bytes) -> Any:
    """The JSON value of `text`, or `_INVALID`: not JSON, or nested too deep for the parser."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


def _b64_json(text: str) -> dict[str, Any] | None:
    """Decode a base64 or base64url header object, padded or not."""
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    value = _json(raw)
    return value if isinstance(value, dict) else None


def connection_header(websocket: WebSocket) -> dict[str, str]:
    """The auth header object: `header-` subprotocol, then `?header=`, then the upgrade's HTTP headers."""
    for offered in websocket.scope.get("subprotocols", []):
        if offered.startswith("header-") and (value := _b64_json(offered[len("header-") :])) is not None:
            return {str(k).lower(): str(v) for k, v in value.items()}
    for part in websocket.scope.get("query_string", b"").decode("latin-1").split("&"):
        name, _, raw = part.partition("=")
        # gql does not URL-encode its base64, so '+' must survive: unquote, never unquote_plus
        if name == "header" and (value := _b64_json(unquote(raw))) is not None:
            return {str(k).lower(): str(v) for k, v in value.items()}
    return {name.lower(): value for name, value in websocket.headers.items()}


Results = AsyncGenerator[Any, None]  # strawberry's ExecutionResults


class RealtimeContext(RequestContext):
    """strawberry runs the subscription up to its broker registration; the handler then reads the broker's
    subscriber itself (strawberry's stream only ends with it), so each publication is rendered once per
    distinct (document, variables) rather than once per subscriber."""

    subscriber: Subscriber | None = None

    async def subscribe(self, info: Any) -> AsyncIterator[Any]:
        events = await super().subscribe(info)
        assert isinstance(events, Subscriber)
        self.subscriber = events
        return events.held()


def render_key(request: Mapping[str, Any]) -> Hashable:
    """What a publication's rendering depends on besides the publication: the document, its variables and
    the operation. Fields below the subscription field read the payload only (no resolver, no auth)."""
    variables = json.dumps(request.get("variables") or None, sort_keys=True)
    return request["query"], variables, request.get("operationName")


class Subscription:
    """A live subscription: its request, its result stream (registered with the broker), the pending read
    of its first result, and the task sending results."""

    __slots__ = ("first", "id", "request", "results", "task")

    def __init__(
        self,
        subscription_id: str,
        request: Mapping[str, Any],
        results: Results,
        first: asyncio.Task[Any],
        task: asyncio.Task[None],
    ) -> None:
        self.id = subscription_id
        self.request = request
        self.results = results
        self.first = first
        self.task = task

    async def close(self) -> None:
        """Stop reading and sending, then close the stream: this unsubscribes even if nothing ran yet."""
        self.task.cancel()
        self.first.cancel()
        await asyncio.gather(self.task, self.first, return_exceptions=True)
        await self.results.aclose()


class RealtimeHandler:
    """One AppSync real-time connection.

    How AppSync's `graphql-ws` differs from Apollo's protocol of the same name:
    - auth comes as a header object: a `header-<base64url>` subprotocol, or `?header=<base64>&payload=e30=`,
      or plain HTTP headers; each `start` carries its own in `payload.extensions.authorization`;
    - `connection_ack` carries `connectionTimeoutMs`, and keep-alives are `ka` messages;
    - `start.payload.data` is a JSON *string*, and `start` is answered by `start_ack`;
    - errors not tied to a subscription are `error` messages without an `id`;
    - only subscriptions run here: queries and mutations go over HTTP.
    """

    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.caller: Caller | None = None
        self.acknowledged = False
        self.subscriptions: dict[str, Subscription] = {}
        self._send_lock = asyncio.Lock()
        self._keep_alive: asyncio.Task[None] | None = None

    @property
    def _api_host(self) -> str:
        return self.websocket.headers.get("host", "localhost")

    async def handle(self) -> None:
        await self.websocket.accept(subprotocol=SUBPROTOCOL)
        try:
            self.caller = self._authenticate(connection_header(self.websocket), "/graphql/connect", b"{}")
        except RequestUnauthorizedError as exc:
            logger.info("refused a real-time connection: %s", exc.detail)
            # answer the client's first message (its connection_init), so a client that writes
            # before it reads sees the error rather than a closed socket
            with contextlib.suppress(TimeoutError, WebSocketDisconnect):
                await asyncio.wait_for(self.websocket.receive(), REFUSAL_WAIT_S)
            await self.send(
                {
                    "type": "connection_error",
                    "payload": {
                        "errors": [
                            {
                                "errorType": "UnauthorizedException",
                                "message": UNAUTHORIZED_MESSAGE,
                                "errorCode": 401,
                            }
                        ]
                    },
                }
            )
            with contextlib.suppress(RuntimeError):
                await self.websocket.close(WS_1000_NORMAL)
            return
        self.runtime.reload_listeners.add(self.recheck_subscriptions)
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: not something this protocol has
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                await self.handle_message(text)
        except WebSocketDisconnect:
            pass
        finally:
            await self.cleanup()

    def _authenticate(self, header: Mapping[str, Any], path: str, body: bytes) -> Caller:
        lowered = {str(k).lower(): str(v) for k, v in header.items()}
        host = lowered.get("host") or self._api_host
        client = self.websocket.client
        return self.runtime.authenticator.authenticate(
            lowered,
            method="POST",
            url=f"https://{host}{path}",
            body=body,
            source_ip=client.host if client else None,
        )

    async def send(self, message: Message) -> None:
        await self.send_text(json.dumps(message, separators=(",", ":")), data=message["type"] == "data")

    async def send_text(self, text: str, *, data: bool = False) -> None:
        """Send one encoded message; a `data` message over AppSync's size limit is dropped."""
        size = len(text.encode()) if data else 0
        if size > MAX_PAYLOAD_BYTES:
            # AppSync drops a subscription message over its limit without telling the client
            logger.warning("dropped a %d-byte subscription message (limit %d)", size, MAX_PAYLOAD_BYTES)
            return
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.send_text(text)

    async def send_error(
        self, entries: list[ErrorEntry] | list[dict[str, Any]], subscription_id: str | None = None
    ) -> None:
        if subscription_id is None:
            await self.send({"type": "error", "payload": {"errors": entries}})
        else:
            await self.send({"type": "error", "id": subscription_id, "payload": {"errors": entries}})

    async def handle_message(self, text: str) -> None:
        message = _json(text)
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.send_error(
                [
                    {
                        "errorType": "UnsupportedOperation",
                        "message": "Message is not a JSON object with a type.",
                    }
                ]
            )
            return
        kind = message["type"]
        if kind == "connection_init":
            await self.handle_connection_init()
        elif kind == "start":
            await self.handle_connection_init()  # a client may skip connection_init
            await self.handle_start(message)  # type: ignore[arg-type]
        elif kind == "stop":
            await self.handle_stop(message.get("id"))
        else:
            await self.send_error(
                [
                    {
                        "errorType": "UnsupportedOperation",
                        "message": f"{kind} not supported through the realtime channel",
                    }
                ]
            )

    async def handle_connection_init(self) -> None:
        if self.acknowledged:
            return
        self.acknowledged = True
        await self.send({"type": "connection_ack", "payload": {"connectionTimeoutMs": CONNECTION_TIMEOUT_MS}})
        self._keep_alive = asyncio.create_task(self._send_keep_alives())

    async def _send_keep_alives(self) -> None:
        while True:
            await self.send({"type": "ka"})
            await asyncio.sleep(self.runtime.config.ka_interval_s)

    async def handle_start(self, message: StartMessage) -> None:
        subscription_id = message.get("id")
        if not isinstance(subscription_id, str) or not subscription_id:
            await self.send_error([{"errorType": "BadRequestException", "message": "A start message needs an id."}])
            return
        if subscription_id in self.subscriptions:
            await self.send_error(
                [
                    {
                        "errorType": "DuplicatedOperationError",
                        "message": f"Duplicated operation with id {subscription_id}",
                    }
                ],
                subscription_id,
            )
            return
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            await self.send_error(
                [
                    {
                        "errorType": "MaxSubscriptionsReachedError",
                        "message": "Max number of 100 subscriptions reached",
                    }
                ],
                subscription_id,
            )
            return
        payload = message.get("payload")
        data_text = payload.get("data") if isinstance(payload, dict) else None
        request = _parse_request(data_text)
        if request is None:
            await self.send_error(
                [
                    {
                        "errorType": "BadRequestException",
                        "message": "payload.data must be a JSON string with a query.",
                    }
                ],
                subscription_id,
            )
            return
        extensions = payload.get("extensions") if isinstance(payload, dict) else None
        authorization = extensions.get("authorization") if isinstance(extensions, dict) else None
        try:
            caller = (
                self._authenticate(authorization, "/graphql", str(data_text).encode())
                if isinstance(authorization, dict)
                else self.caller
            )
        except RequestUnauthorizedError as exc:
            logger.info("refused a subscription: %s", exc.detail)
            message_text = UNAUTHORIZED_MESSAGE if exc.error_type == "UnauthorizedException" else exc.detail
            await self.send_error([{"errorType": exc.error_type, "message": message_text}], subscription_id)
            return
        assert caller is not None
        started = await self._subscribe(request, caller)
        if isinstance(started, list):
            await self.send_error(started, subscription_id)
            return
        # the subscription is registered with the broker already: it is live from start_ack on
        results, first, context = started
        assert context.subscriber is not None
        task = asyncio.create_task(self._stream(subscription_id, context.subscriber, request, context))
        self.subscriptions[subscription_id] = Subscription(subscription_id, request, results, first, task)
        await self.send({"type": "start_ack", "id": subscription_id})

    async def _subscribe(
        self, request: Mapping[str, Any], caller: Caller
    ) -> tuple[Results, asyncio.Task[Any], RealtimeContext] | list[dict[str, Any]]:
        """Run the subscription through the schema until its field has subscribed to the broker, or until
        it fails: so every failure is an `error` with the id, and `start_ack` means live.

        Returns strawberry's stream, its pending read (which ends only when the subscription closes) and
        the context holding the broker's subscriber; or the error entries."""
        context = self.runtime.request_context(caller, {}, RealtimeContext)
        registered = context.subscribed
        results = await self.runtime.schema.subscribe(
            request["query"],
            variable_values=request.get("variables") or None,
            context_value=context,
            operation_name=request.get("operationName"),
        )
        if not isinstance(results, AsyncGenerator):  # older strawberry returns pre-execution errors directly
            return [_start_error(e) for e in getattr(results, "errors", None) or ()] or [_NOT_STARTED]
        first = asyncio.create_task(_next(results))
        signal = asyncio.create_task(registered.wait())
        try:
            await asyncio.wait((first, signal), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            first.cancel()
            raise
        finally:
            signal.cancel()
        if registered.is_set():
            return results, first, context
        # the stream ended, or yielded, before its field subscribed: parsing, validation, auth failed
        try:
            result = first.result()
        except GraphQLError as exc:  # strawberry's parser cache raises syntax errors
            errors = [_start_error(exc)]
        except Exception:
            logger.exception("a subscription failed to start")
            errors = [{"errorType": "InternalFailure", "message": "The subscription could not be started."}]
        else:
            errors = [_start_error(e) for e in getattr(result, "errors", None) or ()]
        await results.aclose()
        return errors or [_NOT_STARTED]

    async def _stream(
        self, subscription_id: str, subscriber: Subscriber, request: Mapping[str, Any], context: RealtimeContext
    ) -> None:
        key = render_key(request)
        prefix = f'{{"type":"data","id":{json.dumps(subscription_id)},"payload":'
        async for publication in subscriber:
            payload = publication.rendered.get(key)
            if payload is None:
                payload = publication.rendered[key] = self._render(publication, request, context)
            await self.send_text(prefix + payload + "}", data=True)

    def _render(self, publication: Publication, request: Mapping[str, Any], context: RealtimeContext) -> str:
        """A `data` message's payload for `publication`: the subscription's selection of it, as JSON.

        Synchronous: below the subscription field every field reads the payload, nothing awaits."""
        result = self.runtime.schema.execute_sync(
            request["query"],
            root_value=publication,
            variable_values=request.get("variables") or None,
            context_value=context,
            operation_name=request.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [_subscription_error(e) for e in result.errors]
        return json.dumps(payload, separators=(",", ":"))

    async def handle_stop(self, subscription_id: object) -> None:
        if not isinstance(subscription_id, str):
            return
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            await subscription.close()  # no data for this id can follow the complete
            await self.send({"type": "complete", "id": subscription_id})

    async def recheck_subscriptions(self) -> None:
        """After a reload: a subscription the new schema no longer allows (its field or an argument is gone,
        a type changed) ends with an `error` naming why, as a `start` of it would now; the others keep
        delivering."""
        for subscription_id, subscription in list(self.subscriptions.items()):
            errors = request_errors(self.runtime.schema, subscription.request)
            if errors and self.subscriptions.pop(subscription_id, None) is not None:
                await subscription.close()
                await self.send_error([_start_error(e) for e in errors], subscription_id)

    async def cleanup(self) -> None:
        self.runtime.reload_listeners.discard(self.recheck_subscriptions)
        if self._keep_alive is not None:
            self._keep_alive.cancel()
        subscriptions = list(self.subscriptions.values())
        self.subscriptions.clear()
        for subscription in subscriptions:
            await subscription.close()


def _parse_request(data: object) -> dict[str, Any] | None:
    if not isinstance(data, str):
        return None
    request = _json(data)
    if not isinstance(request, dict) or not isinstance(request.get("query"), str) or not request["query"].strip():
        return None
    if not isinstance(request.get("variables") or {}, dict):
        return None
    if not isinstance(request.get("operationName") or "", str):
        return None
    return request


async def _next(results: Results) -> Any:
    """The stream's next result, or None at its end."""
    try:
        return await anext(results)
    except StopAsyncIteration:
        return None


_NOT_STARTED = {"message": "The subscription could not be started."}


def _start_error(error: GraphQLError) -> dict[str, Any]:
    """Why a `start` failed, as AppSync says it: operations other than subscriptions are unsupported here."""
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        operation = original.operation_type.value
        message = f"{operation} not supported through the realtime channel"
        return {"errorType": "UnsupportedOperation", "message": message}
    if isinstance(original, (CannotGetOperationTypeError, MissingQueryError)):
        return {"message": error.message}
    return _subscription_error(error)


def _subscription_error(error: GraphQLError) -> dict[str, Any]:
    rendered = to_appsync_error(error)
    return {k: v for k, v in rendered.items() if k in ("errorType", "message", "path", "locations")}
