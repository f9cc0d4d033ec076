"""AppSync's built-in scalars, validated as AppSync does and never declared in the printed SDL."""

from __future__ import annotations

import json
import re
from typing import Any, NewType
from urllib.parse import urlsplit

import strawberry
from strawberry.types.scalar import ScalarDefinition

AWSDateTime = NewType("AWSDateTime", str)
AWSDate = NewType("AWSDate", str)
AWSURL = NewType("AWSURL", str)
AWSJSON = NewType("AWSJSON", object)

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$")


def _matching(pattern: re.Pattern[str], kind: str) -> Any:
    def parse(value: object) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"Can't serialize value: {value!r} is not a valid {kind}")
        return value

    return parse


def _parse_url(value: object) -> str:
    if not isinstance(value, str) or not urlsplit(value).scheme:
        raise ValueError(f"{value!r} is not a valid AWSURL")
    return value


def _parse_json(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("AWSJSON must be a JSON string")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"AWSJSON is not valid JSON: {exc}") from None


def _serialize_json(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


SCALARS: dict[object, ScalarDefinition] = {
    AWSDateTime: strawberry.scalar(
        name="AWSDateTime",
        serialize=str,
        parse_value=_matching(_DATETIME, "AWSDateTime"),
        print_definition=False,
    ),
    AWSDate: strawberry.scalar(
        name="AWSDate", serialize=str, parse_value=_matching(_DATE, "AWSDate"), print_definition=False
    ),
    AWSURL: strawberry.scalar(name="AWSURL", serialize=str, parse_value=_parse_url, print_definition=False),
    AWSJSON: strawberry.scalar(
        name="AWSJSON", serialize=_serialize_json, parse_value=_parse_json, print_definition=False
    ),
}
