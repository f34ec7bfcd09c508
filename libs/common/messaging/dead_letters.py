"""The one builder of dead-letter headers (``x-fortbridge-error-*``).

Every failed job carries the same headers, whoever dead-letters it: the consumer runner
(libs/common/messaging/consumer.py) for a message that failed in its handler, and the Fortnox
writer for a command it had set aside in PostgreSQL and failed later. The replayer reads them
(services/replayer/dead_letters.py) to file the failed job and to re-queue it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from libs.common.errors import ErrorClass, HandlerError

ATTEMPT_HEADER = "x-fortbridge-attempt"
ERROR_HEADER_PREFIX = "x-fortbridge-error-"
FAILED_QUEUE_HEADER = "x-fortbridge-failed-queue"
# The routing key the message was first published with (a retry re-enters by queue name).
ROUTING_KEY_HEADER = "x-fortbridge-routing-key"
TEXT_LIMIT = 2000
DETAILS_LIMIT = 4000


def error_headers(exc: BaseException, error_class: ErrorClass) -> dict[str, Any]:
    """What went wrong: class, message, and for a HandlerError its code, source and advice."""
    headers: dict[str, Any] = {
        f"{ERROR_HEADER_PREFIX}class": str(error_class),
        f"{ERROR_HEADER_PREFIX}message": str(exc)[:TEXT_LIMIT],
    }
    if isinstance(exc, HandlerError):
        if exc.code is not None:
            headers[f"{ERROR_HEADER_PREFIX}code"] = exc.code
        if exc.source_message:
            headers[f"{ERROR_HEADER_PREFIX}source-message"] = exc.source_message[:TEXT_LIMIT]
        headers[f"{ERROR_HEADER_PREFIX}explanation"] = exc.explanation[:TEXT_LIMIT]
        if exc.details:
            details = json.dumps(exc.details, default=str)
            headers[f"{ERROR_HEADER_PREFIX}details"] = details[:DETAILS_LIMIT]
    else:
        headers[f"{ERROR_HEADER_PREFIX}code"] = type(exc).__name__
    return headers


def dead_letter_headers(
    original: Mapping[str, Any],
    exc: BaseException,
    error_class: ErrorClass,
    *,
    routing_key: str,
    failed_queue: str,
    service: str,
    attempts: int,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The headers of a failed job: the original's (trace context and retry counter kept; the
    replayer drops the counter when it re-queues), the error, where and when it failed and after
    how many attempts."""
    headers = dict(original)
    headers.update(error_headers(exc, error_class))
    headers[ROUTING_KEY_HEADER] = original.get(ROUTING_KEY_HEADER) or routing_key
    headers[FAILED_QUEUE_HEADER] = failed_queue
    headers[f"{ERROR_HEADER_PREFIX}service"] = service
    headers[f"{ERROR_HEADER_PREFIX}attempts"] = attempts
    headers[f"{ERROR_HEADER_PREFIX}at"] = (at or datetime.now(UTC)).isoformat()
    return headers
