"""The analytics function's entry point: `functions.analytics.app.handler`, for FilesTable's stream and the rollup.

Not responsible for the figures (see `lambdashare.domain.analytics`): it tells the two events apart, runs
stream batches through Powertools' batch processor (failed records are reported, the rest kept) and wires ports.
Spec: https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdashare.backends import ports_from_env, stats_store_from_env
from lambdashare.domain.analytics import increments_of, rollup

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

#: A counted record's marker outlives the stream's 24 h retention: no redelivery can come after it is gone.
MARKER_LIFETIME_S = 25 * 3600
ROLLUP_JOB = "rollup"
#: Days before yesterday each rollup run rolls up again.
REROLLED_DAYS = 2


class UnknownEventError(ValueError):
    """An event that is neither a stream batch nor the rollup schedule's."""


def count_record(record: DynamoDBRecord) -> None:
    """Add one stream record's counters, once: a redelivered record finds its marker and adds nothing."""
    increments = increments_of(record, ports_from_env().table)
    if not increments:
        metrics.add_metric(name="RecordsWithoutFigures", unit=MetricUnit.Count, value=1)
        return
    if record.event_id is None:
        raise ValueError("A stream record without an eventID cannot be counted exactly once.")
    added = stats_store_from_env().add_once(
        record.event_id, increments, marker_expires=int(time.time()) + MARKER_LIFETIME_S
    )
    metrics.add_metric(name="RecordsCounted" if added else "RecordsAlreadyCounted", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    if "Records" in event:
        return process_partial_response(event=event, record_handler=count_record, processor=processor, context=context)
    if event.get("job") == ROLLUP_JOB:
        return roll_up_yesterday(event)
    raise UnknownEventError(
        "Expected a DynamoDB stream batch ('Records') or the rollup schedule's input "
        f"({{'job': '{ROLLUP_JOB}', 'scheduledTime': ...}}); got an event with keys {sorted(event)}."
    )


def roll_up_yesterday(event: dict[str, Any]) -> dict[str, Any]:
    """Roll up the UTC day before the schedule's `scheduledTime` (not the clock's: a retried or late run
    still rolls up the day it was meant for), and again the `REROLLED_DAYS` before it, so records counted
    late (stream lag, retries) and a run that failed are caught up (a rollup is idempotent)."""
    try:
        scheduled = datetime.fromisoformat(str(event["scheduledTime"]))
    except (KeyError, ValueError) as exc:
        raise UnknownEventError(f"The rollup event needs an ISO 8601 'scheduledTime': {exc}") from None
    if scheduled.tzinfo is None:
        raise UnknownEventError(f"The rollup event's scheduledTime {event['scheduledTime']!r} has no time zone.")
    day = scheduled.astimezone(UTC).date() - timedelta(days=1)
    retention_days = ports_from_env().settings.stats_retention_days
    for back in range(REROLLED_DAYS, 0, -1):
        rollup(stats_store_from_env(), day - timedelta(days=back), retention_days)
    summary = rollup(stats_store_from_env(), day, retention_days)
    logger.info("day rolled up", extra={"summary": summary})
    for name, unit in (
        ("uploads", MetricUnit.Count),
        ("bytes", MetricUnit.Bytes),
        ("hashed", MetricUnit.Count),
        ("failed", MetricUnit.Count),
        ("duplicates", MetricUnit.Count),
        ("deleted", MetricUnit.Count),
        ("spaces", MetricUnit.Count),
    ):
        metrics.add_metric(name=f"Daily{name.title()}", unit=unit, value=summary[name])
    for name, value in (summary["latency"] or {}).items():
        metrics.add_metric(name=f"DailyLatency{name.upper()}", unit=MetricUnit.Milliseconds, value=value)
    if summary["throughput"] is not None:
        metrics.add_metric(name="DailyThroughput", unit=MetricUnit.BytesPerSecond, value=summary["throughput"])
    return summary
