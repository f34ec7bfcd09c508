"""How a handler says a message failed, so the consumer runner can act on it.

- :class:`PermanentError`: retrying will not help (invalid data, a Fortnox validation error). The
  message becomes a failed job at once, with the reason.
- :class:`TransientError`: may work later (timeouts, 5xx, connection drops). The message is retried
  with growing delays; when the attempts run out it becomes a failed job.
- :class:`NeedsReconnection`: the shop's Fortnox connection must be renewed by the merchant.
Any other exception counts as transient: a bug should not lose a message, and repeated crashes end
as a failed job rather than a loop.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT_EXHAUSTED = "transient_exhausted"
    NEEDS_RECONNECTION = "needs_reconnection"
    DELIVERY_LIMIT = "delivery_limit"
    EXPIRED = "expired"
    UNEXPECTED = "unexpected"


class HandlerError(Exception):
    """Base of the failures a handler raises on purpose."""

    error_class: ErrorClass = ErrorClass.PERMANENT

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        source_message: str | None = None,
        explanation: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = None if code is None else str(code)
        self.source_message = source_message
        self.explanation = explanation or message
        self.details = details or {}


class PermanentError(HandlerError):
    error_class = ErrorClass.PERMANENT


class TransientError(HandlerError):
    error_class = ErrorClass.TRANSIENT_EXHAUSTED


class NeedsReconnection(HandlerError):
    error_class = ErrorClass.NEEDS_RECONNECTION
