"""create_voucher: a payout's voucher is made once in Fortnox, when the command comes twice and
when Fortnox commits but the answer is lost (dropped connection, timeout); a payout in another
currency is converted at Fortnox's rate of the day and still balances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
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


def payout(payout_id: str, currency: str = "SEK") -> dict[str, Any]:
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
    issued = datetime(2026, 11, 30, 6, 0, tzinfo=UTC).isoformat()
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


async def test_a_payout_in_euro_is_converted_at_the_rate_of_the_day(stack: Stack) -> None:
    today = date.today().isoformat()  # Fortnox's /3/currencies answers today's rate
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", today, D("11.4321"))
    await made(stack, command(stack, payout("700003", "EUR")))
    [voucher] = vouchers(stack)
    debit, credit = sides(voucher)
    assert debit == credit
    bank = next(r for r in voucher.rows if r["Account"] == 1930)
    net = D("1000.00") - D("19.80") + D("333.33") - D("7.80") - D("100.00")
    assert abs(D(bank["Debit"]) - net * D("11.4321")) < D("0.01")
    assert "EUR" in bank["TransactionInformation"]
