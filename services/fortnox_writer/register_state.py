"""What the writer's register mirrors share: when each shop's mirror was last read and of
which Fortnox company, paged list reads, the leases' waits, and clearing a shop's mirrors.

The customer register is customer_register.py, the article register article_register.py.

Companies. Every mirrored row (and every create intent) is keyed by the Fortnox company
(tenant) it was read from or made in, and only the connected company's rows are ever matched:
after a company switch (switching.py, which also clears the shop's mirrors) no number of the
previous company is reused, even one a command still running in that company writes late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.fortnox_writer.client import FortnoxClient

PAGE_LIMIT = 500
REGISTER_LEASE_WAIT = 120.0
CREATE_LEASE_WAIT = 60.0


@dataclass(frozen=True)
class RegisterState:
    tenant_id: str
    current_at: datetime  # holds every change Fortnox had at this time (DB clock)


async def list_all(
    client: FortnoxClient, path: str, envelope: str, params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every row of a Fortnox list, 500 per call."""
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        listing = await client.request(
            "GET", path, params={**(params or {}), "limit": str(PAGE_LIMIT), "page": str(page)}
        )
        rows += listing.get(envelope, [])
        meta = listing.get("MetaInformation") or {}
        pages = int(meta.get("@TotalPages") or 1)
        page += 1
    return rows


class RegisterStates:
    """When each shop's mirrors were last read, and of which tenant."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, shop: str, register: str) -> RegisterState | None:
        row = await self._pool.fetchrow(
            "SELECT tenant_id, current_at FROM fortnox_writer.registers"
            " WHERE shop = $1 AND register = $2",
            shop,
            register,
        )
        return None if row is None else RegisterState(row["tenant_id"], row["current_at"])

    async def now(self) -> datetime:
        value: datetime = await self._pool.fetchval("SELECT clock_timestamp()")
        return value

    async def set(self, shop: str, register: str, tenant_id: str, current_at: datetime) -> None:
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.registers (shop, register, tenant_id, current_at)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (shop, register) DO UPDATE SET tenant_id = EXCLUDED.tenant_id,
                current_at = GREATEST(
                    CASE WHEN registers.tenant_id = EXCLUDED.tenant_id
                         THEN registers.current_at END, EXCLUDED.current_at),
                loaded_at = now()
            """,
            shop,
            register,
            tenant_id,
            current_at,
        )


def covers(state: RegisterState | None, tenant_id: str, since: datetime) -> bool:
    return state is not None and state.tenant_id == tenant_id and state.current_at >= since


MIRROR_TABLES = ("customer_register", "articles", "register_creations", "registers")


async def clear_mirrors(conn: asyncpg.Connection, shop: str) -> None:
    """Forget everything mirrored for the shop (a company switch: the numbers were the previous
    company's); the next order reads the connected company's registers afresh."""
    for table in MIRROR_TABLES:
        await conn.execute(f"DELETE FROM fortnox_writer.{table} WHERE shop = $1", shop)
