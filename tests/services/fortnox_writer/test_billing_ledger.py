"""The billing ledger alone: one charge per order whatever races, and the last credit once."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg

from fortbridge.localstack import migrate_all, order_command
from libs.common.messages import FortnoxCommand, SourceRef
from libs.common.settings import Settings
from services.fortnox_writer.billing_ledger import (
    BillingLedger,
    billable_order,
    free_syncs_used,
    idempotency_key,
)
from simulators.shopify.payloads import order_payload


def _shop() -> str:
    return f"ledger-{uuid.uuid4().hex[:8]}.myshopify.com"


def _ledger(pool: asyncpg.Pool, credits: int = 2) -> BillingLedger:
    return BillingLedger(pool, Settings(billing_trial_credits=credits))


async def test_two_replicas_reserving_and_confirming_one_order_charge_it_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await migrate_all(database_url)
    shop = _shop()
    command = order_command(shop, order_payload())
    replicas = [_ledger(pool), _ledger(pool)]
    blocked = await asyncio.gather(*(replicas[i % 2].reserve(command) for i in range(8)))
    assert blocked == [None] * 8
    charged = await asyncio.gather(*(replicas[i % 2].confirm(command) for i in range(8)))
    assert charged.count("trial") == 1 and charged.count(None) == 7
    rows = await pool.fetch("SELECT * FROM fortnox_writer.billing_charges WHERE shop = $1", shop)
    assert len(rows) == 1 and rows[0]["state"] == "charged"
    assert rows[0]["idempotency_key"] == idempotency_key(command.document_key)
    # The same order again (a redelivery, a replay, a second document kind): free.
    again = command.model_copy(update={"command_id": uuid.uuid4().hex})
    assert await replicas[0].reserve(again) is None
    assert await replicas[1].confirm(again) is None


async def test_the_last_trial_credit_goes_to_one_order_only(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await migrate_all(database_url)
    shop = _shop()
    ledger = _ledger(pool, credits=1)
    commands = [order_command(shop, order_payload()) for _ in range(6)]
    outcomes = await asyncio.gather(*(ledger.reserve(c) for c in commands))
    free = [c for c, blocked in zip(commands, outcomes, strict=True) if blocked is None]
    assert len(free) == 1
    states = {b.state for b in outcomes if b is not None}
    assert states == {"subscription_needed"}
    reason = next(b for b in outcomes if b is not None).explanation
    assert reason.startswith("The 1 free sync is used;") and "0.15 USD" in reason
    # A create that fails for good releases its reservation: the credit is there again.
    await ledger.release(free[0])
    assert await ledger.reserve(commands[-1]) is None


async def test_only_a_new_invoice_or_order_for_an_order_is_billable() -> None:
    shop = _shop()
    command = order_command(shop, order_payload())
    assert billable_order(command) == command.source.id
    refund = command.model_copy(
        update={"source": SourceRef(type="refund", id="1", order_id=command.source.id)}
    )
    assert billable_order(refund) is None
    credit = command.model_copy(update={"target_document_key": command.document_key + ":x"})
    assert billable_order(credit) is None
    pay = FortnoxCommand.model_validate(
        {
            **command.model_dump(exclude={"document", "action"}),
            "action": "reverse_document",
            "target_document_key": command.document_key,
        }
    )
    assert billable_order(pay) is None
    long_key = "x" * 300
    assert len(idempotency_key(long_key)) <= 255
    assert idempotency_key(long_key) == idempotency_key(long_key)
    assert Decimal(Settings().billing_price) == Decimal("0.15")
    assert Settings().billing_trial_credits == 15 and Settings().billing_enabled


def test_the_free_syncs_are_counted_in_the_right_number() -> None:
    assert free_syncs_used(0) == "There are no free syncs"
    assert free_syncs_used(1) == "The 1 free sync is used"
    assert free_syncs_used(5) == "The 5 free syncs are used"
