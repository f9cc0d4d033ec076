"""`POST /graphql` as AppSync serves it, and `GET /graphql` as a GraphQL explorer.

Parses the request, authenticates the caller, runs the schema and renders AppSync's shapes:
400 `MalformedHttpRequestException` for an unusable body, 401 `UnauthorizedException` for bad
credentials, 200 with `errors[]` for everything GraphQL itself reports.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from lambdashare.emulator.auth import RequestUnauthorizedError
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.errors import UNAUTHORIZED_MESSAGE, request_error, to_appsync_error
from lambdashare.emulator.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
#: Subscriptions are served on the WebSocket only.
HTTP_OPERATIONS = (OperationType.QUERY, OperationType.MUTATION)


def lowercase_headers(request: Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


async def graphql_post(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    if not body:
        return request_error(400, "MalformedHttpRequestException", "Request body is empty.")
    if len(body) > MAX_BODY_BYTES:
        return request_error(413, "PayloadTooLargeException", "Request body is larger than AppSync accepts.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python parses
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("query"), str)
        or not payload["query"].strip()
        or not isinstance(payload.get("variables") or {}, dict)
        or not isinstance(payload.get("operationName") or "", str)
    ):
        return request_error(400, "MalformedHttpRequestException", "Unable to parse GraphQL query.")

    headers = lowercase_headers(request)
    try:
        caller = runtime.authenticator.authenticate(
            headers,
            method="POST",
            url=str(request.url),
            body=body,
            source_ip=request.client.host if request.client else None,
        )
    except RequestUnauthorizedError as exc:
        logger.info("refused %s: %s", request.url.path, exc.detail)
        message = UNAUTHORIZED_MESSAGE if exc.error_type == "UnauthorizedException" else exc.detail
        return request_error(401, "UnauthorizedException", message)

    if payload.get("operationName") is None and _operation_count(payload["query"]) > 1:
        # strawberry would run the first; GraphQL (and AppSync) require the choice to be named
        return _error_only(None, "Must provide operation name if query contains multiple operations.")
    context = runtime.request_context(caller, headers, RequestContext)
    try:
        result = await runtime.schema.execute(
            payload["query"],
            variable_values=payload.get("variables"),
            context_value=context,
            operation_name=payload.get("operationName"),
            allowed_operation_types=HTTP_OPERATIONS,
        )
    except InvalidOperationTypeError:
        return _error_only("UnsupportedOperation", "Subscriptions are only supported over the realtime channel.")
    except CannotGetOperationTypeError:
        return _error_only(None, "Unknown or ambiguous operation: name the operation to run with operationName.")
    response: dict[str, Any] = {"data": result.data}
    errors = [to_appsync_error(error) for error in result.errors or ()] + context.appended_errors
    if errors:
        response["errors"] = errors
    return JSONResponse(response)


@lru_cache(maxsize=512)
def _operation_count(query: str) -> int:
    """How many operations a document defines; 0 when it does not parse (execution reports that)."""
    try:
        document = parse(query)
    except GraphQLError:
        return 0
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _error_only(error_type: str | None, message: str) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"errorType": error_type, "message": message}]})


async def graphql_explorer(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    local = request.client is not None and request.client.host in ("127.0.0.1", "::1", "localhost")
    return HTMLResponse(explorer_html(runtime.config.api_key if local else None))


#: The page that loads the explorer bundle `make web` builds into web/dist (GraphiQL, React and graphql-ws
#: from npm, no CDN); the headers it sends on HTTP and in `connection_init` are embedded as JSON.
EXPLORER_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>lambdashare GraphQL explorer</title>
  <link rel="stylesheet" href="/web/dist/explorer.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading the explorer… (its files come from web/dist: run <code>make web</code>)</div>
  <script id="explorer-config" type="application/json">CONFIG</script>
  <script type="module" src="/web/dist/explorer.js"></script>
</body>
</html>
"""


@lru_cache(maxsize=2)
def explorer_html(api_key: str | None) -> str:
    """GraphiQL, pre-filled with the API key for callers on this machine (HTTP and subscriptions)."""
    config = json.dumps({"headers": {"x-api-key": api_key} if api_key else {}})
    # inside <script>, "</" would end the element: JSON's \u003c escape keeps it data
    return EXPLORER_PAGE.replace("CONFIG", config.replace("<", "\\u003c"))
