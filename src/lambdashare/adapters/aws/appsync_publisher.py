"""Publishes a file's final state (`publishFileHashed`) and its hashing progress (`publishFileProgress`) by
calling AppSync's mutations, SigV4-signed.

The same code talks to AWS AppSync and to the local emulator (which verifies the signature).
Not responsible for fan-out: AppSync delivers the mutation's result to subscribers.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, EnvProvider

from lambdashare.domain.errors import PublishError
from lambdashare.domain.model import FILE_FIELDS, FILE_SELECTION

#: Selects every field the record fills, so a subscriber may ask for any of them.
PUBLISH_MUTATION = (
    "mutation PublishFileHashed($input: FileHashedInput!) {\n"
    f"  publishFileHashed(input: $input) {{ {FILE_SELECTION} }}\n"
    "}"
)
#: The fields onFileProgress's filter reads (id, owner) are selected, as for publishFileHashed.
PROGRESS_FIELDS = "id hashedBytes size owner"
PROGRESS_MUTATION = (
    "mutation PublishFileProgress($input: FileProgressInput!) {\n"
    f"  publishFileProgress(input: $input) {{ {PROGRESS_FIELDS} }}\n"
    "}"
)
_ATTEMPTS = 3


class AppSyncPublisher:
    def __init__(self, url: str, region: str, *, credentials: Credentials | None = None, timeout: float = 10) -> None:
        self._url = url
        self._region = region
        # the environment first, as botocore's chain does (Lambda puts the role's keys there), without the
        # ~10 ms a botocore session costs to build; the whole chain only when it has none
        self._credentials = credentials or EnvProvider().load() or botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise PublishError("No AWS credentials found to sign the publishFileHashed mutation.")
        self._timeout = timeout

    def publish(self, file: Mapping[str, Any]) -> None:
        fields = {k: file.get(k) for k in FILE_FIELDS}
        self._mutate("publishFileHashed", PUBLISH_MUTATION, fields, attempts=_ATTEMPTS)

    def publish_progress(self, progress: Mapping[str, Any]) -> None:
        """One attempt: a newer value follows soon, and the final state is what must arrive."""
        fields = {k: progress.get(k) for k in ("id", "hashedBytes", "size", "owner")}
        self._mutate("publishFileProgress", PROGRESS_MUTATION, fields, attempts=1)

    def _mutate(self, name: str, query: str, fields: Mapping[str, Any], *, attempts: int) -> None:
        body = json.dumps({"query": query, "variables": {"input": fields}})
        for attempt in range(attempts):
            try:
                answer = self._post(body)
                break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                    raise PublishError(f"AppSync refused {name}: HTTP {exc.code}") from exc
                if attempt == attempts - 1:
                    raise PublishError(f"AppSync unreachable: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
        if answer.get("errors"):
            raise PublishError(f"{name} failed: {answer['errors']}")

    def _post(self, body: str) -> dict[str, Any]:
        request = AWSRequest(method="POST", url=self._url, data=body, headers={"content-type": "application/json"})
        SigV4Auth(self._credentials.get_frozen_credentials(), "appsync", self._region).add_auth(request)
        http = urllib.request.Request(self._url, data=body.encode(), headers=dict(request.headers), method="POST")
        with urllib.request.urlopen(http, timeout=self._timeout) as response:
            answer: dict[str, Any] = json.load(response)
        return answer
