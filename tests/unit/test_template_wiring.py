"""The emulator takes its wiring from template.yaml, and refuses a template that leaves a field unwired."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, TEMPLATE_PATH
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import FieldSource, TemplateError, load_wiring
from lambdashare.schema_export import appsync_sdl

RULES = SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)
TEMPLATE = TEMPLATE_PATH.read_text(encoding="utf-8")


def without_resolver(field: str) -> str:
    """The template with the resolver resource of `field` cut out."""
    lines = TEMPLATE.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == f"FieldName: {field}")
    start = max(i for i in range(at) if lines[i].startswith("  ") and not lines[i].startswith("    "))
    end = next(i for i in range(at, len(lines)) if lines[i].startswith("  ") and not lines[i].startswith("    "))
    return "".join(lines[:start] + lines[end:])


def test_the_template_wires_every_field_to_its_data_source() -> None:
    # GIVEN / WHEN the real template is read
    wiring = load_wiring(TEMPLATE_PATH, RULES)
    # THEN every Query and Mutation field has a data source: the resolver function, or NONE for publishing
    roots = {key for key in RULES.field_modes if key[0] in ("Query", "Mutation")}
    assert set(wiring.fields) == roots
    assert wiring.fields[("Mutation", "publishFileHashed")] == FieldSource(None)
    assert {s.function for k, s in wiring.fields.items() if k[1] != "publishFileHashed"} == {"ResolverFunction"}
    assert wiring.functions["ResolverFunction"].handler == "resolvers.app.handler"
    # AND the bucket notifies the hasher, whose environment carries the template's literal settings only
    assert wiring.bucket_notifications == ("HasherFunction",)
    hasher = wiring.functions["HasherFunction"]
    assert hasher.handler == "functions.hasher.app.handler"
    assert hasher.environment["POWERTOOLS_SERVICE_NAME"] == "lambdashare"
    assert "LAMBDASHARE_APPSYNC_URL" not in hasher.environment  # !GetAtt: the emulator supplies its own
    # AND the scheduled API key renewer is read, but runs nowhere locally (the emulator's key has no
    # 7-day default to outrun)
    renewer = wiring.functions["ApiKeyRenewerFunction"]
    assert renewer.handler == "functions.api_key_renewer.app.handler"
    assert "ApiKeyRenewerFunction" not in wiring.resolver_functions() | set(wiring.bucket_notifications)


def test_a_field_without_resolver_is_an_error_naming_it(tmp_path: Path) -> None:
    # GIVEN a template that forgets the resolver of Query.filesByHash
    broken = tmp_path / "template.yaml"
    broken.write_text(without_resolver("filesByHash"), encoding="utf-8")
    # WHEN it is read THEN the error names the field
    with pytest.raises(TemplateError, match=r"Query\.filesByHash"):
        load_wiring(broken, RULES)


def test_serve_refuses_to_start_on_an_incomplete_template(tmp_path: Path) -> None:
    # GIVEN a template missing the resolver of Mutation.deleteFile
    broken = tmp_path / "template.yaml"
    broken.write_text(without_resolver("deleteFile"), encoding="utf-8")
    # WHEN the emulator is started with it
    result = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "serve", "--port", "1", "--data-dir", str(tmp_path / "d")],
        env={"LAMBDASHARE_TEMPLATE": str(broken), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # THEN it exits at once, naming the field
    assert result.returncode == 2
    assert "Mutation.deleteFile" in result.stderr
