"""The local user pool's operations, with Cognito's rules, error names and messages.

One method per cognito-idp operation, taking the request's JSON body and returning the response's.
Users are confirmed at sign-up (no code is sent); tokens are the RS256 tokens `identity_provider`
signs and AppSync's auth mode verifies. A password sign-in is `USER_PASSWORD_AUTH` or `USER_SRP_AUTH`
(whose numbers are `srp`'s). Not responsible for the wire format (`cognito_http`) or for storage
(`adapters/local/sqlite_user_store`).
Spec: https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
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
from lambdashare.emulator import srp
from lambdashare.emulator.identity_provider import InvalidJwtError, UserPool
from lambdashare.emulator.pool_settings import PoolSettings

#: Cognito's defaults for an app client that sets no token validity.
TOKEN_TTL_S = 3600
REFRESH_TOKEN_TTL_S = 30 * 86400
#: How long a PASSWORD_VERIFIER challenge can be answered: Cognito's default AuthSessionValidity.
CHALLENGE_TTL_S = 180
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
#: SRP_A as a client sends it: hex, at most twice the group's size.
_SRP_A = re.compile(r"^[0-9a-fA-F]{1,1536}$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Cognito's TIMESTAMP ("EEE MMM d HH:mm:ss z yyyy" in English), e.g. "Tue Nov 5 21:00:00 UTC 2026".
_TIMESTAMP = re.compile(
    rf"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ({'|'.join(_MONTHS)}) (\d{{1,2}}) "
    r"(\d{2}):(\d{2}):(\d{2}) UTC (\d{4})$"
)
#: How far an SRP answer's TIMESTAMP may be from the pool's clock, either way.
TIMESTAMP_SKEW_S = 5 * 60
_SRP_RESPONSES = ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "TIMESTAMP", "PASSWORD_CLAIM_SIGNATURE")
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


def _parameter(parameters: Mapping[str, Any], name: str) -> str:
    """A required member of AuthParameters or ChallengeResponses."""
    value = parameters.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"Missing required parameter {name}")
    return value


def _timestamp_seconds(timestamp: str) -> int:
    """An SRP answer's TIMESTAMP ("EEE MMM d HH:mm:ss z yyyy", English, UTC) as seconds since the epoch."""
    match = _TIMESTAMP.match(timestamp)
    if match is not None:
        month, day, hour, minute, second, year = match.groups()
        with contextlib.suppress(ValueError):  # a date that is no date, such as Feb 30 or 25:00
            moment = datetime(
                int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
            return int(moment.timestamp())
    raise _invalid("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")


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
        self._decoy_verifier = srp.make_verifier(user_pool.name, str(uuid.uuid4()), secrets.token_urlsafe(16)).verifier
        self._decoy_key = user_pool.derive_key("lambdashare SRP decoy identities")
        self._secret_blocks = srp.SecretBlocks(user_pool.derive_key("lambdashare SRP SECRET_BLOCK"))

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
        verifier = srp.make_verifier(self._pool.name, sub, password)  # the user's USER_ID_FOR_SRP is their sub
        user = StoredUser(
            sub=sub,
            username=username.lower(),
            attributes={**attributes, "email_verified": "false"},
            password_hash=self._hasher.hash(password),
            created_at=int(self._clock()),
            srp_salt=f"{verifier.salt:x}",
            srp_verifier=f"{verifier.verifier:x}",
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
        if flow == "USER_SRP_AUTH":
            return self._srp_challenge(client_id, parameters)
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

    def respond_to_auth_challenge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to USER_SRP_AUTH's PASSWORD_VERIFIER challenge, the only challenge the local pool asks."""
        client_id = self._client(body)
        if _string(body, "ChallengeName") != "PASSWORD_VERIFIER":
            raise CognitoError("NotAuthorizedException", "Invalid session for the user.")
        responses = body.get("ChallengeResponses") or {}
        if not isinstance(responses, dict):
            raise _invalid("ChallengeResponses must be a map of strings")
        username, secret_block, timestamp, signature = (_parameter(responses, name) for name in _SRP_RESPONSES)
        signed_at = _timestamp_seconds(timestamp)
        now = int(self._clock())
        try:
            challenge, signed_block = self._secret_blocks.open(secret_block, now)
            claimed = base64.b64decode(signature, validate=True)
        except (srp.InvalidSecretBlockError, binascii.Error):
            raise CognitoError("NotAuthorizedException", _WRONG_CREDENTIALS) from None
        # A challenge takes one answer, right or wrong: the same signed answer cannot start a second sign-in.
        if not self._store.use_challenge(hashlib.sha256(signed_block).hexdigest(), challenge.expires_at, now):
            raise CognitoError("NotAuthorizedException", _WRONG_CREDENTIALS)
        user = self._store.find_user(username)
        if (
            abs(signed_at - now) > TIMESTAMP_SKEW_S
            or user is None  # a decoy challenge's user id is nobody's
            or user.sub != challenge.user_id
            or challenge.client_id != client_id
            or not srp.signature_matches(
                challenge.key, self._pool.name, challenge.user_id, signed_block, timestamp, claimed
            )
        ):
            raise CognitoError("NotAuthorizedException", _WRONG_CREDENTIALS)
        return {"ChallengeParameters": {}, "AuthenticationResult": self._start_session(client_id, user)}

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
        username, password = _parameter(parameters, "USERNAME"), _parameter(parameters, "PASSWORD")
        user = self._store.find_user(username)
        if not self._password_matches(user, password):
            if user is None and not self._settings.prevent_user_existence_errors:
                raise CognitoError("UserNotFoundException", "User does not exist.")
            raise CognitoError("NotAuthorizedException", _WRONG_CREDENTIALS)
        assert user is not None
        if user.srp_verifier is None:  # signed up before USER_SRP_AUTH was served: now it can be
            verifier = srp.make_verifier(self._pool.name, user.sub, password)
            self._store.set_srp_verifier(user.sub, f"{verifier.salt:x}", f"{verifier.verifier:x}")
        return self._start_session(client_id, user)

    def _srp_challenge(self, client_id: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """USER_SRP_AUTH's PASSWORD_VERIFIER challenge. An unknown user (or one without a verifier yet) gets a
        decoy that only a wrong answer can follow: a stable made-up id and salt, the same work, the same shape."""
        username, client_public = _parameter(parameters, "USERNAME"), _parameter(parameters, "SRP_A")
        if not _SRP_A.match(client_public) or int(client_public, 16) % srp.N == 0:
            raise _invalid("Invalid SRP_A: it must be a hex number that is not 0 modulo N")
        user = self._store.find_user(username)
        if user is None and not self._settings.prevent_user_existence_errors:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        if user is not None and user.srp_salt and user.srp_verifier:
            user_id, salt, verifier = user.sub, int(user.srp_salt, 16), int(user.srp_verifier, 16)
        else:
            user_id, salt = srp.decoy_identity(self._decoy_key, username.lower())
            verifier = self._decoy_verifier
        server_public, key = srp.session_key(verifier, int(client_public, 16))
        challenge = srp.Challenge(user_id, client_id, key, int(self._clock()) + CHALLENGE_TTL_S)
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": f"{salt:x}",
                "SECRET_BLOCK": self._secret_blocks.seal(challenge),
                "SRP_B": f"{server_public:x}",
                "USERNAME": user_id,
                "USER_ID_FOR_SRP": user_id,
            },
        }

    def _start_session(self, client_id: str, user: StoredUser) -> dict[str, Any]:
        """A new sign-in of `user`: its session, and the tokens with a new refresh token."""
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
