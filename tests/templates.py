"""Variants of template.yaml for tests that give the emulator another template (LAMBDASHARE_TEMPLATE)."""

from __future__ import annotations

from lambdashare.emulator.runtime import TEMPLATE_PATH

TEMPLATE = TEMPLATE_PATH.read_text(encoding="utf-8")


def without_resolver(field: str) -> str:
    """The template with the resolver resource of `field` cut out."""
    lines = TEMPLATE.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == f"FieldName: {field}")
    start = max(i for i in range(at) if lines[i].startswith("  ") and not lines[i].startswith("    "))
    end = next(i for i in range(at, len(lines)) if lines[i].startswith("  ") and not lines[i].startswith("    "))
    return "".join(lines[:start] + lines[end:])


def with_analytics_handler(handler: str) -> str:
    """The template with AnalyticsFunction (the stream consumer and daily rollup) running `handler`."""
    original = "Handler: functions.analytics.app.handler"
    assert TEMPLATE.count(original) == 1
    return TEMPLATE.replace(original, f"Handler: {handler}")
