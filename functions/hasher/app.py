"""The hasher's entry point: `functions.hasher.app.handler`, invoked with S3 notification records.

Not responsible for the rules (see `lambdashare.domain.hash_file`): it unpacks records and wires ports.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdashare.backends import build_publisher, ports_from_env
from lambdashare.domain.hash_file import Outcome, hash_object
from lambdashare.domain.progress import MIN_INTERVAL_S, PROGRESS_STEP
from lambdashare.ports.publisher import Publisher
from lambdashare.settings import positive_float, positive_int, read_config

logger = Logger()
tracer = Tracer()
metrics = Metrics()
#: Seconds kept back from Lambda's timeout to write FAILED and publish it when hashing runs out of time
#: (a tenth of a budget shorter than 300 s).
FINISH_MARGIN_S = 30.0

#: publishFileProgress every this many bytes hashed, and at most once per interval (seconds)
PROGRESS_STEP_ENV = "LAMBDASHARE_PROGRESS_STEP"
PROGRESS_INTERVAL_ENV = "LAMBDASHARE_PROGRESS_INTERVAL"


@cache
def _publisher() -> Publisher:
    return build_publisher(ports_from_env().settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    if not event.get("Records"):  # S3's s3:TestEvent when a notification is configured
        logger.info("ignoring an event without records")
        metrics.add_metric(name="TestEventsIgnored", unit=MetricUnit.Count, value=1)
        return {"outcomes": []}
    ports = ports_from_env()
    # one budget for every record of the event: what Lambda leaves us, less the time to fail cleanly
    remaining_s = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining_s - min(FINISH_MARGIN_S, remaining_s / 10)
    progress_step = read_config(os.environ, PROGRESS_STEP_ENV, positive_int, PROGRESS_STEP)
    progress_interval_s = read_config(os.environ, PROGRESS_INTERVAL_ENV, positive_float, MIN_INTERVAL_S)
    outcomes: list[Outcome] = []
    for record in event.records:
        s3_object = record.s3.get_object
        key = unquote_plus(s3_object.key)
        bucket = record.s3.bucket.name
        outcome = hash_object(
            ports.table,
            ports.blobs,
            _publisher(),
            bucket=bucket,
            key=key,
            uploaded_at=_ms(record.event_time),
            deadline=deadline,
            progress_step=progress_step,
            progress_interval_s=progress_interval_s,
        )
        logger.info(
            "object processed",
            extra={"bucket": bucket, "key": key, "file_id": outcome.file_id, "outcome": outcome.status},
        )
        metrics.add_metric(name="ObjectsReceived", unit=MetricUnit.Count, value=1)
        if outcome.status in ("HASHED", "FAILED"):
            metrics.add_metric(name=f"Files{outcome.status.title()}", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="BytesHashed", unit=MetricUnit.Bytes, value=s3_object.size)
        outcomes.append(outcome)
    return {"outcomes": [{"fileId": o.file_id, "status": o.status} for o in outcomes]}


def _ms(event_time: str) -> str:
    """S3 stamps eventTime to the millisecond already; normalise any other precision to it."""
    head, _, rest = event_time.partition(".")
    millis = (rest.rstrip("Z") + "000")[:3] if rest else "000"
    return f"{head}.{millis}Z"
