"""Versioned SQL migrations: numbered files, applied once per schema, refused when missing."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from libs.common import database


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_files_are_ordered_by_their_number(tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"0002_b.sql": "", "0001_a.sql": ""})
    assert [(v, p.name) for v, p in database.migration_files(directory)] == [
        (1, "0001_a.sql"),
        (2, "0002_b.sql"),
    ]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, "not numbered 1..n"),
        ({"1_a.sql": ""}, "must look like 0001_name.sql"),
        ({"README.txt": "not sql"}, "no migrations"),
    ],
)
def test_a_broken_set_is_refused_with_the_reason(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=reason):
        database.migration_files(write(tmp_path / "m", files))


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    # What an image built without its package data would have: no silent empty schema.
    with pytest.raises(FileNotFoundError, match="no migrations"):
        database.migration_files(tmp_path / "absent")


async def test_each_migration_applies_once(pool: asyncpg.Pool, tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    directory = write(
        tmp_path / "m",
        {
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
            "0002_seed.sql": "INSERT INTO things VALUES (1);",
        },
    )
    try:
        assert await database.migrate(pool, schema, directory) == [1, 2]
        assert await database.migrate(pool, schema, directory) == []
        write(directory, {"0003_more.sql": "INSERT INTO things VALUES (2);"})
        assert await database.migrate(pool, schema, directory) == [3]
        assert await pool.fetchval(f'SELECT count(*) FROM "{schema}".things') == 2
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_failing_migration_leaves_nothing_half_done(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    directory = write(
        tmp_path / "m",
        {
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
            "0002_broken.sql": "INSERT INTO things VALUES (1); INSERT INTO nowhere VALUES (1);",
        },
    )
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await database.migrate(pool, schema, directory)
        applied = await pool.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        assert [row["version"] for row in applied] == [1]
        assert await pool.fetchval(f'SELECT count(*) FROM "{schema}".things') == 0
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _setting_after_release(pool: asyncpg.Pool) -> str:
    """Set a session setting in one use of the pool's only connection; read it in the next."""
    async with pool.acquire() as connection:
        await connection.execute("SET application_name = 'left-by-the-last-use'")
    async with pool.acquire() as connection:
        return str(await connection.fetchval("SHOW application_name"))


async def test_a_pool_released_as_is_sends_no_reset_query(database_url: str) -> None:
    """asyncpg resets a released connection with a query (RESET ALL among it); a pool made
    with ``release_as_is`` sends none, so what a use set is still there in the next."""
    default = await database.create_pool(database_url, max_size=1)
    as_is = await database.create_pool(database_url, max_size=1, reset=database.release_as_is)
    try:
        assert await _setting_after_release(default) != "left-by-the-last-use"
        assert await _setting_after_release(as_is) == "left-by-the-last-use"
    finally:
        await default.close()
        await as_is.close()


async def test_a_pool_released_as_is_still_rolls_back_an_open_transaction(
    database_url: str,
) -> None:
    pool = await database.create_pool(database_url, max_size=1, reset=database.release_as_is)
    try:
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("CREATE TEMPORARY TABLE left_open (n int)")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT to_regclass('left_open')") is None
    finally:
        await pool.close()
