"""List endpoints: lowercase query parameters, substring search, paging, MetaInformation.

- ``limit`` (default 100, 1..500) and ``page`` (default 1); anything else answers 400 code
  2000588. ``offset`` skips that many resources before paging.
- Resource-specific search parameters are SUBSTRING, case-insensitive matches, like the real
  API: ``?externalinvoicereference1=123`` also returns ``1234``.
- ``filter=<name>`` picks a predefined filter; an unknown name answers 400 code 2000587.
- ``lastmodified=YYYY-MM-DD[ HH:MM[:SS]]`` keeps resources changed at or after that time, read
  as Swedish local time (``Europe/Stockholm``; Fortnox does not document the zone, see
  docs/simulators.md). Resources record when they were last changed (``modified_now``).
- ``fromdate=YYYY-MM-DD`` and ``todate=YYYY-MM-DD`` keep resources dated within them
  (inclusive): invoices by ``InvoiceDate``, orders by ``OrderDate``, payments by ``PaymentDate``.
- ``sortby=<param>`` and ``sortorder=ascending|descending``.
- Unknown parameters are ignored.
- ``MetaInformation``: ``@TotalResources``, ``@TotalPages`` (0 when empty, as recorded from the
  real API) and ``@CurrentPage``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from multidict import MultiMapping

from simulators.fortnox import errors

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
FORTNOX_ZONE = ZoneInfo("Europe/Stockholm")


def modified_now() -> datetime:
    """When a resource changes: an aware UTC time."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ListSpec(Generic[T]):
    """How one collection is searched: search param -> text of the resource."""

    searches: Mapping[str, Callable[[T], str]]
    filters: Mapping[str, Callable[[T], bool]]
    modified: Callable[[T], datetime]
    default_sort: Callable[[T], Any]
    # The resource's date (YYYY-MM-DD) that ``fromdate`` and ``todate`` bound, if it has one.
    dated: Callable[[T], str] | None = None


def _int_param(query: MultiMapping[str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(errors.INVALID_PARAMETER, name) from None
    if not low <= value <= high:
        raise errors.bad_request(errors.INVALID_PARAMETER, name)
    return value


def _parse_lastmodified(raw: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=FORTNOX_ZONE)
        except ValueError:
            continue
    raise errors.bad_request(errors.INVALID_PARAMETER, "lastmodified")


def _is_date(raw: str) -> bool:
    try:
        datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def select(items: Sequence[T], query: MultiMapping[str], spec: ListSpec[T]) -> list[T]:
    """Apply searches, filter, lastmodified and sorting (no paging)."""
    result = list(items)
    for name, text_of in spec.searches.items():
        needle = query.get(name)
        if needle is not None and needle != "":
            lowered = needle.lower()
            result = [item for item in result if lowered in text_of(item).lower()]
    filter_name = query.get("filter")
    if filter_name:
        predicate = spec.filters.get(filter_name.lower())
        if predicate is None:
            raise errors.bad_request(errors.INVALID_FILTER)
        result = [item for item in result if predicate(item)]
    lastmodified = query.get("lastmodified")
    if lastmodified:
        since = _parse_lastmodified(lastmodified)
        result = [item for item in result if spec.modified(item) >= since]
    dated = spec.dated
    for name in ("fromdate", "todate"):
        bound = query.get(name)
        if bound and dated is not None:
            if not _is_date(bound):
                raise errors.bad_request(errors.INVALID_PARAMETER, name)
            if name == "fromdate":
                result = [item for item in result if dated(item) >= bound]
            else:
                result = [item for item in result if dated(item) <= bound]
    sort_key: Callable[[T], Any] = spec.default_sort
    sortby = query.get("sortby")
    if sortby:
        if sortby.lower() not in spec.searches:
            raise errors.bad_request(errors.INVALID_PARAMETER, "sortby")
        sort_key = spec.searches[sortby.lower()]
    descending = (query.get("sortorder") or "ascending").lower() == "descending"
    return sorted(result, key=sort_key, reverse=descending)


def page(
    items: Sequence[T],
    query: MultiMapping[str],
    collection_key: str,
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    current = _int_param(query, "page", 1, 1, 10**9)
    offset = _int_param(query, "offset", 0, 0, 10**9)
    remaining = list(items)[offset:]
    total = len(remaining)
    start = (current - 1) * limit
    chunk = remaining[start : start + limit]
    return {
        "MetaInformation": {
            "@TotalResources": total,
            "@TotalPages": math.ceil(total / limit),
            "@CurrentPage": current,
        },
        collection_key: [render(item) for item in chunk],
    }
