"""Which failed jobs a request means: filters shared by listing and bulk retry, and cursors.

Filters come from a query string (listing) or a JSON body (bulk retry) with the same names:
``shop``, ``status``, ``cause``, ``error_code``, ``error_class``, ``service``, ``since`` and
``until`` (ISO 8601, on the last failure time), ``batch_id`` (a bulk retry's jobs).

A cursor is opaque to callers: it encodes the position in a stable order (the job's insertion
sequence, newest first), so paging returns every job once even while jobs fail again.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from libs.common.limits import MAX_NAME

STATUSES = ("open", "queued", "retrying", "discarded")
MAX_FILTER_TEXT = MAX_NAME  # longer than any shop, cause key, code or service name
_TEXT_FIELDS = ("shop", "status", "cause", "error_code", "error_class", "service")
_COLUMNS = {
    "shop": "shop",
    "status": "status",
    "cause": "cause_key",
    "error_code": "error_code",
    "error_class": "error_class",
    "service": "service",
}


class FilterError(ValueError):
    """A filter or cursor the caller got wrong; the message says how, in plain English."""


@dataclass(frozen=True)
class JobFilter:
    shop: str | None = None
    status: str | None = None
    cause: str | None = None
    error_code: str | None = None
    error_class: str | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    batch_id: uuid.UUID | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> JobFilter:
        """Read a filter from query parameters or a JSON object; unknown keys are ignored."""
        text: dict[str, str | None] = {}
        for name in _TEXT_FIELDS:
            value = values.get(name)
            if value is not None and not isinstance(value, str | int):
                raise FilterError(f"{name} must be a string")
            text[name] = str(value) if value not in (None, "") else None
            if text[name] is not None and len(str(text[name])) > MAX_FILTER_TEXT:
                raise FilterError(f"{name} is at most {MAX_FILTER_TEXT} characters")
        status = text["status"]
        if status is not None and status not in STATUSES:
            raise FilterError(f"status must be one of {', '.join(STATUSES)}")
        return cls(
            **text,
            since=_time(values.get("since"), "since"),
            until=_time(values.get("until"), "until"),
            batch_id=_uuid(values.get("batch_id"), "batch_id"),
        )

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def as_json(self) -> dict[str, Any]:
        """The filter as given (for the audit log), without the empty fields."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, uuid.UUID):
                value = str(value)
            if value is not None:
                out[name] = value
        return out

    def where(self, params: list[Any]) -> str:
        """A SQL condition for this filter; its values are appended to ``params``."""
        clauses = ["TRUE"]
        for name, column in _COLUMNS.items():
            value = getattr(self, name)
            if value is not None:
                params.append(value)
                clauses.append(f"{column} = ${len(params)}")
        if self.since is not None:
            params.append(self.since)
            clauses.append(f"last_failed_at >= ${len(params)}")
        if self.until is not None:
            params.append(self.until)
            clauses.append(f"last_failed_at < ${len(params)}")
        if self.batch_id is not None:
            params.append(self.batch_id)
            clauses.append(f"replay_batch = ${len(params)}")
        return " AND ".join(clauses)


def encode_cursor(seq: int, kind: str = "fj1") -> str:
    return base64.urlsafe_b64encode(f"{kind}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str = "fj1") -> int:
    if len(cursor) > 64:
        raise FilterError("cursor is not one this API returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = raw.partition(":")
        position = int(seq)
        if prefix != kind or not 0 <= position < 2**63:
            raise ValueError(raw)
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise FilterError("cursor is not one this API returned") from exc


def parse_limit(value: str | None, default: int = 50, maximum: int = 500) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError as exc:
        raise FilterError("limit must be a whole number") from exc
    if not 1 <= limit <= maximum:
        raise FilterError(f"limit must be between 1 and {maximum}")
    return limit


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if len(str(value)) > 64:
        raise FilterError(f"{name} must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(str(value))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FilterError(f"{name} must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z") from exc


def _uuid(value: Any, name: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise FilterError(f"{name} must be a UUID") from exc
