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
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
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
from lambdashare.emulator.stream_mapping import STREAM_RETENTION_S, StreamPoller
from lambdashare.emulator.sweeper import (
    Sweep,
    Sweeper,
    abort_stale_multipart,
    expire_pending,
    settle_staged_events,
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


def function_environ(spec: FunctionSpec, config: EmulatorConfig) -> dict[str, str]:
    """A function's environment: the template's values, then what the user set for the emulator, then the
    local endpoints."""
    given = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_THROUGH)}
    return {**spec.environment, **given, **config.function_environ()}


def trim_stream(stream: SqliteStream, mappings: Collection[str], clock: Callable[[], float] = time.time) -> Sweep:
    """Stream records every mapping has passed go once DynamoDB would have dropped them (24 h)."""

    def sweep() -> int:
        return stream.trim(mappings, clock() - STREAM_RETENTION_S)

    return sweep


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
    def __init__(self, config: EmulatorConfig, template: Path | None = None) -> None:
        self.config = config
        self.schema: AppSyncSchema = schema
        self.rules = SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)
        self.wiring = load_wiring(template or template_path(), self.rules)
        self.resolver_code = load_resolver_code(self.wiring)
        self.user_pool = UserPool.load_or_create(config.data_dir, config.region)
        self.user_pool_api = UserPoolApi(
            self.user_pool, load_pool_settings(template or template_path()), SqliteUserStore(config.data_dir)
        )
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
        self.functions: dict[str, InProcessFunction | WorkerPoolFunction] = {}
        for name in self.wiring.resolver_functions():
            # AppSync's resolver runs in this process, one event at a time; it reads its settings
            # from the environment at cold start, as in Lambda
            spec = self.wiring.functions[name]
            os.environ.update(self._environ(spec))
            self.functions[name] = InProcessFunction(name, spec.handler, timeout_s=min(spec.timeout_s, 30))
        for name in self.wiring.bucket_notifications:
            spec = self.wiring.functions[name]
            self.functions[name] = WorkerPoolFunction(
                name,
                spec.handler,
                environ=self._environ(spec),
                workers=config.hash_workers,
                timeout_s=spec.timeout_s,
            )
        self._aws_only = sorted(AWS_ONLY_SCHEDULES.keys() & {s.function for s in self.wiring.schedules})
        schedules = local_schedules(self.wiring.schedules)
        # a stream consumer or scheduled function gets a worker per source that invokes it: each poller
        # delivers one batch at a time (one shard), and a schedule's run never waits for a batch
        sources = Counter([m.function for m in self.wiring.stream_mappings] + [s.function for s in schedules])
        for name, count in sources.items():
            if name not in self.functions:
                spec = self.wiring.functions[name]
                self.functions[name] = WorkerPoolFunction(
                    name, spec.handler, environ=self._environ(spec), workers=count, timeout_s=spec.timeout_s
                )
        self.dispatcher = Dispatcher(SqliteEventQueue(config.data_dir), self.functions)
        # Lambda's event-source mappings on the file table's stream, and EventBridge Scheduler
        self.stream = SqliteStream(config.data_dir)
        self.stream_pollers = [
            StreamPoller(mapping, self.functions[mapping.function], self.stream)
            for mapping in self.wiring.stream_mappings
        ]
        self.scheduler = Scheduler(local_timetables(schedules), self.functions)
        # DynamoDB's TTL and S3's lifecycle rule for incomplete multipart uploads, locally
        self._settle_staged = settle_staged_events(self.dispatcher, self.blobs)
        sweeps = {
            "expired-pending": expire_pending(SqliteTable(config.data_dir, region=config.region), self.blobs),
            "staged-events": self._settle_staged,
        }
        abort_after_s = multipart_abort_after_s(template or template_path())
        if abort_after_s is not None:
            sweeps["stale-multipart"] = abort_stale_multipart(self.blobs, abort_after_s)
        sweeps["stream-trim"] = trim_stream(self.stream, [mapping.name for mapping in self.wiring.stream_mappings])
        self.sweeper = Sweeper(sweeps, config.sweep_interval_s)

    def _environ(self, spec: FunctionSpec) -> dict[str, str]:
        return function_environ(spec, self.config)

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
        self.sweeper.start()
        for poller in self.stream_pollers:
            poller.start()
        for function in self._aws_only:
            logger.info("not scheduling %s locally: %s", function, AWS_ONLY_SCHEDULES[function])
        self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        for poller in self.stream_pollers:
            await poller.stop()  # each lets its batch in flight finish and saves its checkpoint
        await self.sweeper.stop()
        await self.dispatcher.stop()
        for function in self.functions.values():
            function.close()
