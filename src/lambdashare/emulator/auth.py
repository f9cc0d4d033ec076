"""Who is calling: API key or SigV4 (IAM), checked for real, as AppSync does.

SigV4 signatures are recomputed with botocore against the emulator's local credentials; a stale
date, an unknown key or a signature that does not match is refused. Not responsible for per-field
rules: `data_sources` checks a field's auth directives against the caller's mode.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
ACCOUNT_ID = "000000000000"
_MAX_CLOCK_SKEW = timedelta(minutes=5)
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class UnauthorizedError(Exception):
    """The request's credentials are missing, wrong or stale (AppSync's UnauthorizedException)."""

    error_type = "UnauthorizedException"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadSignatureError(UnauthorizedError):
    """A SigV4 signature that does not verify: AppSync answers BadRequestException for these."""

    error_type = "BadRequestException"


@dataclass(frozen=True, slots=True)
class Caller:
    mode: str
    identity: dict[str, Any] | None


class Authenticator:
    def __init__(self, *, api_key: str, access_key_id: str, secret_access_key: str, region: str) -> None:
        self._api_key = api_key
        self._credentials = {access_key_id: Credentials(access_key_id, secret_access_key)}
        self._region = region

    def authenticate(
        self, headers: Mapping[str, str], *, method: str, url: str, body: bytes, source_ip: str | None
    ) -> Caller:
        """Identify the caller from lower-cased request headers (an HTTP request or an AppSync header object)."""
        authorization = headers.get("authorization", "")
        if authorization.startswith("AWS4-HMAC-SHA256"):
            return self._sigv4(headers, authorization, method=method, url=url, body=body, source_ip=source_ip)
        api_key = headers.get("x-api-key")
        if api_key is not None:
            if hmac.compare_digest(api_key.encode(), self._api_key.encode()):
                return Caller(API_KEY, None)
            raise UnauthorizedError("invalid API key")
        raise UnauthorizedError("no credentials")

    def _sigv4(
        self, headers: Mapping[str, str], authorization: str, *, method: str, url: str, body: bytes,
        source_ip: str | None,
    ) -> Caller:
        match = _SIGV4.match(authorization.strip())
        if match is None:
            raise UnauthorizedError("malformed SigV4 Authorization header")
        credentials = self._credentials.get(match["key"])
        if credentials is None:
            raise UnauthorizedError("unknown access key")
        if match["service"] != "appsync" or match["region"] != self._region:
            raise BadSignatureError("credential scope is not this API's service and region")
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise UnauthorizedError("missing or malformed X-Amz-Date") from None
        if abs(datetime.now(UTC) - signed_at) > _MAX_CLOCK_SKEW or match["date"] != amz_date[:8]:
            raise BadSignatureError("Signature expired: the request date is too far from now")
        signed_names = match["headers"].split(";")
        if "host" not in signed_names:
            raise BadSignatureError("SigV4 must sign the host header")
        signed = {name: headers.get(name, "") for name in signed_names}
        request = AWSRequest(method=method, url=url, data=body, headers=signed)
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(credentials, "appsync", self._region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise BadSignatureError(
                "The request signature we calculated does not match the signature you provided."
            )
        return Caller(
            AWS_IAM,
            {
                "accountId": ACCOUNT_ID,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "cognitoIdentityAuthType": None,
                "cognitoIdentityAuthProvider": None,
                "sourceIp": [source_ip] if source_ip else [],
                "username": match["key"],
                "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/lambdashare-local",
            },
        )
