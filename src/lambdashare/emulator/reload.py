"""`lambdashare serve --reload`: a change to the template or to the code the schema and the handlers run is
served without a restart.

Watches (watchfiles, no daemon) the template, lambdashare's API, domain, ports and adapters, and the packages of
the template's handlers. After a burst of changes (watchfiles groups it) the code is imported afresh: the modules
of those packages leave `sys.modules`, the schema and every handler are imported again, and the runtime is
rewired (`Runtime.reload`): the in-process resolver then runs the new modules, new worker processes start for
the other functions, and open subscriptions carry over where the new schema still allows them. A version that
does not load (a syntax error, a template the emulator refuses) is reported in one log line and changes
nothing: the previous one keeps serving. The emulator's own code (`lambdashare.emulator`) is not reloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from graphql import ExecutionContext, GraphQLError, parse, validate
from starlette.concurrency import run_in_threadpool
from watchfiles import Change, DefaultFilter, awatch

from lambdashare.api.schema import AppSyncSchema
from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, Runtime, template_path
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import load_wiring

logger = logging.getLogger(__name__)

#: lambdashare's code that the schema and the handlers run; with the handlers' own packages, what a reload
#: imports afresh.
RELOADED = (
    "lambdashare.api",
    "lambdashare.domain",
    "lambdashare.ports",
    "lambdashare.adapters",
    "lambdashare.backends",
    "lambdashare.settings",
    "lambdashare.schema_export",
)
#: watchfiles groups the changes of a burst (an editor's save, a checkout) until it has been quiet this long
QUIET_MS = 200


def _within(name: str, packages: Collection[str]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def handler_packages(handlers: Iterable[str]) -> set[str]:
    """The top-level packages (or modules) of handlers such as `resolvers.app.handler`."""
    return {handler.split(".", 1)[0] for handler in handlers}


def _loaded(packages: Collection[str]) -> dict[str, ModuleType]:
    """The modules of `packages` in `sys.modules`, copied at once: other threads may import meanwhile."""
    return {name: module for name, module in list(sys.modules.items()) if _within(name, packages)}


@dataclass(frozen=True, slots=True)
class FreshCode:
    """The schema and its SDL imported afresh, and the modules they replaced (for `undo`)."""

    schema: AppSyncSchema
    sdl: str
    replaced: dict[str, ModuleType]
    packages: frozenset[str]

    def undo(self) -> None:
        """Put the replaced modules back: the version they make keeps serving."""
        _restore(self.replaced, self.packages)


def import_afresh(template: Path, handlers: Iterable[str]) -> FreshCode:
    """The schema, its SDL and every handler of `template`, imported again from disk. On a failure
    `sys.modules` is left as it was, so the running version keeps its modules. Blocking: call in a thread."""
    purged = set(RELOADED) | handler_packages(handlers)
    kept = _loaded(purged)
    for name in kept:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    try:
        schema: AppSyncSchema = importlib.import_module("lambdashare.api.schema").schema
        sdl: str = importlib.import_module("lambdashare.schema_export").appsync_sdl()
        wiring = load_wiring(template, SchemaRules.from_sdl(sdl, DEFAULT_AUTH_MODE))
        added = handler_packages(spec.handler for spec in wiring.functions.values()) - purged
        stale = _loaded(added)  # imported before, by an earlier version or by the emulator
        kept.update(stale)
        for name in stale:
            sys.modules.pop(name, None)
        purged |= added
        for spec in wiring.functions.values():
            module_name, _, name = spec.handler.rpartition(".")
            getattr(importlib.import_module(module_name), name)  # as Lambda's cold start: the handler must load
    except BaseException:
        _restore(kept, purged)
        raise
    return FreshCode(schema, sdl, kept, frozenset(purged))


def _restore(kept: dict[str, ModuleType], purged: Collection[str]) -> None:
    """Put the running version's modules back, in `sys.modules` and as their packages' attributes (which
    the failed import bound to its own modules)."""
    for name in _loaded(purged):
        sys.modules.pop(name, None)
    sys.modules.update(kept)
    for name, module in kept.items():
        package, _, attribute = name.rpartition(".")
        if package in sys.modules:
            setattr(sys.modules[package], attribute, module)


def watched(template: Path, handlers: Iterable[str]) -> tuple[set[Path], set[Path]]:
    """(package directories, watched with their subdirectories; single files): the template, and where
    the reloaded modules are."""
    directories: set[Path] = set()
    files = {template.resolve()}
    for name in sorted(set(RELOADED) | handler_packages(handlers)):
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            directories.update(Path(location).resolve() for location in spec.submodule_search_locations)
        elif spec.origin and spec.origin.endswith(".py"):
            files.add(Path(spec.origin).resolve())
    return directories, files


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is inside it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def request_errors(schema: AppSyncSchema, request: Mapping[str, Any]) -> list[GraphQLError]:
    """Why `schema` would refuse the request (graphql-core's validation and variable coercion); [] if not."""
    document = parse(request["query"])
    errors = validate(schema._schema, document)
    if errors:
        return errors
    built = ExecutionContext.build(
        schema._schema,
        document,
        raw_variable_values=request.get("variables"),
        operation_name=request.get("operationName"),
    )
    return built if isinstance(built, list) else []


class _PythonSources(DefaultFilter):
    """Python files, not caches or editors' temporary files."""

    def __call__(self, change: Change, path: str) -> bool:
        return path.endswith(".py") and super().__call__(change, path)


class Reloader:
    """Watches the sources of `runtime` and reloads it after each burst of changes, one reload at a time."""

    def __init__(self, runtime: Runtime, template: Path | None = None) -> None:
        self._runtime = runtime
        self._template = (template or template_path()).resolve()
        self._changed: set[str] = set()
        self._pending = asyncio.Event()
        self._sources: tuple[set[Path], set[Path]] = (set(), set())
        self._stop_watching = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def _handlers(self) -> list[str]:
        return [spec.handler for spec in self._runtime.wiring.functions.values()]

    def start(self) -> None:
        self._run(self._reload_when_changed(), "reload")
        self._watch_sources()

    def _run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _watch_sources(self) -> None:
        """Watch what the version being served reads (a reload may name handlers elsewhere)."""
        sources = watched(self._template, self._handlers())
        if sources == self._sources:
            return
        self._sources = sources
        self._stop_watching.set()  # the watchers of the previous version's sources end
        stop = self._stop_watching = asyncio.Event()
        directories, files = sources
        if directories:
            self._run(self._watch(directories, True, _PythonSources(), stop), "watch-code")
        # a file's directory, not the file: an editor that saves by renaming over it would end a file's watch
        self._run(
            self._watch({f.parent for f in files}, False, lambda _, path: Path(path) in files, stop), "watch-files"
        )
        logger.info("reloading on changes to %s", ", ".join(_shown(path) for path in sorted(directories | files)))

    async def stop(self) -> None:
        self._stop_watching.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _watch(
        self, paths: Collection[Path], recursive: bool, accept: Callable[[Change, str], bool], stop: asyncio.Event
    ) -> None:
        async for changes in awatch(*paths, watch_filter=accept, recursive=recursive, step=QUIET_MS, stop_event=stop):
            self._changed.update(path for _, path in changes)
            self._pending.set()

    async def _reload_when_changed(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            changed, self._changed = sorted(self._changed), set()
            await self._reload(changed)

    async def _reload(self, changed: Collection[str]) -> None:
        """Serve the sources as they are now, or keep serving the previous version (and say why)."""
        for path in changed:
            if path.endswith(".py"):
                # Python trusts a cached module whose source has the same size and whole-second mtime
                with contextlib.suppress(OSError):
                    os.remove(importlib.util.cache_from_source(path))
        what = ", ".join(_shown(Path(path)) for path in changed)
        try:
            fresh = await run_in_threadpool(import_afresh, self._template, self._handlers())
            try:
                await self._runtime.reload(fresh.schema, fresh.sdl)
            except BaseException:
                fresh.undo()  # the template cannot be served: the running version keeps its modules too
                raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            logger.error("reload failed (%s), still serving the previous version: %s", what, reason)
            return
        logger.info("reloaded (%s)", what)
        self._watch_sources()
