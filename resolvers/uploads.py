"""Mutation.requestUpload (a PENDING file and presigned requests for its bytes) and the multipart
fields: Mutation.completeUpload, Mutation.abortUpload, Mutation.resumeUpload, Query.uploadedParts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.graphql_appsync.router import Router
from aws_lambda_powertools.metrics import MetricUnit

from lambdashare.domain import files, multipart
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
        part_size=input.get("partSize"),
    )
    metrics.add_metric(name="UploadsRequested", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesRequested", unit=MetricUnit.Bytes, value=ticket["file"]["size"])
    return ticket


@router.resolver(type_name="Mutation", field_name="completeUpload")
def complete_upload(input: dict[str, Any]) -> dict[str, Any]:
    p = ports()
    record = multipart.complete_upload(p.table, p.blobs, input["id"], input["parts"], caller(router))
    return record.to_graphql()


@router.resolver(type_name="Mutation", field_name="abortUpload")
def abort_upload(id: str) -> dict[str, Any]:
    p = ports()
    return multipart.abort_upload(p.table, p.blobs, id, caller(router)).to_graphql()


@router.resolver(type_name="Mutation", field_name="resumeUpload")
def resume_upload(id: str, numbers: list[int] | None = None) -> dict[str, Any]:
    p = ports()
    expires_in = p.settings.upload_expires
    return multipart.resume_upload(
        p.table,
        p.blobs,
        id,
        caller(router),
        expires_in,
        files.expiry(expires_in),
        pending_grace=p.settings.pending_grace,
        numbers=numbers,
    )


@router.resolver(type_name="Query", field_name="uploadedParts")
def uploaded_parts(id: str) -> list[dict[str, Any]]:
    p = ports()
    return multipart.uploaded_parts(p.table, p.blobs, id, caller(router))
