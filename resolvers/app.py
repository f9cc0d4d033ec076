"""The AppSync Lambda resolver's entry point: `resolvers.app.handler`.

AppSync (or the local emulator) invokes it with a direct-Lambda-resolver event for one field.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from resolvers import files, shares, stats, uploads

logger = Logger()
tracer = Tracer()
metrics = Metrics()

app = AppSyncResolver()
app.include_router(files.router)
app.include_router(uploads.router)
app.include_router(shares.router)
app.include_router(stats.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPSYNC_RESOLVER)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)  # queries add none; uploads do
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return app.resolve(event, context)
