"""``FortnoxSimulator``: the in-process Python API of the simulated Fortnox API v3.

Typical test use::

    sim = FortnoxSimulator()
    sim.add_client(client_id="cid", client_secret="secret")
    sim.add_tenant(tenant_id="1234567", company_name="Demo AB")
    tokens = sim.issue_tokens("cid", "1234567")
    async with sim.serve() as base_url:          # "http://127.0.0.1:<port>"
        ...                                      # talk HTTP to base_url
    sim.tenant("1234567").invoices[1].total      # inspect state directly

Everything runs on the event loop thread; handlers validate fully before mutating state, so a
request either commits completely or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox._state import (
    ALL_SCOPES,
    DEFAULT_CURRENCIES,
    DEFAULT_VAT_RATES,
    Client,
    RequestRecord,
    Tenant,
)
from simulators.fortnox.faults import FaultPlan
from simulators.fortnox.ratelimit import SlidingWindowLimiter
from simulators.fortnox.tokens import TokenStore
from simulators.fortnox.totals import VAT_ROUNDINGS, VatRounding

DAY = 86400.0


class FortnoxSimulator:
    def __init__(
        self,
        access_token_ttl: float = 3600.0,
        rate_limit: int | None = 25,
        rate_window: float = 5.0,
        *,
        refresh_token_ttl: float = 45 * DAY,
        code_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        vat_rounding: VatRounding = "per_rate",
        jitter: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        # Tenants added later round VAT this way (totals.py); each tenant can change it.
        self.vat_rounding: VatRounding = vat_rounding
        # Network jitter: every request waits a random 0..jitter s on its way in, before it
        # arrives (is recorded and rate limited), like delay on a real network (reorders too).
        self.jitter = jitter
        self._random = random.Random(seed)
        self.clients: dict[str, Client] = {}
        self.tenants: dict[str, Tenant] = {}
        self.tokens = TokenStore(
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            code_ttl=code_ttl,
            clock=clock,
        )
        self.limiter = SlidingWindowLimiter(rate_limit, rate_window, clock)
        self.faults = FaultPlan()
        self.requests: list[RequestRecord] = []
        self.count_429 = 0
        self.default_tenant_for_consent: str | None = None
        self.deny_consent = False
        self._stopping: asyncio.Event | None = None

    # --- configuration ---------------------------------------------------------------------
    def add_client(
        self,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str] | None = None,
        redirect_uris: Iterable[str] | None = None,
    ) -> Client:
        scope_set = frozenset(scopes) if scopes is not None else ALL_SCOPES
        _check_scopes(scope_set)
        client = Client(client_id, client_secret, scope_set, frozenset(redirect_uris or ()))
        self.clients[client_id] = client
        return client

    def add_tenant(
        self,
        tenant_id: str,
        company_name: str = "Demo AB",
        vat_rates: Iterable[Decimal | int | str] | None = None,
        currencies: Iterable[str] | None = None,
        scopes: Iterable[str] | None = None,
        *,
        organization_number: str | None = None,
        round_to_whole_sek: bool = False,
        vat_rounding: VatRounding | None = None,
    ) -> Tenant:
        """Add a company. ``scopes`` are the scopes the tenant holds a licence for."""
        if not tenant_id.isdigit():
            raise ValueError("tenant_id must be digits (it is Fortnox's DatabaseNumber)")
        licences = set(scopes) if scopes is not None else set(ALL_SCOPES)
        _check_scopes(licences)
        tenant = Tenant(
            tenant_id=tenant_id,
            company_name=company_name,
            organization_number=organization_number or f"556{int(tenant_id) % 10**7:07d}",
            vat_rates=_rates(vat_rates) if vat_rates is not None else set(DEFAULT_VAT_RATES),
            currencies={c.upper() for c in (currencies or DEFAULT_CURRENCIES)},
            licences=licences,
            round_to_whole_sek=round_to_whole_sek,
            vat_rounding=check_vat_rounding(vat_rounding or self.vat_rounding),
        )
        self.tenants[tenant_id] = tenant
        return tenant

    def tenant(self, tenant_id: str) -> Tenant:
        return self.tenants[tenant_id]

    def set_vat_rates(self, tenant_id: str, rates: Iterable[Decimal | int | str]) -> None:
        self.tenant(tenant_id).vat_rates = _rates(rates)

    def set_daily_rate(self, tenant_id: str, currency: str, day: str, rate: Decimal) -> None:
        """The automatic rate of ``currency`` for documents dated ``day`` (YYYY-MM-DD)."""
        tenant = self.tenant(tenant_id)
        code = currency.upper()
        if code not in tenant.currencies or code == "SEK":
            raise ValueError(f"unknown or base currency {currency!r}")
        if rate <= 0:
            raise ValueError("rate must be positive")
        tenant.daily_rates[(code, date.fromisoformat(day).isoformat())] = rate

    def set_licence(self, tenant_id: str, scope: str, enabled: bool) -> None:
        _check_scopes({scope})
        licences = self.tenant(tenant_id).licences
        if enabled:
            licences.add(scope)
        else:
            licences.discard(scope)

    # --- tokens ----------------------------------------------------------------------------
    def issue_tokens(
        self, client_id: str, tenant_id: str, scopes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Tokens as if the merchant had consented: the /oauth-v1/token response body."""
        client = self.clients[client_id]
        self.tenant(tenant_id)
        scope_set = frozenset(scopes) if scopes is not None else client.scopes
        _check_scopes(scope_set)
        return self.tokens.issue(client_id, tenant_id, scope_set).response()

    def issue_authorization_code(
        self,
        client_id: str,
        tenant_id: str,
        redirect_uri: str,
        scopes: Iterable[str] | None = None,
    ) -> str:
        client = self.clients[client_id]
        self.tenant(tenant_id)
        scope_set = frozenset(scopes) if scopes is not None else client.scopes
        _check_scopes(scope_set)
        return self.tokens.new_code(client_id, tenant_id, redirect_uri, scope_set)

    @property
    def refresh_count(self) -> int:
        return self.tokens.refresh_count

    @property
    def refresh_reuse_count(self) -> int:
        return self.tokens.refresh_reuse_count

    def expire_access_tokens(self, tenant_id: str | None = None) -> int:
        """Expire current access tokens (refresh tokens stay valid); returns how many."""
        return self.tokens.expire_access(tenant_id)

    def revoke(self, tenant_id: str, client_id: str | None = None) -> int:
        """Revoke every access and refresh token of the tenant (optionally one client)."""
        return self.tokens.revoke_connection(client_id, tenant_id)

    # --- observation -----------------------------------------------------------------------
    def requests_for(
        self, tenant_id: str | None = None, since: float | None = None
    ) -> list[RequestRecord]:
        return [
            r
            for r in self.requests
            if (tenant_id is None or r.tenant_id == tenant_id)
            and (since is None or r.time >= since)
        ]

    # --- serving ---------------------------------------------------------------------------
    def jitter_delay(self) -> float:
        """This request's network delay (0 without jitter)."""
        return self._random.uniform(0.0, self.jitter) if self.jitter > 0 else 0.0

    async def pause(self, seconds: float) -> bool:
        """Sleep; False if the simulator began stopping meanwhile (faults then give up)."""
        stopping = self._stopping
        if stopping is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve over HTTP on ``host:port`` (0: a free port); yields the base URL."""
        from simulators.fortnox.app import create_app

        self._stopping = asyncio.Event()
        runner = web.AppRunner(create_app(self), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_port = runner.addresses[0][1]
            yield f"http://{host}:{bound_port}"
        finally:
            self._stopping.set()
            await runner.cleanup()
            self._stopping = None


def check_vat_rounding(value: str) -> VatRounding:
    if value == "per_rate":
        return "per_rate"
    if value == "per_row":
        return "per_row"
    raise ValueError(f"vat_rounding must be one of {list(VAT_ROUNDINGS)}, not {value!r}")


def _rates(rates: Iterable[Decimal | int | str]) -> set[Decimal]:
    return {Decimal(str(rate)) for rate in rates}


def _check_scopes(scopes: Iterable[str]) -> None:
    unknown = set(scopes) - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
