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


class Unauthorized(LambdashareError):
    """The caller may not have what it asked for (AppSync's own name for this error)."""


class InvalidTokenError(ValidationError):
    """A `nextToken` was not issued by us, or was altered."""


class BlobNotFoundError(LambdashareError):
    """The object is not (or no longer) in storage."""


class PublishError(LambdashareError):
    """AppSync refused or failed the `publishFileHashed` mutation."""


# --- multipart uploads: S3's error codes, word for word (no `Error` suffix: the class name is the errorType)
class NoSuchUpload(LambdashareError):
    """The multipart upload does not exist: never started, aborted, or already completed."""


class InvalidPart(LambdashareError):
    """A listed part was not uploaded, or its ETag is not the one stored."""


class InvalidPartOrder(LambdashareError):
    """The listed part numbers are not in ascending order."""


class EntityTooSmall(LambdashareError):
    """A part other than the last is smaller than 5 MiB."""


class PreconditionFailed(LambdashareError):
    """The key already holds an object: objects are write-once (`If-None-Match: *`)."""


#: The S3 error codes a store maps to domain errors (both adapters read this one table).
S3_ERRORS: dict[str, type[LambdashareError]] = {
    cls.__name__: cls for cls in (NoSuchUpload, InvalidPart, InvalidPartOrder, EntityTooSmall, PreconditionFailed)
}
