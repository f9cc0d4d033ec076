"""template.yaml's APPSYNC_JS code passes AppSync's own linter: @aws-appsync/eslint-plugin with its
recommended (type-aware) rules, pinned by tests/appsync-js/package-lock.json."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lambdashare.emulator.runtime import TEMPLATE_PATH
from lambdashare.emulator.template import JS_RUNTIME, read_template
from tests.npm import NPM_TIMEOUT_S, installed_node

LINT_DIR = Path(__file__).resolve().parents[1] / "appsync-js"
LINT_TIMEOUT_S = 120  # a failure guard, not a timing assertion


def resolver_code() -> dict[str, str]:
    """Every APPSYNC_JS Code block of the template (resolvers and pipeline functions), by logical id."""
    resources = read_template(TEMPLATE_PATH)["Resources"]
    return {
        name: resource["Properties"]["Code"]
        for name, resource in resources.items()
        if (resource.get("Properties") or {}).get("Runtime") == JS_RUNTIME
    }


@pytest.fixture(scope="module")
def eslint() -> list[str]:
    node = installed_node(LINT_DIR, "linting the template's APPSYNC_JS code")
    return [node, str(LINT_DIR / "node_modules" / "eslint" / "bin" / "eslint.js")]


def lint(eslint: list[str], name: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*eslint, "--max-warnings", "0", "--stdin", "--stdin-filename", f"{name}.js"],
        input=code,
        cwd=LINT_DIR,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
    )


def test_the_template_has_appsync_js_code() -> None:
    # GIVEN / WHEN the template's code blocks THEN the NONE resolvers and the pipeline function are among them
    assert {
        "MutationPublishFileHashedResolver",
        "MutationPublishFileProgressResolver",
        "SubscriptionOnFileHashedResolver",
        "SubscriptionOnFileProgressResolver",
        "SubscriptionAccessFunction",
    } <= resolver_code().keys()


@pytest.mark.timeout(NPM_TIMEOUT_S + LINT_TIMEOUT_S)  # a first, cold `npm ci` happens in setup
@pytest.mark.parametrize("name", sorted(resolver_code()))
def test_appsync_js_code_passes_appsyncs_linter(eslint: list[str], name: str) -> None:
    # GIVEN one of the template's code blocks WHEN AppSync's linter reads it THEN it finds nothing
    result = lint(eslint, name, resolver_code()[name])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_the_linter_refuses_what_appsync_cannot_run(eslint: list[str]) -> None:
    # GIVEN code with a for loop, ++ and try/catch, none of which APPSYNC_JS allows
    code = (
        "export function request(ctx) {\n"
        "  for (let i = 0; i < 3; i++) { ctx.stash.i = i; }\n"
        "  try { return {}; } catch (e) { return {}; }\n"
        "}\n"
        "export function response(ctx) { return ctx.result; }\n"
    )
    # WHEN it is linted THEN each is reported by AppSync's rules
    result = lint(eslint, "Forbidden", code)
    assert result.returncode == 1
    for rule in ("@aws-appsync/no-for", "@aws-appsync/no-disallowed-unary-operators", "@aws-appsync/no-try"):
        assert rule in result.stdout
