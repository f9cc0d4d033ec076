"""`lambdashare run-schedule NAME`: fires one schedule of the template now, against a data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.templates import with_analytics_handler


def run_schedule(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    template = tmp_path / "template.yaml"
    template.write_text(with_analytics_handler("tests.handlers.recorder.handler"), encoding="utf-8")
    env = {
        **os.environ,
        "LAMBDASHARE_TEMPLATE": str(template),
        "LAMBDASHARE_TEST_SINK": str(tmp_path / "sink.jsonl"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    command = [sys.executable, "-m", "lambdashare.cli", "run-schedule", *args, "--data-dir", str(tmp_path / "data")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_it_fires_the_schedule_with_its_input_and_prints_the_result(tmp_path: Path) -> None:
    # WHEN the daily rollup is fired by its Function.Event name
    before = datetime.now(UTC).replace(microsecond=0)
    answer = run_schedule(tmp_path, "AnalyticsFunction.DailyRollup")
    # THEN the handler got the template's Input, its scheduled time now, and its result is printed as JSON
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["handled"]["job"] == "rollup"
    scheduled = datetime.fromisoformat(result["handled"]["scheduledTime"].replace("Z", "+00:00"))
    assert before <= scheduled <= datetime.now(UTC) + timedelta(seconds=1)
    (line,) = (tmp_path / "sink.jsonl").read_text().splitlines()
    assert json.loads(line) == result["handled"]
    # AND the function's logical id names it too (it has one schedule)
    assert run_schedule(tmp_path, "AnalyticsFunction").returncode == 0


def test_an_unknown_name_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    answer = run_schedule(tmp_path, "NoSuchFunction")
    assert answer.returncode == 2
    assert answer.stdout == ""
    (line,) = answer.stderr.strip().splitlines()
    assert "'NoSuchFunction' is not a schedule of the template" in line
    assert "AnalyticsFunction.DailyRollup" in line


def test_the_api_key_renewer_runs_on_aws_only(tmp_path: Path) -> None:
    answer = run_schedule(tmp_path, "ApiKeyRenewerFunction")
    assert answer.returncode == 2
    assert "runs on AWS only" in answer.stderr
