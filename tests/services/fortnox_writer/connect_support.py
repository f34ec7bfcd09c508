"""What the Fortnox connection tests share (test_connect_security.py, test_company_switch.py):
a running writer with the Fortnox simulator, the shop's API tokens, other companies."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fortbridge.localstack import LocalStack
from libs.common.access import ApiTokenStore
from tests.services.fortnox_writer.writer_support import forget_deferred
from tests.support.stack import running_stack

OPERATOR = "operator-token-for-connect-attacks"


@contextlib.asynccontextmanager
async def writer_stack(
    amqp_url: str, database_url: str, namespace: str
) -> AsyncIterator[LocalStack]:
    """The writer alone, with an operator token; set-aside work is forgotten afterwards."""
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=namespace,
        services=("fortnox_writer",),
        admin_api_token=OPERATOR,
    ) as stack:
        try:
            yield stack
        finally:
            await forget_deferred(stack.pool)


def writer(stack: LocalStack) -> str:
    return stack.url("fortnox_writer", "")


async def bearer(
    stack: LocalStack, shop: str, scopes: str = "write_integrations"
) -> dict[str, str]:
    issued = await ApiTokenStore(stack.pool).create(shop, scopes, label="attack test")
    return {"Authorization": f"Bearer {issued.token}"}


def new_tenant(stack: LocalStack, name: str) -> str:
    tenant = str(5_000_000 + uuid.uuid4().int % 1_000_000)
    stack.fortnox.add_tenant(tenant_id=tenant, company_name=name)
    return tenant


async def connection(stack: LocalStack, shop: str) -> Any:
    return await stack.pool.fetchrow(
        "SELECT * FROM fortnox_writer.connections WHERE shop = $1", shop
    )
