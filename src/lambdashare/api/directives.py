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


#: Callers with a space of files: the API key's anonymous space, signed-in users, and IAM principals (each owns
#: by its ARN; on AWS, its IAM policy says which of these fields it may call). A field's directives replace its
#: type's, so the hasher's publish mutations stay IAM-only.
USERS = [AwsApiKey(), AwsCognitoUserPools(), AwsIam()]
