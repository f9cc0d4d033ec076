"""The API key renewer: moves the key's expiry a validated number of days ahead, with AppSync's UpdateApiKey."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from functions.api_key_renewer.app import DAY_S, Renewal, renew
from lambdashare.settings import ConfigError

ENVIRON = {
    "LAMBDASHARE_API_ID": "abcdefghijklmnopqrstuvwxyz",
    "LAMBDASHARE_API_KEY_ID": "da2-keyid",
    "LAMBDASHARE_API_KEY_VALIDITY_DAYS": "30",
}
NOW = 1_800_000_000.7


def test_renew_asks_appsync_for_the_expiry_days_from_now() -> None:
    # GIVEN the renewer's settings and AppSync, which stores the expiry rounded down to the hour
    renewal = Renewal.from_env(ENVIRON)
    client = boto3.session.Session(
        aws_access_key_id="unit", aws_secret_access_key="unit", region_name="eu-west-1"
    ).client("appsync")
    wanted = int(NOW) + 30 * DAY_S
    with Stubber(client) as stubber:
        stubber.add_response(
            "update_api_key",
            {"apiKey": {"id": "da2-keyid", "expires": wanted - wanted % 3600}},
            {"apiId": ENVIRON["LAMBDASHARE_API_ID"], "id": "da2-keyid", "expires": wanted},
        )
        # WHEN it runs
        expires = renew(client, renewal, NOW)
        stubber.assert_no_pending_responses()
    # THEN the key lives 30 days (to the hour) from now
    assert expires == wanted - wanted % 3600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LAMBDASHARE_API_KEY_VALIDITY_DAYS", "1"),
        ("LAMBDASHARE_API_KEY_VALIDITY_DAYS", "366"),
        ("LAMBDASHARE_API_KEY_VALIDITY_DAYS", "a week"),
        ("LAMBDASHARE_API_KEY_ID", ""),
    ],
)
def test_a_bad_setting_is_a_clear_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Renewal.from_env({**ENVIRON, name: value})
