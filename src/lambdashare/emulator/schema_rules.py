"""What AppSync reads from the SDL besides types: auth directives and `@aws_subscribe`.

Read from the printed schema, as AppSync reads the deployed `schema.graphql`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import ConstDirectiveNode, ListValueNode, ObjectTypeDefinitionNode, StringValueNode, parse

AUTH_DIRECTIVES = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
}


#: auth mode -> the Cognito groups it is limited to (None: any caller of that mode)
Modes = dict[str, frozenset[str] | None]


def _modes(directives: tuple[ConstDirectiveNode, ...] | None) -> Modes:
    modes: Modes = {}
    for directive in directives or ():
        mode = AUTH_DIRECTIVES.get(directive.name.value)
        if mode is not None:
            groups = _strings(directive, "cognito_groups")
            modes[mode] = frozenset(groups) if groups is not None else None
    return modes


@dataclass(frozen=True, slots=True)
class SchemaRules:
    default_mode: str
    #: (type, field) -> auth modes allowed; a field's directives replace its type's.
    field_modes: dict[tuple[str, str], Modes] = field(default_factory=dict)
    #: type -> auth modes from its own directives (empty: the default mode).
    type_modes: dict[str, Modes] = field(default_factory=dict)
    #: subscription field -> mutations that trigger it.
    subscriptions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_sdl(cls, sdl: str, default_mode: str) -> SchemaRules:
        rules = cls(default_mode=default_mode)
        for definition in parse(sdl).definitions:
            if not isinstance(definition, ObjectTypeDefinitionNode):
                continue
            type_name = definition.name.value
            rules.type_modes[type_name] = _modes(definition.directives)
            for fdef in definition.fields or ():
                rules.field_modes[(type_name, fdef.name.value)] = _modes(fdef.directives)
                for directive in fdef.directives or ():
                    if directive.name.value == "aws_subscribe":
                        rules.subscriptions[fdef.name.value] = tuple(_strings(directive, "mutations") or ())
        return rules

    def allowed_modes(self, type_name: str, field_name: str) -> Modes:
        return (
            self.field_modes.get((type_name, field_name)) or self.type_modes.get(type_name) or {self.default_mode: None}
        )

    def allows(self, type_name: str, field_name: str, mode: str, groups: list[str] | None) -> bool:
        modes = self.allowed_modes(type_name, field_name)
        if mode not in modes:
            return False
        required = modes[mode]
        return required is None or bool(required & set(groups or ()))


def _strings(directive: ConstDirectiveNode, name: str) -> list[str] | None:
    for argument in directive.arguments:
        if argument.name.value == name and isinstance(argument.value, ListValueNode):
            return [v.value for v in argument.value.values if isinstance(v, StringValueNode)]
    return None
