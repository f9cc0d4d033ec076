"""The emulator's configuration and the local secrets it keeps in the data directory.

Secrets (API key, URL-signing secret, local IAM credentials) are generated once per data directory
and kept in `emulator.json` (mode 0600), so restarts keep URLs, tokens and keys valid.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdashare import settings as s

API_KEY_ENV = "LAMBDASHARE_API_KEY"
KA_INTERVAL_ENV = "LAMBDASHARE_KA_INTERVAL"
HASH_WORKERS_ENV = "LAMBDASHARE_HASH_WORKERS"
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EmulatorConfig:
        data_dir = Path(environ.get(s.DATA_DIR_ENV) or DEFAULT_DATA_DIR).resolve()
        stored = load_or_create_secrets(data_dir)
        return cls(
            data_dir=data_dir,
            public_url=(environ.get(s.PUBLIC_URL_ENV) or "http://127.0.0.1:8000").rstrip("/"),
            api_key=environ.get(API_KEY_ENV) or stored["api_key"],
            secret=stored["secret"],
            access_key_id=stored["access_key_id"],
            secret_access_key=stored["secret_access_key"],
            region=environ.get(s.REGION_ENV) or "us-east-1",
            ka_interval_s=float(environ.get(KA_INTERVAL_ENV) or 60),
            hash_workers=int(environ.get(HASH_WORKERS_ENV) or 2),
        )

    @property
    def graphql_url(self) -> str:
        return f"{self.public_url}/graphql"

    def function_environ(self) -> dict[str, str]:
        """What our Lambda functions find in their environment, as the template would set it in AWS."""
        return {
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
