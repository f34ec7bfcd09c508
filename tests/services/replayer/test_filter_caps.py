"""Failed-job filters (listing and bulk retry) are plain equality and range tests on indexed
columns, so their cost does not grow with what a caller sends; values longer than any real one
are refused before a query is made."""

from __future__ import annotations

import pytest

from services.replayer.filters import (
    MAX_FILTER_TEXT,
    FilterError,
    JobFilter,
    decode_cursor,
    encode_cursor,
)


@pytest.mark.parametrize("name", ["shop", "cause", "error_code", "error_class", "service"])
def test_a_filter_value_longer_than_any_real_one_is_refused(name: str) -> None:
    with pytest.raises(FilterError, match=f"{name} is at most {MAX_FILTER_TEXT} characters"):
        JobFilter.from_mapping({name: "x" * 1_000_000})
    assert getattr(JobFilter.from_mapping({name: "x" * MAX_FILTER_TEXT}), name)


def test_times_and_cursors_are_short_or_refused() -> None:
    with pytest.raises(FilterError, match="since must be an ISO 8601 time"):
        JobFilter.from_mapping({"since": "2026-01-01" + " " * 1_000_000})
    with pytest.raises(FilterError, match="cursor is not one this API returned"):
        decode_cursor("A" * 1_000_000)
    assert decode_cursor(encode_cursor(2**62)) == 2**62


def test_the_sql_is_equality_and_ranges_only() -> None:
    params: list[object] = []
    where = JobFilter.from_mapping(
        {"cause": "mapper:template_limit", "since": "2026-01-01T00:00:00Z", "shop": "a%_"}
    ).where(params)
    assert "LIKE" not in where.upper() and "~" not in where
    assert "a%_" in params  # a value, never part of the SQL
