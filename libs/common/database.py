"""PostgreSQL access: one asyncpg pool per service, versioned SQL migrations applied at start.

Each service owns a schema named after it and keeps its migrations as numbered SQL files
(``services/<name>/migrations/0001_init.sql``). Migrations run under an advisory lock, so
replicas starting together apply each file exactly once.

Every statement a pool's connection runs inside a trace is a CLIENT span (:class:`TracedConnection`)
named after the statement, ``{operation} {table}`` (``SELECT ingest.webhook_events``), with
``db.system.name``, ``db.operation.name``, ``db.collection.name``, ``db.namespace`` and the calling
function (``code.function.name``): a slow order shows which statement its time went to. Never the
query's values: not its parameters, not its text, not an error's message (which can quote a
row). Statements outside a trace (pollers, the scheduler's idle rounds) make no span at all.
OpenTelemetry's asyncpg instrumentation would do the first part, but its latest release pins an
older opentelemetry-semantic-conventions than our SDK, and it records the full query text and
starts a new trace for every statement a poller runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.common import tracing
from libs.common.logs import get_logger

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)
_untraced: ContextVar[bool] = ContextVar("fortbridge_database_untraced", default=False)
_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*", re.S)
_IDENT = r'((?:"?[A-Za-z_][A-Za-z0-9_]*"?\.)?"?[A-Za-z_][A-Za-z0-9_]*"?)'
_TARGETS = {
    "INSERT": re.compile(r"\bINTO\s+" + _IDENT, re.I),
    "UPDATE": re.compile(r"\bUPDATE\s+(?:ONLY\s+)?" + _IDENT, re.I),
    "DELETE": re.compile(r"\bDELETE\s+FROM\s+(?:ONLY\s+)?" + _IDENT, re.I),
    "SELECT": re.compile(r"\bFROM\s+" + _IDENT, re.I),
}
_SKIPPED_MODULES = ("asyncpg", __name__, "contextlib")


@functools.lru_cache(maxsize=1024)
def describe_statement(query: str) -> tuple[str, str | None]:
    """(operation, table) of a statement, from its keywords only: ``("SELECT",
    "ingest.webhook_events")``; a ``WITH`` query is named after its main statement."""
    text = _LEADING_COMMENTS.sub("", query)
    words = text.split(None, 1)
    operation = words[0].upper().rstrip(";") if words else ""
    if operation == "WITH":
        found = re.search(r"\)\s*(INSERT|UPDATE|DELETE|SELECT)\b", text, re.I)
        operation = found.group(1).upper() if found else operation
    pattern = _TARGETS.get(operation)
    match = pattern.search(text) if pattern else None
    return operation, match.group(1).replace('"', "") if match else None


def _caller() -> str | None:
    frame = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return None
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(_SKIPPED_MODULES):
            return f"{module}.{frame.f_code.co_qualname}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


@contextlib.contextmanager
def _statement_span(connection: Any, query: str) -> Iterator[None]:
    if _untraced.get() or not trace.get_current_span().is_recording():
        yield
        return
    operation, table = describe_statement(query)
    name = f"{operation} {table}" if table else operation or "postgresql"
    attributes: dict[str, str] = {"db.system.name": "postgresql", "db.query.summary": name}
    if operation:
        attributes["db.operation.name"] = operation
    if table:
        attributes["db.collection.name"] = table
    database = getattr(getattr(connection, "_params", None), "database", None)
    if database:
        attributes["db.namespace"] = str(database)
    caller = _caller()
    if caller:
        attributes["code.function.name"] = caller
    with _tracer.start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR))  # no description: messages quote rows
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


class TracedConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection whose statements are spans (see the module's docstring)."""

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, query):
            return await super().execute(query, *args, **kwargs)

    async def executemany(self, command: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, command):
            return await super().executemany(command, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, query):
            return await super().fetch(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, query):
            return await super().fetchval(query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, query):
            return await super().fetchrow(query, *args, **kwargs)

    async def fetchmany(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _statement_span(self, query):
            return await super().fetchmany(query, *args, **kwargs)

    async def reset(self, *args: Any, **kwargs: Any) -> None:
        """The pool's clean-up on release is not the application's statement: no span."""
        token = _untraced.set(True)
        try:
            await super().reset(*args, **kwargs)
        finally:
            _untraced.reset(token)


Pool = asyncpg.Pool


async def release_as_is(_connection: asyncpg.Connection) -> None:
    """A pool's ``reset`` that sends nothing: for a pool whose connections only ever run single
    statements outside a transaction that change no session state (no ``SET``, ``LISTEN``,
    cursor or session advisory lock), such as ingest's group commit.

    By default asyncpg ends every use of a pooled connection with a reset query
    (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``): one more round trip and
    four commands for PostgreSQL per statement when each use is one statement. asyncpg's own
    clean-up still runs before this (an open transaction is rolled back, listeners dropped)."""


async def insert_or_read(pool: asyncpg.Pool, query: str, *args: Any) -> asyncpg.Record:
    """The row of ``query``, an ``INSERT ... ON CONFLICT DO NOTHING RETURNING *`` in a CTE
    followed by ``UNION ALL SELECT`` of the existing row: the one row, inserted or found.

    Run once, that statement can return nothing: when another transaction inserted the same key
    and commits while ours waits on it, our INSERT does nothing and our SELECT's snapshot,
    taken before that commit, does not see the row. Run again, it finds it (the second run's
    snapshot does)."""
    for _ in range(3):
        row = await pool.fetchrow(query, *args)
        if row is not None:
            return row
    raise RuntimeError("a row inserted concurrently was neither inserted nor found")


_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def create_pool(
    dsn: str,
    *,
    max_size: int = 10,
    attempts: int = 60,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A pool, retried with backoff while the database is not up yet.

    ``reset`` replaces asyncpg's reset query on release (see :func:`release_as_is`)."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=max_size, connection_class=TracedConnection, reset=reset
            )
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
