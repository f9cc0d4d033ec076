"""The API key renewer's entry point: `functions.api_key_renewer.app.handler`, run by a daily schedule.

An AppSync API key expires (7 days after creation unless told otherwise, 365 days at most), and the
web app ships it: a lapsed key breaks every anonymous client at once. Each run moves the expiry to
`LAMBDASHARE_API_KEY_VALIDITY_DAYS` days from now, so a key lapses only if renewals fail for that long
(and the function's Errors alarm says so first).
Not responsible for the schedule (template.yaml) nor for the emulator's key, which expires only when
`LAMBDASHARE_API_KEY_EXPIRES` says so.
Spec: https://docs.aws.amazon.com/appsync/latest/APIReference/API_UpdateApiKey.html
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdashare.settings import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_appsync.client import AppSyncClient

API_ID_ENV = "LAMBDASHARE_API_ID"
API_KEY_ID_ENV = "LAMBDASHARE_API_KEY_ID"
VALIDITY_DAYS_ENV = "LAMBDASHARE_API_KEY_VALIDITY_DAYS"
#: AppSync's bounds on an API key's life, from the update.
MIN_DAYS, MAX_DAYS = 2, 365
DAY_S = 24 * 3600

logger = Logger()


@dataclass(frozen=True, slots=True)
class Renewal:
    api_id: str
    key_id: str
    validity_days: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Renewal:
        missing = [name for name in (API_ID_ENV, API_KEY_ID_ENV, VALIDITY_DAYS_ENV) if not environ.get(name)]
        if missing:
            raise ConfigError(f"Config '{missing[0]}' is missing, and has no default.")
        days = environ[VALIDITY_DAYS_ENV]
        if not days.isdigit() or not MIN_DAYS <= int(days) <= MAX_DAYS:
            raise ConfigError(f"Config '{VALIDITY_DAYS_ENV}' must be a whole number of days, {MIN_DAYS} to {MAX_DAYS}.")
        return cls(environ[API_ID_ENV], environ[API_KEY_ID_ENV], int(days))

    def expires(self, now: float) -> int:
        return int(now) + self.validity_days * DAY_S


def renew(client: AppSyncClient, renewal: Renewal, now: float) -> int:
    """Move the key's expiry to `validity_days` from `now`; return it as AppSync stored it (epoch s)."""
    answer = client.update_api_key(apiId=renewal.api_id, id=renewal.key_id, expires=renewal.expires(now))
    return int(answer["apiKey"]["expires"])


@cache
def _client() -> AppSyncClient:
    client: AppSyncClient = boto3.client("appsync")
    return client


@cache
def _renewal() -> Renewal:
    """Read once, at cold start."""
    return Renewal.from_env(os.environ)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    renewal = _renewal()
    expires = renew(_client(), renewal, time.time())
    logger.info("API key renewed", extra={"api_id": renewal.api_id, "key_id": renewal.key_id, "expires": expires})
    return {"expires": expires}
