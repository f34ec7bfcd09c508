"""Rotating TOKEN_ENCRYPTION_KEYS: old-key tokens still decrypt, then are rewritten."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import asyncpg
import pytest
from cryptography.fernet import Fernet, InvalidToken

from fortbridge import cli
from fortbridge.localstack import migrate_all
from libs.common.crypto import TokenCipher
from libs.common.settings import Settings, get_settings
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.keyrotation import rotate_tokens


async def test_old_key_tokens_decrypt_and_are_rewritten_with_the_new_key(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await migrate_all(database_url)
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    tokens = {"access_token": f"access-{uuid.uuid4().hex}", "refresh_token": "refresh-1"}
    async with aiohttp.ClientSession() as http:
        old_store = ConnectionStore(
            pool, TokenCipher(old_key), http, Settings(token_encryption_keys=old_key)
        )
        await old_store.save(shop, "123", tokens)
        # Rotation step 1: the new key is prepended; tokens under the old key still decrypt.
        both = f"{new_key},{old_key}"
        store = ConnectionStore(pool, TokenCipher(both), http, Settings(token_encryption_keys=both))
        assert (await store.get(shop)).access_token == tokens["access_token"]
        before = await pool.fetchrow(
            "SELECT access_token, refresh_token FROM fortnox_writer.connections WHERE shop = $1",
            shop,
        )
        # Step 2: re-encrypt everything with the first key.
        rewritten = await rotate_tokens(pool, TokenCipher(both))
        assert rewritten.rewritten["fortnox_writer.connections"] >= 2
        after = await pool.fetchrow(
            "SELECT access_token, refresh_token FROM fortnox_writer.connections WHERE shop = $1",
            shop,
        )
        assert bytes(after["access_token"]) != bytes(before["access_token"])
        # Step 3: the old key can go; the new key alone decrypts, the old alone no longer does.
        new_only = Fernet(new_key.encode())
        assert new_only.decrypt(bytes(after["access_token"])).decode() == tokens["access_token"]
        assert new_only.decrypt(bytes(after["refresh_token"])).decode() == "refresh-1"
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(bytes(after["access_token"]))
        new_store = ConnectionStore(
            pool, TokenCipher(new_key), http, Settings(token_encryption_keys=new_key)
        )
        assert (await new_store.get(shop)).access_token == tokens["access_token"]


def test_keys_rotate_command_reports_tokens_it_cannot_decrypt(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test database holds tokens under other tests' keys: none of them decrypts with this
    # one, so the command rewrites nothing, names them, and fails (keep the old key!).
    asyncio.run(migrate_all(database_url))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", TokenCipher.generate_key())
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main(["keys", "rotate"])
    finally:
        get_settings.cache_clear()
    output = capsys.readouterr()
    assert exited.value.code == 1
    assert "fortnox_writer.connections: re-encrypted 0 tokens" in output.out
    assert "no configured key decrypts" in output.err
