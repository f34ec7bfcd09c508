"""Run the pre-flight check of one shop, and the sweep that runs the checks that are due.

One run: claim the shop (``store.claim``), read what the shop needs (the mapper's
``services.mapper.needs``, read-only over the shared database), read what its Fortnox has
(``fortnox_setup``, through the writer's rate-limited client in the company the shop is connected
to), compare (``findings``), store. A shop that is not connected gets one finding saying so and
no Fortnox call. The check never blocks or changes an order's sync.

When it runs: at connect (the OAuth callback marks the shop due; a connected shop never checked,
connected by any path, is due too), daily
(``PREFLIGHT_INTERVAL_SECONDS``), on demand (``POST .../preflight.json``, ``fortbridge
preflight``). The sweep (every ``PREFLIGHT_SWEEP_SECONDS`` on every writer replica) runs what
is due; the claim keeps replicas from running a shop twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from libs.common.errors import HandlerError, NeedsReconnection
from libs.common.logs import get_logger
from libs.common.settings import Settings
from services.fortnox_writer.client import IN_PROCESS_READ_ATTEMPTS, FortnoxClient
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.preflight.findings import (
    Finding,
    findings_for,
    probes,
    status_of,
)
from services.fortnox_writer.preflight.fortnox_setup import read_setup
from services.fortnox_writer.preflight.store import PreflightStore, StoredResult
from services.fortnox_writer.ratelimit import RateLimiter
from services.mapper.needs import shop_needs

log = get_logger(__name__)

NOT_CONNECTED = Finding(
    "fortnox-not-connected",
    "error",
    "Fortnox is not connected",
    "Fortbridge cannot check your Fortnox setup, or sync anything, until Fortnox is connected. "
    "Syncs wait (they are kept) until it is.",
    "Connect Fortnox from the Get started page.",
)


@dataclass(frozen=True)
class RunResult:
    ran: bool  # False: another run was in progress
    result: StoredResult | None
    calls: int = 0


class PreflightCheck:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        http: aiohttp.ClientSession,
        settings: Settings,
        connections: ConnectionStore,
        limiter: RateLimiter,
    ) -> None:
        self._pool = pool
        self._http = http
        self._settings = settings
        self._connections = connections
        self._limiter = limiter
        self.store = PreflightStore(pool)

    async def client(self, shop: str) -> FortnoxClient:
        """A client of the company the shop is connected to (NeedsReconnection if none)."""
        current = await self._connections.get(shop)
        tenant_id = current.tenant_id

        async def token(refused: str | None) -> str:
            connection = await self._connections.get(shop, refused_token=refused)
            if connection.tenant_id != tenant_id:
                raise NeedsReconnection("the shop switched Fortnox company during the check")
            return connection.access_token

        return FortnoxClient(
            http=self._http,
            base_url=self._settings.fortnox_api_url,
            tenant_id=tenant_id,
            token=token,
            limiter=self._limiter,
            timeout=self._settings.fortnox_timeout_seconds,
            read_attempts=IN_PROCESS_READ_ATTEMPTS,
        )

    async def run(self, shop: str) -> RunResult:
        if not await self.store.claim(shop):
            return RunResult(False, await self.store.get(shop))
        calls = 0
        try:
            status_row = await self._connections.status(shop)
            if status_row is None or status_row["status"] != "connected":
                findings = [NOT_CONNECTED.to_json()]
                await self.store.finish(shop, status="problems", findings=findings, tenant_id=None)
            else:
                defaults = {"guest_customer_name": self._settings.default_guest_customer_name}
                needs = await shop_needs(self._pool, shop, defaults)
                scopes = str(status_row["scopes"] or "").split()
                client = await self.client(shop)
                setup = await read_setup(client, probes(needs, scopes))
                calls = setup.calls
                found = findings_for(needs, setup, scopes)
                await self.store.finish(
                    shop,
                    status=status_of(found),
                    findings=[f.to_json() for f in found],
                    tenant_id=client.tenant_id,
                )
        except NeedsReconnection:
            findings = [NOT_CONNECTED.to_json()]
            await self.store.finish(shop, status="problems", findings=findings, tenant_id=None)
        except HandlerError as exc:  # Fortnox unreachable, 5xx, 429: keep the last findings
            log.warning("pre-flight check could not finish", shop=shop, error=exc.message)
            await self.store.finish(
                shop, status="", findings=[], tenant_id=None, error=exc.explanation or exc.message
            )
        except BaseException:
            await self.store.release(shop)
            raise
        return RunResult(True, await self.store.get(shop), calls)

    async def sweep(self) -> int:
        """Run every check that is due; how many ran."""
        ran = 0
        for shop in await self.store.due(self._settings.preflight_interval_seconds):
            outcome = await self.run(shop)
            ran += outcome.ran
        return ran

    async def run_forever(self) -> None:
        interval = self._settings.preflight_sweep_seconds
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("pre-flight sweep failed; next round retries", error=str(exc))


def result_json(result: StoredResult | None) -> dict[str, Any]:
    """The endpoint's ``preflight`` object; a shop never checked has status ``pending``."""
    if result is None:
        return {"status": "pending", "checked_at": None, "findings": [], "error": None}
    return result.to_json()
