"""Where the test broker and database are: the local servers, or containers where Docker runs.

Order: TEST_AMQP_URL / TEST_DATABASE_URL if set; else the servers on 127.0.0.1 (CI and this
machine kind); else testcontainers (a developer laptop with Docker: the dev lock installs it, or
`pip install -e '.[containers]'`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def broker_and_database() -> Iterator[tuple[str, str]]:
    amqp = os.environ.get("TEST_AMQP_URL")
    postgres = os.environ.get("TEST_DATABASE_URL")
    if amqp is None and _listening(5672):
        amqp = LOCAL_AMQP
    if postgres is None and _listening(5432):
        postgres = LOCAL_POSTGRES
    if amqp and postgres:
        yield amqp, postgres
        return
    try:
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]
        from testcontainers.rabbitmq import RabbitMqContainer  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(
            "No RabbitMQ/PostgreSQL on 127.0.0.1 and testcontainers is not installed: start the "
            "servers (see README) or, where Docker runs, `pip install -e '.[containers]'` (part of "
            "the dev lock that scripts/setup.sh installs)."
        ) from exc
    with contextlib.ExitStack() as stack:
        if amqp is None:
            rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
            amqp = (
                f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
                f"{rabbit.get_exposed_port(5672)}/"
            )
        if postgres is None:
            pg = stack.enter_context(PostgresContainer("postgres:16", driver=None))
            postgres = pg.get_connection_url()
        yield amqp, postgres
