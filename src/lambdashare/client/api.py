"""The GraphQL operations the commands use, over gql: HTTP (aiohttp transport) for queries and mutations, the
AppSync real-time protocol (`AppSyncWebsocketsTransport`) for subscriptions, both signed by one of gql's AppSync
authentication classes, so the same calls work against the emulator and AppSync.

Not responsible for the bytes (`transfer`) nor for printing (`output`). Errors leave here as `errors.CliError`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.appsync_auth import (
    AppSyncApiKeyAuthentication,
    AppSyncAuthentication,
    AppSyncIAMAuthentication,
)
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import (
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

from lambdashare.client.config import Profile
from lambdashare.client.errors import ApiError, AuthError, ConnectError, NotFoundError
from lambdashare.domain.model import FILE_SELECTION

FILE = FILE_SELECTION
TICKET = f"file {{ {FILE} }} expiresAt url method headers uploadId parts {{ number url method headers }}"

REQUEST_UPLOAD = (
    f"mutation RequestUpload($input: RequestUploadInput!) {{ requestUpload(input: $input) {{ {TICKET} }} }}"
)
RESUME_UPLOAD = (
    f"mutation ResumeUpload($id: ID!, $numbers: [Int!]) {{ resumeUpload(id: $id, numbers: $numbers) {{ {TICKET} }} }}"
)
COMPLETE_UPLOAD = (
    f"mutation CompleteUpload($input: CompleteUploadInput!) {{ completeUpload(input: $input) {{ {FILE} }} }}"
)
ABORT_UPLOAD = "mutation AbortUpload($id: ID!) { abortUpload(id: $id) { id status } }"
UPLOADED_PARTS = "query UploadedParts($id: ID!) { uploadedParts(id: $id) { number etag size } }"
GET_FILE = f"query GetFile($id: ID!) {{ file(id: $id) {{ {FILE} }} }}"
GET_FILE_WITH_URL = f"query GetFileWithUrl($id: ID!) {{ file(id: $id) {{ {FILE} downloadUrl }} }}"
LIST_FILES = (
    "query ListFiles($limit: Int, $nextToken: String) { files(limit: $limit, nextToken: $nextToken) { "
    f"items {{ {FILE} }} nextToken }} }}"
)
FILES_BY_HASH = f"query FilesByHash($sha256: String!) {{ filesByHash(sha256: $sha256) {{ {FILE} }} }}"
DUPLICATE_COUNT = "query DuplicateCount($sha256: String!) { duplicateCount(sha256: $sha256) }"
DELETE_FILE = f"mutation DeleteFile($id: ID!) {{ deleteFile(id: $id) {{ {FILE} }} }}"
SHARE_FILE = (
    "mutation ShareFile($id: ID!, $expiresIn: Int) { "
    "shareFile(id: $id, expiresIn: $expiresIn) { token fileId expiresAt } }"
)
REVOKE_SHARE = "mutation RevokeShare($token: String!) { revokeShare(token: $token) }"
SHARED_FILE = f"query SharedFile($token: String!) {{ sharedFile(token: $token) {{ {FILE} downloadUrl }} }}"
LATENCY = "latency { p50 p95 p99 }"
STATS = (
    "query Stats($days: Int, $everyone: Boolean) { stats(days: $days, everyone: $everyone) { "
    f"uploads bytes hashed failed duplicates deleted hashedBytes {LATENCY} throughput "
    "contentTypes { contentType uploads bytes } "
    f"days {{ date uploads bytes hashed failed duplicates deleted {LATENCY} }} }} }}"
)
ON_FILE_HASHED = f"subscription OnFileHashed($id: ID) {{ onFileHashed(id: $id) {{ {FILE} }} }}"
ON_FILE_PROGRESS = "subscription OnFileProgress($id: ID!) { onFileProgress(id: $id) { id hashedBytes size owner } }"

HTTP_TIMEOUT_S = 60


class Api:
    """One command's connection to the API: `async with Api(profile, auth) as api: await api.call(...)`."""

    def __init__(self, profile: Profile, auth: AppSyncAuthentication) -> None:
        self.profile = profile
        self.auth = auth
        self._client = Client(
            transport=AIOHTTPTransport(url=profile.endpoint, auth=auth, timeout=HTTP_TIMEOUT_S),
            execute_timeout=HTTP_TIMEOUT_S,
        )
        self._session: Any = None

    @property
    def anonymous(self) -> bool:
        """The API key's space: nothing lists its files, a subscription must name one."""
        return isinstance(self.auth, AppSyncApiKeyAuthentication)

    async def __aenter__(self) -> Api:
        with self.translated_errors():
            self._session = await self._client.connect_async()  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.close_async()  # type: ignore[no-untyped-call]

    async def call(self, document: str, **variables: Any) -> dict[str, Any]:
        with self.translated_errors():
            result: dict[str, Any] = await self._session.execute(GraphQLRequest(document, variable_values=variables))
        return result

    @asynccontextmanager
    async def subscriptions(self) -> AsyncIterator[Any]:
        """A gql session on the real-time endpoint; its `subscribe(...)` generators may run side by side."""
        transport = AppSyncWebsocketsTransport(url=self.profile.realtime_url, auth=self.auth, keep_alive_timeout=300)
        with self.translated_errors():
            async with Client(transport=transport) as session:
                yield session

    async def events(self, session: Any, document: str, **variables: Any) -> AsyncIterator[dict[str, Any]]:
        """A subscription's events. A variable given as None is left out: an explicit null argument is a filter
        that matches only null (AppSync's rule), which is not what leaving an argument out means."""
        given = {name: value for name, value in variables.items() if value is not None}
        with self.translated_errors():
            async for result in session.subscribe(GraphQLRequest(document, variable_values=given)):
                yield result

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        endpoint = self.profile.endpoint
        try:
            yield
        except TransportQueryError as exc:
            raise _query_error(exc.errors or [], self.auth) from exc
        except TransportServerError as exc:
            if exc.code in (401, 403):
                raise AuthError(f"{endpoint} refused these credentials (HTTP {exc.code})") from exc
            raise ConnectError(f"{endpoint} answered HTTP {exc.code}: is it a GraphQL API's URL?") from exc
        except TransportProtocolError as exc:
            raise ConnectError(f"{endpoint} did not answer as a GraphQL API: is it the API's /graphql URL?") from exc
        except (TimeoutError, TransportError, aiohttp.ClientError, OSError) as exc:
            hint = " Is the emulator running (`lambdashare serve`)?" if self.profile.loopback else ""
            raise ConnectError(f"cannot reach {endpoint}: {exc or type(exc).__name__}.{hint}") from exc


def _query_error(errors: list[Any], auth: AppSyncAuthentication) -> Exception:
    first = errors[0] if errors and isinstance(errors[0], dict) else {"message": str(errors)}
    kind = str(first.get("errorType") or "")
    message = str(first.get("message") or "").strip()
    if kind == "UnauthorizedException":
        return AuthError(f"the API refused these credentials: {message}; {_what_to_fix(auth)}")
    if kind == "Unauthorized":  # signed correctly, but the schema does not give this auth mode the field
        return AuthError(f"not allowed with these credentials: {message}")
    if kind == "NotFoundError":
        return NotFoundError(message)
    return ApiError(f"{kind}: {message}" if kind else message)


def _what_to_fix(auth: AppSyncAuthentication) -> str:
    if isinstance(auth, AppSyncApiKeyAuthentication):
        return "check the API key (--api-key)"
    if isinstance(auth, AppSyncIAMAuthentication):
        return "check the AWS credentials (--auth iam signs with the default AWS credential chain)"
    return "sign in again (`lambdashare login`)"
