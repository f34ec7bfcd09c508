"""The token refresh margin is capped at a share of the token's lifetime."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from fortbridge.localstack import migrate_all
from libs.common.crypto import TokenCipher
from libs.common.settings import Settings
from services.fortnox_writer.connections import ConnectionStore, refresh_margin
from simulators.fortnox import FortnoxSimulator

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_margin_is_the_setting_or_a_quarter_of_the_lifetime() -> None:
    two_minutes = timedelta(seconds=120)
    assert refresh_margin(two_minutes, T0, T0 + timedelta(hours=1)) == two_minutes
    assert refresh_margin(two_minutes, T0, T0 + timedelta(seconds=20)) == timedelta(seconds=5)
    assert refresh_margin(two_minutes, None, T0) == two_minutes


async def test_twenty_second_tokens_are_not_refreshed_before_every_request(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await migrate_all(database_url)
    sim = FortnoxSimulator(access_token_ttl=20.0)
    sim.add_client(client_id="cid", client_secret="secret")
    tenant = str(4_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(tenant_id=tenant)
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    key = TokenCipher.generate_key()
    async with sim.serve() as url, aiohttp.ClientSession() as http:
        settings = Settings(
            fortnox_auth_url=url,
            fortnox_api_url=url,
            fortnox_client_id="cid",
            fortnox_client_secret="secret",
            token_encryption_keys=key,
            fortnox_refresh_margin_seconds=120,
        )
        store = ConnectionStore(pool, TokenCipher(key), http, settings)
        await store.save(shop, tenant, sim.issue_tokens("cid", tenant))
        tokens = {(await store.get(shop)).access_token for _ in range(30)}
    assert sim.refresh_count == 0  # a fresh 20 s token is good for 15 s more
    assert len(tokens) == 1
