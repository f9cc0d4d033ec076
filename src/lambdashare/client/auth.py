"""Who the client is to the API: an API key, a Cognito user (USER_PASSWORD_AUTH through boto3's cognito-idp
client, against the local user pool's `userPoolEndpoint` or a real pool), or IAM from the default AWS credential
chain. Each becomes one of gql's AppSync authentication classes, used for HTTP and for subscriptions alike.

A signed-in session (ID and refresh token) is kept per profile in `<config dir>/sessions/<profile>.json`, mode
0600, and refreshed with REFRESH_TOKEN_AUTH when its ID token is about to expire. Not responsible for choosing
the endpoint (`config`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import httpx
from gql.transport.appsync_auth import (
    AppSyncApiKeyAuthentication,
    AppSyncAuthentication,
    AppSyncIAMAuthentication,
    AppSyncJWTAuthentication,
)

from lambdashare.client.config import Profile
from lambdashare.client.errors import AuthError, ConnectError

#: refresh an ID token this long before it expires, so it does not lapse mid-command
REFRESH_MARGIN_S = 120


class Session(TypedDict):
    username: str
    id_token: str
    refresh_token: str
    expires_at: float
    client_id: str
    user_pool_endpoint: str | None
    region: str


@dataclass(frozen=True)
class UserPool:
    client_id: str
    endpoint_url: str | None
    region: str


def local_config(profile: Profile) -> dict[str, Any] | None:
    """A local emulator's `/config.json` (its user pool, and the API key for a client on the same machine);
    None where there is none, e.g. on AppSync."""
    try:
        answer = httpx.get(f"{profile.base_url}/config.json", timeout=10)
        found = answer.json() if answer.status_code == 200 else None
    except httpx.TransportError as exc:
        hint = " Is the emulator running (`lambdashare serve`)?" if profile.loopback else ""
        raise ConnectError(f"cannot reach {profile.endpoint}: {exc}.{hint}") from exc
    except (httpx.HTTPError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def user_pool(profile: Profile) -> UserPool:
    """The profile's user pool, else the one a local emulator names."""
    if profile.user_pool_client_id:
        region = profile.region or (profile.user_pool_id or "").partition("_")[0] or "us-east-1"
        return UserPool(profile.user_pool_client_id, profile.user_pool_endpoint, region)
    found = local_config(profile) or {}
    if not found.get("userPoolClientId"):
        raise AuthError(
            f"no user pool is known for {profile.endpoint}: run `lambdashare config from-stack STACK` "
            "or `lambdashare config set user_pool_client_id ID`"
        )
    region = profile.region or str(found.get("userPoolId", "")).partition("_")[0] or "us-east-1"
    return UserPool(str(found["userPoolClientId"]), found.get("userPoolEndpoint"), region)


def _cognito(pool: UserPool) -> Any:
    """InitiateAuth needs no AWS credentials, on Cognito as locally: the client sends it unsigned."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(
        "cognito-idp",
        endpoint_url=pool.endpoint_url,
        region_name=pool.region,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 2}),
    )


def _initiate_auth(pool: UserPool, flow: str, parameters: dict[str, str]) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer: dict[str, Any] = _cognito(pool).initiate_auth(
            ClientId=pool.client_id, AuthFlow=flow, AuthParameters=parameters
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AuthError(f"the user pool refused: {error.get('Code')}: {error.get('Message')}") from exc
    except BotoCoreError as exc:
        raise ConnectError(f"cannot reach the user pool: {exc}") from exc
    if "AuthenticationResult" not in answer:
        raise AuthError(f"the user pool asks for {answer.get('ChallengeName')}, which this client does not answer")
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def sign_in(pool: UserPool, username: str, password: str) -> Session:
    tokens = _initiate_auth(pool, "USER_PASSWORD_AUTH", {"USERNAME": username, "PASSWORD": password})
    return Session(
        username=username,
        id_token=tokens["IdToken"],
        refresh_token=tokens["RefreshToken"],
        expires_at=time.time() + int(tokens["ExpiresIn"]),
        client_id=pool.client_id,
        user_pool_endpoint=pool.endpoint_url,
        region=pool.region,
    )


def refreshed(session: Session) -> Session:
    pool = UserPool(session["client_id"], session["user_pool_endpoint"], session["region"])
    try:
        tokens = _initiate_auth(pool, "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": session["refresh_token"]})
    except AuthError as exc:
        raise AuthError(f"the session of {session['username']} has expired: run `lambdashare login`") from exc
    return Session(**{**session, "id_token": tokens["IdToken"], "expires_at": time.time() + int(tokens["ExpiresIn"])})


def session_path(directory: Path, profile: Profile) -> Path:
    return directory / "sessions" / f"{profile.name}.json"


def load_session(path: Path) -> Session | None:
    try:
        stored: Session = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read the session in {path}: {exc}; run `lambdashare login`") from exc
    return stored


def save_session(path: Path, session: Session) -> None:
    """Written to a new file created 0600 (never readable by others, not even for a moment), then renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        json.dump(session, out)
    os.replace(temporary, path)


def current_id_token(directory: Path, profile: Profile) -> str | None:
    """The profile's ID token, refreshed (and the refresh saved) when it is about to expire; None if signed out."""
    path = session_path(directory, profile)
    session = load_session(path)
    if session is None:
        return None
    if session["expires_at"] - REFRESH_MARGIN_S < time.time():
        session = refreshed(session)
        save_session(path, session)
    return session["id_token"]


def authentication(directory: Path, profile: Profile) -> AppSyncAuthentication:
    """The profile's credentials as gql's AppSync authentication: its `auth` mode if set; else a signed-in
    session; else an API key (given, or a local emulator's for this machine); else an error naming the ways in."""
    mode = profile.auth
    if mode in (None, "cognito"):
        token = current_id_token(directory, profile)
        if token is not None:
            return AppSyncJWTAuthentication(host=profile.host, jwt=token)
        if mode == "cognito":
            raise AuthError(f"not signed in to profile {profile.name!r}: run `lambdashare login`")
    if mode == "iam":
        return _iam(profile)
    api_key = profile.api_key or (local_config(profile) or {}).get("apiKey")
    if not api_key:
        raise AuthError(
            f"no credentials for {profile.endpoint}: give --api-key (or LAMBDASHARE_API_KEY), "
            "run `lambdashare login`, or use --auth iam"
        )
    return AppSyncApiKeyAuthentication(host=profile.host, api_key=str(api_key))


def _iam(profile: Profile) -> AppSyncAuthentication:
    """SigV4 with the default AWS credential chain's credentials, for the profile's region, else the AWS
    configuration's, else (left to gql) the one an AppSync host names."""
    from botocore.exceptions import BotoCoreError
    from botocore.session import get_session

    session = get_session()
    try:
        credentials = session.get_credentials()
        region = profile.region or session.get_config_variable("region")
    except BotoCoreError as exc:
        raise AuthError(f"cannot read the AWS configuration for --auth iam: {exc}") from exc
    if credentials is None:
        raise AuthError(
            "no AWS credentials for --auth iam: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if region is None and "appsync-api." not in profile.host:
        raise AuthError("no AWS region for --auth iam: set AWS_DEFAULT_REGION, or the profile's region")
    try:
        return AppSyncIAMAuthentication(host=profile.host, region_name=region, credentials=credentials, session=session)
    except BotoCoreError as exc:
        raise AuthError(f"cannot sign with IAM: {exc}") from exc
