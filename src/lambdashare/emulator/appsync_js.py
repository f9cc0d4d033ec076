"""AppSync's APPSYNC_JS runtime, locally: a template's resolver code run in QuickJS (PyPI `quickjs-ng`).

Each run gets a fresh context (about 0.1 ms) with time and memory limits, the `@aws-appsync/utils` shim
(`appsync_utils.js`) and the resolver's code, evaluated as the ES module it is. QuickJS here has no module
loader, so the one import such code makes, `import { ... } from '@aws-appsync/utils'`, is rewritten into a
read of the shim's exports; any other import is refused when the code is loaded. Not responsible for data
sources: `data_sources` runs the request handler, the data source, then the response handler.
Spec: https://docs.aws.amazon.com/appsync/latest/devguide/resolver-reference-overview-js.html
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import quickjs

UTILS_MODULE = "@aws-appsync/utils"
#: Limits for each handler call; AppSync's own are not published, a resolver past these is surely broken.
TIME_LIMIT_S = 1.0
MEMORY_LIMIT_BYTES = 32 * 1024 * 1024
#: `util.autoId()` values per run (QuickJS has no crypto, so Python makes them).
AUTO_IDS = 8

_SHIM = files("lambdashare.emulator").joinpath("appsync_utils.js").read_text(encoding="utf-8")
_IMPORT = re.compile(
    r"^[ \t]*import\s+(?P<clause>\{[^}]*\}|\*\s+as\s+[A-Za-z_$][\w$]*)\s+"
    r"""from\s+(?P<q>['"])(?P<module>[^'"]+)(?P=q)\s*;?""",
    re.MULTILINE,
)
_ANY_IMPORT = re.compile(r"^[ \t]*import\b[^(.]", re.MULTILINE)
_HANDLERS = (
    "\n;globalThis.__appsync.handlers = {"
    " request: typeof request === 'function' ? request : undefined,"
    " response: typeof response === 'function' ? response : undefined };\n"
)


class CodeError(Exception):
    """Resolver code that cannot be loaded (syntax, an unsupported import) or that threw."""


class ResolverError(Exception):
    """`util.error(message, errorType, data, errorInfo)`: the field's error, in AppSync's shape."""

    def __init__(self, message: str, error_type: str | None, data: Any = None, error_info: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.data = data
        self.error_info = error_info


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler returned, and what it left behind (appended errors, a subscription filter)."""

    value: Any
    early_return: bool = False
    #: `util.unauthorized()` was called: the field is AppSync's `Unauthorized` (the caller raises it)
    unauthorized: bool = False
    appended_errors: list[dict[str, Any]] = field(default_factory=list)
    subscription_filter: dict[str, Any] | None = None
    #: `ctx.stash` after the handler: a pipeline hands it to its next step
    stash: dict[str, Any] = field(default_factory=dict)


def _rewrite_imports(source: str) -> str:
    """`import { util as u, extensions } from '@aws-appsync/utils'` -> `const { util: u, extensions } = ...`."""

    def replace(match: re.Match[str]) -> str:
        if match["module"] != UTILS_MODULE:
            raise CodeError(f"cannot import {match['module']!r}: the emulator provides only {UTILS_MODULE!r}")
        clause = match["clause"]
        target = f"globalThis.__appsync.modules[{json.dumps(UTILS_MODULE)}]"
        if clause.startswith("*"):
            return f"const {clause.split()[-1]} = {target};"
        names = re.sub(r"\b([A-Za-z_$][\w$]*)\s+as\s+", r"\1: ", clause)
        return f"const {names} = {target};"

    rewritten = _IMPORT.sub(replace, source)
    if _ANY_IMPORT.search(rewritten):
        raise CodeError("an import the emulator cannot read: only named or namespace imports of a module")
    return rewritten + _HANDLERS


class ResolverCode:
    """One resolver's APPSYNC_JS code, checked once (it loads) and run any number of times."""

    def __init__(self, source: str, name: str) -> None:
        self.name = name
        self._module = _rewrite_imports(source)
        self.start()  # fail at start-up, not at the first request

    def start(self) -> ResolverRun:
        return ResolverRun(self._module, self.name)


class ResolverRun:
    """A request handler and then a response handler, sharing one `ctx` (stash, args) as in AppSync."""

    def __init__(self, module: str, name: str) -> None:
        self._name = name
        self._context = quickjs.Context()
        self._context.set_time_limit(TIME_LIMIT_S)
        self._context.set_memory_limit(MEMORY_LIMIT_BYTES)
        ids = [str(uuid.uuid4()) for _ in range(AUTO_IDS)]
        self._context.eval(f"globalThis.__appsync = {{ ids: {json.dumps(ids)} }};")
        try:
            self._context.module(_SHIM)
            self._context.module(module)
        except quickjs.JSException as exc:
            raise CodeError(f"{name}: {_first_line(exc)}") from None
        self._call = self._context.eval("globalThis.__appsync.call")

    def request(self, ctx: dict[str, Any]) -> Outcome:
        return self._run("request", json.dumps(ctx))

    def response(
        self, result: Any, error: dict[str, Any] | None = None, updates: dict[str, Any] | None = None
    ) -> Outcome:
        """`updates` replaces `ctx` keys before the handler runs (a pipeline's stash and prev)."""
        return self._run("response", json.dumps(result), json.dumps(error), json.dumps(updates or {}))

    def _run(self, handler: str, *arguments: str) -> Outcome:
        try:
            answer = json.loads(self._call(handler, *arguments))
        except quickjs.JSException as exc:
            raise CodeError(f"{self._name} {handler}: {_first_line(exc)}") from None
        kind = answer["kind"]
        if kind == "error":
            raise ResolverError(answer["message"], answer["errorType"], answer["data"], answer["errorInfo"])
        if kind == "unauthorized":
            return Outcome(value=None, unauthorized=True)
        return Outcome(
            value=answer["value"],
            early_return=kind == "earlyReturn",
            appended_errors=answer["appendedErrors"],
            subscription_filter=answer["subscriptionFilter"],
            stash=answer["stash"],
        )


def _first_line(exc: quickjs.JSException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "JavaScript error"
