"""set_stock and read_stock: the Fortnox side of the inventory sync (docs/accounting.md).

``set_stock`` (Shopify is the source): each article's ``QuantityInStock`` is set with one
``PUT /3/articles/{n}`` (``StockGoods`` on), each call rate limited like every other. An article
Fortnox does not have is left out, named in the result's explanation and returned in its
``stock`` (the levels not written). The command's key names
the quantities, so the ledger runs each once.

``read_stock`` (Fortnox is the source): ``GET /3/articles?lastmodified=...`` in pages of 500;
the result carries every listed article with its ``QuantityInStock`` for ingest to set in
Shopify. Nothing is written, so no ledger row.

The warehouse module (Fortnox Lager): a company that uses it keeps stock per stock point and
changes it only through warehouse documents; ``QuantityInStock`` is not writable there. The
writer detects it by reading ``/api/warehouse/stockpoints-v1`` when the connection holds the
``warehouse`` scope (a list: active; an error: not), and otherwise by Fortnox refusing the
stock write with a message about the warehouse ("lager": Fortnox documents no code for it); it
remembers the answer per company for ``WAREHOUSE_TTL`` seconds. With the module, ``set_stock``
writes nothing and answers ``skipped`` with the reason (listed by the inventory status);
``read_stock`` still reads ``QuantityInStock`` (the company's total over its stock
points).
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.common.errors import NeedsReconnection
from libs.common.fortnox_errors import is_warehouse_refusal
from libs.common.messages import StockLevel
from libs.common.metrics import (
    INVENTORY_LEVELS_FAILED,
    INVENTORY_LEVELS_PUSHED,
    INVENTORY_LEVELS_READ,
)
from services.fortnox_writer.article_register import ARTICLE_NOT_FOUND
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.operations.base import Outcome, Run, Steps, recorded

WAREHOUSE_TTL = 600.0
TOKEN_REFUSED = frozenset({"unauthorized", "2000310", "2000311"})
PAGE_SIZE = 500
MAX_PAGES = 200  # 100,000 articles per read
TO_FORTNOX, TO_SHOPIFY = "to_fortnox", "to_shopify"  # the metrics' directions
WAREHOUSE_EXPLANATION = (
    "the Fortnox company uses the warehouse module (Lager): its stock changes only through "
    "warehouse documents (deliveries, stock taking) per stock point, so Fortbridge does not "
    "write QuantityInStock. Record the change in Fortnox Lager, or use Fortnox as the stock "
    "source so Shopify follows Fortnox."
)


class WarehouseProbe:
    """Whether a company uses the warehouse module, remembered per company for a while."""

    def __init__(self, connections: ConnectionStore) -> None:
        self._connections = connections
        self._known: dict[str, tuple[bool, float]] = {}

    def remember(self, tenant_id: str, active: bool) -> bool:
        self._known[tenant_id] = (active, time.monotonic())
        return active

    async def active(self, shop: str, client: FortnoxClient) -> bool:
        known = self._known.get(client.tenant_id)
        if known is not None and time.monotonic() - known[1] < WAREHOUSE_TTL:
            return known[0]
        row = await self._connections.status(shop)
        scopes = str(row["scopes"] or "").replace(",", " ").split() if row else []
        if "warehouse" not in scopes:
            return self.remember(client.tenant_id, False)  # the stock write will tell
        try:
            await client.request("GET", "/api/warehouse/stockpoints-v1")
        except (FortnoxApiError, NeedsReconnection) as exc:
            if isinstance(exc, NeedsReconnection) and exc.code in TOKEN_REFUSED:
                raise  # the connection itself is refused: park, as any call would
            # No module (or no licence for it): an answer about the module, never a reason to
            # park the shop.
            return self.remember(client.tenant_id, False)
        return self.remember(client.tenant_id, True)


class SetStock:
    def __init__(self, steps: Steps, probe: WarehouseProbe) -> None:
        self._steps = steps
        self._probe = probe

    async def run(self, run: Run) -> Outcome:
        ledger, command = self._steps.ledger, run.command
        record = await ledger.open(command, kind="stock")
        if record.made:
            return Outcome("already_synced", "stock", recorded(record))
        client = await run.session.client()
        if await self._probe.active(command.shop, client):
            INVENTORY_LEVELS_FAILED.labels(direction=TO_FORTNOX).inc(len(command.stock))
            return await self._warehouse(run, client)
        await ledger.count_attempt(run.key)
        written: list[str] = []
        missing: list[StockLevel] = []
        for level in command.stock:
            body = {"Article": {"StockGoods": True, "QuantityInStock": level.quantity}}
            try:
                await client.request(
                    "PUT", f"/3/articles/{path_segment(level.article_number)}", body=body
                )
            except FortnoxApiError as exc:
                if exc.code == ARTICLE_NOT_FOUND:
                    missing.append(level)
                    continue
                if is_warehouse_refusal(exc.code, exc.source_message):
                    self._probe.remember(client.tenant_id, True)
                    unwritten = len(command.stock) - len(written)
                    INVENTORY_LEVELS_PUSHED.labels(direction=TO_FORTNOX).inc(len(written))
                    INVENTORY_LEVELS_FAILED.labels(direction=TO_FORTNOX).inc(unwritten)
                    return await self._warehouse(run, client)
                raise
            written.append(level.article_number)
        made = CreatedDocument(_numbers(written) or "none", None)
        await ledger.mark_done(run.key, made, "synced", made_in=client.tenant_id, finished=True)
        INVENTORY_LEVELS_PUSHED.labels(direction=TO_FORTNOX).inc(len(written))
        INVENTORY_LEVELS_FAILED.labels(direction=TO_FORTNOX).inc(len(missing))
        numbers = ", ".join(level.article_number for level in missing)
        explanation = f"Fortnox has no article {numbers}: sync the products" if missing else None
        return Outcome(
            "synced" if written else "skipped",
            "stock",
            made,
            explanation=explanation,
            stock=tuple(missing),  # set_stock: the levels NOT written
            warehouse_module=False,
        )

    async def _warehouse(self, run: Run, client: FortnoxClient) -> Outcome:
        made = CreatedDocument("none", None)
        await self._steps.ledger.mark_done(
            run.key, made, "skipped", made_in=client.tenant_id, finished=True
        )
        return Outcome(
            "skipped", "stock", made, explanation=WAREHOUSE_EXPLANATION, warehouse_module=True
        )


class ReadStock:
    def __init__(self, probe: WarehouseProbe) -> None:
        self._probe = probe

    async def run(self, run: Run) -> Outcome:
        command = run.command
        client = await run.session.client()
        warehouse = await self._probe.active(command.shop, client)
        levels: list[StockLevel] = []
        page = 1
        while page <= MAX_PAGES:
            params = {"limit": str(PAGE_SIZE), "page": str(page)}
            if command.stock_since:
                params["lastmodified"] = command.stock_since
            payload = await client.request("GET", "/3/articles", params=params)
            levels += [level for row in payload.get("Articles") or [] if (level := _level(row))]
            meta = payload.get("MetaInformation") or {}
            if page >= int(meta.get("@TotalPages") or 0):
                break
            page += 1
        made = CreatedDocument(f"{len(levels)} articles", None)
        INVENTORY_LEVELS_READ.labels(direction=TO_SHOPIFY).inc(len(levels))
        return Outcome("synced", "stock", made, stock=tuple(levels), warehouse_module=warehouse)


def _level(row: Any) -> StockLevel | None:
    if not isinstance(row, dict) or not row.get("ArticleNumber"):
        return None
    try:
        quantity = Decimal(str(row.get("QuantityInStock") or 0))
    except InvalidOperation:
        return None
    return StockLevel(article_number=str(row["ArticleNumber"]), quantity=quantity)


def _numbers(numbers: list[str]) -> str:
    text = ", ".join(numbers)
    return text if len(text) <= 200 else f"{len(numbers)} articles"


class StockOperations:
    """Both stock actions, sharing what they learnt about the warehouse module."""

    def __init__(self, steps: Steps, connections: ConnectionStore) -> None:
        probe = WarehouseProbe(connections)
        self.set_stock = SetStock(steps, probe)
        self.read_stock = ReadStock(probe)
