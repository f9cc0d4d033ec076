"""One reader for every setting: `Settings` and `EmulatorConfig` refuse a bad value with a `ConfigError` naming
the variable, and `lambdashare serve` reports it in one line instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambdashare.emulator.config import HASH_WORKERS_ENV, KA_INTERVAL_ENV, SWEEP_INTERVAL_ENV, EmulatorConfig
from lambdashare.settings import (
    DATA_DIR_ENV,
    MAX_UPLOAD_SIZE_ENV,
    PENDING_GRACE_ENV,
    SECRET_ENV,
    STATS_RETENTION_DAYS_ENV,
    STATS_TABLE_ENV,
    ConfigError,
    Settings,
    positive_float,
    positive_int,
    read_config,
)


def test_read_config_casts_the_value() -> None:
    # GIVEN / WHEN / THEN
    assert read_config({"N": "7"}, "N", int) == 7
    assert read_config({"P": "/tmp/x"}, "P", Path) == Path("/tmp/x")


@pytest.mark.parametrize("environ", [{}, {"N": ""}])
def test_read_config_gives_the_default_for_an_unset_or_empty_value(environ: dict[str, str]) -> None:
    # GIVEN / WHEN / THEN
    assert read_config(environ, "N", int, 3) == 3
    assert read_config(environ, "N", int, None) is None


def test_read_config_without_a_default_needs_the_value() -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigError, match=r"^Config 'N' is missing, and has no default\.$"):
        read_config({}, "N", int)


def test_read_config_names_the_variable_of_a_bad_value() -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigError, match=r"^Config 'N' has an invalid value: 'abc' is not a whole number"):
        read_config({"N": "abc"}, "N", positive_int, 2)


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", " "])
def test_positive_int_refuses_what_is_not_a_count(raw: str) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        positive_int(raw)


@pytest.mark.parametrize("raw", ["abc", "0", "-0.5", "nan", "inf"])
def test_positive_float_refuses_what_is_not_an_interval(raw: str) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        positive_float(raw)


def test_positive_numbers_are_read() -> None:
    assert positive_int("4") == 4
    assert positive_float("0.5") == 0.5


@pytest.mark.parametrize(
    ("name", "raw"),
    [(HASH_WORKERS_ENV, "abc"), (HASH_WORKERS_ENV, "0"), (KA_INTERVAL_ENV, "x"), (SWEEP_INTERVAL_ENV, "0")],
)
def test_the_emulator_config_names_a_bad_setting_before_touching_the_data_dir(
    tmp_path: Path, name: str, raw: str
) -> None:
    # GIVEN a data dir that does not exist yet, and one bad setting
    data_dir = tmp_path / "data"
    # WHEN / THEN the config is refused, naming the variable, and nothing is created
    with pytest.raises(ConfigError, match=f"^Config '{name}' has an invalid value: '{raw}'"):
        EmulatorConfig.from_env({DATA_DIR_ENV: str(data_dir), name: raw})
    assert not data_dir.exists()


def test_the_emulator_config_reads_its_numbers(tmp_path: Path) -> None:
    # GIVEN / WHEN
    config = EmulatorConfig.from_env(
        {DATA_DIR_ENV: str(tmp_path), HASH_WORKERS_ENV: "3", KA_INTERVAL_ENV: "2.5", SWEEP_INTERVAL_ENV: "0.5"}
    )
    # THEN
    assert (config.hash_workers, config.ka_interval_s, config.sweep_interval_s) == (3, 2.5, 0.5)
    # AND the sweeper runs every minute unless told otherwise
    assert EmulatorConfig.from_env({DATA_DIR_ENV: str(tmp_path)}).sweep_interval_s == 60.0


@pytest.mark.parametrize(
    ("name", "raw"), [(MAX_UPLOAD_SIZE_ENV, "lots"), (PENDING_GRACE_ENV, "0"), (STATS_RETENTION_DAYS_ENV, "-1")]
)
def test_the_function_settings_name_a_bad_number(tmp_path: Path, name: str, raw: str) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigError, match=f"^Config '{name}' has an invalid value"):
        Settings.from_env({DATA_DIR_ENV: str(tmp_path), SECRET_ENV: "s", name: raw})


def test_serve_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    # GIVEN LAMBDASHARE_HASH_WORKERS that is not a number
    environ = {**os.environ, HASH_WORKERS_ENV: "abc"}
    # WHEN the emulator is started
    result = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "serve", "--port", "1", "--data-dir", str(tmp_path / "d")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN it exits at once with one line naming the variable, and no traceback
    assert result.returncode == 2
    assert result.stderr == (
        "lambdashare: Config 'LAMBDASHARE_HASH_WORKERS' has an invalid value: "
        "'abc' is not a whole number greater than 0\n"
    )
    assert result.stdout == ""


def test_the_stats_table_has_a_local_default_and_is_required_on_aws(tmp_path: Path) -> None:
    # GIVEN the local backend THEN the counters need no table name, and are kept the template's 400 days
    local = Settings.from_env({DATA_DIR_ENV: str(tmp_path), SECRET_ENV: "s"})
    assert (local.stats_table, local.stats_retention_days) == ("stats", 400)
    # GIVEN the aws backend without it THEN it is named as missing
    aws = {"LAMBDASHARE_BACKEND": "aws", "LAMBDASHARE_TABLE": "t", "LAMBDASHARE_BUCKET": "b", SECRET_ENV: "s"}
    with pytest.raises(ConfigError, match=f"^Config '{STATS_TABLE_ENV}' is missing"):
        Settings.from_env(aws)
    assert Settings.from_env({**aws, STATS_TABLE_ENV: "stats-table"}).stats_table == "stats-table"
