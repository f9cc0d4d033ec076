"""The emulator's routing table: path -> endpoint, as data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from lambdashare.emulator.cognito_http import cognito_idp_post, cognito_idp_preflight
from lambdashare.emulator.graphql_http import graphql_explorer, graphql_post
from lambdashare.emulator.realtime import SUBPROTOCOL, RealtimeHandler
from lambdashare.emulator.runtime import Runtime
from lambdashare.emulator.storage import complete_multipart, get_object, put_object
from lambdashare.emulator.web import WEB_DIR


async def realtime(websocket: WebSocket) -> None:
    """Pick the protocol by the offered subprotocol, as DESIGN.md fixes it."""
    runtime: Runtime = websocket.app.state.runtime
    offered = websocket.scope.get("subprotocols", [])
    if SUBPROTOCOL in offered:
        await RealtimeHandler(websocket, runtime).handle()
    elif "graphql-transport-ws" in offered:
        await websocket.app.state.transport_ws(websocket.scope, websocket.receive, websocket.send)
    else:
        await websocket.accept()
        await websocket.send_json(
            {
                "type": "connection_error",
                "payload": {"errors": [{"message": "SubProtocolNotSupportedError", "errorCode": 400}]},
            }
        )
        await websocket.close(1002)


async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(
        {
            "status": "ok",
            "subscribers": runtime.broker.subscriber_count,
            "invocationsInFlight": runtime.dispatcher.in_flight,
        }
    )


async def jwks(request: Request) -> Response:
    """The local user pool's public keys, where Cognito publishes them: <issuer>/.well-known/jwks.json."""
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(runtime.user_pool.jwks())


async def web_config(request: Request) -> Response:
    """What the web app needs to reach the API and the user pool (Amplify's `userPoolEndpoint`); the API key
    only for a browser on this machine (as the explorer)."""
    runtime: Runtime = request.app.state.runtime
    config = runtime.config
    local = request.client is not None and request.client.host in ("127.0.0.1", "::1", "localhost")
    return JSONResponse(
        {
            "graphqlUrl": f"{config.public_url}/graphql",
            "realtimeUrl": f"{config.public_url.replace('http', 'ws', 1)}/graphql/realtime",
            "userPoolId": runtime.user_pool.pool_id,
            "userPoolClientId": runtime.user_pool.client_id,
            "userPoolEndpoint": f"{config.public_url}/cognito-idp/",
            "apiKey": config.api_key if local else None,
        },
        headers={"cache-control": "no-store"},
    )


async def index(request: Request) -> Response:
    return FileResponse(WEB_DIR / "index.html")


ROUTES = [
    Route("/graphql", graphql_post, methods=["POST"]),
    Route("/graphql", graphql_explorer, methods=["GET"]),
    WebSocketRoute("/graphql", realtime),
    WebSocketRoute("/graphql/realtime", realtime),
    Route("/_storage/{bucket}/{key:path}", put_object, methods=["PUT"]),
    Route("/_storage/{bucket}/{key:path}", get_object, methods=["GET"]),
    Route("/_storage/{bucket}/{key:path}", complete_multipart, methods=["POST"]),
    Route("/cognito-idp/", cognito_idp_post, methods=["POST"]),
    Route("/cognito-idp", cognito_idp_post, methods=["POST"]),
    Route("/cognito-idp/", cognito_idp_preflight, methods=["OPTIONS"]),
    Route("/cognito-idp", cognito_idp_preflight, methods=["OPTIONS"]),
    Route("/healthz", healthz),
    Route("/{pool_id}/.well-known/jwks.json", jwks),
    Route("/", index),
    Route("/config.json", web_config),
    # only the bundle `make web` builds: web/'s sources, package files and node_modules are not served
    Mount("/web/dist", StaticFiles(directory=WEB_DIR / "dist", check_dir=False), name="web"),
]
