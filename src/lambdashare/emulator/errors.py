"""AppSync's error shapes, one renderer for each: GraphQL errors (HTTP 200) and request errors.

Not responsible for deciding what failed: it only renders.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from starlette.responses import JSONResponse

from lambdashare.emulator.appsync_js import CodeError, ResolverError
from lambdashare.emulator.lambda_runtime import LambdaError
from lambdashare.emulator.subscription_filter import SubscriptionFilterError

logger = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = "You are not authorized to make this call."


class FieldUnauthorizedError(Exception):
    """The caller's auth mode is not allowed on this field: AppSync's field-level `Unauthorized` (HTTP 200, the
    field is null). Credentials refused for the whole request are `auth.RequestUnauthorizedError` instead."""

    def __init__(self, type_name: str, field_name: str) -> None:
        super().__init__(f"Not Authorized to access {field_name} on type {type_name}")


def to_appsync_error(error: GraphQLError) -> dict[str, Any]:
    locations = [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or ()]
    original = error.original_error
    # syntax, validation or variable coercion (graphql-core wraps the scalar's own GraphQLError):
    # AppSync gives neither path nor errorType
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        message = f"Invalid Syntax : {error.message}" if isinstance(error, GraphQLSyntaxError) else error.message
        return {"path": None, "locations": locations, "message": message}
    fields = field_error(original)
    return {
        "path": error.path,
        "data": fields["data"],
        "errorType": fields["errorType"],
        "errorInfo": fields["errorInfo"],
        "locations": locations,
        "message": fields["message"],
    }


def field_error(original: Exception) -> dict[str, Any]:
    """What AppSync says of a field whose resolver failed: `data`, `errorType`, `errorInfo`, `message`."""
    if isinstance(original, ResolverError):  # util.error in resolver code: all four of its fields
        return {
            "data": original.data,
            "errorType": original.error_type,
            "errorInfo": original.error_info,
            "message": original.message,
        }
    error_type, message = _classify(original)
    return {"data": None, "errorType": error_type, "errorInfo": None, "message": message}


def _classify(original: Exception) -> tuple[str | None, str]:
    if isinstance(original, LambdaError):
        return original.error_type, original.message
    if isinstance(original, FieldUnauthorizedError):
        return "Unauthorized", str(original)
    if isinstance(original, SubscriptionFilterError):  # AppSync gives these an errorCode 400, no errorType
        return None, str(original)
    if isinstance(original, CodeError):  # resolver code that threw (not util.error): a bug in the template
        logger.error("resolver code failed: %s", original)
        return "Code", str(original)
    if isinstance(original, (ValueError, TypeError)) and not type(original).__module__.startswith("lambdashare"):
        # scalar coercion failures raised while executing (e.g. a resolver returned a bad value)
        return None, str(original)
    logger.error("unexpected error while resolving", exc_info=original)
    return "InternalFailure", "An internal failure occurred while resolving this field."


def request_error(status: int, error_type: str, message: str) -> JSONResponse:
    """A request AppSync refuses before running GraphQL (4xx), with `x-amzn-ErrorType`."""
    return JSONResponse(
        {"errors": [{"errorType": error_type, "message": message}]},
        status_code=status,
        headers={"x-amzn-ErrorType": error_type},
    )
