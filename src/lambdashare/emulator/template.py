"""What the emulator learns from `template.yaml`: which function (or NONE data source) serves each
field and with which APPSYNC_JS code, which function the bucket notifies, which functions read the file
table's stream (and how) or run on a schedule, and each function's handler and environment.

One wiring for AWS and for the emulator, so the two cannot drift. Not responsible for running
anything: `runtime` builds the functions from this. CloudFormation intrinsics the emulator cannot
evaluate (`!GetAtt`, `!Sub` of stack values) are left out of the environment; the emulator supplies
its local values for those settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lambdashare.emulator.schema_rules import SchemaRules

TEMPLATE_FILE = "template.yaml"
ROOT_TYPES = ("Query", "Mutation")
#: The only resolver runtime AppSync has besides VTL, and the only one the emulator runs.
JS_RUNTIME = {"Name": "APPSYNC_JS", "RuntimeVersion": "1.0.0"}


class TemplateError(Exception):
    """template.yaml does not wire the schema completely, or cannot be read."""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref X` -> `{"Ref": "X"}`)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    handler: str
    timeout_s: float
    environment: dict[str, str]


@dataclass(frozen=True, slots=True)
class FieldSource:
    """`function` is the logical id of the Lambda behind the field (or behind a pipeline function), or
    None for a NONE data source (or a pipeline resolver); `code` is the APPSYNC_JS code, or None for a
    direct Lambda resolver; `name` names the code (the field, or the pipeline function's logical id)."""

    function: str | None
    code: str | None = None
    name: str = ""
    #: a PIPELINE resolver's functions in order (`code` is then its before/after code); empty for UNIT
    pipeline: tuple[FieldSource, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamMapping:
    """A function's `DynamoDB` event on the file table's stream (Lambda's event-source mapping), with
    Lambda's defaults for what the event leaves out (-1: no limit)."""

    function: str
    event: str
    batch_size: int = 100
    batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    bisect_on_error: bool = False
    max_retries: int = -1
    max_record_age_s: int = -1
    report_item_failures: bool = False
    #: the logical id of the on-failure destination, or None
    on_failure: str | None = None

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A function's `ScheduleV2` event (EventBridge Scheduler), with Scheduler's defaults."""

    function: str
    event: str
    expression: str
    timezone: str = "UTC"
    enabled: bool = True
    #: the target's Input (JSON text with context attributes), or None for Scheduler's default event
    input: str | None = None

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


@dataclass(frozen=True, slots=True)
class Wiring:
    functions: dict[str, FunctionSpec]
    fields: dict[tuple[str, str], FieldSource]
    bucket_notifications: tuple[str, ...] = field(default=())
    stream_mappings: tuple[StreamMapping, ...] = field(default=())
    schedules: tuple[Schedule, ...] = field(default=())

    def resolver_functions(self) -> set[str]:
        sources = [s for field in self.fields.values() for s in (field, *field.pipeline)]
        return {source.function for source in sources if source.function}

    def code_sources(self) -> dict[str, str]:
        """Every APPSYNC_JS code block the fields run, by its name (pipeline functions once)."""
        sources = [s for field in self.fields.values() for s in (field, *field.pipeline)]
        return {source.name: source.code for source in sources if source.code is not None}


def _literal(value: Any, parameters: dict[str, Any]) -> str | None:
    """A plain value, or a `!Ref` to a parameter with a default; None for anything else."""
    if isinstance(value, str | int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        default = parameters[value["Ref"]].get("Default")
        return None if default is None else str(default)
    return None


def _target(value: Any) -> str | None:
    """The logical id a `!GetAtt X.Attr` or `!Ref X` points at."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def _resolver_code(logical_id: str, props: dict[str, Any]) -> str | None:
    """A resolver's or pipeline function's inline APPSYNC_JS code; None for a direct Lambda resolver; what
    the emulator cannot run (VTL, code in S3, another runtime) is an error naming the resource."""
    if "RequestMappingTemplate" in props or "ResponseMappingTemplate" in props:
        raise TemplateError(f"{logical_id}: VTL mapping templates cannot run in the emulator (APPSYNC_JS only)")
    if "CodeS3Location" in props:
        raise TemplateError(f"{logical_id}: CodeS3Location cannot be read by the emulator; inline the Code")
    code = props.get("Code")
    if code is None:
        return None
    runtime = props.get("Runtime")
    if runtime != JS_RUNTIME:
        raise TemplateError(f"{logical_id}: Runtime {runtime} cannot run in the emulator (only {JS_RUNTIME})")
    if not isinstance(code, str):
        raise TemplateError(f"{logical_id}: Code must be the literal JavaScript source")
    return code


def _field_source(
    logical_id: str,
    props: dict[str, Any],
    data_sources: dict[str, FieldSource],
    pipeline_functions: dict[str, FieldSource],
    file_name: str,
) -> FieldSource:
    """A UNIT resolver (data source and code) or a PIPELINE resolver (before/after code and functions)."""
    name = f"{props.get('TypeName')}.{props.get('FieldName')}"
    kind = props.get("Kind", "UNIT")
    code = _resolver_code(logical_id, props)
    if kind == "PIPELINE":
        ids = [_target(f) or "" for f in (props.get("PipelineConfig") or {}).get("Functions") or []]
        unknown = [f for f in ids if f not in pipeline_functions]
        if code is None or not ids or unknown:
            raise TemplateError(
                f"{logical_id}: a PIPELINE resolver needs Code and PipelineConfig.Functions declared in {file_name}"
            )
        return FieldSource(None, code, name, tuple(pipeline_functions[f] for f in ids))
    if kind != "UNIT":
        raise TemplateError(f"{logical_id}: Kind {kind} resolvers cannot run in the emulator (UNIT or PIPELINE)")
    source = data_sources.get(_target(props.get("DataSourceName")) or "")
    if source is None:
        raise TemplateError(f"{logical_id}: its data source is not declared in {file_name}")
    if code is None and (source.function is None or str(props.get("TypeName")) not in ROOT_TYPES):
        raise TemplateError(f"{logical_id}: only a Query or Mutation field on a Lambda may have no Code")
    return FieldSource(source.function, code, name)


def read_template(path: Path) -> dict[str, Any]:
    """template.yaml as data, CloudFormation's short tags included."""
    try:
        template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {path}: {exc}") from None
    return template


def multipart_abort_after_s(path: Path) -> float | None:
    """Seconds after which the bucket's lifecycle rule aborts an incomplete multipart upload; None: never."""
    template = read_template(path)
    parameters: dict[str, Any] = template.get("Parameters") or {}
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        rules = ((resource.get("Properties") or {}).get("LifecycleConfiguration") or {}).get("Rules") or []
        for rule in rules:
            days = _literal((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"), parameters)
            if rule.get("Status") == "Enabled" and days is not None:
                return float(days) * 86400
    return None


def _stream_mapping(function: str, event: str, props: dict[str, Any], parameters: dict[str, Any]) -> StreamMapping:
    def number(name: str, default: float) -> float:
        value = _literal(props.get(name, default), parameters)
        if value is None:
            raise TemplateError(f"{function}.{event}: {name} must be a literal or a parameter with a default")
        return float(value)

    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return StreamMapping(
        function=function,
        event=event,
        batch_size=int(number("BatchSize", 100)),
        batching_window_s=number("MaximumBatchingWindowInSeconds", 0),
        starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
        bisect_on_error=_literal(props.get("BisectBatchOnFunctionError", False), parameters) == "true",
        max_retries=int(number("MaximumRetryAttempts", -1)),
        max_record_age_s=int(number("MaximumRecordAgeInSeconds", -1)),
        report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        on_failure=_target(destination) if destination is not None else None,
    )


def _check_stream(name: str, stream: Any, files_table: str | None) -> None:
    if not (isinstance(stream, dict) and stream.get("Fn::GetAtt") == [files_table, "StreamArn"]):
        raise TemplateError(
            f"{name}: the emulator streams only the file table "
            f"(!GetAtt {files_table}.StreamArn, the table of LAMBDASHARE_TABLE)"
        )


def _schedule(function: str, event: str, props: dict[str, Any], parameters: dict[str, Any]) -> Schedule:
    expression = _literal(props.get("ScheduleExpression"), parameters)
    if expression is None:
        raise TemplateError(f"{function}.{event}: ScheduleExpression must be a literal or a parameter with a default")
    timezone = _literal(props.get("ScheduleExpressionTimezone", "UTC"), parameters) or "UTC"
    raw_input = props.get("Input")
    return Schedule(
        function=function,
        event=event,
        expression=expression,
        timezone=timezone,
        enabled=str(props.get("State", "ENABLED")) != "DISABLED",
        input=_literal(raw_input, parameters) if raw_input is not None else None,
    )


def load_wiring(path: Path, rules: SchemaRules) -> Wiring:
    template = read_template(path)
    resources: dict[str, Any] = template.get("Resources") or {}
    parameters: dict[str, Any] = template.get("Parameters") or {}
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    # the table the functions' LAMBDASHARE_TABLE names: the one SqliteTable stands for, and streams
    files_table = _target(((globals_fn.get("Environment") or {}).get("Variables") or {}).get("LAMBDASHARE_TABLE"))

    functions: dict[str, FunctionSpec] = {}
    notified: list[str] = []
    mappings: list[StreamMapping] = []
    schedules: list[Schedule] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **(resource.get("Properties") or {})}
        variables = {
            **((globals_fn.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        environment = {k: v for k, v in ((k, _literal(v, parameters)) for k, v in variables.items()) if v is not None}
        timeout = _literal(props.get("Timeout", 3), parameters) or "3"
        functions[logical_id] = FunctionSpec(logical_id, str(props["Handler"]), float(timeout), environment)
        for event_name, event in (props.get("Events") or {}).items():
            event_props = event.get("Properties") or {}
            if event.get("Type") == "S3":
                notified.append(logical_id)
            elif event.get("Type") == "DynamoDB":
                _check_stream(f"{logical_id}.{event_name}", event_props.get("Stream"), files_table)
                mappings.append(_stream_mapping(logical_id, event_name, event_props, parameters))
            elif event.get("Type") == "ScheduleV2":
                schedules.append(_schedule(logical_id, event_name, event_props, parameters))

    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":  # as a resource rather than a SAM event
            props = resource.get("Properties") or {}
            function = _target(props.get("FunctionName"))
            if function is None or function not in functions:
                raise TemplateError(f"{logical_id}: FunctionName must name a function of the template")
            _check_stream(f"{function}.{logical_id}", props.get("EventSourceArn"), files_table)
            mappings.append(_stream_mapping(function, logical_id, props, parameters))

    data_sources: dict[str, FieldSource] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::AppSync::DataSource":
            props = resource.get("Properties") or {}
            arn = (props.get("LambdaConfig") or {}).get("LambdaFunctionArn")
            data_sources[logical_id] = FieldSource(_target(arn) if props.get("Type") == "AWS_LAMBDA" else None)

    pipeline_functions: dict[str, FieldSource] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::AppSync::FunctionConfiguration":
            props = resource.get("Properties") or {}
            source = data_sources.get(_target(props.get("DataSourceName")) or "")
            if source is None:
                raise TemplateError(f"{logical_id}: its data source is not declared in {path.name}")
            code = _resolver_code(logical_id, props)
            if code is None:
                raise TemplateError(f"{logical_id}: a pipeline function needs its APPSYNC_JS Code")
            pipeline_functions[logical_id] = FieldSource(source.function, code, logical_id)

    fields: dict[tuple[str, str], FieldSource] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::AppSync::Resolver":
            continue
        props = resource.get("Properties") or {}
        key = (str(props.get("TypeName")), str(props.get("FieldName")))
        if key in fields:
            raise TemplateError(f"{key[0]}.{key[1]} has more than one resolver in {path.name}")
        fields[key] = _field_source(logical_id, props, data_sources, pipeline_functions, path.name)

    missing = sorted(
        f"{type_name}.{field_name}"
        for (type_name, field_name) in rules.field_modes
        if type_name in ROOT_TYPES and (type_name, field_name) not in fields
    )
    if missing:
        raise TemplateError(f"no resolver in {path.name} for: {', '.join(missing)}")
    wiring = Wiring(functions, fields, tuple(notified), tuple(mappings), tuple(schedules))
    unknown = sorted(f for f in wiring.resolver_functions() if f not in functions)
    if unknown:
        raise TemplateError(f"resolvers use functions not declared in {path.name}: {', '.join(unknown)}")
    return wiring
