"""Dating Fortnox's own credit invoice (credits.date_credit) against what Fortnox answers:
re-dated only while unbooked, never twice, the date kept when Fortnox booked the credit."""

from __future__ import annotations

from typing import Any, cast

import pytest

from services.fortnox_writer import credits
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient


class _Fortnox:
    """Answers GET /3/invoices/7 with ``invoice`` and records every other request."""

    def __init__(self, refusal: FortnoxApiError | None = None, **invoice: Any) -> None:
        self.invoice = {"DocumentNumber": "7", "Credit": "true", **invoice}
        self.writes: list[tuple[str, str, Any]] = []
        self.refusal = refusal

    async def request(
        self, method: str, path: str, *, body: Any = None, params: Any = None
    ) -> dict[str, Any]:
        if method == "GET" and path == "/3/invoices/7":
            return {"Invoice": dict(self.invoice)}
        self.writes.append((method, path, body))
        if self.refusal is not None:
            raise self.refusal
        self.invoice.update((body or {}).get("Invoice", {}))
        return {"Invoice": dict(self.invoice)}


async def _date(fortnox: _Fortnox, day: str) -> tuple[bool, int]:
    attempts = 0

    async def counted() -> None:
        nonlocal attempts
        attempts += 1

    client = cast(FortnoxClient, fortnox)
    dated = await credits.date_credit(client, "7", day, before_write=counted)
    return dated, attempts


async def test_an_unbooked_credit_is_dated_the_refunds_day() -> None:
    fortnox = _Fortnox(InvoiceDate="2026-12-07", Booked=False, Cancelled=False)
    assert await _date(fortnox, "2026-11-15") == (True, 1)
    assert fortnox.writes == [("PUT", "/3/invoices/7", {"Invoice": {"InvoiceDate": "2026-11-15"}})]
    # Again (a retry after a crash): it has the day already, nothing is written.
    assert await _date(fortnox, "2026-11-15") == (True, 0)
    assert len(fortnox.writes) == 1


@pytest.mark.parametrize("state", [{"Booked": True}, {"Cancelled": True}])
async def test_a_booked_or_cancelled_credit_keeps_fortnoxs_date(state: dict[str, Any]) -> None:
    fortnox = _Fortnox(InvoiceDate="2026-12-07", **{"Booked": False, "Cancelled": False, **state})
    assert await _date(fortnox, "2026-11-15") == (False, 0)
    assert fortnox.writes == []


async def test_a_refused_change_leaves_the_date_and_the_credit_done() -> None:
    refused = FortnoxApiError(400, "2000588", "Fakturadatum kan inte ändras")
    fortnox = _Fortnox(refused, InvoiceDate="2026-12-07", Booked=False, Cancelled=False)
    assert await _date(fortnox, "2026-11-15") == (False, 1)
    assert fortnox.invoice["InvoiceDate"] == "2026-12-07"


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_change_that_may_succeed_later_is_retried(status: int) -> None:
    busy = FortnoxApiError(status, None, f"HTTP {status}")
    fortnox = _Fortnox(busy, InvoiceDate="2026-12-07", Booked=False, Cancelled=False)
    with pytest.raises(FortnoxApiError):
        await _date(fortnox, "2026-11-15")
