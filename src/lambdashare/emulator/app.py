"""The emulator's ASGI application: `uvicorn --factory lambdashare.emulator.app:create_app`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from lambdashare.emulator.config import EmulatorConfig
from lambdashare.emulator.reload import Reloader
from lambdashare.emulator.routes import ROUTES
from lambdashare.emulator.runtime import Runtime
from lambdashare.emulator.transport_ws import GraphQLTransportWsView


def create_app(config: EmulatorConfig | None = None, *, reload: bool = False) -> Starlette:
    """`reload`: serve changes to the template and the code as they are saved (`serve --reload`)."""
    runtime = Runtime(config or EmulatorConfig.from_env())
    reloader = Reloader(runtime) if reload else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        if reloader is not None:
            reloader.start()
        try:
            yield
        finally:
            if reloader is not None:
                await reloader.stop()
            await runtime.stop()

    app = Starlette(routes=ROUTES, lifespan=lifespan)
    app.state.runtime = runtime
    # the one endpoint that holds state of its own (strawberry's view); the others are functions in ROUTES
    app.state.transport_ws = GraphQLTransportWsView(runtime)
    _plain_logs()
    return app


def _plain_logs() -> None:
    """The emulator logs plain lines; Powertools formats the functions' own `lambdashare` logger."""
    emulator_logger = logging.getLogger("lambdashare.emulator")
    if not emulator_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        emulator_logger.addHandler(handler)
        emulator_logger.setLevel(logging.INFO)
        emulator_logger.propagate = False
