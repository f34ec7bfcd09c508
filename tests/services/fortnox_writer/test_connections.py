"""Fortnox connections: encrypted at rest, refresh tokens spent once across concurrent callers."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import asyncpg
import pytest

from fortbridge.localstack import migrate_all
from libs.common.crypto import TokenCipher
from libs.common.errors import NeedsReconnection
from libs.common.settings import Settings
from services.fortnox_writer.connections import ConnectionStore
from simulators.fortnox import FortnoxSimulator


async def test_concurrent_refreshes_spend_the_refresh_token_once(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await migrate_all(database_url)
    sim = FortnoxSimulator()
    sim.add_client(client_id="cid", client_secret="secret")
    tenant = str(2_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(tenant_id=tenant)
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    key = TokenCipher.generate_key()
    async with sim.serve(host="127.0.0.1", port=0) as url, aiohttp.ClientSession() as http:
        settings = Settings(
            fortnox_auth_url=url,
            fortnox_api_url=url,
            fortnox_client_id="cid",
            fortnox_client_secret="secret",
            token_encryption_keys=key,
        )
        # Two "replicas": separate stores over the same table.
        stores = [ConnectionStore(pool, TokenCipher(key), http, settings) for _ in range(2)]
        tokens = sim.issue_tokens("cid", tenant)
        await stores[0].save(shop, tenant, tokens)
        stored = await pool.fetchval(
            "SELECT access_token FROM fortnox_writer.connections WHERE shop = $1", shop
        )
        assert tokens["access_token"].encode() not in bytes(stored)

        # Ten requests of two replicas saw Fortnox refuse the same token.
        refused = tokens["access_token"]
        results = await asyncio.gather(
            *(stores[i % 2].get(shop, refused_token=refused) for i in range(10))
        )
        assert sim.refresh_count == 1
        assert sim.refresh_reuse_count == 0
        assert len({r.access_token for r in results}) == 1
        assert results[0].access_token != refused
        # One that comes after the refresh takes the new token: no second refresh.
        late = await stores[1].get(shop, refused_token=refused)
        assert (late.access_token, sim.refresh_count) == (results[0].access_token, 1)
        # Fortnox refusing the new token too is a new refusal: refreshed (positive control).
        again = await stores[0].get(shop, refused_token=late.access_token)
        assert sim.refresh_count == 2
        assert again.access_token not in (refused, late.access_token)


async def test_refused_refresh_marks_the_connection_for_reconnection(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await migrate_all(database_url)
    sim = FortnoxSimulator()
    sim.add_client(client_id="cid", client_secret="secret")
    tenant = str(3_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(tenant_id=tenant)
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    key = TokenCipher.generate_key()
    async with sim.serve(host="127.0.0.1", port=0) as url, aiohttp.ClientSession() as http:
        settings = Settings(
            fortnox_auth_url=url,
            fortnox_client_id="cid",
            fortnox_client_secret="secret",
            token_encryption_keys=key,
        )
        store = ConnectionStore(pool, TokenCipher(key), http, settings)
        await store.save(shop, tenant, sim.issue_tokens("cid", tenant))
        sim.revoke(tenant)
        with pytest.raises(NeedsReconnection):
            await store.get(shop, force_refresh=True)
    row = await pool.fetchrow(
        "SELECT status, status_reason FROM fortnox_writer.connections WHERE shop = $1", shop
    )
    assert row["status"] == "needs_reconnection"
    assert "refresh token" in row["status_reason"]


async def test_a_token_no_configured_key_decrypts_needs_reconnection(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await migrate_all(database_url)
    sim = FortnoxSimulator()
    sim.add_client(client_id="cid", client_secret="secret")
    tenant = str(4_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(tenant_id=tenant)
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    async with aiohttp.ClientSession() as http:
        settings = Settings(token_encryption_keys=old)
        await ConnectionStore(pool, TokenCipher(old), http, settings).save(
            shop, tenant, sim.issue_tokens("cid", tenant)
        )
        # The key was dropped from TOKEN_ENCRYPTION_KEYS: the shop's commands park, not crash.
        store = ConnectionStore(pool, TokenCipher(new), http, settings)
        with pytest.raises(NeedsReconnection) as raised:
            await store.get(shop)
    assert raised.value.code == "token_undecryptable"
    assert raised.value.explanation and "TOKEN_ENCRYPTION_KEYS" in raised.value.explanation
