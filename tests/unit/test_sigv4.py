"""Unit tests for `lambdashare.emulator.auth.Authenticator`: SigV4 (IAM) checked with botocore, and the
API key with its expiry (`LAMBDASHARE_API_KEY_EXPIRES`, read by `lambdashare.emulator.config`).

Requests are signed as real clients sign them: botocore's `SigV4Auth` for HTTP (as the hasher does), and
gql's `AppSyncIAMAuthentication` for the real-time connect and `start` header objects. A stale date is
made by moving botocore's clock, never by editing a signed request. No network.
Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from gql.transport.appsync_auth import AppSyncIAMAuthentication

from lambdashare.emulator.auth import (
    ACCOUNT_ID,
    API_KEY,
    AWS_IAM,
    Authenticator,
    BadSignatureError,
    Caller,
    RequestUnauthorizedError,
)
from lambdashare.emulator.config import API_KEY_EXPIRES_ENV, EmulatorConfig, api_key_expiry, parse_expiry
from lambdashare.emulator.identity_provider import UserPool
from lambdashare.settings import DATA_DIR_ENV, ConfigError
from tests.clock import botocore_clock

ACCESS_KEY = "AKIALOCALUNITTEST01"
SECRET_KEY = "unit/test+secret0123456789abcdefghijklmn"
REGION = "us-east-1"
API_KEY_VALUE = "da2-unittestkey0000000000000"
URL = "http://127.0.0.1:8000/graphql"
HOST = "127.0.0.1:8000"
BODY = json.dumps({"query": "query { files(limit: 1) { items { id } } }", "variables": {}})
GOOD = Credentials(ACCESS_KEY, SECRET_KEY)


@pytest.fixture(scope="module")
def user_pool(tmp_path_factory: pytest.TempPathFactory) -> UserPool:
    return UserPool.load_or_create(tmp_path_factory.mktemp("pool"))


@pytest.fixture
def auth(user_pool: UserPool) -> Authenticator:
    return with_expiry(user_pool, None)


def sign_http(
    body: str = BODY,
    *,
    credentials: Credentials = GOOD,
    region: str = REGION,
    service: str = "appsync",
    url: str = URL,
    offset: timedelta = timedelta(0),
    headers: Mapping[str, str] | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> dict[str, str]:
    """The headers of a POST signed by botocore, as the hasher signs its AppSync call; lower-cased, as
    the emulator hands them to the Authenticator."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body.encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    with botocore_clock(offset):
        signer(credentials, service, region).add_auth(request)
    signed = {name.lower(): value for name, value in request.headers.items()}
    signed.setdefault("host", HOST)  # what the HTTP client sends
    return signed


def http(auth: Authenticator, headers: Mapping[str, str], body: str = BODY, url: str = URL) -> Caller:
    return auth.authenticate(headers, method="POST", url=url, body=body.encode(), source_ip="10.0.0.7")


def header_object(
    credentials: Credentials = GOOD, data: str | None = None, offset: timedelta = timedelta(0)
) -> dict[str, str]:
    """gql's AppSync IAM header object: for the connection (data None) or for a `start` carrying `data`."""
    gql_auth = AppSyncIAMAuthentication(host=HOST, credentials=credentials, region_name=REGION)
    with botocore_clock(offset):
        headers = gql_auth.get_headers(data)
    return {str(name).lower(): str(value) for name, value in headers.items()}


def realtime(auth: Authenticator, header: Mapping[str, str], data: str | None = None) -> Caller:
    """As the real-time handler checks a header object: the connection's is signed over POST
    /graphql/connect and `{}`, a start's over POST /graphql and the start's data string."""
    path, body = ("/graphql", data.encode()) if data is not None else ("/graphql/connect", b"{}")
    return auth.authenticate(header, method="POST", url=f"https://{header['host']}{path}", body=body, source_ip=None)


# --- accepted -------------------------------------------------------------------------------------


def test_a_botocore_signed_request_is_the_local_iam_principal(auth: Authenticator) -> None:
    # GIVEN a POST signed by botocore with the emulator's local credentials
    headers = sign_http()

    # WHEN it is authenticated
    caller = http(auth, headers)

    # THEN the caller is AppSync's AWS_IAM identity
    assert caller.mode == AWS_IAM
    assert caller.identity == {
        "accountId": ACCOUNT_ID,
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoIdentityAuthType": None,
        "cognitoIdentityAuthProvider": None,
        "sourceIp": ["10.0.0.7"],
        "username": ACCESS_KEY,
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/lambdashare-local",
    }


@pytest.mark.parametrize("minutes", [-4, 4], ids=["4 min slow", "4 min fast"])
def test_a_clock_within_five_minutes_is_accepted(auth: Authenticator, minutes: int) -> None:
    # GIVEN a request signed by a clock 4 minutes off
    headers = sign_http(offset=timedelta(minutes=minutes))

    # WHEN / THEN it is accepted
    assert http(auth, headers).mode == AWS_IAM


def test_gql_realtime_header_objects_are_accepted(auth: Authenticator) -> None:
    # GIVEN gql's IAM header objects for the connection and for a start
    data = json.dumps({"query": "subscription { onFileHashed { id } }", "variables": {}})
    connect, start = header_object(), header_object(data=data)

    # WHEN / THEN both verify against what the real-time handler reconstructs
    assert realtime(auth, connect).mode == AWS_IAM
    assert realtime(auth, start, data).mode == AWS_IAM


def test_a_signed_user_agent_is_verified_as_signed(auth: Authenticator) -> None:
    # GIVEN a client that signs every header it sends, user-agent included (botocore's signer skips it)
    class SignEverything(SigV4Auth):  # type: ignore[misc]
        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            chosen = HTTPHeaders()  # a mail-style message: setting a header twice would repeat it
            for name, value in request.headers.items():
                chosen[name.lower()] = value
            return chosen

    headers = sign_http(headers={"user-agent": "aws-amplify/6.0 js", "host": HOST}, signer=SignEverything)
    assert "user-agent" in headers["authorization"]

    # WHEN / THEN it verifies, and changing the signed user-agent breaks it
    assert http(auth, headers).mode == AWS_IAM
    with pytest.raises(BadSignatureError):
        http(auth, {**headers, "user-agent": "curl/8"})


def test_an_honest_content_sha256_header_is_accepted(auth: Authenticator) -> None:
    # GIVEN a request that declares its body's sha256 and signs that header
    digest = hashlib.sha256(BODY.encode()).hexdigest()
    headers = sign_http(headers={"x-amz-content-sha256": digest})

    # WHEN / THEN it is accepted
    assert http(auth, headers).mode == AWS_IAM


# --- refused ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(-6, "Signature expired: "), (-60 * 24, "Signature expired: "), (6, "Signature not yet current: ")],
    ids=["6 min old", "a day old", "6 min ahead"],
)
def test_a_date_more_than_five_minutes_off_is_refused(auth: Authenticator, minutes: int, words: str) -> None:
    # GIVEN a request correctly signed, but by a clock more than 5 minutes off
    headers = sign_http(offset=timedelta(minutes=minutes))

    # WHEN / THEN it is refused, in AWS's words
    with pytest.raises(BadSignatureError) as refused:
        http(auth, headers)
    assert refused.value.detail.startswith(words + headers["x-amz-date"])
    assert refused.value.detail.endswith("5 min.)")


def test_a_stale_realtime_header_object_is_refused(auth: Authenticator) -> None:
    # GIVEN gql's connect header object, signed 10 minutes ago
    header = header_object(offset=timedelta(minutes=-10))

    # WHEN / THEN the connection is refused
    with pytest.raises(RequestUnauthorizedError, match="Signature expired"):
        realtime(auth, header)


def test_a_wrong_secret_is_refused(auth: Authenticator) -> None:
    # GIVEN a request signed with the right access key id but another secret
    headers = sign_http(credentials=Credentials(ACCESS_KEY, SECRET_KEY[:-1] + "X"))

    # WHEN / THEN it is refused: the signatures do not match
    with pytest.raises(BadSignatureError, match=r"^The request signature we calculated does not match"):
        http(auth, headers)


@pytest.mark.parametrize("header", [None, "connect"], ids=["http", "realtime connect"])
def test_an_unknown_access_key_is_refused(auth: Authenticator, header: str | None) -> None:
    # GIVEN a request signed by credentials the emulator does not have
    stranger = Credentials("AKIASTRANGER0000000", SECRET_KEY)

    # WHEN / THEN it is refused as unauthorized
    with pytest.raises(RequestUnauthorizedError) as refused:
        if header is None:
            http(auth, sign_http(credentials=stranger))
        else:
            realtime(auth, header_object(stranger))
    assert refused.value.error_type == "UnauthorizedException"


def test_a_session_token_is_covered_by_the_signature(auth: Authenticator) -> None:
    # GIVEN a request signed with the local key pair plus a session token, as temporary credentials sign
    headers = sign_http(credentials=Credentials(ACCESS_KEY, SECRET_KEY, token="FQoGZXIvYXdzEXAMPLE"))
    assert "x-amz-security-token" in headers["authorization"]

    # WHEN / THEN it verifies as the local principal, and swapping the token breaks the signature
    caller = http(auth, headers)
    assert caller.identity is not None
    assert caller.identity["username"] == ACCESS_KEY
    with pytest.raises(BadSignatureError):
        http(auth, {**headers, "x-amz-security-token": "FQoGZXIvYXdzOTHER"})


def test_a_body_changed_after_signing_is_refused(auth: Authenticator) -> None:
    # GIVEN a signed request whose body is then swapped
    headers = sign_http()
    other = json.dumps({"query": 'mutation { deleteFile(id: "x") { id } }'})

    # WHEN / THEN it is refused
    with pytest.raises(BadSignatureError):
        http(auth, headers, body=other)


def test_a_lying_content_sha256_header_does_not_unsign_the_body(auth: Authenticator) -> None:
    # GIVEN a request that signs x-amz-content-sha256: UNSIGNED-PAYLOAD, then swaps the body
    headers = sign_http(headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    other = json.dumps({"query": 'mutation { deleteFile(id: "x") { id } }'})

    # WHEN / THEN neither the body it signed nor another is accepted: AppSync has no unsigned payloads
    for body in (BODY, other):
        with pytest.raises(BadSignatureError, match="x-amz-content-sha256"):
            http(auth, headers, body=body)


@pytest.mark.parametrize("change", ["host", "content-type", "x-amz-date", "path", "query string"])
def test_a_signed_part_changed_after_signing_is_refused(auth: Authenticator, change: str) -> None:
    # GIVEN a signed request, then one signed part of it changed
    headers, url = sign_http(), URL
    if change == "host":
        headers["host"] = "127.0.0.1:9000"
    elif change == "content-type":
        headers["content-type"] = "text/plain"
    elif change == "x-amz-date":
        signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        headers["x-amz-date"] = (signed_at + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    elif change == "path":
        url = "http://127.0.0.1:8000/graphql/connect"
    else:
        url = URL + "?x=1"

    # WHEN / THEN it is refused
    with pytest.raises(BadSignatureError):
        http(auth, headers, url=url)


def test_a_connect_signature_is_not_a_start_signature(auth: Authenticator) -> None:
    # GIVEN gql's header object for the connection (signed over /graphql/connect and "{}")
    connect = header_object()

    # WHEN it is replayed as a start's authorization, with the same "{}" body
    # THEN it is refused: a start is signed over /graphql and its own data
    with pytest.raises(BadSignatureError):
        realtime(auth, connect, "{}")


@pytest.mark.parametrize(("region", "service"), [("eu-west-1", "appsync"), (REGION, "execute-api")])
def test_a_signature_for_another_region_or_service_is_refused(auth: Authenticator, region: str, service: str) -> None:
    # GIVEN a request correctly signed, but for another region or service
    headers = sign_http(region=region, service=service)

    # WHEN / THEN it is refused
    with pytest.raises(BadSignatureError):
        http(auth, headers)


def test_a_credential_scope_of_another_day_is_refused(auth: Authenticator) -> None:
    # GIVEN a signed request whose credential scope names another day than its X-Amz-Date
    headers = sign_http()
    day = headers["x-amz-date"][:8]
    yesterday = (datetime.strptime(day, "%Y%m%d") - timedelta(days=1)).strftime("%Y%m%d")
    headers["authorization"] = headers["authorization"].replace(f"/{day}/", f"/{yesterday}/")

    # WHEN / THEN it is refused
    with pytest.raises(BadSignatureError, match="Credential scope"):
        http(auth, headers)


@pytest.mark.parametrize(
    "damage",
    [
        "no x-amz-date",
        "malformed x-amz-date",
        "no signature",
        "short signature",
        "no credential",
        "host unsigned",
    ],
)
def test_a_malformed_sigv4_request_is_refused(auth: Authenticator, damage: str) -> None:
    # GIVEN a signed request, damaged
    headers = sign_http()
    authorization = headers["authorization"]
    if damage == "no x-amz-date":
        del headers["x-amz-date"]
    elif damage == "malformed x-amz-date":
        headers["x-amz-date"] = "yesterday"
    elif damage == "no signature":
        headers["authorization"] = authorization.split(", Signature=")[0]
    elif damage == "short signature":
        headers["authorization"] = authorization[:-2]
    elif damage == "no credential":
        headers["authorization"] = "AWS4-HMAC-SHA256 " + authorization.split(", ", 1)[1]
    else:
        headers["authorization"] = authorization.replace(";host;", ";")

    # WHEN / THEN it is refused with AppSync's UnauthorizedException family
    with pytest.raises(RequestUnauthorizedError):
        http(auth, headers)


# --- API key --------------------------------------------------------------------------------------


def with_expiry(user_pool: UserPool, expires: datetime | None) -> Authenticator:
    return Authenticator(
        api_key=API_KEY_VALUE,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
        user_pool=user_pool,
        api_key_expires=expires,
    )


def api_key(auth: Authenticator, key: str) -> Caller:
    return auth.authenticate({"x-api-key": key}, method="POST", url=URL, body=BODY.encode(), source_ip=None)


def test_the_api_key_is_the_public_caller(auth: Authenticator) -> None:
    # GIVEN / WHEN / THEN the right key is the API_KEY mode, with AppSync's null identity
    assert api_key(auth, API_KEY_VALUE) == Caller(API_KEY, None)


@pytest.mark.parametrize("key", ["da2-wrong", "", API_KEY_VALUE.upper(), API_KEY_VALUE + " "])
def test_another_api_key_is_refused(auth: Authenticator, key: str) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(RequestUnauthorizedError):
        api_key(auth, key)


def test_no_credentials_at_all_is_refused(auth: Authenticator) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(RequestUnauthorizedError):
        auth.authenticate({"host": HOST}, method="POST", url=URL, body=b"{}", source_ip=None)


def test_an_expired_api_key_is_refused(user_pool: UserPool) -> None:
    # GIVEN an API key that expired a second ago
    auth = with_expiry(user_pool, datetime.now(UTC) - timedelta(seconds=1))

    # WHEN / THEN the right key is refused as AppSync refuses an expired one
    with pytest.raises(RequestUnauthorizedError) as refused:
        api_key(auth, API_KEY_VALUE)
    assert refused.value.error_type == "UnauthorizedException"
    # AND the other modes are unaffected
    assert http(auth, sign_http()).mode == AWS_IAM


def test_an_api_key_before_its_expiry_is_accepted(user_pool: UserPool) -> None:
    # GIVEN an API key that expires in a minute
    auth = with_expiry(user_pool, datetime.now(UTC) + timedelta(minutes=1))

    # WHEN / THEN it is accepted
    assert api_key(auth, API_KEY_VALUE).mode == API_KEY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T00:00:00.000Z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T01:30:00+01:30", datetime(2030, 1, 1, tzinfo=UTC)),
        ("1893456000", datetime(2030, 1, 1, tzinfo=UTC)),
        (" 1893456000 ", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_expiry_is_an_awsdatetime_or_epoch_seconds(value: str, expected: datetime) -> None:
    # GIVEN / WHEN / THEN
    assert parse_expiry(value) == expected
    assert api_key_expiry({API_KEY_EXPIRES_ENV: value}) == expected


@pytest.mark.parametrize("value", ["2030-01-01T00:00:00", "tomorrow", "2030-13-01T00:00:00Z", "-5", "1e9"])
def test_a_bad_expiry_fails_at_startup_naming_the_setting(value: str) -> None:
    # GIVEN / WHEN / THEN a value without an offset, or not a time at all, is a configuration error
    with pytest.raises(ConfigError, match=API_KEY_EXPIRES_ENV):
        api_key_expiry({API_KEY_EXPIRES_ENV: value})


def test_the_emulator_config_carries_the_expiry(tmp_path: Path) -> None:
    # GIVEN environments with and without LAMBDASHARE_API_KEY_EXPIRES
    base: dict[str, Any] = {DATA_DIR_ENV: str(tmp_path)}

    # WHEN / THEN the config holds it, and no setting means the key never expires
    assert EmulatorConfig.from_env({**base, API_KEY_EXPIRES_ENV: "1893456000"}).api_key_expires == datetime(
        2030, 1, 1, tzinfo=UTC
    )
    assert EmulatorConfig.from_env(base).api_key_expires is None
    assert EmulatorConfig.from_env({**base, API_KEY_EXPIRES_ENV: ""}).api_key_expires is None
