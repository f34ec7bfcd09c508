"""Reading a dead letter: which queue it died in, why, and what the error was (pure).

Two kinds arrive: those a consumer dead-lettered on purpose (``x-fortbridge-error-*`` headers
with the error class, Fortnox's code and message, an English explanation) and those the broker
dead-lettered (``x-death``: delivery limit reached, expired, rejected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from libs.common.errors import ErrorClass
from libs.common.messaging.dead_letters import (
    ERROR_HEADER_PREFIX,
    FAILED_QUEUE_HEADER,
    ROUTING_KEY_HEADER,
)

_BROKER_REASONS = {
    "delivery_limit": (
        ErrorClass.DELIVERY_LIMIT,
        "The message was delivered too many times without being handled (its consumer kept "
        "crashing or being stopped). It was set aside so it cannot block others.",
    ),
    "expired": (ErrorClass.EXPIRED, "The message expired before it was handled."),
    "rejected": (ErrorClass.UNEXPECTED, "A consumer rejected the message."),
    "maxlen": (ErrorClass.UNEXPECTED, "The queue was full."),
}


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    error_class: str
    error_code: str | None
    error_message: str | None
    source_message: str | None
    explanation: str
    service: str | None
    attempts: int
    failed_at: datetime
    trace_id: str | None
    routing_key: str = ""
    failure_id: str = ""
    details: dict[str, Any] | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def trace_id_of(headers: dict[str, Any]) -> str | None:
    parent = _text(headers.get("traceparent"))
    parts = parent.split("-") if parent else []
    return parts[1] if len(parts) == 4 else None


def read(headers: dict[str, Any], fallback_queue: str, routing_key: str = "") -> DeadLetter:
    """What a dead letter says about its failure; ``routing_key`` is the one it arrived with."""
    original_key = _text(headers.get(ROUTING_KEY_HEADER)) or routing_key
    error_class = _text(headers.get(f"{ERROR_HEADER_PREFIX}class"))
    if error_class is not None:
        at = _text(headers.get(f"{ERROR_HEADER_PREFIX}at"))
        failed_at = _parse_time(at)
        attempts = int(_text(headers.get(f"{ERROR_HEADER_PREFIX}attempts")) or 1)
        return DeadLetter(
            queue=_text(headers.get(FAILED_QUEUE_HEADER)) or fallback_queue,
            error_class=error_class,
            error_code=_text(headers.get(f"{ERROR_HEADER_PREFIX}code")),
            error_message=_text(headers.get(f"{ERROR_HEADER_PREFIX}message")),
            source_message=_text(headers.get(f"{ERROR_HEADER_PREFIX}source-message")),
            explanation=_text(headers.get(f"{ERROR_HEADER_PREFIX}explanation"))
            or _text(headers.get(f"{ERROR_HEADER_PREFIX}message"))
            or "The message failed.",
            service=_text(headers.get(f"{ERROR_HEADER_PREFIX}service")),
            attempts=attempts,
            failed_at=failed_at,
            trace_id=trace_id_of(headers),
            routing_key=original_key,
            failure_id=f"{error_class}@{at or failed_at.isoformat()}#{attempts}",
            details=_json_object(_text(headers.get(f"{ERROR_HEADER_PREFIX}details"))),
        )
    deaths = headers.get("x-death") or []
    death = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    reason = _text(death.get("reason")) or _text(headers.get("x-first-death-reason")) or "unknown"
    error, explanation = _BROKER_REASONS.get(
        reason, (ErrorClass.UNEXPECTED, f"The broker dead-lettered the message ({reason}).")
    )
    queue = _text(death.get("queue")) or fallback_queue
    time = death.get("time")
    failed_at = time if isinstance(time, datetime) else datetime.now(UTC)
    if failed_at.tzinfo is None:
        failed_at = failed_at.replace(tzinfo=UTC)
    count = death.get("count")
    keys = death.get("routing-keys") or []
    return DeadLetter(
        queue=queue,
        error_class=str(error),
        error_code=reason,
        error_message=f"dead-lettered by the broker from {queue}: {reason}",
        source_message=None,
        explanation=explanation,
        service=queue.rsplit(".", 2)[-2] if queue.count(".") >= 2 else None,
        attempts=int(_text(headers.get("x-delivery-count")) or death.get("count") or 1),
        failed_at=failed_at,
        trace_id=trace_id_of(headers),
        routing_key=original_key or (_text(keys[0]) or "" if keys else ""),
        failure_id=f"{reason}@{queue}@{failed_at.isoformat()}#{count}",
    )


def _json_object(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return {"raw": value}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _parse_time(value: str | None) -> datetime:
    if value:
        try:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)
