"""AppSync real-time protocol messages, one TypedDict each.

Spec: https://docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict


class ErrorEntry(TypedDict, total=False):
    errorType: str | None
    message: str
    errorCode: int


class ErrorsPayload(TypedDict):
    errors: list[ErrorEntry] | list[dict[str, Any]]


class ConnectionInitMessage(TypedDict):
    """Direction: client -> server. Optional; gql sends `payload: {}`, Amplify none."""

    type: Literal["connection_init"]
    payload: NotRequired[dict[str, Any]]


class ConnectionAckPayload(TypedDict):
    connectionTimeoutMs: int


class ConnectionAckMessage(TypedDict):
    """Direction: server -> client."""

    type: Literal["connection_ack"]
    payload: ConnectionAckPayload


class KeepAliveMessage(TypedDict):
    """Direction: server -> client."""

    type: Literal["ka"]


class StartExtensions(TypedDict):
    authorization: dict[str, str]


class StartPayload(TypedDict):
    data: str  # a JSON *string*: {"query", "variables", "operationName"}
    extensions: NotRequired[StartExtensions]


class StartMessage(TypedDict):
    """Direction: client -> server."""

    id: str
    type: Literal["start"]
    payload: StartPayload


class StartAckMessage(TypedDict):
    """Direction: server -> client."""

    id: str
    type: Literal["start_ack"]


class DataMessage(TypedDict):
    """Direction: server -> client."""

    id: str
    type: Literal["data"]
    payload: dict[str, Any]


class ErrorMessage(TypedDict):
    """Direction: server -> client. Without `id` when the failure is not one subscription's."""

    type: Literal["error"]
    id: NotRequired[str]
    payload: ErrorsPayload


class ConnectionErrorMessage(TypedDict):
    """Direction: server -> client, then the server closes."""

    type: Literal["connection_error"]
    payload: ErrorsPayload


class StopMessage(TypedDict):
    """Direction: client -> server."""

    id: str
    type: Literal["stop"]


class CompleteMessage(TypedDict):
    """Direction: server -> client."""

    id: str
    type: Literal["complete"]


Message: TypeAlias = (
    ConnectionInitMessage
    | ConnectionAckMessage
    | KeepAliveMessage
    | StartMessage
    | StartAckMessage
    | DataMessage
    | ErrorMessage
    | ConnectionErrorMessage
    | StopMessage
    | CompleteMessage
)
