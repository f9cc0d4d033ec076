"""Mutation.requestUpload: a PENDING file and a presigned request to send its bytes with."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.graphql_appsync.router import Router
from aws_lambda_powertools.metrics import MetricUnit

from lambdashare.domain import files
from resolvers._context import caller, ports

router = Router()
metrics = Metrics()


@router.resolver(type_name="Mutation", field_name="requestUpload")
def request_upload(input: dict[str, Any]) -> dict[str, Any]:
    p = ports()
    ticket = files.request_upload(
        p.table,
        p.blobs,
        name=input["name"],
        size=input["size"],
        content_type=input.get("contentType"),
        sha256=input.get("sha256"),
        owner=caller(router).owner,
        expires_in=p.settings.upload_expires,
        max_size=p.settings.max_upload_size,
        pending_grace=p.settings.pending_grace,
    )
    metrics.add_metric(name="UploadsRequested", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesRequested", unit=MetricUnit.Bytes, value=ticket["file"]["size"])
    return ticket
