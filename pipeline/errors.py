"""The exception tree of mtpipe.

    PipelineError                     exit 1   something mtpipe did not expect
    ├── UsageError                    exit 2   bad command line, job file or template
    │   └── InputError                exit 2   the input table cannot be read as asked
    ├── OutputError                   exit 2   the output cannot be written (path, permission, disk)
    ├── CheckpointError               exit 2   the checkpoint is unreadable or of another schema
    │   └── LockedError               exit 75  another run holds the checkpoint (EX_TEMPFAIL)
    ├── ProviderConfigError           exit 4   the provider rejected the configuration:
    │                                          401/403 key, 404 model, billing 429s. Stops the run.
    ├── RequestError                           one API attempt failed (never escapes the worker)
    │   ├── TransientError                     429, 5xx, timeouts, resets, invalid JSON,
    │   │                                      200 without content, finish_reason=length: retry
    │   └── PermanentError                     moderation, invalid parameters, request bugs:
    │                                          fail the cell at once with the reason
    └── TransportError                         the transport seam's own: a connection failed
                                               or timed out (never escapes the client, which
                                               retries it as a TransientError)

Messages say what failed, for which input, and what to do.  None of them
ever contains the API key: the client never formats request headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Usage

__all__ = [
    "CheckpointError",
    "InputError",
    "LockedError",
    "OutputError",
    "PermanentError",
    "PipelineError",
    "ProviderConfigError",
    "RequestError",
    "TransientError",
    "TransportError",
    "UsageError",
]


class PipelineError(Exception):
    """Base of every error mtpipe raises on purpose."""

    exit_code = 1


class UsageError(PipelineError):
    """Bad command line, job file, template or option value."""

    exit_code = 2


class InputError(UsageError):
    """The input table cannot be read as asked."""


class OutputError(PipelineError):
    """The output (table, report) cannot be written."""

    exit_code = 2


class CheckpointError(PipelineError):
    """The checkpoint cannot be opened or is not an mtpipe checkpoint."""

    exit_code = 2


class LockedError(CheckpointError):
    """Another live process holds the checkpoint; try again when it has finished."""

    exit_code = 75


class ProviderConfigError(PipelineError):
    """The provider refused the configuration: key, model, region or billing."""

    exit_code = 4


class RequestError(PipelineError):
    """One attempt at one API request failed.

    ``reason`` is a short stable code used in reports and checkpoints
    (``http_429``, ``timeout``, ``truncated``, ``moderation`` ...);
    ``usage`` is what the provider billed for the failed attempt, if anything;
    ``retry_after`` is the delay in seconds the server asked for, if any.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        usage: Usage | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.usage = usage  # None: nothing billed
        self.retry_after = retry_after
        self.status = status


class TransientError(RequestError):
    """Can succeed later: retry with backoff."""


class PermanentError(RequestError):
    """Will never succeed as sent: fail the cell with this reason."""


class TransportError(PipelineError):
    """A transport could not send a request or read its reply.

    ``reason`` is ``connection`` or ``timeout``; ``detail`` what the HTTP stack said;
    ``cause`` the few words a person reads: ``connection refused``, ``host name not found``.
    """

    def __init__(self, reason: str, detail: str, *, cause: str = "connection failed") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.cause = cause
