"""The stored, single-use steps of connecting Fortnox: the launch ticket and the state's nonce.

1. ``POST /auth/fortnox/start.json`` (an authenticated caller) -> :meth:`ConnectFlow.issue_ticket`:
   a random ticket, stored as its SHA-256 with the shop, who asked, the features, whether a
   company switch is allowed and the tenant the shop is connected to now; it expires after
   ``FORTNOX_CONNECT_TICKET_TTL_SECONDS``.
2. ``GET /auth/fortnox/launch?ticket=`` (the browser, top level) -> :meth:`redeem_ticket` marks
   it used (once, atomically) and :meth:`open_state` stores a nonce (SHA-256) with the same
   facts, expiring after ``FORTNOX_STATE_TTL_SECONDS``.
3. ``GET /auth/fortnox/callback`` -> :meth:`consume_state` marks the nonce used (once,
   atomically): a second callback with the same state is refused.

Neither the ticket nor the nonce is stored in clear, logged or put on a span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.fortnox_writer.oauth import digest, new_secret

# Used and expired tickets and states are deleted this long after they expired (they are kept a
# while so a second use is told "already used" rather than "unknown").
KEEP_SECONDS = 3600


class FlowRefused(Exception):
    """A ticket or a state that cannot be used; ``code`` is short, the message plain English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Attempt:
    """What a ticket or a nonce stands for."""

    shop: str
    principal: str
    features: tuple[str, ...]
    switch_company: bool
    current_tenant: str | None


class ConnectFlow:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue_ticket(
        self,
        *,
        shop: str,
        principal: str,
        features: Sequence[str],
        switch_company: bool,
        ttl: float,
    ) -> str:
        ticket = new_secret()
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.connect_tickets
                (ticket_hash, shop, principal, features, switch_company, current_tenant,
                 expires_at)
            VALUES ($1, $2, $3, $4, $5,
                    (SELECT tenant_id FROM fortnox_writer.connections WHERE shop = $2),
                    clock_timestamp() + make_interval(secs => $6))
            """,
            digest(ticket),
            shop,
            principal,
            list(features),
            switch_company,
            ttl,
        )
        await self._prune()
        return ticket

    async def redeem_ticket(self, ticket: str) -> Attempt:
        """The ticket's attempt, marked used; FlowRefused if unknown, used or expired."""
        if not ticket:
            raise FlowRefused("no_ticket", "the link has no ticket; start connecting again")
        row = await self._pool.fetchrow(
            """
            UPDATE fortnox_writer.connect_tickets
            SET used_at = clock_timestamp()
            WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > clock_timestamp()
            RETURNING *
            """,
            digest(ticket),
        )
        if row is None:
            raise await self._refusal("connect_tickets", "ticket_hash", ticket, "link")
        return _attempt(row)

    async def open_state(self, attempt: Attempt, ttl: float) -> str:
        """A new nonce for the attempt (returned in clear once, to go in the state)."""
        nonce = new_secret()
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.oauth_states
                (nonce_hash, shop, principal, features, switch_company, current_tenant,
                 expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp() + make_interval(secs => $7))
            """,
            digest(nonce),
            attempt.shop,
            attempt.principal,
            list(attempt.features),
            attempt.switch_company,
            attempt.current_tenant,
            ttl,
        )
        return nonce

    async def consume_state(self, nonce: str, shop: str) -> Attempt:
        """The nonce's attempt, marked used (once); FlowRefused if unknown, used or expired."""
        row = await self._pool.fetchrow(
            """
            UPDATE fortnox_writer.oauth_states
            SET used_at = clock_timestamp()
            WHERE nonce_hash = $1 AND shop = $2 AND used_at IS NULL
              AND expires_at > clock_timestamp()
            RETURNING *
            """,
            digest(nonce),
            shop,
        )
        if row is None:
            raise await self._refusal("oauth_states", "nonce_hash", nonce, "connection attempt")
        return _attempt(row)

    async def _refusal(self, table: str, column: str, secret: str, what: str) -> FlowRefused:
        row = await self._pool.fetchrow(
            f"SELECT used_at, expires_at < clock_timestamp() AS expired"
            f" FROM fortnox_writer.{table} WHERE {column} = $1",
            digest(secret),
        )
        if row is None:
            return FlowRefused("unknown", f"this {what} is not one Fortbridge issued")
        if row["used_at"] is not None:
            return FlowRefused("used", f"this {what} was already used; start connecting again")
        return FlowRefused("expired", f"this {what} expired; start connecting again")

    async def _prune(self) -> None:
        for table in ("connect_tickets", "oauth_states"):
            await self._pool.execute(
                f"DELETE FROM fortnox_writer.{table}"
                " WHERE expires_at < clock_timestamp() - make_interval(secs => $1)",
                KEEP_SECONDS,
            )


def _attempt(row: asyncpg.Record) -> Attempt:
    return Attempt(
        shop=row["shop"],
        principal=row["principal"],
        features=tuple(row["features"]),
        switch_company=row["switch_company"],
        current_tenant=row["current_tenant"],
    )
