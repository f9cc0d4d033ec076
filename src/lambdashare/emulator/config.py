"""The emulator's configuration and the local secrets it keeps in the data directory.

Secrets (API key, URL-signing secret, local IAM credentials) are generated once per data directory
and kept in `emulator.json` (mode 0600), so restarts keep URLs, tokens and keys valid.

`LAMBDASHARE_API_KEY_EXPIRES` makes the API key expire, as every AppSync API key does: either an
AWSDateTime / ISO 8601 timestamp with its offset (`2030-01-01T00:00:00Z`, `2030-01-01T01:00:00+01:00`)
or epoch seconds (`1893456000`, the form of AppSync's own `expires`). From that instant on the key is
refused like a wrong one: HTTP 401 `UnauthorizedException`, `connection_error` on the real-time socket.
Unset (the default): the key never expires.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lambdashare import settings as s

API_KEY_ENV = "LAMBDASHARE_API_KEY"
API_KEY_EXPIRES_ENV = "LAMBDASHARE_API_KEY_EXPIRES"
KA_INTERVAL_ENV = "LAMBDASHARE_KA_INTERVAL"
HASH_WORKERS_ENV = "LAMBDASHARE_HASH_WORKERS"
SWEEP_INTERVAL_ENV = "LAMBDASHARE_SWEEP_INTERVAL"
TLS_CA_ENV = "LAMBDASHARE_TLS_CA"
SECRETS_FILE = "emulator.json"
DEFAULT_DATA_DIR = ".lambdashare"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / SECRETS_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    created = {
        "api_key": "da2-" + _random(string.ascii_lowercase + string.digits, 26),
        "secret": secrets.token_urlsafe(32),
        "access_key_id": "AKIALOCAL" + _random(string.ascii_uppercase + string.digits, 11),
        "secret_access_key": _random(string.ascii_letters + string.digits + "+/", 40),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(created, out, indent=2)
    return created


def parse_expiry(value: str) -> datetime:
    """An instant, from epoch seconds or an ISO 8601 timestamp that names its offset (as AWSDateTime does)."""
    text = value.strip()
    if text.isdigit():
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError):
            raise ValueError(f"{value!r} is out of range") from None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is neither epoch seconds nor an ISO 8601 timestamp") from None
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset: add 'Z' or '+hh:mm'")
    return instant.astimezone(UTC)


def api_key_expiry(environ: Mapping[str, str] = os.environ) -> datetime | None:
    """When the API key stops working, from LAMBDASHARE_API_KEY_EXPIRES; None: never."""
    return s.read_config(environ, API_KEY_EXPIRES_ENV, parse_expiry, None)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    data_dir: Path
    public_url: str
    api_key: str
    secret: str
    access_key_id: str
    secret_access_key: str
    region: str
    ka_interval_s: float
    hash_workers: int
    tls_ca: str | None
    #: Seconds between two runs of the sweeper (expired PENDING files).
    sweep_interval_s: float = 60.0
    #: The API key is refused from this instant on; None: it never expires.
    api_key_expires: datetime | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EmulatorConfig:
        """Every value is read (and checked) before the data directory is touched."""
        data_dir = s.read_config(environ, s.DATA_DIR_ENV, Path, Path(DEFAULT_DATA_DIR)).resolve()
        public_url = s.read_config(environ, s.PUBLIC_URL_ENV, str, "http://127.0.0.1:8000").rstrip("/")
        api_key: str | None = s.read_config(environ, API_KEY_ENV, str, None)
        region = s.read_config(environ, s.REGION_ENV, str, "us-east-1")
        ka_interval_s = s.read_config(environ, KA_INTERVAL_ENV, s.positive_float, 60.0)
        hash_workers = s.read_config(environ, HASH_WORKERS_ENV, s.positive_int, 2)
        tls_ca: str | None = s.read_config(environ, TLS_CA_ENV, str, None)
        sweep_interval_s = s.read_config(environ, SWEEP_INTERVAL_ENV, s.positive_float, 60.0)
        api_key_expires = api_key_expiry(environ)
        stored = load_or_create_secrets(data_dir)
        return cls(
            data_dir=data_dir,
            public_url=public_url,
            api_key=api_key or stored["api_key"],
            secret=stored["secret"],
            access_key_id=stored["access_key_id"],
            secret_access_key=stored["secret_access_key"],
            region=region,
            ka_interval_s=ka_interval_s,
            hash_workers=hash_workers,
            tls_ca=tls_ca,
            sweep_interval_s=sweep_interval_s,
            api_key_expires=api_key_expires,
        )

    @property
    def graphql_url(self) -> str:
        return f"{self.public_url}/graphql"

    def function_environ(self) -> dict[str, str]:
        """What our Lambda functions find in their environment, as the template would set it in AWS."""
        trust = {"SSL_CERT_FILE": self.tls_ca} if self.tls_ca else {}
        return {
            **trust,
            s.BACKEND_ENV: "local",
            s.DATA_DIR_ENV: str(self.data_dir),
            s.SECRET_ENV: self.secret,
            s.PUBLIC_URL_ENV: self.public_url,
            s.APPSYNC_URL_ENV: self.graphql_url,
            s.REGION_ENV: self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "POWERTOOLS_SERVICE_NAME": "lambdashare",
            "POWERTOOLS_METRICS_NAMESPACE": "lambdashare",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
