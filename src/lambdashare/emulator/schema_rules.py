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


def _modes(directives: tuple[ConstDirectiveNode, ...] | None) -> frozenset[str]:
    return frozenset(AUTH_DIRECTIVES[d.name.value] for d in directives or () if d.name.value in AUTH_DIRECTIVES)


@dataclass(frozen=True, slots=True)
class SchemaRules:
    default_mode: str
    #: (type, field) -> auth modes allowed; a field's directives replace its type's.
    field_modes: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    #: type -> auth modes from its own directives (empty: the default mode).
    type_modes: dict[str, frozenset[str]] = field(default_factory=dict)
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
                        rules.subscriptions[fdef.name.value] = _mutations(directive)
        return rules

    def allowed_modes(self, type_name: str, field_name: str) -> frozenset[str]:
        return (
            self.field_modes.get((type_name, field_name))
            or self.type_modes.get(type_name)
            or frozenset({self.default_mode})
        )


def _mutations(directive: ConstDirectiveNode) -> tuple[str, ...]:
    for argument in directive.arguments:
        if argument.name.value == "mutations" and isinstance(argument.value, ListValueNode):
            return tuple(v.value for v in argument.value.values if isinstance(v, StringValueNode))
    return ()
