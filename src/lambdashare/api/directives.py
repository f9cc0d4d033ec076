"""AppSync's directives. AppSync declares them itself, so their definitions are never printed."""

from __future__ import annotations

import strawberry
from strawberry.schema_directive import Location

_ON_FIELD_OR_TYPE = [Location.FIELD_DEFINITION, Location.OBJECT]


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="aws_subscribe", print_definition=False)
class AwsSubscribe:
    mutations: list[str]


@strawberry.schema_directive(locations=_ON_FIELD_OR_TYPE, name="aws_api_key", print_definition=False)
class AwsApiKey:
    pass


@strawberry.schema_directive(locations=_ON_FIELD_OR_TYPE, name="aws_iam", print_definition=False)
class AwsIam:
    pass


#: Auth-mode names as AppSync's API configuration spells them, by directive.
AUTH_MODES: dict[type, str] = {AwsApiKey: "API_KEY", AwsIam: "AWS_IAM"}
