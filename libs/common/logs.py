"""JSON logs with trace ids, and redaction of tokens and personal data.

Every service calls :func:`configure_logging` once at start. Each line is one JSON object with
``timestamp``, ``level``, ``event``, ``service``, and ``trace_id``/``span_id`` of the active span.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

from libs.common.emails import redact_emails

# Keys whose values never reach a log line.
_SECRET_KEYS = re.compile(r"(token|secret|password|authorization|hmac|api_key|code_verifier)", re.I)
# Personal data of customers (GDPR): redacted wherever it appears as a key.
_PERSONAL_KEYS = re.compile(
    r"^(email|e_mail|phone|name|first_name|last_name|address\d?|address1|address2|zip|city|"
    r"customer_name|billing_address|shipping_address|organisation_number|vat_number)$",
    re.I,
)
REDACTED = "[redacted]"


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_emails(value, REDACTED)
    if isinstance(value, Mapping):
        return redact(dict(value))
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def redact(event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace secrets and personal data in a log event (recursively)."""
    for key in list(event):
        if key in ("event", "level", "timestamp", "trace_id", "span_id", "service", "logger"):
            if key == "event" and isinstance(event[key], str):
                event[key] = redact_emails(event[key], REDACTED)
            continue
        if _SECRET_KEYS.search(key) or _PERSONAL_KEYS.match(key):
            event[key] = REDACTED
        else:
            event[key] = _redact_value(event[key])
    return event


def _redact_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return redact(event)


def _trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure_logging(service: str, level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to one JSON line per event on stdout (``stream``:
    elsewhere; the CLI logs to stderr, so its stdout holds only its result)."""
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _redact_processor,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _redact_processor,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; bind shop/order ids with ``.bind(shop=..., order_id=...)``."""
    return structlog.get_logger(name)
