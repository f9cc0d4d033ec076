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


@strawberry.schema_directive(locations=_ON_FIELD_OR_TYPE, name="aws_cognito_user_pools", print_definition=False)
class AwsCognitoUserPools:
    cognito_groups: list[str] | None = strawberry.UNSET


#: People: the API key's public space and signed-in users. A field's directives replace its type's.
USERS = [AwsApiKey(), AwsCognitoUserPools()]
#: Types the hasher (IAM) also returns when it publishes.
USERS_AND_HASHER = [*USERS, AwsIam()]
