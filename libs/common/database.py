"""PostgreSQL access: one asyncpg pool per service, versioned SQL migrations applied at start.

Each service owns a schema named after it and keeps its migrations as numbered SQL files
(``services/<name>/migrations/0001_init.sql``). Migrations run under an advisory lock, so
replicas starting together apply each file exactly once.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from libs.common.logs import get_logger

log = get_logger(__name__)

Pool = asyncpg.Pool
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def create_pool(dsn: str, *, max_size: int = 10, attempts: int = 60) -> asyncpg.Pool:
    """A pool, retried with backoff while the database is not up yet."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
            assert pool is not None
            return pool
        except (OSError, asyncpg.PostgresError) as exc:
            if attempt == attempts or isinstance(exc, asyncpg.InvalidCatalogNameError):
                raise
            log.warning("database not reachable, retrying", error=str(exc), attempt=attempt)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def migration_files(directory: Path) -> list[tuple[int, Path]]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        files.append((int(match.group(1)), path))
    if not files:
        # A service's migrations live in its package: none found means a broken install.
        raise FileNotFoundError(f"no migrations in {directory}: is the package installed whole?")
    versions = [version for version, _ in files]
    if versions != list(range(1, len(files) + 1)):
        raise ValueError(f"migrations in {directory} are not numbered 1..n: {versions}")
    return files


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path) -> list[int]:
    """Apply the schema's pending migrations; returns the versions applied now."""
    applied_now: list[int] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                row["version"]
                for row in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
            }
            for version, path in migration_files(directory):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    await conn.execute(path.read_text())
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (version, name) VALUES ($1, $2)',
                        version,
                        path.name,
                    )
                applied_now.append(version)
                log.info("migration applied", schema=schema, migration=path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    return applied_now


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if it does not exist (local runs and tests)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    admin_dsn = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
