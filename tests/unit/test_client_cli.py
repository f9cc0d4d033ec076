"""The client's command line without a server: help for every command, where settings come from, and how
`stats` renders a response of the shape Query.stats answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdashare.cli import main
from lambdashare.client import output
from lambdashare.client.commands import render_stats
from lambdashare.client.config import DEFAULT_ENDPOINT, resolve_profile, save_profile
from lambdashare.client.errors import UsageError

CLIENT_COMMANDS = [
    "upload", "check", "ls", "get", "find", "rm", "share", "unshare", "download", "stats", "watch", "login",
    "logout", "config",
]  # fmt: skip

STATS: dict[str, Any] = {
    "uploads": 12,
    "bytes": 3 * 1024**3,
    "hashed": 10,
    "failed": 1,
    "duplicates": 2,
    "deleted": 3,
    "hashedBytes": 2 * 1024**3,
    "latency": {"p50": 120.0, "p95": 900.0, "p99": 2400.0},
    "throughput": 400 * 1024**2,
    "contentTypes": [{"contentType": "image/png", "uploads": 7, "bytes": 1024**3}],
    "days": [
        {"date": "2026-11-24", "uploads": 8, "bytes": 2 * 1024**3, "hashed": 7, "failed": 1, "duplicates": 2,
         "deleted": 0, "latency": None},
        {"date": "2026-11-25", "uploads": 4, "bytes": 1024**3, "hashed": 3, "failed": 0, "duplicates": 0,
         "deleted": 3, "latency": {"p50": 100.0, "p95": 800.0, "p99": 2000.0}},
        {"date": "2026-11-26", "uploads": 0, "bytes": 0, "hashed": 0, "failed": 0, "duplicates": 0,
         "deleted": 0, "latency": None},
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", CLIENT_COMMANDS)
def test_every_command_has_help_with_an_example_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert f"example:\n  lambdashare {command}" in shown
    if command != "config":
        assert "exit status: 0 ok, 1" in shown


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["upload", "--parallel", "0", "file"])
    assert exited.value.code == 2


def test_flags_beat_the_environment_which_beats_the_profile(tmp_path: Path) -> None:
    # GIVEN a stored profile
    save_profile(tmp_path, "work", {"endpoint": "https://a.example/graphql", "api_key": "stored"})

    # THEN a profile alone gives its values, the environment overrides them, and flags override both
    assert resolve_profile(tmp_path, profile="work", environ={}).endpoint == "https://a.example/graphql"
    env = {"LAMBDASHARE_ENDPOINT": "https://b.example/graphql", "LAMBDASHARE_PROFILE": "work"}
    from_env = resolve_profile(tmp_path, environ=env)
    assert (from_env.endpoint, from_env.api_key) == ("https://b.example/graphql", "stored")
    flagged = resolve_profile(tmp_path, endpoint="https://c.example/graphql", api_key="given", environ=env)
    assert (flagged.endpoint, flagged.api_key, flagged.auth) == ("https://c.example/graphql", "given", "api-key")
    # and with nothing stored, the local emulator's default URL
    assert resolve_profile(tmp_path / "empty", environ={}).endpoint == DEFAULT_ENDPOINT


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no profile 'nope'"):
        resolve_profile(tmp_path, profile="nope", environ={})


def test_the_config_file_is_private(tmp_path: Path) -> None:
    save_profile(tmp_path, "default", {"api_key": "da2-secret"})
    assert (tmp_path / "config.ini").stat().st_mode & 0o077 == 0


def test_the_realtime_url_of_a_local_emulator_is_ws() -> None:
    local = resolve_profile(Path("/nonexistent"), endpoint="http://127.0.0.1:8000/graphql", environ={})
    assert local.realtime_url == "ws://127.0.0.1:8000/graphql"
    assert local.host == "127.0.0.1:8000"
    deployed = resolve_profile(
        Path("/nonexistent"), endpoint="https://x.appsync-api.eu-west-1.amazonaws.com/graphql", environ={}
    )
    assert deployed.realtime_url == deployed.endpoint  # gql's AppSync transport derives wss://…-realtime-api… itself


def test_stats_render_a_table_and_a_bar_per_day(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN a response of Query.stats' shape is rendered
    render_stats(STATS, as_json=False)
    shown = capsys.readouterr().out

    # THEN the totals, the content types, latency and throughput are in the table
    total = next(line for line in shown.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "12", "3.0", "GiB", "10", "1", "2", "3"]
    assert "image/png" in shown
    assert "p50 120 ms, p95 900 ms, p99 2400 ms" in shown
    assert "400.0 MiB/s" in shown
    # and each day has bars scaled to the busiest day: full for it, half for half as many, none for none
    rows = {line.split()[0]: line for line in shown.splitlines() if line.startswith("2026-")}
    assert rows["2026-11-24"].count("█") == 2 * output.BAR_WIDTH
    assert rows["2026-11-25"].count("█") == output.BAR_WIDTH
    assert "█" not in rows["2026-11-26"]


def test_stats_as_json_is_the_response(capsys: pytest.CaptureFixture[str]) -> None:
    render_stats(STATS, as_json=True)
    assert json.loads(capsys.readouterr().out) == STATS


def test_a_bar_shows_a_sliver_for_any_value_above_zero() -> None:
    assert output.bar(0) == ""
    assert output.bar(1e-9) == "▏"
    assert output.bar(1) == "█" * output.BAR_WIDTH
    assert output.bar(0.5) == "█" * (output.BAR_WIDTH // 2)


def test_a_digest_line_is_what_sha256sum_reads() -> None:
    file = {"hashes": {"sha256": "ab" * 32, "md5": "cd" * 16}}
    assert output.digest_line(file, "sha256", "dir/a.txt") == f"{'ab' * 32}  dir/a.txt"
    assert output.digest_line(file, "md5", "a.txt") == f"{'cd' * 16}  a.txt"


def test_config_from_stack_fills_a_profile_from_the_stack_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    # GIVEN a deployed stack with lambdashare's outputs (moto's CloudFormation)
    monkeypatch.setenv("LAMBDASHARE_CONFIG_DIR", str(tmp_path))
    outputs = {
        "GraphQLUrl": "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql",
        "ApiKey": "da2-deployed",
        "Region": "eu-west-1",
        "UserPoolId": "eu-west-1_Pool",
        "UserPoolClientId": "client123",
        "UploadBucketName": "not-a-profile-field",
    }
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="lambdashare", TemplateBody=json.dumps(template)
        )

        # WHEN a profile is filled from it
        assert main(["config", "from-stack", "lambdashare", "--region", "eu-west-1", "--profile", "prod"]) == 0
        # and a stack that is not there is a one-line error, exit 2
        assert main(["config", "from-stack", "missing", "--region", "eu-west-1", "--profile", "prod"]) == 2

    # THEN the profile targets the stack's API and user pool
    profile = resolve_profile(tmp_path, profile="prod", environ={})
    assert profile.endpoint == outputs["GraphQLUrl"]
    assert (profile.api_key, profile.region) == ("da2-deployed", "eu-west-1")
    assert (profile.user_pool_id, profile.user_pool_client_id) == ("eu-west-1_Pool", "client123")
    assert capsys.readouterr().err.count("\n") == 2
