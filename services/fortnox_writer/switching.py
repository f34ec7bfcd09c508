"""Completing a Fortnox connection: a first connection, a reconnection, or a company switch.

A shop is connected to one Fortnox company (tenant, ``DatabaseNumber``). Whatever the code was
consented for, the connection is written here, in one transaction under the shop's refresh lock
(so no token refresh runs in between):

- The shop is not connected, or connected to the same company: the tokens are stored
  (``connected`` / ``reconnected``).
- The shop is connected to another company and the caller did not ask to switch: refused
  (``company_mismatch``); the existing connection stays as it was.
- The flow started while the shop was connected to company A, and it is now connected to B (or
  to none, or A appeared meanwhile): refused (``company_changed``).
- A switch the caller asked for: the connection names the new company, and the switch is
  audited (who, when, from, to). The shop's set-aside work (waiting for a rate-limit slot,
  retrying, parked) is **held back**: parked with ``held_from_tenant`` = the old company, so it
  is not sent to the new company until the merchant releases it
  (``POST /admin/api/integrations/fortnox/connection/release.json``), discards it, or connects
  the old company again (then it resumes by itself). Commands published before the switch and
  still in the broker are held back the same way when they arrive (admission.py,
  ``SwitchedCompany``), and so is a command that was running in the old company at the moment of
  the switch and would go on in the new one (executor.py, ``company_switched``). The mirrors of
  Fortnox customer and article numbers are cleared (register_state.py, ``clear_mirrors``): they are
  the old company's numbers (and the mirrors are keyed by company, so none is reused anyway).

Documents made in the old company stay there: a credit, payment or update of one of them is
refused with an explanation (operations/base.py, ``Steps.same_company``,
``document_in_other_company``), never applied to an unrelated document of the new company.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp
import asyncpg

from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand
from libs.common.messaging import Publisher
from libs.common.settings import Settings
from services.fortnox_writer import results
from services.fortnox_writer.connections import ConnectionStore, Grant, exchange_code
from services.fortnox_writer.deferred import HELD_EXPLANATION
from services.fortnox_writer.ratelimit import RateLimiter
from services.fortnox_writer.register_state import clear_mirrors

log = get_logger(__name__)


class Unset(Enum):
    UNSET = "unset"


UNSET = Unset.UNSET


class ConnectRefused(Exception):
    """The connection was not written; ``code`` is short (the return URL's reason)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ConnectOutcome:
    action: str  # connected | reconnected | switched
    tenant_id: str
    company_name: str | None
    previous_tenant: str | None
    held: int  # commands held back by a switch


async def complete_connection(
    store: ConnectionStore,
    *,
    shop: str,
    grant: Grant,
    actor: str,
    switch_company: bool = False,
    expected_tenant: str | Unset | None = UNSET,
) -> ConnectOutcome:
    """Store the grant as the shop's connection, or raise ConnectRefused (nothing changed).

    ``expected_tenant``: the tenant the shop was connected to when the flow started (None: not
    connected); the connection must still be that.
    """
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"refresh:{shop}"
        )
        row = await conn.fetchrow(
            "SELECT tenant_id, company_name FROM fortnox_writer.connections"
            " WHERE shop = $1 FOR UPDATE",
            shop,
        )
        current: str | None = None if row is None else row["tenant_id"]
        current_name: str | None = None if row is None else row["company_name"]
        if expected_tenant is not UNSET and current != expected_tenant:
            raise ConnectRefused(
                "company_changed",
                "the shop's Fortnox connection changed while this connection was being made "
                f"(it was {_company(expected_tenant, None)}, it is now "
                f"{_company(current, current_name)}); nothing was changed, start again",
            )
        switching = current is not None and current != grant.tenant_id
        if switching and not switch_company:
            raise ConnectRefused(
                "company_mismatch",
                f"the shop is connected to another Fortnox company "
                f"({_company(current, current_name)}); you consented for "
                f"{_company(grant.tenant_id, grant.company_name)}. The connection was left as "
                "it was. To move the shop to the other company, start connecting again and ask "
                "to switch companies",
            )
        await store.save(
            shop, grant.tenant_id, grant.tokens, company_name=grant.company_name, conn=conn
        )
        held = 0
        if switching:
            held = await _hold_back(conn, shop, str(current))
        action = "switched" if switching else ("reconnected" if current else "connected")
        await conn.execute(
            """
            INSERT INTO fortnox_writer.connection_audit
                (shop, action, actor, from_tenant, to_tenant, from_company, to_company, commands)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            shop,
            action,
            actor,
            current,
            grant.tenant_id,
            current_name,
            grant.company_name,
            held,
        )
    log.info(
        "fortnox connection written",
        shop=shop,
        action=action,
        tenant=grant.tenant_id,
        previous_tenant=current,
        held=held,
        actor=actor,
    )
    return ConnectOutcome(action, grant.tenant_id, grant.company_name, current, held)


async def _hold_back(conn: asyncpg.Connection, shop: str, old_tenant: str) -> int:
    await conn.execute(
        """
        UPDATE fortnox_writer.connections
        SET switched_at = clock_timestamp(), switched_from_tenant = $2
        WHERE shop = $1
        """,
        shop,
        old_tenant,
    )
    status: str = await conn.execute(
        """
        UPDATE fortnox_writer.deferred_commands
        SET reason = 'parked', held_from_tenant = $2, last_error = $3,
            claimed_by = NULL, claimed_until = NULL
        WHERE shop = $1 AND held_from_tenant IS NULL
        """,
        shop,
        old_tenant,
        HELD_EXPLANATION,
    )
    # The old company's customer and article numbers mean nothing in the new one.
    await clear_mirrors(conn, shop)
    return int(status.split()[-1])


def _company(tenant: str | None, name: str | None) -> str:
    if tenant is None:
        return "not connected"
    return f"{name} (DatabaseNumber {tenant})" if name else f"DatabaseNumber {tenant}"


async def connect_with_code(
    store: ConnectionStore,
    http: aiohttp.ClientSession,
    settings: Settings,
    *,
    shop: str,
    code: str,
    redirect_uri: str,
    limiter: RateLimiter | None = None,
    switch_company: bool = False,
    actor: str = "operator",
) -> str:
    """Exchange a code and store the connection (CLI, tests); returns the tenant id.

    The same rule as the callback: a shop connected to another company is not switched unless
    ``switch_company`` (ConnectRefused otherwise).
    """
    grant = await exchange_code(
        store, http, settings, shop=shop, code=code, redirect_uri=redirect_uri, limiter=limiter
    )
    outcome = await complete_connection(
        store, shop=shop, grant=grant, actor=actor, switch_company=switch_company
    )
    return outcome.tenant_id


# --- the held-back work: listed, released to the new company, or discarded -------------------


async def held_commands(pool: asyncpg.Pool, shop: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """
        SELECT command_id, document_key, routing_key, held_from_tenant, created_at
        FROM fortnox_writer.deferred_commands
        WHERE shop = $1 AND held_from_tenant IS NOT NULL
        ORDER BY id LIMIT $2
        """,
        shop,
        limit,
    )
    return [
        {
            "command_id": row["command_id"],
            "document_key": row["document_key"],
            "action": row["routing_key"].rsplit(".", 1)[-1],
            "held_from_tenant": row["held_from_tenant"],
            "created_at": row["created_at"].isoformat(),
        }
        for row in rows
    ]


async def release_held(
    pool: asyncpg.Pool, shop: str, actor: str, command_ids: list[str] | None
) -> int:
    """Let held-back commands go to the company the shop is connected to now (the scheduler's
    sweep resumes them with the new tenant)."""
    async with pool.acquire() as conn, conn.transaction():
        status: str = await conn.execute(
            """
            UPDATE fortnox_writer.deferred_commands
            SET held_from_tenant = NULL, last_error = NULL
            WHERE shop = $1 AND held_from_tenant IS NOT NULL
              AND ($2::text[] IS NULL OR command_id = ANY($2))
            """,
            shop,
            command_ids,
        )
        count = int(status.split()[-1])
        if count:
            await _audit(conn, shop, "released", actor, count)
    return count


async def discard_held(
    pool: asyncpg.Pool,
    publisher: Publisher,
    shop: str,
    actor: str,
    command_ids: list[str] | None,
) -> int:
    """Never send held-back commands anywhere: each order's timeline gets a skipped result that
    says who discarded it (published before the row goes, so none is dropped silently)."""
    rows = await pool.fetch(
        """
        SELECT id, body FROM fortnox_writer.deferred_commands
        WHERE shop = $1 AND held_from_tenant IS NOT NULL
          AND ($2::text[] IS NULL OR command_id = ANY($2))
        ORDER BY id
        """,
        shop,
        command_ids,
    )
    for row in rows:
        command = FortnoxCommand.model_validate_json(bytes(row["body"]))
        explanation = (
            f"discarded by {actor} after the shop's Fortnox company was switched: this sync was "
            "made for the previous company and was not sent to the new one"
        )
        await publisher.publish(
            results.held(command, "skipped", explanation), "fortnox.result.skipped"
        )
    async with pool.acquire() as conn, conn.transaction():
        status: str = await conn.execute(
            "DELETE FROM fortnox_writer.deferred_commands"
            " WHERE id = ANY($1) AND held_from_tenant IS NOT NULL",
            [row["id"] for row in rows],
        )
        count = int(status.split()[-1])
        if count:
            await _audit(conn, shop, "discarded", actor, count)
    return count


async def announce_held(pool: asyncpg.Pool, publisher: Publisher, shop: str) -> None:
    """Show each held-back command on its order's timeline (parked, with the reason)."""
    rows = await pool.fetch(
        "SELECT body FROM fortnox_writer.deferred_commands"
        " WHERE shop = $1 AND held_from_tenant IS NOT NULL ORDER BY id",
        shop,
    )
    for row in rows:
        command = FortnoxCommand.model_validate_json(bytes(row["body"]))
        try:
            await publisher.publish(
                results.held(command, "parked", HELD_EXPLANATION), "fortnox.result.parked"
            )
        except Exception as exc:  # the command stays held all the same
            log.warning("could not publish held result", shop=shop, error=type(exc).__name__)


async def _audit(conn: asyncpg.Connection, shop: str, action: str, actor: str, count: int) -> None:
    await conn.execute(
        """
        INSERT INTO fortnox_writer.connection_audit
            (shop, action, actor, to_tenant, to_company, commands)
        SELECT $1, $2, $3, c.tenant_id, c.company_name, $4
        FROM (SELECT 1) one
        LEFT JOIN fortnox_writer.connections c ON c.shop = $1
        """,
        shop,
        action,
        actor,
        count,
    )


async def audit_log(pool: asyncpg.Pool, shop: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM fortnox_writer.connection_audit WHERE shop = $1 ORDER BY id DESC LIMIT $2",
        shop,
        limit,
    )
    return [
        {
            "action": row["action"],
            "actor": row["actor"],
            "from_tenant": row["from_tenant"],
            "to_tenant": row["to_tenant"],
            "from_company": row["from_company"],
            "to_company": row["to_company"],
            "commands": row["commands"],
            "at": row["at"].isoformat(),
        }
        for row in rows
    ]
