"""Everything one emulator process holds: the schema, the functions, the broker, the queue, the stream
pollers and the scheduler.

Built once at start-up from `EmulatorConfig`; the HTTP and WebSocket endpoints reach it through
`app.state.runtime`. Not responsible for wire formats, and builds no endpoint (app.py does).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from lambdashare.adapters.local.event_queue import SqliteEventQueue
from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.adapters.local.sqlite_stream import SqliteStream
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.adapters.local.sqlite_user_store import SqliteUserStore
from lambdashare.api.schema import AppSyncSchema, schema
from lambdashare.emulator.appsync_js import CodeError, ResolverCode
from lambdashare.emulator.auth import API_KEY, Authenticator, Caller
from lambdashare.emulator.config import EmulatorConfig
from lambdashare.emulator.data_sources import RequestContext
from lambdashare.emulator.dispatcher import Dispatcher
from lambdashare.emulator.identity_provider import UserPool
from lambdashare.emulator.lambda_runtime import InProcessFunction, WorkerPoolFunction
from lambdashare.emulator.pool_settings import load_pool_settings
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.scheduler import ScheduleError, Scheduler, Timetable, timetables
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.stream_mapping import StreamPoller
from lambdashare.emulator.sweeper import (
    Sweeper,
    abort_stale_multipart,
    expire_pending,
    settle_staged_events,
    trim_stream,
)
from lambdashare.emulator.template import (
    TEMPLATE_FILE,
    FunctionSpec,
    Schedule,
    TemplateError,
    Wiring,
    load_wiring,
    multipart_abort_after_s,
)
from lambdashare.emulator.user_pool_api import UserPoolApi
from lambdashare.schema_export import appsync_sdl

logger = logging.getLogger(__name__)

C = TypeVar("C", bound=RequestContext)
#: The API's default auth mode; other modes must be named by directives.
DEFAULT_AUTH_MODE = API_KEY
TEMPLATE_ENV = "LAMBDASHARE_TEMPLATE"
TEMPLATE_PATH = Path(__file__).resolve().parents[3] / TEMPLATE_FILE
#: Settings a user may give the emulator for its functions, over the template's defaults.
_PASSED_THROUGH = ("LAMBDASHARE_", "POWERTOOLS_")
#: The collector's thresholds for the emulator's process (Python's default: 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)
#: Functions whose schedules have nothing to do locally, and why.
AWS_ONLY_SCHEDULES = {
    "ApiKeyRenewerFunction": "the emulator's API key is configuration (LAMBDASHARE_API_KEY_EXPIRES), nothing to renew",
}


def template_path() -> Path:
    return Path(os.environ.get(TEMPLATE_ENV) or TEMPLATE_PATH)


def check_template() -> None:
    """Fail early, naming the field, when template.yaml does not wire every field of the schema, has
    resolver code the emulator cannot run, a schedule it cannot evaluate, or has no user pool."""
    wiring = load_wiring(template_path(), SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE))
    load_resolver_code(wiring)
    local_timetables(wiring.schedules)
    load_pool_settings(template_path())


def local_schedules(schedules: Collection[Schedule]) -> list[Schedule]:
    """The schedules the emulator runs: all but those of AWS_ONLY_SCHEDULES."""
    return [schedule for schedule in schedules if schedule.function not in AWS_ONLY_SCHEDULES]


def local_timetables(schedules: Collection[Schedule]) -> list[Timetable]:
    try:
        return timetables(local_schedules(schedules), datetime.now(UTC))
    except ScheduleError as exc:
        raise TemplateError(str(exc)) from None


def function_environ(
    spec: FunctionSpec, config: EmulatorConfig, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """A function's environment: the template's values, then what the user set for the emulator (in
    `environ`), then the local endpoints."""
    given = {k: v for k, v in environ.items() if k.startswith(_PASSED_THROUGH)}
    return {**spec.environment, **given, **config.function_environ()}


def load_resolver_code(wiring: Wiring) -> dict[str, ResolverCode]:
    """Every APPSYNC_JS resolver and pipeline function of the template, loaded once into the JS engine,
    by name ("Type.field" for a resolver, the logical id for a pipeline function)."""
    loaded: dict[str, ResolverCode] = {}
    for name, code in wiring.code_sources().items():
        try:
            loaded[name] = ResolverCode(code, name)
        except CodeError as exc:
            raise TemplateError(f"the code of {name} cannot be loaded: {exc}") from None
    return loaded


class Runtime:
    """The durable parts (user pool, broker and its subscriptions, queue, stream and checkpoints) live as long
    as the process; what the template and the code wire (schema, resolvers, functions, stream pollers,
    scheduler, sweeps) is rebuilt by `reload`."""

    def __init__(self, config: EmulatorConfig, template: Path | None = None) -> None:
        self.config = config
        self._template = template
        #: the environment the emulator was started with: the template's values this process takes on (the
        #: in-process resolver's) must not pass for the user's settings at a reload
        self._started_environ = dict(os.environ)
        self._resolver_environ: dict[str, str] = {}
        self.user_pool = UserPool.load_or_create(config.data_dir, config.region)
        self.authenticator = Authenticator(
            api_key=config.api_key,
            access_key_id=config.access_key_id,
            secret_access_key=config.secret_access_key,
            region=config.region,
            user_pool=self.user_pool,
            api_key_expires=config.api_key_expires,
        )
        self.broker = Broker()
        self.blobs = FileBlobStore(config.data_dir, bucket="local", public_url=config.public_url, secret=config.secret)
        #: one mapping, updated in place by a reload, so the dispatcher always invokes the current functions
        self.functions: dict[str, InProcessFunction | WorkerPoolFunction] = {}
        self.dispatcher = Dispatcher(SqliteEventQueue(config.data_dir), self.functions)
        self.stream = SqliteStream(config.data_dir)
        self._settle_staged = settle_staged_events(self.dispatcher, self.blobs)
        #: called after each reload (the real-time connections check their subscriptions)
        self.reload_listeners: set[Callable[[], Awaitable[None]]] = set()
        self._apply(self._wire(schema, appsync_sdl()))

    def _wire(self, schema: AppSyncSchema, sdl: str) -> _Wired:
        """Everything the template and the code decide; raises TemplateError before starting anything."""
        template = self._template or template_path()
        rules = SchemaRules.from_sdl(sdl, DEFAULT_AUTH_MODE)
        wiring = load_wiring(template, rules)
        resolver_code = load_resolver_code(wiring)
        user_pool_api = UserPoolApi(self.user_pool, load_pool_settings(template), SqliteUserStore(self.config.data_dir))
        aws_only = sorted(AWS_ONLY_SCHEDULES.keys() & {s.function for s in wiring.schedules})
        schedules = local_schedules(wiring.schedules)
        tables = local_timetables(schedules)
        abort_after_s = multipart_abort_after_s(template)
        functions: dict[str, InProcessFunction | WorkerPoolFunction] = {}
        resolver_environ: dict[str, str] = {}
        for name in wiring.resolver_functions():
            # AppSync's resolver runs in this process, one event at a time; it reads its settings
            # from the environment at cold start, as in Lambda
            spec = wiring.functions[name]
            resolver_environ.update(self._environ(spec))
            functions[name] = InProcessFunction(name, spec.handler, timeout_s=min(spec.timeout_s, 30))
        for name in wiring.bucket_notifications:
            spec = wiring.functions[name]
            functions[name] = WorkerPoolFunction(
                name,
                spec.handler,
                environ=self._environ(spec),
                workers=self.config.hash_workers,
                timeout_s=spec.timeout_s,
            )
        # a stream consumer or scheduled function gets a worker per source that invokes it: each poller
        # delivers one batch at a time (one shard), and a schedule's run never waits for a batch
        sources = Counter([m.function for m in wiring.stream_mappings] + [s.function for s in schedules])
        for name, count in sources.items():
            if name not in functions:
                spec = wiring.functions[name]
                functions[name] = WorkerPoolFunction(
                    name, spec.handler, environ=self._environ(spec), workers=count, timeout_s=spec.timeout_s
                )
        # Lambda's event-source mappings on the file table's stream, and EventBridge Scheduler
        stream_pollers = [
            StreamPoller(mapping, functions[mapping.function], self.stream) for mapping in wiring.stream_mappings
        ]
        scheduler = Scheduler(tables, self.dispatcher.invoke_async)
        # DynamoDB's TTL and S3's lifecycle rule for incomplete multipart uploads, locally
        sweeps = {
            "expired-pending": expire_pending(SqliteTable(self.config.data_dir, region=self.config.region), self.blobs),
            "staged-events": self._settle_staged,
        }
        if abort_after_s is not None:
            sweeps["stale-multipart"] = abort_stale_multipart(self.blobs, abort_after_s)
        sweeps["stream-trim"] = trim_stream(self.stream, [mapping.name for mapping in wiring.stream_mappings])
        return _Wired(
            schema=schema,
            rules=rules,
            wiring=wiring,
            resolver_code=resolver_code,
            user_pool_api=user_pool_api,
            functions=functions,
            resolver_environ=resolver_environ,
            aws_only=aws_only,
            stream_pollers=stream_pollers,
            scheduler=scheduler,
            sweeper=Sweeper(sweeps, self.config.sweep_interval_s),
        )

    def _apply(self, wired: _Wired) -> None:
        """Serve `wired` from the next request on (no await: a request sees one version or the other)."""
        for name in self._resolver_environ.keys() - wired.resolver_environ.keys():
            if name in self._started_environ:
                os.environ[name] = self._started_environ[name]
            else:
                os.environ.pop(name, None)
        os.environ.update(wired.resolver_environ)
        self._resolver_environ = wired.resolver_environ
        self.schema: AppSyncSchema = wired.schema
        self.rules = wired.rules
        self.wiring = wired.wiring
        self.resolver_code = wired.resolver_code
        self.user_pool_api = wired.user_pool_api
        self.functions.clear()
        self.functions.update(wired.functions)
        self._aws_only = wired.aws_only
        self.stream_pollers = wired.stream_pollers
        self.scheduler = wired.scheduler
        self.sweeper = wired.sweeper

    async def reload(self, schema: AppSyncSchema, sdl: str) -> None:
        """Serve a new version of the template and the code without a restart: new requests and
        subscriptions see it at once; events already handed to a function finish there (its workers then
        exit); the stream pollers stop after their batch in flight and start again from their checkpoints.
        The broker, and so every open subscription, the queue and the user pool carry over. Raises (and
        changes nothing) when the template cannot be served: TemplateError, or what its values raise."""
        wired = self._wire(schema, sdl)
        # the new version's functions are warm before they serve, as at start-up
        await asyncio.gather(*(function.warm() for function in wired.functions.values()))
        retired = list(self.functions.values())
        await self._stop_background()
        self._apply(wired)
        self._start_background()
        for function in retired:
            function.close(finish_queued=True)
        for listener in list(self.reload_listeners):
            try:
                await listener()
            except Exception:  # one connection's trouble; the reload is done
                logger.exception("a connection could not check its subscriptions after the reload")

    def _environ(self, spec: FunctionSpec) -> dict[str, str]:
        return function_environ(spec, self.config, self._started_environ)

    def request_context(self, caller: Caller, headers: Mapping[str, str], context_class: type[C]) -> C:
        return context_class(
            caller=caller,
            headers=headers,
            functions=self.functions,
            wiring=self.wiring,
            resolver_code=self.resolver_code,
            broker=self.broker,
            rules=self.rules,
        )

    async def warm(self) -> None:
        """Every function's instances started and their handlers imported (Lambda's init phase), so a
        user's first request is as fast as the hundredth."""
        await asyncio.gather(*(function.warm() for function in self.functions.values()))
        logger.info("warmed %s", ", ".join(sorted(self.functions)))

    async def start(self) -> None:
        await self.warm()  # before anything can invoke a function, and before uvicorn reports ready
        # What start-up built (the schema, the template, the imported handlers) lives as long as the process:
        # frozen, the collector's passes stop walking it; and a request's garbage is mostly freed by reference
        # counting, so the young generation is collected every 10,000 allocations rather than 700. Both cut
        # the queries' tail under load (bench/graphql_load.py: p99 at 16 clients ~77 ms -> ~16 ms).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        await self.dispatcher.resume()
        await run_in_threadpool(self._settle_staged)  # notifications of a publish the last run did not answer
        for function in self._aws_only:
            logger.info("not scheduling %s locally: %s", function, AWS_ONLY_SCHEDULES[function])
        self._start_background()

    def _start_background(self) -> None:
        self.sweeper.start()
        for poller in self.stream_pollers:
            poller.start()
        self.scheduler.start()

    async def _stop_background(self) -> None:
        await self.scheduler.stop()
        for poller in self.stream_pollers:
            await poller.stop()  # each lets its batch in flight finish and saves its checkpoint
        await self.sweeper.stop()

    async def stop(self) -> None:
        await self._stop_background()
        await self.dispatcher.stop()
        for function in self.functions.values():
            function.close()


@dataclass(frozen=True, slots=True)
class _Wired:
    """One version of what the template and the code decide (see `Runtime._wire`)."""

    schema: AppSyncSchema
    rules: SchemaRules
    wiring: Wiring
    resolver_code: dict[str, ResolverCode]
    user_pool_api: UserPoolApi
    functions: dict[str, InProcessFunction | WorkerPoolFunction]
    resolver_environ: dict[str, str]
    aws_only: list[str]
    stream_pollers: list[StreamPoller]
    scheduler: Scheduler
    sweeper: Sweeper
