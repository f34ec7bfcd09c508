"""The fortnox_writer service: the only caller of Fortnox."""

from __future__ import annotations

from pathlib import Path

from libs.common.crypto import TokenCipher
from libs.common.messaging import WRITER_COMMANDS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.handler import CommandHandler
from services.fortnox_writer.ratelimit import RateLimiter


def connection_store(runtime: Runtime) -> ConnectionStore:
    cipher = TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
    return ConnectionStore(runtime.pool, cipher, runtime.http, runtime.settings)


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    limiter = RateLimiter(
        runtime.pool,
        limit=runtime.settings.fortnox_rate_limit,
        window=runtime.settings.fortnox_rate_window_seconds,
    )
    return [
        ConsumerSpec(WRITER_COMMANDS, CommandHandler(runtime, connection_store(runtime), limiter))
    ]


definition = ServiceDefinition(
    name="fortnox_writer",
    default_port=8082,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
)
