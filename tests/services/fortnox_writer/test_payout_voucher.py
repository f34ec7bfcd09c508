"""create_voucher: a payout's voucher is made once in Fortnox, when the command comes twice and
when Fortnox commits but the answer is lost (dropped connection, timeout); a payout in another
currency is converted at Fortnox's rate of the payout's date, balances to the öre, names the
currency, amount and rate, and is made once; a payout of a day whose rate Fortnox no longer tells
is refused, not booked at another day's rate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from libs.common.messages import FortnoxCommand
from libs.common.messaging import Topology
from services.mapper.accounting import ShopSettings
from services.mapper.accounting.payouts import plan_payout
from simulators.fortnox.vouchers import Voucher
from tests.services.fortnox_writer.actions_support import (
    FAULTS,
    SERVICES,
    connect_all_scopes,
    ledger_row,
    published_results,
    send,
    writer_failures,
)
from tests.support.stack import Stack, running_stack

D = Decimal
SCOPES = "invoice payment customer article companyinformation bookkeeping currency"
ON = ShopSettings.model_validate({"payouts": {"enabled": True}})

# Each test runs the writer against the simulator in a stack of its own.
pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=SERVICES,
    ) as stack:
        await connect_all_scopes(stack, SCOPES)
        yield stack


def payout(payout_id: str, currency: str = "SEK", day: date | None = None) -> dict[str, Any]:
    """Two charges with Shopify's fees, a refund and the payout (REST spelling)."""
    txns = [
        ("charge", "1000.00", "19.80"),
        ("charge", "333.33", "7.80"),
        ("refund", "-100.00", "0.00"),
    ]
    rows = [
        {
            "id": str(n),
            "type": kind,
            "amount": amount,
            "fee": fee,
            "net": str(D(amount) - D(fee)),
            "currency": currency,
        }
        for n, (kind, amount, fee) in enumerate(txns, start=1)
    ]
    net = sum((D(r["net"]) for r in rows), D(0))
    rows.append({"id": "9", "type": "payout", "amount": str(-net), "fee": "0.00", "net": str(-net)})
    on = day or date(2026, 11, 30)
    issued = datetime(on.year, on.month, on.day, 6, 0, tzinfo=UTC).isoformat()
    return {
        "id": payout_id,
        "status": "paid",
        "issued_at": issued,
        "currency": currency,
        "net": str(net),
        "balance_transactions": rows,
    }


def command(stack: Stack, payload: dict[str, Any]) -> FortnoxCommand:
    plan = plan_payout(stack.shop, payload, ON, event_uid=None)
    assert plan.command is not None
    return plan.command


async def made(stack: Stack, command: FortnoxCommand, timeout: float = 20.0) -> Any:
    """Send the command and wait until its ledger row is finished (a payout has no order
    timeline to wait on)."""
    await send(stack, command)

    async def finished() -> bool:
        row = await ledger_row(stack.pool, command.document_key)
        return row is not None and row["finished_at"] is not None

    await stack.wait_for(finished, timeout=timeout)
    return await ledger_row(stack.pool, command.document_key)


def vouchers(stack: Stack) -> list[Voucher]:
    return list(stack.fortnox.tenant(stack.tenant_id).vouchers.values())


def sides(voucher: Voucher) -> tuple[Decimal, Decimal]:
    return (
        sum((D(r["Debit"]) for r in voucher.rows), D(0)),
        sum((D(r["Credit"]) for r in voucher.rows), D(0)),
    )


async def test_the_voucher_is_made_once_when_the_payout_comes_twice(
    stack: Stack, amqp_url: str, broker_cleanup: Topology
) -> None:
    first = command(stack, payout("700001"))
    row = await made(stack, first)
    [voucher] = vouchers(stack)
    assert row["document_number"] == f"A{voucher.number}" and row["kind"] == "voucher"
    debit, credit = sides(voucher)
    assert debit == credit == first.expected_total
    fee = [r for r in voucher.rows if r["Account"] == 6064]
    assert [D(r["Debit"]) for r in fee] == [D("27.60")]  # Shopify's fees, to the öre
    assert voucher.fields["Description"] == "Shopify Payments utbetalning 700001"
    again = command(stack, payout("700001")).model_copy(update={"command_id": "again"})
    writes = len(stack.fortnox.requests_for(stack.tenant_id))
    async with published_results(amqp_url, broker_cleanup) as seen:
        await send(stack, again)
        await stack.wait_for(lambda: any(r["command_id"] == "again" for r in seen))
    [answer] = [r for r in seen if r["command_id"] == "again"]
    assert (answer["status"], answer["document_kind"]) == ("already_synced", "voucher")
    assert answer["document_number"] == f"A{voucher.number}"
    assert len(vouchers(stack)) == 1
    assert len(stack.fortnox.requests_for(stack.tenant_id)) == writes  # Fortnox not asked
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_a_lost_answer_does_not_make_a_second_voucher(
    stack: Stack, spec: dict[str, object]
) -> None:
    stack.fortnox.faults.add(method="POST", path_regex=r"^/3/vouchers$", times=1, **spec)  # type: ignore[arg-type]
    await made(stack, command(stack, payout("700002")), timeout=30)
    assert len(vouchers(stack)) == 1
    row = await ledger_row(stack.pool, f"{stack.shop}:payout:700002:voucher")
    assert row is not None and row["outcome"] == "adopted"
    assert await writer_failures(stack) == []


def _rows(voucher: Voucher, account: int) -> list[dict[str, Any]]:
    return [r for r in voucher.rows if r["Account"] == account]


def _sek(amount: str, rate: Decimal) -> Decimal:
    return (D(amount) * rate).quantize(D("0.01"), rounding=ROUND_HALF_UP)


async def test_a_payout_in_euro_is_booked_in_sek_at_the_rate_of_its_date(
    stack: Stack, amqp_url: str, broker_cleanup: Topology
) -> None:
    # Fortnox's /3/currencies tells the rate of its own day (the simulator's: today), and the
    # payout is of that day; the rate set for that date is the voucher's.
    today = date.today()
    rate = D("11.4321")
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", today.isoformat(), rate)
    first = command(stack, payout("700003", "EUR", today))
    await made(stack, first)
    [voucher] = vouchers(stack)
    debit, credit = sides(voucher)
    assert debit == credit  # balanced to the öre
    net = "1205.73"  # 1000.00 - 19.80 + 333.33 - 7.80 - 100.00
    [bank] = _rows(voucher, 1930)
    assert D(bank["Debit"]) == _sek(net, rate) == D("13784.03")
    assert [D(r["Debit"]) for r in _rows(voucher, 6064)] == [_sek("27.60", rate)]
    clearing = _rows(voucher, 1580)
    assert sorted(D(r["Credit"] or 0) for r in clearing)[-1] == _sek("1333.33", rate)
    # 1333.33 x 11.4321 = 15242.76... rows rounded on their own leave an öre: the rounding row
    rounding = [r for r in voucher.rows if r["Account"] not in (1930, 6064, 1580)]
    assert [r["Account"] for r in rounding] == [ON.accounts.rounding]
    assert voucher.fields["Description"] == (
        f"Shopify Payments utbetalning 700003 (EUR {net} kurs 11.4321)"
    )
    assert bank["TransactionInformation"] == f"EUR {net} kurs 11.4321"

    # Delivered again: no second voucher, Fortnox not asked.
    again = first.model_copy(update={"command_id": "again"})
    async with published_results(amqp_url, broker_cleanup) as seen:
        await send(stack, again)
        await stack.wait_for(lambda: any(r["command_id"] == "again" for r in seen))
    assert [r["status"] for r in seen if r["command_id"] == "again"] == ["already_synced"]
    assert len(vouchers(stack)) == 1

    # Another rate for that date books another amount (a payout of its own).
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", today.isoformat(), D("11.0000"))
    await made(stack, command(stack, payout("700004", "EUR", today)))
    [other] = [v for v in vouchers(stack) if v is not voucher]
    [bank] = _rows(other, 1930)
    assert D(bank["Debit"]) == D("13263.03")  # 1205.73 x 11.0000
    assert "kurs 11" in other.fields["Description"]
    assert await writer_failures(stack) == []


async def test_a_euro_payout_after_fortnoxs_newest_rate_is_booked_at_that_rate(
    stack: Stack,
) -> None:
    # A Sunday's payout, or one booked before the day's rates come out: Fortnox's newest rate
    # is of an earlier day (here two days before), and no newer one exists, so it is the rate
    # Fortnox gives a document of the payout's date too.
    today = date.today()
    newest = today - timedelta(days=2)
    tenant = stack.fortnox.tenant(stack.tenant_id)
    tenant.rates_dated = newest
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", newest.isoformat(), D("11.2000"))
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", today.isoformat(), D("12.0000"))
    await made(stack, command(stack, payout("700006", "EUR", today)))
    [voucher] = vouchers(stack)
    [bank] = _rows(voucher, 1930)
    assert D(bank["Debit"]) == _sek("1205.73", D("11.2000"))
    assert voucher.fields["Description"].endswith("(EUR 1205.73 kurs 11.2)")
    # A payout of a day before the newest rate's: Fortnox no longer tells its rate.
    await send(stack, command(stack, payout("700007", "EUR", newest - timedelta(days=1))))

    async def failed() -> bool:
        return bool(await writer_failures(stack))

    await stack.wait_for(failed, timeout=20)
    assert len(vouchers(stack)) == 1
    [failure] = await writer_failures(stack)
    assert "no_rate_of_day" in str(failure), failure


async def test_a_euro_payout_of_an_earlier_day_is_refused_not_booked_at_todays_rate(
    stack: Stack,
) -> None:
    earlier = date.today() - timedelta(days=3)
    await send(stack, command(stack, payout("700005", "EUR", earlier)))

    async def failed() -> bool:
        return bool(await writer_failures(stack))

    await stack.wait_for(failed, timeout=20)
    assert vouchers(stack) == []
    [failure] = await writer_failures(stack)
    assert "no_rate_of_day" in str(failure), failure
