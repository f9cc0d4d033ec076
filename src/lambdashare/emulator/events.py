"""Events in the exact shapes AWS sends to Lambda: AppSync direct resolver, S3 notification.

Not responsible for delivering them: `lambda_runtime` invokes handlers with these.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote_plus

from lambdashare.domain.model import aws_datetime


def appsync_resolver_event(
    *,
    field_name: str,
    parent_type_name: str,
    arguments: dict[str, Any],
    identity: dict[str, Any] | None,
    headers: dict[str, str],
    variables: dict[str, Any],
    selection_set_list: list[str],
    selection_set_graphql: str,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context object AppSync passes to a direct Lambda resolver (no request template)."""
    return {
        "arguments": arguments,
        "identity": identity,
        "source": source,
        "request": {"headers": headers, "domainName": None},
        "prev": None,
        "info": {
            "fieldName": field_name,
            "parentTypeName": parent_type_name,
            "variables": variables,
            "selectionSetList": selection_set_list,
            "selectionSetGraphQL": selection_set_graphql,
        },
        "stash": {},
    }


def s3_object_created(
    *, bucket: str, key: str, size: int, etag: str, region: str, event_name: str = "ObjectCreated:Put"
) -> dict[str, Any]:
    """One S3 notification record; the key is form-encoded as S3 does ('a b+c' -> 'a+b%2Bc')."""
    request_id = secrets.token_hex(8).upper()
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": aws_datetime(),
                "eventName": event_name,
                "userIdentity": {"principalId": "LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": secrets.token_urlsafe(32)},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "lambdashare-uploads",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": _sequencer(),
                    },
                },
            }
        ]
    }


def _sequencer() -> str:
    """Hex, growing with time for the same key, like S3's."""
    return f"{time.time_ns():X}"
