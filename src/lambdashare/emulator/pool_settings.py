"""What the local user pool takes from `template.yaml`: the pool's password policy, sign-in name,
self sign-up switch and groups, and its app client's allowed auth flows.

Read from the template (parameters at their defaults), so the local pool refuses what the deployed
one refuses. Not responsible for enforcing any of it: `user_pool_api` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdashare.emulator.template import TemplateError, _literal, read_template

#: Cognito's defaults for what a template leaves out.
_DEFAULT_POLICY = {
    "MinimumLength": 8,
    "RequireLowercase": True,
    "RequireUppercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
}


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    minimum_length: int
    require_lowercase: bool
    require_uppercase: bool
    require_numbers: bool
    require_symbols: bool


@dataclass(frozen=True, slots=True)
class PoolSettings:
    password_policy: PasswordPolicy
    #: Attributes that serve as the user name (["email"]: users sign up and in with their email).
    username_attributes: tuple[str, ...]
    admin_create_user_only: bool
    #: The app client's ExplicitAuthFlows, e.g. {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}.
    explicit_auth_flows: frozenset[str]
    prevent_user_existence_errors: bool
    groups: frozenset[str]


def _flag(value: Any, parameters: dict[str, Any]) -> bool:
    return (_literal(value, parameters) or "false").lower() == "true"


def _one(resources: dict[str, Any], type_: str, path: Path) -> dict[str, Any]:
    found = [r for r in resources.values() if r.get("Type") == type_]
    if len(found) != 1:
        raise TemplateError(f"{path.name} must declare exactly one {type_} for the local user pool")
    properties: dict[str, Any] = found[0].get("Properties") or {}
    return properties


def load_pool_settings(path: Path) -> PoolSettings:
    template = read_template(path)
    resources: dict[str, Any] = template.get("Resources") or {}
    parameters: dict[str, Any] = template.get("Parameters") or {}
    pool = _one(resources, "AWS::Cognito::UserPool", path)
    client = _one(resources, "AWS::Cognito::UserPoolClient", path)
    policy = {**_DEFAULT_POLICY, **((pool.get("Policies") or {}).get("PasswordPolicy") or {})}
    return PoolSettings(
        password_policy=PasswordPolicy(
            minimum_length=int(_literal(policy["MinimumLength"], parameters) or 8),
            require_lowercase=_flag(policy["RequireLowercase"], parameters),
            require_uppercase=_flag(policy["RequireUppercase"], parameters),
            require_numbers=_flag(policy["RequireNumbers"], parameters),
            require_symbols=_flag(policy["RequireSymbols"], parameters),
        ),
        username_attributes=tuple(pool.get("UsernameAttributes") or ()),
        admin_create_user_only=_flag(
            (pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly", False), parameters
        ),
        explicit_auth_flows=frozenset(client.get("ExplicitAuthFlows") or ()),
        prevent_user_existence_errors=_literal(client.get("PreventUserExistenceErrors"), parameters) == "ENABLED",
        groups=frozenset(
            str(r["Properties"]["GroupName"])
            for r in resources.values()
            if r.get("Type") == "AWS::Cognito::UserPoolGroup" and "GroupName" in (r.get("Properties") or {})
        ),
    )
