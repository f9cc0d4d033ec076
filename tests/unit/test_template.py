"""template.yaml: valid CloudFormation, transformable by SAM offline, in step with the schema and the code."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import ObjectTypeDefinitionNode, ObjectTypeExtensionNode, parse

from functions.hasher.app import FINISH_MARGIN_S
from lambdashare.domain.model import FileRecord
from lambdashare.settings import (
    DEFAULT_MAX_UPLOAD_SIZE,
    DEFAULT_PENDING_GRACE,
    DEFAULT_STATS_RETENTION_DAYS,
    MAX_UPLOAD_SIZE_ENV,
    PENDING_GRACE_ENV,
    STATS_RETENTION_DAYS_ENV,
    Settings,
)

#: S3's largest object.
MAX_S3_OBJECT = 5 * 1024**4

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SCHEMA = ROOT / "schema.graphql"
#: Regions the stack is linted for (resource types, runtimes and architectures differ by region).
LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
ROOT_TYPES = ("Query", "Mutation")
FUNCTIONS = ("ResolverFunction", "HasherFunction", "ApiKeyRenewerFunction", "AnalyticsFunction")
#: Subscription fields with a resolver: their APPSYNC_JS code decides who receives what.
SUBSCRIPTION_RESOLVERS = {"Subscription.onFileHashed", "Subscription.onFileProgress"}
PUBLISH_FIELD_ARNS = [
    {"Fn::Sub": "${Api.Arn}/types/Mutation/fields/publishFileHashed"},
    {"Fn::Sub": "${Api.Arn}/types/Mutation/fields/publishFileProgress"},
]
#: A resolver with any of these runs code of its own: not a direct Lambda resolver.
CODE_PROPERTIES = {
    "Code",
    "CodeS3Location",
    "RequestMappingTemplate",
    "RequestMappingTemplateS3Location",
    "ResponseMappingTemplate",
    "ResponseMappingTemplateS3Location",
    "PipelineConfig",
}


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """SAM's translator asks boto3 for a region (ARN partitions); no credentials, no network."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


def _template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    parsed: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return parsed


class _NoManagedPolicies:
    """Stands in for samtranslator's ManagedPolicyLoader (which calls IAM): the template names
    managed policies by ARN only, so nothing needs looking up."""

    def load(self) -> dict[str, str]:
        return {}


def _transformed(parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """What CloudFormation's SAM transform makes of the template after `sam deploy` uploaded the code."""
    from samtranslator.translator.transform import transform

    template = _template()
    # `sam package`/`sam deploy` replace local CodeUri directories with S3 locations
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/lambda.zip"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource["Properties"]:
            resource["Properties"]["CodeUri"] = "s3://artifacts/lambda.zip"
    transformed: dict[str, Any] = transform(template, parameters or {}, _NoManagedPolicies())
    return transformed


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == type_}


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        yield from statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- validity


def test_cfn_lint_reports_no_errors() -> None:
    from cfnlint.api import lint_file
    from cfnlint.config import ManualArgs

    # GIVEN template.yaml WHEN cfn-lint checks it (it runs SAM's transform itself) for our regions
    matches = lint_file(TEMPLATE, config=ManualArgs(regions=LINT_REGIONS))
    # THEN it finds no error (warnings and informational findings are not failures)
    errors = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_template_transforms_offline_into_the_stack() -> None:
    # GIVEN the template WHEN SAM's translator transforms it with the default parameters
    resources = _transformed()["Resources"]
    # THEN the stack has the API, its resolvers, the table and the functions
    assert len(_of_type(resources, "AWS::AppSync::GraphQLApi")) == 1
    assert len(_of_type(resources, "AWS::AppSync::Resolver")) == len(_schema_fields() | SUBSCRIPTION_RESOLVERS)
    assert set(_of_type(resources, "AWS::Lambda::Function")) == set(FUNCTIONS)
    table = resources["FilesTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"bySha256", "byOwner"}
    # AND the bucket notifies the hasher of objects created under uploads/
    notifications = resources["UploadBucket"]["Properties"]["NotificationConfiguration"]
    (notification,) = notifications["LambdaConfigurations"]
    assert notification["Function"] == {"Fn::GetAtt": ["HasherFunction", "Arn"]}
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    # AND a failed asynchronous invocation ends in the queue after two retries
    (invoke_config,) = _of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["HasherFailureQueue", "Arn"]
    }


def test_tracing_is_switched_by_one_parameter() -> None:
    # GIVEN the template WHEN transformed with Tracing on, and with the default (off)
    on = _transformed({"Tracing": "Active"})["Resources"]
    off = _transformed()["Resources"]
    # THEN Lambda traces (and may write to X-Ray) only when asked to
    for name in FUNCTIONS:
        assert on[name]["Properties"]["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}  # = Active
        assert "TracingConfig" not in off[name]["Properties"]
        role = on[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        managed = on[role]["Properties"]["ManagedPolicyArns"]
        assert any("AWSXrayWriteOnlyAccess" in str(arn) for arn in managed)
    # AND AppSync's XrayEnabled and Powertools' tracer follow the same condition
    assert off["Api"]["Properties"]["XrayEnabled"] == {"Fn::If": ["TracingOn", True, False]}
    assert off["HasherFunction"]["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingOn", "false", "true"]
    }


# ---------------------------------------------------------------- schema <-> template <-> code


def _schema_fields() -> set[str]:
    document = parse(SCHEMA.read_text(encoding="utf-8"))
    return {
        f"{d.name.value}.{field.name.value}"
        for d in document.definitions
        if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode) and d.name.value in ROOT_TYPES
        for field in d.fields or ()
    }


def _template_resolvers() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """ "Type.field" -> [(resolver logical id, its data source resource)]."""
    resources = _template()["Resources"]
    assert not _of_type(resources, "AWS::Serverless::GraphQLApi"), "resolvers there: extend this test"
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, resolver in _of_type(resources, "AWS::AppSync::Resolver").items():
        props = resolver["Properties"]
        if props["Kind"] == "PIPELINE":  # its functions' data sources
            functions = [resources[f["Fn::GetAtt"][0]]["Properties"] for f in props["PipelineConfig"]["Functions"]]
            (data_source_name,) = {f["DataSourceName"]["Fn::GetAtt"][0] for f in functions}
        else:
            data_source_name = props["DataSourceName"]["Fn::GetAtt"][0]
        found.setdefault(f"{props['TypeName']}.{props['FieldName']}", []).append((name, resources[data_source_name]))
    return found


def _routes() -> set[str]:
    """Fields the Powertools resolver in resolvers/ answers (its registries' "Type.field" keys)."""
    from resolvers.app import app

    registries = (app._resolver_registry, app._batch_resolver_registry, app._async_batch_resolver_registry)
    return {key for registry in registries for key in registry.resolvers}


def test_every_root_field_has_exactly_one_resolver_in_the_template() -> None:
    # GIVEN the Query and Mutation fields of schema.graphql WHEN looking them up in template.yaml
    fields, resolvers = _schema_fields(), _template_resolvers()
    # THEN each has exactly one resolver, and no resolver names a field the schema lacks
    assert fields
    assert {f: [n for n, _ in rs] for f, rs in resolvers.items() if len(rs) != 1} == {}
    assert sorted(fields - resolvers.keys()) == []
    assert resolvers.keys() - fields == SUBSCRIPTION_RESOLVERS


def test_lambda_fields_are_direct_resolvers_with_a_route_and_none_fields_have_none() -> None:
    # GIVEN each field's resolver and data source in the template, and the routes in resolvers/
    resources, routes = _template()["Resources"], _routes()
    lambda_fields, none_fields = set(), set()
    for field, name, data_source in [(f, n, d) for f, rs in _template_resolvers().items() for n, d in rs]:
        kind = data_source["Properties"]["Type"]
        if kind == "NONE":
            none_fields.add(field)
            continue
        # THEN a Lambda field is a direct resolver (no code or templates) on the resolver function
        assert kind == "AWS_LAMBDA", field
        props = resources[name]["Properties"]
        assert props["Kind"] == "UNIT", field
        assert not CODE_PROPERTIES & props.keys(), field
        function = data_source["Properties"]["LambdaConfig"]["LambdaFunctionArn"]["Fn::GetAtt"][0]
        assert resources[function]["Properties"]["Handler"] == "resolvers.app.handler"
        lambda_fields.add(field)
    # AND every Lambda field has a route, no NONE field has one, and no route is unreachable
    assert sorted(lambda_fields - routes) == []
    assert sorted(routes & none_fields) == []
    assert sorted(routes - lambda_fields) == []
    assert none_fields == {"Mutation.publishFileHashed", "Mutation.publishFileProgress", *SUBSCRIPTION_RESOLVERS}


def test_handlers_named_in_the_template_exist() -> None:
    # GIVEN every function's Handler WHEN importing it from the project's code THEN it is a callable
    for name, function in _of_type(_template()["Resources"], "AWS::Serverless::Function").items():
        module, _, attribute = function["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), name


def _resolve_for_settings(value: Any, parameters: dict[str, Any]) -> str:
    """An environment value as the function would see it: parameters at their defaults, anything
    else (resource names, URLs, the resolved secret) as a placeholder."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return str(parameters[value["Ref"]].get("Default", ""))
    if isinstance(value, dict):
        return "resolved-at-deploy"
    return str(value)


def test_each_function_environment_satisfies_settings() -> None:
    # GIVEN each function's environment after the transform (Globals merged in)
    template = _template()
    parameters = template["Parameters"]
    functions = _of_type(_transformed()["Resources"], "AWS::Lambda::Function")
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        environ = {k: _resolve_for_settings(v, parameters) for k, v in variables.items()}
        environ["AWS_REGION"] = "us-east-1"  # set by Lambda
        # WHEN the code reads its settings THEN they load, for the aws backend
        settings = Settings.from_env(environ)
        assert settings.backend == "aws", name
        assert environ["POWERTOOLS_SERVICE_NAME"] and environ["POWERTOOLS_METRICS_NAMESPACE"]
    # AND the hasher knows where to publish
    hasher_environment = functions["HasherFunction"]["Properties"]["Environment"]["Variables"]
    assert hasher_environment["LAMBDASHARE_APPSYNC_URL"] == {"Fn::GetAtt": ["Api", "GraphQLUrl"]}


# ---------------------------------------------------------------- least privilege


def test_the_hasher_may_call_appsync_only_for_publish_file_hashed() -> None:
    # GIVEN the hasher's role as SAM generates it (its Policies plus what SAM adds)
    resources = _transformed()["Resources"]
    role = resources["HasherFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = list(_statements(resources[role]))
    # THEN its only AppSync permission is appsync:GraphQL on the publishFileHashed field
    appsync = [s for s in statements if any(a.lower().startswith("appsync:") for a in _as_list(s["Action"]))]
    assert len(appsync) == 1
    assert appsync[0]["Effect"] == "Allow"
    assert _as_list(appsync[0]["Action"]) == ["appsync:GraphQL"]
    assert _as_list(appsync[0]["Resource"]) == PUBLISH_FIELD_ARNS
    assert "Condition" not in appsync[0]
    # AND nothing is granted by wildcard action or on every resource
    for statement in statements:
        assert not any(a == "*" or a.endswith(":*") for a in _as_list(statement["Action"])), statement
        assert "*" not in _as_list(statement["Resource"]), statement
    # AND its managed policies are the logging basics only
    assert [arn.rsplit("/", 1)[-1] for arn in resources[role]["Properties"]["ManagedPolicyArns"]] == [
        "AWSLambdaBasicExecutionRole"
    ]


def test_the_resolver_function_has_no_appsync_permission() -> None:
    resources = _transformed()["Resources"]
    role = resources["ResolverFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = [a for s in _statements(resources[role]) for a in _as_list(s["Action"])]
    assert actions and not [a for a in actions if a.lower().startswith("appsync:")]


def test_the_bucket_name_is_the_same_expression_everywhere() -> None:
    """The hasher may not !Ref the bucket that notifies it (circular dependency), so the bucket's
    name is spelt out three times: as BucketName, in the functions' environment and in the hasher's
    S3 policy. They must agree."""
    template = _template()
    name_template, variables = template["Resources"]["UploadBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert template["Globals"]["Function"]["Environment"]["Variables"]["LAMBDASHARE_BUCKET"] == {
        "Fn::Sub": [name_template, variables]
    }
    hasher_policies = template["Resources"]["HasherFunction"]["Properties"]["Policies"]
    s3_resources = [
        r["Fn::Sub"]
        for policy in hasher_policies
        for s in policy["Statement"]
        if any(a.startswith("s3:") for a in _as_list(s["Action"]))
        for r in _as_list(s["Resource"])
    ]
    assert s3_resources
    for sub_template, sub_variables in s3_resources:
        assert sub_variables == variables
        assert sub_template.split(":::", 1)[1].split("/", 1)[0] == name_template


# ---------------------------------------------------------------- packaging


def _package_module() -> Any:
    """scripts/package.py, the script behind `make package`."""
    spec = importlib.util.spec_from_file_location("_package_script", ROOT / "scripts" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_make_package_builds_what_the_template_deploys() -> None:
    # GIVEN the packaging script WHEN it reads template.yaml
    package = _package_module()
    (artifact,) = package.artifacts(TEMPLATE)
    # THEN it builds the one directory both functions deploy from, for their runtime and architecture
    globals_ = _template()["Globals"]["Function"]
    assert artifact.code_uri == globals_["CodeUri"].rstrip("/")
    assert set(artifact.functions) == set(FUNCTIONS)
    assert (artifact.runtime, [artifact.architecture]) == (globals_["Runtime"], globals_["Architectures"])
    assert artifact.platforms[0] == "manylinux2014_aarch64"
    # AND it installs Powertools with pyproject's version range, and the pinned AWS SDK
    requirements = package.requirements()
    assert any(r.startswith("aws-lambda-powertools[tracer]") for r in requirements)
    assert set(package.BUNDLED_SDK) <= set(requirements)


def test_the_bundled_sdk_is_pinned_and_knows_write_once_puts() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    # GIVEN the AWS SDK pins the artifact bundles (the Lambda runtime's own boto3 varies by region)
    pins = {Requirement(r).name: Requirement(r) for r in _package_module().BUNDLED_SDK}
    # THEN boto3 and botocore are each pinned to one version, of one release
    assert set(pins) == {"boto3", "botocore"}
    versions = {name: Version(str(r.specifier).removeprefix("==")) for name, r in pins.items()}
    assert all(str(r.specifier).startswith("==") for r in pins.values())
    assert versions["boto3"].release[:2] == versions["botocore"].release[:2]
    # AND botocore is new enough to sign IfNoneMatch into a PutObject (1.35.2, August 2024)
    assert versions["botocore"] >= Version("1.35.2")
    # AND boto3's pin is inside the range pyproject.toml (and so the tests) use
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (declared,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "boto3"]
    assert declared.specifier.contains(versions["boto3"])


# ---------------------------------------------------------------- the bucket


def test_the_buckets_cors_allows_every_header_a_presigned_upload_asks_for() -> None:
    from lambdashare.adapters.aws.s3_blob_store import S3BlobStore, new_client

    # GIVEN the headers an upload ticket tells a browser to send (sha256 given, so every one of them)
    client = new_client(region="eu-west-1", session=_offline_session())
    request = S3BlobStore("bucket", client=client).presign_put(
        "uploads/f", size=1, content_type="text/plain", expires_in=60, sha256="0" * 64
    )
    # WHEN the browser preflights them against the bucket's CORS rule
    (rule,) = _template()["Resources"]["UploadBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    # THEN each is allowed (Content-Length is the browser's own, never preflighted), If-None-Match included
    asked = set(request.headers) - {"content-length"}
    assert "if-none-match" in asked
    assert sorted(asked - {h.lower() for h in rule["AllowedHeaders"]}) == []
    assert "PUT" in rule["AllowedMethods"]


def _offline_session() -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id="unit", aws_secret_access_key="unit", region_name="eu-west-1")


# ---------------------------------------------------------------- operations


def test_the_api_key_is_renewed_daily_by_a_function_that_may_only_update_it() -> None:
    from functions.api_key_renewer.app import Renewal

    # GIVEN the stack, transformed with the default parameters
    template = _template()
    resources = _transformed()["Resources"]
    # THEN the key carries no expiry of its own (CloudFormation cannot compute "N days from now")
    assert "Expires" not in resources["ApiKey"]["Properties"]
    # AND a schedule invokes the renewer daily
    (schedule,) = [
        s
        for s in _of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["ApiKeyRenewerFunction", "Arn"]}
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 day)"
    # AND the renewer knows which key, and for how long, from a validated parameter
    function = resources["ApiKeyRenewerFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["LAMBDASHARE_API_KEY_ID"] == {"Fn::GetAtt": ["ApiKey", "ApiKeyId"]}
    assert variables["LAMBDASHARE_API_KEY_VALIDITY_DAYS"] == {"Ref": "ApiKeyValidityDays"}
    days = template["Parameters"]["ApiKeyValidityDays"]
    assert (days["MinValue"], days["MaxValue"]) == (2, 365)  # AppSync's bounds, with a day to renew in
    environ = {k: _resolve_for_settings(v, template["Parameters"]) for k, v in variables.items()}
    assert Renewal.from_env(environ).validity_days == days["Default"]
    # AND its only AppSync permission is UpdateApiKey on this API, and it has no other data access
    role = resources[function["Role"]["Fn::GetAtt"][0]]
    statements = list(_statements(role))
    assert [_as_list(s["Action"]) for s in statements] == [["appsync:UpdateApiKey"]]
    assert _as_list(statements[0]["Resource"]) == [{"Fn::GetAtt": ["Api", "Arn"]}, {"Fn::Sub": "${Api.Arn}/apikeys/*"}]


def test_the_hashers_reserved_concurrency_is_a_parameter() -> None:
    # GIVEN the template WHEN transformed
    template = _template()
    hasher = _transformed()["Resources"]["HasherFunction"]["Properties"]
    # THEN the hasher reserves HasherReservedConcurrency instances, unless it is 0 (no reservation)
    assert hasher["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasherConcurrencyReserved", {"Ref": "HasherReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["HasherConcurrencyReserved"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HasherReservedConcurrency"}, 0]}]
    }
    assert template["Parameters"]["HasherReservedConcurrency"]["MinValue"] == 0


def test_dynamodb_ttl_expires_pending_files_by_the_records_ttl_field() -> None:
    # GIVEN the template WHEN transformed
    resources = _transformed()["Resources"]
    # THEN the table's TTL is on the attribute the file record writes (epoch seconds while PENDING)
    assert resources["FilesTable"]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert "ttl" in {f.name for f in dataclasses.fields(FileRecord)}
    # AND the resolver function learns the grace period from the template's parameter
    variables = resources["ResolverFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[PENDING_GRACE_ENV] == {"Ref": "PendingGracePeriod"}
    assert _template()["Parameters"]["PendingGracePeriod"]["Default"] == DEFAULT_PENDING_GRACE


def test_a_pending_file_outlives_every_s3_event_that_may_still_hash_it() -> None:
    # GIVEN the template WHEN transformed
    resources = _transformed()["Resources"]
    (invoke_config,) = _of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    event_age = invoke_config["Properties"]["MaximumEventAgeInSeconds"]
    retention = resources["HasherFailureQueue"]["Properties"]["MessageRetentionPeriod"]
    # THEN by default a PENDING file outlives its URL by longer than an event may wait for the hasher and
    # then for a redrive from the failure queue: a redriven event finds the file, not an orphan object
    assert event_age + retention <= DEFAULT_PENDING_GRACE
    assert _template()["Parameters"]["PendingGracePeriod"]["Default"] == DEFAULT_PENDING_GRACE


def test_an_incomplete_multipart_upload_is_aborted_by_the_buckets_rule_before_its_file_expires() -> None:
    # GIVEN the template's parameters and the bucket's lifecycle rule
    template = _template()
    days = template["Parameters"]["IncompleteUploadDays"]
    (rule,) = template["Resources"]["UploadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # THEN the rule takes its days from the parameter, and even its longest setting ends before the
    # PENDING file expires, so a resumable upload never outlives its file's record
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": {"Ref": "IncompleteUploadDays"}}
    assert days["MaxValue"] * 86400 < template["Parameters"]["PendingGracePeriod"]["Default"]
    assert 1 <= days["MinValue"] <= days["Default"] <= days["MaxValue"]


def test_the_size_limit_follows_from_what_one_hasher_run_can_hash() -> None:
    # GIVEN the template's limits WHEN transformed
    template = _template()
    resources = _transformed()["Resources"]
    hasher = resources["HasherFunction"]["Properties"]
    (invoke_config,) = _of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    max_size = template["Parameters"]["MaxUploadSize"]["Default"]
    # THEN the hasher has Lambda's longest run and 2 vCPUs (1 per 1,769 MB)
    assert hasher["Timeout"] == 900
    assert template["Parameters"]["HasherMemorySize"]["Default"] // 1769 == 2
    # AND the largest accepted file hashes within that run at the derived rate (40 MiB/s, a safety
    # factor of 2 over the slower of the hash and S3 read bounds), after the hasher's finishing margin
    budget_s = hasher["Timeout"] - FINISH_MARGIN_S
    assert max_size <= 40 * 1024**2 * budget_s
    assert max_size == DEFAULT_MAX_UPLOAD_SIZE and max_size <= MAX_S3_OBJECT
    # AND requestUpload is told that limit; an event waits at most long enough for three full attempts
    assert resources["ResolverFunction"]["Properties"]["Environment"]["Variables"][MAX_UPLOAD_SIZE_ENV] == {
        "Ref": "MaxUploadSize"
    }
    assert 3 * hasher["Timeout"] + 180 <= invoke_config["Properties"]["MaximumEventAgeInSeconds"] <= 3600
    # AND a PENDING file outlives its URL by more than the event may wait, so no upload it is still hashing expires
    assert (
        template["Parameters"]["PendingGracePeriod"]["MinValue"]
        >= invoke_config["Properties"]["MaximumEventAgeInSeconds"]
    )


def test_the_hasher_may_delete_only_uploaded_objects() -> None:
    # GIVEN the hasher's role
    resources = _transformed()["Resources"]
    role = resources["HasherFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    # THEN it may delete objects (those whose file record is gone), under uploads/ only
    deleting = [s for s in _statements(resources[role]) if "s3:DeleteObject" in _as_list(s["Action"])]
    assert len(deleting) == 1
    (resource,) = _as_list(deleting[0]["Resource"])
    assert resource["Fn::Sub"][0].endswith("/uploads/*")


def test_alarms_watch_the_failure_queue_and_every_function_and_notify_the_topic_if_given() -> None:
    # GIVEN the alarms of the transformed stack
    template = _template()
    resources = _transformed()["Resources"]
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    # THEN one watches each on-failure queue (the hasher's, the analytics function's) for any visible message
    queue_alarms = [a["Properties"] for a in alarms.values() if a["Properties"]["Namespace"] == "AWS/SQS"]
    assert sorted(a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in queue_alarms) == [
        "AnalyticsFailureQueue",
        "HasherFailureQueue",
    ]
    for queue_alarm in queue_alarms:
        assert queue_alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert queue_alarm["Dimensions"][0]["Name"] == "QueueName"
        assert (queue_alarm["Threshold"], queue_alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    # AND each function's Errors has an alarm
    errors = [a["Properties"] for a in alarms.values() if a["Properties"]["Namespace"] == "AWS/Lambda"]
    assert all(a["MetricName"] == "Errors" for a in errors)
    assert sorted(a["Dimensions"][0]["Value"]["Ref"] for a in errors) == sorted(FUNCTIONS)
    # AND every alarm notifies AlarmTopicArn, or nobody when it is empty
    notify = {"Fn::If": ["AlarmTopicSet", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == notify
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
    assert template["Conditions"]["AlarmTopicSet"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("arn:aws:sns:eu-west-1:123456789012:lambdashare-alarms", True),
        ("arn:aws-cn:sns:cn-north-1:123456789012:alarms.fifo", True),
        ("arn:aws:sqs:eu-west-1:123456789012:not-a-topic", False),
        ("lambdashare-alarms", False),
    ],
)
def test_the_alarm_topic_parameter_takes_an_sns_topic_arn_or_nothing(value: str, valid: bool) -> None:
    import re

    pattern = _template()["Parameters"]["AlarmTopicArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is valid


def test_the_analytics_function_counts_the_stream_with_partial_failures_and_rolls_up_daily() -> None:
    import json

    from functions.analytics.app import MARKER_LIFETIME_S, ROLLUP_JOB

    # GIVEN the transformed stack
    resources = _transformed()["Resources"]
    # THEN FilesTable's stream feeds the function, which reports failed records, and bisects and retries a
    # failing batch before describing it in its on-failure queue
    (mapping,) = [
        m["Properties"]
        for m in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "AnalyticsFunction"}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["FilesTable", "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["AnalyticsFailureQueue", "Arn"]}
    # AND a counted record's marker outlives every redelivery (records are at most a day old)
    assert MARKER_LIFETIME_S > mapping["MaximumRecordAgeInSeconds"] == 86400
    # AND a daily UTC schedule sends the rollup job with its scheduled time
    (schedule,) = [
        s["Properties"]
        for s in _of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["AnalyticsFunction", "Arn"]}
    ]
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ScheduleExpression"].startswith("cron(") and schedule["ScheduleExpression"].endswith("* * ? *)")
    assert json.loads(schedule["Target"]["Input"]) == {
        "job": ROLLUP_JOB,
        "scheduledTime": "<aws.scheduler.scheduled-time>",
    }
    # AND the retention comes from a parameter whose default is the settings' default
    variables = resources["AnalyticsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[STATS_RETENTION_DAYS_ENV] == {"Ref": "StatsRetentionDays"}
    assert _template()["Parameters"]["StatsRetentionDays"]["Default"] == DEFAULT_STATS_RETENTION_DAYS
    # AND its data access is: the duplicates lookup on FilesTable's bySha256 index, StatsTable, and reading
    # FilesTable's stream only (not SAM's AWSLambdaDynamoDBExecutionRole, which reads every stream)
    role = resources[resources["AnalyticsFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]]
    assert not role["Properties"].get("ManagedPolicyArns", []) or all(
        "DynamoDB" not in str(arn) for arn in role["Properties"]["ManagedPolicyArns"]
    )
    access = {
        str(s["Resource"]): sorted(_as_list(s["Action"]))
        for s in _statements(role)
        if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))
    }
    assert access == {
        str({"Fn::Sub": "${FilesTable.Arn}/index/bySha256"}): ["dynamodb:Query"],
        str({"Fn::GetAtt": ["StatsTable", "Arn"]}): [
            "dynamodb:BatchWriteItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        str({"Fn::GetAtt": ["FilesTable", "StreamArn"]}): [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        ],
        "*": ["dynamodb:ListStreams"],
    }
