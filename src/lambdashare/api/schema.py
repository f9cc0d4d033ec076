"""The strawberry schema. Root fields do no work: they hand the field to a data source.

As on AppSync, a Lambda data source gets a direct-resolver event and returns JSON; a NONE data
source returns its arguments; a subscription is fed by the mutations in its `@aws_subscribe`.
The emulator supplies these through the `DataSources` in the request context, wired by template.yaml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any, Protocol

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.str_converters import to_camel_case

from lambdashare.api.directives import USERS, AwsIam, AwsSubscribe
from lambdashare.api.scalars import SCALARS
from lambdashare.api.types import (
    CompleteUploadInput,
    File,
    FileConnection,
    FileHashedInput,
    FileProgress,
    FileProgressInput,
    RequestUploadInput,
    Share,
    Stats,
    UploadedPart,
    UploadTicket,
)

#: Bounds on what one request may ask for (AppSync has QueryDepthLimit and ResolverCountLimit).
MAX_QUERY_DEPTH = 10
MAX_ALIASES = 50
MAX_TOKENS = 5000


class RequestBounds(AddValidationRules):
    """The depth and alias bounds as validation rules made once, so ValidationCache can hit."""

    RULES = (depth_rule(MAX_QUERY_DEPTH, None, None), aliases_rule(MAX_ALIASES))

    def __init__(self) -> None:
        super().__init__(list(self.RULES))


class DataSources(Protocol):
    async def resolve(self, info: strawberry.Info) -> Any: ...

    async def subscribe(self, info: strawberry.Info) -> AsyncIterator[Any]: ...


def _sources(info: strawberry.Info) -> DataSources:
    sources: DataSources = info.context
    return sources


@strawberry.type(directives=USERS)
class Query:
    @strawberry.field
    async def file(self, info: strawberry.Info, id: strawberry.ID) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field
    async def files(
        self,
        info: strawberry.Info,
        limit: int | None = strawberry.UNSET,
        next_token: str | None = strawberry.UNSET,
    ) -> FileConnection:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field
    async def files_by_hash(self, info: strawberry.Info, sha256: str) -> list[File]:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field(
        description=(
            "How many HASHED files in the caller's space hold this content (a user's own files, every file "
            "for an admin, the anonymous space for an API key). It reveals no id."
        )
    )
    async def duplicate_count(self, info: strawberry.Info, sha256: str) -> int:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field(description="The parts of a multipart upload stored so far (S3's ListParts).")
    async def uploaded_parts(self, info: strawberry.Info, id: strawberry.ID) -> list[UploadedPart]:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field(
        description=(
            "Analytics of the caller's space over the last `days` UTC days (1 to 366, 30 if omitted), today "
            "included. `everyone: true` sums every space, for admins only."
        )
    )
    async def stats(
        self, info: strawberry.Info, days: int | None = strawberry.UNSET, everyone: bool | None = strawberry.UNSET
    ) -> Stats:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.field(description="The file a share token points to, with a fresh downloadUrl.")
    async def shared_file(self, info: strawberry.Info, token: str) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]


@strawberry.type(directives=USERS)
class Mutation:
    @strawberry.mutation
    async def request_upload(self, info: strawberry.Info, input: RequestUploadInput) -> UploadTicket:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Multipart: assemble the parts; the file is then hashed.")
    async def complete_upload(self, info: strawberry.Info, input: CompleteUploadInput) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Multipart: drop the parts and the PENDING file.")
    async def abort_upload(self, info: strawberry.Info, id: strawberry.ID) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(
        description=(
            "Multipart: a fresh ticket (presigned URLs expire) for the parts named in numbers, or else for the "
            "parts not stored yet; at most 1000 parts per ticket, as requestUpload's."
        )
    )
    async def resume_upload(
        self, info: strawberry.Info, id: strawberry.ID, numbers: list[int] | None = strawberry.UNSET
    ) -> UploadTicket:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def delete_file(self, info: strawberry.Info, id: strawberry.ID) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(description="A link for one file, valid expiresIn seconds (default a day, at most 7).")
    async def share_file(
        self,
        info: strawberry.Info,
        id: strawberry.ID,
        expires_in: int | None = strawberry.UNSET,
    ) -> Share:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def revoke_share(self, info: strawberry.Info, token: str) -> bool:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(directives=[AwsIam()], description="Called by the hasher only.")
    async def publish_file_hashed(self, info: strawberry.Info, input: FileHashedInput) -> File | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]

    @strawberry.mutation(directives=[AwsIam()], description="Called by the hasher only.")
    async def publish_file_progress(self, info: strawberry.Info, input: FileProgressInput) -> FileProgress | None:
        return await _sources(info).resolve(info)  # type: ignore[no-any-return]


@strawberry.type(directives=USERS)
class Subscription:
    @strawberry.subscription(
        directives=[AwsSubscribe(mutations=["publishFileHashed"])],
        description="Fires on HASHED and on FAILED.",
    )
    async def on_file_hashed(
        self,
        info: strawberry.Info,
        id: strawberry.ID | None = strawberry.UNSET,
        owner: str | None = strawberry.UNSET,
    ) -> AsyncIterator[File | None]:
        # a plain coroutine, not a generator, so auth and the resolver run when the client subscribes
        return await _sources(info).subscribe(info)

    @strawberry.subscription(
        directives=[AwsSubscribe(mutations=["publishFileProgress"])],
        description="Bytes hashed so far: every 64 MiB (the template's step), at most 4 times a second.",
    )
    async def on_file_progress(self, info: strawberry.Info, id: strawberry.ID) -> AsyncIterator[FileProgress | None]:
        return await _sources(info).subscribe(info)


@lru_cache(maxsize=256)
def _json_key(python_name: str) -> str:
    return to_camel_case(python_name)


def resolve_from_json(source: Any, python_name: str) -> object:
    """Fields resolve from the resolver's JSON result by their GraphQL name, as on AppSync."""
    if isinstance(source, Mapping):
        return source.get(_json_key(python_name))
    return getattr(source, python_name)


class AppSyncSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Errors are rendered (and unexpected ones logged) by the server, in AppSync's shape."""


schema = AppSyncSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(default_resolver=resolve_from_json, scalar_map=SCALARS),
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ParserCache,
        RequestBounds,
        ValidationCache,
    ],
)
