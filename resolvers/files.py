"""Query.file, Query.files, Query.filesByHash, Query.duplicateCount, Mutation.deleteFile."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.graphql_appsync.router import Router

from lambdashare.domain import files
from lambdashare.domain.model import FileRecord
from resolvers._context import caller, ports, selects

router = Router()


def _view(record: FileRecord, *, download: bool) -> dict[str, Any]:
    if not download:
        return record.to_graphql()
    p = ports()
    return files.with_download(record, p.blobs, p.settings.download_expires)


@router.resolver(type_name="Query", field_name="file")
def get_file(id: str) -> dict[str, Any] | None:
    record = files.get_file(ports().table, id, caller(router))
    return _view(record, download=selects(router, "downloadUrl")) if record else None


@router.resolver(type_name="Query", field_name="files")
def list_files(limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    p = ports()
    records, token = files.list_files(
        p.table, caller=caller(router), limit=limit, next_token=nextToken, secret=p.settings.secret
    )
    download = selects(router, "items/downloadUrl")
    return {"items": [_view(r, download=download) for r in records], "nextToken": token}


@router.resolver(type_name="Query", field_name="filesByHash")
def files_by_hash(sha256: str) -> list[dict[str, Any]]:
    download = selects(router, "downloadUrl")
    return [_view(r, download=download) for r in files.files_by_hash(ports().table, sha256, caller(router))]


@router.resolver(type_name="Query", field_name="duplicateCount")
def duplicate_count(sha256: str) -> int:
    return files.duplicate_count(ports().table, sha256, caller(router))


@router.resolver(type_name="Mutation", field_name="deleteFile")
def delete_file(id: str) -> dict[str, Any] | None:
    p = ports()
    record = files.delete_file(p.table, p.blobs, id, caller(router))
    return record.to_graphql() if record else None
