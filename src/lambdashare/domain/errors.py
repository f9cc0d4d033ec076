"""Every failure the product reports, one exception type per condition.

A direct Lambda resolver reports the exception *class name* as `errorType`, so these names are
public API: rename none of them.
"""

from __future__ import annotations


class LambdashareError(Exception):
    """Base of every error the product raises on purpose."""


class ValidationError(LambdashareError):
    """An argument is malformed or out of range."""


class NotFoundError(LambdashareError):
    """The file does not exist (or is not the caller's)."""


class ItemExistsError(LambdashareError):
    """A conditional put found the item already there."""


class ConditionFailedError(LambdashareError):
    """A conditional update found the item in another state than required."""


class InvalidTokenError(ValidationError):
    """A `nextToken` was not issued by us, or was altered."""


class BlobNotFoundError(LambdashareError):
    """The object is not (or no longer) in storage."""


class PublishError(LambdashareError):
    """AppSync refused or failed the `publishFileHashed` mutation."""
