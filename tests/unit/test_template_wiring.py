"""The emulator takes its wiring from template.yaml, and refuses a template that leaves a field unwired."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, TEMPLATE_PATH
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import StreamMapping, TemplateError, load_wiring
from lambdashare.schema_export import appsync_sdl
from tests.templates import TEMPLATE, without_resolver

RULES = SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)


def test_the_template_wires_every_field_to_its_data_source() -> None:
    # GIVEN / WHEN the real template is read
    wiring = load_wiring(TEMPLATE_PATH, RULES)
    # THEN every Query and Mutation field has a data source: the resolver function, or NONE for publishing,
    # and both subscriptions have their access rule
    roots = {key for key in RULES.field_modes if key[0] in ("Query", "Mutation")}
    subscriptions = {("Subscription", "onFileHashed"), ("Subscription", "onFileProgress")}
    assert set(wiring.fields) == {*roots, *subscriptions}
    none_fields = {("Mutation", "publishFileHashed"), ("Mutation", "publishFileProgress"), *subscriptions}
    for key in none_fields:
        assert wiring.fields[key].function is None
        assert "export function response(ctx)" in (wiring.fields[key].code or "")
    # AND the access rule is written once: one pipeline function, run by both subscription resolvers
    (access,) = {wiring.fields[key].pipeline for key in subscriptions}
    assert [(f.name, f.function) for f in access] == [("SubscriptionAccessFunction", None)]
    assert "util.unauthorized()" in (access[0].code or "")
    assert {s.function for k, s in wiring.fields.items() if k not in none_fields} == {"ResolverFunction"}
    assert {s.code for k, s in wiring.fields.items() if k not in none_fields} == {None}
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


PIPELINE = ("Kind: UNIT\n      DataSourceName: !GetAtt None", "Kind: PIPELINE\n      DataSourceName: !GetAtt None")
JS_RESOLVER_CODE = """      Code: |
        export function request(ctx) {
          return { payload: ctx.args.input };
        }
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (PIPELINE, "PipelineConfig.Functions"),  # a pipeline without its functions
        (("Name: APPSYNC_JS, RuntimeVersion: 1.0.0", "Name: APPSYNC_JS, RuntimeVersion: 2.0.0"), "Runtime"),
        ((JS_RESOLVER_CODE, JS_RESOLVER_CODE.replace("export function request(ctx) {", "export function (")), "Syntax"),
        ((JS_RESOLVER_CODE, "      Code: import { x } from 'lodash';\n"), "lodash"),
    ],
    ids=["pipeline-without-functions", "runtime", "syntax-error", "other-module"],
)
def test_serve_refuses_resolver_code_it_cannot_run(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    # GIVEN a template whose publishFileHashed resolver the emulator cannot run
    old, new = change
    assert old in TEMPLATE
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.replace(old, new, 1), encoding="utf-8")
    # WHEN the emulator is started with it
    result = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "serve", "--port", "1", "--data-dir", str(tmp_path / "d")],
        env={"LAMBDASHARE_TEMPLATE": str(broken), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # THEN it exits at once, saying what and where
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Mutation.publishFileHashed" in result.stderr or "MutationPublishFileHashedResolver" in result.stderr


def test_the_stream_consumer_and_the_schedules_are_read_from_the_template() -> None:
    # GIVEN / WHEN the real template is read
    wiring = load_wiring(TEMPLATE_PATH, RULES)
    # THEN the analytics function's DynamoDB event on FilesTable's stream is an event-source mapping
    (mapping,) = wiring.stream_mappings
    assert mapping == StreamMapping(
        function="AnalyticsFunction",
        event="AnalyticsTableStream",
        batch_size=100,
        batching_window_s=1.0,
        starting_position="TRIM_HORIZON",
        bisect_on_error=True,
        max_retries=10,
        max_record_age_s=86400,
        report_item_failures=True,
        on_failure="AnalyticsFailureQueue",
    )
    # AND both ScheduleV2 events are schedules, with their expression, time zone, Input and retries
    schedules = {s.name: s for s in wiring.schedules}
    assert set(schedules) == {"AnalyticsFunction.DailyRollup", "ApiKeyRenewerFunction.Daily"}
    rollup = schedules["AnalyticsFunction.DailyRollup"]
    assert (rollup.expression, rollup.timezone, rollup.enabled) == ("cron(5 0 * * ? *)", "UTC", True)
    assert rollup.input is not None and "<aws.scheduler.scheduled-time>" in rollup.input
    assert schedules["ApiKeyRenewerFunction.Daily"].input is None


def test_a_stream_other_than_the_file_tables_is_refused(tmp_path: Path) -> None:
    # GIVEN a template whose stream event reads another table's stream
    broken = tmp_path / "template.yaml"
    broken.write_text(
        TEMPLATE.replace("EventSourceArn: !GetAtt FilesTable.StreamArn", "EventSourceArn: !GetAtt StatsTable.StreamArn")
    )
    # WHEN it is read THEN the error names the event and the stream the emulator has
    with pytest.raises(
        TemplateError, match=r"AnalyticsFunction\.AnalyticsTableStream: the emulator streams only the file"
    ):
        load_wiring(broken, RULES)


def test_serve_refuses_a_schedule_it_cannot_evaluate(tmp_path: Path) -> None:
    # GIVEN a template whose daily rollup has a five-field (Unix) cron expression
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.replace("cron(5 0 * * ? *)", "cron(5 0 * * *)"), encoding="utf-8")
    # WHEN the emulator is started with it
    result = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "serve", "--port", "1", "--data-dir", str(tmp_path / "d")],
        env={"LAMBDASHARE_TEMPLATE": str(broken), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # THEN it exits at once, naming the schedule and why
    assert result.returncode == 2
    assert "AnalyticsFunction.DailyRollup (cron(5 0 * * *)): cron(5 0 * * *) needs 6 fields" in result.stderr
