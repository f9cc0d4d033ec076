"""Who is calling: API key, Cognito user pool JWT or SigV4 (IAM), checked for real, as AppSync does.

An API key must match and not be past its expiry; a JWT is verified by the local user pool
(`identity_provider`, with PyJWT); a SigV4 signature is recomputed with botocore against the
emulator's local credentials, and a stale date, an unknown key or a signature that does not match is
refused. Not responsible for per-field rules: `data_sources` checks a field's auth directives against
the caller's mode. Spec: https://docs.aws.amazon.com/appsync/latest/devguide/security-authz.html
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from lambdashare.emulator.identity_provider import InvalidJwtError, UserPool

API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
ACCOUNT_ID = "000000000000"
_MAX_CLOCK_SKEW = timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_BEARER = re.compile(r"^bearer\s+", re.IGNORECASE)


class RequestUnauthorizedError(Exception):
    """The request's credentials are missing, wrong or stale: AppSync's request-level `UnauthorizedException`
    (HTTP 401, `connection_error` on a socket). A field the caller's auth mode may not use is
    `errors.FieldUnauthorizedError` instead."""

    error_type = "UnauthorizedException"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadSignatureError(RequestUnauthorizedError):
    """A SigV4 signature that does not verify: AppSync answers BadRequestException for these."""

    error_type = "BadRequestException"


@dataclass(frozen=True, slots=True)
class Caller:
    mode: str
    identity: dict[str, Any] | None


class _SignatureCheck(SigV4Auth):  # type: ignore[misc]  # botocore has no type hints
    """botocore's SigV4 with the headers the client says it signed, exactly (botocore's own signer
    leaves some out, e.g. user-agent, which a client may have signed)."""

    def __init__(self, credentials: Credentials, region: str, signed_names: list[str]) -> None:
        super().__init__(credentials, "appsync", region)
        self._signed_names = signed_names

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed_names:
            chosen[name] = request.headers.get(name, "")
        return chosen

    def expected(self, request: AWSRequest) -> str:
        string_to_sign = self.string_to_sign(request, self.canonical_request(request))
        signature: str = self.signature(string_to_sign, request)
        return signature


class Authenticator:
    def __init__(
        self,
        *,
        api_key: str,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        user_pool: UserPool,
        api_key_expires: datetime | None = None,
    ) -> None:
        self._api_key = api_key
        self._api_key_expires = api_key_expires
        self._credentials = {access_key_id: Credentials(access_key_id, secret_access_key)}
        self._region = region
        self._user_pool = user_pool

    def authenticate(
        self, headers: Mapping[str, str], *, method: str, url: str, body: bytes, source_ip: str | None
    ) -> Caller:
        """Identify the caller from lower-cased headers (an HTTP request's, or an AppSync header object)."""
        try:
            "".join((*headers, *headers.values())).encode()
        except UnicodeEncodeError:  # e.g. a lone surrogate from a "\ud800" JSON escape: no credential has one
            raise RequestUnauthorizedError("the credentials are not valid text") from None
        authorization = headers.get("authorization", "").strip()
        if authorization.startswith("AWS4-HMAC-SHA256"):
            return self._sigv4(headers, authorization, method=method, url=url, body=body, source_ip=source_ip)
        if authorization:
            return self._cognito(authorization, source_ip)
        api_key = headers.get("x-api-key")
        if api_key is not None:
            return self._api_key_caller(api_key)
        raise RequestUnauthorizedError("no credentials")

    def _api_key_caller(self, api_key: str) -> Caller:
        if not hmac.compare_digest(api_key.encode(), self._api_key.encode()):
            raise RequestUnauthorizedError("invalid API key")
        if self._api_key_expires is not None and datetime.now(UTC) >= self._api_key_expires:
            raise RequestUnauthorizedError(f"the API key expired at {self._api_key_expires.isoformat()}")
        return Caller(API_KEY, None)

    def _cognito(self, authorization: str, source_ip: str | None) -> Caller:
        token = _BEARER.sub("", authorization, count=1).strip()
        try:
            claims = self._user_pool.verify(token)
        except InvalidJwtError as exc:
            raise RequestUnauthorizedError(f"invalid JWT: {exc}") from None
        username = claims.get("cognito:username") or claims.get("username")
        return Caller(
            COGNITO,
            {
                "sub": claims["sub"],
                "issuer": claims["iss"],
                "username": username,
                "claims": claims,
                "sourceIp": [source_ip] if source_ip else [],
                "defaultAuthStrategy": "ALLOW",
                "groups": claims.get("cognito:groups"),
            },
        )

    def _sigv4(
        self,
        headers: Mapping[str, str],
        authorization: str,
        *,
        method: str,
        url: str,
        body: bytes,
        source_ip: str | None,
    ) -> Caller:
        match = _SIGV4.match(authorization.strip())
        if match is None:
            raise RequestUnauthorizedError("malformed SigV4 Authorization header")
        credentials = self._credentials.get(match["key"])
        if credentials is None:
            raise RequestUnauthorizedError("unknown access key")
        if match["service"] != "appsync" or match["region"] != self._region:
            raise BadSignatureError("credential scope is not this API's service and region")
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise RequestUnauthorizedError("missing or malformed X-Amz-Date") from None
        if match["date"] != amz_date[:8]:
            raise BadSignatureError(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
            )
        _check_clock_skew(amz_date, signed_at, datetime.now(UTC))
        signed_names = match["headers"].split(";")
        if "host" not in signed_names:
            raise BadSignatureError("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        declared_digest = headers.get("x-amz-content-sha256")
        if declared_digest is not None and declared_digest != hashlib.sha256(body).hexdigest():
            # botocore would take the header's word for the body; AppSync has no unsigned payloads
            raise BadSignatureError("The provided 'x-amz-content-sha256' header does not match what was computed.")
        signed = {name: headers.get(name, "") for name in signed_names}
        request = AWSRequest(method=method, url=url, data=body, headers=signed)
        request.context["timestamp"] = amz_date
        expected = _SignatureCheck(credentials, self._region, signed_names).expected(request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise BadSignatureError(
                "The request signature we calculated does not match the signature you provided. Check your "
                "AWS Secret Access Key and signing method. Consult the service documentation for details."
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


def _check_clock_skew(amz_date: str, signed_at: datetime, now: datetime) -> None:
    """AWS's 5-minute window, with AWS's words for each side of it."""
    stamp = now.strftime(_AMZ_DATE)
    if signed_at < now - _MAX_CLOCK_SKEW:
        earliest = (now - _MAX_CLOCK_SKEW).strftime(_AMZ_DATE)
        raise BadSignatureError(f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)")
    if signed_at > now + _MAX_CLOCK_SKEW:
        latest = (now + _MAX_CLOCK_SKEW).strftime(_AMZ_DATE)
        raise BadSignatureError(
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)"
        )
