"""What can stop a command, each with its exit status: 1 when a file failed, changed or is missing, 2 when the
command could not run at all (usage, credentials, connection). Printed on one line by `commands.run`.

Not responsible for the server's errors' shape (AppSync's `errorType`); `api` translates those into these.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


class CliError(Exception):
    """A reason to stop, said in one line a person can act on."""

    exit_code = EXIT_ERROR


class UsageError(CliError):
    """Options or arguments that cannot work together."""


class AuthError(CliError):
    """Credentials missing, refused or expired."""


class ConnectError(CliError):
    """The endpoint cannot be reached, or is not a GraphQL API."""


class ApiError(CliError):
    """The API refused the request (its `errorType` and message)."""


class NotFoundError(CliError):
    """No such file, share or recorded upload (for this caller)."""

    exit_code = EXIT_FAILED


class FileFailedError(CliError):
    """A file ended FAILED, does not match its record, or changed while it was being sent."""

    exit_code = EXIT_FAILED


def first_error(exc: BaseException) -> BaseException:
    """The error behind a task group's: its first CliError, else its first error; any other error itself."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = [first_error(inner) for inner in exc.exceptions]
    return next((leaf for leaf in leaves if isinstance(leaf, CliError)), leaves[0])
