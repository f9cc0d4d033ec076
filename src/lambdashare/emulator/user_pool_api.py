"""The local user pool's operations, with Cognito's rules, error names and messages.

One method per cognito-idp operation, taking the request's JSON body and returning the response's.
Users are confirmed at sign-up (no code is sent); tokens are the RS256 tokens `identity_provider`
signs and AppSync's auth mode verifies. Not responsible for the wire format (`cognito_http`) or for
storage (`adapters/local/sqlite_user_store`).
Spec: https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lambdashare.adapters.local.sqlite_user_store import (
    Session,
    SqliteUserStore,
    StoredUser,
    UnknownUserError,
    UsernameTakenError,
)
from lambdashare.emulator.identity_provider import InvalidJwtError, UserPool
from lambdashare.emulator.pool_settings import PoolSettings

#: Cognito's defaults for an app client that sets no token validity.
TOKEN_TTL_S = 3600
REFRESH_TOKEN_TTL_S = 30 * 86400
#: The characters Cognito counts as symbols in a password policy.
SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
#: Attributes a client may set at sign-up (Cognito's standard, writable ones).
WRITABLE_ATTRIBUTES = frozenset(
    [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "address",
        "updated_at",
        "email",
    ]
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WRONG_CREDENTIALS = "Incorrect username or password."
_FLOWS = {  # AuthFlow -> the ExplicitAuthFlows entry that allows it
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "USER_AUTH": "ALLOW_USER_AUTH",
}


class CognitoError(Exception):
    """An error as Cognito names it on the wire (`__type`), with Cognito's message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> CognitoError:
    return CognitoError("InvalidParameterException", message)


def _string(body: Mapping[str, Any], member: str) -> str:
    """A required string member of the request, or Cognito's validation error naming it."""
    value = body.get(member)
    path = member[0].lower() + member[1:]
    if value is None:
        raise _invalid(
            f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        )
    if not isinstance(value, str) or not value:
        raise _invalid(
            f"1 validation error detected: Value at '{path}' failed to satisfy constraint: "
            "Member must be a non-empty string"
        )
    return value


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserPoolApi:
    def __init__(
        self,
        user_pool: UserPool,
        settings: PoolSettings,
        store: SqliteUserStore,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = user_pool
        self._settings = settings
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._clock = clock
        # checked against when the user is unknown, so both answers take as long (no user-existence leak)
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    # ---------------------------------------------------------------- operations

    def sign_up(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        if self._settings.admin_create_user_only:
            raise CognitoError("NotAuthorizedException", "SignUp is not permitted for this user pool")
        username = _string(body, "Username")
        password = _string(body, "Password")
        attributes = self._attributes(body.get("UserAttributes"))
        if "email" in self._settings.username_attributes:
            if not _EMAIL.match(username):
                raise _invalid("Username should be an email.")
            attributes["email"] = username
        self._check_password(password)
        sub = str(uuid.uuid4())
        user = StoredUser(
            sub=sub,
            username=username.lower(),
            attributes={**attributes, "email_verified": "false"},
            password_hash=self._hasher.hash(password),
            created_at=int(self._clock()),
        )
        try:
            self._store.create_user(user)
        except UsernameTakenError:
            raise CognitoError("UsernameExistsException", "An account with the given email already exists.") from None
        return {"UserConfirmed": True, "UserSub": sub}

    def initiate_auth(self, body: Mapping[str, Any]) -> dict[str, Any]:
        client_id = self._client(body)
        flow = _string(body, "AuthFlow")
        if flow not in _FLOWS:
            raise _invalid("Initiate Auth method not supported.")
        if _FLOWS[flow] not in self._settings.explicit_auth_flows:
            raise _invalid(f"{flow} flow not enabled for this client")
        parameters = body.get("AuthParameters") or {}
        if not isinstance(parameters, dict):
            raise _invalid("AuthParameters must be a map of strings")
        if flow == "USER_PASSWORD_AUTH":
            result = self._password_sign_in(client_id, parameters)
        elif flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            result = self._refresh(client_id, parameters.get("REFRESH_TOKEN"))
        else:
            raise CognitoError(
                "UnsupportedOperationException",
                f"{flow} is not supported by the local user pool; sign in with USER_PASSWORD_AUTH",
            )
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def get_tokens_from_refresh_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """What Amplify JS calls to refresh; without refresh-token rotation it is REFRESH_TOKEN_AUTH."""
        client_id = self._client(body)
        return {"AuthenticationResult": self._refresh(client_id, body.get("RefreshToken"))}

    def get_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        claims = self._access_token(body)
        user = self._store.find_user(claims["sub"])
        if user is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        attributes = {"sub": user.sub, **user.attributes}
        return {
            "Username": user.sub,
            "UserAttributes": [{"Name": name, "Value": value} for name, value in attributes.items()],
        }

    def global_sign_out(self, body: Mapping[str, Any]) -> dict[str, Any]:
        claims = self._access_token(body)
        self._store.revoke_sessions(claims["sub"], int(self._clock()))
        return {}

    # ---------------------------------------------------------------- rules

    def _client(self, body: Mapping[str, Any]) -> str:
        client_id = _string(body, "ClientId")
        if not secrets.compare_digest(client_id.encode(), self._pool.client_id.encode()):
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client_id

    def _attributes(self, given: Any) -> dict[str, str]:
        if given is None:
            return {}
        if not isinstance(given, list):
            raise _invalid("UserAttributes must be a list of {Name, Value}")
        attributes: dict[str, str] = {}
        for attribute in given:
            name = attribute.get("Name") if isinstance(attribute, dict) else None
            value = attribute.get("Value") if isinstance(attribute, dict) else None
            if not isinstance(name, str) or not isinstance(value, str):
                raise _invalid("UserAttributes must be a list of {Name, Value}")
            if name not in WRITABLE_ATTRIBUTES:
                raise _invalid(f"Attribute {name!r} does not exist in the schema or is not writable.")
            attributes[name] = value
        return attributes

    def _check_password(self, password: str) -> None:
        policy = self._settings.password_policy
        broken = (
            (len(password) < policy.minimum_length, "Password not long enough"),
            (
                policy.require_lowercase and not any(c in string.ascii_lowercase for c in password),
                "Password must have lowercase characters",
            ),
            (
                policy.require_uppercase and not any(c in string.ascii_uppercase for c in password),
                "Password must have uppercase characters",
            ),
            (
                policy.require_numbers and not any(c in string.digits for c in password),
                "Password must have numeric characters",
            ),
            (
                policy.require_symbols and not any(c in SYMBOLS for c in password),
                "Password must have symbol characters",
            ),
        )
        for failed, why in broken:
            if failed:
                raise CognitoError("InvalidPasswordException", f"Password did not conform with policy: {why}")

    def _password_sign_in(self, client_id: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        username, password = parameters.get("USERNAME"), parameters.get("PASSWORD")
        for name, value in (("USERNAME", username), ("PASSWORD", password)):
            if not isinstance(value, str) or not value:
                raise _invalid(f"Missing required parameter {name}")
        assert isinstance(username, str) and isinstance(password, str)
        user = self._store.find_user(username)
        if not self._password_matches(user, password):
            if user is None and not self._settings.prevent_user_existence_errors:
                raise CognitoError("UserNotFoundException", "User does not exist.")
            raise CognitoError("NotAuthorizedException", _WRONG_CREDENTIALS)
        assert user is not None
        now = int(self._clock())
        session = Session(str(uuid.uuid4()), user.sub, client_id, now, now + REFRESH_TOKEN_TTL_S, None)
        refresh_token = secrets.token_urlsafe(64)
        self._store.start_session(session, _sha256(refresh_token))
        return {**self._tokens(user, session), "RefreshToken": refresh_token}

    def _password_matches(self, user: StoredUser | None, password: str) -> bool:
        """Checks an unknown user's password against a decoy, so that both answers take as long."""
        try:
            self._hasher.verify(user.password_hash if user else self._decoy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return user is not None

    def _refresh(self, client_id: str, refresh_token: Any) -> dict[str, Any]:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise _invalid("Missing required parameter REFRESH_TOKEN")
        session = self._store.session_by_refresh_token(_sha256(refresh_token))
        if session is None or session.client_id != client_id or session.expires_at <= self._clock():
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        if session.revoked_at is not None:
            raise CognitoError("NotAuthorizedException", "Refresh Token has been revoked")
        user = self._store.find_user(session.sub)
        if user is None:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        return self._tokens(user, session)

    def _tokens(self, user: StoredUser, session: Session) -> dict[str, Any]:
        """A fresh ID and access token for one sign-in; groups are read anew, as Cognito does on refresh."""
        groups = self._store.groups(user.sub)
        common: dict[str, Any] = {
            "groups": groups,
            "ttl_s": TOKEN_TTL_S,
            "sub": user.sub,
            "origin_jti": session.origin_jti,
            "auth_time": session.auth_time,
        }
        id_claims: dict[str, Any] = {
            name: (value == "true" if name.endswith("_verified") else value) for name, value in user.attributes.items()
        }
        return {
            "AccessToken": self._pool.issue(user.sub, token_use="access", **common),
            "ExpiresIn": TOKEN_TTL_S,
            "TokenType": "Bearer",
            "IdToken": self._pool.issue(user.sub, token_use="id", id_claims=id_claims, **common),
        }

    def _access_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The claims of a valid, unrevoked access token of this pool."""
        token = _string(body, "AccessToken")
        try:
            claims = self._pool.verify(token)
        except InvalidJwtError as exc:
            expired = "expired" in str(exc)
            raise CognitoError(
                "NotAuthorizedException", "Access Token has expired" if expired else "Invalid Access Token"
            ) from None
        if claims.get("token_use") != "access":
            raise CognitoError("NotAuthorizedException", "Invalid Access Token")
        session = self._store.session(str(claims.get("origin_jti", "")))
        if session is not None and session.revoked_at is not None:
            raise CognitoError("NotAuthorizedException", "Access Token has been revoked")
        return claims

    # ---------------------------------------------------------------- the operator's

    def add_user_to_group(self, username: str, group: str) -> None:
        """AdminAddUserToGroup for the local operator (`lambdashare add-to-group`); the group must be the template's."""
        if group not in self._settings.groups:
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        try:
            self._store.add_to_group(username, group)
        except UnknownUserError:
            raise CognitoError("UserNotFoundException", "User does not exist.") from None
